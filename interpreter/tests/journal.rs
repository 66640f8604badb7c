//! The run journal: records chained by hash, tampering found line by line, torn last
//! lines ignored and cut on resume, typed outputs read back, secrets never written.

use interpreter::event::{Event, Status};
use interpreter::journal::{self, Header, Journal, Writer};
use interpreter::value::Value;

fn header(run: &str) -> Header {
    Header {
        journal_version: journal::JOURNAL_VERSION,
        run: run.into(),
        runbook: "demo".into(),
        title: "Demo".into(),
        file: "demo.rb.ops".into(),
        cwd: "/repo".into(),
        hash: "sha256:abc".into(),
        ops_version: "0.1.0".into(),
        user: "alice".into(),
        operators: vec!["alice".into()],
        host: "box".into(),
        pid: 42,
        params: Vec::new(),
        start_at: None,
        shape: Vec::new(),
        plan_hash: String::new(),
    }
}

fn finished(id: &str, values: Option<&Value>) -> Event {
    Event::StepFinished {
        id: id.into(),
        label: format!("exec \"step {id}\""),
        status: Status::Ok,
        duration_ms: 1,
        attempts: 1,
        message: None,
        location: "demo.rb.ops:3".into(),
        outputs: values.map(|v| v.to_json(false)),
        values: values.and_then(|v| serde_json::to_value(v).ok()),
    }
}

/// A journal of a header and `n` finished steps.
fn written(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::create(dir.path(), &header("r1")).unwrap();
    for i in 1..=n {
        w.event(&finished(&i.to_string(), None), journal::Durability::Sync);
    }
    let path = w.path().to_path_buf();
    assert!(w.failed().is_none());
    (dir, path)
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &std::path::Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn an_untouched_journal_verifies_and_reads_back() {
    let (_dir, path) = written(3);
    let v = journal::verify(&path, "r1").unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.records, 4);
    let j = Journal::read(&path).unwrap();
    assert_eq!(j.header().unwrap(), header("r1"));
    assert_eq!(j.events("step_finished").count(), 3);
    // The chain is bound to the run id: the same file under another name fails.
    let other = journal::verify(&path, "r2").unwrap();
    assert!(!other.ok());
    assert!(
        other.problems[0].contains("does not belong to run r2"),
        "{:?}",
        other.problems
    );
}

#[test]
fn an_edited_record_is_found_at_the_line_after_it() {
    let (_dir, path) = written(3);
    let mut l = lines(&path);
    l[2] = l[2].replace("step 2", "step X");
    write_lines(&path, &l);
    let v = journal::verify(&path, "r1").unwrap();
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert!(v.problems[0].starts_with("line 4:"), "{:?}", v.problems);
    assert!(v.problems[0].contains("edited"), "{:?}", v.problems);
}

#[test]
fn a_removed_or_reordered_record_is_found() {
    let (_dir, path) = written(3);
    let original = lines(&path);
    let mut removed = original.clone();
    removed.remove(2);
    write_lines(&path, &removed);
    let v = journal::verify(&path, "r1").unwrap();
    assert!(!v.ok());
    assert!(
        v.problems[0].contains("line 3: record seq 3 where seq 2 should be"),
        "{:?}",
        v.problems
    );

    let mut swapped = original.clone();
    swapped.swap(1, 2);
    write_lines(&path, &swapped);
    let v = journal::verify(&path, "r1").unwrap();
    assert!(!v.ok());
    assert!(v.problems[0].starts_with("line 2:"), "{:?}", v.problems);

    let mut damaged = original;
    damaged[1] = String::from("{not json");
    write_lines(&path, &damaged);
    let v = journal::verify(&path, "r1").unwrap();
    assert!(
        v.problems.iter().any(|p| p.starts_with("line 2: not JSON")),
        "{:?}",
        v.problems
    );
}

