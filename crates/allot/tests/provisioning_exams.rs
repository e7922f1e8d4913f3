//! Exams as data, on both backends: the REST API (shapes, order and
//! paging, every validation rule answering 4xx problem+json with nothing
//! stored, PATCH checked against the stored fields, ids, scopes) and the
//! exam watcher, which must see every change to the `exams` table within
//! 2 s, whoever made it: the API, or plain SQL through a connection of its
//! own.
//!
//! Exam times are `h(n)`: the test clock's start (2026-11-23T12:00:00Z)
//! plus n hours.

mod common;

use std::sync::Arc;
use std::time::Duration;

use allot::clock::{ManualClock, SharedClock};
use allot::config::ServeArgs;
use allot::provisioning::{ExamSnapshot, ExamWatcher};
use allot::server::Server;
use allot::store::{Backend, DbTime};
use axum::http::StatusCode;
use common::booking::{h, id};
use common::*;
use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How soon the watcher must report a change.
const PICK_UP: Duration = Duration::from_secs(2);

fn exam(name: &str, start: i64, end: i64, students: i64) -> Value {
    json!({"name": name, "start_at": h(start), "end_at": h(end), "students": students})
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.call("POST", "/v1/exams", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {created}");
    created
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Every exam the API lists.
async fn listed(app: &TestApp) -> Value {
    get(app, "/v1/exams?limit=1000").await["items"].clone()
}

/// Rows in the table, readable or not.
async fn stored(app: &TestApp) -> i64 {
    allot::with_pool!(app.db(), p => sqlx::query_scalar("SELECT count(*) FROM exams")
        .fetch_one(p)
        .await
        .expect("count exams"))
}

// ---- the API ----

both_backends!(create_read_update_delete, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let created = create(
        &app,
        json!({"name": "Physics", "start_at": "2026-11-23T14:00:00+01:00",
               "end_at": h(3), "students": 120}),
    )
    .await;
    let e = id(&created);
    assert_eq!(
        created,
        json!({"id": e, "name": "Physics", "start_at": "2026-11-23T13:00:00Z",
               "end_at": "2026-11-23T15:00:00Z", "students": 120}),
        "times come back in UTC"
    );
    let path = format!("/v1/exams/{e}");
    assert_eq!(get(&app, &path).await, created);
    assert_eq!(listed(&app).await, json!([created]));

    let (status, moved) = app
        .call(
            "PATCH",
            &path,
            Some(json!({"end_at": h(4), "students": 130})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["end_at"], "2026-11-23T16:00:00Z");
    assert_eq!(moved["students"], 130);
    assert_eq!(moved["name"], "Physics", "fields not given are kept");
    let (status, renamed) = app
        .call("PATCH", &path, Some(json!({"name": "Physics II"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Physics II");
    assert_eq!(get(&app, &path).await, renamed);
    let (status, same) = app.call("PATCH", &path, Some(json!({}))).await;
    assert_eq!((status, &same), (StatusCode::OK, &renamed));

    let (status, body) = app.call("DELETE", &path, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, problem) = app.call("GET", &path, None).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    let (status, problem) = app.call("DELETE", &path, None).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    assert_eq!(stored(&app).await, 0);
});

both_backends!(lists_by_start_in_pages, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    // Made out of order, two starting at the same time (then ordered by id).
    let mut made = Vec::new();
    for (name, start) in [("d", 4), ("a", 1), ("c", 3), ("b1", 2), ("b2", 2)] {
        made.push(create(&app, exam(name, start, start + 1, 1)).await);
    }
    let mut expected = made.clone();
    expected.sort_by_key(|e| {
        (
            e["start_at"].as_str().unwrap_or_default().to_string(),
            id(e),
        )
    });
    assert_eq!(listed(&app).await, Value::Array(expected.clone()));

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/exams?limit=2&cursor={c}"),
            None => "/v1/exams?limit=2".to_string(),
        };
        let page = get(&app, &path).await;
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2, "{page}");
        walked.extend(items);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        walked, expected,
        "pages of 2 walk every exam once, in order"
    );
    let last = get(&app, "/v1/exams?limit=5").await;
    assert_eq!(last["next_cursor"], Value::Null, "no page after the last");

    // from (inclusive) and to (exclusive) are about the start.
    let window = get(&app, &format!("/v1/exams?from={}&to={}", h(2), h(4))).await;
    let names: Vec<&str> = window["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["b1", "b2", "c"], "{window}");

    for bad in [
        "limit=0".to_string(),
        "limit=1001".to_string(),
        "limit=x".to_string(),
        "cursor=zzz".to_string(),
        "from=tomorrow".to_string(),
        "from=2026-11-23T12:00:00".to_string(),
        "to=-009000-01-01T00:00:00Z".to_string(),
        format!("from={}&to={}", h(2), h(2)),
    ] {
        let (status, problem) = app.call("GET", &format!("/v1/exams?{bad}"), None).await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");
    }
});

both_backends!(
    bad_input_is_a_problem_naming_the_field_and_stores_nothing,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let long = "x".repeat(201);
        let good = exam("ok", 1, 2, 1);
        let with = |key: &str, value: Value| {
            let mut body = good.clone();
            body[key] = value;
            body
        };
        let without = |key: &str| {
            let mut body = good.clone();
            body.as_object_mut().expect("object").remove(key);
            body
        };
        let cases: Vec<(Value, &str)> = vec![
            (exam("x", 2, 2, 1), "/end_at"),
            (exam("x", 3, 2, 1), "/end_at"),
            (with("students", json!(0)), "/students"),
            (with("students", json!(10_001)), "/students"),
            (with("students", json!(-1)), "/students"),
            (with("students", json!(1u64 << 40)), "/students"),
            (with("students", json!(1.5)), "/students"),
            (with("students", json!("ten")), "/students"),
            (with("students", Value::Null), "/students"),
            (with("start_at", json!("tomorrow")), "/start_at"),
            (with("start_at", json!("2026-11-23T13:00:00")), "/start_at"),
            (with("start_at", json!("2026-11-23 13:00")), "/start_at"),
            (with("start_at", json!("23/11/2026 13:00Z")), "/start_at"),
            (with("start_at", json!("2026-13-01T00:00:00Z")), "/start_at"),
            (
                with("start_at", json!("-009000-01-01T00:00:00Z")),
                "/start_at",
            ),
            (with("end_at", json!("10000-01-01T00:00:00Z")), "/end_at"),
            (with("end_at", json!(42)), "/end_at"),
            (with("name", json!("")), "/name"),
            (with("name", json!("   ")), "/name"),
            (with("name", json!(long)), "/name"),
            (with("name", json!(7)), "/name"),
            (with("name", json!("a\u{0}b")), "/name"),
            (without("name"), "/name"),
            (without("start_at"), "/start_at"),
            (without("end_at"), "/end_at"),
            (without("students"), "/students"),
        ];
        for (body, pointer) in &cases {
            let (status, problem) = app.call("POST", "/v1/exams", Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        // Every broken field is named at once.
        let (status, problem) = app
            .call(
                "POST",
                "/v1/exams",
                Some(json!({"name": "", "start_at": h(2), "end_at": h(1), "students": 0})),
            )
            .await;
        for pointer in ["/name", "/end_at", "/students"] {
            assert_invalid(status, &problem, pointer, "three broken fields");
        }
        let (status, problem) = app
            .call("POST", "/v1/exams", Some(with("room", json!("B2"))))
            .await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        for (body, content_type, expected, slug) in [
            (
                "{\"name\": [".to_string(),
                "application/json",
                StatusCode::BAD_REQUEST,
                "bad-request",
            ),
            (
                "[1, 2]".to_string(),
                "application/json",
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                good.to_string(),
                "text/plain",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            ),
            (
                json!({"name": "x".repeat(2 * 1024 * 1024)}).to_string(),
                "application/json",
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
            ),
        ] {
            let (status, problem) = app
                .call_with("POST", "/v1/exams", Some(body), Some(TOKEN), content_type)
                .await;
            assert_problem(status, &problem, expected, slug);
        }
        assert_eq!(stored(&app).await, 0, "a refused request stored something");

        // The limits themselves are accepted.
        let edge = create(
            &app,
            json!({"name": "y".repeat(200), "start_at": "0001-01-01T00:00:00Z",
                   "end_at": "9999-12-30T00:00:00Z", "students": 10_000}),
        )
        .await;
        assert_eq!(edge["students"], 10_000);
        assert_eq!(get(&app, &format!("/v1/exams/{}", id(&edge))).await, edge);
    }
);

both_backends!(the_student_maximum_is_configurable, |backend| async move {
    let Some(app) = TestApp::with_args(
        backend,
        ServeArgs {
            provisioning_max_students: Some(50),
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    create(&app, exam("fifty", 1, 2, 50)).await;
    let (status, problem) = app
        .call("POST", "/v1/exams", Some(exam("too many", 1, 2, 51)))
        .await;
    assert_invalid(status, &problem, "/students", "51 of at most 50");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("50")),
        "{problem}"
    );
    assert_eq!(stored(&app).await, 1);
});

both_backends!(
    a_patch_is_checked_against_the_stored_fields,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let e = create(&app, exam("Chemistry", 2, 4, 30)).await;
        let path = format!("/v1/exams/{}", id(&e));
        let cases: Vec<(Value, &str)> = vec![
            // Each alone is a valid value; with the stored fields it is not.
            (json!({"end_at": h(2)}), "/end_at"),
            (json!({"end_at": h(1)}), "/end_at"),
            (json!({"start_at": h(4)}), "/start_at"),
            (json!({"start_at": h(5)}), "/start_at"),
            (json!({"start_at": h(5), "end_at": h(5)}), "/end_at"),
            (json!({"students": 0}), "/students"),
            (json!({"students": 10_001}), "/students"),
            (json!({"name": ""}), "/name"),
            (json!({"name": Value::Null}), "/name"),
            (json!({"start_at": Value::Null}), "/start_at"),
            (json!({"end_at": "noon"}), "/end_at"),
            (json!({"students": "many"}), "/students"),
        ];
        for (body, pointer) in &cases {
            let (status, problem) = app.call("PATCH", &path, Some(body.clone())).await;
            assert_invalid(status, &problem, pointer, &body.to_string());
        }
        let (status, problem) = app.call("PATCH", &path, Some(json!({"room": "B2"}))).await;
        assert_problem(
            status,
            &problem,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
        let (status, problem) = app
            .call_with(
                "PATCH",
                &path,
                Some("{\"students\": ".into()),
                Some(TOKEN),
                "application/json",
            )
            .await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "bad-request");
        assert_eq!(
            get(&app, &path).await,
            e,
            "a refused PATCH changed the exam"
        );

        // Moving both ends together is fine.
        let (status, moved) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"start_at": h(5), "end_at": h(6)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["start_at"], h(5));
    }
);

both_backends!(unknown_and_malformed_ids_are_404, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let e = create(&app, exam("kept", 1, 2, 3)).await;
    for bad in ["01a20877-40b7-7664-b850-e43c4731a456", "not-a-uuid", "42"] {
        let path = format!("/v1/exams/{bad}");
        for (method, body) in [
            ("GET", None),
            ("PATCH", Some(json!({"name": "y"}))),
            ("DELETE", None),
        ] {
            let (status, problem) = app.call(method, &path, body).await;
            assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
            assert_eq!(problem["id"], bad, "{method} {path}");
        }
    }
    assert_eq!(listed(&app).await, json!([e]));
});

both_backends!(scopes_guard_the_exam_routes, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let e = create(&app, exam("guarded", 1, 2, 3)).await;
    let path = format!("/v1/exams/{}", id(&e));
    let reads = ["/v1/exams".to_string(), path.clone()];
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/v1/exams".to_string(), Some(exam("x", 1, 2, 1))),
        ("PATCH", path.clone(), Some(json!({"name": "x"}))),
        ("DELETE", path.clone(), None),
    ];
    let send = |method: &'static str, path: String, body: Option<Value>, token: Option<String>| {
        let app = &app;
        async move {
            app.call_with(
                method,
                &path,
                body.map(|b| b.to_string()),
                token.as_deref(),
                "application/json",
            )
            .await
        }
    };
    for path in &reads {
        for token in [None, Some("wrong".to_string())] {
            let (status, problem) = send("GET", path.clone(), None, token).await;
            assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    for (method, path, body) in &writes {
        let (status, problem) = send(method, path.clone(), body.clone(), None).await;
        assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
    }

    let booking = app.add_token("booking-writer", &["booking:write"]).await;
    for path in &reads {
        let (status, problem) = send("GET", path.clone(), None, Some(booking.clone())).await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(problem["required_scope"], "provisioning:read");
    }
    let reader = app.add_token("exam-reader", &["provisioning:read"]).await;
    for path in &reads {
        let (status, body) = send("GET", path.clone(), None, Some(reader.clone())).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    for token in [&booking, &reader] {
        for (method, path, body) in &writes {
            let (status, problem) =
                send(method, path.clone(), body.clone(), Some(token.clone())).await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(problem["required_scope"], "provisioning:write");
        }
    }
    assert_eq!(
        listed(&app).await,
        json!([e]),
        "a refused request changed something"
    );

    // provisioning:write implies provisioning:read.
    let writer = app.add_token("exam-writer", &["provisioning:write"]).await;
    for path in &reads {
        let (status, body) = send("GET", path.clone(), None, Some(writer.clone())).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let expected = [StatusCode::CREATED, StatusCode::OK, StatusCode::NO_CONTENT];
    for ((method, path, body), want) in writes.into_iter().zip(expected) {
        let (status, answer) = send(method, path, body, Some(writer.clone())).await;
        assert_eq!(status, want, "{method}: {answer}");
    }
});

both_backends!(
    the_exam_routes_are_in_the_openapi_document,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let doc = app
            .call_with("GET", "/openapi.json", None, None, "")
            .await
            .1;
        let paths = &doc["paths"];
        for (path, methods) in [
            ("/v1/exams", &["get", "post"][..]),
            ("/v1/exams/{id}", &["get", "patch", "delete"]),
        ] {
            for m in methods {
                assert!(paths[path][m].is_object(), "{m} {path} missing");
            }
        }
        let schema = &doc["components"]["schemas"]["CreateExam"]["properties"];
        for field in ["name", "start_at", "end_at", "students"] {
            assert!(schema[field].is_object(), "CreateExam.{field} missing");
        }
    }
);

// ---- the watcher ----

/// Runs one statement through a connection of its own, as another
/// application would.
async fn sql(app: &TestApp, statement: &str) {
    let statement = AssertSqlSafe(statement.to_string());
    match app.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("connect to SQLite");
            sqlx::raw_sql(statement)
                .execute(&mut c)
                .await
                .expect("run SQL");
            c.close().await.expect("close");
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&app.database_url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::raw_sql(statement)
                .execute(&mut c)
                .await
                .expect("run SQL");
            c.close().await.expect("close");
        }
    }
}

