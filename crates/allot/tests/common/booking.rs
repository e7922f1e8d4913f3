//! Helpers the booking tests share: times on the test clock, systems and
//! entries made through the API, and id lists.

use axum::http::StatusCode;
use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{TestApp, start_time};

/// The start instant plus `mins` minutes, as the API writes times.
pub fn at(mins: i64) -> String {
    start_time()
        .checked_add(SignedDuration::from_mins(mins))
        .expect("in range")
        .to_string()
}

/// The start instant plus `hours` hours.
pub fn h(hours: i64) -> String {
    at(hours * 60)
}

pub fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// The strings of a JSON array, sorted.
pub fn set(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect();
    out.sort();
    out
}

pub fn ids(of: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = of.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

pub async fn new_system(app: &TestApp, caps: &[&str], capacity: i64) -> String {
    let (status, body) = app
        .call(
            "POST",
            "/v1/systems",
            Some(json!({"name": "rig", "capabilities": caps, "capacity": capacity})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id(&body)
}

pub async fn book(
    app: &TestApp,
    sys: &str,
    start: &str,
    end: &str,
    caps: &[&str],
) -> (StatusCode, Value) {
    app.call(
        "POST",
        &format!("/v1/systems/{sys}/entries"),
        Some(json!({"start": start, "end": end, "capabilities": caps})),
    )
    .await
}

/// Books an entry, asserting 201; returns its id.
pub async fn booked(app: &TestApp, sys: &str, start: &str, end: &str, caps: &[&str]) -> String {
    let (status, body) = book(app, sys, start, end, caps).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "booking [{start}, {end}) {caps:?}: {body}"
    );
    id(&body)
}
