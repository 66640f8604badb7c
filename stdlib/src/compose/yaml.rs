//! A Compose file as a tree of YAML nodes that remember where they were written, and
//! Compose's `${VAR}` interpolation over the tree's string values.
//!
//! The tree is read with serde-saphyr (which applies YAML merge keys, `<<: *common`);
//! every node keeps its line and column so that a key the reader does not support, a
//! value of the wrong type or a required variable that is unset is reported pointing
//! into the YAML.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A position in a YAML file (1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1 (0 when unknown).
    pub line: u64,
    /// Column, from 1.
    pub col: u64,
    /// Which file of the project (0: the compose file itself; then the files merged over
    /// it, included or extended, in the order they were read).
    pub file: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One YAML node and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it is written.
    pub pos: Pos,
}

/// A YAML value; mapping keys keep their own positions.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order: key, key position, value.
    Map(IndexMap<String, (Pos, Node)>),
}

impl Node {
    /// The node's type, for messages ("a string", "a list").
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A scalar as text (numbers and booleans as written), `None` for null, lists and maps.
    pub fn scalar(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = IndexMap::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.insert(key.value.0, (pos(&key.referenced), node(value)));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A mapping key: any scalar, as text (`80: ...` is the key "80").
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyText, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(KeyText(s)),
            Value::Int(i) => Ok(KeyText(i.to_string())),
            Value::Bool(b) => Ok(KeyText(b.to_string())),
            Value::Float(f) => Ok(KeyText(f.to_string())),
            Value::Null => Ok(KeyText(String::new())),
            Value::Seq(_) | Value::Map(_) => Err(de::Error::custom(
                "a mapping key must be a plain scalar, not a list or mapping",
            )),
        }
    }
}

fn pos(loc: &serde_saphyr::Location) -> Pos {
    Pos {
        line: loc.line(),
        col: loc.column(),
        file: 0,
    }
}

/// Marks every position of a tree as being in file `file`.
pub fn set_file(node: &mut Node, file: u32) {
    node.pos.file = file;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|i| set_file(i, file)),
        Value::Map(entries) => {
            for (pos, value) in entries.values_mut() {
                pos.file = file;
                set_file(value, file);
            }
        }
        _ => {}
    }
}

fn node(spanned: Spanned<Value>) -> Node {
    Node {
        pos: pos(&spanned.referenced),
        value: spanned.value,
    }
}

/// Parses YAML text into a node tree; the error names the position.
pub fn parse(text: &str) -> Result<Node, (Pos, String)> {
    // YAML 1.2 booleans only, as Compose reads its files: `n`, `no`, `on` and `off` are
    // strings (a network named `n`, `DEBUG: no`), not YAML 1.1 booleans.
    // `0440` is octal, as Compose's YAML reader takes it (file modes). The alias/anchor
    // ratio heuristic is off: real files reuse a few anchors hundreds of times; the
    // absolute limits on aliases, events and expanded copies still stop an alias bomb.
    let budget = serde_saphyr::budget! { enforce_alias_anchor_ratio: false };
    let options = serde_saphyr::options! {
        strict_booleans: true,
        legacy_octal_numbers: true,
        budget: budget,
    };
    match serde_saphyr::from_str_with_options::<Spanned<Value>>(text, options) {
        Ok(root) => Ok(node(root)),
        Err(e) => {
            let at = e.location().map(|l| pos(&l)).unwrap_or_default();
            let message = e.to_string();
            // The error text starts with its own position; keep only the explanation.
            let first = message.lines().next().unwrap_or("invalid YAML");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let message = match first.split_once(": ") {
                Some((at, rest)) if at.starts_with("line ") && at.contains(" column ") => rest,
                _ => first,
            };
            let message = if message.starts_with("budget breached") {
                format!("the YAML expands beyond ops's limits (an alias bomb?): {message}")
            } else {
                message.to_string()
            };
            Err((at, message))
        }
    }
}

