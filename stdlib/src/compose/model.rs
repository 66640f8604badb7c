//! The Compose model `ops` runs: a project with its services, networks and volumes, read
//! from a real `docker-compose.yml` (see [`load`]).
//!
//! Every key is either understood or reported: a key this reader does not support is an
//! error pointing at its line and column, never silently dropped, because a stack started
//! without it would not be the stack the file describes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::yaml::{self, Node, Pos, Value};

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// `networks:` with their aliases.
    pub networks: BTreeMap<String, Vec<String>>,
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
    /// `volume` or `bind`.
    pub kind: String,
    /// Volume key in the file (volume) or absolute host path (bind).
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
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
}

/// Reads, interpolates and validates a compose file; every problem is returned at once.
pub fn load(file: &Path, options: &LoadOptions<'_>) -> Result<Project, Vec<FileError>> {
    let sensitive = yaml::Sensitive {
        is: options.sensitive,
        found: std::cell::RefCell::new(Vec::new()),
    };
    let result = read(file, options, &sensitive);
    let masks = Masks::new(sensitive.found.into_inner());
    match result {
        Ok(mut project) => {
            project.masks = masks;
            Ok(project)
        }
        Err(mut errors) => {
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
        env: options.env,
    };
    let mut root = yaml::parse(&text).map_err(|(pos, m)| vec![reader.error_at(pos, m)])?;
    let mut unset = Vec::new();
    let vars = yaml::Vars {
        env: options.env,
        dotenv: &dotenv,
        strict: options.strict,
        sensitive: Some(sensitive),
    };
    yaml::interpolate(&mut root, &vars, &mut unset)
        .map_err(|(pos, e)| vec![reader.error_at(pos, e.0)])?;
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
pub const SERVICE_KEYS: &[&str] = &[
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
];

/// Why a well-known key is not supported, when there is more to say than "unsupported".
fn unsupported_hint(key: &str) -> &'static str {
    match key {
        "build" => {
            "ops runs images, it does not build them: build and tag the image first, then use `image:`"
        }
        "deploy" | "scale" => {
            "one container per service is supported; remove `deploy`/`scale` or run the stack with docker compose"
        }
        "secrets" | "configs" => {
            "pass the value through `environment:` with `${VAR}` from the environment or `.env`"
        }
        "extends" | "include" => {
            "inline the extended service (YAML merge keys `<<: *anchor` are supported)"
        }
        "network_mode" | "links" => {
            "use `networks:`; services reach each other by name on the project network"
        }
        _ => "remove it, or bring this stack up with docker compose",
    }
}

struct Reader<'a> {
    file: PathBuf,
    text: &'a str,
    dir: PathBuf,
    errors: Vec<FileError>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

type Map = IndexMap<String, (Pos, Node)>;

impl Reader<'_> {
    fn error_at(&self, pos: Pos, message: impl Into<String>) -> FileError {
        let snippet = (pos.line > 0)
            .then(|| self.text.lines().nth(pos.line as usize - 1))
            .flatten()
            .map(|l| l.trim_end().to_string());
        FileError {
            file: self.file.clone(),
            pos,
            message: message.into(),
            snippet,
        }
    }

    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let e = self.error_at(pos, message);
        self.errors.push(e);
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Map> {
        match &node.value {
            Value::Map(m) => Some(m),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a mapping, not {}", node.type_name()),
                );
                None
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar() {
            Some(s) => Some(s),
            None => {
                self.error(
                    node.pos,
                    format!("{what} must be a string, not {}", node.type_name()),
                );
                None
            }
        }
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s == "true" || s == "false" => Some(s == "true"),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be true or false, not {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A list of strings, or a single string when `single` allows it.
    fn strings(&mut self, node: &Node, what: &str, single: bool) -> Vec<String> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| self.string(i, &format!("each item of {what}")))
                .collect(),
            Value::Str(s) if single => vec![s.clone()],
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a list, not {}", node.type_name()),
                );
                Vec::new()
            }
        }
    }

    /// `KEY=VALUE` list or mapping (environment, labels).
    fn key_values(&mut self, node: &Node, what: &str, from_env: bool) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Map(m) => {
                for (k, (_, v)) in m {
                    match &v.value {
                        Value::Null if from_env => {
                            if let Some(val) = (self.env)(k) {
                                out.insert(k.clone(), val);
                            }
                        }
                        Value::Null => {
                            out.insert(k.clone(), String::new());
                        }
                        _ => {
                            if let Some(s) = self.string(v, &format!("{what} `{k}`")) {
                                out.insert(k.clone(), s);
                            }
                        }
                    }
                }
            }
            Value::Seq(items) => {
                for item in items {
                    let Some(s) = self.string(item, &format!("each item of {what}")) else {
                        continue;
                    };
                    match s.split_once('=') {
                        Some((k, v)) => {
                            out.insert(k.to_string(), v.to_string());
                        }
                        None if from_env => {
                            if let Some(val) = (self.env)(&s) {
                                out.insert(s, val);
                            }
                        }
                        None => {
                            out.insert(s, String::new());
                        }
                    }
                }
            }
            _ => self.error(
                node.pos,
                format!(
                    "{what} must be a list of KEY=VALUE or a mapping, not {}",
                    node.type_name()
                ),
            ),
        }
        out
    }

    fn argv(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Null => None,
            Value::Str(s) => match shell_words::split(s) {
                Ok(words) => Some(words),
                Err(e) => {
                    self.error(node.pos, format!("{what} cannot be split into words: {e}"));
                    None
                }
            },
            Value::Seq(_) => Some(self.strings(node, what, false)),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "{what} must be a string or a list, not {}",
                        node.type_name()
                    ),
                );
                None
            }
        }
    }

    fn duration_ns(&mut self, node: &Node, what: &str) -> Option<i64> {
        let text = self.string(node, what)?;
        match parse_compose_duration(&text) {
            Some(d) => Some(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            None => {
                self.error(
                    node.pos,
                    format!("{what}: `{text}` is not a duration (like 10s, 1m30s, 500ms)"),
                );
                None
            }
        }
    }

    fn project(
        &mut self,
        root: &Node,
        options: &LoadOptions<'_>,
        unset: Vec<String>,
    ) -> Option<Project> {
        let top = self.map(root, "the compose file")?;
        let mut services_node = None;
        let mut networks_node = None;
        let mut volumes_node = None;
        let mut file_name = None;
        for (key, (pos, value)) in top {
            match key.as_str() {
                "services" => services_node = Some(value),
                "networks" => networks_node = Some(value),
                "volumes" => volumes_node = Some(value),
                "name" => file_name = self.string(value, "`name`"),
                "version" => {}
                k if k.starts_with("x-") => {}
                other => {
                    let hint = unsupported_hint(other);
                    self.error(*pos, format!("unsupported top-level key `{other}`: {hint}"));
                }
            }
        }
        let name = options
            .project
            .map(str::to_string)
            .or_else(|| (self.env)("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()))
            .or(file_name)
            .unwrap_or_else(|| {
                let abs = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
                abs.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let name = normalize_name(&name);
        if name.is_empty() {
            self.error(
                Pos::default(),
                "no project name: set `project =` in the runbook or `name:` in the file",
            );
        }
        let Some(services_node) = services_node else {
            self.error(root.pos, "the compose file has no `services:`");
            return None;
        };
        let services_map = self.map(services_node, "`services`")?.clone();
        let mut networks = self.resources(networks_node, &name, "network");
        let volumes = self.resources(volumes_node, &name, "volume");
        let mut services = IndexMap::new();
        let mut disabled = Vec::new();
        for (svc, (pos, node)) in &services_map {
            let Some(map) = self.map(node, &format!("service `{svc}`")) else {
                continue;
            };
            if let Some((_, profiles)) = map.get("profiles") {
                let profiles = self.strings(profiles, "`profiles`", false);
                if !profiles.is_empty() && !profiles.iter().any(|p| options.profiles.contains(p)) {
                    disabled.push(svc.clone());
                    continue;
                }
            }
            if let Some(service) = self.service(svc, *pos, map, &volumes, &networks) {
                services.insert(svc.clone(), service);
            }
        }
        self.check_dependencies(&services_map, &services, &disabled);
        if services
            .values()
            .any(|s| s.networks.contains_key("default"))
            && !networks.contains_key("default")
        {
            networks.insert(
                String::from("default"),
                Resource {
                    name: format!("{name}_default"),
                    external: false,
                    driver: None,
                    internal: false,
                    labels: BTreeMap::new(),
                },
            );
        }
        Some(Project {
            name,
            file: self.file.clone(),
            dir: self.dir.clone(),
            services,
            disabled,
            networks,
            volumes,
            unset,
            masks: Masks::default(),
        })
    }

    fn resources(
        &mut self,
        node: Option<&Node>,
        project: &str,
        what: &str,
    ) -> IndexMap<String, Resource> {
        let mut out = IndexMap::new();
        let Some(node) = node else { return out };
        if matches!(node.value, Value::Null) {
            return out;
        }
        let Some(map) = self.map(node, &format!("top-level `{what}s`")) else {
            return out;
        };
        for (key, (_, def)) in map {
            let mut r = Resource {
                name: format!("{project}_{key}"),
                external: false,
                driver: None,
                internal: false,
                labels: BTreeMap::new(),
            };
            if let Value::Map(attrs) = &def.value {
                let mut explicit_name = None;
                for (attr, (pos, v)) in attrs {
                    match attr.as_str() {
                        "name" => explicit_name = self.string(v, &format!("{what} `{key}` name")),
                        "external" => r.external = self.bool(v, &format!("{what} `{key}` external")).unwrap_or(false),
                        "driver" => r.driver = self.string(v, &format!("{what} `{key}` driver")),
                        "internal" if what == "network" => {
                            r.internal = self.bool(v, "`internal`").unwrap_or(false);
                        }
                        "labels" => r.labels = self.key_values(v, "`labels`", false),
                        a if a.starts_with("x-") => {}
                        other => self.error(
                            *pos,
                            format!("unsupported key `{other}` in {what} `{key}` (supported: name, external, driver, labels{})", if what == "network" { ", internal" } else { "" }),
                        ),
                    }
                }
                if let Some(n) = explicit_name {
                    r.name = n;
                } else if r.external {
                    r.name = key.clone();
                }
            } else if !matches!(def.value, Value::Null) {
                self.error(
                    def.pos,
                    format!("{what} `{key}` must be a mapping or empty"),
                );
            }
            out.insert(key.clone(), r);
        }
        out
    }

    fn service(
        &mut self,
        svc: &str,
        pos: Pos,
        map: &Map,
        volumes: &IndexMap<String, Resource>,
        networks: &IndexMap<String, Resource>,
    ) -> Option<Service> {
        let mut s = Service {
            image: String::new(),
            container_name: None,
            command: None,
            entrypoint: None,
            environment: BTreeMap::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            networks: BTreeMap::new(),
            depends_on: BTreeMap::new(),
            healthcheck: None,
            restart: None,
            labels: BTreeMap::new(),
            working_dir: None,
            user: None,
            hostname: None,
            stop_signal: None,
            stop_grace_period: None,
            init: None,
            extra_hosts: Vec::new(),
            expose: Vec::new(),
        };
        let mut env_files = BTreeMap::new();
        let mut environment = BTreeMap::new();
        let mut has_image = false;
        for (key, (kpos, v)) in map {
            let what = format!("`{key}` of service `{svc}`");
            match key.as_str() {
                "image" => {
                    has_image = true;
                    s.image = self.string(v, &what).unwrap_or_default();
                }
                "command" => s.command = self.argv(v, &what),
                "entrypoint" => s.entrypoint = self.argv(v, &what),
                "environment" => environment = self.key_values(v, &what, true),
                "env_file" => {
                    for f in self.strings(v, &what, true) {
                        let path = self.dir.join(&f);
                        match std::fs::read_to_string(&path) {
                            Ok(t) => match yaml::parse_dotenv(&t, self.env, None) {
                                Ok(vars) => env_files.extend(vars),
                                Err((line, m)) => self.error(
                                    v.pos,
                                    format!("env_file {}:{line}: {m}", path.display()),
                                ),
                            },
                            Err(e) => self.error(
                                v.pos,
                                format!("cannot read env_file {}: {e}", path.display()),
                            ),
                        }
                    }
                }
                "ports" => s.ports = self.ports(v, &what),
                "expose" => s.expose = self.strings(v, &what, false),
                "volumes" => s.volumes = self.mounts(v, &what, volumes),
                "networks" => s.networks = self.service_networks(v, &what, networks),
                "depends_on" => s.depends_on = self.depends_on(v, &what),
                "healthcheck" => s.healthcheck = self.healthcheck(v, &what),
                "restart" => {
                    let r = self.string(v, &what).unwrap_or_default();
                    let base = r.split(':').next().unwrap_or_default();
                    if matches!(base, "no" | "always" | "on-failure" | "unless-stopped") {
                        s.restart = Some(r);
                    } else {
                        self.error(v.pos, format!("{what}: `{r}` is not one of no, always, on-failure[:N], unless-stopped"));
                    }
                }
                "labels" => s.labels = self.key_values(v, &what, false),
                "working_dir" => s.working_dir = self.string(v, &what),
                "user" => s.user = self.string(v, &what),
                "hostname" => s.hostname = self.string(v, &what),
                "container_name" => s.container_name = self.string(v, &what),
                "stop_signal" => s.stop_signal = self.string(v, &what),
                "stop_grace_period" => {
                    s.stop_grace_period = self
                        .duration_ns(v, &what)
                        .map(|ns| u64::try_from(ns / 1_000_000_000).unwrap_or(0));
                }
                "init" => s.init = self.bool(v, &what),
                "extra_hosts" => {
                    s.extra_hosts = self
                        .key_values(v, &what, false)
                        .into_iter()
                        .map(|(h, ip)| format!("{h}:{ip}"))
                        .collect()
                }
                "profiles" => {}
                k if k.starts_with("x-") => {}
                other => {
                    let hint = unsupported_hint(other);
                    self.error(
                        *kpos,
                        format!("unsupported key `{other}` in service `{svc}`: {hint}"),
                    );
                }
            }
        }
        if !has_image {
            self.error(
                pos,
                format!("service `{svc}` has no `image` (ops runs images; it does not build them)"),
            );
        }
        env_files.extend(environment);
        s.environment = env_files;
        if s.networks.is_empty() {
            s.networks.insert(String::from("default"), Vec::new());
        }
        Some(s)
    }

    fn ports(&mut self, node: &Node, what: &str) -> Vec<Port> {
        let Value::Seq(items) = &node.value else {
            self.error(node.pos, format!("{what} must be a list"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let parsed = match &item.value {
                Value::Map(m) => self.long_port(m, item.pos),
                _ => match item.scalar() {
                    Some(s) => parse_port(&s).map_err(|e| (item.pos, e)),
                    None => Err((
                        item.pos,
                        format!(
                            "a port must be a string or a mapping, not {}",
                            item.type_name()
                        ),
                    )),
                },
            };
            match parsed {
                Ok(p) => out.extend(p),
                Err((pos, e)) => self.error(pos, e),
            }
        }
        out
    }

    fn long_port(&mut self, m: &Map, pos: Pos) -> Result<Vec<Port>, (Pos, String)> {
        let mut p = Port {
            host_ip: String::new(),
            published: String::new(),
            target: 0,
            protocol: String::from("tcp"),
        };
        for (k, (kpos, v)) in m {
            let text = v.scalar().unwrap_or_default();
            match k.as_str() {
                "target" => {
                    p.target = text.parse().map_err(|_| {
                        (v.pos, format!("port target `{text}` is not a port number"))
                    })?
                }
                "published" => p.published = text,
                "host_ip" => p.host_ip = text,
                "protocol" => p.protocol = text,
                "mode" | "name" | "app_protocol" => {}
                other => {
                    return Err((
                        *kpos,
                        format!(
                            "unsupported port key `{other}` (supported: target, published, host_ip, protocol)"
                        ),
                    ));
                }
            }
        }
        if p.target == 0 {
            return Err((pos, String::from("a port mapping needs `target`")));
        }
        Ok(vec![p])
    }

    fn mounts(
        &mut self,
        node: &Node,
        what: &str,
        volumes: &IndexMap<String, Resource>,
    ) -> Vec<Mount> {
        let Value::Seq(items) = &node.value else {
            self.error(node.pos, format!("{what} must be a list"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let mount = match &item.value {
                Value::Map(m) => {
                    let get = |k: &str| m.get(k).and_then(|(_, v)| v.scalar());
                    let kind = get("type").unwrap_or_else(|| String::from("volume"));
                    if let Some((kpos, _)) = m
                        .iter()
                        .map(|(k, (p, _))| (p, k))
                        .find(|(_, k)| {
                            !matches!(
                                k.as_str(),
                                "type" | "source" | "target" | "read_only" | "bind" | "volume"
                            )
                        })
                        .map(|(p, k)| (*p, k.clone()))
                    {
                        self.error(
                            kpos,
                            "unsupported volume key (supported: type, source, target, read_only)",
                        );
                        continue;
                    }
                    let read_only = m
                        .get("read_only")
                        .is_some_and(|(_, v)| matches!(v.value, Value::Bool(true)));
                    match (kind.as_str(), get("source"), get("target")) {
                        ("volume" | "bind", Some(source), Some(target)) => Mount {
                            kind,
                            source,
                            target,
                            read_only,
                        },
                        ("volume" | "bind", _, _) => {
                            self.error(item.pos, "a volume mapping needs `source` and `target`");
                            continue;
                        }
                        (other, _, _) => {
                            self.error(
                                item.pos,
                                format!(
                                    "volume type `{other}` is not supported (volume and bind are)"
                                ),
                            );
                            continue;
                        }
                    }
                }
                _ => {
                    let Some(text) = self.string(item, "a volume") else {
                        continue;
                    };
                    let parts: Vec<&str> = text.split(':').collect();
                    let (source, target, mode) = match parts.as_slice() {
                        [source, target] => (*source, *target, ""),
                        [source, target, mode] => (*source, *target, *mode),
                        [_] => {
                            self.error(item.pos, format!("anonymous volume `{text}` is not supported: name it (`data:{text}`) and declare it under top-level `volumes`"));
                            continue;
                        }
                        _ => {
                            self.error(item.pos, format!("`{text}` is not SOURCE:TARGET[:ro]"));
                            continue;
                        }
                    };
                    if !matches!(mode, "" | "ro" | "rw") {
                        self.error(
                            item.pos,
                            format!("volume mode `{mode}` is not supported (ro or rw)"),
                        );
                        continue;
                    }
                    let bind = source.starts_with(['.', '/', '~']);
                    Mount {
                        kind: String::from(if bind { "bind" } else { "volume" }),
                        source: source.to_string(),
                        target: target.to_string(),
                        read_only: mode == "ro",
                    }
                }
            };
            let mut mount = mount;
            if mount.kind == "bind" {
                let path = if let Some(rest) = mount.source.strip_prefix("~/") {
                    PathBuf::from((self.env)("HOME").unwrap_or_default()).join(rest)
                } else {
                    self.dir.join(&mount.source)
                };
                let abs = std::path::absolute(&path).unwrap_or(path);
                mount.source = normalize_path(&abs).display().to_string();
            } else if !volumes.contains_key(&mount.source) {
                self.error(
                    item.pos,
                    format!(
                        "volume `{}` is not declared under top-level `volumes`",
                        mount.source
                    ),
                );
                continue;
            }
            out.push(mount);
        }
        out
    }

    fn service_networks(
        &mut self,
        node: &Node,
        what: &str,
        networks: &IndexMap<String, Resource>,
    ) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let check = |reader: &mut Self, name: &str, pos: Pos| {
            if name != "default" && !networks.contains_key(name) {
                reader.error(
                    pos,
                    format!("network `{name}` is not declared under top-level `networks`"),
                );
            }
        };
        match &node.value {
            Value::Seq(items) => {
                for item in items {
                    if let Some(n) = self.string(item, what) {
                        check(self, &n, item.pos);
                        out.insert(n, Vec::new());
                    }
                }
            }
            Value::Map(m) => {
                for (n, (pos, v)) in m {
                    check(self, n, *pos);
                    let mut aliases = Vec::new();
                    if let Value::Map(attrs) = &v.value {
                        for (a, (apos, av)) in attrs {
                            match a.as_str() {
                                "aliases" => aliases = self.strings(av, "`aliases`", false),
                                other => self.error(*apos, format!("unsupported key `{other}` in network `{n}` of {what} (supported: aliases)")),
                            }
                        }
                    }
                    out.insert(n.clone(), aliases);
                }
            }
            _ => self.error(node.pos, format!("{what} must be a list or a mapping")),
        }
        out
    }

    fn depends_on(&mut self, node: &Node, what: &str) -> BTreeMap<String, Condition> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Seq(_) => {
                for d in self.strings(node, what, false) {
                    out.insert(d, Condition::ServiceStarted);
                }
            }
            Value::Map(m) => {
                for (dep, (_, v)) in m {
                    let mut condition = Condition::ServiceStarted;
                    if let Value::Map(attrs) = &v.value {
                        for (a, (apos, av)) in attrs {
                            match a.as_str() {
                                "condition" => match av.scalar().as_deref() {
                                    Some("service_started") => condition = Condition::ServiceStarted,
                                    Some("service_healthy") => condition = Condition::ServiceHealthy,
                                    Some("service_completed_successfully") => condition = Condition::ServiceCompletedSuccessfully,
                                    other => self.error(av.pos, format!("condition `{}` is not one of service_started, service_healthy, service_completed_successfully", other.unwrap_or_default())),
                                },
                                "required" | "restart" => {}
                                other => self.error(*apos, format!("unsupported key `{other}` in depends_on `{dep}` (supported: condition)")),
                            }
                        }
                    }
                    out.insert(dep.clone(), condition);
                }
            }
            _ => self.error(node.pos, format!("{what} must be a list or a mapping")),
        }
        out
    }

    fn healthcheck(&mut self, node: &Node, what: &str) -> Option<Healthcheck> {
        let map = self.map(node, what)?;
        let mut h = Healthcheck {
            test: Vec::new(),
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        };
        let mut disable = false;
        for (k, (kpos, v)) in map {
            match k.as_str() {
                "test" => {
                    h.test = match &v.value {
                        Value::Str(s) => vec![String::from("CMD-SHELL"), s.clone()],
                        _ => self.strings(v, "healthcheck `test`", false),
                    };
                    if !h.test.is_empty() && !matches!(h.test[0].as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                        self.error(v.pos, "healthcheck `test` must start with CMD, CMD-SHELL or NONE (or be a string)");
                    }
                }
                "interval" => h.interval = self.duration_ns(v, "healthcheck `interval`"),
                "timeout" => h.timeout = self.duration_ns(v, "healthcheck `timeout`"),
                "start_period" => h.start_period = self.duration_ns(v, "healthcheck `start_period`"),
                "retries" => match &v.value {
                    Value::Int(n) if *n >= 0 => h.retries = Some(*n),
                    _ => self.error(v.pos, "healthcheck `retries` must be a whole number"),
                },
                "disable" => disable = self.bool(v, "healthcheck `disable`").unwrap_or(false),
                other => self.error(*kpos, format!("unsupported healthcheck key `{other}` (supported: test, interval, timeout, retries, start_period, disable)")),
            }
        }
        if disable {
            h.test = vec![String::from("NONE")];
        }
        if h.test.is_empty() {
            self.error(
                node.pos,
                format!("{what} needs `test` (or `disable: true`)"),
            );
        }
        Some(h)
    }

    fn check_dependencies(
        &mut self,
        map: &Map,
        services: &IndexMap<String, Service>,
        disabled: &[String],
    ) {
        for (name, svc) in services {
            let pos = map.get(name).map(|(p, _)| *p).unwrap_or_default();
            for (dep, cond) in &svc.depends_on {
                if disabled.contains(dep) {
                    self.error(
                        pos,
                        format!(
                            "service `{name}` depends on `{dep}`, which no enabled profile includes"
                        ),
                    );
                } else if let Some(target) = services.get(dep) {
                    if *cond == Condition::ServiceHealthy
                        && target
                            .healthcheck
                            .as_ref()
                            .is_none_or(Healthcheck::disabled)
                    {
                        self.error(pos, format!("service `{name}` waits for `{dep}` to be healthy, but `{dep}` has no healthcheck"));
                    }
                } else {
                    self.error(pos, format!("service `{name}` depends on `{dep}`, which is not a service of this file"));
                }
            }
        }
        if let Err(cycle) = order(services, services.keys().cloned().collect()) {
            self.error(Pos::default(), format!("depends_on has a cycle: {cycle}"));
        }
    }
}

/// Compose's short port syntax: `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`; ranges are not supported.
pub fn parse_port(text: &str) -> Result<Vec<Port>, String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((s, p)) if matches!(p, "tcp" | "udp") => (s, p),
        Some((_, p)) => return Err(format!("port protocol `{p}` is not tcp or udp")),
        None => (text, "tcp"),
    };
    let (host_ip, rest) = if let Some(inner) = spec.strip_prefix('[') {
        let (ip, rest) = inner
            .split_once("]:")
            .ok_or_else(|| format!("`{text}` is not a port mapping"))?;
        (ip.to_string(), rest)
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), spec),
            3 => (parts[0].to_string(), &spec[parts[0].len() + 1..]),
            _ => {
                return Err(format!(
                    "`{text}` is not [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]"
                ));
            }
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (p.to_string(), t),
        None => (String::new(), rest),
    };
    if published.contains('-') || target.contains('-') {
        return Err(format!(
            "port ranges (`{text}`) are not supported: list each port"
        ));
    }
    let target: u16 = target
        .parse()
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| format!("`{target}` in `{text}` is not a port number"))?;
    if !published.is_empty() && published.parse::<u16>().is_err() {
        return Err(format!("`{published}` in `{text}` is not a port number"));
    }
    Ok(vec![Port {
        host_ip,
        published,
        target,
        protocol: protocol.to_string(),
    }])
}

/// Compose durations: `1m30s`, `10s`, `500ms`, `2h`, `1.5s`, or a bare number of seconds.
pub fn parse_compose_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    (!text.is_empty()).then(|| Duration::from_secs_f64(total))
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
    /// Short hashes of each configuration field: which of them changed is the reason a
    /// container is recreated.
    pub fn field_hashes(&self) -> BTreeMap<&'static str, String> {
        let json = serde_json::to_value(self).unwrap_or_default();
        let mut out = BTreeMap::new();
        if let serde_json::Value::Object(fields) = json {
            for (name, value) in fields {
                let Some(field) = SERVICE_FIELDS.iter().find(|f| **f == name) else {
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
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
