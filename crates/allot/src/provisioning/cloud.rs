//! The cloud provider's HTTP contract, client side: what `allot sim cloud`
//! serves and what an adapter for a real cloud must serve
//! (docs/provisioning.md, "Plugging in a real cloud").
//!
//! - `POST /vms` with `Idempotency-Key: K` -> 201 (or 200 on a replay of K)
//!   `{"id": "<uuid>"}`. The key is what makes a crash between the call
//!   and recording its answer harmless: repeating the call under K must
//!   return the VM K already made.
//! - `DELETE /vms/{id}` -> 204, also for a VM already stopped; 404 unknown.
//! - `GET /vms/{id}` -> `{"state": "allocating"|"ready"|"stopped",
//!   "ready_at"?: RFC 3339}`; 404 unknown.
//! - 429 with `Retry-After` (seconds) or `Retry-After-Ms` when over the
//!   rate limit; nothing happened.
//!
//! Every answer is sorted into one [`CallError`] kind that says what the
//! executor may do next; nothing the provider sends can panic it.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

/// Why a call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 429: nothing happened; try again after `retry_after` (when given).
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<SignedDuration> },
    /// 5xx, a timeout or a broken connection: the call may or may not have
    /// taken effect; repeat it (calls are idempotent).
    #[error("{0}")]
    Transient(String),
    /// 404: the provider does not know the VM.
    #[error("not found")]
    NotFound,
    /// Any other answer: the provider refused the call for good.
    #[error("refused with {status}: {body}")]
    Refused { status: u16, body: String },
}

/// What `GET /vms/{id}` says of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described {
    pub ready: bool,
    pub stopped: bool,
    /// When it is (or will be) ready, if the provider says.
    pub ready_at: Option<Timestamp>,
}

#[derive(Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    base: String,
}

/// The longest answer body kept in an error.
const MAX_ERROR_BODY: usize = 300;

impl CloudClient {
    /// A client of the provider at `base` (`http://host:port`); each call
    /// gives up after `timeout` (a [`CallError::Transient`]).
    pub fn new(base: &str, timeout: Duration) -> Result<CloudClient, String> {
        check_url(base)?;
        crate::tls::install();
        let http = reqwest::Client::builder()
            .user_agent(concat!("allot/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the cloud client: {e}"))?;
        Ok(CloudClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `start()`: a new VM, or the one `key` already made.
    pub async fn start(&self, key: &str) -> Result<Uuid, CallError> {
        #[derive(Deserialize)]
        struct Created {
            id: Uuid,
        }
        let response = self
            .http
            .post(format!("{}/vms", self.base))
            .header("idempotency-key", key)
            .send()
            .await
            .map_err(transport)?;
        let response = check(response).await?;
        let body = response.bytes().await.map_err(transport)?;
        serde_json::from_slice::<Created>(&body)
            .map(|c| c.id)
            .map_err(|e| CallError::Transient(format!("start() answered without an id: {e}")))
    }

    /// `stop()`. Stopping a VM already stopped succeeds.
    pub async fn stop(&self, vm: Uuid) -> Result<(), CallError> {
        let response = self
            .http
            .delete(format!("{}/vms/{vm}", self.base))
            .send()
            .await
            .map_err(transport)?;
        check(response).await.map(|_| ())
    }

    /// `describe()`: whether the VM is ready.
    pub async fn describe(&self, vm: Uuid) -> Result<Described, CallError> {
        #[derive(Deserialize)]
        struct View {
            state: String,
            #[serde(default)]
            ready_at: Option<Timestamp>,
        }
        let response = self
            .http
            .get(format!("{}/vms/{vm}", self.base))
            .send()
            .await
            .map_err(transport)?;
        let response = check(response).await?;
        let body = response.bytes().await.map_err(transport)?;
        let view: View = serde_json::from_slice(&body)
            .map_err(|e| CallError::Transient(format!("describe() answer unreadable: {e}")))?;
        Ok(Described {
            ready: view.state == "ready",
            stopped: view.state == "stopped",
            ready_at: view.ready_at,
        })
    }
}

/// Whether `base` can be a provider's URL (http or https).
pub fn check_url(base: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(base).map_err(|e| format!("cloud URL {base:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("cloud URL {base:?}: must be http:// or https://"));
    }
    Ok(())
}

fn transport(e: reqwest::Error) -> CallError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    CallError::Transient(format!("call {what}: {e}"))
}

/// The response if it is a success; otherwise its error kind.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(CallError::RateLimited {
            retry_after: retry_after(response.headers()),
        });
    }
    if status == StatusCode::NOT_FOUND {
        return Err(CallError::NotFound);
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(MAX_ERROR_BODY).collect();
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Err(CallError::Transient(format!("answered {status}: {body}")));
    }
    Err(CallError::Refused {
        status: status.as_u16(),
        body,
    })
}

/// `Retry-After-Ms` if present and readable, else `Retry-After` in whole
/// seconds (the HTTP-date form is not used by rate limiters and is ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<SignedDuration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(SignedDuration::from_millis(
            i64::try_from(ms).unwrap_or(i64::MAX),
        ));
    }
    number("retry-after").map(|s| SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_prefers_milliseconds_and_ignores_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(SignedDuration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("1250"));
        assert_eq!(retry_after(&h), Some(SignedDuration::from_millis(1250)));
        let mut d = HeaderMap::new();
        d.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&d), None);
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(CloudClient::new("http://127.0.0.1:9000/", Duration::from_secs(1)).is_ok());
        assert!(CloudClient::new("ftp://x", Duration::from_secs(1)).is_err());
        assert!(CloudClient::new("not a url", Duration::from_secs(1)).is_err());
    }
}
