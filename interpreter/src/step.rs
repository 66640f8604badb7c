//! The Step trait and the registry the CLI fills with the stdlib's step kinds.
//!
//! A step kind gets its resolved inputs ([`StepInput`]) and a [`StepContext`]
//! (cancellation, clock, event sink, secrets, operator prompts) and returns typed
//! outputs or a [`StepError`]. What it changes (its effect), its attributes and outputs
//! are declared once, in its schema; the kind adds behaviour: running, what a plan shows
//! of it ([`StepPlan`], one call), expectation subjects and a read-only inspection.
//! A kind is identified by its schema variant (a `static`), never by strings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use lang::schema::{Schemas, Variant};
use tokio_util::sync::CancellationToken;

use crate::event::EventSink;
use crate::redact::Redactor;
use crate::value::Value;

/// A step's outputs by name.
pub type Outputs = IndexMap<String, Value>;

/// A step's inputs with every value resolved (defaults applied).
#[derive(Clone, Debug)]
pub struct StepInput {
    /// The schema variant they were checked against: every attribute a kind asks for must
    /// be one of its attributes (a misspelled name fails the tests, never reads `None`).
    pub variant: &'static Variant,
    /// The positional target.
    pub target: Option<Value>,
    /// Attributes by name, defaults included.
    pub(crate) attrs: IndexMap<String, Value>,
    /// The time limit of one attempt.
    pub timeout: Option<Duration>,
    /// Subjects the runbook's `expect`s check (a command with `expect exit` may exit
    /// non-zero without failing by itself).
    pub expected: Vec<String>,
}

/// Fails (in debug builds: every test) when `name` is not an attribute of `variant`.
fn declared(variant: Option<&'static Variant>, name: &str) {
    if let Some(v) = variant {
        debug_assert!(
            v.attributes.iter().any(|a| a.name == name),
            "a step kind asked for `{name}`, which `{}` does not declare",
            v.name.unwrap_or("(default variant)")
        );
    }
}

impl StepInput {
    /// An attribute's value (`None` when unset and without default).
    pub fn attr(&self, name: &str) -> Option<&Value> {
        declared(Some(self.variant), name);
        self.attrs.get(name).filter(|v| !matches!(v, Value::Null))
    }

    /// An attribute that some variants of the kind declare and others do not (code shared
    /// by `compose up` and `compose ps`): `None` where this variant has no such attribute.
    pub fn optional(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name).filter(|v| !matches!(v, Value::Null))
    }

    /// A string attribute.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.attr(name).and_then(Value::as_str)
    }

    /// The target as text.
    pub fn target_str(&self) -> Option<&str> {
        self.target.as_ref().and_then(Value::as_str)
    }
}

/// How a step's plan inputs look before the run: each value rendered, or why unknown.
#[derive(Clone, Debug, Default)]
pub struct InputView {
    /// The schema variant (attributes asked for must be its own).
    pub variant: Option<&'static Variant>,
    /// The target, rendered.
    pub target: Option<String>,
    /// Attributes, rendered.
    pub(crate) attrs: IndexMap<String, String>,
    /// Known target value, when known and not secret.
    pub target_value: Option<Value>,
    /// Known attribute values (not secret).
    pub(crate) values: IndexMap<String, Value>,
    /// Environment variables that hold the runbook's secrets (`secret x { env = "X" }`).
    pub secret_vars: Vec<String>,
    /// Recognises the run's secret values in what a kind reads while planning (a value
    /// interpolated into a compose file); never printed.
    pub secrets: Redactor,
    /// What earlier steps of the run will have done to the resources this step touches.
    pub world: Arc<crate::world::World>,
    /// The target and attributes as written, with the plan ids of the steps an unknown
    /// one waits for (for [`InputView::reference`]).
    pub(crate) written: IndexMap<String, (String, Vec<String>)>,
}

