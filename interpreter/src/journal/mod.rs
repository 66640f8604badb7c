//! The run journal: one append-only JSON Lines file per run (`STATE/runs/RUN.jsonl`),
//! the record `ops resume`, `ops history`, `ops show` and `ops audit verify` read.
//!
//! Each line is one record: `seq` (0, 1, 2, ...), `at` (RFC 3339), `prev` (the sha256 of
//! the previous line's bytes; for the first line, of `ops-journal RUN`), then the entry:
//! the `journal_started` header (plan hash, resolved parameters, who, where, the plan),
//! every run event (already redacted: secrets are `(secret)`), and journal notes (a lock
//! taken over, a resume). Lines are appended with `write(2)` on a file opened for
//! appending, as durable as [`Durability`] says (a mutating step's start is fsync'd
//! before it runs), so a crash leaves at most one torn last line, which readers detect
//! and ignore.

mod verify;
mod writer;

pub use verify::{Verdict, check, verify};
pub use writer::{Durability, JournalReporter, Writer};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the journal format; bumped on any incompatible change.
pub const JOURNAL_VERSION: u32 = 1;

/// The longest journal line read back (a line is one event; step outputs are capped far
/// below this).
pub const LINE_LIMIT: usize = 16 * 1024 * 1024;

/// The largest journal read back (a run of a million steps writes about 500 MB).
pub const JOURNAL_LIMIT: u64 = 1 << 30;

/// Where the journals of a state directory are.
pub fn runs_dir(state: &Path) -> PathBuf {
    state.join("runs")
}

/// The journal of run `run`.
pub fn path(state: &Path, run: &str) -> PathBuf {
    runs_dir(state).join(format!("{run}.jsonl"))
}

/// True for a run id ops could have made: letters, digits, `-`, `_` and `.`, not
/// starting with a dot, so `ops show ../x` cannot read outside the state directory.
pub fn valid_run_id(run: &str) -> bool {
    !run.is_empty()
        && run.len() <= 128
        && !run.starts_with('.')
        && run
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The `prev` of a journal's first record: binds the chain to its run id.
pub fn genesis(run: &str) -> String {
    hash_line(format!("ops-journal {run}").as_bytes())
}

/// The sha256 of one line's bytes, as hex.
pub fn hash_line(line: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(line);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// The first entry of every journal: what runs, with what, by whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Journal format version.
    pub journal_version: u32,
    /// The run id.
    pub run: String,
    /// The runbook id.
    pub runbook: String,
    /// Its title.
    pub title: String,
    /// Its file, as given.
    pub file: String,
    /// The working directory the run started in (resume goes on from there: the file and
    /// relative parameters mean what they meant).
    pub cwd: String,
    /// The content hash of the runbook and every file it reaches.
    pub hash: String,
    /// The `ops` version.
    pub ops_version: String,
    /// The user who started the run.
    pub user: String,
    /// Every name that user goes by (`$USER`, `$LOGNAME`, the uid's account).
    #[serde(default)]
    pub operators: Vec<String>,
    /// The host it runs on.
    pub host: String,
    /// The process id of `ops`.
    pub pid: u32,
    /// The parameters, resolved (`name` and JSON `value`; secrets never appear: they
    /// are read from their sources again on resume).
    pub params: Vec<Param>,
    /// `--start-at`, if given.
    pub start_at: Option<String>,
    /// The plan's steps as run (id, label, effect), what resume compares.
    pub shape: Vec<ShapeStep>,
    /// The plan hash approvals name: [`plan_hash`] of the fields above.
    pub plan_hash: String,
}

/// The hash of what a run runs: runbook id, file, content hash, `ops` version,
/// parameters, `--start-at` and every step (`sha256:HEX`). An approval signs it, so an
/// approval of one plan never opens the gate of another.
pub fn plan_hash(h: &Header) -> String {
    #[derive(Serialize)]
    struct Planned<'h> {
        runbook: &'h str,
        file: &'h str,
        hash: &'h str,
        ops_version: &'h str,
        params: &'h [Param],
        start_at: &'h Option<String>,
        shape: &'h [ShapeStep],
    }
    let canonical = serde_json::to_vec(&Planned {
        runbook: &h.runbook,
        file: &h.file,
        hash: &h.hash,
        ops_version: &h.ops_version,
        params: &h.params,
        start_at: &h.start_at,
        shape: &h.shape,
    })
    .unwrap_or_default();
    format!("sha256:{}", hash_line(&canonical))
}

