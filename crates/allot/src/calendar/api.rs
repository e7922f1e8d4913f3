//! HTTP routes of the calendar module. Handlers check the scope, call the
//! service and shape the answer; the rules live in [`super::service`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::model::*;
use crate::http::AppState;
use crate::http::auth::{Authorized, Scope};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::paging::Page;
use crate::http::problem::Problem;
use crate::http::versions::{if_match, with_etag as with_version_etag};

/// `calendar:read` (also reads the calendar's notifications, see
/// [`crate::notifications`])
pub struct Read;
impl Scope for Read {
    const NAME: &'static str = "calendar:read";
}

/// `calendar:write`
pub struct Write;
impl Scope for Write {
    const NAME: &'static str = "calendar:write";
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/calendars", post(create_calendar).get(list_calendars))
        .route(
            "/v1/calendars/{id}",
            get(get_calendar).patch(update_calendar),
        )
        .route(
            "/v1/calendars/{id}/events",
            post(create_event).get(list_events),
        )
        .route("/v1/calendars/{id}/free", get(free))
        .route("/v1/calendars/{id}/deliveries", get(deliveries))
        .route(
            "/v1/events/{id}",
            get(get_event).patch(update_event).delete(delete_event),
        )
        .route("/v1/events/{id}/status", get(event_status))
        .route("/v1/events/{id}/cancel", post(cancel_event))
}

fn with_etag(event: Event) -> impl IntoResponse {
    with_version_etag(event.version, event)
}

/// Create a calendar (a booking system of capacity 1 with working hours).
#[utoipa::path(post, path = "/v1/calendars", tag = "calendar", request_body = CreateCalendar,
    responses((status = 201, body = Calendar), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:write"])))]
pub async fn create_calendar(
    State(s): State<AppState>,
    _: Authorized<Write>,
    ApiJson(input): ApiJson<CreateCalendar>,
) -> Result<impl IntoResponse, Problem> {
    Ok((
        StatusCode::CREATED,
        Json(s.calendar.create_calendar(input).await?),
    ))
}

/// Calendars in creation order.
#[utoipa::path(get, path = "/v1/calendars", tag = "calendar", params(CalendarListQuery),
    responses((status = 200, body = Page<Calendar>)), security(("bearer" = ["calendar:read"])))]
pub async fn list_calendars(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<CalendarListQuery>,
) -> Result<Json<Page<Calendar>>, Problem> {
    Ok(Json(
        s.calendar
            .list_calendars(q.limit, q.cursor.as_deref())
            .await?,
    ))
}

/// One calendar.
#[utoipa::path(get, path = "/v1/calendars/{id}", tag = "calendar",
    responses((status = 200, body = Calendar), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:read"])))]
pub async fn get_calendar(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<Calendar>, Problem> {
    Ok(Json(s.calendar.get_calendar(&id).await?))
}

/// Change a calendar's owner, time zone, working hours, horizon, grid or
/// webhook. Placed events stay where they are.
#[utoipa::path(patch, path = "/v1/calendars/{id}", tag = "calendar", request_body = UpdateCalendar,
    responses((status = 200, body = Calendar), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:write"])))]
pub async fn update_calendar(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UpdateCalendar>,
) -> Result<Json<Calendar>, Problem> {
    Ok(Json(s.calendar.update_calendar(&id, input).await?))
}

/// Create an event: at `start_time` (explicit; displaces auto-placed events)
/// or at the earliest open slot on `date` (auto). 409 with a typed reason
/// (`busy`, `outside_working_hours`, `beyond_horizon`, `outage`,
/// `attendee_busy`) when it cannot be placed; an `unplaceable`
/// notification is recorded then.
#[utoipa::path(post, path = "/v1/calendars/{id}/events", tag = "calendar", request_body = CreateEvent,
    responses((status = 201, body = Event), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:write"])))]
pub async fn create_event(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CreateEvent>,
) -> Result<impl IntoResponse, Problem> {
    let event = s.calendar.create_event(&id, input).await?;
    Ok((StatusCode::CREATED, with_etag(event)))
}

/// Events on a calendar (its own and those it attends), in start order.
#[utoipa::path(get, path = "/v1/calendars/{id}/events", tag = "calendar", params(EventListQuery),
    responses((status = 200, body = Page<Event>)), security(("bearer" = ["calendar:read"])))]
pub async fn list_events(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EventListQuery>,
) -> Result<Json<Page<Event>>, Problem> {
    Ok(Json(s.calendar.list_events(&id, &q).await?))
}

/// Open slots of `duration` on a local `date`, within working hours.
#[utoipa::path(get, path = "/v1/calendars/{id}/free", tag = "calendar", params(FreeQuery),
    responses((status = 200, body = FreeSlots)), security(("bearer" = ["calendar:read"])))]
pub async fn free(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FreeQuery>,
) -> Result<Json<FreeSlots>, Problem> {
    Ok(Json(s.calendar.free(&id, &q).await?))
}

/// One event, with its version as `ETag`.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "calendar",
    responses((status = 200, body = Event), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:read"])))]
pub async fn get_event(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    Ok(with_etag(s.calendar.get_event(&id).await?))
}

/// An event's status: `pending`, `in_progress`, `completed`, `cancelled` or `unplaced`.
#[utoipa::path(get, path = "/v1/events/{id}/status", tag = "calendar",
    responses((status = 200, body = EventStatus)), security(("bearer" = ["calendar:read"])))]
pub async fn event_status(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<EventStatus>, Problem> {
    Ok(Json(s.calendar.event_status(&id).await?))
}

/// Change an event (re-placed when its date, time, duration or participant
/// calendars change); `If-Match` or `version` for optimistic concurrency.
#[utoipa::path(patch, path = "/v1/events/{id}", tag = "calendar", request_body = UpdateEvent,
    responses((status = 200, body = Event), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:write"])))]
pub async fn update_event(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<UpdateEvent>,
) -> Result<impl IntoResponse, Problem> {
    let expected = if_match(&headers)?;
    Ok(with_etag(
        s.calendar.update_event(&id, input, expected).await?,
    ))
}

/// Cancel an event: the record stays, the slot is freed.
#[utoipa::path(post, path = "/v1/events/{id}/cancel", tag = "calendar",
    responses((status = 200, body = Event)), security(("bearer" = ["calendar:write"])))]
pub async fn cancel_event(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    Ok(with_etag(s.calendar.cancel_event(&id).await?))
}

/// Delete an event and free its slot.
#[utoipa::path(delete, path = "/v1/events/{id}", tag = "calendar",
    responses((status = 204)), security(("bearer" = ["calendar:write"])))]
pub async fn delete_event(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    s.calendar.delete_event(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Webhook deliveries of a calendar's notifications, oldest first: state
/// (`pending` or `delivered`), attempts, last status or error, next attempt.
#[utoipa::path(get, path = "/v1/calendars/{id}/deliveries", tag = "calendar", params(DeliveryListQuery),
    responses((status = 200, body = Page<Delivery>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:read"])))]
pub async fn deliveries(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryListQuery>,
) -> Result<Json<Page<Delivery>>, Problem> {
    Ok(Json(super::webhooks::list(&s.db, &id, &q).await?))
}
