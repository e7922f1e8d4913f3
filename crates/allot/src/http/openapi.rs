//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! Swagger UI to browse it (served from files vendored into the binary).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use crate::{booking, calendar, jobs, notifications, provisioning};

#[derive(OpenApi)]
#[openapi(
    info(title = "allot", description = "Schedules things in time under hard limits."),
    paths(
        super::ops::healthz,
        super::ops::readyz,
        super::ops::metrics,
        jobs::api::create_task,
        jobs::api::list_tasks,
        jobs::api::get_task,
        jobs::api::update_task,
        jobs::api::delete_task,
        jobs::api::pause_task,
        jobs::api::resume_task,
        jobs::api::run_task,
        jobs::api::task_executions,
        jobs::api::list_executions,
        jobs::api::get_execution,
        jobs::api::upcoming,
        booking::api::create_system,
        booking::api::list_systems,
        booking::api::get_system,
        booking::api::update_system,
        booking::api::delete_system,
        booking::api::create_entry,
        booking::api::list_entries,
        booking::api::availability,
        booking::api::slots,
        booking::api::get_entry,
        booking::api::update_entry,
        booking::api::delete_entry,
        booking::api::create_outage,
        booking::api::list_outages,
        booking::api::get_outage,
        booking::api::update_outage,
        booking::api::resolve_outage,
        booking::api::events,
        calendar::api::create_calendar,
        calendar::api::list_calendars,
        calendar::api::get_calendar,
        calendar::api::update_calendar,
        calendar::api::create_event,
        calendar::api::list_events,
        calendar::api::free,
        calendar::api::get_event,
        calendar::api::event_status,
        calendar::api::update_event,
        calendar::api::cancel_event,
        calendar::api::delete_event,
        calendar::attachments::upload,
        calendar::attachments::list,
        calendar::attachments::download,
        calendar::attachments::remove,
        calendar::api::deliveries,
        provisioning::api::create_exam,
        provisioning::api::list_exams,
        provisioning::api::get_exam,
        provisioning::api::update_exam,
        provisioning::api::delete_exam,
        provisioning::api::exam_provisioning,
        provisioning::api::provisioning_plan,
        provisioning::api::provisioning_vms,
        notifications::api::notifications,
    ),
    components(schemas(super::problem::Problem, super::problem::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "jobs", description = "Interval, one-shot and cron tasks"), (name = "booking", description = "Entries on systems with capacity, capabilities and outages"), (name = "calendar", description = "Events auto-placed into open slots of calendars"), (name = "provisioning", description = "Exams to provision one VM per student for"), (name = "notifications", description = "The ordered notification feed every module writes to"), (name = "ops", description = "Health and metrics"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
