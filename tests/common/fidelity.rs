//! Plan = run: a runbook's JSON plan against the JSON Lines events of its run. Every
//! change the plan states as certain must appear in the run, the run must make no change
//! the plan does not list, and what the plan states as a count (a prune's deletions, a
//! `compose up`'s creations) must be what the run reports.

use std::collections::HashMap;

use serde_json::Value as J;

/// One step of the plan, as the check needs it.
#[derive(Debug)]
struct Planned {
    effect: String,
    change: String,
    /// It runs on every successful run: not conditional, not a failure handler, not
    /// before `--start-at`.
    certain: bool,
}

fn walk(nodes: &J, conditional: bool, out: &mut HashMap<String, Planned>) {
    for node in nodes.as_array().map(Vec::as_slice).unwrap_or_default() {
        let when = !node["when"].is_null();
        match node["type"].as_str() {
            Some("step") => {
                let id = node["id"].as_str().unwrap_or_default().to_string();
                out.insert(
                    id,
                    Planned {
                        effect: node["effect"].as_str().unwrap_or_default().to_string(),
                        change: node["change"].as_str().unwrap_or_default().to_string(),
                        certain: !conditional && !when && node["before_start"].is_null(),
                    },
                );
            }
            _ => {
                walk(&node["steps"], conditional || when, out);
                // A group's `on failure` runs only after a failure; its `always` always.
                walk(&node["on_failure"], true, out);
                walk(&node["always"], conditional || when, out);
            }
        }
    }
}

/// The first number before `word` in `text` (`3 to create` → 3).
fn count_before(text: &str, word: &str) -> Option<i64> {
    let at = text.find(word)?;
    text[..at]
        .split_whitespace()
        .last()?
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

/// What differs between a plan and the events of its (successful) run; empty when the
/// run did what the plan said.
pub fn plan_vs_run(plan: &J, events: &str) -> Vec<String> {
    let mut steps = HashMap::new();
    walk(&plan["steps"], false, &mut steps);
    walk(&plan["always"], false, &mut steps);
    walk(&plan["on_failure"], true, &mut steps);
    let mut problems = Vec::new();
    let mut finished: HashMap<String, J> = HashMap::new();
    for line in events.lines() {
        let Ok(event) = serde_json::from_str::<J>(line) else {
            continue;
        };
        if event["event"] == "step_finished" {
            finished.insert(event["id"].as_str().unwrap_or_default().to_string(), event);
        }
    }
    for (id, step) in &steps {
        if step.effect != "mutating" {
            continue;
        }
        let ran = finished.get(id);
        let status = ran.and_then(|e| e["status"].as_str()).unwrap_or("absent");
        if step.certain && status != "ok" && status != "failed_continued" {
            problems.push(format!(
                "{id}: the plan says it will `{}`; the run: {status}",
                step.change
            ));
        }
        let Some(outputs) = ran.filter(|_| status == "ok").map(|e| &e["outputs"]) else {
            continue;
        };
        let certain =
            !step.change.contains("if it runs") && !step.change.contains("ages are judged");
        // A prune deletes what the plan names.
        if certain && step.change.contains("deletes ") {
            let planned = match step.change.split("deletes ").nth(1) {
                Some(rest) if rest.starts_with("nothing") => Some(0),
                Some(rest) => rest.split_whitespace().next().and_then(|n| n.parse().ok()),
                None => None,
            };
            if let (Some(planned), Some(deleted)) = (planned, outputs["deleted"].as_i64())
                && planned != deleted
            {
                problems.push(format!(
                    "{id}: the plan says `{}`; the run deleted {deleted}",
                    step.change
                ));
            }
        }
        // A `compose up` creates, recreates, starts and keeps what the plan counts.
        if certain && step.change.starts_with("brings up project") && !step.change.contains("; ") {
            for (word, output) in [
                ("to create", "created"),
                ("to recreate", "recreated"),
                ("to start", "started"),
                ("unchanged", "kept"),
            ] {
                let planned = count_before(&step.change, word).unwrap_or(0);
                let done = outputs[output].as_i64().unwrap_or(0);
                if planned != done {
                    problems.push(format!(
                        "{id}: the plan says `{}`; the run: {done} {output}",
                        step.change
                    ));
                }
            }
        }
    }
    // Nothing ran that the plan does not list.
    for id in finished.keys() {
        if !steps.contains_key(id) {
            problems.push(format!("{id}: the run ran a step the plan does not have"));
        }
    }
    problems.sort();
    problems
}
