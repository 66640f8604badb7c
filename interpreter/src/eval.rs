//! Expression evaluation, shared by the planner and the executor.
//!
//! Names resolve through a chain of [`Scope`]s built by the planner. What a name stands
//! for decides when it is known: parameters, loop variables and plain `let`s are known
//! when the plan is made; secrets and step outputs only when the run reaches them. The
//! same evaluator answers both questions through the [`Resolve`] trait: at plan time it
//! reports [`Eval::Unknown`] (with the producing steps), at run time it has the values.

use std::collections::BTreeSet;
use std::sync::Arc;

use indexmap::IndexMap;
use lang::ast::{CmpOp, Expr, ExprKind, LogicOp, Segment, Span, StrPart};

use crate::value::Value;

/// What a name is bound to.
#[derive(Clone, Debug)]
pub enum Binding {
    /// A value known when planning (parameter, loop variable, literal `let`).
    Value(Value),
    /// A declared secret, read when the run needs it.
    Secret(String),
    /// A `let` evaluated where it is used (it may depend on secrets or outputs).
    Let(Arc<LetDef>),
    /// A parameter whose given value was refused (the refusal is reported): what reads
    /// it fails silently, so one bad value is one error, not a cascade.
    Invalid,
    /// A named step: its outputs, by plan step id.
    Step {
        /// Plan step id (`2.1`).
        id: String,
        /// The step's name.
        name: String,
    },
}

/// A `let` binding whose value may not be known when planning.
#[derive(Debug)]
pub struct LetDef {
    /// Its expression.
    pub expr: Expr,
    /// The scope it was declared in.
    pub scope: Arc<Scope>,
}

/// Names visible at a point of the runbook; inner scopes shadow outer ones.
///
/// A persistent hash map: a child starts as its parent's map (shared, not copied), a
/// binding copies only the path to its entry, and a look-up costs the same however many
/// scopes are open. Plans keep a snapshot per step (`Arc<Scope>`), so scopes are never
/// changed in place once shared.
#[derive(Debug, Default)]
pub struct Scope {
    vars: rpds::HashTrieMapSync<String, Binding>,
}

impl Scope {
    /// A scope inside `parent`: every name of `parent`, shadowed by what is bound here.
    pub fn child(parent: &Arc<Scope>) -> Scope {
        Scope {
            vars: parent.vars.clone(),
        }
    }

    /// Binds `name` here.
    pub fn bind(&mut self, name: impl Into<String>, binding: Binding) {
        self.vars.insert_mut(name.into(), binding);
    }

    /// What `name` is bound to, innermost first.
    pub fn lookup(&self, name: &str) -> Option<&Binding> {
        self.vars.get(name)
    }
}

/// Where values that are not in the plan come from.
pub trait Resolve {
    /// A secret's value; `None` when planning (unknown until the run).
    fn secret(&self, name: &str) -> Option<std::result::Result<Value, String>>;
    /// A step's outputs (a map); `None` when planning.
    fn output(&self, id: &str, name: &str) -> Option<std::result::Result<Value, String>>;
    /// `failure` inside a handler; `None` when planning.
    fn failure(&self) -> Option<Value>;
}

/// The resolver used while planning: secrets, outputs and `failure` are unknown.
pub struct AtPlanTime;

impl Resolve for AtPlanTime {
    fn secret(&self, _: &str) -> Option<std::result::Result<Value, String>> {
        None
    }
    fn output(&self, _: &str, _: &str) -> Option<std::result::Result<Value, String>> {
        None
    }
    fn failure(&self) -> Option<Value> {
        None
    }
}

/// Why a value is not known yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unknown {
    /// Steps whose outputs it needs, by name (`failure` for the failure being handled).
    pub after: BTreeSet<String>,
    /// The same steps by plan id.
    pub ids: BTreeSet<String>,
    /// It needs a secret.
    pub secret: bool,
}

impl Unknown {
    fn merge(&mut self, other: Unknown) {
        self.after.extend(other.after);
        self.ids.extend(other.ids);
        self.secret |= other.secret;
    }
}

