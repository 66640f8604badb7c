//! One step: its variant, target, attributes (with schema defaults and bare enum words),
//! expectations, modifiers, effect, what it would change, its worst case and preflight;
//! and `call`, planned as a group holding the called runbook.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use lang::ast::{self, Expr, ExprKind, Stmt};
use lang::program::Link;
use lang::schema::{Effect, SchemaType, StepSchema, UNIVERSAL_ATTRIBUTES, Variant};

use super::declare::Given;
use super::*;
use crate::eval::Scope;
use crate::step::InputView;

impl Planner<'_> {
    /// A value for an attribute of a schema type: bare enum words (`wait = healthy`)
    /// are the words themselves.
    fn attr_value(&mut self, expr: &Expr, ty: Option<SchemaType>, scope: &Scope) -> Planned {
        if let Some(word) = enum_word(expr, ty, scope) {
            return Planned::known(word, self.text(expr.span));
        }
        self.planned(expr, scope)
    }

    pub(super) fn step_node(
        &mut self,
        step: &ast::Step,
        id: &str,
        scope: &Arc<Scope>,
        iteration: Option<&str>,
    ) -> Node {
        let Some(schema) = self.req.registry.schemas().get(&step.kind.name) else {
            self.error(
                Code::PlanEvaluation,
                Some(step.kind.span),
                format!("unknown step kind `{}`", step.kind.name),
                None,
            );
            return Node::Step(Box::new(self.placeholder(step, id, scope)));
        };
        let (variant, args) = resolve_variant(step, schema, scope);
        if variant.params_from_target {
            return self.call_node(step, id, scope, iteration, variant);
        }
        Node::Step(Box::new(
            self.planned_step(step, id, scope, iteration, schema, variant, args),
        ))
    }

    fn placeholder(&mut self, step: &ast::Step, id: &str, scope: &Arc<Scope>) -> PlannedStep {
        PlannedStep {
            id: id.to_string(),
            kind: "",
            variant: &PLACEHOLDER,
            name: None,
            label: step.kind.name.clone(),
            target: None,
            attrs: IndexMap::new(),
            expects: Vec::new(),
            when: None,
            retry: None,
            timeout: None,
            on_failure: OnFailure::Abort,
            effect: Effect::Mutating,
            change: String::new(),
            details: Vec::new(),
            worst_case: Duration::ZERO,
            loc: self.loc(step.span),
            iteration: None,
            nested: None,
            description: None,
            before_start: false,
            scope: scope.clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn planned_step(
        &mut self,
        step: &ast::Step,
        id: &str,
        scope: &Arc<Scope>,
        iteration: Option<&str>,
        schema: &'static StepSchema,
        variant: &'static Variant,
        args: &[Expr],
    ) -> PlannedStep {
        let target = args.first().map(|a| self.planned(a, scope));
        let mut out = self.placeholder(step, id, scope);
        out.kind = schema.kind;
        out.variant = variant;
        out.name = step.name.as_ref().map(|n| n.name.clone());
        out.iteration = iteration.map(str::to_string);
        out.effect = variant.effect;
        out.timeout = variant.default_timeout;
        for stmt in step.body.iter().flat_map(|b| &b.stmts) {
            match stmt {
                Stmt::Attr(attr) => match attr.name.name.as_str() {
                    "on_failure" => {
                        let ty = UNIVERSAL_ATTRIBUTES
                            .iter()
                            .find(|a| a.name == "on_failure")
                            .map(|a| a.ty);
                        if self
                            .attr_value(&attr.value, ty, scope)
                            .value()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .as_deref()
                            == Some("continue")
                        {
                            out.on_failure = OnFailure::Continue;
                        }
                    }
                    "description" => {
                        out.description = self
                            .known(&attr.value, scope)
                            .and_then(|v| v.as_str().map(str::to_string));
                    }
                    name => {
                        let ty = variant
                            .attributes
                            .iter()
                            .find(|a| a.name == name)
                            .map(|a| a.ty);
                        let planned = self.attr_value(&attr.value, ty, scope);
                        if variant.readonly_attr
                            && name == "readonly"
                            && planned.value().and_then(|v| v.as_bool()) == Some(true)
                        {
                            out.effect = Effect::ReadOnly;
                        }
                        out.attrs.insert(name.to_string(), planned);
                    }
                },
                Stmt::Expect(e) => {
                    let arg = e.arg.as_ref().map(|a| self.planned(a, scope));
                    let value = self.planned(&e.value, scope);
                    out.expects.push(PlannedExpect {
                        subject: e.subject.name.clone(),
                        arg,
                        op: e.op,
                        value,
                        text: self.text(e.span),
                        loc: self.loc(e.span),
                    });
                }
                Stmt::Retry(r) => out.retry = self.retry(r, scope),
                Stmt::Timeout(t) => out.timeout = self.duration(&t.value, scope).or(out.timeout),
                Stmt::When(w) => out.when = Some(self.condition(&w.cond, scope)),
                Stmt::Step(nested) => {
                    let nested_id = format!("{id}.1");
                    if let Node::Step(n) = self.step_node(nested, &nested_id, scope, iteration) {
                        out.nested = Some(n);
                    }
                }
                _ => {}
            }
        }
        for attr in variant.attributes {
            if out.attrs.contains_key(attr.name) {
                continue;
            }
            let Some(default) = attr.default else {
                continue;
            };
            let parsed = self
                .defaults
                .entry(default)
                .or_insert_with(|| lang::parse_expr(default).ok())
                .clone();
            match parsed.ok_or(()) {
                Ok(expr) => {
                    let mut planned = self.attr_value(&expr, Some(attr.ty), scope);
                    planned.text = String::new();
                    planned.expr = None;
                    planned.default = true;
                    out.attrs.insert(attr.name.to_string(), planned);
                }
                Err(_) => self.error(
                    Code::PlanEvaluation,
                    None,
                    format!(
                        "the stdlib default of `{}` does not parse: {default}",
                        attr.name
                    ),
                    None,
                ),
            }
        }
        out.target = target;
        out.label = label(
            schema.kind,
            variant,
            out.target.as_ref(),
            out.name.as_deref(),
        );
        self.describe(&mut out);
        out
    }

    fn retry(&mut self, r: &ast::Retry, scope: &Scope) -> Option<RetrySpec> {
        let count = self.known(&r.count, scope)?.as_int()?;
        let every = match &r.every {
            Some(e) => self.duration(e, scope)?,
            None => Duration::from_secs(1),
        };
        let max = match &r.max {
            Some(m) => Some(self.duration(m, scope)?),
            None => None,
        };
        Some(RetrySpec {
            count: u32::try_from(count).unwrap_or(0),
            every,
            backoff: match r.backoff.as_ref().map(|b| b.name.as_str()) {
                Some("exponential") => Backoff::Exponential,
                _ => Backoff::Constant,
            },
            max,
            jitter: r.jitter,
        })
    }

    /// Fills in what the step would change, its worst case and its preflight findings.
    fn describe(&mut self, step: &mut PlannedStep) {
        let mut view = input_view(step);
        view.secret_vars.clone_from(&self.secret_vars);
        view.secrets = self.redactor().clone();
        let implementation = self.req.registry.get(step.variant);
        let attempt = match implementation {
            Some(imp) => {
                let planned = imp.plan(&view);
                // What a kind reports may quote the world (a compose file, an engine's
                // names): redacted and neutralised before it enters the plan.
                step.change = self.redactor.clean(&planned.change);
                step.details = planned
                    .details
                    .iter()
                    .map(|line| self.redactor.clean(line))
                    .collect();
                for problem in planned.findings {
                    let level = if problem.error {
                        FindingLevel::Error
                    } else {
                        FindingLevel::Warning
                    };
                    self.finding(level, problem.code, Some(&step.id), problem.message);
                }
                planned.duration.or(step.timeout)
            }
            None => {
                step.change = format!(
                    "`{}` cannot run: this build has no implementation",
                    step_label(step)
                );
                self.finding(
                    FindingLevel::Error,
                    Code::StepNotImplemented,
                    Some(&step.id),
                    format!(
                        "step {} `{}`: this build of ops has no implementation of it",
                        step.id,
                        step_label(step)
                    ),
                );
                step.timeout
            }
        };
        let attempt = if step.effect == Effect::Interactive {
            Duration::ZERO
        } else {
            attempt.unwrap_or_default()
        };
        step.worst_case = timing::step_worst_case(attempt, step.retry.as_ref());
    }

    fn call_node(
        &mut self,
        step: &ast::Step,
        id: &str,
        scope: &Arc<Scope>,
        iteration: Option<&str>,
        variant: &'static Variant,
    ) -> Node {
        let attrs: Vec<&ast::Attr> = step
            .body
            .iter()
            .flat_map(|b| &b.stmts)
            .filter_map(|s| match s {
                Stmt::Attr(a) if !matches!(a.name.name.as_str(), "on_failure" | "description") => {
                    Some(a)
                }
                _ => None,
            })
            .collect();
        let mut on_failure_mode = OnFailure::Abort;
        for stmt in step.body.iter().flat_map(|b| &b.stmts) {
            if let Stmt::Attr(a) = stmt
                && a.name.name == "on_failure"
                && self
                    .attr_value(
                        &a.value,
                        Some(SchemaType::Enum(&["abort", "continue"])),
                        scope,
                    )
                    .value()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .as_deref()
                    == Some("continue")
            {
                on_failure_mode = OnFailure::Continue;
            }
        }
        let target_span = step.args.first().and_then(|a| match &a.kind {
            ExprKind::Str(lit) => Some(lit.span),
            _ => None,
        });
        let callee = target_span.and_then(|span| match self.program().link(self.file, span) {
            Some(Link::File(fid)) => Some(*fid),
            _ => None,
        });
        let when = step
            .body
            .iter()
            .flat_map(|b| &b.stmts)
            .find_map(|s| match s {
                Stmt::When(w) => Some(w),
                _ => None,
            })
            .map(|w| self.condition(&w.cond, scope));
        let title = step
            .args
            .first()
            .map(|a| self.text(a.span))
            .unwrap_or_default();
        let params: IndexMap<String, Planned> = attrs
            .iter()
            .map(|a| (a.name.name.clone(), self.planned(&a.value, scope)))
            .collect();
        let loc = self.loc(step.span);
        let Some(callee) = callee else {
            self.error(
                Code::PlanEvaluation,
                Some(step.span),
                format!("the called runbook {title} could not be loaded"),
                None,
            );
            return Node::Step(Box::new(self.placeholder(step, id, scope)));
        };
        let Some(ast) = self
            .program()
            .unit(callee)
            .and_then(|u| u.parsed.ast.as_ref())
        else {
            return Node::Step(Box::new(self.placeholder(step, id, scope)));
        };
        let saved = std::mem::replace(&mut self.file, callee);
        let saved_libs = std::mem::take(&mut self.declared_libs);
        let mut root = Scope::default();
        self.declare(&ast.stmts, &mut root, &Given::Call(&attrs, scope.clone()));
        let inner = self.block(&ast.stmts, &format!("{id}."), Arc::new(root), iteration);
        let callee_id = ast.stmts.iter().find_map(|s| match s {
            Stmt::Runbook(r) => r.id.as_plain(),
            _ => None,
        });
        self.file = saved;
        self.declared_libs = saved_libs;
        let group = Group {
            when,
            on_failure: inner.on_failure,
            always: inner.always,
            iteration: iteration.map(str::to_string),
            params,
            on_failure_mode,
            effect: variant.effect,
            name: step.name.as_ref().map(|n| n.name.clone()),
            callee: callee_id,
            ..Group::new(id.to_string(), GroupKind::Call, title, loc, inner.nodes)
        }
        .sealed();
        Node::Group(Box::new(group))
    }
}

/// A placeholder variant for steps that could not be resolved.
static PLACEHOLDER: Variant = Variant::BASE;

/// The variant a step uses and its remaining positional arguments (as the checker does).
fn resolve_variant<'s>(
    step: &'s ast::Step,
    schema: &'static StepSchema,
    scope: &Scope,
) -> (&'static Variant, &'s [Expr]) {
    let first_word = step.args.first().and_then(|a| match &a.kind {
        ExprKind::Path(p) if p.segments.is_empty() => Some(p.root.name.as_str()),
        _ => None,
    });
    if let Some(v) = first_word.and_then(|w| schema.variant(w)) {
        return (v, &step.args[1..]);
    }
    let _ = scope;
    match schema.default_variant() {
        Some(v) => (v, &step.args[..]),
        None => (&schema.variants[0], &step.args[..]),
    }
}

