//! Backup files on disk: names, manifests, atomic creation and listing.
//!
//! A backup `SET-20261122T031500.123Z.EXT` lives in its directory with a manifest beside
//! it (`…EXT.manifest.json`): kind, source (password removed), times, size, SHA-256, tool
//! versions, and the last verification. A backup is written under a unique hidden
//! temporary name (`.SET-….partial-PID-RANDOM`, `O_EXCL`, mode 0600) and fsynced; then its
//! manifest claims the final name (created without replacing anything) and the data is
//! linked under that name (again without replacing), and the directory fsynced. Listing
//! only considers backups with both files, so a killed backup never looks like one;
//! `backup prune` removes what dead writers left ([`stale`]).

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
        // A manifest without its file is a commit cut short (see `Pending::commit`).
        if set.is_some_and(|s| s != manifest.set)
            || manifest.file != file
            || !dir.join(file).is_file()
        {
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

/// A file being written as a new backup: a unique hidden temporary file
/// (`.SET-STAMP.EXT.partial-PID-RANDOM`, created with `O_EXCL`, mode 0600), hashed as it
/// is written, committed by [`Pending::commit`], removed if dropped before that.
pub struct Pending {
    dir: PathBuf,
    set: String,
    stamp: String,
    ext: String,
    tmp: Option<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
}

/// Final names tried before a commit gives up (`NAME`, `NAME-1`, ...).
const NAME_ATTEMPTS: usize = 100;

/// The marker of a backup's temporary files, followed by the writer's PID.
pub const PARTIAL: &str = ".partial-";

impl Pending {
    /// Starts `SET-TIMESTAMP.EXT` in `dir` (created if missing).
    pub fn create(dir: &Path, set: &str, ext: &str) -> Result<Pending, StepError> {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%S%.3fZ")
            .to_string();
        let prefix = format!(".{set}-{stamp}.{ext}{PARTIAL}{}-", std::process::id());
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .rand_bytes(8)
            .tempfile_in(dir)
            .map_err(|e| io("cannot create a temporary file in", dir, e))?;
        // Held while the backup is written: `stale` never takes a file whose writer
        // lives, also when the writer is in another PID namespace or on another host.
        tmp.as_file()
            .try_lock()
            .map_err(|e| StepError::fatal(format!("cannot lock {}: {e}", tmp.path().display())))?;
        Ok(Pending {
            dir: dir.to_path_buf(),
            set: set.to_string(),
            stamp,
            ext: ext.to_string(),
            tmp: Some(tmp),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// The temporary path (for tools that write a file themselves).
    pub fn tmp_path(&self) -> &Path {
        self.tmp.as_ref().map_or(Path::new(""), |t| t.path())
    }

    /// Commits the backup: fsyncs it, then claims a final name by creating its manifest
    /// (`make` builds it for the name, size and SHA-256) without replacing any file, and
    /// only then links the data under the name, again without replacing: a backup file is
    /// never final without its manifest, and two writers never share a name (the loser
    /// takes `NAME-1`, ...). When a tool wrote the temporary file itself, it is hashed here.
    pub fn commit(
        mut self,
        make: impl Fn(&str, u64, &str) -> Manifest,
    ) -> Result<(PathBuf, Manifest), StepError> {
        let mut tmp = self
            .tmp
            .take()
            .ok_or_else(|| StepError::fatal("the backup is closed"))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io("cannot sync", tmp.path(), e))?;
        let (size, sha) = if self.size == 0 {
            hash_file(tmp.path())?
        } else {
            (self.size, hex(&std::mem::take(&mut self.hasher).finalize()))
        };
        for attempt in 0..NAME_ATTEMPTS {
            let name = if attempt == 0 {
                format!("{}-{}.{}", self.set, self.stamp, self.ext)
            } else {
                format!("{}-{}-{attempt}.{}", self.set, self.stamp, self.ext)
            };
            let manifest = make(&name, size, &sha);
            let final_path = self.dir.join(&name);
            if !claim_manifest(&self.dir, &final_path, &manifest)? {
                continue;
            }
            match tmp.persist_noclobber(&final_path) {
                Ok(_) => {
                    sync_dir(&self.dir)?;
                    return Ok((final_path, manifest));
                }
                Err(e) => {
                    // Our manifest names a file that is not ours: take it back.
                    let _ = std::fs::remove_file(manifest_path(&final_path));
                    if e.error.kind() != std::io::ErrorKind::AlreadyExists {
                        return Err(io("cannot link the backup to", &final_path, e.error));
                    }
                    tmp = e.file;
                }
            }
        }
        Err(StepError::new(format!(
            "no free name for the backup after {NAME_ATTEMPTS} tries in {}",
            self.dir.display()
        )))
    }
}

/// Writes `manifest` beside `file` unless a manifest is there already; false when the name
/// is taken.
fn claim_manifest(dir: &Path, file: &Path, manifest: &Manifest) -> Result<bool, StepError> {
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| StepError::fatal(format!("cannot encode the manifest: {e}")))?;
    let path = manifest_path(file);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}{PARTIAL}{}-",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ))
        .rand_bytes(8)
        .tempfile_in(dir)
        .map_err(|e| io("cannot create a temporary file in", dir, e))?;
    let _ = tmp.as_file().try_lock();
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io("cannot write", tmp.path(), e))?;
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io("cannot write", &path, e.error)),
    }
}

