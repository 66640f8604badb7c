//! `lower`: the pest parse tree → the typed AST ([`crate::ast`]).
//!
//! One `lower_<rule>` function per grammar rule. Children are taken through a
//! [`Cursor`] that turns any shape mismatch between grammar and code into an
//! internal-error diagnostic: no `unwrap()` or `unreachable!()` on parse trees.
//! Problems in the runbook itself (a bad escape, an unknown unit, a reserved word)
//! are collected as diagnostics and lowering continues, so all are reported at once.

mod cursor;
mod expr;
mod literal;

use pest::iterators::Pair;

use crate::ast::*;
use crate::diag::{self, Diagnostic};
use crate::parse::Rule;
use cursor::Cursor;

/// A result whose error is an internal (grammar/lowering mismatch) diagnostic.
type R<T> = Result<T, Diagnostic>;

/// Expressions nested deeper than this are refused (bounds every later recursion).
pub const MAX_EXPR_DEPTH: usize = 128;

/// Lowers a `file` pair; the AST is `None` only on an internal error.
pub fn lower_file(
    pair: Pair<'_, Rule>,
    text: &str,
    comments: &[Comment],
) -> (Option<File>, Vec<Diagnostic>) {
    let mut lowerer = Lowerer::new(text, comments);
    match lowerer.lower_file(pair) {
        Ok(file) => (Some(file), lowerer.diags),
        Err(internal) => {
            lowerer.diags.push(internal);
            (None, lowerer.diags)
        }
    }
}

/// Lowers an `expr_only` pair.
pub fn lower_expr_only(pair: Pair<'_, Rule>, text: &str) -> Result<Expr, Vec<Diagnostic>> {
    let mut lowerer = Lowerer::new(text, &[]);
    let result = (|| {
        let mut c = Cursor::of(&pair);
        let expr = lowerer.lower_expr(c.next(Rule::expr)?)?;
        c.next(Rule::EOI)?;
        c.finish()?;
        Ok(expr)
    })();
    match result {
        Ok(expr) if lowerer.diags.is_empty() => Ok(expr),
        Ok(_) => Err(lowerer.diags),
        Err(internal) => {
            lowerer.diags.push(internal);
            Err(lowerer.diags)
        }
    }
}

pub(crate) struct Lowerer<'c> {
    /// Source text and comments, to trim the whitespace and comments pest leaves at
    /// the end of a rule that ends in an optional part.
    text: &'c str,
    comments: &'c [Comment],
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) depth: usize,
}

/// The span of a pair as pest reports it.
pub(crate) fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

impl Lowerer<'_> {
    /// The span of a pair without trailing whitespace and comments.
    pub(crate) fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let Span { start, mut end } = span_of(pair);
        let bytes = self.text.as_bytes();
        loop {
            while end > start && matches!(bytes.get(end - 1), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                end -= 1;
            }
            match self.comments.binary_search_by_key(&end, |c| c.span.end) {
                Ok(i) if self.comments[i].span.start >= start => end = self.comments[i].span.start,
                _ => break,
            }
        }
        Span::new(start, end)
    }
}

/// Words that may not name anything.
pub const RESERVED: &[&str] = &[
    "as", "in", "and", "or", "not", "true", "false", "contains", "matches",
];

impl<'c> Lowerer<'c> {
    fn new(text: &'c str, comments: &'c [Comment]) -> Self {
        Lowerer {
            text,
            comments,
            diags: Vec::new(),
            depth: 0,
        }
    }

    fn lower_file(&mut self, pair: Pair<'_, Rule>) -> R<File> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let mut stmts = Vec::new();
        while let Some(rule) = c.peek_rule() {
            if rule == Rule::EOI {
                c.next(Rule::EOI)?;
                break;
            }
            stmts.push(self.lower_stmt(c.next_any()?)?);
        }
        c.finish()?;
        Ok(File { stmts, span })
    }

    fn lower_block(&mut self, pair: Pair<'_, Rule>) -> R<Block> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let mut stmts = Vec::new();
        while c.peek_rule().is_some() {
            stmts.push(self.lower_stmt(c.next_any()?)?);
        }
        Ok(Block { stmts, span })
    }

