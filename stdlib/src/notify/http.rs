//! `notify webhook` and `notify slack`: a JSON POST, retried on 429 and 5xx with the
//! server's `Retry-After` honoured, at most `attempts` times and always within the step's
//! timeout. The URL is usually a secret: it never appears in messages.

use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use lang::schema::Variant;

use crate::probe::http::{default_client, describe_error};
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
        StepPlan::new(format!("POSTs {} to {}", view.attr("json"), view.target()))
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
        StepPlan::new(format!(
            "posts {} to the Slack webhook {}",
            view.attr("text"),
            view.target()
        ))
    }
}

/// POSTs `body`, retrying 429 and 5xx answers.
async fn post(
    input: &StepInput,
    ctx: &StepContext,
    body: serde_json::Value,
) -> Result<Outputs, StepError> {
    let url = input
        .target_str()
        .ok_or_else(|| StepError::fatal("the webhook needs a URL"))?;
    let attempts = input
        .attr("attempts")
        .and_then(Value::as_int)
        .unwrap_or(3)
        .clamp(1, 20) as u32;
    let client = default_client(url)?;
    let payload = body.to_string();
    let mut last = String::new();
    for attempt in 1..=attempts {
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.clone());
        // `headers` is the webhook's; a Slack webhook takes none.
        if let Some(headers) = input.optional("headers").and_then(Value::as_map) {
            for (name, value) in headers {
                req = req.header(name.as_str(), value.interpolated());
            }
        }
        let wait = match req.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                let text = read_capped(response, &ctx.secrets).await;
                if status.is_success() {
                    let mut out = Outputs::new();
                    out.insert("status".into(), Value::Int(i64::from(status.as_u16())));
                    return Ok(out);
                }
                last = format!(
                    "the webhook answered {status}{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                );
                if status.as_u16() != 429 && !status.is_server_error() {
                    return Err(StepError::fatal(last));
                }
                retry_after.unwrap_or_else(|| backoff(attempt))
            }
            Err(e) => {
                last = format!(
                    "the webhook could not be reached: {}",
                    describe_error(&e, &ctx.secrets)
                );
                backoff(attempt)
            }
        };
        if attempt < attempts {
            let wait = wait.min(MAX_RETRY_AFTER);
            ctx.log(format!(
                "attempt {attempt}/{attempts}: {last}; retrying in {}",
                lang::fmt::duration(wait)
            ));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = ctx.cancel.cancelled() => return Err(StepError::fatal("cancelled")),
            }
        }
    }
    Err(StepError::fatal(format!(
        "{last} (after {attempts} attempts)"
    )))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(6)))
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
