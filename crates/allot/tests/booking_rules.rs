//! The booking rules on both backends, each proven by a test that fails if
//! the rule is broken: capacity (1), capabilities (2), planned outages (3),
//! unplanned outages (4), the sweeper (5), outages present (6), moving
//! entries (7), changing outages (8), and the availability and slot
//! searches that must agree with them.
//!
//! Time is the manual clock of [`TestApp`], starting at 2026-11-23T12:00:00Z;
//! `h(n)` and `at(m)` are that instant plus n hours or m minutes.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::booking::*;
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};

async fn entry(app: &TestApp, entry_id: &str) -> Value {
    let (status, body) = app
        .call("GET", &format!("/v1/entries/{entry_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn status_of(app: &TestApp, entry_id: &str) -> String {
    entry(app, entry_id).await["status"]
        .as_str()
        .expect("status")
        .to_string()
}

async fn patch_entry(app: &TestApp, entry_id: &str, body: Value) -> (StatusCode, Value) {
    app.call("PATCH", &format!("/v1/entries/{entry_id}"), Some(body))
        .await
}

async fn post_outage(app: &TestApp, sys: &str, body: Value, evict: bool) -> (StatusCode, Value) {
    let path = if evict {
        format!("/v1/systems/{sys}/outages?evict=true")
    } else {
        format!("/v1/systems/{sys}/outages")
    };
    app.call("POST", &path, Some(body)).await
}

/// Registers an outage, asserting 201; returns the outage with `evicted`.
async fn outage(app: &TestApp, sys: &str, body: Value) -> Value {
    let (status, out) = post_outage(app, sys, body.clone(), false).await;
    assert_eq!(status, StatusCode::CREATED, "outage {body}: {out}");
    out
}

async fn get_outage(app: &TestApp, outage_id: &str) -> Value {
    let (status, body) = app
        .call("GET", &format!("/v1/outages/{outage_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn resolve(app: &TestApp, outage_id: &str) -> (StatusCode, Value) {
    app.call("POST", &format!("/v1/outages/{outage_id}/resolve"), None)
        .await
}

/// Ids of the system's entries with `status`, in start order.
async fn entries_with(app: &TestApp, sys: &str, status: &str) -> Vec<String> {
    let (code, page) = app
        .call(
            "GET",
            &format!("/v1/systems/{sys}/entries?status={status}&limit=1000"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect()
}

async fn outage_count(app: &TestApp, sys: &str) -> usize {
    let (code, page) = app
        .call("GET", &format!("/v1/systems/{sys}/outages"), None)
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").len()
}

/// `[[start, end, free], ...]` as plain tuples.
fn segments(avail: &Value) -> Vec<(String, String, u64)> {
    avail["segments"]
        .as_array()
        .unwrap_or_else(|| panic!("no segments in {avail}"))
        .iter()
        .map(|s| {
            (
                s[0].as_str().expect("start").to_string(),
                s[1].as_str().expect("end").to_string(),
                s[2].as_u64().expect("free"),
            )
        })
        .collect()
}

fn seg(start: String, end: String, free: u64) -> (String, String, u64) {
    (start, end, free)
}

async fn availability(app: &TestApp, sys: &str, query: &str) -> Value {
    let (status, body) = app
        .call(
            "GET",
            &format!("/v1/systems/{sys}/availability?{query}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// `(start, end)` of each slot offered.
async fn slots(app: &TestApp, sys: &str, query: &str) -> (Vec<(String, String)>, Value) {
    let (status, body) = app
        .call("GET", &format!("/v1/systems/{sys}/slots?{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let items = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .map(|s| {
            (
                s["start"].as_str().expect("start").to_string(),
                s["end"].as_str().expect("end").to_string(),
            )
        })
        .collect();
    (items, body)
}

fn spans(of: &[(i64, i64)]) -> Vec<(String, String)> {
    of.iter().map(|&(s, e)| (at(s), at(e))).collect()
}

// ---- rule 1: capacity ----

both_backends!(
    rule1_capacity_is_never_exceeded_at_any_instant,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let a = booked(&app, &sys, &h(1), &h(3), &[]).await; // 13:00-15:00
        let b = booked(&app, &sys, &at(90), &h(4), &[]).await; // 13:30-16:00

        // [12:30, 14:30): one entry from 13:00, two from 13:30: full at 13:30.
        let (status, problem) = book(&app, &sys, &at(30), &at(150), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], at(90), "the first instant over the limit");
        assert_eq!(problem["capacity"], 2);
        assert_eq!(set(&problem["entry_ids"]), ids(&[&a, &b]));

        // [14:50, 15:10): full at once, at 14:50.
        let (status, problem) = book(&app, &sys, &at(170), &at(190), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], at(170));
        assert_eq!(set(&problem["entry_ids"]), ids(&[&a, &b]));

        // A ends at 15:00, so [15:00, 16:00) has room for one more...
        let d = booked(&app, &sys, &h(3), &h(4), &[]).await;
        // ...and then none: the refusal names the entries covering 15:20.
        let (status, problem) = book(&app, &sys, &at(200), &at(210), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], at(200));
        assert_eq!(set(&problem["entry_ids"]), ids(&[&b, &d]));

        // Refusals stored nothing: exactly the three accepted entries are active.
        let mut active = entries_with(&app, &sys, "active").await;
        active.sort();
        assert_eq!(active, ids(&[&a, &b, &d]));
        let (_, all) = app
            .call("GET", &format!("/v1/systems/{sys}/entries"), None)
            .await;
        assert_eq!(all["items"].as_array().unwrap().len(), 3);
    }
);

both_backends!(
    rule1_spans_are_half_open_so_back_to_back_entries_fit,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        let first = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let second = booked(&app, &sys, &h(2), &h(3), &[]).await;
        booked(&app, &sys, &h(0), &h(1), &[]).await;
        // The same span again is full from its first instant.
        let (status, problem) = book(&app, &sys, &h(1), &h(2), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], h(1));
        assert_eq!(set(&problem["entry_ids"]), ids(&[&first]));
        // One second across the boundary overlaps both neighbours.
        let just_before = start_time()
            .checked_add(SignedDuration::from_secs(2 * 3600 - 1))
            .unwrap()
            .to_string();
        let just_after = start_time()
            .checked_add(SignedDuration::from_secs(2 * 3600 + 1))
            .unwrap()
            .to_string();
        let (status, problem) = book(&app, &sys, &just_before, &just_after, &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], just_before);
        assert_eq!(set(&problem["entry_ids"]), ids(&[&first]));
        let (status, problem) = book(&app, &sys, &h(2), &just_after, &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(set(&problem["entry_ids"]), ids(&[&second]));
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 3);
    }
);

// ---- rule 2: capabilities ----

both_backends!(
    rule2_entry_capabilities_must_be_a_subset_of_the_systems,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 5).await;
        let (status, ok) = book(&app, &sys, &h(1), &h(2), &["ssd", "gpu", "ssd"]).await;
        assert_eq!(status, StatusCode::CREATED, "{ok}");
        assert_eq!(ok["capabilities"], json!(["gpu", "ssd"]));
        booked(&app, &sys, &h(1), &h(2), &[]).await;

        let (status, problem) = book(&app, &sys, &h(1), &h(2), &["gpu", "tpu", "arm", "tpu"]).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );
        assert_eq!(problem["capabilities"], json!(["arm", "tpu"]));

        let bare = new_system(&app, &[], 5).await;
        let (status, problem) = book(&app, &bare, &h(1), &h(2), &["gpu"]).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );
        assert_eq!(problem["capabilities"], json!(["gpu"]));
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 2);
        assert!(entries_with(&app, &bare, "active").await.is_empty());
    }
);

