//! The plan's model of the world: the resources steps act on (a backup directory, a
//! compose project, a database, a listening endpoint, an HTTP origin, a path) and what
//! earlier steps of the same run will have done to them. A step kind names what it reads
//! and writes ([`Touches`]) and what it leaves behind; a later step on the same resource
//! sees those earlier writes ([`Prior`]) and plans against the state after them instead
//! of today's. The planner also links each step to the earlier ones it depends on, which
//! `ops plan --preflight` uses to hold back checks of what the run has not changed yet.

use std::collections::HashMap;

use crate::value::Value;

/// Something in the world steps act on, named so two steps can be seen to touch the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    /// What it is: `backup-dir`, `compose-project`, `database`, `endpoint`, `http-origin`.
    pub kind: &'static str,
    /// Which one: a path, a project name, `host:port/db`, `host:port`, an origin.
    pub key: String,
}

impl Resource {
    /// A resource of `kind` named `key`.
    pub fn new(kind: &'static str, key: impl Into<String>) -> Resource {
        Resource {
            kind,
            key: key.into(),
        }
    }

    /// A TCP endpoint: every loopback and wildcard name of a host is one (`localhost`,
    /// `127.0.0.1`, `::1`, `0.0.0.0` and an empty host all mean this machine).
    pub fn endpoint(host: &str, port: u16) -> Resource {
        Resource::new("endpoint", format!("{}:{port}", normal_host(host)))
    }

    /// A database (or Redis database) at an endpoint.
    pub fn database(scheme: &str, host: &str, port: u16, name: &str) -> Resource {
        Resource::new(
            "database",
            format!("{scheme}://{}:{port}/{name}", normal_host(host)),
        )
    }

    /// The origin of an HTTP URL (`http://localhost:8080`), with its endpoint; `None`
    /// for a URL that does not parse.
    pub fn http(url: &str) -> Option<(Resource, Resource)> {
        let url = url::Url::parse(url).ok()?;
        let host = url.host_str()?.trim_matches(['[', ']']);
        let port = url.port_or_known_default()?;
        let origin = format!("{}://{}:{port}", url.scheme(), normal_host(host));
        Some((
            Resource::new("http-origin", origin),
            Resource::endpoint(host, port),
        ))
    }

    /// How plans name it: `backup-dir /srv/backups`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.kind, self.key)
    }
}

/// This machine's names as one.
fn normal_host(host: &str) -> String {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    let local = host.is_empty()
        || host == "localhost"
        || host == "::1"
        || host == "::"
        || host == "0.0.0.0"
        || host.starts_with("127.");
    if local {
        String::from("localhost")
    } else {
        host
    }
}

/// A write of a resource, and what the step leaves there (in the terms of the kind that
/// reads it later: `{"adds": "SET"}`, `{"containers": [...]}`; `Null` when it says
/// nothing more than that it changes it).
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    /// The resource.
    pub resource: Resource,
    /// What the step leaves there.
    pub state: Value,
}

/// What a step reads and changes, as far as the plan can tell.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Touches {
    /// Resources it reads (a probe's endpoint, a restore's backup directory).
    pub reads: Vec<Resource>,
    /// Resources it changes.
    pub writes: Vec<Write>,
    /// It changes things the plan cannot name (an `exec` command): read-only checks after
    /// it may see a different world than now.
    pub opaque: bool,
}

impl Touches {
    /// Reads these resources.
    pub fn reading(reads: Vec<Resource>) -> Touches {
        Touches {
            reads,
            ..Touches::default()
        }
    }

    /// Every resource it touches, reads first.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.reads
            .iter()
            .chain(self.writes.iter().map(|w| &w.resource))
    }
}

/// An earlier step of the run that changes a resource a later step touches.
#[derive(Clone, Debug, PartialEq)]
pub struct Prior {
    /// Its plan id (`1.1`).
    pub step: String,
    /// Its label (`backup postgres db`).
    pub label: String,
    /// What it leaves there.
    pub state: Value,
    /// True when it runs before the later step on every path that reaches it: not
    /// conditional (`when`), not allowed to fail (`on_failure = continue`), not in a
    /// `parallel` group, and the later step is not a handler (which may run after a
    /// failure before it).
    pub certain: bool,
}

impl Prior {
    /// `1.1` when certain, `1.1 (if it runs)` when not.
    pub fn provenance(&self) -> String {
        if self.certain {
            self.step.clone()
        } else {
            format!("{} (if it runs)", self.step)
        }
    }
}

/// The writes planned so far, by resource, in plan order.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Each write with its place in plan order.
    writes: HashMap<Resource, Vec<(usize, Prior)>>,
    /// The resources each step writes, by plan id.
    by_step: HashMap<String, Vec<Resource>>,
    recorded: usize,
    /// True while a handler is planned: nothing before it is certain.
    pub(crate) in_handler: bool,
}

impl World {
    /// The earlier writes of `resource`, oldest first (none are certain in a handler).
    pub fn priors(&self, resource: &Resource) -> Vec<Prior> {
        let mut out: Vec<Prior> = self
            .writes
            .get(resource)
            .map(|v| v.iter().map(|(_, p)| p.clone()).collect())
            .unwrap_or_default();
        if self.in_handler {
            for p in &mut out {
                p.certain = false;
            }
        }
        out
    }

    /// The latest earlier step that writes any of these resources.
    pub fn latest<'a>(&self, resources: impl Iterator<Item = &'a Resource>) -> Option<String> {
        resources
            .filter_map(|r| self.writes.get(r).and_then(|v| v.last()))
            .max_by_key(|(order, _)| *order)
            .map(|(_, p)| p.step.clone())
    }

    /// The resources an earlier step writes (a verify of `dump.path` checks what the
    /// backup `dump` writes).
    pub fn written_by(&self, step: &str) -> &[Resource] {
        self.by_step.get(step).map_or(&[], Vec::as_slice)
    }

    /// Records a step's write.
    pub(crate) fn record(&mut self, resource: Resource, prior: Prior) {
        self.by_step
            .entry(prior.step.clone())
            .or_default()
            .push(resource.clone());
        self.recorded += 1;
        let order = self.recorded;
        self.writes
            .entry(resource)
            .or_default()
            .push((order, prior));
    }
}
