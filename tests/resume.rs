//! Durable runs through the real binary: `kill -9` at many points and `ops resume` runs
//! every recorded step exactly once; resume refuses what it must; `ops audit verify`
//! finds tampering; `ops history` and `ops show` read the journals; no secret reaches a
//! journal.

mod common;
mod services;

use common::durable;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const STEPS: usize = 8;

/// A runbook of `STEPS` mutating steps; each appends its number to `effects` at its end
/// (after a pause, so most kills land inside a step), step 5 writes what step 1 printed.
fn chain(dir: &Path) -> String {
    let mut body = String::from(
        "runbook \"chain\" {\n  title = \"Eight steps\"\n  owner = \"qa\"\n}\n\nparam dir: path\n\n",
    );
    for i in 1..=STEPS {
        let extra = match i {
            1 => "; echo carried-from-1".to_string(),
            5 => "; printf %s '${s1.stdout}' > ${dir}/carried".to_string(),
            _ => String::new(),
        };
        body.push_str(&format!(
            "exec [\"sh\", \"-c\", \"sleep 0.04; echo {i} >> ${{dir}}/effects{extra}\"] as s{i}\n"
        ));
    }
    let file = dir.join("chain.rb.ops");
    std::fs::write(&file, body).expect("write");
    file.display().to_string()
}

fn ops(args: &[&str], dir: &Path) -> (i32, String, String) {
    services::ops_in(args, dir, &[("OPS_STATE_DIR", "")])
}

/// Counts of each step's effect.
fn effects(dir: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("effects"))
        .unwrap_or_default()
        .lines()
    {
        *counts.entry(line.to_string()).or_default() += 1;
    }
    counts
}

/// The run id in the journals directory (there is one per trial).
fn only_run(state: &Path) -> String {
    let mut ids: Vec<String> = std::fs::read_dir(state.join("runs"))
        .expect("runs")
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.remove(0)
}

#[test]
fn kill_9_at_many_points_then_resume_runs_every_recorded_step_once() {
    let mut rng = durable::Lcg::from_env();
    let trials = 16;
    let (mut kills, mut doubles, mut cut_off_reruns) = (0, 0, 0);
    for trial in 0..trials {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let file = chain(dir);
        let state = dir.join("state");
        let state_s = state.to_str().expect("utf-8").to_string();
        let dir_s = dir.to_str().expect("utf-8").to_string();
        let set = format!("dir={dir_s}");
        let t = durable::trial(
            &|args| services::spawn_ops(args),
            &["run", &file, "--set", &set, "--state-dir", &state_s],
            &["resume", "--yes", "--state-dir", &state_s],
            &state,
            // Somewhere inside the ~0.4 s the run takes (start-up included).
            Duration::from_millis(420),
            &mut rng,
        );
        kills += t.kills;
        cut_off_reruns += t.cut_off_reruns.len();
        assert!(
            t.recorded_twice.is_empty(),
            "trial {trial}: {:?}",
            t.recorded_twice
        );
        // Nothing a killed run started is still running.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            durable::leftovers(&dir_s).is_empty(),
            "{:?}",
            durable::leftovers(&dir_s)
        );
        let counts = effects(dir);
        for i in 1..=STEPS {
            let n = counts.get(&i.to_string()).copied().unwrap_or(0);
            assert!(n >= 1, "trial {trial}: step {i} never ran: {counts:?}");
            if n > 1 {
                // Only a step cut off between its effect and its journal record may have
                // its effect twice, and only because `--yes` confirmed the re-run.
                assert!(
                    t.cut_off_reruns.contains(&format!("{i}")),
                    "trial {trial}: step {i} ran {n}× but was recorded as done: {counts:?} {:?}",
                    t.cut_off_reruns
                );
                doubles += n - 1;
            }
        }
        // The final state is an uninterrupted run's: outputs crossed the kills.
        let carried = std::fs::read_to_string(dir.join("carried")).expect("carried");
        assert_eq!(carried.trim(), "carried-from-1", "trial {trial}");
        let (code, out, err) = ops(&["audit", "verify", &t.run, "--state-dir", &state_s], dir);
        assert_eq!(code, 0, "trial {trial}: {out}{err}");
    }
    eprintln!(
        "kill-and-resume: {trials} trials, {kills} kill -9 points, {cut_off_reruns} cut-off steps re-run with --yes, {doubles} effects repeated by those re-runs, 0 recorded steps run twice"
    );
}

/// Runs the chain runbook with a step that fails until `dir/fixed` exists.
fn failing(dir: &Path) -> String {
    let body = "runbook \"gate\" {\n  title = \"t\"\n  owner = \"qa\"\n}\n\nparam dir: path\n\n\
        exec [\"sh\", \"-c\", \"echo 1 >> ${dir}/effects\"]\n\
        exec [\"sh\", \"-c\", \"test -e ${dir}/fixed && echo 2 >> ${dir}/effects\"]\n\
        exec [\"sh\", \"-c\", \"echo 3 >> ${dir}/effects\"]\n";
    let file = dir.join("gate.rb.ops");
    std::fs::write(&file, body).expect("write");
    file.display().to_string()
}

