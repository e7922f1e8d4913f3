//! `webhook`: POSTs a JSON body signed with HMAC-SHA256.
//!
//! Headers: `X-Allot-Timestamp: <unix seconds>` and
//! `X-Allot-Signature: sha256=<hex>` where the MAC is computed over
//! `"{timestamp}.{body}"`, so a receiver can reject replays of old requests.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{KindSettings, RunContext, RunFailure, from_params, param_error, url_param};
use crate::http::problem::FieldError;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookParams {
    pub url: reqwest::Url,
    pub body: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: String,
    #[serde(default)]
    body: Option<Value>,
}

pub fn parse(params: &Value, settings: &KindSettings) -> Result<WebhookParams, FieldError> {
    let raw: Raw = from_params(params)?;
    if settings.webhook_secret.is_none() {
        return Err(param_error(
            "url",
            "webhook tasks need a signing secret: start the server with ALLOT_WEBHOOK_SECRET set",
        ));
    }
    Ok(WebhookParams {
        url: url_param("url", &raw.url, settings)?,
        body: raw.body.unwrap_or_else(|| json!({})),
    })
}

/// The signature header value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn run(
    p: &WebhookParams,
    task_id: uuid::Uuid,
    ctx: &RunContext,
) -> Result<Value, RunFailure> {
    let secret = ctx
        .settings
        .webhook_secret
        .clone()
        .ok_or_else(|| RunFailure {
            error: "no webhook secret is configured (ALLOT_WEBHOOK_SECRET)".to_string(),
            output: None,
        })?;
    let body = serde_json::to_vec(&p.body).unwrap_or_default();
    let timestamp = ctx.clock.now().as_second();
    let started = std::time::Instant::now();
    let result = ctx
        .http
        .post(p.url.clone())
        .header("content-type", "application/json")
        .header("x-allot-task", task_id.to_string())
        .header("x-allot-timestamp", timestamp.to_string())
        .header("x-allot-signature", sign(&secret, timestamp, &body))
        .body(body)
        .send()
        .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(response) if response.status().is_success() => {
            Ok(json!({"status": response.status().as_u16(), "elapsed_ms": elapsed_ms}))
        }
        Ok(response) => Err(RunFailure {
            error: format!("POST {} answered {}", p.url, response.status()),
            output: Some(json!({"status": response.status().as_u16(), "elapsed_ms": elapsed_ms})),
        }),
        Err(e) => Err(RunFailure {
            error: format!("POST {} failed: {e}", p.url),
            output: Some(json!({"elapsed_ms": elapsed_ms})),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = sign("k", 1, b"{}");
        assert!(a.starts_with("sha256="));
        assert_ne!(a, sign("k", 2, b"{}"));
        assert_ne!(a, sign("k", 1, b"{ }"));
        assert_ne!(a, sign("other", 1, b"{}"));
        assert_eq!(a, sign("k", 1, b"{}"));
    }
}
