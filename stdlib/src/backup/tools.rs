//! External tools for backups (pg_dump, pg_restore, redis-cli): connection details go in
//! the environment, never on the command line (where `ps` would show a password), and
//! error output is kept short and redacted.

use std::process::Stdio;

use interpreter::step::{StepContext, StepError};
use tokio::process::Command;

/// The first line of `program --version`, for manifests.
pub async fn version(program: &str) -> String {
    match Command::new(program).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        Err(_) => String::new(),
    }
}

/// A command with its environment, killed when dropped and when ops dies
/// (`PR_SET_PDEATHSIG`): a scratch `redis-server` or a `pg_dump` never outlives the run.
/// Inherited `PG*`/`REDISCLI_*` variables are removed so that only the runbook's URL
/// decides where the tool connects ([`crate::conn`]).
pub fn command(program: &str, env: &[(&'static str, String)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(crate::conn::is_inherited_connection_var)
        {
            cmd.env_remove(key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    die_with_parent(&mut cmd);
    cmd
}

/// Makes the child receive SIGKILL when the thread that started it (the runtime's, which
/// lives as long as ops) ends, and exit at once if ops is already gone.
#[allow(unsafe_code)] // `pre_exec` has no safe form.
pub fn die_with_parent(cmd: &mut Command) {
    use rustix::process::{Pid, Signal, getppid, set_parent_process_death_signal};
    let parent = Pid::from_raw(std::process::id() as i32);
    // SAFETY: the closure runs in the child between fork and exec and only makes the
    // prctl and getppid system calls (async-signal-safe); an error makes the spawn fail.
    unsafe {
        cmd.pre_exec(move || {
            set_parent_process_death_signal(Some(Signal::KILL))?;
            if getppid() != parent {
                // ops is gone already: the child must not outlive it.
                return Err(std::io::Error::other("the parent process has exited"));
            }
            Ok(())
        });
    }
}

/// Runs a command to the end; on failure, the last lines of its stderr (redacted).
pub async fn run(mut cmd: Command, what: &str, ctx: &StepContext) -> Result<Vec<u8>, StepError> {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| StepError::fatal(format!("cannot start {what}: {e} (is it installed?)")))?;
    if !out.status.success() {
        return Err(StepError::new(format!(
            "{what} failed: {}",
            tail(&out.stderr, ctx)
        )));
    }
    Ok(out.stdout)
}

/// The last line of a tool's output, redacted.
pub fn tail(bytes: &[u8], ctx: &StepContext) -> String {
    crate::exec::output_tail(bytes, ctx).unwrap_or_else(|| String::from("(no output)"))
}

/// Runs one query returning one row on the server of `url` (in database `db` when given),
/// then closes the connection: the size look of a plan and the table count of a deep check.
/// `what` names the server in errors (`the source`); replies are capped.
pub async fn pg_query_one(
    url: &str,
    db: Option<&str>,
    sql: &str,
    what: &'static str,
) -> Result<tokio_postgres::Row, StepError> {
    let conn = crate::conn::ConnUrl::postgres(url)?;
    let (client, driver) = crate::net::postgres(&conn, db, crate::net::TARGET_REPLY, what).await?;
    let row = client.query_one(sql, &[]).await.map_err(|e| {
        StepError::fatal(format!(
            "the query on {what} failed: {}",
            crate::probe::postgres::describe(&e)
        ))
    });
    drop(client);
    driver.abort();
    row
}
