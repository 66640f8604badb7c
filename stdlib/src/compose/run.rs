//! Running `compose up|down|restart|ps` for real.

use std::time::Duration;

use indexmap::IndexMap;
use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;
use tokio::time::Instant;

use super::actions::{self, Need};
use super::engine::Engine;
use super::model::{self, LoadOptions, Project};

/// How long connecting to the engine may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Loads the step's compose file (an invalid file is a fatal, located error); `strict`
/// makes an unset `${VAR:?message}` an error (for `up`).
pub fn load(
    input: &StepInput,
    strict: bool,
    secrets: &interpreter::redact::Redactor,
) -> Result<Project, StepError> {
    let file = input
        .target_str()
        .ok_or_else(|| StepError::fatal("the compose file is not a path"))?;
    // `profiles` and `env_file` are `up`'s; the other variants read the file without.
    let profiles: Vec<String> = strings(input.optional("profiles"));
    let env_file = input
        .optional("env_file")
        .and_then(Value::as_str)
        .map(std::path::Path::new);
    let vars = input.attr("env").and_then(Value::as_map);
    let env = |k: &str| {
        vars.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| std::env::var(k).ok())
    };
    // A variable holds a secret when the step's `env` gives it a secret value, when its
    // value is one of the run's secrets, or when its name says so (`DB_PASSWORD`).
    let sensitive = |name: &str, value: &str| {
        vars.and_then(|m| m.get(name)).is_some_and(Value::is_secret)
            || secrets.contains(value)
            || super::yaml::looks_sensitive(name)
    };
    let files: Vec<std::path::PathBuf> = strings(input.optional("files"))
        .into_iter()
        .map(std::path::PathBuf::from)
        .collect();
    let options = LoadOptions {
        files: &files,
        project: input.str("project"),
        profiles: &profiles,
        env_file,
        env: &env,
        strict,
        sensitive: &sensitive,
    };
    model::load(std::path::Path::new(file), &options).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        StepError::fatal(format!("invalid compose file:\n{}", text.join("\n")))
            .with_code(lang::Code::ComposeFileInvalid)
    })
}

/// A list-of-strings attribute.
pub fn list(input: &StepInput, name: &str) -> Vec<String> {
    strings(input.attr(name))
}

/// The strings of a list value (none for anything else).
pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `services = [...]` checked against the file; empty means all.
pub fn selected(project: &Project, wanted: &[String]) -> Result<Vec<String>, StepError> {
    for w in wanted {
        if !project.services.contains_key(w) {
            let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
            let why = if project.disabled.contains(w) {
                String::from(" (its profile is not enabled: add it to `profiles`)")
            } else {
                format!(" (services: {})", known.join(", "))
            };
            return Err(StepError::fatal(format!(
                "no service `{w}` in {}{why}",
                project.file.display()
            )));
        }
    }
    Ok(if wanted.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        wanted.to_vec()
    })
}

pub(super) async fn connect(input: &StepInput) -> Result<Engine, StepError> {
    let requests = input.timeout.unwrap_or(Duration::from_secs(300));
    Engine::connect(CONNECT_TIMEOUT, requests)
        .await
        .map_err(|m| StepError::new(m).with_code(lang::Code::EngineUnreachable))
}

/// The time left for waiting: the step's timeout less a margin, so that the step's own
/// message (which service is not ready, and why) wins over a bare timeout.
pub(super) fn deadline(input: &StepInput) -> (Instant, Duration) {
    let limit = input.timeout.unwrap_or(Duration::from_secs(300));
    let margin = (limit / 10).clamp(Duration::from_millis(500), Duration::from_secs(2));
    (Instant::now() + limit.saturating_sub(margin), limit)
}

pub(super) fn int(n: i64) -> Value {
    Value::Int(n)
}

