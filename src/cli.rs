//! Command-line arguments (clap). Clap types stay in this crate.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code: everything passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: the runbooks have errors (or warnings with `--deny-warnings`).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the command line was wrong (bad flag, missing path), or the runbook or
/// its parameters are invalid.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the static (or `--preflight`) checks failed; nothing ran.
pub const EXIT_PREFLIGHT: i32 = 3;

/// Runbooks as code: check, plan and run `.rb.ops` runbooks.
#[derive(Debug, Parser)]
#[command(name = "ops", version, about, propagate_version = true)]
pub struct Cli {
    /// When to use colours (`NO_COLOR` disables `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check runbooks like a compiler: syntax, types, names, secrets, metadata.
    Check(CheckArgs),
    /// Format runbooks in the one canonical layout (keeps comments).
    Fmt(FmtArgs),
    /// Explain a diagnostic code, e.g. `ops explain OPS2004`.
    Explain(ExplainArgs),
    /// Show what a run would do (the same as `ops run --dry-run`).
    Plan(PlanArgs),
    /// Run a runbook (or `--dry-run` it, or run a saved `--plan`).
    Run(RunArgs),
    /// List runbooks with their metadata.
    List(ListArgs),
    /// The runbook catalog, grouped by category, as Markdown or JSON.
    Catalog(CatalogArgs),
    /// Write a commented starter runbook (never overwrites).
    Init(InitArgs),
    /// Run every runbook under a directory (e.g. `--tag lab`) with JUnit and Markdown reports.
    Test(TestArgs),
    /// Go on with an interrupted or failed run from its journal.
    Resume(ResumeArgs),
    /// List runs from the journals: id, runbook, who, start, duration, outcome.
    History(HistoryArgs),
    /// Print a run's report from its journal alone.
    Show(ShowArgs),
    /// Check run journals (`ops audit verify RUN`).
    Audit(AuditArgs),
    /// Approve (or reject) a run waiting at an approval gate, signed with your SSH key.
    Approve(ApproveArgs),
}

/// `ops approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The run id (`ops history` lists them; the gate's log line names it).
    #[arg(value_name = "RUN")]
    pub run: String,

    /// The SSH private key to sign with (`ssh-keygen -Y sign`; an agent-backed key's
    /// public half works too).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// The gate's step id (default: the gate the run waits at now).
    #[arg(long, value_name = "ID")]
    pub step: Option<String>,

    /// Your principal in `allowed_signers` (default: your user name).
    #[arg(long = "as", value_name = "NAME")]
    pub as_principal: Option<String>,

    /// Reject instead: the run stops at the gate and its failure handlers run.
    #[arg(long)]
    pub reject: bool,

    /// Why (recorded with the approval and in the journal).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// How long the approval stays valid.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub expires: std::time::Duration,

    /// The state directory of the run.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `ops resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run id (default: the latest run, unless it ended ok).
    #[arg(value_name = "RUN")]
    pub run: Option<String>,

    /// Output: `human` progress or `json` (JSON Lines events).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// What `ops run` takes too.
    #[command(flatten)]
    pub control: RunControl,
}

/// Options of a real run, shared by `ops run` and `ops resume`.
#[derive(Clone, Debug, Args)]
pub struct RunControl {
    /// Answer yes to every question: `confirm`, `manual`, and (`ops resume`) running
    /// again a step that was cut off (automation).
    #[arg(long)]
    pub yes: bool,

    /// Where runs keep their locks, journals and approvals (default: `.ops/` at the
    /// runbook's repository root, or `OPS_STATE_DIR`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Wait up to this long for a lock another run holds, instead of failing at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_lock: Option<std::time::Duration>,

    /// Run although the runbook's `window` is closed now; the reason goes into every
    /// report (without it, a run outside the window is refused with exit 3).
    #[arg(long, value_name = "REASON", value_parser = non_empty)]
    pub outside_window: Option<String>,

    /// Write a JUnit XML report (a testcase per step).
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,

    /// Write a Markdown run report (also appended to `$GITHUB_STEP_SUMMARY` when set).
    #[arg(long, value_name = "FILE")]
    pub report_md: Option<PathBuf>,

    /// After a signal, how long running steps get to stop before they are abandoned.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub grace: std::time::Duration,
}

/// `ops history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only runs of this runbook id.
    #[arg(value_name = "RUNBOOK")]
    pub runbook: Option<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// At most this many runs, latest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// The state directory (default: `.ops/` at the current repository root, or
    /// `OPS_STATE_DIR`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `ops show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run id, or `last`.
    #[arg(value_name = "RUN")]
    pub run: String,

    /// `human`, `json` (the events as JSON Lines) or `md` (the Markdown run report).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// The state directory.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `ops audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to check.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// `ops audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify a run's journal: every record chained to the one before it, none missing
    /// at the end (against the run index). Exit 0 intact, 1 tampered.
    Verify {
        /// The run id, or `last`.
        #[arg(value_name = "RUN")]
        run: String,

        /// The state directory.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// `ops list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory searched recursively for `*.rb.ops` (default: the current one).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Only runbooks with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
}

