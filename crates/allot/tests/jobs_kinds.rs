//! The task kinds against a local target server (an httpbin-like stand-in),
//! on both backends: http status and timing, failures, the host allowlist,
//! webhook signatures, and counters.

mod common;

use std::sync::{Arc, Mutex};

use allot::config::ServeArgs;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// `GET /status/{code}` answers that code; `POST /hook` records what it got.
async fn target() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
            }),
        )
        .route(
            "/hook",
            post(
                |State(r): State<Received>, headers: HeaderMap, body: String| async move {
                    r.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

async fn only_execution(app: &TestApp, task: &Value) -> Value {
    let executions = app.executions(task["id"].as_str().unwrap()).await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    executions[0].clone()
}

both_backends!(
    http_records_status_and_time_and_fails_on_non_2xx,
    |backend| async move {
        let (base, _) = target().await;
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let ok = app
        .create_task(json!({"name": "ok", "kind": "http", "params": {"url": format!("{base}/status/200")}, "schedule": {"every": "1m"}}))
        .await;
        let bad = app
        .create_task(json!({"name": "bad", "kind": "http", "params": {"url": format!("{base}/status/503")}, "schedule": {"every": "1m"}}))
        .await;
        let gone = app
        .create_task(json!({"name": "gone", "kind": "http", "params": {"url": "http://127.0.0.1:9/", "timeout": "1s"}, "schedule": {"every": "1m"}}))
        .await;
        app.advance(SignedDuration::from_mins(1)).await;
        let e = only_execution(&app, &ok).await;
        assert_eq!(e["status"], "succeeded", "{e}");
        assert_eq!(e["output"]["status"], 200);
        assert!(e["output"]["elapsed_ms"].is_u64());
        let e = only_execution(&app, &bad).await;
        assert_eq!(e["status"], "failed", "{e}");
        assert_eq!(e["output"]["status"], 503);
        assert!(e["error"].as_str().unwrap().contains("503"));
        let e = only_execution(&app, &gone).await;
        assert_eq!(e["status"], "failed", "{e}");
        assert!(e["error"].as_str().is_some());
    }
);

both_backends!(http_default_url_and_allowlist, |backend| async move {
    let (base, _) = target().await;
    let args = ServeArgs {
        http_default_url: Some(format!("{base}/status/200")),
        http_allowed_hosts: Some("127.0.0.1".to_string()),
        ..Default::default()
    };
    let Some(app) = TestApp::with_args(backend, args).await else {
        return;
    };
    let task = app
        .create_task(json!({"name": "default", "kind": "http", "schedule": {"every": "1m"}}))
        .await;
    app.advance(SignedDuration::from_mins(1)).await;
    assert_eq!(only_execution(&app, &task).await["status"], "succeeded");
    let (status, problem) = app
        .call("POST", "/v1/tasks", Some(json!({"name": "x", "kind": "http", "params": {"url": "http://example.org/"}, "schedule": {"every": "1m"}})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["pointer"], "/params/url");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("allowed hosts")
    );
});

both_backends!(
    webhooks_are_signed_over_timestamp_and_body,
    |backend| async move {
        let (base, received) = target().await;
        let secret = "s3cret";
        // Without a secret configured, webhook tasks are refused.
        let Some(plain) = TestApp::new(backend).await else {
            return;
        };
        let (status, problem) = plain
        .call("POST", "/v1/tasks", Some(json!({"name": "w", "kind": "webhook", "params": {"url": format!("{base}/hook")}, "schedule": {"every": "1m"}})))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

        let args = ServeArgs {
            webhook_secret: Some(secret.to_string()),
            ..Default::default()
        };
        let Some(app) = TestApp::with_args(backend, args).await else {
            return;
        };
        let task = app
        .create_task(json!({"name": "w", "kind": "webhook",
            "params": {"url": format!("{base}/hook"), "body": {"hello": "world"}}, "schedule": {"every": "1m"}}))
        .await;
        app.advance(SignedDuration::from_mins(1)).await;
        assert_eq!(only_execution(&app, &task).await["status"], "succeeded");
        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let (headers, body) = &got[0];
        assert_eq!(
            serde_json::from_str::<Value>(body).unwrap(),
            json!({"hello": "world"})
        );
        let timestamp: i64 = headers["x-allot-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let signature = headers["x-allot-signature"].to_str().unwrap();
        // An independent check of the documented scheme: HMAC-SHA256 over "{timestamp}.{body}".
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        assert_eq!(
            signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_eq!(
            headers["x-allot-task"].to_str().unwrap(),
            task["id"].as_str().unwrap()
        );
    }
);

both_backends!(
    counters_share_names_and_never_lose_increments,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        for i in 0..10 {
            app.create_task(json!({"name": format!("c{i}"), "kind": "counter", "params": {"counter": "shared"}, "schedule": {"every": "1m"}}))
            .await;
        }
        for _ in 0..3 {
            app.advance(SignedDuration::from_mins(1)).await;
        }
        // 10 tasks x 3 runs, all running concurrently against one counter row.
        let value = app
            .server
            .jobs
            .service
            .store()
            .counter_value("shared")
            .await
            .unwrap();
        assert_eq!(value, Some(30));
    }
);

both_backends!(redirects_cannot_leave_the_allowlist, |backend| async move {
    let (base, _) = target().await;
    let args = ServeArgs {
        http_allowed_hosts: Some("127.0.0.1".to_string()),
        ..Default::default()
    };
    let Some(app) = TestApp::with_args(backend, args).await else {
        return;
    };
    // A tiny redirector on the allowed host that points elsewhere.
    let redirector = Router::new().route(
        "/away",
        get(|| async { (StatusCode::FOUND, [("location", "http://localhost:9/")]) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirector).await });
    let task = app
        .create_task(json!({"name": "r", "kind": "http", "params": {"url": format!("http://{addr}/away")}, "schedule": {"every": "1m"}}))
        .await;
    let _ = base;
    app.advance(SignedDuration::from_mins(1)).await;
    let e = only_execution(&app, &task).await;
    assert_eq!(e["status"], "failed", "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("allowed hosts")
            || e["error"].as_str().unwrap().contains("redirect"),
        "{e}"
    );
});
