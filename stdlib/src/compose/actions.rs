//! What `compose up|down|restart|ps` do against the engine, and the decision each `up`
//! makes per service (create, recreate and why, start, keep), shared with the dry-run.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use interpreter::step::{StepContext, StepError};
use tokio::time::Instant;

use super::engine::{self, Engine, Existing};
use super::model::{Condition, Project, Resource, Service};

/// What `up` does to one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// No container yet.
    Create,
    /// The configuration (or image) changed: remove and create; the reason names what changed.
    Recreate(String),
    /// Unchanged but not running: start it.
    Start(String),
    /// Unchanged and running.
    Keep,
    /// A replica above the service's count: stop and remove it (the reason says so).
    Remove(String),
}

/// One service's decision.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The service.
    pub service: String,
    /// The replica (`com.docker.compose.container-number`, from 1).
    pub number: u32,
    /// The decision.
    pub action: Action,
    /// Its container, when there is one.
    pub existing: Option<Existing>,
}

/// The image id the plan gives an image it will build (the new id is not known yet).
pub const REBUILT: &str = "<rebuilt>";

/// Decides per service (in `order`) what `up` does, from the containers that exist and
/// the current id of each image (`None` when not known).
pub fn decide(
    project: &Project,
    order: &[String],
    existing: &[Existing],
    image_ids: &HashMap<String, Option<String>>,
) -> Vec<Decision> {
    let mut decisions: Vec<Decision> = Vec::new();
    for name in order {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        for number in 1..=svc.replicas {
            let current = existing
                .iter()
                .find(|c| &c.service == name && c.number == number)
                .cloned();
            let action = replica_action(svc, current.as_ref(), image_ids, &decisions);
            decisions.push(Decision {
                service: name.clone(),
                number,
                action,
                existing: current,
            });
        }
        // Scaled down: the highest numbers go.
        let mut surplus: Vec<&Existing> = existing
            .iter()
            .filter(|c| &c.service == name && c.number > svc.replicas)
            .collect();
        surplus.sort_by_key(|c| std::cmp::Reverse(c.number));
        for c in surplus {
            decisions.push(Decision {
                service: name.clone(),
                number: c.number,
                action: Action::Remove(format!("scaled to {}", svc.replicas)),
                existing: Some(c.clone()),
            });
        }
    }
    decisions
}

fn replica_action(
    svc: &Service,
    current: Option<&Existing>,
    image_ids: &HashMap<String, Option<String>>,
    decided: &[Decision],
) -> Action {
    let action = match current {
        None => Action::Create,
        Some(c) if c.hash != svc.config_hash() => Action::Recreate(changed(c, svc)),
        Some(c)
            if image_ids
                .get(&svc.image)
                .and_then(Option::as_ref)
                .is_some_and(|id| *id != c.image_id) =>
        {
            if image_ids.get(&svc.image).and_then(Option::as_deref) == Some(REBUILT) {
                Action::Recreate(format!(
                    "image {} is rebuilt (kept if nothing it runs changes)",
                    svc.image
                ))
            } else {
                Action::Recreate(format!("image {} was updated", svc.image))
            }
        }
        Some(c) if c.state == "running" => Action::Keep,
        Some(c) => Action::Start(c.state.clone()),
    };
    // A container that shares another's namespace keeps the old one: when that
    // container (replica 1 of its service, which comes first) is replaced, this one must
    // be too.
    if current.is_none() || matches!(action, Action::Recreate(_)) {
        return action;
    }
    let replaced = svc.shared_namespaces().into_iter().find(|(_, owner)| {
        decided.iter().any(|d| {
            d.service == *owner
                && d.number == 1
                && matches!(d.action, Action::Create | Action::Recreate(_))
        })
    });
    match replaced {
        Some((ns, owner)) => Action::Recreate(format!(
            "it shares the {ns} namespace of {owner}, whose container is replaced"
        )),
        None => action,
    }
}

fn changed(c: &Existing, svc: &Service) -> String {
    if c.fields.is_empty() {
        return String::from("configuration hash differs (created by another tool or version)");
    }
    let now = svc.field_hashes();
    let mut names: Vec<&str> = now
        .iter()
        .filter(|(k, v)| c.fields.get(**k) != Some(*v))
        .map(|(k, _)| *k)
        .collect();
    for k in c.fields.keys() {
        if !now.contains_key(k.as_str()) {
            names.push(k);
        }
    }
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        String::from("configuration hash differs")
    } else {
        format!("{} changed", names.join(", "))
    }
}