/// The result of evaluating an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Eval {
    /// The value.
    Known(Value),
    /// Not known until the run reaches it.
    Unknown(Unknown),
}

/// An expression that failed to evaluate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// The offending (sub)expression.
    pub span: Span,
    /// What went wrong.
    pub message: String,
    /// It follows from a problem reported already (an invalid parameter): not shown.
    pub reported: bool,
}

type Result<T> = std::result::Result<T, EvalError>;

fn error(span: Span, message: impl Into<String>) -> EvalError {
    EvalError {
        span,
        message: message.into(),
        reported: false,
    }
}

/// Evaluates `expr` in `scope`.
pub fn eval(expr: &Expr, scope: &Scope, resolve: &dyn Resolve) -> Result<Eval> {
    Evaluator { scope, resolve }.eval(expr)
}

/// Evaluates `expr` and requires a known value (run time).
pub fn eval_known(expr: &Expr, scope: &Scope, resolve: &dyn Resolve) -> Result<Value> {
    match eval(expr, scope, resolve)? {
        Eval::Known(v) => Ok(v),
        Eval::Unknown(u) => Err(error(
            expr.span,
            match u.after.iter().next() {
                Some(step) => format!("the value depends on `{step}`, which has not run"),
                None => String::from("the value depends on a secret that is not available"),
            },
        )),
    }
}

struct Evaluator<'a> {
    scope: &'a Scope,
    resolve: &'a dyn Resolve,
}

/// Collects unknowns across operands: known values, or the union of what is missing.
struct Operands {
    values: Vec<Value>,
    unknown: Option<Unknown>,
}

impl Operands {
    fn new() -> Operands {
        Operands {
            values: Vec::new(),
            unknown: None,
        }
    }

    fn push(&mut self, eval: Eval) {
        match eval {
            Eval::Known(v) => self.values.push(v),
            Eval::Unknown(u) => self.unknown.get_or_insert_with(Unknown::default).merge(u),
        }
    }
}

