//! `compose up` for real: images (built concurrently), networks and volumes, then the
//! services level by level (a level is the services whose dependencies all come before
//! it). New containers are all created first (level by level, concurrently within one);
//! then, per level, once its dependency conditions are met, the containers of the level
//! are started, recreated or removed concurrently (at most [`CONCURRENCY`] at once).

use std::collections::HashMap;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use interpreter::step::{Outputs, StepContext, StepError, StepInput};

use super::actions::{self, Action, Counts, Decision, Need};
use super::engine::Engine;
use super::model::{self, Project};
use super::run::{connect, deadline, int, list, selected};

/// One container's work, done concurrently with the others of its level.
type Job<'a> = BoxFuture<'a, Result<(&'a Decision, Option<String>), StepError>>;

/// How many containers of one level are worked on at once.
pub const CONCURRENCY: usize = 8;

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
    let too_new = actions::needs_newer_engine(project, &order, engine.api_version());
    if !too_new.is_empty() {
        return Err(StepError::fatal(too_new.join("; ")));
    }
    let pull = input.str("pull").unwrap_or("missing");
    let policy = input.str("build").unwrap_or("changed");
    let image_ids = images(&engine, project, &order, pull, policy, ctx).await?;
    networks_and_volumes(&engine, project, &order, ctx).await?;
    let mut existing = engine
        .containers(&project.name)
        .await
        .map_err(StepError::new)?;
    let mut image_ids = image_ids;
    same_content(&engine, project, &mut image_ids, &mut existing).await?;
    for orphan in actions::orphans(project, &existing) {
        ctx.log(format!(
            "container {} belongs to service {}, which is not in the file (kept; `compose down` with remove_orphans = true removes it)",
            orphan.name, orphan.service
        ));
    }
    let decisions = actions::decide(project, &order, &existing, &image_ids);
    let mut counts = Counts::default();
    // Container ids per service (every replica), for the waits of later levels.
    let mut ids: HashMap<String, Vec<String>> = HashMap::new();
    // Dependencies already seen healthy or completed are not waited for (nor logged) again.
    let mut confirmed: Vec<String> = Vec::new();
    let levels = actions::levels(project, &order);
    let created = create_ahead(&engine, project, &levels, &decisions, ctx).await?;
    for level in levels {
        if ctx.cancel.is_cancelled() {
            return Err(StepError::fatal("cancelled"));
        }
        let units: Vec<&Decision> = decisions
            .iter()
            .filter(|d| level.contains(&d.service))
            .collect();
        // What this level waits for: the conditions of its services that change something.
        let mut needs: Vec<(String, String, Need)> = Vec::new();
        for service in &level {
            if units.iter().all(|d| {
                &d.service != service || matches!(d.action, Action::Keep | Action::Remove(_))
            }) {
                continue;
            }
            for (dep, need) in actions::dependency_needs(project, service) {
                if need == Need::Running || confirmed.contains(&dep) {
                    continue;
                }
                for id in ids.get(&dep).into_iter().flatten() {
                    if !needs.iter().any(|(_, i, _)| i == id) {
                        needs.push((dep.clone(), id.clone(), need));
                    }
                }
            }
        }
        if !needs.is_empty() {
            actions::wait_for(&engine, ctx, &needs, deadline, limit).await?;
            confirmed.extend(needs.into_iter().map(|(dep, _, _)| dep));
        }
        let jobs: Vec<Job<'_>> = units
            .into_iter()
            .map(|d| {
                let made = created.get(&(d.service.clone(), d.number));
                Box::pin(apply(&engine, project, d, made, ctx)) as Job<'_>
            })
            .collect();
        let mut work = futures_util::stream::iter(jobs).buffer_unordered(CONCURRENCY);
        while let Some(done) = work.next().await {
            let (d, id) = done?;
            match &d.action {
                Action::Keep => counts.kept += 1,
                Action::Start(_) => counts.started += 1,
                Action::Create => counts.created += 1,
                Action::Recreate(_) => counts.recreated += 1,
                Action::Remove(_) => counts.removed += 1,
            }
            if let Some(id) = id {
                ids.entry(d.service.clone()).or_default().push(id);
            }
        }
    }
    let mode = input.str("wait").unwrap_or("running");
    if mode != "none" {
        let one_shots = actions::one_shots(project);
        let mut targets: Vec<(String, String, Need)> = Vec::new();
        for s in order.iter().filter(|s| !confirmed.contains(s)) {
            let need = if one_shots.contains(s) {
                Need::Completed
            } else if mode == "healthy" {
                Need::Healthy
            } else {
                Need::Running
            };
            for id in ids.get(s).into_iter().flatten() {
                targets.push((s.clone(), id.clone(), need));
            }
        }
        actions::wait_for(&engine, ctx, &targets, deadline, limit).await?;
    }
    Ok(IndexMap::from([
        (String::from("created"), int(counts.created)),
        (String::from("recreated"), int(counts.recreated)),
        (String::from("started"), int(counts.started)),
        (String::from("kept"), int(counts.kept)),
        (String::from("removed"), int(counts.removed)),
    ]))
}