/// The paths of a container's anonymous volumes (the file's or the image's): its volume
/// mounts that are not the project's named volumes.
pub fn anonymous_volumes<'a>(project: &Project, c: &'a Existing) -> Vec<&'a str> {
    c.volumes
        .iter()
        .filter(|(_, name)| !project.volumes.values().any(|v| &v.name == name))
        .map(|(dest, _)| dest.as_str())
        .collect()
}

/// The anonymous volumes (path in the container, volume name) of an old container that
/// its replacement for `svc` mounts again: those at a path where the file declares an
/// anonymous volume, and (without `volumes_from`, whose mounts come from the other
/// container) the image's `VOLUME`s at paths nothing else is mounted on.
pub fn kept<'a>(
    project: &Project,
    svc: &Service,
    volumes: &'a [(String, String)],
) -> Vec<&'a (String, String)> {
    volumes
        .iter()
        .filter(|(_, name)| !project.volumes.values().any(|v| &v.name == name))
        .filter(
            |(dest, _)| match svc.volumes.iter().find(|m| &m.target == dest) {
                Some(m) => m.anonymous(),
                None => svc.volumes_from.is_empty() && !svc.settings.tmpfs.contains_key(dest),
            },
        )
        .collect()
}

/// The paths of the volumes a recreate of `c` keeps for `svc` (see [`kept`]).
pub fn kept_volumes<'a>(project: &Project, svc: &Service, c: &'a Existing) -> Vec<&'a str> {
    kept(project, svc, &c.volumes)
        .into_iter()
        .map(|(dest, _)| dest.as_str())
        .collect()
}

/// Why an existing network of the project cannot serve the file: its subnets are not
/// the ones `ipam.config` asks for (the engine cannot change a network's addresses).
pub fn subnet_drift(net: &Resource, found: &[String]) -> Option<String> {
    if net.external || net.ipam.pools.is_empty() {
        return None;
    }
    let mut wanted: Vec<&str> = net.ipam.pools.iter().map(|p| p.subnet.as_str()).collect();
    let mut have: Vec<&str> = found.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    have.sort_unstable();
    (wanted != have).then(|| {
        format!(
            "network {} exists with subnets [{}], and the file asks for [{}]: the engine cannot change a network's addresses; take the project down first (compose down), or remove the network",
            net.name,
            have.join(", "),
            wanted.join(", ")
        )
    })
}

/// What the file uses that an engine older than its API version would silently ignore:
/// one line per service and setting, naming the version it needs. An engine that speaks
/// `api` = (1, minor) gets these as errors before anything changes.
pub fn needs_newer_engine(
    project: &Project,
    services: &[String],
    api: (usize, usize),
) -> Vec<String> {
    let mut out = Vec::new();
    for name in services {
        let Some(s) = project.services.get(name) else {
            continue;
        };
        let attachments = s.attachments();
        // Each of these is sent where the engine's API puts it since that version; an
        // older engine drops it without a word.
        let wants: [(bool, &str, usize); 4] = [
            (!s.settings.annotations.is_empty(), "`annotations`", 43),
            (
                s.healthcheck
                    .as_ref()
                    .is_some_and(|h| h.start_interval.is_some()),
                "healthcheck `start_interval`",
                44,
            ),
            (
                s.volumes.iter().any(|m| m.subpath.is_some()),
                "volume `subpath`",
                45,
            ),
            (
                attachments.iter().any(|(_, a)| a.mac_address.is_some()),
                "`mac_address`",
                44,
            ),
        ];
        for (used, what, minor) in wants {
            if used && api < (1, minor) {
                out.push(format!(
                    "service {name}: {what} needs Docker Engine API 1.{minor}, and this engine speaks {}.{} (it would be ignored)",
                    api.0, api.1
                ));
            }
        }
    }
    out
}

/// Containers of the project whose service is not in the file.
pub fn orphans<'a>(project: &Project, existing: &'a [Existing]) -> Vec<&'a Existing> {
    existing
        .iter()
        .filter(|c| {
            !project.services.contains_key(&c.service) && !project.disabled.contains(&c.service)
        })
        .collect()
}

/// The container name of a service (its first replica: what `service:NAME`, links and
/// `volumes_from` refer to).
pub fn container_name(project: &Project, service: &str) -> String {
    replica_name(project, service, 1)
}