// ---- rule 3: planned outages ----

both_backends!(
    rule3_planned_outage_is_refused_over_conflicting_entries,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 3).await;
        let gpu = booked(&app, &sys, &h(2), &h(3), &["gpu"]).await;
        let ssd = booked(&app, &sys, &h(2), &h(3), &["ssd"]).await;
        booked(&app, &sys, &h(5), &h(6), &[]).await;

        // A gpu outage over 14:30-15:30 conflicts with the gpu entry only.
        let (status, problem) = post_outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": at(150), "end": at(210), "capabilities": ["gpu"]}),
            false,
        )
        .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(set(&problem["entry_ids"]), ids(&[&gpu]));

        // A whole-system outage conflicts with both.
        let (status, problem) = post_outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": at(150), "end": at(210)}),
            false,
        )
        .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(set(&problem["entry_ids"]), ids(&[&gpu, &ssd]));

        // Refused outages are not stored and evict nothing.
        assert_eq!(outage_count(&app, &sys).await, 0);
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 3);

        // Half-open: an outage between the entries (15:00-17:00) touches both
        // and conflicts with neither.
        let between = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(3), "end": h(5)}),
        )
        .await;
        assert_eq!(between["evicted"], json!([]));
        assert_eq!(between["state"], "scheduled");
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 3);
    }
);

both_backends!(
    rule3_evict_true_evicts_only_entries_sharing_a_capability,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 3).await;
        let gpu = booked(&app, &sys, &h(2), &h(3), &["gpu", "ssd"]).await;
        let ssd = booked(&app, &sys, &h(2), &h(3), &["ssd"]).await;
        let plain = booked(&app, &sys, &h(2), &h(3), &[]).await;
        let before = entry(&app, &gpu).await;

        let (status, out) = post_outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": at(150), "end": at(210), "capabilities": ["gpu"]}),
            true,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{out}");
        assert_eq!(out["evicted"], json!([gpu.clone()]));
        let evicted = entry(&app, &gpu).await;
        assert_eq!(evicted["status"], "evicted");
        assert_eq!(evicted["eviction"]["outage_id"], out["id"]);
        assert_eq!(evicted["eviction"]["at"], h(0));
        for kept in ["start", "end", "capabilities", "label", "metadata"] {
            assert_eq!(evicted[kept], before[kept], "{kept} changed on eviction");
        }
        assert_eq!(status_of(&app, &ssd).await, "active");
        assert_eq!(status_of(&app, &plain).await, "active");

        // With the gpu entry gone its capacity is free again.
        booked(&app, &sys, &h(2), &h(3), &["ssd"]).await;
    }
);

// ---- rule 4: unplanned outages ----

