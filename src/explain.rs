//! `ops explain CODE`: prints a code's section of `docs/errors.md`, which is
//! compiled into the binary.

use lang::Code;

use crate::cli::{EXIT_OK, EXIT_USAGE, ExplainArgs};

/// The error reference, embedded.
pub const ERRORS_MD: &str = include_str!("../docs/errors.md");

/// Runs `ops explain`.
pub fn run(args: &ExplainArgs) -> i32 {
    if args.list {
        for code in Code::ALL {
            println!("{code}  {:<28} {}", code.slug(), code.severity().as_str());
        }
        return EXIT_OK;
    }
    let wanted = args.code.as_deref().unwrap_or_default();
    let Some(code) = Code::parse(wanted) else {
        eprintln!(
            "ops explain: `{wanted}` is not a diagnostic code; `ops explain --list` lists them"
        );
        return EXIT_USAGE;
    };
    match section(code) {
        Some(text) => {
            println!("{}", text.trim_end());
            EXIT_OK
        }
        None => {
            eprintln!("ops explain: {code} is not documented (a bug in ops)");
            EXIT_USAGE
        }
    }
}

/// The text of `## OPSnnnn ...` up to the next `## ` heading.
pub fn section(code: Code) -> Option<&'static str> {
    let heading = format!("## {code} ");
    let start = ERRORS_MD.find(&heading)?;
    let rest = &ERRORS_MD[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    Some(&rest[..end])
}
