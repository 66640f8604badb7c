//! The executor: runs a [`Plan`] on tokio.
//!
//! Sequences run in order; `parallel` groups run their branches concurrently up to
//! `limit`; each attempt is bounded by the step's timeout; failed attempts are retried
//! with the planned backoff; `on failure`/`always` handlers run at stage and runbook
//! level with `failure.step` and `failure.message` bound. A dry-run walks the same
//! plan through the same code, but every mutating (and interactive) step is replaced
//! by a recorder; read-only steps run live only with `--preflight`.
//!
//! Cancellation (SIGINT, SIGTERM, SIGHUP): the run's token is cancelled; nothing new
//! starts, in-flight mutating attempts get a grace period to stop and read-only ones are
//! dropped at once; handlers still run (with their own token), and the result is
//! [`RunStatus::Interrupted`], its exit code 128 + the signal.

mod attempt;
mod resolve;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use lang::Code;
use lang::schema::Effect;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::event::{Event, EventSink, Status};
use crate::plan::{Group, GroupKind, Loc, Node, OnFailure, Plan, PlannedStep};
use crate::redact::Redactor;
use crate::step::{Prompter, Registry};
use crate::value::Value;

pub use attempt::INSPECTED;
pub use resolve::RunResolver;

/// Real run or dry-run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run every step.
    Run,
    /// Record mutating and interactive steps; run read-only ones only when `live_readonly`.
    DryRun {
        /// `--preflight`: run read-only steps (probes) live.
        live_readonly: bool,
    },
}

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Run or dry-run.
    pub mode: Mode,
    /// How long in-flight steps get to stop after Ctrl-C.
    pub grace: Duration,
    /// Answers `confirm` and `manual`.
    pub prompter: Arc<dyn Prompter>,
    /// Secret values by plan source key (`env X`, `file P`).
    pub secrets: HashMap<String, String>,
    /// Why the run goes ahead outside the runbook's window (`--outside-window`); it goes
    /// into every report.
    pub outside_window: Option<String>,
    /// What interrupted the run (`SIGTERM`), set by whoever cancels its token; messages
    /// say `Ctrl-C` when nothing is set.
    pub interrupted_by: Arc<std::sync::OnceLock<&'static str>>,
    /// `ops resume`: the steps an earlier attempt of this run finished, by plan id; they
    /// are not run again.
    pub earlier: Arc<HashMap<String, Earlier>>,
    /// The journaled run (real runs only): steps such as `approve` need its id, plan
    /// hash and state directory.
    pub identity: Option<Arc<crate::step::RunIdentity>>,
}

/// A step an earlier attempt of a resumed run finished.
#[derive(Clone, Debug, PartialEq)]
pub struct Earlier {
    /// Its outputs from the journal (typed); secrets in them were never written.
    pub outputs: Option<Value>,
    /// When it finished (RFC 3339).
    pub at: String,
    /// Its outputs were journaled but cannot be read back: later steps that read them fail.
    pub unreadable: bool,
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Every step passed (or failed with `on_failure = continue`).
    Ok,
    /// A step failed and stopped the run.
    Failed,
    /// Ctrl-C.
    Interrupted,
}

impl RunStatus {
    /// The process exit code: 0 ok, 1 a step failed, 130 interrupted (128 + SIGINT).
    pub fn exit_code(self) -> i32 {
        self.exit_code_after(None)
    }

    /// The exit code when `signal` (`SIGTERM`, `SIGHUP`, `SIGINT`) interrupted the run:
    /// 128 + its number (143, 129, 130).
    pub fn exit_code_after(self, signal: Option<&str>) -> i32 {
        match (self, signal) {
            (RunStatus::Ok, _) => 0,
            (RunStatus::Failed, _) => 1,
            (RunStatus::Interrupted, Some("SIGTERM")) => 143,
            (RunStatus::Interrupted, Some("SIGHUP")) => 129,
            (RunStatus::Interrupted, _) => 130,
        }
    }

