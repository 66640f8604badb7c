//! Building a service's image: the context sent as a tar stream that honours
//! `.dockerignore`, and the content hash that says whether the image is up to date.
//!
//! One function, [`pack`], walks the context in path order, applies `.dockerignore` as
//! the Docker CLI does (a pattern matches a path or one of its parent directories; the
//! last matching pattern wins; `!` re-includes; the Dockerfile and `.dockerignore` are
//! always sent), writes the tar and hashes what it wrote: the plan packs into nothing to
//! get the hash, `up` packs into a temporary file and sends it. Modification times are
//! not hashed: touching a file does not rebuild, changing one does.

use std::io::Write;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use sha2::{Digest, Sha256};

use super::model::Build;

/// The image label holding the hash of what an image was built from.
pub const BUILD_HASH: &str = "dev.ops.compose.build-hash";

/// The largest context `ops` sends (the sum of its files' sizes).
pub const MAX_CONTEXT: u64 = 4 << 30;

/// Where the Dockerfile goes in the tar when it is not inside the context (or inline).
const OUTSIDE_DOCKERFILE: &str = ".ops-dockerfile";

/// One `.dockerignore` pattern.
struct Rule {
    glob: GlobMatcher,
    exception: bool,
}

/// The patterns of a `.dockerignore` (none when the file does not exist).
fn rules(context: &Path) -> Result<Vec<Rule>, String> {
    let path = context.join(".dockerignore");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (exception, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p.trim()),
            None => (false, line),
        };
        let pattern = clean(pattern);
        if pattern.is_empty() {
            continue;
        }
        let glob = Glob::new(&pattern)
            .and_then(|g| {
                globset::GlobBuilder::new(g.glob())
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
            })
            .map_err(|e| {
                format!(
                    "{}:{}: `{line}` is not a pattern: {e}",
                    path.display(),
                    n + 1
                )
            })?;
        out.push(Rule {
            glob: glob.compile_matcher(),
            exception,
        });
    }
    Ok(out)
}

/// A pattern as the Docker CLI cleans it: no leading `/` or `./`, no trailing `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Whether `rel` (a `/`-separated path in the context) is left out.
fn ignored(rules: &[Rule], rel: &str) -> bool {
    let mut out = false;
    for rule in rules {
        // The path itself or one of its parent directories.
        let mut candidate = rel;
        let matched = loop {
            if rule.glob.is_match(candidate) {
                break true;
            }
            match candidate.rfind('/') {
                Some(i) => candidate = &candidate[..i],
                None => break false,
            }
        };
        if matched {
            out = !rule.exception;
        }
    }
    out
}

/// The Dockerfile as the builder gets it: its name in the tar, and its text when it is
/// added to the tar (inline, or outside the context).
pub struct Dockerfile {
    /// The `dockerfile` option of the build request.
    pub name: String,
    /// The text to add under `name` (`None`: it is a file of the context).
    pub added: Option<Vec<u8>>,
}

/// Where the Dockerfile of a build is.
pub fn dockerfile(build: &Build) -> Result<Dockerfile, String> {
    if let Some(text) = &build.dockerfile_inline {
        return Ok(Dockerfile {
            name: String::from(OUTSIDE_DOCKERFILE),
            added: Some(text.clone().into_bytes()),
        });
    }
    let context = Path::new(&build.context);
    let given = build.dockerfile.as_deref().unwrap_or("Dockerfile");
    let path = super::model::normalize(&context.join(given));
    match path.strip_prefix(context) {
        Ok(rel) => Ok(Dockerfile {
            name: rel.to_string_lossy().replace('\\', "/"),
            added: None,
        }),
        Err(_) => {
            let text = std::fs::read(&path)
                .map_err(|e| format!("cannot read the Dockerfile {}: {e}", path.display()))?;
            Ok(Dockerfile {
                name: String::from(OUTSIDE_DOCKERFILE),
                added: Some(text),
            })
        }
    }
}

/// Writes the build context of `build` as a tar to `out` (pass [`std::io::sink`] for the
/// hash alone) and returns the hash of what the image is built from: every file sent
/// (path, kind, mode, content or link target) and the build's options.
pub fn pack(build: &Build, out: impl Write) -> Result<String, String> {
    let context = PathBuf::from(&build.context);
    let rules = rules(&context)?;
    let dockerfile = dockerfile(build)?;
    let mut hash = Sha256::new();
    // The options, not where the context is: the same files elsewhere are the same image.
    let options = Build {
        context: String::new(),
        ..build.clone()
    };
    hash.update(
        serde_json::to_string(&options)
            .unwrap_or_default()
            .as_bytes(),
    );
    hash.update([0]);
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut total: u64 = 0;
    let walk = walkdir::WalkDir::new(&context)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    let keep =
        |rel: &str| rel == dockerfile.name || rel == ".dockerignore" || !ignored(&rules, rel);
    let exceptions = rules.iter().any(|r| r.exception);
    let mut it = walk.into_iter();
    while let Some(entry) = it.next() {
        let entry = entry
            .map_err(|e| format!("cannot read the build context {}: {e}", context.display()))?;
        let rel = entry
            .path()
            .strip_prefix(&context)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let kind = entry.file_type();
        if !keep(&rel) {
            // A directory left out is not walked, unless an exception may bring back
            // something inside it (or the Dockerfile is in it).
            if kind.is_dir() && !exceptions && !dockerfile.name.starts_with(&format!("{rel}/")) {
                it.skip_current_dir();
            }
            continue;
        }
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
        let tag = if kind.is_dir() {
            "d"
        } else if kind.is_symlink() {
            "l"
        } else if kind.is_file() {
            "f"
        } else {
            // Sockets, pipes and devices are not part of a context.
            continue;
        };
        hash.update(format!("{tag} {rel} {mode:o}").as_bytes());
        hash.update([0]);
        if kind.is_file() {
            total += meta.len();
            if total > MAX_CONTEXT {
                return Err(format!(
                    "the build context {} is larger than {} GiB: leave what the build does not need out with .dockerignore",
                    context.display(),
                    MAX_CONTEXT >> 30
                ));
            }
            let mut file = std::fs::File::open(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            let mut tee = HashingReader {
                inner: &mut file,
                hash: &mut hash,
            };
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&meta);
            header.set_mtime(0);
            tar.append_data(&mut header, &rel, &mut tee)
                .map_err(|e| format!("cannot pack {}: {e}", entry.path().display()))?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .map_err(|e| format!("cannot read the link {}: {e}", entry.path().display()))?;
            hash.update(target.to_string_lossy().as_bytes());
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&meta);
            header.set_mtime(0);
            header.set_size(0);
            tar.append_link(&mut header, &rel, &target)
                .map_err(|e| format!("cannot pack {}: {e}", entry.path().display()))?;
        } else {
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&meta);
            header.set_mtime(0);
            tar.append_data(&mut header, &rel, std::io::empty())
                .map_err(|e| format!("cannot pack {}: {e}", entry.path().display()))?;
        }
        hash.update([0]);
    }
    if let Some(text) = &dockerfile.added {
        hash.update(b"dockerfile ");
        hash.update(text);
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, &dockerfile.name, &text[..])
            .map_err(|e| format!("cannot pack the Dockerfile: {e}"))?;
    }
    tar.finish()
        .map_err(|e| format!("cannot pack the build context: {e}"))?;
    Ok(hex(&hash.finalize()))
}

