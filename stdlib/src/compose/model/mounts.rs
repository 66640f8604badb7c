//! A service's `volumes:` (named, anonymous, bind and tmpfs mounts, in the short and the
//! long syntax) and `volumes_from:`.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::reader::Map;
use super::*;

/// Propagation modes of a bind mount.
const PROPAGATION: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

impl Reader<'_> {
    pub(super) fn mounts(
        &mut self,
        node: &Node,
        what: &str,
        volumes: &IndexMap<String, Resource>,
    ) -> Vec<Mount> {
        let Value::Seq(items) = &node.value else {
            self.error(node.pos, format!("{what} must be a list"));
            return Vec::new();
        };
        let mut out: Vec<Mount> = Vec::new();
        for item in items {
            let mount = match &item.value {
                Value::Map(m) => self.long_mount(m, item.pos),
                _ => self
                    .string(item, "a volume")
                    .and_then(|text| short_mount(&text).map_err(|m| self.error(item.pos, m)).ok()),
            };
            let Some(mut mount) = mount else { continue };
            if !mount.target.starts_with('/') {
                self.error(
                    item.pos,
                    format!(
                        "the mount target `{}` is not an absolute path",
                        mount.target
                    ),
                );
                continue;
            }
            if out.iter().any(|m| m.target == mount.target) {
                self.error(item.pos, format!("`{}` is mounted twice", mount.target));
                continue;
            }
            if mount.kind == "bind" {
                let path = if let Some(rest) = mount.source.strip_prefix("~/") {
                    PathBuf::from((self.env)("HOME").unwrap_or_default()).join(rest)
                } else {
                    self.dir_of(item.pos).join(&mount.source)
                };
                let abs = std::path::absolute(&path).unwrap_or(path);
                mount.source = normalize_path(&abs).display().to_string();
                if !mount.create_host_path && !std::path::Path::new(&mount.source).exists() {
                    self.error(
                        item.pos,
                        format!(
                            "the bind source {} does not exist (and `create_host_path` is false)",
                            mount.source
                        ),
                    );
                    continue;
                }
            } else if mount.kind == "volume"
                && !mount.source.is_empty()
                && !volumes.contains_key(&mount.source)
            {
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

    fn long_mount(&mut self, m: &Map, pos: Pos) -> Option<Mount> {
        let mut mount = Mount::new("volume", "", "");
        let mut source_given = false;
        for (k, (kpos, v)) in m {
            let what = format!("volume `{k}`");
            match k.as_str() {
                "type" => mount.kind = self.string(v, &what).unwrap_or_default(),
                "source" => {
                    mount.source = self.string(v, &what).unwrap_or_default();
                    source_given = true;
                }
                "target" => mount.target = self.string(v, &what).unwrap_or_default(),
                "read_only" => mount.read_only = self.bool(v, &what).unwrap_or(false),
                // macOS file sharing only; the Linux engine has nothing to apply.
                "consistency" => {}
                "bind" | "volume" | "tmpfs" => {
                    let options = self.map(v, &what).cloned().unwrap_or_default();
                    self.mount_options(k, &options, &mut mount);
                }
                other => self.error(*kpos, format!("unsupported volume key `{other}` (supported: type, source, target, read_only, consistency, bind, volume, tmpfs)")),
            }
        }
        match mount.kind.as_str() {
            "volume" | "tmpfs" => {}
            "bind" if source_given => {}
            "bind" => {
                self.error(pos, "a bind mount needs `source`");
                return None;
            }
            other => {
                self.error(
                    pos,
                    format!("volume type `{other}` is not supported (volume, bind and tmpfs are)"),
                );
                return None;
            }
        }
        if mount.kind == "tmpfs" && source_given {
            self.error(pos, "a tmpfs mount has no `source`");
            return None;
        }
        if mount.target.is_empty() {
            self.error(pos, "a volume mapping needs `target`");
            return None;
        }
        // An option block must belong to the mount's type.
        let misplaced = [
            (
                "bind",
                mount.propagation.is_some() || mount.selinux.is_some() || !mount.create_host_path,
            ),
            ("volume", mount.nocopy || mount.subpath.is_some()),
            (
                "tmpfs",
                mount.tmpfs_size.is_some() || mount.tmpfs_mode.is_some(),
            ),
        ]
        .into_iter()
        .find(|(kind, set)| *set && *kind != mount.kind);
        if let Some((kind, _)) = misplaced {
            self.error(
                pos,
                format!("`{kind}:` options on a `{}` mount", mount.kind),
            );
            return None;
        }
        Some(mount)
    }

    fn mount_options(&mut self, kind: &str, options: &Map, mount: &mut Mount) {
        for (k, (kpos, v)) in options {
            let what = format!("`{kind}.{k}`");
            match (kind, k.as_str()) {
                ("bind", "propagation") => {
                    let p = self.string(v, &what).unwrap_or_default();
                    if !PROPAGATION.contains(&p.as_str()) {
                        self.error(
                            v.pos,
                            format!("{what}: `{p}` is not one of {}", PROPAGATION.join(", ")),
                        );
                    }
                    mount.propagation = Some(p);
                }
                ("bind", "create_host_path") => {
                    mount.create_host_path = self.bool(v, &what).unwrap_or(true);
                }
                ("bind", "selinux") => {
                    let z = self.string(v, &what).unwrap_or_default();
                    if z != "z" && z != "Z" {
                        self.error(
                            v.pos,
                            format!("{what}: `{z}` is not z (shared) or Z (private)"),
                        );
                    }
                    mount.selinux = Some(z);
                }
                ("volume", "nocopy") => mount.nocopy = self.bool(v, &what).unwrap_or(false),
                ("volume", "subpath") => mount.subpath = self.string(v, &what),
                ("tmpfs", "size") => mount.tmpfs_size = self.bytes(v, &what),
                ("tmpfs", "mode") => mount.tmpfs_mode = self.mode(v, &what),
                _ => {
                    let supported = match kind {
                        "bind" => "propagation, create_host_path, selinux",
                        "volume" => "nocopy, subpath",
                        _ => "size, mode",
                    };
                    self.error(
                        *kpos,
                        format!("unsupported key {what} (supported: {supported})"),
                    );
                }
            }
        }
    }

    /// A file mode: a number, read as octal when written as a string (`"1777"`), like
    /// Compose's `mode:`.
    pub(super) fn mode(&mut self, v: &Node, what: &str) -> Option<i64> {
        let parsed = match &v.value {
            Value::Int(n) => Some(*n),
            Value::Str(s) => i64::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
            _ => None,
        };
        match parsed {
            Some(n) if (0..=0o7777).contains(&n) => Some(n),
            _ => {
                self.error(
                    v.pos,
                    format!("{what} must be a file mode (like \"0440\" or 0o1777)"),
                );
                None
            }
        }
    }

    /// `volumes_from:` entries (`SERVICE[:ro|rw]`, `container:NAME[:ro|rw]`).
    pub(super) fn volumes_from(&mut self, v: &Node, what: &str) -> Vec<String> {
        let entries = self.strings(v, what, false);
        for e in &entries {
            let rest = e.strip_prefix("container:").unwrap_or(e);
            let (name, mode) = rest.split_once(':').unwrap_or((rest, "rw"));
            if name.is_empty() || !matches!(mode, "ro" | "rw") {
                self.error(
                    v.pos,
                    format!("{what}: `{e}` is not SERVICE[:ro|rw] or container:NAME[:ro|rw]"),
                );
            }
        }
        entries
    }
}

/// The short syntax: `TARGET` (anonymous volume), `SOURCE:TARGET[:MODES]` with modes
/// `ro`, `rw`, `z`, `Z`, `nocopy`, a propagation mode, and the macOS-only `cached`,
/// `delegated` and `consistent` (no-ops on Linux), separated by commas.
fn short_mount(text: &str) -> Result<Mount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, modes) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => (*source, *target, ""),
        [source, target, modes] => (*source, *target, *modes),
        _ => return Err(format!("`{text}` is not [SOURCE:]TARGET[:MODES]")),
    };
    let bind = source.starts_with(['.', '/', '~']);
    let mut m = Mount::new(if bind { "bind" } else { "volume" }, source, target);
    for mode in modes.split(',').filter(|m| !m.is_empty()) {
        match mode {
            "ro" => m.read_only = true,
            "rw" | "cached" | "delegated" | "consistent" => {}
            "z" | "Z" if bind => m.selinux = Some(mode.to_string()),
            "nocopy" if !bind => m.nocopy = true,
            p if bind && PROPAGATION.contains(&p) => m.propagation = Some(p.to_string()),
            other => {
                return Err(format!(
                    "volume mode `{other}` is not supported here (ro, rw, {})",
                    if bind {
                        "z, Z, shared, rshared, slave, rslave, private, rprivate"
                    } else {
                        "nocopy"
                    }
                ));
            }
        }
    }
    if source.is_empty() && !modes.is_empty() {
        return Err(format!("`{text}` is not [SOURCE:]TARGET[:MODES]"));
    }
    Ok(m)
}

impl Mount {
    fn new(kind: &str, source: &str, target: &str) -> Mount {
        Mount {
            kind: kind.to_string(),
            source: source.to_string(),
            target: target.to_string(),
            read_only: false,
            propagation: None,
            selinux: None,
            create_host_path: true,
            nocopy: false,
            subpath: None,
            tmpfs_size: None,
            tmpfs_mode: None,
        }
    }

    /// An anonymous volume: created by the engine with the container, kept across a
    /// recreate, removed only by `down` with `volumes = true`.
    pub fn anonymous(&self) -> bool {
        self.kind == "volume" && self.source.is_empty()
    }
}