/// A bare word naming a value of an enum type (and no variable): the word itself.
fn enum_word(expr: &Expr, ty: Option<SchemaType>, scope: &Scope) -> Option<crate::value::Value> {
    let Some(SchemaType::Enum(words)) = ty else {
        return None;
    };
    match &expr.kind {
        ExprKind::Path(p)
            if p.segments.is_empty()
                && words.contains(&p.root.name.as_str())
                && scope.lookup(&p.root.name).is_none() =>
        {
            Some(crate::value::Value::str(p.root.name.clone()))
        }
        _ => None,
    }
}

/// `probe http "http://..." as name`.
fn label(kind: &str, variant: &Variant, target: Option<&Planned>, name: Option<&str>) -> String {
    let mut out = variant.display(kind);
    if let Some(t) = target {
        out.push(' ');
        out.push_str(&t.short());
    }
    if let Some(n) = name {
        out.push_str(" as ");
        out.push_str(n);
    }
    out
}

fn step_label(step: &PlannedStep) -> String {
    step.variant.display(step.kind)
}

/// The rendered inputs a kind's `describe` sees.
pub fn input_view(step: &PlannedStep) -> InputView {
    let mut view = InputView {
        target: step.target.as_ref().map(Planned::render),
        ..InputView::default()
    };
    if let Some(t) = &step.target
        && let Some(v) = t.value()
        && !v.is_secret()
    {
        view.target_value = Some(v.clone());
    }
    for (name, planned) in &step.attrs {
        view.attrs.insert(name.clone(), planned.render());
        if let Some(v) = planned.value()
            && !v.is_secret()
        {
            view.values.insert(name.clone(), v.clone());
        }
    }
    view
}
