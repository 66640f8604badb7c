//! `ops audit verify RUN`: the hash chain of a journal, record by record.

use super::{Journal, genesis};

/// What verifying a journal found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Records whose chain holds.
    pub records: usize,
    /// What breaks the chain, each naming its line: an edited, removed, inserted or
    /// reordered record, a damaged line.
    pub problems: Vec<String>,
    /// What is not a break: a torn last line after a crash.
    pub notes: Vec<String>,
    /// The sha256 of the last record (the chain's head).
    pub head: String,
}

impl Verdict {
    /// True when the chain holds from the first record to the last.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads and verifies the journal of run `run` at `path`.
pub fn verify(path: &std::path::Path, run: &str) -> Result<Verdict, String> {
    let journal = Journal::read(path)?;
    Ok(check(&journal, run))
}

/// Verifies a journal read back: every record's `prev` is the hash of the line before
/// it (of `ops-journal RUN` for the first), `seq` counts up from 0 by one, the first
/// record is the header of this run, and no line in the middle is unreadable.
pub fn check(journal: &Journal, run: &str) -> Verdict {
    let mut verdict = Verdict::default();
    for bad in &journal.unreadable {
        if bad.torn {
            verdict
                .notes
                .push(format!("line {}: {}; ignored", bad.line, bad.why));
        } else {
            verdict
                .problems
                .push(format!("line {}: {}", bad.line, bad.why));
        }
    }
    let mut expected_prev = genesis(run);
    let mut expected_seq = 0u64;
    for record in &journal.records {
        let prev = record.json["prev"].as_str().unwrap_or_default();
        if prev != expected_prev {
            let what = if record.seq == 0 {
                format!("the first record does not belong to run {run}")
            } else if record.seq != expected_seq {
                format!(
                    "record seq {} where seq {expected_seq} should be: a record was removed, inserted or moved",
                    record.seq
                )
            } else {
                format!(
                    "record seq {} does not follow the line before it: that line was edited, removed or moved",
                    record.seq
                )
            };
            verdict
                .problems
                .push(format!("line {}: {what}", record.line));
        } else if record.seq != expected_seq {
            verdict.problems.push(format!(
                "line {}: record seq {} where seq {expected_seq} should be",
                record.line, record.seq
            ));
        } else {
            verdict.records += 1;
        }
        if record.seq == 0 && record.event != "journal_started" {
            verdict.problems.push(format!(
                "line {}: the first record is not the journal header",
                record.line
            ));
        }
        if record.seq == 0 && record.json["run"].as_str() != Some(run) {
            verdict.problems.push(format!(
                "line {}: the header names another run",
                record.line
            ));
        }
        expected_prev = journal.line_hashes[record.line - 1].clone();
        expected_seq = record.seq + 1;
    }
    if journal.records.is_empty() {
        verdict.problems.push("the journal has no records".into());
    }
    verdict.head = expected_prev;
    verdict
}
