//! The Docker Engine API through bollard: what `compose` reads and changes.
//!
//! The engine is found like the docker CLI finds it: `DOCKER_HOST`, else the default
//! socket. The API version is negotiated (the engines on these machines speak 1.41).
//! Every call is bounded by bollard's request timeout; long waits are the callers'.

use interpreter::redact::Redactor;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, Ipam, IpamConfig, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::model::Resource;

/// The label every Compose tool filters projects by.
pub const PROJECT: &str = "com.docker.compose.project";
/// The service label.
pub const SERVICE: &str = "com.docker.compose.service";
/// The configuration hash label.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// The container number label.
pub const NUMBER: &str = "com.docker.compose.container-number";
/// Short per-field hashes, so a plan can say which configuration changed.
pub const FIELDS: &str = "dev.ops.compose.config-fields";

/// A connection to the engine.
pub struct Engine {
    docker: Docker,
    /// Where the engine was found (for messages).
    pub host: String,
}

/// A container that belongs to the project.
#[derive(Clone, Debug)]
pub struct Existing {
    /// Container id.
    pub id: String,
    /// Container name, without the leading `/`.
    pub name: String,
    /// `com.docker.compose.service`.
    pub service: String,
    /// `com.docker.compose.container-number` (1 when absent).
    pub number: u32,
    /// `com.docker.compose.config-hash`.
    pub hash: String,
    /// Per-field hashes written by ops (empty for containers of other tools).
    pub fields: BTreeMap<String, String>,
    /// The image id the container runs.
    pub image_id: String,
    /// `running`, `exited`, `created`, ...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `none` without a healthcheck.
    pub health: String,
    /// Its volume mounts as (path in the container, volume name): what a recreate keeps.
    pub volumes: Vec<(String, String)>,
}

/// A JSON value with every object's keys in sorted order.
fn canonical(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(canonical).collect())
        }
        other => other,
    }
}

/// What [`Engine::build`] builds, besides the image's name and context.
pub struct BuildRequest<'a> {
    /// The service's `build:`.
    pub build: &'a super::model::Build,
    /// The Dockerfile's name in the context tar.
    pub dockerfile: &'a str,
    /// The image's labels (the build's own, the Compose labels and the build hash).
    pub labels: HashMap<String, String>,
}

/// A network that exists.
pub struct NetworkFound {
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Its subnets (CIDR).
    pub subnets: Vec<String>,
}

/// The engine's error text, without bollard's wrapping.
pub fn message(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => other.to_string(),
    }
}

fn not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Where the engine is, as the docker CLI would look for it.
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| String::from("unix:///var/run/docker.sock"))
}