both_backends!(
    rule4_unplanned_outage_evicts_conflicts_inside_its_window_only,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 5).await;
        let ended = booked(&app, &sys, &at(-120), &at(-60), &[]).await; // 10:00-11:00
        let running = booked(&app, &sys, &at(-60), &at(30), &[]).await; // 11:00-12:30
        let soon = booked(&app, &sys, &at(30), &h(1), &["gpu"]).await; // 12:30-13:00
        let straddling = booked(&app, &sys, &at(90), &at(150), &["ssd"]).await; // 13:30-14:30
        let at_edge = booked(&app, &sys, &h(2), &h(3), &[]).await; // 14:00-15:00
        let later = booked(&app, &sys, &h(5), &h(6), &["gpu"]).await;

        // Began at 10:30, reported now with a 2h window: [12:00, 14:00).
        let out = outage(
            &app,
            &sys,
            json!({"kind": "unplanned", "start": at(-90), "window": "2h", "reason": "power"}),
        )
        .await;
        assert_eq!(out["start"], at(-90));
        assert_eq!(out["state"], "ongoing");
        assert_eq!(out["window"], "2h");
        assert_eq!(set(&out["evicted"]), ids(&[&running, &soon, &straddling]));
        for evicted in [&running, &soon, &straddling] {
            let e = entry(&app, evicted).await;
            assert_eq!(e["status"], "evicted", "{e}");
            assert_eq!(e["eviction"]["outage_id"], out["id"]);
        }
        // Already over, starting exactly at the window's end, or beyond it: untouched.
        for kept in [&ended, &at_edge, &later] {
            assert_eq!(status_of(&app, kept).await, "active", "{kept}");
        }
    }
);

both_backends!(
    rule4_partial_unplanned_outage_spares_entries_without_its_capabilities,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 5).await;
        let gpu = booked(&app, &sys, &at(30), &h(1), &["gpu"]).await;
        let both = booked(&app, &sys, &at(30), &h(1), &["gpu", "ssd"]).await;
        let ssd = booked(&app, &sys, &at(30), &h(1), &["ssd"]).await;
        let plain = booked(&app, &sys, &at(30), &h(1), &[]).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "unplanned", "capabilities": ["gpu"], "window": "2h"}),
        )
        .await;
        assert_eq!(out["start"], h(0), "start defaults to now");
        assert_eq!(out["capabilities"], json!(["gpu"]));
        assert_eq!(set(&out["evicted"]), ids(&[&gpu, &both]));
        assert_eq!(status_of(&app, &ssd).await, "active");
        assert_eq!(status_of(&app, &plain).await, "active");
    }
);

// ---- rule 5: the sweeper ----

both_backends!(
    rule5_sweeper_evicts_entries_as_they_enter_the_window,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 5).await;
        let first = booked(&app, &sys, &h(3), &h(4), &[]).await; // 15:00-16:00
        let second = booked(&app, &sys, &at(250), &h(5), &[]).await; // 16:10-17:00
        let out = outage(&app, &sys, json!({"kind": "unplanned", "window": "2h"})).await;
        assert_eq!(out["evicted"], json!([]));
        let service = app.server.booking.service.clone();

        // 13:00: the window is [13:00, 15:00); the entry starting at 15:00 is not in it.
        app.clock.advance(SignedDuration::from_hours(1));
        assert!(service.sweep().await.expect("sweep").is_empty());
        assert_eq!(status_of(&app, &first).await, "active");

        // 13:05: it entered the window 5 minutes ago.
        app.clock.advance(SignedDuration::from_mins(5));
        let swept = service.sweep().await.expect("sweep");
        assert_eq!(swept.len(), 1, "{swept:?}");
        assert_eq!(swept[0].0.to_string(), first);
        assert_eq!(swept[0].1, Duration::from_secs(5 * 60), "lateness");
        let e = entry(&app, &first).await;
        assert_eq!(e["status"], "evicted");
        assert_eq!(e["eviction"]["outage_id"], out["id"]);
        assert_eq!(e["eviction"]["at"], at(65));
        assert_eq!(status_of(&app, &second).await, "active");
        // Sweeping again finds nothing new.
        assert!(service.sweep().await.expect("sweep").is_empty());

        // 14:15: the second entered at 14:10; the sweeper round (with its lease) evicts it.
        app.clock.advance(SignedDuration::from_mins(70));
        assert_eq!(app.server.booking.sweeper.round().await, 1);
        assert_eq!(status_of(&app, &second).await, "evicted");
        assert_eq!(app.server.booking.sweeper.round().await, 0);
    }
);

both_backends!(
    rule5_resolved_outages_no_longer_evict,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 5).await;
        let e = booked(&app, &sys, &h(2), &h(3), &[]).await;
        let out = outage(&app, &sys, json!({"kind": "unplanned", "window": "1h"})).await;
        app.clock.advance(SignedDuration::from_mins(30));
        let (status, resolved) = resolve(&app, out["id"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        // 14:30: the entry would be well inside a 1h window by now.
        app.clock.advance(SignedDuration::from_hours(2));
        assert!(
            app.server
                .booking
                .service
                .sweep()
                .await
                .expect("sweep")
                .is_empty()
        );
        assert_eq!(app.server.booking.sweeper.round().await, 0);
        assert_eq!(status_of(&app, &e).await, "active");
    }
);

