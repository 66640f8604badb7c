//! `secrets` and `configs`, as Compose runs them without Swarm: a file source is
//! bind-mounted read-only; an environment (or, for configs, inline `content`) source is
//! copied into the container before it starts, with its owner and mode.
//!
//! A secret's value is a secret of the run: it is never printed, it is redacted from what
//! a container prints, and the configuration hash covers it only through a digest salted
//! with the project, the kind and the name (readable only by someone who can read the
//! engine's labels, who can read the secret from the container anyway).

use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::*;

/// A secret's or a config's value, never shown (its `Debug` says `<hidden>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden(pub String);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Where a top-level secret or config comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `file:` (absolute): bind-mounted.
    File(PathBuf),
    /// `environment:` or `content:`: copied into the container.
    Value(Hidden),
}

/// A secret or config a service is given.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Granted {
    /// Its name under top-level `secrets` or `configs`.
    pub source: String,
    /// Where it appears in the container (absolute).
    pub target: String,
    /// Owner (copied values only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Group (copied values only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// File mode (copied values only; default 0444).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<i64>,
    /// The bind-mounted file, for a file source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The salted digest of a copied value (see the module's documentation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The copied value itself: never serialized, never shown.
    #[serde(skip)]
    pub value: Option<Hidden>,
}

/// Secret files larger than this are refused (a secret is a few bytes to a certificate).
const MAX_SECRET_FILE: u64 = 1 << 20;

