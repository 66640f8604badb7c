//! The typed AST of a `.rb.ops` file: what `lower` produces from the pest parse tree.
//!
//! Every node carries a byte [`Span`] into its source file. Closed sets of values
//! (operators, handler kinds, backoff) are enums; step kinds stay names here because
//! they are resolved against the stdlib's schemas by the checker.

use std::time::Duration;

/// A byte range `start..end` in one source file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// An empty span at `offset`.
    pub const fn at(offset: usize) -> Span {
        Span {
            start: offset,
            end: offset,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the span covers no bytes.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> miette::SourceSpan {
        miette::SourceSpan::new(span.start.into(), span.len())
    }
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// One parsed file: its top-level statements.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Top-level statements in source order.
    pub stmts: Vec<Stmt>,
    /// The whole file.
    pub span: Span,
}

/// A `{ ... }` body of statements.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Statements in source order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}` inclusive.
    pub span: Span,
}

/// One statement. Which statements are allowed where is the checker's business.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `runbook "id" { ... }` metadata.
    Runbook(RunbookBlock),
    /// `param NAME: TYPE = default { ... }`.
    Param(ParamDecl),
    /// `secret NAME { ... }`.
    Secret(SecretDecl),
    /// `let NAME = expr`.
    Let(LetDecl),
    /// `include "path"`.
    Include(Include),
    /// `stage "title" { ... }`.
    Stage(Stage),
    /// `parallel limit N { ... }`.
    Parallel(Parallel),
    /// `for NAME in expr { ... }`.
    For(ForLoop),
    /// `on failure { ... }` or `always { ... }`.
    Handler(Handler),
    /// `KIND ARG* (as NAME)? { ... }`.
    Step(Step),
    /// `name = expr`.
    Attr(Attr),
    /// `expect SUBJECT ARG? OP expr`.
    Expect(Expect),
    /// `retry N every D backoff B max D jitter`.
    Retry(Retry),
    /// `timeout D`.
    Timeout(Timeout),
    /// `when expr`.
    When(When),
}

impl Stmt {
    /// The statement's whole span.
    pub fn span(&self) -> Span {
        match self {
            Stmt::Runbook(s) => s.span,
            Stmt::Param(s) => s.span,
            Stmt::Secret(s) => s.span,
            Stmt::Let(s) => s.span,
            Stmt::Include(s) => s.span,
            Stmt::Stage(s) => s.span,
            Stmt::Parallel(s) => s.span,
            Stmt::For(s) => s.span,
            Stmt::Handler(s) => s.span,
            Stmt::Step(s) => s.span,
            Stmt::Attr(s) => s.span,
            Stmt::Expect(s) => s.span,
            Stmt::Retry(s) => s.span,
            Stmt::Timeout(s) => s.span,
            Stmt::When(s) => s.span,
        }
    }

    /// A short human description ("a `stage`", "an attribute").
    pub fn describe(&self) -> &'static str {
        match self {
            Stmt::Runbook(_) => "a `runbook` block",
            Stmt::Param(_) => "a `param` declaration",
            Stmt::Secret(_) => "a `secret` declaration",
            Stmt::Let(_) => "a `let` binding",
            Stmt::Include(_) => "an `include`",
            Stmt::Stage(_) => "a `stage`",
            Stmt::Parallel(_) => "a `parallel` group",
            Stmt::For(_) => "a `for` loop",
            Stmt::Handler(h) => match h.kind {
                HandlerKind::OnFailure => "an `on failure` handler",
                HandlerKind::Always => "an `always` handler",
            },
            Stmt::Step(_) => "a step",
            Stmt::Attr(_) => "an attribute",
            Stmt::Expect(_) => "an `expect`",
            Stmt::Retry(_) => "a `retry` modifier",
            Stmt::Timeout(_) => "a `timeout` modifier",
            Stmt::When(_) => "a `when` modifier",
        }
    }
}

/// `runbook "id" { title = ..., owner = ..., ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunbookBlock {
    /// The runbook's id.
    pub id: StrLit,
    /// Metadata attributes.
    pub body: Block,
    /// The whole block.
    pub span: Span,
}

/// `param NAME: TYPE = default { description = ..., allowed = [...] }`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    /// Parameter name.
    pub name: Ident,
    /// Declared type.
    pub ty: TypeExpr,
    /// Default value; a parameter without one is required.
    pub default: Option<Expr>,
    /// Optional body with `description` and `allowed`.
    pub body: Option<Block>,
    /// The whole declaration.
    pub span: Span,
}

/// A written type: `string`, `list<url>`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// The type's name.
    pub name: Ident,
    /// The element type of `list<T>`/`map<T>`.
    pub arg: Option<Box<TypeExpr>>,
    /// The whole type.
    pub span: Span,
}

/// `secret NAME { env = "VAR" }` or `{ file = "path" }`.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretDecl {
    /// The secret's name (and default environment variable).
    pub name: Ident,
    /// Optional body choosing the source.
    pub body: Option<Block>,
    /// The whole declaration.
    pub span: Span,
}

/// `let NAME = expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct LetDecl {
    /// Bound name.
    pub name: Ident,
    /// Bound value.
    pub value: Expr,
    /// The whole binding.
    pub span: Span,
}

/// `include "lib/health.rb.ops"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Include {
    /// Path relative to the including file.
    pub path: StrLit,
    /// The whole statement.
    pub span: Span,
}

/// `stage "title" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// The stage's title.
    pub title: StrLit,
    /// Its statements.
    pub body: Block,
    /// The whole stage.
    pub span: Span,
}

