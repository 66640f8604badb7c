//! `probe`: read-only health checks (`http`, `tcp`, `exec`, `postgres`, `redis`).

use std::time::Duration;

pub mod http;
pub mod postgres;
pub mod redis;
pub mod tcp;

use lang::schema::{
    Attribute, Effect, Output, Refusal, SchemaType as T, StepSchema, Subject, Target, Variant,
};

const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The methods that only read (RFC 9110's safe methods, less TRACE): all a probe sends.
pub const READ_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// The methods that change something on the server: refused in a probe.
const CHANGING_METHODS: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];

/// The attributes of an HTTP request (`probe http` and `http request`), given the method
/// attribute and whether redirects are followed by default.
macro_rules! http_attributes {
    ($method:expr, $follow:literal) => {
        &[
            $method,
            Attribute::new("headers", T::MapOf(&T::String), "request headers").sensitive(),
            Attribute::new("body", T::String, "request body as text").sensitive(),
            Attribute::new("json", T::Any, "request body as JSON (sets content-type)").sensitive(),
            Attribute::new(
                "bearer",
                T::String,
                "bearer token for the Authorization header",
            )
            .sensitive(),
            Attribute::new("username", T::String, "basic-auth user name"),
            Attribute::new("password", T::String, "basic-auth password").sensitive(),
            Attribute::new(
                "ca_file",
                T::Path,
                "PEM file of extra trusted CA certificates",
            ),
            Attribute::new(
                "insecure",
                T::Bool,
                "skip TLS certificate verification (explicit opt-in)",
            )
            .default("false"),
            Attribute::new("follow_redirects", T::Bool, "follow redirects").default($follow),
            Attribute::new(
                "max_redirects",
                T::Int,
                "redirects followed at most (0-100)",
            )
            .default("10")
            .range(0, 100),
            Attribute::new(
                "max_body",
                T::Size,
                "body bytes kept; the rest is discarded",
            )
            .default("1MiB"),
        ]
    };
}
pub(crate) use http_attributes;

/// What an HTTP request outputs (`probe http`, `http request`).
pub const HTTP_OUTPUTS: &[Output] = &[
    Output::new("status", T::Int, "HTTP status code"),
    Output::tainted(
        "headers",
        T::MapOf(&T::String),
        "response headers (lower-case names)",
    ),
    Output::tainted("body", T::String, "response body (capped at max_body)"),
    Output::tainted("json", T::Any, "the body parsed as JSON"),
    Output::new("latency", T::Duration, "time to the full response"),
];

/// What an HTTP request's expectations check.
pub const HTTP_SUBJECTS: &[Subject] = &[
    Subject::new("status", T::Int, "the status code"),
    Subject::with_arg("header", T::String, T::String, "a response header by name"),
    Subject::new("body", T::String, "the response body"),
    Subject::with_arg(
        "json",
        T::String,
        T::Any,
        "a JSON path into the body (`.status`, `.checks[0].name`)",
    ),
    Subject::new("latency", T::Duration, "time to the full response"),
];

/// The `probe` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "probe",
    doc: "read-only health checks with expectations",
    variants: &[&HTTP, &TCP, &EXEC, &POSTGRES, &REDIS],
};

/// The target of an HTTP request (`probe http`, `http request`).
pub const HTTP_URL: Target = Target {
    name: "url",
    ty: T::Url,
    sensitive: true,
    required: true,
    doc: "the URL to request (may embed credentials from a secret)",
};

/// `probe http`.
pub static HTTP: Variant = Variant {
    name: Some("http"),
    doc: "an HTTP request that only reads (GET, HEAD, OPTIONS); expectations on status, headers, body, JSON and latency",
    target: Some(HTTP_URL),
    attributes: http_attributes!(
        Attribute::new("method", T::Enum(HTTP_METHODS), "HTTP method: GET, HEAD or OPTIONS")
            .default("GET")
            .refuse(Refusal {
                values: CHANGING_METHODS,
                why: "a probe only reads, and this method changes something on the server",
                instead: "use `http request URL { method = POST ... }` for an API call that changes something: it is planned as a change, and `ops plan --preflight` never sends it",
            }),
        "true"
    ),
    outputs: HTTP_OUTPUTS,
    subjects: HTTP_SUBJECTS,
    effect: Effect::ReadOnly,
    default_timeout: Some(Duration::from_secs(10)),
    ..Variant::BASE
};

/// `http request`: the methods it accepts.
pub const REQUEST_METHODS: &[&str] = HTTP_METHODS;

/// `probe tcp`.
pub static TCP: Variant = Variant {
    name: Some("tcp"),
    doc: "a TCP connect to host:port",
    target: Some(Target {
        name: "address",
        ty: T::String,
        sensitive: false,
        required: true,
        doc: "`host:port` to connect to",
    }),
    outputs: &[Output::new("latency", T::Duration, "time to connect")],
    subjects: &[Subject::new("latency", T::Duration, "time to connect")],
    effect: Effect::ReadOnly,
    default_timeout: Some(Duration::from_secs(5)),
    ..Variant::BASE
};

/// `probe exec`.
pub static EXEC: Variant = Variant {
    name: Some("exec"),
    doc: "runs a read-only command (argv, no shell)",
    target: Some(Target {
        name: "argv",
        ty: T::ListOf(&T::String),
        sensitive: false,
        required: true,
        doc: "program and arguments, passed without a shell",
    }),
    attributes: crate::exec::ATTRIBUTES_COMMON,
    outputs: crate::exec::OUTPUTS,
    subjects: crate::exec::SUBJECTS,
    effect: Effect::ReadOnly,
    default_timeout: Some(Duration::from_secs(30)),
    ..Variant::BASE
};

/// `probe postgres`.
pub static POSTGRES: Variant = Variant {
    name: Some("postgres"),
    doc: "connects to PostgreSQL and runs a read-only query",
    target: Some(Target {
        name: "url",
        ty: T::String,
        sensitive: true,
        required: true,
        doc: "connection string, usually from a secret",
    }),
    attributes: &[Attribute::new("query", T::String, "a read-only query").default("\"select 1\"")],
    outputs: &[
        Output::new("rows", T::ListOf(&T::MapOf(&T::Any)), "result rows"),
        Output::new("row_count", T::Int, "number of rows"),
        Output::new("value", T::Any, "first column of the first row"),
        Output::new("latency", T::Duration, "time to connect and query"),
    ],
    subjects: &[
        Subject::new("value", T::Any, "first column of the first row"),
        Subject::new("row_count", T::Int, "number of rows"),
        Subject::new("latency", T::Duration, "time to connect and query"),
    ],
    effect: Effect::ReadOnly,
    default_timeout: Some(Duration::from_secs(10)),
    ..Variant::BASE
};

/// `probe redis`.
pub static REDIS: Variant = Variant {
    name: Some("redis"),
    doc: "PING, or reads a field of INFO",
    target: Some(Target {
        name: "url",
        ty: T::String,
        sensitive: true,
        required: true,
        doc: "`redis://` URL, usually from a secret",
    }),
    outputs: &[
        Output::new("reply", T::String, "the PING reply"),
        Output::new("info", T::MapOf(&T::String), "INFO fields"),
        Output::new("latency", T::Duration, "round-trip time"),
    ],
    subjects: &[
        Subject::new("reply", T::String, "the PING reply"),
        Subject::with_arg(
            "info",
            T::String,
            T::String,
            "an INFO field by name (`role`)",
        ),
        Subject::new("latency", T::Duration, "round-trip time"),
    ],
    effect: Effect::ReadOnly,
    default_timeout: Some(Duration::from_secs(5)),
    ..Variant::BASE
};
