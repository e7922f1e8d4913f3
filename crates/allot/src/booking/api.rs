//! HTTP routes of the booking module. Handlers check the scope, call the
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

/// `booking:read`
pub struct Read;
impl Scope for Read {
    const NAME: &'static str = "booking:read";
}

/// `booking:write`
pub struct Write;
impl Scope for Write {
    const NAME: &'static str = "booking:write";
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/systems", post(create_system).get(list_systems))
        .route(
            "/v1/systems/{id}",
            get(get_system).patch(update_system).delete(delete_system),
        )
        .route(
            "/v1/systems/{id}/entries",
            post(create_entry).get(list_entries),
        )
        .route("/v1/systems/{id}/availability", get(availability))
        .route("/v1/systems/{id}/slots", get(slots))
        .route(
            "/v1/systems/{id}/outages",
            post(create_outage).get(list_outages),
        )
        .route(
            "/v1/entries/{id}",
            get(get_entry).patch(update_entry).delete(delete_entry),
        )
        .route("/v1/outages/{id}", get(get_outage).patch(update_outage))
        .route("/v1/outages/{id}/resolve", post(resolve_outage))
        .route("/v1/booking/events", get(events))
}

fn with_etag(entry: Entry) -> impl IntoResponse {
    with_version_etag(entry.version, entry)
}

/// Register a system.
#[utoipa::path(post, path = "/v1/systems", tag = "booking", request_body = CreateSystem,
    responses((status = 201, body = System), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn create_system(
    State(s): State<AppState>,
    _: Authorized<Write>,
    ApiJson(input): ApiJson<CreateSystem>,
) -> Result<impl IntoResponse, Problem> {
    Ok((
        StatusCode::CREATED,
        Json(s.booking.create_system(input).await?),
    ))
}

/// List systems in creation order.
#[utoipa::path(get, path = "/v1/systems", tag = "booking", params(SystemListQuery),
    responses((status = 200, body = Page<System>)), security(("bearer" = ["booking:read"])))]
pub async fn list_systems(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<SystemListQuery>,
) -> Result<Json<Page<System>>, Problem> {
    Ok(Json(s.booking.list_systems(&q).await?))
}

