//! The plan as JSON: `{"format": "ops-plan", "version": 1, ...}`. Fields are only ever
//! added within a version; a rename or removal bumps [`crate::plan::PLAN_VERSION`].

use serde_json::{Map, Value as J, json};

use super::{dur, summary};
use crate::plan::{Condition, FindingLevel, Group, Node, Plan, Planned, PlannedState, PlannedStep};

/// The plan as a JSON document.
pub fn json(plan: &Plan) -> J {
    let s = summary(plan);
    let wc = &plan.worst_case;
    json!({
        "format": "ops-plan",
        "version": crate::plan::PLAN_VERSION,
        "ops_version": plan.ops_version,
        "runbook": {
            "id": plan.runbook.id,
            "title": plan.runbook.title,
            "owner": plan.runbook.owner,
            "file": plan.runbook.file,
            "budget": plan.runbook.budget.map(dur),
            "window": plan.runbook.window,
            "window_now": window_now(&plan.runbook),
            "locks": plan.runbook.locks,
        },
        "hash": plan.hash,
        "start_at": plan.start_at,
        "params": plan.params.iter().map(|p| json!({
            "name": p.name,
            "value": p.value.to_json(false),
            "literal": p.value.render(),
            "source": p.source,
        })).collect::<Vec<_>>(),
        "secrets": plan.secrets.iter().map(|s| json!({
            "name": s.name,
            "source": s.source.describe(),
            "present": s.present,
        })).collect::<Vec<_>>(),
        "steps": nodes(&plan.body),
        "on_failure": nodes(&plan.on_failure),
        "always": nodes(&plan.always),
        "worst_case": {
            "success": dur(wc.success),
            "success_ms": wc.success.as_millis() as u64,
            "failure": dur(wc.failure),
            "failure_ms": wc.failure.as_millis() as u64,
            "interactive_steps": wc.interactive,
            "operator_steps": wc.operator_steps,
            "within_budget": plan.runbook.budget.map(|b| wc.success <= b),
            "within_window": plan.runbook.window_length.map(|w| wc.success <= w),
        },
        "findings": plan.findings.iter().map(|f| json!({
            "level": f.level.as_str(),
            "code": f.code.to_string(),
            "step": f.step,
            "message": f.message,
        })).collect::<Vec<_>>(),
        "summary": {
            "steps": s.steps,
            "mutating": s.mutating,
            "read_only": s.read_only,
            "interactive": s.interactive,
            "handler_steps": s.handler_steps,
            "preflight_errors": plan.findings.iter().filter(|f| f.level == FindingLevel::Error).count(),
        },
    })
}

fn nodes(nodes: &[Node]) -> Vec<J> {
    nodes.iter().map(node).collect()
}

fn node(node: &Node) -> J {
    match node {
        Node::Step(s) => step(s),
        Node::Group(g) => group(g),
    }
}

/// A planned value: `{"value": ...}`, `{"secret": true}` or `{"after": [...]}`, with the
/// expression as written.
pub(crate) fn value(p: &Planned) -> J {
    let mut out = Map::new();
    match &p.state {
        PlannedState::Known(v) if v.is_secret() => {
            out.insert("secret".into(), J::Bool(true));
        }
        PlannedState::Known(v) => {
            out.insert("value".into(), v.to_json(false));
        }
        PlannedState::Unknown(u) => {
            if u.secret {
                out.insert("secret".into(), J::Bool(true));
            }
            if !u.after.is_empty() {
                out.insert("after".into(), json!(u.after));
            }
        }
    }
    if !p.text.is_empty() && p.value().is_none() {
        out.insert("expr".into(), J::String(p.text.clone()));
    }
    if p.default {
        out.insert("default".into(), J::Bool(true));
    }
    J::Object(out)
}

fn condition(c: &Condition) -> J {
    let mut v = value(&Planned {
        expr: None,
        text: c.text.clone(),
        state: c.state.clone(),
        default: false,
    });
    if let J::Object(map) = &mut v {
        map.insert("expr".into(), J::String(c.text.clone()));
    }
    v
}