impl Evaluator<'_> {
    fn eval(&self, expr: &Expr) -> Result<Eval> {
        Ok(Eval::Known(match &expr.kind {
            ExprKind::Str(lit) => {
                let mut text = String::new();
                let mut secret = false;
                let mut ops = Operands::new();
                for part in &lit.parts {
                    match part {
                        StrPart::Text(t, _) => text.push_str(t),
                        StrPart::Interp(inner) => match self.eval(inner)? {
                            Eval::Known(v) => {
                                secret |= v.is_secret();
                                text.push_str(&v.interpolated());
                            }
                            unknown => ops.push(unknown),
                        },
                    }
                }
                if let Some(u) = ops.unknown {
                    return Ok(Eval::Unknown(u));
                }
                if secret {
                    Value::Str(text).into_secret()
                } else {
                    Value::Str(text)
                }
            }
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Duration(d) => Value::Duration(*d),
            ExprKind::Size(s) => Value::Size(*s),
            ExprKind::List(items) => {
                let mut ops = Operands::new();
                for item in items {
                    ops.push(self.eval(item)?);
                }
                if let Some(u) = ops.unknown {
                    return Ok(Eval::Unknown(u));
                }
                Value::List(ops.values)
            }
            ExprKind::Map(entries) => {
                let mut map = IndexMap::new();
                let mut unknown: Option<Unknown> = None;
                for entry in entries {
                    match self.eval(&entry.value)? {
                        Eval::Known(v) => {
                            map.insert(entry.key.clone(), v);
                        }
                        Eval::Unknown(u) => unknown.get_or_insert_with(Unknown::default).merge(u),
                    }
                }
                if let Some(u) = unknown {
                    return Ok(Eval::Unknown(u));
                }
                Value::Map(map)
            }
            ExprKind::Path(path) => {
                return self.path(&path.root.name, path.root.span, &path.segments);
            }
            ExprKind::Paren(inner) => return self.eval(inner),
            ExprKind::Not(inner) => match self.eval(inner)? {
                Eval::Known(v) => Value::Bool(!truthy(&v, inner.span)?),
                unknown => return Ok(unknown),
            },
            ExprKind::Logic(op, items) => {
                let mut unknown: Option<Unknown> = None;
                for item in items {
                    match self.eval(item)? {
                        Eval::Known(v) => {
                            let b = truthy(&v, item.span)?;
                            // Short-circuit on a known deciding operand.
                            if (*op == LogicOp::And && !b) || (*op == LogicOp::Or && b) {
                                return Ok(Eval::Known(Value::Bool(b)));
                            }
                        }
                        Eval::Unknown(u) => unknown.get_or_insert_with(Unknown::default).merge(u),
                    }
                }
                if let Some(u) = unknown {
                    return Ok(Eval::Unknown(u));
                }
                Value::Bool(*op == LogicOp::And)
            }
            ExprKind::Compare(op, left, right) => {
                let mut ops = Operands::new();
                ops.push(self.eval(left)?);
                ops.push(self.eval(right)?);
                if let Some(u) = ops.unknown {
                    return Ok(Eval::Unknown(u));
                }
                let result = compare(*op, &ops.values[0], &ops.values[1])
                    .map_err(|m| error(expr.span, m))?;
                Value::Bool(result)
            }
        }))
    }

    fn path(&self, root: &str, span: Span, segments: &[Segment]) -> Result<Eval> {
        let base = match (root, self.scope.lookup(root)) {
            (_, Some(Binding::Value(v))) => v.clone(),
            (_, Some(Binding::Secret(name))) => match self.resolve.secret(name) {
                Some(Ok(v)) => v.into_secret(),
                Some(Err(e)) => return Err(error(span, e)),
                None => {
                    return Ok(Eval::Unknown(Unknown {
                        secret: true,
                        ..Unknown::default()
                    }));
                }
            },
            (_, Some(Binding::Let(def))) => {
                match (Evaluator {
                    scope: &def.scope,
                    resolve: self.resolve,
                })
                .eval(&def.expr)?
                {
                    Eval::Known(v) => v,
                    unknown => return Ok(unknown),
                }
            }
            (_, Some(Binding::Invalid)) => {
                return Err(EvalError {
                    reported: true,
                    ..error(span, format!("`{root}` has an invalid value"))
                });
            }
            (_, Some(Binding::Step { id, name })) => match self.resolve.output(id, name) {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(error(span, e)),
                None => {
                    return Ok(Eval::Unknown(Unknown {
                        after: BTreeSet::from([name.clone()]),
                        ids: BTreeSet::from([id.clone()]),
                        secret: false,
                    }));
                }
            },
            ("failure", None) => match self.resolve.failure() {
                Some(v) => v,
                None => {
                    return Ok(Eval::Unknown(Unknown {
                        after: BTreeSet::from([String::from("failure")]),
                        ..Unknown::default()
                    }));
                }
            },
            (_, None) => return Err(error(span, format!("`{root}` is not defined here"))),
        };
        let mut value = base;
        let mut shown = root.to_string();
        for segment in segments {
            let secret = value.is_secret() && matches!(value, Value::Secret(_));
            let next = match segment {
                Segment::Field(field) => {
                    shown.push('.');
                    shown.push_str(&field.name);
                    match value.expose() {
                        Value::Map(map) => map.get(&field.name).cloned().ok_or_else(|| {
                            error(field.span, format!("`{shown}` does not exist"))
                        })?,
                        other => {
                            return Err(error(
                                field.span,
                                format!("`{shown}`: a {} has no fields", other.type_name()),
                            ));
                        }
                    }
                }
                Segment::Index(index) => {
                    let index_value = match self.eval(index)? {
                        Eval::Known(v) => v,
                        unknown => return Ok(unknown),
                    };
                    shown.push_str("[..]");
                    lookup_index(&value, &index_value).map_err(|m| error(index.span, m))?
                }
            };
            value = if secret { next.into_secret() } else { next };
        }
        Ok(Eval::Known(value))
    }
}

