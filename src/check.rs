//! `ops check PATH...`: parse and check runbooks, report every diagnostic.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

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
    let github =
        args.format == Format::Human && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let mut report = check_report::Report::new(args.format, cli.color.enabled(), github);
    let mut dedup = Dedup::default();
    check_each(&paths, &options, |mut outcome| {
        dedup.apply(&mut outcome);
        report.add(&outcome);
    });
    let summary = report.finish();
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

/// Files checked ahead of the one being reported, at most: what bounds the memory of a
/// check of many files (each waiting outcome holds its program's sources).
const AHEAD: usize = 16;

/// Checks every path, spreading the files over the machine's cores, and hands each
/// outcome to `each` in the order of `paths`, as soon as it and every one before it are
/// done: an outcome is dropped once reported, so memory stays flat however many files
/// there are.
pub fn check_each(paths: &[PathBuf], options: &CheckOptions, mut each: impl FnMut(Outcome)) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len())
        .max(1);
    if workers == 1 {
        paths.iter().for_each(|p| each(check_file(p, options)));
        return;
    }
    // Workers take the next path in order, never more than AHEAD past the next one to
    // report; the reporting side puts outcomes back in order.
    let gate = Gate::default();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Outcome)>();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let gate = &gate;
                scope.spawn(move || {
                    // A panic here must not leave the other workers waiting for an
                    // outcome that never comes: it closes the gate for all of them.
                    let _closes = CloseOnPanic(gate);
                    while let Some(i) = gate.next(paths.len()) {
                        if tx.send((i, check_file(&paths[i], options))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        // Reporting may panic too (stdout closed under `ops check | head`): the
        // workers must not wait for it then.
        let _closes = CloseOnPanic(&gate);
        let mut waiting = BTreeMap::new();
        let mut reported = 0;
        for (i, outcome) in rx {
            waiting.insert(i, outcome);
            while let Some(outcome) = waiting.remove(&reported) {
                each(outcome);
                reported += 1;
                gate.reported(reported);
            }
        }
        // A worker that panicked (a bug in ops) must not turn into fewer files
        // checked and a clean result: re-raise its panic.
        for h in handles {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
}

/// Hands out path indices in order, holding workers back while they are [`AHEAD`] files
/// past the reporting side.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    moved: Condvar,
}

#[derive(Default)]
struct GateState {
    taken: usize,
    reported: usize,
    /// A worker panicked: nothing more is handed out.
    closed: bool,
}

impl Gate {
    /// The next index to check, or `None` when every path is taken or the gate is closed.
    fn next(&self, len: usize) -> Option<usize> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.closed || state.taken >= len {
                return None;
            }
            if state.taken < state.reported + AHEAD {
                state.taken += 1;
                return Some(state.taken - 1);
            }
            state = self.moved.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// `count` outcomes are reported.
    fn reported(&self, count: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.reported = count;
        self.moved.notify_all();
    }
}

/// Closes the gate when the thread holding it unwinds.
struct CloseOnPanic<'a>(&'a Gate);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
            state.closed = true;
            self.0.moved.notify_all();
        }
    }
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

/// A diagnostic in a file reached from several runbooks is reported once, where it is
/// first reached in the order of the paths.
#[derive(Default)]
struct Dedup {
    seen: HashSet<(String, lang::Code, usize, usize, String)>,
}

impl Dedup {
    fn apply(&mut self, outcome: &mut Outcome) {
        let program = &outcome.program;
        outcome.diagnostics.retain(|d| {
            // By the path lexically normalised: `./lib.rb.ops` given and `lib.rb.ops`
            // reached by an include are one file.
            self.seen.insert((
                lang::program::resolve("", program.path(d.file)),
                d.code,
                d.span.start,
                d.span.end,
                d.message.clone(),
            ))
        });
    }
}