impl Engine {
    /// Connects and negotiates the API version within `timeout`; each later request may
    /// take up to `requests` (stopping a container waits for its grace period). The error
    /// says where it looked.
    pub async fn connect(timeout: Duration, requests: Duration) -> Result<Engine, String> {
        let host = engine_host();
        let unreachable =
            |why: String| format!("the Docker engine at {host} is not reachable: {why}");
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| unreachable(e.to_string()))?
            .with_timeout(requests.max(Duration::from_secs(1)));
        let docker = tokio::time::timeout(timeout, docker.negotiate_version())
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| unreachable(message(&e)))?;
        Ok(Engine { docker, host })
    }

    /// The API version agreed with the engine, as (major, minor).
    pub fn api_version(&self) -> (usize, usize) {
        let v = self.docker.client_version();
        (v.major_version, v.minor_version)
    }

    /// Every container of the project, running or not, with its state and health.
    pub async fn containers(&self, project: &str) -> Result<Vec<Existing>, String> {
        let filters = HashMap::from([("label", vec![format!("{PROJECT}={project}")])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| {
                format!(
                    "cannot list the containers of project {project}: {}",
                    message(&e)
                )
            })?;
        let mut out = Vec::new();
        for summary in list {
            let Some(id) = summary.id else { continue };
            // Skip one-off containers (`docker compose run`), as Compose does.
            let labels = summary.labels.unwrap_or_default();
            if labels
                .get("com.docker.compose.oneoff")
                .is_some_and(|v| v == "True")
            {
                continue;
            }
            match self.inspect(&id).await? {
                Some(inspect) => out.push(existing(id, &labels, &inspect)),
                None => continue, // removed meanwhile
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A container's full state; `None` when it no longer exists.
    pub async fn inspect(&self, id: &str) -> Result<Option<ContainerInspectResponse>, String> {
        match self.docker.inspect_container(id, None).await {
            Ok(i) => Ok(Some(i)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(format!("cannot inspect container {id}: {}", message(&e))),
        }
    }

    /// The id of a local image, `None` when the engine does not have it.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, String> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(i.id),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(format!("cannot inspect image {image}: {}", message(&e))),
        }
    }

    /// An image's id and the build hash it carries (`""` when built by another tool),
    /// `None` when it is not in the engine.
    pub async fn image_build(&self, image: &str) -> Result<Option<(String, String)>, String> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some((
                i.id.unwrap_or_default(),
                i.config
                    .and_then(|c| c.labels)
                    .and_then(|l| l.get(super::build::BUILD_HASH).cloned())
                    .unwrap_or_default(),
            ))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(format!("cannot inspect image {image}: {}", message(&e))),
        }
    }

    /// What an image runs, without the build hash that ops labels it with: its layers
    /// and its configuration. Two builds of a context whose change the Dockerfile never
    /// uses give the same key (and a container on either is kept). `None` when missing.
    pub async fn image_content(&self, image: &str) -> Result<Option<String>, String> {
        use sha2::Digest;
        let i = match self.docker.inspect_image(image).await {
            Ok(i) => i,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(format!("cannot inspect image {image}: {}", message(&e))),
        };
        let mut config = i.config.unwrap_or_default();
        if let Some(labels) = config.labels.as_mut() {
            labels.remove(super::build::BUILD_HASH);
        }
        let layers = i.root_fs.and_then(|r| r.layers).unwrap_or_default();
        // The configuration holds hash maps: sorted, so that equal images give equal keys.
        let value = serde_json::to_value((layers, config)).unwrap_or_default();
        let text = canonical(value).to_string();
        let digest = sha2::Sha256::digest(text.as_bytes());
        Ok(Some(format!(
            "content:{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )))
    }

    /// Builds `image` with the classic builder from a context tar file, labelled with
    /// `labels`; each output line goes to `line`. The error says what failed, with the
    /// instruction it failed at.
    pub async fn build(
        &self,
        image: &str,
        options: BuildRequest<'_>,
        context: std::fs::File,
        line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), String> {
        let b = options.build;
        let args: HashMap<String, String> = b.args.clone().into_iter().collect();
        let mut builder = bollard::query_parameters::BuildImageOptionsBuilder::default()
            .dockerfile(options.dockerfile)
            .t(image)
            .rm(true)
            .forcerm(true)
            .nocache(b.no_cache)
            .buildargs(&args)
            .labels(&options.labels)
            .version(bollard::query_parameters::BuilderVersion::BuilderV1);
        if let Some(t) = &b.target {
            builder = builder.target(t);
        }
        if let Some(n) = &b.network {
            builder = builder.networkmode(n);
        }
        if !b.extra_hosts.is_empty() {
            builder = builder.extrahosts(&b.extra_hosts.join(","));
        }
        if !b.cache_from.is_empty() {
            builder = builder.cachefrom(&b.cache_from);
        }
        if b.pull {
            builder = builder.pull("1");
        }
        if let Some(size) = b.shm_size {
            builder = builder.shmsize(i32::try_from(size).unwrap_or(i32::MAX));
        }
        let file = tokio::fs::File::from_std(context);
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((bytes::Bytes::from(buf), file))
                }
            }
        });
        let mut stream =
            self.docker
                .build_image(builder.build(), None, Some(bollard::body_stream(chunks)));
        // The last instruction the builder started, for the error.
        let mut step = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match &step {
                s if s.is_empty() => format!("cannot build image {image}: {}", message(&e)),
                s => format!("cannot build image {image}: {} (at {s})", message(&e)),
            })?;
            if let Some(text) = info.stream.as_deref() {
                for l in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                    if l.starts_with("Step ") {
                        step = l.to_string();
                    }
                    line(l);
                }
            }
            if let Some(detail) = info.error_detail {
                let why = detail.message.unwrap_or_default();
                return Err(if step.is_empty() {
                    format!("cannot build image {image}: {why}")
                } else {
                    format!("cannot build image {image}: {why} (at {step})")
                });
            }
        }
        Ok(())
    }

    /// Pulls an image; the error names the image and says what the registry answered.
    pub async fn pull(&self, image: &str) -> Result<(), String> {
        let (name, tag) = split_image(image);
        let options = CreateImageOptionsBuilder::default()
            .from_image(name)
            .tag(tag)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(format!("cannot pull image {image}: {detail}"));
                    }
                }
                Err(e) => return Err(format!("cannot pull image {image}: {}", message(&e))),
            }
        }
        Ok(())
    }

    /// A network's labels and subnets, `None` when it does not exist.
    pub async fn network(&self, name: &str) -> Result<Option<NetworkFound>, String> {
        let filters = HashMap::from([("name", vec![name.to_string()])]);
        let options = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| format!("cannot list networks: {}", message(&e)))?;
        // The name filter matches substrings; keep the exact name.
        Ok(list
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .map(|n| NetworkFound {
                labels: n.labels.unwrap_or_default(),
                subnets: n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet)
                    .collect(),
            }))
    }

    /// Creates a network of the file with the given labels.
    pub async fn create_network(
        &self,
        net: &Resource,
        labels: HashMap<String, String>,
    ) -> Result<(), String> {
        let ipam = &net.ipam;
        let configured =
            ipam.driver.is_some() || !ipam.pools.is_empty() || !ipam.options.is_empty();
        let request = NetworkCreateRequest {
            name: net.name.clone(),
            driver: Some(net.driver.clone().unwrap_or_else(|| String::from("bridge"))),
            internal: Some(net.internal),
            attachable: net.attachable,
            enable_ipv6: net.enable_ipv6,
            options: (!net.driver_opts.is_empty())
                .then(|| net.driver_opts.clone().into_iter().collect()),
            ipam: configured.then(|| Ipam {
                driver: ipam.driver.clone(),
                config: Some(
                    ipam.pools
                        .iter()
                        .map(|p| IpamConfig {
                            subnet: Some(p.subnet.clone()),
                            ip_range: p.ip_range.clone(),
                            gateway: p.gateway.clone(),
                            auxiliary_addresses: (!p.aux_addresses.is_empty())
                                .then(|| p.aux_addresses.clone().into_iter().collect()),
                        })
                        .collect(),
                ),
                options: (!ipam.options.is_empty())
                    .then(|| ipam.options.clone().into_iter().collect()),
            }),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot create network {}: {}", net.name, message(&e)))
    }

    /// Removes a network.
    pub async fn remove_network(&self, name: &str) -> Result<(), String> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(format!("cannot remove network {name}: {}", message(&e))),
        }
    }

    /// Labels of a volume, `None` when it does not exist.
    pub async fn volume(&self, name: &str) -> Result<Option<HashMap<String, String>>, String> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.labels)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(format!("cannot inspect volume {name}: {}", message(&e))),
        }
    }

    /// Creates a named volume.
    pub async fn create_volume(
        &self,
        vol: &Resource,
        labels: HashMap<String, String>,
    ) -> Result<(), String> {
        let options = bollard::models::VolumeCreateRequest {
            name: Some(vol.name.clone()),
            driver: vol.driver.clone(),
            driver_opts: (!vol.driver_opts.is_empty())
                .then(|| vol.driver_opts.clone().into_iter().collect()),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_volume(options)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot create volume {}: {}", vol.name, message(&e)))
    }

    /// Removes a named volume (its data is gone).
    pub async fn remove_volume(&self, name: &str) -> Result<(), String> {
        match self
            .docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(format!("cannot remove volume {name}: {}", message(&e))),
        }
    }

    /// Names of the project's volumes that exist.
    pub async fn project_volumes(&self, project: &str) -> Result<Vec<String>, String> {
        let filters = HashMap::from([("label", vec![format!("{PROJECT}={project}")])]);
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| format!("cannot list volumes: {}", message(&e)))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    /// Creates a container (for `platform` when given); returns its id.
    pub async fn create(
        &self,
        name: &str,
        body: ContainerCreateBody,
        platform: Option<&str>,
    ) -> Result<String, String> {
        let options = CreateContainerOptionsBuilder::default()
            .name(name)
            .platform(platform.unwrap_or_default())
            .build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map(|r| r.id)
            .map_err(|e| format!("cannot create container {name}: {}", message(&e)))
    }

    /// Connects a container to another network with aliases.
    pub async fn join_network(
        &self,
        network: &str,
        id: &str,
        endpoint: bollard::models::EndpointSettings,
    ) -> Result<(), String> {
        let request = bollard::models::NetworkConnectRequest {
            container: id.to_string(),
            endpoint_config: Some(endpoint),
        };
        self.docker
            .connect_network(network, request)
            .await
            .map_err(|e| format!("cannot connect to network {network}: {}", message(&e)))
    }

    /// Extracts a tar archive at `/` of a created container (secrets and configs copied
    /// in before it starts). The archive is never part of an error message.
    pub async fn upload(&self, id: &str, tar: Vec<u8>) -> Result<(), String> {
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path("/")
            .build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(|e| {
                format!(
                    "cannot copy secrets and configs into container {id}: {}",
                    message(&e)
                )
            })
    }

    /// Starts a container.
    pub async fn start(&self, id: &str) -> Result<(), String> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| message(&e))
    }

    /// Stops a container within `grace` (then the engine kills it).
    pub async fn stop(&self, id: &str, grace: u64) -> Result<(), String> {
        let options = StopContainerOptionsBuilder::default()
            .t(i32::try_from(grace).unwrap_or(i32::MAX))
            .build();
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(format!("cannot stop container {id}: {}", message(&e))),
        }
    }

    /// Removes a stopped container; its anonymous volumes too when `volumes` (named
    /// volumes always stay).
    pub async fn remove(&self, id: &str, volumes: bool) -> Result<(), String> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(volumes)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(format!("cannot remove container {id}: {}", message(&e))),
        }
    }

    /// Restarts a container within `grace`.
    pub async fn restart(&self, id: &str, grace: u64) -> Result<(), String> {
        let options = RestartContainerOptionsBuilder::default()
            .t(i32::try_from(grace).unwrap_or(i32::MAX))
            .build();
        self.docker
            .restart_container(id, Some(options))
            .await
            .map_err(|e| message(&e))
    }

    /// The last `lines` lines of a container's output (for failure messages), each at
    /// most 300 bytes, cut so that no part of a secret is left ([`Redactor::cut`]).
    pub async fn log_tail(&self, id: &str, lines: usize, secrets: &Redactor) -> Vec<String> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut text = String::new();
        let read = async {
            while let Some(Ok(chunk)) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > 16 * 1024 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        text.lines()
            .rev()
            .take(lines)
            .map(|l| secrets.cut(l, 300))
            .collect::<Vec<String>>()
            .into_iter()
            .rev()
            .collect()
    }
}

