//! `ops`: check, plan and run `.rb.ops` runbooks. This file only dispatches; each
//! subcommand lives in its own module.

mod approve;
mod catalog;
mod check;
mod check_report;
mod cli;
mod explain;
mod files;
mod fmt;
mod history;
mod index;
mod init;
mod journaled;
mod logging;
mod plan;
mod prompt;
mod resume;
mod run;
mod runtime;
mod state;
mod term;
mod test;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    // Commands that only print end quietly when their reader goes away (`ops plan x |
    // head`), like other Unix tools. A real run keeps running to its handlers: its
    // reporters ignore write errors instead.
    let only_prints = !matches!(&cli.command, cli::Command::Run(args) if !args.dry_run)
        && !matches!(
            &cli.command,
            cli::Command::Test(_) | cli::Command::Resume(_)
        );
    if only_prints {
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts
        // (rustix has no safe form of signal(2)).
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // A file that outgrows `ulimit -f` must fail its write with EFBIG (a clear error from
    // the step that wrote it), not kill ops silently with SIGXFSZ.
    // SAFETY: setting a signal disposition before any thread starts (rustix has no safe
    // form of signal(2)).
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // A panic message may quote a value: it is redacted like every log line.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "ops: internal error (a bug in ops): {}",
            logging::redact(&info.to_string())
        );
    }));
    if let Err(e) = logging::init() {
        eprintln!("ops: {e}");
        std::process::exit(cli::EXIT_USAGE);
    }
    let code = match &cli.command {
        cli::Command::Check(args) => check::run(&cli, args),
        cli::Command::Fmt(args) => fmt::run(&cli, args),
        cli::Command::Explain(args) => explain::run(args),
        cli::Command::Plan(args) => plan::run(&cli, args),
        cli::Command::Run(args) => run::run(&cli, args),
        cli::Command::List(args) => catalog::list(args),
        cli::Command::Catalog(args) => catalog::catalog(args),
        cli::Command::Init(args) => init::run(args),
        cli::Command::Test(args) => test::run(args),
        cli::Command::Resume(args) => resume::run(&cli, args),
        cli::Command::History(args) => history::history(args),
        cli::Command::Show(args) => history::show(&cli, args),
        cli::Command::Audit(args) => history::audit(args),
        cli::Command::Approve(args) => approve::run(args),
    };
    std::process::exit(code);
}
