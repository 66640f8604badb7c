//! The resources step kinds name for the plan's world model (`interpreter::world`): from
//! a target or attribute known now, or, for a secret, from the expression that reads it
//! (two steps that both write `SCRATCH_URL` touch the same database).

use interpreter::step::{InputView, Ref};
use interpreter::value::Value;
use interpreter::world::Resource;

use crate::conn::{ConnUrl, Flavor};

/// A secret value as a resource key: the expression, never the value.
fn secret(kind: &'static str, text: &str) -> Resource {
    Resource::new(kind, format!("{text} (a secret)"))
}

/// The text of a target (`None`) or attribute known now.
fn text<'a>(view: &'a InputView, name: Option<&str>) -> Option<&'a str> {
    match view.reference(name)? {
        Ref::Value(v) => v.as_str(),
        _ => None,
    }
}

/// An HTTP URL's origin and endpoint.
pub fn http(view: &InputView, name: Option<&str>) -> Vec<Resource> {
    match view.reference(name) {
        Some(Ref::Value(Value::Str(url))) => match Resource::http(url) {
            Some((origin, endpoint)) => vec![origin, endpoint],
            None => Vec::new(),
        },
        Some(Ref::Secret(text)) => vec![secret("http-origin", text)],
        _ => Vec::new(),
    }
}

/// A `host:port` endpoint.
pub fn endpoint(view: &InputView, name: Option<&str>) -> Vec<Resource> {
    let Some(address) = text(view, name) else {
        return Vec::new();
    };
    let Some((host, port)) = address.rsplit_once(':') else {
        return Vec::new();
    };
    match port.parse::<u16>() {
        Ok(port) => vec![Resource::endpoint(host, port)],
        Err(_) => Vec::new(),
    }
}

/// A database URL's endpoint and database.
pub fn database(view: &InputView, name: Option<&str>, flavor: Flavor) -> Vec<Resource> {
    match view.reference(name) {
        Some(Ref::Value(Value::Str(url))) => {
            let conn = match flavor {
                Flavor::Postgres => ConnUrl::postgres(url),
                Flavor::Redis => ConnUrl::redis(url),
            };
            let Ok(conn) = conn else {
                return Vec::new();
            };
            let (scheme, default) = match flavor {
                Flavor::Postgres => ("postgres", "postgres"),
                Flavor::Redis => ("redis", "0"),
            };
            let db = conn.database.as_deref().unwrap_or(default);
            vec![
                Resource::endpoint(&conn.host, conn.port),
                Resource::database(scheme, &conn.host, conn.port, db),
            ]
        }
        Some(Ref::Secret(text)) => vec![secret("database", text)],
        _ => Vec::new(),
    }
}

/// A directory (a backup directory, a restore's target) by its path as written, without
/// a trailing `/` or `./` segments.
pub fn dir(view: &InputView, name: Option<&str>, kind: &'static str) -> Option<Resource> {
    text(view, name).map(|p| Resource::new(kind, normal_path(p)))
}

/// A path without trailing `/` and `.` segments (`/srv/b/./` is `/srv/b`).
pub fn normal_path(path: &str) -> String {
    let path = std::path::Path::new(path);
    let clean: std::path::PathBuf = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    let text = clean.to_string_lossy().into_owned();
    if text.is_empty() {
        String::from(".")
    } else {
        text
    }
}
