//! Webhook delivery of calendar notifications, on both backends: a local
//! receiver records each request; the test ticks its own `Deliverer` on the
//! manual clock (the server's background loop is off in tests).
//!
//! Notifications come from auto events on Saturday 2026-11-28, which office
//! hours (Mon-Fri) make `unplaceable`. The clock starts Monday 2026-11-23
//! 12:00 UTC.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use allot::calendar::webhooks::Deliverer;
use allot::clock::SharedClock;
use allot::store::{Backend, Db, DbOptions};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::calendar::*;
use common::*;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sha2::Sha256;

const AMS: &str = "Europe/Amsterdam";
const SECRET: &str = "s3cret-for-hooks";

// ---- the receiver ----

#[derive(Clone, Debug)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Inner {
    hits: Mutex<Vec<Hit>>,
    calls: AtomicUsize,
    /// Answer 500 to this many calls first.
    fail_first: AtomicUsize,
}

/// An HTTP server on 127.0.0.1 that records every request.
struct Receiver {
    url: String,
    inner: Arc<Inner>,
}

async fn hook(State(r): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = r.calls.fetch_add(1, Ordering::SeqCst);
    r.hits.lock().expect("hits").push(Hit { headers, body });
    if n < r.fail_first.load(Ordering::SeqCst) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    fn fail_first(&self, n: usize) {
        self.inner.fail_first.store(n, Ordering::SeqCst);
    }

    fn hits(&self) -> Vec<Hit> {
        self.inner.hits.lock().expect("hits").clone()
    }

    /// Requests received per notification id.
    fn per_notification(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for h in self.hits() {
            *out.entry(header(&h, "x-allot-notification-id"))
                .or_default() += 1;
        }
        out
    }
}

fn header(h: &Hit, name: &str) -> String {
    h.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("text header")
        .to_string()
}

/// `sha256=<hex>` of HMAC-SHA256 over `"{timestamp}.{body}"`, computed
/// here independently of allot.
fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

// ---- helpers ----

/// A deliverer on the test clock; without jitter, so retry times are exact.
fn deliverer_on(app: &TestApp, db: Db) -> Deliverer {
    let clock: SharedClock = Arc::new(app.clock.clone());
    let mut d = Deliverer::new(db, clock);
    d.config.jitter = 0.0;
    d
}

fn deliverer(app: &TestApp) -> Deliverer {
    deliverer_on(app, app.db().clone())
}

async fn tick(d: &Deliverer) -> usize {
    d.tick().await.expect("tick")
}

async fn hooked_calendar(app: &TestApp, url: &str) -> String {
    calendar_with(
        app,
        json!({"owner": "Jeff", "timezone": AMS, "working_hours": office_hours(),
               "webhook_url": url, "webhook_secret": SECRET}),
    )
    .await
}