/// What a target or attribute refers to, for naming the resource a step touches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ref<'a> {
    /// A value known now.
    Value(&'a Value),
    /// A secret, by the expression that reads it (`SCRATCH_URL`): two steps that write the
    /// same expression name the same resource.
    Secret(&'a str),
    /// A value known only after these steps run (`dump.path` after `1.2`).
    After(&'a [String]),
}

/// The key of the target in [`InputView::written`].
const TARGET: &str = "\u{0}target";

impl InputView {
    /// An attribute, rendered (`(secret)`, `(known after x)`, or the literal).
    pub fn attr(&self, name: &str) -> &str {
        self.rendered(name).unwrap_or("(unset)")
    }

    /// An attribute, rendered, when the step has it (written or defaulted).
    pub fn rendered(&self, name: &str) -> Option<&str> {
        declared(self.variant, name);
        self.attrs.get(name).map(String::as_str)
    }

    /// An attribute's value, when known now and not secret.
    pub fn value(&self, name: &str) -> Option<&Value> {
        declared(self.variant, name);
        self.values.get(name)
    }

    /// An attribute's value that only some variants of the kind declare (see
    /// [`StepInput::optional`]).
    pub fn optional(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// The target, rendered.
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or("(none)")
    }

    /// The earlier steps of the run that write `resource`, oldest first.
    pub fn priors(&self, resource: &crate::world::Resource) -> Vec<crate::world::Prior> {
        self.world.priors(resource)
    }

    /// What the target (`None`) or an attribute refers to.
    pub fn reference(&self, name: Option<&str>) -> Option<Ref<'_>> {
        let value = match name {
            None => self.target_value.as_ref(),
            Some(n) => {
                declared(self.variant, n);
                self.values.get(n)
            }
        };
        if let Some(v) = value {
            return Some(Ref::Value(v));
        }
        let (text, after) = self.written.get(name.unwrap_or(TARGET))?;
        if !after.is_empty() {
            return Some(Ref::After(after));
        }
        let secret = match name {
            None => self.target.as_deref() == Some(crate::value::REDACTED),
            Some(n) => self.attrs.get(n).map(String::as_str) == Some(crate::value::REDACTED),
        };
        (secret && !text.is_empty()).then_some(Ref::Secret(text))
    }

    /// Records how the target (`None`) or an attribute is written, and the steps it
    /// waits for (the planner's job).
    pub(crate) fn write_down(&mut self, name: Option<&str>, text: &str, after: Vec<String>) {
        self.written.insert(
            name.unwrap_or(TARGET).to_string(),
            (text.to_string(), after),
        );
    }
}

/// A step attempt that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    /// What happened, specific enough to act on.
    pub message: String,
    /// Whether another attempt can help (a refused connection yes; bad input no).
    pub retryable: bool,
    /// A specific diagnostic code (default: `OPS3030 step-failed`).
    pub code: Option<lang::Code>,
    /// The earliest time the next attempt may start, when the other side said so (an
    /// HTTP 429 or 503 with `Retry-After`); the executor waits at least this long.
    pub retry_after: Option<Duration>,
}

impl StepError {
    /// A failure that a retry may cure.
    pub fn new(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            retryable: true,
            code: None,
            retry_after: None,
        }
    }

    /// A failure no retry can cure (invalid input, operator said no).
    pub fn fatal(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            retryable: false,
            code: None,
            retry_after: None,
        }
    }

    /// Asks the executor to wait at least `delay` before the next attempt.
    pub fn retry_after(mut self, delay: Duration) -> StepError {
        self.retry_after = Some(delay);
        self
    }

    /// Sets the diagnostic code.
    pub fn with_code(mut self, code: lang::Code) -> StepError {
        self.code = Some(code);
        self
    }
}

/// A problem a step kind finds before the run (a plan preflight finding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preflight {
    /// An error stops the run; otherwise a warning to read.
    pub error: bool,
    /// The diagnostic code.
    pub code: lang::Code,
    /// What is wrong, specific enough to act on.
    pub message: String,
}

/// Which prompt a person is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// `confirm`: a yes/no question.
    Confirm,
    /// `manual`: a checklist item to tick when done.
    Manual,
}

/// An operator's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Yes / done, and who answered (`operator` or `--yes`).
    Yes(&'static str),
    /// No / not done.
    No,
}

/// Asks the operator; the CLI supplies a terminal prompter, `--yes`, or a refusal.
pub trait Prompter: Send + Sync {
    /// Asks `text`; an error says why no one can answer.
    fn ask<'a>(&'a self, kind: PromptKind, text: &'a str) -> BoxFuture<'a, Result<Answer, String>>;
}

/// What a running step can use.
#[derive(Clone)]
pub struct StepContext {
    /// The plan id of the step (`2.1`).
    pub id: String,
    /// Cancelled on Ctrl-C: stop promptly and return.
    pub cancel: CancellationToken,
    /// Progress and output lines go here.
    pub events: EventSink,
    /// Every secret value of the run, for redacting text a step produces.
    pub secrets: Arc<Redactor>,
    /// Asks the operator (`confirm`, `manual`).
    pub prompter: Arc<dyn Prompter>,
    /// The journaled run this step is part of (`None` in dry-runs and bare executions).
    pub run: Option<Arc<RunIdentity>>,
}

/// Who and what a real run is, for steps that deal with the world outside the process
/// (`approve` reads approvals for this run and this plan from the state directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIdentity {
    /// The run id.
    pub id: String,
    /// The plan hash approvals name (`sha256:...`).
    pub plan_hash: String,
    /// The state directory.
    pub state: std::path::PathBuf,
    /// The user who started the run.
    pub user: String,
    /// Every name of every user who started or resumed the run: none of them may approve
    /// it.
    pub operators: Vec<String>,
    /// The runbook's repository root (the folder above it that holds `.git`, else its
    /// own folder): relative paths of trust files (`allowed_signers`) are read there.
    pub root: std::path::PathBuf,
}

