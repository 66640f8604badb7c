//! The journal of a real run, from the CLI's side: its header (what runs, with what, by
//! whom), the notes only the CLI knows (locks taken over, a resume), the run index row
//! at the start and the end, and the resume hint after a failed or interrupted run.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use interpreter::exec::{Earlier, RunResult, RunStatus};
use interpreter::journal::{self, Header, JournalReporter, Param, Writer};
use interpreter::plan::Plan;

use crate::cli::{EXIT_PREFLIGHT, EXIT_USAGE};
use crate::index::{Index, Row};
use crate::run::Attempt;
use crate::state::{Holder, Locks};

/// The journal of the run in progress.
pub struct Journaled {
    writer: Arc<Mutex<Writer>>,
    state: PathBuf,
    row: Row,
    earlier: HashMap<String, Earlier>,
    explicit_state: bool,
    plan_hash: String,
    operators: Vec<String>,
    durable: Arc<std::collections::HashSet<String>>,
    /// The run index, opened once for the run (`None` when it cannot be used).
    index: Option<Index>,
    /// The plan has approval gates (their outcome goes into the index).
    gates: bool,
}

/// Opens the run's journal: a new one with its header, or the interrupted run's to go on
/// with (after checking the plan is the one it started with and the operator agrees to
/// re-run the step that was cut off).
pub fn open(
    state: &Path,
    plan: &Plan,
    me: &Holder,
    locks: &Locks,
    attempt: Attempt,
    yes: bool,
) -> Result<Journaled, i32> {
    let redactor = crate::runtime::redactor(plan);
    let (mut started, mut resumes) = (jiff::Timestamp::now().to_string(), 0);
    // Who may not approve this run: everyone who started or resumed it, by every name.
    let mut operators = crate::state::user_names();
    operators.push(me.user.clone());
    let (writer, earlier, plan_hash) = match attempt {
        Attempt::New(run) => {
            let header = header(plan, me, &run, &redactor);
            let writer = Writer::create(state, &header).map_err(|e| {
                eprintln!("ops run: {e}; nothing was run");
                EXIT_USAGE
            })?;
            (writer, HashMap::new(), header.plan_hash)
        }
        Attempt::Resume(mut resuming) => {
            let refuse = |why: &str, help: &str| {
                let d = lang::diag::plan::resume_refused(&resuming.run, why, help);
                crate::runtime::print_plan_errors(&[d], &lang::Program::default(), false);
                EXIT_USAGE
            };
            // Compared as it was written: labels redacted.
            let mut now = journal::shape(plan);
            for s in &mut now {
                redactor.redact_in_place(&mut s.label);
            }
            if now != resuming.header.shape {
                let diff = shape_diff(&resuming.header.shape, &now);
                return Err(refuse(
                    &format!("the plan changed since the run started:\n{diff}"),
                    "resume runs the plan the run started with; start a new run (`ops run`) to run the changed one",
                ));
            }
            // The plan hash approvals name is recomputed, never taken from the journal.
            let fresh = header(plan, me, &resuming.run, &redactor).plan_hash;
            if fresh != resuming.header.plan_hash
                || journal::plan_hash(&resuming.header) != resuming.header.plan_hash
            {
                return Err(refuse(
                    "its plan hash does not match the plan (the journal's header was changed, or the plan was)",
                    "`ops audit verify RUN`; start a new run",
                ));
            }
            // What earlier attempts did, read again now that this run holds the lock: a
            // resume that waited for another one goes on from where that one stopped.
            let (mut writer, journal) = Writer::reopen(state, &resuming.run).map_err(|e| {
                eprintln!("ops resume: {e}");
                EXIT_USAGE
            })?;
            if crate::resume::ended_ok(&journal) {
                return Err(refuse("it ended ok", "there is nothing left to run"));
            }
            let (mut earlier, cut_off) = crate::resume::progress(&journal);
            eprintln!(
                "ops resume: run {} of `{}`: {} steps done earlier, {} cut off",
                resuming.run,
                resuming.header.runbook,
                earlier.len(),
                cut_off.len()
            );
            for r in journal.events("resumed") {
                for name in r.json["operators"].as_array().into_iter().flatten() {
                    if let Some(name) = name.as_str() {
                        resuming.operators.push(name.to_string());
                    }
                }
            }
            let rerun = confirm_cut_off(plan, &resuming.run, &cut_off, yes)?;
            // Interactive steps are asked again, never reused.
            let steps = plan.steps();
            earlier.retain(|id, _| {
                steps
                    .iter()
                    .find(|s| &s.id == id)
                    .is_some_and(|s| s.effect != lang::schema::Effect::Interactive)
            });
            let reused: Vec<&String> = {
                let mut ids: Vec<&String> = earlier.keys().collect();
                ids.sort();
                ids
            };
            writer.note(
                "resumed",
                serde_json::json!({
                    "user": me.user, "operators": crate::state::user_names(),
                    "host": me.host, "pid": me.pid,
                    "reused": reused, "rerun": rerun,
                }),
            );
            started = resuming.started.clone();
            resumes = resuming.resumes + 1;
            operators.extend(resuming.header.operators.iter().cloned());
            operators.push(resuming.header.user.clone());
            operators.extend(resuming.operators.iter().cloned());
            (writer, earlier, resuming.header.plan_hash)
        }
    };
    let mut writer = writer;
    for (name, previous) in &locks.taken_over {
        writer.note(
            "lock_taken_over",
            serde_json::json!({
                "lock": name, "from_run": previous.run, "from_pid": previous.pid,
                "from_user": previous.user, "from_host": previous.host,
                "since": previous.since,
            }),
        );
    }
    let row = Row {
        run: me.run.clone(),
        runbook: plan.runbook.id.clone(),
        file: plan.runbook.file.clone(),
        user: me.user.clone(),
        host: me.host.clone(),
        pid: me.pid,
        started,
        ended: None,
        duration_ms: None,
        status: "running".into(),
        exit_code: None,
        failed_step: None,
        resumes,
        records: None,
        head: None,
        approvals: None,
    };
    // The index is a convenience: a run goes on without it (`ops history` reads the
    // journal later).
    // A resumed run's row goes back to `running`; a new run's row is written at its end
    // (until then `ops history` finds it by its journal).
    let index = match Index::open(state).and_then(|i| {
        if row.resumes > 0 {
            i.started(&row)?;
        }
        Ok(i)
    }) {
        Ok(i) => Some(i),
        Err(e) => {
            eprintln!("ops run: {e}; `ops history` will read this run from its journal");
            None
        }
    };
    Ok(Journaled {
        writer: Arc::new(Mutex::new(writer)),
        state: state.to_path_buf(),
        row,
        earlier,
        explicit_state: std::env::var_os("OPS_STATE_DIR").is_some(),
        plan_hash,
        operators: {
            operators.sort();
            operators.dedup();
            operators
        },
        index,
        gates: plan.steps().iter().any(|s| s.kind == "approve"),
        // A read-only step's records need not reach the disk before it runs: lost in a
        // crash, resume runs that step again, which changes nothing.
        durable: Arc::new(
            plan.steps()
                .into_iter()
                .filter(|s| s.effect != lang::schema::Effect::ReadOnly)
                .map(|s| s.id.clone())
                .collect(),
        ),
    })
}

