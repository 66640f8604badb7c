//! Every signal a run can get (SIGINT, SIGTERM, SIGHUP; a second one; `ops test
//! --timeout`), through the real binary, asserting on the process table afterwards: no
//! command a runbook started outlives it, handlers run, and the exit code says which
//! signal stopped it.

mod services;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// A number no other test run uses, for `sleep N` markers in the process table.
fn marker(n: u32) -> String {
    format!("{}{n}", 100_000 + std::process::id())
}

/// Processes whose command line contains `marker`.
fn processes(marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            out.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    out
}

/// Waits until `check` holds, at most `limit`.
fn wait_for(limit: Duration, check: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

fn write_runbook(dir: &Path, body: &str) -> String {
    let file = dir.join("signals.rb.ops");
    std::fs::write(
        &file,
        format!("runbook \"signals\" {{\n  title = \"t\"\n  owner = \"qa\"\n}}\n\n{body}"),
    )
    .expect("write");
    file.display().to_string()
}

fn ops(args: &[&str]) -> Child {
    services::spawn_ops(args)
}

fn signal(child: &Child, sig: Signal) {
    let pid = Pid::from_raw(child.id() as i32).expect("a pid");
    kill_process(pid, sig).expect("signal");
}

/// Waits for the child, at most `limit`; its exit code and output.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
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

#[test]
fn sigint_sigterm_and_sighup_stop_a_run_cleanly_with_their_exit_codes() {
    for (sig, name, code, marker) in [
        (Signal::INT, "Ctrl-C", 130, marker(1)),
        (Signal::TERM, "SIGTERM", 143, marker(2)),
        (Signal::HUP, "SIGHUP", 129, marker(3)),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = dir.path().join("always-ran");
        // The command and a child of its own (the group is terminated, not just it).
        let file = write_runbook(
            dir.path(),
            &format!(
                "exec [\"sh\", \"-c\", \"sleep {marker}1 & sleep {marker}2\"]\nalways {{\n  exec [\"touch\", \"{}\"]\n}}\n",
                done.display()
            ),
        );
        let child = ops(&["run", &file, "--grace", "5s"]);
        assert!(
            wait_for(Duration::from_secs(10), || processes(&format!(
                "sleep {marker}2"
            ))
            .len()
                >= 2),
            "the command started"
        );
        signal(&child, sig);
        let (exit, out) = finish(child, Duration::from_secs(20));
        assert_eq!(exit, Some(code), "{name}: {out}");
        assert!(
            out.contains(&format!("ops: {name}: stopping running steps")),
            "{out}"
        );
        assert!(
            out.contains(&format!("cancelled ({name})")),
            "{name}: {out}"
        );
        assert!(out.contains(&format!("(exit {code})")), "{name}: {out}");
        assert!(done.exists(), "{name}: the always handler ran: {out}");
        let left = processes(&format!("sleep {marker}"));
        assert!(left.is_empty(), "{name} left {left:?}");
    }
}

#[test]
fn a_second_signal_exits_at_once_and_kills_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A command that ignores SIGTERM would have the whole grace (60s).
    let m = marker(4);
    let file = write_runbook(
        dir.path(),
        &format!("exec [\"sh\", \"-c\", \"trap '' TERM; sleep {m}1 & sleep {m}2; wait\"]\n"),
    );
    let child = ops(&["run", &file, "--grace", "60s"]);
    assert!(wait_for(Duration::from_secs(10), || processes(&format!(
        "sleep {m}2"
    ))
    .len()
        >= 2));
    signal(&child, Signal::TERM);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::TERM);
    let started = Instant::now();
    let (exit, out) = finish(child, Duration::from_secs(30));
    assert_eq!(exit, Some(143), "{out}");
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    assert!(out.contains("SIGTERM again; exiting now"), "{out}");
    let left = format!("sleep {m}");
    assert!(
        wait_for(Duration::from_secs(5), || processes(&left).is_empty()),
        "{:?}",
        processes(&left)
    );
}

#[test]
fn read_only_steps_stop_at_once_not_after_the_grace() {
    // A server that accepts and never answers, and a port nothing listens on.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let closed = services::free_port();
    for body in [
        format!("probe http \"http://127.0.0.1:{port}/\" {{\n  timeout 5m\n}}\n"),
        format!(
            "wait until {{\n  probe tcp \"127.0.0.1:{closed}\"\n  every   = 1s\n  timeout 5m\n}}\n"
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_runbook(dir.path(), &body);
        let child = ops(&["run", &file, "--grace", "1m"]);
        std::thread::sleep(Duration::from_millis(700));
        signal(&child, Signal::TERM);
        let started = Instant::now();
        let (exit, out) = finish(child, Duration::from_secs(60));
        assert_eq!(exit, Some(143), "{body}: {out}");
        // Well inside the one-minute grace a mutating step would get.
        assert!(started.elapsed() < Duration::from_secs(10), "{body}: {out}");
    }
}

#[test]
fn ops_test_gives_a_timed_out_runbook_its_grace_and_handlers_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = dir.path().join("handler-done");
    let m = marker(5);
    let file = write_runbook(
        dir.path(),
        &format!(
            "exec [\"sh\", \"-c\", \"sleep {m}1 & sleep {m}2\"]\nalways {{\n  exec [\"sh\", \"-c\", \"sleep 2; touch {}\"]\n}}\n",
            done.display()
        ),
    );
    let child = ops(&["test", &file, "--timeout", "2s", "--grace", "1s"]);
    let (exit, out) = finish(child, Duration::from_secs(90));
    assert_eq!(exit, Some(1), "{out}");
    assert!(out.contains("timed out after 2s"), "{out}");
    assert!(
        done.exists(),
        "the always handler finished before any kill: {out}"
    );
    let left = processes(&format!("sleep {m}"));
    assert!(left.is_empty(), "{left:?}");

    // A command that detaches itself (its own session) is not left behind by `ops test`
    // either: it comes to ops test, which ends it.
    let file = write_runbook(
        dir.path(),
        &format!(
            "exec [\"sh\", \"-c\", \"setsid sleep {} </dev/null >/dev/null 2>&1 & exit 0\"]\n",
            marker(6)
        ),
    );
    let child = ops(&["test", &file]);
    let (exit, out) = finish(child, Duration::from_secs(60));
    assert_eq!(exit, Some(0), "{out}");
    let detached = format!("sleep {}", marker(6));
    assert!(
        wait_for(Duration::from_secs(5), || processes(&detached).is_empty()),
        "{:?}",
        processes(&detached)
    );
}

#[test]
fn a_file_over_the_size_limit_is_a_clear_error_not_a_silent_death() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("src")).expect("mkdir");
    // Random bytes do not compress below the 16 KiB limit.
    let noise: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("src/big"), noise).expect("write");
    let file = write_runbook(
        dir.path(),
        &format!(
            "backup files \"{0}/src\" {{\n  into = \"{0}/backups\"\n}}\n",
            dir.path().display()
        ),
    );
    let out = Command::new("sh")
        .args([
            "-c",
            "ulimit -f 16; exec \"$0\" run \"$1\"",
            env!("CARGO_BIN_EXE_ops"),
            &file,
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "killed instead of failing: {text}"
    );
    assert!(text.contains("File too large"), "{text}");
    // The partial file is gone: nothing but an empty directory is left.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("backups"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
