//! HTTP routes of the jobs module. Handlers check the scope, call the
//! service and shape the answer; the rules live in [`super::service`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::model::{
    CreateTask, Execution, ExecutionListQuery, Page, Task, TaskListQuery, Upcoming, UpcomingQuery,
    UpdateTask,
};
use crate::http::AppState;
use crate::http::auth::{Authorized, Scope};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::problem::Problem;

/// `jobs:read`
pub struct Read;
impl Scope for Read {
    const NAME: &'static str = "jobs:read";
}

/// `jobs:write`
pub struct Write;
impl Scope for Write {
    const NAME: &'static str = "jobs:write";
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tasks", post(create_task).get(list_tasks))
        .route(
            "/v1/tasks/{id}",
            get(get_task).patch(update_task).delete(delete_task),
        )
        .route("/v1/tasks/{id}/pause", post(pause_task))
        .route("/v1/tasks/{id}/resume", post(resume_task))
        .route("/v1/tasks/{id}/run", post(run_task))
        .route("/v1/tasks/{id}/executions", get(task_executions))
        .route("/v1/executions", get(list_executions))
        .route("/v1/executions/upcoming", get(upcoming))
        .route("/v1/executions/{id}", get(get_execution))
}

/// Schedule a task.
#[utoipa::path(post, path = "/v1/tasks", tag = "jobs", request_body = CreateTask,
    responses((status = 201, body = Task), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:write"])))]
pub async fn create_task(
    State(s): State<AppState>,
    _: Authorized<Write>,
    ApiJson(input): ApiJson<CreateTask>,
) -> Result<impl IntoResponse, Problem> {
    let task = s.jobs.create(input).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// List tasks in creation order.
#[utoipa::path(get, path = "/v1/tasks", tag = "jobs", params(TaskListQuery),
    responses((status = 200, body = Page<Task>)), security(("bearer" = ["jobs:read"])))]
pub async fn list_tasks(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<TaskListQuery>,
) -> Result<Json<Page<Task>>, Problem> {
    Ok(Json(s.jobs.list(&q).await?))
}

/// One task.
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "jobs",
    responses((status = 200, body = Task), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:read"])))]
pub async fn get_task(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<Task>, Problem> {
    Ok(Json(s.jobs.get(&id).await?))
}

/// Change a task's name, params, schedule, timeout or policies; its next run is recomputed.
#[utoipa::path(patch, path = "/v1/tasks/{id}", tag = "jobs", request_body = UpdateTask,
    responses((status = 200, body = Task), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:write"])))]
pub async fn update_task(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UpdateTask>,
) -> Result<Json<Task>, Problem> {
    Ok(Json(s.jobs.update(&id, patch).await?))
}

/// Delete a task; a running execution finishes and the history stays readable.
#[utoipa::path(delete, path = "/v1/tasks/{id}", tag = "jobs",
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:write"])))]
pub async fn delete_task(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    s.jobs.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause a task: no runs until it is resumed.
#[utoipa::path(post, path = "/v1/tasks/{id}/pause", tag = "jobs",
    responses((status = 200, body = Task), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:write"])))]
pub async fn pause_task(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<Json<Task>, Problem> {
    Ok(Json(s.jobs.pause(&id).await?))
}

/// Resume a paused task from its next future run.
#[utoipa::path(post, path = "/v1/tasks/{id}/resume", tag = "jobs",
    responses((status = 200, body = Task)), security(("bearer" = ["jobs:write"])))]
pub async fn resume_task(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<Json<Task>, Problem> {
    Ok(Json(s.jobs.resume(&id).await?))
}

/// Run a task once, now. 409 while it is running.
#[utoipa::path(post, path = "/v1/tasks/{id}/run", tag = "jobs",
    responses((status = 202, body = Execution), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:write"])))]
pub async fn run_task(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let execution = s.jobs.run_now(&id, s.node_id).await?;
    Ok((StatusCode::ACCEPTED, Json(execution)))
}

/// A task's history, newest first.
#[utoipa::path(get, path = "/v1/tasks/{id}/executions", tag = "jobs", params(ExecutionListQuery),
    responses((status = 200, body = Page<Execution>)), security(("bearer" = ["jobs:read"])))]
pub async fn task_executions(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ExecutionListQuery>,
) -> Result<Json<Page<Execution>>, Problem> {
    Ok(Json(s.jobs.executions(&q, Some(&id)).await?))
}

/// Execution history across tasks, newest first.
#[utoipa::path(get, path = "/v1/executions", tag = "jobs", params(ExecutionListQuery),
    responses((status = 200, body = Page<Execution>)), security(("bearer" = ["jobs:read"])))]
pub async fn list_executions(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<ExecutionListQuery>,
) -> Result<Json<Page<Execution>>, Problem> {
    Ok(Json(s.jobs.executions(&q, None).await?))
}

/// One execution.
#[utoipa::path(get, path = "/v1/executions/{id}", tag = "jobs",
    responses((status = 200, body = Execution), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["jobs:read"])))]
pub async fn get_execution(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<Execution>, Problem> {
    Ok(Json(s.jobs.execution(&id).await?))
}

/// The next runs across all active tasks, in time order.
#[utoipa::path(get, path = "/v1/executions/upcoming", tag = "jobs", params(UpcomingQuery),
    responses((status = 200, body = Upcoming)), security(("bearer" = ["jobs:read"])))]
pub async fn upcoming(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<UpcomingQuery>,
) -> Result<Json<Upcoming>, Problem> {
    Ok(Json(s.jobs.upcoming(&q).await?))
}
