//! External tools for backups (pg_dump, pg_restore, redis-cli): connection details go in
//! the environment, never on the command line (where `ps` would show a password), and
//! error output is kept short and redacted.

use std::process::Stdio;

use interpreter::step::{StepContext, StepError};
use tokio::process::Command;

/// libpq environment variables for a `postgresql://` URL.
pub fn pg_env(url: &str) -> Result<Vec<(&'static str, String)>, StepError> {
    let u = url::Url::parse(url)
        .map_err(|_| StepError::fatal("the PostgreSQL connection string is not a URL"))?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(StepError::fatal(
            "the connection string must start with postgresql://",
        ));
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let mut env = Vec::new();
    if let Some(host) = u.host_str() {
        env.push(("PGHOST", host.to_string()));
    }
    if let Some(port) = u.port() {
        env.push(("PGPORT", port.to_string()));
    }
    if !u.username().is_empty() {
        env.push(("PGUSER", decode(u.username())));
    }
    if let Some(password) = u.password() {
        env.push(("PGPASSWORD", decode(password)));
    }
    let db = u.path().trim_start_matches('/');
    if !db.is_empty() {
        env.push(("PGDATABASE", decode(db)));
    }
    for (k, v) in u.query_pairs() {
        if k == "sslmode" {
            env.push(("PGSSLMODE", v.into_owned()));
        }
    }
    Ok(env)
}

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

/// A command with its environment, killed when dropped.
pub fn command(program: &str, env: &[(&'static str, String)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
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
/// `what` names the server in errors (`the source`).
pub async fn pg_query_one(
    url: &str,
    db: Option<&str>,
    sql: &str,
    what: &str,
) -> Result<tokio_postgres::Row, StepError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|_| StepError::fatal("the PostgreSQL connection string is not valid"))?;
    if let Some(db) = db {
        config.dbname(db);
    }
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(|e| {
        StepError::fatal(format!(
            "cannot connect to {what}: {}",
            crate::probe::postgres::describe(&e)
        ))
    })?;
    let driver = tokio::spawn(connection);
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
