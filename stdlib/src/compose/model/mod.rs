//! The Compose model `ops` runs: a project with its services, networks and volumes, read
//! from a real `docker-compose.yml` (see [`load`]).
//!
//! Every key is either understood or reported: a key this reader does not support is an
//! error pointing at its line and column, never silently dropped, because a stack started
//! without it would not be the stack the file describes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::yaml::{self, Node, Pos, Value};

mod build;
mod deploy;
mod files;
mod mounts;
mod networks;
mod reader;
mod secrets;
mod service;
mod settings;

pub use build::Build;
pub use networks::{Attachment, Ipam, Pool, contains, parse_cidr};
use reader::Reader;
pub use secrets::{Granted, Hidden, Source};
pub use service::{parse_compose_duration, parse_port};
use settings::Deploy;
pub use settings::{Settings, parse_bytes};

/// A Compose project ready to run.
#[derive(Clone, Debug)]
pub struct Project {
    /// The project name (`com.docker.compose.project`).
    pub name: String,
    /// The compose file, as given.
    pub file: PathBuf,
    /// The project directory (relative paths in the file are resolved against it).
    pub dir: PathBuf,
    /// Enabled services, in file order.
    pub services: IndexMap<String, Service>,
    /// Services left out because none of their profiles is enabled.
    pub disabled: Vec<String>,
    /// Networks, by their key in the file (`default` included when a service uses it).
    pub networks: IndexMap<String, Resource>,
    /// Named volumes, by their key in the file.
    pub volumes: IndexMap<String, Resource>,
    /// Variables used but unset (they became empty strings, as in Compose).
    pub unset: Vec<String>,
    /// Secret values substituted into the file, with their variable, longest first.
    pub masks: Masks,
    /// What the file says that this engine does not act on (shown as plan warnings).
    pub notes: Vec<String>,
}

/// The secret values a compose file was interpolated with, and the variable each came
/// from: what ops shows of the file says `${NAME}` instead of the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Masks(Vec<(String, String)>);

impl Masks {
    fn new(mut found: Vec<(String, String)>) -> Masks {
        found.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        Masks(found)
    }

    /// The text with each secret value replaced by `${NAME}`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, name) in &self.0 {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("${{{name}}}"));
            }
        }
        out
    }

    /// The secret values, for redacting what a run prints.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(value, _)| value.as_str())
    }
}

/// A top-level network or volume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    /// The engine's name (`PROJECT_KEY` unless `name:` or `external`).
    pub name: String,
    /// Exists outside the project: never created nor removed by `ops`.
    pub external: bool,
    /// `driver:`.
    pub driver: Option<String>,
    /// `internal: true` (networks).
    pub internal: bool,
    /// `labels:`.
    pub labels: BTreeMap<String, String>,
    /// `driver_opts:`.
    pub driver_opts: BTreeMap<String, String>,
    /// `ipam:` (networks).
    pub ipam: Ipam,
    /// `enable_ipv6:` (networks).
    pub enable_ipv6: Option<bool>,
    /// `attachable:` (networks).
    pub attachable: Option<bool>,
}

/// One service: exactly what its container is created from.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Service {
    /// `image:`.
    pub image: String,
    /// `container_name:` (default `PROJECT-SERVICE-1`).
    pub container_name: Option<String>,
    /// `command:` as argv.
    pub command: Option<Vec<String>>,
    /// `entrypoint:` as argv.
    pub entrypoint: Option<Vec<String>>,
    /// `env_file:` then `environment:`, merged.
    pub environment: BTreeMap<String, String>,
    /// `ports:`.
    pub ports: Vec<Port>,
    /// `volumes:` (named volumes and bind mounts).
    pub volumes: Vec<Mount>,
    /// `networks:` with their aliases and addresses.
    pub networks: BTreeMap<String, Attachment>,
    /// `depends_on:` with conditions (not part of the configuration hash: a new
    /// dependency changes the order, not the container).
    #[serde(skip_serializing)]
    pub depends_on: BTreeMap<String, Condition>,
    /// `healthcheck:`.
    pub healthcheck: Option<Healthcheck>,
    /// `restart:`.
    pub restart: Option<String>,
    /// `labels:`.
    pub labels: BTreeMap<String, String>,
    /// `working_dir:`.
    pub working_dir: Option<String>,
    /// `user:`.
    pub user: Option<String>,
    /// `hostname:`.
    pub hostname: Option<String>,
    /// `stop_signal:`.
    pub stop_signal: Option<String>,
    /// `stop_grace_period:` in seconds.
    pub stop_grace_period: Option<u64>,
    /// `init:`.
    pub init: Option<bool>,
    /// `extra_hosts:`.
    pub extra_hosts: Vec<String>,
    /// `expose:` (container ports, not published).
    pub expose: Vec<String>,
    /// `network_mode:` (`host`, `none`, `bridge`, `service:NAME`, `container:NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// `links:` as (service, alias).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
    /// `volumes_from:` (`SERVICE[:MODE]` or `container:NAME[:MODE]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// `secrets:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Granted>,
    /// `configs:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<Granted>,
    /// `scale:` or `deploy.replicas` (default 1): how many containers run the service,
    /// `PROJECT-SERVICE-1..N`. Not part of the configuration hash: scaling changes how
    /// many containers there are, not what each is.
    #[serde(skip)]
    pub replicas: u32,
    /// `build:`: the image is built before it runs. Not part of the configuration hash:
    /// a rebuilt image has a new id, which recreates the container.
    #[serde(skip)]
    pub build: Option<Build>,
    /// `pull_policy:` (`always`, `never`, `missing`, or `build` for a service that
    /// builds): overrides the step's `pull` (and, with `build`, its `build`) for this
    /// service's image.
    #[serde(skip)]
    pub pull_policy: Option<String>,
    /// Capabilities, limits, namespaces, logging and the rest (see [`Settings`]).
    #[serde(flatten)]
    pub settings: Settings,
}

