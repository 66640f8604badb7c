//! The planner: checked program ([`Hir`]) + parameters → [`Plan`]. It reads only the
//! checked program: variants, targets and attributes come resolved, paired with their
//! schema. Pure: the environment and the filesystem are reached only through
//! [`Environment`], for the static preflight.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use lang::ast::{Expr, Span};
use lang::hir::{self, Hir, SecretSource};

use lang::diag::plan as diag;
use lang::{Code, Diagnostic, FileId};

mod declare;
mod step;

pub use step::input_view;

use super::params::ParamInput;
use super::timing::{self, Backoff};
use super::*;
use crate::eval::{AtPlanTime, Binding, Eval, EvalError, Scope, eval};
use crate::step::Registry;
use declare::Given;

/// Reads what the static preflight needs: environment variables and files.
pub trait Environment {
    /// An environment variable (`None` when unset).
    fn var(&self, name: &str) -> Option<String>;
    /// Whether a file can be read (why not, if not).
    fn readable(&self, path: &str) -> Result<(), String>;
    /// The value of a secret by its source, when it can be read: never stored in the
    /// plan, only used to recognise (and redact) the value in what step kinds report
    /// while planning (a compose file interpolating it).
    fn secret(&self, _source: &SecretSource) -> Option<String> {
        None
    }
}

/// What to plan.
pub struct PlanRequest<'a> {
    /// The checked program.
    pub hir: &'a Hir<'a>,
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
    /// The moment the plan is made for (the runbook's `window` is judged against it).
    pub now: jiff::Timestamp,
}

