//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod durable;
pub mod fidelity;

use std::path::Path;

use lang::diag::render::{self, RenderOptions};
use lang::{CheckOptions, Diagnostic, Program};

/// The date the fixtures are checked on, so `validated`/`max_age` results are stable.
pub const TODAY: &str = "2026-11-22";

/// Reads files from disk relative to the fixtures directory.
pub struct DiskLoader;

impl lang::Loader for DiskLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(path),
        )
        .map_err(|e| e.to_string())
    }
}

/// Check options with the fixed date.
pub fn options() -> CheckOptions {
    CheckOptions {
        today: TODAY.parse().ok(),
    }
}

/// Loads and checks a fixture (path relative to `tests/fixtures`): every diagnostic
/// of the program (parse and check), and the program for rendering.
pub fn check(rel: &str) -> (Program, Option<lang::Checked>, Vec<Diagnostic>) {
    check_with(rel, &DiskLoader)
}

/// Loads `path` through `loader` and checks it: the program, the check result (when
/// the main file parsed) and every diagnostic, parse and check.
pub fn check_with(
    path: &str,
    loader: &dyn lang::Loader,
) -> (Program, Option<lang::Checked>, Vec<Diagnostic>) {
    let options = lang::CompileOptions {
        check: options(),
        callees: false,
    };
    let compiled = lang::compile(path, loader, &stdlib::SCHEMAS, &options);
    let diagnostics: Vec<Diagnostic> = compiled.diagnostics().cloned().collect();
    let checked = compiled.checks.into_iter().next();
    (compiled.program, checked, diagnostics)
}

/// All diagnostics rendered without colour at a fixed width.
pub fn render_all(program: &Program, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            render::human(
                d,
                &program.sources,
                RenderOptions {
                    color: false,
                    width: 100,
                },
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The codes an `err` fixture's first line names: `# expect: OPS2004 OPS2005`.
pub fn expected_codes(text: &str) -> Vec<String> {
    let first = text.lines().next().unwrap_or_default();
    match first.strip_prefix("# expect:") {
        Some(rest) => rest.split_whitespace().map(str::to_string).collect(),
        None => Vec::new(),
    }
}

/// A path relative to `tests/fixtures`.
pub fn fixture_rel(path: &Path) -> String {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    path.strip_prefix(&base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A plan with what changes with every release or edit masked, in every format: the ops
/// version and content hashes. A golden plan changes with what the plan says.
pub fn mask_volatile(text: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let hash = regex::Regex::new("[0-9a-f]{64}").expect("regex");
    let text = hash.replace_all(text, "(content hash)");
    text.replace(&format!("\"{version}\""), "\"(version)\"")
        .replace(&format!("| ops | {version} |"), "| ops | (version) |")
        .replace(&format!("ops {version}"), "ops (version)")
}
