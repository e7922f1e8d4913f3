//! The provider's HTTP face: parse the request, ask the [`Provider`] under
//! its lock with the injected clock's `now`, hold the answer as told (tokio
//! time, cut short at shutdown), and shape it. Every error is JSON
//! `{"error": "<code>"}`; no request can panic the server.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::SignedDuration;
use serde_json::json;
use uuid::Uuid;

use super::Shared;
use super::config::MAX_IDEMPOTENCY_KEY_CHARS;
use super::fleet::{Started, Stopped, VmView};
use super::provider::{Answer, Endpoint};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const RETRY_AFTER_MS: &str = "retry-after-ms";

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/vms", post(start).get(list))
        .route("/vms/{id}", get(describe).delete(stop))
        .route("/stats", get(stats))
        .fallback(unknown_route)
        .with_state(shared)
}

async fn start(State(sim): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(message) => {
            sim.provider().refuse_invalid(Endpoint::Start);
            return invalid("invalid-idempotency-key", message);
        }
    };
    let reply = sim.call(|p, now| p.start(now, key.as_deref()));
    sim.hold(reply.hold).await;
    match reply.answer {
        Answer::RateLimited { retry_after } => rate_limited(retry_after),
        Answer::Failed => error(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Answer::Done(started) => {
            let status = match started {
                Started::Created(_) => StatusCode::CREATED,
                Started::Replayed(_) => StatusCode::OK,
            };
            (status, Json(json!({ "id": started.id() }))).into_response()
        }
        Answer::Lost(_) => error(StatusCode::GATEWAY_TIMEOUT, "timeout"),
    }
}

async fn stop(State(sim): State<Arc<Shared>>, id: Result<Path<String>, PathRejection>) -> Response {
    let Some(id) = vm_id(id) else {
        sim.provider().refuse_invalid(Endpoint::Stop);
        return invalid("invalid-id", "a VM id is a UUID".to_owned());
    };
    let reply = sim.call(|p, now| p.stop(now, id));
    sim.hold(reply.hold).await;
    match reply.answer {
        Answer::RateLimited { retry_after } => rate_limited(retry_after),
        Answer::Failed => error(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Answer::Done(Stopped::Now | Stopped::Already) | Answer::Lost(_) => {
            StatusCode::NO_CONTENT.into_response()
        }
        Answer::Done(Stopped::NotFound) => error(StatusCode::NOT_FOUND, "not-found"),
    }
}

async fn list(State(sim): State<Arc<Shared>>) -> Response {
    // A struct rather than json!, which would sort each VM's fields.
    #[derive(serde::Serialize)]
    struct List {
        vms: Vec<VmView>,
    }
    let vms = sim.call(|p, now| p.vms(now));
    Json(List { vms }).into_response()
}

async fn describe(
    State(sim): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(id) = vm_id(id) else {
        return invalid("invalid-id", "a VM id is a UUID".to_owned());
    };
    match sim.call(|p, now| p.vm(now, id)) {
        Some(vm) => Json(vm).into_response(),
        None => error(StatusCode::NOT_FOUND, "not-found"),
    }
}

async fn stats(State(sim): State<Arc<Shared>>) -> Response {
    Json(sim.provider().stats()).into_response()
}

async fn unknown_route() -> Response {
    error(StatusCode::NOT_FOUND, "not-found")
}

/// The id in the path, if it is one (a path that does not even decode is
/// just as malformed, and answered the same way).
fn vm_id(path: Result<Path<String>, PathRejection>) -> Option<Uuid> {
    path.ok().and_then(|Path(text)| Uuid::parse_str(&text).ok())
}

/// The key if one was sent: one header, 1 to 200 characters of UTF-8.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, String> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("send one Idempotency-Key header, not several".to_owned());
    }
    let key = std::str::from_utf8(value.as_bytes())
        .map_err(|_| "the Idempotency-Key is not UTF-8".to_owned())?;
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(format!(
            "the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters, got {chars}"
        ));
    }
    Ok(Some(key.to_owned()))
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

fn invalid(code: &str, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}

/// 429 with `Retry-After` in whole seconds (rounded up, at least 1) and
/// `Retry-After-Ms` (rounded up to the millisecond, at least 1): the time
/// after which the same request would be accepted.
fn rate_limited(retry_after: SignedDuration) -> Response {
    let micros = u64::try_from(retry_after.as_micros()).unwrap_or(1).max(1);
    let ms = micros.div_ceil(1_000);
    let secs = micros.div_ceil(1_000_000);
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate-limit-exceeded");
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    headers.insert(
        HeaderName::from_static(RETRY_AFTER_MS),
        HeaderValue::from(ms),
    );
    response
}
