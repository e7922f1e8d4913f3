//! The shared notification feed, on both backends: provisioning
//! notifications written through `allot::notifications::insert` next to the
//! calendar's, who may read which (scopes, `module=`), the `exam_id` and
//! `calendar_id` filters, paging across modules, the long poll woken by the
//! shared hub, the OpenAPI document, and the upgrade of a database whose
//! feed was the calendar's alone (migrations up to 0006 with rows, then
//! the rest).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use allot::notifications::{
    self, CALENDAR, Cursor, Filter, Hub, NewNotification, NotificationRow, PROVISIONING,
};
use allot::store::{Backend, Db, DbId, DbOptions, DbTime};
use axum::http::StatusCode;
use common::calendar::{calendar, post_event};
use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

const AMS: &str = "Europe/Amsterdam";

/// Writes one provisioning notification about `exam` in a transaction of
/// its own, as the provisioning executor will.
async fn provisioning_notification(app: &TestApp, kind: &str, exam: Uuid, n: i64) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = app.db().begin().await.expect("begin");
    notifications::insert(
        &mut tx,
        NewNotification {
            id,
            module: PROVISIONING,
            kind,
            calendar_id: None,
            event_id: None,
            exam_id: Some(exam),
            at: allot::clock::Clock::now(&app.clock),
            data: json!({"n": n}),
        },
    )
    .await
    .expect("insert a provisioning notification");
    tx.commit().await.expect("commit");
    id
}

