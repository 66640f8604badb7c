//! The formatter's expressions: literals as written, lists and maps inline when they
//! fit (and were written on one line), one element per line otherwise.

use super::printer::{Printer, WIDTH};
use crate::ast::*;

impl Printer<'_> {
    /// An expression at the current position.
    pub(super) fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            // Literals keep their spelling (`1_000`, `90d`, escapes as written).
            ExprKind::Str(lit) => self.string(lit),
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Duration(_) | ExprKind::Size(_) => {
                let text = self.src(expr.span);
                self.out.push_str(text);
            }
            ExprKind::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Path(path) => {
                self.out.push_str(&path.root.name);
                for seg in &path.segments {
                    match seg {
                        Segment::Field(f) => {
                            self.out.push('.');
                            self.out.push_str(&f.name);
                        }
                        Segment::Index(i) => {
                            self.out.push('[');
                            self.expr(i);
                            self.out.push(']');
                        }
                    }
                }
            }
            ExprKind::Paren(inner) => {
                self.out.push('(');
                self.expr(inner);
                self.out.push(')');
            }
            ExprKind::Not(inner) => {
                self.out.push_str("not ");
                self.expr(inner);
            }
            ExprKind::Logic(op, items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(' ');
                        self.out.push_str(op.as_str());
                        self.out.push(' ');
                    }
                    self.expr(item);
                }
            }
            ExprKind::Compare(op, lhs, rhs) => {
                self.expr(lhs);
                self.out.push(' ');
                self.out.push_str(op.as_str());
                self.out.push(' ');
                self.expr(rhs);
            }
            ExprKind::List(items) => self.list(items, expr),
            ExprKind::Map(entries) => self.map(entries, expr),
        }
    }

    /// A string exactly as written (escapes and `"""` indentation untouched).
    pub(super) fn string(&mut self, lit: &StrLit) {
        let text = self.src(lit.span);
        self.out.push_str(text);
    }

    /// Whether a collection goes one element per line: when it holds comments, was
    /// written over several lines, or does not fit on this one.
    fn vertical(&self, expr: &Expr, count: usize) -> bool {
        if self.force_inline {
            return false;
        }
        if self.has_comment_within(expr.span) {
            return true;
        }
        if count == 0 {
            return false;
        }
        if count > 1 && self.src(expr.span).contains('\n') {
            return true;
        }
        let mut probe = Printer::new(self.text, &[]);
        probe.force_inline = true;
        probe.expr(expr);
        probe.out.contains('\n') || self.column() + probe.out.len() > WIDTH
    }

    fn list(&mut self, items: &[Expr], expr: &Expr) {
        let layout = Layout {
            open: "[",
            close: "]",
            inline_open: "[",
            inline_close: "]",
            empty: "[]",
            comma: true,
        };
        self.collection(
            expr,
            items,
            layout,
            |item| item.span,
            |p, item, _| p.expr(item),
        );
    }

    fn map(&mut self, entries: &[MapEntry], expr: &Expr) {
        let layout = Layout {
            open: "{",
            close: "}",
            inline_open: "{ ",
            inline_close: " }",
            empty: "{}",
            comma: false,
        };
        let width = entries
            .iter()
            .map(|e| key_text(self, e).len())
            .max()
            .unwrap_or(0);
        let span_of = |e: &MapEntry| e.key_span.to(e.value.span);
        self.collection(expr, entries, layout, span_of, |p, entry, vertical| {
            let key = key_text(p, entry);
            p.out.push_str(&key);
            if vertical {
                p.out.push_str(&" ".repeat(width - key.len()));
            }
            p.out.push_str(" = ");
            p.expr(&entry.value);
        });
    }

    /// A list or map: inline when it fits (see [`Printer::vertical`]), otherwise one
    /// item per line with the comments around the items kept in place.
    fn collection<T>(
        &mut self,
        expr: &Expr,
        items: &[T],
        layout: Layout,
        span_of: impl Fn(&T) -> Span,
        mut item: impl FnMut(&mut Self, &T, bool),
    ) {
        if items.is_empty() && !self.has_comment_within(expr.span) {
            self.out.push_str(layout.empty);
            return;
        }
        if !self.vertical(expr, items.len()) {
            self.out.push_str(layout.inline_open);
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                item(self, it, false);
            }
            self.out.push_str(layout.inline_close);
            return;
        }
        self.out.push_str(layout.open);
        self.end_line();
        self.trailing_comment(expr.span.start + 1);
        self.indent += 1;
        let mut first = true;
        for it in items {
            let span = span_of(it);
            self.comments_before(span.start, &mut first);
            self.start_line();
            item(self, it, true);
            if layout.comma {
                self.out.push(',');
            }
            self.end_line();
            self.trailing_comment(after_comma(self.text, span.end));
            first = false;
        }
        self.comments_before(expr.span.end, &mut first);
        self.indent -= 1;
        self.start_line();
        self.out.push_str(layout.close);
    }
}

/// Delimiters of a collection in its two layouts.
struct Layout {
    open: &'static str,
    close: &'static str,
    inline_open: &'static str,
    inline_close: &'static str,
    empty: &'static str,
    /// Whether items end with `,` one per line (lists do; maps separate by newlines).
    comma: bool,
}

/// A map key as written (a bare name or a string).
fn key_text(p: &Printer<'_>, entry: &MapEntry) -> String {
    p.src(entry.key_span).to_string()
}

/// The offset after a `,` that directly follows `end` (so a trailing comment after
/// `"a", # note` is found), else `end`.
fn after_comma(text: &str, end: usize) -> usize {
    let rest = text.get(end..).unwrap_or("");
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    if rest[skipped..].starts_with(',') {
        end + skipped + 1
    } else {
        end
    }
}