/// A time as a SQL literal in the backend's own form.
fn lit(backend: Backend, t: &str) -> String {
    let t: Timestamp = t.parse().expect("a time");
    match backend {
        Backend::Sqlite => format!("'{}'", DbTime(t).to_sqlite_text()),
        Backend::Postgres => format!("'{t}'"),
    }
}

/// Waits, at most [`PICK_UP`] from now, for a snapshot that satisfies `ok`.
async fn seen(
    rx: &mut watch::Receiver<ExamSnapshot>,
    what: &str,
    ok: impl Fn(&ExamSnapshot) -> bool,
) -> ExamSnapshot {
    let deadline = tokio::time::Instant::now() + PICK_UP;
    loop {
        let now = rx.borrow_and_update().clone();
        if ok(&now) {
            return now;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("{what}: the watcher stopped"),
            Err(_) => panic!("{what}: not seen within {PICK_UP:?}; last seen {now:?}"),
        }
    }
}

fn names(s: &ExamSnapshot) -> Vec<&str> {
    s.iter().map(|e| e.name.as_str()).collect()
}

async fn watcher(app: &TestApp, stop: &CancellationToken) -> ExamWatcher {
    ExamWatcher::start(
        app.db().clone(),
        app.server.state.exams.changes(),
        stop.clone(),
    )
    .await
    .expect("start the watcher")
}