    /// `ok`, `failed`, `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// A step that failed, for the closing diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    /// Plan id.
    pub id: String,
    /// Label.
    pub label: String,
    /// `step-failed`, `expectation-failed`, `step-timed-out`, ...
    pub code: Code,
    /// What happened (redacted).
    pub message: String,
    /// Where: the step, or the failed `expect`.
    pub loc: Loc,
    /// It failed with `on_failure = continue`.
    pub continued: bool,
    /// It failed inside a handler.
    pub in_handler: bool,
}

impl StepFailure {
    /// The failure as a diagnostic at the step (or the failed `expect`).
    pub fn diagnostic(&self) -> lang::Diagnostic {
        lang::diag::run::step_failed(
            self.code,
            self.loc.span,
            &self.id,
            &self.label,
            &self.message,
        )
        .in_file(self.loc.file)
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// How it ended.
    pub status: RunStatus,
    /// Failed steps, in order.
    pub failures: Vec<StepFailure>,
    /// Wall time.
    pub duration: Duration,
    /// Steps that ran (attempted), recorded or were skipped, by status.
    pub counts: HashMap<&'static str, usize>,
}

/// Control flow after a node.
#[derive(Clone, Debug)]
enum Flow {
    Ok,
    Failed(Failure),
    Interrupted,
}

/// The failure a handler sees as `failure`.
#[derive(Clone, Debug)]
struct Failure {
    id: String,
    step: String,
    message: String,
}

impl Failure {
    fn value(&self) -> Value {
        let mut map = indexmap::IndexMap::new();
        map.insert("step".to_string(), Value::str(self.step.clone()));
        map.insert("message".to_string(), Value::str(self.message.clone()));
        map.insert("id".to_string(), Value::str(self.id.clone()));
        Value::Map(map)
    }
}

/// What became of a step, for output references.
#[derive(Clone, Debug)]
enum Slot {
    Done(Value),
    NotRun(String),
}

/// Runs a plan to the end (or until interrupted) and reports every event to `sink`.
pub async fn run(
    plan: &Plan,
    registry: &Registry,
    options: RunOptions,
    sink: EventSink,
    cancel: CancellationToken,
) -> RunResult {
    let redactor = Arc::new(Redactor::new(options.secrets.values().map(String::as_str)));
    sink.set_redactor((*redactor).clone());
    let secrets = options
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::str(v.clone()).into_secret()))
        .collect();
    let exec = Executor {
        plan,
        registry,
        options: &options,
        sink: sink.clone(),
        cancel,
        handler_token: CancellationToken::new(),
        secrets,
        redactor,
        slots: Mutex::new(HashMap::new()),
        failures: Mutex::new(Vec::new()),
        counts: Mutex::new(HashMap::new()),
        rng: Mutex::new(fastrand::Rng::new()),
        labels: Mutex::new(HashMap::new()),
    };
    exec.run_all().await
}

struct Executor<'a> {
    plan: &'a Plan,
    registry: &'a Registry,
    options: &'a RunOptions,
    sink: EventSink,
    cancel: CancellationToken,
    /// Handlers run with this token: the first Ctrl-C does not stop them.
    handler_token: CancellationToken,
    secrets: HashMap<String, Value>,
    redactor: Arc<Redactor>,
    slots: Mutex<HashMap<String, Slot>>,
    failures: Mutex<Vec<StepFailure>>,
    counts: Mutex<HashMap<&'static str, usize>>,
    rng: Mutex<fastrand::Rng>,
    /// Step labels with the values resolved at run time (secrets redacted), by id.
    labels: Mutex<HashMap<String, String>>,
}

/// Where a block runs: main path or handler, and the failure being handled.
#[derive(Clone, Copy)]
struct Phase<'p> {
    token: &'p CancellationToken,
    failure: Option<&'p Failure>,
    handler: bool,
}

