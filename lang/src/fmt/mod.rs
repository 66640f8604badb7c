//! `fmt`: the one canonical layout of `.rb.ops` files, and value display helpers.
//!
//! The layout: two-space indentation; one statement per line; at most one blank line
//! where the source had blank lines, none at the start or end of a block; `=` aligned
//! in runs of attributes (and of parameters with defaults); trailing comments aligned
//! in runs of lines; lists and maps inline when written on one line and they fit in
//! 100 columns, one element per line otherwise; `{ one simple statement }` bodies kept
//! inline when written so; empty bodies dropped. Literals keep their spelling.
//! Comments are never dropped: [`format`] verifies that the result parses to the same
//! AST and holds every comment, or refuses.

mod expr;
mod printer;

use std::time::Duration;

use crate::ast::{Comment, File};
use crate::dump::dump;
use crate::parse::parse;

/// Formats a parsed file. Fails (changing nothing) if the result would not mean
/// exactly the same as the input or would lose a comment: a formatter bug, never a
/// user error.
pub fn format(file: &File, comments: &[Comment], text: &str) -> Result<String, String> {
    let mut p = printer::Printer::new(text, comments);
    p.stmts(&file.stmts, text.len());
    if p.next_comment != comments.len() {
        return Err(format!(
            "the formatter would drop {} comment(s)",
            comments.len() - p.next_comment
        ));
    }
    let out = align_trailing_comments(&p.out, &p.trailing);
    let reparsed = parse(&out);
    match &reparsed.ast {
        Some(ast) if reparsed.is_ok() && dump(ast, false) == dump(file, false) => {}
        _ => {
            return Err(String::from(
                "the formatted text would not mean the same as the original",
            ));
        }
    }
    if reparsed.comments.len() != comments.len() {
        return Err(String::from(
            "the formatted text would not keep every comment",
        ));
    }
    Ok(out)
}

/// Parses and formats source text (`Err` carries why it cannot be formatted).
pub fn format_source(text: &str) -> Result<String, FormatError> {
    let parsed = parse(text);
    let Some(ast) = parsed.ast.as_ref().filter(|_| parsed.is_ok()) else {
        return Err(FormatError::Invalid(parsed.diagnostics));
    };
    format(ast, &parsed.comments, text).map_err(FormatError::Internal)
}

/// Why a file could not be formatted.
#[derive(Debug)]
pub enum FormatError {
    /// It does not parse: these diagnostics say why.
    Invalid(Vec<crate::Diagnostic>),
    /// The formatter refused to change it (a bug in ops).
    Internal(String),
}

/// Aligns the trailing comments of each run of consecutive non-blank lines at the
/// same indentation to one column.
fn align_trailing_comments(out: &str, trailing: &[usize]) -> String {
    if trailing.is_empty() {
        return out.to_string();
    }
    struct Line<'a> {
        code: &'a str,
        comment: Option<&'a str>,
    }
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut start = 0;
    let mut marks = trailing.iter().peekable();
    for raw in out.split_inclusive('\n') {
        let end = start + raw.len();
        let body = raw.trim_end_matches('\n');
        let mut line = Line {
            code: body,
            comment: None,
        };
        if let Some(&&m) = marks.peek()
            && m >= start
            && m < end
        {
            marks.next();
            line = Line {
                code: &out[start..m],
                comment: Some(out[m..end].trim()),
            };
        }
        lines.push(line);
        start = end;
    }
    let indent = |s: &str| s.len() - s.trim_start().len();
    let mut result = String::with_capacity(out.len() + 64);
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len()
            && !lines[j].code.trim().is_empty()
            && indent(lines[j].code) == indent(lines[i].code)
            && !lines[i].code.trim().is_empty()
        {
            j += 1;
        }
        let column = lines[i..j]
            .iter()
            .filter(|l| l.comment.is_some())
            .map(|l| l.code.trim_end().len())
            .max()
            .unwrap_or(0);
        for line in &lines[i..j] {
            match line.comment {
                Some(comment) => {
                    let code = line.code.trim_end();
                    result.push_str(code);
                    result.push_str(&" ".repeat(column - code.len() + 1));
                    result.push_str(comment);
                }
                None => result.push_str(line.code),
            }
            result.push('\n');
        }
        i = j;
    }
    result
}

/// A duration as a literal: `1h30m`, `45s`, `250ms`, `90d` (days are the largest unit).
pub fn duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return String::from("0s");
    }
    let mut out = String::new();
    for (unit, len) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= len {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_display_as_literals() {
        assert_eq!(duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(duration(Duration::from_secs(90 * 86_400)), "90d");
    }

    #[test]
    fn keeps_comments_and_aligns() {
        let src = "# head\nrunbook \"x\" { # after brace\n  title = \"t\" # t\n  owner=\"o\"\n\n\n  category = \"c\"\n}\n";
        let out = format_source(src).expect("formats");
        assert_eq!(
            out,
            "# head\nrunbook \"x\" { # after brace\n  title = \"t\" # t\n  owner = \"o\"\n\n  category = \"c\"\n}\n"
        );
        assert_eq!(format_source(&out).expect("formats"), out);
    }
}
