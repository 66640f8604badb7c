//! Throwaway targets a backup is loaded into to prove it restores: a private
//! `redis-server` that loads an RDB snapshot (for `restore redis` and deep verification),
//! and a scratch PostgreSQL database created and dropped around a deep verification.

use std::path::Path;
use std::time::Duration;

use interpreter::step::{StepContext, StepError};
use tokio::process::Child;

use super::tools;

/// A `redis-server` on a private Unix socket that loaded a snapshot; killed on drop.
pub struct ScratchRedis {
    child: Child,
    _dir: tempfile::TempDir,
    /// A connection to it.
    pub conn: ::redis::aio::MultiplexedConnection,
}

pub(crate) use crate::probe::redis::describe as redis_error;

impl ScratchRedis {
    /// Starts a server that loads `rdb` (copied into a private directory first, so the
    /// backup itself is never opened for writing) and waits until it has loaded it.
    pub async fn load(rdb: &Path, ctx: &StepContext) -> Result<ScratchRedis, StepError> {
        use std::os::unix::fs::PermissionsExt;
        // The snapshot holds the database's data: only ops's user may read it.
        let dir = tempfile::Builder::new()
            .prefix("ops-scratch-redis-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| StepError::fatal(format!("cannot create a scratch directory: {e}")))?;
        let copy = dir.path().join("dump.rdb");
        let (from, to) = (rdb.to_path_buf(), copy.clone());
        let size = tokio::task::spawn_blocking(move || {
            let size = std::fs::copy(&from, &to)?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
            Ok::<u64, std::io::Error>(size)
        })
        .await
        .map_err(|e| StepError::fatal(format!("copying the snapshot failed: {e}")))?
        .map_err(|e| StepError::fatal(format!("cannot copy the snapshot: {e}")))?;
        // Our own server answers from the snapshot: a batch of replies cannot hold more.
        let cap = usize::try_from(size.saturating_mul(2))
            .unwrap_or(usize::MAX)
            .saturating_add(64 << 20);
        let socket = dir.path().join("redis.sock");
        let mut cmd = tools::command("redis-server", &[]);
        cmd.args(["--port", "0", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--unixsocketperm", "700"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .args(["--dbfilename", "dump.rdb"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            StepError::fatal(format!(
                "cannot start redis-server to load the snapshot: {e} (is redis-server installed?)"
            ))
        })?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut text = String::new();
                if let Some(mut out) = child.stdout.take() {
                    use tokio::io::AsyncReadExt;
                    let mut bytes = Vec::new();
                    let _ = out.read_to_end(&mut bytes).await;
                    text = tools::tail(&bytes, ctx);
                }
                return Err(StepError::fatal(format!(
                    "redis-server could not load the snapshot ({status}): {text}"
                )));
            }
            if socket.exists()
                && let Ok(mut conn) =
                    crate::net::redis(None, Some(&socket), cap, "scratch server").await
            {
                // PING answers LOADING until the whole snapshot is in memory.
                match ::redis::cmd("PING").query_async::<String>(&mut conn).await {
                    Ok(_) => {
                        return Ok(ScratchRedis {
                            child,
                            _dir: dir,
                            conn,
                        });
                    }
                    Err(e)
                        if e.kind()
                            == ::redis::ErrorKind::Server(
                                ::redis::ServerErrorKind::BusyLoading,
                            ) => {}
                    Err(e) => {
                        return Err(StepError::fatal(format!(
                            "the scratch server does not answer: {}",
                            redis_error(&e)
                        )));
                    }
                }
            }
            if tokio::time::Instant::now() > deadline || ctx.cancel.is_cancelled() {
                return Err(StepError::fatal(
                    "the scratch redis-server did not finish loading the snapshot",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Key count per database (`INFO keyspace`), ascending by database number.
    pub async fn keyspace(&mut self) -> Result<Vec<(u32, u64)>, StepError> {
        keyspace(&mut self.conn).await
    }
}

impl Drop for ScratchRedis {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Key count per database of a server (`INFO keyspace`: `db0:keys=3,expires=0,...`).
pub async fn keyspace(
    conn: &mut ::redis::aio::MultiplexedConnection,
) -> Result<Vec<(u32, u64)>, StepError> {
    let info: String = ::redis::cmd("INFO")
        .arg("keyspace")
        .query_async(conn)
        .await
        .map_err(|e| StepError::new(format!("INFO keyspace failed: {}", redis_error(&e))))?;
    Ok(parse_keyspace(&info))
}

fn parse_keyspace(info: &str) -> Vec<(u32, u64)> {
    let mut dbs: Vec<(u32, u64)> = info
        .lines()
        .filter_map(|line| {
            let (db, rest) = line.trim().split_once(':')?;
            let n = db.strip_prefix("db")?.parse().ok()?;
            let keys = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("keys="))?
                .parse()
                .ok()?;
            Some((n, keys))
        })
        .collect();
    dbs.sort_unstable();
    dbs
}

/// A PostgreSQL database created for one deep verification and dropped afterwards.
pub struct ScratchDatabase {
    /// libpq environment of the scratch server (no database).
    env: Vec<(&'static str, String)>,
    /// The database's name.
    pub name: String,
}

impl ScratchDatabase {
    /// Creates `ops_verify_<pid>_<nanos>` on the server of `url` (which needs CREATEDB).
    pub async fn create(url: &str, ctx: &StepContext) -> Result<ScratchDatabase, StepError> {
        let env = crate::conn::ConnUrl::postgres(url)?.pg_env();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("ops_verify_{}_{nanos}", std::process::id());
        let mut cmd = tools::command("createdb", &env);
        cmd.arg("--maintenance-db=postgres").arg(&name);
        tools::run(cmd, "createdb (scratch database for the deep check)", ctx).await?;
        Ok(ScratchDatabase { env, name })
    }

    /// The libpq environment of the scratch server.
    pub fn env(&self) -> &[(&'static str, String)] {
        &self.env
    }

    /// `--dbname` for a tool that connects to the scratch database.
    pub fn dbname(&self) -> String {
        crate::conn::dbname_arg(&self.name)
    }

    /// Drops the database (always called, even after a failed restore).
    pub async fn drop_now(self, ctx: &StepContext) -> Result<(), StepError> {
        let mut cmd = tools::command("dropdb", &self.env);
        cmd.args(["--maintenance-db=postgres", "--if-exists", "--force"])
            .arg(&self.name);
        tools::run(cmd, "dropdb (scratch database)", ctx)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_keyspace;

    #[test]
    fn keyspace_lines_are_parsed_and_sorted() {
        let info =
            "# Keyspace\r\ndb3:keys=2,expires=0,avg_ttl=0\r\ndb0:keys=10,expires=1,avg_ttl=5\r\n";
        assert_eq!(parse_keyspace(info), vec![(0, 10), (3, 2)]);
        assert!(parse_keyspace("# Keyspace\r\n").is_empty());
    }
}