impl<'a> Executor<'a> {
    async fn run_all(&self) -> RunResult {
        let started = Instant::now();
        let plan = self.plan;
        self.sink.emit(Event::RunStarted {
            version: crate::event::EVENTS_VERSION,
            ops_version: plan.ops_version.clone(),
            runbook: plan.runbook.id.clone(),
            title: plan.runbook.title.clone(),
            file: plan.runbook.file.clone(),
            hash: plan.hash.clone(),
            dry_run: matches!(self.options.mode, Mode::DryRun { .. }),
            steps: plan.steps().len(),
            outside_window: self.options.outside_window.clone(),
        });
        let main = Phase {
            token: &self.cancel,
            failure: None,
            handler: false,
        };
        let flow = self.sequence(&plan.body, main).await;
        let failure = match &flow {
            Flow::Failed(f) => Some(f.clone()),
            Flow::Interrupted => Some(Failure {
                id: String::new(),
                step: String::from("(interrupted)"),
                message: format!("the run was interrupted ({})", self.interruption()),
            }),
            Flow::Ok => None,
        };
        let handled = self
            .handlers("", &plan.on_failure, &plan.always, failure.as_ref())
            .await;
        // A failing handler fails a run that had succeeded.
        let flow = match (flow, handled) {
            (Flow::Ok, Flow::Failed(f)) => Flow::Failed(f),
            (flow, _) => flow,
        };
        let status = match flow {
            Flow::Ok => RunStatus::Ok,
            Flow::Failed(_) => RunStatus::Failed,
            Flow::Interrupted => RunStatus::Interrupted,
        };
        let failures = self.failures.lock().map(|f| f.clone()).unwrap_or_default();
        self.sink.emit(Event::RunFinished {
            status: status.as_str().to_string(),
            duration_ms: started.elapsed().as_millis() as u64,
            failed_step: failures.iter().find(|f| !f.continued).map(|f| f.id.clone()),
            exit_code: status.exit_code_after(self.options.interrupted_by.get().copied()),
        });
        RunResult {
            status,
            failures,
            duration: started.elapsed(),
            counts: self.counts.lock().map(|c| c.clone()).unwrap_or_default(),
        }
    }

    /// Runs handlers of a block: `on failure` when it failed, then `always`.
    async fn handlers(
        &self,
        id: &str,
        on_failure: &[crate::plan::Node],
        always: &[crate::plan::Node],
        failure: Option<&Failure>,
    ) -> Flow {
        let phase = Phase {
            token: &self.handler_token,
            failure,
            handler: true,
        };
        let mut result = Flow::Ok;
        if let Some(f) = failure {
            if !on_failure.is_empty() {
                self.group_event(format!("{id}f"), "on failure", &f.step);
                let flow = self.sequence(on_failure, phase).await;
                self.group_done(format!("{id}f"), &flow);
                result = flow;
            }
        } else {
            self.skip_nodes(on_failure, "not run: nothing failed");
        }
        if !always.is_empty() {
            self.group_event(format!("{id}a"), "always", "");
            let flow = self.sequence(always, phase).await;
            self.group_done(format!("{id}a"), &flow);
            if matches!(result, Flow::Ok) {
                result = flow;
            }
        }
        result
    }

    fn group_event(&self, id: String, kind: &str, title: &str) {
        self.sink.emit(Event::GroupStarted {
            id,
            kind: kind.to_string(),
            title: title.to_string(),
        });
    }

    fn group_done(&self, id: String, flow: &Flow) {
        let status = match flow {
            Flow::Ok => Status::Ok,
            Flow::Failed(_) => Status::Failed,
            Flow::Interrupted => Status::Cancelled,
        };
        self.sink.emit(Event::GroupFinished { id, status });
    }

    async fn sequence(&self, nodes: &'a [Node], phase: Phase<'_>) -> Flow {
        for (i, node) in nodes.iter().enumerate() {
            if phase.token.is_cancelled() {
                self.skip_nodes(&nodes[i..], "not started: the run was interrupted");
                return Flow::Interrupted;
            }
            match self.node(node, phase).await {
                Flow::Ok => {}
                stop => {
                    let reason = match &stop {
                        Flow::Interrupted => "not started: the run was interrupted".to_string(),
                        Flow::Failed(f) => format!("not reached: step {} failed", f.id),
                        Flow::Ok => String::new(),
                    };
                    self.skip_nodes(&nodes[i + 1..], &reason);
                    return stop;
                }
            }
        }
        Flow::Ok
    }

