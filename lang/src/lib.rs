//! The `.rb.ops` language: grammar, typed AST, checker, diagnostics and formatter.
//!
//! Pipeline position: source text ─parse (pest)→ parse tree ─lower→ AST (spans)
//! ─check→ checked runbook ([`hir::Hir`]); [`compile()`] runs the whole sequence. This crate does no I/O of its own: files reach it
//! through the [`program::Loader`] trait, and the stdlib's step schemas arrive as
//! data ([`schema::Schemas`]).

pub mod ast;
pub mod check;
pub mod compile;
pub mod diag;
pub mod dump;
pub mod fmt;
pub mod hir;
pub mod jsonpath;
mod lower;
pub mod parse;
pub mod program;
pub mod scan;
pub mod schema;
pub mod source;
pub mod syntax;

pub use ast::Span;
pub use check::{CheckOptions, Checked, check};
pub use compile::{CompileOptions, Compiled, compile};
pub use diag::{Code, Diagnostic, Severity};
pub use parse::{Parsed, parse, parse_expr};
pub use program::{Loader, MemoryLoader, Program};
pub use source::{FileId, SourceMap};
