//! `ops plan FILE` (and `ops run --dry-run FILE`): show what a run would do.

use std::sync::Arc;
use std::time::Duration;

use interpreter::event::{Collector, Event, EventSink, Status};
use interpreter::exec::{self, Mode, RunOptions};
use interpreter::plan::Plan;
use interpreter::plan_render as render;
use interpreter::step::Registry;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, EXIT_OK, EXIT_PREFLIGHT, EXIT_USAGE, PlanArgs, PlanFormat};
use crate::runtime;

/// Runs `ops plan`.
pub fn run(cli: &Cli, args: &PlanArgs) -> i32 {
    let color = cli.color.enabled();
    let Some(loaded) = runtime::load(&args.file, color) else {
        return EXIT_USAGE;
    };
    let inputs = match runtime::inputs(&args.inputs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ops plan: {e}");
            return EXIT_USAGE;
        }
    };
    let registry = stdlib::registry();
    let code = match runtime::make_plan(&loaded, &registry, inputs, args.inputs.start_at.clone()) {
        Ok(plan) => {
            let code = show(
                &plan,
                &registry,
                args.format,
                args.out.as_deref(),
                args.preflight,
            );
            runtime::keep_until_exit(plan);
            code
        }
        Err(errors) => {
            runtime::print_plan_errors(&errors, loaded.program(), color);
            EXIT_USAGE
        }
    };
    runtime::keep_until_exit(loaded);
    code
}

