//! Lowering of expressions: `or`/`and` chains, `not`, comparisons, primaries.

use pest::iterators::Pair;

use super::cursor::Cursor;
use super::{Lowerer, R, span_of};
use crate::ast::*;
use crate::diag;
use crate::parse::Rule;

impl Lowerer<'_> {
    /// `expr`: an `or` chain. Every call is one level of nesting.
    pub(crate) fn lower_expr(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        let span = self.span(&pair);
        self.enter(span)?;
        let result = self.lower_chain(pair, Rule::and_expr, Rule::kw_or, LogicOp::Or);
        self.depth -= 1;
        result
    }

    /// `and_expr`: an `and` chain.
    fn lower_and_expr(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        self.lower_chain(pair, Rule::not_expr, Rule::kw_and, LogicOp::And)
    }

    /// `operand (keyword operand)*` as one n-ary [`ExprKind::Logic`] node.
    fn lower_chain(
        &mut self,
        pair: Pair<'_, Rule>,
        operand: Rule,
        keyword: Rule,
        op: LogicOp,
    ) -> R<Expr> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let mut operands = vec![self.lower_operand(c.next(operand)?)?];
        while c.take(keyword).is_some() {
            operands.push(self.lower_operand(c.next(operand)?)?);
        }
        c.finish()?;
        if operands.len() == 1 {
            return Ok(operands.remove(0));
        }
        Ok(Expr {
            kind: ExprKind::Logic(op, operands),
            span,
        })
    }

    fn lower_operand(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        match pair.as_rule() {
            Rule::and_expr => self.lower_and_expr(pair),
            _ => self.lower_not_expr(pair),
        }
    }

    /// `not_expr`: `not* cmp_expr`.
    fn lower_not_expr(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        let mut c = Cursor::of(&pair);
        let mut nots = Vec::new();
        while let Some(kw) = c.take(Rule::kw_not) {
            nots.push(self.span(&kw).start);
        }
        let inner_pair = c.next(Rule::cmp_expr)?;
        c.finish()?;
        let end = self.span(&inner_pair).end;
        for start in &nots {
            self.enter(Span::new(*start, end))?;
        }
        let mut expr = self.lower_cmp_expr(inner_pair);
        for start in nots.iter().rev() {
            self.depth -= 1;
            expr = expr.map(|inner| Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span: Span::new(*start, end),
            });
        }
        expr
    }

    /// `cmp_expr`: `primary (op primary)?`.
    fn lower_cmp_expr(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        let span = self.span(&pair);
        let mut c = Cursor::of(&pair);
        let lhs = self.lower_primary(c.next_any()?)?;
        let Some(op_pair) = c.take(Rule::cmp_op) else {
            c.finish()?;
            return Ok(lhs);
        };
        let op = self.lower_cmp_op(op_pair)?;
        let rhs = self.lower_primary(c.next_any()?)?;
        c.finish()?;
        Ok(Expr {
            kind: ExprKind::Compare(op, Box::new(lhs), Box::new(rhs)),
            span,
        })
    }

    /// `cmp_op`.
    pub(crate) fn lower_cmp_op(&mut self, pair: Pair<'_, Rule>) -> R<CmpOp> {
        let mut c = Cursor::of(&pair);
        let inner = c.next_any()?;
        c.finish()?;
        Ok(match inner.as_rule() {
            Rule::op_eq => CmpOp::Eq,
            Rule::op_ne => CmpOp::Ne,
            Rule::op_lt => CmpOp::Lt,
            Rule::op_le => CmpOp::Le,
            Rule::op_gt => CmpOp::Gt,
            Rule::op_ge => CmpOp::Ge,
            Rule::op_contains => CmpOp::Contains,
            Rule::op_not_contains => CmpOp::NotContains,
            Rule::op_matches => CmpOp::Matches,
            Rule::op_not_matches => CmpOp::NotMatches,
            Rule::op_in => CmpOp::In,
            Rule::op_not_in => CmpOp::NotIn,
            other => {
                return Err(diag::internal_error(
                    span_of(&inner),
                    &format!("expected an operator, found {other:?}"),
                ));
            }
        })
    }

    /// Any primary: literal, list, map, parenthesised expression or path.
    pub(crate) fn lower_primary(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::quantity => self.lower_quantity(pair),
            Rule::float => self.lower_float(pair),
            Rule::int => self.lower_int(pair),
            Rule::string => ExprKind::Str(self.lower_string(pair)?),
            Rule::boolean => self.lower_boolean(pair)?,
            Rule::list => self.lower_list(pair)?,
            Rule::map => self.lower_map(pair)?,
            Rule::paren => self.lower_paren(pair)?,
            Rule::path => ExprKind::Path(self.lower_path(pair)?),
            other => {
                return Err(diag::internal_error(
                    span,
                    &format!("expected a value, found {other:?}"),
                ));
            }
        };
        Ok(Expr { kind, span })
    }

    fn lower_boolean(&mut self, pair: Pair<'_, Rule>) -> R<ExprKind> {
        let mut c = Cursor::of(&pair);
        let value = c.take(Rule::kw_true).is_some();
        if !value {
            c.next(Rule::kw_false)?;
        }
        c.finish()?;
        Ok(ExprKind::Bool(value))
    }

    fn lower_paren(&mut self, pair: Pair<'_, Rule>) -> R<ExprKind> {
        let mut c = Cursor::of(&pair);
        let inner = self.lower_expr(c.next(Rule::expr)?)?;
        c.finish()?;
        Ok(ExprKind::Paren(Box::new(inner)))
    }

    fn lower_list(&mut self, pair: Pair<'_, Rule>) -> R<ExprKind> {
        let mut c = Cursor::of(&pair);
        let mut items = Vec::new();
        while c.peek_rule().is_some() {
            items.push(self.lower_expr(c.next(Rule::expr)?)?);
        }
        Ok(ExprKind::List(items))
    }

    fn lower_map(&mut self, pair: Pair<'_, Rule>) -> R<ExprKind> {
        let mut c = Cursor::of(&pair);
        let mut entries = Vec::new();
        while c.peek_rule().is_some() {
            entries.push(self.lower_map_entry(c.next(Rule::map_entry)?)?);
        }
        Ok(ExprKind::Map(entries))
    }

    fn lower_map_entry(&mut self, pair: Pair<'_, Rule>) -> R<MapEntry> {
        let mut c = Cursor::of(&pair);
        let key_pair = c.next_any()?;
        let key_span = self.span(&key_pair);
        let (key, key_lit) = match key_pair.as_rule() {
            Rule::name => (key_pair.as_str().to_string(), None),
            Rule::string => {
                let raw = key_pair.as_str().to_string();
                let lit = self.lower_string(key_pair)?;
                (lit.as_plain().unwrap_or(raw), Some(lit))
            }
            other => {
                return Err(diag::internal_error(
                    key_span,
                    &format!("expected a map key, found {other:?}"),
                ));
            }
        };
        let value = self.lower_expr(c.next(Rule::expr)?)?;
        c.finish()?;
        Ok(MapEntry {
            key,
            key_lit,
            key_span,
            value,
        })
    }

    /// `path`: `ident (.field | [index])*`.
    pub(crate) fn lower_path(&mut self, pair: Pair<'_, Rule>) -> R<PathExpr> {
        let mut c = Cursor::of(&pair);
        let root_pair = c.next(Rule::ident)?;
        let root = Ident {
            name: root_pair.as_str().to_string(),
            span: self.span(&root_pair),
        };
        let mut segments = Vec::new();
        while let Some(rule) = c.peek_rule() {
            let seg = c.next(rule)?;
            let mut sc = Cursor::of(&seg);
            match rule {
                Rule::path_field => {
                    let name = sc.next(Rule::name)?;
                    segments.push(Segment::Field(Ident {
                        name: name.as_str().to_string(),
                        span: self.span(&name),
                    }));
                }
                Rule::path_index => {
                    segments.push(Segment::Index(self.lower_expr(sc.next(Rule::expr)?)?))
                }
                other => {
                    return Err(diag::internal_error(
                        span_of(&seg),
                        &format!("expected `.field` or `[index]`, found {other:?}"),
                    ));
                }
            }
            sc.finish()?;
        }
        Ok(PathExpr { root, segments })
    }
}