/// A published port.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Port {
    /// Host address (empty: all).
    pub host_ip: String,
    /// Host port (empty: any free port).
    pub published: String,
    /// Container port.
    pub target: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// A mount.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Mount {
    /// `volume`, `bind` or `tmpfs`.
    pub kind: String,
    /// Volume key in the file (volume; empty: anonymous), absolute host path (bind), or
    /// empty (tmpfs).
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Bind propagation (`rshared`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// SELinux relabelling of a bind: `z` (shared) or `Z` (private).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
    /// Whether a missing bind source is created (`bind.create_host_path`, default true).
    #[serde(skip_serializing_if = "is_true")]
    pub create_host_path: bool,
    /// A volume is not filled from the image's content (`nocopy`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    /// A path inside the volume to mount (`volume.subpath`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
    /// `tmpfs.size` in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<i64>,
    /// `tmpfs.mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_mode: Option<i64>,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A `depends_on` condition.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// `service_started` (the list form).
    ServiceStarted,
    /// `service_healthy`.
    ServiceHealthy,
    /// `service_completed_successfully`.
    ServiceCompletedSuccessfully,
}

/// A healthcheck (durations in nanoseconds, as the engine wants them).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    /// `interval:`.
    pub interval: Option<i64>,
    /// `timeout:`.
    pub timeout: Option<i64>,
    /// `retries:`.
    pub retries: Option<i64>,
    /// `start_period:`.
    pub start_period: Option<i64>,
    /// `start_interval:` (how often to check during `start_period`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
}

impl Healthcheck {
    /// Whether the check is switched off (`disable: true` or `test: ["NONE"]`).
    pub fn disabled(&self) -> bool {
        self.test.first().is_some_and(|t| t == "NONE")
    }
}

/// A problem in the compose file, at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The compose file.
    pub file: PathBuf,
    /// Where (line 0 when the file as a whole is concerned).
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
    /// The line of the file the position is on, for context.
    pub snippet: Option<String>,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.pos, self.message)?;
            if let Some(line) = &self.snippet {
                write!(f, "\n  {} | {line}", self.pos.line)?;
            }
            Ok(())
        }
    }
}

/// What [`load`] needs besides the file.
pub struct LoadOptions<'a> {
    /// `project =` from the runbook.
    pub project: Option<&'a str>,
    /// Enabled profiles.
    pub profiles: &'a [String],
    /// `env_file =` (default: `.env` beside the compose file, when present).
    pub env_file: Option<&'a Path>,
    /// Reads one variable (the step's `env`, then the process environment).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether an unset `${VAR:?message}` is an error (`up`) or empty (the others).
    pub strict: bool,
    /// Whether a variable (name, value) holds a secret: its value is never shown.
    pub sensitive: &'a dyn Fn(&str, &str) -> bool,
    /// More compose files merged over the first, in order (`files =`, like `-f`).
    pub files: &'a [PathBuf],
}

