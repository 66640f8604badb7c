//! Run locks through the real binary: one run at a time per runbook and per named lock,
//! a second run fails at once naming the holder or waits with `--wait-lock`, 20 runs
//! started at once never overlap, and the lock of a run that died is taken over.

mod services;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

fn runbook(dir: &Path, name: &str, extra: &str, body: &str) -> String {
    let file = dir.join(format!("{name}.rb.ops"));
    std::fs::write(
        &file,
        format!("runbook \"{name}\" {{\n  title = \"t\"\n  owner = \"qa\"\n{extra}}}\n\n{body}"),
    )
    .expect("write");
    file.display().to_string()
}

fn spawn(args: &[&str], state: &Path) -> Child {
    let state = state.to_str().expect("utf-8");
    let mut all = args.to_vec();
    all.extend(["--state-dir", state]);
    services::spawn_ops(&all)
}

fn output(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Waits until `path` exists, at most 10 s.
fn wait_file(path: &Path) {
    let started = Instant::now();
    while !path.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(path.exists(), "{} never appeared", path.display());
}

#[test]
fn twenty_runs_at_once_never_overlap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let file = runbook(
        dir.path(),
        "serial",
        "",
        &format!(
            "exec [\"sh\", \"-c\", \"echo start >> {0}; sleep 0.05; echo end >> {0}\"]\n",
            log.display()
        ),
    );
    let state = dir.path().join("state");
    let children: Vec<Child> = (0..20)
        .map(|_| spawn(&["run", &file, "--wait-lock", "2m"], &state))
        .collect();
    for child in children {
        let (code, out) = output(child);
        assert_eq!(code, Some(0), "{out}");
    }
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 40, "{lines:?}");
    // Exactly one holder at any moment: every start is followed by its end.
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["start", "end"], "two runs overlapped: {lines:?}");
    }
}

#[test]
fn a_second_run_fails_at_once_naming_the_holder_and_named_locks_are_shared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let started = dir.path().join("started");
    let long = runbook(
        dir.path(),
        "long",
        "  lock  = [\"shared-db\"]\n",
        &format!(
            "exec [\"sh\", \"-c\", \"touch {}; sleep 3\"]\n",
            started.display()
        ),
    );
    let other = runbook(
        dir.path(),
        "other",
        "  lock  = [\"shared-db\"]\n",
        "notify stdout \"other ran\"\n",
    );
    let first = spawn(&["run", &long], &state);
    wait_file(&started);
    // The same runbook: refused at once, naming the holder.
    let t = Instant::now();
    let (code, out) = output(spawn(&["run", &long], &state));
    assert_eq!(code, Some(3), "{out}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "it did not wait: {out}"
    );
    assert!(out.contains("OPS3026 run-locked"), "{out}");
    // (Locks are taken in name order: the named one comes first.)
    assert!(
        out.contains("lock `lock:shared-db` is held by run "),
        "{out}"
    );
    assert!(out.contains(" of `long` by "), "{out}");
    assert!(out.contains(&format!("(pid {})", first.id())), "{out}");
    // Another runbook that shares a named lock: refused too.
    let (code, out) = output(spawn(&["run", &other], &state));
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("lock `lock:shared-db` is held by run "),
        "{out}"
    );
    assert!(!out.contains("other ran"), "{out}");
    // With --wait-lock it runs once the first one is done.
    let (code, out) = output(spawn(&["run", &other, "--wait-lock", "1m"], &state));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("other ran"), "{out}");
    let (code, out) = output(first);
    assert_eq!(code, Some(0), "{out}");
    // A dry-run takes no lock: it plans while a run holds it.
    std::fs::remove_file(&started).expect("rm");
    let first = spawn(&["run", &long], &state);
    wait_file(&started);
    let (code, out) = output(spawn(&["run", &long, "--dry-run"], &state));
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = output(first);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn the_lock_of_a_run_that_died_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let started = dir.path().join("started");
    let file = runbook(
        dir.path(),
        "dies",
        "",
        &format!(
            "exec [\"sh\", \"-c\", \"touch {}; sleep 1\"]\n",
            started.display()
        ),
    );
    let mut first = spawn(&["run", &file], &state);
    wait_file(&started);
    let pid = first.id();
    first.kill().expect("kill -9");
    let _ = first.wait();
    std::fs::remove_file(&started).expect("rm");
    let (code, out) = output(spawn(&["run", &file], &state));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("took over lock `runbook:dies`") && out.contains(&format!("(pid {pid})")),
        "{out}"
    );
    // A clean end leaves nothing to take over.
    let (code, out) = output(spawn(&["run", &file], &state));
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("took over"), "{out}");
}
