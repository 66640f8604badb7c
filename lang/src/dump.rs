//! A compact, indented rendering of the AST for snapshot tests and for the
//! formatter's meaning check (with spans left out, two files that mean the same
//! thing dump the same).

use std::fmt::Write;

use crate::ast::*;

/// Renders `file`; `spans` adds each node's byte range.
pub fn dump(file: &File, spans: bool) -> String {
    let mut d = Dumper {
        out: String::new(),
        spans,
        depth: 0,
    };
    for stmt in &file.stmts {
        d.stmt(stmt);
    }
    d.out
}

struct Dumper {
    out: String,
    spans: bool,
    depth: usize,
}

impl Dumper {
    fn line(&mut self, text: &str, span: Span) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        if self.spans {
            let _ = write!(self.out, " @{}..{}", span.start, span.end);
        }
        self.out.push('\n');
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }

    fn block(&mut self, block: &Block) {
        self.nested(|d| {
            for stmt in &block.stmts {
                d.stmt(stmt);
            }
        });
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Runbook(r) => {
                self.line(
                    &format!("runbook {}", self.expr_str(&ExprKind::Str(r.id.clone()))),
                    r.span,
                );
                self.block(&r.body);
            }
            Stmt::Param(p) => {
                let default = p
                    .default
                    .as_ref()
                    .map(|e| format!(" = {}", self.expr(e)))
                    .unwrap_or_default();
                self.line(
                    &format!("param {}: {}{default}", p.name.name, type_str(&p.ty)),
                    p.span,
                );
                if let Some(b) = &p.body {
                    self.block(b);
                }
            }
            Stmt::Secret(s) => {
                self.line(&format!("secret {}", s.name.name), s.span);
                if let Some(b) = &s.body {
                    self.block(b);
                }
            }
            Stmt::Let(l) => self.line(
                &format!("let {} = {}", l.name.name, self.expr(&l.value)),
                l.span,
            ),
            Stmt::Include(i) => self.line(
                &format!("include {}", self.expr_str(&ExprKind::Str(i.path.clone()))),
                i.span,
            ),
            Stmt::Stage(s) => {
                self.line(
                    &format!("stage {}", self.expr_str(&ExprKind::Str(s.title.clone()))),
                    s.span,
                );
                self.block(&s.body);
            }
            Stmt::Parallel(p) => {
                let limit = p
                    .limit
                    .as_ref()
                    .map(|l| format!(" limit {}", self.expr(l)))
                    .unwrap_or_default();
                self.line(&format!("parallel{limit}"), p.span);
                self.block(&p.body);
            }
            Stmt::For(f) => {
                self.line(
                    &format!("for {} in {}", f.var.name, self.expr(&f.iter)),
                    f.span,
                );
                self.block(&f.body);
            }
            Stmt::Handler(h) => {
                let word = match h.kind {
                    HandlerKind::OnFailure => "on failure",
                    HandlerKind::Always => "always",
                };
                self.line(word, h.span);
                self.block(&h.body);
            }
            Stmt::Step(s) => {
                let mut text = format!("step {}", s.kind.name);
                for arg in &s.args {
                    let _ = write!(text, " {}", self.expr(arg));
                }
                if let Some(name) = &s.name {
                    let _ = write!(text, " as {}", name.name);
                }
                self.line(&text, s.span);
                if let Some(b) = &s.body {
                    self.block(b);
                }
            }
            Stmt::Attr(a) => self.line(
                &format!("{} = {}", a.name.name, self.expr(&a.value)),
                a.span,
            ),
            Stmt::Expect(e) => {
                let arg = e
                    .arg
                    .as_ref()
                    .map(|a| format!(" {}", self.expr(a)))
                    .unwrap_or_default();
                self.line(
                    &format!(
                        "expect {}{arg} {} {}",
                        e.subject.name,
                        e.op.as_str(),
                        self.expr(&e.value)
                    ),
                    e.span,
                );
            }
            Stmt::Retry(r) => {
                let mut text = format!("retry {}", self.expr(&r.count));
                if let Some(e) = &r.every {
                    let _ = write!(text, " every {}", self.expr(e));
                }
                if let Some(b) = &r.backoff {
                    let _ = write!(text, " backoff {}", b.name);
                }
                if let Some(m) = &r.max {
                    let _ = write!(text, " max {}", self.expr(m));
                }
                if r.jitter {
                    text.push_str(" jitter");
                }
                self.line(&text, r.span);
            }
            Stmt::Timeout(t) => self.line(&format!("timeout {}", self.expr(&t.value)), t.span),
            Stmt::When(w) => self.line(&format!("when {}", self.expr(&w.cond)), w.span),
        }
    }

    fn expr(&self, e: &Expr) -> String {
        self.expr_str(&e.kind)
    }

    fn expr_str(&self, kind: &ExprKind) -> String {
        match kind {
            ExprKind::Str(lit) => {
                let mut s = String::from(if lit.multiline { "str\"\"\"" } else { "str\"" });
                for part in &lit.parts {
                    match part {
                        StrPart::Text(t, _) => s.push_str(&t.escape_debug().to_string()),
                        StrPart::Interp(e) => {
                            let _ = write!(s, "${{{}}}", self.expr(e));
                        }
                    }
                }
                s.push('"');
                s
            }
            ExprKind::Int(n) => format!("int({n})"),
            ExprKind::Float(f) => format!("float({f})"),
            ExprKind::Bool(b) => format!("bool({b})"),
            ExprKind::Duration(d) => format!("duration({}ms)", d.as_millis()),
            ExprKind::Size(b) => format!("size({b}B)"),
            ExprKind::List(items) => {
                let items: Vec<String> = items.iter().map(|i| self.expr(i)).collect();
                format!("[{}]", items.join(", "))
            }
            ExprKind::Map(entries) => {
                let items: Vec<String> = entries
                    .iter()
                    .map(|e| format!("{:?} = {}", e.key, self.expr(&e.value)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            ExprKind::Path(p) => {
                let mut s = format!("ref({}", p.root.name);
                for seg in &p.segments {
                    match seg {
                        Segment::Field(f) => {
                            let _ = write!(s, ".{}", f.name);
                        }
                        Segment::Index(i) => {
                            let _ = write!(s, "[{}]", self.expr(i));
                        }
                    }
                }
                s.push(')');
                s
            }
            ExprKind::Not(inner) => format!("(not {})", self.expr(inner)),
            ExprKind::Logic(op, items) => {
                let items: Vec<String> = items.iter().map(|i| self.expr(i)).collect();
                format!("({})", items.join(&format!(" {} ", op.as_str())))
            }
            ExprKind::Compare(op, l, r) => {
                format!("({} {} {})", self.expr(l), op.as_str(), self.expr(r))
            }
            ExprKind::Paren(inner) => format!("paren({})", self.expr(inner)),
        }
    }
}

fn type_str(ty: &TypeExpr) -> String {
    match &ty.arg {
        Some(arg) => format!("{}<{}>", ty.name.name, type_str(arg)),
        None => ty.name.name.clone(),
    }
}
