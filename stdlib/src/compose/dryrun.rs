//! The dry-run of `compose`: reads go to the engine (what exists), nothing is changed;
//! the plan lists per service what `up` would do (create / recreate and why / start /
//! keep), what `down` would remove and what `restart` would restart, like a Terraform plan.
//! Without a reachable engine the plan says so and shows what `up` would create.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use interpreter::step::{InputView, Preflight};
use interpreter::value::Value;
use interpreter::world::{Prior, Resource, Touches};

use super::world::{down_after, left_by, orphan_kept, touches};

use super::Compose;
use super::actions::{self, Action};
use super::engine::{self, Engine, Existing};
use super::model::{self, LoadOptions, Project};

/// What the plan shows for one compose step.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// The one-line summary.
    pub change: String,
    /// One line per network, volume and service.
    pub details: Vec<String>,
    /// Preflight problems.
    pub findings: Vec<Preflight>,
    /// The project and endpoints it touches, and what it leaves for later steps.
    pub touches: Touches,
}

/// How long a plan waits for the engine before saying it is unreachable.
const PLAN_CONNECT: Duration = Duration::from_secs(3);

fn error(code: lang::Code, message: impl Into<String>) -> Preflight {
    Preflight {
        error: true,
        code,
        message: message.into(),
    }
}

/// Analyses a compose step for the plan. A secret substituted into the file is shown as
/// `${NAME}` in every line ([`model::Masks`]).
pub fn analyse(variant: Compose, view: &InputView) -> Analysis {
    let mut masks = model::Masks::default();
    let analysis = analyse_file(variant, view, &mut masks);
    Analysis {
        change: masks.apply(&analysis.change),
        details: analysis.details.iter().map(|d| masks.apply(d)).collect(),
        touches: analysis.touches,
        findings: analysis
            .findings
            .into_iter()
            .map(|f| Preflight {
                message: masks.apply(&f.message),
                ..f
            })
            .collect(),
    }
}