impl Journaled {
    /// The reporter that writes every run event to the journal.
    pub fn reporter(&self) -> JournalReporter {
        JournalReporter {
            writer: self.writer.clone(),
            durable: self.durable.clone(),
        }
    }

    /// The run's identity for its steps (`approve`).
    pub fn identity(&self) -> interpreter::step::RunIdentity {
        interpreter::step::RunIdentity {
            id: self.row.run.clone(),
            plan_hash: self.plan_hash.clone(),
            state: std::path::absolute(&self.state).unwrap_or_else(|_| self.state.clone()),
            user: self.row.user.clone(),
            operators: self.operators.clone(),
            root: crate::state::repo_root(std::path::Path::new(&self.row.file)),
        }
    }

    /// What earlier attempts finished (empty for a new run).
    pub fn earlier(&self) -> HashMap<String, Earlier> {
        self.earlier.clone()
    }

    /// Records the end in the index; a line for the operator: how to resume a run that
    /// did not succeed, or that the journal could not be written.
    pub fn close(&self, result: Option<(&RunResult, Option<&str>)>) -> Option<String> {
        let (records, head, failed) = match self.writer.lock() {
            Ok(w) => (
                w.records(),
                w.head().to_string(),
                w.failed().map(str::to_string),
            ),
            Err(_) => return None,
        };
        let mut row = self.row.clone();
        row.ended = Some(jiff::Timestamp::now().to_string());
        row.records = i64::try_from(records).ok();
        if self.gates {
            row.approvals =
                interpreter::journal::Journal::read(&journal::path(&self.state, &row.run))
                    .ok()
                    .and_then(|j| crate::index::approvals(&j));
        }
        row.head = Some(head);
        match result {
            Some((r, signal)) => {
                row.status = r.status.as_str().to_string();
                row.exit_code = Some(r.status.exit_code_after(signal));
                row.duration_ms = i64::try_from(r.duration.as_millis()).ok();
                row.failed_step = r
                    .failures
                    .iter()
                    .find(|f| !f.continued)
                    .map(|f| f.id.clone());
            }
            None => row.status = "failed".into(),
        }
        if let Some(Err(e)) = self.index.as_ref().map(|i| i.ended(&row)) {
            eprintln!("ops run: {e}");
        }
        if let Some(e) = failed {
            return Some(format!(
                "ops run: {e}: the journal is incomplete, so this run cannot be resumed or audited"
            ));
        }
        let resumable = result.is_none_or(|(r, _)| r.status != RunStatus::Ok);
        resumable.then(|| {
            let state = if self.explicit_state {
                format!(" --state-dir {}", self.state.display())
            } else {
                String::new()
            };
            format!(
                "ops: to go on from where this run stopped: ops resume {}{state}",
                row.run
            )
        })
    }
}