impl Reader<'_> {
    /// Top-level `secrets:` or `configs:` (`kind` is `secret` or `config`).
    pub(super) fn definitions(
        &mut self,
        node: Option<&Node>,
        kind: &str,
    ) -> IndexMap<String, Source> {
        let mut out = IndexMap::new();
        let Some(node) = node.filter(|n| !matches!(n.value, Value::Null)) else {
            return out;
        };
        let Some(map) = self.map(node, &format!("top-level `{kind}s`")).cloned() else {
            return out;
        };
        for (name, (pos, def)) in &map {
            let what = format!("{kind} `{name}`");
            let Some(attrs) = self.map(def, &what).cloned() else {
                continue;
            };
            let mut source = None;
            let errors_before = self.errors.len();
            for (k, (kpos, v)) in &attrs {
                let each = format!("`{k}` of {what}");
                match k.as_str() {
                    "file" => {
                        let Some(path) = self.string(v, &each) else {
                            continue;
                        };
                        let path = normalize_path(
                            &std::path::absolute(self.dir_of(v.pos).join(&path))
                                .unwrap_or_else(|_| self.dir_of(v.pos).join(&path)),
                        );
                        match std::fs::metadata(&path) {
                            Ok(m) if m.is_file() && m.len() <= MAX_SECRET_FILE => {
                                // Read only to redact it from what containers print.
                                if kind == "secret"
                                    && let Ok(text) = std::fs::read_to_string(&path)
                                {
                                    self.secret_value(name, text.trim_end());
                                }
                                source = Some(Source::File(path));
                            }
                            Ok(m) if m.is_file() => self.error(
                                v.pos,
                                format!("{each}: {} is larger than 1 MiB", path.display()),
                            ),
                            Ok(_) => self
                                .error(v.pos, format!("{each}: {} is not a file", path.display())),
                            Err(e) => self.error(
                                v.pos,
                                format!("{each}: cannot read {}: {e}", path.display()),
                            ),
                        }
                    }
                    "environment" => {
                        let Some(var) = self.string(v, &each) else {
                            continue;
                        };
                        match (self.env)(&var) {
                            Some(value) => {
                                if kind == "secret" {
                                    self.secret_value(name, &value);
                                }
                                source = Some(Source::Value(Hidden(value)));
                            }
                            None => {
                                self.error(v.pos, format!("{each}: the variable {var} is not set"))
                            }
                        }
                    }
                    "content" if kind == "config" => {
                        source = self.string(v, &each).map(|c| Source::Value(Hidden(c)));
                    }
                    "external" | "name" | "driver" | "driver_opts" | "template_driver" => {
                        self.error(*kpos, format!("{each}: {kind}s kept by the engine need Swarm; give a `file` or `environment` source"));
                    }
                    "labels" => {
                        self.key_values(v, &each, false);
                    }
                    a if a.starts_with("x-") => {}
                    other => self.error(
                        *kpos,
                        format!(
                            "unsupported key `{other}` in {what} (supported: file, environment{})",
                            if kind == "config" { ", content" } else { "" }
                        ),
                    ),
                }
            }
            match source {
                Some(s) => {
                    out.insert(name.clone(), s);
                }
                None if self.errors.len() == errors_before => {
                    self.broken.push(format!("{kind}:{name}"));
                    self.error(
                        *pos,
                        format!(
                            "{what} needs a source: `file` or `environment`{}",
                            if kind == "config" {
                                " or `content`"
                            } else {
                                ""
                            }
                        ),
                    );
                }
                None => self.broken.push(format!("{kind}:{name}")),
            }
        }
        out
    }

    fn secret_value(&mut self, name: &str, value: &str) {
        if value.chars().count() >= interpreter::redact::MIN_REDACTED_LEN {
            self.secret_values
                .push((value.to_string(), format!("secret:{name}")));
        }
    }

    /// A service's `secrets:` or `configs:` against the top-level definitions.
    pub(super) fn granted(
        &mut self,
        node: &Node,
        what: &str,
        kind: &str,
        defs: &IndexMap<String, Source>,
    ) -> Vec<Granted> {
        let Value::Seq(items) = &node.value else {
            self.error(node.pos, format!("{what} must be a list"));
            return Vec::new();
        };
        let mut out: Vec<Granted> = Vec::new();
        for item in items {
            let mut g = Granted {
                source: String::new(),
                target: String::new(),
                uid: None,
                gid: None,
                mode: None,
                file: None,
                digest: None,
                value: None,
            };
            match &item.value {
                Value::Map(m) => {
                    for (k, (kpos, v)) in m {
                        let each = format!("`{k}` in {what}");
                        match k.as_str() {
                            "source" => g.source = self.string(v, &each).unwrap_or_default(),
                            "target" => g.target = self.string(v, &each).unwrap_or_default(),
                            "uid" | "gid" => {
                                let id = self.string(v, &each).unwrap_or_default();
                                if id.parse::<u32>().is_err() {
                                    self.error(v.pos, format!("{each}: `{id}` is not a numeric id"));
                                }
                                if k == "uid" { g.uid = Some(id) } else { g.gid = Some(id) }
                            }
                            "mode" => g.mode = self.mode(v, &each),
                            other => self.error(*kpos, format!("unsupported key `{other}` in {what} (supported: source, target, uid, gid, mode)")),
                        }
                    }
                }
                _ => g.source = self.string(item, what).unwrap_or_default(),
            }
            let Some(def) = defs.get(&g.source) else {
                // A definition with an error was reported where it is written.
                if !self.broken.contains(&format!("{kind}:{}", g.source)) {
                    self.error(
                        item.pos,
                        format!(
                            "{kind} `{}` is not declared under top-level `{kind}s`",
                            g.source
                        ),
                    );
                }
                continue;
            };
            if g.target.is_empty() {
                g.target = g.source.clone();
            }
            if !g.target.starts_with('/') {
                g.target = if kind == "secret" {
                    format!("/run/secrets/{}", g.target)
                } else {
                    format!("/{}", g.target)
                };
            }
            if out.iter().any(|o| o.target == g.target) {
                self.error(item.pos, format!("`{}` is given twice", g.target));
                continue;
            }
            match def {
                Source::File(path) => {
                    if g.uid.is_some() || g.gid.is_some() || g.mode.is_some() {
                        self.note(format!("{what}: uid, gid and mode of {kind} `{}` are not applied: a file {kind} is bind-mounted (as in docker compose without Swarm)", g.source));
                    }
                    g.file = Some(path.display().to_string());
                }
                Source::Value(value) => {
                    let mut h = Sha256::new();
                    for part in ["ops compose", &self.project_name, kind, &g.source, &value.0] {
                        h.update(part.as_bytes());
                        h.update([0]);
                    }
                    g.digest = Some(hex(&h.finalize()));
                    g.value = Some(value.clone());
                }
            }
            out.push(g);
        }
        out
    }
}
