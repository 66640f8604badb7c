//! `notify webhook` and `notify slack`: a JSON POST. A 429 or 5xx answer is retried by the
//! executor (`attempts` becomes the step's default `retry`: 1 s doubling up to 30 s, each
//! attempt within the step's timeout, all of it in the plan's worst case), with the
//! server's `Retry-After` honoured within the planned delay. The URL is usually a secret:
//! it never appears in messages.

use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use lang::schema::Variant;

use crate::probe::http::{default_client, describe_error};
use interpreter::plan::{Backoff, RetrySpec};
use interpreter::redact::Redactor;

/// Longest pause honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// `notify webhook URL { json = ..., headers = {...} }`.
pub struct Webhook;

/// `notify slack URL { text = "...", blocks = [...] }`.
pub struct Slack;

impl StepKind for Webhook {
    fn variant(&self) -> &'static Variant {
        &super::WEBHOOK
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let body = input
                .attr("json")
                .map(|j| j.to_json(true))
                .unwrap_or_default();
            post(input, ctx, body).await
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            retry: retries(view),
            ..StepPlan::new(format!("POSTs {} to {}", view.attr("json"), view.target()))
        }
    }
}

impl StepKind for Slack {
    fn variant(&self) -> &'static Variant {
        &super::SLACK
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let mut body = serde_json::Map::new();
            let text = input
                .attr("text")
                .map(Value::interpolated)
                .unwrap_or_default();
            body.insert("text".into(), serde_json::Value::String(text));
            if let Some(blocks) = input.attr("blocks") {
                body.insert("blocks".into(), blocks.to_json(true));
            }
            post(input, ctx, serde_json::Value::Object(body)).await
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            retry: retries(view),
            ..StepPlan::new(format!(
                "posts {} to the Slack webhook {}",
                view.attr("text"),
                view.target()
            ))
        }
    }
}

/// `attempts` as the executor's retries: 1 s, doubling up to 30 s (a server's
/// `Retry-After` is honoured within that delay).
fn retries(view: &InputView) -> Option<RetrySpec> {
    let attempts = view.value("attempts").and_then(Value::as_int).unwrap_or(3);
    let count = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (count > 0).then_some(RetrySpec {
        count,
        every: Duration::from_secs(1),
        backoff: Backoff::Exponential,
        max: Some(MAX_RETRY_AFTER),
        jitter: false,
    })
}

/// POSTs `body` once. A 429 or 5xx answer, or no answer, may be retried (by the
/// executor, per `attempts`), with the server's `Retry-After`; other answers are final.
async fn post(
    input: &StepInput,
    ctx: &StepContext,
    body: serde_json::Value,
) -> Result<Outputs, StepError> {
    let url = input
        .target_str()
        .ok_or_else(|| StepError::fatal("the webhook needs a URL"))?;
    let client = default_client(url)?;
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    // `headers` is the webhook's; a Slack webhook takes none.
    if let Some(headers) = input.optional("headers").and_then(Value::as_map) {
        for (name, value) in headers {
            req = req.header(name.as_str(), value.interpolated());
        }
    }
    let response = req.send().await.map_err(|e| {
        StepError::new(format!(
            "the webhook could not be reached: {}",
            describe_error(&e, &ctx.secrets)
        ))
    })?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let text = read_capped(response, &ctx.secrets).await;
    if status.is_success() {
        let mut out = Outputs::new();
        out.insert("status".into(), Value::Int(i64::from(status.as_u16())));
        return Ok(out);
    }
    let message = format!(
        "the webhook answered {status}{}",
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    );
    if status.as_u16() != 429 && !status.is_server_error() {
        return Err(StepError::fatal(message));
    }
    let error = StepError::new(message);
    Err(match retry_after {
        Some(delay) => error.retry_after(delay.min(MAX_RETRY_AFTER)),
        None => error,
    })
}

/// `Retry-After` in seconds (an HTTP date is treated as "retry soon").
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    match value.trim().parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => Some(Duration::from_secs(1)),
    }
}

/// What an error body says, for the message: read up to 16 KiB, redacted while whole
/// (a secret cut at the limit would no longer be recognised), then quoted up to 512
/// bytes with its size.
async fn read_capped(mut response: reqwest::Response, secrets: &Redactor) -> String {
    const READ: usize = 16 * 1024;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= READ {
            body.truncate(READ);
            break;
        }
    }
    let text = secrets.redact(String::from_utf8_lossy(&body).trim());
    interpreter::text::quote(&text, 512).into_owned()
}