both_backends!(
    rule5_sweeper_never_evicts_entries_without_a_shared_capability,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 5).await;
        let gpu = booked(&app, &sys, &h(2), &h(3), &["gpu"]).await;
        let ssd = booked(&app, &sys, &h(2), &h(3), &["ssd"]).await;
        let plain = booked(&app, &sys, &h(2), &h(3), &[]).await;
        outage(
            &app,
            &sys,
            json!({"kind": "unplanned", "capabilities": ["gpu"], "window": "1h"}),
        )
        .await;
        // 13:30: the window [13:30, 14:30) reached the entries at 13:00.
        app.clock.advance(SignedDuration::from_mins(90));
        let swept = app.server.booking.service.sweep().await.expect("sweep");
        let swept_ids: Vec<String> = swept.iter().map(|(i, _)| i.to_string()).collect();
        assert_eq!(swept_ids, [gpu.as_str()]);
        assert_eq!(swept[0].1, Duration::from_secs(30 * 60));
        // However long it lasts, the others stay.
        app.clock.advance(SignedDuration::from_hours(2));
        assert_eq!(app.server.booking.sweeper.round().await, 0);
        assert_eq!(status_of(&app, &ssd).await, "active");
        assert_eq!(status_of(&app, &plain).await, "active");
    }
);

// ---- rule 6: outages present ----

both_backends!(
    rule6_no_new_entries_while_an_unplanned_outage_is_present,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 2).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "unplanned", "capabilities": ["gpu"], "window": "1h"}),
        )
        .await;
        let oid = id(&out);
        // Far in the future, and even without the outage's capabilities.
        for caps in [&[][..], &["ssd"][..], &["gpu"][..]] {
            let (status, problem) = book(
                &app,
                &sys,
                "2027-06-01T10:00:00Z",
                "2027-06-01T11:00:00Z",
                caps,
            )
            .await;
            assert_problem(status, &problem, StatusCode::CONFLICT, "outage_present");
            assert_eq!(problem["outage_ids"], json!([oid.clone()]));
        }
        assert!(entries_with(&app, &sys, "active").await.is_empty());

        let avail = availability(&app, &sys, &format!("from={}&to={}", h(0), h(4))).await;
        assert_eq!(avail["blocked_by"], json!([oid.clone()]));
        assert_eq!(avail["capacity"], 2);
        assert_eq!(segments(&avail), [seg(h(0), h(4), 0)]);
        let (items, body) = slots(
            &app,
            &sys,
            "duration=1h&from=2027-06-01T00:00:00Z&to=2027-06-02T00:00:00Z",
        )
        .await;
        assert!(items.is_empty(), "{body}");
        assert_eq!(body["blocked_by"], json!([oid.clone()]));

        // Resolved: booking reopens.
        app.clock.advance(SignedDuration::from_mins(10));
        let (status, _) = resolve(&app, &oid).await;
        assert_eq!(status, StatusCode::OK);
        booked(
            &app,
            &sys,
            "2027-06-01T10:00:00Z",
            "2027-06-01T11:00:00Z",
            &["gpu"],
        )
        .await;
        let avail = availability(&app, &sys, &format!("from={}&to={}", h(1), h(4))).await;
        assert_eq!(avail["blocked_by"], json!([]));
        assert_eq!(segments(&avail), [seg(h(1), h(4), 2)]);
    }
);

both_backends!(
    rule6_planned_outage_is_present_between_its_start_and_end,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(2)}),
        )
        .await;
        let oid = id(&out);
        // Before it begins: spans clear of it are fine (back to back too)...
        booked(&app, &sys, &h(3), &h(4), &[]).await;
        booked(&app, &sys, &at(30), &h(1), &[]).await;
        // ...a span over it is an outage conflict naming it.
        let (status, problem) = book(&app, &sys, &at(90), &at(150), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(problem["outage_ids"], json!([oid.clone()]));
        let avail = availability(&app, &sys, &format!("from={}&to={}", h(0), h(3))).await;
        assert_eq!(avail["blocked_by"], json!([]));
        assert_eq!(
            segments(&avail),
            [
                seg(h(0), at(30), 2),
                seg(at(30), h(1), 1),
                seg(h(1), h(2), 0),
                seg(h(2), h(3), 2)
            ]
        );

        // 13:00: it is present; nothing new is taken, however far away.
        app.clock.set(h(1).parse().unwrap());
        let (status, problem) = book(&app, &sys, &h(30), &h(31), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_present");
        assert_eq!(problem["outage_ids"], json!([oid.clone()]));
        assert_eq!(get_outage(&app, &oid).await["state"], "ongoing");
        let avail = availability(&app, &sys, &format!("from={}&to={}", h(1), h(5))).await;
        assert_eq!(avail["blocked_by"], json!([oid.clone()]));
        assert_eq!(segments(&avail), [seg(h(1), h(5), 0)]);
        let (items, body) = slots(&app, &sys, "duration=30m").await;
        assert!(items.is_empty(), "{body}");
        assert_eq!(body["blocked_by"], json!([oid.clone()]));

        // 14:00: ended; booking reopens.
        app.clock.set(h(2).parse().unwrap());
        assert_eq!(get_outage(&app, &oid).await["state"], "ended");
        booked(&app, &sys, &h(30), &h(31), &[]).await;
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 3);
    }
);

