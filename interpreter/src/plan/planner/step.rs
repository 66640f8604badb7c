//! One step of the checked program: target, attributes (with schema defaults and bare
//! enum words), expectations, modifiers, effect, what it would change, its worst case and
//! preflight; and `call`, planned as a group holding the called runbook.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use lang::ast::{self, Expr, ExprKind};
use lang::hir;
use lang::schema::{Effect, SchemaType, Variant};

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

    /// Plans one step from its checked form.
    pub(super) fn step_node(
        &mut self,
        step: &hir::Step<'_>,
        id: &str,
        scope: &Arc<Scope>,
        iteration: Option<&str>,
    ) -> PlannedStep {
        let variant = step.variant;
        let mut out = PlannedStep {
            id: id.to_string(),
            kind: step.schema.kind,
            variant,
            name: step.name.map(|n| n.name.clone()),
            label: String::new(),
            target: step.target.map(|a| self.planned(a, scope)),
            attrs: IndexMap::new(),
            expects: Vec::new(),
            when: step.when.map(|w| self.condition(w, scope)),
            retry: step.retry.and_then(|r| self.retry(r, scope)),
            timeout: variant.default_timeout,
            on_failure: OnFailure::Abort,
            effect: variant.effect,
            change: String::new(),
            details: Vec::new(),
            worst_case: Duration::ZERO,
            loc: self.loc(step.span),
            iteration: iteration.map(str::to_string),
            nested: None,
            description: step.description.and_then(|d| {
                self.known(d, scope)
                    .and_then(|v| v.as_str().map(str::to_string))
            }),
            before_start: false,
            touches: crate::world::Touches::default(),
            after: None,
            opaque_after: None,
            scope: scope.clone(),
        };
        if let Some(attr) = step.on_failure
            && self.is_continue(attr, scope)
        {
            out.on_failure = OnFailure::Continue;
        }
        if let Some(t) = step.timeout {
            out.timeout = self.duration(t, scope).or(out.timeout);
        }
        for attr in &step.attrs {
            let planned = self.attr_value(attr.value, Some(attr.schema.ty), scope);
            out.attrs.insert(attr.schema.name.to_string(), planned);
        }
        if let Some(readonly) = step.readonly
            && self
                .planned(readonly, scope)
                .value()
                .and_then(|v| v.as_bool())
                == Some(true)
        {
            out.effect = Effect::ReadOnly;
        }
        for e in &step.expects {
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
        if let Some(nested) = &step.nested {
            let nested_id = format!("{id}.1");
            out.nested = Some(Box::new(
                self.step_node(nested, &nested_id, scope, iteration),
            ));
        }
        self.defaults(&mut out, scope);
        out.label = label(
            step.schema.kind,
            variant,
            out.target.as_ref(),
            out.name.as_deref(),
        );
        self.describe(&mut out);
        out
    }

    /// `on_failure = continue`.
    fn is_continue(&mut self, attr: hir::Attr<'_>, scope: &Scope) -> bool {
        self.attr_value(attr.value, Some(attr.schema.ty), scope)
            .value()
            .and_then(|v| v.as_str().map(str::to_string))
            .as_deref()
            == Some("continue")
    }

    /// The schema defaults of attributes the step does not write.
    fn defaults(&mut self, out: &mut PlannedStep, scope: &Scope) {
        for attr in out.variant.attributes {
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
            match parsed {
                Some(expr) => {
                    let mut planned = self.attr_value(&expr, Some(attr.ty), scope);
                    planned.text = String::new();
                    planned.expr = None;
                    planned.default = true;
                    out.attrs.insert(attr.name.to_string(), planned);
                }
                None => self.error(diag::invalid_stdlib_default(attr.name, default)),
            }
        }
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
        view.world = self.world.clone();
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
                if step.retry.is_none() {
                    step.retry = planned.retry;
                }
                step.touches = planned.touches;
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
        drop(view);
        self.link(step);
    }

    /// Links a step into the world model: what earlier steps write that it touches, and
    /// what it writes for later steps.
    fn link(&mut self, step: &mut PlannedStep) {
        if let Some(nested) = &step.nested {
            // `wait until` reads what the step it polls reads.
            step.touches
                .reads
                .extend(nested.touches.reads.iter().cloned());
        }
        step.after = self.world.latest(step.touches.resources());
        step.opaque_after.clone_from(&self.last_opaque);
        if step.effect != Effect::Mutating {
            return;
        }
        if !self.started && !self.world.in_handler {
            // Before `--start-at`: it does not run.
            return;
        }
        if step.touches.opaque {
            self.last_opaque = Some(step.id.clone());
        }
        let certain =
            self.uncertain == 0 && step.when.is_none() && step.on_failure == OnFailure::Abort;
        let world = Arc::make_mut(&mut self.world);
        for write in &step.touches.writes {
            world.record(
                write.resource.clone(),
                crate::world::Prior {
                    step: step.id.clone(),
                    label: step.label.clone(),
                    state: write.state.clone(),
                    certain,
                },
            );
        }
    }

    /// Plans a `call` as a group holding the called runbook's plan.
    pub(super) fn call_node(
        &mut self,
        call: &hir::Call<'_>,
        id: &str,
        scope: &Arc<Scope>,
        iteration: Option<&str>,
    ) -> Node {
        let on_failure_mode = match call.on_failure {
            Some(attr) if self.is_continue(attr, scope) => OnFailure::Continue,
            _ => OnFailure::Abort,
        };
        let when = call.when.map(|w| self.condition(w, scope));
        let title = self.text(call.path.span);
        let params: IndexMap<String, Planned> = call
            .args
            .iter()
            .map(|a| (a.name.name.clone(), self.planned(a.value, scope)))
            .collect();
        let loc = self.loc(call.span);
        let Some(unit) = self.hir().unit(call.callee) else {
            self.error(diag::callee_not_loaded(call.span, &title));
            return Node::Group(Box::new(Group::new(
                id.to_string(),
                GroupKind::Call,
                title,
                loc,
                Vec::new(),
            )));
        };
        let saved = std::mem::replace(&mut self.file, call.callee);
        let saved_libs = std::mem::take(&mut self.declared_libs);
        // A conditional call, or one allowed to fail, may not do what its steps say.
        let conditional = usize::from(when.is_some() || on_failure_mode == OnFailure::Continue);
        self.uncertain += conditional;
        let mut root = Scope::default();
        self.declare(
            &unit.decls,
            &mut root,
            &Given::Call(&call.args, scope.clone()),
        );
        let inner = self.block(&unit.body, &format!("{id}."), Arc::new(root), iteration);
        self.uncertain -= conditional;
        self.file = saved;
        self.declared_libs = saved_libs;
        let group = Group {
            when,
            on_failure: inner.on_failure,
            always: inner.always,
            iteration: iteration.map(str::to_string),
            params,
            on_failure_mode,
            effect: call.variant.effect,
            name: call.name.map(|n| n.name.clone()),
            callee: unit.runbook_id.clone(),
            ..Group::new(id.to_string(), GroupKind::Call, title, loc, inner.nodes)
        }
        .sealed();
        Node::Group(Box::new(group))
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
        variant: Some(step.variant),
        target: step.target.as_ref().map(Planned::render),
        ..InputView::default()
    };
    if let Some(t) = &step.target
        && let Some(v) = t.value()
        && !v.is_secret()
    {
        view.target_value = Some(v.clone());
    }
    let after = |p: &Planned| match &p.state {
        PlannedState::Unknown(u) => u.ids.iter().cloned().collect(),
        PlannedState::Known(_) => Vec::new(),
    };
    if let Some(t) = &step.target {
        view.write_down(None, &t.text, after(t));
    }
    for (name, planned) in &step.attrs {
        view.write_down(Some(name), &planned.text, after(planned));
        view.attrs.insert(name.clone(), planned.render());
        if let Some(v) = planned.value()
            && !v.is_secret()
        {
            view.values.insert(name.clone(), v.clone());
        }
    }
    view
}
