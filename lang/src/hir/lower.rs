//! AST + check results → [`Hir`]. Nothing is resolved a second time: each step's variant
//! and target come from the checker's [`StepInfo`], parameters and secrets from its
//! [`ParamInfo`] and [`SecretInfo`]; attributes are paired with the variant's schema
//! attributes once, here.

use std::collections::HashMap;

use super::*;
use crate::ast::{self, HandlerKind, Stmt};
use crate::check::{Checked, SecretInfo, StepInfo};
use crate::program::{Link, resolve};
use crate::schema::{DESCRIPTION, ON_FAILURE};

/// Lowers the program's main runbook and every file it includes or calls. `checks` are
/// the check results of the main runbook and of each called runbook; none may hold an
/// error. An `Err` is an internal inconsistency (a step the checker did not resolve).
pub fn lower<'p>(program: &'p Program, checks: &'p [Checked]) -> Result<Hir<'p>, String> {
    let main_check = checks
        .first()
        .ok_or_else(|| String::from("the main runbook was not checked"))?;
    let mut lowering = Lowering {
        program,
        steps: HashMap::new(),
        params: HashMap::new(),
        secrets: HashMap::new(),
        file: program.main,
        pending: vec![program.main],
    };
    for checked in checks {
        for s in &checked.steps {
            lowering.steps.insert((s.file, s.span.start), s);
        }
        for p in &checked.params {
            lowering.params.insert((p.file, p.span.start), p);
        }
        for s in &checked.secrets {
            lowering.secrets.insert((s.file, s.span.start), s);
        }
    }
    let mut units: Vec<Option<Unit<'p>>> = Vec::new();
    while let Some(file) = lowering.pending.pop() {
        let index = file.0 as usize;
        if units.get(index).is_some_and(Option::is_some) {
            continue;
        }
        let ast = program
            .unit(file)
            .and_then(|u| u.parsed.ast.as_ref())
            .ok_or_else(|| format!("{} was not parsed", program.path(file)))?;
        lowering.file = file;
        let unit = lowering.unit(ast)?;
        if units.len() <= index {
            units.resize_with(index + 1, || None);
        }
        units[index] = Some(unit);
    }
    Ok(Hir {
        program,
        main: program.main,
        meta: main_check.meta.as_ref(),
        params: &main_check.params,
        units,
    })
}

struct Lowering<'p> {
    program: &'p Program,
    steps: HashMap<(FileId, usize), &'p StepInfo>,
    params: HashMap<(FileId, usize), &'p ParamInfo>,
    secrets: HashMap<(FileId, usize), &'p SecretInfo>,
    /// The file being lowered.
    file: FileId,
    /// Files reached by `include` or `call`, still to lower.
    pending: Vec<FileId>,
}