/// Does one decision; returns it with the id of the container that now runs (none for a
/// removed replica).
async fn apply<'d>(
    engine: &Engine,
    project: &Project,
    d: &'d Decision,
    created: Option<&String>,
    ctx: &StepContext,
) -> Result<(&'d Decision, Option<String>), StepError> {
    if ctx.cancel.is_cancelled() {
        return Err(StepError::fatal("cancelled"));
    }
    let svc = &project.services[&d.service];
    let name = actions::replica_name(project, &d.service, d.number);
    let existing_id = || {
        d.existing
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default()
    };
    let id =
        match &d.action {
            Action::Keep => {
                ctx.log(format!("{}: kept {name} (running, unchanged)", d.service));
                existing_id()
            }
            Action::Start(state) => {
                let id = existing_id();
                engine.start(&id).await.map_err(|m| {
                    StepError::new(actions::start_error(&d.service, &name, svc, &m))
                })?;
                ctx.log(format!("{}: started {name} (was {state})", d.service));
                id
            }
            Action::Remove(why) => {
                let id = existing_id();
                engine
                    .stop(&id, actions::grace(project, &d.service))
                    .await
                    .map_err(StepError::new)?;
                engine.remove(&id, false).await.map_err(StepError::new)?;
                ctx.log(format!("{}: stopped and removed {name} ({why})", d.service));
                return Ok((d, None));
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
                        "{}: removed the old {name} ({why}){kept}",
                        d.service
                    ));
                }
                let id = match created {
                    Some(id) => id.clone(),
                    None => create(engine, project, d).await?,
                };
                engine.start(&id).await.map_err(|m| {
                    StepError::new(actions::start_error(&d.service, &name, svc, &m))
                })?;
                if matches!(d.action, Action::Create) {
                    ctx.log(format!("{}: created and started {name}", d.service));
                } else {
                    ctx.log(format!("{}: recreated {name}", d.service));
                }
                id
            }
        };
    Ok((d, Some(id)))
}

/// Creates a decision's container, ready to start: created, its secrets and configs
/// copied in, joined to its other networks.
async fn create(engine: &Engine, project: &Project, d: &Decision) -> Result<String, StepError> {
    let svc = &project.services[&d.service];
    let name = actions::replica_name(project, &d.service, d.number);
    let kept = d.existing.as_ref().map_or(&[][..], |c| &c.volumes[..]);
    let body = super::body::container_body(project, &d.service, svc, d.number, kept);
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
    Ok(id)
}

/// The new containers (`Create`, nothing to replace), created before anything starts,
/// level by level and concurrently within a level: creating does not need a dependency
/// to run, so only the starts wait for the `depends_on` conditions. A container that
/// names another at creation ([`refers_to_another`]) waits for its level instead.
async fn create_ahead(
    engine: &Engine,
    project: &Project,
    levels: &[Vec<String>],
    decisions: &[Decision],
    ctx: &StepContext,
) -> Result<HashMap<(String, u32), String>, StepError> {
    let mut created = HashMap::new();
    for level in levels {
        if ctx.cancel.is_cancelled() {
            return Err(StepError::fatal("cancelled"));
        }
        let jobs: Vec<BoxFuture<'_, Result<(&Decision, String), StepError>>> = decisions
            .iter()
            .filter(|d| level.contains(&d.service) && d.action == Action::Create)
            .filter(|d| !refers_to_another(&project.services[&d.service]))
            .map(|d| {
                Box::pin(async move { create(engine, project, d).await.map(|id| (d, id)) })
                    as BoxFuture<'_, _>
            })
            .collect();
        let mut work = futures_util::stream::iter(jobs).buffer_unordered(CONCURRENCY);
        while let Some(done) = work.next().await {
            let (d, id) = done?;
            created.insert((d.service.clone(), d.number), id);
        }
    }
    Ok(created)
}

/// Whether creating a service's container resolves another container (a shared
/// namespace, `volumes_from`, `links`): such a container is created at its level, after
/// the one it names may have been replaced.
fn refers_to_another(svc: &model::Service) -> bool {
    !svc.shared_namespaces().is_empty() || !svc.volumes_from.is_empty() || !svc.links.is_empty()
}

