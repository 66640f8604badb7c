//! `compose`: Docker Compose stacks through the Docker Engine API.

use std::time::Duration;

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

/// The `compose` step kind.
pub const SCHEMA: StepSchema = StepSchema {
    kind: "compose",
    doc: "brings Compose stacks up and down, restarts services, reports their state",
    variants: &[
        Variant {
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
                Output::new("kept", T::Int, "containers kept unchanged"),
            ],
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(300)),
            ..Variant::BASE
        },
        Variant {
            name: Some("down"),
            doc: "stops and removes the stack's containers and networks",
            target: Some(COMPOSE_FILE),
            attributes: &[
                Attribute::new("project", T::String, "project name"),
                Attribute::new("volumes", T::Bool, "also remove named volumes").default("false"),
                Attribute::new(
                    "remove_orphans",
                    T::Bool,
                    "also remove containers of services no longer in the file",
                )
                .default("false"),
            ],
            outputs: &[Output::new("removed", T::Int, "containers removed")],
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(120)),
            ..Variant::BASE
        },
        Variant {
            name: Some("restart"),
            doc: "restarts services in dependency order",
            target: Some(COMPOSE_FILE),
            attributes: &[
                Attribute::new("project", T::String, "project name"),
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
        },
        Variant {
            name: Some("ps"),
            doc: "reports each service's state and health (read-only)",
            target: Some(COMPOSE_FILE),
            attributes: &[
                Attribute::new("project", T::String, "project name"),
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
        },
    ],
};
