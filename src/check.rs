//! `ops check PATH...`: parse and check runbooks, report every diagnostic.

use std::collections::HashSet;
use std::path::PathBuf;

use lang::check::FileKind;
use lang::{CheckOptions, Diagnostic, Program};

use crate::check_report;
use crate::cli::{CheckArgs, Cli, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Format};
use crate::files::{self, FsLoader};

/// One checked file: its program (sources for rendering) and what was found.
pub struct Outcome {
    /// The path as given.
    pub path: String,
    /// The runbook and the files it reaches.
    pub program: Program,
    /// Runbook or library (none when it could not be parsed).
    pub kind: Option<FileKind>,
    /// Parse and check diagnostics, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs `ops check`.
pub fn run(cli: &Cli, args: &CheckArgs) -> i32 {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ops check: {e}");
            return EXIT_USAGE;
        }
    };
    let paths = match files::collect(&args.paths) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ops check: {e}");
            return EXIT_USAGE;
        }
    };
    let mut outcomes = check_all(&paths, &options);
    dedup(&mut outcomes);
    let summary = check_report::Summary::of(&outcomes);
    match args.format {
        Format::Human => check_report::human(&outcomes, &summary, cli.color.enabled()),
        Format::Json => check_report::json(&outcomes, &summary),
    }
    if args.format == Format::Human && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        check_report::github(&outcomes);
    }
    if summary.errors > 0 || (args.deny_warnings && summary.warnings > 0) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Check settings from the environment: `OPS_TODAY` pins "today" (YYYY-MM-DD) for
/// reproducible `validated`/`max_age` checks. Otherwise today is the UTC date: day
/// granularity does not need the local zone, and reading the system's time-zone
/// database would cost more than checking a runbook.
pub fn options() -> Result<CheckOptions, String> {
    let today = match std::env::var("OPS_TODAY") {
        Ok(text) => text
            .parse::<jiff::civil::Date>()
            .map_err(|e| format!("OPS_TODAY=`{text}` is not a date (YYYY-MM-DD): {e}"))?,
        Err(_) => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    };
    Ok(CheckOptions { today: Some(today) })
}

/// Checks every path, spreading the files over the machine's cores.
pub fn check_all(paths: &[PathBuf], options: &CheckOptions) -> Vec<Outcome> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len())
        .max(1);
    if workers == 1 {
        return paths.iter().map(|p| check_file(p, options)).collect();
    }
    let chunk = paths.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| check_file(p, options))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A worker that panicked (a bug in ops) must not turn into fewer files
        // checked and a clean result: re-raise its panic.
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Loads, parses and checks one file.
pub fn check_file(path: &std::path::Path, options: &CheckOptions) -> Outcome {
    let shown = files::display(path);
    let options = lang::CompileOptions {
        check: options.clone(),
        callees: false,
    };
    let compiled = lang::compile(&shown, &FsLoader, &stdlib::SCHEMAS, &options);
    let kind = compiled.checked().map(|c| c.kind);
    let mut diagnostics: Vec<Diagnostic> = compiled.diagnostics().cloned().collect();
    let program = compiled.program;
    diagnostics.sort_by_key(|d| (d.file != program.main, d.file, d.span.start, d.code));
    Outcome {
        path: shown,
        program,
        kind,
        diagnostics,
    }
}

/// A diagnostic in a file reached from several runbooks is reported once.
fn dedup(outcomes: &mut [Outcome]) {
    let mut seen: HashSet<(String, lang::Code, usize, usize, String)> = HashSet::new();
    for outcome in outcomes.iter_mut() {
        let program = &outcome.program;
        outcome.diagnostics.retain(|d| {
            seen.insert((
                program.path(d.file).to_string(),
                d.code,
                d.span.start,
                d.span.end,
                d.message.clone(),
            ))
        });
    }
}