both_backends!(
    rule6_future_partial_outage_conflicts_only_with_sharing_entries,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 3).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(2), "end": h(3), "capabilities": ["gpu"]}),
        )
        .await;
        booked(&app, &sys, &h(2), &h(3), &["ssd"]).await;
        booked(&app, &sys, &h(2), &h(3), &[]).await;
        let (status, problem) = book(&app, &sys, &at(170), &at(190), &["gpu", "ssd"]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(problem["outage_ids"], json!([out["id"].clone()]));
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 2);
    }
);

// ---- rule 7: changing entries ----

both_backends!(
    rule7_moving_an_entry_rechecks_capacity_against_everything_but_itself,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        let a = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let b = booked(&app, &sys, &h(3), &h(4), &[]).await;
        let b_before = entry(&app, &b).await;

        // B onto A: refused, naming A and the first shared instant.
        let (status, problem) =
            patch_entry(&app, &b, json!({"start": at(90), "end": at(150)})).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], at(90));
        assert_eq!(set(&problem["entry_ids"]), ids(&[&a]));
        assert_eq!(entry(&app, &b).await, b_before, "a refused move changed B");

        // A within its own span: it does not collide with itself.
        let (status, moved) = patch_entry(&app, &a, json!({"start": at(75), "end": at(105)})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(
            (moved["start"].clone(), moved["end"].clone()),
            (json!(at(75)), json!(at(105)))
        );
        // Stretched up to B (back to back): fits; one minute further does not.
        let (status, moved) = patch_entry(&app, &a, json!({"start": h(1), "end": h(3)})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        let (status, problem) = patch_entry(&app, &a, json!({"end": at(181)})).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], h(3));
        assert_eq!(set(&problem["entry_ids"]), ids(&[&b]));
        assert_eq!(entry(&app, &a).await["end"], h(3));
        // Moved away, A frees the span it held.
        let (status, problem) = book(&app, &sys, &h(1), &h(3), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        let (status, moved) = patch_entry(&app, &a, json!({"start": h(0), "end": h(1)})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        booked(&app, &sys, &h(1), &h(3), &[]).await;
    }
);

both_backends!(
    rule7_changing_capabilities_rechecks_support_and_outages,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 3).await;
        let e = booked(&app, &sys, &h(2), &h(3), &["ssd"]).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(2), "end": h(3), "capabilities": ["gpu"]}),
        )
        .await;
        let before = entry(&app, &e).await;

        let (status, problem) =
            patch_entry(&app, &e, json!({"capabilities": ["ssd", "tpu"]})).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );
        assert_eq!(problem["capabilities"], json!(["tpu"]));
        // Taking on the outage's capability puts it in conflict with the outage.
        let (status, problem) = patch_entry(&app, &e, json!({"capabilities": ["gpu"]})).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(problem["outage_ids"], json!([out["id"].clone()]));
        assert_eq!(entry(&app, &e).await, before);
        // Moved clear of the outage, it may.
        let (status, moved) = patch_entry(
            &app,
            &e,
            json!({"capabilities": ["gpu"], "start": h(3), "end": h(4)}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["capabilities"], json!(["gpu"]));
        // And moved back onto it, it may not.
        let (status, problem) =
            patch_entry(&app, &e, json!({"start": at(170), "end": at(200)})).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(problem["outage_ids"], json!([out["id"].clone()]));
    }
);

