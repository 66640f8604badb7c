//! Running backups, verifications, retention and restores.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;
use tokio::io::AsyncReadExt;

use super::prune::{Entry, Policy, select};
use super::store::{self, Manifest, Pending, Verification};
use super::tools;
use crate::conn::ConnUrl;

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
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-').to_string();
    Ok(if clean.is_empty() {
        String::from("backup")
    } else {
        clean
    })
}

fn outputs(path: &Path, size: u64, sha: &str, started: tokio::time::Instant) -> Outputs {
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

/// `backup postgres URL`: pg_dump's custom format streamed through a SHA-256 into the
/// backup file; the connection goes through libpq's environment, not the command line.
pub async fn backup_postgres(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let url = target(input)?;
    let dir = attr_path(input, "into")?;
    let conn = ConnUrl::postgres(&url)?;
    let set = set_name(input, conn.database.as_deref().unwrap_or("postgres"))?;
    let started = tokio::time::Instant::now();
    let started_at = store::now();
    let mut cmd = tools::command("pg_dump", &conn.pg_env());
    if let Some(db) = conn.pg_dbname() {
        cmd.arg(format!("--dbname={db}"));
    }
    cmd.arg("--format=custom").arg(format!(
        "--compress={}",
        input
            .attr("compression")
            .and_then(Value::as_int)
            .unwrap_or(6)
            .clamp(0, 9)
    ));
    for (attr, flag) in [
        ("schemas", "--schema"),
        ("tables", "--table"),
        ("exclude_tables", "--exclude-table"),
    ] {
        for v in input
            .attr(attr)
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            cmd.arg(format!("{flag}={}", v.interpolated()));
        }
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            StepError::fatal(format!(
                "cannot start pg_dump: {e} (is PostgreSQL's client installed?)"
            ))
        })?;
    let mut pending = Pending::create(&dir, &set, "pgdump")?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| StepError::fatal("pg_dump has no stdout"))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| StepError::fatal("pg_dump has no stderr"))?;
    // All of stderr is read (a full pipe would block pg_dump), its last 64 KiB kept.
    let errors = tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 8192];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 128 * 1024 {
                buf.drain(..buf.len() - 64 * 1024);
            }
        }
        buf
    });
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = stdout
            .read(&mut buf)
            .await
            .map_err(|e| StepError::new(format!("reading pg_dump's output failed: {e}")))?;
        if n == 0 {
            break;
        }
        std::io::Write::write_all(&mut pending, &buf[..n])
            .map_err(|e| StepError::fatal(format!("writing the backup failed: {e}")))?;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| StepError::new(format!("pg_dump: {e}")))?;
    let errors = errors.await.unwrap_or_default();
    if !status.success() {
        return Err(StepError::new(format!(
            "pg_dump failed: {}",
            tools::tail(&errors, ctx)
        )));
    }
    let version = tools::version("pg_dump").await;
    finish(
        pending,
        "postgres",
        &set,
        ctx.secrets.redact(&conn.shown()),
        started_at,
        vec![("pg_dump".into(), version)],
        started,
    )
}

/// `backup redis URL`: `redis-cli --rdb` takes a consistent snapshot over the network.
pub async fn backup_redis(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let url = target(input)?;
    let dir = attr_path(input, "into")?;
    let conn = ConnUrl::redis(&url)?;
    let set = set_name(input, &format!("redis-{}", conn.port))?;
    let started = tokio::time::Instant::now();
    let started_at = store::now();
    let pending = Pending::create(&dir, &set, "rdb")?;
    let (args, env) = conn.redis_cli();
    let mut cmd = tools::command("redis-cli", &env);
    cmd.args(&args);
    cmd.arg("--rdb").arg(pending.tmp_path());
    tools::run(cmd, "redis-cli --rdb", ctx).await?;
    let version = tools::version("redis-cli").await;
    finish(
        pending,
        "redis",
        &set,
        ctx.secrets.redact(&conn.shown()),
        started_at,
        vec![("redis-cli".into(), version)],
        started,
    )
}

