//! `http`: a GET whose status and response time are recorded; non-2xx fails.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{KindSettings, RunContext, RunFailure, duration_param, from_params, url_param};
use crate::http::problem::FieldError;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpParams {
    pub url: reqwest::Url,
    pub timeout: Duration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn parse(params: &Value, settings: &KindSettings) -> Result<HttpParams, FieldError> {
    let raw: Raw = if params.is_null() {
        Raw::default()
    } else {
        from_params(params)?
    };
    let url = raw.url.unwrap_or_else(|| settings.http_default_url.clone());
    let timeout = match raw.timeout {
        Some(t) => duration_param("timeout", &t)?,
        None => DEFAULT_TIMEOUT,
    };
    if timeout.is_zero() {
        return Err(super::param_error(
            "timeout",
            "timeout must be more than 0s",
        ));
    }
    Ok(HttpParams {
        url: url_param("url", &url, settings)?,
        timeout,
    })
}

pub async fn run(p: &HttpParams, ctx: &RunContext) -> Result<Value, RunFailure> {
    let started = std::time::Instant::now();
    let result = ctx.http.get(p.url.clone()).timeout(p.timeout).send().await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(response) => {
            let status = response.status();
            let output = json!({"status": status.as_u16(), "elapsed_ms": elapsed_ms});
            if status.is_success() {
                Ok(output)
            } else {
                Err(RunFailure {
                    error: format!("GET {} answered {status}", p.url),
                    output: Some(output),
                })
            }
        }
        Err(e) => Err(RunFailure {
            error: format!("GET {} failed: {e}", p.url),
            output: Some(json!({"elapsed_ms": elapsed_ms})),
        }),
    }
}