both_backends!(
    the_watcher_sees_api_and_sql_changes_within_2s,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let before = create(&app, exam("before", 1, 2, 3)).await;
        let stop = CancellationToken::new();
        let w = watcher(&app, &stop).await;
        assert_eq!(names(&w.current()), ["before"], "the first read is done");
        let mut rx = w.subscribe();

        // (a) through the API.
        let api = create(&app, exam("api", 3, 4, 5)).await;
        let s = seen(&mut rx, "an API create", |s| s.len() == 2).await;
        assert_eq!(names(&s), ["before", "api"]);
        assert_eq!(s[1].id.to_string(), id(&api));
        assert_eq!(s[1].students, 5);
        assert_eq!(s[1].start_at.to_string(), h(3));

        // (b) an INSERT by another application, with the id left to the table.
        sql(
            &app,
            &format!(
                "INSERT INTO exams (name, start_at, end_at, students) VALUES ('sql', {}, {}, 7)",
                lit(backend, &h(2)),
                lit(backend, &h(5)),
            ),
        )
        .await;
        let s = seen(&mut rx, "an SQL insert", |s| s.len() == 3).await;
        assert_eq!(names(&s), ["before", "sql", "api"], "in start order");
        let inserted = s[1].clone();
        assert_eq!((inserted.students, inserted.end_at.to_string()), (7, h(5)));
        let listed_ids: Vec<String> = listed(&app)
            .await
            .as_array()
            .expect("items")
            .iter()
            .map(id)
            .collect();
        assert!(
            listed_ids.contains(&inserted.id.to_string()),
            "the API lists it too"
        );

        // (c) an UPDATE.
        sql(
            &app,
            &format!(
                "UPDATE exams SET students = 70, start_at = {} WHERE name = 'sql'",
                lit(backend, &h(0))
            ),
        )
        .await;
        let s = seen(&mut rx, "an SQL update", |s| {
            s.iter().any(|e| e.name == "sql" && e.students == 70)
        })
        .await;
        assert_eq!(names(&s), ["sql", "before", "api"]);
        assert_eq!(s[0].id, inserted.id);

        // An UPDATE that changes nothing changes no snapshot.
        sql(&app, "UPDATE exams SET name = name").await;
        let quiet = tokio::time::timeout(Duration::from_millis(1500), rx.changed()).await;
        assert!(quiet.is_err(), "a no-op update signalled a change");

        // (d) a DELETE.
        sql(&app, "DELETE FROM exams WHERE name = 'sql'").await;
        let s = seen(&mut rx, "an SQL delete", |s| s.len() == 2).await;
        assert_eq!(names(&s), ["before", "api"]);

        // A second subscriber starts at the current snapshot.
        let late = w.subscribe();
        assert!(!late.has_changed().expect("running"));
        assert_eq!(names(&late.borrow()), ["before", "api"]);

        // It stops on the token.
        stop.cancel();
        let ended =
            tokio::time::timeout(PICK_UP, async { while rx.changed().await.is_ok() {} }).await;
        assert!(ended.is_ok(), "the watcher did not stop");
        assert_eq!(before["name"], "before");
    }
);

