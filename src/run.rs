//! `ops run FILE` / `ops run --plan plan.json`: execute a runbook with live progress,
//! reports, Ctrl-C handling and exit codes (0 ok, 1 a step failed, 2 invalid runbook or
//! parameters, 3 preflight failed, 130 interrupted).

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use interpreter::event::{EventSink, Reporter};
use interpreter::exec::{self, Mode, RunOptions, RunResult};
use interpreter::plan::params::ParamInput;
use interpreter::plan::{self, FindingLevel, Plan, saved};
use interpreter::redact::Redactor;
use interpreter::run_report::{JsonLines, Junit, MarkdownReport, Spinners, Terminal};
use interpreter::step::{Prompter, Registry};
use lang::diag::render::{self, RenderOptions};
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, EXIT_PREFLIGHT, EXIT_USAGE, PlanFormat, RunArgs};
use crate::runtime::{self, Loaded};

/// Runs `ops run`.
pub fn run(cli: &Cli, args: &RunArgs) -> i32 {
    let color = cli.color.enabled();
    let registry = stdlib::registry();
    let (loaded, source) = match load(args, color) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.dry_run {
        let plan = match plan_from(&loaded, &source, &registry, color) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let code = crate::plan::show(
            &plan,
            &registry,
            args.format,
            args.out.as_deref(),
            args.preflight,
        );
        runtime::keep_until_exit((plan, loaded));
        return code;
    }
    if args.format == PlanFormat::Md {
        eprintln!(
            "ops run: `--format md` is for plans (`--dry-run`); use `--report-md FILE` for a run report"
        );
        return EXIT_USAGE;
    }
    let run_id = crate::state::run_id();
    let code = launch(cli, args, &loaded, &source, &registry, Attempt::New(run_id));
    runtime::keep_until_exit(loaded);
    code
}

/// A new run, or the next attempt of a journaled one.
pub enum Attempt {
    /// A new run with this id.
    New(String),
    /// `ops resume`: this run, with what its earlier attempts finished.
    Resume(Box<crate::resume::Resuming>),
}

impl Attempt {
    fn run_id(&self) -> &str {
        match self {
            Attempt::New(id) => id,
            Attempt::Resume(r) => &r.run,
        }
    }
}

/// Takes the run's locks, plans (after the locks: what another run changed while this
/// one waited is planned), journals and executes; the exit code.
pub fn launch(
    cli: &Cli,
    args: &RunArgs,
    loaded: &Loaded,
    source: &Source,
    registry: &Registry,
    attempt: Attempt,
) -> i32 {
    let color = cli.color.enabled();
    let run_id = attempt.run_id().to_string();
    let (runbook_id, lock_names) = runtime::run_locks(loaded);
    let file = loaded.program().path(loaded.program().main).to_string();
    let state = crate::state::state_dir(args.control.state_dir.as_deref(), Path::new(&file));
    let me = crate::state::Holder::me(&run_id, &runbook_id);
    let mut names = vec![format!("runbook:{runbook_id}")];
    names.extend(lock_names.iter().map(|l| format!("lock:{l}")));
    let locks = match crate::state::acquire(&state, &names, &me, args.control.wait_lock) {
        Ok(locks) => locks,
        Err(crate::state::LockError::Busy { name, holder }) => {
            let holder = holder.map_or_else(
                || String::from("another run (its lock file says nothing yet)"),
                |h| h.describe(),
            );
            let d = lang::diag::plan::run_locked(&format!("lock `{name}`"), &holder);
            runtime::print_plan_errors(&[d], loaded.program(), color);
            return EXIT_PREFLIGHT;
        }
        Err(crate::state::LockError::Io(why)) => {
            eprintln!("ops run: {why}");
            return EXIT_USAGE;
        }
    };
    for (name, previous) in &locks.taken_over {
        eprintln!(
            "ops run: took over lock `{name}` from {}, which ended without releasing it",
            previous.describe()
        );
    }
    let plan = match plan_from(loaded, source, registry, color) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if plan.has_errors() {
        eprintln!("ops run: preflight failed; nothing was run:");
        for f in plan
            .findings
            .iter()
            .filter(|f| f.level == FindingLevel::Error)
        {
            eprintln!("  error[{}] {}", f.code, f.message);
        }
        eprintln!("(`ops plan {}` shows the whole plan)", plan.runbook.file);
        return EXIT_PREFLIGHT;
    }
    if plan.runbook.outside_window() && args.control.outside_window.is_none() {
        let window = plan.runbook.window.clone().unwrap_or_default();
        let now = plan.runbook.window_now().unwrap_or_default();
        let d = lang::diag::plan::outside_window(&window, &now);
        runtime::print_plan_errors(&[d], loaded.program(), color);
        return EXIT_PREFLIGHT;
    }
    // The reason is recorded only when it was needed.
    let outside = plan
        .runbook
        .outside_window()
        .then(|| args.control.outside_window.clone())
        .flatten();
    let journal =
        match crate::journaled::open(&state, &plan, &me, &locks, attempt, args.control.yes) {
            Ok(j) => j,
            Err(code) => return code,
        };
    let result = execute(args, &plan, registry, color, outside, &journal);
    let ended = journal.close(result.as_ref().ok().map(|(r, s)| (r, *s)));
    drop(locks);
    let (result, signal) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ops run: {e}");
            return 1;
        }
    };
    if args.format == PlanFormat::Human {
        let options = RenderOptions {
            color,
            width: crate::term::width(),
        };
        for f in result.failures.iter().filter(|f| !f.continued) {
            let d = f.diagnostic();
            eprintln!("{}", render::human(&d, &loaded.program().sources, options));
        }
    }
    if let Some(note) = ended {
        eprintln!("{note}");
    }
    let code = match result.status {
        exec::RunStatus::Interrupted => signal_exit(signal),
        status => status.exit_code(),
    };
    runtime::keep_until_exit((plan, result));
    code
}