/// An `unplaceable` calendar notification (an auto event on a Saturday).
async fn calendar_notification(app: &TestApp, cal: &str) {
    let (status, p) = post_event(
        app,
        cal,
        json!({"event_name": "golf", "date": "2026-11-28", "duration": 3600}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    app.call_with("GET", path, None, Some(token), "").await
}

/// Every notification `token` reads with `query`, once there are at least
/// `expected` (long-polling: on PostgreSQL a row shows only once every
/// older transaction has ended, and tests in parallel keep some open).
async fn feed(app: &TestApp, token: &str, query: &str, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut all: Vec<Value> = Vec::new();
    let mut cursor = "-1.0".to_string();
    loop {
        let path = format!("/v1/notifications?limit=1000&after={cursor}&wait=1s{query}");
        let (status, page) = get_as(app, token, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        all.extend(page["items"].as_array().cloned().unwrap_or_default());
        cursor = page["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_string();
        if all.len() >= expected || Instant::now() > deadline {
            return all;
        }
    }
}

fn field<'a>(ns: &'a [Value], key: &str) -> Vec<&'a str> {
    ns.iter().map(|n| n[key].as_str().unwrap_or("-")).collect()
}

both_backends!(
    provisioning_notifications_share_the_feed,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let calendar_only = app.add_token("planner", &["calendar:read"]).await;
        let provisioning_only = app.add_token("proctor", &["provisioning:read"]).await;
        let both = app
            .add_token("ops", &["calendar:read", "provisioning:write"])
            .await;
        let booking_only = app.add_token("booker", &["booking:read"]).await;

        let cal = calendar(&app, AMS).await;
        let (physics, chemistry) = (Uuid::now_v7(), Uuid::now_v7());
        calendar_notification(&app, &cal).await;
        let infeasible = provisioning_notification(&app, "exam_infeasible", physics, 1).await;
        let shortfall = provisioning_notification(&app, "shortfall_changed", chemistry, 2).await;
        let leaked = provisioning_notification(&app, "vm_maybe_leaked", physics, 3).await;

        // Every scope (`*`) and calendar + provisioning read both modules,
        // in the order written.
        let all = feed(&app, TOKEN, "", 4).await;
        assert_eq!(
            field(&all, "kind"),
            [
                "unplaceable",
                "exam_infeasible",
                "shortfall_changed",
                "vm_maybe_leaked"
            ]
        );
        assert_eq!(
            field(&all, "module"),
            ["calendar", "provisioning", "provisioning", "provisioning"]
        );
        assert_eq!(feed(&app, &both, "", 4).await, all);

        // The wire shape: every field present, the other module's ids null.
        let p = &all[1];
        assert_eq!(p["id"], infeasible.to_string());
        assert_eq!(p["exam_id"], physics.to_string());
        assert_eq!(p["calendar_id"], Value::Null);
        assert_eq!(p["event_id"], Value::Null);
        assert_eq!(p["data"], json!({"n": 1}));
        assert!(p["cursor"].as_str().is_some_and(|c| c.contains('.')));
        assert!(p["at"].as_str().is_some());
        let c = &all[0];
        assert_eq!(c["calendar_id"], cal.as_str());
        assert_eq!(c["exam_id"], Value::Null);
        for n in &all {
            for key in [
                "id",
                "cursor",
                "module",
                "kind",
                "calendar_id",
                "event_id",
                "exam_id",
                "at",
                "data",
            ] {
                assert!(n.get(key).is_some(), "{key} missing in {n}");
            }
        }

        // One read scope, one module.
        let mine = feed(&app, &provisioning_only, "", 3).await;
        assert_eq!(mine, all[1..].to_vec());
        let theirs = feed(&app, &calendar_only, "", 1).await;
        assert_eq!(theirs, all[..1].to_vec());

        // module= narrows; it needs that module's scope.
        let only = feed(&app, TOKEN, "&module=provisioning", 3).await;
        assert_eq!(only, all[1..].to_vec());
        let only = feed(&app, &both, "&module=calendar", 1).await;
        assert_eq!(only, all[..1].to_vec());
        let (status, problem) = get_as(
            &app,
            &calendar_only,
            "/v1/notifications?module=provisioning",
        )
        .await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(problem["required_scope"], "provisioning:read");
        let (status, problem) = get_as(
            &app,
            &provisioning_only,
            "/v1/notifications?module=calendar",
        )
        .await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(problem["required_scope"], "calendar:read");
        let (status, problem) = get_as(&app, TOKEN, "/v1/notifications?module=jobs").await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");

        // exam_id= and calendar_id= narrow, and need the scope of what they
        // select.
        let physics_feed = feed(&app, &provisioning_only, &format!("&exam_id={physics}"), 2).await;
        assert_eq!(
            field(&physics_feed, "id"),
            [infeasible.to_string(), leaked.to_string()]
        );
        let chemistry_feed = feed(&app, TOKEN, &format!("&exam_id={chemistry}"), 1).await;
        assert_eq!(field(&chemistry_feed, "id"), [shortfall.to_string()]);
        let (status, page) = get_as(
            &app,
            TOKEN,
            &format!("/v1/notifications?exam_id={}", Uuid::now_v7()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"], json!([]));
        let by_calendar = feed(&app, &both, &format!("&calendar_id={cal}"), 1).await;
        assert_eq!(by_calendar, all[..1].to_vec());
        let (status, problem) = get_as(
            &app,
            &calendar_only,
            &format!("/v1/notifications?exam_id={physics}"),
        )
        .await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(problem["required_scope"], "provisioning:read");
        let (status, problem) = get_as(
            &app,
            &provisioning_only,
            &format!("/v1/notifications?calendar_id={cal}"),
        )
        .await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(problem["required_scope"], "calendar:read");
        let (status, problem) = get_as(&app, TOKEN, "/v1/notifications?exam_id=nope").await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");

        // A token that reads no module's notifications: 403 naming the
        // scopes, whatever the query.
        for path in [
            "/v1/notifications",
            "/v1/notifications?module=calendar",
            "/v1/notifications?after=bogus",
        ] {
            let (status, problem) = get_as(&app, &booking_only, path).await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(
                problem["required_scopes"],
                json!(["calendar:read", "provisioning:read"]),
                "{path}"
            );
        }

        // Paging walks both modules in feed order, one row at a time.
        let mut cursor = "-1.0".to_string();
        let mut paged = Vec::new();
        for _ in 0..10 {
            let (status, page) = get_as(
                &app,
                TOKEN,
                &format!("/v1/notifications?limit=1&after={cursor}"),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                assert_eq!(page["next_cursor"], cursor.as_str());
                break;
            }
            assert_eq!(items.len(), 1);
            assert_eq!(page["next_cursor"], items[0]["cursor"]);
            cursor = items[0]["cursor"].as_str().expect("cursor").to_string();
            paged.extend(items);
        }
        assert_eq!(paged, all);
    }
);

both_backends!(long_poll_wakes_on_a_hub_bump, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let app = Arc::new(app);
    // Modules bump the hub in AppState; the calendar's is the same one.
    assert!(Arc::ptr_eq(
        &app.server.state.notifications,
        app.server.state.calendar.hub()
    ));

    // A hub that never re-reads on its own: only a bump can end the wait
    // before its deadline.
    let hub = Arc::new(Hub::with_reread(Duration::from_secs(3600)));
    let exam = Uuid::now_v7();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, hub, done) = (app.clone(), hub.clone(), done.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let id = provisioning_notification(&app, "shortfall_changed", exam, 1).await;
            // Bump until the reader has it: on PostgreSQL the row becomes
            // visible only once older transactions (of parallel tests) end.
            while !done.load(Ordering::SeqCst) {
                hub.bump();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            id
        })
    };
    let started = Instant::now();
    let rows = notifications::long_poll(
        app.db(),
        &hub,
        Cursor::START,
        &Filter {
            modules: &[PROVISIONING],
            calendar_id: None,
            exam_id: Some(exam),
        },
        10,
        Duration::from_secs(30),
    )
    .await
    .expect("long poll");
    done.store(true, Ordering::SeqCst);
    let id = writer.await.expect("writer");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "woke up at the deadline, not at a bump"
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id.0, id);
    assert_eq!(rows[0].exam_id.map(|e| e.0), Some(exam));

    // Through the API with the server's own hub: a provisioning reader is
    // woken by a provisioning write.
    let proctor = app.add_token("proctor", &["provisioning:read"]).await;
    let cursor = rows[0].cursor().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let id = provisioning_notification(&app, "vm_maybe_leaked", exam, 2).await;
            while !done.load(Ordering::SeqCst) {
                app.server.state.notifications.bump();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            id
        })
    };
    let started = Instant::now();
    let (status, page) = get_as(
        &app,
        &proctor,
        &format!("/v1/notifications?after={cursor}&wait=20s&module=provisioning"),
    )
    .await;
    done.store(true, Ordering::SeqCst);
    let id = writer.await.expect("writer");
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(started.elapsed() < Duration::from_secs(15), "woke up late");
    assert_eq!(page["items"][0]["id"], id.to_string());
    assert_eq!(page["items"][0]["kind"], "vm_maybe_leaked");
    assert_eq!(page["next_cursor"], page["items"][0]["cursor"]);
});

