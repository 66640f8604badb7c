//! What the backup and restore steps share: inputs, set names, committing a new backup,
//! finding the backup a verify or restore means, checking it, re-verifying it before a
//! restore. Each variant has its own file: `postgres.rs`, `redis.rs`, `files.rs`,
//! `verify.rs`, `retention.rs`, `redis_restore.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;

use super::store::{self, Manifest, Pending};
use super::tools;

pub(super) fn attr_path(input: &StepInput, name: &str) -> Result<PathBuf, StepError> {
    input
        .str(name)
        .map(PathBuf::from)
        .ok_or_else(|| StepError::fatal(format!("`{name}` is required")))
}

pub(super) fn target(input: &StepInput) -> Result<String, StepError> {
    input
        .target_str()
        .map(str::to_string)
        .ok_or_else(|| StepError::fatal("the step needs its target"))
}

/// The set a verify, prune or restore is limited to, named as backups store it (`set =
/// "orders db"` means the set `orders-db`); `None`: every set.
pub(super) fn limit_set(input: &StepInput) -> Option<String> {
    input.str("set").map(super::world::clean_set)
}

/// The set name: `set = ...` (at most [`super::MAX_SET_LEN`] characters), else derived from
/// the source (cut to that length).
pub(super) fn set_name(input: &StepInput, fallback: &str) -> Result<String, StepError> {
    let raw = match input.str("set") {
        Some(set) if set.chars().count() > super::MAX_SET_LEN => {
            return Err(StepError::fatal(format!(
                "the set name is {} characters long; at most {} are allowed",
                set.chars().count(),
                super::MAX_SET_LEN
            ))
            .with_code(lang::Code::ValueOutOfRange));
        }
        Some(set) => set.to_string(),
        None => fallback.chars().take(super::MAX_SET_LEN).collect(),
    };
    Ok(super::world::clean_set(&raw))
}

pub(super) fn outputs(path: &Path, size: u64, sha: &str, started: tokio::time::Instant) -> Outputs {
    let mut out = Outputs::new();
    out.insert("path".into(), Value::str(path.display().to_string()));
    out.insert("size".into(), Value::Size(size));
    out.insert("sha256".into(), Value::str(sha));
    out.insert(
        "duration".into(),
        Value::Duration(Duration::from_millis(started.elapsed().as_millis() as u64)),
    );
    out
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    pending: Pending,
    kind: &str,
    set: &str,
    source: String,
    started_at: String,
    tools: Vec<(String, String)>,
    started: tokio::time::Instant,
) -> Result<Outputs, StepError> {
    let tools: std::collections::BTreeMap<String, String> =
        tools.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let (path, manifest) = pending.commit(|name, size, sha| Manifest {
        version: store::MANIFEST_VERSION,
        kind: kind.to_string(),
        set: set.to_string(),
        file: name.to_string(),
        source: source.clone(),
        started: started_at.clone(),
        finished: store::now(),
        size,
        sha256: sha.to_string(),
        tools: tools.clone(),
        verified: None,
    })?;
    Ok(outputs(&path, manifest.size, &manifest.sha256, started))
}

/// The backup a verify/restore means: a file, or the newest (verified) one of a directory.
pub(super) fn resolve(
    path: &Path,
    set: Option<&str>,
    verified_only: bool,
) -> Result<(PathBuf, Manifest), StepError> {
    if path.is_file() {
        let manifest = store::load_manifest(path)?;
        return Ok((path.to_path_buf(), manifest));
    }
    let all = store::list(path, set)?;
    all.into_iter()
        .rev()
        .find(|(_, m)| !verified_only || m.is_verified())
        .ok_or_else(|| {
            StepError::fatal(format!(
                "{} holds no {}backup{}",
                path.display(),
                if verified_only { "verified " } else { "" },
                set.map(|s| format!(" of set `{s}`")).unwrap_or_default()
            ))
        })
}

/// Re-reads the file against its SHA-256, then checks it per kind.
pub(super) async fn check(
    path: &Path,
    manifest: &Manifest,
    ctx: &StepContext,
) -> Result<String, String> {
    let (size, sha) = store::hash_file(path).map_err(|e| e.message)?;
    if sha != manifest.sha256 || size != manifest.size {
        return Err(format!(
            "the file is corrupt: {size} bytes with sha256 {}…, the manifest says {} bytes with {}…",
            &sha[..12],
            manifest.size,
            manifest.sha256.chars().take(12).collect::<String>()
        ));
    }
    match manifest.kind.as_str() {
        "postgres" => {
            let mut cmd = tools::command("pg_restore", &[]);
            cmd.arg("--list").arg(path);
            tools::run(cmd, "pg_restore --list", ctx)
                .await
                .map_err(|e| e.message)?;
            Ok(String::from("sha256 + pg_restore --list"))
        }
        "redis" => {
            let mut header = [0u8; 5];
            std::fs::File::open(path)
                .and_then(|mut f| f.read_exact(&mut header))
                .map_err(|e| format!("cannot read the RDB header: {e}"))?;
            if &header != b"REDIS" {
                return Err(String::from(
                    "the file is not an RDB snapshot (no REDIS header)",
                ));
            }
            let mut cmd = tools::command("redis-check-rdb", &[]);
            cmd.arg(path);
            match tools::run(cmd, "redis-check-rdb", ctx).await {
                Ok(_) => Ok(String::from("sha256 + redis-check-rdb")),
                Err(e) if e.message.contains("cannot start") => {
                    Ok(String::from("sha256 + RDB header"))
                }
                Err(e) => Err(e.message),
            }
        }
        "files" => {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || -> Result<String, String> {
                let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
                let decoder = zstd::Decoder::new(file).map_err(|e| format!("zstd: {e}"))?;
                let mut archive = tar::Archive::new(decoder);
                let mut count = 0usize;
                for entry in archive.entries().map_err(|e| format!("tar: {e}"))? {
                    let mut entry = entry.map_err(|e| format!("tar: {e}"))?;
                    std::io::copy(&mut entry, &mut std::io::sink())
                        .map_err(|e| format!("tar: {e}"))?;
                    count += 1;
                }
                Ok(format!("sha256 + tar listing ({count} entries)"))
            })
            .await
            .map_err(|e| e.to_string())?
        }
        other => Err(format!("unknown backup kind `{other}`")),
    }
}

/// The backup a restore starts from, re-verified now: never an unverified or corrupt one.
pub(super) async fn restorable(
    input: &StepInput,
    kind: &str,
    ctx: &StepContext,
) -> Result<PathBuf, StepError> {
    let from = PathBuf::from(target(input)?);
    let (file, manifest) = resolve(&from, limit_set(input).as_deref(), true)?;
    if manifest.kind != kind {
        return Err(StepError::fatal(format!(
            "{} is a {} backup, not {kind}",
            file.display(),
            manifest.kind
        )));
    }
    match &manifest.verified {
        None => {
            return Err(StepError::fatal(format!(
                "{} was never verified; run `backup verify` on it first",
                file.display()
            )));
        }
        Some(v) if !v.ok => {
            return Err(StepError::fatal(format!(
                "{} failed its last verification ({}: {}); it is not restored",
                file.display(),
                v.at,
                v.detail
            )));
        }
        Some(_) => {}
    }
    check(&file, &manifest, ctx).await.map_err(|why| {
        StepError::fatal(format!("refusing to restore {}: {why}", file.display()))
    })?;
    Ok(file)
}