#[test]
fn a_torn_last_line_is_ignored_then_cut_with_a_note_on_reopen() {
    let (dir, path) = written(2);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"seq\":3,\"at\":\"2026");
    std::fs::write(&path, &bytes).unwrap();
    let v = journal::verify(&path, "r1").unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.records, 3);
    assert!(v.notes[0].contains("line 4: torn"), "{:?}", v.notes);

    let (mut w, read) = Writer::reopen(dir.path(), "r1").unwrap();
    assert_eq!(read.records.len(), 3);
    w.event(&finished("3", None), journal::Durability::Sync);
    let v = journal::verify(&path, "r1").unwrap();
    assert!(v.ok() && v.notes.is_empty(), "{v:?}");
    let j = Journal::read(&path).unwrap();
    let events: Vec<&str> = j.records.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "journal_started",
            "step_finished",
            "step_finished",
            "torn_line_dropped",
            "step_finished"
        ]
    );
    assert_eq!(j.records[3].json["line"], 4);
}

#[test]
fn a_journal_that_does_not_verify_is_not_reopened() {
    let (dir, path) = written(2);
    let mut l = lines(&path);
    l[1] = l[1].replace("step 1", "step 9");
    write_lines(&path, &l);
    let err = Writer::reopen(dir.path(), "r1").err().unwrap();
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn typed_outputs_read_back_and_secrets_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::create(dir.path(), &header("r1")).unwrap();
    let mut map = indexmap::IndexMap::new();
    map.insert(
        "took".to_string(),
        Value::Duration(std::time::Duration::from_millis(1500)),
    );
    map.insert("size".to_string(), Value::Size(2048));
    map.insert(
        "token".to_string(),
        Value::str("hunter2-value").into_secret(),
    );
    let value = Value::Map(map);
    w.event(&finished("1", Some(&value)), journal::Durability::Sync);
    let text = std::fs::read_to_string(w.path()).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    let j = Journal::read(w.path()).unwrap();
    let rec = j.events("step_finished").next().unwrap();
    let back: Value = serde_json::from_value(rec.json["values"].clone()).unwrap();
    let m = back.as_map().unwrap();
    assert_eq!(
        m["took"],
        Value::Duration(std::time::Duration::from_millis(1500))
    );
    assert_eq!(m["size"], Value::Size(2048));
    assert!(back.holds_secret());
    assert_eq!(m["token"], Value::Secret(Box::new(Value::Null)));
}

#[test]
fn run_ids_that_could_leave_the_state_directory_are_refused() {
    assert!(journal::valid_run_id("20261202T050000123Z-1a2b"));
    for bad in ["", "../x", "a/b", ".hidden", "a\u{0}b"] {
        assert!(!journal::valid_run_id(bad), "{bad:?}");
    }
}

/// The events of a one-step run of step `1`, through the journal's reporter; returns the
/// writer's fsyncs and the records on disk.
fn one_step_run(durable: &[&str]) -> (u32, usize) {
    use interpreter::event::Reporter;
    let dir = tempfile::tempdir().unwrap();
    let writer = Writer::create(dir.path(), &header("r1")).unwrap();
    let path = writer.path().to_path_buf();
    let writer = std::sync::Arc::new(std::sync::Mutex::new(writer));
    let mut reporter = journal::JournalReporter {
        writer: writer.clone(),
        durable: std::sync::Arc::new(durable.iter().map(|s| s.to_string()).collect()),
    };
    reporter.event(&Event::StepStarted {
        id: "1".into(),
        label: "exec \"step 1\"".into(),
        attempt: 1,
    });
    reporter.event(&finished("1", None));
    reporter.event(&Event::RunFinished {
        status: "ok".into(),
        duration_ms: 1,
        failed_step: None,
        exit_code: 0,
    });
    reporter.finish().unwrap();
    let syncs = writer.lock().unwrap().syncs();
    drop(reporter);
    drop(writer);
    (syncs, Journal::read(&path).unwrap().records.len())
}

#[test]
fn a_read_only_run_is_written_but_never_fsynced_and_a_mutating_step_start_and_its_run_end_are() {
    // Read-only: every record reaches the file, none waited for on disk.
    assert_eq!(one_step_run(&[]), (0, 4));
    // Mutating: the step's start (write-ahead) and the run's end.
    assert_eq!(one_step_run(&["1"]), (2, 4));
}
