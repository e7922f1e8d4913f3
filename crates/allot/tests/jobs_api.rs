//! The jobs REST API on both backends: the contract, and every kind of bad
//! input answering 4xx problem+json with nothing stored.

mod common;

use allot::auth::{TokenStore, hash_secret};
use allot::config::ServeArgs;
use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};

fn every_hour(name: &str) -> Value {
    json!({"name": name, "kind": "sleep", "params": {"duration": "0s"}, "schedule": {"every": "1h"}})
}

async fn task_count(app: &TestApp) -> usize {
    let (_, page) = app.call("GET", "/v1/tasks?limit=1000", None).await;
    page["items"].as_array().map(|a| a.len()).unwrap_or(0)
}

both_backends!(create_get_list_and_the_task_shape, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let task = app.create_task(every_hour("hourly")).await;
    for field in [
        "id",
        "name",
        "kind",
        "params",
        "schedule",
        "state",
        "next_run_at",
        "created_at",
        "updated_at",
    ] {
        assert!(task.get(field).is_some(), "missing {field} in {task}");
    }
    assert_eq!(task["state"], "active");
    assert_eq!(task["kind"], "sleep");
    assert_eq!(task["next_run_at"], "2026-11-23T13:00:00Z");
    assert_eq!(task["schedule"]["every"], "1h");
    assert_eq!(task["timeout"], "5m");
    assert_eq!(task["overlap"], "skip");
    assert_eq!(task["misfire"], "run_once");

    let id = task["id"].as_str().unwrap();
    let (status, got) = app.call("GET", &format!("/v1/tasks/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, task);

    // Cursor pagination walks every task exactly once, in creation order.
    for i in 0..4 {
        app.create_task(every_hour(&format!("t{i}"))).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/tasks?limit=2".to_string();
    loop {
        let (status, page) = app.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/tasks?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["hourly", "t0", "t1", "t2", "t3"]);
});

both_backends!(every_schedule_shape_is_accepted, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let at = app
        .create_task(json!({"name": "once", "kind": "counter", "schedule": {"at": "2027-08-08T17:35:00+02:00"}}))
        .await;
    assert_eq!(at["next_run_at"], "2027-08-08T15:35:00Z");
    let local = app
        .create_task(json!({"name": "local", "kind": "counter",
            "schedule": {"at": "2027-08-08T17:35:00", "timezone": "Europe/Amsterdam"}}))
        .await;
    assert_eq!(local["next_run_at"], "2027-08-08T15:35:00Z");
    let cron = app
        .create_task(json!({"name": "cron", "kind": "counter",
            "schedule": {"cron": "*/5 * * * *", "timezone": "America/New_York"}}))
        .await;
    assert_eq!(cron["next_run_at"], "2026-11-23T12:00:00Z");
    let six = app
        .create_task(
            json!({"name": "secs", "kind": "counter", "schedule": {"cron": "30 * * * * *"}}),
        )
        .await;
    assert_eq!(six["next_run_at"], "2026-11-23T12:00:30Z");
    assert_eq!(six["schedule"]["timezone"], "UTC");
    let anchored = app
        .create_task(json!({"name": "anchored", "kind": "counter",
            "schedule": {"every": "2m", "start_at": "2026-11-23T11:59:00Z"}}))
        .await;
    assert_eq!(anchored["next_run_at"], "2026-11-23T12:01:00Z");
});

both_backends!(patch_recomputes_the_next_run, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let task = app.create_task(every_hour("p")).await;
    let id = task["id"].as_str().unwrap();
    app.clock.advance(jiff::SignedDuration::from_mins(10));
    let (status, patched) = app
        .call(
            "PATCH",
            &format!("/v1/tasks/{id}"),
            Some(json!({"schedule": {"every": "30s"}, "name": "renamed", "timeout": "10s"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["timeout"], "10s");
    assert_eq!(patched["next_run_at"], "2026-11-23T12:10:30Z");
    assert_ne!(patched["updated_at"], task["updated_at"]);
    // A bad patch changes nothing.
    let (status, problem) = app
        .call(
            "PATCH",
            &format!("/v1/tasks/{id}"),
            Some(json!({"name": "x", "schedule": {"cron": "nope"}})),
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (_, after) = app.call("GET", &format!("/v1/tasks/{id}"), None).await;
    assert_eq!(after, patched);
    // The kind cannot change.
    let (status, problem) = app
        .call(
            "PATCH",
            &format!("/v1/tasks/{id}"),
            Some(json!({"kind": "http"})),
        )
        .await;
    assert_problem(
        status,
        &problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
});

both_backends!(pause_resume_run_and_delete, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let task = app.create_task(every_hour("life")).await;
    let id = task["id"].as_str().unwrap().to_string();

    let (status, paused) = app
        .call("POST", &format!("/v1/tasks/{id}/pause"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["next_run_at"], Value::Null);
    // Paused: nothing runs however much time passes.
    app.advance(jiff::SignedDuration::from_hours(3)).await;
    assert!(app.executions(&id).await.is_empty());

    let (status, resumed) = app
        .call("POST", &format!("/v1/tasks/{id}/resume"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resumed["state"], "active");
    // 15:00 is now: the paused runs (13:00, 14:00) are not made up.
    assert_eq!(
        resumed["next_run_at"], "2026-11-23T15:00:00Z",
        "resumes on its phase, without the paused runs"
    );

    let (status, execution) = app.call("POST", &format!("/v1/tasks/{id}/run"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{execution}");
    assert_eq!(execution["trigger"], "manual");
    app.settle().await;
    let (_, done) = app
        .call(
            "GET",
            &format!("/v1/executions/{}", execution["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["output"]["slept_ms"].is_u64());

    let (status, body) = app.call("DELETE", &format!("/v1/tasks/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, problem) = app.call("GET", &format!("/v1/tasks/{id}"), None).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    assert_eq!(problem["id"], id.as_str());
    // History stays readable.
    let (status, history) = app
        .call("GET", &format!("/v1/executions?task_id={id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
    // Deleted tasks never run again.
    app.advance(jiff::SignedDuration::from_hours(5)).await;
    let (_, history) = app
        .call("GET", &format!("/v1/executions?task_id={id}"), None)
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
});

both_backends!(
    run_now_refuses_to_overlap_a_running_execution,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let task = app
        .create_task(json!({"name": "slow", "kind": "sleep", "params": {"duration": "1s"}, "schedule": {"every": "1h"}}))
        .await;
        let id = task["id"].as_str().unwrap();
        let (status, first) = app.call("POST", &format!("/v1/tasks/{id}/run"), None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, problem) = app.call("POST", &format!("/v1/tasks/{id}/run"), None).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "task-running");
        assert_eq!(problem["execution_id"], first["id"]);
        app.settle().await;
        let (status, _) = app.call("POST", &format!("/v1/tasks/{id}/run"), None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        app.settle().await;
    }
);

both_backends!(
    upcoming_lists_runs_across_tasks_in_time_order,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let a = app
            .create_task(json!({"name": "a", "kind": "counter", "schedule": {"every": "20m"}}))
            .await;
        let b = app
            .create_task(json!({"name": "b", "kind": "counter", "schedule": {"cron": "0 * * * *"}}))
            .await;
        let (status, up) = app
            .call(
                "GET",
                "/v1/executions/upcoming?limit=5&until=2026-11-23T14:00:00Z",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{up}");
        let items: Vec<(String, String)> = up["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["task_name"].as_str().unwrap().to_string(),
                    i["scheduled_for"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            items,
            [
                ("b", "2026-11-23T12:00:00Z"),
                ("a", "2026-11-23T12:20:00Z"),
                ("a", "2026-11-23T12:40:00Z"),
                ("a", "2026-11-23T13:00:00Z"),
                ("b", "2026-11-23T13:00:00Z"),
            ]
            .map(|(n, t)| (n.to_string(), t.to_string()))
        );
        assert!(up["items"][1]["task_id"] == a["id"] && up["items"][0]["task_id"] == b["id"]);
        // `until` bounds the window.
        let (_, up) = app
            .call(
                "GET",
                "/v1/executions/upcoming?limit=50&until=2026-11-23T12:30:00Z",
                None,
            )
            .await;
        assert_eq!(up["items"].as_array().unwrap().len(), 2);
    }
);

both_backends!(
    bad_task_bodies_are_problems_and_store_nothing,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"kind": "sleep", "params": {"duration": "1s"}, "schedule": {"every": "1m"}}),
                "/name",
            ),
            (
                json!({"name": "x", "kind": "teleport", "schedule": {"every": "1m"}}),
                "/kind",
            ),
            (
                json!({"name": "x", "kind": "sleep", "params": {"duration": 5}, "schedule": {"every": "1m"}}),
                "/params/duration",
            ),
            (
                json!({"name": "x", "kind": "sleep", "params": {"nap": "1s"}, "schedule": {"every": "1m"}}),
                "/params/nap",
            ),
            (
                json!({"name": "x", "kind": "sleep", "schedule": {"every": "1m"}}),
                "/params",
            ),
            (
                json!({"name": "x", "kind": "http", "params": {"url": "ftp://example.org"}, "schedule": {"every": "1m"}}),
                "/params/url",
            ),
            (
                json!({"name": "x", "kind": "http", "params": {"url": "not a url"}, "schedule": {"every": "1m"}}),
                "/params/url",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"every": "0s"}}),
                "/schedule/every",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"every": "-5m"}}),
                "/schedule/every",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"every": "5 parsecs"}}),
                "/schedule/every",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"cron": "61 * * * *"}}),
                "/schedule/cron",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"cron": "* * *"}}),
                "/schedule/cron",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"cron": "* * * * *", "timezone": "Mars/Base"}}),
                "/schedule/timezone",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"at": "2020-01-01T00:00:00Z"}}),
                "/schedule/at",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {}}),
                "/schedule",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"every": "1m"}, "timeout": "0s"}),
                "/timeout",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"every": "1m"}, "overlap": "sometimes"}),
                "/overlap",
            ),
            (
                json!({"name": "", "kind": "counter", "schedule": {"every": "1m"}}),
                "/name",
            ),
            (
                json!({"name": "x", "kind": "counter", "schedule": {"every": "1m"}, "colour": "red"}),
                "/colour",
            ),
            (
                json!({"name": 7, "kind": "counter", "schedule": {"every": "1m"}}),
                "/name",
            ),
            // PostgreSQL cannot store NUL in text or jsonb: refused up front, not a 500.
            (
                json!({"name": "a\u{0}b", "kind": "counter", "schedule": {"every": "1m"}}),
                "/name",
            ),
            (
                json!({"name": "x", "kind": "counter", "params": {"counter": "\u{0}"}, "schedule": {"every": "1m"}}),
                "/params/counter",
            ),
            (
                json!({"name": "x", "kind": "sleep", "params": {"duration": "1s", "x": [{"k\u{0}": 1}]}, "schedule": {"every": "1m"}}),
                "/params/x/0/k\u{0}",
            ),
        ];
        for (body, pointer) in cases {
            let (status, problem) = app.call("POST", "/v1/tasks", Some(body.clone())).await;
            assert_problem(
                status,
                &problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            );
            let pointers: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("no errors in {problem} for {body}"))
                .iter()
                .map(|e| e["pointer"].as_str().unwrap())
                .collect();
            assert!(
                pointers.contains(&pointer),
                "{body}: expected {pointer:?} in {pointers:?}"
            );
        }
        // Malformed JSON, wrong media type, huge body.
        let (status, problem) = app
            .call_with(
                "POST",
                "/v1/tasks",
                Some("{\"name\": ".into()),
                Some(TOKEN),
                "application/json",
            )
            .await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-request");
        let (status, problem) = app
            .call_with(
                "POST",
                "/v1/tasks",
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
        let huge = json!({"name": "x", "kind": "counter", "schedule": {"every": "1m"}, "params": {"counter": "a".repeat(2 * 1024 * 1024)}});
        let (status, problem) = app.call("POST", "/v1/tasks", Some(huge)).await;
        assert_problem(
            status,
            &problem,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        );
        assert_eq!(
            task_count(&app).await,
            0,
            "a failed request stored something"
        );
    }
);