/// Reads, interpolates and validates a compose file; every problem is returned at once.
pub fn load(file: &Path, options: &LoadOptions<'_>) -> Result<Project, Vec<FileError>> {
    let sensitive = yaml::Sensitive {
        is: options.sensitive,
        found: std::cell::RefCell::new(Vec::new()),
    };
    let result = read(file, options, &sensitive);
    let mut found = sensitive.found.into_inner();
    match result {
        Ok(mut project) => {
            // The values of `secrets:` the reader kept in the project's masks.
            found.append(&mut project.masks.0);
            let masks = Masks::new(found);
            for n in &mut project.notes {
                *n = masks.apply(n);
            }
            project.masks = masks;
            Ok(project)
        }
        Err(mut errors) => {
            let masks = Masks::new(found);
            for e in &mut errors {
                e.message = masks.apply(&e.message);
            }
            Err(errors)
        }
    }
}

fn read(
    file: &Path,
    options: &LoadOptions<'_>,
    sensitive: &yaml::Sensitive<'_>,
) -> Result<Project, Vec<FileError>> {
    let whole = |message: String| {
        vec![FileError {
            file: file.to_path_buf(),
            pos: Pos::default(),
            message,
            snippet: None,
        }]
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| whole(format!("cannot read the compose file: {e}")))?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let (dotenv_path, required) = match options.env_file {
        Some(p) => (p.to_path_buf(), true),
        None => (dir.join(".env"), false),
    };
    let dotenv = match std::fs::read_to_string(&dotenv_path) {
        Ok(t) => yaml::parse_dotenv(&t, options.env, Some(sensitive)).map_err(|(line, m)| {
            vec![FileError {
                file: dotenv_path.clone(),
                pos: Pos {
                    line: line as u64,
                    col: 1,
                    file: 0,
                },
                message: m,
                snippet: None,
            }]
        })?,
        Err(e) if required => {
            return Err(whole(format!(
                "cannot read the env file {}: {e}",
                dotenv_path.display()
            )));
        }
        Err(_) => IndexMap::new(),
    };
    let mut reader = Reader {
        file: file.to_path_buf(),
        text: &text,
        dir: dir.clone(),
        errors: Vec::new(),
        notes: Vec::new(),
        secret_values: Vec::new(),
        project_name: String::new(),
        secrets: IndexMap::new(),
        configs: IndexMap::new(),
        broken: Vec::new(),
        env: options.env,
        others: Vec::new(),
    };
    let mut root = yaml::parse(&text).map_err(|(pos, m)| vec![reader.error_at(pos, m)])?;
    let mut interp = files::Interpolation {
        vars: yaml::Vars {
            env: options.env,
            dotenv: &dotenv,
            strict: options.strict,
            sensitive: Some(sensitive),
        },
        unset: Vec::new(),
    };
    yaml::interpolate(&mut root, &interp.vars, &mut interp.unset)
        .map_err(|(pos, e)| vec![reader.error_at(pos, e.0)])?;
    let root = reader.compose(root, options.files, &mut interp);
    if !reader.errors.is_empty() {
        return Err(reader.errors);
    }
    let mut unset = interp.unset;
    unset.dedup();
    let project = reader.project(&root, options, unset);
    match project {
        Some(p) if reader.errors.is_empty() => Ok(p),
        _ => Err(reader.errors),
    }
}

/// Turns a directory name into a valid project name, as Compose does.
pub fn normalize_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<String>()
        .trim_start_matches(['_', '-'])
        .to_string()
}

/// The service keys this reader supports (docs/steps.md lists them; a test keeps both equal).
pub fn service_keys() -> impl Iterator<Item = &'static str> {
    // The settings' keys are their fields' names, and `deploy` sets some of them.
    BASIC_KEYS
        .iter()
        .chain(settings::SETTINGS_FIELDS)
        .chain(&["deploy"])
        .copied()
}

const BASIC_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "networks",
    "depends_on",
    "healthcheck",
    "restart",
    "labels",
    "working_dir",
    "user",
    "profiles",
    "container_name",
    "hostname",
    "stop_signal",
    "stop_grace_period",
    "init",
    "extra_hosts",
    "expose",
    "network_mode",
    "links",
    "volumes_from",
    "secrets",
    "configs",
    "scale",
    "build",
    "extends",
    "pull_policy",
    "label_file",
    "mac_address",
    "attach",
    "develop",
];

/// The service keys of the Compose specification this reader refuses with OPS3036
/// (docs/steps.md lists them; a test keeps both equal).
pub const REFUSED_KEYS: &[&str] = &[
    "blkio_config",
    "cpu_count",
    "cpu_percent",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "credential_spec",
    "external_links",
    "gpus",
    "isolation",
    "models",
    "post_start",
    "pre_stop",
    "provider",
    "use_api_socket",
];

/// Why a well-known key is not supported, when there is more to say than "unsupported".
fn unsupported_hint(key: &str) -> &'static str {
    match key {
        "secrets" | "configs" => {
            "pass the value through `environment:` with `${VAR}` from the environment or `.env`"
        }
        "external_links" => {
            "put the external container on a network and join it with `networks:` (an `external: true` network)"
        }
        _ => "remove it, or bring this stack up with docker compose",
    }
}

