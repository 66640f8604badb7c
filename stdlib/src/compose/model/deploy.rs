//! `deploy:` of a service, as far as one engine applies it without Swarm: resource limits
//! and reservations, the restart policy, one replica; what only Swarm acts on is a warning.

use super::settings::{Deploy, Settings};
use super::*;

impl Reader<'_> {
    /// `deploy:` on one engine: resource limits and reservations, the restart policy, one
    /// replica; what only Swarm acts on is refused when it would change what runs.
    pub(super) fn deploy(&mut self, v: &Node, what: &str, s: &mut Settings, deploy: &mut Deploy) {
        let Some(map) = self.map(v, what) else { return };
        for (k, (kpos, n)) in map {
            let each = format!("{what} `{k}`");
            match k.as_str() {
                "resources" => self.resources_of(n, &each, s),
                "restart_policy" => deploy.restart = self.restart_policy(n, &each),
                "replicas" => {
                    deploy.replicas = self
                        .int_in(n, &each, 0, 1000)
                        .map(|r| (u32::try_from(r).unwrap_or(1), n.pos));
                }
                "mode" => {
                    let mode = self.string(n, &each).unwrap_or_default();
                    if mode != "replicated" {
                        self.error(n.pos, format!("{each}: `{mode}` needs Swarm; only `replicated` runs on one engine"));
                    }
                }
                "labels" | "placement" | "update_config" | "rollback_config" | "endpoint_mode" => {
                    self.note(format!("{each} is ignored: only Swarm acts on it (as docker compose does without Swarm)"));
                }
                other => self.error(*kpos, format!("{what}: unsupported key `{other}` (supported: resources, restart_policy, replicas, mode, and the Swarm-only labels, placement, update_config, rollback_config, endpoint_mode)")),
            }
        }
    }

    fn resources_of(&mut self, v: &Node, what: &str, s: &mut Settings) {
        let Some(map) = self.map(v, what) else { return };
        for (k, (kpos, n)) in map {
            let each = format!("{what} `{k}`");
            let reservation = match k.as_str() {
                "limits" => false,
                "reservations" => true,
                other => {
                    self.error(
                        *kpos,
                        format!(
                            "{what}: unsupported key `{other}` (supported: limits, reservations)"
                        ),
                    );
                    continue;
                }
            };
            let Some(m) = self.map(n, &each) else {
                continue;
            };
            for (r, (rpos, value)) in m {
                let field = format!("{each} `{r}`");
                match (reservation, r.as_str()) {
                    (false, "memory") => {
                        let n = self.bytes(value, &field);
                        s.mem_limit = self.either(s.mem_limit, n, value, &field, "mem_limit");
                    }
                    (false, "cpus") => {
                        let n = self.cpus(value, &field);
                        s.cpus = self.either(s.cpus, n, value, &field, "cpus");
                    }
                    (false, "pids") => {
                        let n = self.int_in(value, &field, -1, i64::MAX);
                        s.pids_limit = self.either(s.pids_limit, n, value, &field, "pids_limit");
                    }
                    (true, "memory") => {
                        let n = self.bytes(value, &field);
                        s.mem_reservation = self.either(s.mem_reservation, n, value, &field, "mem_reservation");
                    }
                    (true, "cpus") => {
                        self.cpus(value, &field);
                        self.note(format!("{field} is not enforced: one engine reserves no CPU (limits are; as docker compose does without Swarm)"));
                    }
                    (true, "devices" | "generic_resources") => self.error(*rpos, format!("{field}: device reservations (GPUs) are not supported; use `devices:` for device files")),
                    _ => self.error(*rpos, format!("{each}: unsupported key `{r}` (supported: {})", if reservation { "memory, cpus" } else { "memory, cpus, pids" })),
                }
            }
        }
    }

    /// A value given both at the service's top level and under `deploy`: they must agree.
    pub(super) fn either(
        &mut self,
        first: Option<i64>,
        second: Option<i64>,
        at: &Node,
        what: &str,
        key: &str,
    ) -> Option<i64> {
        match (first, second) {
            (Some(a), Some(b)) if a != b => {
                self.error(
                    at.pos,
                    format!(
                        "{what} contradicts `{key}` of the same service; give only one of them"
                    ),
                );
                Some(a)
            }
            (a, b) => b.or(a),
        }
    }

    fn restart_policy(&mut self, v: &Node, what: &str) -> Option<String> {
        let map = self.map(v, what)?;
        let mut condition = String::from("any");
        let mut attempts = None;
        for (k, (kpos, n)) in map {
            let each = format!("{what} `{k}`");
            match k.as_str() {
                "condition" => condition = self.string(n, &each).unwrap_or_default(),
                "max_attempts" => attempts = self.int_in(n, &each, 0, i64::MAX),
                "delay" | "window" => {
                    self.duration_ns(n, &each);
                    self.note(format!("{each} is ignored: the engine restarts with its own back-off outside Swarm (as docker compose does)"));
                }
                other => self.error(*kpos, format!("{what}: unsupported key `{other}` (supported: condition, max_attempts, delay, window)")),
            }
        }
        match condition.as_str() {
            "none" => Some(String::from("no")),
            "any" => Some(String::from("always")),
            // Not in the specification, but docker compose maps it to the engine's policy.
            "unless-stopped" => Some(String::from("unless-stopped")),
            "on-failure" => Some(match attempts {
                Some(n) => format!("on-failure:{n}"),
                None => String::from("on-failure"),
            }),
            other => {
                self.error(
                    v.pos,
                    format!("{what}: condition `{other}` is not one of none, on-failure, any, unless-stopped"),
                );
                None
            }
        }
    }
}
