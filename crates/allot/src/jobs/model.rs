//! The jobs API's wire types: what clients send and receive. Field names are
//! the public contract; change them only with a new API version.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::kinds::TaskKind;
use super::schedule_spec::ScheduleSpec;
use super::store::{ExecutionRow, TaskRow};

/// What a run that comes due while the previous run is still going does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Not started; recorded as `skipped`.
    #[default]
    Skip,
    /// Runs right after the current run ends (at most one waits).
    QueueOne,
}

impl OverlapPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::Skip => "skip",
            OverlapPolicy::QueueOne => "queue_one",
        }
    }
}

/// What happens to runs missed while the service was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// One catch-up run, then back on schedule.
    #[default]
    RunOnce,
    /// No catch-up; missed runs are recorded as skipped.
    Skip,
    /// Every missed run, one after another (bounded).
    RunAll,
}

impl MisfirePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MisfirePolicy::RunOnce => "run_once",
            MisfirePolicy::Skip => "skip",
            MisfirePolicy::RunAll => "run_all",
        }
    }
}

/// `POST /v1/tasks`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub name: String,
    pub kind: TaskKind,
    /// Kind-specific: sleep `{"duration": "2s"}`, counter `{"counter": "name"}`,
    /// http `{"url": "...", "timeout": "10s"}`, webhook `{"url": "...", "body": {...}}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Value,
    pub schedule: ScheduleSpec,
    /// Per-run timeout, e.g. `30s` (default 5m).
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub overlap: Option<OverlapPolicy>,
    #[serde(default)]
    pub misfire: Option<MisfirePolicy>,
}

/// `PATCH /v1/tasks/{id}`: every field optional; the kind cannot change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub overlap: Option<OverlapPolicy>,
    #[serde(default)]
    pub misfire: Option<MisfirePolicy>,
}

/// A task as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub params: Value,
    pub schedule: ScheduleSpec,
    pub timeout: String,
    pub overlap: String,
    pub misfire: String,
    /// `active`, `paused` or `completed`.
    pub state: String,
    /// Next scheduled run (RFC 3339 UTC), null when none.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_run_at: Option<Timestamp>,
    /// The execution in progress, if any.
    pub running_execution_id: Option<Uuid>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<&TaskRow> for Task {
    fn from(r: &TaskRow) -> Self {
        Task {
            id: r.id.0,
            name: r.name.clone(),
            kind: r.kind.clone(),
            params: r.params.0.clone(),
            schedule: r.schedule.0.clone(),
            timeout: allot_kernel::duration::format_duration(std::time::Duration::from_millis(
                r.timeout_ms.max(0) as u64,
            )),
            overlap: r.overlap.clone(),
            misfire: r.misfire.clone(),
            state: r.state.clone(),
            next_run_at: if r.state == "active" {
                r.next_run_at.map(|t| t.0)
            } else {
                None
            },
            running_execution_id: r.running_execution_id.map(|e| e.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

/// One run of a task (or a run that was skipped).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Execution {
    pub id: Uuid,
    pub task_id: Uuid,
    pub task_name: String,
    #[schema(value_type = String, format = DateTime)]
    pub scheduled_for: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// `running`, `succeeded`, `failed`, `timed_out`, `skipped` or `interrupted`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<String>,
    pub attempt: i32,
    /// `schedule` or `manual` (`POST /v1/tasks/{id}/run`).
    pub trigger: String,
}

impl From<&ExecutionRow> for Execution {
    fn from(r: &ExecutionRow) -> Self {
        Execution {
            id: r.id.0,
            task_id: r.task_id.0,
            task_name: r.task_name.clone(),
            scheduled_for: r.scheduled_for.0,
            started_at: r.started_at.map(|t| t.0),
            finished_at: r.finished_at.map(|t| t.0),
            status: r.status.clone(),
            output: r.output.as_ref().map(|o| o.0.clone()),
            error: r.error.clone(),
            attempt: r.attempt,
            trigger: r.trigger.clone(),
        }
    }
}

pub use crate::http::paging::Page;

/// A future run.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpcomingRun {
    pub task_id: Uuid,
    pub task_name: String,
    #[schema(value_type = String, format = DateTime)]
    pub scheduled_for: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Upcoming {
    pub items: Vec<UpcomingRun>,
}

/// `GET /v1/tasks` query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only tasks in this state.
    pub state: Option<String>,
}

/// `GET /v1/executions` query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionListQuery {
    pub task_id: Option<String>,
    pub status: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /v1/executions/upcoming` query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpcomingQuery {
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    /// RFC 3339; default: 24 hours from now.
    pub until: Option<String>,
}