fn existing(
    id: String,
    labels: &HashMap<String, String>,
    inspect: &ContainerInspectResponse,
) -> Existing {
    let state = inspect.state.as_ref();
    let health = state
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| String::from("none"));
    Existing {
        id,
        name: inspect
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: labels.get(SERVICE).cloned().unwrap_or_default(),
        number: labels.get(NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1),
        hash: labels.get(CONFIG_HASH).cloned().unwrap_or_default(),
        fields: labels
            .get(FIELDS)
            .map(|f| {
                f.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        image_id: inspect.image.clone().unwrap_or_default(),
        state: state
            .and_then(|s| s.status)
            .map_or_else(|| String::from("unknown"), |s| s.to_string()),
        health,
        volumes: inspect
            .mounts
            .iter()
            .flatten()
            .filter(|m| m.typ.as_deref() == Some("volume"))
            .filter_map(|m| Some((m.destination.clone()?, m.name.clone()?)))
            .collect(),
    }
}

/// The last health-check output of an inspected container, trimmed to one line of at most
/// 200 bytes (cut so that no part of a secret is left).
pub fn last_health_output(
    inspect: &ContainerInspectResponse,
    secrets: &Redactor,
) -> Option<String> {
    let log = inspect.state.as_ref()?.health.as_ref()?.log.as_ref()?;
    let last = log.last()?;
    let output = last.output.as_deref().unwrap_or_default().trim();
    let output = secrets.cut(output.lines().last().unwrap_or_default(), 200);
    Some(format!(
        "exit {}{}",
        last.exit_code.unwrap_or_default(),
        if output.is_empty() {
            String::new()
        } else {
            format!(": {output}")
        }
    ))
}

/// `name:tag` (default tag `latest`; a digest stays in the name).
fn split_image(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

/// Runs a future to completion on its own thread and runtime: plans are built outside
/// any runtime, and a plan's engine reads must not depend on the caller's.
pub fn block_on<F: std::future::Future + Send>(fut: F) -> Option<F::Output>
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
                .map(|rt| rt.block_on(fut))
        })
        .join()
        .ok()
        .flatten()
    })
}
