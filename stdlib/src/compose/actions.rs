//! What `compose up|down|restart|ps` do against the engine, and the decision each `up`
//! makes per service (create, recreate and why, start, keep), shared with the dry-run.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use interpreter::step::{StepContext, StepError};
use tokio::time::Instant;

use super::engine::{self, Engine, Existing};
use super::model::{Condition, Project, Service};

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
}

/// One service's decision.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The service.
    pub service: String,
    /// The decision.
    pub action: Action,
    /// Its container, when there is one.
    pub existing: Option<Existing>,
}

/// Decides per service (in `order`) what `up` does, from the containers that exist and
/// the current id of each image (`None` when not known).
pub fn decide(
    project: &Project,
    order: &[String],
    existing: &[Existing],
    image_ids: &HashMap<String, Option<String>>,
) -> Vec<Decision> {
    order
        .iter()
        .filter_map(|name| {
            let svc = project.services.get(name)?;
            let current = existing.iter().find(|c| &c.service == name).cloned();
            let action = match &current {
                None => Action::Create,
                Some(c) if c.hash != svc.config_hash() => Action::Recreate(changed(c, svc)),
                Some(c)
                    if image_ids
                        .get(&svc.image)
                        .and_then(Option::as_ref)
                        .is_some_and(|id| *id != c.image_id) =>
                {
                    Action::Recreate(format!("image {} was updated", svc.image))
                }
                Some(c) if c.state == "running" => Action::Keep,
                Some(c) => Action::Start(c.state.clone()),
            };
            Some(Decision {
                service: name.clone(),
                action,
                existing: current,
            })
        })
        .collect()
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

/// Containers of the project whose service is not in the file.
pub fn orphans<'a>(project: &Project, existing: &'a [Existing]) -> Vec<&'a Existing> {
    existing
        .iter()
        .filter(|c| {
            !project.services.contains_key(&c.service) && !project.disabled.contains(&c.service)
        })
        .collect()
}

/// The container name of a service.
pub fn container_name(project: &Project, service: &str) -> String {
    project
        .services
        .get(service)
        .and_then(|s| s.container_name.clone())
        .unwrap_or_else(|| format!("{}-{service}-1", project.name))
}

/// The engine's create request for a service, with the standard Compose labels.
pub fn container_body(project: &Project, service: &str, svc: &Service) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = svc.labels.clone().into_iter().collect();
    let abs = |p: &std::path::Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let fields: Vec<String> = svc
        .field_hashes()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for (k, v) in [
        (engine::PROJECT, project.name.clone()),
        (engine::SERVICE, service.to_string()),
        (engine::NUMBER, String::from("1")),
        (engine::CONFIG_HASH, svc.config_hash()),
        ("com.docker.compose.oneoff", String::from("False")),
        ("com.docker.compose.project.working_dir", abs(&project.dir)),
        (
            "com.docker.compose.project.config_files",
            abs(&project.file),
        ),
        ("com.docker.compose.version", String::from("2.0.0")),
        (engine::FIELDS, fields.join(",")),
    ] {
        labels.insert(k.to_string(), v);
    }
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(p.published.clone()),
            });
    }
    for e in &svc.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    let binds: Vec<String> = svc
        .volumes
        .iter()
        .map(|m| {
            let source = if m.kind == "volume" {
                project
                    .volumes
                    .get(&m.source)
                    .map_or(m.source.clone(), |v| v.name.clone())
            } else {
                m.source.clone()
            };
            format!(
                "{source}:{}{}",
                m.target,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect();
    let restart_policy = svc.restart.as_deref().map(|r| {
        let (name, count) = r.split_once(':').unwrap_or((r, ""));
        RestartPolicy {
            name: Some(match name {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: count.parse().ok(),
        }
    });
    let (first_network, aliases) = svc
        .networks
        .iter()
        .next()
        .map(|(n, a)| (n.clone(), a.clone()))
        .unwrap_or_else(|| (String::from("default"), Vec::new()));
    let network_name = network_name(project, &first_network);
    let mut all_aliases = vec![service.to_string()];
    all_aliases.extend(aliases);
    ContainerCreateBody {
        image: Some(svc.image.clone()),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: Some(
            svc.environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        working_dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        hostname: svc.hostname.clone(),
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc
            .stop_grace_period
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: svc.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: h.interval,
            timeout: h.timeout,
            retries: h.retries,
            start_period: h.start_period,
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            restart_policy,
            init: svc.init,
            extra_hosts: (!svc.extra_hosts.is_empty()).then(|| svc.extra_hosts.clone()),
            network_mode: Some(network_name.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network_name,
                EndpointSettings {
                    aliases: Some(all_aliases),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
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
            let state = existing.iter().find(|c| &c.service == s).map_or_else(
                || (String::from("missing"), String::from("none")),
                |c| (c.state.clone(), c.health.clone()),
            );
            (s.clone(), state)
        })
        .collect()
}