#[test]
fn a_failed_run_prints_its_resume_command_and_resume_refuses_what_it_must() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let file = failing(dir);
    let state = dir.join("state");
    let state_s = state.to_str().expect("utf-8");
    let set = format!("dir={}", dir.display());
    let (code, _, err) = ops(&["run", &file, "--set", &set, "--state-dir", state_s], dir);
    assert_eq!(code, 1, "{err}");
    let run = only_run(&state);
    assert!(
        err.contains(&format!("ops resume {run} --state-dir"))
            || err.contains(&format!("ops resume {run}")),
        "{err}"
    );

    // The runbook changed: refused, nothing runs.
    let original = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, format!("{original}# edited\n")).expect("write");
    let (code, _, err) = ops(&["resume", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("OPS3027 resume-refused") && err.contains("changed since the run started"),
        "{err}"
    );
    std::fs::write(&file, &original).expect("write");

    // Fixed: the resume runs steps 2 and 3 only.
    std::fs::write(dir.join("fixed"), "").expect("write");
    let (code, out, err) = ops(&["resume", "--state-dir", state_s], dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("done in an earlier attempt of this run"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("effects")).expect("effects"),
        "1\n2\n3\n"
    );

    // It ended ok: nothing left to resume.
    let (code, _, err) = ops(&["resume", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("it ended ok"), "{err}");

    // A run id that would leave the state directory is not one.
    let (code, _, err) = ops(&["resume", "../../etc/passwd", "--state-dir", state_s], dir);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a run id"), "{err}");
}

#[test]
fn a_cut_off_mutating_step_runs_again_only_with_the_operators_yes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let body = "runbook \"slow\" {\n  title = \"t\"\n  owner = \"qa\"\n}\n\nparam dir: path\n\n\
        exec [\"sh\", \"-c\", \"echo 1 >> ${dir}/effects\"]\n\
        exec [\"sh\", \"-c\", \"touch ${dir}/started; test -e ${dir}/quick || sleep 30; echo 2 >> ${dir}/effects\"]\n";
    let file = dir.join("slow.rb.ops");
    std::fs::write(&file, body).expect("write");
    let state = dir.join("state");
    let state_s = state.to_str().expect("utf-8");
    let set = format!("dir={}", dir.display());
    let file_s = file.to_str().expect("utf-8");
    let mut child = services::spawn_ops(&["run", file_s, "--set", &set, "--state-dir", state_s]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("started").exists() {
        assert!(Instant::now() < deadline, "step 2 never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(100));
    // The step's command died with ops.
    assert!(durable::leftovers(&dir.display().to_string()).is_empty());
    let run = only_run(&state);
    let (_, out, _) = ops(&["history", "--state-dir", state_s], dir);
    assert!(out.contains("died (no end recorded)"), "{out}");
    // No operator and no --yes: refused, exit 3, naming the step.
    let (code, _, err) = ops(&["resume", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("step 2") && err.contains("cut off and is not idempotent"),
        "{err}"
    );
    // With --yes it runs again (quick now), and step 1 is not repeated.
    std::fs::write(dir.join("quick"), "").expect("write");
    let mut child = services::spawn_ops(&["resume", &run, "--yes", "--state-dir", state_s]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "resume did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("effects")).expect("effects"),
        "1\n2\n"
    );
    let (_, out, _) = ops(&["show", &run, "--state-dir", state_s], dir);
    assert!(out.contains("resumed by"), "{out}");
    assert!(out.contains("re-running [\"2\"]"), "{out}");
}

#[test]
fn audit_verify_finds_edited_removed_and_cut_records() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let file = failing(dir);
    std::fs::write(dir.join("fixed"), "").expect("write");
    let state = dir.join("state");
    let state_s = state.to_str().expect("utf-8");
    let set = format!("dir={}", dir.display());
    let (code, _, err) = ops(&["run", &file, "--set", &set, "--state-dir", state_s], dir);
    assert_eq!(code, 0, "{err}");
    let run = only_run(&state);
    let path = state.join("runs").join(format!("{run}.jsonl"));
    let original = std::fs::read_to_string(&path).expect("journal");
    let (code, out, _) = ops(&["audit", "verify", "last", "--state-dir", state_s], dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("chain intact"), "{out}");

    // An outcome edited in the middle.
    let lines: Vec<&str> = original.lines().collect();
    let n = lines
        .iter()
        .position(|l| l.contains("\"status\":\"ok\""))
        .expect("ok step");
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[n] = edited[n].replace("\"attempts\":1", "\"attempts\":2");
    std::fs::write(&path, edited.join("\n") + "\n").expect("write");
    let (code, _, err) = ops(&["audit", "verify", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("OPS3028 journal-tampered"), "{err}");
    assert!(err.contains(&format!("line {}", n + 2)), "{err}");

    // The last records cut off: the chain alone cannot tell, the index can.
    let cut: Vec<&str> = lines[..lines.len() - 2].to_vec();
    std::fs::write(&path, cut.join("\n") + "\n").expect("write");
    let (code, _, err) = ops(&["audit", "verify", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("records were cut from its end"), "{err}");

    // The last record edited.
    let mut last: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let end = last.len() - 1;
    last[end] = last[end].replace("\"exit_code\":0", "\"exit_code\":1");
    std::fs::write(&path, last.join("\n") + "\n").expect("write");
    let (code, _, err) = ops(&["audit", "verify", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it was edited"), "{err}");

    // A torn last line after a crash is a note, not a break.
    std::fs::write(&path, format!("{original}{{\"seq\":99,\"at")).expect("write");
    let (code, out, err) = ops(&["audit", "verify", &run, "--state-dir", state_s], dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("torn"), "{err}");
}

#[test]
fn history_and_show_read_the_journals_and_no_secret_reaches_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let secret = "s3cr3t-journal-canary";
    let body = "runbook \"canary\" {\n  title = \"t\"\n  owner = \"qa\"\n}\n\nsecret CANARY\n\n\
        exec [\"sh\", \"-c\", \"echo token=$T\"] as leak {\n  env = { T = CANARY }\n}\n\
        exec [\"sh\", \"-c\", \"echo $X; exit 3\"] {\n  env = { X = leak.stdout }\n}\n";
    let file = dir.join("canary.rb.ops");
    std::fs::write(&file, body).expect("write");
    let state = dir.join("state");
    let state_s = state.to_str().expect("utf-8");
    let file_s = file.to_str().expect("utf-8");
    let env = [("OPS_STATE_DIR", ""), ("CANARY", secret)];
    for _ in 0..3 {
        let (code, _, err) = services::ops_in(&["run", file_s, "--state-dir", state_s], dir, &env);
        assert_eq!(code, 1, "{err}");
    }
    for entry in std::fs::read_dir(state.join("runs"))
        .expect("runs")
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).expect("journal");
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("czNjcjN0"), "base64 of the secret: {text}");
    }
    let (code, out, _) = ops(&["history", "--state-dir", state_s], dir);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("failed (exit 1)"))
            .count(),
        3,
        "{out}"
    );
    // The index is only an index: rebuilt from the journals when it is gone.
    std::fs::remove_file(state.join("index.sqlite")).expect("rm");
    let _ = std::fs::remove_file(state.join("index.sqlite-wal"));
    let _ = std::fs::remove_file(state.join("index.sqlite-shm"));
    let (code, out, _) = ops(
        &["history", "canary", "--json", "--state-dir", state_s],
        dir,
    );
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "{out}");
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["failed_step"], "2");
    let (code, out, _) = ops(
        &["show", "last", "--format", "md", "--state-dir", state_s],
        dir,
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("# Run report: canary") && out.contains("❌ failed"),
        "{out}"
    );
    assert!(!out.contains(secret), "{out}");
    let (_, out, _) = ops(&["history", "nothing-here", "--state-dir", state_s], dir);
    assert!(out.contains("no runs"), "{out}");
}