fn lookup_index(value: &Value, index: &Value) -> std::result::Result<Value, String> {
    match (value.expose(), index.expose()) {
        (Value::List(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let at = if *i < 0 { len + i } else { *i };
            usize::try_from(at)
                .ok()
                .and_then(|at| items.get(at))
                .cloned()
                .ok_or_else(|| format!("index {i} is out of range for a list of {len}"))
        }
        (Value::Map(map), Value::Str(key)) => map
            .get(key)
            .cloned()
            .ok_or_else(|| format!("the map has no key {}", Value::str(key.clone()).render())),
        (container, index) => Err(format!(
            "a {} cannot be indexed by a {}",
            container.type_name(),
            index.type_name()
        )),
    }
}

fn truthy(value: &Value, span: Span) -> Result<bool> {
    value.as_bool().ok_or_else(|| {
        error(
            span,
            format!("expected a bool, found a {}", value.type_name()),
        )
    })
}

/// Compares two values with a comparison operator (expressions and `expect`).
pub fn compare(op: CmpOp, left: &Value, right: &Value) -> std::result::Result<bool, String> {
    let (l, r) = (left.expose(), right.expose());
    Ok(match op {
        CmpOp::Eq => equal(l, r),
        CmpOp::Ne => !equal(l, r),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let ord = order(l, r).ok_or_else(|| {
                format!(
                    "a {} and a {} cannot be ordered",
                    l.type_name(),
                    r.type_name()
                )
            })?;
            match op {
                CmpOp::Lt => ord.is_lt(),
                CmpOp::Le => ord.is_le(),
                CmpOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        CmpOp::Contains | CmpOp::NotContains => {
            let found = contains(l, r)?;
            if op == CmpOp::Contains { found } else { !found }
        }
        CmpOp::In | CmpOp::NotIn => {
            let found = contains(r, l)?;
            if op == CmpOp::In { found } else { !found }
        }
        CmpOp::Matches | CmpOp::NotMatches => {
            let (Some(text), Some(pattern)) = (l.as_str(), r.as_str()) else {
                return Err(format!(
                    "`matches` needs a string and a pattern, found a {} and a {}",
                    l.type_name(),
                    r.type_name()
                ));
            };
            let re = regex::Regex::new(pattern)
                .map_err(|e| format!("invalid regular expression: {e}"))?;
            re.is_match(text) == (op == CmpOp::Matches)
        }
    })
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn equal(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Size(a), Value::Int(b)) | (Value::Int(b), Value::Size(a)) => {
            u64::try_from(*b).is_ok_and(|b| b == *a)
        }
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x.expose(), y.expose()))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| equal(v.expose(), w.expose())))
        }
        _ => match (number(l), number(r)) {
            (Some(a), Some(b)) => a == b,
            _ => l == r,
        },
    }
}

fn order(l: &Value, r: &Value) -> Option<std::cmp::Ordering> {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
        (Value::Size(a), Value::Size(b)) => Some(a.cmp(b)),
        (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
        _ => number(l)?.partial_cmp(&number(r)?),
    }
}

