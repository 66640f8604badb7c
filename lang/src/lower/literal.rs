//! Lowering of literals: numbers, durations, sizes and strings (escapes, `${}`,
//! and the indentation rule of `"""` multi-line strings).

use std::time::Duration;

use pest::iterators::Pair;

use super::cursor::Cursor;
use super::{Lowerer, R};
use crate::ast::*;
use crate::diag;
use crate::parse::Rule;

/// Duration units and their length in milliseconds.
pub const DURATION_UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// Size units and their length in bytes.
pub const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
    ("TB", 1_000_000_000_000),
    ("TiB", 1 << 40),
];

/// Words people write for units, and the unit they mean.
const UNIT_ALIASES: &[(&str, &str)] = &[
    ("msec", "ms"),
    ("sec", "s"),
    ("secs", "s"),
    ("second", "s"),
    ("seconds", "s"),
    ("min", "m"),
    ("mins", "m"),
    ("minute", "m"),
    ("minutes", "m"),
    ("hr", "h"),
    ("hrs", "h"),
    ("hour", "h"),
    ("hours", "h"),
    ("day", "d"),
    ("days", "d"),
    ("week", "w"),
    ("weeks", "w"),
];

/// One `(number, unit)` piece of a quantity.
struct Piece<'a> {
    number: &'a str,
    unit: &'a str,
    unit_span: Span,
}

fn split_quantity(text: &str, base: usize) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let num_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        pieces.push(Piece {
            number: &text[num_start..unit_start],
            unit: &text[unit_start..i],
            unit_span: Span::new(base + unit_start, base + i),
        });
    }
    pieces
}

/// The unit a mistyped one probably meant.
fn unit_suggestion(unit: &str) -> Option<&'static str> {
    if let Some((_, to)) = UNIT_ALIASES
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(unit))
    {
        return Some(to);
    }
    let all = DURATION_UNITS.iter().chain(SIZE_UNITS).map(|(u, _)| *u);
    all.clone()
        .find(|u| u.eq_ignore_ascii_case(unit))
        .or_else(|| diag::suggest(unit, all))
}

impl Lowerer<'_> {
    /// `quantity`: a duration (`1h30m`) or a size (`10MiB`).
    pub(crate) fn lower_quantity(&mut self, pair: Pair<'_, Rule>) -> ExprKind {
        let span = self.span(&pair);
        let pieces = split_quantity(pair.as_str(), span.start);
        let size_unit = |u: &str| SIZE_UNITS.iter().find(|(n, _)| *n == u).map(|(_, b)| *b);
        let duration_unit = |u: &str| {
            DURATION_UNITS
                .iter()
                .find(|(n, _)| *n == u)
                .map(|(_, b)| *b)
        };
        if let [piece] = pieces.as_slice()
            && let Some(bytes) = size_unit(piece.unit)
        {
            return match piece
                .number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(bytes))
            {
                Some(total) => ExprKind::Size(total),
                None => {
                    self.diags.push(diag::invalid_number(
                        span,
                        pair.as_str(),
                        "the size does not fit in 64 bits",
                    ));
                    ExprKind::Size(0)
                }
            };
        }
        if pieces.len() > 1
            && let Some(piece) = pieces.iter().find(|p| size_unit(p.unit).is_some())
        {
            self.diags.push(diag::combined_size(piece.unit_span));
            return ExprKind::Size(0);
        }
        let mut total_ms: u64 = 0;
        for piece in &pieces {
            let Some(unit_ms) = duration_unit(piece.unit) else {
                self.diags.push(diag::invalid_unit(
                    piece.unit_span,
                    piece.unit,
                    unit_suggestion(piece.unit),
                ));
                return ExprKind::Duration(Duration::ZERO);
            };
            let part = piece
                .number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(unit_ms));
            match part.and_then(|p| total_ms.checked_add(p)) {
                Some(t) => total_ms = t,
                None => {
                    self.diags.push(diag::invalid_number(
                        span,
                        pair.as_str(),
                        "the duration is too long",
                    ));
                    return ExprKind::Duration(Duration::ZERO);
                }
            }
        }
        ExprKind::Duration(Duration::from_millis(total_ms))
    }

    /// `int`, with `_` separators.
    pub(crate) fn lower_int(&mut self, pair: Pair<'_, Rule>) -> ExprKind {
        let digits: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        match digits.parse::<i64>() {
            Ok(n) => ExprKind::Int(n),
            Err(_) => {
                self.diags.push(diag::invalid_number(
                    self.span(&pair),
                    pair.as_str(),
                    "it does not fit in a 64-bit integer",
                ));
                ExprKind::Int(0)
            }
        }
    }

    /// `float`.
    pub(crate) fn lower_float(&mut self, pair: Pair<'_, Rule>) -> ExprKind {
        match pair.as_str().parse::<f64>() {
            Ok(f) if f.is_finite() => ExprKind::Float(f),
            _ => {
                self.diags.push(diag::invalid_number(
                    self.span(&pair),
                    pair.as_str(),
                    "it is not a finite number",
                ));
                ExprKind::Float(0.0)
            }
        }
    }

    /// `string`: a line string or a `"""` multi-line string.
    pub(crate) fn lower_string(&mut self, pair: Pair<'_, Rule>) -> R<StrLit> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let inner = c.next_any()?;
        c.finish()?;
        let multiline = match inner.as_rule() {
            Rule::line_string => false,
            Rule::triple_string => true,
            other => {
                return Err(diag::internal_error(
                    span,
                    &format!("expected a string, found {other:?}"),
                ));
            }
        };
        let mut ic = Cursor::of(&inner);
        if !multiline {
            // Most strings are plain text, or empty: one part (or none), nothing to join.
            if ic.peek_rule().is_none() {
                return Ok(StrLit {
                    parts: Vec::new(),
                    multiline,
                    span,
                });
            }
            let mut ahead = ic.clone();
            if let (Some(text), None) = (ahead.take(Rule::line_text), ahead.peek_rule()) {
                let text_span = self.span(&text);
                return Ok(StrLit {
                    parts: vec![StrPart::Text(text.as_str().to_string(), text_span)],
                    multiline,
                    span,
                });
            }
        }
        let mut pieces = Vec::new();
        while let Some(rule) = ic.peek_rule() {
            let part = ic.next(rule)?;
            let part_span = self.span(&part);
            match rule {
                Rule::line_text | Rule::triple_text => {
                    pieces.push(Raw::Text(part.as_str().to_string(), part_span))
                }
                Rule::escape => pieces.push(Raw::Escape(
                    self.decode_escape(part.as_str(), part_span),
                    part_span,
                )),
                Rule::interp => {
                    let mut pc = Cursor::of(&part);
                    let expr = self.lower_expr(pc.next(Rule::expr)?)?;
                    pc.finish()?;
                    pieces.push(Raw::Interp(expr));
                }
                other => {
                    return Err(diag::internal_error(
                        part_span,
                        &format!("unexpected {other:?} in a string"),
                    ));
                }
            }
        }
        if multiline {
            dedent(&mut pieces);
        }
        Ok(StrLit {
            parts: join(pieces),
            multiline,
            span,
        })
    }

    fn decode_escape(&mut self, text: &str, span: Span) -> String {
        let decoded = match text {
            "\\n" => Some('\n'),
            "\\t" => Some('\t'),
            "\\r" => Some('\r'),
            "\\\\" => Some('\\'),
            "\\\"" => Some('"'),
            "\\$" => Some('$'),
            _ => text
                .strip_prefix("\\u{")
                .and_then(|h| h.strip_suffix('}'))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(ch) => ch.to_string(),
            None => {
                self.diags.push(diag::invalid_escape(span, text));
                String::new()
            }
        }
    }
}

