//! Backup files on disk: names, manifests, atomic creation and listing.
//!
//! A backup `SET-20261122T031500.123Z.EXT` lives in its directory with a manifest beside
//! it (`…EXT.manifest.json`): kind, source (password removed), times, size, SHA-256, tool
//! versions, and the last verification. A backup is written under a hidden temporary name
//! (`.SET-….partial-PID`), fsynced, renamed to its final name (never over an existing
//! file) and the directory fsynced; the manifest is written the same way. Listing only
//! considers files that have a manifest, so a killed backup never looks like one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use interpreter::step::StepError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 1;

/// The result of a verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What was checked (`sha256 + pg_restore --list`).
    pub method: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why not, when it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What is known about one backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// `postgres`, `redis` or `files`.
    pub kind: String,
    /// The backup set.
    pub set: String,
    /// The backup's file name in its directory.
    pub file: String,
    /// What was backed up (credentials removed).
    pub source: String,
    /// Start time (RFC 3339, UTC).
    pub started: String,
    /// End time (RFC 3339, UTC).
    pub finished: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Versions of the tools that wrote it.
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// The last verification, if any.
    #[serde(default)]
    pub verified: Option<Verification>,
}

impl Manifest {
    /// True when the last verification passed.
    pub fn is_verified(&self) -> bool {
        self.verified.as_ref().is_some_and(|v| v.ok)
    }

    /// The end time as a timestamp.
    pub fn finished_at(&self) -> Option<jiff::Timestamp> {
        self.finished.parse().ok()
    }
}

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The manifest path of a backup file.
pub fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".manifest.json");
    file.with_file_name(name)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StepError {
    StepError::fatal(format!("{what} {}: {e}", path.display()))
}

/// fsyncs a directory so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StepError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync the directory", dir, e))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, directory fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StepError> {
    interpreter::fs::write_atomic(path, bytes).map_err(|e| io("cannot write", path, e))
}

/// Saves a manifest beside its backup.
pub fn save_manifest(dir: &Path, manifest: &Manifest) -> Result<(), StepError> {
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| StepError::fatal(format!("cannot encode the manifest: {e}")))?;
    write_atomic(&manifest_path(&dir.join(&manifest.file)), text.as_bytes())
}

/// Reads the manifest of a backup file.
pub fn load_manifest(file: &Path) -> Result<Manifest, StepError> {
    let path = manifest_path(file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io("the backup has no readable manifest:", &path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| StepError::fatal(format!("the manifest {} is invalid: {e}", path.display())))
}

/// Every backup (with a manifest) in `dir`, of `set` when given, oldest first.
pub fn list(dir: &Path, set: Option<&str>) -> Result<Vec<(PathBuf, Manifest)>, StepError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(file) = name.strip_suffix(".manifest.json") else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(manifest) = serde_json::from_str::<Manifest>(&text) else {
            continue;
        };
        if set.is_some_and(|s| s != manifest.set) || manifest.file != file {
            continue;
        }
        out.push((dir.join(file), manifest));
    }
    out.sort_by(|a, b| {
        a.1.finished
            .cmp(&b.1.finished)
            .then(a.1.file.cmp(&b.1.file))
    });
    Ok(out)
}

/// A file being written as a new backup: hashed as it is written, renamed into place by
/// [`Pending::commit`], removed if dropped before that.
pub struct Pending {
    dir: PathBuf,
    tmp: PathBuf,
    name: String,
    file: Option<std::fs::File>,
    hasher: Sha256,
    size: u64,
    committed: bool,
}

impl Pending {
    /// Starts `SET-TIMESTAMP.EXT` in `dir` (created if missing).
    pub fn create(dir: &Path, set: &str, ext: &str) -> Result<Pending, StepError> {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%S%.3fZ")
            .to_string();
        let name = format!("{set}-{stamp}.{ext}");
        if dir.join(&name).exists() {
            return Err(StepError::new(format!(
                "{name} exists already; a backup is never overwritten"
            )));
        }
        let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
        Ok(Pending {
            dir: dir.to_path_buf(),
            tmp,
            name,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
            committed: false,
        })
    }

    /// The temporary path (for tools that write a file themselves).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Renames into place after fsync; returns (final path, size, sha256). When a tool
    /// wrote the temporary file itself, it is hashed here.
    pub fn commit(mut self) -> Result<(PathBuf, u64, String), StepError> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| io("cannot sync", &self.tmp, e))?;
        }
        if self.size == 0 {
            let (size, sha) = hash_file(&self.tmp)?;
            self.size = size;
            self.hasher = Sha256::new();
            let final_path = self.finish()?;
            return Ok((final_path, size, sha));
        }
        let sha = hex(&std::mem::take(&mut self.hasher).finalize());
        let size = self.size;
        let final_path = self.finish()?;
        Ok((final_path, size, sha))
    }

    fn finish(&mut self) -> Result<PathBuf, StepError> {
        let final_path = self.dir.join(&self.name);
        if final_path.exists() {
            return Err(StepError::new(format!(
                "{} exists already; a backup is never overwritten",
                self.name
            )));
        }
        std::fs::rename(&self.tmp, &final_path)
            .map_err(|e| io("cannot rename into", &final_path, e))?;
        sync_dir(&self.dir)?;
        self.committed = true;
        Ok(final_path)
    }

    /// The final file name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Write for Pending {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the backup is closed"))?;
        let n = file.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Size and SHA-256 of a file, read in 1 MiB chunks.
pub fn hash_file(path: &Path) -> Result<(u64, String), StepError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| io("cannot read", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
