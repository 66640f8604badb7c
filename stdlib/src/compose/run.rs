//! Running `compose up|down|restart|ps` for real.

use std::collections::HashMap;
use std::time::Duration;

use indexmap::IndexMap;
use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;
use tokio::time::Instant;

use super::actions::{self, Action, Counts, Need};
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
    let options = LoadOptions {
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

async fn connect(input: &StepInput) -> Result<Engine, StepError> {
    let requests = input.timeout.unwrap_or(Duration::from_secs(300));
    Engine::connect(CONNECT_TIMEOUT, requests)
        .await
        .map_err(|m| StepError::new(m).with_code(lang::Code::EngineUnreachable))
}

/// The time left for waiting: the step's timeout less a margin, so that the step's own
/// message (which service is not ready, and why) wins over a bare timeout.
fn deadline(input: &StepInput) -> (Instant, Duration) {
    let limit = input.timeout.unwrap_or(Duration::from_secs(300));
    let margin = (limit / 10).clamp(Duration::from_millis(500), Duration::from_secs(2));
    (Instant::now() + limit.saturating_sub(margin), limit)
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

/// `compose up`.
pub async fn up(
    project: &Project,
    input: &StepInput,
    ctx: &StepContext,
) -> Result<Outputs, StepError> {
    let (deadline, limit) = deadline(input);
    let wanted = selected(project, &list(input, "services"))?;
    let order = model::order(&project.services, wanted).map_err(StepError::fatal)?;
    let engine = connect(input).await?;
    let pull = input.str("pull").unwrap_or("missing");
    let image_ids = images(&engine, project, &order, pull, ctx).await?;
    networks_and_volumes(&engine, project, &order, ctx).await?;
    let existing = engine
        .containers(&project.name)
        .await
        .map_err(StepError::new)?;
    for orphan in actions::orphans(project, &existing) {
        ctx.log(format!(
            "container {} belongs to service {}, which is not in the file (kept; `compose down` with remove_orphans = true removes it)",
            orphan.name, orphan.service
        ));
    }
    let decisions = actions::decide(project, &order, &existing, &image_ids);
    let mut counts = Counts::default();
    let mut ids: HashMap<String, String> = HashMap::new();
    // Dependencies already seen healthy or completed are not waited for (nor logged) again.
    let mut confirmed: Vec<String> = Vec::new();
    for d in &decisions {
        if ctx.cancel.is_cancelled() {
            return Err(StepError::fatal("cancelled"));
        }
        let svc = &project.services[&d.service];
        let needs: Vec<(String, String, Need)> = actions::dependency_needs(project, &d.service)
            .into_iter()
            .filter(|(_, n)| *n != Need::Running)
            .filter_map(|(dep, n)| ids.get(&dep).map(|id| (dep, id.clone(), n)))
            .collect();
        let needs: Vec<(String, String, Need)> = needs
            .into_iter()
            .filter(|(dep, _, _)| !confirmed.contains(dep))
            .collect();
        if !needs.is_empty() && d.action != Action::Keep {
            actions::wait_for(&engine, ctx, &needs, deadline, limit).await?;
            confirmed.extend(needs.into_iter().map(|(dep, _, _)| dep));
        }
        let name = actions::container_name(project, &d.service);
        let id = match &d.action {
            Action::Keep => {
                counts.kept += 1;
                ctx.log(format!("{}: kept (running, unchanged)", d.service));
                d.existing
                    .as_ref()
                    .map(|c| c.id.clone())
                    .unwrap_or_default()
            }
            Action::Start(state) => {
                let id = d
                    .existing
                    .as_ref()
                    .map(|c| c.id.clone())
                    .unwrap_or_default();
                engine.start(&id).await.map_err(|m| {
                    StepError::new(actions::start_error(&d.service, &name, svc, &m))
                })?;
                counts.started += 1;
                ctx.log(format!("{}: started (was {state})", d.service));
                id
            }
            Action::Create | Action::Recreate(_) => {
                if let (Action::Recreate(why), Some(old)) = (&d.action, &d.existing) {
                    engine
                        .stop(&old.id, actions::grace(project, &d.service))
                        .await
                        .map_err(StepError::new)?;
                    engine
                        .remove(&old.id, false)
                        .await
                        .map_err(StepError::new)?;
                    let kept = actions::kept_volumes(project, svc, old);
                    let kept = if kept.is_empty() {
                        String::new()
                    } else {
                        format!("; its volumes at {} are kept", kept.join(", "))
                    };
                    ctx.log(format!(
                        "{}: removed the old container ({why}){kept}",
                        d.service
                    ));
                }
                let kept = d.existing.as_ref().map_or(&[][..], |c| &c.volumes[..]);
                let body = super::body::container_body(project, &d.service, svc, kept);
                let id = engine
                    .create(&name, body, svc.settings.platform.as_deref())
                    .await
                    .map_err(StepError::new)?;
                if let Some(tar) = super::body::copied_files(svc).map_err(StepError::fatal)? {
                    engine.upload(&id, tar).await.map_err(StepError::new)?;
                }
                for (network, attachment) in svc.attachments().into_iter().skip(1) {
                    engine
                        .join_network(
                            &actions::network_name(project, network),
                            &id,
                            super::body::endpoint(&d.service, attachment),
                        )
                        .await
                        .map_err(StepError::new)?;
                }
                engine.start(&id).await.map_err(|m| {
                    StepError::new(actions::start_error(&d.service, &name, svc, &m))
                })?;
                if matches!(d.action, Action::Create) {
                    counts.created += 1;
                    ctx.log(format!("{}: created and started {name}", d.service));
                } else {
                    counts.recreated += 1;
                    ctx.log(format!("{}: recreated {name}", d.service));
                }
                id
            }
        };
        ids.insert(d.service.clone(), id);
    }
    let mode = input.str("wait").unwrap_or("running");
    if mode != "none" {
        let one_shots = actions::one_shots(project);
        let targets: Vec<(String, String, Need)> = order
            .iter()
            .filter_map(|s| {
                let need = if one_shots.contains(s) {
                    Need::Completed
                } else if mode == "healthy" {
                    Need::Healthy
                } else {
                    Need::Running
                };
                ids.get(s)
                    .filter(|_| !confirmed.contains(s))
                    .map(|id| (s.clone(), id.clone(), need))
            })
            .collect();
        actions::wait_for(&engine, ctx, &targets, deadline, limit).await?;
    }
    Ok(IndexMap::from([
        (String::from("created"), int(counts.created)),
        (String::from("recreated"), int(counts.recreated)),
        (String::from("started"), int(counts.started)),
        (String::from("kept"), int(counts.kept)),
    ]))
}

async fn images(
    engine: &Engine,
    project: &Project,
    order: &[String],
    pull: &str,
    ctx: &StepContext,
) -> Result<HashMap<String, Option<String>>, StepError> {
    let mut ids = HashMap::new();
    for s in order {
        let image = &project.services[s].image;
        if ids.contains_key(image) {
            continue;
        }
        let mut id = engine.image_id(image).await.map_err(StepError::new)?;
        let fetch = match pull {
            "always" => true,
            "never" => false,
            _ => id.is_none(),
        };
        if fetch {
            ctx.log(format!("pulling {image}"));
            if let Err(m) = engine.pull(image).await {
                let hint = if id.is_some() {
                    " (a local copy exists: `pull = missing` would use it)"
                } else {
                    ""
                };
                return Err(StepError::fatal(format!("service {s}: {m}{hint}")));
            }
            id = engine.image_id(image).await.map_err(StepError::new)?;
        }
        if id.is_none() {
            return Err(StepError::fatal(format!(
                "service {s}: image {image} is not in the engine and pull = {pull}"
            )));
        }
        ids.insert(image.clone(), id);
    }
    Ok(ids)
}

async fn networks_and_volumes(
    engine: &Engine,
    project: &Project,
    order: &[String],
    ctx: &StepContext,
) -> Result<(), StepError> {
    for key in project.networks_used(order) {
        let net = &project.networks[key];
        match engine.network(&net.name).await.map_err(StepError::new)? {
            Some(found) => {
                if let Some(why) = actions::subnet_drift(net, &found.subnets) {
                    return Err(StepError::fatal(why));
                }
            }
            None if net.external => {
                return Err(StepError::fatal(format!(
                    "external network {} does not exist: create it first (docker network create {}), or drop `external: true`",
                    net.name, net.name
                )));
            }
            None => {
                let mut labels = actions::owned_labels(project, "network", key);
                labels.extend(net.labels.clone());
                engine
                    .create_network(net, labels)
                    .await
                    .map_err(StepError::new)?;
                ctx.log(format!("network {}: created", net.name));
            }
        }
    }
    for key in project.volumes_used(order) {
        let vol = &project.volumes[key];
        match engine.volume(&vol.name).await.map_err(StepError::new)? {
            Some(_) => {}
            None if vol.external => {
                return Err(StepError::fatal(format!(
                    "external volume {} does not exist: create it first, or drop `external: true`",
                    vol.name
                )));
            }
            None => {
                let mut labels = actions::owned_labels(project, "volume", key);
                labels.extend(vol.labels.clone());
                engine
                    .create_volume(vol, labels)
                    .await
                    .map_err(StepError::new)?;
                ctx.log(format!("volume {}: created", vol.name));
            }
        }
    }
    Ok(())
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
        let Some(c) = existing.iter().find(|c| &c.service == service) else {
            return Err(StepError::fatal(format!(
                "service {service} has no container in project {}: bring it up first (compose up)",
                project.name
            )));
        };
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
        let need = match input.str("wait").unwrap_or("running") {
            "healthy" => Some(Need::Healthy),
            "running" => Some(Need::Running),
            _ => None,
        };
        if let Some(need) = need {
            // Dependents start after their dependency is back, as in `up`.
            targets.push((service.clone(), c.id.clone(), need));
            actions::wait_for(&engine, ctx, &targets[targets.len() - 1..], deadline, limit).await?;
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