fn analyse_file(variant: Compose, view: &InputView, masks: &mut model::Masks) -> Analysis {
    let verb = match variant {
        Compose::Up => "brings up",
        Compose::Down => "takes down",
        Compose::Restart => "restarts",
        Compose::Ps => "reads the state of",
    };
    let Some(file) = view.target_value.as_ref().and_then(Value::as_str) else {
        return Analysis {
            change: format!("{verb} the stack in {}", view.target()),
            ..Analysis::default()
        };
    };
    // `profiles` and `env_file` are `up`'s; the other variants read the file without.
    let profiles = super::run::strings(view.optional("profiles"));
    // The step's `env` (its known, non-secret values), then the process environment,
    // where a `secret` declared by the runbook is read from.
    let vars = view.value("env").and_then(Value::as_map);
    let env = |k: &str| {
        vars.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| std::env::var(k).ok())
    };
    let env_file = view
        .optional("env_file")
        .and_then(Value::as_str)
        .map(Path::new);
    // A variable holds a secret when the runbook reads a secret from it, when its value
    // is one of the run's secrets, or when its name says so (`DB_PASSWORD`).
    let sensitive = |name: &str, value: &str| {
        view.secret_vars.iter().any(|v| v == name)
            || view.secrets.contains(value)
            || super::yaml::looks_sensitive(name)
    };
    let files: Vec<std::path::PathBuf> = super::run::strings(view.optional("files"))
        .into_iter()
        .map(std::path::PathBuf::from)
        .collect();
    let options = LoadOptions {
        files: &files,
        project: view.value("project").and_then(Value::as_str),
        profiles: &profiles,
        env_file,
        env: &env,
        strict: variant == Compose::Up,
        sensitive: &sensitive,
    };
    let project = match model::load(Path::new(file), &options) {
        Ok(p) => {
            *masks = p.masks.clone();
            p
        }
        Err(errors) => {
            return Analysis {
                change: format!("{verb} the stack in {file} (the file is invalid)"),
                details: Vec::new(),
                findings: errors
                    .iter()
                    .map(|e| error(lang::Code::ComposeFileInvalid, e.to_string()))
                    .collect(),
                touches: Touches::default(),
            };
        }
    };
    let mut findings = Vec::new();
    if !project.unset.is_empty() {
        findings.push(Preflight {
            error: false,
            code: lang::Code::PreflightCheck,
            message: format!(
                "{}: unset variables become empty strings: {}",
                file,
                project.unset.join(", ")
            ),
        });
    }
    for note in &project.notes {
        findings.push(Preflight {
            error: false,
            code: lang::Code::PreflightCheck,
            message: format!("{file}: {note}"),
        });
    }
    // `down` takes the whole project: it has no `services`.
    let wanted = super::run::strings(view.optional("services"));
    let selected = match super::run::selected(&project, &wanted) {
        Ok(s) => s,
        Err(e) => {
            findings.push(error(lang::Code::PreflightCheck, e.message));
            return Analysis {
                change: format!("{verb} project {}", project.name),
                details: Vec::new(),
                findings,
                touches: Touches::default(),
            };
        }
    };
    let resource = Resource::new("compose-project", project.name.clone());
    let priors = view.priors(&resource);
    let state = engine::block_on(read_engine(&project))
        .unwrap_or_else(|| Err(String::from("the engine could not be queried")));
    let state = match state {
        Ok(s) => Some(s),
        Err(why) => {
            findings.push(Preflight {
                error: false,
                code: lang::Code::EngineUnreachable,
                message: format!(
                    "{why}; the plan assumes nothing of project {} exists",
                    project.name
                ),
            });
            None
        }
    };
    // An earlier step of the run that takes the project down leaves no containers (and
    // none of its networks): `up` is planned against that, not against today's engine.
    let left = left_by(&priors);
    let mut state = state;
    let mut caveat = String::new();
    if variant == Compose::Up
        && let Some((containers, prior)) = &left
    {
        match (containers.is_empty(), prior.certain) {
            (true, true) => {
                if let Some(s) = state.as_mut() {
                    s.containers.clear();
                    for n in project.networks.values().filter(|n| !n.external) {
                        s.networks.insert(n.name.clone(), false);
                    }
                }
            }
            (true, false) => {
                caveat = format!(
                    "; if {} takes it down first, every container is created",
                    prior.provenance()
                );
            }
            (false, _) => {
                caveat = format!(
                    "; after {} brings it up, what that leaves unchanged is kept",
                    prior.provenance()
                );
            }
        }
    }
    let mut analysis = match variant {
        Compose::Up => plan_up(
            &project,
            selected.clone(),
            view,
            state.as_ref(),
            &mut findings,
        ),
        Compose::Down => plan_down(&project, view, state.as_ref(), &priors),
        Compose::Restart => plan_restart(&project, &selected, state.as_ref(), &priors),
        Compose::Ps => Analysis {
            change: format!(
                "reads the state of project {}'s services ({})",
                project.name,
                selected.join(", ")
            ),
            ..Analysis::default()
        },
    };
    analysis.findings = findings;
    analysis.change.push_str(&caveat);
    analysis.touches = touches(variant, &project, &selected, resource);
    analysis
}

/// What exists in the engine for a project.
pub struct EngineState {
    pub(super) containers: Vec<Existing>,
    images: HashMap<String, Option<String>>,
    /// The build hash label of each image a service builds (`None`: missing).
    builds: HashMap<String, Option<String>>,
    networks: HashMap<String, bool>,
    subnets: HashMap<String, Vec<String>>,
    /// The API version agreed with the engine.
    api: (usize, usize),
    volumes: HashMap<String, bool>,
}