/// A string piece before joining: raw text (still indented), a decoded escape, or `${}`.
enum Raw {
    Text(String, Span),
    Escape(String, Span),
    Interp(Expr),
}

/// The `"""` rule: a line break right after the opening quotes is dropped, a last
/// line holding only spaces before the closing quotes is dropped with its line break,
/// and the common indentation of the non-blank lines is removed.
fn dedent(pieces: &mut [Raw]) {
    if let Some(Raw::Text(text, _)) = pieces.first_mut()
        && let Some(rest) = text
            .strip_prefix("\r\n")
            .or_else(|| text.strip_prefix('\n'))
    {
        *text = rest.to_string();
    }
    if let Some(Raw::Text(text, _)) = pieces.last_mut()
        && let Some(nl) = text.rfind('\n')
        && text[nl + 1..].chars().all(|c| c == ' ' || c == '\t')
    {
        let cut = if nl > 0 && text.as_bytes()[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        text.truncate(cut);
    }
    // Indentation of each line that starts inside a text piece.
    let mut min_indent: Option<usize> = None;
    let mut at_line_start = true;
    for (index, piece) in pieces.iter().enumerate() {
        match piece {
            Raw::Text(text, _) => {
                for (i, line) in text.split('\n').enumerate() {
                    if i > 0 || at_line_start {
                        let indent = line.chars().take_while(|c| *c == ' ' || *c == '\t').count();
                        let is_last_segment = i == text.split('\n').count() - 1;
                        let blank = line.trim().is_empty()
                            && !(is_last_segment && index + 1 < pieces.len());
                        if !blank {
                            min_indent = Some(min_indent.map_or(indent, |m| m.min(indent)));
                        }
                    }
                }
                at_line_start = text.ends_with('\n') || (text.is_empty() && at_line_start);
            }
            Raw::Escape(..) | Raw::Interp(_) => {
                if at_line_start {
                    min_indent = Some(0);
                }
                at_line_start = false;
            }
        }
    }
    let strip = min_indent.unwrap_or(0);
    if strip == 0 {
        return;
    }
    let mut at_line_start = true;
    for piece in pieces.iter_mut() {
        match piece {
            Raw::Text(text, _) => {
                let mut out = String::with_capacity(text.len());
                for (i, line) in text.split('\n').enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    if i > 0 || at_line_start {
                        let remove: usize = line
                            .chars()
                            .take(strip)
                            .take_while(|c| *c == ' ' || *c == '\t')
                            .map(char::len_utf8)
                            .sum();
                        out.push_str(&line[remove..]);
                    } else {
                        out.push_str(line);
                    }
                }
                at_line_start = text.ends_with('\n') || (text.is_empty() && at_line_start);
                *text = out;
            }
            Raw::Escape(..) | Raw::Interp(_) => at_line_start = false,
        }
    }
}

/// Joins adjacent text and escapes into [`StrPart::Text`] parts.
fn join(pieces: Vec<Raw>) -> Vec<StrPart> {
    let mut parts: Vec<StrPart> = Vec::new();
    for piece in pieces {
        match piece {
            Raw::Text(text, span) | Raw::Escape(text, span) => match parts.last_mut() {
                Some(StrPart::Text(prev, prev_span)) => {
                    prev.push_str(&text);
                    *prev_span = prev_span.to(span);
                }
                _ => parts.push(StrPart::Text(text, span)),
            },
            Raw::Interp(expr) => parts.push(StrPart::Interp(expr)),
        }
    }
    parts.retain(|p| !matches!(p, StrPart::Text(t, _) if t.is_empty()));
    parts
}
