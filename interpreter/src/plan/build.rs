//! The planner: checked runbook + parameters → [`Plan`]. Pure: the environment and the
//! filesystem are reached only through [`Environment`], for the static preflight.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use lang::ast::{self, Expr, ExprKind, HandlerKind, Span, Stmt};
use lang::check::types::Type;
use lang::check::{Checked, SecretSource};
use lang::program::{Link, Program};
use lang::schema::{Effect, SchemaType, StepSchema, UNIVERSAL_ATTRIBUTES, Variant};
use lang::{Code, FileId};

use super::params::{InputSource, ParamInput, convert, describe};
use super::timing::{self, Backoff};
use super::*;
use crate::eval::{AtPlanTime, Binding, Eval, EvalError, LetDef, Scope, eval};
use crate::step::{InputView, Registry};

/// Reads what the static preflight needs: environment variables and files.
pub trait Environment {
    /// An environment variable (`None` when unset).
    fn var(&self, name: &str) -> Option<String>;
    /// Whether a file can be read (why not, if not).
    fn readable(&self, path: &str) -> Result<(), String>;
}

/// What to plan.
pub struct PlanRequest<'a> {
    /// The loaded runbook.
    pub program: &'a Program,
    /// Its check result (must have no errors).
    pub checked: &'a Checked,
    /// The step kinds available.
    pub registry: &'a Registry,
    /// Given parameter values, lowest precedence first.
    pub inputs: Vec<ParamInput>,
    /// `--start-at`.
    pub start_at: Option<String>,
    /// The `ops` version.
    pub ops_version: String,
    /// Environment and files, for the static preflight.
    pub env: &'a dyn Environment,
}

/// Why no plan could be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// Stable code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Where in the runbook, when it is about a place in it.
    pub at: Option<(FileId, Span)>,
}

/// Plans a runbook; every problem is reported, not only the first.
pub fn plan(req: &PlanRequest<'_>) -> Result<Plan, Vec<PlanError>> {
    let program = req.program;
    let mut planner = Planner {
        req,
        file: program.main,
        errors: Vec::new(),
        findings: Vec::new(),
        secrets: Vec::new(),
        params: Vec::new(),
        declared_libs: HashSet::new(),
        named: IndexMap::new(),
        defaults: std::collections::HashMap::new(),
        in_parallel: false,
    };
    let Some(file) = program
        .unit(program.main)
        .and_then(|u| u.parsed.ast.as_ref())
    else {
        return Err(vec![PlanError {
            code: Code::PlanEvaluation,
            message: String::from("the runbook could not be parsed"),
            help: None,
            at: None,
        }]);
    };
    let mut root = Scope::default();
    planner.declare(&file.stmts, &mut root, &Given::Inputs(&req.inputs));
    planner.check_inputs(&file.stmts);
    let root = Arc::new(root);
    let block = planner.block(&file.stmts, "", root, None);

    let meta = req.checked.meta.as_ref();
    let window = meta.and_then(|m| m.window.as_ref());
    let runbook = RunbookInfo {
        id: meta.map_or_else(String::new, |m| m.id.clone()),
        title: meta.and_then(|m| m.title.clone()).unwrap_or_default(),
        owner: meta.and_then(|m| m.owner.clone()),
        file: program.path(program.main).to_string(),
        budget: meta.and_then(|m| m.budget),
        window: window.map(|w| w.text.clone()),
        window_length: window.map(|w| {
            let (start, end) = (u64::from(w.start), u64::from(w.end));
            let minutes = if end > start {
                end - start
            } else {
                1440 - start + end
            };
            Duration::from_secs(minutes * 60)
        }),
    };
    let mut plan = Plan {
        ops_version: req.ops_version.clone(),
        runbook,
        hash: content_hash(program),
        params: std::mem::take(&mut planner.params),
        secrets: std::mem::take(&mut planner.secrets),
        body: block.nodes,
        on_failure: block.on_failure,
        always: block.always,
        worst_case: WorstCase::default(),
        findings: Vec::new(),
        start_at: req.start_at.clone(),
    };
    plan.worst_case = worst_case(&plan);
    planner.budget(&plan);
    if let Some(start) = &req.start_at {
        planner.start_at(&mut plan, start);
    }
    if !planner.errors.is_empty() {
        return Err(planner.errors);
    }
    planner.findings.sort_by_key(|f| std::cmp::Reverse(f.level));
    plan.findings = planner.findings;
    Ok(plan)
}

