//! `restore redis`: the snapshot is loaded by a private `redis-server` (so Redis itself
//! parses the RDB), then every key is copied to the target with `DUMP` / `RESTORE`, its
//! time to live included. This works against any server the runbook can reach, without
//! access to its data directory and without restarting it.

use std::time::Duration;

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;

use super::scratch::{ScratchRedis, keyspace, redis_error};
use crate::conn::ConnUrl;

/// Keys copied per round trip.
const BATCH: usize = 500;

/// Which target database each snapshot database goes to.
fn mapping(
    snapshot: &[(u32, u64)],
    url_db: Option<u32>,
) -> Result<Vec<(u32, u32, u64)>, StepError> {
    match url_db {
        None => Ok(snapshot.iter().map(|&(db, n)| (db, db, n)).collect()),
        Some(target) => match snapshot {
            [] => Ok(Vec::new()),
            [(db, n)] => Ok(vec![(*db, target, *n)]),
            many => Err(StepError::fatal(format!(
                "the snapshot holds {} databases ({}); a URL naming database {target} can take only one: drop the database number to restore each into its own",
                many.len(),
                many.iter()
                    .map(|(db, _)| format!("db{db}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}

/// The database number a `redis://host/N` URL names, if any.
fn url_database(url: &ConnUrl) -> Option<u32> {
    url.database.as_ref().map(|_| url.redis_db())
}

async fn select(
    conn: &mut ::redis::aio::MultiplexedConnection,
    db: u32,
    which: &str,
) -> Result<(), StepError> {
    ::redis::cmd("SELECT")
        .arg(db)
        .query_async::<()>(conn)
        .await
        .map_err(|e| {
            StepError::fatal(format!(
                "cannot select database {db} on the {which}: {}",
                redis_error(&e)
            ))
        })
}

/// `restore redis FROM { into = URL }`: copies every key of the snapshot into the target.
pub async fn restore_redis(
    file: &std::path::Path,
    input: &StepInput,
    ctx: &StepContext,
) -> Result<Outputs, StepError> {
    let started = tokio::time::Instant::now();
    let into = input
        .str("into")
        .ok_or_else(|| StepError::fatal("`into` is required"))?;
    let replace = input.attr("replace").and_then(Value::as_bool) == Some(true);
    let url = ConnUrl::redis(into)?;
    let url_db = url_database(&url);
    let mut target =
        crate::net::redis(Some(&url), None, crate::net::TARGET_REPLY, "target Redis").await?;
    let mut scratch = ScratchRedis::load(file, ctx).await?;
    let plan = mapping(&scratch.keyspace().await?, url_db)?;
    if !replace {
        let present = keyspace(&mut target).await?;
        let busy: Vec<String> = plan
            .iter()
            .filter_map(|(_, to, _)| {
                present
                    .iter()
                    .find(|(db, n)| db == to && *n > 0)
                    .map(|(db, n)| format!("database {db} holds {n} keys"))
            })
            .collect();
        if !busy.is_empty() {
            return Err(StepError::fatal(format!(
                "the target is not empty ({}); a restore never overwrites keys: empty it first, or set `replace = true` to overwrite keys of the same name",
                busy.join(", ")
            )));
        }
    }
    let mut restored = 0i64;
    for (from, to, _) in &plan {
        select(&mut scratch.conn, *from, "scratch server").await?;
        select(&mut target, *to, "target").await?;
        let mut cursor: u64 = 0;
        loop {
            if ctx.cancel.is_cancelled() {
                return Err(StepError::fatal(format!(
                    "cancelled after restoring {restored} keys"
                )));
            }
            let (next, keys): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut scratch.conn)
                .await
                .map_err(|e| StepError::fatal(format!("SCAN failed: {}", redis_error(&e))))?;
            restored += copy_keys(&mut scratch.conn, &mut target, &keys, replace).await?;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    ctx.log(format!("restored {restored} keys"));
    let mut out = Outputs::new();
    out.insert("keys".into(), Value::Int(restored));
    out.insert(
        "duration".into(),
        Value::Duration(Duration::from_millis(started.elapsed().as_millis() as u64)),
    );
    Ok(out)
}

/// Copies one batch: `DUMP` + `PTTL` from the scratch server, `RESTORE` on the target.
async fn copy_keys(
    from: &mut ::redis::aio::MultiplexedConnection,
    to: &mut ::redis::aio::MultiplexedConnection,
    keys: &[Vec<u8>],
    replace: bool,
) -> Result<i64, StepError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let mut read = ::redis::pipe();
    for key in keys {
        read.cmd("DUMP").arg(key).cmd("PTTL").arg(key);
    }
    let dumped: Vec<::redis::Value> = read
        .query_async(from)
        .await
        .map_err(|e| StepError::fatal(format!("DUMP failed: {}", redis_error(&e))))?;
    let mut write = ::redis::pipe();
    let mut count = 0i64;
    for (key, pair) in keys.iter().zip(dumped.chunks(2)) {
        let [payload, ttl] = pair else { continue };
        let ::redis::Value::BulkString(payload) = payload else {
            continue; // the key expired between SCAN and DUMP
        };
        let ttl = match ttl {
            ::redis::Value::Int(ms) if *ms > 0 => *ms,
            ::redis::Value::Int(-1) => 0,
            _ => continue, // expired
        };
        let cmd = write
            .cmd("RESTORE")
            .arg(key)
            .arg(ttl)
            .arg(payload.as_slice());
        if replace {
            cmd.arg("REPLACE");
        }
        count += 1;
    }
    if count > 0 {
        write.query_async::<()>(to).await.map_err(|e| {
            StepError::fatal(format!(
                "RESTORE on the target failed: {} (a target running an older Redis than the snapshot's cannot read its DUMP format)",
                redis_error(&e)
            ))
        })?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::{mapping, url_database};

    #[test]
    fn databases_keep_their_numbers_unless_the_url_names_one() {
        let snap = [(0, 5), (2, 1)];
        assert_eq!(mapping(&snap, None).unwrap(), vec![(0, 0, 5), (2, 2, 1)]);
        assert_eq!(mapping(&[(0, 5)], Some(3)).unwrap(), vec![(0, 3, 5)]);
        let err = mapping(&snap, Some(3)).unwrap_err();
        assert!(err.message.contains("db0, db2"), "{}", err.message);
    }

    #[test]
    fn the_url_database_is_read() {
        let url = |u: &str| crate::conn::ConnUrl::redis(u).expect("valid");
        assert_eq!(url_database(&url("redis://127.0.0.1:6379")), None);
        assert_eq!(url_database(&url("redis://127.0.0.1:6379/4")), Some(4));
        assert!(crate::conn::ConnUrl::redis("redis://127.0.0.1/x").is_err());
    }
}
