//! `exec`: runs a program with an argv list, never through a shell.

use std::time::Duration;

use lang::schema::{
    Attribute, Effect, Output, SchemaType as T, StepSchema, Subject, Target, Variant,
};

/// Attributes shared by `exec` and `probe exec` (all but `readonly`).
pub const ATTRIBUTES_COMMON: &[Attribute] = ATTRIBUTES.split_at(4).0;

/// `exec` attributes: the common ones plus `readonly`.
const ATTRIBUTES: &[Attribute] = &[
    Attribute::new("cwd", T::Path, "working directory"),
    Attribute::new("env", T::MapOf(&T::String), "extra environment variables").sensitive(),
    Attribute::new("stdin", T::String, "text written to standard input").sensitive(),
    Attribute::new("max_output", T::Size, "bytes of stdout and of stderr kept").default("1MiB"),
    Attribute::new(
        "readonly",
        T::Bool,
        "declares the command read-only: it runs in --preflight",
    )
    .default("false"),
];

/// Outputs of `exec` and `probe exec`.
pub const OUTPUTS: &[Output] = &[
    Output::new("exit", T::Int, "exit code"),
    Output::tainted("stdout", T::String, "standard output (capped)"),
    Output::tainted("stderr", T::String, "standard error (capped)"),
    Output::new("duration", T::Duration, "run time"),
];

/// Expectation subjects of `exec` and `probe exec`.
pub const SUBJECTS: &[Subject] = &[
    Subject::new("exit", T::Int, "exit code"),
    Subject::new("stdout", T::String, "standard output"),
    Subject::new("stderr", T::String, "standard error"),
    Subject::new("duration", T::Duration, "run time"),
];

/// The `exec` step kind.
pub const SCHEMA: StepSchema = StepSchema {
    kind: "exec",
    doc: "runs a program (argv list, no shell: no injection by construction)",
    variants: &[Variant {
        name: None,
        doc: "runs a program; mutating unless `readonly = true`",
        target: Some(Target {
            name: "argv",
            ty: T::ListOf(&T::String),
            sensitive: false,
            required: true,
            doc: "program and arguments",
        }),
        attributes: ATTRIBUTES,
        outputs: OUTPUTS,
        subjects: SUBJECTS,
        effect: Effect::Mutating,
        readonly_attr: true,
        default_timeout: Some(Duration::from_secs(600)),
        ..Variant::BASE
    }],
};