/// Where a variable's value comes from: the process environment first, then `.env`.
pub struct Vars<'a> {
    /// Reads one variable of the process environment.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The `.env` file's variables.
    pub dotenv: &'a IndexMap<String, String>,
    /// Whether `${VAR:?message}` with VAR unset is an error (else an empty string): `up`
    /// creates containers from the values; `down`, `ps` and `restart` only need names.
    pub strict: bool,
    /// Records substituted secrets.
    pub sensitive: Option<&'a Sensitive<'a>>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let value = (self.env)(name).or_else(|| self.dotenv.get(name).cloned());
        if let (Some(sensitive), Some(v)) = (self.sensitive, &value) {
            sensitive.note(name, v);
        }
        value
    }
}

/// Which substituted variables hold secrets, recorded as they are substituted, so that
/// what ops shows of the file says `${NAME}` where the value would be.
pub struct Sensitive<'a> {
    /// Whether a variable (name, value) holds a secret.
    pub is: &'a dyn Fn(&str, &str) -> bool,
    /// Values found so far, with their variable's name.
    pub found: std::cell::RefCell<Vec<(String, String)>>,
}

impl Sensitive<'_> {
    fn note(&self, name: &str, value: &str) {
        if value.chars().count() < interpreter::redact::MIN_REDACTED_LEN || !(self.is)(name, value)
        {
            return;
        }
        let mut found = self.found.borrow_mut();
        if !found.iter().any(|(v, n)| v == value && n == name) {
            found.push((value.to_string(), name.to_string()));
        }
    }
}

/// True for variable names that conventionally hold credentials (`DB_PASSWORD`,
/// `API_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `STRIPE_KEY`): their values are shown as
/// `${NAME}` even when the runbook does not declare them as secrets.
pub fn looks_sensitive(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "CREDENTIAL",
        "PRIVATE",
        "API_KEY",
        "AUTH",
    ]
    .iter()
    .any(|w| upper.contains(w))
        || upper == "KEY"
        || upper.ends_with("_KEY")
}

/// An interpolation problem: a `${VAR:?message}` whose variable is unset, or bad syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpolationError(pub String);