both_backends!(
    rule7_during_an_unplanned_outage_entries_outside_the_window_may_change,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let e = booked(&app, &sys, &h(4), &h(5), &[]).await;
        let out = outage(&app, &sys, json!({"kind": "unplanned", "window": "2h"})).await;
        assert_eq!(out["evicted"], json!([]));

        // Outside the window [12:00, 14:00) it may move and change.
        let (status, moved) = patch_entry(
            &app,
            &e,
            json!({"start": at(270), "end": at(330), "label": "x"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["label"], "x");
        // Right up to the window's end (half-open) is still outside.
        let (status, moved) = patch_entry(&app, &e, json!({"start": h(2), "end": h(3)})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        // Into the window: an outage conflict, and nothing changes.
        let before = entry(&app, &e).await;
        let (status, problem) = patch_entry(&app, &e, json!({"start": at(119), "end": h(3)})).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(problem["outage_ids"], json!([out["id"].clone()]));
        assert_eq!(entry(&app, &e).await, before);
        // New entries are still refused (rule 6).
        let (status, problem) = book(&app, &sys, &h(6), &h(7), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_present");
    }
);

both_backends!(
    rule7_only_active_entries_can_be_changed,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let evicted = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let deleted = booked(&app, &sys, &h(3), &h(4), &[]).await;
        let (status, _) = post_outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(2)}),
            true,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = app
            .call("DELETE", &format!("/v1/entries/{deleted}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for (e, state) in [(&evicted, "evicted"), (&deleted, "deleted")] {
            let before = entry(&app, e).await;
            for body in [
                json!({"label": "again"}),
                json!({"start": h(6), "end": h(7)}),
            ] {
                let (status, problem) = patch_entry(&app, e, body).await;
                // Not assert_problem: this document's `status` member is
                // clobbered (booking_api.rs: problem_status_member_is_the_http_status).
                assert_eq!(status, StatusCode::CONFLICT, "{problem}");
                assert_eq!(problem["type"], "urn:allot:problem:entry_not_active");
                assert_eq!(problem["entry_id"], e.as_str());
            }
            let after = entry(&app, e).await;
            assert_eq!(after, before);
            assert_eq!(after["status"], state);
        }
    }
);

// ---- rule 8: changing outages ----

both_backends!(
    rule8_moving_or_extending_a_planned_outage_is_rechecked,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 3).await;
        let gpu = booked(&app, &sys, &h(3), &h(4), &["gpu"]).await;
        let ssd = booked(&app, &sys, &h(3), &h(4), &["ssd"]).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(2)}),
        )
        .await;
        let path = format!("/v1/outages/{}", id(&out));

        // Extended into the entries: refused, naming both, and unchanged.
        let (status, problem) = app
            .call("PATCH", &path, Some(json!({"end": at(200)})))
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(set(&problem["entry_ids"]), ids(&[&gpu, &ssd]));
        let unchanged = get_outage(&app, &id(&out)).await;
        assert_eq!(unchanged["end"], h(2));
        assert_eq!(unchanged["version"], 1);
        // Narrowed to gpu and moved onto them: still refused, for gpu only.
        let (status, problem) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"capabilities": ["gpu"], "start": at(210), "end": at(270)})),
            )
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(set(&problem["entry_ids"]), ids(&[&gpu]));
        // With ?evict=true it goes through and evicts in the same change.
        let (status, changed) = app
            .call(
                "PATCH",
                &format!("{path}?evict=true"),
                Some(json!({"capabilities": ["gpu"], "start": at(210), "end": at(270)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["evicted"], json!([gpu.clone()]));
        assert_eq!(changed["start"], at(210));
        assert_eq!(changed["end"], at(270));
        assert_eq!(changed["version"], 2);
        assert_eq!(status_of(&app, &gpu).await, "evicted");
        assert_eq!(status_of(&app, &ssd).await, "active");
        // Back to the whole system: the ssd entry now conflicts.
        let (status, problem) = app
            .call("PATCH", &path, Some(json!({"capabilities": null})))
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_conflict");
        assert_eq!(set(&problem["entry_ids"]), ids(&[&ssd]));
        // Moved clear of everything: fine.
        let (status, changed) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"capabilities": null, "start": h(5), "end": h(6)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["evicted"], json!([]));
        assert_eq!(changed["capabilities"], Value::Null);
        assert_eq!(status_of(&app, &ssd).await, "active");
    }
);

both_backends!(
    rule8_widening_an_unplanned_window_evicts_what_now_falls_inside,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu"], 3).await;
        let near = booked(&app, &sys, &at(90), &at(150), &[]).await; // 13:30-14:30
        let far = booked(&app, &sys, &h(3), &h(4), &[]).await;
        let out = outage(&app, &sys, json!({"kind": "unplanned", "window": "1h"})).await;
        assert_eq!(out["evicted"], json!([]));
        let path = format!("/v1/outages/{}", id(&out));

        for (body, pointer) in [
            (json!({"start": at(-30)}), "/start"),
            (json!({"end": h(1)}), "/end"),
        ] {
            let (status, problem) = app.call("PATCH", &path, Some(body)).await;
            assert_problem(
                status,
                &problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            );
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
        }
        let (status, changed) = app
            .call("PATCH", &path, Some(json!({"window": "2h"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["window"], "2h");
        assert_eq!(changed["evicted"], json!([near.clone()]));
        assert_eq!(status_of(&app, &near).await, "evicted");
        assert_eq!(status_of(&app, &far).await, "active");

        let (status, changed) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"expected_end": h(5), "capabilities": ["gpu"], "reason": "fibre cut"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["expected_end"], h(5));
        assert_eq!(changed["capabilities"], json!(["gpu"]));
        assert_eq!(changed["reason"], "fibre cut");
        assert_eq!(changed["evicted"], json!([]));
        assert_eq!(changed["version"], 3);
    }
);

both_backends!(
    rule8_resolving_ends_an_outage_once_and_reopens_booking,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        let out = outage(&app, &sys, json!({"kind": "unplanned", "window": "1h"})).await;
        let oid = id(&out);
        app.clock.advance(SignedDuration::from_mins(30));
        let (status, resolved) = resolve(&app, &oid).await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        assert_eq!(resolved["state"], "resolved");
        assert_eq!(resolved["resolved_at"], at(30));
        assert_eq!(resolved["end"], at(30));
        assert_eq!(resolved["version"], 2);
        // Again: 200 and nothing changes.
        app.clock.advance(SignedDuration::from_mins(5));
        let (status, again) = resolve(&app, &oid).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, resolved);
        assert_eq!(get_outage(&app, &oid).await, resolved);
        // A resolved outage no longer changes.
        for body in [json!({"window": "3h"}), json!({"reason": "late note"})] {
            let (status, problem) = app
                .call("PATCH", &format!("/v1/outages/{oid}"), Some(body))
                .await;
            assert_problem(status, &problem, StatusCode::CONFLICT, "outage_resolved");
        }
        assert_eq!(get_outage(&app, &oid).await, resolved);
        booked(&app, &sys, &h(1), &h(2), &[]).await;
    }
);

