//! `ops plan` and `ops run` through the real binary: plan formats, saved plans, exit
//! codes, reports, secrets in every output, prompts and Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A state directory of its own for each command: tests run the same fixtures at once,
/// and each run would otherwise wait for the others' run locks.
fn state_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("ops-run-tests-{}/{n}", std::process::id()))
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ops"));
    cmd.args(args)
        .current_dir(root())
        .env("OPS_STATE_DIR", state_dir())
        .env("OPS_TODAY", "2026-11-22")
        .env("OPS_NOW", "2026-12-01T19:30:00Z")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("COLUMNS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("DEPLOY_TOKEN")
        .env_remove("CANARY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `ops` from the repository root; returns (exit code, stdout, stderr).
fn ops(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(args, env).output().expect("ops runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const DEMO: &str = "tests/fixtures/run/plan-demo.rb.ops";
const TOKEN: (&str, &str) = ("DEPLOY_TOKEN", "t0ken-value");

#[test]
fn plan_in_every_format() {
    for (format, ext) in [("human", "txt"), ("json", "json"), ("md", "md")] {
        let (code, out, err) = ops(&["plan", DEMO, "--format", format], &[TOKEN]);
        assert_eq!(code, 0, "{err}");
        insta::assert_snapshot!(format!("plan_demo_{ext}"), common::mask_volatile(&out));
    }
}

#[test]
fn dry_run_is_the_plan() {
    for format in ["human", "json", "md"] {
        let plan = ops(&["plan", DEMO, "--format", format], &[TOKEN]);
        let dry = ops(&["run", "--dry-run", DEMO, "--format", format], &[TOKEN]);
        assert_eq!(plan, dry, "{format}");
    }
}

#[test]
fn plan_reports_missing_secrets_and_budget_with_exit_3() {
    let (code, out, _) = ops(&["plan", DEMO], &[]);
    assert_eq!(code, 3);
    assert!(
        out.contains(
            "error   OPS3008 secret `DEPLOY_TOKEN`: environment variable DEPLOY_TOKEN is not set"
        ),
        "{out}"
    );
    assert!(
        out.contains("warning OPS3011 the worst case (12m13s) exceeds the runbook's budget of 5m"),
        "{out}"
    );
    assert!(
        out.contains(
            "warning OPS3012 the worst case (12m13s) is longer than the maintenance window"
        ),
        "{out}"
    );
    let (code, _, err) = ops(&["run", DEMO, "--yes"], &[]);
    assert_eq!(code, 3, "preflight failure stops the run");
    assert!(err.contains("nothing was run"), "{err}");
}

#[test]
fn parameters_are_typed_and_validated() {
    let (code, out, err) = ops(
        &["plan", DEMO, "--set", "hosts=a,b,c", "--format", "json"],
        &[TOKEN, ("OPS_VAR_notify_done", "false")],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        json["params"][0]["value"],
        serde_json::json!(["a", "b", "c"])
    );
    assert_eq!(json["params"][0]["source"], "--set");
    assert_eq!(json["params"][2]["source"], "env OPS_VAR_notify_done");
    let restarts = json["steps"][1]["steps"].as_array().expect("steps").len();
    assert_eq!(restarts, 4, "three loop iterations and the parallel group");

    let (code, _, err) = ops(&["plan", DEMO, "--set", "notify_done=maybe"], &[TOKEN]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS3002") && err.contains("`true` or `false`"),
        "{err}"
    );
    let (code, _, err) = ops(&["plan", DEMO, "--set", "host=a"], &[TOKEN]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS3001") && err.contains("did you mean `hosts`?"),
        "{err}"
    );
    // One bad value is one error: what reads the parameter is not reported again.
    let params = "tests/fixtures/run/params.rb.ops";
    let (code, _, err) = ops(&["plan", params, "--set", "pick=two"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("OPS3002"), "{err}");
    assert_eq!(err.matches("OPS30").count(), 1, "no cascade: {err}");
}

#[test]
fn vars_files_set_parameters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = dir.path().join("vars.json");
    std::fs::write(&vars, r#"{"greeting": "from a file", "other": 1}"#).expect("write");
    let (code, out, err) = ops(
        &[
            "run",
            "tests/fixtures/run/local.rb.ops",
            "--vars-file",
            vars.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("said: from a file"), "{out}");
}

#[test]
fn a_local_run_succeeds_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let md = dir.path().join("report.md");
    let summary = dir.path().join("summary.md");
    let (code, out, err) = ops(
        &[
            "run",
            "tests/fixtures/run/local.rb.ops",
            "--report-junit",
            junit.to_str().expect("utf-8"),
            "--report-md",
            md.to_str().expect("utf-8"),
        ],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8"))],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("said: hello"), "{out}");
    assert!(
        out.contains("3 - `when fail` is false") || out.contains("skipped: `when fail` is false"),
        "{out}"
    );
    assert!(out.contains("cleanup ran"), "{out}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    let suite = &parsed.test_suites[0];
    assert_eq!(
        (parsed.tests, parsed.failures, suite.tests, suite.failures),
        (5, 0, 5, 0),
        "{xml}"
    );
    assert!(xml.contains("skipped=\"1\""), "{xml}");
    let report = std::fs::read_to_string(&md).expect("md written");
    assert!(report.contains("| Result | **ok** (exit 0) |"), "{report}");
    assert_eq!(
        std::fs::read_to_string(&summary)
            .expect("summary appended")
            .trim(),
        report.trim()
    );
}

#[test]
fn a_failed_step_exits_1_and_points_at_the_expect_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let (code, _, err) = ops(
        &[
            "run",
            "tests/fixtures/run/expect-fail.rb.ops",
            "--report-junit",
            junit.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("OPS3031 expectation-failed"), "{err}");
    assert!(
        err.contains("expected stdout contains \"v2\", got \"v1.2\\n\""),
        "{err}"
    );
    assert!(
        err.contains("expect-fail.rb.ops:7:"),
        "points at the expect line: {err}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("type=\"expectation\""), "{xml}");
    let (code, _, _) = ops(
        &[
            "run",
            "tests/fixtures/run/local.rb.ops",
            "--set",
            "fail=true",
        ],
        &[],
    );
    assert_eq!(code, 1);
}

#[test]
fn json_lines_events_start_with_their_version() {
    let (code, out, _) = ops(
        &["run", "tests/fixtures/run/local.rb.ops", "--format", "json"],
        &[],
    );
    assert_eq!(code, 0);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(events[0]["event"], "run_started");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events.last().expect("events")["event"], "run_finished");
    assert_eq!(events.last().expect("events")["exit_code"], 0);
}

#[test]
fn confirm_needs_an_operator_or_yes() {
    let (code, _, err) = ops(&["run", "tests/fixtures/run/ask.rb.ops"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("OPS3033 no-operator")
            && err.contains("needs an operator")
            && err.contains("--yes"),
        "{err}"
    );
    let (code, out, err) = ops(&["run", "tests/fixtures/run/ask.rb.ops", "--yes"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("confirmed"), "{out}");
}

#[test]
fn saved_plans_run_only_while_nothing_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runbook = dir.path().join("local.rb.ops");
    std::fs::copy(root().join("tests/fixtures/run/local.rb.ops"), &runbook).expect("copy");
    let plan = dir.path().join("plan.json");
    let (rb, pl) = (
        runbook.to_str().expect("utf-8"),
        plan.to_str().expect("utf-8"),
    );
    let (code, _, err) = ops(&["plan", rb, "--set", "greeting=saved", "-o", pl], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = ops(&["run", "--plan", pl], &[("OPS_VAR_greeting", "ignored")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("said: saved"),
        "the saved parameters are used: {out}"
    );

    // Another ops version.
    let text = std::fs::read_to_string(&plan).expect("plan");
    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        text.replace("\"ops_version\": \"", "\"ops_version\": \"9"),
    )
    .expect("write");
    let (code, _, err) = ops(&["run", "--plan", other.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("OPS3023"), "{err}");

    // Tampered parameters.
    std::fs::write(&other, text.replace("\"saved\"", "\"evil\"")).expect("write");
    let (code, _, err) = ops(&["run", "--plan", other.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("OPS3024") || err.contains("OPS3022"), "{err}");

    // A tampered step: the refusal shows the difference as plan lines, saved first.
    assert!(text.contains("\"wait 10ms\""), "{text}");
    std::fs::write(
        &other,
        text.replace("\"wait 10ms\"", "\"wait 1h \\u001b[2J\""),
    )
    .expect("write");
    let (code, _, err) = ops(&["run", "--plan", other.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("OPS3024"), "{err}");
    assert!(
        err.contains("--- saved plan") && err.contains("+++ plan now"),
        "{err}"
    );
    assert!(
        err.contains("-  2 wait 1h") && err.contains("+  2 wait 10ms"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "control characters are neutralised: {err:?}"
    );

    // The runbook changed.
    std::fs::write(
        &runbook,
        std::fs::read_to_string(&runbook)
            .expect("rb")
            .replace("wait 10ms", "wait 20ms"),
    )
    .expect("edit");
    let (code, _, err) = ops(&["run", "--plan", pl], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS3021") && err.contains("changed since the plan was saved"),
        "{err}"
    );

    // Not a plan at all.
    let (code, _, err) = ops(&["run", "--plan", rb], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("OPS3020"), "{err}");
}

#[test]
fn invalid_runbooks_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.rb.ops");
    std::fs::write(
        &bad,
        "runbook \"x\" {\n  title = \"x\"\n  owner = \"x\"\n}\nprobe http {\n}\n",
    )
    .expect("write");
    let (code, _, err) = ops(&["run", bad.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("OPS2025"), "{err}");
    let (code, _, err) = ops(
        &["run", "tests/fixtures/run/local.rb.ops", "--start-at", "7"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("OPS3006"), "{err}");
}

/// The canary secret, its JSON-escaped and its URL-encoded forms, in any output.
fn leaks(text: &str, canary: &str) -> Option<String> {
    let json = serde_json::to_string(canary).expect("json");
    let forms = [
        canary.to_string(),
        json[1..json.len() - 1].to_string(),
        url::form_urlencoded::byte_serialize(canary.as_bytes()).collect::<String>(),
    ];
    forms.into_iter().find(|f| text.contains(f.as_str()))
}

#[test]
fn the_canary_secret_never_appears_in_any_output() {
    let canary = "c4n4ry/\"s3cr3t\" é";
    let env = [("CANARY", canary), ("DEPLOY_TOKEN", canary)];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for file in ["tests/fixtures/run/canary.rb.ops", DEMO] {
        for format in ["human", "json", "md"] {
            let (_, out, err) = ops(&["plan", file, "--format", format], &env);
            outputs.push((format!("plan {file} {format}"), out + &err));
        }
        let saved = dir.path().join("plan.json");
        ops(&["plan", file, "-o", saved.to_str().expect("utf-8")], &env);
        outputs.push((
            format!("saved plan {file}"),
            std::fs::read_to_string(&saved).expect("saved"),
        ));
    }
    let junit = dir.path().join("junit.xml");
    let md = dir.path().join("report.md");
    let logged = [
        ("CANARY", canary),
        ("DEPLOY_TOKEN", canary),
        ("OPS_LOG", "debug"),
    ];
    for format in ["human", "json"] {
        let (code, out, err) = ops(
            &[
                "run",
                "tests/fixtures/run/canary.rb.ops",
                "--format",
                format,
                "--report-junit",
                junit.to_str().expect("utf-8"),
                "--report-md",
                md.to_str().expect("utf-8"),
            ],
            &logged,
        );
        assert_eq!(code, 1, "the canary step fails on purpose: {out}{err}");
        assert!(
            err.contains("DEBUG") && err.contains("attempt started"),
            "logs are on: {err}"
        );
        assert!(
            out.contains("(secret)"),
            "the secret is shown redacted: {out}"
        );
        outputs.push((format!("run {format}"), out + &err));
        outputs.push((
            format!("junit {format}"),
            std::fs::read_to_string(&junit).expect("junit"),
        ));
        outputs.push((
            format!("md {format}"),
            std::fs::read_to_string(&md).expect("md"),
        ));
    }
    for (what, text) in &outputs {
        if let Some(form) = leaks(text, canary) {
            panic!("{what} leaks the secret as {form:?}:\n{text}");
        }
    }
    // The test can fail: the step really printed the canary, the redactor removed it.
    let (_, out, _) = ops(
        &["run", "tests/fixtures/run/canary.rb.ops"],
        &[("CANARY", "x")],
    );
    assert!(
        out.contains("token=x"),
        "short secrets are not searched for: {out}"
    );
}

fn spawn(args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = command(args, &[]).spawn().expect("ops starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn wait_for(rx: &std::sync::mpsc::Receiver<String>, needle: &str, lines: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let found = line.contains(needle);
            lines.push(line);
            if found {
                return;
            }
        }
    }
    panic!("never saw {needle:?} in {lines:#?}");
}

fn sigint(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a PID");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT sent");
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ops did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_cancels_runs_handlers_and_exits_130() {
    // A long grace period: the command must stop on SIGTERM, not when the grace ends.
    let (mut child, rx) = spawn(&[
        "run",
        "tests/fixtures/run/interrupt.rb.ops",
        "--grace",
        "20s",
    ]);
    let mut lines = Vec::new();
    wait_for(&rx, "… 1 exec", &mut lines);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    sigint(&child);
    let code = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(code, 130);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 30s sleep was stopped"
    );
    let rest: Vec<String> = rx.iter().collect();
    let all = [lines, rest].concat().join("\n");
    assert!(
        all.contains("failure handler ran") && all.contains("cleanup ran"),
        "{all}"
    );
    assert!(!all.contains("│ never reached"), "{all}");
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let (mut child, rx) = spawn(&[
        "run",
        "tests/fixtures/run/slow-handler.rb.ops",
        "--grace",
        "1s",
    ]);
    let mut lines = Vec::new();
    wait_for(&rx, "… 1 exec", &mut lines);
    std::thread::sleep(Duration::from_millis(200));
    sigint(&child);
    wait_for(&rx, "… a1 wait", &mut lines);
    let started = Instant::now();
    sigint(&child);
    let code = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(code, 130);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 30s handler was abandoned"
    );
}

#[test]
fn exit_codes_are_documented() {
    let doc = std::fs::read_to_string(root().join("docs/cli.md")).expect("cli.md");
    for code in [
        "| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 130 |", "| 143 |", "| 129 |",
    ] {
        assert!(doc.contains(code), "docs/cli.md documents exit code {code}");
    }
    let _ = Path::new("");
}

#[test]
fn plan_time_problems_have_their_codes() {
    // A vars file may serve several runbooks: an undeclared name is a warning.
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = dir.path().join("vars");
    std::fs::write(&vars, "greeting = hi\nregion = eu\n").expect("write");
    let (code, out, _) = ops(
        &[
            "plan",
            "tests/fixtures/run/local.rb.ops",
            "--vars-file",
            vars.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("warning OPS3005") && out.contains("`region`"),
        "{out}"
    );
    // --start-at that skips a step whose outputs a later step reads.
    let (code, out, _) = ops(
        &["plan", "tests/fixtures/run/local.rb.ops", "--start-at", "2"],
        &[],
    );
    assert_eq!(code, 3);
    assert!(
        out.contains("error   OPS3013 step 4 uses outputs of `say`"),
        "{out}"
    );
    // A program that is not installed is found before anything runs.
    let (code, out, _) = ops(&["plan", "tests/fixtures/run/not-on-path.rb.ops"], &[]);
    assert_eq!(code, 3);
    assert!(
        out.contains("OPS3009") && out.contains("`ops-test-no-such-program` is not on PATH"),
        "{out}"
    );
    // A required parameter without a value, and a value outside `allowed`.
    let (code, _, err) = ops(&["plan", "tests/fixtures/run/lib/announce.rb.ops"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS3003") && err.contains("--set message=VALUE"),
        "{err}"
    );
    let params = "tests/fixtures/run/params.rb.ops";
    let (code, _, err) = ops(&["plan", params, "--set", "env=prod"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS3004") && err.contains("allowed: \"staging\", \"production\""),
        "{err}"
    );
    // Values are evaluated when planning: an index out of range is found then.
    let (code, _, err) = ops(&["plan", params, "--set", "pick=3"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS3007") && err.contains("index 3 is out of range for a list of 1"),
        "{err}"
    );
    let (code, out, _) = ops(&["plan", params, "--set", "env=production"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("prints \"deploying to production: a\""),
        "{out}"
    );
    // A step kind this build cannot run (OPS3010) is covered by the executor tests: every
    // kind of the stdlib has an implementation now.
}

#[test]
fn run_time_problems_have_their_codes() {
    let (code, _, err) = ops(
        &["run", "tests/fixtures/run/output-unavailable.rb.ops"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("OPS3034") && err.contains("`maybe` has no outputs"),
        "{err}"
    );
    let (code, _, err) = ops(
        &[
            "run",
            "tests/fixtures/run/local.rb.ops",
            "--set",
            "fail=true",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("OPS3030 step-failed") && err.contains("`false` exited with 1"),
        "{err}"
    );
}

#[test]
fn preflight_runs_read_only_steps_and_records_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = format!("dir={}", dir.path().display());
    let (code, out, err) = ops(
        &[
            "plan",
            "tests/fixtures/run/preflight.rb.ops",
            "--set",
            &set,
            "--preflight",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Preflight (every read-only step that can run now, run live):"),
        "{out}"
    );
    assert!(
        out.contains("ok        1 probe exec"),
        "the probe ran live: {out}"
    );
    assert!(!out.contains("ok        2 exec"), "{out}");
    assert!(
        !dir.path().join("ops-preflight-sentinel").exists(),
        "a dry-run with --preflight made a mutating call"
    );
    // The same runbook really runs the mutating step: the sentinel test can fail.
    let (code, _, err) = ops(
        &[
            "run",
            "tests/fixtures/run/preflight.rb.ops",
            "--set",
            &set,
            "--yes",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("ops-preflight-sentinel").exists());
}

/// The JSON Lines event stream of a run, with times zeroed.
#[test]
fn event_stream_snapshot() {
    let (code, out, _) = ops(
        &["run", "tests/fixtures/run/local.rb.ops", "--format", "json"],
        &[],
    );
    assert_eq!(code, 0);
    let mut lines = Vec::new();
    for line in out.lines() {
        let mut event: serde_json::Value = serde_json::from_str(line).expect("json");
        for key in ["duration_ms", "delay_ms"] {
            if event.get(key).is_some() {
                event[key] = serde_json::json!(0);
            }
        }
        if let Some(outputs) = event.get_mut("outputs").and_then(|o| o.as_object_mut())
            && outputs.contains_key("duration")
        {
            outputs.insert("duration".into(), serde_json::json!("(time)"));
        }
        if event.get("ops_version").is_some() {
            event["ops_version"] = serde_json::json!("(version)");
        }
        lines.push(serde_json::to_string(&event).expect("json"));
    }
    insta::assert_snapshot!("events_local_jsonl", lines.join("\n"));
}

/// A loopback HTTP server: `/health` answers `{"status":"ok"}`, `/down` a 503 with a
/// failures array, `/moved` redirects to `/health`. One thread per connection.
fn http_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, extra, body) = match path.as_str() {
                    "/health" => (
                        "200 OK",
                        String::new(),
                        r#"{"status":"ok","checks":[{"name":"db"}]}"#.to_string(),
                    ),
                    "/moved" => (
                        "302 Found",
                        "location: /health\r\n".to_string(),
                        String::new(),
                    ),
                    _ => (
                        "503 Service Unavailable",
                        String::new(),
                        r#"{"status":"down","failures":["db"]}"#.to_string(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            });
        }
    });
    port
}

#[test]
fn http_probes_against_a_real_server() {
    let port = http_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let runbook = dir.path().join("probe.rb.ops");
    std::fs::write(
        &runbook,
        format!(
            "runbook \"probe\" {{\n  title = \"p\"\n  owner = \"qa\"\n}}\n\nparam base: url = \"http://127.0.0.1:{port}\"\n\nparallel {{\n  probe http \"${{base}}/health\" as h {{\n    expect status == 200\n    expect json \".checks[0].name\" == \"db\"\n    expect header \"Content-Type\" contains \"json\"\n  }}\n  probe http \"${{base}}/moved\" {{\n    expect json \".status\" == \"ok\"\n  }}\n}}\nprobe http \"${{base}}/down\" {{\n  expect status == 200\n  retry 1 every 10ms\n}}\n"
        ),
    )
    .expect("write");
    let (code, out, err) = ops(&["run", runbook.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("✓ 1.1 probe http") && out.contains("✓ 1.2 probe http"),
        "{out}"
    );
    assert!(
        out.contains("↻ 2 attempt 1/2 failed: expected status == 200, got 503"),
        "{out}"
    );
    assert!(
        err.contains("expected status == 200, got 503 (attempt 2") && err.contains("OPS3031"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_a_plan_quietly() {
    let mut child = command(&["plan", DEMO, "--format", "md"], &[TOKEN])
        .spawn()
        .expect("ops starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("one line");
    drop(stdout);
    let out = child.wait_with_output().expect("waits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_callee_failure_continued_by_its_call_is_not_the_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("callee.rb.ops"),
        "runbook \"callee\" {\n  title = \"Callee\"\n  owner = \"qa\"\n}\nexec [\"false\"]\n",
    )
    .expect("write");
    let main = dir.path().join("main.rb.ops");
    std::fs::write(
        &main,
        "runbook \"main\" {\n  title = \"Main\"\n  owner = \"qa\"\n}\ncall \"callee.rb.ops\" {\n  on_failure = continue\n}\nnotify stdout \"after\"\n",
    )
    .expect("write");
    let (code, out, err) = ops(&["run", main.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("run ok after"), "{out}");
    assert!(
        !err.contains("step-failed"),
        "no failure is reported for the run: {err}"
    );
}

/// A called runbook is checked before anything is planned: an error in it stops the
/// plan, though `ops check` of the caller reports only the caller's own problems.
#[test]
fn a_called_runbook_with_errors_is_not_planned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head =
        |id: &str| format!("runbook \"{id}\" {{\n  title = \"{id}\"\n  owner = \"qa\"\n}}\n");
    std::fs::write(
        dir.path().join("callee.rb.ops"),
        head("callee") + "notify stdout \"hi\" {\n  colour = \"red\"\n}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("caller.rb.ops"),
        head("caller") + "call \"callee.rb.ops\"\n",
    )
    .expect("write");
    let caller = dir.path().join("caller.rb.ops");
    let caller = caller.to_str().expect("utf-8");
    let (code, out, _) = ops(&["check", caller], &[]);
    assert_eq!(code, 0, "the caller itself is fine: {out}");
    let (code, out, err) = ops(&["plan", caller], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("OPS2004") && err.contains("callee.rb.ops") && err.contains("colour"),
        "the callee's error is shown: {err}"
    );
    assert!(!out.contains("Plan:"), "no plan was made: {out}");
}

/// A Saturday 02:00-06:00 UTC runbook with this body.
fn windowed_runbook(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(format!("{name}.rb.ops"));
    std::fs::write(
        &path,
        format!("runbook \"{name}\" {{\n  title  = \"t\"\n  owner  = \"o\"\n  window = \"Sat 02:00-06:00 UTC\"\n}}\n{body}"),
    )
    .expect("write");
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn windows_are_judged_against_the_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = windowed_runbook(dir.path(), "windowed", "wait 10m\n");
    let file = file.as_str();
    // Tuesday evening (the tests' OPS_NOW): the plan says when the window opens.
    let (code, out, _) = ops(&["plan", file], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("outside the window; next opens Sat 2026-12-05 02:00 UTC, in 3d6h30m"),
        "{out}"
    );
    let (code, out, _) = ops(&["plan", file, "--format", "json"], &[]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["runbook"]["window_now"]["open"], false, "{json}");
    assert_eq!(
        json["runbook"]["window_now"]["opens_at"],
        "2026-12-05T02:00:00Z"
    );
    // Saturday 05:55: open, and 10 minutes do not fit in the 5 that are left.
    let (code, out, _) = ops(&["plan", file], &[("OPS_NOW", "2026-12-05T05:55:00Z")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("open now, until Sat 2026-12-05 06:00 UTC (5m left)"),
        "{out}"
    );
    assert!(
        out.contains(
            "warning OPS3012 the worst case (10m) does not fit in what is left of the window: 5m"
        ),
        "{out}"
    );
    // Saturday 03:00: open, it fits, no warning.
    let (_, out, _) = ops(&["plan", file], &[("OPS_NOW", "2026-12-05T03:00:00Z")]);
    assert!(
        out.contains("open now") && !out.contains("OPS3012"),
        "{out}"
    );
    // A malformed clock is a clear error.
    let (code, _, err) = ops(&["plan", file], &[("OPS_NOW", "Saturday")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OPS_NOW=`Saturday` is not a timestamp"),
        "{err}"
    );
}

#[test]
fn a_run_outside_its_window_is_refused_unless_a_reason_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let body = format!("exec [\"touch\", \"{}\"]\n", marker.display());
    let file = windowed_runbook(dir.path(), "windowed-run", &body);
    let (code, out, err) = ops(&["run", &file], &[]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("OPS3025 outside-window") && err.contains("next opens Sat 2026-12-05 02:00"),
        "{err}"
    );
    assert!(!marker.exists(), "nothing ran");
    // Inside the window it runs without a reason.
    let (code, _, err) = ops(&["run", &file], &[("OPS_NOW", "2026-12-05T03:00:00Z")]);
    assert_eq!(code, 0, "{err}");
    assert!(marker.exists());
    std::fs::remove_file(&marker).expect("rm");
    // Outside it, with a reason: it runs, and every report says why.
    let md = dir.path().join("report.md");
    let xml = dir.path().join("report.xml");
    let (code, out, err) = ops(
        &[
            "run",
            &file,
            "--outside-window",
            "INC-42 emergency",
            "--format",
            "json",
            "--report-md",
            md.to_str().expect("utf-8"),
            "--report-junit",
            xml.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(marker.exists());
    let started: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a first event")).expect("json");
    assert_eq!(started["outside_window"], "INC-42 emergency", "{out}");
    let md = std::fs::read_to_string(&md).expect("md");
    assert!(
        md.contains("| Outside its window | INC-42 emergency |"),
        "{md}"
    );
    let xml = std::fs::read_to_string(&xml).expect("xml");
    assert!(
        xml.contains(r#"<property name="outside_window" value="INC-42 emergency"/>"#),
        "{xml}"
    );
    // An empty reason is no reason.
    let (code, _, err) = ops(&["run", &file, "--outside-window", " "], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn plans_state_what_their_runs_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("src")).expect("mkdir");
    std::fs::write(dir.path().join("src/a.txt"), "a").expect("write");
    let set = format!("dir={}", dir.path().display());
    let world = "tests/fixtures/run/world.rb.ops";
    let mut changes = Vec::new();
    let mut last = None;
    for round in 0..4 {
        let _ = std::fs::remove_dir_all(dir.path().join("restored"));
        let (code, plan, err) = ops(&["plan", world, "--set", &set, "--format", "json"], &[]);
        assert_eq!(code, 0, "{err}");
        let plan: serde_json::Value = serde_json::from_str(&plan).expect("json");
        let (code, events, err) = ops(&["run", world, "--set", &set, "--format", "json"], &[]);
        assert_eq!(code, 0, "round {round}: {events}{err}");
        let problems = common::fidelity::plan_vs_run(&plan, &events);
        assert!(problems.is_empty(), "round {round}: {problems:#?}");
        changes.push(
            plan["steps"][2]["change"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        last = Some((plan, events));
    }
    // The check can fail: a plan that ignored the new backup, or lacked a step.
    let (mut plan, events) = last.expect("four rounds");
    let change = plan["steps"][2]["change"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    plan["steps"][2]["change"] =
        serde_json::json!(change.replace("deletes 1 in", "deletes nothing in"));
    let problems = common::fidelity::plan_vs_run(&plan, &events);
    assert!(
        problems.iter().any(|p| p.contains("the run deleted 1")),
        "{problems:#?}"
    );
    plan["steps"].as_array_mut().expect("steps").truncate(3);
    let problems = common::fidelity::plan_vs_run(&plan, &events);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("4: the run ran a step the plan does not have")),
        "{problems:#?}"
    );
    // The prune counts the backup its own run makes first: nothing to delete until the
    // third backup, then one per run.
    assert!(
        changes[0].contains("after 1 adds a backup, per keep_last = 2: deletes nothing"),
        "{changes:#?}"
    );
    assert!(
        changes[1].contains("deletes nothing") && changes[1].contains("keeps all 2"),
        "{changes:#?}"
    );
    assert!(changes[2].contains("deletes 1 in"), "{changes:#?}");
    assert!(changes[3].contains("deletes 1 in"), "{changes:#?}");
    let backups = std::fs::read_dir(dir.path().join("backups"))
        .expect("backups")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| !e.file_name().to_string_lossy().ends_with(".json"))
        })
        .count();
    assert_eq!(backups, 2);
    // The other fixtures that need no service: what they plan is what they do.
    for fixture in [
        "tests/fixtures/run/local.rb.ops",
        "tests/fixtures/run/params.rb.ops",
    ] {
        let (_, plan, _) = ops(&["plan", fixture, "--format", "json"], &[]);
        let plan: serde_json::Value = serde_json::from_str(&plan).expect("json");
        let (code, events, err) = ops(&["run", fixture, "--format", "json"], &[]);
        assert_eq!(code, 0, "{err}");
        let problems = common::fidelity::plan_vs_run(&plan, &events);
        assert!(problems.is_empty(), "{fixture}: {problems:#?}");
    }
}