/// A path without `.` and `..` components (lexically).
pub fn normalize(path: &Path) -> PathBuf {
    normalize_path(path)
}

fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The services `wanted` and everything they depend on, dependencies first (file order
/// among equals); a cycle is an error naming it.
pub fn order(
    services: &IndexMap<String, Service>,
    wanted: Vec<String>,
) -> Result<Vec<String>, String> {
    fn visit(
        name: &str,
        services: &IndexMap<String, Service>,
        done: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        if done.iter().any(|d| d == name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            path.push(name.to_string());
            return Err(path.join(" -> "));
        }
        path.push(name.to_string());
        if let Some(s) = services.get(name) {
            let mut deps: Vec<&String> = s.depends_on.keys().collect();
            deps.sort_by_key(|d| services.get_index_of(*d));
            for dep in deps {
                visit(dep, services, done, path)?;
            }
        }
        path.pop();
        done.push(name.to_string());
        Ok(())
    }
    let mut done = Vec::new();
    let mut wanted = wanted;
    wanted.sort_by_key(|w| services.get_index_of(w));
    for w in &wanted {
        visit(w, services, &mut done, &mut Vec::new())?;
    }
    Ok(done)
}

impl Project {
    /// Keys of the networks the given services join.
    pub fn networks_used(&self, services: &[String]) -> Vec<&str> {
        self.networks
            .keys()
            .filter(|k| {
                services.iter().any(|s| {
                    self.services
                        .get(s)
                        .is_some_and(|s| s.networks.contains_key(*k))
                })
            })
            .map(String::as_str)
            .collect()
    }

    /// Keys of the named volumes the given services mount.
    pub fn volumes_used(&self, services: &[String]) -> Vec<&str> {
        self.volumes
            .keys()
            .filter(|k| {
                services.iter().any(|s| {
                    self.services.get(s).is_some_and(|s| {
                        s.volumes
                            .iter()
                            .any(|m| m.kind == "volume" && &m.source == *k)
                    })
                })
            })
            .map(String::as_str)
            .collect()
    }
}

impl Service {
    /// The networks the service joins, the one it is created on first: highest
    /// `priority` first, then in name order.
    pub fn attachments(&self) -> Vec<(&str, &Attachment)> {
        let mut all: Vec<(&str, &Attachment)> =
            self.networks.iter().map(|(n, a)| (n.as_str(), a)).collect();
        all.sort_by_key(|(_, a)| std::cmp::Reverse(a.priority));
        all
    }

    /// The namespaces (`network`, `pid`, `ipc`) this service shares with another service,
    /// and that service.
    pub fn shared_namespaces(&self) -> Vec<(&'static str, &str)> {
        [
            ("network", self.network_mode.as_deref()),
            ("pid", self.settings.pid.as_deref()),
            ("ipc", self.settings.ipc.as_deref()),
        ]
        .into_iter()
        .filter_map(|(ns, mode)| Some((ns, mode?.strip_prefix("service:")?)))
        .collect()
    }

    /// Short hashes of each configuration field: which of them changed is the reason a
    /// container is recreated.
    pub fn field_hashes(&self) -> BTreeMap<&'static str, String> {
        let json = serde_json::to_value(self).unwrap_or_default();
        let mut out = BTreeMap::new();
        if let serde_json::Value::Object(fields) = json {
            for (name, value) in fields {
                let Some(field) = SERVICE_FIELDS
                    .iter()
                    .chain(settings::SETTINGS_FIELDS)
                    .find(|f| **f == name)
                else {
                    continue;
                };
                if value.is_null()
                    || value == serde_json::json!([])
                    || value == serde_json::json!({})
                {
                    continue;
                }
                let digest = Sha256::digest(value.to_string().as_bytes());
                out.insert(*field, hex(&digest[..4]));
            }
        }
        out
    }

    /// The configuration hash (`com.docker.compose.config-hash`): SHA-256 of every field.
    pub fn config_hash(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        hex(&Sha256::digest(json.as_bytes()))
    }
}

const SERVICE_FIELDS: &[&str] = &[
    "image",
    "container_name",
    "command",
    "entrypoint",
    "environment",
    "ports",
    "volumes",
    "networks",
    "healthcheck",
    "restart",
    "labels",
    "working_dir",
    "user",
    "hostname",
    "stop_signal",
    "stop_grace_period",
    "init",
    "extra_hosts",
    "expose",
    "network_mode",
    "links",
    "volumes_from",
    "secrets",
    "configs",
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
