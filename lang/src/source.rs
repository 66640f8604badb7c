//! Source files: their text, display path and a line index for line/column positions.

use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// One loaded source file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Its id in the map.
    pub id: FileId,
    /// The path as shown to users.
    pub path: String,
    /// The text (lossily decoded when the file is not UTF-8, for display only).
    pub text: Arc<str>,
    line_starts: Vec<usize>,
    /// The text as snippets show it, when it holds characters that drive a terminal;
    /// found out when the first snippet is shown.
    shown: std::sync::OnceLock<Option<String>>,
}

/// True for characters that can change how a terminal shows what follows: C0 controls
/// but tab and line feed, DEL, C1 controls, and the Unicode bidirectional marks,
/// overrides and isolates that reorder text on screen.
pub fn drives_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every byte of each character that drives a terminal (a carriage return
/// before a line feed excepted) replaced by `?`, so that every offset stays where it was;
/// `None` when it has none.
fn shown(text: &str) -> Option<String> {
    let dangerous = |(i, c): &(usize, char)| {
        drives_terminal(*c) && !(*c == '\r' && text.as_bytes().get(i + 1) == Some(&b'\n'))
    };
    if !text.char_indices().any(|ic| dangerous(&ic)) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if dangerous(&(i, c)) {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// A 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl SourceFile {
    /// A source file with a precomputed line index.
    pub fn new(id: FileId, path: impl Into<String>, text: impl Into<Arc<str>>) -> SourceFile {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        SourceFile {
            id,
            path: path.into(),
            shown: std::sync::OnceLock::new(),
            text,
            line_starts,
        }
    }

    /// The text as a snippet shows it: the same bytes, but each character that would
    /// drive the terminal (an escape pasted into a string) as `?`.
    pub fn shown(&self) -> &str {
        self.shown
            .get_or_init(|| shown(&self.text))
            .as_deref()
            .unwrap_or(&self.text)
    }

    /// The 0-based line holding a byte offset (clamped to the text).
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Byte range of 0-based lines `first..=last` (clamped), without the last line break.
    pub fn lines_range(&self, first: usize, last: usize) -> (usize, usize) {
        let last = last.min(self.line_starts.len() - 1);
        let first = first.min(last);
        let start = self.line_starts[first];
        let end = self
            .line_starts
            .get(last + 1)
            .map_or(self.text.len(), |next| next - 1);
        (start, end.max(start))
    }

    /// The line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        LineCol {
            line: line + 1,
            column: column + 1,
        }
    }
}

/// All files of one check or run: the runbook, its includes and called runbooks.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<Arc<str>>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(id, path, text));
        id
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }
}