both_backends!(
    the_watcher_skips_rows_it_cannot_read_and_goes_on,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let stop = CancellationToken::new();
        let w = watcher(&app, &stop).await;
        let mut rx = w.subscribe();
        // Within the table's constraints, but no time allot can read:
        // there is no 30 February (on SQLite, before the other exams, so
        // that a page must read past it); jiff has no year 12000.
        let (start, end) = match backend {
            Backend::Sqlite => (
                "'2026-02-30T08:00:00.000000Z'",
                "'2026-03-01T08:00:00.000000Z'",
            ),
            Backend::Postgres => ("'12000-01-01T00:00:00Z'", "'12000-01-02T00:00:00Z'"),
        };
        let bad_id = "0196f000-0000-4000-8000-000000000bad";
        sql(
            &app,
            &format!(
                "INSERT INTO exams (id, name, start_at, end_at, students) \
                 VALUES ('{bad_id}', 'broken', {start}, {end}, 4)"
            ),
        )
        .await;
        sql(
            &app,
            &format!(
                "INSERT INTO exams (name, start_at, end_at, students) VALUES ('fine', {}, {}, 2)",
                lit(backend, &h(1)),
                lit(backend, &h(2)),
            ),
        )
        .await;
        let s = seen(&mut rx, "the readable row", |s| s.len() == 1).await;
        assert_eq!(names(&s), ["fine"], "the unreadable row is left out");

        // The watcher goes on: a later change is still seen.
        create(&app, exam("after", 3, 4, 1)).await;
        let s = seen(&mut rx, "a create after the bad row", |s| s.len() == 2).await;
        assert_eq!(names(&s), ["fine", "after"]);

        // The API lists what it can read, and says what it cannot.
        let names_listed: Vec<String> = listed(&app)
            .await
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["name"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(names_listed, ["fine", "after"]);
        let first = get(&app, "/v1/exams?limit=1").await;
        assert_eq!(first["items"][0]["name"], "fine", "{first}");
        let cursor = first["next_cursor"]
            .as_str()
            .expect("a full page says there is more");
        let second = get(&app, &format!("/v1/exams?limit=1&cursor={cursor}")).await;
        assert_eq!(second["items"][0]["name"], "after", "{second}");
        assert_eq!(
            second["items"].as_array().map(Vec::len),
            Some(1),
            "{second}"
        );
        assert_eq!(
            second["next_cursor"],
            Value::Null,
            "nothing readable follows: {second}"
        );
        let path = format!("/v1/exams/{bad_id}");
        let (status, problem) = app.call("GET", &path, None).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "unreadable");
        let (status, problem) = app.call("PATCH", &path, Some(json!({"students": 5}))).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "unreadable");

        // A PATCH of every field repairs it.
        let (status, fixed) = app
            .call("PATCH", &path, Some(exam("repaired", 5, 6, 4)))
            .await;
        assert_eq!(status, StatusCode::OK, "{fixed}");
        let s = seen(&mut rx, "the repaired row", |s| s.len() == 3).await;
        assert_eq!(names(&s), ["fine", "after", "repaired"]);
        assert_eq!(stored(&app).await, 3);
        stop.cancel();
    }
);

