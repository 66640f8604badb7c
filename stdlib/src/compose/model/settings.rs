//! A service's container settings beyond the basics: capabilities and security, kernel
//! and resource limits, namespaces, logging, terminal, DNS, and `deploy` as far as one
//! engine without Swarm applies it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::reader::Map;
use super::*;

/// Container settings, each left out of the configuration hash while unset (so a
/// container created before ops knew a key is not recreated).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Settings {
    /// `cap_add:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// `cap_drop:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// `privileged:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// `security_opt:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// `sysctls:`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `ulimits:` as name → (soft, hard).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, (i64, i64)>,
    /// `tmpfs:` (and long-syntax `type: tmpfs` volumes) as path → mount options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    /// `shm_size:` in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i64>,
    /// `read_only:` (read-only root filesystem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// `devices:` as `HOST:CONTAINER:PERMISSIONS`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<(String, String, String)>,
    /// `device_cgroup_rules:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    /// `pid:` (`host`, `container:NAME` or `service:NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// `ipc:` (`host`, `private`, `shareable`, `none`, `container:NAME`, `service:NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    /// `uts:` (`host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uts: Option<String>,
    /// `userns_mode:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    /// `cgroup:` (`host` or `private`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// `cgroup_parent:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    /// `logging:` driver and options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<(String, BTreeMap<String, String>)>,
    /// `mem_limit:` or `deploy.resources.limits.memory`, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<i64>,
    /// `mem_reservation:` or `deploy.resources.reservations.memory`, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_reservation: Option<i64>,
    /// `memswap_limit:` in bytes (-1: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<i64>,
    /// `mem_swappiness:` (0–100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_swappiness: Option<i64>,
    /// `cpus:` or `deploy.resources.limits.cpus`, in billionths of a CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<i64>,
    /// `cpu_shares:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<i64>,
    /// `cpu_period:` in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<i64>,
    /// `cpu_quota:` in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// `cpuset:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<String>,
    /// `pids_limit:` or `deploy.resources.limits.pids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// `oom_kill_disable:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kill_disable: Option<bool>,
    /// `oom_score_adj:` (-1000–1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
    /// `platform:` (`os/arch[/variant]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `runtime:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// `stdin_open:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin_open: Option<bool>,
    /// `tty:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    /// `group_add:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `dns:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// `dns_search:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// `dns_opt:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// `domainname:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// `storage_opt:`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: BTreeMap<String, String>,
    /// `annotations:`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The configuration fields [`Settings`] adds, each read from the service key of its name
/// (their names in the hash labels too).
pub(super) const SETTINGS_FIELDS: &[&str] = &[
    "cap_add",
    "cap_drop",
    "privileged",
    "security_opt",
    "sysctls",
    "ulimits",
    "tmpfs",
    "shm_size",
    "read_only",
    "devices",
    "device_cgroup_rules",
    "pid",
    "ipc",
    "uts",
    "userns_mode",
    "cgroup",
    "cgroup_parent",
    "logging",
    "mem_limit",
    "mem_reservation",
    "memswap_limit",
    "mem_swappiness",
    "cpus",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpuset",
    "pids_limit",
    "oom_kill_disable",
    "oom_score_adj",
    "platform",
    "runtime",
    "stdin_open",
    "tty",
    "group_add",
    "dns",
    "dns_search",
    "dns_opt",
    "domainname",
    "storage_opt",
    "annotations",
];

/// What `deploy:` said that a service needs besides its settings.
#[derive(Default)]
pub(super) struct Deploy {
    /// `deploy.restart_policy` as a `restart:` value.
    pub(super) restart: Option<String>,
    /// `deploy.replicas`.
    pub(super) replicas: Option<(u32, Pos)>,
}

