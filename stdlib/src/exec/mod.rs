//! `exec`: runs a program with an argv list, never through a shell.

use std::time::Duration;

use lang::schema::{
    Attribute, Effect, Output, SchemaType as T, StepSchema, Subject, Target, Variant,
};

mod run;

pub use run::kill_all;
pub(crate) use run::output_tail;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;

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
pub static SCHEMA: StepSchema = StepSchema {
    kind: "exec",
    doc: "runs a program (argv list, no shell: no injection by construction)",
    variants: &[&EXEC],
};

/// `exec`.
pub static EXEC: Variant = Variant {
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
};

/// `exec [argv]`: runs a program, failing on a non-zero exit unless an `expect exit`
/// says what is expected.
pub struct Exec;

impl StepKind for Exec {
    fn variant(&self) -> &'static Variant {
        &EXEC
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(run::run(input, ctx))
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            // A command may change anything: what the plan cannot name.
            touches: interpreter::world::Touches {
                opaque: true,
                ..Default::default()
            },
            ..StepPlan::new(describe(view)).with_problems(preflight(view))
        }
    }
}

/// `probe exec [argv]`: the same, read-only, for checks.
pub struct ProbeExec;

impl StepKind for ProbeExec {
    fn variant(&self) -> &'static Variant {
        &super::probe::EXEC
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(run::run(input, ctx))
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan::new(describe(view)).with_problems(preflight(view))
    }
}

/// Whether a program name (without `/`) is found in a `PATH` directory.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn describe(view: &InputView) -> String {
    let mut text = format!("runs {} (no shell)", view.target());
    if let Some(cwd) = view.rendered("cwd") {
        text.push_str(&format!(" in {cwd}"));
    }
    text
}

/// The working directory must exist; the program must be found on PATH.
fn preflight(view: &InputView) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(cwd) = view.value("cwd").and_then(Value::as_str)
        && !std::path::Path::new(cwd).is_dir()
    {
        problems.push(format!("the working directory {cwd} does not exist"));
    }
    let program = view
        .target_value
        .as_ref()
        .and_then(Value::as_list)
        .and_then(|l| l.first())
        .and_then(Value::as_str);
    if let Some(program) = program
        && !program.contains('/')
        && !program.contains("${")
        && !on_path(program)
    {
        problems.push(format!("`{program}` is not on PATH"));
    }
    problems
}
