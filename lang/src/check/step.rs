//! Steps: kind and variant resolution, target, attributes, expectations, modifiers,
//! nested steps, required attributes and unbounded waits.

use super::types::{Ty, Type};
use super::{Checker, StepInfo};
use crate::ast::*;
use crate::diag;
use crate::program::Link;
use crate::schema::{
    Attribute, Effect, MODIFIERS, Nested, StepSchema, UNIVERSAL_ATTRIBUTES, Variant,
};

/// Attributes a step accepts: from its schema, or a called runbook's parameters.
enum Accepts {
    Schema(&'static [Attribute]),
    Params(Vec<(String, Type, bool)>),
    /// The callee could not be loaded: accept anything, it was reported already.
    Anything,
}

impl Checker<'_> {
    /// Checks one step and records it.
    pub(super) fn check_step(&mut self, step: &Step) {
        let Some(schema) = self.schemas.get(&step.kind.name) else {
            let kinds: Vec<&str> = self.schemas.kinds().collect();
            self.report(diag::unknown_step_kind(
                step.kind.span,
                &step.kind.name,
                &kinds,
            ));
            self.check_loose(step);
            return;
        };
        let Some((variant, target)) = self.resolve_variant(step, schema) else {
            self.check_loose(step);
            return;
        };
        let label = variant.display(schema.kind);
        let mut secret_input: Option<Span> = None;

        // The positional target.
        match (variant.target, target) {
            (Some(t), Some(expr)) => {
                let ty = self.check_value(
                    expr,
                    &Type::from_schema(t.ty),
                    t.sensitive,
                    &format!("the {} of `{label}`", t.name),
                );
                if t.sensitive {
                    secret_input = secret_input.or(ty.secret);
                }
            }
            (Some(t), None) if t.required => {
                self.report(diag::missing_target(head_span(step), &label, t.name, t.doc));
            }
            (None, Some(expr)) => self.report(diag::unexpected_argument(expr.span, &label)),
            _ => {}
        }

        let accepts = if variant.params_from_target {
            self.callee(step)
        } else {
            Accepts::Schema(variant.attributes)
        };

        let mut attrs: Vec<&Attr> = Vec::new();
        let mut timeout: Option<Span> = None;
        let mut retry: Option<Span> = None;
        let mut when: Option<Span> = None;
        let mut nested: Vec<&Step> = Vec::new();
        let mut readonly = false;
        for stmt in step.body.iter().flat_map(|b| &b.stmts) {
            match stmt {
                Stmt::Attr(attr) => {
                    if let Some(first) = attrs.iter().find(|a| a.name.name == attr.name.name) {
                        let first = first.name.span;
                        self.report(diag::duplicate_attribute(
                            attr.name.span,
                            &attr.name.name,
                            first,
                        ));
                        continue;
                    }
                    attrs.push(attr);
                    if let Some(secret) = self.check_attr(attr, &accepts, &label) {
                        secret_input = secret_input.or(Some(secret));
                    }
                    if variant.readonly_attr && attr.name.name == "readonly" {
                        readonly = matches!(attr.value.kind, ExprKind::Bool(true));
                    }
                }
                Stmt::Expect(expect) => self.check_expect(expect, variant, &label),
                Stmt::Timeout(t) => {
                    if let Some(first) = timeout {
                        self.report(diag::duplicate_modifier(t.span, "timeout", first));
                    }
                    timeout = Some(t.span);
                    self.check_positive_duration(&t.value, "a timeout");
                }
                Stmt::Retry(r) => {
                    if let Some(first) = retry {
                        self.report(diag::duplicate_modifier(r.span, "retry", first));
                    }
                    retry = Some(r.span);
                    if variant.effect == Effect::Interactive {
                        self.report(diag::misplaced(
                            r.span,
                            "a `retry` modifier",
                            &format!("`{label}`"),
                            "attributes, timeout, when",
                        ));
                    }
                    self.check_retry(r);
                }
                Stmt::When(w) => {
                    if let Some(first) = when {
                        self.report(diag::duplicate_modifier(w.span, "when", first));
                    }
                    when = Some(w.span);
                    self.check_condition(&w.cond);
                }
                Stmt::Step(inner) if variant.nested == Nested::OneReadOnly => nested.push(inner),
                other => {
                    let allowed = if variant.subjects.is_empty() {
                        "attributes, retry, timeout, when"
                    } else {
                        "attributes, expect, retry, timeout, when"
                    };
                    self.report(diag::misplaced(
                        other.span(),
                        other.describe(),
                        &format!("`{label}`"),
                        allowed,
                    ));
                }
            }
        }

        // Required attributes.
        let missing: Vec<String> = match &accepts {
            Accepts::Schema(list) => list
                .iter()
                .filter(|a| a.required && !attrs.iter().any(|x| x.name.name == a.name))
                .map(|a| a.name.to_string())
                .collect(),
            Accepts::Params(params) => params
                .iter()
                .filter(|(n, _, required)| *required && !attrs.iter().any(|x| x.name.name == *n))
                .map(|(n, _, _)| n.clone())
                .collect(),
            Accepts::Anything => Vec::new(),
        };
        if !missing.is_empty() {
            let code_params = matches!(accepts, Accepts::Params(_));
            self.report(diag::missing_attributes(
                head_span(step),
                &label,
                &missing,
                code_params,
            ));
        }

        // Nested steps (`wait until { probe ... }`).
        if variant.nested == Nested::OneReadOnly {
            self.check_nested(step, &nested, &label);
        }
        if variant.requires_timeout && timeout.is_none() {
            self.report(diag::unbounded_wait(head_span(step), &label));
        }

        if let Some(name) = &step.name
            && let Some(site) = self.sites.get_mut(&name.name)
            && site.span == step.span
        {
            site.secret_input = secret_input;
        }
        let effect = if readonly {
            Effect::ReadOnly
        } else {
            variant.effect
        };
        self.steps.push(StepInfo {
            file: self.file,
            span: step.span,
            kind: schema.kind,
            schema,
            variant,
            target: target.and_then(|t| step.args.iter().position(|a| std::ptr::eq(a, t))),
            callee: if variant.params_from_target {
                self.callee_file(step)
            } else {
                None
            },
            name: step.name.as_ref().map(|n| n.name.clone()),
            effect,
        });
    }

