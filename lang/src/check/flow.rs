//! The runbook's structure: which statements go where, and which steps have run at
//! each point (sequence, stages, parallel branches, loops and handlers).

use std::collections::HashMap;

use super::types::{Ty, Type};
use super::{Checker, StepSite, VarKind};
use crate::ast::*;
use crate::diag;

/// The kind of block being walked; it decides which statements are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockKind {
    Top,
    Stage,
    Parallel,
    For,
    Handler,
}

impl BlockKind {
    fn describe(self) -> &'static str {
        match self {
            BlockKind::Top => "the top level of a runbook",
            BlockKind::Stage => "a `stage`",
            BlockKind::Parallel => "a `parallel` group",
            BlockKind::For => "a `for` loop",
            BlockKind::Handler => "a handler",
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            BlockKind::Top => {
                "runbook, param, secret, let, include, stage, parallel, for, on failure, always, steps"
            }
            BlockKind::Stage => "stage, parallel, for, on failure, always, let, when, steps",
            BlockKind::Parallel => {
                "steps, stages, `for` loops and `parallel` groups (each one a branch)"
            }
            BlockKind::For => "stage, parallel, for, let, steps",
            BlockKind::Handler => "stage, parallel, for, let, steps",
        }
    }
}

impl Checker<'_> {
    /// Records where every named step sits, reporting duplicate names.
    pub(super) fn collect_sites(&mut self, stmts: &[Stmt]) {
        let mut ctx = super::Ctx::default();
        let mut found: Vec<(Ident, StepSite)> = Vec::new();
        collect(stmts, &mut ctx, self.file, self.schemas, &mut found);
        for (name, site) in found {
            if let Some(first) = self.sites.get(&name.name) {
                let first = first.span;
                self.report(diag::duplicate_step_name(name.span, &name.name, first));
                continue;
            }
            self.sites.insert(name.name, site);
        }
    }

    /// Walks a block's statements in execution order, then its handlers.
    pub(super) fn check_flow(&mut self, stmts: &[Stmt], kind: BlockKind, span: Span) {
        let start = self.available.clone();
        let mut union = start.clone();
        if kind != BlockKind::Top {
            self.scopes.push(HashMap::new());
        }
        let mut handlers: Vec<&Handler> = Vec::new();
        let mut when_seen: Option<Span> = None;
        let mut flow_count = 0;
        for stmt in stmts {
            if kind == BlockKind::Parallel {
                self.available = start.clone();
                if let Some(last) = self.ctx.parallel.last_mut() {
                    last.1 = stmt.span().start;
                }
            }
            match (stmt, kind) {
                (
                    Stmt::Runbook(_)
                    | Stmt::Param(_)
                    | Stmt::Secret(_)
                    | Stmt::Include(_)
                    | Stmt::Let(_),
                    BlockKind::Top,
                ) => {}
                (Stmt::Handler(h), BlockKind::Top | BlockKind::Stage) => {
                    if let Some(prev) = handlers.iter().find(|p| p.kind == h.kind) {
                        let prev = Span::new(prev.span.start, prev.body.span.start + 1);
                        self.report(diag::duplicate_handler(
                            Span::new(h.span.start, h.body.span.start + 1),
                            stmt.describe(),
                            prev,
                        ));
                    } else {
                        handlers.push(h);
                    }
                }
                (Stmt::Stage(s), _) => {
                    flow_count += 1;
                    self.check_stage(s);
                }
                (Stmt::Parallel(p), _) => {
                    flow_count += 1;
                    self.check_parallel(p);
                }
                (Stmt::For(f), _) => {
                    flow_count += 1;
                    self.check_for(f);
                }
                (Stmt::Step(s), _) => {
                    flow_count += 1;
                    self.check_step(s);
                    if let Some(name) = &s.name {
                        self.available.insert(name.name.clone());
                    }
                }
                (Stmt::Let(l), BlockKind::Stage | BlockKind::For | BlockKind::Handler) => {
                    self.declare_let(l)
                }
                (Stmt::When(w), BlockKind::Stage) => {
                    if let Some(first) = when_seen {
                        self.report(diag::duplicate_modifier(w.span, "when", first));
                    }
                    when_seen = Some(w.span);
                    self.check_condition(&w.cond);
                }
                (other, _) => {
                    flow_count += 1; // reported as misplaced; not also as an empty block
                    self.report(diag::misplaced(
                        other.span(),
                        other.describe(),
                        kind.describe(),
                        kind.allowed(),
                    ));
                }
            }
            if kind == BlockKind::Parallel {
                union.extend(self.available.iter().cloned());
            }
        }
        if kind == BlockKind::Parallel {
            self.available = union;
        }
        if flow_count == 0 && kind != BlockKind::Top {
            self.report(diag::empty_block(
                Span::new(span.start, span.start),
                kind.describe(),
            ));
        }
        for handler in handlers {
            self.check_handler(handler, &start);
        }
        if kind != BlockKind::Top {
            self.scopes.pop();
        }
    }

    /// A handler runs after its block: steps of the block may or may not have run.
    fn check_handler(&mut self, handler: &Handler, start: &std::collections::HashSet<String>) {
        let saved_available = self.available.clone();
        let saved_maybe = self.maybe.clone();
        let in_block: Vec<String> = self.available.difference(start).cloned().collect();
        self.maybe.extend(in_block);
        self.available = start.clone();
        self.ctx.handlers.push(handler.span.start);
        self.check_flow(&handler.body.stmts, BlockKind::Handler, handler.body.span);
        self.ctx.handlers.pop();
        self.available = saved_available;
        self.maybe = saved_maybe;
    }

    fn check_stage(&mut self, stage: &Stage) {
        let title = self.check_string(&stage.title);
        if let Some(origin) = title.secret {
            self.report(diag::secret_leak(stage.title.span, origin, "a stage title"));
        }
        if let Some(step) = &title.after {
            self.report(diag::unknown_at_plan_time(
                stage.title.span,
                "a stage title",
                step,
            ));
        }
        self.check_flow(&stage.body.stmts, BlockKind::Stage, stage.body.span);
    }

    fn check_parallel(&mut self, parallel: &Parallel) {
        if let Some(limit) = &parallel.limit {
            let ty = self.check_value(limit, &Type::Int, false, "a parallel limit");
            if let Some(step) = &ty.after {
                self.report(diag::unknown_at_plan_time(
                    limit.span,
                    "a parallel limit",
                    step,
                ));
            }
            if let ExprKind::Int(n) = limit.kind
                && n < 1
            {
                self.report(diag::value_out_of_range(
                    limit.span,
                    "a parallel limit",
                    "at least 1",
                ));
            }
        }
        self.ctx.parallel.push((parallel.span.start, 0));
        self.check_flow(
            &parallel.body.stmts,
            BlockKind::Parallel,
            parallel.body.span,
        );
        self.ctx.parallel.pop();
    }

    fn check_for(&mut self, for_loop: &ForLoop) {
        let iter = self.check_expr(&for_loop.iter);
        let element = match iter.ty.element() {
            Some(e) => e,
            None => {
                self.report(diag::type_mismatch(
                    for_loop.iter.span,
                    "a `for` loop",
                    "a list",
                    &iter.ty.describe(),
                    false,
                ));
                Type::Error
            }
        };
        if let Some(step) = &iter.after {
            self.report(diag::unknown_at_plan_time(
                for_loop.iter.span,
                "the list of a `for` loop",
                step,
            ));
        }
        let before = self.available.clone();
        self.scopes.push(HashMap::new());
        let var = Ty {
            ty: element,
            secret: iter.secret,
            after: None,
        };
        self.define(&for_loop.var, VarKind::LoopVar, var);
        self.ctx.loops.push(for_loop.span.start);
        self.check_flow(&for_loop.body.stmts, BlockKind::For, for_loop.body.span);
        self.ctx.loops.pop();
        self.scopes.pop();
        self.available = before;
    }

    /// A `when` condition: a bool, never derived from a secret.
    pub(super) fn check_condition(&mut self, cond: &Expr) {
        let ty = self.check_expr(cond);
        if !super::types::assignable(&ty.ty, &Type::Bool) {
            self.report(diag::type_mismatch(
                cond.span,
                "a `when` condition",
                "bool",
                &ty.ty.describe(),
                super::expr::is_literal(cond),
            ));
        }
        if let Some(origin) = ty.secret {
            self.report(diag::secret_leak(cond.span, origin, "a `when` condition"));
        }
    }
}

