//! Rendering diagnostics for people (miette's graphical reports) and the positions
//! tools need (line and column).

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use super::{Diagnostic, Severity};
use crate::source::{LineCol, SourceMap};

/// How to render.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// Use ANSI colours.
    pub color: bool,
    /// Wrap width in columns.
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 100,
        }
    }
}

/// A diagnostic rendered as a graphical report with its source snippet.
pub fn human(diagnostic: &Diagnostic, sources: &SourceMap, options: RenderOptions) -> String {
    let (path, text): (String, Arc<str>) = match sources.get(diagnostic.file) {
        Some(file) => (file.path.clone(), file.text.clone()),
        None => (String::from("<unknown>"), Arc::from("")),
    };
    let adapter = Adapter {
        diagnostic,
        source: NamedSource::new(path, text),
    };
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &adapter).is_err() {
        out = format!("{}: {}\n", diagnostic.code, diagnostic.message);
    }
    out
}

/// Start and end (inclusive of the last character) positions of a diagnostic.
pub fn positions(diagnostic: &Diagnostic, sources: &SourceMap) -> (LineCol, LineCol) {
    match sources.get(diagnostic.file) {
        Some(file) => (
            file.line_col(diagnostic.span.start),
            file.line_col(diagnostic.span.end.max(diagnostic.span.start)),
        ),
        None => (
            LineCol { line: 1, column: 1 },
            LineCol { line: 1, column: 1 },
        ),
    }
}

struct Adapter<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<Arc<str>>,
}

impl fmt::Debug for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.fmt(f)
    }
}

impl fmt::Display for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Adapter<'_> {}

impl miette::Diagnostic for Adapter<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "{} {}",
            self.diagnostic.code,
            self.diagnostic.code.slug()
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            Some(self.diagnostic.label.clone()),
            self.diagnostic.span,
        );
        let related = self
            .diagnostic
            .related
            .iter()
            .map(|l| LabeledSpan::new_with_span(Some(l.text.clone()), l.span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}
