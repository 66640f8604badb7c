//! `backup redis`: a consistent RDB snapshot over the network (`restore redis` is in
//! `redis_restore.rs`).

use interpreter::step::{Outputs, StepContext, StepError, StepInput};

use super::run::*;
use super::store::{self, Pending};
use super::tools;
use crate::conn::ConnUrl;

/// `backup redis URL`: `redis-cli --rdb` takes a consistent snapshot over the network.
pub async fn backup_redis(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let url = target(input)?;
    let dir = attr_path(input, "into")?;
    let conn = ConnUrl::redis(&url)?;
    let set = set_name(input, &format!("redis-{}", conn.port))?;
    let started = tokio::time::Instant::now();
    let started_at = store::now();
    let pending = Pending::create(&dir, &set, "rdb")?;
    let (args, env) = conn.redis_cli();
    let mut cmd = tools::command("redis-cli", &env);
    cmd.args(&args);
    cmd.arg("--rdb").arg(pending.tmp_path());
    tools::run(cmd, "redis-cli --rdb", ctx).await?;
    let version = tools::version("redis-cli").await;
    finish(
        pending,
        "redis",
        &set,
        ctx.secrets.redact(&conn.shown()),
        started_at,
        vec![("redis-cli".into(), version)],
        started,
    )
}
