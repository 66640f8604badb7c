//! The plan: a checked runbook resolved against its parameters. It numbers every step
//! (1, 2.1, 2.3.1; handlers `f1`, `a1`, `2.f1`), expands `for` loops, resolves each
//! value to known / unknown-until-a-step-runs / secret, states each step's effect and
//! what it would change, bounds the worst-case duration, and lists preflight findings.
//!
//! The executor runs the plan itself, so what `ops plan` shows is what `ops run` does.

pub mod params;
mod planner;
pub mod saved;
mod timing;

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use lang::ast::{CmpOp, Expr, Span};
use lang::schema::{Effect, Variant};
use lang::source::FileId;

pub use planner::{Environment, PlanRequest, content_hash, input_view, plan};
pub use timing::Backoff;

use crate::eval::{Scope, Unknown};
use crate::value::Value;

/// Version of the plan JSON schema; bumped on any incompatible change.
pub const PLAN_VERSION: u32 = 1;

/// Where something is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file.
    pub file: FileId,
    /// Its display path.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// The span in the file.
    pub span: Span,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

/// A value as the plan knows it.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The expression (evaluated again at run time when not known now).
    pub expr: Option<Expr>,
    /// The expression as written (empty for schema defaults).
    pub text: String,
    /// Known, or what it waits for.
    pub state: PlannedState,
    /// It is the schema's default, not written in the runbook.
    pub default: bool,
}

/// Whether a planned value is known.
#[derive(Clone, Debug, PartialEq)]
pub enum PlannedState {
    /// Known now (may itself be a secret, which is then shown redacted).
    Known(Value),
    /// Known only when the run gets there.
    Unknown(Unknown),
}

impl Planned {
    /// A known value.
    pub fn known(value: Value, text: impl Into<String>) -> Planned {
        Planned {
            expr: None,
            text: text.into(),
            state: PlannedState::Known(value),
            default: false,
        }
    }

    /// The value if known.
    pub fn value(&self) -> Option<&Value> {
        match &self.state {
            PlannedState::Known(v) => Some(v),
            PlannedState::Unknown(_) => None,
        }
    }

    /// How a plan shows it: the literal, `(secret)` or `(known after NAME)`.
    pub fn render(&self) -> String {
        match &self.state {
            PlannedState::Known(v) => v.render(),
            PlannedState::Unknown(u) if u.secret => crate::value::REDACTED.to_string(),
            PlannedState::Unknown(u) => {
                let names: Vec<&str> = u.after.iter().map(String::as_str).collect();
                if self.text.is_empty() {
                    format!("(known after {})", names.join(", "))
                } else {
                    format!("{} (known after {})", self.text, names.join(", "))
                }
            }
        }
    }

    /// Short form for labels: the literal, `(secret)`, or the expression as written.
    pub fn short(&self) -> String {
        match &self.state {
            PlannedState::Unknown(u) if !u.secret && !self.text.is_empty() => self.text.clone(),
            _ => self.render(),
        }
    }

    /// True when the value is or will be secret.
    pub fn is_secret(&self) -> bool {
        match &self.state {
            PlannedState::Known(v) => v.is_secret(),
            PlannedState::Unknown(u) => u.secret,
        }
    }
}

/// `on_failure = continue|abort`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop the enclosing stage and runbook (default).
    Abort,
    /// Record the failure and go on.
    Continue,
}

/// `retry N every D backoff B max D jitter`, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Retries after the first attempt.
    pub count: u32,
    /// Base delay.
    pub every: Duration,
    /// How the delay grows.
    pub backoff: Backoff,
    /// Upper bound on one delay.
    pub max: Option<Duration>,
    /// Whether delays are jittered (each delay is between half and all of its value).
    pub jitter: bool,
}

/// One `expect`, planned.
#[derive(Clone, Debug)]
pub struct PlannedExpect {
    /// `status`, `header`, `json`, ...
    pub subject: String,
    /// The subject's argument.
    pub arg: Option<Planned>,
    /// The comparison.
    pub op: CmpOp,
    /// The expected value.
    pub value: Planned,
    /// The `expect` as written.
    pub text: String,
    /// Where.
    pub loc: Loc,
}

/// A `when` condition.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The condition.
    pub expr: Expr,
    /// As written.
    pub text: String,
    /// Known true/false now, or unknown.
    pub state: PlannedState,
    /// Names visible where it is written.
    pub scope: Arc<Scope>,
}

