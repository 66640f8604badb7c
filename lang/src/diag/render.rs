//! Rendering diagnostics for people (miette's graphical reports) and the positions
//! tools need (line and column).

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SpanContents,
};

use super::{Diagnostic, Severity};
use crate::source::{LineCol, SourceFile, SourceMap};

/// Lines longer than this are not shown in a snippet.
pub const MAX_SNIPPET_LINE: usize = 1_000;

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
    let empty = SourceFile::new(diagnostic.file, "<unknown>", "");
    let file = sources
        .get(diagnostic.file)
        .filter(|_| diagnostic.located)
        .unwrap_or(&empty);
    let path = file.path.clone();
    // A snippet of a very long line (generated or minified input) would be a wall of
    // text: give the position in words instead.
    let line = file.line_of(diagnostic.span.start);
    let (line_start, line_end) = file.lines_range(line, line);
    let snippet = diagnostic.located && line_end - line_start <= MAX_SNIPPET_LINE;
    let mut located;
    let diagnostic = if snippet || !diagnostic.located {
        diagnostic
    } else {
        let (at, _) = positions(diagnostic, sources);
        located = diagnostic.clone();
        located.help = Some(format!(
            "at {path}:{}:{} ({}; the line is too long to show){}",
            at.line,
            at.column,
            diagnostic.label,
            diagnostic
                .help
                .as_ref()
                .map(|h| format!("\n{h}"))
                .unwrap_or_default()
        ));
        &located
    };
    let adapter = Adapter {
        diagnostic,
        source: snippet.then_some(Window { file, name: path }),
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
    source: Option<Window<'a>>,
}

/// The source as miette reads it, one window of lines at a time: miette's own reader
/// counts lines from the start of the text for every snippet, which made rendering
/// quadratic in the number of diagnostics; the line index finds the window at once.
struct Window<'a> {
    file: &'a SourceFile,
    name: String,
}

impl SourceCode for Window<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        // Never the raw bytes of a control character: a runbook under review must not
        // drive the reviewer's terminal through its own error messages.
        let text = self.file.shown();
        let start = span.offset().min(text.len());
        let end = (span.offset() + span.len()).min(text.len());
        // One line more on each side than asked: miette's reader counts a context line by
        // the break that ends it.
        let first = self.file.line_of(start).saturating_sub(before + 1);
        let last = self.file.line_of(end.saturating_sub(1).max(start)) + after + 1;
        let (from, to) = self.file.lines_range(first, last);
        let to = (to + 1).min(text.len());
        let window = &text.as_bytes()[from..to.max(from)];
        let local = miette::SourceSpan::new((start - from.min(start)).into(), end - start);
        let contents = window.read_span(&local, before, after)?;
        let data: &'b [u8] = contents.data();
        let offset = data.as_ptr() as usize - window.as_ptr() as usize + from;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            data,
            miette::SourceSpan::new(offset.into(), data.len()),
            contents.line() + first,
            contents.column(),
            contents.line_count() + first,
        )))
    }
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
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
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