impl StepContext {
    /// Streams one line of step output (redacted) to the reporters.
    pub fn log(&self, line: impl Into<String>) {
        let mut line = line.into();
        // The sink redacts the run's secrets; a step may know more (`StepContext::secrets`
        // extended with what it found to be secret).
        self.secrets.redact_in_place(&mut line);
        self.events.emit(crate::event::Event::StepLog {
            id: self.id.clone(),
            line,
        });
    }

    /// The clock: tokio's, so tests can pause and advance it.
    pub fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }
}

/// What a plan shows of one step, computed in one call: the change in one line, further
/// lines under it, preflight findings and how long one attempt takes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepPlan {
    /// What the step would do or change, in one line.
    pub change: String,
    /// Further plan lines under the change (per-service actions of a `compose up`),
    /// read-only against the world.
    pub details: Vec<String>,
    /// Problems found without running anything (a file that cannot be read).
    pub findings: Vec<Preflight>,
    /// How long one attempt takes at most when that is not its timeout (`wait 45s`).
    pub duration: Option<Duration>,
    /// The retries the kind makes when the runbook writes no `retry` (a webhook's
    /// `attempts`): the executor runs them, and the worst case counts them.
    pub retry: Option<crate::plan::RetrySpec>,
    /// The resources it reads and writes, and what it leaves there for later steps.
    pub touches: crate::world::Touches,
}

impl StepPlan {
    /// A plan of one line and nothing else.
    pub fn new(change: impl Into<String>) -> StepPlan {
        StepPlan {
            change: change.into(),
            ..StepPlan::default()
        }
    }

    /// Adds each problem as an `OPS3009` preflight error.
    pub fn with_problems(mut self, problems: Vec<String>) -> StepPlan {
        self.findings
            .extend(problems.into_iter().map(|message| Preflight {
                error: true,
                code: lang::Code::PreflightCheck,
                message,
            }));
        self
    }
}

/// One step kind (or one variant of it): the behaviour behind a schema.
pub trait StepKind: Send + Sync {
    /// The schema variant it implements: a `static` of the stdlib, whose address is the
    /// kind's identity in the [`Registry`].
    fn variant(&self) -> &'static Variant;

    /// Runs one attempt.
    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>>;

    /// What a plan shows of the step, from its rendered inputs.
    fn plan(&self, view: &InputView) -> StepPlan;

    /// A read-only look at what a mutating step would act on (the size of a backup's
    /// source, the free space where it goes), taken by `ops plan --preflight` with the
    /// run's secrets; an error means the step would fail. `None`: nothing to look at.
    fn inspect<'a>(
        &'a self,
        _input: &'a StepInput,
        _ctx: &'a StepContext,
    ) -> Option<BoxFuture<'a, Result<String, StepError>>> {
        None
    }

    /// The value an `expect SUBJECT ARG` checks, from the outputs. By default the output
    /// named like the subject, indexed by the argument when one is given.
    fn subject(
        &self,
        outputs: &Outputs,
        subject: &str,
        arg: Option<&Value>,
    ) -> Result<Value, String> {
        let value = outputs
            .get(subject)
            .ok_or_else(|| format!("the step produced no `{subject}`"))?;
        match arg {
            None => Ok(value.clone()),
            Some(key) => {
                let key = key.as_str().unwrap_or_default();
                value
                    .as_map()
                    .and_then(|m| m.get(key))
                    .cloned()
                    .ok_or_else(|| format!("no `{subject}` named \"{key}\""))
            }
        }
    }
}

/// A variant compared and hashed by address: the identity of a step kind.
#[derive(Clone, Copy, Debug)]
struct VariantKey(&'static Variant);

impl PartialEq for VariantKey {
    fn eq(&self, other: &VariantKey) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for VariantKey {}

impl std::hash::Hash for VariantKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

/// The step kinds a run can use, keyed by the schema variant each implements.
pub struct Registry {
    schemas: Schemas,
    kinds: HashMap<VariantKey, Arc<dyn StepKind>>,
}

impl Registry {
    /// An empty registry for these schemas.
    pub fn new(schemas: Schemas) -> Registry {
        Registry {
            schemas,
            kinds: HashMap::new(),
        }
    }

    /// Registers a step kind; a later registration of the same variant wins.
    pub fn register(&mut self, kind: impl StepKind + 'static) {
        self.kinds
            .insert(VariantKey(kind.variant()), Arc::new(kind));
    }

    /// The implementation of a schema variant (the checker resolved it).
    pub fn get(&self, variant: &'static Variant) -> Option<&Arc<dyn StepKind>> {
        self.kinds.get(&VariantKey(variant))
    }

    /// The schemas the runbooks are checked against.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }
}
