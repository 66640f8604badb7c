//! The run index (`STATE/index.sqlite`): one row per run, written when a run ends (and
//! when a resume starts), so `ops history` answers without reading every journal. The
//! journals stay the record: a journal the index does not know (a run in progress, one
//! that died, a journal copied in) is read and added on the next `ops history`, and the
//! index keeps each run's chain head so `ops audit verify` finds records cut from a
//! journal's end.
//!
//! SQLite (a rollback journal, a 5 s busy timeout) serialises the writers: runs of
//! different runbooks may end at the same moment. It is written without fsync (`synchronous = OFF`): a
//! `kill -9` loses nothing, a power loss may lose the latest rows (found again in the
//! journals; their end anchors for `ops audit verify` are then gone).

use std::path::Path;
use std::time::Duration;

use interpreter::journal::{self, Journal};
use rusqlite::{Connection, OptionalExtension, params};

/// The index layout; another one is dropped and rebuilt from the journals.
const INDEX_VERSION: i64 = 1;

/// One run as the index has it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    /// Run id.
    pub run: String,
    /// Runbook id.
    pub runbook: String,
    /// Runbook file.
    pub file: String,
    /// Who started it.
    pub user: String,
    /// Where.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it last ended (RFC 3339), if it did.
    pub ended: Option<String>,
    /// Wall time of the last attempt, in milliseconds.
    pub duration_ms: Option<i64>,
    /// `running`, `ok`, `failed`, `interrupted`.
    pub status: String,
    /// The exit code, when it ended.
    pub exit_code: Option<i32>,
    /// The step that failed it.
    pub failed_step: Option<String>,
    /// Times it was resumed.
    pub resumes: u32,
    /// Records in its journal when it last ended.
    pub records: Option<i64>,
    /// The hash of its journal's last record then.
    pub head: Option<String>,
    /// Approval gates passed or stopped (`bob approved 1`, `rejected by bob at 1`).
    pub approvals: Option<String>,
}

/// The open index.
pub struct Index {
    db: Connection,
}

impl Index {
    /// Opens (creating) the index of a state directory.
    pub fn open(state: &Path) -> Result<Index, String> {
        std::fs::create_dir_all(state)
            .map_err(|e| format!("cannot create {}: {e}", state.display()))?;
        let path = state.join("index.sqlite");
        let db = Connection::open(&path)
            .map_err(|e| format!("cannot open the run index {}: {e}", path.display()))?;
        let setup = || -> rusqlite::Result<()> {
            db.busy_timeout(Duration::from_secs(5))?;
            // No fsync: the journals are the record; after a power loss the index may
            // lack its latest rows, which the next `ops history` reads from the journals.
            db.pragma_update(None, "synchronous", "OFF")?;
            // An index of this layout is used as it is (every run opens it: the schema is
            // not compiled again); another one, or a new file, is (re)built, and the
            // version is set in the same transaction as the tables, so a crash leaves
            // either the old layout or the whole new one.
            let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version == INDEX_VERSION {
                return Ok(());
            }
            db.pragma_update(None, "journal_mode", "DELETE")?;
            db.execute_batch("BEGIN IMMEDIATE")?;
            // Another run may have built it since the version was read.
            let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version == INDEX_VERSION {
                return db.execute_batch("COMMIT");
            }
            db.execute_batch(&format!(
                "DROP TABLE IF EXISTS runs;
                 CREATE TABLE runs (
                    run TEXT PRIMARY KEY, runbook TEXT NOT NULL, file TEXT NOT NULL,
                    user TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
                    started TEXT NOT NULL, ended TEXT, duration_ms INTEGER,
                    status TEXT NOT NULL, exit_code INTEGER, failed_step TEXT,
                    resumes INTEGER NOT NULL DEFAULT 0, records INTEGER, head TEXT,
                    approvals TEXT);
                 CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
                 CREATE INDEX IF NOT EXISTS runs_by_runbook ON runs (runbook, started);
                 PRAGMA user_version = {INDEX_VERSION};
                 COMMIT;"
            ))
        };
        setup().map_err(|e| format!("cannot use the run index {}: {e}", path.display()))?;
        Ok(Index { db })
    }

    /// Records a resumed run that starts again: its row goes back to `running`.
    pub fn started(&self, row: &Row) -> Result<(), String> {
        self.db
            .execute(
                "INSERT INTO runs (run, runbook, file, user, host, pid, started, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running')
                 ON CONFLICT(run) DO UPDATE SET status = 'running', pid = ?6,
                   ended = NULL, exit_code = NULL",
                params![
                    row.run,
                    row.runbook,
                    row.file,
                    row.user,
                    row.host,
                    row.pid,
                    row.started
                ],
            )
            .map(|_| ())
            .map_err(|e| format!("cannot write the run index: {e}"))
    }