/// `ops catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Directory searched recursively for `*.rb.ops` (default: the current one); links in
    /// the Markdown are relative to it.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Md)]
    pub format: CatalogFormat,

    /// Write to this file (atomically) instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Formats of `ops catalog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    /// Markdown tables per category.
    Md,
    /// One JSON document.
    Json,
}

/// `ops init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The runbook file to create (`*.rb.ops`); refused when it exists.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The runbook id (default: from the file name).
    #[arg(long)]
    pub id: Option<String>,

    /// The owning team.
    #[arg(long, default_value = "platform-team")]
    pub owner: String,
}

/// `ops test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Runbook files, or directories searched recursively.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Only runbooks with this tag (e.g. `lab`).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Write one JUnit XML file: a test suite per runbook, a test case per step.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write one Markdown report: a summary table and each runbook's run report.
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,

    /// Stop a runbook that runs longer than this (SIGTERM first: its steps get `--grace`
    /// and its handlers run; killed only if it is still there a minute after the grace).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,

    /// Each runbook's `--grace`: how long its running steps get to stop after SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub grace: std::time::Duration,

    /// Stop at the first runbook that fails.
    #[arg(long)]
    pub fail_fast: bool,
}

/// Parameters and starting point, shared by `plan` and `run`.
#[derive(Debug, Default, Args)]
pub struct InputArgs {
    /// Set a parameter (repeatable); wins over `--vars-file` and `OPS_VAR_<name>`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,

    /// Parameter values from a file: a JSON object, or `name = value` lines.
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<PathBuf>,

    /// Start at this step or stage id (e.g. `2.1`); earlier steps are skipped.
    #[arg(long, value_name = "ID")]
    pub start_at: Option<String>,
}

/// `ops plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The runbook.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Parameters.
    #[command(flatten)]
    pub inputs: InputArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// Also save the plan as JSON to this file (for `ops run --plan`).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Also run the read-only steps (probes) live and report them.
    #[arg(long)]
    pub preflight: bool,
}

/// `ops run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook (not with `--plan`).
    #[arg(value_name = "FILE", required_unless_present = "plan")]
    pub file: Option<PathBuf>,

    /// Parameters.
    #[command(flatten)]
    pub inputs: InputArgs,

    /// Show the plan instead of running (the same as `ops plan`).
    #[arg(long)]
    pub dry_run: bool,

    /// With `--dry-run`: also run the read-only steps live.
    #[arg(long, requires = "dry_run")]
    pub preflight: bool,

    /// With `--dry-run`: save the plan as JSON to this file.
    #[arg(short = 'o', long = "out", value_name = "FILE", requires = "dry_run")]
    pub out: Option<PathBuf>,

    /// Run exactly this saved plan; refused if the runbook, parameters or ops changed.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["file", "dry_run", "set", "vars_file", "start_at"])]
    pub plan: Option<PathBuf>,

    /// Output: `human` progress, `json` (JSON Lines events; with `--dry-run`, the plan),
    /// `md` (with `--dry-run` only).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// The options of a real run.
    #[command(flatten)]
    pub control: RunControl,
}

/// Formats of `ops plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For a terminal.
    Human,
    /// Stable, versioned JSON.
    Json,
    /// Markdown, for a change ticket.
    Md,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match lang::parse_expr(text).map(|e| e.kind) {
        Ok(lang::ast::ExprKind::Duration(d)) => Ok(d),
        _ => Err(format!("`{text}` is not a duration like `10s`")),
    }
}

/// `ops check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files, or directories searched recursively for `*.rb.ops`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// `ops fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories; `-` reads standard input and writes standard output.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Do not write; show a diff and exit 1 when a file is not formatted.
    #[arg(long)]
    pub check: bool,
}

/// `ops explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code (`OPS2004`, `2004`) or its name (`unknown-attribute`); `--list` lists all.
    #[arg(value_name = "CODE", required_unless_present = "list")]
    pub code: Option<String>,

    /// List every code with its name.
    #[arg(long)]
    pub list: bool,
}

/// Output formats of `ops check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Graphical reports with source snippets.
    Human,
    /// One JSON document (versioned schema).
    Json,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal, as `NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE` and
    /// `TERM=dumb` say.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to stdout.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !matches!(
                anstream::AutoStream::choice(&std::io::stdout()),
                anstream::ColorChoice::Never
            ),
        }
    }
}

/// A reason that says something.
fn non_empty(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(String::from("give a reason (it goes into the run report)"));
    }
    Ok(text.to_string())
}
