//! Runtime values: what parameters, `let` bindings, step inputs and step outputs hold.
//!
//! Secrecy is part of the value: [`Value::Secret`] wraps anything read from a secret or
//! built from one, and every way of showing a value (plans, events, reports, errors)
//! prints it as `(secret)`. Only a step's own input handling calls [`Value::expose`].

use std::fmt::Write as _;
use std::time::Duration;

use indexmap::IndexMap;

/// What a secret value prints as, everywhere.
pub const REDACTED: &str = "(secret)";

/// A value at run time (or a value known when the plan is made).
///
/// Its serde form is typed (`{"duration": {"secs": 5, "nanos": 0}}`), for the run
/// journal; a secret serialises as `{"secret": null}`: its content is never written.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// JSON `null`, or an absent optional value.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text (also URLs and paths).
    Str(String),
    /// A duration.
    Duration(Duration),
    /// A size in bytes.
    Size(u64),
    /// A list.
    List(Vec<Value>),
    /// A map in insertion order.
    Map(IndexMap<String, Value>),
    /// A secret, or a value built from one.
    #[serde(serialize_with = "withheld", deserialize_with = "lost")]
    Secret(Box<Value>),
}

/// A secret's content is never serialised.
fn withheld<S: serde::Serializer>(_: &Value, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_unit()
}

/// A secret read back from the journal has no content: it was never written.
fn lost<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<Value>, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d)?;
    Ok(Box::new(Value::Null))
}

impl Value {
    /// A string value.
    pub fn str(text: impl Into<String>) -> Value {
        Value::Str(text.into())
    }

    /// Wraps the value as secret (once).
    pub fn into_secret(self) -> Value {
        match self {
            Value::Secret(_) => self,
            other => Value::Secret(Box::new(other)),
        }
    }

    /// True when the value is secret or holds a secret anywhere inside.
    pub fn is_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(items) => items.iter().any(Value::is_secret),
            Value::Map(map) => map.values().any(Value::is_secret),
            _ => false,
        }
    }

    /// The value with the outer secret wrapper removed: for step implementations only.
    pub fn expose(&self) -> &Value {
        match self {
            Value::Secret(inner) => inner.expose(),
            other => other,
        }
    }

    /// The type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Duration(_) => "duration",
            Value::Size(_) => "size",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Secret(inner) => inner.type_name(),
        }
    }

    /// The text a value interpolates as (`${x}`), secrets included: the caller marks the
    /// result secret. Strings are raw; collections are JSON.
    pub fn interpolated(&self) -> String {
        match self.expose() {
            Value::Str(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Duration(d) => lang::fmt::duration(*d),
            Value::Size(s) => size(*s),
            other => other.to_json(true).to_string(),
        }
    }

    /// The value written as a `.rb.ops` literal, for plans and messages; secrets
    /// (also inside collections) print as `(secret)`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Value::Secret(_) => out.push_str(REDACTED),
            Value::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        '$' => out.push_str("\\$"),
                        c if c.is_control() => {
                            let _ = write!(out, "\\u{{{:x}}}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.render_into(out);
                }
                out.push(']');
            }
            Value::Map(map) => {
                if map.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push_str("{ ");
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if is_bare_key(key) {
                        out.push_str(key);
                    } else {
                        Value::Str(key.clone()).render_into(out);
                    }
                    out.push_str(" = ");
                    value.render_into(out);
                }
                out.push_str(" }");
            }
            Value::Null => out.push_str("null"),
            other => out.push_str(&other.interpolated()),
        }
    }

    /// The value as JSON. With `reveal` false, secrets become `"(secret)"`; durations
    /// are written as their literal (`"45s"`), sizes as bytes.
    pub fn to_json(&self, reveal: bool) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Secret(inner) if reveal => inner.to_json(true),
            Value::Secret(_) => J::String(REDACTED.into()),
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Duration(d) => J::String(lang::fmt::duration(*d)),
            Value::Size(s) => J::from(*s),
            Value::List(items) => J::Array(items.iter().map(|v| v.to_json(reveal)).collect()),
            Value::Map(map) => J::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.to_json(reveal)))
                    .collect(),
            ),
        }
    }

    /// A value from JSON data (a response body, a vars file).
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// True when a secret is anywhere inside (a list item, a map value).
    pub fn holds_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(items) => items.iter().any(Value::holds_secret),
            Value::Map(map) => map.values().any(Value::holds_secret),
            _ => false,
        }
    }

    /// The string, when this is one (secret or not).
    pub fn as_str(&self) -> Option<&str> {
        match self.expose() {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.expose() {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.expose() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The duration, when this is one.
    pub fn as_duration(&self) -> Option<Duration> {
        match self.expose() {
            Value::Duration(d) => Some(*d),
            _ => None,
        }
    }

    /// The size in bytes, when this is one.
    pub fn as_size(&self) -> Option<u64> {
        match self.expose() {
            Value::Size(s) => Some(*s),
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The list, when this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self.expose() {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The map, when this is one.
    pub fn as_map(&self) -> Option<&IndexMap<String, Value>> {
        match self.expose() {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }
}

/// A size in the largest binary unit that divides it (`10MiB`, `1500B`).
pub fn size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, factor) in UNITS {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}B")
}

fn is_bare_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_render_redacted_even_inside_collections() {
        let secret = Value::str("hunter2").into_secret();
        let list = Value::List(vec![Value::str("a"), secret.clone()]);
        assert_eq!(list.render(), "[\"a\", (secret)]");
        assert!(list.is_secret());
        assert_eq!(list.to_json(false).to_string(), "[\"a\",\"(secret)\"]");
        assert_eq!(secret.interpolated(), "hunter2");
        assert_eq!(secret.into_secret().render(), REDACTED);
    }

    #[test]
    fn literals_render_as_written() {
        assert_eq!(Value::Duration(Duration::from_secs(90)).render(), "1m30s");
        assert_eq!(Value::Size(10 << 20).render(), "10MiB");
        assert_eq!(Value::Size(1500).render(), "1500B");
        assert_eq!(Value::str("a\"b${").render(), "\"a\\\"b\\${\"");
        let mut map = IndexMap::new();
        map.insert("x-key".to_string(), Value::Int(1));
        map.insert("ok".to_string(), Value::Bool(true));
        assert_eq!(Value::Map(map).render(), "{ \"x-key\" = 1, ok = true }");
    }
}
