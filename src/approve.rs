//! `ops approve RUN --key KEY`: sign an approval (or a rejection) of a waiting run's plan
//! with an SSH key (`ssh-keygen -Y sign`, namespace `ops-approval`) and leave it in the
//! run's approvals folder, where the running gate picks it up. What is approved is shown
//! first: the runbook, who started it, its parameters, its plan hash and its steps.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use interpreter::journal::{self, Journal};
use stdlib::approve::message::{Decision, Message, NAMESPACE};

use crate::cli::{ApproveArgs, EXIT_FAILED, EXIT_USAGE};

/// How long `ssh-keygen` may take (a passphrase prompt included).
const SIGN_LIMIT: Duration = Duration::from_secs(120);

/// Runs `ops approve`.
pub fn run(args: &ApproveArgs) -> i32 {
    match approve(args) {
        Ok(path) => {
            eprintln!("ops approve: written {}", path.display());
            0
        }
        Err((code, why)) => {
            eprintln!("ops approve: {why}");
            code
        }
    }
}

fn approve(args: &ApproveArgs) -> Result<std::path::PathBuf, (i32, String)> {
    let usage = |why: String| (EXIT_USAGE, why);
    let state = crate::resume::state_here(args.state_dir.as_deref());
    if !journal::valid_run_id(&args.run) {
        return Err(usage(format!("`{}` is not a run id", args.run)));
    }
    let j = Journal::read(&journal::path(&state, &args.run)).map_err(usage)?;
    let verdict = journal::check(&j, &args.run);
    if !verdict.ok() {
        return Err(usage(format!(
            "the journal of run {} does not verify ({}); nothing was approved",
            args.run,
            verdict.problems.join("; ")
        )));
    }
    let header = j
        .header()
        .ok_or_else(|| usage("the journal has no header".into()))?;
    // What is shown is what is signed: the hash is recomputed from the header's plan.
    if journal::plan_hash(&header) != header.plan_hash {
        return Err(usage(format!(
            "the plan hash in the journal of run {} does not match its plan; nothing was approved",
            args.run
        )));
    }
    if header.run != args.run {
        return Err(usage(format!(
            "the journal of run {} names another run",
            args.run
        )));
    }
    let step = match &args.step {
        Some(s) => s.clone(),
        None => waiting_gate(&j).ok_or_else(|| {
            usage(format!(
                "run {} is not waiting at an approval gate; name one with --step ID to approve it ahead",
                args.run
            ))
        })?,
    };
    let gate = header
        .shape
        .iter()
        .find(|s| s.id == step && s.label.starts_with("approve "))
        .ok_or_else(|| {
            usage(format!(
                "step {step} of run {} is not an approval gate",
                args.run
            ))
        })?;
    let approver = args
        .as_principal
        .clone()
        .unwrap_or_else(crate::state::user_name);
    if approver == header.user || header.operators.contains(&approver) {
        return Err(usage(format!(
            "{approver} started run {} and cannot approve it; ask one of its approvers",
            args.run
        )));
    }
    let now = jiff::Timestamp::now();
    let expires = jiff::SignedDuration::try_from(args.expires)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .ok_or_else(|| usage("--expires is too long".into()))?;
    let decision = if args.reject {
        Decision::Reject
    } else {
        Decision::Approve
    };
    let message = Message {
        run: args.run.clone(),
        plan: header.plan_hash.clone(),
        step: step.clone(),
        gate: gate.label.clone(),
        approver: approver.clone(),
        decision,
        reason: args.reason.clone().unwrap_or_default(),
        signed: now,
        expires,
    };
    // What is approved, before anything is signed.
    eprintln!(
        "{} run {} of `{}` ({}), started by {}@{}:",
        if args.reject {
            "Rejecting"
        } else {
            "Approving"
        },
        header.run,
        header.runbook,
        header.file,
        header.user,
        header.host
    );
    for p in &header.params {
        eprintln!("  param {} = {}", p.name, p.value);
    }
    eprintln!(
        "  plan {} with {} steps:",
        header.plan_hash,
        header.shape.len()
    );
    for s in header.shape.iter().take(60) {
        let mark = if s.id == step { "▶" } else { " " };
        eprintln!("  {mark} {} {} ({})", s.id, s.label, s.effect);
    }
    if header.shape.len() > 60 {
        eprintln!("    … {} more", header.shape.len() - 60);
    }
    let text = message.text();
    let signature = sign(&args.key, &text).map_err(|e| (EXIT_FAILED, e))?;
    let dir = stdlib::approve::approvals_dir(&state, &args.run);
    std::fs::create_dir_all(&dir)
        .map_err(|e| usage(format!("cannot create {}: {e}", dir.display())))?;
    let body = serde_json::json!({ "message": text, "signature": signature });
    let name = format!(
        "{}-{}-{}-{:08x}.json",
        now.strftime("%Y%m%dT%H%M%S"),
        step.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>(),
        approver
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>(),
        fastrand::u32(..)
    );
    let path = dir.join(name);
    write_new(&path, body.to_string().as_bytes())
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// The approval gate the run waits at: an `approve` step started and not finished in the
/// journal's last attempt.
fn waiting_gate(j: &Journal) -> Option<String> {
    let mut open: Vec<String> = Vec::new();
    for r in &j.records {
        let id = r.json["id"].as_str().unwrap_or_default().to_string();
        match r.event.as_str() {
            "resumed" => open.clear(),
            "step_started"
                if r.json["label"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("approve ")) =>
            {
                open.push(id)
            }
            "step_finished" => open.retain(|o| o != &id),
            _ => {}
        }
    }
    open.pop()
}

/// `ssh-keygen -Y sign -n ops-approval -f KEY` over `text` (stdin to stdout).
fn sign(key: &Path, text: &str) -> Result<String, String> {
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start ssh-keygen: {e} (install openssh-client)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot give ssh-keygen the message: {e}"))?;
    }
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > SIGN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("ssh-keygen did not sign within 2 minutes".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("ssh-keygen: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    let signature = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || !signature.contains("BEGIN SSH SIGNATURE") {
        let err = String::from_utf8_lossy(&out.stderr);
        let err: String = err.chars().take(500).collect();
        return Err(format!(
            "ssh-keygen could not sign with {}: {}",
            key.display(),
            err.trim()
        ));
    }
    Ok(signature)
}

/// Writes a new file atomically (temporary file, fsync, link without replacing).
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".approval-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