/// Prints (and saves) a plan; with `preflight`, runs its read-only steps live.
pub fn show(
    plan: &Plan,
    registry: &Registry,
    format: PlanFormat,
    out: Option<&std::path::Path>,
    preflight: bool,
) -> i32 {
    // The planner redacted what step kinds reported; this catches anything else that
    // could hold a secret's value (a parameter set to it) in every format.
    let redactor = runtime::redactor(plan);
    let json = || {
        let mut json = render::json(plan);
        redactor.redact_json(&mut json);
        json
    };
    if let Some(path) = out {
        let text = serde_json::to_string_pretty(&json()).unwrap_or_default();
        if let Err(e) = interpreter::fs::write_atomic(path, format!("{text}\n").as_bytes()) {
            eprintln!("ops: cannot write the plan to {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    let live = if preflight {
        classify(plan, live_preflight(plan, registry))
    } else {
        Vec::new()
    };
    let live_failed = live.iter().any(|l| l.verdict == Verdict::Failed);
    match format {
        PlanFormat::Human => {
            print!("{}", redactor.redact(&render::human(plan)));
            if preflight {
                println!("\nPreflight (every read-only step that can run now, run live):");
                if live.is_empty() {
                    println!("  no read-only step could run before the mutating ones");
                }
                for l in &live {
                    let detail = l
                        .message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    println!(
                        "  {:<9} {} {}",
                        l.verdict.word(),
                        l.id,
                        redactor.redact(&format!("{}{detail}", l.label))
                    );
                }
                println!("Live preflight: {}.", tally(&live));
            }
        }
        PlanFormat::Md => {
            print!("{}", redactor.redact(&render::markdown(plan)));
            if preflight {
                println!("\n## Live preflight\n\n| # | Step | Result |\n|---|---|---|");
                for l in &live {
                    println!(
                        "| {} | `{}` | {} {} |",
                        l.id,
                        redactor.redact(&l.label).replace('|', "\\|"),
                        l.verdict.word(),
                        redactor
                            .redact(l.message.as_deref().unwrap_or(""))
                            .replace('|', "\\|")
                    );
                }
                println!("\n{}.", tally(&live));
            }
        }
        PlanFormat::Json => {
            let mut json = json();
            if preflight {
                json["live_preflight"] = serde_json::Value::Array(
                    live.iter()
                        .map(|l| {
                            serde_json::json!({
                                "id": l.id,
                                "label": redactor.redact(&l.label),
                                "status": l.status,
                                "verdict": l.verdict.word().trim(),
                                "message": l.message.as_deref().map(|m| redactor.redact(m)),
                            })
                        })
                        .collect(),
                );
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
    }
    if plan.has_errors() || live_failed {
        EXIT_PREFLIGHT
    } else {
        EXIT_OK
    }
}

type LiveResult = (String, String, Status, Option<String>);

/// What a live preflight says of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// It ran and passed (or a mutating step's read-only look found nothing wrong).
    Ok,
    /// It failed with nothing before it that could change what it checks: exit 3.
    Failed,
    /// It failed now, but an earlier step changes what the plan cannot see (an `exec`),
    /// or it polls (`wait until`) and is not ready yet: it may pass in the run.
    Warning,
    /// Held back: it reads what an earlier step of the run changes.
    Later,
    /// Not run: it needs outputs of steps a dry-run does not run.
    Skipped,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Failed => "FAILED",
            Verdict::Warning => "warning",
            Verdict::Later => "later",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One step of a live preflight, judged.
struct Live {
    id: String,
    label: String,
    status: Status,
    message: Option<String>,
    verdict: Verdict,
}

/// Judges each live result against the plan: a failure after an opaque change, or of a
/// poll, is a warning; a check held back for an earlier change says which.
fn classify(plan: &Plan, results: Vec<LiveResult>) -> Vec<Live> {
    let steps: std::collections::HashMap<&str, &interpreter::plan::PlannedStep> = plan
        .steps()
        .into_iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    results
        .into_iter()
        .map(|(id, label, status, message)| {
            let step = steps.get(id.as_str());
            let mut message = message;
            let verdict = match status {
                Status::Ok | Status::Recorded => Verdict::Ok,
                Status::Skipped if message.as_deref().is_some_and(|m| m.starts_with("checked after")) => {
                    Verdict::Later
                }
                Status::Skipped => Verdict::Skipped,
                // `on_failure = continue`: the run goes on past it.
                Status::FailedContinued => Verdict::Warning,
                _ if step.is_some_and(|s| s.nested.is_some()) => Verdict::Warning,
                _ => match step.and_then(|s| s.opaque_after.as_deref()) {
                    Some(before) => {
                        let what = steps.get(before).map(|s| s.label.as_str()).unwrap_or("");
                        let note = format!(
                            "{} (but {before} `{what}` runs before it and may change what it checks)",
                            message.as_deref().unwrap_or("failed")
                        );
                        message = Some(note);
                        Verdict::Warning
                    }
                    None => Verdict::Failed,
                },
            };
            Live {
                id,
                label,
                status,
                message,
                verdict,
            }
        })
        .collect()
}

/// `3 ok, 1 failed, 1 checked later`.
fn tally(live: &[Live]) -> String {
    let mut parts = Vec::new();
    for (verdict, word) in [
        (Verdict::Ok, "ok"),
        (Verdict::Failed, "failed"),
        (Verdict::Warning, "warning(s)"),
        (Verdict::Later, "checked later in the run"),
        (
            Verdict::Skipped,
            "not checked (they need outputs of earlier steps)",
        ),
    ] {
        let n = live.iter().filter(|l| l.verdict == verdict).count();
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        String::from("nothing to check")
    } else {
        parts.join(", ")
    }
}

/// Runs the plan as a dry-run with read-only steps live; returns what those did.
fn live_preflight(plan: &Plan, registry: &Registry) -> Vec<LiveResult> {
    let collector = Collector::default();
    let sink = EventSink::new(vec![Box::new(collector.clone())]);
    let secrets = runtime::read_secrets(plan);
    runtime::protect_secrets(interpreter::redact::Redactor::new(
        secrets.values().map(String::as_str),
    ));
    let options = RunOptions {
        earlier: Arc::default(),
        identity: None,
        mode: Mode::DryRun {
            live_readonly: true,
        },
        grace: Duration::from_secs(2),
        prompter: Arc::new(crate::prompt::NoOperator),
        secrets,
        outside_window: None,
        interrupted_by: Arc::default(),
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    rt.block_on(exec::run(
        plan,
        registry,
        options,
        sink,
        CancellationToken::new(),
    ));
    let events = collector.events();
    // What a mutating step saw when it looked read-only at its target (a backup's source).
    let inspected: std::collections::HashMap<String, String> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepLog { id, line } => line
                .strip_prefix(exec::INSPECTED)
                .map(|seen| (id.clone(), seen.to_string())),
            _ => None,
        })
        .collect();
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                id,
                label,
                status: status @ (Status::Ok | Status::Failed | Status::FailedContinued | Status::Cancelled),
                message,
                ..
            } => Some((id, label, status, message)),
            Event::StepFinished {
                id,
                label,
                status: Status::Skipped,
                message: Some(message),
                ..
            } if message.starts_with("checked after") || message.starts_with("not run in the dry-run") => {
                Some((id, label, Status::Skipped, Some(message)))
            }
            Event::StepFinished {
                id,
                label,
                status: Status::Recorded,
                ..
            } => {
                let seen = inspected.get(&id).cloned();
                seen.map(|seen| (id, label, Status::Recorded, Some(seen)))
            }
            _ => None,
        })
        .collect()
}
