//! What every list endpoint shares: ids from paths, page sizes and opaque
//! keyset cursors.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::problem::Problem;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

/// Parses an id from a path; a malformed id is simply not found.
pub fn parse_id(id: &str, what: &str) -> Result<Uuid, Problem> {
    id.parse::<Uuid>().map_err(|_| Problem::not_found(what, id))
}

/// The page size asked for: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
pub fn page_limit(limit: Option<i64>) -> Result<i64, Problem> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::invalid_query(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {n}"
        ))),
    }
}

/// Keyset cursors are `<time>|<id>`, hex-encoded so they are opaque and
/// URL-safe.
pub fn encode_cursor(at: Timestamp, id: Uuid) -> String {
    hex::encode(format!("{at}|{id}"))
}

pub fn decode_cursor(c: &str) -> Option<(Timestamp, Uuid)> {
    let raw = String::from_utf8(hex::decode(c).ok()?).ok()?;
    let (at, id) = raw.split_once('|')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

/// A cursor this API never gave out.
pub fn bad_cursor(c: &str) -> Problem {
    Problem::invalid_query(format!("cursor {c:?} is not a cursor this API gave out"))
}

/// A page of results; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
