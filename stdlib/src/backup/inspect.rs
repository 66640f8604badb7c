//! What `ops plan --preflight` sees of a backup before it runs, read-only: the size of
//! the source (`pg_database_size`, Redis's key count and dataset memory, the selected
//! files) and the free space of the destination. A source that cannot be reached, or a
//! destination with less free space than the source's size, is reported as a failure:
//! the backup would fail the same way.

use std::path::Path;

use interpreter::step::{StepError, StepInput};

use super::files::Selection;
use super::run::target;
use super::scratch::{keyspace, redis_error};

/// A size rounded for people: `312.4 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Free bytes for an unprivileged writer on the filesystem holding `dir` (or its
/// nearest existing parent, since a backup creates its directory).
fn free_space(dir: &Path) -> Option<u64> {
    let mut at = dir;
    while !at.exists() {
        at = at.parent()?;
    }
    let stat = rustix::fs::statvfs(at).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The source's size and what that means for the destination.
pub async fn backup(variant: super::Backup, input: &StepInput) -> Result<String, StepError> {
    use super::Backup;
    let (bytes, what) = match variant {
        Backup::Postgres => postgres(input).await?,
        Backup::Redis => redis(input).await?,
        Backup::Files => {
            let selection = Selection::of(input)?;
            tokio::task::spawn_blocking(move || files(&selection))
                .await
                .map_err(|e| StepError::fatal(format!("the size walk failed: {e}")))??
        }
        _ => return Err(StepError::fatal("nothing to inspect")),
    };
    let Some(into) = input.str("into") else {
        return Ok(what);
    };
    match free_space(Path::new(into)) {
        Some(free) if free < bytes => Err(StepError::fatal(format!(
            "{what}, but {into} has only {} free",
            size(free)
        ))),
        Some(free) => Ok(format!("{what}; {into} has {} free", size(free))),
        None => Ok(what),
    }
}

async fn postgres(input: &StepInput) -> Result<(u64, String), StepError> {
    let url = target(input)?;
    let row = super::tools::pg_query_one(
        &url,
        None,
        "select current_database()::text, pg_database_size(current_database())",
        "the source",
    )
    .await?;
    let (db, bytes): (String, i64) = (row.get(0), row.get(1));
    let bytes = bytes.max(0) as u64;
    Ok((
        bytes,
        format!(
            "database `{db}` is {} on disk (pg_database_size; a compressed dump is usually much smaller)",
            size(bytes)
        ),
    ))
}

async fn redis(input: &StepInput) -> Result<(u64, String), StepError> {
    let url = target(input)?;
    let url = crate::conn::ConnUrl::redis(&url)?;
    let mut conn = crate::net::redis(Some(&url), None, crate::net::TARGET_REPLY, "the source")
        .await
        .map_err(|e| StepError::fatal(e.message))?;
    let keys: u64 = keyspace(&mut conn).await?.iter().map(|(_, n)| n).sum();
    let info: String = ::redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .map_err(|e| StepError::fatal(format!("INFO memory failed: {}", redis_error(&e))))?;
    let dataset = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_dataset:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Ok((
        dataset,
        format!(
            "{keys} keys, {} of data in memory (an RDB snapshot is usually smaller)",
            size(dataset)
        ),
    ))
}

fn files(selection: &Selection) -> Result<(u64, String), StepError> {
    let (mut count, mut bytes) = (0u64, 0u64);
    selection.walk(|entry, _| {
        if entry.file_type().is_file() {
            count += 1;
            bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
        Ok(())
    })?;
    Ok((
        bytes,
        format!(
            "{count} files, {} before compression, in {}",
            size(bytes),
            selection.source.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_rounded_for_people() {
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(1536), "1.5 KiB");
        assert_eq!(super::size(312 << 20), "312.0 MiB");
    }

    #[test]
    fn free_space_is_read_from_the_nearest_existing_parent() {
        let free = super::free_space(std::path::Path::new("/tmp/ops-no-such/dir/below"));
        assert!(free.is_some_and(|f| f > 0));
    }
}
