//! Declarations: `param` values (given, default, `allowed`), `secret` sources and
//! presence, `let` bindings known now or later, included libraries; and the check of
//! given parameter names against the declared ones.

use std::sync::Arc;

use lang::ast;
use lang::hir::{self, Decl, SecretSource};

use super::super::params::{InputSource, ParamInput, convert, describe};
use super::*;
use crate::eval::{AtPlanTime, Binding, Eval, LetDef, Scope, eval};
use lang::diag::plan as diag;

/// Parameter values a file's `param`s take.
pub(super) enum Given<'a> {
    /// The main runbook: command line, vars file, environment.
    Inputs(&'a [ParamInput]),
    /// A called runbook (and the libraries it includes): the caller's expressions, in
    /// the caller's scope.
    Call(&'a [hir::CallArg<'a>], Arc<Scope>),
}

impl Planner<'_> {
    /// Binds a file's `param`, `secret`, `let` and included libraries, in order.
    pub(super) fn declare(&mut self, decls: &[Decl<'_>], scope: &mut Scope, given: &Given<'_>) {
        for decl in decls {
            match decl {
                Decl::Param(p) => self.declare_param(p, scope, given),
                Decl::Secret(s) => self.declare_secret(s, scope),
                Decl::Let(l) => self.declare_let(l, scope),
                Decl::Include(id) => {
                    let id = *id;
                    if !self.declared_libs.insert(id) {
                        continue;
                    }
                    let Some(lib) = self.hir().unit(id) else {
                        continue;
                    };
                    let saved = std::mem::replace(&mut self.file, id);
                    let given = match given {
                        Given::Inputs(inputs) => Given::Inputs(inputs),
                        // A called runbook's libraries take the caller's values too.
                        Given::Call(args, caller) => Given::Call(args, caller.clone()),
                    };
                    self.declare(&lib.decls, scope, &given);
                    self.file = saved;
                }
            }
        }
    }

    fn declare_param(&mut self, p: &hir::Param<'_>, scope: &mut Scope, given: &Given<'_>) {
        let name = p.name.name.clone();
        let ty = &p.ty;
        let main = matches!(given, Given::Inputs(_));
        // The highest-precedence given value wins (inputs are ordered lowest first).
        let mut value = None;
        match given {
            Given::Inputs(inputs) => {
                if let Some(input) = inputs.iter().rev().find(|i| i.name == name) {
                    match convert(&input.raw, ty) {
                        Ok(v) => value = Some((v, input.source.describe(&name))),
                        Err(e) => {
                            self.error(diag::invalid_parameter_value(
                                p.name.span,
                                &name,
                                &input.source.describe(&name),
                                &e,
                                &describe(ty),
                            ));
                            scope.bind(name, Binding::Invalid);
                            return;
                        }
                    }
                }
            }
            Given::Call(args, caller) => {
                if let Some(attr) = args.iter().find(|a| a.name.name == name) {
                    // Evaluated in the caller's scope, possibly only at run time.
                    match eval(attr.value, caller, &AtPlanTime) {
                        Ok(Eval::Known(v)) => scope.bind(&name, Binding::Value(v)),
                        Ok(Eval::Unknown(_)) => scope.bind(
                            &name,
                            Binding::Let(Arc::new(LetDef {
                                expr: (*attr.value).clone(),
                                scope: caller.clone(),
                            })),
                        ),
                        Err(e) => {
                            self.eval_error(e);
                            scope.bind(&name, Binding::Invalid);
                        }
                    }
                    return;
                }
            }
        }
        let (value, source) = match value {
            Some(v) => v,
            None => match p.default {
                Some(default) => match self.known(default, scope) {
                    Some(v) => (v, String::from("default")),
                    None => {
                        scope.bind(name, Binding::Invalid);
                        return;
                    }
                },
                None => {
                    self.error(diag::missing_parameter(p.name.span, &name));
                    scope.bind(name, Binding::Invalid);
                    return;
                }
            },
        };
        if let Some(allowed) = p.allowed
            && let Some(list) = self.known(allowed, scope)
            && let Some(items) = list.as_list()
            && !items
                .iter()
                .any(|i| crate::eval::compare(ast::CmpOp::Eq, i, &value) == Ok(true))
        {
            let shown: Vec<String> = items.iter().map(|i| i.render()).collect();
            self.error(diag::parameter_not_allowed(
                p.name.span,
                &name,
                &value.render(),
                &source,
                &shown,
            ));
        }
        if main {
            self.params.push(ParamValue {
                name: name.clone(),
                value: value.clone(),
                source,
            });
        }
        scope.bind(name, Binding::Value(value));
    }

    fn declare_secret(&mut self, s: &hir::Secret<'_>, scope: &mut Scope) {
        let source = &s.source;
        let key = source.describe();
        if !self.secrets.iter().any(|p| p.source == *source) {
            let missing = match source {
                SecretSource::Env(var) => self
                    .req
                    .env
                    .var(var)
                    .is_none_or(|v| v.is_empty())
                    .then(|| format!("environment variable {var} is not set")),
                SecretSource::File(path) => self
                    .req
                    .env
                    .readable(path)
                    .is_err()
                    .then(|| format!("{path} cannot be read")),
            };
            if let Some(how) = &missing {
                self.finding(
                    FindingLevel::Error,
                    Code::SecretMissing,
                    None,
                    format!("secret `{}`: {how}", s.name.name),
                );
            }
            self.secrets.push(SecretPlan {
                name: s.name.name.clone(),
                source: source.clone(),
                present: missing.is_none(),
            });
            if let SecretSource::Env(var) = source {
                self.secret_vars.push(var.clone());
            }
            if let Some(value) = self.req.env.secret(source) {
                self.secret_values.push(value);
                self.redactor_stale = true;
            }
        }
        scope.bind(s.name.name.clone(), Binding::Secret(key));
    }

    pub(super) fn declare_let(&mut self, l: &hir::Let<'_>, scope: &mut Scope) {
        let binding = match eval(l.value, scope, &AtPlanTime) {
            Ok(Eval::Known(v)) => Binding::Value(v),
            Ok(Eval::Unknown(_)) => {
                // Re-evaluated where used; it sees the scope as it is now.
                let snapshot = Arc::new(std::mem::take(scope));
                *scope = Scope::child(&snapshot);
                Binding::Let(Arc::new(LetDef {
                    expr: l.value.clone(),
                    scope: snapshot,
                }))
            }
            Err(e) => {
                self.eval_error(e);
                return;
            }
        };
        scope.bind(l.name.name.clone(), binding);
    }

    /// `--set` names no parameter declares are errors; vars-file ones warnings.
    pub(super) fn check_inputs(&mut self) {
        let declared: Vec<&str> = self.hir().params.iter().map(|p| p.name.as_str()).collect();
        for input in &self.req.inputs {
            if declared.contains(&input.name.as_str()) {
                continue;
            }
            let help =
                lang::diag::did_you_mean(&input.name, declared.iter().copied()).or_else(|| {
                    Some(format!(
                        "this runbook's parameters: {}",
                        lang::diag::one_of(&declared)
                    ))
                });
            match input.source {
                InputSource::Set => self.errors.push(diag::unknown_parameter(&input.name, help)),
                InputSource::VarsFile => self.finding(
                    FindingLevel::Warning,
                    Code::UndeclaredVariable,
                    None,
                    format!(
                        "the vars file sets `{}`, which the runbook does not declare",
                        input.name
                    ),
                ),
                InputSource::Env => {}
            }
        }
    }
}
