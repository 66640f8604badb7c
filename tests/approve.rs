//! Approval gates through the real binary with real SSH keys (`ssh-keygen -Y sign`): the
//! plan shows each gate, who may approve and the TTL; a signed approval opens it; the
//! operator who started the run cannot approve it; an approval of another run or plan, an
//! expired one, one from a key not in `allowed_signers` or for another principal is
//! refused; a rejection stops the run and runs its handlers; the TTL denies.

mod services;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TIER: &str = "needs ssh-keygen (openssh-client): run scripts/test.sh";

/// A folder with keys for alice, bob, carol and mallory, an `allowed_signers` naming the
/// first three, and the gate runbook.
struct Lab {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state: String,
}

impl Lab {
    fn new(gate: &str) -> Lab {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut signers = String::new();
        for who in ["alice", "bob", "carol", "mallory"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
                .arg(dir.join(who))
                .status()
                .expect("ssh-keygen");
            assert!(ok.success());
            if who != "mallory" {
                let public = std::fs::read_to_string(dir.join(format!("{who}.pub"))).expect("pub");
                let key: Vec<&str> = public.split_whitespace().take(2).collect();
                signers.push_str(&format!(
                    "{who} namespaces=\"ops-approval\" {}\n",
                    key.join(" ")
                ));
            }
        }
        std::fs::write(dir.join("allowed_signers"), signers).expect("write");
        std::fs::write(
            dir.join("gate.rb.ops"),
            format!(
                "runbook \"gate\" {{\n  title = \"t\"\n  owner = \"qa\"\n}}\n\n{gate}\n\
                 exec [\"sh\", \"-c\", \"echo restored > restored\"]\n\n\
                 on failure {{\n  notify stdout \"handler ran: ${{failure.message}}\"\n}}\n"
            ),
        )
        .expect("write");
        let state = dir.join("state").display().to_string();
        Lab {
            _tmp: tmp,
            dir,
            state,
        }
    }

    /// `ops run gate.rb.ops` as `user`, in the background.
    fn start(&self, user: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(["run", "gate.rb.ops", "--state-dir", &self.state])
            .current_dir(&self.dir)
            .env("USER", user)
            .env("NO_COLOR", "1")
            .env_remove("OPS_STATE_DIR")
            .env_remove("GITHUB_STEP_SUMMARY")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ops starts")
    }

