//! Messages of the plan phase (OPS3001–3013) and of saved plans (OPS3020–3024): what
//! stops a plan from being made, or a saved plan from being run.

use super::{Code, Diagnostic};
use crate::ast::Span;

/// OPS3001: a `--set` name no parameter declares.
pub fn unknown_parameter(name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::unlocated(
        Code::UnknownParameter,
        format!("`--set {name}`: the runbook has no such parameter"),
    )
    .with_optional_help(help)
}

/// OPS3002: a given value that does not convert to the parameter's type.
pub fn invalid_parameter_value(
    at: Span,
    name: &str,
    source: &str,
    error: &str,
    declared: &str,
) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidParameterValue,
        at,
        format!("invalid value for parameter `{name}` ({source}): {error}"),
        "declared here",
    )
    .with_help(format!("`{name}` is declared as {declared}"))
}

/// OPS3003: a parameter without default and without value.
pub fn missing_parameter(at: Span, name: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MissingParameter,
        at,
        format!("parameter `{name}` has no default and no value was given"),
        "declared here",
    )
    .with_help(format!(
        "pass it with `--set {name}=VALUE`, a `--vars-file`, or `OPS_VAR_{name}`"
    ))
}

/// OPS3004: a value outside the parameter's `allowed` list.
pub fn parameter_not_allowed(
    at: Span,
    name: &str,
    value: &str,
    source: &str,
    allowed: &[String],
) -> Diagnostic {
    Diagnostic::new(
        Code::ParameterNotAllowed,
        at,
        format!("parameter `{name}` = {value} ({source}) is not one of the allowed values"),
        "declared here",
    )
    .with_help(format!("allowed: {}", allowed.join(", ")))
}

/// OPS3006: `--start-at` names no step or stage of the main path.
pub fn unknown_start_step(start: &str, ids: &[String]) -> Diagnostic {
    Diagnostic::unlocated(
        Code::UnknownStartStep,
        format!("`--start-at {start}`: the plan has no step or stage with that id"),
    )
    .with_help(format!("ids on the main path: {}", ids.join(", ")))
}

/// OPS3007: evaluating a value while planning failed (the evaluator's message).
pub fn evaluation(at: Option<Span>, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::PlanEvaluation, Span::at(0), message, "here").at(at)
}

/// OPS3007: a value the plan needs now (a loop list, a retry count, a timeout) depends on
/// a step's outputs.
pub fn not_known_when_planning(at: Span, text: &str) -> Diagnostic {
    evaluation(
        Some(at),
        format!("`{text}` must be known when the plan is made"),
    )
    .with_help("use a parameter, a literal or a `let` of them; step outputs exist only at run time")
}

/// OPS3007: `parallel limit` below 1.
pub fn parallel_limit_too_small(at: Span, limit: i64) -> Diagnostic {
    evaluation(
        Some(at),
        format!("`parallel limit` is {limit}; it must be at least 1"),
    )
}

/// OPS3007: a schema default of the standard library that does not parse (a bug in ops).
pub fn invalid_stdlib_default(attribute: &str, default: &str) -> Diagnostic {
    evaluation(
        None,
        format!("the stdlib default of `{attribute}` does not parse: {default}"),
    )
}

/// OPS3007: the runbook a `call` names was not loaded.
pub fn callee_not_loaded(at: Span, title: &str) -> Diagnostic {
    evaluation(
        Some(at),
        format!("the called runbook {title} could not be loaded"),
    )
}

/// OPS3007: there is no checked program to plan (a parse failure, or an inconsistency
/// between the checker and the lowering, which is a bug in ops).
pub fn not_plannable(why: &str) -> Diagnostic {
    evaluation(None, format!("the runbook cannot be planned: {why}"))
}

fn saved_help(message: String) -> Diagnostic {
    Diagnostic::unlocated(Code::SavedPlanInvalid, message)
        .with_help("save a plan with `ops plan FILE -o plan.json`")
}

/// OPS3020: a saved plan that cannot be read as one.
pub fn saved_plan_invalid(message: impl Into<String>) -> Diagnostic {
    saved_help(message.into())
}

/// OPS3020: a saved plan naming a file that is not a runbook (it is not read).
pub fn saved_plan_names_no_runbook(file: &str) -> Diagnostic {
    saved_help(format!(
        "the plan names `{file}`, which is not a `.rb.ops` runbook; it was not read"
    ))
}

/// OPS3021: a file of the runbook changed since the plan was saved.
pub fn saved_plan_runbook_changed(file: &str, then: &str, now: &str) -> Diagnostic {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    Diagnostic::unlocated(
        Code::SavedPlanRunbookChanged,
        format!(
            "{file} (or a file it includes or calls) changed since the plan was saved: sha256 {} then, {} now",
            short(then),
            short(now)
        ),
    )
    .with_help("plan again and review the new plan before running it")
}

/// OPS3022: the saved parameters no longer resolve to the saved values.
pub fn saved_plan_parameters_changed() -> Diagnostic {
    Diagnostic::unlocated(
        Code::SavedPlanParametersChanged,
        "the parameters no longer resolve to the saved values",
    )
    .with_help("plan again with the parameters you mean to use")
}

/// OPS3023: the plan was made by another version of ops.
pub fn saved_plan_version_changed(saved: &str, this: &str) -> Diagnostic {
    Diagnostic::unlocated(
        Code::SavedPlanVersionChanged,
        format!("the plan was made by ops {saved}; this is ops {this}"),
    )
    .with_help("plan again with this version and review the new plan")
}

/// OPS3024: planning again gives a different part of the plan; `diff` shows how, as a
/// unified diff of plan lines.
pub fn saved_plan_differs(part: &str, diff: &str) -> Diagnostic {
    Diagnostic::unlocated(
        Code::SavedPlanDiffers,
        format!("planning the runbook again gives different `{part}` than the saved plan:\n{diff}"),
    )
    .with_help("plan again and review the differences before running")
}

/// OPS3025: `ops run` while the runbook's maintenance window is closed.
pub fn outside_window(window: &str, now: &str) -> Diagnostic {
    Diagnostic::unlocated(
        Code::OutsideWindow,
        format!("the runbook may run only in its window \"{window}\": {now}"),
    )
    .with_help(
        "run it inside the window, or give `--outside-window \"REASON\"` (the reason goes into the run report); `ops plan` shows the window",
    )
}

/// OPS3026: another run holds a lock this run needs.
pub fn run_locked(lock: &str, holder: &str) -> Diagnostic {
    Diagnostic::unlocated(
        Code::RunLocked,
        format!("{lock} is held by {holder}; nothing was run"),
    )
    .with_help(
        "wait for that run to end, or give `--wait-lock 10m` to wait for it (a lock of a process that died is taken over)",
    )
}

/// OPS3027: `ops resume` will not continue this run (`why` says what changed or is wrong).
pub fn resume_refused(run: &str, why: &str, help: &str) -> Diagnostic {
    Diagnostic::unlocated(
        Code::ResumeRefused,
        format!("run {run} cannot be resumed: {why}; nothing was run"),
    )
    .with_help(help.to_string())
}

/// OPS3028: a journal's hash chain does not hold (`problems` name the lines).
pub fn journal_tampered(run: &str, problems: &[String]) -> Diagnostic {
    Diagnostic::unlocated(
        Code::JournalTampered,
        format!(
            "the journal of run {run} was changed after it was written: {}",
            problems.join("; ")
        ),
    )
    .with_help(
        "each journal record carries the sha256 of the one before it; a break means a record was edited, removed, inserted or reordered at or before the line named. Keep the file as evidence; the run index still has the run's row",
    )
}
