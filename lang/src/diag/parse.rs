//! Messages of the parse phase (`OPS1xxx`).

use super::{Code, Diagnostic};
use crate::ast::Span;

/// Bytes that are not UTF-8.
pub fn invalid_utf8(offset: usize, len: usize) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidUtf8,
        Span::new(offset, offset + len.max(1)),
        "file is not valid UTF-8",
        "invalid byte sequence here",
    )
    .with_help(
        "runbooks are UTF-8 text; re-save the file as UTF-8 or check that it is a runbook at all",
    )
}

/// A NUL byte: binary data, not a runbook.
pub fn binary_file(offset: usize) -> Diagnostic {
    Diagnostic::new(
        Code::BinaryFile,
        Span::new(offset, offset + 1),
        "file looks binary: it contains a NUL byte",
        "NUL byte here",
    )
    .with_help("runbooks are text files; check that the path points at a `.rb.ops` runbook")
}

/// A file over the size limit.
pub fn file_too_large(size: usize, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        Span::at(0),
        format!(
            "file is too large to be a runbook: {} bytes, the limit is {} bytes ({} MiB)",
            size,
            limit,
            limit / (1024 * 1024)
        ),
        "file starts here",
    )
    .with_help("split the runbook: `include` shared definitions and `call` other runbooks")
}

/// An empty (or whitespace-only) file.
pub fn empty_file() -> Diagnostic {
    Diagnostic::new(Code::EmptyFile, Span::at(0), "file is empty: it has no statements", "nothing here")
        .with_help("a runbook starts with `runbook \"id\" { title = \"...\" owner = \"...\" }`, followed by its steps")
}

/// The parser could not continue.
pub fn syntax_error(span: Span, expected: &str, found: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::new(
        Code::SyntaxError,
        span,
        format!("syntax error: expected {expected}, found {found}"),
        format!("expected {expected}"),
    )
    .with_optional_help(help)
}

/// `a == b == c`.
pub fn chained_comparison(at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::SyntaxError,
        at,
        "comparisons cannot be chained",
        "second comparison",
    )
    .with_help("combine comparisons with `and`: `a < b and b < c`")
}

/// `${` in code, outside any string.
pub fn interpolation_outside_string(at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::SyntaxError,
        at,
        "`${...}` interpolation is only allowed inside a string",
        "outside a string",
    )
    .with_help("write the name on its own (`value = name`) or inside a string (`\"${name}/api\"`)")
}

/// A control character (other than a tab) written as it is inside a one-line string.
pub fn control_character(at: Span, byte: u8) -> Diagnostic {
    Diagnostic::new(
        Code::ControlCharacter,
        at,
        format!("control character U+{byte:04X} in a string"),
        "written as it is",
    )
    .with_help(format!(
        "write it as an escape (`\\u{{{byte:x}}}`), or use a multi-line `\"\"\"` string for line breaks"
    ))
}

/// A string whose closing quote is missing.
pub fn unterminated_string(open: Span, multiline: bool) -> Diagnostic {
    if multiline {
        Diagnostic::new(
            Code::UnterminatedString,
            open,
            "unterminated multi-line string",
            "this `\"\"\"` is never closed",
        )
        .with_help("close the string with `\"\"\"`")
    } else {
        Diagnostic::new(
            Code::UnterminatedString,
            open,
            "unterminated string",
            "this string is not closed before the end of the line",
        )
        .with_help("close the string with `\"`; for text over several lines use a `\"\"\"` multi-line string")
    }
}

/// `${` without its `}`.
pub fn unterminated_interpolation(open: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UnterminatedInterpolation,
        open,
        "unterminated interpolation: `${` is never closed by `}`",
        "interpolation starts here",
    )
    .with_help("close it with `}` before the string's closing quote; to write a literal `${`, escape the dollar: `\\${`")
}

/// An opening delimiter without its closing partner.
pub fn unclosed_delimiter(
    open: Span,
    open_char: char,
    suspect: Option<(Span, usize)>,
) -> Diagnostic {
    let close = closing_of(open_char);
    let diagnostic = Diagnostic::new(
        Code::UnclosedDelimiter,
        open,
        format!("unclosed `{open_char}`: the file ends before its `{close}`"),
        format!("this `{open_char}` is never closed"),
    )
    .with_help(format!("add the missing `{close}`"));
    match suspect {
        Some((span, line)) => diagnostic.with_related(
            span,
            format!("perhaps this `{{` is the one left open: the `}}` that closes it (line {line}) is indented differently"),
        ),
        None => diagnostic,
    }
}

