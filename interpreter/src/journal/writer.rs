//! Appending to a journal: records chained by hash, fsync'd at step boundaries.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Header, Journal, genesis, hash_line};
use crate::event::{Event, Reporter};

/// Appends records to one run's journal. One writer per journal: the run holds its
/// runbook lock while it writes.
pub struct Writer {
    file: File,
    /// Lines not written yet: records that need not be durable wait here for the next
    /// one that must be (or the end), then go out in one `write(2)`.
    pending: Vec<u8>,
    /// Bytes were written since the last fsync.
    unsynced: bool,
    /// The runs directory, until the first fsync makes the new journal's entry in it
    /// durable too (a journal nothing was fsync'd to may vanish in a power loss).
    dir_unsynced: Option<PathBuf>,
    /// fsyncs of the journal so far (the directory's not counted).
    syncs: u32,
    /// Opened to go on with an earlier run, which may have started mutating steps.
    resumed: bool,
    path: PathBuf,
    seq: u64,
    prev: String,
    /// The first write error: the run goes on, but says its journal is incomplete.
    failed: Option<String>,
}

impl Writer {
    /// Creates the journal of a new run (never replaces one) and writes its header.
    pub fn create(state: &Path, header: &Header) -> Result<Writer, String> {
        let dir = super::runs_dir(state);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = super::path(state, &header.run);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot create the journal {}: {e}", path.display()))?;
        let mut writer = Writer {
            file,
            pending: Vec::new(),
            unsynced: false,
            dir_unsynced: Some(dir),
            syncs: 0,
            resumed: false,
            path,
            seq: 0,
            prev: genesis(&header.run),
            failed: None,
        };
        let header = serde_json::to_string(header).unwrap_or_default();
        let body = format!(
            "{{\"event\":\"journal_started\",{}",
            header.strip_prefix('{').unwrap_or("}")
        );
        // Handed to the kernel at once, so a run killed before its first event still has
        // a journal that names it; on disk with the first record that must be.
        writer.append(&body, Durability::Write);
        match writer.failed.take() {
            Some(e) => Err(e),
            None => Ok(writer),
        }
    }

