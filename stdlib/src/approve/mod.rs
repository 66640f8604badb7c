//! `approve "Restore production" { approvers = ["alice", "bob"], min = 1, ttl = 30m }`:
//! the run stops until enough approvers sign an approval of this run's plan, or the TTL
//! denies it.
//!
//! An approval is a file in `STATE/approvals/RUN/` written by `ops approve RUN --key K`
//! from any terminal or CI job: a [`message::Message`] naming the run id, the plan hash,
//! the gate's step id, the approver and a decision, signed with the approver's SSH key
//! (`ssh-keygen -Y sign`, namespace `ops-approval`) and checked against the repository's
//! `allowed_signers` file. Rules: the approver is one of `approvers` and a principal of
//! that key in `allowed_signers`; not the user who started the run; for this run, this
//! plan and this gate; not expired. Approvals that break a rule are refused (and logged);
//! a valid rejection stops the run, and its handlers run.

pub mod message;
pub mod signers;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, RunIdentity, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use lang::schema::{Attribute, Effect, Output, SchemaType as T, StepSchema, Target, Variant};

use message::{Decision, FILE_LIMIT, Message};
use signers::{AllowedSigners, SIGNERS_LIMIT};

/// The `approve` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "approve",
    doc: "stops the run until approvers sign an approval of its plan (`ops approve`), or the TTL denies it",
    variants: &[&APPROVE],
};

/// `approve`.
pub static APPROVE: Variant = Variant {
    name: None,
    doc: "an approval gate: `min` of `approvers` sign this run's plan with their SSH keys",
    target: Some(Target {
        name: "title",
        ty: T::String,
        sensitive: false,
        required: true,
        doc: "what is approved, shown to the approvers",
    }),
    attributes: &[
        Attribute::new(
            "approvers",
            T::ListOf(&T::String),
            "who may approve: principals of allowed_signers",
        )
        .required(),
        Attribute::new("min", T::Int, "approvals needed")
            .default("1")
            .range(1, 100),
        Attribute::new(
            "ttl",
            T::Duration,
            "how long the gate waits before it denies",
        )
        .default("30m"),
        Attribute::new(
            "signers",
            T::Path,
            "the allowed_signers file (ssh-keygen format)",
        )
        .default("\"allowed_signers\""),
    ],
    outputs: &[
        Output::new(
            "approved_by",
            T::ListOf(&T::String),
            "the approvers whose approvals opened the gate",
        ),
        Output::new("count", T::Int, "approvals counted"),
    ],
    effect: Effect::Interactive,
    // Waiting again after a resume changes nothing: approvals already given still count.
    idempotent: true,
    // The TTL bounds it.
    default_timeout: Some(Duration::from_secs(7 * 24 * 3600)),
    ..Variant::BASE
};

/// Where the approvals of a run are.
pub fn approvals_dir(state: &Path, run: &str) -> PathBuf {
    state.join("approvals").join(run)
}

/// What a gate accepts.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The run.
    pub run: String,
    /// Its plan hash.
    pub plan: String,
    /// The gate's step id.
    pub step: String,
    /// Who may approve.
    pub approvers: Vec<String>,
    /// Every name of who started or resumed the run (none may approve it).
    pub operators: Vec<String>,
}

/// An approval that passed every rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The approver.
    pub approver: String,
    /// Approve or reject.
    pub decision: Decision,
    /// Their reason.
    pub reason: String,
    /// Their key's fingerprint.
    pub key: String,
}

/// Checks one approval file's bytes against a gate; why it is refused otherwise.
pub fn check(
    bytes: &[u8],
    gate: &Gate,
    signers: &AllowedSigners,
    now: jiff::Timestamp,
) -> Result<Accepted, String> {
    if bytes.len() > FILE_LIMIT {
        return Err("the file is larger than an approval can be".into());
    }
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not JSON: {e}"))?;
    let text = json["message"].as_str().ok_or("it has no `message`")?;
    let signature = json["signature"].as_str().ok_or("it has no `signature`")?;
    let m = Message::parse(text).map_err(|e| format!("its message is invalid: {e}"))?;
    // Who signed it first: nothing an unsigned file says is worth reporting.
    let key = signers.verify(&m.approver, text.as_bytes(), signature, now)?;
    if m.run != gate.run {
        return Err(format!("it approves run {}, not this run", m.run));
    }
    if m.plan != gate.plan {
        return Err(format!(
            "it approves another plan ({}); this run's plan is {}",
            m.plan, gate.plan
        ));
    }
    if m.step != gate.step {
        return Err(format!(
            "it is for step {}, not this gate ({})",
            m.step, gate.step
        ));
    }
    if m.expires <= now {
        return Err(format!("it expired at {}", m.expires));
    }
    if !gate.approvers.contains(&m.approver) {
        return Err(format!(
            "{} may not approve this gate (approvers: {})",
            m.approver,
            gate.approvers.join(", ")
        ));
    }
    if gate.operators.contains(&m.approver) {
        return Err(format!(
            "{} started (or resumed) this run and cannot approve it",
            m.approver
        ));
    }
    Ok(Accepted {
        approver: m.approver,
        decision: m.decision,
        reason: m.reason,
        key,
    })
}

/// How often the gate looks for new approvals.
const POLL: Duration = Duration::from_millis(200);

/// The `approve` step.
pub struct Approve;