    /// Records how a run ended and its journal's head (a new run's row is written here:
    /// while it runs, `ops history` finds it by its journal).
    pub fn ended(&self, row: &Row) -> Result<(), String> {
        self.db
            .execute(
                "INSERT INTO runs (run, runbook, file, user, host, pid, started, ended,
                   duration_ms, status, exit_code, failed_step, records, head, approvals, resumes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT(run) DO UPDATE SET pid = ?6, ended = ?8, duration_ms = ?9,
                   status = ?10, exit_code = ?11, failed_step = ?12, records = ?13, head = ?14,
                   approvals = ?15, resumes = ?16",
                params![
                    row.run,
                    row.runbook,
                    row.file,
                    row.user,
                    row.host,
                    row.pid,
                    row.started,
                    row.ended,
                    row.duration_ms,
                    row.status,
                    row.exit_code,
                    row.failed_step,
                    row.records,
                    row.head,
                    row.approvals,
                    row.resumes
                ],
            )
            .map(|_| ())
            .map_err(|e| format!("cannot write the run index: {e}"))
    }

    /// One run.
    pub fn get(&self, run: &str) -> Result<Option<Row>, String> {
        self.db
            .query_row(&format!("{SELECT} WHERE run = ?1"), [run], row)
            .optional()
            .map_err(|e| format!("cannot read the run index: {e}"))
    }

    /// The latest runs first, of one runbook or all, at most `limit`.
    pub fn list(&self, runbook: Option<&str>, limit: usize) -> Result<Vec<Row>, String> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let read = || -> rusqlite::Result<Vec<Row>> {
            match runbook {
                Some(id) => {
                    let mut q = self.db.prepare(&format!(
                        "{SELECT} WHERE runbook = ?1 ORDER BY started DESC, run DESC LIMIT ?2"
                    ))?;
                    q.query_map(params![id, limit], row)?.collect()
                }
                None => {
                    let mut q = self.db.prepare(&format!(
                        "{SELECT} ORDER BY started DESC, run DESC LIMIT ?1"
                    ))?;
                    q.query_map(params![limit], row)?.collect()
                }
            }
        };
        read().map_err(|e| format!("cannot read the run index: {e}"))
    }

    /// Adds every journal of the state directory the index does not know yet (read from
    /// the journal alone); returns how many.
    pub fn sweep(&mut self, state: &Path) -> Result<usize, String> {
        let dir = journal::runs_dir(state);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(0);
        };
        let mut known = std::collections::HashSet::new();
        {
            let mut q = self
                .db
                .prepare("SELECT run FROM runs")
                .map_err(|e| format!("cannot read the run index: {e}"))?;
            let ids = q
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| format!("cannot read the run index: {e}"))?;
            for id in ids.flatten() {
                known.insert(id);
            }
        }
        let mut added = 0;
        let tx = self
            .db
            .transaction()
            .map_err(|e| format!("cannot write the run index: {e}"))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(run) = name.strip_suffix(".jsonl") else {
                continue;
            };
            if known.contains(run) || !journal::valid_run_id(run) {
                continue;
            }
            let Ok(j) = Journal::read(&entry.path()) else {
                continue;
            };
            // A journal is the run its file is named after, or it is not indexed.
            let Some(r) = from_journal(&j).filter(|r| r.run == run) else {
                continue;
            };
            let done = tx.execute(
                "INSERT OR IGNORE INTO runs (run, runbook, file, user, host, pid, started,
                   ended, duration_ms, status, exit_code, failed_step, resumes, approvals)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    r.run,
                    r.runbook,
                    r.file,
                    r.user,
                    r.host,
                    r.pid,
                    r.started,
                    r.ended,
                    r.duration_ms,
                    r.status,
                    r.exit_code,
                    r.failed_step,
                    r.resumes,
                    r.approvals
                ],
            );
            added += done.unwrap_or(0);
        }
        tx.commit()
            .map_err(|e| format!("cannot write the run index: {e}"))?;
        Ok(added)
    }
}