async fn read_engine(project: &Project) -> Result<EngineState, String> {
    let engine = Engine::connect(PLAN_CONNECT, Duration::from_secs(10)).await?;
    let containers = engine.containers(&project.name).await?;
    let mut images = HashMap::new();
    let mut builds = HashMap::new();
    for s in project.services.values() {
        if images.contains_key(&s.image) {
            continue;
        }
        if s.build.is_some() {
            let found = engine.image_build(&s.image).await?;
            images.insert(s.image.clone(), found.as_ref().map(|(id, _)| id.clone()));
            builds.insert(s.image.clone(), found.map(|(_, label)| label));
        } else {
            images.insert(s.image.clone(), engine.image_id(&s.image).await?);
        }
    }
    let mut networks = HashMap::new();
    let mut subnets = HashMap::new();
    for n in project.networks.values() {
        let found = engine.network(&n.name).await?;
        networks.insert(n.name.clone(), found.is_some());
        if let Some(found) = found {
            subnets.insert(n.name.clone(), found.subnets);
        }
    }
    let mut volumes = HashMap::new();
    for v in project.volumes.values() {
        volumes.insert(v.name.clone(), engine.volume(&v.name).await?.is_some());
    }
    let mut containers = containers;
    super::up::same_content(&engine, project, &mut images, &mut containers)
        .await
        .map_err(|e| e.message)?;
    Ok(EngineState {
        api: engine.api_version(),
        containers,
        images,
        builds,
        networks,
        subnets,
        volumes,
    })
}