#[test]
fn a_sigterm_run_journals_its_end_and_resumes_from_the_cancelled_step() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let body = "runbook \"term\" {\n  title = \"t\"\n  owner = \"qa\"\n}\n\nparam dir: path\n\n\
        exec [\"sh\", \"-c\", \"echo 1 >> ${dir}/effects\"]\n\
        exec [\"sh\", \"-c\", \"touch ${dir}/started; test -e ${dir}/quick || sleep 30; echo 2 >> ${dir}/effects\"]\n";
    let file = dir.join("term.rb.ops");
    std::fs::write(&file, body).expect("write");
    let state = dir.join("state");
    let state_s = state.to_str().expect("utf-8");
    let set = format!("dir={}", dir.display());
    let file_s = file.to_str().expect("utf-8");
    let child = services::spawn_ops(&[
        "run",
        file_s,
        "--set",
        &set,
        "--state-dir",
        state_s,
        "--grace",
        "1s",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("started").exists() {
        assert!(Instant::now() < deadline, "step 2 never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let out = child.wait_with_output().expect("ends");
    assert_eq!(out.status.code(), Some(143));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ops resume"), "{err}");
    let run = only_run(&state);
    let text =
        std::fs::read_to_string(state.join("runs").join(format!("{run}.jsonl"))).expect("journal");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    assert_eq!(last["event"], "run_finished", "{text}");
    assert_eq!(last["status"], "interrupted");
    assert_eq!(last["exit_code"], 143);
    let (_, hist, _) = ops(&["history", "--state-dir", state_s], dir);
    assert!(hist.contains("interrupted (exit 143)"), "{hist}");
    std::fs::write(dir.join("quick"), "").expect("write");
    let (code, out, err) = ops(&["resume", "--yes", "--state-dir", state_s], dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("step 2") && err.contains("yes (--yes)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("effects")).expect("effects"),
        "1\n2\n"
    );
}