fn contains(haystack: &Value, needle: &Value) -> std::result::Result<bool, String> {
    match (haystack, needle.expose()) {
        (Value::Str(h), Value::Str(n)) => Ok(h.contains(n.as_str())),
        (Value::List(items), n) => Ok(items.iter().any(|i| equal(i.expose(), n))),
        (Value::Map(map), Value::Str(key)) => Ok(map.contains_key(key)),
        (h, n) => Err(format!(
            "cannot look for a {} in a {}",
            n.type_name(),
            h.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> Expr {
        lang::parse_expr(text).expect("test expression parses")
    }

    #[test]
    fn a_child_scope_shadows_without_changing_the_snapshot_it_came_from() {
        let parent = Arc::new(scope());
        let mut child = Scope::child(&parent);
        child.bind("port", Binding::Value(Value::Int(9090)));
        child.bind("extra", Binding::Value(Value::Int(1)));
        let int = |s: &Scope, name: &str| match s.lookup(name) {
            Some(Binding::Value(Value::Int(n))) => Some(*n),
            _ => None,
        };
        assert_eq!(int(&child, "port"), Some(9090));
        assert_eq!(int(&parent, "port"), Some(8080));
        assert_eq!(int(&parent, "extra"), None);
        assert!(matches!(child.lookup("token"), Some(Binding::Secret(_))));
        // Thousands of nested scopes: each still sees the root and its own binding.
        let mut at = parent;
        for i in 0..5_000 {
            let mut next = Scope::child(&at);
            next.bind(format!("s{i}"), Binding::Value(Value::Int(i)));
            at = Arc::new(next);
        }
        assert_eq!(int(&at, "port"), Some(8080));
        assert_eq!(int(&at, "s0"), Some(0));
        assert_eq!(int(&at, "s4999"), Some(4999));
    }

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.bind("port", Binding::Value(Value::Int(8080)));
        s.bind("token", Binding::Secret("token".into()));
        s.bind(
            "probe",
            Binding::Step {
                id: "2.1".into(),
                name: "probe".into(),
            },
        );
        s
    }

    struct AtRun;
    impl Resolve for AtRun {
        fn secret(&self, _: &str) -> Option<std::result::Result<Value, String>> {
            Some(Ok(Value::str("s3cr3t")))
        }
        fn output(&self, id: &str, _: &str) -> Option<std::result::Result<Value, String>> {
            assert_eq!(id, "2.1");
            let mut map = IndexMap::new();
            map.insert("status".into(), Value::Int(200));
            Some(Ok(Value::Map(map)))
        }
        fn failure(&self) -> Option<Value> {
            None
        }
    }

    #[test]
    fn plan_time_unknowns_name_their_source() {
        let s = scope();
        let known = eval(&expr("\"http://x:${port}/\""), &s, &AtPlanTime).expect("evaluates");
        assert_eq!(known, Eval::Known(Value::str("http://x:8080/")));
        let Eval::Unknown(u) = eval(&expr("probe.status == 200"), &s, &AtPlanTime).expect("ok")
        else {
            panic!("an output is unknown when planning")
        };
        assert_eq!(u.after, BTreeSet::from(["probe".to_string()]));
        let Eval::Unknown(u) = eval(&expr("\"Bearer ${token}\""), &s, &AtPlanTime).expect("ok")
        else {
            panic!("a secret is unknown when planning")
        };
        assert!(u.secret);
    }

    #[test]
    fn run_time_values_keep_secrecy() {
        let s = scope();
        let v = eval_known(&expr("\"Bearer ${token}\""), &s, &AtRun).expect("evaluates");
        assert!(v.is_secret());
        assert_eq!(v.render(), "(secret)");
        assert_eq!(v.as_str(), Some("Bearer s3cr3t"));
        let ok = eval_known(&expr("probe.status in [200, 204]"), &s, &AtRun).expect("ok");
        assert_eq!(ok, Value::Bool(true));
    }

    #[test]
    fn comparisons() {
        let cases = [
            (CmpOp::Eq, Value::Int(2), Value::Float(2.0), true),
            (CmpOp::Lt, Value::str("a"), Value::str("b"), true),
            (
                CmpOp::Contains,
                Value::str("text/html"),
                Value::str("html"),
                true,
            ),
            (CmpOp::NotMatches, Value::str("abc"), Value::str("^b"), true),
            (
                CmpOp::In,
                Value::Int(3),
                Value::List(vec![Value::Int(3)]),
                true,
            ),
            (CmpOp::Ge, Value::Size(10), Value::Size(11), false),
        ];
        for (op, l, r, expected) in cases {
            assert_eq!(compare(op, &l, &r), Ok(expected), "{l:?} {op:?} {r:?}");
        }
        assert!(compare(CmpOp::Lt, &Value::Bool(true), &Value::Int(1)).is_err());
    }
}
