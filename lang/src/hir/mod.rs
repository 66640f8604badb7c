//! The checked program: what `check` resolved, as typed nodes the planner consumes.
//!
//! Every step carries its resolved `&'static` schema variant, its target, and each
//! attribute paired with its schema attribute; the universal attributes (`on_failure`,
//! `description`), `readonly` and the modifiers (`retry`, `timeout`, `when`) are fields,
//! not names to match. Secrets carry a typed source with the file path resolved; a
//! `call` names the loaded file it runs and the parameters it passes. Expressions stay
//! the AST's (borrowed, with spans): the planner evaluates them.
//!
//! Built by [`crate::compile::Compiled::hir`] from a program without errors; a step the
//! checker did not resolve is an internal error there, never a guess.

mod lower;

use crate::ast::{Expect, Expr, Ident, Retry, Span, StrLit};
use crate::check::types::Type;
use crate::check::{Metadata, ParamInfo};
use crate::program::Program;
use crate::schema::{Attribute, StepSchema, Variant};
use crate::source::{FileId, SourceFile};

pub use crate::check::SecretSource;
pub use lower::lower;

/// The checked program: the main runbook, the libraries it includes and the runbooks it
/// calls, each lowered once.
#[derive(Debug)]
pub struct Hir<'p> {
    /// The loaded files (paths and text, for locations and the content hash).
    pub program: &'p Program,
    /// The main runbook.
    pub main: FileId,
    /// Its `runbook` block.
    pub meta: Option<&'p Metadata>,
    /// The parameters it declares, including those of included libraries.
    pub params: &'p [ParamInfo],
    /// Every lowered file, by id (`None` for a file that is not lowered).
    units: Vec<Option<Unit<'p>>>,
}

impl<'p> Hir<'p> {
    /// A lowered file (the main runbook, a library, a called runbook).
    pub fn unit(&self, file: FileId) -> Option<&Unit<'p>> {
        self.units.get(file.0 as usize).and_then(Option::as_ref)
    }

    /// The main runbook.
    pub fn main_unit(&self) -> Option<&Unit<'p>> {
        self.unit(self.main)
    }

    /// A file's path and text.
    pub fn source(&self, file: FileId) -> Option<&'p SourceFile> {
        self.program.sources.get(file)
    }

    /// A file's display path.
    pub fn path(&self, file: FileId) -> &'p str {
        self.program.path(file)
    }
}

/// One file: its declarations in order and, for a runbook, its body.
#[derive(Debug)]
pub struct Unit<'p> {
    /// The file.
    pub file: FileId,
    /// The `runbook` block's id, when it has one.
    pub runbook_id: Option<String>,
    /// `param`, `secret`, `let` and `include` at file level, in source order.
    pub decls: Vec<Decl<'p>>,
    /// The steps, groups and handlers at file level.
    pub body: Block<'p>,
}

/// A file-level declaration.
#[derive(Debug)]
pub enum Decl<'p> {
    /// `param NAME: TYPE = default { allowed = [...] }`.
    Param(Param<'p>),
    /// `secret NAME { env = "VAR" }`.
    Secret(Secret<'p>),
    /// `let NAME = value`.
    Let(Let<'p>),
    /// `include "lib.rb.ops"`: the loaded library.
    Include(FileId),
}

/// A declared parameter.
#[derive(Debug)]
pub struct Param<'p> {
    /// Its name.
    pub name: &'p Ident,
    /// Its type.
    pub ty: Type,
    /// Its default.
    pub default: Option<&'p Expr>,
    /// Its `allowed` list.
    pub allowed: Option<&'p Expr>,
}

/// A declared secret.
#[derive(Debug)]
pub struct Secret<'p> {
    /// Its name.
    pub name: &'p Ident,
    /// Where its value comes from.
    pub source: SecretSource,
}

/// `let NAME = value`.
#[derive(Clone, Copy, Debug)]
pub struct Let<'p> {
    /// The bound name.
    pub name: &'p Ident,
    /// The value.
    pub value: &'p Expr,
}

/// Statements of a block in order, and its handlers.
#[derive(Debug, Default)]
pub struct Block<'p> {
    /// Steps, groups, loops and `let`s in source order.
    pub nodes: Vec<Node<'p>>,
    /// `on failure { ... }`.
    pub on_failure: Option<Box<Block<'p>>>,
    /// `always { ... }`.
    pub always: Option<Box<Block<'p>>>,
}