/// Plans a runbook; every problem is reported, not only the first.
pub fn plan(req: &PlanRequest<'_>) -> Result<Plan, Vec<Diagnostic>> {
    let hir = req.hir;
    let mut planner = Planner {
        req,
        file: hir.main,
        errors: Vec::new(),
        findings: Vec::new(),
        secrets: Vec::new(),
        secret_values: Vec::new(),
        redactor: crate::redact::Redactor::default(),
        redactor_stale: false,
        secret_vars: Vec::new(),
        params: Vec::new(),
        declared_libs: HashSet::new(),
        defaults: std::collections::HashMap::new(),
        in_parallel: false,
        world: Arc::new(crate::world::World::default()),
        last_opaque: None,
        uncertain: 0,
        started: req.start_at.is_none(),
    };
    let Some(unit) = hir.main_unit() else {
        return Err(vec![diag::not_plannable("the runbook could not be parsed")]);
    };
    let mut root = Scope::default();
    planner.declare(&unit.decls, &mut root, &Given::Inputs(&req.inputs));
    planner.check_inputs();
    let root = Arc::new(root);
    let block = planner.block(&unit.body, "", root, None);

    let meta = hir.meta;
    let window = meta.and_then(|m| m.window.as_ref());
    let runbook = RunbookInfo {
        id: meta.map_or_else(String::new, |m| m.id.clone()),
        title: meta.and_then(|m| m.title.clone()).unwrap_or_default(),
        owner: meta.and_then(|m| m.owner.clone()),
        file: hir.path(hir.main).to_string(),
        budget: meta.and_then(|m| m.budget),
        window: window.map(|w| w.text.clone()),
        window_length: window.map(lang::check::Window::length),
        window_state: window.and_then(|w| w.state(req.now)),
        window_zone: window.map(|w| w.tz.clone()).unwrap_or_default(),
        locks: meta.map(|m| m.locks.clone()).unwrap_or_default(),
    };
    let mut plan = Plan {
        ops_version: req.ops_version.clone(),
        runbook,
        hash: content_hash(hir.program),
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
pub fn content_hash(program: &lang::Program) -> String {
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
    let always = timing::handler(&plan.always);
    let on_failure = timing::handler(&plan.on_failure);
    let steps = plan.steps();
    let operator_steps: Vec<String> = steps
        .iter()
        .filter(|s| s.effect == lang::schema::Effect::Interactive)
        .map(|s| s.id.clone())
        .collect();
    WorstCase {
        success: timing::sequence(&plan.body).saturating_add(always),
        failure: timing::sequence_failing(&plan.body)
            .saturating_add(on_failure)
            .saturating_add(always),
        interactive: operator_steps.len(),
        operator_steps,
    }
}

/// A planned block: its nodes, its handlers and the step names it makes visible.
#[derive(Default)]
struct Block {
    nodes: Vec<Node>,
    on_failure: Vec<Node>,
    always: Vec<Node>,
    exported: Vec<(String, String)>,
}

struct Planner<'a> {
    req: &'a PlanRequest<'a>,
    file: FileId,
    errors: Vec<Diagnostic>,
    findings: Vec<Finding>,
    secrets: Vec<SecretPlan>,
    /// The secrets' values known while planning (never stored in the plan).
    secret_values: Vec<String>,
    /// Recognises them in what step kinds report (rebuilt when first needed after a
    /// secret was added: once per plan, not once per secret).
    redactor: crate::redact::Redactor,
    redactor_stale: bool,
    /// Environment variables the secrets are read from.
    secret_vars: Vec<String>,
    params: Vec<ParamValue>,
    declared_libs: HashSet<FileId>,
    /// True while the direct statements of a `parallel` block are planned.
    in_parallel: bool,
    /// Schema defaults, parsed once per plan.
    defaults: std::collections::HashMap<&'static str, Option<Expr>>,
    /// What the steps planned so far will have written (the world model).
    world: Arc<crate::world::World>,
    /// The latest mutating step whose effects the plan cannot name (an `exec`).
    last_opaque: Option<String>,
    /// Above zero while the steps planned may not run on every path (a handler, a
    /// conditional stage or call, a `parallel` group): their writes are not certain.
    uncertain: usize,
    /// False until `--start-at`'s step is reached: what is before it does not run.
    started: bool,
}

impl<'a> Planner<'a> {
    fn hir(&self) -> &'a Hir<'a> {
        self.req.hir
    }

    fn text(&self, span: Span) -> String {
        self.hir()
            .source(self.file)
            .and_then(|f| f.text.get(span.start..span.end))
            .unwrap_or_default()
            .to_string()
    }

    fn loc(&self, span: Span) -> Loc {
        let file = self.hir().source(self.file);
        Loc {
            file: self.file,
            path: file.map_or_else(String::new, |f| f.path.clone()),
            line: file.map_or(0, |f| f.line_col(span.start).line),
            span,
        }
    }

    /// Records a diagnostic about the file being planned.
    fn error(&mut self, diagnostic: Diagnostic) {
        let file = self.file;
        self.errors.push(diagnostic.in_file(file));
    }

    /// The redactor of the secrets declared so far.
    fn redactor(&mut self) -> &crate::redact::Redactor {
        if self.redactor_stale {
            self.redactor =
                crate::redact::Redactor::new(self.secret_values.iter().map(String::as_str));
            self.redactor_stale = false;
        }
        &self.redactor
    }

    fn finding(&mut self, level: FindingLevel, code: Code, step: Option<&str>, message: String) {
        let message = self.redactor().clean(&message);
        self.findings.push(Finding {
            level,
            code,
            step: step.map(str::to_string),
            message,
        });
    }

    fn eval_error(&mut self, e: EvalError) {
        if !e.reported {
            self.error(diag::evaluation(Some(e.span), e.message));
        }
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

    /// A value that must be known now (loop lists, retry counts, timeouts).
    fn known(&mut self, expr: &Expr, scope: &Scope) -> Option<crate::value::Value> {
        match eval(expr, scope, &AtPlanTime) {
            Ok(Eval::Known(v)) => Some(v),
            Ok(Eval::Unknown(_)) => {
                let text = self.text(expr.span);
                self.error(diag::not_known_when_planning(expr.span, &text));
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

    // ---- flow ---------------------------------------------------------------------

    /// Plans a block's statements with ids `prefix1`, `prefix2`, ...
    fn block(
        &mut self,
        source: &hir::Block<'_>,
        prefix: &str,
        scope: Arc<Scope>,
        iteration: Option<&str>,
    ) -> Block {
        let mut counter = 0usize;
        let mut block = Block::default();
        let mut scope = scope;
        self.block_into(
            &source.nodes,
            prefix,
            &mut scope,
            &mut counter,
            iteration,
            &mut block,
        );
        // A handler runs after a failure anywhere before it, or not at all: nothing
        // before it is certain, and nothing it does is certain after it.
        let in_handler = self.world.in_handler;
        Arc::make_mut(&mut self.world).in_handler = true;
        self.uncertain += 1;
        if let Some(handler) = &source.on_failure {
            let inner = self.block(handler, &format!("{prefix}f"), scope.clone(), None);
            block.on_failure = inner.nodes;
        }
        if let Some(handler) = &source.always {
            let inner = self.block(handler, &format!("{prefix}a"), scope.clone(), None);
            block.always = inner.nodes;
        }
        self.uncertain -= 1;
        Arc::make_mut(&mut self.world).in_handler = in_handler;
        block
    }

    /// Notes that plan node `id` is reached: `--start-at` starts at it.
    fn reach(&mut self, id: &str) {
        if !self.started && self.req.start_at.as_deref() == Some(id) {
            self.started = true;
        }
    }

    fn block_into(
        &mut self,
        nodes: &[hir::Node<'_>],
        prefix: &str,
        scope: &mut Arc<Scope>,
        counter: &mut usize,
        iteration: Option<&str>,
        block: &mut Block,
    ) {
        for node in nodes {
            match node {
                hir::Node::Step(step) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    self.reach(&id);
                    let planned = Node::Step(Box::new(self.step_node(step, &id, scope, iteration)));
                    if let Some(name) = step.name {
                        bind(scope, &name.name, &id);
                        block.exported.push((name.name.clone(), id));
                    }
                    block.nodes.push(planned);
                }
                hir::Node::Call(call) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    self.reach(&id);
                    let planned = self.call_node(call, &id, scope, iteration);
                    if let Some(name) = call.name {
                        bind(scope, &name.name, &id);
                        block.exported.push((name.name.clone(), id));
                    }
                    block.nodes.push(planned);
                }
                hir::Node::Stage(stage) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    self.reach(&id);
                    let when = stage.when.map(|w| self.condition(w, scope));
                    let saved = std::mem::replace(&mut self.in_parallel, false);
                    let conditional = usize::from(when.is_some());
                    self.uncertain += conditional;
                    let inner = self.block(&stage.body, &format!("{id}."), scope.clone(), None);
                    self.uncertain -= conditional;
                    self.in_parallel = saved;
                    let title = stage
                        .title
                        .as_plain()
                        .unwrap_or_else(|| self.text(stage.title.span));
                    let group = Group {
                        when,
                        on_failure: inner.on_failure,
                        always: inner.always,
                        iteration: iteration.map(str::to_string),
                        ..Group::new(
                            id,
                            GroupKind::Stage,
                            title,
                            self.loc(stage.span),
                            inner.nodes,
                        )
                    };
                    push_group(block, scope, group.sealed(), inner.exported);
                }
                hir::Node::Parallel(par) => {
                    *counter += 1;
                    let id = format!("{prefix}{counter}");
                    self.reach(&id);
                    let limit = par.limit.and_then(|l| self.known(l, scope));
                    let limit = limit.and_then(|l| l.as_int());
                    if let (Some(l), Some(expr)) = (limit, par.limit)
                        && l < 1
                    {
                        self.error(diag::parallel_limit_too_small(expr.span, l));
                    }
                    let limit = limit.and_then(|l| usize::try_from(l).ok());
                    let saved = std::mem::replace(&mut self.in_parallel, true);
                    // Branches run concurrently: none is certain to run before another.
                    self.uncertain += 1;
                    let inner = self.block(&par.body, &format!("{id}."), scope.clone(), iteration);
                    self.uncertain -= 1;
                    self.in_parallel = saved;
                    let group = Group {
                        limit,
                        iteration: iteration.map(str::to_string),
                        ..Group::new(
                            id,
                            GroupKind::Parallel,
                            String::from("parallel"),
                            self.loc(par.span),
                            inner.nodes,
                        )
                    };
                    push_group(block, scope, group.sealed(), inner.exported);
                }
                hir::Node::For(f) => {
                    let Some(list) = self.known(f.iter, scope) else {
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
                        let mut discard = Block::default();
                        let flow = f.body.nodes.iter().filter(|n| n.is_flow()).count();
                        if self.in_parallel && flow > 1 {
                            // Inside `parallel`, each iteration is one branch whose steps
                            // run in order.
                            *counter += 1;
                            let id = format!("{prefix}{counter}");
                            self.reach(&id);
                            let mut inner_counter = 0;
                            let saved = std::mem::replace(&mut self.in_parallel, false);
                            self.block_into(
                                &f.body.nodes,
                                &format!("{id}."),
                                &mut inner,
                                &mut inner_counter,
                                Some(&label),
                                &mut discard,
                            );
                            self.in_parallel = saved;
                            let group = Group {
                                iteration: Some(label.clone()),
                                ..Group::new(
                                    id,
                                    GroupKind::Sequence,
                                    format!("for {label}"),
                                    self.loc(f.span),
                                    discard.nodes,
                                )
                            };
                            let group = group.sealed();
                            block.nodes.push(Node::Group(Box::new(group)));
                        } else {
                            self.block_into(
                                &f.body.nodes,
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
                hir::Node::Let(l) => {
                    let mut inner = Scope::child(scope);
                    self.declare_let(l, &mut inner);
                    *scope = Arc::new(inner);
                }
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
        } else if let Some(lang::check::WindowState::Open { closes, left }) =
            &plan.runbook.window_state
            && worst > *left
        {
            self.finding(
                FindingLevel::Warning,
                Code::WindowExceeded,
                None,
                format!(
                    "the worst case ({shown}) does not fit in what is left of the window: {} (it closes {})",
                    lang::fmt::duration(*left),
                    lang::check::moment(closes, &plan.runbook.window_zone)
                ),
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
            self.errors.push(diag::unknown_start_step(start, &ids));
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

/// Adds a stage or parallel group; the step names inside it become visible after it.
fn push_group(
    block: &mut Block,
    scope: &mut Arc<Scope>,
    group: Group,
    exported: Vec<(String, String)>,
) {
    for (name, step_id) in &exported {
        bind(scope, name, step_id);
    }
    block.exported.extend(exported);
    block.nodes.push(Node::Group(Box::new(group)));
}

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
