//! `ops test PATH... [--tag TAG]`: runs a directory of runbooks, one after another, each
//! in its own `ops run --yes` process (so one runbook cannot disturb the next, and a hung
//! one is killed at `--timeout`), and writes one JUnit file (a test suite per runbook, a
//! test case per step) and one Markdown report. The quarterly validation against the lab.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, TestArgs};
use crate::files;

/// What `ops test` gives as `--outside-window`: validation runs are not maintenance.
const TEST_RUN_REASON: &str = "validation run by ops test";

/// How one runbook went.
struct Outcome {
    id: String,
    path: String,
    passed: bool,
    exit: Option<i32>,
    elapsed: Duration,
    /// Why it failed: the failed step and its message, or the process's last words.
    why: String,
    junit: Option<String>,
    markdown: Option<String>,
}

/// Runs `ops test`.
pub fn run(args: &TestArgs) -> i32 {
    let paths = match files::collect(&args.paths) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ops test: {e}");
            return EXIT_USAGE;
        }
    };
    let today = match crate::check::options() {
        Ok(o) => o.today.unwrap_or_default(),
        Err(e) => {
            eprintln!("ops test: {e}");
            return EXIT_USAGE;
        }
    };
    let mut selected = Vec::new();
    for path in &paths {
        let Some(entry) = crate::catalog::entry(path, Path::new(""), today) else {
            continue; // a library
        };
        if let Some(tag) = &args.tag
            && !entry.tags.iter().any(|t| t == tag)
        {
            continue;
        }
        selected.push((path.clone(), entry.id));
    }
    if selected.is_empty() {
        eprintln!(
            "ops test: no runbook{} under {}",
            args.tag
                .as_ref()
                .map(|t| format!(" tagged `{t}`"))
                .unwrap_or_default(),
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return EXIT_USAGE;
    }
    let scratch = match tempfile::Builder::new().prefix("ops-test-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ops test: cannot create a scratch directory: {e}");
            return EXIT_FAILED;
        }
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ops"));
    adopt_orphans();
    println!("ops test: {} runbooks", selected.len());
    let mut outcomes = Vec::new();
    for (n, (path, id)) in selected.iter().enumerate() {
        let outcome = run_one(&exe, path, id, n, scratch.path(), args.timeout, args.grace);
        let mark = if outcome.passed { "PASS" } else { "FAIL" };
        let why = if outcome.passed {
            String::new()
        } else {
            format!("\n      {}", outcome.why)
        };
        println!(
            "  {mark}  {id}  ({:.1}s)  {}{why}",
            outcome.elapsed.as_secs_f64(),
            outcome.path
        );
        let stop = !outcome.passed && args.fail_fast;
        outcomes.push(outcome);
        if stop {
            println!("  (--fail-fast: the remaining runbooks were not run)");
            break;
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    println!(
        "ops test: {} passed, {failed} failed, {} not run",
        outcomes.len() - failed,
        selected.len() - outcomes.len()
    );
    let mut code = if failed == 0 { EXIT_OK } else { EXIT_FAILED };
    if let Some(file) = &args.junit
        && let Err(e) = write(file, &junit(&outcomes))
    {
        eprintln!("ops test: cannot write {}: {e}", file.display());
        code = EXIT_FAILED;
    }
    if let Some(file) = &args.md
        && let Err(e) = write(file, &markdown(&outcomes))
    {
        eprintln!("ops test: cannot write {}: {e}", file.display());
        code = EXIT_FAILED;
    }
    code
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    interpreter::fs::write_atomic(path, text.as_bytes())
}

/// How long a stopped runbook's handlers get after its grace, before it is killed.
const HANDLER_TIME: Duration = Duration::from_secs(60);

fn run_one(
    exe: &Path,
    path: &Path,
    id: &str,
    n: usize,
    dir: &Path,
    limit: Duration,
    grace: Duration,
) -> Outcome {
    let (junit_file, md_file) = (dir.join(format!("{n}.xml")), dir.join(format!("{n}.md")));
    let (out_file, err_file) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
    let started = Instant::now();
    let mut outcome = Outcome {
        id: id.to_string(),
        path: files::display(path),
        passed: false,
        exit: None,
        elapsed: Duration::ZERO,
        why: String::new(),
        junit: None,
        markdown: None,
    };
    let (Ok(stdout), Ok(stderr)) = (
        std::fs::File::create(&out_file),
        std::fs::File::create(&err_file),
    ) else {
        outcome.why = String::from("cannot create the scratch files for its output");
        return outcome;
    };
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg(path)
        .args(["--yes", "--format", "json", "--color", "never"])
        // A validation run exercises the runbook against a lab at any hour; the reports
        // say it ran outside the window.
        .args(["--outside-window", TEST_RUN_REASON])
        .arg("--grace")
        .arg(lang::fmt::duration(grace))
        .arg("--report-junit")
        .arg(&junit_file)
        .arg("--report-md")
        .arg(&md_file)
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            outcome.why = format!("cannot start {}: {e}", exe.display());
            return outcome;
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= limit => {
                // SIGTERM first: its steps get their grace and its handlers run, as when
                // CI cancels a job; killed only when it outstays that.
                if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
                let deadline = std::time::Instant::now() + grace + HANDLER_TIME;
                while std::time::Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    // What the runbook's commands left behind when it was killed came to us (we are their
    // subreaper): nothing outlives the runbook.
    reap_orphans();
    outcome.elapsed = started.elapsed();
    outcome.exit = status.and_then(|s| s.code());
    outcome.passed = outcome.exit == Some(0);
    outcome.junit = std::fs::read_to_string(&junit_file).ok();
    outcome.markdown = std::fs::read_to_string(&md_file).ok();
    if !outcome.passed {
        outcome.why = match status {
            None => format!(
                "timed out after {} (--timeout) and was stopped",
                lang::fmt::duration(limit)
            ),
            Some(_) => failed_step(&out_file)
                .or_else(|| last_lines(&err_file))
                .unwrap_or_else(|| format!("exit code {:?}", outcome.exit)),
        };
    }
    outcome
}

/// The first failed step of a JSON Lines event stream: `step 2.1 `probe http ...`: why`.
fn failed_step(events: &Path) -> Option<String> {
    let text = std::fs::read_to_string(events).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "step_finished" && e["status"] == "failed")
        .map(|e| {
            format!(
                "step {} `{}`: {}",
                e["id"].as_str().unwrap_or("?"),
                e["label"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("failed")
            )
        })
}

/// The last few non-empty lines a process wrote (capped).
fn last_lines(file: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(file)
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    Some(lines[lines.len().saturating_sub(3)..].join(" / "))
}

/// Every runbook's own test suite (read back from the JUnit its run wrote) in one
/// report; a runbook whose process failed for another reason than a failed step, or that
/// wrote no report, gets a case of its own. Every count is computed from the cases.
fn junit(outcomes: &[Outcome]) -> String {
    let mut report = Report::new("ops test");
    for o in outcomes {
        let suites = o
            .junit
            .as_deref()
            .and_then(|x| Report::deserialize_from_str(x).ok())
            .map(|r| r.test_suites)
            .unwrap_or_default();
        let mut suite = suites
            .into_iter()
            .next()
            .unwrap_or_else(|| TestSuite::new(o.id.as_str()));
        suite.name = o.id.as_str().into();
        suite.set_time(o.elapsed);
        let failed_cases = suite.test_cases.iter().any(|c| {
            !matches!(
                c.status,
                TestCaseStatus::Success { .. } | TestCaseStatus::Skipped { .. }
            )
        });
        if (!o.passed && !failed_cases) || suite.test_cases.is_empty() {
            let status = if o.passed {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(o.why.as_str()).set_type("run");
                s
            };
            let mut case = TestCase::new("runbook exit code", status);
            case.set_classname(o.id.as_str()).set_time(o.elapsed);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.set_time(outcomes.iter().map(|o| o.elapsed).sum());
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- the JUnit report could not be written: {e} -->"))
}

/// A summary table, then each runbook's own run report.
fn markdown(outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let mut out = format!(
        "# ops test\n\n{} runbooks: {} passed, {failed} failed.\n\n| Runbook | File | Result | Time | Why |\n|---|---|---|---|---|\n",
        outcomes.len(),
        outcomes.len() - failed
    );
    for o in outcomes {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {:.1}s | {} |\n",
            o.id,
            o.path,
            if o.passed { "passed" } else { "**failed**" },
            o.elapsed.as_secs_f64(),
            o.why.replace('|', "\\|").replace('\n', " ")
        ));
    }
    for o in outcomes {
        if let Some(md) = &o.markdown {
            out.push_str(&format!(
                "\n<details><summary>{} ({})</summary>\n\n{}\n</details>\n",
                o.id,
                if o.passed { "passed" } else { "failed" },
                md.replace("\n# ", "\n### ").trim_start_matches("# ")
            ));
        }
    }
    out
}

/// Makes `ops test` the subreaper of everything its runbooks start, so a command that
/// outlives a killed `ops run` comes to it (and [`reap_orphans`] ends it), not to init.
pub fn adopt_orphans() {
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        eprintln!("ops test: cannot become the subreaper of the runbooks' commands: {e}");
    }
}

/// Kills (SIGKILL, the whole process group) and reaps every process that was reparented
/// to us, until none is left.
fn reap_orphans() {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    for _ in 0..100 {
        let orphans = children_of(me);
        if orphans.is_empty() {
            return;
        }
        for (pid, pgid) in orphans {
            if let Some(group) = rustix::process::Pid::from_raw(pgid)
                && pgid != rustix::process::getpgrp().as_raw_nonzero().get()
            {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        while let Ok(Some(_)) = rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG)
        {
        }
    }
}

/// The processes whose parent is `parent`, with their process group, from `/proc`.
fn children_of(parent: i32) -> Vec<(i32, i32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`: the command may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(ppid), Some(pgrp)) = (
            fields.get(1).and_then(|f| f.parse::<i32>().ok()),
            fields.get(2).and_then(|f| f.parse::<i32>().ok()),
        ) else {
            continue;
        };
        if ppid == parent {
            out.push((pid, pgrp));
        }
    }
    out
}
