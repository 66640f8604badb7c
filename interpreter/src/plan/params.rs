//! Parameter values from the command line (`--set name=value`), a vars file
//! (`--vars-file`) and the environment (`OPS_VAR_<name>`), converted to the declared
//! type. Precedence, lowest first: default, environment, vars file, `--set`.

use lang::check::types::Type;

use crate::value::Value;

/// A parameter value as given, before conversion.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// Text from `--set`, a `name=value` vars file or the environment.
    Text(String),
    /// A value from a JSON vars file.
    Json(serde_json::Value),
}

/// Where a parameter value was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputSource {
    /// `OPS_VAR_<name>`: names no parameter declares are ignored.
    Env,
    /// `--vars-file`: undeclared names are a warning (a file may serve several runbooks).
    VarsFile,
    /// `--set`: an undeclared name is an error.
    Set,
}

impl InputSource {
    /// How a plan names it.
    pub fn describe(self, name: &str) -> String {
        match self {
            InputSource::Env => format!("env OPS_VAR_{name}"),
            InputSource::VarsFile => String::from("--vars-file"),
            InputSource::Set => String::from("--set"),
        }
    }
}

/// One given parameter value.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInput {
    /// Parameter name.
    pub name: String,
    /// The value as given.
    pub raw: RawValue,
    /// Where.
    pub source: InputSource,
}

/// Parses `name=value` (for `--set`).
pub fn parse_assignment(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not `name=value`"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{text}` has no parameter name before `=`"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Parses a vars file: a JSON object when the text starts with `{`, else `name = value`
/// lines (`#` comments, blank lines; a value may be quoted with `"`).
pub fn parse_vars_file(text: &str) -> Result<Vec<(String, RawValue)>, String> {
    if text.trim_start().starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let serde_json::Value::Object(map) = json else {
            return Err(String::from(
                "the JSON must be an object of parameter values",
            ));
        };
        return Ok(map
            .into_iter()
            .map(|(k, v)| (k, RawValue::Json(v)))
            .collect());
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = parse_assignment(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let value = value.trim();
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) => inner.to_string(),
            None => value.to_string(),
        };
        out.push((name, RawValue::Text(value)));
    }
    Ok(out)
}

/// Converts a given value to the declared type.
pub fn convert(raw: &RawValue, ty: &Type) -> Result<Value, String> {
    match raw {
        RawValue::Text(text) => from_text(text, ty),
        RawValue::Json(json) => from_json(json, ty),
    }
}

fn from_text(text: &str, ty: &Type) -> Result<Value, String> {
    let expected = || format!("expected {}, found `{text}`", describe(ty));
    Ok(match ty {
        Type::String | Type::Path | Type::Any | Type::Error => Value::str(text),
        Type::Url => {
            url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
            Value::str(text)
        }
        Type::Int => Value::Int(text.trim().parse().map_err(|_| expected())?),
        Type::Float => Value::Float(text.trim().parse().map_err(|_| expected())?),
        Type::Bool => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(expected()),
        },
        Type::Duration | Type::Size => {
            let expr = lang::parse_expr(text.trim()).map_err(|_| expected())?;
            match (&expr.kind, ty) {
                (lang::ast::ExprKind::Duration(d), Type::Duration) => Value::Duration(*d),
                (lang::ast::ExprKind::Size(s), Type::Size) => Value::Size(*s),
                _ => return Err(expected()),
            }
        }
        Type::Enum(words) => {
            if !words.contains(&text) {
                return Err(format!(
                    "expected one of {}, found `{text}`",
                    lang::diag::one_of(words)
                ));
            }
            Value::str(text)
        }
        Type::List(inner) => {
            let trimmed = text.trim();
            if trimmed.starts_with('[') {
                let json: serde_json::Value = serde_json::from_str(trimmed)
                    .map_err(|e| format!("expected a JSON list like [\"a\", \"b\"]: {e}"))?;
                return from_json(&json, ty);
            }
            let items = if trimmed.is_empty() {
                Vec::new()
            } else {
                trimmed
                    .split(',')
                    .map(|item| from_text(item.trim(), inner))
                    .collect::<Result<Vec<_>, _>>()?
            };
            Value::List(items)
        }
        Type::Map(_) => {
            let json: serde_json::Value = serde_json::from_str(text.trim())
                .map_err(|e| format!("expected a JSON object: {e}"))?;
            return from_json(&json, ty);
        }
    })
}

fn from_json(json: &serde_json::Value, ty: &Type) -> Result<Value, String> {
    use serde_json::Value as J;
    match (json, ty) {
        (J::String(s), _) => from_text(s, ty),
        (J::Number(_) | J::Bool(_), Type::Int | Type::Float | Type::Bool | Type::Size) => {
            let value = Value::from_json(json);
            match (value, ty) {
                (Value::Int(i), Type::Float) => Ok(Value::Float(i as f64)),
                (Value::Int(i), Type::Size) if i >= 0 => Ok(Value::Size(i as u64)),
                (v @ Value::Int(_), Type::Int)
                | (v @ Value::Float(_), Type::Float)
                | (v @ Value::Bool(_), Type::Bool) => Ok(v),
                (v, _) => Err(format!("expected {}, found {}", describe(ty), v.render())),
            }
        }
        (J::Array(items), Type::List(inner)) => Ok(Value::List(
            items
                .iter()
                .map(|i| from_json(i, inner))
                .collect::<Result<_, _>>()?,
        )),
        (J::Object(map), Type::Map(inner)) => Ok(Value::Map(
            map.iter()
                .map(|(k, v)| from_json(v, inner).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        )),
        (_, Type::Any) => Ok(Value::from_json(json)),
        _ => Err(format!("expected {}, found {json}", describe(ty))),
    }
}

/// "an int", "a list of urls", for messages.
pub fn describe(ty: &Type) -> String {
    match ty {
        Type::String => "a string".into(),
        Type::Int => "an int".into(),
        Type::Float => "a float".into(),
        Type::Bool => "`true` or `false`".into(),
        Type::Duration => "a duration like `30s`".into(),
        Type::Size => "a size like `10MiB`".into(),
        Type::Url => "a URL".into(),
        Type::Path => "a path".into(),
        Type::List(inner) => format!("a list of {}", describe(inner)),
        Type::Map(inner) => format!("a map of {}", describe(inner)),
        Type::Enum(words) => format!("one of {}", lang::diag::one_of(words)),
        Type::Any | Type::Error => "a value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn text_converts_by_declared_type() {
        let t = |text: &str, ty: Type| convert(&RawValue::Text(text.into()), &ty);
        assert_eq!(t("3", Type::Int), Ok(Value::Int(3)));
        assert_eq!(
            t("90s", Type::Duration),
            Ok(Value::Duration(Duration::from_secs(90)))
        );
        assert_eq!(
            t("a, b", Type::List(Box::new(Type::String))),
            Ok(Value::List(vec![Value::str("a"), Value::str("b")]))
        );
        assert!(
            t("three", Type::Int)
                .unwrap_err()
                .contains("expected an int")
        );
        assert!(t("not a url", Type::Url).is_err());
        assert!(t("yes", Type::Bool).is_err());
    }

    #[test]
    fn vars_files_in_both_forms() {
        let lines = parse_vars_file("# c\nretries = 3\nname = \"a b\"\n").expect("parses");
        assert_eq!(lines[1], ("name".into(), RawValue::Text("a b".into())));
        let json = parse_vars_file("{\"retries\": 3}").expect("parses");
        assert_eq!(convert(&json[0].1, &Type::Int).expect("int"), Value::Int(3));
        assert!(parse_vars_file("junk line").is_err());
    }
}
