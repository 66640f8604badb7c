//! `probe redis URL`: PING and INFO over one connection; outputs `reply`, `info` (every
//! `field:value` line of INFO) and `latency`. The URL (with its password) never appears
//! in a message.

use std::time::Duration;

use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use interpreter::world::Touches;
use lang::schema::Variant;

/// `probe redis URL`.
pub struct Redis;

impl StepKind for Redis {
    fn variant(&self) -> &'static Variant {
        &super::REDIS
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        _ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(probe(input))
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            touches: Touches::reading(crate::touch::database(
                view,
                None,
                crate::conn::Flavor::Redis,
            )),
            ..StepPlan::new(format!("PING and INFO on {}", view.target()))
        }
    }
}

async fn probe(input: &StepInput) -> Result<Outputs, StepError> {
    let url = input
        .target_str()
        .ok_or_else(|| StepError::fatal("`probe redis` needs a redis:// URL"))?;
    let url = crate::conn::ConnUrl::redis(url)?;
    let started = tokio::time::Instant::now();
    let mut conn =
        crate::net::redis(Some(&url), None, crate::net::PROBE_REDIS_REPLY, "Redis").await?;
    let reply: String = ::redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| StepError::new(format!("PING failed: {}", describe(&e))))?;
    let latency = started.elapsed();
    let info: String = ::redis::cmd("INFO")
        .query_async(&mut conn)
        .await
        .map_err(|e| StepError::new(format!("INFO failed: {}", describe(&e))))?;
    let mut fields = IndexMap::new();
    for line in info.lines() {
        if let Some((key, value)) = line.split_once(':')
            && !line.starts_with('#')
        {
            fields.insert(key.trim().to_string(), Value::str(value.trim()));
        }
    }
    let mut out = Outputs::new();
    out.insert("reply".into(), Value::str(reply));
    out.insert("info".into(), Value::Map(fields));
    out.insert(
        "latency".into(),
        Value::Duration(Duration::from_micros(latency.as_micros() as u64)),
    );
    Ok(out)
}

/// The error without the URL (redis errors may echo connection details).
pub(crate) fn describe(e: &::redis::RedisError) -> String {
    match e.detail() {
        Some(detail) => format!("{:?}: {detail}", e.kind()),
        None => e.to_string(),
    }
}