/// `parallel limit N { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Parallel {
    /// Maximum concurrency, when limited.
    pub limit: Option<Expr>,
    /// The concurrent steps.
    pub body: Block,
    /// The whole group.
    pub span: Span,
}

/// `for NAME in LIST { ... }`, expanded statically by the planner.
#[derive(Clone, Debug, PartialEq)]
pub struct ForLoop {
    /// Loop variable.
    pub var: Ident,
    /// The list iterated over.
    pub iter: Expr,
    /// Loop body.
    pub body: Block,
    /// The whole loop.
    pub span: Span,
}

/// Which handler a [`Handler`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlerKind {
    /// `on failure { ... }`: runs when the enclosing runbook or stage fails.
    OnFailure,
    /// `always { ... }`: runs whatever the outcome.
    Always,
}

/// `on failure { ... }` / `always { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Handler {
    /// Which handler.
    pub kind: HandlerKind,
    /// Its steps.
    pub body: Block,
    /// The whole handler.
    pub span: Span,
}

/// `KIND ARG* (as NAME)? { body }`: a step, resolved against the schemas by the checker.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The step kind (`probe`, `compose`, ...).
    pub kind: Ident,
    /// Positional arguments: the variant word (a bare name) and the target.
    pub args: Vec<Expr>,
    /// `as NAME`.
    pub name: Option<Ident>,
    /// The body, when given.
    pub body: Option<Block>,
    /// The whole step.
    pub span: Span,
}

/// `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    /// Attribute name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
    /// The whole attribute.
    pub span: Span,
}

/// `expect SUBJECT ARG? OP VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// What is checked (`status`, `header`, `json`, ...).
    pub subject: Ident,
    /// The subject's argument (`"content-type"`, `".status"`).
    pub arg: Option<Expr>,
    /// The comparison.
    pub op: CmpOp,
    /// Where the operator is written.
    pub op_span: Span,
    /// The expected value.
    pub value: Expr,
    /// The whole expectation.
    pub span: Span,
}

/// `retry N every D backoff constant|exponential max D jitter`.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Number of retries after the first attempt.
    pub count: Expr,
    /// Delay between attempts.
    pub every: Option<Expr>,
    /// Backoff name as written (`constant`, `exponential`).
    pub backoff: Option<Ident>,
    /// Upper bound on one delay.
    pub max: Option<Expr>,
    /// Whether delays are jittered.
    pub jitter: bool,
    /// The whole modifier.
    pub span: Span,
}

/// `timeout D`.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeout {
    /// The limit.
    pub value: Expr,
    /// The whole modifier.
    pub span: Span,
}

/// `when EXPR`: the step runs only when the condition holds.
#[derive(Clone, Debug, PartialEq)]
pub struct When {
    /// The condition.
    pub cond: Expr,
    /// The whole modifier.
    pub span: Span,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// The expression forms. There is no arithmetic: the language is declarative.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A string, possibly interpolated.
    Str(StrLit),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A duration literal (`30s`, `1h30m`).
    Duration(Duration),
    /// A size literal in bytes (`10MiB`).
    Size(u64),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{ key = value }`.
    Map(Vec<MapEntry>),
    /// A reference: `name`, `step.field`, `x[0]`.
    Path(PathExpr),
    /// `not expr`.
    Not(Box<Expr>),
    /// `a and b and c` / `a or b or c`: an n-ary chain, so long chains stay shallow.
    Logic(LogicOp, Vec<Expr>),
    /// `a == b`, `a contains b`, ...
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `(expr)`.
    Paren(Box<Expr>),
}

/// One `key = value` of a map literal.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    /// The key's text (a name, or a string's text; the source text if interpolated).
    pub key: String,
    /// The key when written as a string (the checker rejects `${...}` in it).
    pub key_lit: Option<StrLit>,
    /// Where the key is written.
    pub key_span: Span,
    /// The value.
    pub value: Expr,
}

/// A boolean connective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    /// `and`.
    And,
    /// `or`.
    Or,
}

impl LogicOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            LogicOp::And => "and",
            LogicOp::Or => "or",
        }
    }
}

/// A comparison operator, in expressions and `expect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `not contains`
    NotContains,
    /// `matches` (a regular expression)
    Matches,
    /// `not matches`
    NotMatches,
    /// `in` (a list)
    In,
    /// `not in`
    NotIn,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Contains => "contains",
            CmpOp::NotContains => "not contains",
            CmpOp::Matches => "matches",
            CmpOp::NotMatches => "not matches",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
        }
    }
}

/// A string literal: text and `${...}` parts, escapes already decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    /// Text and interpolations in order.
    pub parts: Vec<StrPart>,
    /// True for a `"""` multi-line string.
    pub multiline: bool,
    /// From the opening to the closing quote.
    pub span: Span,
}

impl StrLit {
    /// The text when the string has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(text, _) => out.push_str(text),
                StrPart::Interp(_) => return None,
            }
        }
        Some(out)
    }
}

/// One part of a [`StrLit`].
#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    /// Literal text (escapes decoded) and where it is written.
    Text(String, Span),
    /// `${expr}`.
    Interp(Expr),
}

/// A reference: a root name followed by `.field` and `[index]` segments.
#[derive(Clone, Debug, PartialEq)]
pub struct PathExpr {
    /// The first name.
    pub root: Ident,
    /// The segments after it.
    pub segments: Vec<Segment>,
}

/// One segment of a [`PathExpr`].
#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    /// `.name`
    Field(Ident),
    /// `[expr]`
    Index(Expr),
}

/// A comment, as recorded by the scanner for the formatter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// From `#` to the end of the line (newline excluded).
    pub span: Span,
}