/// Reads through, hashing what is read.
struct HashingReader<'a, R> {
    inner: &'a mut R,
    hash: &'a mut Sha256,
}

impl<R: std::io::Read> std::io::Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How an image compares with its context: `missing`, `changed` or `current`; `label`
/// is the hash the image in the engine carries (`Some("")` for an image another tool
/// built, `None` when it is missing).
pub fn freshness(label: Option<&str>, hash: &str) -> &'static str {
    match label {
        None => "missing",
        Some(l) if l != hash => "changed",
        Some(_) => "current",
    }
}

/// Why `up` builds an image under `policy` (`build =`: `never`, `missing`, `changed`,
/// `always`), or `None` when it uses the image it has (or, for `never`, fails without).
pub fn reason(policy: &str, freshness: &str) -> Option<&'static str> {
    match (policy, freshness) {
        ("never", _) => None,
        (_, "missing") => Some("image missing"),
        ("always", _) => Some("build = always"),
        ("changed", "changed") => Some("context changed"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_of(dir: &Path) -> Build {
        Build {
            context: dir.display().to_string(),
            ..Build::default()
        }
    }

    fn names(tar: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_context_honours_dockerignore_and_the_hash_follows_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for (path, text) in [
            ("Dockerfile", "FROM scratch\n"),
            ("app/main.sh", "echo hi\n"),
            ("app/debug.log", "noise\n"),
            ("node_modules/x/index.js", "big\n"),
            ("docs/README.md", "docs\n"),
            ("docs/keep.md", "kept\n"),
            ("secret.env", "TOKEN=1\n"),
        ] {
            let p = d.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        std::fs::write(
            d.join(".dockerignore"),
            "# comments and blanks are skipped\n\n**/*.log\nnode_modules\n/docs\n!docs/keep.md\nsecret.env\nDockerfile\n",
        )
        .expect("dockerignore");
        let b = build_of(d);
        let mut tar = Vec::new();
        let first = pack(&b, &mut tar).expect("pack");
        let got = names(&tar);
        assert_eq!(
            got,
            [
                ".dockerignore",
                "Dockerfile",
                "app",
                "app/main.sh",
                "docs/keep.md"
            ],
            "the Dockerfile and .dockerignore are always sent"
        );
        // The hash is the same without a tar, and when only a time changes.
        assert_eq!(pack(&b, std::io::sink()).expect("hash"), first);
        let f = std::fs::File::options()
            .append(true)
            .open(d.join("app/main.sh"))
            .expect("open");
        f.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .expect("mtime");
        assert_eq!(pack(&b, std::io::sink()).expect("hash"), first);
        // An ignored file does not count; a sent file, a mode and an option do.
        std::fs::write(d.join("app/debug.log"), "more noise\n").expect("write");
        assert_eq!(pack(&b, std::io::sink()).expect("hash"), first);
        std::fs::write(d.join("app/main.sh"), "echo bye\n").expect("write");
        let second = pack(&b, std::io::sink()).expect("hash");
        assert_ne!(second, first);
        let mut with_arg = b.clone();
        with_arg.args.insert("V".into(), "1".into());
        assert_ne!(pack(&with_arg, std::io::sink()).expect("hash"), second);
        // An inline Dockerfile is added to the tar.
        let mut inline = b.clone();
        inline.dockerfile_inline = Some(String::from("FROM scratch\nCOPY app /app\n"));
        let mut tar = Vec::new();
        pack(&inline, &mut tar).expect("pack");
        assert!(names(&tar).contains(&String::from(OUTSIDE_DOCKERFILE)));
        assert_eq!(freshness(Some(&second), &second), "current");
        assert_eq!(freshness(Some("old"), &second), "changed");
        assert_eq!(freshness(None, &second), "missing");
        assert_eq!(reason("changed", "current"), None);
        assert_eq!(reason("changed", "changed"), Some("context changed"));
        assert_eq!(reason("missing", "changed"), None);
        assert_eq!(reason("missing", "missing"), Some("image missing"));
        assert_eq!(reason("never", "missing"), None);
        assert_eq!(reason("always", "current"), Some("build = always"));
    }
}
