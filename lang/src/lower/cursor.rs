//! A cursor over a pair's children that reports shape mismatches as diagnostics.

use pest::iterators::{Pair, Pairs};

use super::{R, span_of};
use crate::ast::Span;
use crate::diag;
use crate::parse::{Rule, rule_name};

/// The children of one pair, taken in order.
#[derive(Clone)]
pub(crate) struct Cursor<'i> {
    inner: Pairs<'i, Rule>,
    parent: Span,
    parent_rule: Rule,
}

impl<'i> Cursor<'i> {
    /// A cursor over `pair`'s children.
    pub(crate) fn of(pair: &Pair<'i, Rule>) -> Cursor<'i> {
        Cursor {
            inner: pair.clone().into_inner(),
            parent: span_of(pair),
            parent_rule: pair.as_rule(),
        }
    }

    /// The next child, which must be `rule`.
    pub(crate) fn next(&mut self, rule: Rule) -> R<Pair<'i, Rule>> {
        match self.inner.next() {
            Some(pair) if pair.as_rule() == rule => Ok(pair),
            Some(pair) => Err(diag::internal_error(
                span_of(&pair),
                &format!(
                    "in {} expected {} ({rule:?}) but found {:?}",
                    rule_name(self.parent_rule),
                    rule_name(rule),
                    pair.as_rule()
                ),
            )),
            None => Err(self.missing(&format!("{} ({rule:?})", rule_name(rule)))),
        }
    }

    /// The next child, whatever it is.
    pub(crate) fn next_any(&mut self) -> R<Pair<'i, Rule>> {
        self.inner
            .next()
            .ok_or_else(|| self.missing("another element"))
    }

    /// The next child if it is `rule`.
    pub(crate) fn take(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        if self.peek_rule() == Some(rule) {
            self.inner.next()
        } else {
            None
        }
    }

    /// The rule of the next child.
    pub(crate) fn peek_rule(&self) -> Option<Rule> {
        self.inner.peek().map(|p| p.as_rule())
    }

    /// Succeeds when every child was taken.
    pub(crate) fn finish(mut self) -> R<()> {
        match self.inner.next() {
            None => Ok(()),
            Some(extra) => Err(diag::internal_error(
                span_of(&extra),
                &format!(
                    "unexpected {:?} in {}",
                    extra.as_rule(),
                    rule_name(self.parent_rule)
                ),
            )),
        }
    }

    fn missing(&self, what: &str) -> crate::diag::Diagnostic {
        diag::internal_error(
            self.parent,
            &format!("{} ended before {what}", rule_name(self.parent_rule)),
        )
    }
}
