//! Plan renderers: human (terminal, like `terraform plan`), JSON (stable, versioned)
//! and Markdown (for a change ticket). Every format shows secrets as `(secret)`.

mod human;
mod json;
mod markdown;

pub use human::human;
pub use json::json;
pub use markdown::markdown;

use crate::plan::{Plan, PlannedStep};
use lang::schema::Effect;

/// Step counts by effect, for summaries.
pub struct Summary {
    /// Steps on the main path.
    pub steps: usize,
    /// Mutating ones.
    pub mutating: usize,
    /// Read-only ones.
    pub read_only: usize,
    /// Interactive ones.
    pub interactive: usize,
    /// Steps in failure/always handlers (all levels).
    pub handler_steps: usize,
}

/// Counts a plan's steps.
pub fn summary(plan: &Plan) -> Summary {
    let mut main = Vec::new();
    for n in &plan.body {
        collect_main(n, &mut main);
    }
    let all = plan.steps().len();
    let count = |e: Effect| main.iter().filter(|s| s.effect == e).count();
    Summary {
        steps: main.len(),
        mutating: count(Effect::Mutating),
        read_only: count(Effect::ReadOnly),
        interactive: count(Effect::Interactive),
        handler_steps: all - main.len(),
    }
}

/// Steps on the main path (stage handlers excluded).
fn collect_main<'a>(node: &'a crate::plan::Node, out: &mut Vec<&'a PlannedStep>) {
    match node {
        crate::plan::Node::Step(s) => out.push(s),
        crate::plan::Node::Group(g) => g.children.iter().for_each(|c| collect_main(c, out)),
    }
}

/// `45s`, `1h2m`.
pub(crate) fn dur(d: std::time::Duration) -> String {
    if d.is_zero() {
        return String::from("0s");
    }
    if d.subsec_millis() != 0 && d.as_secs() < 60 {
        return format!("{}ms", d.as_millis());
    }
    lang::fmt::duration(std::time::Duration::from_secs(d.as_secs()))
}
