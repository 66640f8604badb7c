//! A program: a runbook plus every file it reaches through `include` and `call`,
//! each parsed once. Files are read through the [`Loader`] trait, so this crate stays
//! free of I/O; the CLI reads from disk, tests from memory.

use std::collections::HashMap;

use crate::ast::{Expr, ExprKind, Span, Step, Stmt};
use crate::diag::{self, Diagnostic};
use crate::parse::{self, Parsed};
use crate::schema::Schemas;
use crate::source::{FileId, SourceMap};

/// Reads files for a [`Program`].
pub trait Loader {
    /// The bytes of the file at `path` (a path as produced by [`resolve`]), or why not.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// The extension of the files `include` and `call` may reach.
pub const RUNBOOK_EXTENSION: &str = ".rb.ops";

/// Files nested deeper than this through includes and calls are refused.
pub const MAX_LINK_DEPTH: usize = 32;
/// A program may not load more files than this.
pub const MAX_FILES: usize = 512;

/// One loaded file.
#[derive(Debug)]
pub struct Unit {
    /// Its id in the source map.
    pub id: FileId,
    /// The parse result (its AST is `None` when the file could not be parsed).
    pub parsed: Parsed,
}

/// Where an `include` or `call` path led.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// The file was loaded.
    File(FileId),
    /// It could not be read (the reason).
    Missing {
        /// The resolved path.
        path: String,
        /// Why it could not be read.
        reason: String,
    },
    /// It leads back to a file that is still being loaded (the chain of paths).
    Cycle(Vec<String>),
    /// It does not name a `.rb.ops` file, so it was not read (the resolved path).
    NotRunbook(String),
}

/// Where the first problem of a linked file that does not parse is: what its
/// include or call reports instead of quoting the file (it may be no runbook at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unparsable {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The first problem's code.
    pub code: crate::Code,
    /// How many problems in all.
    pub count: usize,
}

/// A runbook and everything it includes or calls.
#[derive(Debug, Default)]
pub struct Program {
    /// All files' text.
    pub sources: SourceMap,
    /// Parsed files, indexed by [`FileId`].
    pub units: Vec<Unit>,
    /// The file that was asked for.
    pub main: FileId,
    /// Each `include`/`call` path literal, by file and span, and where it led.
    pub links: HashMap<(FileId, Span), Link>,
    /// Linked files that do not parse: their diagnostics are held back (never quoted).
    pub unparsable: HashMap<FileId, Unparsable>,
}

impl Program {
    /// Loads `path` and everything it reaches.
    pub fn load(path: &str, loader: &dyn Loader, schemas: &Schemas) -> Program {
        let mut builder = Builder {
            program: Program::default(),
            loader,
            schemas,
            by_path: HashMap::new(),
            stack: Vec::new(),
        };
        let main = match builder.load(path) {
            Ok(id) => id,
            Err(link) => {
                let reason = match link {
                    Link::Missing { reason, .. } => reason,
                    _ => String::from("cannot be loaded"),
                };
                let id = builder.program.sources.add(path, "");
                builder.program.units.push(Unit {
                    id,
                    parsed: Parsed {
                        ast: None,
                        comments: Vec::new(),
                        diagnostics: vec![diag::unreadable_file(path, &reason).in_file(id)],
                    },
                });
                id
            }
        };
        builder.program.main = main;
        builder.program
    }

    /// The unit with this id.
    pub fn unit(&self, id: FileId) -> Option<&Unit> {
        self.units.get(id.0 as usize)
    }

    /// The display path of a file.
    pub fn path(&self, id: FileId) -> &str {
        self.sources.get(id).map_or("", |f| f.path.as_str())
    }

    /// Parse diagnostics of every loaded file.
    pub fn parse_diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.units.iter().flat_map(|u| u.parsed.diagnostics.iter())
    }

    /// Where the path literal at `span` in `file` led.
    pub fn link(&self, file: FileId, span: Span) -> Option<&Link> {
        self.links.get(&(file, span))
    }
}

/// `rel` resolved against the directory of `base` (a file path), lexically.
pub fn resolve(base: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        return normalize(rel);
    }
    let dir = match base.rfind('/') {
        Some(i) => &base[..=i],
        None => "",
    };
    normalize(&format!("{dir}{rel}"))
}

/// Removes `.` and `name/..` segments without touching the filesystem.
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

struct Builder<'a> {
    program: Program,
    loader: &'a dyn Loader,
    schemas: &'a Schemas,
    by_path: HashMap<String, FileId>,
    stack: Vec<FileId>,
}