    fn node<'s>(&'s self, node: &'a Node, phase: Phase<'s>) -> BoxFuture<'s, Flow>
    where
        'a: 's,
    {
        Box::pin(async move {
            match node {
                Node::Step(step) => self.step(step, phase).await,
                Node::Group(group) => self.group(group, phase).await,
            }
        })
    }

    async fn group(&self, group: &'a Group, phase: Phase<'_>) -> Flow {
        if !group.children.is_empty() && all_before_start(&group.children) {
            self.skip_nodes(&group.children, "before --start-at");
            return Flow::Ok;
        }
        if let Some(when) = &group.when {
            let resolver = self.resolver(phase.failure);
            let scope = first_scope(&group.children);
            let holds = match scope {
                Some(scope) => crate::eval::eval_known(&when.expr, scope, &resolver)
                    .map(|v| v.as_bool() == Some(true)),
                None => Ok(false),
            };
            match holds {
                Ok(true) => {}
                Ok(false) => {
                    self.skip_nodes(
                        &group.children,
                        &format!("stage skipped: `when {}` is false", when.text),
                    );
                    return Flow::Ok;
                }
                Err(e) if matches!(self.options.mode, Mode::DryRun { .. }) => {
                    self.skip_nodes(
                        &group.children,
                        &format!(
                            "not run in the dry-run: `when {}` is not known yet ({})",
                            when.text, e.message
                        ),
                    );
                    return Flow::Ok;
                }
                Err(e) => {
                    self.skip_nodes(
                        &group.children,
                        &format!("stage skipped: `when {}` failed: {}", when.text, e.message),
                    );
                    return Flow::Failed(Failure {
                        id: group.id.clone(),
                        step: group.title.clone(),
                        message: e.message,
                    });
                }
            }
        }
        self.group_event(group.id.clone(), group.kind.as_str(), &group.title);
        let flow = match group.kind {
            GroupKind::Parallel => self.parallel(group, phase).await,
            GroupKind::Stage | GroupKind::Call | GroupKind::Sequence => {
                self.sequence(&group.children, phase).await
            }
        };
        let failure = match &flow {
            Flow::Failed(f) => Some(f.clone()),
            Flow::Interrupted => Some(Failure {
                id: group.id.clone(),
                step: String::from("(interrupted)"),
                message: format!("the run was interrupted ({})", self.interruption()),
            }),
            Flow::Ok => None,
        };
        let mut flow = flow;
        if !group.on_failure.is_empty() || !group.always.is_empty() {
            let handled = self
                .handlers(
                    &format!("{}.", group.id),
                    &group.on_failure,
                    &group.always,
                    failure.as_ref(),
                )
                .await;
            if let (Flow::Ok, Flow::Failed(f)) = (&flow, handled) {
                flow = Flow::Failed(f);
            }
        }
        self.group_done(group.id.clone(), &flow);
        match flow {
            Flow::Failed(_)
                if group.kind == GroupKind::Call
                    && group.on_failure_mode == OnFailure::Continue =>
            {
                // The call's `on_failure = continue` covers the callee's failures: the
                // run goes on, and they are reported as continued, not as the run's.
                let prefix = format!("{}.", group.id);
                if let Ok(mut failures) = self.failures.lock() {
                    for f in failures.iter_mut().filter(|f| f.id.starts_with(&prefix)) {
                        f.continued = true;
                    }
                }
                Flow::Ok
            }
            other => other,
        }
    }

    async fn parallel(&self, group: &'a Group, phase: Phase<'_>) -> Flow {
        let limit = group.limit.unwrap_or(group.children.len()).max(1);
        let mut pending = group.children.iter().enumerate();
        let mut running = FuturesUnordered::new();
        let mut stop: Option<Flow> = None;
        let mut started = 0usize;
        loop {
            while running.len() < limit && stop.is_none() && !phase.token.is_cancelled() {
                match pending.next() {
                    Some((_, node)) => {
                        started += 1;
                        running.push(self.node(node, phase));
                    }
                    None => break,
                }
            }
            match running.next().await {
                None => break,
                Some(Flow::Ok) => {}
                Some(other) => {
                    if stop.is_none() {
                        stop = Some(other);
                    }
                }
            }
        }
        let rest = &group.children[started..];
        if phase.token.is_cancelled() && stop.is_none() {
            stop = Some(Flow::Interrupted);
        }
        match &stop {
            Some(Flow::Failed(f)) => {
                self.skip_nodes(rest, &format!("not started: branch {} failed", f.id))
            }
            Some(_) => self.skip_nodes(rest, "not started: the run was interrupted"),
            None => {}
        }
        stop.unwrap_or(Flow::Ok)
    }

    /// Reports every step under `nodes` as not run.
    fn skip_nodes(&self, nodes: &[Node], reason: &str) {
        let mut steps = Vec::new();
        for node in nodes {
            node.steps(&mut steps);
        }
        for step in steps {
            let why = format!("step {} did not run ({reason})", step.id);
            self.not_run(step, Status::Skipped, reason.to_string(), why);
        }
    }

    /// Reports a step that did not run (skipped or recorded) and why it has no outputs.
    fn not_run(&self, step: &PlannedStep, status: Status, message: String, why: impl Into<String>) {
        self.finish(step, status, Duration::ZERO, 0, Some(message), None);
        self.set_slot(&step.id, Slot::NotRun(why.into()));
    }

    fn set_slot(&self, id: &str, slot: Slot) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.insert(id.to_string(), slot);
        }
    }

    fn resolver<'r>(&'r self, failure: Option<&Failure>) -> RunResolver<'r> {
        RunResolver {
            secrets: &self.secrets,
            slots: &self.slots,
            failure: failure.map(Failure::value),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        step: &PlannedStep,
        status: Status,
        duration: Duration,
        attempts: u32,
        message: Option<String>,
        outputs: Option<&Value>,
    ) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(status.as_str()).or_default() += 1;
        }
        let label = self
            .labels
            .lock()
            .ok()
            .and_then(|l| l.get(&step.id).cloned())
            .unwrap_or_else(|| step.label.clone());
        self.sink.emit(Event::StepFinished {
            id: step.id.clone(),
            label,
            status,
            duration_ms: duration.as_millis() as u64,
            attempts,
            message,
            location: step.loc.to_string(),
            outputs: outputs.map(|o| o.to_json(false)),
            // Only a real run has a journal to keep them for resume.
            values: outputs
                .filter(|_| self.options.mode == Mode::Run)
                .and_then(|o| serde_json::to_value(o).ok()),
        });
    }

    fn fail(&self, step: &PlannedStep, code: Code, message: &str, loc: &Loc, phase: Phase<'_>) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.push(StepFailure {
                id: step.id.clone(),
                label: self.redactor.clean(&step.label),
                code,
                message: self.redactor.clean(message),
                loc: loc.clone(),
                continued: step.on_failure == OnFailure::Continue,
                in_handler: phase.handler,
            });
        }
    }

    /// What interrupted the run: `SIGTERM`, `SIGHUP`, or `Ctrl-C`.
    fn interruption(&self) -> &'static str {
        self.options
            .interrupted_by
            .get()
            .copied()
            .unwrap_or("Ctrl-C")
    }

    /// A jitter fraction in [0, 1).
    fn random(&self) -> f64 {
        // Enough for spreading retries, not for anything secret.
        self.rng.lock().map_or(0.5, |mut rng| rng.f64())
    }
}

fn all_before_start(nodes: &[Node]) -> bool {
    let mut steps = Vec::new();
    for n in nodes {
        n.steps(&mut steps);
    }
    !steps.is_empty() && steps.iter().all(|s| s.before_start)
}

fn first_scope(nodes: &[Node]) -> Option<&crate::eval::Scope> {
    let mut steps = Vec::new();
    for n in nodes {
        n.steps(&mut steps);
    }
    steps.first().map(|s| s.scope.as_ref())
}

/// True for steps a dry-run records instead of running.
fn recorded(effect: Effect, mode: Mode) -> bool {
    match mode {
        Mode::Run => false,
        Mode::DryRun { live_readonly } => effect != Effect::ReadOnly || !live_readonly,
    }
}
