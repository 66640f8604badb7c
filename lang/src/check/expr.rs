//! Expressions: types, secrecy, run-time dependence, and references to variables,
//! step outputs and `failure.*`.

use super::Checker;
use super::types::{Ty, Type, assignable, comparable};
use crate::ast::*;
use crate::diag;

impl Checker<'_> {
    /// Checks `value` where a value of `expected` goes. A bare word is accepted as one
    /// of an enum's words; a secret is an error unless the place is `sensitive`.
    pub(super) fn check_value(
        &mut self,
        value: &Expr,
        expected: &Type,
        sensitive: bool,
        what: &str,
    ) -> Ty {
        if let Type::Enum(words) = expected {
            let word = match &value.kind {
                ExprKind::Path(p)
                    if p.segments.is_empty() && self.lookup(&p.root.name).is_none() =>
                {
                    Some(p.root.name.clone())
                }
                ExprKind::Str(lit) => lit.as_plain(),
                _ => None,
            };
            if let Some(word) = word {
                if !words.contains(&word.as_str()) {
                    self.report(diag::unknown_enum_value(value.span, &word, what, words));
                }
                return Ty::known(expected.clone());
            }
        }
        let ty = self.check_expr(value);
        if !assignable(&ty.ty, expected) {
            self.report(diag::type_mismatch(
                value.span,
                what,
                &expected.describe(),
                &ty.ty.describe(),
                is_literal(value),
            ));
        } else {
            self.check_literal(value, expected);
        }
        if let Some(origin) = ty.secret
            && !sensitive
        {
            self.report(diag::secret_leak(value.span, origin, what));
        }
        ty
    }

    /// Validates literal URLs where a URL is expected.
    fn check_literal(&mut self, value: &Expr, expected: &Type) {
        if *expected != Type::Url {
            return;
        }
        let ExprKind::Str(lit) = &value.kind else {
            return;
        };
        let Some(text) = lit.as_plain() else {
            return;
        };
        match url::Url::parse(&text) {
            Err(e) => self.report(diag::invalid_url(value.span, &text, &e.to_string())),
            Ok(u) if u.cannot_be_a_base() => {
                self.report(diag::invalid_url(
                    value.span,
                    &text,
                    "it has no `//` host part",
                ));
            }
            Ok(_) => {}
        }
    }

    /// The type, secrecy and run-time dependence of an expression.
    pub(super) fn check_expr(&mut self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::Str(lit) => self.check_string(lit),
            ExprKind::Int(_) => Ty::known(Type::Int),
            ExprKind::Float(_) => Ty::known(Type::Float),
            ExprKind::Bool(_) => Ty::known(Type::Bool),
            ExprKind::Duration(_) => Ty::known(Type::Duration),
            ExprKind::Size(_) => Ty::known(Type::Size),
            ExprKind::List(items) => {
                let mut out = Ty::known(Type::Any);
                let mut element: Option<Type> = None;
                let mut mixed = false;
                for item in items {
                    let ty = self.check_expr(item);
                    out.absorb(&ty);
                    match &element {
                        None => element = Some(ty.ty.clone()),
                        Some(e) if !comparable(e, &ty.ty) => mixed = true,
                        Some(_) => {}
                    }
                }
                out.ty = Type::List(Box::new(if mixed {
                    Type::Any
                } else {
                    element.unwrap_or(Type::Any)
                }));
                out
            }
            ExprKind::Map(entries) => {
                let mut out = Ty::known(Type::Any);
                let mut seen: Vec<(&str, Span)> = Vec::new();
                let mut value_ty: Option<Type> = None;
                let mut mixed = false;
                for entry in entries {
                    if let Some(lit) = &entry.key_lit
                        && lit.as_plain().is_none()
                    {
                        self.report(diag::plain_string_required(entry.key_span, "a map key"));
                        self.check_string(lit);
                        continue;
                    }
                    if let Some((_, first)) = seen.iter().find(|(k, _)| *k == entry.key) {
                        let first = *first;
                        self.report(diag::duplicate_key(entry.key_span, &entry.key, first));
                    }
                    seen.push((&entry.key, entry.key_span));
                    let ty = self.check_expr(&entry.value);
                    out.absorb(&ty);
                    match &value_ty {
                        None => value_ty = Some(ty.ty.clone()),
                        Some(v) if !comparable(v, &ty.ty) => mixed = true,
                        Some(_) => {}
                    }
                }
                out.ty = Type::Map(Box::new(if mixed {
                    Type::Any
                } else {
                    value_ty.unwrap_or(Type::Any)
                }));
                out
            }
            ExprKind::Path(path) => self.check_path(path),
            ExprKind::Paren(inner) => self.check_expr(inner),
            ExprKind::Not(inner) => {
                let mut ty = self.check_expr(inner);
                self.expect_bool(inner, &ty.ty, "`not`");
                ty.ty = Type::Bool;
                ty
            }
            ExprKind::Logic(op, items) => {
                let mut out = Ty::known(Type::Bool);
                for item in items {
                    let ty = self.check_expr(item);
                    self.expect_bool(item, &ty.ty, &format!("`{}`", op.as_str()));
                    out.absorb(&ty);
                }
                out
            }
            ExprKind::Compare(op, lhs, rhs) => {
                let left = self.check_expr(lhs);
                let right = self.check_expr(rhs);
                self.check_comparison(*op, &left.ty, rhs, &right.ty, expr.span);
                let mut out = Ty::known(Type::Bool);
                out.absorb(&left);
                out.absorb(&right);
                out
            }
        }
    }

    fn expect_bool(&mut self, expr: &Expr, ty: &Type, what: &str) {
        if !assignable(ty, &Type::Bool) {
            self.report(diag::type_mismatch(
                expr.span,
                &format!("an operand of {what}"),
                "bool",
                &ty.describe(),
                is_literal(expr),
            ));
        }
    }

    /// Whether `left OP right` makes sense; reports why not.
    pub(super) fn check_comparison(
        &mut self,
        op: CmpOp,
        left: &Type,
        rhs: &Expr,
        right: &Type,
        span: Span,
    ) {
        let ok = match op {
            CmpOp::Eq | CmpOp::Ne => comparable(left, right),
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                left.is_ordered() && right.is_ordered() && comparable(left, right)
            }
            CmpOp::Contains | CmpOp::NotContains => match left {
                Type::List(inner) => comparable(inner, right),
                Type::Map(_) => right.is_textual(),
                other => other.is_textual() && right.is_textual(),
            },
            CmpOp::Matches | CmpOp::NotMatches => left.is_textual() && right.is_textual(),
            CmpOp::In | CmpOp::NotIn => match right {
                Type::List(inner) => comparable(left, inner),
                Type::Any | Type::Error => true,
                _ => false,
            },
        };
        if !ok {
            self.report(diag::bad_comparison(
                span,
                op.as_str(),
                &left.describe(),
                &right.describe(),
            ));
            return;
        }
        if matches!(op, CmpOp::Matches | CmpOp::NotMatches)
            && let ExprKind::Str(lit) = &rhs.kind
            && let Some(pattern) = lit.as_plain()
            && let Err(e) = regex::Regex::new(&pattern)
        {
            self.report(diag::invalid_regex(rhs.span, &e.to_string()));
        }
    }

    /// A string literal: its interpolations must be scalars.
    pub(super) fn check_string(&mut self, lit: &StrLit) -> Ty {
        let mut out = Ty::known(Type::String);
        for part in &lit.parts {
            if let StrPart::Interp(expr) = part {
                let ty = self.check_expr(expr);
                if !ty.ty.is_scalar() {
                    self.report(diag::cannot_interpolate(expr.span, &ty.ty.describe()));
                }
                out.absorb(&ty);
            }
        }
        out
    }

    /// A reference: a variable, a step's output, or `failure.*`.
    fn check_path(&mut self, path: &PathExpr) -> Ty {
        let name = path.root.name.as_str();
        if let Some(var) = self.lookup(name).cloned() {
            self.unused.remove(&(var.file, var.span.start));
            let mut ty = var.ty.clone();
            if var.kind == super::VarKind::Secret
                || (ty.secret.is_some() && var.kind != super::VarKind::Param)
            {
                ty.secret = Some(path.root.span);
            }
            return self.follow_segments(ty, &path.segments, name);
        }
        if name == "failure" {
            return self.check_failure(path);
        }
        if self.sites.contains_key(name) {
            return self.check_output(path);
        }
        let candidates = self.visible_names();
        self.report(diag::undefined_name(
            path.root.span,
            name,
            diag::did_you_mean(name, candidates.iter().map(String::as_str)),
        ));
        Ty::error()
    }

    /// `failure.step` / `failure.message`, only inside handlers.
    fn check_failure(&mut self, path: &PathExpr) -> Ty {
        if self.ctx.handlers.is_empty() {
            self.report(diag::failure_outside_handler(path.root.span));
            return Ty::error();
        }
        let fields = ["step", "message"];
        let Some(Segment::Field(field)) = path.segments.first() else {
            self.report(diag::step_used_as_value(path.root.span, "failure", &fields));
            return Ty::error();
        };
        if !fields.contains(&field.name.as_str()) {
            self.report(diag::unknown_output(
                field.span,
                &field.name,
                "failure",
                &fields,
            ));
            return Ty::error();
        }
        let ty = Ty {
            ty: Type::String,
            secret: None,
            after: Some(String::from("failure")),
        };
        self.follow_segments(ty, &path.segments[1..], "failure")
    }

    /// `step.output...`: the step must have run by now.
    fn check_output(&mut self, path: &PathExpr) -> Ty {
        let name = path.root.name.as_str();
        let Some(site) = self.sites.get(name).cloned() else {
            return Ty::error();
        };
        if !self.available.contains(name) {
            if self.declaring {
                self.report(diag::output_before_run(
                    path.root.span,
                    name,
                    site.span,
                    "runs after file-level declarations are evaluated",
                ));
            } else if self.maybe.contains(name) {
                self.report(diag::handler_output_reference(
                    path.root.span,
                    name,
                    site.span,
                ));
            } else if let Some(group) = self.sibling_group(&site) {
                self.report(diag::parallel_sibling_output(
                    path.root.span,
                    name,
                    site.span,
                    group,
                ));
            } else if let Some(_loop) = site.loops.iter().find(|l| !self.ctx.loops.contains(l)) {
                self.report(diag::loop_output_outside(path.root.span, name, site.span));
            } else if site
                .handler
                .is_some_and(|h| !self.ctx.handlers.contains(&h))
            {
                self.report(diag::output_before_run(
                    path.root.span,
                    name,
                    site.span,
                    "runs only in a handler",
                ));
            } else if site.span.start <= path.root.span.start && path.root.span.end <= site.span.end
            {
                self.report(diag::output_before_run(
                    path.root.span,
                    name,
                    site.span,
                    "is this step itself",
                ));
            } else {
                self.report(diag::output_before_run(
                    path.root.span,
                    name,
                    site.span,
                    "runs later",
                ));
            }
        }
        let outputs: Vec<&str> = site.outputs.iter().map(|o| o.name).collect();
        let Some(Segment::Field(field)) = path.segments.first() else {
            self.report(diag::step_used_as_value(path.root.span, name, &outputs));
            return Ty::error();
        };
        let Some(output) = site.outputs.iter().find(|o| o.name == field.name) else {
            if !site.outputs.is_empty() || path.segments.len() == 1 {
                self.report(diag::unknown_output(
                    field.span,
                    &field.name,
                    name,
                    &outputs,
                ));
            }
            return Ty::error();
        };
        let secret = match output.secrecy {
            crate::schema::Secrecy::FromInputs => site.secret_input,
            crate::schema::Secrecy::Never => None,
        };
        let ty = Ty {
            ty: Type::from_schema(output.ty),
            secret,
            after: Some(name.to_string()),
        };
        self.follow_segments(ty, &path.segments[1..], &format!("{name}.{}", field.name))
    }

    /// The innermost parallel group in which `site` and the current point are in
    /// different branches.
    fn sibling_group(&self, site: &super::StepSite) -> Option<Span> {
        site.parallel.iter().find_map(|(group, branch)| {
            self.ctx
                .parallel
                .iter()
                .find(|(g, b)| g == group && b != branch)
                .map(|_| Span::at(*group))
        })
    }

    /// Applies `.field` and `[index]` segments to a value's type.
    fn follow_segments(&mut self, mut ty: Ty, segments: &[Segment], written: &str) -> Ty {
        let mut written = written.to_string();
        for segment in segments {
            match segment {
                Segment::Field(field) => {
                    ty.ty = match &ty.ty {
                        Type::Map(inner) => (**inner).clone(),
                        Type::Any | Type::Error => Type::Any,
                        other => {
                            self.report(diag::no_fields(field.span, &written, &other.describe()));
                            return Ty::error();
                        }
                    };
                    written = format!("{written}.{}", field.name);
                }
                Segment::Index(index) => {
                    let index_ty = self.check_expr(index);
                    ty.absorb(&index_ty);
                    ty.ty = match &ty.ty {
                        Type::List(inner) if assignable(&index_ty.ty, &Type::Int) => {
                            (**inner).clone()
                        }
                        Type::Map(inner) if index_ty.ty.is_textual() => (**inner).clone(),
                        Type::Any | Type::Error => Type::Any,
                        other => {
                            self.report(diag::bad_index(
                                index.span,
                                &written,
                                &other.describe(),
                                &index_ty.ty.describe(),
                            ));
                            return Ty::error();
                        }
                    };
                    written.push_str("[...]");
                }
            }
        }
        ty
    }
}

/// Whether an expression is written as a literal (so "remove the quotes" help fits).
pub(super) fn is_literal(expr: &Expr) -> bool {
    !matches!(
        expr.kind,
        ExprKind::Path(_)
            | ExprKind::Not(_)
            | ExprKind::Logic(..)
            | ExprKind::Compare(..)
            | ExprKind::Paren(_)
    )
}
