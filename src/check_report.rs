//! Check reports: human (graphical), JSON (versioned), GitHub Actions annotations.

use lang::Severity;
use lang::diag::render::{self, RenderOptions};

use crate::check::Outcome;
use crate::cli::Format;

/// Version of the JSON report schema; bumped on any incompatible change.
pub const JSON_VERSION: u32 = 1;

/// Totals over all checked files.
#[derive(Default)]
pub struct Summary {
    /// Files checked.
    pub files: usize,
    /// Errors found.
    pub errors: usize,
    /// Warnings found.
    pub warnings: usize,
}

impl Summary {
    fn line(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        if self.errors == 0 && self.warnings == 0 {
            format!("checked {}: no problems", plural(self.files, "file"))
        } else {
            format!(
                "checked {}: {}, {}",
                plural(self.files, "file"),
                plural(self.errors, "error"),
                plural(self.warnings, "warning")
            )
        }
    }
}

/// Diagnostics shown per file in the human report; JSON and annotations list them all.
pub const MAX_SHOWN: usize = 100;

/// A check report being written, one outcome at a time, in the order of the paths: the
/// human report is printed as it goes; the JSON document and the GitHub annotations
/// keep only what they print, never a program.
pub struct Report {
    format: Format,
    options: RenderOptions,
    summary: Summary,
    /// GitHub annotations, printed after the human report.
    github: Option<String>,
    /// The JSON report's `files` and `diagnostics`.
    files: Vec<serde_json::Value>,
    diagnostics: Vec<serde_json::Value>,
}

impl Report {
    /// An empty report; `github` adds workflow annotations after the human report.
    pub fn new(format: Format, color: bool, github: bool) -> Report {
        Report {
            format,
            options: RenderOptions {
                color,
                width: crate::term::width(),
            },
            summary: Summary::default(),
            github: github.then(String::new),
            files: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Adds one checked file.
    pub fn add(&mut self, outcome: &Outcome) {
        let count = |s: Severity| {
            outcome
                .diagnostics
                .iter()
                .filter(|d| d.severity == s)
                .count()
        };
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        self.summary.files += 1;
        self.summary.errors += errors;
        self.summary.warnings += warnings;
        match self.format {
            Format::Human => print!("{}", human(outcome, self.options)),
            Format::Json => {
                self.files.push(serde_json::json!({
                    "path": outcome.path,
                    "kind": outcome.kind.map(|k| match k {
                        lang::check::FileKind::Runbook => "runbook",
                        lang::check::FileKind::Library => "library",
                    }),
                    "errors": errors,
                    "warnings": warnings,
                }));
                self.diagnostics.extend(json(outcome));
            }
        }
        if let Some(out) = &mut self.github {
            github(outcome, out);
        }
    }

    /// Prints the summary (the JSON document, for JSON) and the annotations.
    pub fn finish(self) -> Summary {
        let summary = self.summary;
        match self.format {
            Format::Human => println!("{}", summary.line()),
            Format::Json => {
                let doc = serde_json::json!({
                    "version": JSON_VERSION,
                    "tool": "ops",
                    "files": self.files,
                    "diagnostics": self.diagnostics,
                    "summary": { "files": summary.files, "errors": summary.errors, "warnings": summary.warnings },
                });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
        }
        if let Some(out) = self.github {
            print!("{out}");
        }
        summary
    }
}

/// A file's graphical reports (at most [`MAX_SHOWN`]).
fn human(outcome: &Outcome, options: RenderOptions) -> String {
    let mut out = String::new();
    for d in outcome.diagnostics.iter().take(MAX_SHOWN) {
        out.push_str(&render::human(d, &outcome.program.sources, options));
        out.push('\n');
    }
    if outcome.diagnostics.len() > MAX_SHOWN {
        out.push_str(&format!(
            "… and {} more in {}; see `ops check --format json` for all of them\n\n",
            outcome.diagnostics.len() - MAX_SHOWN,
            outcome.path
        ));
    }
    out
}

/// A file's diagnostics as JSON objects.
fn json(outcome: &Outcome) -> impl Iterator<Item = serde_json::Value> + '_ {
    let sources = &outcome.program.sources;
    outcome.diagnostics.iter().map(move |d| {
        let (start, end) = render::positions(d, sources);
        let related: Vec<_> = d
            .related
            .iter()
            .map(|l| {
                let pos = sources.get(d.file).map(|f| f.line_col(l.span.start));
                serde_json::json!({
                    "line": pos.map(|p| p.line),
                    "column": pos.map(|p| p.column),
                    "span": { "start": l.span.start, "end": l.span.end },
                    "label": l.text,
                })
            })
            .collect();
        serde_json::json!({
            "code": d.code.to_string(),
            "name": d.code.slug(),
            "severity": d.severity.as_str(),
            "message": d.message,
            "path": outcome.program.path(d.file),
            "line": start.line,
            "column": start.column,
            "end_line": end.line,
            "end_column": end.column,
            "span": { "start": d.span.start, "end": d.span.end },
            "label": d.label,
            "help": d.help,
            "related": related,
        })
    })
}

/// A file's GitHub Actions workflow commands, one per diagnostic.
fn github(outcome: &Outcome, out: &mut String) {
    for d in &outcome.diagnostics {
        let (start, end) = render::positions(d, &outcome.program.sources);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "notice",
        };
        out.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(outcome.program.path(d.file)),
            start.line,
            start.column,
            end.line,
            end.column,
            escape_property(&format!("{} {}", d.code, d.code.slug())),
            escape_data(&d.message),
        ));
    }
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
