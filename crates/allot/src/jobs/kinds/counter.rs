//! `counter`: atomically increments a named counter in the database.
//! The increment is one upsert statement, so concurrent runs on several
//! replicas never lose an increment.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{RunContext, RunFailure, from_params, param_error};
use crate::http::problem::FieldError;
use crate::with_pool;

#[derive(Debug, Clone, PartialEq)]
pub struct CounterParams {
    /// The counter to increment; defaults to the task's id.
    pub counter: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    counter: Option<String>,
}

pub fn parse(params: &Value) -> Result<CounterParams, FieldError> {
    let raw: Raw = if params.is_null() {
        Raw::default()
    } else {
        from_params(params)?
    };
    if let Some(name) = &raw.counter
        && (name.is_empty() || name.len() > 200)
    {
        return Err(param_error(
            "counter",
            "counter name must be 1 to 200 characters",
        ));
    }
    Ok(CounterParams {
        counter: raw.counter,
    })
}

pub async fn run(
    p: &CounterParams,
    task_id: uuid::Uuid,
    ctx: &RunContext,
) -> Result<Value, RunFailure> {
    let name = p.counter.clone().unwrap_or_else(|| task_id.to_string());
    let value = increment(&ctx.db, &name).await.map_err(|e| RunFailure {
        error: format!("cannot increment counter {name:?}: {e}"),
        output: None,
    })?;
    Ok(json!({"counter": name, "value": value}))
}

/// Adds one to `name` (creating it at 1) and returns the new value.
pub async fn increment(db: &crate::store::Db, name: &str) -> Result<i64, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO counters (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 \
             RETURNING value",
        )
        .bind(name)
        .fetch_one(pool)
        .await
    })
}
