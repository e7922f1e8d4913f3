//! Wire types of `GET /v1/notifications`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `GET /v1/notifications`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// The `next_cursor` of the previous page; omit to start at the beginning.
    pub after: Option<String>,
    /// Wait up to this long (e.g. `30s`, at most 60s) for something new.
    pub wait: Option<String>,
    /// Only this module's notifications: `calendar` (needs
    /// `calendar:read`) or `provisioning` (needs `provisioning:read`).
    /// Default: every module the token may read.
    pub module: Option<String>,
    /// Only this calendar's notifications (needs `calendar:read`).
    pub calendar_id: Option<String>,
    /// Only this exam's notifications (needs `provisioning:read`).
    pub exam_id: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    /// This notification's position; pass it as `after` to read what follows.
    pub cursor: String,
    /// The module that wrote it: `calendar` or `provisioning`.
    pub module: String,
    /// calendar: `unplaceable`, `displaced`, `replaced`, `unplaced` or
    /// `evicted_by_outage`; provisioning: `exam_infeasible`,
    /// `shortfall_changed` or `vm_maybe_leaked`.
    pub kind: String,
    /// The calendar (calendar notifications); null for provisioning ones.
    pub calendar_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// The exam (provisioning notifications); null for calendar ones.
    pub exam_id: Option<Uuid>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    #[schema(value_type = Object)]
    pub data: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// Where to continue; equal to `after` when nothing new has happened.
    pub next_cursor: Option<String>,
}
