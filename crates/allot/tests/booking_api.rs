//! The booking REST API on both backends: the shapes of systems, entries and
//! outages, versions and ETags, the event feed, system rules, tokens and
//! scopes, and every kind of bad input answering 4xx problem+json with
//! nothing stored.
//!
//! Time is the manual clock of [`TestApp`], starting at 2026-11-23T12:00:00Z;
//! `h(n)` and `at(m)` are that instant plus n hours or m minutes.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::booking::*;
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A request with extra headers (If-Match), which `TestApp::call_full` cannot send.
async fn call_headers(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .expect("request");
    let response = app
        .server
        .router
        .clone()
        .oneshot(req)
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, headers, json)
}

fn etag(headers: &HeaderMap) -> &str {
    headers
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .expect("ASCII ETag")
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn entry(app: &TestApp, entry_id: &str) -> Value {
    get(app, &format!("/v1/entries/{entry_id}")).await
}

/// Registers an outage, asserting 201; returns the outage with `evicted`.
async fn outage(app: &TestApp, sys: &str, body: Value, evict: bool) -> Value {
    let path = if evict {
        format!("/v1/systems/{sys}/outages?evict=true")
    } else {
        format!("/v1/systems/{sys}/outages")
    };
    let (status, out) = app.call("POST", &path, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "outage {body}: {out}");
    out
}

/// Ids of a page's items, in order.
fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(id)
        .collect()
}

/// How many events the database holds (the truth the feed must show).
async fn stored_events(app: &TestApp) -> usize {
    let n: i64 = allot::with_pool!(app.db(), p => sqlx::query_scalar("SELECT count(*) FROM booking_events")
        .fetch_one(p)
        .await
        .expect("count events"));
    n as usize
}

/// One walk over the feed from the beginning, `limit` per page.
async fn read_feed(app: &TestApp, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(c) => format!("/v1/booking/events?limit={limit}&after={c}"),
            None => format!("/v1/booking/events?limit={limit}"),
        };
        let page = get(app, &path).await;
        let items = page["items"].as_array().expect("items").clone();
        let next = page["next_cursor"].as_str().map(str::to_string);
        if items.is_empty() {
            assert_eq!(next, after, "an empty page must hand back its cursor");
            return all;
        }
        assert_eq!(
            next.as_deref(),
            items.last().unwrap()["cursor"].as_str(),
            "next_cursor is the last item's cursor"
        );
        all.extend(items);
        after = next;
    }
}

