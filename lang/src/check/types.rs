//! The checker's types: what an expression is, whether it is secret, and whether it
//! is known when the plan is made or only after some step has run.

use crate::ast::{Span, TypeExpr};
use crate::schema::SchemaType;

/// A value's type as the checker sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// Text.
    String,
    /// A 64-bit integer.
    Int,
    /// A float.
    Float,
    /// `true`/`false`.
    Bool,
    /// A duration.
    Duration,
    /// A size in bytes.
    Size,
    /// A URL.
    Url,
    /// A filesystem path.
    Path,
    /// A list.
    List(Box<Type>),
    /// A map from strings.
    Map(Box<Type>),
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Anything (JSON data); checked when the value exists.
    Any,
    /// The type of an expression that already produced a diagnostic; accepted anywhere
    /// so one mistake is reported once.
    Error,
}

impl Type {
    /// The checker type of a schema type.
    pub fn from_schema(ty: SchemaType) -> Type {
        match ty {
            SchemaType::String => Type::String,
            SchemaType::Int => Type::Int,
            SchemaType::Float => Type::Float,
            SchemaType::Bool => Type::Bool,
            SchemaType::Duration => Type::Duration,
            SchemaType::Size => Type::Size,
            SchemaType::Url => Type::Url,
            SchemaType::Path => Type::Path,
            SchemaType::Any => Type::Any,
            SchemaType::ListOf(inner) => Type::List(Box::new(Type::from_schema(*inner))),
            SchemaType::MapOf(inner) => Type::Map(Box::new(Type::from_schema(*inner))),
            SchemaType::Enum(values) => Type::Enum(values),
        }
    }

    /// The type a written type names, or the unknown name.
    pub fn from_written(ty: &TypeExpr) -> Result<Type, (Span, String)> {
        let name = ty.name.name.as_str();
        let container = matches!(name, "list" | "map");
        match (&ty.arg, container) {
            (Some(_), false) => return Err((ty.span, name.to_string())),
            (None, true) => return Err((ty.name.span, format!("{name}<...>"))),
            _ => {}
        }
        Ok(match name {
            "string" => Type::String,
            "int" => Type::Int,
            "float" => Type::Float,
            "bool" => Type::Bool,
            "duration" => Type::Duration,
            "size" => Type::Size,
            "url" => Type::Url,
            "path" => Type::Path,
            "list" | "map" => {
                let inner = match &ty.arg {
                    Some(arg) => Type::from_written(arg)?,
                    None => Type::Any,
                };
                if name == "list" {
                    Type::List(Box::new(inner))
                } else {
                    Type::Map(Box::new(inner))
                }
            }
            other => return Err((ty.name.span, other.to_string())),
        })
    }

    /// The type as written in `.rb.ops` (`list<string>`).
    pub fn describe(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Int => "int".into(),
            Type::Float => "float".into(),
            Type::Bool => "bool".into(),
            Type::Duration => "duration".into(),
            Type::Size => "size".into(),
            Type::Url => "url".into(),
            Type::Path => "path".into(),
            Type::List(inner) => format!("list<{}>", inner.describe()),
            Type::Map(inner) => format!("map<{}>", inner.describe()),
            Type::Enum(values) => format!("one of {}", crate::diag::one_of(values)),
            Type::Any => "any".into(),
            Type::Error => "(error)".into(),
        }
    }

    /// True for types compared with `<`, `>`.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self,
            Type::Int | Type::Float | Type::Duration | Type::Size | Type::Any | Type::Error
        )
    }

    /// True for string-like types (string, url, path, enum words).
    pub fn is_textual(&self) -> bool {
        matches!(
            self,
            Type::String | Type::Url | Type::Path | Type::Enum(_) | Type::Any | Type::Error
        )
    }

    /// True when a value of this type can be interpolated into a string.
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Type::List(_) | Type::Map(_))
    }

    /// The element type of a list (or `Any`).
    pub fn element(&self) -> Option<Type> {
        match self {
            Type::List(inner) => Some((**inner).clone()),
            Type::Any | Type::Error => Some(Type::Any),
            _ => None,
        }
    }
}

/// Whether a value of type `from` may be used where `to` is expected.
pub fn assignable(from: &Type, to: &Type) -> bool {
    match (from, to) {
        (Type::Error | Type::Any, _) | (_, Type::Error | Type::Any) => true,
        (a, b) if a == b => true,
        (Type::Int, Type::Float) => true,
        (Type::String, Type::Url | Type::Path | Type::Enum(_)) => true,
        (Type::Url | Type::Path | Type::Enum(_), Type::String) => true,
        (Type::Enum(_), Type::Enum(_)) => true,
        (Type::List(a), Type::List(b)) | (Type::Map(a), Type::Map(b)) => assignable(a, b),
        _ => false,
    }
}

/// Whether values of the two types can be compared with `==`.
pub fn comparable(a: &Type, b: &Type) -> bool {
    assignable(a, b) || assignable(b, a) || (a.is_textual() && b.is_textual())
}

/// The checked facts about one expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Ty {
    /// Its type.
    pub ty: Type,
    /// Where a secret flows into it, if one does.
    pub secret: Option<Span>,
    /// The step (or `failure`) it waits on when it is only known at run time.
    pub after: Option<String>,
}

impl Ty {
    /// A plan-time-known, non-secret value of `ty`.
    pub fn known(ty: Type) -> Ty {
        Ty {
            ty,
            secret: None,
            after: None,
        }
    }

    /// An erroneous expression (already reported).
    pub fn error() -> Ty {
        Ty::known(Type::Error)
    }

    /// Combines secrecy and run-time dependence of `other` into `self`.
    pub fn absorb(&mut self, other: &Ty) {
        if self.secret.is_none() {
            self.secret = other.secret;
        }
        if self.after.is_none() {
            self.after.clone_from(&other.after);
        }
    }
}
