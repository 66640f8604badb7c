//! Run reporters: terminal progress, JSON Lines, JUnit XML and a Markdown run report.

mod junit;
mod markdown;
mod spinners;
mod terminal;

pub use junit::Junit;
pub use markdown::MarkdownReport;
pub use spinners::Spinners;
pub use terminal::Terminal;

pub(crate) use crate::fs::write_atomic;

use std::io::Write;

use crate::event::{Event, Reporter};

/// `--format json`: one event per line on standard output, flushed as it happens.
pub struct JsonLines<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonLines<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }
}

impl<W: Write + Send> Reporter for JsonLines<W> {
    fn event(&mut self, event: &Event) {
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }
}