/// Where the plan comes from: the runbook with parameters, or a saved plan.
pub enum Source {
    /// Parameters and `--start-at`.
    Fresh(Vec<ParamInput>, Option<String>),
    /// `--plan FILE`, read and hash-checked.
    Saved(Box<saved::Saved>),
}

/// Loads and checks the runbook (of a saved plan, after checking its content hash).
fn load(args: &RunArgs, color: bool) -> Result<(Loaded, Source), i32> {
    if let Some(path) = &args.plan {
        let text = std::fs::read_to_string(path).map_err(|e| {
            eprintln!(
                "ops run: cannot read the saved plan {}: {e}",
                path.display()
            );
            EXIT_USAGE
        })?;
        let saved = saved::read(&text, runtime::VERSION).map_err(|e| {
            runtime::print_plan_errors(&[e], &lang::Program::default(), color);
            EXIT_USAGE
        })?;
        // A saved plan is data from anywhere: the file it names is read only if it is a
        // runbook, and nothing of it is shown until its content is the one planned.
        if !saved.file.ends_with(lang::program::RUNBOOK_EXTENSION) {
            let e = saved::not_a_runbook(&saved.file);
            runtime::print_plan_errors(&[e], &lang::Program::default(), color);
            return Err(EXIT_USAGE);
        }
        let program = runtime::read_program(Path::new(&saved.file));
        let hash = plan::content_hash(&program);
        if let Err(e) = saved::verify_hash(&saved, &hash) {
            runtime::print_plan_errors(&[e], &lang::Program::default(), color);
            return Err(EXIT_USAGE);
        }
        let loaded = runtime::check_program(program, &saved.file, color).ok_or(EXIT_USAGE)?;
        return Ok((loaded, Source::Saved(Box::new(saved))));
    }
    let Some(file) = &args.file else {
        eprintln!("ops run: give a runbook FILE or --plan PLAN");
        return Err(EXIT_USAGE);
    };
    let loaded = runtime::load(file, color).ok_or(EXIT_USAGE)?;
    let inputs = runtime::inputs(&args.inputs).map_err(|e| {
        eprintln!("ops run: {e}");
        EXIT_USAGE
    })?;
    Ok((loaded, Source::Fresh(inputs, args.inputs.start_at.clone())))
}

/// Plans (a saved plan: re-planned and compared with what was saved).
pub fn plan_from(
    loaded: &Loaded,
    source: &Source,
    registry: &Registry,
    color: bool,
) -> Result<Plan, i32> {
    let planned = match source {
        Source::Fresh(inputs, start_at) => {
            runtime::make_plan(loaded, registry, inputs.clone(), start_at.clone())
        }
        Source::Saved(saved) => runtime::make_plan(
            loaded,
            registry,
            saved.params.clone(),
            saved.start_at.clone(),
        )
        .and_then(|p| {
            saved::verify_plan(saved, &p, &runtime::redactor(&p))
                .map(|()| p)
                .map_err(|e| vec![e])
        }),
    };
    planned.map_err(|errors| {
        runtime::print_plan_errors(&errors, loaded.program(), color);
        EXIT_USAGE
    })
}

