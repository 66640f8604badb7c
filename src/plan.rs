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
    match runtime::make_plan(&loaded, &registry, inputs, args.inputs.start_at.clone()) {
        Ok(plan) => show(
            &plan,
            &registry,
            args.format,
            args.out.as_deref(),
            args.preflight,
        ),
        Err(errors) => {
            runtime::print_plan_errors(&errors, loaded.program(), color);
            EXIT_USAGE
        }
    }
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
        live_preflight(plan, registry)
    } else {
        Vec::new()
    };
    let live_failed = live
        .iter()
        .any(|(_, _, status, _)| matches!(status, Status::Failed | Status::Cancelled));
    match format {
        PlanFormat::Human => {
            print!("{}", redactor.redact(&render::human(plan)));
            if preflight {
                println!("\nPreflight (read-only steps run live):");
                if live.is_empty() {
                    println!("  no read-only step could run before the mutating ones");
                }
                for (id, label, status, message) in &live {
                    let detail = message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    println!(
                        "  {:<9} {id} {}",
                        status.as_str(),
                        redactor.redact(&format!("{label}{detail}"))
                    );
                }
            }
        }
        PlanFormat::Md => {
            print!("{}", redactor.redact(&render::markdown(plan)));
            if preflight {
                println!("\n## Live preflight\n\n| # | Step | Result |\n|---|---|---|");
                for (id, label, status, message) in &live {
                    println!(
                        "| {id} | `{}` | {} {} |",
                        redactor.redact(label).replace('|', "\\|"),
                        status.as_str(),
                        redactor
                            .redact(message.as_deref().unwrap_or(""))
                            .replace('|', "\\|")
                    );
                }
            }
        }
        PlanFormat::Json => {
            let mut json = json();
            if preflight {
                json["live_preflight"] = serde_json::Value::Array(
                    live.iter()
                        .map(|(id, label, status, message)| {
                            serde_json::json!({"id": id, "label": label, "status": status, "message": message.as_deref().map(|m| redactor.redact(m))})
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

/// Runs the plan as a dry-run with read-only steps live; returns what those did.
fn live_preflight(plan: &Plan, registry: &Registry) -> Vec<LiveResult> {
    let collector = Collector::default();
    let sink = EventSink::new(vec![Box::new(collector.clone())]);
    let secrets = runtime::read_secrets(plan);
    runtime::protect_secrets(interpreter::redact::Redactor::new(
        secrets.values().map(String::as_str),
    ));
    let options = RunOptions {
        mode: Mode::DryRun {
            live_readonly: true,
        },
        grace: Duration::from_secs(2),
        prompter: Arc::new(crate::prompt::NoOperator),
        secrets,
        outside_window: None,
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
