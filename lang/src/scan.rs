//! A linear pre-pass over the source before pest runs.
//!
//! It mirrors the grammar's lexical structure (code, strings, `${...}`, comments) to
//! 1. bound nesting depth explicitly, so no input can overflow the parser's stack;
//! 2. explain structural mistakes precisely (unterminated strings and interpolations,
//!    unclosed or mismatched delimiters) instead of a generic syntax error;
//! 3. record every comment's span for the formatter.
//!
//! It never allocates per byte and runs in one pass, so it costs little next to pest.

use crate::ast::{Comment, Span};
use crate::diag::{self, Diagnostic};

/// Blocks, brackets, strings and interpolations nested deeper than this are refused.
pub const MAX_NESTING: usize = 64;

/// What the scanner found: comments, and the first structural error if any.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every comment, in order.
    pub comments: Vec<Comment>,
    /// The first structural error; when set, the file is not parsed further.
    pub error: Option<Diagnostic>,
    /// Offsets of the tabs in code (outside strings and comments): the parser gets them
    /// as spaces, so that its skip between tokens tests one character.
    pub tabs: Vec<usize>,
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    Delim { ch: u8, at: usize },
    Str { at: usize, triple: bool },
    Interp { at: usize },
}

/// Scans `text` for comments and structural errors.
pub fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut out = Scan::default();
    let mut stack: Vec<Frame> = Vec::new();
    // For the "which `{` is unclosed" hint: the first `{` whose `}` is indented differently.
    let mut suspect: Option<(Span, usize)> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match stack.last().copied() {
            Some(Frame::Str { at, triple: false }) => match b {
                b'\\' if !matches!(bytes.get(i + 1), None | Some(b'\n' | b'\r')) => i += 2,
                b'"' => {
                    stack.pop();
                    i += 1;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    if let Some(error) = push(&mut stack, Frame::Interp { at: i }, i, 2) {
                        out.error = Some(error);
                        return out;
                    }
                    i += 2;
                }
                b'\n' | b'\r' => {
                    out.error = Some(unterminated(&stack, at, i));
                    return out;
                }
                // The grammar takes a line string's text up to `"`, `\` or `${`.
                0..0x20 if b != b'\t' => {
                    out.error = Some(diag::control_character(Span::new(i, i + 1), b));
                    return out;
                }
                _ => i = skip(bytes, i + 1, &LINE_STOPS),
            },
            Some(Frame::Str { triple: true, .. }) => {
                if b == b'\\' && i + 1 < bytes.len() {
                    i += 2;
                } else if bytes[i..].starts_with(b"\"\"\"") {
                    stack.pop();
                    i += 3;
                } else if bytes[i..].starts_with(b"${") {
                    if let Some(error) = push(&mut stack, Frame::Interp { at: i }, i, 2) {
                        out.error = Some(error);
                        return out;
                    }
                    i += 2;
                } else {
                    i = skip(bytes, i + 1, &TRIPLE_STOPS);
                }
            }
            // Code: the file level, inside a delimiter, or inside an interpolation.
            top => match b {
                b'#' => {
                    let end = memchr_newline(bytes, i);
                    // The span ends at the comment's last visible character, as the
                    // spans of the code around it do (see `Lowerer::span`).
                    let mut last = end;
                    while last > i + 1 && matches!(bytes[last - 1], b' ' | b'\t' | b'\r') {
                        last -= 1;
                    }
                    out.comments.push(Comment {
                        span: Span::new(i, last),
                    });
                    i = end;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    out.error = Some(diag::interpolation_outside_string(Span::new(i, i + 2)));
                    return out;
                }
                b'"' => {
                    let triple = bytes[i..].starts_with(b"\"\"\"");
                    if let Some(error) = push(&mut stack, Frame::Str { at: i, triple }, i, 1) {
                        out.error = Some(error);
                        return out;
                    }
                    i += if triple { 3 } else { 1 };
                }
                b'{' | b'[' | b'(' => {
                    if let Some(error) = push(&mut stack, Frame::Delim { ch: b, at: i }, i, 1) {
                        out.error = Some(error);
                        return out;
                    }
                    i += 1;
                }
                b'}' | b']' | b')' => {
                    match top {
                        Some(Frame::Interp { .. }) if b == b'}' => {
                            stack.pop();
                        }
                        Some(Frame::Delim { ch, at }) if ch == opening_of(b) => {
                            stack.pop();
                            if b == b'}'
                                && suspect.is_none()
                                && indent_of(bytes, at) != indent_of(bytes, i)
                            {
                                let line = 1 + bytes[..i].iter().filter(|c| **c == b'\n').count();
                                suspect = Some((Span::new(at, at + 1), line));
                            }
                        }
                        Some(Frame::Delim { ch, at }) => {
                            out.error = Some(diag::unexpected_delimiter(
                                Span::new(i, i + 1),
                                b as char,
                                Some((Span::new(at, at + 1), ch as char)),
                            ));
                            return out;
                        }
                        Some(Frame::Interp { at }) => {
                            out.error = Some(diag::unexpected_delimiter(
                                Span::new(i, i + 1),
                                b as char,
                                Some((Span::new(at, at + 2), '{')),
                            ));
                            return out;
                        }
                        _ => {
                            out.error = Some(diag::unexpected_delimiter(
                                Span::new(i, i + 1),
                                b as char,
                                None,
                            ));
                            return out;
                        }
                    }
                    i += 1;
                }
                b'\n' | b'\r' => {
                    if let Some(at) = innermost_interp(&stack) {
                        out.error = Some(diag::unterminated_interpolation(Span::new(at, at + 2)));
                        return out;
                    }
                    i += 1;
                }
                b'\t' => {
                    out.tabs.push(i);
                    i += 1;
                }
                _ => i = skip(bytes, i + 1, &CODE_STOPS),
            },
        }
    }
    if let Some(frame) = stack.last() {
        out.error = Some(match *frame {
            Frame::Str { at, triple } => {
                if let Some(interp) = innermost_interp(&stack) {
                    diag::unterminated_interpolation(Span::new(interp, interp + 2))
                } else {
                    diag::unterminated_string(
                        Span::new(at, if triple { at + 3 } else { line_end(bytes, at) }),
                        triple,
                    )
                }
            }
            Frame::Interp { at } => diag::unterminated_interpolation(Span::new(at, at + 2)),
            Frame::Delim { .. } => {
                // Report the outermost unclosed delimiter: an inner one left open shifts
                // every later `}` by one, so the outermost is what remains at the end.
                let (ch, at) = stack
                    .iter()
                    .find_map(|f| match f {
                        Frame::Delim { ch, at } => Some((*ch, *at)),
                        _ => None,
                    })
                    .unwrap_or((b'{', 0));
                let hint = suspect.filter(|(span, _)| ch == b'{' && span.start > at);
                diag::unclosed_delimiter(Span::new(at, at + 1), ch as char, hint)
            }
        });
    }
    out
}

