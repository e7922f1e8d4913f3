//! Request extractors whose rejections are problem documents, so malformed
//! JSON, wrong types, missing fields and oversized bodies all answer with a
//! 4xx `application/problem+json` that names what was wrong and where.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::{FieldError, Problem};

/// A JSON body. Errors: 415 without a JSON content type, 413 over the body
/// limit, 400 for malformed JSON, 422 (with a JSON pointer) for a body that is
/// JSON but not the expected shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let essence = ct.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses `bytes` as `T`, with problem errors as [`ApiJson`] describes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(format!("malformed JSON: {e}"))
            .with("line", e.line())
            .with("column", e.column())
    })?;
    if let Some(pointer) = find_nul(&value, String::new()) {
        return Err(Problem::invalid(
            &pointer,
            "text must not contain NUL characters (\\u0000)",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut pointer = path_to_pointer(e.path());
        let message = e.into_inner().to_string();
        // serde reports a missing field at its parent; point at the field itself.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            pointer.push('/');
            pointer.push_str(field);
        }
        Problem::validation(vec![FieldError { pointer, message }])
    })
}

/// The pointer of the first key or string holding a NUL character. Neither
/// PostgreSQL `text` nor `jsonb` can store one, so without this check such a
/// body would pass validation and fail in the database with a 500.
fn find_nul(value: &serde_json::Value, pointer: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(pointer),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v, format!("{pointer}/{i}"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
            if k.contains('\0') {
                Some(child)
            } else {
                find_nul(v, child)
            }
        }),
        _ => None,
    }
}

/// A raw body of any type, with the same 413 problem as [`ApiJson`] when
/// it is over the route's body limit.
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(body_rejection)
    }
}

fn body_rejection(rejection: BytesRejection) -> Problem {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            status,
            "payload-too-large",
            "Payload too large",
            "the request body is larger than the server accepts",
        )
    } else {
        Problem::bad_request(format!("cannot read the request body: {rejection}"))
    }
}

/// Turns serde's path (`schedule.every`, `params[0]`) into a JSON pointer
/// (`/schedule/every`, `/params/0`).
fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => out.push_str("/?"),
        }
    }
    out
}

/// Query parameters, with a 400 problem naming the bad parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| Problem::invalid_query(e.body_text()))
    }
}