/// One resolved parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its value as JSON.
    pub value: serde_json::Value,
}

/// A step as the plan had it, for comparing plans on resume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeStep {
    /// Plan id.
    pub id: String,
    /// `probe http "..." as name`.
    pub label: String,
    /// `read-only`, `mutating`, `interactive`.
    pub effect: String,
}

/// The plan's shape: every step and handler step in plan order.
pub fn shape(plan: &crate::plan::Plan) -> Vec<ShapeStep> {
    plan.steps()
        .into_iter()
        .map(|s| ShapeStep {
            id: s.id.clone(),
            label: s.label.clone(),
            effect: s.effect.as_str().to_string(),
        })
        .collect()
}

/// A line that is not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// Its line number (1-based).
    pub line: usize,
    /// Why.
    pub why: String,
    /// It is the last line and has no newline: a crash cut it off while it was written.
    pub torn: bool,
}

/// One record read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its line number (1-based).
    pub line: usize,
    /// Its `seq`.
    pub seq: u64,
    /// Its `at`.
    pub at: String,
    /// Its `event` (`journal_started`, `step_finished`, ...).
    pub event: String,
    /// The whole record.
    pub json: serde_json::Value,
}

/// A journal read back in order.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    /// The records that parse, in file order.
    pub records: Vec<Record>,
    /// Lines that are not records: a torn last line after a crash, or damage.
    pub unreadable: Vec<Unreadable>,
    /// The sha256 of every line, by line number (index 0 is line 1).
    pub line_hashes: Vec<String>,
}

impl Journal {
    /// Reads a journal file.
    pub fn read(path: &Path) -> Result<Journal, String> {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(JOURNAL_LIMIT + 1).read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bytes.len() as u64 > JOURNAL_LIMIT {
            return Err(format!(
                "{} is larger than a journal can be ({} GiB)",
                path.display(),
                JOURNAL_LIMIT >> 30
            ));
        }
        Ok(Journal::parse(&bytes))
    }
    /// Parses journal bytes; never fails: what does not parse is listed in `unreadable`.
    pub fn parse(bytes: &[u8]) -> Journal {
        let mut journal = Journal::default();
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let complete = bytes.ends_with(b"\n") || bytes.is_empty();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let last = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            let number = i + 1;
            journal.line_hashes.push(hash_line(line));
            let torn = number == last && !complete;
            let bad = |why: &str| Unreadable {
                line: number,
                why: why.to_string(),
                torn,
            };
            if line.len() > LINE_LIMIT {
                journal
                    .unreadable
                    .push(bad("longer than a journal line can be"));
                continue;
            }
            match serde_json::from_slice::<serde_json::Value>(line) {
                // Even complete JSON without its newline was never finished.
                Ok(_) if torn => journal
                    .unreadable
                    .push(bad("no newline at its end (torn by a crash while written)")),
                Ok(json) => match record(number, json) {
                    Some(r) => journal.records.push(r),
                    None => journal
                        .unreadable
                        .push(bad("not a journal record (no seq, at or event)")),
                },
                Err(_) if torn => journal
                    .unreadable
                    .push(bad("torn last line (a crash while writing it)")),
                Err(e) => journal.unreadable.push(bad(&format!("not JSON: {e}"))),
            }
        }
        journal
    }

    /// The header, when the first record is one.
    pub fn header(&self) -> Option<Header> {
        let first = self.records.first()?;
        if first.event != "journal_started" {
            return None;
        }
        serde_json::from_value(first.json.clone()).ok()
    }

    /// The records of one kind of event.
    pub fn events<'j>(&'j self, event: &'j str) -> impl Iterator<Item = &'j Record> + 'j {
        self.records.iter().filter(move |r| r.event == event)
    }
}

fn record(line: usize, json: serde_json::Value) -> Option<Record> {
    Some(Record {
        line,
        seq: json["seq"].as_u64()?,
        at: json["at"].as_str()?.to_string(),
        event: json["event"].as_str()?.to_string(),
        json,
    })
}