fn header(plan: &Plan, me: &Holder, run: &str, redactor: &interpreter::redact::Redactor) -> Header {
    let params = plan
        .params
        .iter()
        .map(|p| {
            let mut value = p.value.to_json(false);
            redactor.redact_json(&mut value);
            Param {
                name: p.name.clone(),
                value,
            }
        })
        .collect();
    let mut shape = journal::shape(plan);
    for s in &mut shape {
        redactor.redact_in_place(&mut s.label);
    }
    let mut header = Header {
        journal_version: journal::JOURNAL_VERSION,
        run: run.to_string(),
        runbook: plan.runbook.id.clone(),
        title: redactor.redact(&plan.runbook.title),
        file: plan.runbook.file.clone(),
        cwd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        hash: plan.hash.clone(),
        ops_version: plan.ops_version.clone(),
        user: me.user.clone(),
        operators: {
            let mut names = crate::state::user_names();
            names.push(me.user.clone());
            names.sort();
            names.dedup();
            names
        },
        host: me.host.clone(),
        pid: me.pid,
        params,
        start_at: plan.start_at.clone(),
        shape,
        plan_hash: String::new(),
    };
    header.plan_hash = journal::plan_hash(&header);
    header
}

/// `-`/`+` lines for the steps that differ.
fn shape_diff(before: &[journal::ShapeStep], now: &[journal::ShapeStep]) -> String {
    let line = |s: &journal::ShapeStep| format!("{} {} ({})", s.id, s.label, s.effect);
    let a: Vec<String> = before.iter().map(line).collect();
    let b: Vec<String> = now.iter().map(line).collect();
    let mut out = String::new();
    for l in a.iter().filter(|l| !b.contains(l)).take(20) {
        out.push_str(&format!("  - {l}\n"));
    }
    for l in b.iter().filter(|l| !a.contains(l)).take(20) {
        out.push_str(&format!("  + {l}\n"));
    }
    out.trim_end().to_string()
}

/// The steps that were running when the run stopped: read-only and idempotent ones are
/// run again; any other needs the operator's yes (`--yes` in automation), since it may
/// have done part or all of its work.
fn confirm_cut_off(
    plan: &Plan,
    run: &str,
    cut_off: &[String],
    yes: bool,
) -> Result<Vec<String>, i32> {
    let steps = plan.steps();
    let mut rerun = Vec::new();
    for id in cut_off {
        let Some(step) = steps.iter().find(|s| &s.id == id) else {
            continue;
        };
        rerun.push(id.clone());
        // Asking a question again, or waiting at a gate again, changes nothing.
        let safe = step.effect != lang::schema::Effect::Mutating || step.variant.idempotent;
        if safe {
            eprintln!(
                "ops resume: step {id} {} was cut off; it is {} and runs again",
                step.label,
                if step.variant.idempotent {
                    "idempotent"
                } else {
                    "read-only"
                }
            );
            continue;
        }
        let question = format!(
            "step {id} {} was running when the run stopped; it may have done some or all of its work. Run it again?",
            step.label
        );
        if yes {
            eprintln!("ops resume: {question} yes (--yes)");
            continue;
        }
        if !std::io::stdin().is_terminal() {
            let d = lang::diag::plan::resume_refused(
                run,
                &format!("step {id} {} was cut off and is not idempotent", step.label),
                "check what it did, then resume from a terminal to confirm, or pass --yes to run it again",
            );
            crate::runtime::print_plan_errors(&[d], &lang::Program::default(), false);
            return Err(EXIT_PREFLIGHT);
        }
        eprint!("? {question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("ops resume: not resumed; the run stays as it was");
            return Err(EXIT_PREFLIGHT);
        }
    }
    Ok(rerun)
}
