//! Lowering of expressions: `or`/`and` chains, `not`, comparisons, primaries.

use pest::iterators::Pair;

use super::cursor::Cursor;
use super::{Lowerer, R, span_of};
use crate::ast::*;
use crate::diag;
use crate::parse::Rule;

/// A binary operator of a flat expression list.
#[derive(Clone, Copy)]
enum Op {
    Cmp(CmpOp),
    Logic(LogicOp),
}

/// Wraps `expr` in one `not` per keyword offset (innermost last).
fn wrap_nots(nots: Vec<usize>, expr: Expr) -> Expr {
    let end = expr.span.end;
    nots.into_iter().rev().fold(expr, |inner, start| Expr {
        kind: ExprKind::Not(Box::new(inner)),
        span: Span::new(start, end),
    })
}

/// One n-ary node for two or more operands, the operand itself for one.
fn logic(op: LogicOp, mut items: Vec<Expr>) -> Option<Expr> {
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => {
            let span = items[0].span.to(items[items.len() - 1].span);
            Some(Expr {
                kind: ExprKind::Logic(op, items),
                span,
            })
        }
    }
}

impl Lowerer<'_> {
    /// `expr`: a flat `operand (binop operand)*` list, with precedence applied here:
    /// comparisons bind tightest (and do not chain), then `and`, then `or`, both
    /// n-ary. Every call is one level of nesting.
    pub(crate) fn lower_expr(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        let span = self.span(&pair);
        self.enter(span)?;
        let result = self.lower_flat(pair);
        self.depth -= 1;
        result
    }

    fn lower_flat(&mut self, pair: Pair<'_, Rule>) -> R<Expr> {
        let mut c = Cursor::of(&pair);
        let first = self.lower_operand(&mut c)?;
        // Most values are one operand: no operator lists to build.
        if c.peek_rule().is_none() {
            c.finish()?;
            let (nots, value) = first;
            return Ok(wrap_nots(nots, value));
        }
        let mut operands = vec![first];
        let mut ops: Vec<(Op, Span)> = Vec::new();
        // After an operand, the next child (if any) is an operator.
        while c.peek_rule().is_some() {
            ops.push(self.lower_binop(c.next_any()?)?);
            operands.push(self.lower_operand(&mut c)?);
        }
        c.finish()?;
        // Comparisons first: `a OP b` becomes one unit; `not` written before `a`
        // negates the whole comparison (`not x == y` is `not (x == y)`).
        let mut units: Vec<Expr> = Vec::new();
        let mut joins: Vec<LogicOp> = Vec::new();
        let mut operands = operands.into_iter();
        let mut current = operands.next();
        let mut compared = false;
        for (op, op_span) in ops {
            let Some(rhs) = operands.next() else { break };
            match op {
                Op::Cmp(cmp) => {
                    let Some((nots, lhs)) = current.take() else {
                        break;
                    };
                    if compared {
                        self.diags.push(diag::chained_comparison(op_span));
                    }
                    compared = true;
                    let (rhs_nots, rhs) = rhs;
                    let rhs = wrap_nots(rhs_nots, rhs);
                    let cmp_span = lhs.span.to(rhs.span);
                    let compare = Expr {
                        kind: ExprKind::Compare(cmp, Box::new(lhs), Box::new(rhs)),
                        span: cmp_span,
                    };
                    current = Some((nots, compare));
                }
                Op::Logic(logic) => {
                    if let Some((nots, unit)) = current.take() {
                        units.push(wrap_nots(nots, unit));
                    }
                    joins.push(logic);
                    current = Some(rhs);
                    compared = false;
                }
            }
        }
        if let Some((nots, unit)) = current {
            units.push(wrap_nots(nots, unit));
        }
        // Then `and` groups inside `or` groups.
        let mut or_groups: Vec<Vec<Expr>> = vec![Vec::new()];
        let mut units = units.into_iter();
        if let Some(first) = units.next() {
            or_groups[0].push(first);
        }
        for (join, unit) in joins.into_iter().zip(units) {
            if join == LogicOp::Or {
                or_groups.push(Vec::new());
            }
            if let Some(group) = or_groups.last_mut() {
                group.push(unit);
            }
        }
        let mut alternatives: Vec<Expr> = or_groups
            .into_iter()
            .filter_map(|g| logic(LogicOp::And, g))
            .collect();
        match alternatives.len() {
            0 => Err(diag::internal_error(
                self.span(&pair),
                "an expression without operands",
            )),
            1 => Ok(alternatives.remove(0)),
            _ => logic(LogicOp::Or, alternatives)
                .ok_or_else(|| diag::internal_error(self.span(&pair), "an empty `or` chain")),
        }
    }

    /// An operand of `expr` (`not* primary`, the silent `operand` rule), taken from its
    /// children: the `not` keywords' offsets and the value.
    fn lower_operand(&mut self, c: &mut Cursor<'_>) -> R<(Vec<usize>, Expr)> {
        let mut nots = Vec::new();
        let mut keywords = Vec::new();
        while let Some(kw) = c.take(Rule::kw_not) {
            let span = self.span(&kw);
            nots.push(span.start);
            keywords.push(span);
        }
        // Each `not` is one level of nesting, held while the value is lowered.
        let mut entered = 0;
        let mut result = Ok(());
        for keyword in &keywords {
            result = self.enter(*keyword);
            if result.is_err() {
                break;
            }
            entered += 1;
        }
        let value = result
            .and_then(|()| c.next_any())
            .and_then(|p| self.lower_primary(p));
        self.depth -= entered;
        Ok((nots, value?))
    }

    /// An operator of `expr` (the silent `binop` rule): a comparison, `and` or `or`.
    fn lower_binop(&mut self, pair: Pair<'_, Rule>) -> R<(Op, Span)> {
        let span = self.span(&pair);
        let op = match pair.as_rule() {
            Rule::cmp_op => Op::Cmp(self.lower_cmp_op(pair)?),
            Rule::kw_and => Op::Logic(LogicOp::And),
            Rule::kw_or => Op::Logic(LogicOp::Or),
            other => {
                return Err(diag::internal_error(
                    span,
                    &format!("expected an operator, found {other:?}"),
                ));
            }
        };
        Ok((op, span))
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