impl Write for Pending {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let file = self
            .tmp
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the backup is closed"))?;
        let n = file.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// Updates the manifest of `file` under an exclusive lock on the backup file, so that two
/// verifications of one backup never write its manifest at the same time.
pub fn update_manifest(
    file: &Path,
    change: impl FnOnce(&mut Manifest),
) -> Result<Manifest, StepError> {
    let lock = std::fs::File::open(file).map_err(|e| io("cannot open", file, e))?;
    lock.lock().map_err(|e| io("cannot lock", file, e))?;
    let mut manifest = load_manifest(file)?;
    change(&mut manifest);
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| StepError::fatal(format!("cannot encode the manifest: {e}")))?;
    write_atomic(&manifest_path(file), text.as_bytes())?;
    drop(lock);
    Ok(manifest)
}

/// Temporary files of backups whose writer is gone (`.NAME.partial-PID-…` with no process
/// PID and no lock held on it), of `set` when given, and manifests left without their
/// backup by a writer that died between the two steps of a commit: what `backup prune`
/// removes.
pub fn stale(dir: &Path, set: Option<&str>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let names: std::collections::HashSet<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    let mut live_sets: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for name in &names {
        let Some(rest) = name.strip_prefix('.') else {
            continue;
        };
        let Some((base, tail)) = rest.rsplit_once(PARTIAL) else {
            continue;
        };
        if set.is_some_and(|s| !base.starts_with(&format!("{s}-"))) {
            continue;
        }
        let pid = tail.split('-').next().and_then(|p| p.parse::<i32>().ok());
        let path = dir.join(name);
        let gone = pid.is_some_and(|pid| !alive(pid)) && unlocked(&path);
        if gone {
            out.push(path);
        } else {
            // `SET-STAMP…`: the set is what precedes the timestamp.
            live_sets.insert(base);
        }
    }
    for name in &names {
        let Some(file) = name.strip_suffix(".manifest.json") else {
            continue;
        };
        if name.starts_with('.') || names.contains(file) {
            continue;
        }
        let path = dir.join(name);
        let Ok(manifest) = load_manifest(&dir.join(file)) else {
            continue;
        };
        // A commit links the data a moment after it claims the manifest: only a manifest
        // older than that, of a set no live writer is writing, is an orphan.
        let old = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ORPHAN_AGE);
        let prefix = format!("{}-", manifest.set);
        let writing = live_sets.iter().any(|base| base.starts_with(&prefix));
        if old && !writing && set.is_none_or(|s| s == manifest.set) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// True when nobody holds a lock on `path` (its writer would).
fn unlocked(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|f| f.try_lock().is_ok())
}

/// Locks every backup of `set` in `dir` (blocking while a verification writes one's
/// manifest) for as long as the returned files are held: what a prune decides and deletes
/// is then consistent with the manifests.
pub fn lock_set(dir: &Path, set: Option<&str>) -> Result<Vec<std::fs::File>, StepError> {
    let mut locks = Vec::new();
    for (path, _) in list(dir, set)? {
        if let Ok(file) = std::fs::File::open(&path) {
            file.lock().map_err(|e| io("cannot lock", &path, e))?;
            locks.push(file);
        }
    }
    Ok(locks)
}

/// How old a manifest without its backup must be before prune treats it as left behind.
const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// True when a process with this PID exists (a recycled PID counts as alive: nothing is
/// removed that might still be written).
fn alive(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
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
