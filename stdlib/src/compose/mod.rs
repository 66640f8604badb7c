//! `compose`: Docker Compose stacks through the Docker Engine API.
//!
//! `model` reads a real docker-compose YAML (`yaml` keeps positions and interpolates
//! `${VAR}`), `engine` talks to the Docker Engine through bollard, `actions` decides per
//! service and waits, `run` does `up|down|restart|ps`, `dryrun` makes the plan.

pub mod actions;
pub mod body;
pub mod build;
pub mod dryrun;
pub mod engine;
pub mod model;
pub mod run;
pub mod up;
mod world;
pub mod yaml;

use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;

use lang::schema::{
    Attribute, Effect, Output, SchemaType as T, StepSchema, Subject, Target, Variant,
};

const COMPOSE_FILE: Target = Target {
    name: "file",
    ty: T::Path,
    sensitive: false,
    required: true,
    doc: "the docker-compose YAML file",
};

const WAIT: &[&str] = &["none", "running", "healthy"];

const ENV_DOC: &str =
    "variables for `${VAR}` in the compose file (before the environment and `.env`)";

/// The `compose` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "compose",
    doc: "brings Compose stacks up and down, restarts services, reports their state",
    variants: &[&UP, &DOWN, &RESTART, &PS],
};

/// `compose up`.
pub static UP: Variant = Variant {
    name: Some("up"),
    doc: "creates and starts the stack in dependency order; idempotent",
    target: Some(COMPOSE_FILE),
    attributes: &[
        Attribute::new(
            "project",
            T::String,
            "project name (default: the file's directory name)",
        ),
        Attribute::new(
            "files",
            T::ListOf(&T::Path),
            "more compose files merged over the first, in order (like `-f`)",
        ),
        Attribute::new("env", T::MapOf(&T::String), ENV_DOC).sensitive(),
        Attribute::new(
            "services",
            T::ListOf(&T::String),
            "act on these services (and their dependencies) only",
        ),
        Attribute::new(
            "wait",
            T::Enum(WAIT),
            "wait until services are running or healthy",
        )
        .default("running"),
        Attribute::new(
            "pull",
            T::Enum(&["never", "missing", "always"]),
            "when to pull images",
        )
        .default("missing"),
        Attribute::new(
            "build",
            T::Enum(&["never", "missing", "changed", "always"]),
            "when to build the images of services with `build:`",
        )
        .default("changed"),
        Attribute::new("env_file", T::Path, "the `.env` file for interpolation"),
        Attribute::new(
            "profiles",
            T::ListOf(&T::String),
            "Compose profiles to enable",
        ),
    ],
    outputs: &[
        Output::new("created", T::Int, "containers created"),
        Output::new("recreated", T::Int, "containers recreated"),
        Output::new("started", T::Int, "existing containers started"),
        Output::new("kept", T::Int, "containers kept unchanged"),
        Output::new("removed", T::Int, "replicas removed by scaling down"),
    ],
    effect: Effect::Mutating,
    idempotent: true,
    default_timeout: Some(Duration::from_secs(300)),
    ..Variant::BASE
};

/// `compose down`.
pub static DOWN: Variant = Variant {
    name: Some("down"),
    doc: "stops and removes the stack's containers and networks",
    target: Some(COMPOSE_FILE),
    attributes: &[
        Attribute::new("project", T::String, "project name"),
        Attribute::new(
            "files",
            T::ListOf(&T::Path),
            "more compose files merged over the first, in order (like `-f`)",
        ),
        Attribute::new("env", T::MapOf(&T::String), ENV_DOC).sensitive(),
        Attribute::new("volumes", T::Bool, "also remove named volumes").default("false"),
        Attribute::new(
            "remove_orphans",
            T::Bool,
            "also remove containers of services no longer in the file",
        )
        .default("false"),
    ],
    outputs: &[
        Output::new("removed", T::Int, "containers removed"),
        Output::new("volumes_removed", T::Int, "named volumes removed"),
    ],
    effect: Effect::Mutating,
    idempotent: true,
    default_timeout: Some(Duration::from_secs(120)),
    ..Variant::BASE
};

/// `compose restart`.
pub static RESTART: Variant = Variant {
    name: Some("restart"),
    doc: "restarts services in dependency order",
    target: Some(COMPOSE_FILE),
    attributes: &[
        Attribute::new("project", T::String, "project name"),
        Attribute::new(
            "files",
            T::ListOf(&T::Path),
            "more compose files merged over the first, in order (like `-f`)",
        ),
        Attribute::new("env", T::MapOf(&T::String), ENV_DOC).sensitive(),
        Attribute::new(
            "services",
            T::ListOf(&T::String),
            "services to restart (default: all)",
        ),
        Attribute::new(
            "wait",
            T::Enum(WAIT),
            "wait until services are running or healthy",
        )
        .default("running"),
    ],
    outputs: &[Output::new("restarted", T::Int, "containers restarted")],
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(300)),
    ..Variant::BASE
};