const SELECT: &str = "SELECT run, runbook, file, user, host, pid, started, ended, duration_ms,
    status, exit_code, failed_step, resumes, records, head, approvals FROM runs";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        run: r.get(0)?,
        runbook: r.get(1)?,
        file: r.get(2)?,
        user: r.get(3)?,
        host: r.get(4)?,
        pid: r.get(5)?,
        started: r.get(6)?,
        ended: r.get(7)?,
        duration_ms: r.get(8)?,
        status: r.get(9)?,
        exit_code: r.get(10)?,
        failed_step: r.get(11)?,
        resumes: r.get(12)?,
        records: r.get(13)?,
        head: r.get(14)?,
        approvals: r.get(15)?,
    })
}

/// A run's row from its journal alone (`ops show`, and journals the index lacks).
pub fn from_journal(j: &Journal) -> Option<Row> {
    let header = j.header()?;
    let started = j.records.first()?.at.clone();
    let resumed = j.events("resumed").last().map(|r| r.line);
    // A resume after the last end is running (or died): that end is not the run's.
    let finished = j
        .events("run_finished")
        .last()
        .filter(|f| resumed.is_none_or(|r| f.line > r));
    let resumes = j.events("resumed").count() as u32;
    Some(Row {
        run: header.run,
        runbook: header.runbook,
        file: header.file,
        user: header.user,
        host: header.host,
        pid: header.pid,
        started,
        ended: finished.map(|f| f.at.clone()),
        duration_ms: finished.and_then(|f| f.json["duration_ms"].as_i64()),
        status: finished
            .and_then(|f| f.json["status"].as_str())
            .map_or_else(|| "running".to_string(), str::to_string),
        exit_code: finished
            .and_then(|f| f.json["exit_code"].as_i64())
            .and_then(|c| i32::try_from(c).ok()),
        failed_step: finished
            .and_then(|f| f.json["failed_step"].as_str())
            .map(str::to_string),
        resumes,
        records: None,
        head: None,
        approvals: approvals(j),
    })
}

/// What the approval gates of a journal decided: `1 approved by bob, alice`, or
/// `1 rejected by bob`, `; `-separated.
pub fn approvals(j: &Journal) -> Option<String> {
    // Only the gates' own lines count: any command could print "rejected by".
    let gates: Vec<String> = j
        .header()
        .map(|h| {
            h.shape
                .into_iter()
                .filter(|s| s.label.starts_with("approve ") && s.effect == "interactive")
                .map(|s| s.id)
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for r in j.events("step_log") {
        let (Some(id), Some(line)) = (r.json["id"].as_str(), r.json["line"].as_str()) else {
            continue;
        };
        if !gates.iter().any(|g| g == id) {
            continue;
        }
        if let Some(rest) = line.strip_prefix("rejected by ") {
            let who = rest.split(' ').next().unwrap_or_default();
            out.push(format!("{id} rejected by {who}"));
        }
    }
    for r in j.events("step_finished") {
        if r.json["status"] != "ok"
            || !r.json["label"]
                .as_str()
                .is_some_and(|l| l.starts_with("approve "))
        {
            continue;
        }
        let by: Vec<&str> = r.json["outputs"]["approved_by"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        out.push(format!(
            "{} approved by {}",
            r.json["id"].as_str().unwrap_or_default(),
            by.join(", ")
        ));
    }
    (!out.is_empty()).then(|| out.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: &str) -> Row {
        Row {
            run: run.into(),
            runbook: "demo".into(),
            file: "demo.rb.ops".into(),
            user: "alice".into(),
            host: "box".into(),
            pid: 7,
            started: "2026-12-02T10:00:00Z".into(),
            ended: Some("2026-12-02T10:00:01Z".into()),
            duration_ms: Some(1000),
            status: "ok".into(),
            exit_code: Some(0),
            failed_step: None,
            resumes: 0,
            records: Some(3),
            head: Some("abc".into()),
            approvals: None,
        }
    }

    /// A new index is built; an index of this layout is used as it is (its rows kept);
    /// one of another layout is dropped and built again.
    #[test]
    fn an_index_is_built_once_and_rebuilt_only_for_another_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        Index::open(dir.path())
            .expect("new")
            .ended(&row("r1"))
            .expect("row");
        let again = Index::open(dir.path()).expect("reopen");
        assert_eq!(again.get("r1").expect("get"), Some(row("r1")));
        drop(again);
        let raw = Connection::open(dir.path().join("index.sqlite")).expect("raw");
        raw.execute_batch("PRAGMA user_version = 0;")
            .expect("old layout");
        drop(raw);
        let rebuilt = Index::open(dir.path()).expect("rebuilt");
        assert_eq!(rebuilt.get("r1").expect("get"), None);
        let version: i64 = rebuilt
            .db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, INDEX_VERSION);
        rebuilt
            .ended(&row("r2"))
            .expect("the new layout takes rows");
    }
}
