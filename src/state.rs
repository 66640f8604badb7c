//! Where runs keep their state (`.ops/` beside the runbook's repository root, or
//! `--state-dir`, or `OPS_STATE_DIR`), and run locks: one run at a time per runbook id,
//! plus the named locks a runbook declares for shared resources (`lock = ["postgres-main"]`).
//!
//! A lock is an advisory `flock` on `STATE/locks/NAME.lock`, taken without blocking, so
//! acquisition is atomic and a dead process never holds one (the kernel releases it). The
//! file says who holds it (run id, user, host, pid, since); a clean release empties it,
//! so a holder's text found on acquiring means that run died holding it (taken over, with
//! a note).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The state directory for a runbook file.
pub fn state_dir(explicit: Option<&Path>, runbook: &Path) -> PathBuf {
    state_dir_in(explicit, &runbook_dir(runbook))
}

/// The repository root of a runbook: the nearest folder above it that holds `.git`, else
/// the runbook's own folder.
pub fn repo_root(runbook: &Path) -> PathBuf {
    root_above(&runbook_dir(runbook))
}

/// The folder a runbook is in, as an absolute path (`.` when it cannot be resolved).
fn runbook_dir(runbook: &Path) -> PathBuf {
    std::fs::canonicalize(runbook)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The state directory for commands run in directory `start` (`ops history`): the
/// explicit one, `OPS_STATE_DIR`, or `.ops/` at the repository root above `start`.
pub fn state_dir_in(explicit: Option<&Path>, start: &Path) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("OPS_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    root_above(&start).join(".ops")
}

/// The repository root above folder `start`: the nearest one that holds `.git`, else
/// `start` itself.
fn root_above(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(start)
        .to_path_buf()
}

/// Who holds a lock, as its file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The run id.
    pub run: String,
    /// The runbook id.
    pub runbook: String,
    /// User name.
    pub user: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub since: String,
}

impl Holder {
    /// This process, for run `run` of runbook `runbook`.
    pub fn me(run: &str, runbook: &str) -> Holder {
        Holder {
            run: run.to_string(),
            runbook: runbook.to_string(),
            user: user_name(),
            host: hostname(),
            pid: std::process::id(),
            since: jiff::Timestamp::now().to_string(),
        }
    }

    fn to_text(&self) -> String {
        serde_json::json!({
            "run": self.run,
            "runbook": self.runbook,
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "since": self.since,
        })
        .to_string()
    }

    fn parse(text: &str) -> Option<Holder> {
        let j: serde_json::Value = serde_json::from_str(text).ok()?;
        let s = |k: &str| j[k].as_str().unwrap_or_default().to_string();
        Some(Holder {
            run: s("run"),
            runbook: s("runbook"),
            user: s("user"),
            host: s("host"),
            pid: u32::try_from(j["pid"].as_u64()?).ok()?,
            since: s("since"),
        })
    }

    /// `run R of X by alice@host (pid 42) since T`.
    pub fn describe(&self) -> String {
        format!(
            "run {} of `{}` by {}@{} (pid {}) since {}",
            self.run, self.runbook, self.user, self.host, self.pid, self.since
        )
    }
}

/// The user of this process as runs name it: `$USER`, `$LOGNAME`, or `uid N`.
pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// Every name the user of this process goes by: `$USER`, `$LOGNAME` and the account of
/// the real uid in `/etc/passwd` (so `USER=someone ops run` does not hide who ran it).
pub fn user_names() -> Vec<String> {
    let mut names: Vec<String> = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .filter(|n| !n.is_empty())
        .collect();
    let uid = rustix::process::getuid().as_raw().to_string();
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2] == uid {
                names.push(f[0].to_string());
                break;
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| String::from("localhost"))
}

/// A run id: the start time and this process (`20261202T033000Z-1a2b`), unique per host.
pub fn run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{:x}",
        now.strftime("%Y%m%dT%H%M%S%.3fZ")
            .to_string()
            .replace('.', ""),
        std::process::id()
    )
}

/// Locks held by this run, released (and their files emptied) when dropped.
pub struct Locks {
    held: Vec<(String, File)>,
    /// Holders that died holding a lock this run took over.
    pub taken_over: Vec<(String, Holder)>,
}

impl Drop for Locks {
    fn drop(&mut self) {
        for (_, file) in &mut self.held {
            // Emptied first: a lock file with a holder in it means that holder died.
            // Not fsync'd, here or when the holder is written: the lock is the `flock`,
            // which no crash outlives; the text only names the holder, and after a power
            // loss (when every holder died) the journals say which runs did not end.
            let _ = file.set_len(0);
            let _ = file.unlock();
        }
    }
}

/// Why locks could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Held by another live run.
    Busy {
        /// The lock's name.
        name: String,
        /// Who holds it, when its file says.
        holder: Option<Box<Holder>>,
    },
    /// The state directory or a lock file cannot be used.
    Io(String),
}

/// Takes every lock in `names` (sorted, so two runs that need the same ones never wait
/// for each other in a cycle), waiting up to `wait` for busy ones; all or none.
pub fn acquire(
    state: &Path,
    names: &[String],
    me: &Holder,
    wait: Option<Duration>,
) -> Result<Locks, LockError> {
    let dir = state.join("locks");
    std::fs::create_dir_all(&dir)
        .map_err(|e| LockError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let mut names: Vec<String> = names.to_vec();
    names.sort();
    names.dedup();
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match try_all(&dir, &names, me) {
            Ok(locks) => return Ok(locks),
            Err(LockError::Busy { .. }) if deadline.is_some_and(|d| Instant::now() < d) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

fn try_all(dir: &Path, names: &[String], me: &Holder) -> Result<Locks, LockError> {
    let mut locks = Locks {
        held: Vec::new(),
        taken_over: Vec::new(),
    };
    for name in names {
        let path = dir.join(format!("{name}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LockError::Io(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                // `locks` drops here: what was taken is released, emptied.
                return Err(LockError::Busy {
                    name: name.clone(),
                    holder: Holder::parse(&text).map(Box::new),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LockError::Io(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        if let Some(previous) = Holder::parse(&text) {
            locks.taken_over.push((name.clone(), previous));
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.to_text().as_bytes()));
        if let Err(e) = written {
            return Err(LockError::Io(format!(
                "cannot write {}: {e}",
                path.display()
            )));
        }
        locks.held.push((name.clone(), file));
    }
    Ok(locks)
}
