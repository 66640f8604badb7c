//! `backup postgres` and `restore postgres`: pg_dump and pg_restore with connections built
//! from parts (`conn.rs`).

use std::time::Duration;

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;
use tokio::io::AsyncReadExt;

use super::run::*;
use super::store::{self, Pending};
use super::tools;
use crate::conn::ConnUrl;

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