/// The whole feed, once it shows every stored event. On PostgreSQL the feed
/// holds back rows of transactions newer than the oldest transaction still
/// running on the server (any database, so also a concurrent test's), so it
/// may lag a moment behind a commit: wait for it, briefly, on real time.
async fn all_events(app: &TestApp) -> Vec<Value> {
    let stored = stored_events(app).await;
    for _ in 0..500 {
        let events = read_feed(app, 1000).await;
        if events.len() >= stored {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the event feed never showed all {stored} stored events");
}

/// Everything a request could have stored: systems, the system's entries
/// and outages, and the number of events.
async fn snapshot(app: &TestApp, sys: &str) -> Value {
    json!({
        "systems": get(app, "/v1/systems?limit=1000").await,
        "entries": get(app, &format!("/v1/systems/{sys}/entries?limit=1000")).await,
        "outages": get(app, &format!("/v1/systems/{sys}/outages")).await,
        "events": stored_events(app).await,
    })
}

// ---- shapes ----

both_backends!(system_shape_listing_and_patch, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let (status, sys) = app
        .call(
            "POST",
            "/v1/systems",
            Some(
                json!({"name": "rig-1", "capabilities": ["ssd", "gpu", "ssd"], "capacity": 2,
                "timezone": "Europe/Amsterdam"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sys}");
    for field in [
        "id",
        "name",
        "capabilities",
        "capacity",
        "timezone",
        "version",
        "created_at",
        "updated_at",
    ] {
        assert!(sys.get(field).is_some(), "missing {field} in {sys}");
    }
    assert_eq!(sys["name"], "rig-1");
    assert_eq!(
        sys["capabilities"],
        json!(["gpu", "ssd"]),
        "sorted, no repeats"
    );
    assert_eq!(sys["capacity"], 2);
    assert_eq!(sys["timezone"], "Europe/Amsterdam");
    assert_eq!(sys["version"], 1);
    assert_eq!(sys["created_at"], h(0));
    assert_eq!(sys["updated_at"], h(0));
    let sid = id(&sys);
    assert_eq!(get(&app, &format!("/v1/systems/{sid}")).await, sys);

    // Defaults.
    let (status, bare) = app
        .call(
            "POST",
            "/v1/systems",
            Some(json!({"name": "rig-2", "capacity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bare}");
    assert_eq!(bare["capabilities"], json!([]));
    assert_eq!(bare["timezone"], Value::Null);

    // Paging walks every system once, in creation order.
    for i in 3..=5 {
        new_system(&app, &[], i).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/systems?limit=2".to_string();
    loop {
        let page = get(&app, &path).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|s| s["capacity"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/systems?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [2, 1, 3, 4, 5]);

    app.clock.advance(SignedDuration::from_mins(1));
    let (status, patched) = app
        .call(
            "PATCH",
            &format!("/v1/systems/{sid}"),
            Some(
                json!({"name": "rig-one", "timezone": "", "capabilities": ["nvme", "gpu", "ssd"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "rig-one");
    assert_eq!(patched["timezone"], Value::Null);
    assert_eq!(patched["capabilities"], json!(["gpu", "nvme", "ssd"]));
    assert_eq!(patched["capacity"], 2);
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["created_at"], h(0));
    assert_eq!(patched["updated_at"], at(1));
    assert_eq!(get(&app, &format!("/v1/systems/{sid}")).await, patched);
});

both_backends!(entry_shape_etag_and_listing, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let sys = new_system(&app, &["gpu"], 10).await;
    let (status, headers, e) = call_headers(
        &app,
        "POST",
        &format!("/v1/systems/{sys}/entries"),
        Some(
            json!({"start": "2026-11-23T14:00:00+01:00", "end": h(2), "capabilities": ["gpu"],
            "label": "render", "metadata": {"frames": [1, 2]}}),
        ),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(etag(&headers), "\"1\"");
    for field in [
        "id",
        "system_id",
        "start",
        "end",
        "capabilities",
        "label",
        "metadata",
        "status",
        "version",
        "eviction",
        "created_at",
        "updated_at",
    ] {
        assert!(e.get(field).is_some(), "missing {field} in {e}");
    }
    assert_eq!(e["system_id"], sys.as_str());
    assert_eq!(e["start"], h(1), "times are normalised to UTC");
    assert_eq!(e["end"], h(2));
    assert_eq!(e["capabilities"], json!(["gpu"]));
    assert_eq!(e["label"], "render");
    assert_eq!(e["metadata"], json!({"frames": [1, 2]}));
    assert_eq!(e["status"], "active");
    assert_eq!(e["version"], 1);
    assert_eq!(e["eviction"], Value::Null);
    assert_eq!(e["created_at"], h(0));
    let first = id(&e);
    let (status, headers, got) =
        call_headers(&app, "GET", &format!("/v1/entries/{first}"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(etag(&headers), "\"1\"");
    assert_eq!(got, e);

    // Defaults.
    let (status, bare) = book(&app, &sys, &h(3), &h(4), &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{bare}");
    assert_eq!(bare["label"], "");
    assert_eq!(bare["metadata"], json!({}));
    assert_eq!(bare["capabilities"], json!([]));
    let third = id(&bare);

    // Listing is in start order, then id, whatever the creation order.
    let earliest = booked(&app, &sys, &h(0), &h(1), &[]).await;
    let same: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(booked(&app, &sys, &h(5), &h(6), &[]).await);
        }
        v
    };
    let mut expected = vec![earliest.clone(), first.clone(), third.clone()];
    expected.extend(same.iter().cloned());
    let page = get(&app, &format!("/v1/systems/{sys}/entries")).await;
    assert_eq!(item_ids(&page), expected);
    assert_eq!(page["next_cursor"], Value::Null);
    let mut walked = Vec::new();
    let mut path = format!("/v1/systems/{sys}/entries?limit=2");
    loop {
        let page = get(&app, &path).await;
        assert!(page["items"].as_array().unwrap().len() <= 2);
        walked.extend(item_ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/systems/{sys}/entries?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(walked, expected, "paging repeats or skips entries");

    // from/to: entries ending after `from` and starting before `to`.
    let page = get(
        &app,
        &format!("/v1/systems/{sys}/entries?from={}&to={}", h(2), h(5)),
    )
    .await;
    assert_eq!(item_ids(&page), [third.as_str()]);
    let page = get(
        &app,
        &format!("/v1/systems/{sys}/entries?from={}&to={}", at(30), at(61)),
    )
    .await;
    assert_eq!(item_ids(&page), [earliest.clone(), first.clone()]);
    // status.
    let (status, _) = app
        .call("DELETE", &format!("/v1/entries/{third}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let page = get(&app, &format!("/v1/systems/{sys}/entries?status=deleted")).await;
    assert_eq!(item_ids(&page), [third.as_str()]);
    let page = get(&app, &format!("/v1/systems/{sys}/entries?status=active")).await;
    assert!(!item_ids(&page).contains(&third));
    assert_eq!(item_ids(&page).len(), 5);
});

both_backends!(
    entry_patch_and_delete_are_conditional_on_the_version,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let e = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let path = format!("/v1/entries/{e}");
        let original = entry(&app, &e).await;

        // A stale If-Match or body version: 409, nothing changes.
        let (status, _, problem) = call_headers(
            &app,
            "PATCH",
            &path,
            Some(json!({"label": "a"})),
            &[("if-match", "\"2\"")],
        )
        .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "version_conflict");
        assert_eq!(problem["current_version"], 1);
        assert_eq!(problem["expected_version"], 2);
        let (status, problem) = app
            .call("PATCH", &path, Some(json!({"label": "a", "version": 7})))
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "version_conflict");
        assert_eq!(entry(&app, &e).await, original);

        // Matching versions go through, and the ETag follows.
        let (status, headers, patched) = call_headers(
            &app,
            "PATCH",
            &path,
            Some(json!({"label": "a"})),
            &[("if-match", "\"1\"")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(etag(&headers), "\"2\"");
        assert_eq!(patched["version"], 2);
        assert_eq!(patched["label"], "a");
        let (status, patched) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"metadata": {"k": 1}, "version": 2})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["version"], 3);
        assert_eq!(patched["label"], "a", "an absent field is left alone");
        let (status, headers, patched) = call_headers(
            &app,
            "PATCH",
            &path,
            Some(json!({"label": "b"})),
            &[("if-match", "W/\"3\"")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(etag(&headers), "\"4\"");
        // Both given: both must match.
        let (status, _, problem) = call_headers(
            &app,
            "PATCH",
            &path,
            Some(json!({"label": "c", "version": 3})),
            &[("if-match", "\"4\"")],
        )
        .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "version_conflict");
        let (status, _, problem) = call_headers(
            &app,
            "PATCH",
            &path,
            Some(json!({"label": "c"})),
            &[("if-match", "soon")],
        )
        .await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-request");
        let current = entry(&app, &e).await;
        assert_eq!(current["label"], "b");
        assert_eq!(current["version"], 4);

        // DELETE honours If-Match too; a deleted entry is kept, marked.
        let (status, _, problem) =
            call_headers(&app, "DELETE", &path, None, &[("if-match", "\"1\"")]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "version_conflict");
        assert_eq!(entry(&app, &e).await, current);
        let (status, _, body) =
            call_headers(&app, "DELETE", &path, None, &[("if-match", "\"4\"")]).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let deleted = entry(&app, &e).await;
        assert_eq!(deleted["status"], "deleted");
        assert_eq!(deleted["version"], 5);
        assert_eq!(deleted["label"], "b");
        assert_eq!(deleted["metadata"], json!({"k": 1}));
        assert_eq!(deleted["eviction"], Value::Null);
        // Deleting again changes nothing.
        let (status, _) = app.call("DELETE", &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(entry(&app, &e).await, deleted);
    }
);

both_backends!(outage_shape_listing_and_versioning, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let sys = new_system(&app, &["gpu"], 2).await;
    let planned = outage(
        &app,
        &sys,
        json!({"kind": "planned", "start": h(2), "end": h(3), "capabilities": ["gpu"],
            "reason": "firmware"}),
        false,
    )
    .await;
    for field in [
        "id",
        "system_id",
        "kind",
        "capabilities",
        "start",
        "end",
        "expected_end",
        "window",
        "reason",
        "state",
        "resolved_at",
        "version",
        "created_at",
        "updated_at",
        "evicted",
    ] {
        assert!(planned.get(field).is_some(), "missing {field} in {planned}");
    }
    assert_eq!(planned["system_id"], sys.as_str());
    assert_eq!(planned["kind"], "planned");
    assert_eq!(planned["capabilities"], json!(["gpu"]));
    assert_eq!(planned["start"], h(2));
    assert_eq!(planned["end"], h(3));
    assert_eq!(planned["expected_end"], Value::Null);
    assert_eq!(planned["window"], Value::Null);
    assert_eq!(planned["reason"], "firmware");
    assert_eq!(planned["state"], "scheduled");
    assert_eq!(planned["resolved_at"], Value::Null);
    assert_eq!(planned["version"], 1);
    assert_eq!(planned["evicted"], json!([]));

    let unplanned = outage(
        &app,
        &sys,
        json!({"kind": "unplanned", "window": "90m", "expected_end": h(2)}),
        false,
    )
    .await;
    assert_eq!(unplanned["kind"], "unplanned");
    assert_eq!(unplanned["capabilities"], Value::Null);
    assert_eq!(unplanned["start"], h(0));
    assert_eq!(unplanned["end"], Value::Null);
    assert_eq!(unplanned["expected_end"], h(2));
    assert_eq!(unplanned["window"], "1h30m");
    assert_eq!(unplanned["reason"], "");
    assert_eq!(unplanned["state"], "ongoing");

    let pid = id(&planned);
    let uid = id(&unplanned);
    let mut without_evicted = planned.clone();
    without_evicted.as_object_mut().unwrap().remove("evicted");
    assert_eq!(
        get(&app, &format!("/v1/outages/{pid}")).await,
        without_evicted
    );

    // Listed in start order; `open` leaves out resolved ones.
    let list = get(&app, &format!("/v1/systems/{sys}/outages")).await;
    assert_eq!(item_ids(&list), [uid.clone(), pid.clone()]);
    let (status, _) = app
        .call("POST", &format!("/v1/outages/{uid}/resolve"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let open = get(&app, &format!("/v1/systems/{sys}/outages?state=open")).await;
    assert_eq!(item_ids(&open), [pid.as_str()]);
    let all = get(&app, &format!("/v1/systems/{sys}/outages?state=all")).await;
    assert_eq!(item_ids(&all).len(), 2);

    // Conditional changes.
    let (status, problem) = app
        .call(
            "PATCH",
            &format!("/v1/outages/{pid}"),
            Some(json!({"reason": "x", "version": 5})),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "version_conflict");
    let (status, changed) = app
        .call(
            "PATCH",
            &format!("/v1/outages/{pid}"),
            Some(json!({"reason": "new firmware", "version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["reason"], "new firmware");
    assert_eq!(changed["start"], h(2), "an absent field is left alone");
});

// ---- rule 9: evictions and the event feed ----

both_backends!(
    evictions_keep_the_entry_and_its_data,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu"], 2).await;
        let (status, created) = app
            .call(
                "POST",
                &format!("/v1/systems/{sys}/entries"),
                Some(
                    json!({"start": h(2), "end": h(3), "capabilities": ["gpu"], "label": "keep me",
                "metadata": {"owner": "ana"}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let e = id(&created);
        app.clock.advance(SignedDuration::from_mins(5));
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(2), "end": h(4)}),
            true,
        )
        .await;
        assert_eq!(out["evicted"], json!([e.clone()]));

        let evicted = entry(&app, &e).await;
        assert_eq!(evicted["status"], "evicted");
        assert_eq!(evicted["version"], 2);
        assert_eq!(evicted["eviction"]["outage_id"], out["id"]);
        assert_eq!(evicted["eviction"]["at"], at(5));
        assert!(
            evicted["eviction"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{evicted}"
        );
        for kept in [
            "id",
            "system_id",
            "start",
            "end",
            "capabilities",
            "label",
            "metadata",
            "created_at",
        ] {
            assert_eq!(evicted[kept], created[kept], "{kept} changed on eviction");
        }
        assert_eq!(evicted["updated_at"], at(5));
        let page = get(&app, &format!("/v1/systems/{sys}/entries")).await;
        assert_eq!(item_ids(&page), [e.as_str()], "evicted entries stay listed");
        let page = get(&app, &format!("/v1/systems/{sys}/entries?status=evicted")).await;
        assert_eq!(item_ids(&page), [e.as_str()]);
        let page = get(&app, &format!("/v1/systems/{sys}/entries?status=active")).await;
        assert!(item_ids(&page).is_empty());
        // The feed says so, with the entry after the change.
        let events = all_events(&app).await;
        let last = events.last().unwrap();
        assert_eq!(last["kind"], "entry.evicted");
        assert_eq!(last["entry_id"], e.as_str());
        assert_eq!(last["outage_id"], out["id"]);
        assert_eq!(last["data"], evicted);
    }
);

both_backends!(
    events_feed_records_every_change_in_order_and_pages_without_repeats,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let a = booked(&app, &sys, &h(2), &h(3), &[]).await;
        app.clock.advance(SignedDuration::from_mins(1));
        let (status, _) = app
            .call(
                "PATCH",
                &format!("/v1/entries/{a}"),
                Some(json!({"label": "moved"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let b = booked(&app, &sys, &h(4), &h(5), &[]).await;
        app.clock.advance(SignedDuration::from_mins(1));
        let (status, _) = app.call("DELETE", &format!("/v1/entries/{b}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        app.clock.advance(SignedDuration::from_mins(1));
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(2), "end": h(3)}),
            true,
        )
        .await;
        let o = id(&out);
        app.clock.advance(SignedDuration::from_mins(1));
        let (status, _) = app
            .call(
                "PATCH",
                &format!("/v1/outages/{o}"),
                Some(json!({"reason": "maintenance"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app.clock.advance(SignedDuration::from_mins(1));
        let (status, _) = app
            .call("POST", &format!("/v1/outages/{o}/resolve"), None)
            .await;
        assert_eq!(status, StatusCode::OK);

        let events = all_events(&app).await;
        let got: Vec<(&str, Option<&str>, Option<&str>, &str)> = events
            .iter()
            .map(|ev| {
                (
                    ev["kind"].as_str().unwrap(),
                    ev["entry_id"].as_str(),
                    ev["outage_id"].as_str(),
                    ev["at"].as_str().unwrap(),
                )
            })
            .collect();
        let (t0, t1, t2, t3, t4, t5) = (h(0), at(1), at(2), at(3), at(4), at(5));
        assert_eq!(
            got,
            [
                ("entry.created", Some(a.as_str()), None, t0.as_str()),
                ("entry.updated", Some(a.as_str()), None, t1.as_str()),
                ("entry.created", Some(b.as_str()), None, t1.as_str()),
                ("entry.deleted", Some(b.as_str()), None, t2.as_str()),
                ("outage.created", None, Some(o.as_str()), t3.as_str()),
                (
                    "entry.evicted",
                    Some(a.as_str()),
                    Some(o.as_str()),
                    t3.as_str()
                ),
                ("outage.updated", None, Some(o.as_str()), t4.as_str()),
                ("outage.resolved", None, Some(o.as_str()), t5.as_str()),
            ]
        );
        for ev in &events {
            assert_eq!(ev["system_id"], sys.as_str(), "{ev}");
        }
        assert_eq!(events[1]["data"]["label"], "moved");
        assert_eq!(events[3]["data"]["status"], "deleted");
        assert_eq!(events[5]["data"]["status"], "evicted");
        assert_eq!(events[6]["data"]["reason"], "maintenance");
        assert_eq!(events[7]["data"]["state"], "resolved");

        // Small pages give the same feed, each event once.
        let paged = read_feed(&app, 3).await;
        assert_eq!(paged, events);
        let mut cursors: Vec<&str> = events
            .iter()
            .map(|e| e["cursor"].as_str().unwrap())
            .collect();
        cursors.sort();
        cursors.dedup();
        assert_eq!(cursors.len(), events.len(), "a cursor repeats");

        // At the end: nothing, and the same cursor back.
        let last = events.last().unwrap()["cursor"]
            .as_str()
            .unwrap()
            .to_string();
        let page = get(&app, &format!("/v1/booking/events?after={last}")).await;
        assert_eq!(page["items"], json!([]));
        assert_eq!(page["next_cursor"], last.as_str());
        // Only what is newer follows a cursor.
        let c = booked(&app, &sys, &h(6), &h(7), &[]).await;
        let mut newer = Vec::new();
        for _ in 0..500 {
            let page = get(&app, &format!("/v1/booking/events?after={last}")).await;
            newer = page["items"].as_array().unwrap().clone();
            if !newer.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(newer.len(), 1, "{newer:?}");
        assert_eq!(newer[0]["kind"], "entry.created");
        assert_eq!(newer[0]["entry_id"], c.as_str());
        // From the middle: the rest, in order.
        let middle = events[3]["cursor"].as_str().unwrap();
        let page = get(&app, &format!("/v1/booking/events?after={middle}&limit=4")).await;
        assert_eq!(page["items"].as_array().unwrap()[..], events[4..8]);
        assert_eq!(page["next_cursor"], events[7]["cursor"]);
        // Cursors this API never gave out.
        for bad in ["zzz", "1", "1.x", "x.1"] {
            let (status, problem) = app
                .call("GET", &format!("/v1/booking/events?after={bad}"), None)
                .await;
            assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");
        }
    }
);

// ---- system rules ----

both_backends!(
    system_delete_is_refused_while_entries_have_not_ended,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let live = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let gone = booked(&app, &sys, &h(3), &h(4), &[]).await;
        let (status, _) = app
            .call("DELETE", &format!("/v1/entries/{gone}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let evicted = booked(&app, &sys, &h(5), &h(6), &[]).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(5), "end": h(6)}),
            true,
        )
        .await;
        assert_eq!(out["evicted"], json!([evicted.clone()]));

        let (status, problem) = app
            .call("DELETE", &format!("/v1/systems/{sys}"), None)
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "system_in_use");
        assert_eq!(
            problem["entry_ids"],
            json!([live.clone()]),
            "only live entries block"
        );
        get(&app, &format!("/v1/systems/{sys}")).await;
        assert_eq!(entry(&app, &live).await["status"], "active");

        // 14:00: it has ended; the system may go, with its history.
        app.clock.set(h(2).parse().unwrap());
        let (status, body) = app
            .call("DELETE", &format!("/v1/systems/{sys}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        for path in [
            format!("/v1/systems/{sys}"),
            format!("/v1/systems/{sys}/entries"),
            format!("/v1/systems/{sys}/outages"),
        ] {
            let (status, problem) = app.call("GET", &path, None).await;
            assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
        }
        // Its history goes with it: no entry row is left pointing at it
        // (PostgreSQL has no foreign key to cascade this; the delete does).
        let left: i64 = allot::with_pool!(app.db(), p => sqlx::query_scalar(
            "SELECT count(*) FROM booking_entries WHERE system_id = $1")
            .bind(allot::store::DbId(sys.parse().unwrap()))
            .fetch_one(p)
            .await
            .expect("count entries"));
        assert_eq!(left, 0, "entries of the deleted system remain");
        let (status, problem) = app
            .call("DELETE", &format!("/v1/systems/{sys}"), None)
            .await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
        let list = get(&app, "/v1/systems").await;
        assert!(item_ids(&list).is_empty());

        // A system that never had entries goes at once.
        let empty = new_system(&app, &[], 1).await;
        let (status, _) = app
            .call("DELETE", &format!("/v1/systems/{empty}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.call("GET", &format!("/v1/systems/{empty}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    system_capacity_cannot_drop_below_what_entries_use,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 3).await;
        // Two overlapping entries already over: they never block.
        booked(&app, &sys, &at(-120), &at(-60), &[]).await;
        booked(&app, &sys, &at(-120), &at(-60), &[]).await;
        let a = booked(&app, &sys, &h(1), &h(3), &[]).await; // 13:00-15:00
        let b = booked(&app, &sys, &h(2), &h(4), &[]).await; // 14:00-16:00
        let c = booked(&app, &sys, &at(150), &at(170), &[]).await; // 14:30-14:50
        let path = format!("/v1/systems/{sys}");
        let before = get(&app, &path).await;

        let (status, problem) = app.call("PATCH", &path, Some(json!({"capacity": 2}))).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], at(150));
        assert_eq!(problem["capacity"], 2);
        assert_eq!(set(&problem["entry_ids"]), ids(&[&a, &b, &c]));
        let (status, problem) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"capacity": 1, "name": "smaller"})),
            )
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["at"], h(2));
        assert_eq!(set(&problem["entry_ids"]), ids(&[&a, &b]));
        assert_eq!(
            get(&app, &path).await,
            before,
            "a refused change stored something"
        );

        let (status, _) = app.call("DELETE", &format!("/v1/entries/{c}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, changed) = app.call("PATCH", &path, Some(json!({"capacity": 2}))).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["capacity"], 2);
        assert_eq!(changed["version"], 2);
        let (status, _) = app.call("DELETE", &format!("/v1/entries/{b}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, changed) = app.call("PATCH", &path, Some(json!({"capacity": 1}))).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        // The new capacity is the one entries are checked against.
        let (status, problem) = book(&app, &sys, &h(2), &h(3), &[]).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "capacity_exceeded");
        assert_eq!(problem["capacity"], 1);
    }
);

both_backends!(
    system_capabilities_in_use_cannot_be_removed,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu", "ssd", "tpu"], 2).await;
        let e = booked(&app, &sys, &h(1), &h(2), &["gpu"]).await;
        let o = id(&outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(5), "end": h(6), "capabilities": ["tpu"]}),
            false,
        )
        .await);
        let path = format!("/v1/systems/{sys}");
        let before = get(&app, &path).await;
        // tpu is needed by an open outage.
        let (status, problem) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"capabilities": ["gpu", "ssd"]})),
            )
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::CONFLICT,
            "capability_unsupported",
        );
        assert_eq!(problem["outage_ids"], json!([o.clone()]));
        assert_eq!(problem["entry_ids"], json!([]));
        // gpu by a live entry.
        let (status, problem) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"capabilities": ["ssd", "tpu"]})),
            )
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::CONFLICT,
            "capability_unsupported",
        );
        assert_eq!(problem["entry_ids"], json!([e.clone()]));
        assert_eq!(problem["capabilities"], json!(["gpu"]));
        assert_eq!(get(&app, &path).await, before);

        // Removing unused ones is fine.
        let (status, changed) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"capabilities": ["gpu", "tpu"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["capabilities"], json!(["gpu", "tpu"]));
        // Once the entry has ended, gpu is free to go.
        app.clock.set(h(2).parse().unwrap());
        let (status, changed) = app
            .call("PATCH", &path, Some(json!({"capabilities": ["tpu"]})))
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["capabilities"], json!(["tpu"]));
    }
);

// ---- bad input ----

both_backends!(
    bad_system_input_is_a_problem_and_stores_nothing,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu"], 2).await;
        booked(&app, &sys, &h(1), &h(2), &["gpu"]).await;
        let before = snapshot(&app, &sys).await;

        let create: Vec<(Value, &str)> = vec![
            (json!({"name": "x", "capacity": 0}), "/capacity"),
            (json!({"name": "x", "capacity": -3}), "/capacity"),
            (json!({"name": "x", "capacity": 10_000_000}), "/capacity"),
            (json!({"name": "x"}), "/capacity"),
            (json!({"name": "x", "capacity": "two"}), "/capacity"),
            (json!({"name": "x", "capacity": 1.5}), "/capacity"),
            (json!({"capacity": 1}), "/name"),
            (json!({"name": "", "capacity": 1}), "/name"),
            (json!({"name": "   ", "capacity": 1}), "/name"),
            (json!({"name": 7, "capacity": 1}), "/name"),
            (json!({"name": "a\u{0}b", "capacity": 1}), "/name"),
            (
                json!({"name": "x", "capacity": 1, "capabilities": "gpu"}),
                "/capabilities",
            ),
            (
                json!({"name": "x", "capacity": 1, "capabilities": ["gpu", ""]}),
                "/capabilities/1",
            ),
            (
                json!({"name": "x", "capacity": 1, "timezone": "Mars/Base"}),
                "/timezone",
            ),
        ];
        for (body, pointer) in create {
            let (status, problem) = app.call("POST", "/v1/systems", Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        let (status, problem) = app
            .call(
                "POST",
                "/v1/systems",
                Some(json!({"name": "x", "capacity": 1, "colour": "red"})),
            )
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );

        let path = format!("/v1/systems/{sys}");
        let update: Vec<(Value, &str)> = vec![
            (json!({"capacity": 0}), "/capacity"),
            (json!({"capacity": -1}), "/capacity"),
            (json!({"capacity": "3"}), "/capacity"),
            (json!({"name": ""}), "/name"),
            (json!({"capabilities": [""]}), "/capabilities/0"),
            (json!({"timezone": "Nowhere/Else"}), "/timezone"),
        ];
        for (body, pointer) in update {
            let (status, problem) = app.call("PATCH", &path, Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        let (status, problem) = app
            .call("PATCH", &path, Some(json!({"version": 1, "owner": "me"})))
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );

        for (method, path) in [("POST", "/v1/systems"), ("PATCH", path.as_str())] {
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    Some("{\"name\": ".into()),
                    Some(TOKEN),
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-request");
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    Some("name=x".into()),
                    Some(TOKEN),
                    "text/plain",
                )
                .await;
            assert_problem(
                status,
                &problem,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            );
        }
        assert_eq!(
            snapshot(&app, &sys).await,
            before,
            "a failed request stored something"
        );
    }
);

both_backends!(
    bad_entry_input_is_a_problem_and_stores_nothing,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu"], 2).await;
        let e = booked(&app, &sys, &h(1), &h(2), &["gpu"]).await;
        let before = snapshot(&app, &sys).await;
        let entries = format!("/v1/systems/{sys}/entries");

        // Over 366 days from 12:00 and from 13:00 (the entry's start) alike.
        let beyond_max = start_time()
            .checked_add(SignedDuration::from_hours(366 * 24 + 2))
            .unwrap()
            .to_string();
        let create: Vec<(Value, &str)> = vec![
            (json!({"start": h(2), "end": h(2)}), "/end"),
            (json!({"start": h(3), "end": h(2)}), "/end"),
            (json!({"start": h(0), "end": beyond_max}), "/end"),
            (json!({"start": "tomorrow", "end": h(2)}), "/start"),
            (
                json!({"start": "2026-11-23T13:00:00", "end": h(2)}),
                "/start",
            ),
            (json!({"start": "2026-11-23 13:00", "end": h(2)}), "/start"),
            (
                json!({"start": h(1), "end": "2026-13-01T00:00:00Z"}),
                "/end",
            ),
            (json!({"start": h(1), "end": 42}), "/end"),
            (json!({"start": h(1)}), "/end"),
            (json!({"end": h(1)}), "/start"),
            (
                json!({"start": h(1), "end": h(2), "capabilities": "gpu"}),
                "/capabilities",
            ),
            (
                json!({"start": h(1), "end": h(2), "capabilities": [1]}),
                "/capabilities/0",
            ),
            (
                json!({"start": h(1), "end": h(2), "capabilities": [""]}),
                "/capabilities/0",
            ),
            (json!({"start": h(1), "end": h(2), "label": 5}), "/label"),
            (
                json!({"start": h(1), "end": h(2), "metadata": [1, 2]}),
                "/metadata",
            ),
            (
                json!({"start": h(1), "end": h(2), "metadata": "x"}),
                "/metadata",
            ),
        ];
        for (body, pointer) in create {
            let (status, problem) = app.call("POST", &entries, Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        let (status, problem) = app
            .call(
                "POST",
                &entries,
                Some(json!({"start": h(1), "end": h(2), "owner": "ana"})),
            )
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        let (status, problem) = book(&app, &sys, &h(3), &h(4), &["gpu", "tpu"]).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );
        assert_eq!(problem["capabilities"], json!(["tpu"]));

        let path = format!("/v1/entries/{e}");
        let update: Vec<(Value, &str)> = vec![
            (json!({"end": h(1)}), "/end"),
            (json!({"start": h(2)}), "/end"),
            (json!({"end": beyond_max.clone()}), "/end"),
            (json!({"start": "soon"}), "/start"),
            (json!({"capabilities": "gpu"}), "/capabilities"),
            (json!({"label": ["x"]}), "/label"),
            (json!({"metadata": 3}), "/metadata"),
            (json!({"version": "one"}), "/version"),
        ];
        for (body, pointer) in update {
            let (status, problem) = app.call("PATCH", &path, Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        let (status, problem) = app
            .call("PATCH", &path, Some(json!({"status": "deleted"})))
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        let (status, problem) = app
            .call("PATCH", &path, Some(json!({"capabilities": ["tpu"]})))
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );
        for (method, path) in [("POST", entries.as_str()), ("PATCH", path.as_str())] {
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    Some("{\"start\": [".into()),
                    Some(TOKEN),
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-request");
        }
        assert_eq!(
            snapshot(&app, &sys).await,
            before,
            "a failed request stored something"
        );

        // The limit itself is accepted: exactly 366 days.
        let at_max = start_time()
            .checked_add(SignedDuration::from_hours(366 * 24))
            .unwrap()
            .to_string();
        booked(&app, &sys, &h(0), &at_max, &[]).await;
    }
);

both_backends!(
    bad_outage_input_is_a_problem_and_stores_nothing,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &["gpu"], 2).await;
        booked(&app, &sys, &h(5), &h(6), &["gpu"]).await;
        let planned = outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(1), "end": h(2)}),
            false,
        )
        .await;
        let unplanned = outage(
            &app,
            &sys,
            json!({"kind": "unplanned", "window": "1h"}),
            false,
        )
        .await;
        let before = snapshot(&app, &sys).await;
        let outages = format!("/v1/systems/{sys}/outages");

        let create: Vec<(Value, &str)> = vec![
            (json!({"kind": "unplanned", "window": "0s"}), "/window"),
            (json!({"kind": "unplanned", "window": "abc"}), "/window"),
            (json!({"kind": "unplanned", "window": "-1h"}), "/window"),
            (json!({"kind": "unplanned", "window": "1500ms"}), "/window"),
            (json!({"kind": "unplanned", "window": 7200}), "/window"),
            (json!({"kind": "unplanned"}), "/window"),
            (
                json!({"kind": "unplanned", "window": "1h", "start": h(1)}),
                "/start",
            ),
            (
                json!({"kind": "unplanned", "window": "1h", "end": h(1)}),
                "/end",
            ),
            (
                json!({"kind": "unplanned", "window": "1h", "expected_end": at(-10)}),
                "/expected_end",
            ),
            (json!({"kind": "planned", "start": h(1)}), "/end"),
            (json!({"kind": "planned", "end": h(1)}), "/start"),
            (
                json!({"kind": "planned", "start": h(3), "end": h(3)}),
                "/end",
            ),
            (
                json!({"kind": "planned", "start": h(3), "end": h(2)}),
                "/end",
            ),
            (
                json!({"kind": "planned", "start": h(3), "end": h(4), "window": "1h"}),
                "/window",
            ),
            (
                json!({"kind": "planned", "start": h(3), "end": h(4), "expected_end": h(4)}),
                "/expected_end",
            ),
            (
                json!({"kind": "planned", "start": "noon", "end": h(4)}),
                "/start",
            ),
            (
                json!({"kind": "planned", "start": h(3), "end": h(4), "capabilities": []}),
                "/capabilities",
            ),
            (
                json!({"kind": "planned", "start": h(3), "end": h(4), "reason": 5}),
                "/reason",
            ),
            (json!({"kind": "sometimes", "window": "1h"}), "/kind"),
            (json!({"window": "1h"}), "/kind"),
        ];
        for (body, pointer) in create {
            let (status, problem) = app.call("POST", &outages, Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        let (status, problem) = app
            .call(
                "POST",
                &outages,
                Some(json!({"kind": "unplanned", "window": "1h", "severity": "high"})),
            )
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        let (status, problem) = app
            .call(
                "POST",
                &outages,
                Some(
                    json!({"kind": "planned", "start": h(3), "end": h(4), "capabilities": ["tpu"]}),
                ),
            )
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );

        let planned_path = format!("/v1/outages/{}", id(&planned));
        let unplanned_path = format!("/v1/outages/{}", id(&unplanned));
        let update: Vec<(&str, Value, &str)> = vec![
            (&planned_path, json!({"end": h(1)}), "/end"),
            (&planned_path, json!({"start": h(2)}), "/end"),
            (&planned_path, json!({"window": "2h"}), "/window"),
            (
                &planned_path,
                json!({"expected_end": h(3)}),
                "/expected_end",
            ),
            (&planned_path, json!({"capabilities": []}), "/capabilities"),
            (&planned_path, json!({"start": "later"}), "/start"),
            (&unplanned_path, json!({"window": "0s"}), "/window"),
            (&unplanned_path, json!({"window": "abc"}), "/window"),
            (&unplanned_path, json!({"start": at(-30)}), "/start"),
            (&unplanned_path, json!({"end": h(1)}), "/end"),
        ];
        for (path, body, pointer) in update {
            let (status, problem) = app.call("PATCH", path, Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &format!("{path} {body}"));
        }
        for path in [&planned_path, &unplanned_path] {
            let (status, problem) = app
                .call("PATCH", path, Some(json!({"kind": "planned"})))
                .await;
            assert_problem(
                status,
                &problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            );
            let (status, problem) = app
                .call("PATCH", path, Some(json!({"capabilities": ["tpu"]})))
                .await;
            assert_problem(
                status,
                &problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                "capability_unsupported",
            );
        }
        for (method, path) in [("POST", outages.as_str()), ("PATCH", planned_path.as_str())] {
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    Some("{kind: planned}".into()),
                    Some(TOKEN),
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-request");
        }
        let (status, problem) = app
            .call(
                "POST",
                &format!("{outages}?evict=maybe"),
                Some(json!({"kind": "planned", "start": h(3), "end": h(4)})),
            )
            .await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");
        assert_eq!(
            snapshot(&app, &sys).await,
            before,
            "a failed request stored something"
        );
    }
);

both_backends!(unknown_and_malformed_ids_are_404, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let sys = new_system(&app, &[], 1).await;
    let before = snapshot(&app, &sys).await;
    let entry_body = json!({"start": h(1), "end": h(2)});
    let outage_body = json!({"kind": "planned", "start": h(1), "end": h(2)});
    for bad in ["01a20877-40b7-7664-b850-e43c4731a456", "not-a-uuid", "42"] {
        let requests: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", format!("/v1/systems/{bad}"), None),
            (
                "PATCH",
                format!("/v1/systems/{bad}"),
                Some(json!({"name": "y"})),
            ),
            ("DELETE", format!("/v1/systems/{bad}"), None),
            (
                "POST",
                format!("/v1/systems/{bad}/entries"),
                Some(entry_body.clone()),
            ),
            ("GET", format!("/v1/systems/{bad}/entries"), None),
            ("GET", format!("/v1/systems/{bad}/availability"), None),
            ("GET", format!("/v1/systems/{bad}/slots?duration=1h"), None),
            (
                "POST",
                format!("/v1/systems/{bad}/outages"),
                Some(outage_body.clone()),
            ),
            ("GET", format!("/v1/systems/{bad}/outages"), None),
            ("GET", format!("/v1/entries/{bad}"), None),
            (
                "PATCH",
                format!("/v1/entries/{bad}"),
                Some(json!({"label": "y"})),
            ),
            ("DELETE", format!("/v1/entries/{bad}"), None),
            ("GET", format!("/v1/outages/{bad}"), None),
            (
                "PATCH",
                format!("/v1/outages/{bad}"),
                Some(json!({"reason": "y"})),
            ),
            ("POST", format!("/v1/outages/{bad}/resolve"), None),
        ];
        for (method, path, body) in requests {
            let (status, problem) = app.call(method, &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
            assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
            assert_eq!(problem["id"], bad, "{method} {path}");
        }
    }
    // Ids of the wrong kind are unknown too.
    let e = booked(&app, &sys, &h(1), &h(2), &[]).await;
    for path in [
        format!("/v1/systems/{e}"),
        format!("/v1/outages/{e}"),
        format!("/v1/entries/{sys}"),
    ] {
        let (status, problem) = app.call("GET", &path, None).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    }
    let (status, _) = app.call("DELETE", &format!("/v1/entries/{e}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = snapshot(&app, &sys).await;
    assert_eq!(after["systems"], before["systems"]);
    assert_eq!(item_ids(&after["entries"]), [e.as_str()]);
    assert_eq!(after["outages"], before["outages"]);
    assert_eq!(after["events"], 2, "only the entry's create and delete");
});

both_backends!(bad_queries_are_400, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let sys = new_system(&app, &["gpu"], 1).await;
    let too_far = start_time()
        .checked_add(SignedDuration::from_hours(367 * 24))
        .unwrap()
        .to_string();
    let paths = vec![
        "/v1/systems?limit=0".to_string(),
        "/v1/systems?limit=1001".to_string(),
        "/v1/systems?limit=abc".to_string(),
        "/v1/systems?cursor=zzz".to_string(),
        format!("/v1/systems/{sys}/entries?from=tomorrow"),
        format!("/v1/systems/{sys}/entries?to=2026-13-01T00:00:00Z"),
        format!("/v1/systems/{sys}/entries?from=2026-11-23T12:00:00"),
        format!("/v1/systems/{sys}/entries?status=gone"),
        format!("/v1/systems/{sys}/entries?limit=0"),
        format!("/v1/systems/{sys}/entries?cursor=zzz"),
        format!("/v1/systems/{sys}/availability?from=tomorrow"),
        format!("/v1/systems/{sys}/availability?to=later"),
        format!("/v1/systems/{sys}/availability?from={}&to={}", h(2), h(1)),
        format!("/v1/systems/{sys}/availability?from={}&to={}", h(1), h(1)),
        format!("/v1/systems/{sys}/availability?from={}&to={too_far}", h(0)),
        format!("/v1/systems/{sys}/slots"),
        format!("/v1/systems/{sys}/slots?from={}&to={}", h(0), h(2)),
        format!("/v1/systems/{sys}/slots?duration=abc"),
        format!("/v1/systems/{sys}/slots?duration=0s"),
        format!("/v1/systems/{sys}/slots?duration=1h&limit=0"),
        format!("/v1/systems/{sys}/slots?duration=1h&limit=1001"),
        format!(
            "/v1/systems/{sys}/slots?duration=1h&from={}&to={}",
            h(2),
            h(1)
        ),
        format!(
            "/v1/systems/{sys}/slots?duration=1h&from={}&to={}",
            h(2),
            h(2)
        ),
        format!("/v1/systems/{sys}/slots?duration=1h&from=noon"),
        format!("/v1/systems/{sys}/outages?state=bogus"),
        "/v1/booking/events?limit=0".to_string(),
        "/v1/booking/events?limit=1001".to_string(),
        "/v1/booking/events?after=zzz".to_string(),
    ];
    for path in paths {
        let (status, problem) = app.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");
    }
    // A capability the system lacks is not a malformed query but the same
    // 422 an entry asking for it gets.
    for path in [
        format!("/v1/systems/{sys}/availability?capabilities=gpu,tpu"),
        format!("/v1/systems/{sys}/slots?duration=1h&capabilities=tpu"),
    ] {
        let (status, problem) = app.call("GET", &path, None).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_unsupported",
        );
        assert_eq!(problem["capabilities"], json!(["tpu"]), "{path}");
    }
});

// ---- tokens and scopes ----

both_backends!(
    tokens_and_scopes_guard_booking_routes,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 2).await;
        let e = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let o = id(&outage(
            &app,
            &sys,
            json!({"kind": "planned", "start": h(5), "end": h(6)}),
            false,
        )
        .await);
        let before = snapshot(&app, &sys).await;

        let reads = vec![
            "/v1/systems".to_string(),
            format!("/v1/systems/{sys}"),
            format!("/v1/systems/{sys}/entries"),
            format!("/v1/systems/{sys}/availability"),
            format!("/v1/systems/{sys}/slots?duration=1h"),
            format!("/v1/systems/{sys}/outages"),
            format!("/v1/entries/{e}"),
            format!("/v1/outages/{o}"),
            "/v1/booking/events".to_string(),
        ];
        let writes: Vec<(&str, String, Option<Value>)> = vec![
            (
                "POST",
                "/v1/systems".to_string(),
                Some(json!({"name": "x", "capacity": 1})),
            ),
            (
                "PATCH",
                format!("/v1/systems/{sys}"),
                Some(json!({"name": "x"})),
            ),
            ("DELETE", format!("/v1/systems/{sys}"), None),
            (
                "POST",
                format!("/v1/systems/{sys}/entries"),
                Some(json!({"start": h(3), "end": h(4)})),
            ),
            (
                "PATCH",
                format!("/v1/entries/{e}"),
                Some(json!({"label": "x"})),
            ),
            ("DELETE", format!("/v1/entries/{e}"), None),
            (
                "POST",
                format!("/v1/systems/{sys}/outages"),
                Some(json!({"kind": "unplanned", "window": "1h"})),
            ),
            (
                "PATCH",
                format!("/v1/outages/{o}"),
                Some(json!({"reason": "x"})),
            ),
            ("POST", format!("/v1/outages/{o}/resolve"), None),
        ];

        // No token, or a wrong one: 401 everywhere.
        for path in &reads {
            for token in [None, Some("wrong")] {
                let (status, problem) = app.call_with("GET", path, None, token, "").await;
                assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
            }
        }
        for (method, path, body) in &writes {
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    body.as_ref().map(|b| b.to_string()),
                    None,
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
        }

        // A jobs token has no business here.
        let jobs = app.add_token("jobs-reader", &["jobs:read"]).await;
        for path in &reads {
            let (status, problem) = app.call_with("GET", path, None, Some(&jobs), "").await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(problem["required_scope"], "booking:read", "{path}");
        }
        for (method, path, body) in &writes {
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    body.as_ref().map(|b| b.to_string()),
                    Some(&jobs),
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(
                problem["required_scope"], "booking:write",
                "{method} {path}"
            );
        }

        // booking:read reads everything and writes nothing, whatever the body.
        let reader = app.add_token("booking-reader", &["booking:read"]).await;
        for path in &reads {
            let (status, body) = app.call_with("GET", path, None, Some(&reader), "").await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
        for (method, path, body) in &writes {
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    body.as_ref().map(|b| b.to_string()),
                    Some(&reader),
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(
                problem["required_scope"], "booking:write",
                "{method} {path}"
            );
            let (status, problem) = app
                .call_with(
                    method,
                    path,
                    Some("{not json".to_string()),
                    Some(&reader),
                    "application/json",
                )
                .await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
        }
        assert_eq!(
            snapshot(&app, &sys).await,
            before,
            "a refused request stored something"
        );

        // booking:write implies booking:read.
        let writer = app.add_token("booking-writer", &["booking:write"]).await;
        for path in &reads {
            let (status, body) = app.call_with("GET", path, None, Some(&writer), "").await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
        let (status, body) = app
            .call_with(
                "POST",
                &format!("/v1/systems/{sys}/entries"),
                Some(json!({"start": h(3), "end": h(4)}).to_string()),
                Some(&writer),
                "application/json",
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
);

// ---- problem documents ----

both_backends!(
    problem_status_member_is_the_http_status,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        let e = booked(&app, &sys, &h(1), &h(2), &[]).await;
        let (status, _) = app.call("DELETE", &format!("/v1/entries/{e}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // The raw document: one `status` member, and it is the code.
        let req = Request::builder()
            .method("PATCH")
            .uri(format!("/v1/entries/{e}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(Body::from(json!({"label": "again"}).to_string()))
            .expect("request");
        let response = app
            .server
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router answers");
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let raw = String::from_utf8_lossy(&bytes);
        assert_eq!(raw.matches("\"status\":").count(), 1, "{raw}");
        let problem: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_problem(
            StatusCode::CONFLICT,
            &problem,
            StatusCode::CONFLICT,
            "entry_not_active",
        );
    }
);

both_backends!(
    unplanned_expected_end_is_validated_on_patch_as_on_create,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        let out = outage(
            &app,
            &sys,
            json!({"kind": "unplanned", "window": "1h"}),
            false,
        )
        .await;
        let before = snapshot(&app, &sys).await;
        let (status, problem) = app
            .call(
                "PATCH",
                &format!("/v1/outages/{}", id(&out)),
                Some(json!({"expected_end": at(-100)})),
            )
            .await;
        assert_invalid(
            status,
            &problem,
            "/expected_end",
            "expected_end before start",
        );
        assert_eq!(snapshot(&app, &sys).await, before);
    }
);

both_backends!(
    times_before_year_1_are_a_problem_not_a_500,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let sys = new_system(&app, &[], 1).await;
        // jiff reads years back to -9999; PostgreSQL stores none before 4713 BC.
        let ancient = "-009000-01-01T00:00:00Z";
        let (status, body) = book(&app, &sys, ancient, &h(1), &[]).await;
        assert_problem(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        let (status, body) = app
            .call(
                "POST",
                &format!("/v1/systems/{sys}/outages"),
                Some(json!({"kind": "planned", "start": ancient, "end": h(1)})),
            )
            .await;
        assert_problem(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        for path in [
            format!("/v1/systems/{sys}/availability?from={ancient}"),
            format!("/v1/systems/{sys}/slots?duration=1h&from={ancient}"),
            format!("/v1/systems/{sys}/entries?from={ancient}"),
        ] {
            let (status, body) = app.call("GET", &path, None).await;
            assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-query");
        }
        let (_, page) = app
            .call("GET", &format!("/v1/systems/{sys}/entries"), None)
            .await;
        assert_eq!(page["items"], json!([]), "nothing stored");
    }
);

// The README's tour runs as written (see `common::tour`).
both_backends!(the_readme_booking_tour_works, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    common::tour::run(
        &app,
        "## A five-minute tour of booking",
        &[("$SYS", "/v1/systems"), ("OUTAGE_ID", "/outages")],
    )
    .await;
});