/// One step of the plan.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    /// Plan id (`2.1`).
    pub id: String,
    /// Kind word.
    pub kind: &'static str,
    /// Its schema variant.
    pub variant: &'static Variant,
    /// `as NAME`.
    pub name: Option<String>,
    /// `probe http "..."`, for humans.
    pub label: String,
    /// The positional target.
    pub target: Option<Planned>,
    /// Attributes, written ones first, then defaults.
    pub attrs: IndexMap<String, Planned>,
    /// Expectations.
    pub expects: Vec<PlannedExpect>,
    /// `when`.
    pub when: Option<Condition>,
    /// `retry`.
    pub retry: Option<RetrySpec>,
    /// Time limit of one attempt (explicit or the kind's default).
    pub timeout: Option<Duration>,
    /// `on_failure`.
    pub on_failure: OnFailure,
    /// What it does to the world.
    pub effect: Effect,
    /// What it would change, in one line.
    pub change: String,
    /// Further lines of what it would change (per service of a `compose up`).
    pub details: Vec<String>,
    /// Its worst-case duration (attempts, timeouts and retry delays).
    pub worst_case: Duration,
    /// Where it is written.
    pub loc: Loc,
    /// `for` loop bindings of this iteration (`host = "a"`).
    pub iteration: Option<String>,
    /// The read-only step polled by `wait until`.
    pub nested: Option<Box<PlannedStep>>,
    /// `description`.
    pub description: Option<String>,
    /// Not run because `--start-at` begins later.
    pub before_start: bool,
    /// The resources it reads and writes (the plan's world model).
    pub touches: crate::world::Touches,
    /// The latest earlier step that writes what this step reads or writes: a read-only
    /// step after it checks the world that step leaves, not today's.
    pub after: Option<String>,
    /// The latest earlier step that changes what the plan cannot name (an `exec`), which
    /// may change what this step sees (a check, or a mutating step's read-only look).
    pub opaque_after: Option<String>,
    /// Names visible to the step (not serialised).
    pub scope: Arc<Scope>,
}

/// What kind of group a [`Group`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// `stage "title"`.
    Stage,
    /// `parallel limit N`.
    Parallel,
    /// `call "other.rb.ops"`: the callee's steps.
    Call,
    /// One iteration of a `for` loop inside `parallel`: a branch whose steps run in order.
    Sequence,
}

impl GroupKind {
    /// `stage`, `parallel` or `call`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Stage => "stage",
            GroupKind::Parallel => "parallel",
            GroupKind::Call => "call",
            GroupKind::Sequence => "sequence",
        }
    }
}

/// A stage, parallel group or called runbook.
#[derive(Clone, Debug)]
pub struct Group {
    /// Plan id.
    pub id: String,
    /// Which kind.
    pub kind: GroupKind,
    /// Stage title, callee path, or `parallel`.
    pub title: String,
    /// `parallel limit N`.
    pub limit: Option<usize>,
    /// A stage's `when`.
    pub when: Option<Condition>,
    /// Its nodes.
    pub children: Vec<Node>,
    /// Its `on failure` handler.
    pub on_failure: Vec<Node>,
    /// Its `always` handler.
    pub always: Vec<Node>,
    /// Worst case on the success path: the body plus its `always` handler.
    pub worst_case: Duration,
    /// Worst case on the failure path: the body up to its failing node, then its `on
    /// failure` and `always` handlers.
    pub worst_failure: Duration,
    /// Where it is written.
    pub loc: Loc,
    /// `for` loop bindings of this iteration.
    pub iteration: Option<String>,
    /// For a call: the parameters passed.
    pub params: IndexMap<String, Planned>,
    /// For a call: `on_failure`.
    pub on_failure_mode: OnFailure,
    /// For a call: its effect (mutating).
    pub effect: Effect,
    /// For a call: `as NAME`.
    pub name: Option<String>,
    /// For a call: the callee's runbook id.
    pub callee: Option<String>,
}

impl Group {
    /// A group with no handlers, condition, limit or call details; finish it with
    /// [`Group::sealed`] once its fields are set.
    pub fn new(id: String, kind: GroupKind, title: String, loc: Loc, children: Vec<Node>) -> Group {
        Group {
            id,
            kind,
            title,
            limit: None,
            when: None,
            children,
            on_failure: Vec::new(),
            always: Vec::new(),
            worst_case: Duration::ZERO,
            worst_failure: Duration::ZERO,
            loc,
            iteration: None,
            params: IndexMap::new(),
            on_failure_mode: OnFailure::Abort,
            effect: Effect::ReadOnly,
            name: None,
            callee: None,
        }
    }

    /// The group with its worst cases computed from its children, limit and handlers.
    pub fn sealed(mut self) -> Group {
        (self.worst_case, self.worst_failure) = timing::group(&self);
        self
    }
}

/// One node of the plan tree.
#[derive(Clone, Debug)]
pub enum Node {
    /// A step.
    Step(Box<PlannedStep>),
    /// A stage, parallel group or call.
    Group(Box<Group>),
}

impl Node {
    /// The node's plan id.
    pub fn id(&self) -> &str {
        match self {
            Node::Step(s) => &s.id,
            Node::Group(g) => &g.id,
        }
    }

