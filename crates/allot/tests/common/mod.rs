//! Shared test harness: an in-process allot on either backend, driven on a
//! manual clock, called through its router without a network.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use allot::clock::{ManualClock, SharedClock};
use allot::config::ServeArgs;
use allot::server::Server;
use allot::store::{Backend, Db, DbOptions};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use jiff::Timestamp;
use serde_json::Value;
use tower::ServiceExt;

pub mod booking;
pub mod calendar;
pub mod provisioning;
pub mod tour;

pub const TOKEN: &str = "test-token-with-every-scope";

/// Runs an async test body once per backend. The PostgreSQL variant skips
/// (with one loud line) when no PostgreSQL is available, unless
/// ALLOT_REQUIRE_POSTGRES=1.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = $body;
                f(allot::store::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let f = $body;
                f(allot::store::Backend::Postgres).await
            }
        }
    };
}

pub struct TestApp {
    pub server: Server,
    pub clock: ManualClock,
    pub backend: Backend,
    pub database_url: String,
}

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "allot-test-{tag}-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A URL to a new empty database of `backend`, or None when PostgreSQL is skipped.
pub async fn fresh_database(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}/allot.db", temp_dir("db").display())),
        Backend::Postgres => allot::testing::fresh_postgres().await,
    }
}

pub fn start_time() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("valid time")
}

impl TestApp {
    /// Stores a token `NAME-secret` with `scopes` and returns its secret.
    pub async fn add_token(&self, name: &str, scopes: &[&str]) -> String {
        let secret = format!("{name}-secret");
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        allot::auth::TokenStore::new(self.db().clone())
            .insert(
                name,
                &allot::auth::hash_secret(&secret),
                &scopes,
                start_time(),
            )
            .await
            .expect("insert token");
        secret
    }

    /// A server without background loops: the test ticks the claim loop.
    pub async fn new(backend: Backend) -> Option<TestApp> {
        Self::with_args(backend, ServeArgs::default()).await
    }

    pub async fn with_args(backend: Backend, mut args: ServeArgs) -> Option<TestApp> {
        let url = fresh_database(backend).await?;
        args.database_url = Some(url.clone());
        args.bootstrap_token = Some(TOKEN.to_string());
        args.rate_limit = args.rate_limit.or(Some(0));
        let config = args.resolve().expect("valid test config");
        let db = Db::connect(&url, &DbOptions::default())
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let clock = ManualClock::new(start_time());
        let shared: SharedClock = Arc::new(clock.clone());
        let server = Server::build_on(db, &config, shared, false)
            .await
            .expect("build server");
        Some(TestApp {
            server,
            clock,
            backend,
            database_url: url,
        })
    }

    pub fn db(&self) -> &Db {
        &self.server.db
    }

    /// Another replica on the same database: its own server (so its own
    /// caches) and, on PostgreSQL, its own pool; SQLite is one process, so
    /// there the two share it. The same clock.
    pub async fn replica(&self) -> TestApp {
        let args = ServeArgs {
            database_url: Some(self.database_url.clone()),
            bootstrap_token: Some(TOKEN.to_string()),
            rate_limit: Some(0),
            ..Default::default()
        };
        let config = args.resolve().expect("valid test config");
        let db = match self.backend {
            Backend::Postgres => Db::connect(&self.database_url, &DbOptions::default())
                .await
                .expect("connect"),
            Backend::Sqlite => self.db().clone(),
        };
        let shared: SharedClock = Arc::new(self.clock.clone());
        let server = Server::build_on(db, &config, shared, false)
            .await
            .expect("build replica");
        TestApp {
            server,
            clock: self.clock.clone(),
            backend: self.backend,
            database_url: self.database_url.clone(),
        }
    }

    /// Sends a request through the router.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(
            method,
            path,
            body.map(|b| b.to_string()),
            Some(TOKEN),
            "application/json",
        )
        .await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        token: Option<&str>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let (status, _, json) = self
            .call_full(method, path, body, token, content_type)
            .await;
        (status, json)
    }

    pub async fn call_full(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        token: Option<&str>,
        content_type: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", content_type);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let response = self
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
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, headers, json)
    }

    /// Creates a task, asserting 201; returns its JSON.
    pub async fn create_task(&self, body: Value) -> Value {
        let (status, task) = self.call("POST", "/v1/tasks", Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "creating {body}: {task}");
        task
    }

    /// One pass of the claim loop at the current virtual time.
    pub async fn tick(&self) -> usize {
        self.server.jobs.engine.tick().await.expect("claim")
    }

    /// Waits (briefly, on real time) until every started run has ended and
    /// its end is recorded.
    pub async fn settle(&self) {
        assert!(
            self.server
                .jobs
                .engine
                .runner()
                .wait_idle(Duration::from_secs(20))
                .await,
            "runs did not finish"
        );
    }

    /// Moves the clock and runs the claim loop until nothing more is due.
    pub async fn advance(&self, by: jiff::SignedDuration) {
        self.clock.advance(by);
        while self.tick().await > 0 {
            self.settle().await;
        }
        self.settle().await;
    }

    /// Every execution of a task, oldest first.
    pub async fn executions(&self, task_id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/tasks/{task_id}/executions?limit=1000&cursor={c}"),
                None => format!("/v1/tasks/{task_id}/executions?limit=1000"),
            };
            let (status, page) = self.call("GET", &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            all.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        all.reverse();
        all
    }
}

/// `(scheduled_for, status)` pairs, oldest first.
pub fn runs(executions: &[Value]) -> Vec<(String, String)> {
    executions
        .iter()
        .map(|e| {
            (
                e["scheduled_for"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Asserts a problem document of kind `slug` with the HTTP status in both
/// the response and the body, and a detail.
pub fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode, slug: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected.as_u16(), "{body}");
    assert_eq!(body["type"], format!("urn:allot:problem:{slug}"), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

/// A 422 validation problem naming `pointer` among its errors.
pub fn assert_invalid(status: StatusCode, problem: &Value, pointer: &str, what: &str) {
    assert_problem(
        status,
        problem,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no errors in {problem}"))
        .iter()
        .map(|e| e["pointer"].as_str().expect("pointer"))
        .collect();
    assert!(
        pointers.contains(&pointer),
        "{what}: expected {pointer:?} in {pointers:?} ({problem})"
    );
}