/// A table of the bytes that end a run of plain text.
const fn stops(bytes: &[u8], controls: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    if controls {
        let mut c = 0;
        while c < 0x20 {
            table[c] = c != b'\t' as usize;
            c += 1;
        }
    }
    table
}

/// Bytes the code arm acts on: everything else is skipped in a tight loop.
const CODE_STOPS: [bool; 256] = stops(b"#$\"{[(}])\n\r\t", false);
/// Bytes a one-line string's arm acts on (control characters are refused there).
const LINE_STOPS: [bool; 256] = stops(b"\\\"$", true);
/// Bytes a multi-line string's arm acts on.
const TRIPLE_STOPS: [bool; 256] = stops(b"\\\"$", false);

/// The first offset from `from` holding a byte of `stops` (or the end).
fn skip(bytes: &[u8], from: usize, stops: &[bool; 256]) -> usize {
    let mut i = from;
    while i < bytes.len() && !stops[bytes[i] as usize] {
        i += 1;
    }
    i
}

fn push(stack: &mut Vec<Frame>, frame: Frame, at: usize, len: usize) -> Option<Diagnostic> {
    if stack.len() >= MAX_NESTING {
        return Some(diag::nesting_too_deep(Span::new(at, at + len), MAX_NESTING));
    }
    stack.push(frame);
    None
}