impl Builder<'_> {
    fn load(&mut self, path: &str) -> Result<FileId, Link> {
        if let Some(&id) = self.by_path.get(path) {
            if let Some(pos) = self.stack.iter().position(|s| *s == id) {
                let mut chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|f| self.program.path(*f).to_string())
                    .collect();
                chain.push(path.to_string());
                return Err(Link::Cycle(chain));
            }
            return Ok(id);
        }
        if self.stack.len() >= MAX_LINK_DEPTH || self.program.units.len() >= MAX_FILES {
            return Err(Link::Missing {
                path: path.to_string(),
                reason: format!(
                    "too many nested or loaded files (at most {MAX_LINK_DEPTH} deep, {MAX_FILES} in all)"
                ),
            });
        }
        let bytes = self.loader.read(path).map_err(|reason| Link::Missing {
            path: path.to_string(),
            reason,
        })?;
        let (text, parsed) = match parse::decode(&bytes) {
            Ok(text) => (text.to_string(), parse::parse(text)),
            Err(d) => (
                String::from_utf8_lossy(&bytes[..bytes.len().min(parse::MAX_FILE_SIZE)])
                    .into_owned(),
                Parsed {
                    ast: None,
                    comments: Vec::new(),
                    diagnostics: vec![d],
                },
            ),
        };
        let id = self.program.sources.add(path, text);
        let mut parsed = parsed;
        for d in &mut parsed.diagnostics {
            d.file = id;
        }
        // A linked file that does not parse may be no runbook at all (a key, a `.env`
        // reached through a symlink): its problems are summarised at the include or call,
        // never quoted from it.
        if !self.stack.is_empty()
            && let Some(first) = parsed.diagnostics.iter().find(|d| d.is_error())
        {
            let at = self
                .program
                .sources
                .get(id)
                .map(|f| f.line_col(first.span.start));
            self.program.unparsable.insert(
                id,
                Unparsable {
                    line: at.map_or(1, |a| a.line),
                    column: at.map_or(1, |a| a.column),
                    code: first.code,
                    count: parsed.diagnostics.iter().filter(|d| d.is_error()).count(),
                },
            );
            parsed.diagnostics.clear();
            parsed.ast = None;
        }
        // Paths this file links to, gathered before the unit is stored.
        let mut targets = Vec::new();
        if let Some(ast) = &parsed.ast {
            for stmt in &ast.stmts {
                if let Stmt::Include(include) = stmt
                    && let Some(rel) = include.path.as_plain()
                {
                    targets.push((include.path.span, rel));
                }
            }
            collect_calls(&ast.stmts, self.schemas, &mut targets);
        }
        self.program.units.push(Unit { id, parsed });
        self.by_path.insert(path.to_string(), id);
        self.stack.push(id);
        for (span, rel) in targets {
            let target = resolve(path, &rel);
            // Only runbooks are read: a path to any other file is refused unread.
            let link = if !target.ends_with(RUNBOOK_EXTENSION) {
                Link::NotRunbook(target)
            } else {
                match self.load(&target) {
                    Ok(file) => Link::File(file),
                    Err(link) => link,
                }
            };
            self.program.links.insert((id, span), link);
        }
        self.stack.pop();
        Ok(id)
    }
}

/// Path literals of steps whose schema takes a runbook path (`call "x.rb.ops"`).
fn collect_calls(stmts: &[Stmt], schemas: &Schemas, out: &mut Vec<(Span, String)>) {
    for stmt in stmts {
        match stmt {
            Stmt::Step(step) => {
                if let Some((span, path)) = call_target(step, schemas) {
                    out.push((span, path));
                }
                if let Some(body) = &step.body {
                    collect_calls(&body.stmts, schemas, out);
                }
            }
            Stmt::Stage(s) => collect_calls(&s.body.stmts, schemas, out),
            Stmt::Parallel(p) => collect_calls(&p.body.stmts, schemas, out),
            Stmt::For(f) => collect_calls(&f.body.stmts, schemas, out),
            Stmt::Handler(h) => collect_calls(&h.body.stmts, schemas, out),
            _ => {}
        }
    }
}

/// The runbook path of a `call`-like step, when written as a plain string.
pub fn call_target(step: &Step, schemas: &Schemas) -> Option<(Span, String)> {
    let schema = schemas.get(&step.kind.name)?;
    let variant = schema.default_variant()?;
    if !variant.params_from_target {
        return None;
    }
    match step.args.first() {
        Some(Expr {
            kind: ExprKind::Str(lit),
            ..
        }) => lit.as_plain().map(|p| (lit.span, p)),
        _ => None,
    }
}

/// A loader over files held in memory (tests, the docs checker).
#[derive(Debug, Default, Clone)]
pub struct MemoryLoader {
    /// Path → text.
    pub files: HashMap<String, String>,
}

impl MemoryLoader {
    /// An empty loader.
    pub fn new() -> MemoryLoader {
        MemoryLoader::default()
    }

    /// Adds a file.
    pub fn with(mut self, path: &str, text: &str) -> MemoryLoader {
        self.files.insert(path.to_string(), text.to_string());
        self
    }
}

impl Loader for MemoryLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .map(|t| t.as_bytes().to_vec())
            .ok_or_else(|| String::from("no such file"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_is_relative_to_the_including_file() {
        assert_eq!(
            resolve("runbooks/a.rb.ops", "lib/h.rb.ops"),
            "runbooks/lib/h.rb.ops"
        );
        assert_eq!(
            resolve("runbooks/x/a.rb.ops", "../lib/h.rb.ops"),
            "runbooks/lib/h.rb.ops"
        );
        assert_eq!(resolve("a.rb.ops", "./b.rb.ops"), "b.rb.ops");
        assert_eq!(resolve("/srv/a.rb.ops", "/etc/b.rb.ops"), "/etc/b.rb.ops");
        assert_eq!(resolve("a.rb.ops", "../../b.rb.ops"), "../../b.rb.ops");
    }
}