/// One statement of a block.
#[derive(Debug)]
pub enum Node<'p> {
    /// A step.
    Step(Step<'p>),
    /// `call "other.rb.ops" { ... }`.
    Call(Call<'p>),
    /// `stage "title" { ... }`.
    Stage(Stage<'p>),
    /// `parallel limit N { ... }`.
    Parallel(Parallel<'p>),
    /// `for x in list { ... }`.
    For(For<'p>),
    /// `let NAME = value` inside a block.
    Let(Let<'p>),
}

impl Node<'_> {
    /// True for what runs (everything but `let`).
    pub fn is_flow(&self) -> bool {
        !matches!(self, Node::Let(_))
    }
}

/// An attribute paired with its schema attribute.
#[derive(Clone, Copy, Debug)]
pub struct Attr<'p> {
    /// What the schema says of it.
    pub schema: &'static Attribute,
    /// Its value.
    pub value: &'p Expr,
}

/// A step resolved against its schema.
#[derive(Debug)]
pub struct Step<'p> {
    /// The whole step.
    pub span: Span,
    /// Its kind.
    pub schema: &'static StepSchema,
    /// Its variant (the checker's resolution).
    pub variant: &'static Variant,
    /// `as NAME`.
    pub name: Option<&'p Ident>,
    /// The positional target.
    pub target: Option<&'p Expr>,
    /// Written attributes of the variant, in source order.
    pub attrs: Vec<Attr<'p>>,
    /// `on_failure = abort|continue`.
    pub on_failure: Option<Attr<'p>>,
    /// `description = "..."`.
    pub description: Option<&'p Expr>,
    /// `readonly = ...` of a variant that has it (`exec`).
    pub readonly: Option<&'p Expr>,
    /// `expect ...`, in order.
    pub expects: Vec<&'p Expect>,
    /// `retry ...`.
    pub retry: Option<&'p Retry>,
    /// `timeout D`.
    pub timeout: Option<&'p Expr>,
    /// `when COND`.
    pub when: Option<&'p Expr>,
    /// The step polled by `wait until`.
    pub nested: Option<Box<Step<'p>>>,
}

/// `call "other.rb.ops" { param = value }`.
#[derive(Debug)]
pub struct Call<'p> {
    /// The whole step.
    pub span: Span,
    /// The `call` variant.
    pub variant: &'static Variant,
    /// `as NAME`.
    pub name: Option<&'p Ident>,
    /// The path as written.
    pub path: &'p Expr,
    /// The loaded runbook it runs.
    pub callee: FileId,
    /// The parameters it passes, by the callee's parameter names.
    pub args: Vec<CallArg<'p>>,
    /// `on_failure = abort|continue`.
    pub on_failure: Option<Attr<'p>>,
    /// `when COND`.
    pub when: Option<&'p Expr>,
}

/// One parameter a `call` passes.
#[derive(Clone, Copy, Debug)]
pub struct CallArg<'p> {
    /// The callee's parameter.
    pub name: &'p Ident,
    /// The caller's expression, in the caller's scope.
    pub value: &'p Expr,
}

/// `stage "title" { ... }`.
#[derive(Debug)]
pub struct Stage<'p> {
    /// The whole stage.
    pub span: Span,
    /// Its title.
    pub title: &'p StrLit,
    /// `when COND` inside it.
    pub when: Option<&'p Expr>,
    /// Its statements and handlers.
    pub body: Block<'p>,
}

/// `parallel limit N { ... }`.
#[derive(Debug)]
pub struct Parallel<'p> {
    /// The whole group.
    pub span: Span,
    /// `limit N`.
    pub limit: Option<&'p Expr>,
    /// The branches.
    pub body: Block<'p>,
}

/// `for VAR in LIST { ... }`.
#[derive(Debug)]
pub struct For<'p> {
    /// The whole loop.
    pub span: Span,
    /// The loop variable.
    pub var: &'p Ident,
    /// The list.
    pub iter: &'p Expr,
    /// The body, once per item.
    pub body: Block<'p>,
}
