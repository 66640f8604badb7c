//! Retry delays and worst-case durations.
//!
//! One attempt of a step takes at most its timeout (or, for `wait 45s`, its duration);
//! a step with `retry N` makes N+1 attempts with the retry delays between them. A
//! sequence takes the sum of its parts; a `parallel` group is simulated slot by slot
//! with its `limit`, in the order the executor starts branches. Every group has two worst
//! cases: the success path (its `always` handler included) and the failure path (the
//! nodes before the failing one, the failing one's own failure path, then its `on
//! failure` and `always` handlers). Operator time at `confirm`/`manual` is not counted
//! (the plan lists those steps as operator time).

use std::time::Duration;

use super::{Group, GroupKind, Node, RetrySpec};

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

/// The worst case of a sequence of nodes on the success path.
pub fn sequence(nodes: &[Node]) -> Duration {
    nodes
        .iter()
        .fold(Duration::ZERO, |acc, n| acc.saturating_add(node(n)))
}

/// The worst case of a sequence that fails: the steps before the failing node succeed,
/// the failing node takes its failure path, nothing after it starts.
pub fn sequence_failing(nodes: &[Node]) -> Duration {
    let mut before = Duration::ZERO;
    let mut worst = Duration::ZERO;
    for n in nodes {
        worst = worst.max(before.saturating_add(node_failing(n)));
        before = before.saturating_add(node(n));
    }
    worst
}

/// The worst case of handler nodes: any of them may fail, so each counts its longer path.
pub fn handler(nodes: &[Node]) -> Duration {
    nodes.iter().fold(Duration::ZERO, |acc, n| {
        acc.saturating_add(node(n).max(node_failing(n)))
    })
}

/// The worst case of one node on the success path (a group's `always` included).
pub fn node(node: &Node) -> Duration {
    match node {
        Node::Step(s) => s.worst_case,
        Node::Group(g) => g.worst_case,
    }
}

/// The worst case of one node that fails (a group's handlers included). A failing step
/// makes every attempt, which its worst case already counts.
pub fn node_failing(node: &Node) -> Duration {
    match node {
        Node::Step(s) => s.worst_case,
        Node::Group(g) => g.worst_failure,
    }
}

/// A group's worst cases `(success, failure)`, its handlers included: `always` runs on
/// both paths, `on failure` on the failure path; a call with `on_failure = continue`
/// goes on after a failure, so its success path is its longer one.
pub fn group(g: &Group) -> (Duration, Duration) {
    let (body, failing) = match g.kind {
        GroupKind::Parallel => (
            parallel(&g.children, g.limit, node),
            parallel(&g.children, g.limit, |n| node(n).max(node_failing(n))),
        ),
        GroupKind::Stage | GroupKind::Call | GroupKind::Sequence => {
            (sequence(&g.children), sequence_failing(&g.children))
        }
    };
    let always = handler(&g.always);
    let success = body.saturating_add(always);
    let failure = failing
        .saturating_add(handler(&g.on_failure))
        .saturating_add(always);
    if g.kind == GroupKind::Call && g.on_failure_mode == super::OnFailure::Continue {
        return (success.max(failure), failure);
    }
    (success, failure)
}

/// Greedy list scheduling of branches onto `limit` slots, in start order (as the
/// executor starts them: each branch takes the slot that frees first), with a heap of
/// the slots' end times: O(N log limit).
pub fn parallel(
    branches: &[Node],
    limit: Option<usize>,
    cost: impl Fn(&Node) -> Duration,
) -> Duration {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let slots = limit
        .unwrap_or(branches.len())
        .max(1)
        .min(branches.len().max(1));
    let mut free_at: BinaryHeap<Reverse<Duration>> = BinaryHeap::with_capacity(slots);
    let mut end = Duration::ZERO;
    for branch in branches {
        let start = if free_at.len() < slots {
            Duration::ZERO
        } else {
            free_at.pop().map_or(Duration::ZERO, |Reverse(t)| t)
        };
        let done = start.saturating_add(cost(branch));
        end = end.max(done);
        free_at.push(Reverse(done));
    }
    end
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
