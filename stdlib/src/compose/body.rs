//! The engine's create request for one service: image, command, environment, ports,
//! mounts, networks or a network mode, health check, and every container setting.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HostConfig, HostConfigCgroupnsModeEnum, HostConfigLogConfig, Mount as EngineMount,
    MountBindOptions, MountBindOptionsPropagationEnum, MountType, MountVolumeOptions,
    NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};

use super::actions::{self, container_name, network_name};
use super::engine;
use super::model::{Attachment, Project, Service, Settings};

/// The engine's create request for a service, with the standard Compose labels.
///
/// `kept` are the volume mounts of the container this one replaces (see [`mounts`]).
pub fn container_body(
    project: &Project,
    service: &str,
    svc: &Service,
    number: u32,
    kept: &[(String, String)],
) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = svc.labels.clone().into_iter().collect();
    let abs = |p: &std::path::Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let fields: Vec<String> = svc
        .field_hashes()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for (k, v) in [
        (engine::PROJECT, project.name.clone()),
        (engine::SERVICE, service.to_string()),
        (engine::NUMBER, number.to_string()),
        (engine::CONFIG_HASH, svc.config_hash()),
        ("com.docker.compose.oneoff", String::from("False")),
        ("com.docker.compose.project.working_dir", abs(&project.dir)),
        (
            "com.docker.compose.project.config_files",
            abs(&project.file),
        ),
        ("com.docker.compose.version", String::from("2.0.0")),
        (engine::FIELDS, fields.join(",")),
    ] {
        labels.insert(k.to_string(), v);
    }
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(p.published.clone()),
            });
    }
    for e in &svc.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    let Mounts {
        binds,
        mounts,
        tmpfs,
    } = mounts(project, svc, kept);
    let restart_policy = svc.restart.as_deref().map(|r| {
        let (name, count) = r.split_once(':').unwrap_or((r, ""));
        RestartPolicy {
            name: Some(match name {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: count.parse().ok(),
        }
    });
    let (network_mode, networking_config) = match &svc.network_mode {
        Some(mode) => (shared_mode(project, mode), None),
        None => {
            let attachments = svc.attachments();
            let default = Attachment::default();
            let (first_network, attachment) = attachments
                .first()
                .copied()
                .unwrap_or(("default", &default));
            let network_name = network_name(project, first_network);
            let mut endpoint = endpoint(service, attachment);
            let links: Vec<String> = svc
                .links
                .iter()
                .map(|(target, alias)| format!("{}:{alias}", container_name(project, target)))
                .collect();
            endpoint.links = (!links.is_empty()).then_some(links);
            (
                network_name.clone(),
                Some(NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(network_name, endpoint)])),
                }),
            )
        }
    };
    let s = &svc.settings;
    let mut host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        volumes_from: some_vec(
            &svc.volumes_from
                .iter()
                .map(|v| match v.strip_prefix("container:") {
                    Some(container) => container.to_string(),
                    None => {
                        let (service, mode) = v
                            .split_once(':')
                            .map_or((v.as_str(), None), |(s, m)| (s, Some(m)));
                        let name = container_name(project, service);
                        mode.map_or(name.clone(), |m| format!("{name}:{m}"))
                    }
                })
                .collect::<Vec<_>>(),
        ),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        restart_policy,
        init: svc.init,
        extra_hosts: (!svc.extra_hosts.is_empty()).then(|| svc.extra_hosts.clone()),
        network_mode: Some(network_mode),
        ..Default::default()
    };
    settings(project, s, &mut host_config);
    if !tmpfs.is_empty() {
        host_config
            .tmpfs
            .get_or_insert_with(HashMap::new)
            .extend(tmpfs);
    }
    ContainerCreateBody {
        image: Some(svc.image.clone()),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: Some(
            svc.environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        working_dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        hostname: svc.hostname.clone(),
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc
            .stop_grace_period
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: svc.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: h.interval,
            timeout: h.timeout,
            retries: h.retries,
            start_period: h.start_period,
            start_interval: h.start_interval,
        }),
        host_config: Some(host_config),
        networking_config,
        open_stdin: s.stdin_open,
        tty: s.tty,
        domainname: s.domainname.clone(),
        ..Default::default()
    }
}