/// Interpolates every string value of the tree (not keys); returns the names of unset
/// variables that became empty strings (Compose warns about them).
pub fn interpolate(
    node: &mut Node,
    vars: &Vars<'_>,
    unset: &mut Vec<String>,
) -> Result<(), (Pos, InterpolationError)> {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => {
            *s = substitute(s, vars, unset).map_err(|e| (node.pos, e))?;
        }
        Value::Seq(items) => {
            for item in items {
                interpolate(item, vars, unset)?;
            }
        }
        Value::Map(entries) => {
            for (_, (_, value)) in entries.iter_mut() {
                interpolate(value, vars, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Compose's variable substitution on one string: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`; defaults
/// and alternatives may themselves hold `${...}`.
pub fn substitute(
    text: &str,
    vars: &Vars<'_>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| {
                InterpolationError(format!("`${{` without a closing `}}` in \"{text}\""))
            })?;
            out.push_str(&expand(&body[..end], vars, unset)?);
            rest = &body[end + 1..];
        } else {
            let len = after
                .char_indices()
                .find(|(j, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*j == 0 && c.is_ascii_digit())
                })
                .map_or(after.len(), |(j, _)| j);
            if len == 0 {
                out.push('$');
                rest = after;
            } else {
                let name = &after[..len];
                out.push_str(&lookup(name, vars, unset));
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn lookup(name: &str, vars: &Vars<'_>, unset: &mut Vec<String>) -> String {
    vars.get(name).unwrap_or_else(|| {
        if !unset.iter().any(|u| u == name) {
            unset.push(name.to_string());
        }
        String::new()
    })
}

fn expand(
    body: &str,
    vars: &Vars<'_>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let name = &body[..name_len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InterpolationError(format!(
            "invalid variable name in `${{{body}}}`"
        )));
    }
    let op = &body[name_len..];
    if op.is_empty() {
        return Ok(lookup(name, vars, unset));
    }
    let value = vars.get(name);
    let empty_or_unset = value.as_deref().is_none_or(str::is_empty);
    let mut arg = |skip: usize| substitute(&op[skip..], vars, unset);
    match op {
        _ if op.starts_with(":-") => {
            if empty_or_unset {
                arg(2)
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        _ if op.starts_with('-') => value.map_or_else(|| arg(1), Ok),
        _ if op.starts_with(":?") || op.starts_with('?') => {
            let colon = op.starts_with(':');
            let missing = if colon {
                empty_or_unset
            } else {
                value.is_none()
            };
            if missing && !vars.strict {
                lookup(name, vars, unset);
                Ok(value.unwrap_or_default())
            } else if missing {
                let message = arg(if colon { 2 } else { 1 })?;
                let message = if message.is_empty() {
                    String::from("required variable is missing a value")
                } else {
                    message
                };
                Err(InterpolationError(format!(
                    "required variable {name} is {}: {message}",
                    if value.is_none() { "not set" } else { "empty" }
                )))
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        _ if op.starts_with(":+") => {
            if empty_or_unset {
                Ok(String::new())
            } else {
                arg(2)
            }
        }
        _ if op.starts_with('+') => {
            if value.is_none() {
                Ok(String::new())
            } else {
                arg(1)
            }
        }
        _ => Err(InterpolationError(format!(
            "unsupported substitution `${{{body}}}` (use :-, -, :?, ?, :+ or +)"
        ))),
    }
}

/// Parses a `.env` file: `KEY=VALUE` lines, `#` comments, optional `export `, single
/// quotes literal, double quotes with `\n` `\t` `\"` `\\` escapes, unquoted values ending
/// at ` #`; unquoted and double-quoted values may refer to earlier variables. Returns the
/// variables, or the line number and problem of the first invalid line.
pub fn parse_dotenv(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    sensitive: Option<&Sensitive<'_>>,
) -> Result<IndexMap<String, String>, (usize, String)> {
    let mut vars: IndexMap<String, String> = IndexMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err((n + 1, format!("`{line}` is not KEY=VALUE")));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err((n + 1, format!("`{key}` is not a valid variable name")));
        }
        let value = value.trim_start();
        let parsed = if let Some(inner) = value.strip_prefix('\'') {
            let end = inner
                .find('\'')
                .ok_or_else(|| (n + 1, String::from("unterminated single quote")))?;
            inner[..end].to_string()
        } else {
            let raw_value = if let Some(inner) = value.strip_prefix('"') {
                unescape_double(inner)
                    .ok_or_else(|| (n + 1, String::from("unterminated double quote")))?
            } else {
                let cut = value.find(" #").unwrap_or(value.len());
                value[..cut].trim_end().to_string()
            };
            // Earlier lines are read in place: no copy of the map per line.
            let vars_now = Vars {
                env,
                dotenv: &vars,
                strict: true,
                sensitive,
            };
            let mut ignored = Vec::new();
            substitute(&raw_value, &vars_now, &mut ignored).map_err(|e| (n + 1, e.0))?
        };
        vars.insert(key.to_string(), parsed);
    }
    Ok(vars)
}

fn unescape_double(inner: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            other => out.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(text: &str, env: &[(&str, &str)]) -> Result<String, InterpolationError> {
        let map: IndexMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let none = |_: &str| None;
        let vars = Vars {
            env: &none,
            dotenv: &map,
            strict: true,
            sensitive: None,
        };
        substitute(text, &vars, &mut Vec::new())
    }

    #[test]
    fn substitution_forms() {
        let env = [("A", "x"), ("E", "")];
        assert_eq!(sub("$A-${A}-$$A", &env).as_deref(), Ok("x-x-$A"));
        assert_eq!(
            sub("${B:-d}|${E:-d}|${E-d}|${B-d}", &env).as_deref(),
            Ok("d|d||d")
        );
        assert_eq!(sub("${B:-${A}y}", &env).as_deref(), Ok("xy"));
        assert_eq!(
            sub("${A:+alt}|${E:+alt}|${E+alt}", &env).as_deref(),
            Ok("alt||alt")
        );
        assert_eq!(sub("cost $5 and $", &env).as_deref(), Ok("cost $5 and $"));
        let err = sub("${S:?set SESSION_SECRET first}", &env).unwrap_err();
        assert_eq!(
            err.0,
            "required variable S is not set: set SESSION_SECRET first"
        );
        let err = sub("${E:?}", &env).unwrap_err();
        assert!(err.0.contains("E is empty"), "{}", err.0);
        assert_eq!(sub("${E?}", &env).as_deref(), Ok(""));
        assert!(sub("${A", &env).is_err());
        assert!(sub("${A/x/y}", &env).is_err());
    }

    #[test]
    fn unset_variables_are_reported() {
        let map = IndexMap::new();
        let none = |_: &str| None;
        let vars = Vars {
            env: &none,
            dotenv: &map,
            strict: true,
            sensitive: None,
        };
        let mut unset = Vec::new();
        assert_eq!(substitute("${X}$X$Y", &vars, &mut unset).as_deref(), Ok(""));
        assert_eq!(unset, ["X", "Y"]);
    }

    #[test]
    fn dotenv_lines() {
        let env = |k: &str| (k == "HOME").then(|| String::from("/root"));
        let vars = parse_dotenv(
            "# c\nA=1\nexport B = 'lit $A'\nC=\"q\\n$A\"\nD=${HOME}/x # note\nE=\n",
            &env,
            None,
        )
        .unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "lit $A");
        assert_eq!(vars["C"], "q\n1");
        assert_eq!(vars["D"], "/root/x");
        assert_eq!(vars["E"], "");
        assert_eq!(
            parse_dotenv("A=1\nnot a line\n", &env, None).unwrap_err().0,
            2
        );
    }

    #[test]
    fn many_aliases_of_few_anchors_are_read_and_modes_are_octal() {
        let mut text = String::from("x-a: &a {image: x}\nservices:\n");
        for i in 0..300 {
            text.push_str(&format!("  s{i}: *a\n"));
        }
        text.push_str("mode: 0440\n");
        let root = parse(&text).expect("150 aliases of one anchor");
        let Value::Map(m) = root.value else {
            panic!("a map")
        };
        assert_eq!(m["mode"].1.value, Value::Int(0o440));
    }

    #[test]
    fn only_yaml_1_2_booleans_are_booleans() {
        let root = parse("n: no\non: off\ny: true\nx: FALSE\n").expect("yaml");
        let Value::Map(m) = root.value else {
            panic!("a map")
        };
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["n", "on", "y", "x"]);
        assert_eq!(m["n"].1.value, Value::Str(String::from("no")));
        assert_eq!(m["on"].1.value, Value::Str(String::from("off")));
        assert_eq!(m["y"].1.value, Value::Bool(true));
        assert_eq!(m["x"].1.value, Value::Bool(false));
    }

    #[test]
    fn tree_keeps_positions_and_applies_merge_keys() {
        let text = "x-common: &common\n  restart: always\nservices:\n  web:\n    <<: *common\n    image: \"busybox\"\n    ports:\n      - 8080:80\n";
        let root = parse(text).unwrap();
        let Value::Map(top) = &root.value else {
            panic!("not a map")
        };
        let (_, services) = &top["services"];
        let Value::Map(services) = &services.value else {
            panic!()
        };
        let (web_pos, web) = &services["web"];
        assert_eq!(
            *web_pos,
            Pos {
                line: 4,
                col: 3,
                file: 0
            }
        );
        let Value::Map(web) = &web.value else {
            panic!()
        };
        assert!(web.contains_key("restart"), "merge key applied: {web:?}");
        let (image_key, image) = &web["image"];
        assert_eq!(image_key.line, 6);
        assert_eq!(image.value, Value::Str("busybox".into()));
        let (_, ports) = &web["ports"];
        let Value::Seq(ports) = &ports.value else {
            panic!()
        };
        assert_eq!(ports[0].pos.line, 8);
        assert!(parse("a: [1, 2\n").is_err());
    }
}