/// One system.
#[utoipa::path(get, path = "/v1/systems/{id}", tag = "booking",
    responses((status = 200, body = System), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:read"])))]
pub async fn get_system(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<System>, Problem> {
    Ok(Json(s.booking.get_system(&id).await?))
}

/// Rename a system, change its capabilities or capacity (409 when entries
/// still need what would be taken away).
#[utoipa::path(patch, path = "/v1/systems/{id}", tag = "booking", request_body = UpdateSystem,
    responses((status = 200, body = System), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn update_system(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UpdateSystem>,
) -> Result<Json<System>, Problem> {
    Ok(Json(s.booking.update_system(&id, input).await?))
}

/// Delete a system and its history (409 while it has entries that have not ended).
#[utoipa::path(delete, path = "/v1/systems/{id}", tag = "booking",
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn delete_system(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    s.booking.delete_system(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Book an entry on a system (409 `capacity_exceeded`, `outage_present` or
/// `outage_conflict`; 422 `capability_unsupported`).
#[utoipa::path(post, path = "/v1/systems/{id}/entries", tag = "booking", request_body = CreateEntry,
    responses((status = 201, body = Entry), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn create_entry(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CreateEntry>,
) -> Result<impl IntoResponse, Problem> {
    let entry = s.booking.create_entry(&id, input).await?;
    Ok((StatusCode::CREATED, with_etag(entry)))
}

/// Entries of a system in start order.
#[utoipa::path(get, path = "/v1/systems/{id}/entries", tag = "booking", params(EntryListQuery),
    responses((status = 200, body = Page<Entry>)), security(("bearer" = ["booking:read"])))]
pub async fn list_entries(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EntryListQuery>,
) -> Result<Json<Page<Entry>>, Problem> {
    Ok(Json(s.booking.list_entries(&id, &q).await?))
}

/// Free capacity over time as `[start, end, free]` segments.
#[utoipa::path(get, path = "/v1/systems/{id}/availability", tag = "booking", params(SearchQuery),
    responses((status = 200, body = Availability)), security(("bearer" = ["booking:read"])))]
pub async fn availability(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Availability>, Problem> {
    Ok(Json(s.booking.availability(&id, &q).await?))
}

/// The earliest spans where an entry of `duration` would be accepted.
#[utoipa::path(get, path = "/v1/systems/{id}/slots", tag = "booking", params(SearchQuery),
    responses((status = 200, body = Slots)), security(("bearer" = ["booking:read"])))]
pub async fn slots(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Slots>, Problem> {
    Ok(Json(s.booking.slots(&id, &q).await?))
}

/// One entry, with its version as `ETag`.
#[utoipa::path(get, path = "/v1/entries/{id}", tag = "booking",
    responses((status = 200, body = Entry), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:read"])))]
pub async fn get_entry(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    Ok(with_etag(s.booking.get_entry(&id).await?))
}

/// Move, resize or relabel an entry; `If-Match` or `version` makes it
/// conditional (409 `version_conflict`).
#[utoipa::path(patch, path = "/v1/entries/{id}", tag = "booking", request_body = UpdateEntry,
    responses((status = 200, body = Entry), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn update_entry(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<UpdateEntry>,
) -> Result<impl IntoResponse, Problem> {
    let expected = if_match(&headers)?;
    Ok(with_etag(
        s.booking.update_entry(&id, input, expected).await?,
    ))
}

/// Delete an entry: it is kept as `deleted` and its span freed.
#[utoipa::path(delete, path = "/v1/entries/{id}", tag = "booking",
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn delete_entry(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let expected = if_match(&headers)?;
    s.booking.delete_entry(&id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Register an outage. A planned one conflicting with active entries is a
/// 409 listing them, unless `?evict=true`; an unplanned one evicts what is
/// inside its window.
#[utoipa::path(post, path = "/v1/systems/{id}/outages", tag = "booking", request_body = CreateOutage,
    params(EvictQuery),
    responses((status = 201, body = OutageChange), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn create_outage(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EvictQuery>,
    ApiJson(input): ApiJson<CreateOutage>,
) -> Result<impl IntoResponse, Problem> {
    let change = s
        .booking
        .create_outage(&id, input, q.evict.unwrap_or(false))
        .await?;
    Ok((StatusCode::CREATED, Json(change)))
}

/// Outages of a system in start order.
#[utoipa::path(get, path = "/v1/systems/{id}/outages", tag = "booking", params(OutageListQuery),
    responses((status = 200, body = Page<Outage>)), security(("bearer" = ["booking:read"])))]
pub async fn list_outages(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OutageListQuery>,
) -> Result<Json<Page<Outage>>, Problem> {
    let items = s.booking.list_outages(&id, &q).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// One outage.
#[utoipa::path(get, path = "/v1/outages/{id}", tag = "booking",
    responses((status = 200, body = Outage), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:read"])))]
pub async fn get_outage(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<Outage>, Problem> {
    Ok(Json(s.booking.get_outage(&id).await?))
}

/// Change an outage (planned: start, end, capabilities; unplanned: window,
/// capabilities, expected end).
#[utoipa::path(patch, path = "/v1/outages/{id}", tag = "booking", request_body = UpdateOutage,
    params(EvictQuery),
    responses((status = 200, body = OutageChange), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn update_outage(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EvictQuery>,
    ApiJson(input): ApiJson<UpdateOutage>,
) -> Result<Json<OutageChange>, Problem> {
    Ok(Json(
        s.booking
            .update_outage(&id, input, q.evict.unwrap_or(false))
            .await?,
    ))
}

/// End an outage now.
#[utoipa::path(post, path = "/v1/outages/{id}/resolve", tag = "booking",
    responses((status = 200, body = Outage), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["booking:write"])))]
pub async fn resolve_outage(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
) -> Result<Json<Outage>, Problem> {
    Ok(Json(s.booking.resolve_outage(&id).await?))
}

/// The durable, ordered feed of changes: entries created, updated, deleted
/// and evicted; outages created, updated and resolved.
#[utoipa::path(get, path = "/v1/booking/events", tag = "booking", params(EventQuery),
    responses((status = 200, body = EventPage)), security(("bearer" = ["booking:read"])))]
pub async fn events(
    State(s): State<AppState>,
    _: Authorized<Read>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<EventPage>, Problem> {
    Ok(Json(s.booking.events(&q).await?))
}