fn plan_up(
    project: &Project,
    selected: Vec<String>,
    view: &InputView,
    state: Option<&EngineState>,
    findings: &mut Vec<Preflight>,
) -> Analysis {
    let order = match model::order(&project.services, selected) {
        Ok(o) => o,
        Err(e) => {
            findings.push(error(lang::Code::ComposeFileInvalid, e));
            return Analysis::default();
        }
    };
    let pull = view
        .value("pull")
        .and_then(Value::as_str)
        .unwrap_or("missing");
    if let Some(st) = state {
        for why in actions::needs_newer_engine(project, &order, st.api) {
            findings.push(error(lang::Code::PreflightCheck, why));
        }
    }
    let mut details = Vec::new();
    let networks = project.networks_used(&order).into_iter().map(|k| {
        (
            "network",
            "",
            &project.networks[k],
            state.map(|s| &s.networks),
        )
    });
    let volumes = project.volumes_used(&order).into_iter().map(|k| {
        (
            "volume",
            " (data kept)",
            &project.volumes[k],
            state.map(|s| &s.volumes),
        )
    });
    for (kind, kept, r, seen) in networks.chain(volumes) {
        let present = seen.and_then(|m| m.get(&r.name)).copied().unwrap_or(false);
        let drift = state
            .and_then(|s| s.subnets.get(&r.name))
            .filter(|_| kind == "network" && present)
            .and_then(|found| actions::subnet_drift(r, found));
        if let Some(why) = drift {
            findings.push(error(lang::Code::PreflightCheck, why));
        }
        details.push(match (present, r.external) {
            (true, _) => format!("{kind} {}: exists{kept}", r.name),
            (false, true) => {
                // An earlier step of the same runbook may create it (the stack that owns
                // it): a warning now, an error at run time if it is still missing.
                if state.is_some() {
                    findings.push(Preflight {
                        error: false,
                        code: lang::Code::PreflightCheck,
                        message: format!(
                            "external {kind} {} does not exist yet: an earlier step must create it",
                            r.name
                        ),
                    });
                }
                format!("{kind} {}: external, must exist", r.name)
            }
            (false, false) => format!("{kind} {}: create", r.name),
        });
    }
    let empty = HashMap::new();
    let mut images = state.map_or(&empty, |s| &s.images).clone();
    let containers: &[Existing] = state.map_or(&[], |s| &s.containers);
    let policy = view
        .value("build")
        .and_then(Value::as_str)
        .unwrap_or("changed");
    let mut pulls = Vec::new();
    for s in &order {
        let svc = &project.services[s];
        let image = &svc.image;
        if pulls.contains(image) {
            continue;
        }
        pulls.push(image.clone());
        let pull = svc
            .pull_policy
            .as_deref()
            .filter(|p| *p != "build")
            .unwrap_or(pull);
        if let Some(b) = &svc.build {
            let policy = match svc.pull_policy.as_deref() {
                Some("build") => "always",
                _ => policy,
            };
            let label = state.and_then(|st| st.builds.get(image).cloned().flatten());
            let hash = match super::build::pack(b, std::io::sink()) {
                Ok(h) => h,
                Err(m) => {
                    findings.push(error(
                        lang::Code::PreflightCheck,
                        format!("service {s}: {m}"),
                    ));
                    continue;
                }
            };
            let freshness = if state.is_none() {
                "missing"
            } else {
                super::build::freshness(label.as_deref(), &hash)
            };
            let line = match (super::build::reason(policy, freshness), freshness) {
                (Some(why), _) => {
                    if freshness != "missing" {
                        images.insert(image.clone(), Some(actions::REBUILT.to_string()));
                    }
                    format!("image {image}: build from {} ({why})", b.context)
                }
                (None, "missing") => {
                    findings.push(error(
                        lang::Code::PreflightCheck,
                        format!(
                            "service {s}: image {image} is not in the engine and build = never"
                        ),
                    ));
                    format!("image {image}: missing (build = never)")
                }
                (None, "changed") => {
                    format!("image {image}: context changed, kept (build = {policy})")
                }
                (None, _) => format!("image {image}: build from {}: up to date", b.context),
            };
            details.push(line);
            continue;
        }
        if state.is_none() {
            continue;
        }
        let present = images.get(image).is_some_and(Option::is_some);
        match (present, pull) {
            (false, "never") => findings.push(error(
                lang::Code::PreflightCheck,
                format!("service {s}: image {image} is not in the engine and pull = never"),
            )),
            (false, _) | (true, "always") => {
                details.push(format!("image {image}: pull"));
            }
            _ => {}
        }
    }
    let decisions = actions::decide(project, &order, containers, &images);
    let (mut create, mut recreate, mut start, mut keep, mut remove) = (0, 0, 0, 0, 0);
    for d in &decisions {
        let svc = &project.services[&d.service];
        let name = actions::replica_name(project, &d.service, d.number);
        let deps: Vec<String> = svc
            .depends_on
            .iter()
            .map(|(dep, c)| match c {
                model::Condition::ServiceStarted => dep.clone(),
                model::Condition::ServiceHealthy => format!("{dep} healthy"),
                model::Condition::ServiceCompletedSuccessfully => format!("{dep} completed"),
            })
            .collect();
        let after = if deps.is_empty() {
            String::new()
        } else {
            format!(", after {}", deps.join(", "))
        };
        let line = match &d.action {
            Action::Create => {
                create += 1;
                format!(
                    "service {}: create {name} ({}{after})",
                    d.service, svc.image
                )
            }
            Action::Recreate(why) => {
                recreate += 1;
                let kept = d
                    .existing
                    .as_ref()
                    .map(|c| actions::kept_volumes(project, svc, c))
                    .unwrap_or_default();
                let kept = if kept.is_empty() {
                    String::new()
                } else {
                    format!(" (keeps its volumes at {})", kept.join(", "))
                };
                format!("service {}: recreate {name}: {why}{kept}", d.service)
            }
            Action::Start(was) => {
                start += 1;
                format!("service {}: start {name} (unchanged, {was})", d.service)
            }
            Action::Keep => {
                keep += 1;
                format!("service {}: keep {name} (running, unchanged)", d.service)
            }
            Action::Remove(why) => {
                remove += 1;
                format!("service {}: stop and remove {name} ({why})", d.service)
            }
        };
        details.push(line);
    }
    for orphan in actions::orphans(project, containers) {
        details.push(format!(
            "container {} (service {} is not in the file): kept; `compose down` with remove_orphans = true removes it",
            orphan.name, orphan.service
        ));
    }
    let wait = view
        .value("wait")
        .and_then(Value::as_str)
        .unwrap_or("running");
    let mut counts = Vec::new();
    for (n, word) in [
        (create, "to create"),
        (recreate, "to recreate"),
        (start, "to start"),
        (keep, "unchanged"),
        (remove, "to remove"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {word}"));
        }
    }
    Analysis {
        change: format!(
            "brings up project {} ({}){}",
            project.name,
            if counts.is_empty() {
                String::from("no services")
            } else {
                counts.join(", ")
            },
            match wait {
                "none" => String::new(),
                w => format!(", then waits until {w}"),
            }
        ),
        details,
        findings: Vec::new(),
        touches: Touches::default(),
    }
}