fn step(s: &PlannedStep) -> J {
    let mut out = Map::new();
    out.insert("type".into(), json!("step"));
    out.insert("id".into(), json!(s.id));
    out.insert("kind".into(), json!(s.kind));
    out.insert("variant".into(), json!(s.variant.name));
    out.insert("name".into(), json!(s.name));
    out.insert("label".into(), json!(s.label));
    out.insert("effect".into(), json!(s.effect.as_str()));
    out.insert("change".into(), json!(s.change));
    if !s.details.is_empty() {
        out.insert("details".into(), json!(s.details));
    }
    out.insert("location".into(), json!(s.loc.to_string()));
    if let Some(i) = &s.iteration {
        out.insert("iteration".into(), json!(i));
    }
    if let Some(d) = &s.description {
        out.insert("description".into(), json!(d));
    }
    if let Some(t) = &s.target {
        out.insert("target".into(), value(t));
    }
    let attrs: Map<String, J> = s.attrs.iter().map(|(k, v)| (k.clone(), value(v))).collect();
    out.insert("attributes".into(), J::Object(attrs));
    if !s.expects.is_empty() {
        let expects: Vec<J> = s
            .expects
            .iter()
            .map(|e| {
                json!({
                    "text": e.text,
                    "subject": e.subject,
                    "arg": e.arg.as_ref().map(value),
                    "op": e.op.as_str(),
                    "value": value(&e.value),
                    "location": e.loc.to_string(),
                })
            })
            .collect();
        out.insert("expect".into(), J::Array(expects));
    }
    if let Some(w) = &s.when {
        out.insert("when".into(), condition(w));
    }
    if let Some(r) = &s.retry {
        out.insert(
            "retry".into(),
            json!({
                "count": r.count,
                "every": dur(r.every),
                "backoff": r.backoff.as_str(),
                "max": r.max.map(dur),
                "jitter": r.jitter,
            }),
        );
    }
    out.insert("timeout".into(), json!(s.timeout.map(dur)));
    out.insert(
        "on_failure".into(),
        json!(match s.on_failure {
            crate::plan::OnFailure::Abort => "abort",
            crate::plan::OnFailure::Continue => "continue",
        }),
    );
    out.insert("worst_case".into(), json!(dur(s.worst_case)));
    let t = &s.touches;
    if !t.reads.is_empty() || !t.writes.is_empty() || t.opaque {
        out.insert(
            "touches".into(),
            json!({
                "reads": t.reads.iter().map(|r| r.describe()).collect::<Vec<_>>(),
                "writes": t.writes.iter().map(|w| w.resource.describe()).collect::<Vec<_>>(),
                "opaque": t.opaque,
            }),
        );
    }
    if let Some(after) = &s.after {
        out.insert("after".into(), json!(after));
    }
    if let Some(after) = &s.opaque_after {
        out.insert("opaque_after".into(), json!(after));
    }
    if s.before_start {
        out.insert("before_start".into(), J::Bool(true));
    }
    if let Some(n) = &s.nested {
        out.insert("poll".into(), step(n));
    }
    J::Object(out)
}

fn group(g: &Group) -> J {
    let mut out = Map::new();
    out.insert("type".into(), json!(g.kind.as_str()));
    out.insert("id".into(), json!(g.id));
    out.insert("title".into(), json!(g.title));
    out.insert("location".into(), json!(g.loc.to_string()));
    if let Some(l) = g.limit {
        out.insert("limit".into(), json!(l));
    }
    if let Some(w) = &g.when {
        out.insert("when".into(), condition(w));
    }
    if let Some(i) = &g.iteration {
        out.insert("iteration".into(), json!(i));
    }
    if g.kind == crate::plan::GroupKind::Call {
        out.insert("callee".into(), json!(g.callee));
        out.insert("name".into(), json!(g.name));
        let params: Map<String, J> = g
            .params
            .iter()
            .map(|(k, v)| (k.clone(), value(v)))
            .collect();
        out.insert("params".into(), J::Object(params));
    }
    out.insert("worst_case".into(), json!(dur(g.worst_case)));
    out.insert("steps".into(), J::Array(nodes(&g.children)));
    if !g.on_failure.is_empty() {
        out.insert("on_failure".into(), J::Array(nodes(&g.on_failure)));
    }
    if !g.always.is_empty() {
        out.insert("always".into(), J::Array(nodes(&g.always)));
    }
    J::Object(out)
}

/// Where the plan's moment stands against the runbook's window.
fn window_now(rb: &crate::plan::RunbookInfo) -> J {
    use lang::check::WindowState;
    let zone = &rb.window_zone;
    match &rb.window_state {
        None => J::Null,
        Some(WindowState::Open { closes, left }) => json!({
            "open": true,
            "closes": lang::check::moment(closes, zone),
            "closes_at": closes.timestamp().to_string(),
            "left": dur(*left),
            "text": rb.window_now(),
        }),
        Some(WindowState::Closed { opens, wait }) => json!({
            "open": false,
            "opens": lang::check::moment(opens, zone),
            "opens_at": opens.timestamp().to_string(),
            "in": dur(*wait),
            "text": rb.window_now(),
        }),
    }
}