    /// Opens an existing journal to go on with it (resume). Its chain must verify; a torn
    /// last line (a crash while writing it, so an event that was never recorded) is cut
    /// off, and a `torn_line_dropped` note keeps its hash.
    pub fn reopen(state: &Path, run: &str) -> Result<(Writer, Journal), String> {
        let path = super::path(state, run);
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .len();
        if size > super::JOURNAL_LIMIT {
            return Err(format!(
                "{} is larger than a journal can be",
                path.display()
            ));
        }
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let journal = Journal::parse(&bytes);
        let verdict = super::verify::check(&journal, run);
        if !verdict.ok() {
            return Err(format!(
                "the journal {} does not verify: {}",
                path.display(),
                verdict.problems.join("; ")
            ));
        }
        let last = journal
            .records
            .last()
            .ok_or_else(|| format!("the journal {} has no records", path.display()))?;
        let keep = line_end(&bytes, last.line);
        let torn = (keep < bytes.len()).then(|| (last.line + 1, hash_line(&bytes[keep..])));
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if torn.is_some() {
            file.set_len(keep as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot cut the torn line of {}: {e}", path.display()))?;
        }
        let mut writer = Writer {
            file,
            pending: Vec::new(),
            unsynced: false,
            dir_unsynced: None,
            syncs: 0,
            resumed: true,
            path,
            seq: last.seq + 1,
            prev: journal.line_hashes[last.line - 1].clone(),
            failed: None,
        };
        if let Some((line, sha256)) = torn {
            writer.note(
                "torn_line_dropped",
                serde_json::json!({ "line": line, "sha256": sha256 }),
            );
        }
        Ok((writer, journal))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hash of the last record written (the chain's head).
    pub fn head(&self) -> &str {
        &self.prev
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.seq
    }

    /// How many times the journal was fsync'd: none for a run of read-only steps, whose
    /// journal is written but never waited for.
    pub fn syncs(&self) -> u32 {
        self.syncs
    }

    /// How durable the run's end must be: on disk once a step's start was (or resume
    /// would see that step as cut off), written only for a run of read-only steps.
    pub fn end_durability(&self) -> Durability {
        if self.syncs > 0 || self.resumed {
            Durability::Sync
        } else {
            Durability::Write
        }
    }

    /// Writes what waits, as durable as the run's end must be.
    pub fn settle(&mut self) -> std::io::Result<()> {
        let sync = self.end_durability() == Durability::Sync;
        self.flush(sync)
    }

    /// The first write error, if any.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Appends a journal note (`lock_taken_over`, `resumed`, ...), fsync'd.
    pub fn note(&mut self, event: &str, fields: serde_json::Value) {
        let mut entry = serde_json::Map::new();
        entry.insert("event".into(), event.into());
        if let serde_json::Value::Object(fields) = fields {
            entry.extend(fields);
        }
        let body = serde_json::Value::Object(entry).to_string();
        self.append(&body, Durability::Sync);
    }

    /// Appends one run event as durable as `level` says.
    pub fn event(&mut self, event: &Event, level: Durability) {
        let Ok(mut body) = serde_json::to_string(event) else {
            return;
        };
        if let Event::StepFinished {
            values: Some(values),
            ..
        } = event
            && body.ends_with('}')
        {
            body.pop();
            body.push_str(",\"values\":");
            body.push_str(&values.to_string());
            body.push('}');
        }
        self.append(&body, level);
    }

    fn append(&mut self, body: &str, level: Durability) {
        if self.failed.is_some() {
            return;
        }
        // `{"seq":..,"at":..,"prev":..,` then the entry's own fields.
        let start = self.pending.len();
        let _ = write!(
            self.pending,
            "{{\"seq\":{},\"at\":\"{}\",\"prev\":\"{}\",",
            self.seq,
            jiff::Timestamp::now(),
            self.prev
        );
        self.pending
            .extend_from_slice(body.strip_prefix('{').unwrap_or("}").as_bytes());
        let hash = hash_line(&self.pending[start..]);
        self.pending.push(b'\n');
        // Lines go out in order, many in one write(2) on an O_APPEND file; a crash can
        // only cut the last one.
        let written = match level {
            Durability::Sync => self.flush(true),
            Durability::Write => self.flush(false),
            Durability::Buffer if self.pending.len() >= PENDING_LIMIT => self.flush(false),
            Durability::Buffer => Ok(()),
        };
        match written {
            Ok(()) => {
                self.seq += 1;
                self.prev = hash;
            }
            Err(e) => {
                self.failed = Some(format!(
                    "cannot write the journal {}: {e}",
                    self.path.display()
                ));
            }
        }
    }
}

/// How far a record must get before the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsync), with everything before it and the journal's directory entry: the
    /// start of a mutating or interactive step (the journal says it started before it
    /// starts), the end of a run that had one start, notes.
    Sync,
    /// Handed to the kernel (`write(2)`): survives a `kill -9` of ops; the next `Sync`
    /// puts it on disk. The run's start, the end of a run of read-only steps, and the
    /// end, retries and output lines of a mutating or interactive step (a gate's
    /// "waiting for" line is in the journal while it waits).
    Write,
    /// Kept until the next `Write` or `Sync` (or 64 KiB): records of read-only steps,
    /// output lines, groups. Lost in a crash, resume runs a read-only step again.
    Buffer,
}

/// Lines that need not be durable are written once this many bytes wait.
const PENDING_LIMIT: usize = 64 * 1024;

impl Writer {
    /// Writes what waits, and with `sync` makes everything written durable.
    pub fn flush(&mut self, sync: bool) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let result = self.file.write_all(&self.pending);
            self.pending.clear();
            self.unsynced = true;
            result?;
        }
        if sync && self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
            self.syncs += 1;
        }
        if sync && let Some(dir) = self.dir_unsynced.take() {
            File::open(&dir).and_then(|d| d.sync_all())?;
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.settle();
    }
}

/// The byte offset just after line `line` (1-based).
fn line_end(bytes: &[u8], line: usize) -> usize {
    let mut seen = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            seen += 1;
            if seen == line {
                return i + 1;
            }
        }
    }
    bytes.len()
}

/// Writes every run event to the journal (the writer is shared with the command, which
/// adds notes), as durable as [`Durability`] says for each. It writes on the executor's
/// thread: handing each record to a thread of its own cost more (a wake-up per record)
/// than serialising, hashing and buffering it here.
#[derive(Clone)]
pub struct JournalReporter {
    /// The journal.
    pub writer: Arc<Mutex<Writer>>,
    /// Ids of the mutating and interactive steps: their records are written before the
    /// run goes on, their starts fsync'd.
    pub durable: Arc<std::collections::HashSet<String>>,
}

impl Reporter for JournalReporter {
    fn event(&mut self, event: &Event) {
        let Ok(mut writer) = self.writer.lock() else {
            return;
        };
        let level = match event {
            // The start goes to disk with the first mutating step's start: a run cut off by
            // a power loss before that changed nothing and may leave no journal.
            Event::RunStarted { .. } => Durability::Write,
            Event::RunFinished { .. } => writer.end_durability(),
            Event::StepStarted { id, .. } if self.durable.contains(id) => Durability::Sync,
            Event::StepRetry { id, .. }
            | Event::StepFinished { id, .. }
            | Event::StepLog { id, .. }
                if self.durable.contains(id) =>
            {
                Durability::Write
            }
            _ => Durability::Buffer,
        };
        writer.event(event, level);
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.writer.lock() {
            Ok(mut writer) => writer.settle(),
            Err(_) => Ok(()),
        }
    }
}