/// The engine's binds (`SOURCE:TARGET[:OPTIONS]`, as before ops knew more) and mounts
/// (anonymous volumes, sub-paths, tmpfs, and what a recreate keeps) of a service.
///
/// `kept` are the volume mounts of the container this one replaces: an anonymous volume
/// (the file's or the image's `VOLUME`) is mounted again at its path, so its data
/// survives the recreate, as with Compose. A path the new configuration mounts otherwise,
/// and the project's named volumes, are not kept; nor anything of a service with
/// `volumes_from` (those mounts come from the other container).
pub fn mounts(project: &Project, svc: &Service, kept: &[(String, String)]) -> Mounts {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    let mut tmpfs = HashMap::new();
    let kept = actions::kept(project, svc, kept);
    let kept_at = |target: &str| {
        kept.iter()
            .find(|(dest, _)| dest == target)
            .map(|(_, name)| name.clone())
    };
    let named = |key: &str| {
        project
            .volumes
            .get(key)
            .map_or_else(|| key.to_string(), |v| v.name.clone())
    };
    for m in &svc.volumes {
        let engine_mount = |typ: MountType, source: Option<String>| EngineMount {
            target: Some(m.target.clone()),
            source,
            typ: Some(typ),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        };
        match m.kind.as_str() {
            "bind" => {
                let options: Vec<&str> = [
                    m.read_only.then_some("ro"),
                    m.selinux.as_deref(),
                    m.propagation.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect();
                let mut bind = format!("{}:{}", m.source, m.target);
                if !options.is_empty() {
                    bind = format!("{bind}:{}", options.join(","));
                }
                if m.create_host_path {
                    binds.push(bind);
                } else {
                    // A mount (unlike a bind) is refused by the engine when the source is
                    // missing, instead of creating it.
                    mounts.push(EngineMount {
                        bind_options: Some(MountBindOptions {
                            propagation: m.propagation.as_deref().map(propagation),
                            ..Default::default()
                        }),
                        ..engine_mount(MountType::BIND, Some(m.source.clone()))
                    });
                }
            }
            // As `HostConfig.Tmpfs`, like `tmpfs:`: the engine cannot give a tmpfs
            // *mount* to another container's `volumes_from` ("no such volume").
            "tmpfs" => {
                let options: Vec<String> = [
                    m.tmpfs_size.map(|b| format!("size={b}")),
                    m.tmpfs_mode.map(|o| format!("mode={o:o}")),
                    m.read_only.then(|| String::from("ro")),
                ]
                .into_iter()
                .flatten()
                .collect();
                tmpfs.insert(m.target.clone(), options.join(","));
            }
            _ if m.anonymous() || m.subpath.is_some() => {
                let source = if m.anonymous() {
                    kept_at(&m.target)
                } else {
                    Some(named(&m.source))
                };
                mounts.push(EngineMount {
                    volume_options: Some(MountVolumeOptions {
                        no_copy: m.nocopy.then_some(true),
                        subpath: m.subpath.clone(),
                        ..Default::default()
                    }),
                    ..engine_mount(MountType::VOLUME, source)
                });
            }
            _ => {
                let options: Vec<&str> =
                    [m.read_only.then_some("ro"), m.nocopy.then_some("nocopy")]
                        .into_iter()
                        .flatten()
                        .collect();
                let mut bind = format!("{}:{}", named(&m.source), m.target);
                if !options.is_empty() {
                    bind = format!("{bind}:{}", options.join(","));
                }
                binds.push(bind);
            }
        }
    }
    for g in svc.secrets.iter().chain(&svc.configs) {
        if let Some(file) = &g.file {
            binds.push(format!("{file}:{}:ro", g.target));
        }
    }
    // The image's volumes: kept, at paths the file does not mount.
    for (dest, name) in kept {
        if !svc.volumes.iter().any(|m| &m.target == dest) {
            mounts.push(EngineMount {
                target: Some(dest.clone()),
                source: Some(name.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            });
        }
    }
    Mounts {
        binds,
        mounts,
        tmpfs,
    }
}

/// The secrets and configs copied into a service's container before it starts (their
/// value comes from the environment or inline `content`), as one tar archive to extract
/// at `/`; `None` when there are none. Each file has its owner and mode (default 0444).
pub fn copied_files(svc: &Service) -> Result<Option<Vec<u8>>, String> {
    let copied: Vec<_> = svc
        .secrets
        .iter()
        .chain(&svc.configs)
        .filter_map(|g| g.value.as_ref().map(|v| (g, v)))
        .collect();
    if copied.is_empty() {
        return Ok(None);
    }
    let mut tar = tar::Builder::new(Vec::new());
    for (g, value) in copied {
        let mut header = tar::Header::new_gnu();
        header.set_size(value.0.len() as u64);
        header.set_mode(u32::try_from(g.mode.unwrap_or(0o444)).unwrap_or(0o444));
        let id = |v: &Option<String>| {
            v.as_deref()
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or(0)
        };
        header.set_uid(id(&g.uid));
        header.set_gid(id(&g.gid));
        header.set_mtime(0);
        tar.append_data(
            &mut header,
            g.target.trim_start_matches('/'),
            value.0.as_bytes(),
        )
        .map_err(|e| format!("cannot pack {} for the container: {e}", g.target))?;
    }
    tar.into_inner()
        .map(Some)
        .map_err(|e| format!("cannot pack the secrets for the container: {e}"))
}

/// What [`mounts`] gives the engine.
#[derive(Debug)]
pub struct Mounts {
    /// `HostConfig.Binds`: `SOURCE:TARGET[:OPTIONS]`.
    pub binds: Vec<String>,
    /// `HostConfig.Mounts`: anonymous volumes, sub-paths, binds that must exist, and the
    /// volumes a recreate keeps.
    pub mounts: Vec<EngineMount>,
    /// `HostConfig.Tmpfs` entries of long-syntax tmpfs mounts: path → options.
    pub tmpfs: HashMap<String, String>,
}

fn propagation(p: &str) -> MountBindOptionsPropagationEnum {
    match p {
        "shared" => MountBindOptionsPropagationEnum::SHARED,
        "rshared" => MountBindOptionsPropagationEnum::RSHARED,
        "slave" => MountBindOptionsPropagationEnum::SLAVE,
        "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
        "private" => MountBindOptionsPropagationEnum::PRIVATE,
        _ => MountBindOptionsPropagationEnum::RPRIVATE,
    }
}

/// The engine's endpoint of a service on one network: its aliases (the service's name
/// first) and static addresses.
pub fn endpoint(service: &str, a: &Attachment) -> EndpointSettings {
    let mut aliases = vec![service.to_string()];
    aliases.extend(a.aliases.iter().cloned());
    let static_ips =
        a.ipv4_address.is_some() || a.ipv6_address.is_some() || !a.link_local_ips.is_empty();
    EndpointSettings {
        aliases: Some(aliases),
        ipam_config: static_ips.then(|| EndpointIpamConfig {
            ipv4_address: a.ipv4_address.clone(),
            ipv6_address: a.ipv6_address.clone(),
            link_local_ips: some_vec(&a.link_local_ips),
        }),
        mac_address: a.mac_address.clone(),
        ..Default::default()
    }
}

/// `service:NAME` as the engine's `container:CONTAINER`; other modes as they are.
fn shared_mode(project: &Project, mode: &str) -> String {
    match mode.strip_prefix("service:") {
        Some(service) => format!("container:{}", container_name(project, service)),
        None => mode.to_string(),
    }
}

fn some_vec(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn some_map(m: &std::collections::BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.clone().into_iter().collect())
}

/// The container settings into the host configuration.
fn settings(project: &Project, s: &Settings, h: &mut HostConfig) {
    h.cap_add = some_vec(&s.cap_add);
    h.cap_drop = some_vec(&s.cap_drop);
    h.privileged = s.privileged;
    h.security_opt = some_vec(&s.security_opt);
    h.sysctls = some_map(&s.sysctls);
    h.ulimits = (!s.ulimits.is_empty()).then(|| {
        s.ulimits
            .iter()
            .map(|(name, (soft, hard))| ResourcesUlimits {
                name: Some(name.clone()),
                soft: Some(*soft),
                hard: Some(*hard),
            })
            .collect()
    });
    h.tmpfs = some_map(&s.tmpfs);
    h.shm_size = s.shm_size;
    h.readonly_rootfs = s.read_only;
    h.devices = (!s.devices.is_empty()).then(|| {
        s.devices
            .iter()
            .map(|(host, container, permissions)| DeviceMapping {
                path_on_host: Some(host.clone()),
                path_in_container: Some(container.clone()),
                cgroup_permissions: Some(permissions.clone()),
            })
            .collect()
    });
    h.device_cgroup_rules = some_vec(&s.device_cgroup_rules);
    h.pid_mode = s.pid.as_deref().map(|m| shared_mode(project, m));
    h.ipc_mode = s.ipc.as_deref().map(|m| shared_mode(project, m));
    h.uts_mode = s.uts.clone();
    h.userns_mode = s.userns_mode.clone();
    h.cgroupns_mode = s.cgroup.as_deref().map(|c| match c {
        "host" => HostConfigCgroupnsModeEnum::HOST,
        _ => HostConfigCgroupnsModeEnum::PRIVATE,
    });
    h.cgroup_parent = s.cgroup_parent.clone();
    h.log_config = s
        .logging
        .as_ref()
        .map(|(driver, options)| HostConfigLogConfig {
            typ: Some(driver.clone()),
            config: some_map(options),
        });
    h.memory = s.mem_limit;
    h.memory_reservation = s.mem_reservation;
    h.memory_swap = s.memswap_limit;
    h.memory_swappiness = s.mem_swappiness;
    h.nano_cpus = s.cpus;
    h.cpu_shares = s.cpu_shares;
    h.cpu_period = s.cpu_period;
    h.cpu_quota = s.cpu_quota;
    h.cpuset_cpus = s.cpuset.clone();
    h.pids_limit = s.pids_limit;
    h.oom_kill_disable = s.oom_kill_disable;
    h.oom_score_adj = s.oom_score_adj;
    h.runtime = s.runtime.clone();
    h.group_add = some_vec(&s.group_add);
    h.dns = some_vec(&s.dns);
    h.dns_search = some_vec(&s.dns_search);
    h.dns_options = some_vec(&s.dns_opt);
    h.storage_opt = some_map(&s.storage_opt);
    h.annotations = some_map(&s.annotations);
}
