//! Check reports: human (graphical), JSON (versioned), GitHub Actions annotations.

use lang::Severity;
use lang::diag::render::{self, RenderOptions};

use crate::check::Outcome;

/// Version of the JSON report schema; bumped on any incompatible change.
pub const JSON_VERSION: u32 = 1;

/// Totals over all checked files.
pub struct Summary {
    /// Files checked.
    pub files: usize,
    /// Errors found.
    pub errors: usize,
    /// Warnings found.
    pub warnings: usize,
}

impl Summary {
    /// Counts the outcomes.
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let count = |s: Severity| {
            outcomes
                .iter()
                .flat_map(|o| &o.diagnostics)
                .filter(|d| d.severity == s)
                .count()
        };
        Summary {
            files: outcomes.len(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
        }
    }

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

/// Graphical reports on stdout (at most [`MAX_SHOWN`] per file), then the summary line.
pub fn human(outcomes: &[Outcome], summary: &Summary, color: bool) {
    let options = RenderOptions {
        color,
        width: crate::term::width(),
    };
    let mut out = String::new();
    for outcome in outcomes {
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
    }
    out.push_str(&summary.line());
    out.push('\n');
    print!("{out}");
}

/// One JSON document on stdout.
pub fn json(outcomes: &[Outcome], summary: &Summary) {
    let mut diagnostics = Vec::new();
    let mut files = Vec::new();
    for outcome in outcomes {
        let sources = &outcome.program.sources;
        let count = |s: Severity| {
            outcome
                .diagnostics
                .iter()
                .filter(|d| d.severity == s)
                .count()
        };
        files.push(serde_json::json!({
            "path": outcome.path,
            "kind": outcome.kind.map(|k| match k {
                lang::check::FileKind::Runbook => "runbook",
                lang::check::FileKind::Library => "library",
            }),
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
        }));
        for d in &outcome.diagnostics {
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
            diagnostics.push(serde_json::json!({
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
            }));
        }
    }
    let doc = serde_json::json!({
        "version": JSON_VERSION,
        "tool": "ops",
        "files": files,
        "diagnostics": diagnostics,
        "summary": { "files": summary.files, "errors": summary.errors, "warnings": summary.warnings },
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}

/// GitHub Actions workflow commands, one per diagnostic.
pub fn github(outcomes: &[Outcome]) {
    let mut out = String::new();
    for outcome in outcomes {
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
    print!("{out}");
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