async fn images(
    engine: &Engine,
    project: &Project,
    order: &[String],
    pull: &str,
    policy: &str,
    ctx: &StepContext,
) -> Result<HashMap<String, Option<String>>, StepError> {
    let mut ids = HashMap::new();
    // The images to build, each once, built concurrently (the builds do not depend on
    // one another: each starts FROM images that exist).
    let mut builds: Vec<BoxFuture<'_, Result<(String, String), StepError>>> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for s in order {
        let svc = &project.services[s];
        let Some(b) = &svc.build else { continue };
        if seen.contains(&svc.image.as_str()) {
            continue;
        }
        seen.push(&svc.image);
        let policy = match svc.pull_policy.as_deref() {
            Some("build") => "always",
            _ => policy,
        };
        builds.push(Box::pin(async move {
            let id = build(engine, project, s, b, policy, ctx).await?;
            Ok((svc.image.clone(), id))
        }));
    }
    let mut built = futures_util::stream::iter(builds).buffer_unordered(CONCURRENCY);
    while let Some(done) = built.next().await {
        let (image, id) = done?;
        ids.insert(image, Some(id));
    }
    drop(built);
    for s in order {
        let image = &project.services[s].image;
        if ids.contains_key(image) {
            continue;
        }
        let svc = &project.services[s];
        let pull = svc
            .pull_policy
            .as_deref()
            .filter(|p| *p != "build")
            .unwrap_or(pull);
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

/// For the services that build their image, compares what the images run rather than
/// their ids: a rebuild whose change nothing in the image uses (another service's file in
/// a shared context) gives a new id but the same content, and keeps the container.
pub(super) async fn same_content(
    engine: &Engine,
    project: &Project,
    image_ids: &mut HashMap<String, Option<String>>,
    existing: &mut [super::engine::Existing],
) -> Result<(), StepError> {
    for svc in project.services.values().filter(|s| s.build.is_some()) {
        let key = engine
            .image_content(&svc.image)
            .await
            .map_err(StepError::new)?;
        image_ids.insert(svc.image.clone(), key);
    }
    for c in existing.iter_mut() {
        let builds = project
            .services
            .get(&c.service)
            .is_some_and(|s| s.build.is_some());
        if builds
            && let Some(key) = engine
                .image_content(&c.image_id)
                .await
                .map_err(StepError::new)?
        {
            c.image_id = key;
        }
    }
    Ok(())
}

/// How many lines of a build's output the step's log shows.
const BUILD_LINES: usize = 200;

/// Builds a service's image when `policy` says so (see [`super::build::reason`]); returns
/// the id of the image the service runs.
async fn build(
    engine: &Engine,
    project: &Project,
    service: &str,
    b: &model::Build,
    policy: &str,
    ctx: &StepContext,
) -> Result<String, StepError> {
    let image = &project.services[service].image;
    let found = engine.image_build(image).await.map_err(StepError::new)?;
    let hash = {
        let b = b.clone();
        tokio::task::spawn_blocking(move || super::build::pack(&b, std::io::sink()))
            .await
            .map_err(|e| StepError::fatal(e.to_string()))?
            .map_err(|m| StepError::fatal(format!("service {service}: {m}")))?
    };
    let label = found.as_ref().map(|(_, l)| l.as_str());
    let freshness = super::build::freshness(label, &hash);
    let why = super::build::reason(policy, freshness);
    match (why, &found) {
        (None, Some((id, _))) => {
            if freshness == "changed" {
                ctx.log(format!(
                    "{service}: the context of {image} changed; build = {policy} keeps the image"
                ));
            }
            return Ok(id.clone());
        }
        (None, None) => {
            return Err(StepError::fatal(format!(
                "service {service}: image {image} is not in the engine and build = never"
            )));
        }
        _ => {}
    }
    ctx.log(format!(
        "{service}: building {image} from {} ({})",
        b.context,
        why.unwrap_or("image missing")
    ));
    // The context goes to a temporary file (hashed as it is written), then to the engine.
    let (file, hash) = {
        let b = b.clone();
        tokio::task::spawn_blocking(move || -> Result<(std::fs::File, String), String> {
            let mut file =
                tempfile::tempfile().map_err(|e| format!("cannot create a temporary file: {e}"))?;
            let hash = super::build::pack(&b, &mut file)?;
            std::io::Seek::rewind(&mut file).map_err(|e| e.to_string())?;
            Ok((file, hash))
        })
        .await
        .map_err(|e| StepError::fatal(e.to_string()))?
        .map_err(|m| StepError::fatal(format!("service {service}: {m}")))?
    };
    let dockerfile = super::build::dockerfile(b).map_err(StepError::fatal)?;
    // The build's own labels and the hash: the classic builder adds one step (and one
    // container) per label, so nothing more.
    let mut labels: HashMap<String, String> = b.labels.clone().into_iter().collect();
    labels.insert(super::build::BUILD_HASH.to_string(), hash);
    let request = super::engine::BuildRequest {
        build: b,
        dockerfile: &dockerfile.name,
        labels,
    };
    let mut shown = 0usize;
    let mut hidden = 0usize;
    let mut line = |l: &str| {
        if shown < BUILD_LINES {
            shown += 1;
            ctx.log(format!("{service}: {l}"));
        } else {
            hidden += 1;
        }
    };
    let result = engine.build(image, request, file, &mut line).await;
    if hidden > 0 {
        ctx.log(format!(
            "{service}: ({hidden} more lines of build output not shown)"
        ));
    }
    result.map_err(|m| StepError::fatal(format!("service {service}: {m}")))?;
    engine
        .image_id(image)
        .await
        .map_err(StepError::new)?
        .ok_or_else(|| {
            StepError::fatal(format!(
                "service {service}: the build of {image} left no image"
            ))
        })
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
