//! The plan as Markdown, to attach to a change ticket.

use std::fmt::Write as _;

use super::{dur, summary};
use crate::plan::{Group, GroupKind, Node, Plan, PlannedStep};

/// The plan as a Markdown document.
pub fn markdown(plan: &Plan) -> String {
    let rb = &plan.runbook;
    let mut out = String::new();
    let _ = writeln!(out, "# Plan: {}", cell(&rb.id));
    if !rb.title.is_empty() {
        let _ = writeln!(out, "\n{}", cell(&rb.title));
    }
    out.push_str("\n| | |\n|---|---|\n");
    let _ = writeln!(out, "| File | `{}` |", cell(&rb.file));
    let _ = writeln!(out, "| sha256 | `{}` |", plan.hash);
    let _ = writeln!(out, "| ops | {} |", plan.ops_version);
    if let Some(o) = &rb.owner {
        let _ = writeln!(out, "| Owner | {} |", cell(o));
    }
    let wc = &plan.worst_case;
    let _ = writeln!(
        out,
        "| Worst case | {} if every step succeeds; {} on the failure path |",
        dur(wc.success),
        dur(wc.failure)
    );
    if !wc.operator_steps.is_empty() {
        let _ = writeln!(
            out,
            "| Operator time | not counted: {} |",
            wc.operator_steps.join(", ")
        );
    }
    if let Some(b) = rb.budget {
        let verdict = if wc.success <= b {
            "within"
        } else {
            "**exceeded**"
        };
        let _ = writeln!(out, "| Budget | {} ({verdict}) |", dur(b));
    }
    if let (Some(w), Some(len)) = (&rb.window, rb.window_length) {
        let verdict = if wc.success <= len {
            "fits"
        } else {
            "**does not fit**"
        };
        let _ = writeln!(out, "| Window | {} ({}, {verdict}) |", cell(w), dur(len));
        if let Some(now) = rb.window_now() {
            let _ = writeln!(out, "| Now | {} |", cell(&now));
        }
    }
    if !plan.params.is_empty() {
        out.push_str("\n## Parameters\n\n| Name | Value | Source |\n|---|---|---|\n");
        for p in &plan.params {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} |",
                p.name,
                cell(&p.value.render()),
                p.source
            );
        }
    }
    if !plan.secrets.is_empty() {
        out.push_str("\n## Secrets\n\n| Name | Source | Present |\n|---|---|---|\n");
        for s in &plan.secrets {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                s.name,
                cell(&s.source.describe()),
                if s.present { "yes" } else { "**no**" }
            );
        }
    }
    out.push_str(
        "\n## Steps\n\n| # | Step | Effect | What it does | Worst case |\n|---|---|---|---|---|\n",
    );
    rows(&mut out, &plan.body);
    if !plan.on_failure.is_empty() {
        out.push_str("\n## On failure\n\n| # | Step | Effect | What it does | Worst case |\n|---|---|---|---|---|\n");
        rows(&mut out, &plan.on_failure);
    }
    if !plan.always.is_empty() {
        out.push_str("\n## Always\n\n| # | Step | Effect | What it does | Worst case |\n|---|---|---|---|---|\n");
        rows(&mut out, &plan.always);
    }
    out.push_str("\n## Preflight\n\n");
    if plan.findings.is_empty() {
        out.push_str("No findings.\n");
    }
    for f in &plan.findings {
        let _ = writeln!(
            out,
            "- **{}** {}: {}",
            f.level.as_str(),
            f.code,
            cell(&f.message)
        );
    }
    let s = summary(plan);
    let _ = writeln!(
        out,
        "\n{} steps: {} change something, {} read-only, {} interactive; {} in handlers.",
        s.steps, s.mutating, s.read_only, s.interactive, s.handler_steps
    );
    out
}

fn rows(out: &mut String, nodes: &[Node]) {
    for node in nodes {
        match node {
            Node::Step(s) => row(out, s),
            Node::Group(g) => group(out, g),
        }
    }
}

fn group(out: &mut String, g: &Group) {
    let title = match g.kind {
        GroupKind::Stage => format!("**stage** {}", cell(&g.title)),
        GroupKind::Parallel => format!("**parallel** ({} branches)", g.children.len()),
        GroupKind::Call => format!("**call** {}", cell(&g.title)),
        GroupKind::Sequence => format!("**{}** (in order)", cell(&g.title)),
    };
    let _ = writeln!(out, "| {} | {title} | | | {} |", g.id, dur(g.worst_case));
    rows(out, &g.children);
    rows(out, &g.on_failure);
    rows(out, &g.always);
}

fn row(out: &mut String, s: &PlannedStep) {
    let mut what = cell(&s.change);
    for d in &s.details {
        let _ = write!(what, "<br>· {}", cell(d));
    }
    for e in &s.expects {
        let _ = write!(what, "<br>`{}`", cell(&e.text));
    }
    if let Some(i) = &s.iteration {
        let _ = write!(what, "<br>for {}", cell(i));
    }
    if s.before_start {
        what.push_str("<br>*skipped: before --start-at*");
    }
    let _ = writeln!(
        out,
        "| {} | `{}` | {} | {what} | {} |",
        s.id,
        cell(&s.label),
        s.effect.as_str(),
        dur(s.worst_case)
    );
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