/// sha256 over every loaded file's path and text, in load order.
pub fn content_hash(program: &Program) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for unit in &program.units {
        if let Some(file) = program.sources.get(unit.id) {
            hasher.update((file.path.len() as u64).to_le_bytes());
            hasher.update(file.path.as_bytes());
            hasher.update((file.text.len() as u64).to_le_bytes());
            hasher.update(file.text.as_bytes());
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn worst_case(plan: &Plan) -> WorstCase {
    let body = timing::sequence(&plan.body);
    let always = timing::sequence(&plan.always);
    let on_failure = timing::sequence(&plan.on_failure);
    let steps = plan.steps();
    WorstCase {
        success: body.saturating_add(always),
        failure: body.saturating_add(on_failure).saturating_add(always),
        interactive: timing::interactive(&steps),
    }
}

/// Parameter values a file's `param`s take.
enum Given<'a> {
    /// The main runbook: command line, vars file, environment.
    Inputs(&'a [ParamInput]),
    /// A called runbook (and the libraries it includes): the caller's expressions, in
    /// the caller's scope.
    Call(&'a [&'a ast::Attr], Arc<Scope>),
}

/// A planned block: its nodes, its handlers and the step names it makes visible.
struct Block {
    nodes: Vec<Node>,
    on_failure: Vec<Node>,
    always: Vec<Node>,
    exported: Vec<(String, String)>,
}

struct Planner<'a> {
    req: &'a PlanRequest<'a>,
    file: FileId,
    errors: Vec<PlanError>,
    findings: Vec<Finding>,
    secrets: Vec<SecretPlan>,
    params: Vec<ParamValue>,
    declared_libs: HashSet<FileId>,
    /// Named steps by name → plan id (latest instance), for `--start-at` checks.
    named: IndexMap<String, String>,
    /// True while the direct statements of a `parallel` block are planned.
    in_parallel: bool,
    /// Schema defaults, parsed once per plan.
    defaults: std::collections::HashMap<&'static str, Option<Expr>>,
}

