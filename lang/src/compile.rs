//! The one compile entry point: load a runbook and everything it reaches, parse, check,
//! and (without errors) give the checked program ([`Hir`]). `ops check`, `plan`, `run`,
//! `catalog` and `test` all start here.

use crate::check::{CheckOptions, Checked, FileKind, check_unit};
use crate::diag::Diagnostic;
use crate::hir::{self, Hir};
use crate::program::{Loader, Program};
use crate::schema::Schemas;
use crate::source::FileId;

/// Settings of a compile.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Settings of each check.
    pub check: CheckOptions,
    /// Check the runbooks it calls as well (needed to plan; `ops check` reports each
    /// file on its own and leaves them out).
    pub callees: bool,
}

/// A loaded, parsed and checked runbook.
#[derive(Debug)]
pub struct Compiled {
    /// The runbook and every file it reaches.
    pub program: Program,
    /// The check of the main runbook, then of each runbook it calls (directly or not);
    /// empty when the main file did not parse.
    pub checks: Vec<Checked>,
    /// The called runbooks were checked too ([`CompileOptions::callees`]).
    callees_checked: bool,
}

impl Compiled {
    /// The main runbook's check, when it parsed.
    pub fn checked(&self) -> Option<&Checked> {
        self.checks.first()
    }

    /// Parse diagnostics of every file, then the main runbook's check diagnostics: what
    /// `ops check` reports for this file.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.program
            .parse_diagnostics()
            .chain(self.checks.iter().take(1).flat_map(|c| &c.diagnostics))
    }

    /// Every diagnostic that stops a plan: parse errors of every file and check errors of
    /// the main runbook and of every runbook it calls.
    pub fn errors(&self) -> Vec<&Diagnostic> {
        let mut errors: Vec<&Diagnostic> = self
            .program
            .parse_diagnostics()
            .chain(self.checks.iter().flat_map(|c| &c.diagnostics))
            .filter(|d| d.is_error())
            .collect();
        // A library included by the runbook and by a callee is checked with each.
        errors.sort_by_key(|d| (d.file, d.span.start, d.span.end, d.code));
        errors.dedup();
        errors
    }

    /// Whether the main file is a library (nothing to plan).
    pub fn is_library(&self) -> bool {
        self.checked().is_some_and(|c| c.kind == FileKind::Library)
    }

    /// The checked program, when nothing stopped it ([`Compiled::errors`] is empty). An
    /// `Err` says why not, or names an internal inconsistency.
    pub fn hir(&self) -> Result<Hir<'_>, String> {
        if self.checks.is_empty() {
            return Err(String::from("the runbook could not be parsed"));
        }
        if let Some(e) = self.errors().first() {
            return Err(format!("the runbook has errors ({})", e.code));
        }
        if !self.callees_checked {
            return Err(String::from("the runbooks it calls were not checked"));
        }
        hir::lower(&self.program, &self.checks)
    }
}

/// Loads `path` through `loader`, parses every reached file once, checks the main
/// runbook and every runbook it calls.
pub fn compile(
    path: &str,
    loader: &dyn Loader,
    schemas: &Schemas,
    options: &CompileOptions,
) -> Compiled {
    let program = Program::load(path, loader, schemas);
    check_program(program, schemas, options)
}

/// Checks an already loaded program: its main runbook, then (with
/// [`CompileOptions::callees`]) each called runbook once.
pub fn check_program(program: Program, schemas: &Schemas, options: &CompileOptions) -> Compiled {
    let mut checks = Vec::new();
    let parsed = |file: FileId| program.unit(file).is_some_and(|u| u.parsed.ast.is_some());
    if parsed(program.main) {
        let mut seen = std::collections::HashSet::from([program.main]);
        let mut pending = vec![program.main];
        while let Some(file) = pending.pop() {
            let checked = check_unit(&program, file, schemas, &options.check);
            let callees = checked.steps.iter().filter_map(|s| s.callee);
            for callee in callees.filter(|_| options.callees) {
                if parsed(callee) && seen.insert(callee) {
                    pending.push(callee);
                }
            }
            checks.push(checked);
        }
    }
    Compiled {
        program,
        checks,
        callees_checked: options.callees,
    }
}