/// `compose ps`.
pub static PS: Variant = Variant {
    name: Some("ps"),
    doc: "reports each service's state and health (read-only)",
    target: Some(COMPOSE_FILE),
    attributes: &[
        Attribute::new("project", T::String, "project name"),
        Attribute::new(
            "files",
            T::ListOf(&T::Path),
            "more compose files merged over the first, in order (like `-f`)",
        ),
        Attribute::new("env", T::MapOf(&T::String), ENV_DOC).sensitive(),
        Attribute::new(
            "services",
            T::ListOf(&T::String),
            "services to report (default: all)",
        ),
    ],
    outputs: &[
        Output::new(
            "services",
            T::MapOf(&T::MapOf(&T::String)),
            "per service: `state` and `health`",
        ),
        Output::new("running", T::Int, "services running"),
        Output::new("healthy", T::Int, "services healthy"),
        Output::new("total", T::Int, "services in the file"),
    ],
    subjects: &[
        Subject::with_arg(
            "state",
            T::String,
            T::String,
            "a service's state (`running`, `exited`, ...)",
        ),
        Subject::with_arg(
            "health",
            T::String,
            T::String,
            "a service's health (`healthy`, `unhealthy`, `none`)",
        ),
        Subject::new("running", T::Int, "services running"),
        Subject::new("healthy", T::Int, "services healthy"),
        Subject::new("unhealthy", T::Int, "services not healthy"),
        Subject::new("total", T::Int, "services in the file"),
    ],
    effect: Effect::ReadOnly,
    default_timeout: Some(Duration::from_secs(30)),
    ..Variant::BASE
};

/// One `compose` variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compose {
    /// `compose up`.
    Up,
    /// `compose down`.
    Down,
    /// `compose restart`.
    Restart,
    /// `compose ps`.
    Ps,
}

impl Compose {
    /// Every variant.
    pub const ALL: [Compose; 4] = [Compose::Up, Compose::Down, Compose::Restart, Compose::Ps];
}

impl StepKind for Compose {
    fn variant(&self) -> &'static Variant {
        match self {
            Compose::Up => &UP,
            Compose::Down => &DOWN,
            Compose::Restart => &RESTART,
            Compose::Ps => &PS,
        }
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let project = run::load(input, *self == Compose::Up, &ctx.secrets)?;
            // What the run prints of the file never shows a secret it was interpolated
            // with, declared as a secret or not.
            let ctx = &StepContext {
                secrets: std::sync::Arc::new(ctx.secrets.with(project.masks.values())),
                ..ctx.clone()
            };
            let result = match self {
                Compose::Up => up::up(&project, input, ctx).await,
                Compose::Down => run::down(&project, input, ctx).await,
                Compose::Restart => run::restart(&project, input, ctx).await,
                Compose::Ps => run::ps(&project, input, ctx).await,
            };
            // Masks say `${NAME}` for the exact value; the extended redactor catches its
            // encoded forms (a password percent-encoded in a URL a container printed).
            result.map_err(|e| StepError {
                message: ctx.secrets.redact(&project.masks.apply(&e.message)),
                ..e
            })
        })
    }

    /// Reads the file and the engine once for the change, the details and the findings.
    fn plan(&self, view: &InputView) -> StepPlan {
        let analysis = dryrun::analyse(*self, view);
        StepPlan {
            change: analysis.change,
            details: analysis.details,
            findings: analysis.findings,
            touches: analysis.touches,
            ..StepPlan::default()
        }
    }

    fn subject(
        &self,
        outputs: &Outputs,
        subject: &str,
        arg: Option<&Value>,
    ) -> Result<Value, String> {
        match (subject, arg) {
            ("state" | "health", Some(service)) => {
                let service = service.as_str().unwrap_or_default();
                outputs
                    .get("services")
                    .and_then(Value::as_map)
                    .and_then(|m| m.get(service))
                    .and_then(Value::as_map)
                    .and_then(|m| m.get(subject))
                    .cloned()
                    .ok_or_else(|| format!("no service \"{service}\" in the compose file"))
            }
            _ => outputs
                .get(subject)
                .cloned()
                .ok_or_else(|| format!("the step produced no `{subject}`")),
        }
    }
}
