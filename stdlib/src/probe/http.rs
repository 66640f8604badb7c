//! `probe http`: one HTTP request through reqwest (rustls with the system's roots, an
//! extra CA file, or an explicit opt-out of verification), the body kept up to
//! `max_body`, outputs `status`, `headers`, `body`, `json`, `latency`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::redact::Redactor;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use lang::jsonpath::{self, JsonSegment};
use lang::schema::Variant;

/// Settings that need their own client; everything else is per request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    /// Plain-HTTP client: no system roots are loaded (that costs ~7 ms of file reads);
    /// a redirect to `https://` is reported and the request redone with a TLS client.
    plain: bool,
    ca_file: Option<String>,
    insecure: bool,
    follow_redirects: bool,
    max_redirects: usize,
}

/// Clients are reused across steps (connection pools, loaded roots).
fn client(key: &ClientKey) -> Result<reqwest::Client, StepError> {
    static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, reqwest::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(|| {
        // rustls needs one crypto provider for the process; a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Mutex::new(HashMap::new())
    });
    let mut clients = clients
        .lock()
        .map_err(|_| StepError::fatal("internal error: HTTP client cache poisoned"))?;
    if let Some(c) = clients.get(key) {
        return Ok(c.clone());
    }
    let redirects = if !key.follow_redirects {
        reqwest::redirect::Policy::none()
    } else if key.plain {
        let max = key.max_redirects;
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.url().scheme() == "https" {
                attempt.error(NeedsTls)
            } else if attempt.previous().len() > max {
                attempt.error(format!("more than {max} redirects"))
            } else {
                attempt.follow()
            }
        })
    } else {
        reqwest::redirect::Policy::limited(key.max_redirects)
    };
    let mut builder = reqwest::Client::builder()
        .redirect(redirects)
        .user_agent(concat!("ops/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64);
    if let Some(path) = &key.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| StepError::fatal(format!("cannot read ca_file {path}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            StepError::fatal(format!("ca_file {path} holds no PEM certificate: {e}"))
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    if key.plain {
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StepError::fatal(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        builder = builder.tls_backend_preconfigured(config);
    }
    if key.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    let built = builder
        .build()
        .map_err(|e| StepError::fatal(format!("cannot set up the HTTP client: {e}")))?;
    clients.insert(key.clone(), built.clone());
    Ok(built)
}

/// A plain-HTTP request was redirected to `https://`: redo it with a TLS client.
#[derive(Debug)]
struct NeedsTls;

impl std::fmt::Display for NeedsTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("redirected to https")
    }
}

impl std::error::Error for NeedsTls {}

fn needs_tls(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<NeedsTls>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The shared client for a URL with default settings (webhooks).
pub(crate) fn default_client(url: &str) -> Result<reqwest::Client, StepError> {
    client(&ClientKey {
        plain: url.starts_with("http://"),
        ca_file: None,
        insecure: false,
        follow_redirects: false,
        max_redirects: 0,
    })
}

/// What went wrong in a reqwest error, and its cause chain ("connection refused",
/// "certificate ..."), without the URL: reqwest's own text quotes the URL in its
/// partial percent-encoding, which callers replace by the redacted URL they show.
pub(crate) fn describe_error(e: &reqwest::Error, secrets: &Redactor) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "the connection failed"
    } else if e.is_redirect() {
        "following a redirect failed"
    } else if e.is_body() {
        "reading the body failed"
    } else if e.is_decode() {
        "decoding the response failed"
    } else if e.is_builder() {
        "the request is invalid"
    } else {
        "sending the request failed"
    };
    let mut text = String::from(what);
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    secrets.redact(&text)
}

/// The URL as messages show it: without `user:password@`, every secret in it redacted.
pub(crate) fn shown_url(url: &str, secrets: &Redactor) -> String {
    secrets.redact(&strip_credentials(url))
}

/// `probe http URL`.
pub struct Http;

impl StepKind for Http {
    fn variant(&self) -> &'static Variant {
        &super::HTTP
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(request(input, &ctx.secrets))
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        let mut problems = ca_file_problems(view);
        let method = view.attr("method").trim_matches('"');
        if view.value("method").is_some() && !read_only(method) {
            // A method from a parameter: the checker could not see it.
            problems.push(format!(
                "`probe http` with method {method}: a probe only reads (GET, HEAD, OPTIONS); use `http request` for a call that changes something"
            ));
        }
        StepPlan {
            touches: interpreter::world::Touches::reading(crate::touch::http(view, None)),
            ..StepPlan::new(format!("{method} {}", view.target())).with_problems(problems)
        }
    }

    fn subject(
        &self,
        outputs: &Outputs,
        subject: &str,
        arg: Option<&Value>,
    ) -> Result<Value, String> {
        self::subject(outputs, subject, arg)
    }
}