both_backends!(
    rule8_resolving_a_planned_outage_cancels_or_ends_it,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        // Not begun: cancelled, its span is bookable again.
        let later = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(5), "end": h(6)}),
        )
        .await;
        let (status, cancelled) = resolve(&app, &id(&later)).await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        assert_eq!(cancelled["state"], "resolved");
        booked(&app, &sys, &h(5), &h(6), &[]).await;

        // In progress: it ends now, and booking reopens.
        let now = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(3)}),
        )
        .await;
        app.clock.set(h(2).parse().unwrap());
        let (status, problem) = book(&app, &sys, &h(7), &h(8), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "outage_present");
        let (status, ended) = resolve(&app, &id(&now)).await;
        assert_eq!(status, StatusCode::OK, "{ended}");
        assert_eq!(ended["state"], "resolved");
        assert_eq!(ended["end"], h(2));
        assert_eq!(ended["resolved_at"], h(2));
        booked(&app, &sys, &at(150), &h(3), &[]).await;
    }
);

both_backends!(
    rule8_resolving_a_planned_outage_at_its_start_instant,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(2)}),
        )
        .await;
        app.clock.set(h(1).parse().unwrap());
        let (status, resolved) = resolve(&app, &id(&out)).await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        assert_eq!(resolved["state"], "resolved");
        booked(&app, &sys, &h(1), &h(2), &[]).await;
    }
);

// ---- availability and slots ----

both_backends!(
    availability_segments_cover_the_range_with_the_free_counts,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 3).await;
        booked(&app, &sys, &at(30), &at(90), &[]).await; // 12:30-13:30
        let dropped = booked(&app, &sys, &h(1), &h(2), &[]).await; // 13:00-14:00
        booked(&app, &sys, &h(1), &h(2), &[]).await;
        booked(&app, &sys, &at(150), &h(4), &[]).await; // 14:30-16:00

        let query = format!("from={}&to={}", at(15), at(225));
        let avail = availability(&app, &sys, &query).await;
        assert_eq!(avail["system_id"], sys.as_str());
        assert_eq!(avail["capacity"], 3);
        assert_eq!(avail["blocked_by"], json!([]));
        assert_eq!(
            segments(&avail),
            [
                seg(at(15), at(30), 3),
                seg(at(30), h(1), 2),
                seg(h(1), at(90), 0),
                seg(at(90), h(2), 1),
                seg(h(2), at(150), 3),
                seg(at(150), at(225), 2),
            ]
        );
        // A deleted entry no longer counts.
        let (status, _) = app
            .call("DELETE", &format!("/v1/entries/{dropped}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let avail = availability(&app, &sys, &query).await;
        assert_eq!(
            segments(&avail),
            [
                seg(at(15), at(30), 3),
                seg(at(30), h(1), 2),
                seg(h(1), at(90), 1),
                seg(at(90), h(2), 2),
                seg(h(2), at(150), 3),
                seg(at(150), at(225), 2),
            ]
        );
        // Without a range: from now, for 7 days.
        let avail = availability(&app, &sys, "").await;
        let segs = segments(&avail);
        assert_eq!(segs.first().unwrap().0, h(0));
        assert_eq!(segs.last().unwrap().1, h(7 * 24));
        for pair in segs.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "segments must be contiguous");
            assert_ne!(pair[0].2, pair[1].2, "segments must be maximal");
        }
    }
);

both_backends!(
    availability_and_slots_follow_capabilities_of_a_future_outage,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd"], 1).await;
        outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(2), "capabilities": ["gpu"]}),
        )
        .await;
        booked(&app, &sys, &h(3), &h(4), &["ssd"]).await;
        let range = format!("from={}&to={}", h(0), h(6));

        let gpu = availability(&app, &sys, &format!("{range}&capabilities=gpu")).await;
        assert_eq!(
            segments(&gpu),
            [
                seg(h(0), h(1), 1),
                seg(h(1), h(2), 0),
                seg(h(2), h(3), 1),
                seg(h(3), h(4), 0),
                seg(h(4), h(6), 1),
            ]
        );
        let ssd = availability(&app, &sys, &format!("{range}&capabilities=ssd")).await;
        let any = availability(&app, &sys, &range).await;
        let expected = [seg(h(0), h(3), 1), seg(h(3), h(4), 0), seg(h(4), h(6), 1)];
        assert_eq!(segments(&ssd), expected);
        assert_eq!(segments(&any), expected);

        let (gpu_slots, body) =
            slots(&app, &sys, &format!("duration=1h&{range}&capabilities=gpu")).await;
        assert_eq!(
            gpu_slots,
            spans(&[(0, 60), (120, 180), (240, 300), (300, 360)])
        );
        assert_eq!(body["blocked_by"], json!([]));
        let (ssd_slots, _) =
            slots(&app, &sys, &format!("duration=1h&{range}&capabilities=ssd")).await;
        assert_eq!(
            ssd_slots,
            spans(&[(0, 60), (60, 120), (120, 180), (240, 300), (300, 360)])
        );
        let (limited, _) = slots(
            &app,
            &sys,
            &format!("duration=1h&{range}&capabilities=gpu&limit=2"),
        )
        .await;
        assert_eq!(limited, spans(&[(0, 60), (120, 180)]));
        // Every gpu slot offered is accepted for a gpu entry.
        for (start, end) in &gpu_slots {
            booked(&app, &sys, start, end, &["gpu"]).await;
        }
        let (none, _) = slots(&app, &sys, &format!("duration=1h&{range}&capabilities=gpu")).await;
        assert!(none.is_empty(), "{none:?}");
    }
);