/// `compose down`.
pub async fn down(
    project: &Project,
    input: &StepInput,
    ctx: &StepContext,
) -> Result<Outputs, StepError> {
    let engine = connect(input).await?;
    let remove_orphans = matches!(input.attr("remove_orphans"), Some(Value::Bool(true)));
    let remove_volumes = matches!(input.attr("volumes"), Some(Value::Bool(true)));
    let existing = engine
        .containers(&project.name)
        .await
        .map_err(StepError::new)?;
    let all: Vec<String> = project.services.keys().cloned().collect();
    let order = model::order(&project.services, all).map_err(StepError::fatal)?;
    let orphan_names: Vec<String> = actions::orphans(project, &existing)
        .iter()
        .map(|c| c.service.clone())
        .collect();
    // Dependents first: the reverse of the start order, orphans before everything.
    let mut stop_order: Vec<String> = orphan_names.clone();
    stop_order.extend(order.iter().rev().cloned());
    stop_order.extend(project.disabled.iter().cloned());
    let mut removed = 0;
    for service in &stop_order {
        let is_orphan = orphan_names.contains(service);
        if is_orphan && !remove_orphans {
            continue;
        }
        for c in existing.iter().filter(|c| &c.service == service) {
            if ctx.cancel.is_cancelled() {
                return Err(StepError::fatal("cancelled"));
            }
            engine
                .stop(&c.id, actions::grace(project, service))
                .await
                .map_err(StepError::new)?;
            engine
                .remove(&c.id, remove_volumes)
                .await
                .map_err(StepError::new)?;
            removed += 1;
            ctx.log(format!("{service}: stopped and removed {}", c.name));
        }
    }
    let left_orphans = !remove_orphans && !orphan_names.is_empty();
    for (key, net) in &project.networks {
        if net.external {
            continue;
        }
        let Some(found) = engine.network(&net.name).await.map_err(StepError::new)? else {
            continue;
        };
        let labels = found.labels;
        if labels.get(super::engine::PROJECT) != Some(&project.name) {
            ctx.log(format!(
                "network {}: kept (it does not carry this project's label)",
                net.name
            ));
            continue;
        }
        match engine.remove_network(&net.name).await {
            Ok(()) => ctx.log(format!("network {}: removed", net.name)),
            Err(m) if left_orphans => ctx.log(format!(
                "network {} ({key}): kept, orphan containers still use it: {m}",
                net.name
            )),
            Err(m) => return Err(StepError::new(m)),
        }
    }
    let mut volumes_removed = 0;
    if remove_volumes {
        let owned = engine
            .project_volumes(&project.name)
            .await
            .map_err(StepError::new)?;
        for vol in project.volumes.values().filter(|v| !v.external) {
            if owned.contains(&vol.name) {
                engine
                    .remove_volume(&vol.name)
                    .await
                    .map_err(StepError::new)?;
                volumes_removed += 1;
                ctx.log(format!("volume {}: removed", vol.name));
            }
        }
    }
    Ok(IndexMap::from([
        (String::from("removed"), int(removed)),
        (String::from("volumes_removed"), int(volumes_removed)),
    ]))
}

/// `compose restart`.
pub async fn restart(
    project: &Project,
    input: &StepInput,
    ctx: &StepContext,
) -> Result<Outputs, StepError> {
    let (deadline, limit) = deadline(input);
    let wanted = selected(project, &list(input, "services"))?;
    let engine = connect(input).await?;
    let existing = engine
        .containers(&project.name)
        .await
        .map_err(StepError::new)?;
    let order = model::order(&project.services, wanted.clone()).map_err(StepError::fatal)?;
    let mut targets = Vec::new();
    let mut restarted = 0;
    for service in order.iter().filter(|s| wanted.contains(s)) {
        let mut replicas: Vec<&super::engine::Existing> =
            existing.iter().filter(|c| &c.service == service).collect();
        if replicas.is_empty() {
            return Err(StepError::fatal(format!(
                "service {service} has no container in project {}: bring it up first (compose up)",
                project.name
            )));
        }
        replicas.sort_by_key(|c| c.number);
        let mut level = Vec::new();
        for c in replicas {
            if ctx.cancel.is_cancelled() {
                return Err(StepError::fatal("cancelled"));
            }
            engine
                .restart(&c.id, actions::grace(project, service))
                .await
                .map_err(|m| {
                    StepError::new(actions::start_error(
                        service,
                        &c.name,
                        &project.services[service],
                        &m,
                    ))
                })?;
            restarted += 1;
            ctx.log(format!("{service}: restarted {}", c.name));
            level.push(c.id.clone());
        }
        let need = match input.str("wait").unwrap_or("running") {
            "healthy" => Some(Need::Healthy),
            "running" => Some(Need::Running),
            _ => None,
        };
        if let Some(need) = need {
            // Dependents start after their dependency is back, as in `up`.
            let start = targets.len();
            targets.extend(level.into_iter().map(|id| (service.clone(), id, need)));
            actions::wait_for(&engine, ctx, &targets[start..], deadline, limit).await?;
        }
    }
    Ok(IndexMap::from([(
        String::from("restarted"),
        int(restarted),
    )]))
}

/// `compose ps`.
pub async fn ps(
    project: &Project,
    input: &StepInput,
    _ctx: &StepContext,
) -> Result<Outputs, StepError> {
    let wanted = selected(project, &list(input, "services"))?;
    let engine = connect(input).await?;
    let existing = engine
        .containers(&project.name)
        .await
        .map_err(StepError::new)?;
    let states = actions::states(project, &wanted, &existing);
    let mut services = IndexMap::new();
    let (mut running, mut healthy, mut unhealthy) = (0, 0, 0);
    for (name, (state, health)) in &states {
        let ok_state = state == "running";
        running += i64::from(ok_state);
        healthy += i64::from(health == "healthy");
        unhealthy += i64::from(!ok_state || matches!(health.as_str(), "unhealthy" | "starting"));
        services.insert(
            name.clone(),
            Value::Map(IndexMap::from([
                (String::from("state"), Value::Str(state.clone())),
                (String::from("health"), Value::Str(health.clone())),
            ])),
        );
    }
    Ok(IndexMap::from([
        (String::from("services"), Value::Map(services)),
        (String::from("running"), int(running)),
        (String::from("healthy"), int(healthy)),
        (String::from("unhealthy"), int(unhealthy)),
        (
            String::from("total"),
            int(i64::try_from(states.len()).unwrap_or(0)),
        ),
    ]))
}
