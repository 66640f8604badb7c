//! The plan for a terminal: numbered steps with their values, effects and worst cases,
//! then handlers, the worst-case duration against budget and window, and preflight.
//! Markers: `+` changes something, `=` only reads, `?` asks the operator.

use std::fmt::Write as _;

use lang::schema::Effect;

use super::{dur, summary};
use crate::plan::{
    Condition, FindingLevel, Group, GroupKind, Node, OnFailure, Plan, Planned, PlannedState,
    PlannedStep,
};

/// The plan as text.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let rb = &plan.runbook;
    let _ = write!(out, "Plan: {}", rb.id);
    if !rb.title.is_empty() {
        let _ = write!(out, " — {}", rb.title);
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "  file     {}  (sha256 {})",
        rb.file,
        &plan.hash[..12.min(plan.hash.len())]
    );
    if let Some(owner) = &rb.owner {
        let _ = writeln!(out, "  owner    {owner}");
    }
    if !rb.locks.is_empty() {
        let _ = writeln!(
            out,
            "  locks    {} (and the runbook's own)",
            rb.locks.join(", ")
        );
    }
    let width = plan.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for (i, p) in plan.params.iter().enumerate() {
        let head = if i == 0 { "params" } else { "" };
        let _ = writeln!(
            out,
            "  {head:<8} {:<width$} = {}  ({})",
            p.name,
            p.value.render(),
            p.source
        );
    }
    for (i, s) in plan.secrets.iter().enumerate() {
        let head = if i == 0 { "secrets" } else { "" };
        let state = if s.present { "present" } else { "MISSING" };
        let _ = writeln!(
            out,
            "  {head:<8} {}  from {}  {state}",
            s.name,
            s.source.describe()
        );
    }
    if let Some(start) = &plan.start_at {
        let _ = writeln!(out, "  start at {start} (earlier steps are skipped)");
    }
    out.push_str("\nSteps (+ changes something, = read-only, ? asks the operator):\n");
    nodes(&mut out, &plan.body, 1);
    if !plan.on_failure.is_empty() {
        out.push_str("\nOn failure (runbook):\n");
        nodes(&mut out, &plan.on_failure, 1);
    }
    if !plan.always.is_empty() {
        out.push_str("\nAlways (runbook):\n");
        nodes(&mut out, &plan.always, 1);
    }
    out.push('\n');
    let wc = &plan.worst_case;
    let _ = write!(
        out,
        "Worst case: {} if every step succeeds",
        dur(wc.success)
    );
    if let Some(budget) = rb.budget {
        let verdict = if wc.success <= budget {
            "within"
        } else {
            "OVER"
        };
        let _ = write!(out, " ({verdict} the {} budget)", dur(budget));
    }
    if wc.failure != wc.success {
        let _ = write!(out, "; {} on the failure path", dur(wc.failure));
    }
    out.push('\n');
    if !wc.operator_steps.is_empty() {
        let _ = writeln!(
            out,
            "  plus operator time, not counted, at {} interactive step(s): {}",
            wc.interactive,
            wc.operator_steps.join(", ")
        );
    }
    if let (Some(window), Some(length)) = (&rb.window, rb.window_length) {
        let verdict = if wc.success <= length {
            "fits"
        } else {
            "DOES NOT FIT"
        };
        let _ = writeln!(out, "Window: \"{window}\" ({}): {verdict}", dur(length));
        if let Some(now) = rb.window_now() {
            let _ = writeln!(out, "  {now}");
        }
    }
    if !plan.findings.is_empty() {
        out.push_str("\nPreflight:\n");
        for f in &plan.findings {
            let _ = writeln!(out, "  {:<7} {} {}", f.level.as_str(), f.code, f.message);
        }
    }
    let s = summary(plan);
    let errors = plan
        .findings
        .iter()
        .filter(|f| f.level == FindingLevel::Error)
        .count();
    let _ = write!(
        out,
        "\nPlan: {} steps ({} change something, {} read-only, {} interactive)",
        s.steps, s.mutating, s.read_only, s.interactive
    );
    if s.handler_steps > 0 {
        let _ = write!(out, ", {} more in handlers", s.handler_steps);
    }
    let _ = writeln!(
        out,
        ". Preflight: {}.",
        match errors {
            0 => String::from("ok"),
            1 => String::from("1 error"),
            n => format!("{n} errors"),
        }
    );
    out
}

fn marker(effect: Effect) -> char {
    match effect {
        Effect::Mutating => '+',
        Effect::ReadOnly => '=',
        Effect::Interactive => '?',
    }
}

fn nodes(out: &mut String, nodes: &[Node], depth: usize) {
    for node in nodes {
        match node {
            Node::Step(s) => step(out, s, depth),
            Node::Group(g) => group(out, g, depth),
        }
    }
}

