//! The calendar API's wire types. Field names are the public contract
//! (issue #4 and the problem statement it answers).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `POST /v1/calendars`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendar {
    /// Whose calendar this is (a name, 1 to 200 characters).
    pub owner: String,
    /// IANA time zone; event dates, times and working hours are read in it.
    pub timezone: String,
    /// Weekly rules in local time, e.g.
    /// `[{"days": ["mon","tue","wed","thu","fri"], "start": "08:00", "end": "17:00"}]`.
    /// Default: all day, every day.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub working_hours: Option<Value>,
    /// How many days ahead of now auto-placement may place an event's end.
    #[serde(default)]
    pub horizon_days: Option<i64>,
    /// Auto-placed events start on this grid from local midnight: seconds
    /// or a duration like `"15m"`. Default 5 minutes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub slot_granularity: Option<Value>,
    /// Where notifications of this calendar are POSTed (optional).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key webhook bodies are signed with.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// `PATCH /v1/calendars/{id}`: every field optional; `null` leaves a field
/// unchanged. `horizon_days: 0` removes the horizon; `webhook_url: ""`
/// removes the webhook.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCalendar {
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub working_hours: Option<Value>,
    #[serde(default)]
    pub horizon_days: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub slot_granularity: Option<Value>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Optimistic concurrency: refused with 409 unless it is the current version.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Calendar {
    pub id: Uuid,
    pub owner: String,
    pub timezone: String,
    #[schema(value_type = Vec<Object>)]
    pub working_hours: Value,
    pub horizon_days: Option<i64>,
    /// In seconds.
    pub slot_granularity: i64,
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is set (the secret itself is never returned).
    pub webhook_signed: bool,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// `POST /v1/calendars/{id}/events`, as in the problem statement.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    pub event_name: String,
    /// `YYYY-MM-DD`, in the calendar's time zone.
    pub date: String,
    /// `HH:MM` or `HH:MM:SS` local time. Given: the event is placed exactly
    /// there (`explicit`). Absent: at the earliest open slot (`auto`).
    #[serde(default)]
    pub start_time: Option<String>,
    /// Seconds (a number) or a duration like `"45m"`.
    #[schema(value_type = Object)]
    pub duration: Value,
    #[serde(default)]
    pub attendees: Vec<String>,
    #[serde(default)]
    pub event_location: String,
    /// Auto-placement may also look at the following `search_days` days.
    #[serde(default)]
    pub search_days: Option<i64>,
}

/// `PATCH /v1/events/{id}`: every field optional. Changing `date`,
/// `start_time` or `duration` places the event again; giving `start_time`
/// makes it explicit, `start_time: ""` makes it auto-placed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEvent {
    #[serde(default)]
    pub event_name: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub duration: Option<Value>,
    #[serde(default)]
    pub attendees: Option<Vec<String>>,
    #[serde(default)]
    pub event_location: Option<String>,
    #[serde(default)]
    pub search_days: Option<i64>,
    /// Optimistic concurrency (or the `If-Match` header).
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub name: String,
    /// Null while `unplaced`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    /// The requested local date and (explicit events) local start time.
    pub date: String,
    pub start_time: Option<String>,
    /// Seconds.
    pub duration: i64,
    pub attendees: Vec<String>,
    /// The attendees that are calendars: each holds the same span.
    pub participants: Vec<Uuid>,
    pub location: String,
    /// `explicit` or `auto`.
    pub placement: String,
    /// `scheduled`, `cancelled` or `unplaced`.
    pub state: String,
    /// `pending`, `in_progress`, `completed`, `cancelled` or `unplaced`.
    pub status: String,
    /// An explicit event placed outside the calendar's working hours.
    pub outside_working_hours: bool,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// `GET /v1/events/{id}/status`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventStatus {
    pub id: Uuid,
    pub status: String,
}

/// `GET /v1/calendars/{id}/events`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// Events ending after this instant (RFC 3339).
    pub from: Option<String>,
    /// Events starting before this instant (RFC 3339).
    pub to: Option<String>,
    /// `pending`, `in_progress`, `completed`, `cancelled` or `unplaced`.
    pub status: Option<String>,
    /// Only events with this attendee.
    pub attendee: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /v1/calendars/{id}/free`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FreeQuery {
    /// `YYYY-MM-DD` in the calendar's time zone.
    pub date: String,
    /// Seconds or a duration like `45m`.
    pub duration: String,
    /// Most slots returned (1 to 1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FreeSlot {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FreeSlots {
    pub items: Vec<FreeSlot>,
}

/// `GET /v1/calendars`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarListQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /v1/calendars/{id}/deliveries`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// `pending` or `delivered`; default both.
    pub state: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The webhook delivery of one notification.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub notification_id: Uuid,
    /// The notification's kind (`unplaceable`, `displaced`, ...).
    pub kind: String,
    /// Where it is POSTed: the calendar's `webhook_url` when the
    /// notification was written.
    pub url: String,
    /// `pending` (not yet answered with a 2xx; retried) or `delivered`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (null once delivered). While an attempt
    /// is in flight this is the end of its claim lease.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// The HTTP status of the last attempt (null when it got no answer).
    pub last_status: Option<i64>,
    /// Why the last attempt failed (null after a success).
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}
