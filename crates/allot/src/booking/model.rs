//! The booking API's wire types. Field names are the public contract.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `POST /v1/systems`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSystem {
    pub name: String,
    /// The capabilities entries on this system may require.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// How many entries may overlap at any instant (at least 1).
    pub capacity: i64,
    /// IANA time zone, informational (e.g. for displays).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// `PATCH /v1/systems/{id}`: every field optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSystem {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub capacity: Option<i64>,
    /// A zone name; `null` leaves it unchanged, `""` clears it.
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct System {
    pub id: Uuid,
    pub name: String,
    pub capabilities: Vec<String>,
    pub capacity: i64,
    pub timezone: Option<String>,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// `POST /v1/systems/{id}/entries`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    /// Inclusive start (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Exclusive end (RFC 3339), after `start`.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Required capabilities: a subset of the system's.
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// Any JSON object, kept as given.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `PATCH /v1/entries/{id}`: move, resize, change capabilities, label or
/// metadata. `version` (or an `If-Match` header) makes it conditional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntry {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The version this change was based on; a different current version is a 409.
    #[serde(default)]
    pub version: Option<i64>,
}

/// Why and by what an entry was evicted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Eviction {
    pub outage_id: Option<Uuid>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: Uuid,
    pub system_id: Uuid,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub capabilities: Vec<String>,
    pub label: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// `active`, `evicted` or `deleted`.
    pub status: String,
    pub version: i64,
    pub eviction: Option<Eviction>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageKind {
    /// Known start and end.
    Planned,
    /// Unknown end; conflicts are cleared within a window sliding with the clock.
    Unplanned,
}

impl OutageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutageKind::Planned => "planned",
            OutageKind::Unplanned => "unplanned",
        }
    }
}

/// `POST /v1/systems/{id}/outages`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOutage {
    pub kind: OutageKind,
    /// `null` (default): the whole system; otherwise only these capabilities.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// planned: required; unplanned: default now, not in the future.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    /// planned only: required, after `start`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    /// unplanned only, informational.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expected_end: Option<Timestamp>,
    /// unplanned only, required: how far ahead of now conflicts are cleared, e.g. `2h`.
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PATCH /v1/outages/{id}`. planned: `start`, `end`, `capabilities`,
/// `reason`; unplanned: `window`, `capabilities`, `expected_end`, `reason`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOutage {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub capabilities: Option<Option<Vec<String>>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expected_end: Option<Timestamp>,
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outage {
    pub id: Uuid,
    pub system_id: Uuid,
    pub kind: OutageKind,
    /// `null`: the whole system.
    pub capabilities: Option<Vec<String>>,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// planned: its end; unplanned: when it was resolved (null until then).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expected_end: Option<Timestamp>,
    /// unplanned: the sliding window, e.g. `2h`.
    pub window: Option<String>,
    pub reason: String,
    /// `scheduled` (planned, not begun), `ongoing`, `ended` or `resolved`.
    pub state: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// An outage after a change, with the entries the change evicted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutageChange {
    #[serde(flatten)]
    pub outage: Outage,
    pub evicted: Vec<Uuid>,
}

/// `?evict=true` on outage writes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EvictQuery {
    /// Evict conflicting entries instead of refusing (planned outages).
    pub evict: Option<bool>,
}

/// `GET /v1/systems/{id}/entries`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntryListQuery {
    /// Entries ending after this instant (RFC 3339).
    pub from: Option<String>,
    /// Entries starting before this instant (RFC 3339).
    pub to: Option<String>,
    /// `active`, `evicted` or `deleted`; default all.
    pub status: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /v1/systems`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SystemListQuery {
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /v1/systems/{id}/outages`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutageListQuery {
    /// `open` (not resolved or ended) or `all` (default).
    pub state: Option<String>,
}

/// `GET /v1/systems/{id}/availability` and `.../slots`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// RFC 3339; default now.
    pub from: Option<String>,
    /// RFC 3339; default `from` + 7 days (availability) or + 30 days (slots).
    pub to: Option<String>,
    /// Comma-separated capabilities the entry would require.
    pub capabilities: Option<String>,
    /// slots only: the entry's length, e.g. `1h30m`.
    pub duration: Option<String>,
    /// slots only: at most this many (1 to 1000, default 10).
    pub limit: Option<i64>,
}

/// Free capacity over time.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Availability {
    pub system_id: Uuid,
    pub capacity: i64,
    /// `[start, end, free]`: maximal pieces of constant free capacity,
    /// covering `[from, to)`; 0 where an outage blocks.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub segments: Vec<(Timestamp, Timestamp, u32)>,
    /// Outages present now: while any is, no new entry is accepted.
    pub blocked_by: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Slot {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Slots {
    pub items: Vec<Slot>,
    /// Outages present now: while any is, no slot is offered.
    pub blocked_by: Vec<Uuid>,
}

/// `GET /v1/booking/events`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The `next_cursor` of the previous page; omit to start at the beginning.
    pub after: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BookingEvent {
    /// This event's position; pass it as `after` to read what follows.
    pub cursor: String,
    /// `entry.created`, `entry.updated`, `entry.deleted`, `entry.evicted`,
    /// `outage.created`, `outage.updated`, `outage.resolved`.
    pub kind: String,
    pub system_id: Uuid,
    pub entry_id: Option<Uuid>,
    pub outage_id: Option<Uuid>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The entry or outage after the change.
    #[schema(value_type = Object)]
    pub data: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPage {
    pub items: Vec<BookingEvent>,
    /// Where to continue; equal to `after` when nothing new has happened.
    pub next_cursor: Option<String>,
}
