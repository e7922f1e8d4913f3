//! Optimistic concurrency, the same way on every resource that has a
//! `version`: the version goes out as the `ETag`, comes back as `If-Match`
//! (or a `version` field), and a mismatch is a 409 `version_conflict`
//! naming both versions.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use serde::Serialize;
use uuid::Uuid;

use super::problem::Problem;

/// The version an `If-Match` value names: `"3"`, `W/"3"` or `3`.
pub fn parse_if_match(value: &str) -> Result<i64, Problem> {
    let v = value.trim().trim_start_matches("W/").trim_matches('"');
    v.parse::<i64>().map_err(|_| {
        Problem::bad_request(format!(
            "If-Match must be an entity tag this API gave out, like \"3\"; got {value:?}"
        ))
    })
}

/// The version the request's `If-Match` header expects, if it has one.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Problem> {
    headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str()
                .map_err(|_| Problem::bad_request("If-Match is not valid text"))
                .and_then(parse_if_match)
        })
        .transpose()
}

/// `body` as JSON with its version as the `ETag`.
pub fn with_etag<T: Serialize>(version: i64, body: T) -> impl IntoResponse {
    let etag = HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    ([(header::ETAG, etag)], Json(body))
}

/// 409: `what` `id` is at `current`, not the `expected` version.
pub fn version_conflict(what: &str, id: Uuid, expected: i64, current: i64) -> Problem {
    Problem::conflict(
        "version_conflict",
        format!("{what} {id} is at version {current}, not {expected}; read it again and retry"),
    )
    .with("id", id)
    .with("expected_version", expected)
    .with("current_version", current)
}
