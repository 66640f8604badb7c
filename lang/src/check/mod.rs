//! `check`: validates a parsed program against the stdlib's step schemas.
//!
//! It reports everything it finds in one pass: unknown kinds, variants and attributes
//! (with did-you-mean), missing required attributes, type mismatches, undefined names,
//! duplicate step names, outputs used before their step can have run or from a
//! parallel sibling, `failure.*` outside handlers, secrets flowing into non-sensitive
//! places, unbounded waits and invalid metadata. Its result also summarises the
//! runbook (metadata, parameters, secrets, resolved steps) for later phases.

mod decl;
mod expr;
mod flow;
mod meta;
mod step;
pub mod types;
mod window;

use std::collections::{HashMap, HashSet};

pub use meta::{Complexity, Metadata, Window};
pub use window::{WindowState, moment};

use crate::ast::{Expr, File, Span, Stmt};
use crate::diag::Diagnostic;
use crate::program::Program;
use crate::schema::{Effect, Output, Schemas, StepSchema, Variant};
use crate::source::FileId;
use types::{Ty, Type};

/// Settings of a check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Today's date, for the `validated`/`max_age` check (none: skip that check).
    pub today: Option<jiff::civil::Date>,
}

/// Whether a file is a runbook or a library of shared definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Has a `runbook` block or steps.
    Runbook,
    /// Only `param`, `secret`, `let` and `include`: meant to be included.
    Library,
}

/// A declared parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    /// Its name.
    pub name: String,
    /// Its declared type.
    pub ty: Type,
    /// Its default, when it has one (a parameter without one is required).
    pub default: Option<Expr>,
    /// Its `description`.
    pub description: Option<String>,
    /// Its `allowed` values.
    pub allowed: Option<Expr>,
    /// Where it is declared.
    pub file: FileId,
    /// Its declaration.
    pub span: Span,
}

/// Where a secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file's content (trailing newline removed).
    File(String),
}

impl SecretSource {
    /// `env VAR` or `file PATH`, as plans show it.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("env {var}"),
            SecretSource::File(path) => format!("file {path}"),
        }
    }
}

/// A declared secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its name in the runbook.
    pub name: String,
    /// Where its value is read from.
    pub source: SecretSource,
    /// Where it is declared.
    pub file: FileId,
    /// Its declaration.
    pub span: Span,
}

/// A step resolved against its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct StepInfo {
    /// The file it is in.
    pub file: FileId,
    /// The whole step.
    pub span: Span,
    /// Its kind.
    pub kind: &'static str,
    /// Its kind's schema.
    pub schema: &'static StepSchema,
    /// Its schema variant.
    pub variant: &'static Variant,
    /// Which argument is its target (after the variant word, when one is written).
    pub target: Option<usize>,
    /// The loaded runbook a `call` runs.
    pub callee: Option<FileId>,
    /// `as NAME`.
    pub name: Option<String>,
    /// Its effect (after `readonly = true`).
    pub effect: Effect,
}

/// What a check found.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Check diagnostics (parse diagnostics stay with the [`Program`]).
    pub diagnostics: Vec<Diagnostic>,
    /// Runbook or library.
    pub kind: FileKind,
    /// The `runbook` block's content.
    pub meta: Option<Metadata>,
    /// Parameters, including those of included libraries.
    pub params: Vec<ParamInfo>,
    /// Secrets, including those of included libraries.
    pub secrets: Vec<SecretInfo>,
    /// Every step in source order.
    pub steps: Vec<StepInfo>,
}

/// Checks the program's main file (and what it includes).
pub fn check(program: &Program, schemas: &Schemas, options: &CheckOptions) -> Checked {
    check_unit(program, program.main, schemas, options)
}

/// Checks one runbook of the program as a main file (a called runbook, and what it
/// includes).
pub fn check_unit(
    program: &Program,
    unit: FileId,
    schemas: &Schemas,
    options: &CheckOptions,
) -> Checked {
    let mut checker = Checker::new(program, schemas, options);
    checker.file = unit;
    checker.main = unit;
    if let Some(file) = program.unit(unit).and_then(|u| u.parsed.ast.as_ref()) {
        checker.check_file(file);
    }
    checker.steps.sort_by_key(|s| (s.file, s.span.start));
    let mut diagnostics = checker.diags;
    diagnostics.sort_by_key(|d| (d.file, d.span.start, d.span.end, d.code));
    diagnostics.dedup();
    Checked {
        diagnostics,
        kind: checker.kind,
        meta: checker.meta,
        params: checker.params,
        secrets: checker.secrets,
        steps: checker.steps,
    }
}

/// What a name in scope stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VarKind {
    Param,
    Secret,
    Let,
    LoopVar,
}

impl VarKind {
    fn describe(self) -> &'static str {
        match self {
            VarKind::Param => "parameter",
            VarKind::Secret => "secret",
            VarKind::Let => "`let` binding",
            VarKind::LoopVar => "loop variable",
        }
    }
}