/// Causes one `unplaceable` notification; returns its id.
async fn unplaceable(app: &TestApp, cal: &str) -> String {
    let (status, p) = post_event(
        app,
        cal,
        json!({"event_name": "sat", "date": "2026-11-28", "duration": 600, "attendees": [], "event_location": "HQ"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    p["notification_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no notification_id in {p}"))
        .to_string()
}

async fn deliveries(app: &TestApp, cal: &str, query: &str) -> Value {
    let (status, page) = app
        .call(
            "GET",
            &format!("/v1/calendars/{cal}/deliveries{query}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// The only delivery of a calendar.
async fn only_delivery(app: &TestApp, cal: &str) -> Value {
    let page = deliveries(app, cal, "").await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    items[0].clone()
}

fn now_plus(app: &TestApp, secs: i64) -> String {
    use allot::clock::Clock;
    app.clock
        .now()
        .checked_add(SignedDuration::from_secs(secs))
        .expect("in range")
        .to_string()
}

fn same_instant(a: &Value, b: &str) {
    let a: Timestamp = a
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {a}"))
        .parse()
        .expect("time");
    let b: Timestamp = b.parse().expect("time");
    assert_eq!(a, b);
}

// ---- (a) the request ----

both_backends!(
    a_delivery_is_signed_over_the_exact_body,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let rx = Receiver::start().await;
        let cal = hooked_calendar(&app, &rx.url).await;
        let nid = unplaceable(&app, &cal).await;
        let d = deliverer(&app);
        assert_eq!(tick(&d).await, 1);
        let hits = rx.hits();
        assert_eq!(hits.len(), 1);
        let hit = &hits[0];

        assert_eq!(header(hit, "content-type"), "application/json");
        assert_eq!(header(hit, "x-allot-notification-id"), nid);
        assert_eq!(header(hit, "x-allot-delivery-attempt"), "1");
        let ts = header(hit, "x-allot-timestamp");
        assert_eq!(
            ts,
            allot::clock::Clock::now(&app.clock).as_second().to_string()
        );
        assert_eq!(
            header(hit, "x-allot-signature"),
            expected_signature(SECRET, &ts, &hit.body)
        );
        // A different key or a changed body does not verify.
        assert_ne!(
            header(hit, "x-allot-signature"),
            expected_signature("other", &ts, &hit.body)
        );

        // The body is the notification exactly as the feed shows it.
        let body: Value = serde_json::from_slice(&hit.body).expect("JSON body");
        let feed = notifications(&app, 1).await;
        assert_eq!(feed.len(), 1);
        assert_eq!(body, feed[0]);
        assert_eq!(body["id"], nid.as_str());
        assert_eq!(body["kind"], "unplaceable");
        assert_eq!(body["calendar_id"], cal.as_str());
        assert_eq!(body["data"]["reason"], "outside_working_hours");

        let got = only_delivery(&app, &cal).await;
        assert_eq!(got["notification_id"], nid.as_str());
        assert_eq!(got["kind"], "unplaceable");
        assert_eq!(got["url"], rx.url.as_str());
        assert_eq!(got["state"], "delivered");
        assert_eq!(got["attempts"], 1);
        assert_eq!(got["last_status"], 204);
        assert_eq!(got["last_error"], Value::Null);
        assert_eq!(got["next_attempt_at"], Value::Null);
        same_instant(&got["delivered_at"], &now_plus(&app, 0));
        same_instant(&got["created_at"], &now_plus(&app, 0));

        // Delivered is final: nothing more is sent.
        app.clock.advance(SignedDuration::from_hours(2));
        assert_eq!(tick(&d).await, 0);
        assert_eq!(rx.hits().len(), 1);
    }
);

both_backends!(
    unsigned_without_a_secret_and_current_secret_used,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let first = Receiver::start().await;
        let second = Receiver::start().await;
        // No secret: no signature header.
        let plain = calendar_with(
        &app,
        json!({"owner": "P", "timezone": AMS, "working_hours": office_hours(), "webhook_url": first.url}),
    )
    .await;
        unplaceable(&app, &plain).await;
        let d = deliverer(&app);
        assert_eq!(tick(&d).await, 1);
        assert!(first.hits()[0].headers.get("x-allot-signature").is_none());

        // The URL recorded with the notification is used; the secret is the
        // calendar's at delivery time.
        let cal = hooked_calendar(&app, &first.url).await;
        unplaceable(&app, &cal).await;
        let (status, body) = app
            .call(
                "PATCH",
                &format!("/v1/calendars/{cal}"),
                Some(json!({"webhook_url": second.url, "webhook_secret": "rotated"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(tick(&d).await, 1);
        let hits = first.hits();
        assert_eq!(hits.len(), 2);
        let hit = &hits[1];
        let ts = header(hit, "x-allot-timestamp");
        assert_eq!(
            header(hit, "x-allot-signature"),
            expected_signature("rotated", &ts, &hit.body)
        );
        assert!(second.hits().is_empty());
        // New notifications go to the new URL.
        unplaceable(&app, &cal).await;
        assert_eq!(tick(&d).await, 1);
        assert_eq!(second.hits().len(), 1);
    }
);

// ---- (b) retries ----

both_backends!(
    failures_are_retried_after_the_backoff,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let rx = Receiver::start().await;
        rx.fail_first(2);
        let cal = hooked_calendar(&app, &rx.url).await;
        let nid = unplaceable(&app, &cal).await;
        let d = deliverer(&app);

        let pending = only_delivery(&app, &cal).await;
        assert_eq!(pending["state"], "pending");
        assert_eq!(pending["attempts"], 0);
        assert_eq!(pending["last_status"], Value::Null);
        same_instant(&pending["next_attempt_at"], &now_plus(&app, 0));

        // Attempt 1 fails: retried 1 s later.
        assert_eq!(tick(&d).await, 1);
        assert_eq!(rx.hits().len(), 1);
        let got = only_delivery(&app, &cal).await;
        assert_eq!(got["state"], "pending");
        assert_eq!(got["attempts"], 1);
        assert_eq!(got["last_status"], 500);
        assert!(
            got["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("500")),
            "{got}"
        );
        same_instant(&got["next_attempt_at"], &now_plus(&app, 1));

        // Not due before then.
        assert_eq!(tick(&d).await, 0);
        app.clock.advance(SignedDuration::from_millis(999));
        assert_eq!(tick(&d).await, 0);
        assert_eq!(rx.hits().len(), 1);

        // Attempt 2 at +1 s fails: retried 2 s later.
        app.clock.advance(SignedDuration::from_millis(1));
        assert_eq!(tick(&d).await, 1);
        assert_eq!(rx.hits().len(), 2);
        let got = only_delivery(&app, &cal).await;
        assert_eq!(got["state"], "pending");
        assert_eq!(got["attempts"], 2);
        assert_eq!(got["last_status"], 500);
        same_instant(&got["next_attempt_at"], &now_plus(&app, 2));

        app.clock.advance(SignedDuration::from_secs(1));
        assert_eq!(tick(&d).await, 0);
        assert_eq!(rx.hits().len(), 2);

        // Attempt 3 at +3 s succeeds.
        app.clock.advance(SignedDuration::from_secs(1));
        assert_eq!(tick(&d).await, 1);
        let hits = rx.hits();
        assert_eq!(hits.len(), 3);
        let attempts: Vec<String> = hits
            .iter()
            .map(|h| header(h, "x-allot-delivery-attempt"))
            .collect();
        assert_eq!(attempts, vec!["1", "2", "3"]);
        assert!(
            hits.iter()
                .all(|h| header(h, "x-allot-notification-id") == nid)
        );
        // Every attempt carries the same body.
        assert!(hits.iter().all(|h| h.body == hits[0].body));
        let got = only_delivery(&app, &cal).await;
        assert_eq!(got["state"], "delivered");
        assert_eq!(got["attempts"], 3);
        assert_eq!(got["last_status"], 204);
        assert_eq!(got["last_error"], Value::Null);
        same_instant(&got["delivered_at"], &now_plus(&app, 0));

        // The state filter.
        let page = deliveries(&app, &cal, "?state=pending").await;
        assert_eq!(page["items"], json!([]));
        let page = deliveries(&app, &cal, "?state=delivered").await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    }
);

both_backends!(
    connection_errors_are_recorded_and_retried,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        // A port nothing listens on.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let cal = hooked_calendar(&app, &format!("http://{closed}/hook")).await;
        unplaceable(&app, &cal).await;
        let d = deliverer(&app);
        assert_eq!(tick(&d).await, 1);
        let got = only_delivery(&app, &cal).await;
        assert_eq!(got["state"], "pending");
        assert_eq!(got["attempts"], 1);
        assert_eq!(got["last_status"], Value::Null);
        assert!(
            got["last_error"].as_str().is_some_and(|e| !e.is_empty()),
            "{got}"
        );
        same_instant(&got["next_attempt_at"], &now_plus(&app, 1));

        // Backoff doubles up to an hour, and the delivery is never given up.
        for _ in 0..15 {
            app.clock.advance(SignedDuration::from_hours(1));
            assert_eq!(tick(&d).await, 1);
        }
        let got = only_delivery(&app, &cal).await;
        assert_eq!(got["state"], "pending");
        assert_eq!(got["attempts"], 16);
        same_instant(&got["next_attempt_at"], &now_plus(&app, 3600));
    }
);

// ---- (c) nothing lost ----

both_backends!(
    every_notification_arrives_exactly_once,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let rx = Receiver::start().await;
        let cal = hooked_calendar(&app, &rx.url).await;
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(unplaceable(&app, &cal).await);
        }
        let d = deliverer(&app);
        assert_eq!(tick(&d).await, 20);
        assert_eq!(tick(&d).await, 0);
        app.clock.advance(SignedDuration::from_hours(2));
        assert_eq!(tick(&d).await, 0);
        let per = rx.per_notification();
        assert_eq!(per.len(), 20);
        for id in &ids {
            assert_eq!(per.get(id), Some(&1), "{id}");
        }

        // All delivered, listed oldest first, paged with a cursor.
        let mut listed = Vec::new();
        let mut query = "?limit=7".to_string();
        loop {
            let page = deliveries(&app, &cal, &query).await;
            for item in page["items"].as_array().expect("items") {
                assert_eq!(item["state"], "delivered", "{item}");
                listed.push(item["notification_id"].as_str().expect("id").to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => query = format!("?limit=7&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(listed, ids);
    }
);

// ---- (d) concurrent deliverers ----

both_backends!(
    two_deliverers_never_send_the_same_delivery_twice,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let rx = Receiver::start().await;
        let cal = hooked_calendar(&app, &rx.url).await;
        let total = 60;
        for _ in 0..total {
            unplaceable(&app, &cal).await;
        }
        // Two replicas: on PostgreSQL each with its own pool; SQLite is one
        // process, so they share it.
        let other = match backend {
            Backend::Postgres => Db::connect(&app.database_url, &DbOptions::default())
                .await
                .expect("second pool"),
            Backend::Sqlite => app.db().clone(),
        };
        let mut a = deliverer(&app);
        let mut b = deliverer_on(&app, other);
        // Small batches, so the two claim many times while the other's claims
        // are open.
        a.config.batch = 7;
        b.config.batch = 5;
        let (na, nb) = tokio::join!(tick(&a), tick(&b));
        assert_eq!(na + nb, total, "a sent {na}, b sent {nb}");
        let per = rx.per_notification();
        assert_eq!(per.len(), total);
        assert!(per.values().all(|&n| n == 1), "{per:?}");

        // Failing rounds, too: each round attempts each delivery once.
        let cal2 = hooked_calendar(&app, &rx.url).await;
        for _ in 0..20 {
            unplaceable(&app, &cal2).await;
        }
        rx.fail_first(usize::MAX);
        let before = rx.hits().len();
        let (na, nb) = tokio::join!(tick(&a), tick(&b));
        assert_eq!(na + nb, 20);
        assert_eq!(rx.hits().len() - before, 20);
        app.clock.advance(SignedDuration::from_secs(1));
        let (na, nb) = tokio::join!(tick(&a), tick(&b));
        assert_eq!(na + nb, 20);
        let page = deliveries(&app, &cal2, "?state=pending&limit=1000").await;
        let items = page["items"].as_array().expect("items");
        assert_eq!(items.len(), 20);
        assert!(items.iter().all(|i| i["attempts"] == 2), "{page}");
    }
);

// ---- (e) no webhook, no deliveries ----

both_backends!(
    calendars_without_a_webhook_get_no_deliveries,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let rx = Receiver::start().await;
        let cal = calendar(&app, AMS).await;
        unplaceable(&app, &cal).await;
        unplaceable(&app, &cal).await;
        let d = deliverer(&app);
        assert_eq!(tick(&d).await, 0);
        let page = deliveries(&app, &cal, "").await;
        assert_eq!(page, json!({"items": [], "next_cursor": null}));
        assert!(rx.hits().is_empty());
        let (n,): (i64,) = allot::with_pool!(app.db(), p => sqlx::query_as(
        "SELECT COUNT(*) FROM calendar_deliveries"
    )
    .fetch_one(p)
    .await)
        .expect("count");
        assert_eq!(n, 0);

        // Removing a webhook stops new deliveries.
        let hooked = hooked_calendar(&app, &rx.url).await;
        let (status, _) = app
            .call(
                "PATCH",
                &format!("/v1/calendars/{hooked}"),
                Some(json!({"webhook_url": ""})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        unplaceable(&app, &hooked).await;
        assert_eq!(deliveries(&app, &hooked, "").await["items"], json!([]));
    }
);

both_backends!(deliveries_listing_checks_its_input, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let cal = calendar(&app, AMS).await;
    let unknown = uuid::Uuid::now_v7();
    let (status, body) = app
        .call("GET", &format!("/v1/calendars/{unknown}/deliveries"), None)
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    for q in ["?state=failed", "?cursor=zz", "?limit=0"] {
        let (status, body) = app
            .call("GET", &format!("/v1/calendars/{cal}/deliveries{q}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
    }
    let (status, doc) = app.call_with("GET", "/openapi.json", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/v1/calendars/{id}/deliveries"]["get"].is_object());
});
