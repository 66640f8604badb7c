//! Command-line arguments (clap). Clap types stay in this crate.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code: everything passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: the runbooks have errors (or warnings with `--deny-warnings`).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the command line was wrong (bad flag, missing path).
pub const EXIT_USAGE: i32 = 2;

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
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
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
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}