/// True for the methods a probe may send.
fn read_only(method: &str) -> bool {
    super::READ_METHODS
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// A `ca_file` that cannot be read, found while planning.
pub(crate) fn ca_file_problems(view: &InputView) -> Vec<String> {
    match view.value("ca_file").and_then(Value::as_str) {
        Some(path) if std::fs::File::open(path).is_err() => {
            vec![format!("ca_file {path} cannot be read")]
        }
        _ => Vec::new(),
    }
}

/// The value an expectation of an HTTP request checks.
pub(crate) fn subject(
    outputs: &Outputs,
    subject: &str,
    arg: Option<&Value>,
) -> Result<Value, String> {
    {
        match (subject, arg) {
            ("header", Some(name)) => {
                let name = name.as_str().unwrap_or_default().to_ascii_lowercase();
                outputs
                    .get("headers")
                    .and_then(Value::as_map)
                    .and_then(|h| h.get(&name))
                    .cloned()
                    .ok_or_else(|| format!("the response has no `{name}` header"))
            }
            ("json", Some(path)) => {
                let path = path.as_str().unwrap_or(".");
                let json = outputs.get("json").cloned().unwrap_or(Value::Null);
                if let Some(Value::Str(why)) = outputs.get("json_error") {
                    return Err(format!("the body is not JSON ({why})"));
                }
                walk(&json, path)
            }
            (name, _) => outputs
                .get(name)
                .cloned()
                .ok_or_else(|| format!("the request produced no `{name}`")),
        }
    }
}

/// Follows a JSON path; the error names the missing part and what exists there.
fn walk(json: &Value, path: &str) -> Result<Value, String> {
    let segments =
        jsonpath::parse(path).map_err(|(_, e)| format!("invalid JSON path `{path}`: {e}"))?;
    let mut current = json.clone();
    let mut walked = String::new();
    for segment in segments {
        let secret = current.is_secret() && matches!(current, Value::Secret(_));
        let next = match (&segment, current.expose()) {
            (JsonSegment::Field(name), Value::Map(map)) => {
                walked.push('.');
                walked.push_str(name);
                map.get(name).cloned().ok_or_else(|| {
                    let keys: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
                    format!(
                        "`{walked}` does not exist in the body (keys there: {})",
                        keys.join(", ")
                    )
                })?
            }
            (JsonSegment::Index(i), Value::List(items)) => {
                walked.push_str(&format!("[{i}]"));
                let len = items.len() as i64;
                let at = if *i < 0 { len + i } else { *i };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| items.get(at))
                    .cloned()
                    .ok_or_else(|| {
                        format!("`{walked}` is out of range: the list has {len} items")
                    })?
            }
            (_, other) => {
                return Err(format!(
                    "`{walked}` is a {}, so `{path}` does not exist in the body",
                    if walked.is_empty() {
                        "document that is not an object or list"
                    } else {
                        other.type_name()
                    }
                ));
            }
        };
        current = if secret { next.into_secret() } else { next };
    }
    Ok(current)
}

/// Sends the request of a `probe http` or an `http request`; a probe sends only the
/// methods that read, whatever reached it.
pub(crate) async fn request(input: &StepInput, secrets: &Redactor) -> Result<Outputs, StepError> {
    let url = input
        .target_str()
        .ok_or_else(|| StepError::fatal("an HTTP request needs a URL"))?;
    let method = input.str("method").unwrap_or("GET");
    if std::ptr::eq(input.variant, &super::HTTP) && !read_only(method) {
        return Err(StepError::fatal(format!(
            "`probe http` does not send {method}: a probe only reads (use `http request`)"
        )));
    }
    let plain = url.starts_with("http://");
    match send(input, url, plain, secrets).await {
        Err(SendError::NeedsTls) => match send(input, url, false, secrets).await {
            Ok(outputs) => Ok(outputs),
            Err(SendError::Step(e)) => Err(e),
            Err(SendError::NeedsTls) => {
                Err(StepError::fatal("redirect loop between http and https"))
            }
        },
        Err(SendError::Step(e)) => Err(e),
        Ok(outputs) => Ok(outputs),
    }
}