    fn lower_stmt(&mut self, pair: Pair<'_, Rule>) -> R<Stmt> {
        Ok(match pair.as_rule() {
            Rule::runbook_block => Stmt::Runbook(self.lower_runbook_block(pair)?),
            Rule::param_decl => Stmt::Param(self.lower_param_decl(pair)?),
            Rule::secret_decl => Stmt::Secret(self.lower_secret_decl(pair)?),
            Rule::let_decl => Stmt::Let(self.lower_let_decl(pair)?),
            Rule::include => Stmt::Include(self.lower_include(pair)?),
            Rule::stage => Stmt::Stage(self.lower_stage(pair)?),
            Rule::parallel => Stmt::Parallel(self.lower_parallel(pair)?),
            Rule::for_loop => Stmt::For(self.lower_for_loop(pair)?),
            Rule::on_failure => {
                Stmt::Handler(self.lower_handler(pair, HandlerKind::OnFailure, Rule::kw_on)?)
            }
            Rule::always => {
                Stmt::Handler(self.lower_handler(pair, HandlerKind::Always, Rule::kw_always)?)
            }
            Rule::attr => Stmt::Attr(self.lower_attr(pair)?),
            Rule::expect => Stmt::Expect(self.lower_expect(pair)?),
            Rule::retry => Stmt::Retry(self.lower_retry(pair)?),
            Rule::timeout => Stmt::Timeout(self.lower_timeout(pair)?),
            Rule::when => Stmt::When(self.lower_when(pair)?),
            Rule::step => Stmt::Step(self.lower_step(pair)?),
            other => {
                return Err(diag::internal_error(
                    self.span(&pair),
                    &format!("expected a statement, found rule {other:?}"),
                ));
            }
        })
    }

    fn lower_runbook_block(&mut self, pair: Pair<'_, Rule>) -> R<RunbookBlock> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_runbook)?;
        let id = self.lower_string(c.next(Rule::string)?)?;
        let body = self.lower_block(c.next(Rule::block)?)?;
        c.finish()?;
        Ok(RunbookBlock { id, body, span })
    }

    fn lower_param_decl(&mut self, pair: Pair<'_, Rule>) -> R<ParamDecl> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_param)?;
        let name = self.lower_name(c.next(Rule::name)?, true);
        let ty = self.lower_type_expr(c.next(Rule::type_expr)?)?;
        let default = match c.take(Rule::expr) {
            Some(p) => Some(self.lower_expr(p)?),
            None => None,
        };
        let body = match c.take(Rule::block) {
            Some(p) => Some(self.lower_block(p)?),
            None => None,
        };
        c.finish()?;
        Ok(ParamDecl {
            name,
            ty,
            default,
            body,
            span,
        })
    }

    fn lower_type_expr(&mut self, pair: Pair<'_, Rule>) -> R<TypeExpr> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let name = self.lower_name(c.next(Rule::type_name)?, false);
        let arg = match c.take(Rule::type_expr) {
            Some(p) => {
                self.enter(span)?;
                let inner = self.lower_type_expr(p);
                self.depth -= 1;
                Some(Box::new(inner?))
            }
            None => None,
        };
        c.finish()?;
        Ok(TypeExpr { name, arg, span })
    }

    fn lower_secret_decl(&mut self, pair: Pair<'_, Rule>) -> R<SecretDecl> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_secret)?;
        let name = self.lower_name(c.next(Rule::name)?, true);
        let body = match c.take(Rule::block) {
            Some(p) => Some(self.lower_block(p)?),
            None => None,
        };
        c.finish()?;
        Ok(SecretDecl { name, body, span })
    }

    fn lower_let_decl(&mut self, pair: Pair<'_, Rule>) -> R<LetDecl> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_let)?;
        let name = self.lower_name(c.next(Rule::name)?, true);
        let value = self.lower_expr(c.next(Rule::expr)?)?;
        c.finish()?;
        Ok(LetDecl { name, value, span })
    }

    fn lower_include(&mut self, pair: Pair<'_, Rule>) -> R<Include> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_include)?;
        let path = self.lower_string(c.next(Rule::string)?)?;
        c.finish()?;
        Ok(Include { path, span })
    }

    fn lower_stage(&mut self, pair: Pair<'_, Rule>) -> R<Stage> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_stage)?;
        let title = self.lower_string(c.next(Rule::string)?)?;
        let body = self.lower_block(c.next(Rule::block)?)?;
        c.finish()?;
        Ok(Stage { title, body, span })
    }

    fn lower_parallel(&mut self, pair: Pair<'_, Rule>) -> R<Parallel> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_parallel)?;
        let limit = match c.take(Rule::kw_limit) {
            Some(_) => Some(self.lower_primary(c.next_any()?)?),
            None => None,
        };
        let body = self.lower_block(c.next(Rule::block)?)?;
        c.finish()?;
        Ok(Parallel { limit, body, span })
    }

