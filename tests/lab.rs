//! The lab runbooks run for real: `runbooks/lab/lab.sh up` (PostgreSQL, Redis, a webhook
//! sink and the platform stacks on the test engine), `ops test runbooks --tag lab` must
//! pass every one, then a broken lab (Redis stopped, a container stopped) must make the
//! right runbook fail with the right message. `lab.sh down` runs whatever happens.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lab, taken down (by PID, in `lab.sh down`) when dropped.
struct Lab {
    env: Vec<(String, String)>,
    dir: String,
    engine: String,
}

impl Lab {
    fn script(&self, arg: &str) -> std::process::Output {
        Command::new(root().join("runbooks/lab/lab.sh"))
            .arg(arg)
            .env("OPS_LAB_DIR", &self.dir)
            .env("OPS_ENGINE_DIR", &self.engine)
            .env("OPS_BIN", env!("CARGO_BIN_EXE_ops"))
            .current_dir(root())
            .output()
            .expect("lab.sh runs")
    }

    fn up() -> Lab {
        let mut lab = Lab {
            env: Vec::new(),
            dir: format!("/tmp/ops-lab-test-{}", std::process::id()),
            // The test engine the compose tests use (shared, left running; `.ci/run` stops it).
            engine: std::env::var("OPS_ENGINE_DIR")
                .unwrap_or_else(|_| String::from("/tmp/ops-engine")),
        };
        let up = lab.script("up");
        assert!(
            up.status.success(),
            "lab.sh up failed:\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let env = lab.script("env");
        lab.env = String::from_utf8_lossy(&env.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // The quarterly validation drives the ops binary under test.
        lab.env
            .push(("OPS_VAR_ops".into(), env!("CARGO_BIN_EXE_ops").into()));
        lab
    }

    fn ops(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_STEP_SUMMARY")
            .current_dir(root())
            .output()
            .expect("ops runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts `ops ARGS` in the background with the lab's environment.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("OPS_STATE_DIR")
            .current_dir(root())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ops starts")
    }

    fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.script("down");
    }
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn every_lab_runbook_passes_and_a_broken_lab_fails_the_right_one() {
    let lab = Lab::up();
    let reports = tempfile::tempdir().expect("tempdir");
    let junit = reports.path().join("junit.xml");
    let md = reports.path().join("report.md");
    let (code, out, err) = lab.ops(&[
        "test",
        "runbooks",
        "--tag",
        "lab",
        "--junit",
        &junit.display().to_string(),
        "--md",
        &md.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, listed, _) = lab.ops(&["list", "runbooks", "--tag", "lab", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let count = listed["runbooks"].as_array().map_or(0, Vec::len);
    assert!(count >= 15, "the lab runs the seed procedures: {listed}");
    assert!(out.contains(&format!("{count} passed, 0 failed")), "{out}");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    // One suite per runbook; the counts are of cases (steps), every one passed.
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.test_suites.len(), count, "{xml}");
    assert_eq!(parsed.failures, 0, "{xml}");
    assert!(parsed.tests >= count, "{xml}");
    let report = std::fs::read_to_string(&md).expect("md");
    assert!(
        report.contains(&format!("{count} runbooks: {count} passed")),
        "{report}"
    );
    // Secrets of the lab never reach the reports.
    let secret = lab.var("NORNS_SESSION_SECRET");
    assert!(secret.len() > 8 && !xml.contains(secret) && !report.contains(secret));

    // Plan = run for every lab runbook, in path order as `ops test` runs them: what each
    // plan states as certain happens, nothing else does; and no preflight fails falsely.
    let mut files: Vec<String> = listed["runbooks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["path"].as_str().map(|p| format!("runbooks/{p}")))
        .collect();
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let (code, out, err) = lab.ops(&["plan", "--preflight", file]);
        assert_eq!(code, 0, "{file}: a false preflight failure:\n{out}{err}");
        assert!(!out.contains("  FAILED "), "{file}:\n{out}");
        let (code, plan, err) = lab.ops(&["plan", file, "--format", "json"]);
        assert_eq!(code, 0, "{file}: {err}");
        let plan: serde_json::Value = serde_json::from_str(&plan).expect("a JSON plan");
        let (code, events, err) = lab.ops(&[
            "run",
            file,
            "--yes",
            "--format",
            "json",
            "--outside-window",
            "plan = run harness",
        ]);
        assert_eq!(code, 0, "{file}: {events}{err}");
        for p in common::fidelity::plan_vs_run(&plan, &events) {
            problems.push(format!("{file}: {p}"));
        }
    }
    assert!(
        problems.is_empty(),
        "the runs contradict their plans:\n{problems:#?}"
    );

    // kill -9 at random points of a lab runbook (a PostgreSQL backup, its verification and
    // retention), resumed until it ends ok: no recorded mutating step runs twice, no
    // pg_dump outlives a killed ops, the journal verifies, and the end state is an
    // uninterrupted run's (the backups its backup steps made, verified; no partial file).
    let mut rng = common::durable::Lcg::from_env();
    let (mut kills, mut reruns) = (0, 0);
    let trials = 6;
    for trial in 0..trials {
        let tmp = tempfile::tempdir().expect("tempdir");
        let backups = tmp.path().join("backups");
        let state = tmp.path().join("state");
        let state_s = state.display().to_string();
        let set = format!("backup_dir={}", backups.display());
        let t = common::durable::trial(
            &|args| lab.spawn(args),
            &[
                "run",
                "runbooks/data/postgres-backup.rb.ops",
                "--set",
                &set,
                "--state-dir",
                &state_s,
            ],
            &["resume", "--yes", "--state-dir", &state_s],
            &state,
            std::time::Duration::from_millis(1200),
            &mut rng,
        );
        kills += t.kills;
        reruns += t.cut_off_reruns.len();
        assert!(
            t.recorded_twice.is_empty(),
            "trial {trial}: {:?}",
            t.recorded_twice
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        let marker = backups.display().to_string();
        assert!(
            common::durable::leftovers(&marker).is_empty(),
            "{:?}",
            common::durable::leftovers(&marker)
        );
        let names: Vec<String> = std::fs::read_dir(&backups)
            .expect("backups")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let made = names
            .iter()
            .filter(|n| n.ends_with(".manifest.json"))
            .count();
        let backup_reruns = t.cut_off_reruns.iter().filter(|id| *id == "1.2").count();
        // A re-run backup step makes a second backup only when the kill landed after the
        // first one was committed and before its end reached the journal.
        assert!(
            (1..=1 + backup_reruns).contains(&made),
            "trial {trial}: {made} backups: {names:?} {t:?}"
        );
        assert!(
            !names.iter().any(|n| n.contains(".partial-")),
            "trial {trial}: {names:?}"
        );
        let (code, out, err) = lab.ops(&["audit", "verify", &t.run, "--state-dir", &state_s]);
        assert_eq!(code, 0, "trial {trial}: {out}{err}");
    }
    eprintln!(
        "lab kill-and-resume (postgres-backup): {trials} trials, {kills} kill -9 points, {reruns} cut-off steps re-run with --yes, 0 recorded mutating steps run twice"
    );

    // Broken lab 1: Redis stopped. The Redis backup fails at its source probe and says so;
    // its failure notification reaches the webhook sink.
    let pid = std::fs::read_to_string(Path::new(&lab.dir).join("redis/redis.pid")).expect("pid");
    let pid = pid
        .trim()
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    let pid = pid.expect("a PID in redis.pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("kill");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (code, out, _) = lab.ops(&["test", "runbooks/data/redis-backup.rb.ops"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  data-redis-backup")
            && out.contains("cannot connect to Redis: Connection refused"),
        "{out}"
    );
    let hooks = std::fs::read_to_string(Path::new(&lab.dir).join("webhook.log")).expect("log");
    assert!(hooks.contains("redis backup failed"), "{hooks}");

    // Broken lab 2: Grafana's container stopped. The platform health check names it.
    let stopped = Command::new("docker")
        .args(["stop", "platform-observability-grafana-1"])
        .env("DOCKER_HOST", lab.var("DOCKER_HOST"))
        .output()
        .expect("docker");
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let (code, out, _) = lab.ops(&["test", "runbooks/platform/health-check.rb.ops"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  platform-health-check")
            && out.contains("expected health \"grafana\" == \"healthy\""),
        "{out}"
    );
}