impl<'a> Planner<'a> {
    fn program(&self) -> &'a Program {
        self.req.program
    }

    fn text(&self, span: Span) -> String {
        self.program()
            .sources
            .get(self.file)
            .and_then(|f| f.text.get(span.start..span.end))
            .unwrap_or_default()
            .to_string()
    }

    fn loc(&self, span: Span) -> Loc {
        let file = self.program().sources.get(self.file);
        Loc {
            file: self.file,
            path: file.map_or_else(String::new, |f| f.path.clone()),
            line: file.map_or(0, |f| f.line_col(span.start).line),
            span,
        }
    }

    fn error(&mut self, code: Code, span: Option<Span>, message: String, help: Option<String>) {
        self.errors.push(PlanError {
            code,
            message,
            help,
            at: span.map(|s| (self.file, s)),
        });
    }

    fn finding(&mut self, level: FindingLevel, code: Code, step: Option<&str>, message: String) {
        self.findings.push(Finding {
            level,
            code,
            step: step.map(str::to_string),
            message,
        });
    }

    fn eval_error(&mut self, e: EvalError) {
        self.error(Code::PlanEvaluation, Some(e.span), e.message, None);
    }

    /// Evaluates an expression into a planned value.
    fn planned(&mut self, expr: &Expr, scope: &Scope) -> Planned {
        let text = self.text(expr.span);
        let state = match eval(expr, scope, &AtPlanTime) {
            Ok(Eval::Known(v)) => PlannedState::Known(v),
            Ok(Eval::Unknown(u)) => PlannedState::Unknown(u),
            Err(e) => {
                self.eval_error(e);
                PlannedState::Known(crate::value::Value::Null)
            }
        };
        Planned {
            expr: Some(expr.clone()),
            text,
            state,
            default: false,
        }
    }

    /// A value for an attribute of a schema type: bare enum words (`wait = healthy`)
    /// are the words themselves.
    fn attr_value(&mut self, expr: &Expr, ty: Option<SchemaType>, scope: &Scope) -> Planned {
        if let Some(word) = enum_word(expr, ty, scope) {
            return Planned::known(word, self.text(expr.span));
        }
        self.planned(expr, scope)
    }

    /// A value that must be known now (loop lists, retry counts, timeouts).
    fn known(&mut self, expr: &Expr, scope: &Scope) -> Option<crate::value::Value> {
        match eval(expr, scope, &AtPlanTime) {
            Ok(Eval::Known(v)) => Some(v),
            Ok(Eval::Unknown(_)) => {
                let text = self.text(expr.span);
                self.error(
                    Code::PlanEvaluation,
                    Some(expr.span),
                    format!("`{text}` must be known when the plan is made"),
                    None,
                );
                None
            }
            Err(e) => {
                self.eval_error(e);
                None
            }
        }
    }

    fn duration(&mut self, expr: &Expr, scope: &Scope) -> Option<Duration> {
        self.known(expr, scope).and_then(|v| v.as_duration())
    }

    // ---- declarations -------------------------------------------------------------

    /// Binds a file's `param`, `secret`, `let` and included libraries, in order.
    fn declare(&mut self, stmts: &[Stmt], scope: &mut Scope, given: &Given<'_>) {
        for stmt in stmts {
            match stmt {
                Stmt::Param(p) => self.declare_param(p, scope, given),
                Stmt::Secret(s) => self.declare_secret(s, scope),
                Stmt::Let(l) => self.declare_let(l, scope),
                Stmt::Include(inc) => {
                    let Some(Link::File(id)) = self.program().link(self.file, inc.path.span) else {
                        continue;
                    };
                    let id = *id;
                    if !self.declared_libs.insert(id) {
                        continue;
                    }
                    let Some(lib) = self.program().unit(id).and_then(|u| u.parsed.ast.as_ref())
                    else {
                        continue;
                    };
                    let saved = std::mem::replace(&mut self.file, id);
                    let given = match given {
                        Given::Inputs(inputs) => Given::Inputs(inputs),
                        // A called runbook's libraries take the caller's values too.
                        Given::Call(attrs, caller) => Given::Call(attrs, caller.clone()),
                    };
                    self.declare(&lib.stmts, scope, &given);
                    self.file = saved;
                }
                _ => {}
            }
        }
    }

    fn declare_param(&mut self, p: &ast::ParamDecl, scope: &mut Scope, given: &Given<'_>) {
        let name = p.name.name.clone();
        let Ok(ty) = Type::from_written(&p.ty) else {
            return;
        };
        let main = matches!(given, Given::Inputs(_));
        // The highest-precedence given value wins (inputs are ordered lowest first).
        let mut value = None;
        match given {
            Given::Inputs(inputs) => {
                if let Some(input) = inputs.iter().rev().find(|i| i.name == name) {
                    match convert(&input.raw, &ty) {
                        Ok(v) => value = Some((v, input.source.describe(&name))),
                        Err(e) => {
                            self.error(
                                Code::InvalidParameterValue,
                                Some(p.name.span),
                                format!(
                                    "invalid value for parameter `{name}` ({}): {e}",
                                    input.source.describe(&name)
                                ),
                                Some(format!("`{name}` is declared as {}", describe(&ty))),
                            );
                            return;
                        }
                    }
                }
            }
            Given::Call(attrs, caller) => {
                if let Some(attr) = attrs.iter().find(|a| a.name.name == name) {
                    // Evaluated in the caller's scope, possibly only at run time.
                    match eval(&attr.value, caller, &AtPlanTime) {
                        Ok(Eval::Known(v)) => scope.bind(&name, Binding::Value(v)),
                        Ok(Eval::Unknown(_)) => scope.bind(
                            &name,
                            Binding::Let(Arc::new(LetDef {
                                expr: attr.value.clone(),
                                scope: caller.clone(),
                            })),
                        ),
                        Err(e) => self.eval_error(e),
                    }
                    return;
                }
            }
        }
        let (value, source) = match value {
            Some(v) => v,
            None => match &p.default {
                Some(default) => match self.known(default, scope) {
                    Some(v) => (v, String::from("default")),
                    None => return,
                },
                None => {
                    self.error(
                        Code::MissingParameter,
                        Some(p.name.span),
                        format!("parameter `{name}` has no default and no value was given"),
                        Some(format!(
                            "pass it with `--set {name}=VALUE`, a `--vars-file`, or `OPS_VAR_{name}`"
                        )),
                    );
                    return;
                }
            },
        };
        if let Some(allowed) = p.body.iter().flat_map(|b| &b.stmts).find_map(|s| match s {
            Stmt::Attr(a) if a.name.name == "allowed" => Some(&a.value),
            _ => None,
        }) && let Some(list) = self.known(allowed, scope)
            && let Some(items) = list.as_list()
            && !items
                .iter()
                .any(|i| crate::eval::compare(ast::CmpOp::Eq, i, &value) == Ok(true))
        {
            let shown: Vec<String> = items.iter().map(|i| i.render()).collect();
            self.error(
                Code::ParameterNotAllowed,
                Some(p.name.span),
                format!(
                    "parameter `{name}` = {} ({source}) is not one of the allowed values",
                    value.render()
                ),
                Some(format!("allowed: {}", shown.join(", "))),
            );
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

    fn declare_secret(&mut self, s: &ast::SecretDecl, scope: &mut Scope) {
        let source = secret_source(s);
        let (key, present) = match &source {
            SecretSource::Env(var) => (
                format!("env {var}"),
                self.req.env.var(var).is_some_and(|v| !v.is_empty()),
            ),
            SecretSource::File(path) => {
                let path = lang::program::resolve(self.program().path(self.file), path);
                let readable = self.req.env.readable(&path);
                (format!("file {path}"), readable.is_ok())
            }
        };
        if !self.secrets.iter().any(|p| p.source == key) {
            if !present {
                let how = match &source {
                    SecretSource::Env(var) => format!("environment variable {var} is not set"),
                    SecretSource::File(_) => {
                        format!("{} cannot be read", key.trim_start_matches("file "))
                    }
                };
                self.finding(
                    FindingLevel::Error,
                    Code::SecretMissing,
                    None,
                    format!("secret `{}`: {how}", s.name.name),
                );
            }
            self.secrets.push(SecretPlan {
                name: s.name.name.clone(),
                source: key.clone(),
                present,
            });
        }
        scope.bind(s.name.name.clone(), Binding::Secret(key));
    }

    fn declare_let(&mut self, l: &ast::LetDecl, scope: &mut Scope) {
        let binding = match eval(&l.value, scope, &AtPlanTime) {
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
    fn check_inputs(&mut self, _stmts: &[Stmt]) {
        let declared: Vec<&str> = self
            .req
            .checked
            .params
            .iter()
            .map(|p| p.name.as_str())
            .collect();
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
                InputSource::Set => self.errors.push(PlanError {
                    code: Code::UnknownParameter,
                    message: format!("`--set {}`: the runbook has no such parameter", input.name),
                    help,
                    at: None,
                }),
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

    // ---- flow ---------------------------------------------------------------------

    /// Plans a block's statements with ids `prefix1`, `prefix2`, ...
    fn block(
        &mut self,
        stmts: &[Stmt],
        prefix: &str,
        scope: Arc<Scope>,
        iteration: Option<&str>,
    ) -> Block {
        let mut counter = 0usize;
        let mut block = Block {
            nodes: Vec::new(),
            on_failure: Vec::new(),
            always: Vec::new(),
            exported: Vec::new(),
        };
        let mut scope = scope;
        self.block_into(
            stmts,
            prefix,
            &mut scope,
            &mut counter,
            iteration,
            &mut block,
        );
        for stmt in stmts {
            if let Stmt::Handler(h) = stmt {
                let (letter, target) = match h.kind {
                    HandlerKind::OnFailure => ("f", &mut block.on_failure),
                    HandlerKind::Always => ("a", &mut block.always),
                };
                let handler_prefix = format!("{prefix}{letter}");
                let inner = self.block(&h.body.stmts, &handler_prefix, scope.clone(), None);
                *target = inner.nodes;
            }
        }
        block
    }

    fn block_into(
        &mut self,
        stmts: &[Stmt],
        prefix: &str,
        scope: &mut Arc<Scope>,
        counter: &mut usize,
        iteration: Option<&str>,
        block: &mut Block,
    ) {
        for stmt in stmts {
            match stmt {
                Stmt::Step(step) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    let node = self.step_node(step, &id, scope, iteration);
                    if let Some(name) = &step.name {
                        bind(scope, &name.name, &id);
                        self.named.insert(name.name.clone(), id.clone());
                        block.exported.push((name.name.clone(), id));
                    }
                    block.nodes.push(node);
                }
                Stmt::Stage(stage) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    let when = stage.body.stmts.iter().find_map(|s| match s {
                        Stmt::When(w) => Some(w),
                        _ => None,
                    });
                    let when = when.map(|w| self.condition(&w.cond, scope));
                    let saved = std::mem::replace(&mut self.in_parallel, false);
                    let inner =
                        self.block(&stage.body.stmts, &format!("{id}."), scope.clone(), None);
                    self.in_parallel = saved;
                    let title = stage
                        .title
                        .as_plain()
                        .unwrap_or_else(|| self.text(stage.title.span));
                    let mut group = Group {
                        id,
                        kind: GroupKind::Stage,
                        title,
                        limit: None,
                        when,
                        children: inner.nodes,
                        on_failure: inner.on_failure,
                        always: inner.always,
                        worst_case: Duration::ZERO,
                        loc: self.loc(stage.span),
                        iteration: iteration.map(str::to_string),
                        params: IndexMap::new(),
                        on_failure_mode: OnFailure::Abort,
                        effect: Effect::ReadOnly,
                        name: None,
                        callee: None,
                    };
                    group.worst_case = timing::group(&group);
                    for (name, step_id) in &inner.exported {
                        bind(scope, name, step_id);
                    }
                    block.exported.extend(inner.exported);
                    block.nodes.push(Node::Group(Box::new(group)));
                }
                Stmt::Parallel(par) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    let limit = par.limit.as_ref().and_then(|l| self.known(l, scope));
                    let limit = limit.and_then(|l| l.as_int());
                    if let (Some(l), Some(expr)) = (limit, &par.limit)
                        && l < 1
                    {
                        self.error(
                            Code::PlanEvaluation,
                            Some(expr.span),
                            format!("`parallel limit` is {l}; it must be at least 1"),
                            None,
                        );
                    }
                    let limit = limit.and_then(|l| usize::try_from(l).ok());
                    let saved = std::mem::replace(&mut self.in_parallel, true);
                    let inner =
                        self.block(&par.body.stmts, &format!("{id}."), scope.clone(), iteration);
                    self.in_parallel = saved;
                    let mut group = Group {
                        id,
                        kind: GroupKind::Parallel,
                        title: String::from("parallel"),
                        limit,
                        when: None,
                        children: inner.nodes,
                        on_failure: Vec::new(),
                        always: Vec::new(),
                        worst_case: Duration::ZERO,
                        loc: self.loc(par.span),
                        iteration: iteration.map(str::to_string),
                        params: IndexMap::new(),
                        on_failure_mode: OnFailure::Abort,
                        effect: Effect::ReadOnly,
                        name: None,
                        callee: None,
                    };
                    group.worst_case = timing::group(&group);
                    for (name, step_id) in &inner.exported {
                        bind(scope, name, step_id);
                    }
                    block.exported.extend(inner.exported);
                    block.nodes.push(Node::Group(Box::new(group)));
                }
                Stmt::For(f) => {
                    let Some(list) = self.known(&f.iter, scope) else {
                        continue;
                    };
                    let items = list.as_list().map(<[_]>::to_vec).unwrap_or_default();
                    for item in items {
                        let mut inner = Scope::child(scope);
                        let label = format!("{} = {}", f.var.name, item.render());
                        let label = match iteration {
                            Some(outer) => format!("{outer}, {label}"),
                            None => label,
                        };
                        inner.bind(f.var.name.clone(), Binding::Value(item));
                        let mut inner = Arc::new(inner);
                        // Step names inside a loop are visible only within its iteration.
                        let mut discard = Block {
                            nodes: Vec::new(),
                            on_failure: Vec::new(),
                            always: Vec::new(),
                            exported: Vec::new(),
                        };
                        let flow = f
                            .body
                            .stmts
                            .iter()
                            .filter(|s| {
                                matches!(
                                    s,
                                    Stmt::Step(_)
                                        | Stmt::Stage(_)
                                        | Stmt::Parallel(_)
                                        | Stmt::For(_)
                                )
                            })
                            .count();
                        if self.in_parallel && flow > 1 {
                            // Inside `parallel`, each iteration is one branch whose steps
                            // run in order.
                            *counter += 1;
                            let id = format!("{prefix}{counter}");
                            let mut inner_counter = 0;
                            let saved = std::mem::replace(&mut self.in_parallel, false);
                            self.block_into(
                                &f.body.stmts,
                                &format!("{id}."),
                                &mut inner,
                                &mut inner_counter,
                                Some(&label),
                                &mut discard,
                            );
                            self.in_parallel = saved;
                            let mut group = Group {
                                id,
                                kind: GroupKind::Sequence,
                                title: format!("for {label}"),
                                limit: None,
                                when: None,
                                children: discard.nodes,
                                on_failure: Vec::new(),
                                always: Vec::new(),
                                worst_case: Duration::ZERO,
                                loc: self.loc(f.span),
                                iteration: Some(label.clone()),
                                params: IndexMap::new(),
                                on_failure_mode: OnFailure::Abort,
                                effect: Effect::ReadOnly,
                                name: None,
                                callee: None,
                            };
                            group.worst_case = timing::group(&group);
                            block.nodes.push(Node::Group(Box::new(group)));
                        } else {
                            self.block_into(
                                &f.body.stmts,
                                prefix,
                                &mut inner,
                                counter,
                                Some(&label),
                                &mut discard,
                            );
                            block.nodes.extend(discard.nodes);
                        }
                    }
                }
                Stmt::Let(l) => {
                    let mut inner = Scope::child(scope);
                    self.declare_let(l, &mut inner);
                    *scope = Arc::new(inner);
                }
                // Declarations were bound already; handlers and `when` are planned by
                // their block; anything else was rejected by the checker.
                _ => {}
            }
        }
    }

    fn condition(&mut self, expr: &Expr, scope: &Arc<Scope>) -> Condition {
        let planned = self.planned(expr, scope);
        Condition {
            expr: expr.clone(),
            text: planned.text,
            state: planned.state,
            scope: scope.clone(),
        }
    }

    fn step_node(
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
        let view = input_view(step);
        let implementation = self.req.registry.get(step.kind, step.variant.name);
        let attempt = match implementation {
            Some(imp) => {
                step.change = imp.describe(&view);
                for problem in imp.preflight(&view) {
                    self.finding(
                        FindingLevel::Error,
                        Code::PreflightCheck,
                        Some(&step.id),
                        problem,
                    );
                }
                imp.duration(&view).or(step.timeout)
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
        let mut group = Group {
            id: id.to_string(),
            kind: GroupKind::Call,
            title,
            limit: None,
            when,
            children: inner.nodes,
            on_failure: inner.on_failure,
            always: inner.always,
            worst_case: Duration::ZERO,
            loc,
            iteration: iteration.map(str::to_string),
            params,
            on_failure_mode,
            effect: variant.effect,
            name: step.name.as_ref().map(|n| n.name.clone()),
            callee: callee_id,
        };
        // A call's own `always` handler is part of it on every path.
        group.worst_case = timing::group(&group).saturating_add(timing::sequence(&group.always));
        Node::Group(Box::new(group))
    }

    // ---- whole-plan checks ------------------------------------------------------

    fn budget(&mut self, plan: &Plan) {
        let worst = plan.worst_case.success;
        let shown = lang::fmt::duration(worst);
        if let Some(budget) = plan.runbook.budget
            && worst > budget
        {
            self.finding(
                FindingLevel::Warning,
                Code::BudgetExceeded,
                None,
                format!(
                    "the worst case ({shown}) exceeds the runbook's budget of {}",
                    lang::fmt::duration(budget)
                ),
            );
        }
        if let (Some(window), Some(length)) = (&plan.runbook.window, plan.runbook.window_length)
            && worst > length
        {
            self.finding(
                FindingLevel::Warning,
                Code::WindowExceeded,
                None,
                format!("the worst case ({shown}) is longer than the maintenance window \"{window}\" ({})", lang::fmt::duration(length)),
            );
        }
    }

    fn start_at(&mut self, plan: &mut Plan, start: &str) {
        let mut found = false;
        let mut ids = Vec::new();
        for node in &mut plan.body {
            mark_before(node, start, &mut found, &mut ids);
        }
        if !found {
            ids.truncate(12);
            self.errors.push(PlanError {
                code: Code::UnknownStartStep,
                message: format!(
                    "`--start-at {start}`: the plan has no step or stage with that id"
                ),
                help: Some(format!("ids on the main path: {}", ids.join(", "))),
                at: None,
            });
            return;
        }
        // A step that runs may not read outputs of a step --start-at skips.
        let skipped: HashSet<String> = plan
            .steps()
            .into_iter()
            .filter(|s| s.before_start)
            .map(|s| s.id.clone())
            .collect();
        let names: std::collections::HashMap<String, String> = plan
            .steps()
            .into_iter()
            .filter_map(|s| s.name.clone().map(|n| (s.id.clone(), n)))
            .collect();
        for step in plan.steps() {
            if step.before_start {
                continue;
            }
            let mut needs: Vec<String> = Vec::new();
            let mut states: Vec<&PlannedState> = Vec::new();
            let mut current = Some(step);
            while let Some(s) = current {
                states.extend(s.attrs.values().chain(s.target.as_ref()).map(|p| &p.state));
                states.extend(s.when.as_ref().map(|w| &w.state));
                for e in &s.expects {
                    states.push(&e.value.state);
                    states.extend(e.arg.as_ref().map(|a| &a.state));
                }
                current = s.nested.as_deref();
            }
            for state in states {
                if let PlannedState::Unknown(u) = state {
                    needs.extend(
                        u.ids
                            .iter()
                            .filter(|id| skipped.contains(id.as_str()))
                            .cloned(),
                    );
                }
            }
            if let Some(id) = needs.first() {
                let name = names.get(id).cloned().unwrap_or_else(|| id.clone());
                let message = format!(
                    "step {} uses outputs of `{name}`, which `--start-at {start}` skips",
                    step.id
                );
                self.findings.push(Finding {
                    level: FindingLevel::Error,
                    code: Code::SkippedOutput,
                    step: Some(step.id.clone()),
                    message,
                });
            }
        }
    }
}

/// A placeholder variant for steps that could not be resolved.
static PLACEHOLDER: Variant = Variant::BASE;

fn bind(scope: &mut Arc<Scope>, name: &str, id: &str) {
    let mut inner = Scope::child(scope);
    inner.bind(
        name,
        Binding::Step {
            id: id.to_string(),
            name: name.to_string(),
        },
    );
    *scope = Arc::new(inner);
}

/// Marks every step before the `--start-at` id on the main path.
fn mark_before(node: &mut Node, start: &str, found: &mut bool, ids: &mut Vec<String>) {
    let id = node.id().to_string();
    ids.push(id.clone());
    if *found {
        return;
    }
    if id == start {
        *found = true;
        return;
    }
    let inside = start.starts_with(&format!("{id}."));
    match node {
        Node::Step(s) => s.before_start = true,
        Node::Group(g) if inside => {
            for child in &mut g.children {
                mark_before(child, start, found, ids);
            }
        }
        Node::Group(g) => {
            for child in &mut g.children {
                let mut none = false;
                mark_before(child, "\u{0}", &mut none, &mut Vec::new());
            }
        }
    }
}

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

fn secret_source(s: &ast::SecretDecl) -> SecretSource {
    for stmt in s.body.iter().flat_map(|b| &b.stmts) {
        if let Stmt::Attr(a) = stmt
            && let ExprKind::Str(lit) = &a.value.kind
            && let Some(text) = lit.as_plain()
        {
            match a.name.name.as_str() {
                "env" => return SecretSource::Env(text),
                "file" => return SecretSource::File(text),
                _ => {}
            }
        }
    }
    SecretSource::Env(s.name.name.clone())
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