both_backends!(unknown_ids_and_bad_queries, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let ghost = "01a20877-40b7-7664-b850-e43c4731a456";
    for (method, path) in [
        ("GET", format!("/v1/tasks/{ghost}")),
        ("GET", "/v1/tasks/not-a-uuid".to_string()),
        ("DELETE", format!("/v1/tasks/{ghost}")),
        ("POST", format!("/v1/tasks/{ghost}/pause")),
        ("POST", format!("/v1/tasks/{ghost}/resume")),
        ("POST", format!("/v1/tasks/{ghost}/run")),
        ("GET", format!("/v1/tasks/{ghost}/executions")),
        ("GET", format!("/v1/executions/{ghost}")),
    ] {
        let (status, problem) = app.call(method, &path, None).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    }
    let (status, problem) = app
        .call(
            "PATCH",
            &format!("/v1/tasks/{ghost}"),
            Some(json!({"name": "y"})),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    for path in [
        "/v1/tasks?limit=0",
        "/v1/tasks?limit=abc",
        "/v1/tasks?cursor=zzz",
        "/v1/tasks?state=sleeping",
        "/v1/executions?status=exploded",
        "/v1/executions?cursor=00",
        "/v1/executions/upcoming?until=tomorrow",
        "/v1/executions/upcoming?limit=100000",
    ] {
        let (status, problem) = app.call("GET", path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert!(problem["detail"].as_str().is_some(), "{path}: {problem}");
    }
});

both_backends!(tokens_scopes_and_rate_limits, |backend| async move {
    let args = ServeArgs {
        rate_limit: Some(5),
        rate_burst: Some(5),
        ..Default::default()
    };
    let Some(app) = TestApp::with_args(backend, args).await else {
        return;
    };
    let (status, problem) = app.call_with("GET", "/v1/tasks", None, None, "").await;
    assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, problem) = app
        .call_with("GET", "/v1/tasks", None, Some("wrong"), "")
        .await;
    assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");

    let reader = "reader-secret";
    TokenStore::new(app.db().clone())
        .insert(
            "reader",
            &hash_secret(reader),
            &["jobs:read".to_string()],
            start_time(),
        )
        .await
        .unwrap();
    let (status, _) = app
        .call_with("GET", "/v1/tasks", None, Some(reader), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app
        .call_with(
            "POST",
            "/v1/tasks",
            Some(every_hour("x").to_string()),
            Some(reader),
            "application/json",
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(problem["required_scope"], "jobs:write");
    // The scope is checked before the body is read: a bad body is still a 403.
    let (status, problem) = app
        .call_with(
            "POST",
            "/v1/tasks",
            Some("{not json".to_string()),
            Some(reader),
            "application/json",
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");

    // The reader has used 1 of its 5; the burst runs out and a 429 says when to retry.
    let mut limited = None;
    for _ in 0..10 {
        let (status, headers, body) = app
            .call_full("GET", "/v1/tasks", None, Some(reader), "")
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((headers, body));
            break;
        }
    }
    let (headers, body) = limited.expect("rate limit never answered 429");
    assert_problem(
        StatusCode::TOO_MANY_REQUESTS,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
    );
    assert!(headers.get("retry-after").is_some());
    // Limits are per token: the admin token is unaffected.
    let (status, _) = app.call("GET", "/v1/tasks", None).await;
    assert_eq!(status, StatusCode::OK);
});

both_backends!(operational_endpoints_need_no_token, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let (status, body) = app.call_with("GET", "/healthz", None, None, "").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.call_with("GET", "/readyz", None, None, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, doc) = app.call_with("GET", "/openapi.json", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/tasks"]["post"].is_object());
    assert!(doc["paths"]["/v1/executions/upcoming"]["get"].is_object());
    let (status, _) = app.call_with("GET", "/docs/", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    app.call("GET", "/v1/tasks", None).await;
    let (status, metrics) = app.call_with("GET", "/metrics", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("allot_http_requests_total"),
        "{metrics}"
    );
    let (status, problem) = app.call_with("GET", "/nowhere", None, None, "").await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
});

// The README's tour runs as written (see `common::tour`).
both_backends!(the_readme_jobs_tour_works, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    common::tour::run(&app, "## A five-minute tour of jobs", &[]).await;
});