    /// Picks the variant from the first argument; returns it and the target argument.
    fn resolve_variant<'s>(
        &mut self,
        step: &'s Step,
        schema: &'static StepSchema,
    ) -> Option<(&'static Variant, Option<&'s Expr>)> {
        let first_word = step.args.first().and_then(|a| match &a.kind {
            ExprKind::Path(p) if p.segments.is_empty() => Some((p.root.name.as_str(), a.span)),
            _ => None,
        });
        let (variant, rest) = match first_word.and_then(|(w, _)| schema.variant(w)) {
            Some(v) => (v, &step.args[1..]),
            None => match schema.default_variant() {
                // A bare word that is no variable is most likely a mistyped variant.
                Some(_)
                    if first_word.is_some_and(|(w, _)| {
                        self.lookup(w).is_none() && !schema.variant_names().is_empty()
                    }) =>
                {
                    let (word, span) = first_word.unwrap_or(("", step.kind.span));
                    self.report(diag::unknown_variant(
                        span,
                        word,
                        schema.kind,
                        &schema.variant_names(),
                    ));
                    return None;
                }
                Some(v) => (v, &step.args[..]),
                None => {
                    match first_word {
                        Some((word, span)) if self.lookup(word).is_none() => {
                            self.report(diag::unknown_variant(
                                span,
                                word,
                                schema.kind,
                                &schema.variant_names(),
                            ));
                        }
                        _ => self.report(diag::missing_variant(
                            head_span(step),
                            schema.kind,
                            &schema.variant_names(),
                        )),
                    }
                    return None;
                }
            },
        };
        if let Some(extra) = rest.get(1) {
            let label = variant.display(schema.kind);
            self.report(diag::unexpected_argument(
                extra.span.to(rest[rest.len() - 1].span),
                &label,
            ));
        }
        Some((variant, rest.first()))
    }

    /// An attribute: known name, right type, secrets only where sensitive.
    /// Returns where a secret flows into a sensitive attribute.
    fn check_attr(&mut self, attr: &Attr, accepts: &Accepts, label: &str) -> Option<Span> {
        let name = attr.name.name.as_str();
        let what = format!("`{name}` of `{label}`");
        let found = match accepts {
            Accepts::Schema(list) => {
                let schema = list
                    .iter()
                    .chain(UNIVERSAL_ATTRIBUTES)
                    .find(|a| a.name == name);
                if let Some(schema) = schema {
                    self.check_limits(schema, attr, &what);
                }
                schema.map(|a| (Type::from_schema(a.ty), a.sensitive))
            }
            Accepts::Params(params) => params
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, ty, _)| (ty.clone(), false))
                .or_else(|| {
                    UNIVERSAL_ATTRIBUTES
                        .iter()
                        .find(|a| a.name == name)
                        .map(|a| (Type::from_schema(a.ty), false))
                }),
            Accepts::Anything => Some((Type::Any, true)),
        };
        let Some((ty, sensitive)) = found else {
            if MODIFIERS.contains(&name) {
                self.report(diag::modifier_as_attribute(attr.span, name));
            } else {
                let mut names: Vec<String> = match accepts {
                    Accepts::Schema(list) => list.iter().map(|a| a.name.to_string()).collect(),
                    Accepts::Params(params) => params.iter().map(|(n, _, _)| n.clone()).collect(),
                    Accepts::Anything => Vec::new(),
                };
                if !matches!(accepts, Accepts::Params(_)) {
                    names.extend(UNIVERSAL_ATTRIBUTES.iter().map(|a| a.name.to_string()));
                }
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                if matches!(accepts, Accepts::Params(_)) {
                    self.report(diag::unknown_call_parameter(
                        attr.name.span,
                        name,
                        label,
                        &refs,
                    ));
                } else {
                    self.report(diag::unknown_attribute(attr.name.span, name, label, &refs));
                }
            }
            self.check_expr(&attr.value);
            return None;
        };
        let value = self.check_value(&attr.value, &ty, sensitive, &what);
        if matches!(accepts, Accepts::Params(_))
            && let Some(step) = &value.after
        {
            // Parameters of a called runbook are fixed when its plan is made.
            self.report(diag::unknown_at_plan_time(
                attr.value.span,
                "a parameter of a called runbook",
                step,
            ));
        }
        if sensitive { value.secret } else { None }
    }

    /// A literal outside the attribute's range or length (`keep_last = -1`).
    fn check_limits(&mut self, schema: &Attribute, attr: &Attr, what: &str) {
        let int = match attr.value.kind {
            ExprKind::Int(n) => Some(n),
            _ => None,
        };
        let text = match &attr.value.kind {
            ExprKind::Str(lit) => lit.as_plain(),
            _ => None,
        };
        if let Some(range) = schema.out_of_range(int, text.as_deref()) {
            self.report(diag::value_out_of_range(attr.value.span, what, &range));
        }
        let word = match &attr.value.kind {
            ExprKind::Path(p) if p.segments.is_empty() => Some(p.root.name.clone()),
            _ => text,
        };
        if let Some(word) = word
            && let Some(refusal) = schema.refusal(&word)
        {
            self.report(diag::value_refused(attr.value.span, what, &word, refusal));
        }
    }

    /// `call "x.rb.ops"`: the callee's parameters, or why they are unknown.
    /// The loaded runbook a `call` step names.
    fn callee_file(&self, step: &Step) -> Option<crate::source::FileId> {
        let Some(Expr {
            kind: ExprKind::Str(lit),
            ..
        }) = step.args.first()
        else {
            return None;
        };
        match self.program.link(self.file, lit.span) {
            Some(Link::File(file)) if !self.program.unparsable.contains_key(file) => Some(*file),
            _ => None,
        }
    }

    fn callee(&mut self, step: &Step) -> Accepts {
        let Some(Expr {
            kind: ExprKind::Str(lit),
            span,
        }) = step.args.first()
        else {
            return Accepts::Anything;
        };
        let Some(path) = lit.as_plain() else {
            self.report(diag::plain_string_required(
                *span,
                "the path of a called runbook",
            ));
            return Accepts::Anything;
        };
        match self.program.link(self.file, lit.span).cloned() {
            Some(Link::File(file)) if self.program.unparsable.contains_key(&file) => {
                if let Some(bad) = self.program.unparsable.get(&file) {
                    let resolved = self.program.path(file).to_string();
                    self.report(diag::linked_file_invalid(*span, &resolved, bad));
                }
                Accepts::Anything
            }
            Some(Link::File(file)) => {
                if self
                    .program
                    .unit(file)
                    .and_then(|u| u.parsed.ast.as_ref())
                    .is_none()
                {
                    self.report(diag::invalid_callee(
                        *span,
                        &path,
                        "it has syntax errors; run `ops check` on it",
                    ));
                    Accepts::Anything
                } else if !self.is_runbook(file) {
                    self.report(diag::invalid_callee(
                        *span,
                        &path,
                        "it has no `runbook` block (is it a library for `include`?)",
                    ));
                    Accepts::Anything
                } else {
                    Accepts::Params(self.callee_params(file))
                }
            }
            Some(Link::Missing {
                path: resolved,
                reason,
            }) => {
                self.report(diag::file_not_found(*span, &path, &resolved, &reason));
                Accepts::Anything
            }
            Some(Link::Cycle(chain)) => {
                self.report(diag::link_cycle(*span, &chain));
                Accepts::Anything
            }
            Some(Link::NotRunbook(resolved)) => {
                self.report(diag::link_not_runbook(*span, &resolved));
                Accepts::Anything
            }
            None => Accepts::Anything,
        }
    }

    /// `expect SUBJECT ARG? OP VALUE`.
    fn check_expect(&mut self, expect: &Expect, variant: &Variant, label: &str) {
        if variant.subjects.is_empty() {
            self.report(diag::misplaced(
                expect.span,
                "an `expect`",
                &format!("`{label}`"),
                "attributes, retry, timeout, when",
            ));
            return;
        }
        let name = expect.subject.name.as_str();
        let Some(subject) = variant.subjects.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = variant.subjects.iter().map(|s| s.name).collect();
            self.report(diag::unknown_subject(
                expect.subject.span,
                name,
                label,
                &names,
            ));
            self.check_expr(&expect.value);
            return;
        };
        match (subject.arg, &expect.arg) {
            (Some(arg_ty), Some(arg)) => {
                let ty = self.check_value(
                    arg,
                    &Type::from_schema(arg_ty),
                    false,
                    &format!("the argument of `expect {name}`"),
                );
                if name == "json"
                    && ty.ty != Type::Error
                    && let ExprKind::Str(lit) = &arg.kind
                    && let Some(path) = lit.as_plain()
                    && let Err((_, why)) = crate::jsonpath::parse(&path)
                {
                    self.report(diag::invalid_json_path(arg.span, &path, &why));
                }
            }
            (Some(_), None) => self.report(diag::missing_subject_arg(
                expect.subject.span,
                name,
                subject.doc,
            )),
            (None, Some(arg)) => self.report(diag::unexpected_subject_arg(arg.span, name)),
            (None, None) => {}
        }
        let subject_ty = Type::from_schema(subject.ty);
        let value = self.check_expr(&expect.value);
        self.check_comparison(
            expect.op,
            &subject_ty,
            &expect.value,
            &value.ty,
            expect.op_span.to(expect.value.span),
        );
    }

    fn check_retry(&mut self, retry: &Retry) {
        let count = self.check_value(&retry.count, &Type::Int, false, "a retry count");
        self.require_known(&retry.count, &count, "a retry count");
        if let ExprKind::Int(n) = retry.count.kind
            && !(0..=100).contains(&n)
        {
            self.report(diag::value_out_of_range(
                retry.count.span,
                "a retry count",
                "between 0 and 100",
            ));
        }
        if let Some(every) = &retry.every {
            self.check_positive_duration(every, "a retry delay");
        }
        if let Some(backoff) = &retry.backoff
            && !matches!(backoff.name.as_str(), "constant" | "exponential")
        {
            self.report(diag::unknown_enum_value(
                backoff.span,
                &backoff.name,
                "backoff",
                &["constant", "exponential"],
            ));
        }
        if let Some(max) = &retry.max {
            self.check_positive_duration(max, "a maximum retry delay");
        }
    }

    /// A duration known at plan time and above zero.
    fn check_positive_duration(&mut self, value: &Expr, what: &str) {
        let ty = self.check_value(value, &Type::Duration, false, what);
        self.require_known(value, &ty, what);
        if let ExprKind::Duration(d) = value.kind
            && d.is_zero()
        {
            self.report(diag::value_out_of_range(value.span, what, "above zero"));
        }
    }

    fn require_known(&mut self, value: &Expr, ty: &Ty, what: &str) {
        if let Some(step) = &ty.after {
            self.report(diag::unknown_at_plan_time(value.span, what, step));
        }
    }

    /// The one read-only step polled by `wait until`.
    fn check_nested(&mut self, step: &Step, nested: &[&Step], label: &str) {
        match nested {
            [] => self.report(diag::missing_nested_step(head_span(step), label)),
            [inner, rest @ ..] => {
                for extra in rest {
                    self.report(diag::misplaced(
                        extra.span,
                        "a second step",
                        &format!("`{label}`"),
                        "exactly one read-only step",
                    ));
                }
                let before = self.steps.len();
                self.check_step(inner);
                if let Some(name) = &inner.name {
                    self.available.insert(name.name.clone());
                }
                if let Some(info) = self.steps.get(before)
                    && info.effect != Effect::ReadOnly
                {
                    let kind = info.variant.display(info.kind);
                    let effect = info.effect.as_str();
                    self.report(diag::nested_not_read_only(
                        inner.kind.span.to(head_span(inner)),
                        label,
                        &kind,
                        effect,
                    ));
                }
            }
        }
    }

    /// Checks what can be checked of a step whose kind or variant is unknown, so
    /// undefined names inside it are still reported.
    fn check_loose(&mut self, step: &Step) {
        for arg in &step.args {
            if !matches!(&arg.kind, ExprKind::Path(p) if p.segments.is_empty() && self.lookup(&p.root.name).is_none())
            {
                self.check_expr(arg);
            }
        }
        for stmt in step.body.iter().flat_map(|b| &b.stmts) {
            match stmt {
                Stmt::Attr(a) => {
                    self.check_expr(&a.value);
                }
                Stmt::When(w) => self.check_condition(&w.cond),
                Stmt::Step(inner) => self.check_step(inner),
                _ => {}
            }
        }
    }
}

/// The head of a step: from its kind to the end of its last argument or name.
pub(super) fn head_span(step: &Step) -> Span {
    let mut span = step.kind.span;
    if let Some(last) = step.args.last() {
        span = span.to(last.span);
    }
    if let Some(name) = &step.name {
        span = span.to(name.span);
    }
    span
}