fn pad(depth: usize) -> String {
    "  ".repeat(depth)
}

fn value(p: &Planned) -> String {
    p.render()
}

fn condition(c: &Condition) -> String {
    match &c.state {
        PlannedState::Known(v) => format!("when {}  → {}", c.text, v.render()),
        PlannedState::Unknown(_) => format!(
            "when {}  → {}",
            c.text,
            Planned {
                expr: None,
                text: String::new(),
                state: c.state.clone(),
                default: false
            }
            .render()
        ),
    }
}

fn group(out: &mut String, g: &Group, depth: usize) {
    let p = pad(depth);
    match g.kind {
        GroupKind::Stage => {
            let _ = write!(out, "{p}{:<7}   stage \"{}\"", g.id, g.title);
        }
        GroupKind::Parallel => {
            let limit = g
                .limit
                .map(|l| format!(", at most {l} at once"))
                .unwrap_or_default();
            let _ = write!(
                out,
                "{p}{:<7}   parallel ({} branches{limit})",
                g.id,
                g.children.len()
            );
        }
        GroupKind::Call => {
            let _ = write!(out, "{p}{:<7} {} call {}", g.id, marker(g.effect), g.title);
            if let Some(name) = &g.name {
                let _ = write!(out, " as {name}");
            }
        }
        GroupKind::Sequence => {
            let _ = write!(out, "{p}{:<7}   in order", g.id);
        }
    }
    let _ = writeln!(out, "   ≤ {}", dur(g.worst_case));
    let inner = pad(depth + 2);
    if let Some(i) = &g.iteration {
        let _ = writeln!(out, "{inner}for {i}");
    }
    if let Some(w) = &g.when {
        let _ = writeln!(out, "{inner}{}", condition(w));
    }
    for (name, v) in &g.params {
        let _ = writeln!(out, "{inner}{name} = {}", value(v));
    }
    nodes(out, &g.children, depth + 1);
    if !g.on_failure.is_empty() {
        let _ = writeln!(out, "{inner}on failure of {}:", g.id);
        nodes(out, &g.on_failure, depth + 2);
    }
    if !g.always.is_empty() {
        let _ = writeln!(out, "{inner}always after {}:", g.id);
        nodes(out, &g.always, depth + 2);
    }
}

fn step(out: &mut String, s: &PlannedStep, depth: usize) {
    let p = pad(depth);
    let bound = match s.effect {
        Effect::Interactive => String::from("operator time"),
        _ => format!("≤ {}", dur(s.worst_case)),
    };
    let _ = writeln!(
        out,
        "{p}{:<7} {} {}   {bound}",
        s.id,
        marker(s.effect),
        s.label
    );
    let inner = pad(depth + 2);
    if s.before_start {
        let _ = writeln!(out, "{inner}skipped: before --start-at");
    }
    if let Some(i) = &s.iteration {
        let _ = writeln!(out, "{inner}for {i}");
    }
    if let Some(d) = &s.description {
        let _ = writeln!(out, "{inner}# {d}");
    }
    let verb = match s.effect {
        Effect::Mutating => "would",
        Effect::ReadOnly => "reads",
        Effect::Interactive => "asks",
    };
    let _ = writeln!(out, "{inner}{verb}: {}", s.change);
    for d in &s.details {
        let _ = writeln!(out, "{inner}  · {d}");
    }
    if let Some(w) = &s.when {
        let _ = writeln!(out, "{inner}{}", condition(w));
    }
    let width = s
        .attrs
        .iter()
        .filter(|(_, v)| !v.default)
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0);
    for (name, v) in s.attrs.iter().filter(|(_, v)| !v.default) {
        let _ = writeln!(out, "{inner}{name:<width$} = {}", value(v));
    }
    for e in &s.expects {
        let arg = e
            .arg
            .as_ref()
            .map(|a| format!(" {}", value(a)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{inner}expect {}{arg} {} {}",
            e.subject,
            e.op.as_str(),
            value(&e.value)
        );
    }
    let mut mods = Vec::new();
    if let Some(r) = &s.retry {
        let mut text = format!(
            "retry {} every {} {}",
            r.count,
            dur(r.every),
            r.backoff.as_str()
        );
        if let Some(max) = r.max {
            let _ = write!(text, " max {}", dur(max));
        }
        if r.jitter {
            text.push_str(" jitter");
        }
        mods.push(text);
    }
    if let Some(t) = s.timeout {
        mods.push(format!("timeout {}", dur(t)));
    }
    if s.on_failure == OnFailure::Continue {
        mods.push(String::from("on_failure = continue"));
    }
    if !mods.is_empty() {
        let _ = writeln!(out, "{inner}{}", mods.join(" · "));
    }
    if let Some(n) = &s.nested {
        let _ = writeln!(out, "{inner}polls:");
        step(out, n, depth + 3);
    }
}