    /// Every step in this subtree (handlers included), depth first.
    pub fn steps<'a>(&'a self, out: &mut Vec<&'a PlannedStep>) {
        match self {
            Node::Step(s) => out.push(s),
            Node::Group(g) => {
                for n in g.children.iter().chain(&g.on_failure).chain(&g.always) {
                    n.steps(out);
                }
            }
        }
    }
}

/// A parameter's value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamValue {
    /// Name.
    pub name: String,
    /// Value.
    pub value: Value,
    /// `default`, `--set`, `--vars-file`, `env OPS_VAR_x`.
    pub source: String,
}

/// A declared secret and whether it is available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretPlan {
    /// Its name.
    pub name: String,
    /// Where the value is read from.
    pub source: lang::hir::SecretSource,
    /// Whether the value could be read (the value itself never enters the plan).
    pub present: bool,
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingLevel {
    /// Informational.
    Info,
    /// The run may still work; read it.
    Warning,
    /// The run cannot start.
    Error,
}

impl FindingLevel {
    /// `info`, `warning`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingLevel::Info => "info",
            FindingLevel::Warning => "warning",
            FindingLevel::Error => "error",
        }
    }
}

/// A preflight or budget finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Severity.
    pub level: FindingLevel,
    /// Stable code (`OPS3010`).
    pub code: lang::Code,
    /// The step it is about, if any.
    pub step: Option<String>,
    /// What was found.
    pub message: String,
}

/// The runbook's identity and limits.
#[derive(Clone, Debug, PartialEq)]
pub struct RunbookInfo {
    /// `runbook "id"`.
    pub id: String,
    /// `title`.
    pub title: String,
    /// `owner`.
    pub owner: Option<String>,
    /// The file as given.
    pub file: String,
    /// `budget`.
    pub budget: Option<Duration>,
    /// `window`, as written.
    pub window: Option<String>,
    /// The window's length.
    pub window_length: Option<Duration>,
    /// Whether the moment the plan was made for is inside the window, and until when (or
    /// when it next opens).
    pub window_state: Option<lang::check::WindowState>,
    /// The window's time zone name, as the plan shows moments.
    pub window_zone: String,
    /// `lock`: the named locks a run holds besides the runbook's own.
    pub locks: Vec<String>,
}

impl RunbookInfo {
    /// The window line of a plan: `outside the window; next opens Sat 2026-12-05 02:00
    /// UTC, in 3d6h` or `open until Sat 2026-12-05 06:00 UTC (45m left)`.
    pub fn window_now(&self) -> Option<String> {
        let zone = &self.window_zone;
        Some(match self.window_state.as_ref()? {
            lang::check::WindowState::Open { closes, left } => format!(
                "open now, until {} ({} left)",
                lang::check::moment(closes, zone),
                lang::fmt::duration(*left)
            ),
            lang::check::WindowState::Closed { opens, wait } => format!(
                "outside the window; next opens {}, in {}",
                lang::check::moment(opens, zone),
                lang::fmt::duration(*wait)
            ),
        })
    }

    /// True when the runbook has a window and the plan's moment is outside it.
    pub fn outside_window(&self) -> bool {
        matches!(
            self.window_state,
            Some(lang::check::WindowState::Closed { .. })
        )
    }
}

/// Worst-case durations.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct WorstCase {
    /// Every step succeeds (after its retries): the main path plus every `always` handler.
    pub success: Duration,
    /// A step fails: the main path up to it, then the `on failure` and `always` handlers
    /// of every stage around it and of the runbook.
    pub failure: Duration,
    /// Interactive steps whose operator time is not counted.
    pub interactive: usize,
    /// Their plan ids, main path first.
    pub operator_steps: Vec<String>,
}

/// A resolved runbook, ready to show or run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// `ops` version that made it.
    pub ops_version: String,
    /// The runbook.
    pub runbook: RunbookInfo,
    /// sha256 over the runbook and every file it reaches.
    pub hash: String,
    /// Parameters with their values.
    pub params: Vec<ParamValue>,
    /// Secrets and whether they are present.
    pub secrets: Vec<SecretPlan>,
    /// The main path.
    pub body: Vec<Node>,
    /// Runbook-level `on failure`.
    pub on_failure: Vec<Node>,
    /// Runbook-level `always`.
    pub always: Vec<Node>,
    /// Worst-case durations.
    pub worst_case: WorstCase,
    /// Preflight and budget findings.
    pub findings: Vec<Finding>,
    /// `--start-at`.
    pub start_at: Option<String>,
}

impl Plan {
    /// Every step, main path then handlers.
    pub fn steps(&self) -> Vec<&PlannedStep> {
        let mut out = Vec::new();
        for node in self.body.iter().chain(&self.on_failure).chain(&self.always) {
            node.steps(&mut out);
        }
        out
    }

    /// True when a preflight error prevents the run.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == FindingLevel::Error)
    }
}
