//! The exams API's wire types. Field names are the public contract; they
//! are also the column names of the `exams` table other applications write.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// `POST /v1/exams`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExam {
    /// 1 to 200 characters, not blank.
    pub name: String,
    /// When the exam begins (RFC 3339 with an offset); every student's VM
    /// must be ready by then.
    #[schema(value_type = String, format = DateTime)]
    pub start_at: Timestamp,
    /// When it ends, after `start_at`; its VMs are stopped after it.
    #[schema(value_type = String, format = DateTime)]
    pub end_at: Timestamp,
    /// One VM per student: 1 to the server's maximum (10000 by default).
    pub students: i64,
}

/// `PATCH /v1/exams/{id}`: any subset of the fields. The result is checked
/// as a whole, against the stored values of the fields not given. `null` is
/// refused: no field can be cleared.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExam {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "present")]
    pub students: Option<i64>,
}

/// A field that, when given, must hold a value: `null` fails as a wrong
/// type (a 422 naming the field) instead of reading as "unchanged".
fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

/// An exam: `students` VMs, ready by `start_at`, stopped after `end_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exam {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub start_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_at: Timestamp,
    pub students: u32,
}

/// `GET /v1/exams`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExamListQuery {
    /// Exams starting at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Exams starting before this instant (RFC 3339).
    pub to: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

// ---- what the user sees of provisioning ----

/// `GET /v1/exams/{id}/provisioning`: where one exam's VMs are, and what
/// the plan predicts. Counts of ledger rows (`requested`, `pending`,
/// `stopping`, `stopped`, `failed`) count every row of the exam, including
/// VMs of slots the exam no longer has (it shrank); `ready` and the
/// predictions count only VMs holding one of its slots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExamProvisioning {
    pub exam_id: Uuid,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub start_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_at: Timestamp,
    /// `start_at - margin` (`--provisioning-margin`): when every VM should
    /// be ready.
    #[schema(value_type = String, format = DateTime)]
    pub deadline: Timestamp,
    /// VMs the exam needs: its `students`.
    pub needed: u32,
    /// `start()` attempts that reached the provider or may have: ledger
    /// rows in every state but `failed`.
    pub requested: u64,
    /// Asked for and not known to be ready (states `requesting` and
    /// `pending`).
    pub pending: u64,
    /// VMs ready now and holding one of the exam's slots.
    pub ready: u32,
    /// `stop()` asked for and not yet confirmed.
    pub stopping: u64,
    /// VMs stopped.
    pub stopped: u64,
    /// `start()` attempts that made nothing (each slot is asked for again).
    pub failed: u64,
    /// Rows found `requesting` after a crash whose VM has not been found
    /// since: the provider may have started a VM nobody can stop yet. The
    /// executor keeps asking under the row's idempotency key; 0 once found.
    pub maybe_leaked: u64,
    /// VMs ready by `deadline` if the plan is followed.
    pub predicted_ready_at_start: u32,
    /// `needed - predicted_ready_at_start`.
    pub shortfall: u32,
    /// `shortfall == 0`.
    pub feasible: bool,
    /// When the last of its VMs is predicted ready (after `deadline` when
    /// short); null if it needs none, or if it is over and some slots
    /// will never get one.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fully_ready_at: Option<Timestamp>,
    /// Its first planned `start()` call; null when none is planned.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_start_call_at: Option<Timestamp>,
    /// `start()` calls still planned for it.
    pub planned_starts: u64,
    /// Whether this server has a cloud to call (`--cloud-url`). Without
    /// one, the plan is what would be done: nothing is started.
    pub executor: bool,
    /// The instant the plan was computed at (the server's clock).
    #[schema(value_type = String, format = DateTime)]
    pub as_of: Timestamp,
}

/// `GET /v1/provisioning/plan`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// Calls at or after this instant (RFC 3339); default now.
    pub from: Option<String>,
    /// Calls before this instant (RFC 3339), after `from`; default unbounded.
    pub to: Option<String>,
}

/// The planned calls from `from` to `to`, per exam.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvisioningPlan {
    /// The instant the plan was computed at (the server's clock).
    #[schema(value_type = String, format = DateTime)]
    pub as_of: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    /// Null: unbounded.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
    /// Whether this server has a cloud to call (`--cloud-url`).
    pub executor: bool,
    /// Exams with a run of calls overlapping `[from, to)` or taking place
    /// in it (`start_at < to` and `end_at > from`), in start order (then
    /// id); the VMs of exams no longer in the table (deleted), which are
    /// stopped at once, come first.
    pub exams: Vec<PlanExam>,
    /// The answer reached 1000 exams or 1000 runs (start and stop runs
    /// together) and stopped there, in the order of `exams`: later exams
    /// are left out and the last one listed may lack some of its runs.
    /// Ask for a narrower window (`to`) to see everything.
    pub truncated: bool,
}

/// One exam's calls and forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanExam {
    pub exam_id: Uuid,
    /// Null (as are the times and the forecast) for an exam no longer in
    /// the table whose VMs are being stopped.
    pub name: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end_at: Option<Timestamp>,
    /// `start_at - margin`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deadline: Option<Timestamp>,
    pub forecast: Option<PlanForecast>,
    /// Its runs of `start()` calls overlapping the window, in time order.
    pub starts: Vec<StartRunView>,
    /// Its runs of `stop()` calls overlapping the window, in time order.
    pub stops: Vec<StopRunView>,
}

/// What the exam can expect if the plan is followed (the fields of the
/// same names in `GET /v1/exams/{id}/provisioning`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanForecast {
    pub needed: u32,
    /// VMs holding one of its slots: pending or ready.
    pub live: u32,
    /// Of those, the ready ones.
    pub ready: u32,
    pub predicted_ready_at_start: u32,
    pub shortfall: u32,
    pub feasible: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fully_ready_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_start_call_at: Option<Timestamp>,
}

/// `count` `start()` calls for slots `first_slot..first_slot + count`, one
/// every `step_seconds` from `first_at` to `last_at`; the i-th call's VM
/// is predicted ready `i * step_seconds` after `first_ready_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StartRunView {
    #[schema(value_type = String, format = DateTime)]
    pub first_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_at: Timestamp,
    pub count: u32,
    /// Seconds between two calls of the run, to the microsecond (`6` at
    /// 10 VMs a minute).
    pub step_seconds: f64,
    pub first_slot: u32,
    #[schema(value_type = String, format = DateTime)]
    pub first_ready_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_ready_at: Timestamp,
}

/// `count` consecutive `stop()` calls of one exam's VMs, one request
/// interval apart, from `first_at` to `last_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StopRunView {
    #[schema(value_type = String, format = DateTime)]
    pub first_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_at: Timestamp,
    pub count: u32,
}

/// `GET /v1/provisioning/vms`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VmListQuery {
    /// Only this exam's rows.
    pub exam_id: Option<String>,
    /// Only rows in this state: `requesting`, `pending`, `ready`,
    /// `stopping`, `stopped` or `failed`.
    pub state: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