both_backends!(the_feed_is_in_the_openapi_document, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let (status, doc) = app.call_with("GET", "/openapi.json", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    let get = &doc["paths"]["/v1/notifications"]["get"];
    assert_eq!(get["tags"], json!(["notifications"]), "{get}");
    let params: Vec<&str> = get["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default())
        .collect();
    for p in ["after", "wait", "module", "calendar_id", "exam_id", "limit"] {
        assert!(params.contains(&p), "{p} missing in {params:?}");
    }
    let security = get["security"].to_string();
    assert!(security.contains("calendar:read"), "{security}");
    assert!(security.contains("provisioning:read"), "{security}");
    let schema = &doc["components"]["schemas"]["Notification"]["properties"];
    for field in ["module", "exam_id", "calendar_id", "event_id", "cursor"] {
        assert!(schema[field].is_object(), "Notification.{field} missing");
    }
});

// ---- the upgrade of a calendar-only feed ----

/// Migrations up to and including `version`.
async fn migrate_to(db: &Db, version: i64) {
    match db {
        Db::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite")
            .run_to(version, pool)
            .await
            .expect("migrate sqlite"),
        Db::Postgres(pool, _) => sqlx::migrate!("./migrations/postgres")
            .run_to(version, pool)
            .await
            .expect("migrate postgres"),
    }
}

/// The feed from the start once it has at least `expected` rows (on
/// PostgreSQL a row shows only once every older transaction, also of
/// parallel tests, has ended), or after 20 s.
async fn read_until(db: &Db, filter: &Filter<'_>, expected: usize) -> Vec<NotificationRow> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = notifications::after(db, Cursor::START, filter, 100)
            .await
            .expect("read the feed");
        if rows.len() >= expected || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a statement with binds on either backend.
macro_rules! exec {
    ($db:expr, $sql:expr $(, $bind:expr)*) => {
        allot::with_pool!($db, p => sqlx::query($sql)$(.bind($bind))*.execute(p).await.map(|_| ()))
    };
}

both_backends!(an_old_calendar_feed_upgrades_intact, |backend| async move {
    let Some(url) = fresh_database(backend).await else {
        return;
    };
    let db = Db::connect(&url, &DbOptions::default())
        .await
        .expect("connect");
    migrate_to(&db, 6).await;

    // The calendar feed as 0005 made it: four notifications, the last
    // deleted again (so the counter is ahead of the rows), one pending
    // and one delivered webhook delivery.
    let t0: Timestamp = "2026-11-23T12:00:00Z".parse().expect("time");
    let cal = Uuid::now_v7();
    let event = Uuid::now_v7();
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        exec!(
            &db,
            "INSERT INTO calendar_notifications (id, calendar_id, event_id, kind, at, data) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            DbId(*id),
            DbId(cal),
            (i > 0).then_some(DbId(event)),
            if i == 0 { "unplaceable" } else { "displaced" },
            DbTime(t0 + SignedDuration::from_secs(i as i64)),
            Json(json!({"i": i}))
        )
        .expect("insert an old notification");
    }
    exec!(
        &db,
        "DELETE FROM calendar_notifications WHERE id = $1",
        DbId(ids[3])
    )
    .expect("delete one");
    exec!(
        &db,
        "INSERT INTO calendar_deliveries (notification_id, calendar_id, url, state, attempts, \
             next_attempt_at, last_status, last_error, created_at) \
             VALUES ($1, $2, 'http://127.0.0.1:9/hook', 'pending', 3, $3, 500, 'boom', $4)",
        DbId(ids[1]),
        DbId(cal),
        DbTime(t0 + SignedDuration::from_secs(60)),
        DbTime(t0)
    )
    .expect("insert a pending delivery");
    exec!(
        &db,
        "INSERT INTO calendar_deliveries (notification_id, calendar_id, url, state, attempts, \
             next_attempt_at, last_status, delivered_at, created_at) \
             VALUES ($1, $2, 'http://127.0.0.1:9/hook', 'delivered', 1, $3, 204, $3, $3)",
        DbId(ids[2]),
        DbId(cal),
        DbTime(t0 + SignedDuration::from_secs(2))
    )
    .expect("insert a delivered delivery");
    let before: Vec<(i64, i64)> = allot::with_pool!(&db, p => sqlx::query_as(
            "SELECT txid, seq FROM calendar_notifications ORDER BY txid, seq",
        )
        .fetch_all(p)
        .await
        .expect("old order"));
    assert_eq!(before.len(), 3);

    // Everything else: 0007 (the shared feed) and later.
    db.migrate().await.expect("migrate the rest");
    let versions: Vec<i64> = allot::with_pool!(&db, p => sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(p)
        .await
        .expect("versions"));
    assert_eq!(versions[..7], [1, 2, 3, 4, 5, 6, 7]);

    // The rows, their positions and contents, now of the calendar
    // module.
    let all = [CALENDAR, PROVISIONING];
    let every = Filter {
        modules: &all,
        ..Filter::default()
    };
    let rows = read_until(&db, &every, 3).await;
    let got: Vec<(i64, i64)> = rows.iter().map(|r| (r.txid, r.seq)).collect();
    assert_eq!(got, before);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.id.0, ids[i]);
        assert_eq!(r.module, "calendar");
        assert_eq!(r.calendar_id.map(|c| c.0), Some(cal));
        assert_eq!(r.event_id.map(|e| e.0), (i > 0).then_some(event));
        assert_eq!(r.exam_id, None);
        assert_eq!(r.at.0, t0 + SignedDuration::from_secs(i as i64));
        assert_eq!(r.data.0, json!({"i": i}));
    }

    // The deliveries, intact and still claimable through the new table.
    let deliveries = allot::calendar::store::list_deliveries(&db, cal, None, None, 10)
        .await
        .expect("list deliveries");
    let seen: Vec<(Uuid, &str, &str, i64, Option<i64>)> = deliveries
        .iter()
        .map(|d| {
            (
                d.notification_id.0,
                d.kind.as_str(),
                d.state.as_str(),
                d.attempts,
                d.last_status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (ids[1], "displaced", "pending", 3, Some(500)),
            (ids[2], "displaced", "delivered", 1, Some(204)),
        ]
    );
    assert_eq!(deliveries[0].last_error.as_deref(), Some("boom"));
    assert_eq!(
        deliveries[1].delivered_at.map(|t| t.0),
        Some(t0 + SignedDuration::from_secs(2))
    );
    let now = t0 + SignedDuration::from_hours(1);
    let claimed =
        allot::calendar::store::claim_deliveries(&db, now, now + SignedDuration::from_secs(60), 10)
            .await
            .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].notification_id.0, ids[1]);
    assert_eq!(claimed[0].module, "calendar");
    assert_eq!(claimed[0].event_id.map(|e| e.0), Some(event));

    // The deliveries' foreign key follows the feed: a delivery of no
    // notification is refused, deleting a notification deletes its
    // delivery.
    let orphan = exec!(
        &db,
        "INSERT INTO calendar_deliveries (notification_id, calendar_id, url, state, \
             next_attempt_at, created_at) VALUES ($1, $2, 'http://x', 'pending', $3, $3)",
        DbId(Uuid::now_v7()),
        DbId(cal),
        DbTime(t0)
    );
    assert!(orphan.is_err(), "a delivery without its notification");
    exec!(&db, "DELETE FROM notifications WHERE id = $1", DbId(ids[2]))
        .expect("delete a notification");
    let left = allot::calendar::store::list_deliveries(&db, cal, None, None, 10)
        .await
        .expect("list deliveries");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].notification_id.0, ids[1]);

    // The old table is gone; new rows take no calendar, and no seq the
    // old table ever gave out.
    assert!(
        exec!(&db, "SELECT count(*) FROM calendar_notifications").is_err(),
        "calendar_notifications still exists"
    );
    let exam = Uuid::now_v7();
    let mut tx = db.begin().await.expect("begin");
    notifications::insert(
        &mut tx,
        NewNotification {
            id: Uuid::now_v7(),
            module: PROVISIONING,
            kind: "exam_infeasible",
            calendar_id: None,
            event_id: None,
            exam_id: Some(exam),
            at: now,
            data: json!({}),
        },
    )
    .await
    .expect("a provisioning notification");
    tx.commit().await.expect("commit");
    let by_exam = read_until(
        &db,
        &Filter {
            modules: &all,
            exam_id: Some(exam),
            ..Filter::default()
        },
        1,
    )
    .await;
    assert_eq!(by_exam.len(), 1);
    assert!(by_exam[0].seq > 4, "seq {} reused", by_exam[0].seq);
    assert_eq!(by_exam[0].calendar_id, None);

    // The indexes, and (SQLite) no dangling reference, no leftovers.
    let indexes: Vec<String> = match &db {
        Db::Sqlite(p, _) => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name IN ('notifications', 'calendar_deliveries') ORDER BY name",
        )
        .fetch_all(p)
        .await
        .expect("indexes"),
        Db::Postgres(p, _) => sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes \
                 WHERE tablename IN ('notifications', 'calendar_deliveries') ORDER BY indexname",
        )
        .fetch_all(p)
        .await
        .expect("indexes"),
    };
    for name in [
        "notifications_order",
        "notifications_by_exam",
        "calendar_deliveries_due",
        "calendar_deliveries_by_calendar",
    ] {
        assert!(
            indexes.iter().any(|i| i == name),
            "{name} missing: {indexes:?}"
        );
    }
    if let Db::Sqlite(p, _) = &db {
        let dangling: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(p)
            .await
            .expect("foreign key check");
        assert!(dangling.is_empty(), "{dangling:?}");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'calendar_%' \
                 ORDER BY name",
        )
        .fetch_all(p)
        .await
        .expect("tables");
        assert!(
            !tables
                .iter()
                .any(|t| t.ends_with("_copy") || t == "calendar_notifications"),
            "{tables:?}"
        );
        let target: String = sqlx::query_scalar(
            "SELECT \"table\" FROM pragma_foreign_key_list('calendar_deliveries')",
        )
        .fetch_one(p)
        .await
        .expect("foreign key");
        assert_eq!(target, "notifications");
    }
    if backend == Backend::Postgres {
        let target: String = allot::with_pool!(&db, p => sqlx::query_scalar(
                "SELECT confrelid::regclass::text FROM pg_constraint \
                 WHERE conrelid = 'calendar_deliveries'::regclass AND contype = 'f'",
            )
            .fetch_one(p)
            .await
            .expect("foreign key"));
        assert_eq!(target, "notifications");
    }
    db.close().await;
});
