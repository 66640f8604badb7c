//! `ops fmt [--check] PATH...`: rewrites runbooks in the canonical layout, or with
//! `--check` shows a diff and fails when a file is not formatted. `-` formats standard
//! input to standard output.

use anstyle::AnsiColor;
use std::io::Read;
use std::path::{Path, PathBuf};

use lang::SourceMap;
use lang::diag::render::{self, RenderOptions};
use lang::fmt::{FormatError, format_source};

use crate::cli::{Cli, EXIT_FAILED, EXIT_OK, EXIT_USAGE, FmtArgs};
use crate::files;

/// Runs `ops fmt`.
pub fn run(cli: &Cli, args: &FmtArgs) -> i32 {
    let color = cli.color.enabled();
    let mut failed = false;
    let (stdin, paths): (Vec<&PathBuf>, Vec<PathBuf>) = {
        let (dash, rest): (Vec<&PathBuf>, Vec<&PathBuf>) =
            args.paths.iter().partition(|p| p.as_os_str() == "-");
        (dash, rest.into_iter().cloned().collect())
    };
    if !stdin.is_empty() {
        failed |= format_stdin(args.check, color);
    }
    if paths.is_empty() {
        return if failed { EXIT_FAILED } else { EXIT_OK };
    }
    let files = match files::collect(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ops fmt: {e}");
            return EXIT_USAGE;
        }
    };
    for path in &files {
        failed |= format_file(path, args.check, color);
    }
    if failed { EXIT_FAILED } else { EXIT_OK }
}

/// Formats one file; true when it failed (unformatted under `--check`, or invalid).
fn format_file(path: &Path, check: bool, color: bool) -> bool {
    let shown = files::display(path);
    let bytes = match files::read_capped(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ops fmt: {shown}: {e}");
            return true;
        }
    };
    let text = match lang::parse::decode(&bytes) {
        Ok(t) => t,
        Err(d) => {
            report_invalid(&shown, &String::from_utf8_lossy(&bytes), &[d], color);
            return true;
        }
    };
    let formatted = match format_source(text) {
        Ok(f) => f,
        Err(e) => return report_error(&shown, text, e, color),
    };
    if formatted == text {
        return false;
    }
    if check {
        print!("{}", diff(&shown, text, &formatted, color));
        return true;
    }
    match interpreter::fs::write_atomic(path, formatted.as_bytes()) {
        Ok(()) => {
            eprintln!("formatted {shown}");
            false
        }
        Err(e) => {
            eprintln!("ops fmt: {shown}: cannot write: {e}");
            true
        }
    }
}

fn format_stdin(check: bool, color: bool) -> bool {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(lang::parse::MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
    {
        eprintln!("ops fmt: standard input: {e}");
        return true;
    }
    let text = match lang::parse::decode(&bytes) {
        Ok(t) => t,
        Err(d) => {
            report_invalid("<stdin>", &String::from_utf8_lossy(&bytes), &[d], color);
            return true;
        }
    };
    match format_source(text) {
        Ok(formatted) if check => {
            if formatted != text {
                print!("{}", diff("<stdin>", text, &formatted, color));
                return true;
            }
            false
        }
        Ok(formatted) => {
            print!("{formatted}");
            false
        }
        Err(e) => report_error("<stdin>", text, e, color),
    }
}

fn report_error(shown: &str, text: &str, error: FormatError, color: bool) -> bool {
    match error {
        FormatError::Invalid(diagnostics) => report_invalid(shown, text, &diagnostics, color),
        FormatError::Internal(why) => {
            eprintln!(
                "ops fmt: {shown}: left unchanged: {why} (a bug in ops; please report it with this file)"
            );
        }
    }
    true
}

fn report_invalid(shown: &str, text: &str, diagnostics: &[lang::Diagnostic], color: bool) {
    let mut sources = SourceMap::new();
    let id = sources.add(shown, text);
    let options = RenderOptions {
        color,
        width: crate::term::width(),
    };
    for d in diagnostics {
        eprint!(
            "{}",
            render::human(&d.clone().in_file(id), &sources, options)
        );
    }
    eprintln!("ops fmt: {shown}: not formatted: it has syntax errors");
}

/// A unified diff from the file to its formatted form.
pub fn diff(shown: &str, before: &str, after: &str, color: bool) -> String {
    let text = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(shown, &format!("{shown} (formatted)"))
        .to_string();
    if !color {
        return text;
    }
    text.lines()
        .map(|l| match l.chars().next() {
            Some('+') if !l.starts_with("+++") => paint(AnsiColor::Green, l),
            Some('-') if !l.starts_with("---") => paint(AnsiColor::Red, l),
            Some('@') => paint(AnsiColor::Cyan, l),
            _ => format!("{l}\n"),
        })
        .collect()
}

/// One line of a diff in a colour.
fn paint(color: anstyle::AnsiColor, line: &str) -> String {
    let style = color.on_default();
    format!("{style}{line}{style:#}\n")
}