    /// The run id once the gate waits.
    fn waiting_run(&self) -> String {
        let runs = Path::new(&self.state).join("runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(run) = std::fs::read_dir(&runs).ok().and_then(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".jsonl"))
                            .map(str::to_string)
                    })
                    .next()
            }) {
                let text =
                    std::fs::read_to_string(runs.join(format!("{run}.jsonl"))).unwrap_or_default();
                if text.contains("waiting for") {
                    return run;
                }
            }
            assert!(Instant::now() < deadline, "the gate never waited");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ops approve RUN --key WHO --as WHO EXTRA...` run as `user`.
    fn approve(&self, user: &str, run: &str, key: &str, extra: &[&str]) -> (i32, String) {
        let key = self.dir.join(key).display().to_string();
        let mut args = vec!["approve", run, "--key", &key, "--state-dir", &self.state];
        args.extend(extra);
        let (code, out, err) = services::ops_in(&args, &self.dir, &[("USER", user)]);
        (code, format!("{out}{err}"))
    }
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().expect("ops ends");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const GATE: &str = "approve \"Restore production\" {\n  approvers = [\"alice\", \"bob\", \"mallory\"]\n  min = 1\n  ttl = 30s\n}";

#[test]
#[ignore = "needs ssh-keygen (openssh-client): run scripts/test.sh"]
fn the_plan_shows_each_gate_its_approvers_and_its_ttl() {
    let _ = TIER;
    let lab = Lab::new(GATE);
    let (code, out, err) = services::ops_in(&["plan", "gate.rb.ops"], &lab.dir, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("waits for 1 of alice, bob, mallory to approve \"Restore production\""),
        "{out}"
    );
    assert!(out.contains("denied after 30s"), "{out}");
    assert!(
        out.contains("the operator who starts the run cannot approve it"),
        "{out}"
    );
}

#[test]
#[ignore = "needs ssh-keygen (openssh-client): run scripts/test.sh"]
fn a_signed_approval_opens_the_gate_and_the_operator_cannot_approve_their_own_run() {
    let lab = Lab::new(GATE);
    let child = lab.start("alice");
    let run = lab.waiting_run();
    // alice started it: ops approve refuses before signing.
    let (code, out) = lab.approve("alice", &run, "alice", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("alice started run") && out.contains("cannot approve it"),
        "{out}"
    );
    // mallory may approve but her key is not in allowed_signers; carol's key is, but she
    // is not an approver; bob signs as alice with his own key.
    let (code, out) = lab.approve("mallory", &run, "mallory", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab.approve("carol", &run, "carol", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab.approve("bob", &run, "bob", &["--as", "alice"]);
    assert_eq!(code, 2, "an approver may not sign as the operator: {out}");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        std::fs::metadata(lab.dir.join("restored")).is_err(),
        "the gate opened too early"
    );
    let (code, out) = lab.approve("bob", &run, "bob", &["--reason", "backups checked"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Approving run") && out.contains("plan sha256:"),
        "{out}"
    );
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("refused the approval")
            && out.contains("is not in allowed_signers for `mallory`"),
        "{out}"
    );
    assert!(out.contains("carol may not approve this gate"), "{out}");
    assert!(out.contains("approved by bob"), "{out}");
    assert!(lab.dir.join("restored").exists());
    let (_, hist, _) = services::ops_in(&["history", "--state-dir", &lab.state], &lab.dir, &[]);
    assert!(hist.contains("1 approved by bob"), "{hist}");
}

#[test]
#[ignore = "needs ssh-keygen (openssh-client): run scripts/test.sh"]
fn approvals_of_another_run_or_plan_and_expired_ones_are_refused() {
    let lab = Lab::new(GATE);
    // A first run, approved by bob: its approval file is kept.
    let first = lab.start("alice");
    let run1 = lab.waiting_run();
    let (code, out) = lab.approve("bob", &run1, "bob", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(finish(first).0, 0);
    let approvals1 = Path::new(&lab.state).join("approvals").join(&run1);
    let copied: Vec<PathBuf> = std::fs::read_dir(&approvals1)
        .expect("approvals")
        .flatten()
        .map(|e| e.path())
        .collect();
    std::fs::remove_dir_all(Path::new(&lab.state).join("runs")).expect("rm");
    // A second run of a changed plan: the old approval, copied in, is refused.
    let edited = std::fs::read_to_string(lab.dir.join("gate.rb.ops"))
        .expect("read")
        .replace("echo restored", "echo restored again");
    std::fs::write(lab.dir.join("gate.rb.ops"), edited).expect("write");
    let second = lab.start("alice");
    let run2 = lab.waiting_run();
    let approvals2 = Path::new(&lab.state).join("approvals").join(&run2);
    std::fs::create_dir_all(&approvals2).expect("mkdir");
    for p in &copied {
        std::fs::copy(p, approvals2.join(p.file_name().expect("name"))).expect("copy");
    }
    // An approval that expires at once.
    let (code, out) = lab.approve("bob", &run2, "bob", &["--expires", "1ms"]);
    assert_eq!(code, 0, "{out}");
    // A message edited after it was signed.
    let bob = std::fs::read_dir(&approvals2)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| !copied.iter().any(|c| c.file_name() == p.file_name()))
        .expect("bob's");
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bob).expect("read")).expect("json");
    let text = forged["message"].as_str().expect("message").to_string();
    let far = text
        .lines()
        .map(|l| {
            if l.starts_with("expires: ") {
                "expires: 2099-01-01T00:00:00Z".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    forged["message"] = far.clone().into();
    std::fs::write(approvals2.join("zz-forged.json"), forged.to_string()).expect("write");
    // Validly signed by bob, but of another plan of this run, and in another namespace.
    let other_plan = text
        .lines()
        .map(|l| {
            if l.starts_with("plan: ") {
                format!("plan: sha256:{}", "0".repeat(64))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    // Signed by alice, the operator, with her own key (ops approve refuses to make it).
    let by_alice = far.replace("approver: bob", "approver: alice");
    for (name, message, namespace, key) in [
        (
            "zz-other-plan.json",
            other_plan.as_str(),
            "ops-approval",
            "bob",
        ),
        ("zz-namespace.json", text.as_str(), "git", "bob"),
        (
            "zz-operator.json",
            by_alice.as_str(),
            "ops-approval",
            "alice",
        ),
    ] {
        let signature = ssh_sign(&lab.dir.join(key), namespace, message);
        let body = serde_json::json!({ "message": message, "signature": signature });
        std::fs::write(approvals2.join(name), body.to_string()).expect("write");
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        std::fs::read_to_string(lab.dir.join("restored")).expect("first run's"),
        "restored\n",
        "no refused approval opened the gate"
    );
    // bob approves properly: the gate opens.
    let (code, out) = lab.approve("bob", &run2, "bob", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = finish(second);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("it approves run {run1}, not this run")),
        "{out}"
    );
    assert!(out.contains("it expired at"), "{out}");
    assert!(
        out.contains("the signature does not match the message"),
        "{out}"
    );
    assert!(
        out.contains("it approves another plan (sha256:000"),
        "{out}"
    );
    assert!(out.contains("it is signed for namespace `git`"), "{out}");
    assert!(
        out.contains("alice started (or resumed) this run and cannot approve it"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(Path::new(&lab.state).join("runs"));
    // The same run id with a changed plan hash: an approval names the plan it approves.
    let plan_a = copied
        .first()
        .map(|p| std::fs::read_to_string(p).expect("read"))
        .expect("one approval");
    assert!(plan_a.contains("plan: sha256:"), "{plan_a}");
}

#[test]
#[ignore = "needs ssh-keygen (openssh-client): run scripts/test.sh"]
fn a_rejection_stops_the_run_and_its_handlers_run_and_the_ttl_denies() {
    let lab = Lab::new(GATE);
    let child = lab.start("alice");
    let run = lab.waiting_run();
    let (code, out) = lab.approve(
        "bob",
        &run,
        "bob",
        &["--reject", "--reason", "backup not verified"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = finish(child);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rejected by bob: backup not verified"),
        "{out}"
    );
    assert!(
        out.contains("handler ran: rejected by bob: backup not verified"),
        "{out}"
    );
    assert!(!lab.dir.join("restored").exists());
    let (_, hist, _) = services::ops_in(&["history", "--state-dir", &lab.state], &lab.dir, &[]);
    assert!(hist.contains("1 rejected by bob"), "{hist}");

    let short = Lab::new(&GATE.replace("ttl = 30s", "ttl = 1s"));
    let started = Instant::now();
    let (code, out) = finish(short.start("alice"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("denied: the TTL of 1s ran out with 0 of 1 approvals"),
        "{out}"
    );
    assert!(out.contains("handler ran: denied"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
#[ignore = "needs ssh-keygen (openssh-client): run scripts/test.sh"]
fn two_approvals_are_needed_when_min_is_2_and_one_approver_counts_once() {
    let lab = Lab::new(&GATE.replace("min = 1", "min = 2"));
    let child = lab.start("carol");
    let run = lab.waiting_run();
    for _ in 0..2 {
        let (code, out) = lab.approve("bob", &run, "bob", &[]);
        assert_eq!(code, 0, "{out}");
    }
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !lab.dir.join("restored").exists(),
        "bob twice is one approval"
    );
    let (code, out) = lab.approve("alice", &run, "alice", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(lab.dir.join("restored").exists());
}

/// `ssh-keygen -Y sign` of `message` with `key` in `namespace`.
fn ssh_sign(key: &Path, namespace: &str, message: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ssh-keygen");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("sign");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
#[ignore = "needs ssh-keygen (openssh-client): run scripts/test.sh"]
fn one_key_listed_for_two_principals_counts_once() {
    let lab = Lab::new(&GATE.replace("min = 1", "min = 2"));
    // bob's key is listed for bob and, on a second line, for mallory.
    let bob = std::fs::read_to_string(lab.dir.join("bob.pub")).expect("pub");
    let key: Vec<&str> = bob.split_whitespace().take(2).collect();
    let mut signers = std::fs::read_to_string(lab.dir.join("allowed_signers")).expect("read");
    signers.push_str(&format!("mallory {}\n", key.join(" ")));
    std::fs::write(lab.dir.join("allowed_signers"), signers).expect("write");
    let child = lab.start("carol");
    let run = lab.waiting_run();
    let (code, out) = lab.approve("bob", &run, "bob", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab.approve("bob", &run, "bob", &["--as", "mallory"]);
    assert_eq!(code, 0, "{out}");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !lab.dir.join("restored").exists(),
        "one key opened a min = 2 gate"
    );
    let (code, out) = lab.approve("alice", &run, "alice", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("already approved this gate as another approver"),
        "{out}"
    );
}
