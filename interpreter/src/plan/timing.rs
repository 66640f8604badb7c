//! Retry delays and worst-case durations.
//!
//! One attempt of a step takes at most its timeout (or, for `wait 45s`, its duration);
//! a step with `retry N` makes N+1 attempts with the retry delays between them. A
//! sequence takes the sum of its parts; a `parallel` group is simulated slot by slot
//! with its `limit`, in the order the executor starts branches. Operator time at
//! `confirm`/`manual` is not counted (it is reported separately).

use std::time::Duration;

use super::{Group, GroupKind, Node, PlannedStep, RetrySpec};

/// How retry delays grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Every delay is `every`.
    Constant,
    /// `every`, then doubled each time, capped by `max`.
    Exponential,
}

impl Backoff {
    /// `constant` or `exponential`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backoff::Constant => "constant",
            Backoff::Exponential => "exponential",
        }
    }
}

impl RetrySpec {
    /// The delay after failed attempt `n` (1-based), before jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let base = match self.backoff {
            Backoff::Constant => self.every,
            Backoff::Exponential => {
                let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
                self.every.saturating_mul(factor)
            }
        };
        match self.max {
            Some(max) => base.min(max),
            None => base,
        }
    }

    /// The sum of every delay (jitter only shortens them).
    pub fn total_delay(&self) -> Duration {
        (1..=self.count).fold(Duration::ZERO, |acc, n| acc.saturating_add(self.delay(n)))
    }
}

/// The worst case of one step from its attempt time.
pub fn step_worst_case(attempt: Duration, retry: Option<&RetrySpec>) -> Duration {
    match retry {
        None => attempt,
        Some(r) => attempt
            .saturating_mul(r.count.saturating_add(1))
            .saturating_add(r.total_delay()),
    }
}

/// The worst case of a sequence of nodes.
pub fn sequence(nodes: &[Node]) -> Duration {
    nodes
        .iter()
        .fold(Duration::ZERO, |acc, n| acc.saturating_add(node(n)))
}

/// The worst case of one node (a group's handlers excluded).
pub fn node(node: &Node) -> Duration {
    match node {
        Node::Step(s) => s.worst_case,
        Node::Group(g) => g.worst_case,
    }
}

/// A group's body worst case.
pub fn group(g: &Group) -> Duration {
    match g.kind {
        GroupKind::Parallel => parallel(&g.children, g.limit),
        GroupKind::Stage | GroupKind::Call | GroupKind::Sequence => sequence(&g.children),
    }
}

/// Greedy list scheduling of branches onto `limit` slots, in start order.
pub fn parallel(branches: &[Node], limit: Option<usize>) -> Duration {
    let slots = limit.unwrap_or(branches.len()).max(1);
    let mut free_at = vec![Duration::ZERO; slots.min(branches.len().max(1))];
    for branch in branches {
        let Some(slot) = free_at.iter_mut().min() else {
            break;
        };
        *slot = slot.saturating_add(node(branch));
    }
    free_at.into_iter().max().unwrap_or_default()
}

/// Counts the interactive steps of a subtree.
pub fn interactive(steps: &[&PlannedStep]) -> usize {
    steps
        .iter()
        .filter(|s| s.effect == lang::schema::Effect::Interactive)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(count: u32, backoff: Backoff, max: Option<u64>) -> RetrySpec {
        RetrySpec {
            count,
            every: Duration::from_secs(3),
            backoff,
            max: max.map(Duration::from_secs),
            jitter: false,
        }
    }

    #[test]
    fn exponential_delays_double_and_cap() {
        let r = retry(5, Backoff::Exponential, Some(20));
        let delays: Vec<u64> = (1..=5).map(|n| r.delay(n).as_secs()).collect();
        assert_eq!(delays, [3, 6, 12, 20, 20]);
        assert_eq!(r.total_delay(), Duration::from_secs(61));
        // 6 attempts of 2s plus 61s of delays.
        assert_eq!(
            step_worst_case(Duration::from_secs(2), Some(&r)),
            Duration::from_secs(73)
        );
        let c = retry(2, Backoff::Constant, None);
        assert_eq!(c.total_delay(), Duration::from_secs(6));
    }
}
