//! The reader of a compose file: errors with positions, typed scalars, lists and maps,
//! and the top level (project name, networks, volumes).

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::*;

pub(super) struct Reader<'a> {
    pub(super) file: PathBuf,
    pub(super) text: &'a str,
    pub(super) dir: PathBuf,
    /// The other files of the project (merged over the first, included, extended): a
    /// position's `file` is 1 + its index here.
    pub(super) others: Vec<super::files::SourceFile>,
    pub(super) errors: Vec<FileError>,
    pub(super) notes: Vec<String>,
    /// Secret values read for `secrets:` (redacted from what a run prints), by name.
    pub(super) secret_values: Vec<(String, String)>,
    /// The project's name, once known (salts the digests of secret values).
    pub(super) project_name: String,
    /// Top-level `secrets:`.
    pub(super) secrets: IndexMap<String, Source>,
    /// Top-level `configs:`.
    pub(super) configs: IndexMap<String, Source>,
    /// Secrets and configs (`KIND:NAME`) whose definition has an error already reported.
    pub(super) broken: Vec<String>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

pub(super) type Map = IndexMap<String, (Pos, Node)>;

impl Reader<'_> {
    /// The directory relative paths written at `pos` are resolved against: that of the
    /// file they are written in.
    pub(super) fn dir_of(&self, pos: Pos) -> &std::path::Path {
        match pos.file.checked_sub(1) {
            Some(i) => self.others.get(i as usize).map_or(&self.dir, |f| &f.dir),
            None => &self.dir,
        }
    }

    pub(super) fn error_at(&self, pos: Pos, message: impl Into<String>) -> FileError {
        let (file, text) = match pos
            .file
            .checked_sub(1)
            .and_then(|i| self.others.get(i as usize))
        {
            Some(f) => (&f.path, f.text.as_str()),
            None => (&self.file, self.text),
        };
        let snippet = (pos.line > 0)
            .then(|| text.lines().nth(pos.line as usize - 1))
            .flatten()
            .map(|l| l.trim_end().to_string());
        FileError {
            file: file.clone(),
            pos,
            message: message.into(),
            snippet,
        }
    }

    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let e = self.error_at(pos, message);
        self.errors.push(e);
    }

    /// Something the file says that this engine does not act on: a plan warning.
    pub(super) fn note(&mut self, message: String) {
        self.notes.push(message);
    }

    pub(super) fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Map> {
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

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
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

    pub(super) fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
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
    pub(super) fn strings(&mut self, node: &Node, what: &str, single: bool) -> Vec<String> {
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
    pub(super) fn key_values(
        &mut self,
        node: &Node,
        what: &str,
        from_env: bool,
    ) -> BTreeMap<String, String> {
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

    pub(super) fn argv(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
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

    pub(super) fn duration_ns(&mut self, node: &Node, what: &str) -> Option<i64> {
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

    pub(super) fn project(
        &mut self,
        root: &Node,
        options: &LoadOptions<'_>,
        unset: Vec<String>,
    ) -> Option<Project> {
        let top = self.map(root, "the compose file")?;
        let mut services_node = None;
        let mut networks_node = None;
        let mut volumes_node = None;
        let mut secrets_node = None;
        let mut configs_node = None;
        let mut file_name = None;
        for (key, (pos, value)) in top {
            match key.as_str() {
                "services" => services_node = Some(value),
                "networks" => networks_node = Some(value),
                "volumes" => volumes_node = Some(value),
                "secrets" => secrets_node = Some(value),
                "configs" => configs_node = Some(value),
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
        self.project_name = name.clone();
        self.secrets = self.definitions(secrets_node, "secret");
        self.configs = self.definitions(configs_node, "config");
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
                    ..Resource::default()
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
            masks: Masks(std::mem::take(&mut self.secret_values)),
            notes: std::mem::take(&mut self.notes),
        })
    }

    pub(super) fn resources(
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
                ..Resource::default()
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
                        "driver_opts" => {
                            r.driver_opts = self.key_values(v, &format!("{what} `{key}` driver_opts"), false);
                        }
                        "ipam" if what == "network" => r.ipam = self.ipam(v, &format!("`ipam` of network `{key}`")),
                        "enable_ipv6" if what == "network" => {
                            r.enable_ipv6 = self.bool(v, "`enable_ipv6`");
                        }
                        "attachable" if what == "network" => {
                            r.attachable = self.bool(v, "`attachable`");
                        }
                        a if a.starts_with("x-") => {}
                        other => self.error(
                            *pos,
                            format!("unsupported key `{other}` in {what} `{key}` (supported: name, external, driver, driver_opts, labels{})", if what == "network" { ", internal, ipam, enable_ipv6, attachable" } else { "" }),
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
}