fn plan_down(
    project: &Project,
    view: &InputView,
    state: Option<&EngineState>,
    priors: &[Prior],
) -> Analysis {
    let remove_orphans = matches!(view.value("remove_orphans"), Some(Value::Bool(true)));
    let volumes = matches!(view.value("volumes"), Some(Value::Bool(true)));
    let mut details = Vec::new();
    if let Some((left, prior)) = left_by(priors) {
        return down_after(project, state, &left, prior, volumes, remove_orphans);
    }
    let Some(state) = state else {
        return Analysis {
            change: format!(
                "stops and removes the containers and networks of project {}{}",
                project.name,
                if volumes { ", and its volumes" } else { "" }
            ),
            ..Analysis::default()
        };
    };
    let orphans: Vec<String> = actions::orphans(project, &state.containers)
        .iter()
        .map(|c| c.id.clone())
        .collect();
    // In the order `down` stops them: orphans, then dependents before dependencies.
    let all: Vec<String> = project.services.keys().cloned().collect();
    let order = model::order(&project.services, all).unwrap_or_default();
    let rank = |c: &Existing| {
        order
            .iter()
            .rev()
            .position(|s| *s == c.service)
            .map_or(0, |p| p + 1)
    };
    let mut containers: Vec<&Existing> = state.containers.iter().collect();
    containers.sort_by_key(|c| rank(c));
    let mut count = 0;
    for c in containers {
        if orphans.contains(&c.id) && !remove_orphans {
            details.push(orphan_kept(c));
            continue;
        }
        count += 1;
        let anonymous = actions::anonymous_volumes(project, c);
        let volumes_note = match (anonymous.is_empty(), volumes) {
            (true, _) => String::new(),
            (false, true) => format!(
                "; remove its anonymous volumes at {} (their data is deleted)",
                anonymous.join(", ")
            ),
            (false, false) => format!(
                "; its anonymous volumes at {} are kept (volumes = false)",
                anonymous.join(", ")
            ),
        };
        details.push(format!(
            "service {}: stop and remove {} ({}){volumes_note}",
            c.service, c.name, c.state
        ));
    }
    for net in project.networks.values().filter(|n| !n.external) {
        if state.networks.get(&net.name).copied().unwrap_or(false) {
            details.push(format!("network {}: remove", net.name));
        }
    }
    for vol in project.volumes.values().filter(|v| !v.external) {
        if state.volumes.get(&vol.name).copied().unwrap_or(false) {
            details.push(if volumes {
                format!("volume {}: remove (its data is deleted)", vol.name)
            } else {
                format!("volume {}: kept (volumes = false)", vol.name)
            });
        }
    }
    Analysis {
        change: if count == 0 {
            format!(
                "removes nothing: project {} has no containers",
                project.name
            )
        } else {
            format!(
                "stops and removes {count} container{} of project {}",
                if count == 1 { "" } else { "s" },
                project.name
            )
        },
        details,
        findings: Vec::new(),
        touches: Touches::default(),
    }
}

fn plan_restart(
    project: &Project,
    all: &[String],
    state: Option<&EngineState>,
    priors: &[Prior],
) -> Analysis {
    let order = model::order(&project.services, all.to_vec()).unwrap_or_default();
    let mut details = Vec::new();
    let left = left_by(priors);
    for s in order.iter().filter(|s| all.contains(s)) {
        let after = left.as_ref().and_then(|(pairs, prior)| {
            pairs
                .iter()
                .find(|(svc, _)| svc == s)
                .map(|(_, name)| (name.clone(), prior.provenance()))
        });
        let line = match state.and_then(|st| st.containers.iter().find(|c| &c.service == s)) {
            _ if after.is_some() => {
                let (name, by) = after.unwrap_or_default();
                format!("service {s}: restart {name} (left running by {by})")
            }
            Some(c) => format!("service {s}: restart {} ({})", c.name, c.state),
            None if state.is_some() => {
                format!("service {s}: no container now (an earlier `compose up` must create it)")
            }
            None => format!("service {s}: restart"),
        };
        details.push(line);
    }
    Analysis {
        change: format!(
            "restarts {} of project {} in dependency order",
            all.join(", "),
            project.name
        ),
        details,
        findings: Vec::new(),
        touches: Touches::default(),
    }
}