both_backends!(
    slots_are_the_earliest_fits_and_every_one_is_accepted,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        booked(&app, &sys, &at(90), &at(150), &[]).await; // 13:30-14:30
        let query = format!("duration=1h&from={}&to={}&limit=100", h(0), h(6));
        let expected_rounds = [
            spans(&[
                (0, 60),
                (60, 120),
                (120, 180),
                (180, 240),
                (240, 300),
                (300, 360),
            ]),
            spans(&[(0, 60), (150, 210), (210, 270), (270, 330)]),
            Vec::new(),
        ];
        // Book every slot offered until none is left: each must be accepted.
        for (round, expected) in expected_rounds.iter().enumerate() {
            let (offered, _) = slots(&app, &sys, &query).await;
            assert_eq!(&offered, expected, "round {round}");
            for pair in offered.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "slots overlap: {offered:?}");
            }
            for (start, end) in &offered {
                booked(&app, &sys, start, end, &[]).await;
            }
        }
        assert_eq!(entries_with(&app, &sys, "active").await.len(), 11);
        // What is left is shorter than an hour everywhere.
        let avail = availability(&app, &sys, &format!("from={}&to={}", h(0), h(6))).await;
        assert_eq!(
            segments(&avail),
            [
                seg(h(0), h(1), 0),
                seg(h(1), at(90), 1),
                seg(at(90), at(330), 0),
                seg(at(330), h(6), 1),
            ]
        );
        // A shorter duration still finds those gaps.
        let (short, _) = slots(
            &app,
            &sys,
            &format!("duration=30m&from={}&to={}", h(0), h(6)),
        )
        .await;
        assert_eq!(short, spans(&[(60, 90), (330, 360)]));
    }
);

both_backends!(
    rule1_concurrent_inserts_in_one_batch_respect_capacity,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let (status, sys) = app
            .call(
                "POST",
                "/v1/systems",
                Some(json!({"name": "batch", "capacity": 3})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sys}");
        let path = format!("/v1/systems/{}/entries", sys["id"].as_str().unwrap());
        let app = std::sync::Arc::new(app);
        // Twenty inserts of the same span at once: they are decided together
        // in batches, and exactly the capacity may be accepted.
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let (app, path) = (app.clone(), path.clone());
                tokio::spawn(async move {
                    app.call(
                        "POST",
                        &path,
                        Some(json!({"start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "label": format!("n{i}")})),
                    )
                    .await
                })
            })
            .collect();
        let mut created = 0;
        for c in calls {
            let (status, body) = c.await.expect("call");
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(
                        body["type"], "urn:allot:problem:capacity_exceeded",
                        "{body}"
                    );
                    assert_eq!(
                        body["entry_ids"].as_array().map(|a| a.len()),
                        Some(3),
                        "{body}"
                    );
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(created, 3);
        let (_, page) = app
            .call("GET", &format!("{path}?status=active"), None)
            .await;
        assert_eq!(page["items"].as_array().map(|a| a.len()), Some(3), "{page}");
    }
);

both_backends!(
    rule5_only_the_holder_of_the_leader_lease_sweeps,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 5).await;
        let e = booked(&app, &sys, &h(3), &h(4), &[]).await; // 15:00-16:00
        outage(&app, &sys, json!({"kind": "unplanned", "window": "1h"})).await;
        let clock: allot::clock::SharedClock = std::sync::Arc::new(app.clock.clone());
        let lease = |holder| {
            allot::leader::LeaderLease::new(
                app.db().clone(),
                clock.clone(),
                "booking-sweeper",
                holder,
                Duration::from_secs(10),
            )
        };
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        assert!(lease(a).try_hold().await.expect("hold"));
        // Another replica's sweeper does nothing while `a` holds the lease
        // (a live holder renews it), even with an entry inside the window
        // (14:05).
        app.clock.advance(SignedDuration::from_mins(125));
        assert!(lease(a).try_hold().await.expect("renew"));
        let other = allot::booking::sweeper::Sweeper {
            service: app.server.booking.service.clone(),
            lease: lease(b),
        };
        assert_eq!(other.round().await, 0);
        assert_eq!(status_of(&app, &e).await, "active");
        // `a` renews: still its own.
        assert!(lease(a).try_hold().await.expect("renew"));
        assert!(!lease(b).try_hold().await.expect("try"));
        // `a` stops renewing; once the lease has expired, `b` takes over.
        app.clock.advance(SignedDuration::from_secs(11));
        assert_eq!(other.round().await, 1);
        assert_eq!(status_of(&app, &e).await, "evicted");
        assert!(!lease(a).try_hold().await.expect("try"));
    }
);
