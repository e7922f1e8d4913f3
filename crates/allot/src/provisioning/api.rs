//! HTTP routes of the exams API. Handlers check the scope, call the
//! service and shape the answer; the rules live in [`super::service`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::ledger::LedgerRow;
use super::model::*;
use super::status;
use crate::http::AppState;
use crate::http::auth::{Authorized, Scope};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::paging::Page;
use crate::http::problem::Problem;

/// `provisioning:read`
pub struct Read;
impl Scope for Read {
    const NAME: &'static str = "provisioning:read";
}

/// `provisioning:write`
pub struct Write;
impl Scope for Write {
    const NAME: &'static str = "provisioning:write";
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/exams", post(create_exam).get(list_exams))
        .route(
            "/v1/exams/{id}",
            get(get_exam).patch(update_exam).delete(delete_exam),
        )
        .route("/v1/exams/{id}/provisioning", get(exam_provisioning))
        .route("/v1/provisioning/plan", get(provisioning_plan))
        .route("/v1/provisioning/vms", get(provisioning_vms))
}

/// Add an exam: `students` VMs to be ready by `start_at`.
#[utoipa::path(post, path = "/v1/exams", tag = "provisioning", request_body = CreateExam,
    responses((status = 201, body = Exam), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:write"])))]
pub async fn create_exam(
    State(s): State<AppState>,
    _: Authorized<Write>,
    ApiJson(input): ApiJson<CreateExam>,
) -> Result<impl IntoResponse, Problem> {
    Ok((StatusCode::CREATED, Json(s.exams.create(input).await?)))
}

/// Exams by start time (then id), optionally only those starting in
/// `[from, to)`.
#[utoipa::path(get, path = "/v1/exams", tag = "provisioning", params(ExamListQuery),
    responses((status = 200, body = Page<Exam>), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:read"])))]
pub async fn list_exams(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<ExamListQuery>,
) -> Result<Json<Page<Exam>>, Problem> {
    Ok(Json(s.exams.list(&q).await?))
}

/// One exam.
#[utoipa::path(get, path = "/v1/exams/{id}", tag = "provisioning",
    responses((status = 200, body = Exam), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:read"])))]
pub async fn get_exam(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<Exam>, Problem> {
    Ok(Json(s.exams.get(&id).await?))
}

/// Change any of an exam's fields; the result is checked as a whole, with
/// the stored values of the fields not given.
#[utoipa::path(patch, path = "/v1/exams/{id}", tag = "provisioning", request_body = UpdateExam,
    responses((status = 200, body = Exam), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:write"])))]
pub async fn update_exam(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UpdateExam>,
) -> Result<Json<Exam>, Problem> {
    Ok(Json(s.exams.update(&id, input).await?))
}

/// Remove an exam.
#[utoipa::path(delete, path = "/v1/exams/{id}", tag = "provisioning",
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:write"])))]
pub async fn delete_exam(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    s.exams.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where an exam's VMs are and what the plan predicts: `needed`,
/// `requested`, `ready`, `stopped`, `predicted_ready_at_start`,
/// `shortfall`, `fully_ready_at`, `next_start_call_at` and more. Computed
/// from the stored exams and VM ledger at the server's clock, so any
/// replica answers it.
#[utoipa::path(get, path = "/v1/exams/{id}/provisioning", tag = "provisioning",
    params(("id" = String, Path, description = "The exam's id (a UUID)")),
    responses((status = 200, body = ExamProvisioning),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:read"])))]
pub async fn exam_provisioning(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<ExamProvisioning>, Problem> {
    let now = s.clock.now();
    Ok(Json(
        status::exam_status(&s.db, s.exams.config(), now, &id).await?,
    ))
}

/// The planned `start()` and `stop()` calls overlapping `[from, to)`
/// (default: from now on), as runs per exam in start order, with each
/// exam's forecast. At most 1000 exams and 1000 runs (`truncated` says
/// when more were left out).
#[utoipa::path(get, path = "/v1/provisioning/plan", tag = "provisioning", params(PlanQuery),
    responses((status = 200, body = ProvisioningPlan),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:read"])))]
pub async fn provisioning_plan(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<PlanQuery>,
) -> Result<Json<ProvisioningPlan>, Problem> {
    let now = s.clock.now();
    Ok(Json(status::plan(&s.db, s.exams.config(), now, &q).await?))
}

/// The VM ledger: one row per `start()` attempt, by id (creation order),
/// optionally of one exam and in one state.
#[utoipa::path(get, path = "/v1/provisioning/vms", tag = "provisioning", params(VmListQuery),
    responses((status = 200, body = Page<LedgerRow>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["provisioning:read"])))]
pub async fn provisioning_vms(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<VmListQuery>,
) -> Result<Json<Page<LedgerRow>>, Problem> {
    Ok(Json(status::vms(&s.db, &q).await?))
}
