//! The HTTP API: routing, authentication, rate limits, body limits, errors as
//! problem documents, OpenAPI and metrics. Modules contribute their routes;
//! this module wraps them in the cross-cutting layers.

pub mod auth;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod paging;
pub mod problem;
pub mod versions;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use uuid::Uuid;

use self::auth::Gate;
use self::problem::Problem;
use crate::booking::BookingService;
use crate::calendar::CalendarService;
use crate::clock::SharedClock;
use crate::jobs::service::JobService;
use crate::notifications::Hub;
use crate::provisioning::{ExamService, ExamWatcher};
use crate::store::Db;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub node_id: Uuid,
    pub jobs: Arc<JobService>,
    pub booking: Arc<BookingService>,
    pub calendar: Arc<CalendarService>,
    pub exams: Arc<ExamService>,
    /// The exams and a signal when they change; `None` when the server
    /// runs without background workers.
    pub exam_watcher: Option<ExamWatcher>,
    /// Wakes long-polling readers of the notification feed: bump it after
    /// committing notifications ([`crate::notifications::insert`]). The
    /// same hub the calendar service bumps.
    pub notifications: Arc<Hub>,
    pub metrics: PrometheusHandle,
}

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// The body limit of attachment uploads (instead of `max_body_bytes`).
    pub max_attachment_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            rate_per_second: 1000,
            rate_burst: 2000,
            max_attachment_bytes: 10 * 1024 * 1024,
        }
    }
}

/// The whole application router.
pub fn router(state: AppState, gate: Arc<Gate>, limits: &HttpLimits) -> Router {
    let v1 = crate::jobs::api::routes()
        .merge(crate::booking::api::routes())
        .merge(crate::calendar::api::routes())
        .merge(crate::calendar::attachments::routes(
            limits.max_attachment_bytes,
        ))
        .merge(crate::provisioning::api::routes())
        .merge(crate::notifications::api::routes())
        .route_layer(middleware::from_fn_with_state(gate, auth::authenticate));
    Router::new()
        .merge(v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(openapi::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn(metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_to_problem,
        ))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(
        axum::http::StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route for {}", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

fn panic_to_problem(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    Problem::internal(&"a handler panicked").into_response()
}