both_backends!(
    a_server_with_background_workers_runs_the_watcher_until_shutdown,
    |backend| async move {
        let Some(url) = fresh_database(backend).await else {
            return;
        };
        let config = ServeArgs {
            database_url: Some(url),
            bootstrap_token: Some(TOKEN.to_string()),
            ..Default::default()
        }
        .resolve()
        .expect("config");
        let clock: SharedClock = Arc::new(ManualClock::new(start_time()));
        let server = Server::build(&config, clock, true)
            .await
            .expect("build the server");
        let w = server
            .state
            .exam_watcher
            .clone()
            .expect("the watcher runs with the background workers");
        let mut rx = w.subscribe();
        assert!(w.current().is_empty());
        server
            .state
            .exams
            .create(serde_json::from_value(exam("live", 1, 2, 3)).expect("a body"))
            .await
            .expect("create");
        let s = seen(&mut rx, "an exam made through the service", |s| {
            s.len() == 1
        })
        .await;
        assert_eq!(names(&s), ["live"]);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (quit, quit_rx) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(listener, async move {
            let _ = quit_rx.await;
        }));
        let _ = quit.send(());
        tokio::time::timeout(Duration::from_secs(30), running)
            .await
            .expect("shut down in time")
            .expect("join")
            .expect("clean shutdown");
        let ended =
            tokio::time::timeout(PICK_UP, async { while rx.changed().await.is_ok() {} }).await;
        assert!(ended.is_ok(), "the watcher outlived the server");
    }
);
