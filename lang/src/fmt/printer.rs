//! The formatter's printer: statements, blocks, comments and blank lines.

use crate::ast::*;

/// Lines longer than this are broken where the layout allows (lists, maps, bodies).
pub const WIDTH: usize = 100;
const INDENT: &str = "  ";

pub(super) struct Printer<'a> {
    pub(super) text: &'a str,
    comments: &'a [Comment],
    pub(super) next_comment: usize,
    pub(super) out: String,
    pub(super) indent: usize,
    /// Source offset where the last printed item (statement or comment) ended.
    last_end: usize,
    /// Offsets in `out` of the space before each trailing comment.
    pub(super) trailing: Vec<usize>,
    /// Print every collection on one line (used to measure the inline form).
    pub(super) force_inline: bool,
}

impl<'a> Printer<'a> {
    pub(super) fn new(text: &'a str, comments: &'a [Comment]) -> Self {
        Printer {
            text,
            comments,
            next_comment: 0,
            out: String::new(),
            indent: 0,
            last_end: 0,
            trailing: Vec::new(),
            force_inline: false,
        }
    }

    /// The source text of a span.
    pub(super) fn src(&self, span: Span) -> &'a str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// Starts a new line at the current indentation.
    pub(super) fn start_line(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str(INDENT);
        }
    }

    /// Ends the current line.
    pub(super) fn end_line(&mut self) {
        self.out.push('\n');
    }

    /// The column the next character would be written at.
    pub(super) fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |i| i + 1)
    }

    fn comment_text(&self, c: &Comment) -> &'a str {
        self.src(c.span).trim_end()
    }

    /// Whether the source has a blank line between `from` and `to`.
    pub(super) fn blank_between(&self, from: usize, to: usize) -> bool {
        let gap = self.text.get(from..to).unwrap_or("");
        gap.matches('\n').count() >= 2
    }

    /// Own-line comments that start before `pos`, each on its own line.
    pub(super) fn comments_before(&mut self, pos: usize, first_in_block: &mut bool) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.span.start >= pos {
                break;
            }
            if !*first_in_block && self.blank_between(self.last_end, c.span.start) {
                self.end_line();
            }
            self.start_line();
            let text = self.comment_text(c);
            self.out.push_str(text);
            self.end_line();
            self.last_end = c.span.end;
            self.next_comment += 1;
            *first_in_block = false;
        }
    }

    /// A comment on the same source line as `after` (and after it) goes at the end of
    /// the line just printed.
    pub(super) fn trailing_comment(&mut self, after: usize) {
        let Some(c) = self.comments.get(self.next_comment) else {
            return;
        };
        let gap = self.text.get(after..c.span.start).unwrap_or("\n");
        if c.span.start < after || gap.contains('\n') {
            return;
        }
        if self.out.ends_with('\n') {
            self.out.pop();
        }
        let text = self.comment_text(c);
        self.trailing.push(self.out.len());
        self.out.push(' ');
        self.out.push_str(text);
        self.out.push('\n');
        self.last_end = c.span.end;
        self.next_comment += 1;
    }

    /// Whether any comment lies inside `span` (from the next unprinted one).
    pub(super) fn has_comment_within(&self, span: Span) -> bool {
        self.comments[self.next_comment.min(self.comments.len())..]
            .iter()
            .any(|c| c.span.start >= span.start && c.span.end <= span.end)
    }

    /// The statements of a file or block, then the comments left before `end`.
    pub(super) fn stmts(&mut self, stmts: &[Stmt], end: usize) {
        let mut first = true;
        let widths = alignment(stmts, self);
        for (i, stmt) in stmts.iter().enumerate() {
            let span = stmt.span();
            self.comments_before(span.start, &mut first);
            if !first && self.blank_between(self.last_end, span.start) {
                self.end_line();
            }
            let align = if self.padding_breaks(stmt, widths[i]) {
                0
            } else {
                widths[i]
            };
            self.stmt(stmt, align);
            self.last_end = span.end;
            self.trailing_comment(span.end);
            first = false;
        }
        self.comments_before(end, &mut first);
    }

    /// Whether padding `stmt` to `align` would break its value over more lines than
    /// printing it unpadded. Such a statement is printed unpadded: otherwise the padding
    /// would break the value, the broken value would end the alignment run in the next
    /// pass, and the layout would flip between the two forms on every `ops fmt`.
    fn padding_breaks(&self, stmt: &Stmt, align: usize) -> bool {
        if align == 0 || !matches!(stmt, Stmt::Attr(_) | Stmt::Param(_)) {
            return false;
        }
        self.printed_lines(stmt, align) > self.printed_lines(stmt, 0)
    }

    /// How many lines `stmt` takes when printed here padded to `align` (a probe: nothing
    /// is written).
    fn printed_lines(&self, stmt: &Stmt, align: usize) -> usize {
        let mut probe = Printer::new(self.text, self.comments);
        probe.next_comment = self.next_comment;
        probe.indent = self.indent;
        probe.last_end = self.last_end;
        probe.stmt(stmt, align);
        probe.out.matches('\n').count()
    }

    /// `{`, the statements indented, `}`: or `{ stmt }` when that is how it was written
    /// and it fits.
    pub(super) fn block(&mut self, block: &Block) {
        if self.inline_block(block) {
            return;
        }
        self.out.push('{');
        self.end_line();
        self.trailing_comment(block.span.start + 1);
        self.indent += 1;
        let saved = self.last_end;
        self.last_end = block.span.start + 1;
        self.stmts(&block.stmts, block.span.end);
        self.last_end = saved;
        self.indent -= 1;
        self.start_line();
        self.out.push('}');
        self.end_line();
    }

    /// Keeps `{ one simple statement }` on one line when it was written so and fits.
    fn inline_block(&mut self, block: &Block) -> bool {
        let [only] = block.stmts.as_slice() else {
            return false;
        };
        let simple = matches!(
            only,
            Stmt::Attr(_) | Stmt::Expect(_) | Stmt::Timeout(_) | Stmt::When(_) | Stmt::Retry(_)
        );
        if !simple || self.src(block.span).contains('\n') || self.has_comment_within(block.span) {
            return false;
        }
        let mut inner = Printer::new(self.text, self.comments);
        inner.next_comment = self.next_comment;
        inner.stmt(only, 0);
        let body = inner.out.trim_end().to_string();
        if body.contains('\n') || self.column() + body.len() + 4 > WIDTH {
            return false;
        }
        self.out.push_str("{ ");
        self.out.push_str(&body);
        self.out.push_str(" }");
        self.end_line();
        true
    }

    fn stmt(&mut self, stmt: &Stmt, align: usize) {
        self.start_line();
        match stmt {
            Stmt::Runbook(r) => {
                self.out.push_str("runbook ");
                self.string(&r.id);
                self.out.push(' ');
                self.block(&r.body);
            }
            Stmt::Param(p) => {
                let head = format!("param {}: {}", p.name.name, type_text(&p.ty));
                self.out.push_str(&head);
                if let Some(default) = &p.default {
                    pad(&mut self.out, align.saturating_sub(head.len()));
                    self.out.push_str(" = ");
                    self.expr(default);
                }
                self.opt_body(p.body.as_ref());
            }
            Stmt::Secret(s) => {
                self.out.push_str("secret ");
                self.out.push_str(&s.name.name);
                self.opt_body(s.body.as_ref());
            }
            Stmt::Let(l) => {
                self.out.push_str("let ");
                self.out.push_str(&l.name.name);
                self.out.push_str(" = ");
                self.expr(&l.value);
                self.end_line();
            }
            Stmt::Include(i) => {
                self.out.push_str("include ");
                self.string(&i.path);
                self.end_line();
            }
            Stmt::Stage(s) => {
                self.out.push_str("stage ");
                self.string(&s.title);
                self.out.push(' ');
                self.block(&s.body);
            }
            Stmt::Parallel(p) => {
                self.out.push_str("parallel ");
                if let Some(limit) = &p.limit {
                    self.out.push_str("limit ");
                    self.expr(limit);
                    self.out.push(' ');
                }
                self.block(&p.body);
            }
            Stmt::For(f) => {
                self.out.push_str("for ");
                self.out.push_str(&f.var.name);
                self.out.push_str(" in ");
                self.expr(&f.iter);
                self.out.push(' ');
                self.block(&f.body);
            }
            Stmt::Handler(h) => {
                self.out.push_str(match h.kind {
                    HandlerKind::OnFailure => "on failure ",
                    HandlerKind::Always => "always ",
                });
                self.block(&h.body);
            }
            Stmt::Step(s) => {
                self.out.push_str(&s.kind.name);
                for arg in &s.args {
                    self.out.push(' ');
                    self.expr(arg);
                }
                if let Some(name) = &s.name {
                    self.out.push_str(" as ");
                    self.out.push_str(&name.name);
                }
                self.opt_body(s.body.as_ref());
            }
            Stmt::Attr(a) => {
                self.out.push_str(&a.name.name);
                pad(&mut self.out, align.saturating_sub(a.name.name.len()));
                self.out.push_str(" = ");
                self.expr(&a.value);
                self.end_line();
            }
            Stmt::Expect(e) => {
                self.out.push_str("expect ");
                self.out.push_str(&e.subject.name);
                if let Some(arg) = &e.arg {
                    self.out.push(' ');
                    self.expr(arg);
                }
                self.out.push(' ');
                self.out.push_str(e.op.as_str());
                self.out.push(' ');
                self.expr(&e.value);
                self.end_line();
            }
            Stmt::Retry(r) => {
                self.out.push_str("retry ");
                self.expr(&r.count);
                if let Some(every) = &r.every {
                    self.out.push_str(" every ");
                    self.expr(every);
                }
                if let Some(b) = &r.backoff {
                    self.out.push_str(" backoff ");
                    self.out.push_str(&b.name);
                }
                if let Some(max) = &r.max {
                    self.out.push_str(" max ");
                    self.expr(max);
                }
                if r.jitter {
                    self.out.push_str(" jitter");
                }
                self.end_line();
            }
            Stmt::Timeout(t) => {
                self.out.push_str("timeout ");
                self.expr(&t.value);
                self.end_line();
            }
            Stmt::When(w) => {
                self.out.push_str("when ");
                self.expr(&w.cond);
                self.end_line();
            }
        }
    }

    /// A body when present; an empty one without comments is dropped.
    fn opt_body(&mut self, body: Option<&Block>) {
        match body {
            Some(b) if !b.stmts.is_empty() || self.has_comment_within(b.span) => {
                self.out.push(' ');
                self.block(b);
            }
            _ => self.end_line(),
        }
    }
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn type_text(ty: &TypeExpr) -> String {
    match &ty.arg {
        Some(arg) => format!("{}<{}>", ty.name.name, type_text(arg)),
        None => ty.name.name.clone(),
    }
}

