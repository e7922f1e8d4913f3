//! Helpers the calendar tests share: calendars and events made through the
//! API. The test clock starts Monday 2026-11-23 12:00 UTC.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::TestApp;
use super::booking::id;

/// Mon-Fri 08:00-17:00 local.
pub fn office_hours() -> Value {
    json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}])
}

/// A calendar in `tz` with office hours; returns its id.
pub async fn calendar(app: &TestApp, tz: &str) -> String {
    calendar_with(
        app,
        json!({"owner": "Jeff Blumba", "timezone": tz, "working_hours": office_hours()}),
    )
    .await
}

pub async fn calendar_with(app: &TestApp, body: Value) -> String {
    let (status, cal) = app.call("POST", "/v1/calendars", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {cal}");
    id(&cal)
}

pub async fn post_event(app: &TestApp, cal: &str, body: Value) -> (StatusCode, Value) {
    app.call("POST", &format!("/v1/calendars/{cal}/events"), Some(body))
        .await
}

/// Creates an event, asserting 201.
pub async fn event(app: &TestApp, cal: &str, body: Value) -> Value {
    let (status, ev) = post_event(app, cal, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {ev}");
    ev
}

pub async fn get_event(app: &TestApp, ev: &str) -> Value {
    let (status, body) = app.call("GET", &format!("/v1/events/{ev}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Every notification so far, oldest first, once there are at least
/// `expected` (long-polling: on PostgreSQL the feed shows a row only after
/// every transaction older than it has ended, and tests in parallel keep
/// some open).
pub async fn notifications(app: &TestApp, expected: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut all: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/notifications?limit=1000&after={c}&wait=1s"),
            None => "/v1/notifications?limit=1000".to_string(),
        };
        let (status, page) = app.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        all.extend(page["items"].as_array().cloned().unwrap_or_default());
        cursor = page["next_cursor"].as_str().map(str::to_string).or(cursor);
        if all.len() >= expected || std::time::Instant::now() > deadline {
            return all;
        }
        if cursor.is_none() {
            cursor = Some("-1.0".to_string());
        }
    }
}

pub fn kinds(ns: &[Value]) -> Vec<String> {
    ns.iter()
        .map(|n| n["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// (start, end) of every event in a list page.
pub fn spans(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["start"].as_str().unwrap_or_default().to_string(),
                e["end"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
