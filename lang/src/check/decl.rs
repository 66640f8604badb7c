//! Declarations: `param`, `secret`, `let`, `include`, and the file-level pass that
//! collects them (with the `runbook` block) before the steps are checked.

use super::types::{Ty, Type};
use super::{Checker, ParamInfo, SecretInfo, SecretSource, Var, VarKind};
use crate::ast::*;
use crate::diag;
use crate::program::Link;

impl Checker<'_> {
    /// The file-level pass: metadata, declarations and includes, in source order.
    pub(super) fn declare_all(&mut self, stmts: &[Stmt]) {
        let mut runbook_seen: Option<Span> = None;
        for stmt in stmts {
            match stmt {
                Stmt::Runbook(rb) => match runbook_seen {
                    Some(first) => self.report(diag::duplicate_runbook_block(
                        Span::new(rb.span.start, rb.id.span.end),
                        first,
                    )),
                    None => {
                        runbook_seen = Some(Span::new(rb.span.start, rb.id.span.end));
                        self.check_metadata(rb);
                    }
                },
                Stmt::Param(p) => self.declare_param(p),
                Stmt::Secret(s) => self.declare_secret(s),
                Stmt::Let(l) => self.declare_let(l),
                Stmt::Include(i) => self.include(i),
                _ => {}
            }
        }
    }

    /// Adds a variable to the innermost scope, reporting a clash with another name.
    pub(super) fn define(&mut self, name: &Ident, kind: VarKind, ty: Ty) {
        if let Some(existing) = self.lookup(&name.name).cloned() {
            let here = existing.file == self.file;
            self.report(diag::duplicate_definition(
                name.span,
                &name.name,
                existing.kind.describe(),
                here.then_some(existing.span),
                (!here).then(|| self.program.path(existing.file).to_string()),
            ));
            return;
        }
        if let Some(site) = self.sites.get(&name.name).cloned() {
            self.report(diag::duplicate_definition(
                name.span,
                &name.name,
                "step",
                (site.file == self.file).then_some(site.span),
                None,
            ));
            return;
        }
        if self.file == self.main && kind != VarKind::Secret && kind != VarKind::LoopVar {
            self.unused.insert(
                (self.file, name.span.start),
                (name.name.clone(), kind, name.span),
            );
        }
        let var = Var {
            kind,
            ty,
            file: self.file,
            span: name.span,
        };
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.name.clone(), var);
        }
    }

    fn declare_param(&mut self, p: &ParamDecl) {
        let ty = match Type::from_written(&p.ty) {
            Ok(ty) => ty,
            Err((span, name)) => {
                let candidates = [
                    "string", "int", "float", "bool", "duration", "size", "url", "path", "list",
                    "map",
                ];
                self.report(diag::unknown_type(
                    span,
                    &name,
                    diag::did_you_mean(&name, candidates),
                ));
                Type::Error
            }
        };
        let mut description = None;
        let mut allowed = None;
        if let Some(body) = &p.body {
            let mut seen: Vec<&Ident> = Vec::new();
            for stmt in &body.stmts {
                let Stmt::Attr(attr) = stmt else {
                    self.report(diag::misplaced(
                        stmt.span(),
                        stmt.describe(),
                        "a `param` body",
                        "description, allowed",
                    ));
                    continue;
                };
                if let Some(first) = seen.iter().find(|s| s.name == attr.name.name) {
                    let first = first.span;
                    self.report(diag::duplicate_attribute(
                        attr.name.span,
                        &attr.name.name,
                        first,
                    ));
                    continue;
                }
                seen.push(&attr.name);
                match attr.name.name.as_str() {
                    "description" => {
                        self.check_value(&attr.value, &Type::String, false, "description");
                        description = plain_string(&attr.value);
                        if description.is_none() {
                            self.report(diag::plain_string_required(
                                attr.value.span,
                                "a parameter's description",
                            ));
                        }
                    }
                    "allowed" => {
                        self.check_value(
                            &attr.value,
                            &Type::List(Box::new(ty.clone())),
                            false,
                            "allowed",
                        );
                        allowed = Some(attr.value.clone());
                    }
                    other => self.report(diag::unknown_attribute(
                        attr.name.span,
                        other,
                        "param",
                        &["description", "allowed"],
                    )),
                }
            }
        }
        if let Some(default) = &p.default {
            let value = self.check_value(default, &ty, false, "the default");
            if let Some(step) = &value.after {
                self.report(diag::unknown_at_plan_time(
                    default.span,
                    "a parameter default",
                    step,
                ));
            }
            if let (Some(ExprKind::List(options)), Some(literal)) =
                (allowed.as_ref().map(|a| &a.kind), literal_text(default))
            {
                let listed: Vec<String> = options.iter().filter_map(literal_text).collect();
                if listed.len() == options.len() && !listed.contains(&literal) {
                    self.report(diag::default_not_allowed(default.span, &literal, &listed));
                }
            }
        }
        self.params.push(ParamInfo {
            name: p.name.name.clone(),
            ty: ty.clone(),
            default: p.default.clone(),
            description,
            allowed,
            file: self.file,
            span: p.span,
        });
        self.define(&p.name, VarKind::Param, Ty::known(ty));
    }

    fn declare_secret(&mut self, s: &SecretDecl) {
        let mut source = SecretSource::Env(s.name.name.clone());
        if let Some(body) = &s.body {
            let mut chosen: Option<&Ident> = None;
            for stmt in &body.stmts {
                let Stmt::Attr(attr) = stmt else {
                    self.report(diag::misplaced(
                        stmt.span(),
                        stmt.describe(),
                        "a `secret` body",
                        "env, file",
                    ));
                    continue;
                };
                let name = attr.name.name.as_str();
                if !matches!(name, "env" | "file") {
                    self.report(diag::unknown_attribute(
                        attr.name.span,
                        name,
                        "secret",
                        &["env", "file"],
                    ));
                    continue;
                }
                if let Some(first) = chosen {
                    let (first_span, same) = (first.span, first.name == attr.name.name);
                    if same {
                        self.report(diag::duplicate_attribute(attr.name.span, name, first_span));
                    } else {
                        self.report(diag::conflicting_secret_source(attr.name.span, first_span));
                    }
                    continue;
                }
                chosen = Some(&attr.name);
                let ty = if name == "env" {
                    Type::String
                } else {
                    Type::Path
                };
                self.check_value(&attr.value, &ty, false, name);
                match plain_string(&attr.value) {
                    Some(text) if name == "env" => source = SecretSource::Env(text),
                    Some(text) => source = SecretSource::File(text),
                    None => self.report(diag::plain_string_required(
                        attr.value.span,
                        "a secret's source",
                    )),
                }
            }
        }
        self.secrets.push(SecretInfo {
            name: s.name.name.clone(),
            source,
            file: self.file,
            span: s.span,
        });
        self.define(&s.name, VarKind::Secret, Ty::known(Type::String));
    }

    /// `let NAME = expr` at any level.
    pub(super) fn declare_let(&mut self, l: &LetDecl) {
        let value = self.check_expr(&l.value);
        self.define(&l.name, VarKind::Let, value);
    }

    fn include(&mut self, include: &Include) {
        let file = self.file;
        let Some(path) = include.path.as_plain() else {
            self.report(diag::plain_string_required(
                include.path.span,
                "an include path",
            ));
            return;
        };
        match self.program.link(file, include.path.span).cloned() {
            Some(Link::File(target)) => {
                if !self.included.insert(target) {
                    return;
                }
                if let Some(bad) = self.program.unparsable.get(&target) {
                    let resolved = self.program.path(target).to_string();
                    self.report(diag::linked_file_invalid(include.path.span, &resolved, bad));
                    return;
                }
                let Some(ast) = self
                    .program
                    .unit(target)
                    .and_then(|u| u.parsed.ast.as_ref())
                else {
                    return; // its parse errors are reported with the program
                };
                self.file = target;
                for stmt in &ast.stmts {
                    if !matches!(
                        stmt,
                        Stmt::Param(_) | Stmt::Secret(_) | Stmt::Let(_) | Stmt::Include(_)
                    ) {
                        self.report(diag::invalid_library(stmt.span(), stmt.describe()));
                    }
                }
                self.declare_all(&ast.stmts);
                self.file = file;
            }
            Some(Link::Missing {
                path: resolved,
                reason,
            }) => {
                self.report(diag::file_not_found(
                    include.path.span,
                    &path,
                    &resolved,
                    &reason,
                ));
            }
            Some(Link::Cycle(chain)) => self.report(diag::link_cycle(include.path.span, &chain)),
            Some(Link::NotRunbook(resolved)) => {
                self.report(diag::link_not_runbook(include.path.span, &resolved));
            }
            None => self.report(diag::file_not_found(
                include.path.span,
                &path,
                &path,
                "not loaded",
            )),
        }
    }

    /// The parameters a called runbook declares: (name, type, required, span).
    pub(super) fn callee_params(&self, file: crate::source::FileId) -> Vec<(String, Type, bool)> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.collect_params(file, &mut out, &mut seen);
        out
    }

    fn collect_params(
        &self,
        file: crate::source::FileId,
        out: &mut Vec<(String, Type, bool)>,
        seen: &mut std::collections::HashSet<crate::source::FileId>,
    ) {
        if !seen.insert(file) {
            return;
        }
        let Some(ast) = self.program.unit(file).and_then(|u| u.parsed.ast.as_ref()) else {
            return;
        };
        for stmt in &ast.stmts {
            match stmt {
                Stmt::Param(p) => {
                    let ty = Type::from_written(&p.ty).unwrap_or(Type::Error);
                    out.push((p.name.name.clone(), ty, p.default.is_none()));
                }
                Stmt::Include(i) => {
                    if let Some(Link::File(target)) = self.program.link(file, i.path.span) {
                        self.collect_params(*target, out, seen);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether `kind` of the file behind a link is a runbook.
    pub(super) fn is_runbook(&self, file: crate::source::FileId) -> bool {
        self.program
            .unit(file)
            .and_then(|u| u.parsed.ast.as_ref())
            .is_some_and(|ast| ast.stmts.iter().any(|s| matches!(s, Stmt::Runbook(_))))
    }
}

/// The text of a string literal without interpolation.
pub(super) fn plain_string(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Str(lit) => lit.as_plain(),
        _ => None,
    }
}

/// A literal's value as text, for comparing defaults with `allowed`.
fn literal_text(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Str(lit) => lit.as_plain(),
        ExprKind::Int(n) => Some(n.to_string()),
        ExprKind::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