    fn lower_for_loop(&mut self, pair: Pair<'_, Rule>) -> R<ForLoop> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_for)?;
        let var = self.lower_name(c.next(Rule::name)?, true);
        c.next(Rule::kw_in)?;
        let iter = self.lower_expr(c.next(Rule::expr)?)?;
        let body = self.lower_block(c.next(Rule::block)?)?;
        c.finish()?;
        Ok(ForLoop {
            var,
            iter,
            body,
            span,
        })
    }

    fn lower_handler(
        &mut self,
        pair: Pair<'_, Rule>,
        kind: HandlerKind,
        keyword: Rule,
    ) -> R<Handler> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(keyword)?;
        if kind == HandlerKind::OnFailure {
            c.next(Rule::kw_failure)?;
        }
        let body = self.lower_block(c.next(Rule::block)?)?;
        c.finish()?;
        Ok(Handler { kind, body, span })
    }

    fn lower_attr(&mut self, pair: Pair<'_, Rule>) -> R<Attr> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let name = self.lower_name(c.next(Rule::name)?, false);
        let value = self.lower_expr(c.next(Rule::expr)?)?;
        c.finish()?;
        Ok(Attr { name, value, span })
    }

    fn lower_expect(&mut self, pair: Pair<'_, Rule>) -> R<Expect> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_expect)?;
        let subject = self.lower_name(c.next(Rule::name)?, false);
        let arg = if c.peek_rule() == Some(Rule::cmp_op) {
            None
        } else {
            Some(self.lower_primary(c.next_any()?)?)
        };
        let op_pair = c.next(Rule::cmp_op)?;
        let op_span = self.span(&op_pair);
        let op = self.lower_cmp_op(op_pair)?;
        let value = self.lower_expr(c.next(Rule::expr)?)?;
        c.finish()?;
        Ok(Expect {
            subject,
            arg,
            op,
            op_span,
            value,
            span,
        })
    }

    fn lower_retry(&mut self, pair: Pair<'_, Rule>) -> R<Retry> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_retry)?;
        let count = self.lower_primary(c.next_any()?)?;
        let every = match c.take(Rule::kw_every) {
            Some(_) => Some(self.lower_primary(c.next_any()?)?),
            None => None,
        };
        let backoff = match c.take(Rule::kw_backoff) {
            Some(_) => Some(self.lower_name(c.next(Rule::name)?, false)),
            None => None,
        };
        let max = match c.take(Rule::kw_max) {
            Some(_) => Some(self.lower_primary(c.next_any()?)?),
            None => None,
        };
        let jitter = c.take(Rule::kw_jitter).is_some();
        c.finish()?;
        Ok(Retry {
            count,
            every,
            backoff,
            max,
            jitter,
            span,
        })
    }

    fn lower_timeout(&mut self, pair: Pair<'_, Rule>) -> R<Timeout> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_timeout)?;
        let value = self.lower_primary(c.next_any()?)?;
        c.finish()?;
        Ok(Timeout { value, span })
    }

    fn lower_when(&mut self, pair: Pair<'_, Rule>) -> R<When> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        c.next(Rule::kw_when)?;
        let cond = self.lower_expr(c.next(Rule::expr)?)?;
        c.finish()?;
        Ok(When { cond, span })
    }

    fn lower_step(&mut self, pair: Pair<'_, Rule>) -> R<Step> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let kind_pair = c.next(Rule::step_kind)?;
        let mut kc = Cursor::of(&kind_pair);
        let kind = self.lower_name(kc.next(Rule::ident)?, false);
        kc.finish()?;
        let mut args = Vec::new();
        let mut name = None;
        let mut body = None;
        while let Some(rule) = c.peek_rule() {
            match rule {
                Rule::kw_as => {
                    c.next(Rule::kw_as)?;
                    name = Some(self.lower_name(c.next(Rule::name)?, true));
                }
                Rule::block => body = Some(self.lower_block(c.next(Rule::block)?)?),
                _ => args.push(self.lower_primary(c.next_any()?)?),
            }
        }
        Ok(Step {
            kind,
            args,
            name,
            body,
            span,
        })
    }

    /// A `name`/`ident` pair; `declaring` rejects reserved words with a diagnostic.
    fn lower_name(&mut self, pair: Pair<'_, Rule>, declaring: bool) -> Ident {
        let ident = Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        };
        if declaring && RESERVED.contains(&ident.name.as_str()) {
            self.diags
                .push(diag::reserved_word(ident.span, &ident.name));
        }
        ident
    }

    /// Enters one level of expression nesting; refuses past [`MAX_EXPR_DEPTH`].
    fn enter(&mut self, span: Span) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            self.depth -= 1;
            return Err(diag::expression_too_complex(span, MAX_EXPR_DEPTH));
        }
        Ok(())
    }
}