impl Reader<'_> {
    /// Reads one container setting into `s`; false when `key` is not one.
    pub(super) fn setting(
        &mut self,
        key: &str,
        v: &Node,
        what: &str,
        s: &mut Settings,
        deploy: &mut Deploy,
    ) -> bool {
        match key {
            "cap_add" => s.cap_add = self.capabilities(v, what),
            "cap_drop" => s.cap_drop = self.capabilities(v, what),
            "privileged" => s.privileged = self.bool(v, what),
            "security_opt" => s.security_opt = self.strings(v, what, false),
            "sysctls" => s.sysctls = self.key_values(v, what, false),
            "ulimits" => s.ulimits = self.ulimits(v, what),
            "tmpfs" => {
                for entry in self.strings(v, what, true) {
                    let (path, options) = entry.split_once(':').unwrap_or((&entry, ""));
                    if !path.starts_with('/') {
                        self.error(
                            v.pos,
                            format!("{what}: `{path}` is not an absolute path in the container"),
                        );
                    }
                    s.tmpfs.insert(path.to_string(), options.to_string());
                }
            }
            "shm_size" => s.shm_size = self.bytes(v, what),
            "read_only" => s.read_only = self.bool(v, what),
            "devices" => {
                for d in self.strings(v, what, false) {
                    match device(&d) {
                        Ok(d) => s.devices.push(d),
                        Err(m) => self.error(v.pos, format!("{what}: {m}")),
                    }
                }
            }
            "device_cgroup_rules" => s.device_cgroup_rules = self.strings(v, what, false),
            "pid" => s.pid = self.namespace(v, what, &["host"]),
            "ipc" => {
                s.ipc = self.namespace(v, what, &["host", "private", "shareable", "none"]);
            }
            "uts" => s.uts = self.namespace(v, what, &["host"]),
            "userns_mode" => s.userns_mode = self.string(v, what),
            "cgroup" => {
                s.cgroup = self.string(v, what);
                if let Some(c) = s
                    .cgroup
                    .as_deref()
                    .filter(|c| !matches!(*c, "host" | "private"))
                {
                    self.error(v.pos, format!("{what}: `{c}` is not host or private"));
                }
            }
            "cgroup_parent" => s.cgroup_parent = self.string(v, what),
            "logging" => s.logging = self.logging(v, what),
            "mem_limit" => {
                let n = self.bytes(v, what);
                s.mem_limit =
                    self.either(s.mem_limit, n, v, what, "deploy.resources.limits.memory");
            }
            "mem_reservation" => {
                let n = self.bytes(v, what);
                s.mem_reservation = self.either(
                    s.mem_reservation,
                    n,
                    v,
                    what,
                    "deploy.resources.reservations.memory",
                );
            }
            "memswap_limit" => s.memswap_limit = self.bytes(v, what),
            "mem_swappiness" => s.mem_swappiness = self.int_in(v, what, 0, 100),
            "cpus" => {
                let n = self.cpus(v, what);
                s.cpus = self.either(s.cpus, n, v, what, "deploy.resources.limits.cpus");
            }
            "cpu_shares" => s.cpu_shares = self.int_in(v, what, 0, i64::MAX),
            "cpu_period" => s.cpu_period = self.int_in(v, what, 0, i64::MAX),
            "cpu_quota" => s.cpu_quota = self.int_in(v, what, -1, i64::MAX),
            "cpuset" => s.cpuset = self.string(v, what),
            "pids_limit" => {
                let n = self.int_in(v, what, -1, i64::MAX);
                s.pids_limit =
                    self.either(s.pids_limit, n, v, what, "deploy.resources.limits.pids");
            }
            "oom_kill_disable" => s.oom_kill_disable = self.bool(v, what),
            "oom_score_adj" => s.oom_score_adj = self.int_in(v, what, -1000, 1000),
            "platform" => {
                // An empty platform (`${DOCKER_PLATFORM:-}`) is no platform, as in Compose.
                s.platform = self.string(v, what).filter(|p| !p.is_empty());
                if let Some(p) = s.platform.as_deref().filter(|p| {
                    let parts = p.split('/').count();
                    !(2..=3).contains(&parts) || p.split('/').any(str::is_empty)
                }) {
                    self.error(
                        v.pos,
                        format!("{what}: `{p}` is not OS/ARCH[/VARIANT] (like linux/amd64)"),
                    );
                }
            }
            "runtime" => s.runtime = self.string(v, what),
            "stdin_open" => s.stdin_open = self.bool(v, what),
            "tty" => s.tty = self.bool(v, what),
            "group_add" => s.group_add = self.strings(v, what, false),
            "dns" => s.dns = self.strings(v, what, true),
            "dns_search" => s.dns_search = self.strings(v, what, true),
            "dns_opt" => s.dns_opt = self.strings(v, what, false),
            "domainname" => s.domainname = self.string(v, what),
            "storage_opt" => s.storage_opt = self.key_values(v, what, false),
            "annotations" => s.annotations = self.key_values(v, what, false),
            "deploy" => self.deploy(v, what, s, deploy),
            _ => return false,
        }
        true
    }

    /// Capability names as the engine takes them: any case, with or without `CAP_`
    /// (`net_admin`, `CAP_SYS_TIME`, `all`), given to the engine upper-cased.
    fn capabilities(&mut self, v: &Node, what: &str) -> Vec<String> {
        let caps = self.strings(v, what, false);
        for c in &caps {
            let upper = c.to_ascii_uppercase();
            let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
            if bare != "ALL"
                && (bare.is_empty()
                    || !bare
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
            {
                self.error(
                    v.pos,
                    format!("{what}: `{c}` is not a capability name (like NET_ADMIN or ALL)"),
                );
            }
        }
        caps.into_iter().map(|c| c.to_ascii_uppercase()).collect()
    }

    fn ulimits(&mut self, v: &Node, what: &str) -> BTreeMap<String, (i64, i64)> {
        let mut out = BTreeMap::new();
        let Some(map) = self.map(v, what) else {
            return out;
        };
        for (name, (_, limit)) in map {
            let each = format!("{what} `{name}`");
            let pair = match &limit.value {
                Value::Map(m) => {
                    let soft = self.limit_part(m, "soft", limit, &each);
                    let hard = self.limit_part(m, "hard", limit, &each);
                    for (k, (kpos, _)) in m {
                        if k != "soft" && k != "hard" {
                            self.error(
                                *kpos,
                                format!("{each}: unsupported key `{k}` (supported: soft, hard)"),
                            );
                        }
                    }
                    soft.zip(hard)
                }
                _ => self.int_in(limit, &each, -1, i64::MAX).map(|n| (n, n)),
            };
            if let Some((soft, hard)) = pair {
                if hard != -1 && (soft == -1 || soft > hard) {
                    self.error(
                        limit.pos,
                        format!("{each}: the soft limit {soft} is above the hard limit {hard}"),
                    );
                }
                out.insert(name.clone(), (soft, hard));
            }
        }
        out
    }

    fn limit_part(&mut self, m: &Map, key: &str, at: &Node, what: &str) -> Option<i64> {
        match m.get(key) {
            Some((_, n)) => self.int_in(n, &format!("{what} `{key}`"), -1, i64::MAX),
            None => {
                self.error(at.pos, format!("{what} needs both `soft` and `hard`"));
                None
            }
        }
    }

    fn namespace(&mut self, v: &Node, what: &str, modes: &[&str]) -> Option<String> {
        let mode = self.string(v, what)?;
        let shared = ["container:", "service:"]
            .iter()
            .any(|p| mode.strip_prefix(p).is_some_and(|n| !n.is_empty()));
        if !shared && !modes.contains(&mode.as_str()) {
            self.error(
                v.pos,
                format!(
                    "{what}: `{mode}` is not one of {}, container:NAME, service:NAME",
                    modes.join(", ")
                ),
            );
        }
        Some(mode)
    }

    fn logging(&mut self, v: &Node, what: &str) -> Option<(String, BTreeMap<String, String>)> {
        let map = self.map(v, what)?;
        let mut driver = String::from("json-file");
        let mut options = BTreeMap::new();
        for (k, (kpos, n)) in map {
            match k.as_str() {
                "driver" => {
                    driver = self
                        .string(n, &format!("{what} `driver`"))
                        .unwrap_or_default()
                }
                "options" => options = self.key_values(n, &format!("{what} `options`"), false),
                other => self.error(
                    *kpos,
                    format!("{what}: unsupported key `{other}` (supported: driver, options)"),
                ),
            }
        }
        Some((driver, options))
    }

    /// A whole number between `min` and `max`.
    pub(super) fn int_in(&mut self, v: &Node, what: &str, min: i64, max: i64) -> Option<i64> {
        let n = match &v.value {
            Value::Int(n) => Some(*n),
            Value::Str(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let range = if max == i64::MAX {
                    format!("{min} or more")
                } else {
                    format!("from {min} to {max}")
                };
                self.error(
                    v.pos,
                    format!(
                        "{what} must be a whole number {range}, not {}",
                        v.scalar().unwrap_or_else(|| v.type_name().to_string())
                    ),
                );
                None
            }
        }
    }

    /// A size in bytes: a number, or a number with `b`, `k`, `m` or `g` (powers of 1024).
    pub(super) fn bytes(&mut self, v: &Node, what: &str) -> Option<i64> {
        let text = v.scalar()?;
        match parse_bytes(&text) {
            Some(n) => Some(n),
            None => {
                self.error(
                    v.pos,
                    format!("{what}: `{text}` is not a size (like 512m, 1g or 65536)"),
                );
                None
            }
        }
    }

    pub(super) fn cpus(&mut self, v: &Node, what: &str) -> Option<i64> {
        let text = v.scalar()?;
        match text.trim().parse::<f64>() {
            Ok(c) if c >= 0.0 && c.is_finite() && c <= 1e6 => Some((c * 1e9).round() as i64),
            _ => {
                self.error(
                    v.pos,
                    format!("{what}: `{text}` is not a number of CPUs (like 0.5 or 2)"),
                );
                None
            }
        }
    }
}

/// Compose's size syntax: a number with an optional unit `b`, `k`/`kb`, `m`/`mb`, `g`/`gb`
/// (powers of 1024, any case).
pub fn parse_bytes(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: f64 = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    let bytes = (n * factor).round();
    (0.0..9.0e18).contains(&bytes).then_some(bytes as i64)
}

/// `HOST[:CONTAINER[:PERMISSIONS]]` of `devices:`.
fn device(text: &str) -> Result<(String, String, String), String> {
    let mut parts = text.splitn(3, ':');
    let host = parts.next().unwrap_or_default().to_string();
    if !host.starts_with('/') {
        return Err(format!(
            "`{text}` is not a device path (CDI device names are not supported)"
        ));
    }
    let container = parts.next().map_or_else(|| host.clone(), str::to_string);
    let permissions = parts.next().unwrap_or("rwm").to_string();
    if permissions.is_empty() || !permissions.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(format!(
            "`{permissions}` in `{text}` is not a combination of r, w and m"
        ));
    }
    Ok((host, container, permissions))
}