impl StepKind for Approve {
    fn variant(&self) -> &'static Variant {
        &APPROVE
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move { wait(input, ctx).await })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        let approvers = view
            .value("approvers")
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| view.attr("approvers").to_string());
        let signers = view
            .value("signers")
            .and_then(Value::as_str)
            .map_or_else(|| view.attr("signers").to_string(), str::to_string);
        StepPlan::new(format!(
            "waits for {} of {approvers} to approve {} with an SSH-signed `ops approve` of this run's plan (keys in {signers}; the operator who starts the run cannot approve it); denied after {}",
            view.attr("min"),
            view.target(),
            view.attr("ttl"),
        ))
    }
}

fn fatal(message: impl Into<String>) -> StepError {
    StepError::fatal(message)
}

async fn wait(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let Some(run) = ctx.run.as_deref() else {
        return Err(fatal(
            "an approval gate needs a journaled run (`ops run`): approvals name its run id and plan hash",
        ));
    };
    let approvers: Vec<String> = input
        .attr("approvers")
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let min = input
        .attr("min")
        .and_then(Value::as_int)
        .unwrap_or(1)
        .max(1) as usize;
    let ttl = input
        .attr("ttl")
        .and_then(Value::as_duration)
        .unwrap_or(Duration::from_secs(1800));
    // A relative path is the repository's: the folder above the runbook that holds `.git`
    // (where the state directory is too), not wherever the operator stands.
    let signers_path = input.str("signers").unwrap_or("allowed_signers");
    let signers_path = run.root.join(signers_path);
    let signers = read_signers(&signers_path)?;
    let gate = gate(run, &ctx.id, approvers);
    let dir = approvals_dir(&run.state, &run.id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| fatal(format!("cannot create {}: {e}", dir.display())))?;
    let deadline = tokio::time::Instant::now()
        .checked_add(ttl)
        .ok_or_else(|| fatal(format!("the ttl {} is too long", lang::fmt::duration(ttl))))?;
    let denies_at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(ttl).unwrap_or_default())
        .map(|t| t.to_string())
        .unwrap_or_default();
    ctx.log(format!(
        "waiting for {min} of {} to approve: ops approve {} --step {} --key KEY (plan {}); denied at {denies_at}",
        gate.approvers.join(", "),
        run.id,
        ctx.id,
        run.plan_hash
    ));
    let mut seen = BTreeSet::new();
    let mut approved: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    loop {
        for (name, bytes) in new_files(&dir, &mut seen) {
            match check(&bytes, &gate, &signers, jiff::Timestamp::now()) {
                Ok(a) if a.decision == Decision::Reject => {
                    ctx.log(format!(
                        "rejected by {} (key {}): {}",
                        a.approver, a.key, a.reason
                    ));
                    return Err(fatal(format!(
                        "rejected by {}{}",
                        a.approver,
                        if a.reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", a.reason)
                        }
                    )));
                }
                Ok(a) => {
                    // One person, one approval: a key listed for several principals (or
                    // under a wildcard) counts once, however many names it signs as.
                    if keys.contains(&a.key) && !approved.contains(&a.approver) {
                        ctx.log(format!(
                            "refused the approval {name}: key {} already approved this gate as another approver",
                            a.key
                        ));
                    } else {
                        ctx.log(format!("approved by {} (key {})", a.approver, a.key));
                        if !approved.contains(&a.approver) {
                            approved.push(a.approver);
                            keys.push(a.key);
                        }
                    }
                }
                Err(why) => ctx.log(format!("refused the approval {name}: {why}")),
            }
        }
        if approved.len() >= min {
            let mut out = Outputs::new();
            out.insert(
                "approved_by".into(),
                Value::List(approved.iter().map(|a| Value::str(a.clone())).collect()),
            );
            out.insert("count".into(), Value::Int(approved.len() as i64));
            return Ok(out);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fatal(format!(
                "denied: the TTL of {} ran out with {} of {min} approvals",
                lang::fmt::duration(ttl),
                approved.len()
            )));
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = ctx.cancel.cancelled() => return Err(fatal("cancelled while waiting for approvals")),
        }
    }
}

/// The gate of step `step` in `run`.
pub fn gate(run: &RunIdentity, step: &str, approvers: Vec<String>) -> Gate {
    Gate {
        run: run.id.clone(),
        plan: run.plan_hash.clone(),
        step: step.to_string(),
        approvers,
        operators: run.operators.clone(),
    }
}

fn read_signers(path: &Path) -> Result<AllowedSigners, StepError> {
    use std::io::Read;
    let cannot = |e: String| {
        fatal(format!(
            "cannot read the allowed_signers file {}: {e}",
            path.display()
        ))
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SIGNERS_LIMIT as u64 + 1).read_to_string(&mut text))
        .map_err(|e| cannot(e.to_string()))?;
    if text.len() > SIGNERS_LIMIT {
        return Err(cannot(format!("it is larger than {SIGNERS_LIMIT} bytes")));
    }
    AllowedSigners::parse(&text).map_err(fatal)
}

/// Approval files not looked at yet, in name order (capped in size each).
fn new_files(dir: &Path, seen: &mut BTreeSet<String>) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        seen.insert(name.clone());
        let path = dir.join(&name);
        let bytes = match std::fs::File::open(&path) {
            Ok(f) => {
                use std::io::Read;
                let mut buf = Vec::new();
                let _ = f.take(FILE_LIMIT as u64 + 1).read_to_end(&mut buf);
                buf
            }
            Err(_) => continue,
        };
        out.push((name, bytes));
    }
    out
}
