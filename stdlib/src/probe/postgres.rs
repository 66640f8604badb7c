//! `probe postgres URL { query = "..." }`: connects and runs the query inside a
//! READ ONLY transaction (rolled back), so a probe cannot change data even by mistake.
//! Outputs `rows` (maps by column name), `row_count`, `value` (first column of the first
//! row) and `latency`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use interpreter::world::Touches;
use lang::schema::Variant;
use tokio_postgres::types::Type;

/// Rows kept at most in the outputs.
const MAX_ROWS: usize = 1_000;

/// `probe postgres URL`.
pub struct Postgres;

impl StepKind for Postgres {
    fn variant(&self) -> &'static Variant {
        &super::POSTGRES
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
                crate::conn::Flavor::Postgres,
            )),
            ..StepPlan::new(format!(
                "runs {} read-only on {}",
                view.attr("query"),
                view.target()
            ))
        }
    }
}

/// A PostgreSQL error with its causes, or the server's message and SQLSTATE.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

async fn probe(input: &StepInput) -> Result<Outputs, StepError> {
    let url = input
        .target_str()
        .ok_or_else(|| StepError::fatal("`probe postgres` needs a connection string"))?;
    let query = input.str("query").unwrap_or("select 1");
    let conn = crate::conn::ConnUrl::postgres(url)?;
    let started = tokio::time::Instant::now();
    let (mut client, driver) =
        crate::net::postgres(&conn, None, crate::net::PROBE_POSTGRES_REPLY, "PostgreSQL").await?;
    let result = async {
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| {
                StepError::new(format!(
                    "cannot start a read-only transaction: {}",
                    describe(&e)
                ))
            })?;
        let rows = tx
            .query(query, &[])
            .await
            .map_err(|e| StepError::fatal(format!("the query failed: {}", describe(&e))))?;
        let _ = tx.rollback().await;
        Ok::<_, StepError>(rows)
    }
    .await;
    let latency = started.elapsed();
    drop(client);
    driver.abort();
    let rows = result?;
    let row_count = rows.len();
    let mut out_rows = Vec::new();
    for row in rows.iter().take(MAX_ROWS) {
        let mut map = IndexMap::new();
        for (i, column) in row.columns().iter().enumerate() {
            map.insert(column.name().to_string(), cell(row, i, column.type_())?);
        }
        out_rows.push(Value::Map(map));
    }
    let value = out_rows
        .first()
        .and_then(Value::as_map)
        .and_then(|m| m.values().next().cloned())
        .unwrap_or(Value::Null);
    let mut out = Outputs::new();
    out.insert("rows".into(), Value::List(out_rows));
    out.insert("row_count".into(), Value::Int(row_count as i64));
    out.insert("value".into(), value);
    out.insert(
        "latency".into(),
        Value::Duration(Duration::from_micros(latency.as_micros() as u64)),
    );
    Ok(out)
}

/// One cell as a value; types without a natural value ask for a cast.
fn cell(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<Value, StepError> {
    let err = |e: tokio_postgres::Error| StepError::fatal(format!("reading column {i}: {e}"));
    Ok(match *ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Bool),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Int),
        Type::OID => row
            .try_get::<_, Option<u32>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Float(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Float),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => row
            .try_get::<_, Option<String>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Str),
        Type::JSON | Type::JSONB => row
            .try_get::<_, Option<serde_json::Value>>(i)
            .map_err(err)?
            .map_or(Value::Null, |j| Value::from_json(&j)),
        ref other => {
            let name = row.columns().get(i).map_or("?", |c| c.name());
            return Err(StepError::fatal(format!(
                "column `{name}` has type {other}, which a probe cannot read; cast it in the query (`{name}::text` or `{name}::float8`)"
            )));
        }
    })
}
