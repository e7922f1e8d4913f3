//! The route of the feed. The scopes it takes depend on what is read, so
//! the handler takes the [`Caller`] and [`super::service::read`] checks
//! them.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::get;

use super::model::{NotificationPage, NotificationQuery};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::extract::ApiQuery;
use crate::http::problem::Problem;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/notifications", get(notifications))
}

/// The caller, known to hold the read scope of at least one module's
/// notifications: a token with none gets its 403 before the query is
/// looked at, as a route's fixed scope would give it.
pub struct Reader(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if super::readable(&caller.scopes).is_empty() {
            return Err(super::service::forbidden_to_all(&caller));
        }
        Ok(Reader(caller))
    }
}

/// The notifications of every module, in order; `wait=30s` long-polls
/// until something new. A token reads the modules whose read scope it
/// holds: `calendar:read` the calendar's, `provisioning:read` exam
/// provisioning's; `module=`, `calendar_id=` and `exam_id=` narrow the
/// feed and need the scope of what they select (else 403).
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", params(NotificationQuery),
    responses((status = 200, body = NotificationPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:read"]), ("bearer" = ["provisioning:read"])))]
pub async fn notifications(
    State(s): State<AppState>,
    Reader(caller): Reader,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> Result<Json<NotificationPage>, Problem> {
    Ok(Json(
        super::service::read(&s.db, &s.notifications, &caller, &q).await?,
    ))
}