/// The container name of one replica: `container_name`, else `PROJECT-SERVICE-N`.
pub fn replica_name(project: &Project, service: &str, number: u32) -> String {
    project
        .services
        .get(service)
        .and_then(|s| s.container_name.clone())
        .unwrap_or_else(|| format!("{}-{service}-{number}", project.name))
}

/// The engine name of a network key of the file.
pub fn network_name(project: &Project, key: &str) -> String {
    project
        .networks
        .get(key)
        .map_or_else(|| format!("{}_{key}", project.name), |n| n.name.clone())
}

/// What a service must reach before the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Its container runs.
    Running,
    /// It is healthy (or running, when it has no healthcheck).
    Healthy,
    /// It exited with code 0.
    Completed,
}

impl Need {
    fn word(self) -> &'static str {
        match self {
            Need::Running => "running",
            Need::Healthy => "healthy",
            Need::Completed => "completed successfully",
        }
    }
}

enum Readiness {
    Ready,
    Pending(String),
    Failed(String),
}

/// Waits until every target meets its need, or fails with what each one is doing.
pub async fn wait_for(
    engine: &Engine,
    ctx: &StepContext,
    targets: &[(String, String, Need)],
    deadline: Instant,
    limit: Duration,
) -> Result<(), StepError> {
    let started = Instant::now();
    let mut ready = vec![false; targets.len()];
    let mut last_pending: Vec<String> = Vec::new();
    let not_ready = |pending: &[String]| {
        StepError::new(format!(
            "not ready within {}: {}",
            humantime_short(limit),
            if pending.is_empty() {
                String::from("the engine did not answer in time")
            } else {
                pending.join("; ")
            }
        ))
    };
    loop {
        let mut pending = Vec::new();
        for (i, (service, id, need)) in targets.iter().enumerate() {
            if ready[i] {
                continue;
            }
            // A slow engine must not push the step past its own deadline: the message
            // then says what was last seen.
            let Ok(state) = tokio::time::timeout_at(
                deadline,
                readiness(engine, service, id, *need, &ctx.secrets),
            )
            .await
            else {
                return Err(not_ready(&last_pending));
            };
            match state? {
                Readiness::Ready => {
                    ready[i] = true;
                    ctx.log(format!(
                        "{service} is {} ({:.1}s)",
                        need.word(),
                        started.elapsed().as_secs_f64()
                    ));
                }
                Readiness::Pending(why) => pending.push(why),
                Readiness::Failed(why) => {
                    let tail = engine.log_tail(id, 5, &ctx.secrets).await;
                    let output = if tail.is_empty() {
                        String::new()
                    } else {
                        format!("; its last output:\n  {}", tail.join("\n  "))
                    };
                    return Err(StepError::fatal(format!("{why}{output}")));
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_ready(&pending));
        }
        last_pending = pending;
        let pause = (Instant::now() + Duration::from_millis(250)).min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(pause) => {}
            _ = ctx.cancel.cancelled() => return Err(StepError::fatal("cancelled while waiting for the services")),
        }
    }
}

async fn readiness(
    engine: &Engine,
    service: &str,
    id: &str,
    need: Need,
    secrets: &interpreter::redact::Redactor,
) -> Result<Readiness, StepError> {
    let Some(inspect) = engine.inspect(id).await.map_err(StepError::new)? else {
        return Ok(Readiness::Failed(format!(
            "the container of {service} disappeared"
        )));
    };
    let state = inspect.state.clone().unwrap_or_default();
    let status = state.status.map_or_else(String::new, |s| s.to_string());
    let exit = state.exit_code.unwrap_or_default();
    let health = state
        .health
        .as_ref()
        .and_then(|h| h.status)
        .map_or_else(String::new, |s| s.to_string());
    let last = engine::last_health_output(&inspect, secrets)
        .map(|o| format!(" (last health check {o})"))
        .unwrap_or_default();
    Ok(match (need, status.as_str()) {
        (Need::Completed, "exited") if exit == 0 => Readiness::Ready,
        (Need::Completed, "exited" | "dead") => Readiness::Failed(format!(
            "{service} was to complete successfully but exited with code {exit}"
        )),
        (Need::Completed, s) => Readiness::Pending(format!("{service} is still {s}")),
        (_, "exited" | "dead") => Readiness::Failed(format!(
            "{service} exited with code {exit} instead of running"
        )),
        (Need::Running, "running") => Readiness::Ready,
        (Need::Healthy, "running") => match health.as_str() {
            "healthy" | "" | "none" => Readiness::Ready,
            "unhealthy" => Readiness::Failed(format!("{service} is unhealthy{last}")),
            other => Readiness::Pending(format!("{service} is {other}{last}")),
        },
        (_, s) => Readiness::Pending(format!("{service} is {s}")),
    })
}