/// Gathers named steps with their structural position.
fn collect(
    stmts: &[Stmt],
    ctx: &mut super::Ctx,
    file: crate::source::FileId,
    schemas: &crate::schema::Schemas,
    out: &mut Vec<(Ident, StepSite)>,
) {
    for stmt in stmts {
        match stmt {
            Stmt::Step(step) => {
                if let Some(name) = &step.name {
                    out.push((
                        name.clone(),
                        StepSite {
                            file,
                            span: step.span,
                            loops: ctx.loops.clone(),
                            parallel: ctx.parallel.clone(),
                            handler: ctx.handlers.last().copied(),
                            outputs: outputs_of(step, schemas),
                            secret_input: None,
                        },
                    ));
                }
                if let Some(body) = &step.body {
                    collect(&body.stmts, ctx, file, schemas, out);
                }
            }
            Stmt::Stage(s) => collect(&s.body.stmts, ctx, file, schemas, out),
            Stmt::Parallel(p) => {
                ctx.parallel.push((p.span.start, 0));
                for branch in &p.body.stmts {
                    if let Some(last) = ctx.parallel.last_mut() {
                        last.1 = branch.span().start;
                    }
                    collect(std::slice::from_ref(branch), ctx, file, schemas, out);
                }
                ctx.parallel.pop();
            }
            Stmt::For(f) => {
                ctx.loops.push(f.span.start);
                collect(&f.body.stmts, ctx, file, schemas, out);
                ctx.loops.pop();
            }
            Stmt::Handler(h) => {
                ctx.handlers.push(h.span.start);
                collect(&h.body.stmts, ctx, file, schemas, out);
                ctx.handlers.pop();
            }
            _ => {}
        }
    }
}

/// The outputs a step will have, from its kind and variant word (no diagnostics here:
/// the step itself is checked in order).
fn outputs_of(step: &Step, schemas: &crate::schema::Schemas) -> &'static [crate::schema::Output] {
    let Some(schema) = schemas.get(&step.kind.name) else {
        return &[];
    };
    let word = step.args.first().and_then(|a| match &a.kind {
        ExprKind::Path(p) if p.segments.is_empty() => Some(p.root.name.as_str()),
        _ => None,
    });
    word.and_then(|w| schema.variant(w))
        .or_else(|| schema.default_variant())
        .map_or(&[], |v| v.outputs)
}
