//! What a compose step touches in the plan's world model (`interpreter::world`), and how
//! a `down` is planned after an earlier `up` or `down` of the same project in the run.

use indexmap::IndexMap;
use interpreter::value::Value;
use interpreter::world::{Prior, Resource, Touches, Write};

use super::Compose;
use super::actions;
use super::dryrun::{Analysis, EngineState};
use super::model::{self, Project};

/// The project and the endpoints its services publish; `up` leaves the containers of
/// its services (in start order), `down` none.
pub(super) fn touches(
    variant: Compose,
    project: &Project,
    selected: &[String],
    resource: Resource,
) -> Touches {
    let endpoints = || -> Vec<Resource> {
        let mut out: Vec<Resource> = Vec::new();
        for (name, svc) in &project.services {
            if variant == Compose::Up && !selected.contains(name) {
                continue;
            }
            for port in &svc.ports {
                if let Ok(published) = port.published.parse::<u16>()
                    && port.protocol != "udp"
                {
                    let r = Resource::endpoint(&port.host_ip, published);
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
            }
        }
        out
    };
    let write = |resource: Resource, state: Value| Write { resource, state };
    // Every replica `up` leaves, in start order.
    let containers = |services: &[String]| {
        Value::List(
            services
                .iter()
                .flat_map(|s| {
                    let n = project.services.get(s).map_or(1, |svc| svc.replicas);
                    (1..=n).map(move |number| (s, number))
                })
                .map(|(s, number)| {
                    let mut m = IndexMap::new();
                    m.insert("service".to_string(), Value::str(s.clone()));
                    m.insert(
                        "name".to_string(),
                        Value::str(actions::replica_name(project, s, number)),
                    );
                    Value::Map(m)
                })
                .collect(),
        )
    };
    let leaves = |list: Value| {
        let mut m = IndexMap::new();
        m.insert("containers".to_string(), list);
        Value::Map(m)
    };
    match variant {
        Compose::Ps => Touches::reading(vec![resource]),
        Compose::Up => {
            let order = model::order(&project.services, selected.to_vec()).unwrap_or_default();
            let mut writes = vec![write(resource, leaves(containers(&order)))];
            writes.extend(endpoints().into_iter().map(|e| write(e, Value::Null)));
            Touches {
                reads: Vec::new(),
                writes,
                opaque: false,
            }
        }
        Compose::Down => {
            let mut writes = vec![write(resource, leaves(Value::List(Vec::new())))];
            writes.extend(endpoints().into_iter().map(|e| write(e, Value::Null)));
            Touches {
                reads: Vec::new(),
                writes,
                opaque: false,
            }
        }
        Compose::Restart => Touches {
            reads: Vec::new(),
            writes: vec![write(resource, Value::Null)],
            opaque: false,
        },
    }
}

/// The containers the latest earlier step that leaves the project in a known state
/// (`up`, `down`) leaves: (service, name), with that step and whether it is certain.
pub(super) fn left_by(priors: &[Prior]) -> Option<(Vec<(String, String)>, &Prior)> {
    let prior = priors.iter().rev().find(|p| {
        p.state
            .as_map()
            .is_some_and(|m| m.contains_key("containers"))
    })?;
    let list = prior.state.as_map()?.get("containers")?.as_list()?;
    let pairs = list
        .iter()
        .filter_map(|c| {
            let m = c.as_map()?;
            Some((
                m.get("service")?.as_str()?.to_string(),
                m.get("name")?.as_str()?.to_string(),
            ))
        })
        .collect();
    Some((pairs, prior))
}

/// `down` after an earlier `up` or `down` of the same project in the run: what that
/// step leaves, plus what exists now and stays (a certain `up` keeps other containers).
pub(super) fn down_after(
    project: &Project,
    state: Option<&EngineState>,
    left: &[(String, String)],
    prior: &Prior,
    volumes: bool,
    remove_orphans: bool,
) -> Analysis {
    let mut details = Vec::new();
    let containers = state.map_or(&[][..], |s| &s.containers);
    let orphans: Vec<String> = actions::orphans(project, containers)
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let mut names: Vec<String> = Vec::new();
    for (service, name) in left {
        details.push(format!(
            "service {service}: stop and remove {name} (left running by {})",
            prior.provenance()
        ));
        names.push(name.clone());
    }
    let mut now = 0;
    for c in containers {
        if names.contains(&c.name) || (prior.certain && left.is_empty()) {
            continue;
        }
        if orphans.contains(&c.name) && !remove_orphans {
            details.push(orphan_kept(c));
            continue;
        }
        now += 1;
        details.push(format!(
            "service {}: stop and remove {} ({} now)",
            c.service, c.name, c.state
        ));
        names.push(c.name.clone());
    }
    if volumes {
        for vol in project.volumes.values().filter(|v| !v.external) {
            details.push(format!("volume {}: remove (its data is deleted)", vol.name));
        }
    }
    let count = names.len();
    let plural = if count == 1 { "" } else { "s" };
    let change = match (count, prior.certain) {
        (0, true) => format!(
            "removes nothing: {} leaves project {} without containers",
            prior.step, project.name
        ),
        (_, true) => format!(
            "stops and removes {count} container{plural} of project {} (as {} leaves it)",
            project.name, prior.step
        ),
        (_, false) => format!(
            "stops and removes up to {count} container{plural} of project {}: what {} leaves{}",
            project.name,
            prior.provenance(),
            if now > 0 {
                format!(", and {now} that exist now")
            } else {
                String::new()
            }
        ),
    };
    Analysis {
        change,
        details,
        ..Analysis::default()
    }
}

/// The plan line of an orphan container a `down` keeps (`remove_orphans = false`).
pub(super) fn orphan_kept(c: &super::engine::Existing) -> String {
    format!(
        "container {} (orphan, service {}): kept (remove_orphans = false)",
        c.name, c.service
    )
}
