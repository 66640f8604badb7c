//! `ops`: check, plan and run `.rb.ops` runbooks. This file only dispatches; each
//! subcommand lives in its own module.

mod check;
mod cli;
mod explain;
mod files;
mod fmt;
mod plan;
mod prompt;
mod report;
mod run;
mod runtime;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match &cli.command {
        cli::Command::Check(args) => check::run(&cli, args),
        cli::Command::Fmt(args) => fmt::run(&cli, args),
        cli::Command::Explain(args) => explain::run(args),
        cli::Command::Plan(args) => plan::run(&cli, args),
        cli::Command::Run(args) => run::run(&cli, args),
    };
    std::process::exit(code);
}
