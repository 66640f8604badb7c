//! A service's `build:`: what the image is built from, and its name when `image:` is not
//! given (`PROJECT-SERVICE`, as Compose tags it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::*;

/// How a service's image is built.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Build {
    /// The context directory (absolute).
    pub context: String,
    /// The Dockerfile, relative to the context or absolute (default `Dockerfile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// `dockerfile_inline:` (the Dockerfile's text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    /// `args:` (build arguments).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// `target:` (the stage to build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `labels:` of the image.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `network:` for `RUN` instructions (`host`, `none`, `default` or a network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `extra_hosts:` as `HOST:IP`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// `cache_from:` images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    /// `pull:` (always try to pull the base images).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
    /// `no_cache:`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    /// `shm_size:` in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i64>,
}

impl Reader<'_> {
    /// `build:` as a context path or a mapping.
    pub(super) fn build(&mut self, v: &Node, what: &str) -> Option<Build> {
        let mut b = Build {
            context: String::from("."),
            ..Build::default()
        };
        match &v.value {
            Value::Map(m) => {
                for (k, (kpos, n)) in m {
                    let each = format!("`build.{k}` of {what}");
                    match k.as_str() {
                        "context" => b.context = self.string(n, &each).unwrap_or_default(),
                        "dockerfile" => b.dockerfile = self.string(n, &each),
                        "dockerfile_inline" => b.dockerfile_inline = self.string(n, &each),
                        "args" => b.args = self.key_values(n, &each, true),
                        "target" => b.target = self.string(n, &each),
                        "labels" => b.labels = self.key_values(n, &each, false),
                        "network" => b.network = self.string(n, &each),
                        "extra_hosts" => {
                            b.extra_hosts = self
                                .key_values(n, &each, false)
                                .into_iter()
                                .map(|(h, ip)| format!("{h}:{ip}"))
                                .collect();
                        }
                        "cache_from" => b.cache_from = self.strings(n, &each, false),
                        "pull" => b.pull = self.bool(n, &each).unwrap_or(false),
                        "no_cache" => b.no_cache = self.bool(n, &each).unwrap_or(false),
                        "shm_size" => b.shm_size = self.bytes(n, &each),
                        other => self.error(*kpos, format!("unsupported key `{other}` in {what} `build` (supported: context, dockerfile, dockerfile_inline, args, target, labels, network, extra_hosts, cache_from, pull, no_cache, shm_size)")),
                    }
                }
            }
            _ => b.context = self.string(v, what)?,
        }
        if b.context.contains("://") || b.context.starts_with("git@") {
            self.error(v.pos, format!("{what}: a remote build context (`{}`) is not supported: clone it and give the directory", b.context));
            return None;
        }
        if b.dockerfile.is_some() && b.dockerfile_inline.is_some() {
            self.error(
                v.pos,
                format!("{what}: give `dockerfile` or `dockerfile_inline`, not both"),
            );
        }
        let base = self.dir_of(v.pos).to_path_buf();
        let dir = normalize_path(
            &std::path::absolute(base.join(&b.context)).unwrap_or_else(|_| base.join(&b.context)),
        );
        if !dir.is_dir() {
            self.error(
                v.pos,
                format!(
                    "{what}: the build context {} is not a directory",
                    dir.display()
                ),
            );
            return None;
        }
        b.context = dir.display().to_string();
        if b.dockerfile_inline.is_none() {
            let file = dir.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
            if !file.is_file() {
                self.error(
                    v.pos,
                    format!("{what}: no Dockerfile at {}", file.display()),
                );
            }
        }
        Some(b)
    }
}