fn humantime_short(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// What each service must reach before its dependents start, from their `depends_on`.
pub fn dependency_needs(project: &Project, service: &str) -> Vec<(String, Need)> {
    project
        .services
        .get(service)
        .map(|s| {
            s.depends_on
                .iter()
                .map(|(dep, c)| {
                    let need = match c {
                        Condition::ServiceStarted => Need::Running,
                        Condition::ServiceHealthy => Need::Healthy,
                        Condition::ServiceCompletedSuccessfully => Need::Completed,
                    };
                    (dep.clone(), need)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Services that others wait on to complete: one-shot jobs, which end by exiting.
pub fn one_shots(project: &Project) -> Vec<String> {
    let mut out: Vec<String> = project
        .services
        .values()
        .flat_map(|s| {
            s.depends_on
                .iter()
                .filter(|(_, c)| **c == Condition::ServiceCompletedSuccessfully)
                .map(|(d, _)| d.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The stop grace period of a service (Compose's default: 10 s).
pub fn grace(project: &Project, service: &str) -> u64 {
    project
        .services
        .get(service)
        .and_then(|s| s.stop_grace_period)
        .unwrap_or(10)
}

/// Counts for the step's outputs.
#[derive(Debug, Default)]
pub struct Counts {
    /// Containers created.
    pub created: i64,
    /// Containers recreated.
    pub recreated: i64,
    /// Existing containers started.
    pub started: i64,
    /// Containers kept as they were.
    pub kept: i64,
    /// Replicas removed by scaling down.
    pub removed: i64,
}

/// The services of `order` in dependency levels: each level's dependencies are all in
/// earlier levels, so the services of one level can start together.
pub fn levels(project: &Project, order: &[String]) -> Vec<Vec<String>> {
    let mut level_of: HashMap<&str, usize> = HashMap::new();
    let mut levels: Vec<Vec<String>> = Vec::new();
    // `order` puts every dependency before its dependents.
    for name in order {
        let level = project.services.get(name).map_or(0, |s| {
            s.depends_on
                .keys()
                .filter_map(|d| level_of.get(d.as_str()))
                .map(|l| l + 1)
                .max()
                .unwrap_or(0)
        });
        level_of.insert(name, level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(name.clone());
    }
    levels
}

/// Labels of a network or volume that the project owns.
pub fn owned_labels(project: &Project, kind: &str, key: &str) -> HashMap<String, String> {
    HashMap::from([
        (engine::PROJECT.to_string(), project.name.clone()),
        (format!("com.docker.compose.{kind}"), key.to_string()),
    ])
}

/// A friendlier message for a container that would not start.
pub fn start_error(service: &str, name: &str, svc: &Service, message: &str) -> String {
    let mut text = format!("service {service}: container {name} did not start: {message}");
    if message.contains("address already in use") || message.contains("port is already allocated") {
        let ports: Vec<String> = svc
            .ports
            .iter()
            .map(|p| {
                let ip = if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.host_ip
                };
                format!("{ip}:{}", p.published)
            })
            .collect();
        text.push_str(&format!(
            " (a published port is already in use by another process: {})",
            ports.join(", ")
        ));
    }
    text
}

/// One state and health for all the replicas of a service: `running` only when every
/// replica runs (else the first other state), and the worst health.
fn service_state(replicas: &[&Existing]) -> (String, String) {
    if replicas.is_empty() {
        return (String::from("missing"), String::from("none"));
    }
    let state = replicas
        .iter()
        .find(|c| c.state != "running")
        .map_or_else(|| String::from("running"), |c| c.state.clone());
    let health = ["unhealthy", "starting", "none", "healthy"]
        .into_iter()
        .find(|h| replicas.iter().any(|c| c.health == *h))
        .unwrap_or("none");
    (state, health.to_string())
}

/// Per service, its state and health as `ps` reports them (`missing` without a container).
pub fn states(
    project: &Project,
    services: &[String],
    existing: &[Existing],
) -> BTreeMap<String, (String, String)> {
    services
        .iter()
        .filter(|s| project.services.contains_key(*s))
        .map(|s| {
            let replicas: Vec<&Existing> = existing.iter().filter(|c| &c.service == s).collect();
            (s.clone(), service_state(&replicas))
        })
        .collect()
}
