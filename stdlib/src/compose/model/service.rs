//! One service of a compose file: its keys, ports, mounts, networks, dependencies and
//! health check; and Compose's port and duration syntaxes.

use std::collections::BTreeMap;
use std::time::Duration;

use super::reader::{Map, Reader};
use super::*;

impl Reader<'_> {
    pub(super) fn service(
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
            network_mode: None,
            links: Vec::new(),
            volumes_from: Vec::new(),
            secrets: Vec::new(),
            configs: Vec::new(),
            replicas: 1,
            build: None,
            pull_policy: None,
            settings: Settings::default(),
        };
        let mut deploy = Deploy::default();
        let mut label_files: BTreeMap<String, String> = BTreeMap::new();
        let mut mac: Option<(String, Pos)> = None;
        let mut scale: Option<(u32, Pos)> = None;
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
                "env_file" => env_files.extend(self.env_files(v, &what)),
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
                "network_mode" => s.network_mode = self.network_mode(v, &what),
                "volumes_from" => s.volumes_from = self.volumes_from(v, &what),
                "build" => s.build = self.build(v, &what),
                "pull_policy" => {
                    let p = self.string(v, &what).unwrap_or_default();
                    match p.as_str() {
                        "always" | "never" | "missing" | "build" => s.pull_policy = Some(p),
                        "if_not_present" => s.pull_policy = Some(String::from("missing")),
                        other => self.error(v.pos, format!("{what}: `{other}` is not one of always, never, missing, if_not_present, build (`daily`, `weekly` and `every_*` are not supported)")),
                    }
                }
                "scale" => {
                    scale = self
                        .int_in(v, &what, 0, 1000)
                        .map(|r| (u32::try_from(r).unwrap_or(1), v.pos));
                }
                "secrets" => {
                    let defs = std::mem::take(&mut self.secrets);
                    s.secrets = self.granted(v, &what, "secret", &defs);
                    self.secrets = defs;
                }
                "configs" => {
                    let defs = std::mem::take(&mut self.configs);
                    s.configs = self.granted(v, &what, "config", &defs);
                    self.configs = defs;
                }
                "links" => {
                    for link in self.strings(v, &what, false) {
                        let (target, alias) = link.split_once(':').unwrap_or((&link, &link));
                        s.links.push((target.to_string(), alias.to_string()));
                    }
                }
                "label_file" => label_files = self.label_files(v, &what),
                "mac_address" => mac = self.string(v, &what).map(|m| (m, v.pos)),
                // ops never attaches to a container's output (`up` is always detached).
                "attach" => {
                    self.bool(v, &what);
                }
                "develop" => {
                    self.map(v, &what);
                    self.note(format!("`develop` of service `{svc}` is ignored: only `docker compose watch` acts on it"));
                }
                "profiles" => {}
                k if k.starts_with("x-") => {}
                other => {
                    if !self.setting(other, v, &what, &mut s.settings, &mut deploy) {
                        let hint = unsupported_hint(other);
                        self.error(
                            *kpos,
                            format!("unsupported key `{other}` in service `{svc}`: {hint}"),
                        );
                    }
                }
            }
        }
        if let Some(policy) = deploy.restart {
            if s.restart.is_some() {
                self.note(format!("`deploy.restart_policy` of service `{svc}` is ignored: `restart` is set, and wins (as in docker compose)"));
            } else {
                s.restart = Some(policy);
            }
        }
        self.replicas(svc, scale, deploy.replicas, &mut s);
        self.shared_namespaces(svc, pos, map, &mut s);
        if let Some(path) = s
            .settings
            .tmpfs
            .keys()
            .find(|p| s.volumes.iter().any(|m| &m.target == *p))
        {
            let at = map.get("tmpfs").map_or(pos, |(p, _)| *p);
            self.error(
                at,
                format!("`{path}` is mounted twice (in `tmpfs` and in `volumes`)"),
            );
        }
        if !has_image {
            if map.contains_key("build") {
                // Tagged as Compose does.
                s.image = format!("{}-{svc}", self.project_name);
            } else {
                self.error(
                    pos,
                    format!("service `{svc}` has neither `image` nor `build`"),
                );
            }
        }
        env_files.extend(environment);
        s.environment = env_files;
        if s.networks.is_empty() && s.network_mode.is_none() {
            s.networks
                .insert(String::from("default"), Attachment::default());
        }
        // `labels:` over the labels of `label_file:`.
        if !label_files.is_empty() {
            label_files.append(&mut s.labels);
            s.labels = label_files;
        }
        // The service's MAC address is its first network's (the one it is created on).
        if let Some((address, at)) = mac {
            let first = s
                .attachments()
                .first()
                .map(|(n, a)| (n.to_string(), a.mac_address.is_some()));
            match first {
                Some((_, true)) => self.error(
                    at,
                    format!(
                        "service `{svc}` gives `mac_address` twice (here and in its first network)"
                    ),
                ),
                Some((name, false)) => {
                    if let Some(a) = s.networks.get_mut(&name) {
                        a.mac_address = Some(address);
                    }
                }
                None => self.error(
                    at,
                    format!("service `{svc}`: `mac_address` needs a network (network_mode is set)"),
                ),
            }
        }
        Some(s)
    }

    /// `env_file:`: a path, or a list of paths or of `{path, required, format}`; a file
    /// that is not `required` may be missing, and `format: raw` takes each line's value
    /// as it is written (no quotes, no `${VAR}`).
    fn env_files(&mut self, v: &Node, what: &str) -> BTreeMap<String, String> {
        let mut entries: Vec<(String, bool, bool, Pos)> = Vec::new();
        match &v.value {
            Value::Seq(items) => {
                for item in items {
                    match &item.value {
                        Value::Map(m) => {
                            let mut path = String::new();
                            let (mut required, mut raw) = (true, false);
                            for (k, (kpos, n)) in m {
                                let each = format!("`{k}` of {what}");
                                match k.as_str() {
                                    "path" => path = self.string(n, &each).unwrap_or_default(),
                                    "required" => required = self.bool(n, &each).unwrap_or(true),
                                    "format" => {
                                        let f = self.string(n, &each).unwrap_or_default();
                                        if f != "raw" {
                                            self.error(n.pos, format!("{each}: `{f}` is not a format (raw is the one there is)"));
                                        }
                                        raw = true;
                                    }
                                    other => self.error(*kpos, format!("unsupported key `{other}` in {what} (supported: path, required, format)")),
                                }
                            }
                            entries.push((path, required, raw, item.pos));
                        }
                        _ => {
                            if let Some(p) = self.string(item, what) {
                                entries.push((p, true, false, item.pos));
                            }
                        }
                    }
                }
            }
            _ => {
                if let Some(p) = self.string(v, what) {
                    entries.push((p, true, false, v.pos));
                }
            }
        }
        let mut out = BTreeMap::new();
        for (f, required, raw, at) in entries {
            let path = self.dir_of(at).join(&f);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => continue,
                Err(e) => {
                    self.error(at, format!("cannot read env_file {}: {e}", path.display()));
                    continue;
                }
            };
            if raw {
                for line in text
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                {
                    match line.split_once('=') {
                        Some((k, val)) => {
                            out.insert(k.trim().to_string(), val.to_string());
                        }
                        None => self.error(
                            at,
                            format!(
                                "env_file {}: `{}` is not NAME=VALUE",
                                path.display(),
                                line.trim()
                            ),
                        ),
                    }
                }
                continue;
            }
            match yaml::parse_dotenv(&text, self.env, None) {
                Ok(vars) => out.extend(vars),
                Err((line, m)) => {
                    self.error(at, format!("env_file {}:{line}: {m}", path.display()))
                }
            }
        }
        out
    }

    /// `label_file:`: one file or a list, each `KEY=VALUE` lines (as an env file).
    fn label_files(&mut self, v: &Node, what: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for f in self.strings(v, what, true) {
            let path = self.dir_of(v.pos).join(&f);
            match std::fs::read_to_string(&path) {
                Ok(text) => match yaml::parse_dotenv(&text, self.env, None) {
                    Ok(vars) => out.extend(vars),
                    Err((line, m)) => {
                        self.error(v.pos, format!("label_file {}:{line}: {m}", path.display()))
                    }
                },
                Err(e) => self.error(
                    v.pos,
                    format!("cannot read label_file {}: {e}", path.display()),
                ),
            }
        }
        out
    }

    /// `scale` and `deploy.replicas` agree, and more than one container of a service can
    /// exist side by side: no fixed name, no fixed host port.
    fn replicas(
        &mut self,
        svc: &str,
        scale: Option<(u32, Pos)>,
        deploy: Option<(u32, Pos)>,
        s: &mut Service,
    ) {
        if let (Some((a, _)), Some((b, at))) = (scale, deploy)
            && a != b
        {
            self.error(at, format!("`deploy.replicas` of service `{svc}` ({b}) contradicts its `scale` ({a}); give only one of them"));
        }
        let Some((n, at)) = scale.or(deploy) else {
            return;
        };
        s.replicas = n;
        if n > 1 {
            if s.container_name.is_some() {
                self.error(at, format!("service `{svc}` has {n} replicas and a `container_name`: containers cannot share a name (drop `container_name`)"));
            }
            if let Some(p) = s
                .ports
                .iter()
                .find(|p| !p.published.is_empty() && !p.published.contains('-'))
            {
                self.error(at, format!("service `{svc}` has {n} replicas and publishes host port {}: only one container can have it (publish a range like `{}-{}:{}`, or no host port)", p.published, p.published, p.published.parse::<u32>().map_or(0, |x| x + n - 1), p.target));
            }
        }
    }

    fn network_mode(&mut self, v: &Node, what: &str) -> Option<String> {
        let mode = self.string(v, what)?;
        let shared = ["container:", "service:"]
            .iter()
            .any(|p| mode.strip_prefix(p).is_some_and(|n| !n.is_empty()));
        if !shared && !matches!(mode.as_str(), "host" | "none" | "bridge") {
            self.error(
                v.pos,
                format!("{what}: `{mode}` is not one of host, none, bridge, service:NAME, container:NAME (a project network goes in `networks:`)"),
            );
        }
        Some(mode)
    }

    /// What `network_mode`, `pid`, `ipc` and `links` imply: the service they name is
    /// started first, and settings that contradict a shared namespace are refused.
    fn shared_namespaces(&mut self, svc: &str, pos: Pos, map: &Map, s: &mut Service) {
        let at = |key: &str| map.get(key).map_or(pos, |(p, _)| *p);
        let named: Vec<(String, Pos)> = [
            ("network_mode", s.network_mode.as_deref()),
            ("pid", s.settings.pid.as_deref()),
            ("ipc", s.settings.ipc.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, mode)| Some((mode?.strip_prefix("service:")?.to_string(), at(key))))
        .chain(
            s.links
                .iter()
                .map(|(target, _)| (target.clone(), at("links"))),
        )
        .chain(
            s.volumes_from
                .iter()
                .filter(|v| !v.starts_with("container:"))
                .map(|v| {
                    let service = v.split(':').next().unwrap_or_default();
                    (service.to_string(), at("volumes_from"))
                }),
        )
        .collect();
        for (dep, p) in named {
            if dep == svc {
                self.error(
                    p,
                    format!("service `{svc}` cannot share a namespace or volumes with itself"),
                );
            } else {
                s.depends_on.entry(dep).or_insert(Condition::ServiceStarted);
            }
        }
        let Some(mode) = s.network_mode.as_deref() else {
            return;
        };
        let at = |key: &str| map.get(key).map(|(p, _)| *p);
        if let Some(p) = at("networks") {
            self.error(
                p,
                format!("service `{svc}` has both `network_mode` and `networks`; give one of them"),
            );
        }
        if let Some(p) = at("links") {
            self.error(p, format!("service `{svc}`: `links` need a project network, and `network_mode` is `{mode}`"));
        }
        let shared = mode.starts_with("service:") || mode.starts_with("container:");
        let conflicts: &[&str] = match mode {
            "host" => &["ports"],
            "none" => &["ports", "extra_hosts", "dns", "dns_search", "dns_opt"],
            _ if shared => &[
                "ports",
                "hostname",
                "extra_hosts",
                "dns",
                "dns_search",
                "dns_opt",
                "expose",
            ],
            _ => &[],
        };
        for key in conflicts {
            if let Some(p) = at(key) {
                self.error(p, format!("service `{svc}`: `{key}` cannot be set with network_mode `{mode}` (the container uses {})", if shared { "the other container's network" } else if mode == "host" { "the host's network" } else { "no network" }));
            }
        }
    }

    pub(super) fn ports(&mut self, node: &Node, what: &str) -> Vec<Port> {
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

    pub(super) fn long_port(&mut self, m: &Map, pos: Pos) -> Result<Vec<Port>, (Pos, String)> {
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
                "published" => {
                    if !text.is_empty() {
                        port_range(&text, &text, 0).map_err(|m| (v.pos, m))?;
                    }
                    p.published = text;
                }
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

    pub(super) fn depends_on(&mut self, node: &Node, what: &str) -> BTreeMap<String, Condition> {
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

    pub(super) fn healthcheck(&mut self, node: &Node, what: &str) -> Option<Healthcheck> {
        let map = self.map(node, what)?;
        let mut h = Healthcheck {
            test: Vec::new(),
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
            start_interval: None,
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
                "retries" => h.retries = self.int_in(v, "healthcheck `retries`", 0, i64::MAX),
                "start_interval" => {
                    h.start_interval = self.duration_ns(v, "healthcheck `start_interval`");
                }
                "disable" => disable = self.bool(v, "healthcheck `disable`").unwrap_or(false),
                other => self.error(*kpos, format!("unsupported healthcheck key `{other}` (supported: test, interval, timeout, retries, start_period, start_interval, disable)")),
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

    pub(super) fn check_dependencies(
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

/// Compose's short port syntax: `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`, where
/// PUBLISHED and TARGET may be ranges (`8000-8002:80-82`; a single TARGET with a
/// PUBLISHED range takes the first free port of it).
pub fn parse_port(text: &str) -> Result<Vec<Port>, String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((s, p)) if matches!(p, "tcp" | "udp" | "sctp") => (s, p),
        Some((_, p)) => return Err(format!("port protocol `{p}` is not tcp, udp or sctp")),
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
    let protocol = protocol.to_string();
    let targets = port_range(target, text, 1)?;
    let published_range = if published.is_empty() {
        None
    } else {
        // Host port 0: any free port, as with an empty one.
        Some(port_range(&published, text, 0)?)
    };
    let port = |published: String, target: u16| Port {
        host_ip: host_ip.clone(),
        published,
        target,
        protocol: protocol.clone(),
    };
    match published_range {
        None => Ok(targets.map(|t| port(String::new(), t)).collect()),
        // One container port published on the first free port of a host range.
        Some(_) if targets.len() == 1 => Ok(vec![port(published, *targets.start())]),
        Some(hosts) if hosts.len() == targets.len() => Ok(hosts
            .zip(targets)
            .map(|(h, t)| port(h.to_string(), t))
            .collect()),
        Some(_) => Err(format!(
            "`{text}`: the published range and the container range are not the same length"
        )),
    }
}

/// `N` or `N-M` (ports from `min` to 65535, N <= M).
fn port_range(text: &str, whole: &str, min: u16) -> Result<std::ops::RangeInclusive<u16>, String> {
    let number = |t: &str| {
        t.parse::<u16>()
            .ok()
            .filter(|p| *p >= min)
            .ok_or_else(|| format!("`{t}` in `{whole}` is not a port number"))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("`{text}` in `{whole}` is not an ascending range"));
            }
            Ok(a..=b)
        }
        None => number(text).map(|p| p..=p),
    }
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