/// A newline inside a line string: blame the interpolation if the string sits in one.
fn unterminated(stack: &[Frame], string_at: usize, newline_at: usize) -> Diagnostic {
    let below = &stack[..stack.len().saturating_sub(1)];
    match innermost_interp(below) {
        Some(at) => diag::unterminated_interpolation(Span::new(at, at + 2)),
        None => diag::unterminated_string(Span::new(string_at, newline_at), false),
    }
}

fn innermost_interp(stack: &[Frame]) -> Option<usize> {
    stack.iter().rev().find_map(|f| match f {
        Frame::Interp { at } => Some(*at),
        _ => None,
    })
}

fn opening_of(close: u8) -> u8 {
    match close {
        b'}' => b'{',
        b']' => b'[',
        _ => b'(',
    }
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n' || *b == b'\r')
        .map_or(bytes.len(), |p| from + p)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    memchr_newline(bytes, from)
}

/// The indentation (leading spaces/tabs) of the line holding `offset`.
fn indent_of(bytes: &[u8], offset: usize) -> usize {
    let start = bytes[..offset]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    bytes[start..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;

    fn code(text: &str) -> Option<Code> {
        scan(text).error.map(|d| d.code)
    }

    #[test]
    fn clean_text_has_no_error_and_records_comments() {
        let s = scan("# top\nstage \"a # not a comment\" { # trailing\n}\n");
        assert!(s.error.is_none());
        assert_eq!(s.comments.len(), 2);
        assert_eq!(s.comments[0].span, Span::new(0, 5));
    }

    #[test]
    fn structural_errors_get_their_codes() {
        assert_eq!(code("x = \"abc\n"), Some(Code::UnterminatedString));
        assert_eq!(code("x = \"abc"), Some(Code::UnterminatedString));
        assert_eq!(
            code("x = \"${name\"\n"),
            Some(Code::UnterminatedInterpolation)
        );
        assert_eq!(code("x = \"${\n"), Some(Code::UnterminatedInterpolation));
        assert_eq!(code("x = \"\"\"abc\n"), Some(Code::UnterminatedString));
        assert_eq!(code("stage \"a\" {\n"), Some(Code::UnclosedDelimiter));
        assert_eq!(code("}"), Some(Code::UnexpectedDelimiter));
        assert_eq!(code("x = [1, 2}"), Some(Code::UnexpectedDelimiter));
    }

    /// Plain text is skipped a run at a time: what ends a run is still found wherever it
    /// stands (a lone `$`, a `"` inside a multi-line string, a tab or a control byte
    /// after long text).
    #[test]
    fn runs_of_plain_text_hide_nothing() {
        let long = "a".repeat(300);
        let text = format!(
            "x = \"{long}$b ${{c}} d\"\ny = \"\"\"{long} \" \"\" ${{z}}\"\"\"\n{long}\t= 1 # {long}\n"
        );
        let s = scan(&text);
        assert!(s.error.is_none(), "{:?}", s.error);
        assert_eq!(s.tabs, vec![text.find('\t').expect("tab")]);
        assert_eq!(s.comments.len(), 1);
        let bad = format!("x = \"{long}\u{7}\"\n");
        let d = scan(&bad).error.expect("refused");
        assert_eq!(d.code, Code::ControlCharacter);
        assert_eq!(d.span.start, bad.find('\u{7}').expect("bel"));
    }

    #[test]
    fn escapes_do_not_end_strings() {
        assert!(scan("x = \"a \\\" b\"\n").error.is_none());
        assert!(scan("x = \"\\${not interp\"\n").error.is_none());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "{".repeat(10_000);
        let d = scan(&deep).error.expect("error");
        assert_eq!(d.code, Code::NestingTooDeep);
        assert_eq!(d.span.start, MAX_NESTING);
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(scan(&ok).error.is_none());
    }

    #[test]
    fn unclosed_brace_hint_points_at_misindented_block() {
        let text = "stage \"a\" {\n  probe http \"x\" {\n    timeout 1s\n}\n";
        let d = scan(text).error.expect("error");
        assert_eq!(d.code, Code::UnclosedDelimiter);
        assert_eq!(d.span.start, 10);
        assert_eq!(d.related.len(), 1);
        assert_eq!(d.related[0].span.start, text.find("{\n    ").unwrap_or(0));
    }
}
