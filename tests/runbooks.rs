//! Every runbook in `runbooks/` checks clean and is formatted; the formatter is
//! idempotent over every fixture and runbook that parses.

mod common;

use std::path::{Path, PathBuf};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if path.to_string_lossy().ends_with(".rb.ops") {
            out.push(path);
        }
    }
    out.sort();
    out
}

struct Disk;

impl lang::Loader for Disk {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| e.to_string())
    }
}

#[test]
fn every_runbook_checks_clean_and_is_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let runbooks = files_under(&root.join("runbooks"));
    assert!(!runbooks.is_empty(), "runbooks/ holds the real runbooks");
    for path in runbooks {
        let shown = path.to_string_lossy().into_owned();
        let (program, _, diagnostics) = common::check_with(&shown, &Disk);
        assert!(
            diagnostics.is_empty(),
            "{shown}:\n{}",
            common::render_all(&program, &diagnostics)
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let formatted = lang::fmt::format_source(&text).expect("formats");
        assert_eq!(
            formatted, text,
            "{shown} is not formatted: run `ops fmt {shown}`"
        );
    }
}

#[test]
fn formatting_is_idempotent_over_every_fixture_and_runbook() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = files_under(&root.join("tests/fixtures"));
    files.extend(files_under(&root.join("runbooks")));
    let mut formatted_count = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // the invalid-UTF-8 fixture
        };
        let parsed = lang::parse(&text);
        if !parsed.is_ok() {
            continue;
        }
        let once =
            lang::fmt::format_source(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let twice =
            lang::fmt::format_source(&once).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(
            twice,
            once,
            "{}: formatting is not idempotent",
            path.display()
        );
        assert_eq!(
            lang::parse(&once).comments.len(),
            parsed.comments.len(),
            "{}",
            path.display()
        );
        formatted_count += 1;
    }
    assert!(
        formatted_count > 40,
        "only {formatted_count} files were formatted"
    );
}

/// The programs golden plans find on PATH, whatever the host has: `ops plan` only looks
/// for them (a missing tool is a preflight error), it never runs them.
const GOLDEN_TOOLS: &[&str] = &[
    "df",
    "diff",
    "find",
    "git",
    "grep",
    "mkdir",
    "rm",
    "test",
    "sh",
    "pg_dump",
    "pg_restore",
    "psql",
    "redis-cli",
    "redis-server",
    "tar",
    "curl",
];

/// Every runbook's plan is a golden snapshot (`tests/snapshots/runbooks__plan@*.snap`), so
/// a change to a runbook shows up in review as a plan diff. The plan is made without the
/// world, in a fixed environment: no engine (compose steps plan what `up` would create),
/// no secrets, backup directories that do not exist, a fixed date, a PATH holding exactly
/// [`GOLDEN_TOOLS`] (`poetry` is never there), and the version and hashes masked.
#[test]
fn every_runbook_has_a_golden_plan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let runbooks = files_under(&root.join("runbooks"));
    let bin = tempfile::tempdir().expect("a scratch PATH");
    for tool in GOLDEN_TOOLS {
        let path = bin.path().join(tool);
        std::fs::write(&path, "#!/bin/false\n").expect("a tool name");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    let mut planned = 0;
    for path in runbooks {
        let rel = path
            .strip_prefix(root)
            .expect("under the repository")
            .to_string_lossy()
            .into_owned();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(["plan", &rel, "--format", "md"])
            .current_dir(root)
            .env_clear()
            .env("PATH", bin.path())
            .env("OPS_TODAY", "2026-11-22")
            .env("OPS_NOW", "2026-12-01T19:30:00Z")
            .env("DOCKER_HOST", "unix:///nonexistent/ops-golden/docker.sock")
            .env("OPS_VAR_backup_dir", "/nonexistent/ops-golden/backups")
            .env("OPS_VAR_work", "/nonexistent/ops-golden/quickstart")
            .output()
            .expect("ops plan runs");
        let text = common::mask_volatile(&String::from_utf8_lossy(&out.stdout));
        if text.trim().is_empty() {
            continue; // a library: nothing to plan
        }
        let name = rel
            .trim_start_matches("runbooks/")
            .trim_end_matches(".rb.ops")
            .replace('/', "__");
        insta::with_settings!({ snapshot_suffix => name.as_str(), prepend_module_to_snapshot => true }, {
            insta::assert_snapshot!("plan", text);
        });
        planned += 1;
    }
    assert!(planned >= 15, "only {planned} runbooks were planned");
}
