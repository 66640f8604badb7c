//! Diagnostics: one type for every phase (parse, check, plan, saved plans), one table of
//! codes ([`Code`]), and the messages themselves, written here (in `parse.rs`,
//! `check.rs`, `plan.rs` and `run.rs`) rather than where a problem is found, so wording stays
//! consistent and reviewable in one place. A diagnostic points at a span of a runbook, or
//! at nothing when the problem is about the command line or a saved plan
//! ([`Diagnostic::unlocated`]); one renderer shows both.

mod check;
mod codes;
mod parse;
pub mod plan;
pub mod render;
pub mod run;

pub use check::*;
pub use codes::Code;
pub use parse::*;

use crate::ast::Span;
use crate::source::FileId;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational; never fails anything.
    Advice,
    /// Fails `ops check` only with `--deny-warnings`.
    Warning,
    /// Fails `ops check`.
    Error,
}

impl Severity {
    /// `error`, `warning` or `advice`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "advice",
        }
    }
}

/// A secondary label: another place that explains the primary one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there.
    pub text: String,
}

/// One problem found in a runbook, with a code, a span, a label and usually help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning (from the code table).
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The file the span is in.
    pub file: FileId,
    /// The primary location.
    pub span: Span,
    /// What to say at the primary location.
    pub label: String,
    /// Other locations in the same file.
    pub related: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// False when the problem has no place in a runbook (`file` and `span` mean nothing).
    pub located: bool,
}

impl Diagnostic {
    /// A diagnostic about no place in a runbook (a `--set` name, a saved plan).
    pub fn unlocated(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            located: false,
            ..Diagnostic::new(code, Span::at(0), message, "")
        }
    }

    /// Places the diagnostic at `span` when there is one.
    pub fn at(self, span: Option<Span>) -> Self {
        match span {
            Some(span) => Diagnostic {
                span,
                located: true,
                ..self
            },
            None => Diagnostic {
                located: false,
                ..self
            },
        }
    }

    /// A diagnostic with `code` at `span`; the file is set by the phase that reports it.
    pub fn new(
        code: Code,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            file: FileId::default(),
            span,
            label: label.into(),
            related: Vec::new(),
            help: None,
            located: true,
        }
    }

    /// Adds help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds help text when there is some.
    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Adds a secondary label.
    pub fn with_related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Sets the file the spans point into.
    pub fn in_file(mut self, file: FileId) -> Self {
        self.file = file;
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest candidate to `name`, for "did you mean" help.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(name, candidate);
        let close =
            score > 0.8 || strsim::damerau_levenshtein(name, candidate) <= name.len().clamp(1, 2);
        if close && best.is_none_or(|(_, s)| score > s) {
            best = Some((candidate, score));
        }
    }
    best.map(|(c, _)| c)
}

/// "did you mean `x`?" when a close candidate exists.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// A readable list: "`a`, `b` or `c`".
pub fn one_of<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match quoted.len() {
        0 => String::from("nothing"),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