/// The backup a verify/restore means: a file, or the newest (verified) one of a directory.
fn resolve(
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
async fn check(path: &Path, manifest: &Manifest, ctx: &StepContext) -> Result<String, String> {
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

/// `backup verify PATH`: checks a backup and records the result in its manifest.
pub async fn verify(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let path = PathBuf::from(target(input)?);
    let set = input.str("set");
    let (file, mut manifest) = resolve(&path, set, false)?;
    let mut result = check(&file, &manifest, ctx).await;
    if input.attr("deep").and_then(Value::as_bool) == Some(true)
        && let Ok(method) = &result
    {
        result = super::deep::check(&file, &manifest, input, ctx)
            .await
            .map(|found| format!("{method} + {found}"));
    }
    // What a failed check says may quote the world (a scratch URL, a tool's output):
    // redacted before it is written to the manifest.
    let verified = match &result {
        Ok(method) => Verification {
            at: store::now(),
            method: ctx.secrets.redact(method),
            ok: true,
            detail: String::new(),
        },
        Err(why) => Verification {
            at: store::now(),
            method: String::from("sha256"),
            ok: false,
            detail: ctx.secrets.redact(why),
        },
    };
    manifest = store::update_manifest(&file, |m| m.verified = Some(verified))?;
    if let Err(why) = result {
        return Err(StepError::fatal(format!(
            "{} failed verification: {why}",
            file.display()
        )));
    }
    let age = manifest
        .finished_at()
        .map(|t| jiff::Timestamp::now().duration_since(t))
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default();
    if let Some(max) = input.attr("max_age").and_then(Value::as_duration) {
        // Freshness: the newest verified backup of the set must be younger than max_age.
        let dir = file.parent().unwrap_or(Path::new("."));
        let newest = store::list(dir, Some(&manifest.set))?
            .into_iter()
            .rev()
            .find(|(_, m)| m.is_verified())
            .and_then(|(_, m)| m.finished_at());
        let newest_age = newest
            .map(|t| jiff::Timestamp::now().duration_since(t))
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::MAX);
        if newest_age > max {
            return Err(StepError::fatal(format!(
                "the newest verified backup of `{}` is {} old; max_age is {}",
                manifest.set,
                lang::fmt::duration(Duration::from_secs(newest_age.as_secs())),
                lang::fmt::duration(max)
            )));
        }
    }
    let mut out = Outputs::new();
    out.insert("path".into(), Value::str(file.display().to_string()));
    out.insert(
        "age".into(),
        Value::Duration(Duration::from_secs(age.as_secs())),
    );
    out.insert("sha256".into(), Value::str(manifest.sha256));
    Ok(out)
}

/// The retention policy of a prune step; a count below 1 is refused (a negative
/// `keep_last` must never mean "keep none").
pub fn policy(get: impl Fn(&str) -> Option<Value>) -> Result<Policy, StepError> {
    let count = |name: &str| -> Result<Option<usize>, StepError> {
        match get(name).and_then(|v| v.as_int()) {
            None => Ok(None),
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Some(n) => Err(
                StepError::fatal(format!("`{name} = {n}`: it must be at least 1"))
                    .with_code(lang::Code::ValueOutOfRange),
            ),
        }
    };
    Ok(Policy {
        keep_last: count("keep_last")?,
        keep_within: get("keep_within").and_then(|v| v.as_duration()),
        keep_daily: count("keep_daily")?,
    })
}

/// What a prune would do: (file, keep reason or None to delete).
pub fn plan_prune(
    dir: &Path,
    set: Option<&str>,
    policy: &Policy,
) -> Result<Vec<(PathBuf, Option<&'static str>)>, StepError> {
    let all = store::list(dir, set)?;
    let entries: Vec<Entry> = all
        .iter()
        .map(|(_, m)| Entry {
            finished: m.finished_at().unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            verified: m.is_verified(),
        })
        .collect();
    let keep = select(&entries, policy, jiff::Timestamp::now());
    Ok(all.into_iter().map(|(p, _)| p).zip(keep).collect())
}

/// `backup prune DIR`: deletes what the policy does not keep (never the newest verified).
pub async fn prune(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let dir = PathBuf::from(target(input)?);
    let policy = policy(|n| input.attr(n).cloned())?;
    if policy.is_empty() {
        return Err(StepError::fatal(
            "a prune needs a policy: keep_last, keep_within or keep_daily",
        ));
    }
    // Under a lock on every backup of the set: no verification changes a manifest
    // between the decision and the deletion.
    let locks = store::lock_set(&dir, input.str("set"))?;
    let decisions = plan_prune(&dir, input.str("set"), &policy)?;
    let (mut deleted, mut kept) = (0i64, 0i64);
    for (path, keep) in decisions {
        match keep {
            Some(_) => kept += 1,
            None => {
                std::fs::remove_file(&path).map_err(|e| {
                    StepError::fatal(format!("cannot delete {}: {e}", path.display()))
                })?;
                let _ = std::fs::remove_file(store::manifest_path(&path));
                ctx.log(format!("deleted {}", path.display()));
                deleted += 1;
            }
        }
    }
    drop(locks);
    // What writers that died left behind: their temporary files, and manifests whose
    // backup never arrived.
    for path in store::stale(&dir, input.str("set")) {
        if std::fs::remove_file(&path).is_ok() {
            ctx.log(format!(
                "removed {} (left by a backup that did not finish)",
                path.display()
            ));
        }
    }
    store::sync_dir(&dir)?;
    let mut out = Outputs::new();
    out.insert("deleted".into(), Value::Int(deleted));
    out.insert("kept".into(), Value::Int(kept));
    Ok(out)
}

/// The backup a restore starts from, re-verified now: never an unverified or corrupt one.
pub(super) async fn restorable(
    input: &StepInput,
    kind: &str,
    ctx: &StepContext,
) -> Result<PathBuf, StepError> {
    let from = PathBuf::from(target(input)?);
    let (file, manifest) = resolve(&from, input.str("set"), true)?;
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

/// `restore postgres FROM { into = URL }`: pg_restore into the named database.
pub async fn restore_postgres(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let started = tokio::time::Instant::now();
    let file = restorable(input, "postgres", ctx).await?;
    let into = input
        .str("into")
        .ok_or_else(|| StepError::fatal("`into` is required"))?;
    let conn = ConnUrl::postgres(into)?;
    // The database name is given as a quoted conninfo, so no name can redirect the
    // restore to another server.
    let db = conn.pg_dbname().ok_or_else(|| {
        StepError::fatal("`into` names no database (postgresql://user@host:port/DATABASE)")
    })?;
    let mut cmd = tools::command("pg_restore", &conn.pg_env());
    cmd.arg("--no-owner")
        .arg(format!("--dbname={db}"))
        .arg("--exit-on-error");
    if input.attr("clean").and_then(Value::as_bool) == Some(true) {
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.arg(&file);
    tools::run(cmd, "pg_restore", ctx).await?;
    let mut out = Outputs::new();
    out.insert(
        "duration".into(),
        Value::Duration(Duration::from_millis(started.elapsed().as_millis() as u64)),
    );
    Ok(out)
}