/// A closing delimiter that closes nothing, or the wrong thing.
pub fn unexpected_delimiter(at: Span, found: char, open: Option<(Span, char)>) -> Diagnostic {
    match open {
        Some((open_span, open_char)) => Diagnostic::new(
            Code::UnexpectedDelimiter,
            at,
            format!("mismatched `{found}`: expected `{}`", closing_of(open_char)),
            format!("`{found}` does not close the `{open_char}`"),
        )
        .with_related(open_span, format!("`{open_char}` opened here"))
        .with_help(format!(
            "close the `{open_char}` with `{}` first",
            closing_of(open_char)
        )),
        None => Diagnostic::new(
            Code::UnexpectedDelimiter,
            at,
            format!("unexpected `{found}`: nothing is open here"),
            "this closes nothing",
        )
        .with_help("remove it, or add the opening delimiter it belongs to"),
    }
}

/// Nesting deeper than the limit.
pub fn nesting_too_deep(at: Span, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::NestingTooDeep,
        at,
        format!("nesting too deep: more than {limit} levels of blocks, brackets, strings and interpolations"),
        "this level is one too many",
    )
    .with_help("flatten the runbook: split deep structures into stages or `call` another runbook")
}

/// An escape sequence that is not one of the known ones.
pub fn invalid_escape(at: Span, text: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidEscape,
        at,
        format!("unknown escape `{text}` in a string"),
        "not an escape",
    )
    .with_help("known escapes: `\\n`, `\\t`, `\\r`, `\\\\`, `\\\"`, `\\$` and `\\u{1F600}`; to write a backslash, double it")
}

/// A number that does not fit.
pub fn invalid_number(at: Span, text: &str, reason: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidNumber,
        at,
        format!("invalid number `{text}`: {reason}"),
        "this number",
    )
    .with_help("integers are 64-bit signed, floats must be finite, and durations and sizes must fit in 64 bits")
}

/// A duration or size with an unknown unit.
pub fn invalid_unit(at: Span, unit: &str, suggestion: Option<&str>) -> Diagnostic {
    let help = match suggestion {
        Some(s) => format!(
            "did you mean `{s}`? Durations use ms, s, m, h, d, w (e.g. `1h30m`); sizes use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB"
        ),
        None => String::from(
            "durations use ms, s, m, h, d, w (e.g. `1h30m`); sizes use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB",
        ),
    };
    Diagnostic::new(
        Code::InvalidUnit,
        at,
        format!("unknown unit `{unit}`"),
        "not a duration or size unit",
    )
    .with_help(help)
}

/// A size written with several units (`1GiB512MiB`).
pub fn combined_size(at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidUnit,
        at,
        "a size has a single unit",
        "second unit",
    )
    .with_help("write the size in one unit, e.g. `1536MiB` instead of `1GiB512MiB`; only durations combine units (`1h30m`)")
}

/// An expression nested deeper than the limit.
pub fn expression_too_complex(at: Span, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::ExpressionTooComplex,
        at,
        format!("expression too complex: nested more than {limit} levels deep"),
        "this expression",
    )
    .with_help("runbooks are declarative: split the condition into `let` bindings")
}

/// A reserved word used as a name.
pub fn reserved_word(at: Span, word: &str) -> Diagnostic {
    Diagnostic::new(
        Code::ReservedWord,
        at,
        format!("`{word}` is a reserved word and cannot be used as a name"),
        "reserved word",
    )
    .with_help(format!("choose another name, e.g. `{word}_`"))
}

/// The grammar and the lowering disagree: a bug in ops, not in the runbook.
pub fn internal_error(at: Span, detail: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InternalError,
        at,
        format!("internal error while reading the runbook: {detail}"),
        "ops could not understand this part",
    )
    .with_help("this is a bug in ops, not in your runbook; please report it with this file")
}

fn closing_of(open: char) -> char {
    match open {
        '{' => '}',
        '[' => ']',
        '(' => ')',
        other => other,
    }
}