enum SendError {
    NeedsTls,
    Step(StepError),
}

impl From<StepError> for SendError {
    fn from(e: StepError) -> Self {
        SendError::Step(e)
    }
}

async fn send(
    input: &StepInput,
    url: &str,
    plain: bool,
    secrets: &Redactor,
) -> Result<Outputs, SendError> {
    let key = ClientKey {
        plain,
        ca_file: input.str("ca_file").map(str::to_string),
        insecure: input
            .attr("insecure")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        follow_redirects: input
            .attr("follow_redirects")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        max_redirects: input
            .attr("max_redirects")
            .and_then(Value::as_int)
            .unwrap_or(10)
            .clamp(0, 100) as usize,
    };
    let client = client(&key)?;
    let method = reqwest::Method::from_bytes(input.str("method").unwrap_or("GET").as_bytes())
        .map_err(|_| StepError::fatal("invalid HTTP method"))?;
    let mut req = client.request(method.clone(), url);
    if let Some(headers) = input.attr("headers").and_then(Value::as_map) {
        for (name, value) in headers {
            req = req.header(name.as_str(), value.interpolated());
        }
    }
    if let Some(token) = input.str("bearer") {
        req = req.bearer_auth(token);
    }
    if let Some(user) = input.str("username") {
        req = req.basic_auth(user, input.str("password"));
    }
    if let Some(json) = input.attr("json") {
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json.to_json(true).to_string());
    } else if let Some(body) = input.str("body") {
        req = req.body(body.to_string());
    }
    let max_body = input
        .attr("max_body")
        .and_then(Value::as_size)
        .unwrap_or(1 << 20) as usize;
    let started = tokio::time::Instant::now();
    let mut response = match req.send().await {
        Ok(r) => r,
        Err(e) if needs_tls(&e) => return Err(SendError::NeedsTls),
        Err(e) => {
            return Err(SendError::Step(StepError::new(format!(
                "{method} {} failed: {}",
                shown_url(url, secrets),
                describe_error(&e, secrets)
            ))));
        }
    };
    let status = response.status().as_u16();
    let mut headers = indexmap::IndexMap::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v: &mut Value| {
                if let Value::Str(s) = v {
                    s.push_str(", ");
                    s.push_str(&value);
                }
            })
            .or_insert_with(|| Value::str(value.clone()));
    }
    let mut body: Vec<u8> = Vec::new();
    let mut truncated = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max_body.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    // Stop reading: the rest is not kept, and a huge body must not
                    // hold the step until its timeout.
                    truncated = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(SendError::Step(StepError::new(format!(
                    "reading the body of {} failed: {}",
                    shown_url(url, secrets),
                    describe_error(&e, secrets)
                ))));
            }
        }
    }
    let latency = started.elapsed();
    let text = String::from_utf8_lossy(&body).into_owned();
    // A body cut at max_body must not end in the first part of a secret.
    let text = if truncated {
        secrets.hide_tail(&text)
    } else {
        text
    };
    let mut outputs = Outputs::new();
    outputs.insert("status".into(), Value::Int(i64::from(status)));
    outputs.insert("headers".into(), Value::Map(headers));
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(json) => {
            outputs.insert("json".into(), Value::from_json(&json));
        }
        Err(e) => {
            outputs.insert("json".into(), Value::Null);
            let why = if truncated {
                format!("it was cut at max_body = {max_body} bytes")
            } else {
                e.to_string()
            };
            outputs.insert("json_error".into(), Value::str(why));
        }
    }
    outputs.insert("body".into(), Value::str(text));
    outputs.insert(
        "latency".into(),
        Value::Duration(Duration::from_millis(latency.as_millis() as u64)),
    );
    Ok(outputs)
}

/// The URL without `user:password@`, for messages.
pub(crate) fn strip_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}
