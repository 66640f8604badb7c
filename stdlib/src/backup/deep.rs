//! `backup verify { deep = true }`: proves a backup restores by restoring it into a
//! throwaway target. PostgreSQL: a scratch database created on the server named by
//! `scratch` and always dropped afterwards; Redis: a private `redis-server` that loads the
//! snapshot; files: extraction into a temporary directory.

use std::path::Path;

use interpreter::step::{StepContext, StepError, StepInput};

use super::scratch::{ScratchDatabase, ScratchRedis};
use super::store::Manifest;
use super::tools;

/// Restores the backup into a throwaway target; says what it found there.
pub async fn check(
    path: &Path,
    manifest: &Manifest,
    input: &StepInput,
    ctx: &StepContext,
) -> Result<String, String> {
    match manifest.kind.as_str() {
        "postgres" => {
            let url = input.str("scratch").ok_or_else(|| {
                String::from(
                    "a deep check of a PostgreSQL backup needs `scratch = URL`: a server where ops may create (and then drop) a database",
                )
            })?;
            postgres(path, url, ctx).await.map_err(|e| e.message)
        }
        "redis" => {
            let mut server = ScratchRedis::load(path, ctx).await.map_err(|e| e.message)?;
            let keys: u64 = server
                .keyspace()
                .await
                .map_err(|e| e.message)?
                .iter()
                .map(|(_, n)| n)
                .sum();
            Ok(format!("loaded by redis-server ({keys} keys)"))
        }
        "files" => {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || -> Result<String, String> {
                let dir = tempfile::Builder::new()
                    .prefix("ops-verify-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a scratch directory: {e}"))?;
                let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
                let decoder = zstd::Decoder::new(file).map_err(|e| format!("zstd: {e}"))?;
                tar::Archive::new(decoder)
                    .unpack(dir.path())
                    .map_err(|e| format!("extraction failed: {e}"))?;
                let files = walkdir::WalkDir::new(dir.path())
                    .into_iter()
                    .flatten()
                    .filter(|e| e.file_type().is_file())
                    .count();
                Ok(format!(
                    "extracted into a scratch directory ({files} files)"
                ))
            })
            .await
            .map_err(|e| e.to_string())?
        }
        other => Err(format!("unknown backup kind `{other}`")),
    }
}

/// `pg_restore` into a scratch database, count what arrived, drop the database.
async fn postgres(path: &Path, url: &str, ctx: &StepContext) -> Result<String, StepError> {
    let db = ScratchDatabase::create(url, ctx).await?;
    let restored = async {
        let mut cmd = tools::command("pg_restore", db.env());
        cmd.args(["--no-owner", "--no-acl", "--exit-on-error"])
            .arg(format!("--dbname={}", db.dbname()))
            .arg(path);
        tools::run(cmd, "pg_restore into the scratch database", ctx).await?;
        count_tables(url, &db.name).await
    }
    .await;
    let dropped = db.drop_now(ctx).await;
    let tables = restored?;
    dropped?;
    Ok(format!(
        "restored into a scratch database ({tables} tables), then dropped it"
    ))
}

/// Tables outside the system schemas of a database on the server of `url`.
async fn count_tables(url: &str, db: &str) -> Result<i64, StepError> {
    let row = tools::pg_query_one(
        url,
        Some(db),
        "select count(*) from pg_catalog.pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
        "the scratch database",
    )
    .await?;
    Ok(row.get::<_, i64>(0))
}
