//! `sleep`: waits, and records how long it really slept.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{duration_param, from_params};
use crate::http::problem::FieldError;

#[derive(Debug, Clone, PartialEq)]
pub struct SleepParams {
    pub duration: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    duration: String,
}

pub fn parse(params: &Value) -> Result<SleepParams, FieldError> {
    let raw: Raw = from_params(params)?;
    // "0s" is allowed: a no-op task is useful for tests and benchmarks.
    Ok(SleepParams {
        duration: duration_param("duration", &raw.duration)?,
    })
}

pub async fn run(p: &SleepParams) -> Value {
    let started = tokio::time::Instant::now();
    if !p.duration.is_zero() {
        tokio::time::sleep(p.duration).await;
    }
    json!({"slept_ms": started.elapsed().as_millis() as u64})
}