impl<'p> Lowering<'p> {
    fn unit(&mut self, ast: &'p ast::File) -> Result<Unit<'p>, String> {
        let mut decls = Vec::new();
        let mut runbook_id = None;
        for stmt in &ast.stmts {
            match stmt {
                Stmt::Runbook(r) => runbook_id = r.id.as_plain(),
                Stmt::Param(p) => decls.push(Decl::Param(self.param(p)?)),
                Stmt::Secret(s) => decls.push(Decl::Secret(self.secret(s)?)),
                Stmt::Let(l) => decls.push(Decl::Let(Let {
                    name: &l.name,
                    value: &l.value,
                })),
                Stmt::Include(inc) => {
                    if let Some(Link::File(id)) = self.program.link(self.file, inc.path.span) {
                        self.pending.push(*id);
                        decls.push(Decl::Include(*id));
                    }
                }
                _ => {}
            }
        }
        Ok(Unit {
            file: self.file,
            runbook_id,
            decls,
            body: self.block(&ast.stmts)?,
        })
    }

    fn param(&self, p: &'p ast::ParamDecl) -> Result<Param<'p>, String> {
        let info = self
            .params
            .get(&(self.file, p.span.start))
            .ok_or_else(|| self.unresolved("parameter", &p.name.name))?;
        Ok(Param {
            name: &p.name,
            ty: info.ty.clone(),
            default: info.default.as_ref(),
            allowed: info.allowed.as_ref(),
        })
    }

    fn secret(&self, s: &'p ast::SecretDecl) -> Result<Secret<'p>, String> {
        let info = self
            .secrets
            .get(&(self.file, s.span.start))
            .ok_or_else(|| self.unresolved("secret", &s.name.name))?;
        let source = match &info.source {
            SecretSource::Env(var) => SecretSource::Env(var.clone()),
            SecretSource::File(path) => {
                SecretSource::File(resolve(self.program.path(self.file), path))
            }
        };
        Ok(Secret {
            name: &s.name,
            source,
        })
    }

    fn unresolved(&self, what: &str, name: &str) -> String {
        format!(
            "{}: the checker did not resolve the {what} `{name}`",
            self.program.path(self.file)
        )
    }

    fn block(&mut self, stmts: &'p [Stmt]) -> Result<Block<'p>, String> {
        let mut block = Block::default();
        for stmt in stmts {
            let node = match stmt {
                Stmt::Step(step) => self.step_or_call(step)?,
                Stmt::Stage(stage) => Node::Stage(Stage {
                    span: stage.span,
                    title: &stage.title,
                    when: stage.body.stmts.iter().find_map(|s| match s {
                        Stmt::When(w) => Some(&w.cond),
                        _ => None,
                    }),
                    body: self.block(&stage.body.stmts)?,
                }),
                Stmt::Parallel(par) => Node::Parallel(Parallel {
                    span: par.span,
                    limit: par.limit.as_ref(),
                    body: self.block(&par.body.stmts)?,
                }),
                Stmt::For(f) => Node::For(For {
                    span: f.span,
                    var: &f.var,
                    iter: &f.iter,
                    body: self.block(&f.body.stmts)?,
                }),
                Stmt::Let(l) => Node::Let(Let {
                    name: &l.name,
                    value: &l.value,
                }),
                Stmt::Handler(h) => {
                    let inner = Some(Box::new(self.block(&h.body.stmts)?));
                    match h.kind {
                        HandlerKind::OnFailure => block.on_failure = inner,
                        HandlerKind::Always => block.always = inner,
                    }
                    continue;
                }
                // Declarations are the unit's; `when` belongs to its stage; the checker
                // rejected anything else.
                _ => continue,
            };
            block.nodes.push(node);
        }
        Ok(block)
    }

    fn info(&self, step: &ast::Step) -> Result<&'p StepInfo, String> {
        self.steps
            .get(&(self.file, step.span.start))
            .copied()
            .ok_or_else(|| self.unresolved("step", &step.kind.name))
    }

    fn step_or_call(&mut self, step: &'p ast::Step) -> Result<Node<'p>, String> {
        let info = self.info(step)?;
        if info.variant.params_from_target {
            return self.call(step, info).map(Node::Call);
        }
        self.step(step, info).map(Node::Step)
    }

    fn step(&mut self, step: &'p ast::Step, info: &'p StepInfo) -> Result<Step<'p>, String> {
        let variant = info.variant;
        let mut out = Step {
            span: step.span,
            schema: info.schema,
            variant,
            name: step.name.as_ref(),
            target: info.target.and_then(|i| step.args.get(i)),
            attrs: Vec::new(),
            on_failure: None,
            description: None,
            readonly: None,
            expects: Vec::new(),
            retry: None,
            timeout: None,
            when: None,
            nested: None,
        };
        for stmt in step.body.iter().flat_map(|b| &b.stmts) {
            match stmt {
                Stmt::Attr(attr) => {
                    if attr.name.name == ON_FAILURE.name {
                        out.on_failure = Some(Attr {
                            schema: &ON_FAILURE,
                            value: &attr.value,
                        });
                        continue;
                    }
                    if attr.name.name == DESCRIPTION.name {
                        out.description = Some(&attr.value);
                        continue;
                    }
                    let schema = variant
                        .attributes
                        .iter()
                        .find(|a| a.name == attr.name.name)
                        .ok_or_else(|| self.unresolved("attribute", &attr.name.name))?;
                    if variant.readonly_attr && schema.name == "readonly" {
                        out.readonly = Some(&attr.value);
                    }
                    out.attrs.push(Attr {
                        schema,
                        value: &attr.value,
                    });
                }
                Stmt::Expect(e) => out.expects.push(e),
                Stmt::Retry(r) => out.retry = Some(r),
                Stmt::Timeout(t) => out.timeout = Some(&t.value),
                Stmt::When(w) => out.when = Some(&w.cond),
                Stmt::Step(nested) => {
                    let info = self.info(nested)?;
                    out.nested = Some(Box::new(self.step(nested, info)?));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn call(&mut self, step: &'p ast::Step, info: &'p StepInfo) -> Result<Call<'p>, String> {
        let path = step
            .args
            .first()
            .ok_or_else(|| self.unresolved("call target", "call"))?;
        let callee = info
            .callee
            .ok_or_else(|| self.unresolved("called runbook", &step.kind.name))?;
        self.pending.push(callee);
        let mut call = Call {
            span: step.span,
            variant: info.variant,
            name: step.name.as_ref(),
            path,
            callee,
            args: Vec::new(),
            on_failure: None,
            when: None,
        };
        for stmt in step.body.iter().flat_map(|b| &b.stmts) {
            match stmt {
                Stmt::Attr(attr) if attr.name.name == ON_FAILURE.name => {
                    call.on_failure = Some(Attr {
                        schema: &ON_FAILURE,
                        value: &attr.value,
                    });
                }
                Stmt::Attr(attr) if attr.name.name == DESCRIPTION.name => {}
                Stmt::Attr(attr) => call.args.push(CallArg {
                    name: &attr.name,
                    value: &attr.value,
                }),
                Stmt::When(w) => call.when = Some(&w.cond),
                _ => {}
            }
        }
        Ok(call)
    }
}
