//! Saved plans: `ops plan -o plan.json` writes the JSON plan; `ops run --plan plan.json`
//! runs exactly that plan. The runbook is re-planned from disk with the saved
//! parameters and the run is refused unless the `ops` version, the content hash of
//! every file the runbook reaches, the parameters and the resulting plan all match.

use lang::Diagnostic;
use lang::diag::plan as diag;

use super::Plan;
use super::params::{InputSource, ParamInput, RawValue};

/// What a saved plan asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Saved {
    /// The runbook file as planned.
    pub file: String,
    /// Its content hash then.
    pub hash: String,
    /// The parameters it was planned with, as `--set` inputs.
    pub params: Vec<ParamInput>,
    /// `--start-at` then.
    pub start_at: Option<String>,
    /// The whole document.
    pub json: serde_json::Value,
}

fn invalid(message: impl Into<String>) -> Diagnostic {
    diag::saved_plan_invalid(message)
}

/// Reads a saved plan and checks its format and the `ops` version.
pub fn read(text: &str, ops_version: &str) -> Result<Saved, Diagnostic> {
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("the saved plan is not JSON: {e}")))?;
    if json["format"] != "ops-plan" {
        return Err(invalid(
            "the file is not an ops plan (no `\"format\": \"ops-plan\"`)",
        ));
    }
    if json["version"] != super::PLAN_VERSION {
        return Err(invalid(format!(
            "the plan has format version {}, this ops reads version {}",
            json["version"],
            super::PLAN_VERSION
        )));
    }
    let saved_version = json["ops_version"].as_str().unwrap_or_default();
    if saved_version != ops_version {
        return Err(diag::saved_plan_version_changed(saved_version, ops_version));
    }
    let file = json["runbook"]["file"]
        .as_str()
        .ok_or_else(|| invalid("the plan names no runbook file"))?
        .to_string();
    let hash = json["hash"]
        .as_str()
        .ok_or_else(|| invalid("the plan has no content hash"))?
        .to_string();
    let mut params = Vec::new();
    for p in json["params"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = p["name"]
            .as_str()
            .ok_or_else(|| invalid("a saved parameter has no name"))?;
        params.push(ParamInput {
            name: name.to_string(),
            raw: RawValue::Json(p["value"].clone()),
            source: InputSource::Set,
        });
    }
    let start_at = json["start_at"].as_str().map(str::to_string);
    Ok(Saved {
        file,
        hash,
        params,
        start_at,
        json,
    })
}

/// A saved plan that names a file that is not a runbook (it is not read).
pub fn not_a_runbook(file: &str) -> Diagnostic {
    diag::saved_plan_names_no_runbook(file)
}

/// Checks the runbook on disk still has the saved content hash.
pub fn verify_hash(saved: &Saved, hash: &str) -> Result<(), Diagnostic> {
    if saved.hash == hash {
        return Ok(());
    }
    Err(diag::saved_plan_runbook_changed(
        &saved.file,
        &saved.hash,
        hash,
    ))
}

/// Checks the fresh plan is the saved one: same parameters, same steps and handlers. The
/// fresh plan is redacted as the saved one was when it was written.
pub fn verify_plan(
    saved: &Saved,
    fresh: &Plan,
    redactor: &crate::redact::Redactor,
) -> Result<(), Diagnostic> {
    let mut now = crate::plan_render::json(fresh);
    redactor.redact_json(&mut now);
    let strip = |params: &serde_json::Value| -> Vec<(String, String)> {
        params
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|p| (p["name"].to_string(), p["value"].to_string()))
            .collect()
    };
    if strip(&saved.json["params"]) != strip(&now["params"]) {
        return Err(diag::saved_plan_parameters_changed());
    }
    for key in ["steps", "on_failure", "always", "start_at", "secrets"] {
        let (a, b) = (&saved.json[key], &now[key]);
        let same = if key == "secrets" {
            // Presence may change between plan and run; names and sources may not.
            let names = |v: &serde_json::Value| -> Vec<String> {
                v.as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|s| format!("{}={}", s["name"], s["source"]))
                    .collect()
            };
            names(a) == names(b)
        } else {
            a == b
        };
        if !same {
            let diff = plan_diff(&saved.json, &now);
            return Err(diag::saved_plan_differs(key, &diff));
        }
    }
    Ok(())
}

/// At most this many lines of a plan difference are shown.
const DIFF_LINES: usize = 60;

/// The difference between two JSON plans as a unified diff of plan lines (a step's head
/// `2.1 probe http "..."`, then one line per field), the saved plan first.
pub fn plan_diff(saved: &serde_json::Value, now: &serde_json::Value) -> String {
    let lines = |plan: &serde_json::Value| {
        let mut out = String::new();
        for key in ["secrets", "start_at"] {
            out.push_str(&format!("{key}: {}\n", plan[key]));
        }
        for (key, title) in [
            ("steps", "Steps"),
            ("on_failure", "On failure"),
            ("always", "Always"),
        ] {
            out.push_str(&format!("{title}:\n"));
            node_lines(&plan[key], 1, &mut out);
        }
        out
    };
    let (a, b) = (lines(saved), lines(now));
    let diff = similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(2)
        .header("saved plan", "plan now")
        .to_string();
    // A saved plan is a file from anywhere: what it holds is shown neutralised.
    let total = diff.lines().count();
    let mut shown: Vec<String> = diff
        .lines()
        .take(DIFF_LINES)
        .map(|l| crate::text::neutralize(l).into_owned())
        .collect();
    if total > DIFF_LINES {
        shown.push(format!("… {} more lines", total - DIFF_LINES));
    }
    shown.join("\n")
}

/// Plan lines of a list of JSON nodes: the head, then each field but the children.
fn node_lines(nodes: &serde_json::Value, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    for node in nodes.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(fields) = node.as_object() else {
            continue;
        };
        let text = |key: &str| fields.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        let head = match text("type") {
            "step" => text("label").to_string(),
            kind => format!("{kind} {}", text("title")),
        };
        out.push_str(&format!("{indent}{} {head}\n", text("id")));
        for (key, value) in fields {
            if matches!(
                key.as_str(),
                "id" | "label" | "type" | "title" | "steps" | "on_failure" | "always"
            ) && !(key == "on_failure" && value.is_string())
            {
                continue;
            }
            out.push_str(&format!("{indent}    {key}: {value}\n"));
        }
        for key in ["steps", "on_failure", "always"] {
            if let Some(children) = fields.get(key).filter(|v| v.is_array()) {
                if key != "steps" {
                    out.push_str(&format!("{indent}  {key}:\n"));
                }
                node_lines(children, depth + 1, out);
            }
        }
    }
}
