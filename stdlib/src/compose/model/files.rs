//! A project made of several files, as Compose composes them: files merged in order
//! (`files = [...]`, like `-f a -f b`), `extends` (a service of this file or of another),
//! and top-level `include` (another project's resources). Everything happens on the
//! interpolated YAML trees, before the reader: every node keeps the file it was written
//! in, so that errors point into that file and relative paths resolve against its
//! directory.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::*;

/// One file of the project besides the first.
pub(super) struct SourceFile {
    /// The file.
    pub(super) path: PathBuf,
    /// Its text (for the snippet of an error).
    pub(super) text: String,
    /// The directory its relative paths are resolved against.
    pub(super) dir: PathBuf,
}

/// How deep `extends` and `include` may nest (a cycle is reported before this).
const MAX_DEPTH: usize = 32;

/// What the files of a project are interpolated with.
pub(super) struct Interpolation<'a> {
    /// Variables (environment, then `.env`).
    pub(super) vars: yaml::Vars<'a>,
    /// Variables used but unset.
    pub(super) unset: Vec<String>,
}

impl Reader<'_> {
    /// Reads, parses and interpolates one more file of the project; returns its tree,
    /// every position marked with its index.
    pub(super) fn load_other(
        &mut self,
        path: &Path,
        at: Pos,
        interp: &mut Interpolation<'_>,
    ) -> Option<Node> {
        let path =
            normalize_path(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.error(at, format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let index = u32::try_from(self.others.len() + 1).unwrap_or(u32::MAX);
        self.others.push(SourceFile {
            path,
            text: text.clone(),
            dir,
        });
        let mut root = match yaml::parse(&text) {
            Ok(r) => r,
            Err((mut pos, m)) => {
                pos.file = index;
                self.error(pos, m);
                return None;
            }
        };
        yaml::set_file(&mut root, index);
        if let Err((mut pos, e)) = yaml::interpolate(&mut root, &interp.vars, &mut interp.unset) {
            pos.file = index;
            self.error(pos, e.0);
            return None;
        }
        Some(root)
    }

    /// The project's tree: the first file with `files` merged over it in order, then its
    /// `include`s and every service's `extends` resolved.
    pub(super) fn compose(
        &mut self,
        mut root: Node,
        files: &[PathBuf],
        interp: &mut Interpolation<'_>,
    ) -> Node {
        // As given, like the first file (and like `docker compose -f`).
        for path in files {
            if let Some(other) = self.load_other(path, Pos::default(), interp) {
                root = merge(root, other, "");
            }
        }
        self.includes(&mut root, interp, 0);
        self.resolve_extends(&mut root, interp);
        root
    }

    /// Top-level `include:` of `root`: each included project's services, networks,
    /// volumes, secrets and configs join this one; defining one twice is an error.
    fn includes(&mut self, root: &mut Node, interp: &mut Interpolation<'_>, depth: usize) {
        let Value::Map(top) = &mut root.value else {
            return;
        };
        let Some((ipos, include)) = top.shift_remove("include") else {
            return;
        };
        if depth >= MAX_DEPTH {
            self.error(ipos, "`include` nests too deep (a cycle?)");
            return;
        }
        let items = match include.value {
            Value::Seq(items) => items,
            _ => {
                self.error(include.pos, "`include` must be a list");
                return;
            }
        };
        for item in items {
            let (paths, dir) = match &item.value {
                Value::Map(m) => {
                    let mut paths = Vec::new();
                    let mut dir = None;
                    for (k, (kpos, v)) in m {
                        match k.as_str() {
                            "path" => paths = self.strings(v, "`include.path`", true).into_iter().map(|p| (p, v.pos)).collect(),
                            "project_directory" => dir = self.string(v, "`include.project_directory`").map(|d| (d, v.pos)),
                            "env_file" => self.error(*kpos, "`include.env_file` is not supported: the project's `.env` (or `env_file =`) applies to every file"),
                            other => self.error(*kpos, format!("unsupported key `{other}` in `include` (supported: path, project_directory)")),
                        }
                    }
                    (paths, dir)
                }
                _ => (
                    self.string(&item, "an `include` entry")
                        .map(|p| (p, item.pos))
                        .into_iter()
                        .collect(),
                    None,
                ),
            };
            for (path, at) in paths {
                let base = self.dir_of(at).to_path_buf();
                let Some(mut other) = self.load_other(&base.join(&path), at, interp) else {
                    continue;
                };
                if let Some((d, dpos)) = &dir {
                    let index = other.pos.file as usize;
                    let project_dir = self.dir_of(*dpos).join(d);
                    if let Some(f) = index.checked_sub(1).and_then(|i| self.others.get_mut(i)) {
                        f.dir = project_dir;
                    }
                }
                self.includes(&mut other, interp, depth + 1);
                self.resolve_extends(&mut other, interp);
                self.join_included(root, other, at);
            }
        }
    }

    fn join_included(&mut self, root: &mut Node, other: Node, at: Pos) {
        let Value::Map(top) = &mut root.value else {
            return;
        };
        let Value::Map(theirs) = other.value else {
            return;
        };
        for (section, (spos, node)) in theirs {
            if !matches!(
                section.as_str(),
                "services" | "networks" | "volumes" | "secrets" | "configs"
            ) {
                continue;
            }
            let Value::Map(entries) = node.value else {
                continue;
            };
            let (_, ours) = top.entry(section.clone()).or_insert_with(|| {
                (
                    spos,
                    Node {
                        value: Value::Map(IndexMap::new()),
                        pos: spos,
                    },
                )
            });
            if matches!(ours.value, Value::Null) {
                ours.value = Value::Map(IndexMap::new());
            }
            let Value::Map(ours) = &mut ours.value else {
                continue;
            };
            for (name, entry) in entries {
                if ours.contains_key(&name) {
                    self.error(at, format!("{section} `{name}` of the included file is already defined by the project"));
                } else {
                    ours.insert(name, entry);
                }
            }
        }
    }

    /// Every service's `extends`, resolved: the base service (of this file or of
    /// `file:`), with its own `extends` resolved first, and this service merged over it.
    fn resolve_extends(&mut self, root: &mut Node, interp: &mut Interpolation<'_>) {
        let Value::Map(top) = &mut root.value else {
            return;
        };
        let Some((_, services)) = top.get_mut("services") else {
            return;
        };
        let Value::Map(services) = &mut services.value else {
            return;
        };
        let names: Vec<String> = services.keys().cloned().collect();
        for name in names {
            let mut chain = Vec::new();
            if let Some(resolved) = self.extended(services, &name, interp, &mut chain)
                && let Some(entry) = services.get_mut(&name)
            {
                entry.1 = resolved;
            }
        }
    }

    /// Service `name` of `services` with its `extends` resolved; `chain` holds the
    /// services being resolved (for cycles).
    fn extended(
        &mut self,
        services: &IndexMap<String, (Pos, Node)>,
        name: &str,
        interp: &mut Interpolation<'_>,
        chain: &mut Vec<String>,
    ) -> Option<Node> {
        let (_, service) = services.get(name)?;
        let Value::Map(map) = &service.value else {
            return None;
        };
        let (epos, extends) = map.get("extends")?;
        let file_key = format!("{}:{name}", service.pos.file);
        if chain.contains(&file_key) || chain.len() >= MAX_DEPTH {
            self.error(*epos, format!("`extends` of service `{name}` is a cycle"));
            return None;
        }
        chain.push(file_key);
        let (base_name, base_file) = match &extends.value {
            Value::Map(m) => {
                let mut service = None;
                let mut file = None;
                for (k, (kpos, v)) in m {
                    match k.as_str() {
                        "service" => service = self.string(v, "`extends.service`"),
                        "file" => file = self.string(v, "`extends.file`").map(|f| (f, v.pos)),
                        other => self.error(
                            *kpos,
                            format!(
                                "unsupported key `{other}` in `extends` (supported: service, file)"
                            ),
                        ),
                    }
                }
                (service, file)
            }
            _ => (self.string(extends, "`extends`"), None),
        };
        let Some(base_name) = base_name else {
            self.error(
                *epos,
                format!("`extends` of service `{name}` needs `service`"),
            );
            return None;
        };
        let base = match base_file {
            None => match services.get(&base_name) {
                Some(_) => self
                    .extended(services, &base_name, interp, chain)
                    .or_else(|| services.get(&base_name).map(|(_, n)| n.clone())),
                None => {
                    self.error(*epos, format!("service `{name}` extends `{base_name}`, which is not a service of this file"));
                    return None;
                }
            },
            Some((file, fpos)) => {
                let path = self.dir_of(fpos).join(&file);
                let other = self.load_other(&path, fpos, interp)?;
                let Value::Map(top) = other.value else {
                    return None;
                };
                let Some((
                    _,
                    Node {
                        value: Value::Map(theirs),
                        ..
                    },
                )) = top.get("services").cloned()
                else {
                    self.error(fpos, format!("{} has no `services`", path.display()));
                    return None;
                };
                if !theirs.contains_key(&base_name) {
                    self.error(
                        fpos,
                        format!("{} has no service `{base_name}`", path.display()),
                    );
                    return None;
                }
                self.extended(&theirs, &base_name, interp, chain)
                    .or_else(|| theirs.get(&base_name).map(|(_, n)| n.clone()))
            }
        }?;
        chain.pop();
        let mut own = service.clone();
        if let Value::Map(m) = &mut own.value {
            m.shift_remove("extends");
        }
        let mut base = base;
        if let Value::Map(m) = &mut base.value {
            m.shift_remove("extends");
        }
        Some(merge(base, own, ""))
    }
}

/// `over` merged over `base` as Compose merges files: mappings key by key (recursively);
/// `command`, `entrypoint` and `healthcheck.test` replaced; `ports`, `expose`, `dns`,
/// `dns_search`, `tmpfs`, `volumes`, `devices`, `secrets` and `configs` appended without
/// the entries `over` redefines (the same value, or the same target path); maps written
/// as `KEY=VALUE` lists (`environment`, `labels`, ...) merged by key; other lists
/// appended; scalars replaced. `path` is the key path (`services.web.volumes`).
pub(super) fn merge(base: Node, over: Node, path: &str) -> Node {
    let key = path.rsplit('.').next().unwrap_or("");
    match (base.value, over.value) {
        (Value::Map(mut ours), Value::Map(theirs)) => {
            for (k, (kpos, v)) in theirs {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let merged = match ours.shift_remove(&k) {
                    Some((_, b)) => merge(b, v, &child),
                    None => v,
                };
                ours.insert(k, (kpos, merged));
            }
            Node {
                value: Value::Map(ours),
                pos: base.pos,
            }
        }
        (_, o) if REPLACED.contains(&key) || path.ends_with("healthcheck.test") => Node {
            value: o,
            pos: over.pos,
        },
        (b @ (Value::Seq(_) | Value::Map(_)), o @ (Value::Seq(_) | Value::Map(_)))
            if KEYED.contains(&key) =>
        {
            let (mut ours, theirs) = (as_map(b, base.pos), as_map(o, over.pos));
            for (k, v) in theirs {
                ours.shift_remove(&k);
                ours.insert(k, v);
            }
            Node {
                value: Value::Map(ours),
                pos: base.pos,
            }
        }
        (Value::Seq(mut ours), Value::Seq(theirs)) => {
            if UNIQUE.contains(&key) {
                let ids: Vec<String> = theirs.iter().map(|n| identity(key, n)).collect();
                ours.retain(|n| !ids.contains(&identity(key, n)));
            }
            ours.extend(theirs);
            Node {
                value: Value::Seq(ours),
                pos: base.pos,
            }
        }
        (_, o) => Node {
            value: o,
            pos: over.pos,
        },
    }
}

/// Keys whose value the overriding file replaces whole.
const REPLACED: &[&str] = &["command", "entrypoint"];

/// Lists that are maps in disguise (`KEY=VALUE`), merged by key.
const KEYED: &[&str] = &[
    "environment",
    "labels",
    "annotations",
    "sysctls",
    "extra_hosts",
    "args",
    "storage_opt",
];

/// Lists whose entries are unique by value or by target path.
const UNIQUE: &[&str] = &[
    "ports",
    "expose",
    "dns",
    "dns_search",
    "dns_opt",
    "tmpfs",
    "volumes",
    "devices",
    "secrets",
    "configs",
    "cap_add",
    "cap_drop",
    "security_opt",
    "group_add",
    "profiles",
];

/// A `KEY=VALUE` list (or `KEY: VALUE` map) as a map.
fn as_map(value: Value, pos: Pos) -> IndexMap<String, (Pos, Node)> {
    match value {
        Value::Map(m) => m,
        Value::Seq(items) => items
            .into_iter()
            .filter_map(|n| {
                let text = n.scalar()?;
                let (k, v) = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Value::Str(v.to_string())),
                    None => (text.clone(), Value::Null),
                };
                Some((
                    k,
                    (
                        n.pos,
                        Node {
                            value: v,
                            pos: n.pos,
                        },
                    ),
                ))
            })
            .collect(),
        other => IndexMap::from([(String::new(), (pos, Node { value: other, pos }))]),
    }
}

/// What makes an entry of a unique list the same entry: its target path for mounts,
/// secrets and configs, its text (or target and protocol) for the rest.
fn identity(key: &str, node: &Node) -> String {
    let field = |name: &str| match &node.value {
        Value::Map(m) => m.get(name).and_then(|(_, v)| v.scalar()),
        _ => None,
    };
    match key {
        "volumes" | "devices" => field("target").unwrap_or_else(|| {
            let text = node.scalar().unwrap_or_default();
            let parts: Vec<&str> = text.split(':').collect();
            match parts.as_slice() {
                [one] => one.to_string(),
                [_, target, ..] => target.to_string(),
                _ => text.clone(),
            }
        }),
        "secrets" | "configs" => field("target")
            .or_else(|| field("source"))
            .unwrap_or_else(|| node.scalar().unwrap_or_default()),
        "ports" => match &node.value {
            Value::Map(_) => format!(
                "{}:{}:{}/{}",
                field("host_ip").unwrap_or_default(),
                field("published").unwrap_or_default(),
                field("target").unwrap_or_default(),
                field("protocol").unwrap_or_else(|| String::from("tcp"))
            ),
            _ => node.scalar().unwrap_or_default(),
        },
        _ => node.scalar().unwrap_or_default(),
    }
}