fn execute(
    args: &RunArgs,
    plan: &Plan,
    registry: &Registry,
    color: bool,
    outside_window: Option<String>,
    journal: &crate::journaled::Journaled,
) -> Result<(RunResult, Option<&'static str>), String> {
    let secrets = runtime::read_secrets(plan);
    let redactor = Redactor::new(secrets.values().map(String::as_str));
    runtime::protect_secrets(redactor);
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    match args.format {
        PlanFormat::Json => reporters.push(Box::new(JsonLines::new(std::io::stdout()))),
        _ if live_terminal() => reporters.push(Box::new(Spinners::new(color))),
        _ => reporters.push(Box::new(Terminal::new(std::io::stdout(), color))),
    }
    if let Some(path) = &args.control.report_junit {
        reporters.push(Box::new(Junit::new(path.clone())));
    }
    let summary = std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    if args.control.report_md.is_some() || summary.is_some() {
        let started = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string();
        reporters.push(Box::new(MarkdownReport::new(
            args.control.report_md.clone(),
            summary,
            started,
        )));
    }
    reporters.push(Box::new(journal.reporter()));
    let sink = EventSink::new(reporters);
    let prompter: Arc<dyn Prompter> = if args.control.yes {
        Arc::new(crate::prompt::AssumeYes)
    } else if std::io::stdin().is_terminal() {
        Arc::new(crate::prompt::TerminalPrompt::default())
    } else {
        Arc::new(crate::prompt::NoOperator)
    };
    let options = RunOptions {
        earlier: Arc::new(journal.earlier()),
        identity: Some(Arc::new(journal.identity())),
        mode: Mode::Run,
        grace: args.control.grace,
        prompter,
        secrets,
        outside_window,
        interrupted_by: Arc::default(),
    };
    let interrupted_by = options.interrupted_by.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let token = CancellationToken::new();
    let grace = args.control.grace;
    let result = rt.block_on(async {
        // The handlers are installed before the first step starts: a signal that comes
        // at once is handled like any other.
        let watcher = match Signals::install() {
            Some(signals) => Some(tokio::spawn(watch_signals(
                signals,
                token.clone(),
                grace,
                interrupted_by.clone(),
            ))),
            None => {
                eprintln!(
                    "ops: cannot watch for signals; SIGINT, SIGTERM and SIGHUP end the run at once"
                );
                None
            }
        };
        let result = exec::run(plan, registry, options, sink.clone(), token).await;
        if let Some(w) = watcher {
            w.abort();
        }
        result
    });
    // A prompt still waiting for input must not keep the process alive.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    sink.finish()
        .map_err(|e| format!("cannot write a report: {e}"))?;
    Ok((result, interrupted_by.get().copied()))
}

/// Spinners only on an interactive terminal: not in CI, not when piped, not on `TERM=dumb`.
fn live_terminal() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// SIGINT, SIGTERM and SIGHUP, caught from the moment they are installed.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside the runtime); `None` when the system refuses.
    fn install() -> Option<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(Signals {
            int: signal(SignalKind::interrupt()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
            hup: signal(SignalKind::hangup()).ok()?,
        })
    }

    /// The next one to arrive, by name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// The exit code of a run a signal stopped: 128 + its number (SIGINT 130, SIGTERM 143,
/// SIGHUP 129).
pub fn signal_exit(name: Option<&str>) -> i32 {
    exec::RunStatus::Interrupted.exit_code_after(name)
}

/// The first SIGINT, SIGTERM or SIGHUP (Ctrl-C, CI cancelling the job, systemd, `timeout`,
/// a closed terminal): cancel the run (nothing new starts, running steps get the grace
/// period, the handlers run, the reports are written) and exit 130, 143 or 129. A second
/// one of any of them: kill every command's process group and exit at once.
async fn watch_signals(
    mut signals: Signals,
    token: CancellationToken,
    grace: std::time::Duration,
    first: Arc<std::sync::OnceLock<&'static str>>,
) {
    let name = signals.next().await;
    let what = if name == "SIGINT" { "Ctrl-C" } else { name };
    let _ = first.set(what);
    eprintln!(
        "\nops: {what}: stopping running steps (grace {}), then running the failure handlers. Another signal exits at once.",
        lang::fmt::duration(grace)
    );
    token.cancel();
    let again = signals.next().await;
    eprintln!("ops: {again} again; exiting now");
    stdlib::exec::kill_all();
    std::process::exit(signal_exit(Some(name)));
}