/// For each statement, the width its name part is padded to so that `=` lines up in
/// runs of attributes (and of parameters with defaults) not broken by a blank line, a
/// comment line or a statement printed over several lines. What breaks a run is the
/// printed form, not the source's (an empty map written over two lines prints as `{}`):
/// otherwise a second `ops fmt` would align what the first did not.
fn alignment(stmts: &[Stmt], p: &Printer<'_>) -> Vec<usize> {
    let key = |s: &Stmt| -> Option<(u8, usize)> {
        match s {
            Stmt::Attr(a) => Some((0, a.name.name.len())),
            Stmt::Param(param) if param.default.is_some() && param.body.is_none() => Some((
                1,
                format!("param {}: {}", param.name.name, type_text(&param.ty)).len(),
            )),
            _ => None,
        }
    };
    let mut widths = vec![0; stmts.len()];
    let mut i = 0;
    while i < stmts.len() {
        let Some((group, _)) = key(&stmts[i]) else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < stmts.len()
            && key(&stmts[j]).is_some_and(|(g, _)| g == group)
            && !p.blank_between(stmts[j - 1].span().end, stmts[j].span().start)
            && p.printed_lines(&stmts[j - 1], 0) <= 1
        {
            j += 1;
        }
        let width = stmts[i..j]
            .iter()
            .filter_map(key)
            .map(|(_, w)| w)
            .max()
            .unwrap_or(0);
        for w in &mut widths[i..j] {
            *w = width;
        }
        i = j;
    }
    widths
}