/// A variable in scope.
#[derive(Clone, Debug)]
struct Var {
    kind: VarKind,
    ty: Ty,
    file: FileId,
    span: Span,
}

/// Where a named step sits in the runbook's structure.
#[derive(Clone, Debug)]
struct StepSite {
    file: FileId,
    span: Span,
    /// `for` loops around it (by span start), outermost first.
    loops: Vec<usize>,
    /// `parallel` groups around it: (group span start, branch span start).
    parallel: Vec<(usize, usize)>,
    /// The handler it is in (span start), if any.
    handler: Option<usize>,
    /// Its outputs, once its schema is known.
    outputs: &'static [Output],
    /// Where a secret flows into a sensitive input of it.
    secret_input: Option<Span>,
}

/// Where the walk currently is.
#[derive(Clone, Debug, Default)]
struct Ctx {
    loops: Vec<usize>,
    parallel: Vec<(usize, usize)>,
    handlers: Vec<usize>,
}

struct Checker<'a> {
    program: &'a Program,
    schemas: &'a Schemas,
    options: &'a CheckOptions,
    file: FileId,
    /// The runbook being checked (the program's main file, or a called runbook).
    main: FileId,
    diags: Vec<Diagnostic>,
    kind: FileKind,
    meta: Option<Metadata>,
    params: Vec<ParamInfo>,
    secrets: Vec<SecretInfo>,
    steps: Vec<StepInfo>,
    /// Scopes of variables; `scopes[0]` holds the file-level declarations.
    scopes: Vec<HashMap<String, Var>>,
    /// Declarations of the main file that are never read (for warnings).
    unused: HashMap<(FileId, usize), (String, VarKind, Span)>,
    /// Every named step of the main file.
    sites: HashMap<String, StepSite>,
    /// Steps that have certainly run at the current point.
    available: HashSet<String>,
    /// Steps that may or may not have run (inside handlers).
    maybe: HashSet<String>,
    /// Libraries already included.
    included: HashSet<FileId>,
    /// True while file-level declarations are checked (before any step runs).
    declaring: bool,
    ctx: Ctx,
}

impl<'a> Checker<'a> {
    fn new(program: &'a Program, schemas: &'a Schemas, options: &'a CheckOptions) -> Self {
        Checker {
            program,
            schemas,
            options,
            file: program.main,
            main: program.main,
            diags: Vec::new(),
            kind: FileKind::Runbook,
            meta: None,
            params: Vec::new(),
            secrets: Vec::new(),
            steps: Vec::new(),
            scopes: vec![HashMap::new()],
            unused: HashMap::new(),
            sites: HashMap::new(),
            available: HashSet::new(),
            maybe: HashSet::new(),
            included: HashSet::new(),
            declaring: false,
            ctx: Ctx::default(),
        }
    }

    /// Records a diagnostic in the current file.
    fn report(&mut self, diagnostic: Diagnostic) {
        let file = self.file;
        self.diags.push(diagnostic.in_file(file));
    }

    fn check_file(&mut self, file: &File) {
        let has_runbook = file.stmts.iter().any(|s| matches!(s, Stmt::Runbook(_)));
        let has_flow = file.stmts.iter().any(|s| {
            matches!(
                s,
                Stmt::Step(_)
                    | Stmt::Stage(_)
                    | Stmt::Parallel(_)
                    | Stmt::For(_)
                    | Stmt::Handler(_)
            )
        });
        self.kind = if has_runbook || has_flow {
            FileKind::Runbook
        } else {
            FileKind::Library
        };
        // Step names first, so a declaration that clashes with one, or a file-level `let`
        // that reads an output, is reported as such.
        self.collect_sites(&file.stmts);
        self.declaring = true;
        self.declare_all(&file.stmts);
        self.declaring = false;
        if self.kind == FileKind::Runbook {
            if !has_runbook {
                let at = file
                    .stmts
                    .first()
                    .map_or(Span::at(0), |s| Span::at(s.span().start));
                self.report(crate::diag::missing_runbook_block(at));
            }
            self.check_flow(&file.stmts, flow::BlockKind::Top, file.span);
            // A library's declarations are there for the files that include it.
            self.report_unused();
        }
    }

    /// Looks a variable up through the scopes, innermost first.
    fn lookup(&self, name: &str) -> Option<&Var> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// Every name visible here (for did-you-mean).
    fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        names.extend(self.sites.keys().cloned());
        if !self.ctx.handlers.is_empty() {
            names.push(String::from("failure"));
        }
        names.sort();
        names.dedup();
        names
    }

    fn report_unused(&mut self) {
        let mut unused: Vec<_> = self.unused.drain().collect();
        unused.sort_by_key(|(key, _)| *key);
        for ((file, _), (name, kind, span)) in unused {
            self.diags
                .push(crate::diag::unused_declaration(span, &name, kind.describe()).in_file(file));
        }
    }
}
