//! booking under concurrent writers: 32 clients insert, move and delete
//! entries on a few hot systems through real `allot serve` processes (two
//! replicas on one PostgreSQL; one process on SQLite), then an independent
//! SQL audit looks for any instant where a system holds more active entries
//! than its capacity (rule 1), and checks the event feed.

#[macro_use]
#[path = "common/process.rs"]
mod process;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp, ToSpan};
use process::{Api, AuditDb, Launch, Scratch};
use serde_json::json;

const CLIENTS: usize = 32;
const SYSTEMS: usize = 3;
const CAPACITY: i64 = 3;

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Tally {
    created: AtomicU64,
    moved: AtomicU64,
    deleted: AtomicU64,
    refused: AtomicU64,
}

/// A random span of 15 to 90 minutes, on a 5-minute grid, inside a 12-hour
/// day starting at `base`: dense enough that most writes contend.
fn random_span(rng: &mut Lcg, base: Timestamp) -> (String, String) {
    let start = base + (rng.below(144) as i64 * 5).minutes();
    let end = start + ((3 + rng.below(16)) as i64 * 5).minutes();
    (start.to_string(), end.to_string())
}

async fn client(
    n: usize,
    apis: Vec<Api>,
    systems: Arc<Vec<String>>,
    base: Timestamp,
    ops: usize,
    tally: Arc<Tally>,
) {
    let mut rng = Lcg(0x9e37_79b9 ^ n as u64);
    let mut mine: Vec<String> = Vec::new();
    for i in 0..ops {
        let api = &apis[(n + i) % apis.len()];
        let roll = rng.below(10);
        if roll < 6 || mine.is_empty() {
            let system = &systems[rng.below(systems.len() as u64) as usize];
            let (start, end) = random_span(&mut rng, base);
            let (status, body) = api
                .post(
                    &format!("/v1/systems/{system}/entries"),
                    &json!({"start": start, "end": end, "label": format!("c{n}-{i}")}),
                )
                .await;
            match status {
                201 => {
                    tally.created.fetch_add(1, Ordering::Relaxed);
                    mine.push(body["id"].as_str().unwrap_or_default().to_string());
                }
                409 => {
                    assert_eq!(
                        body["type"], "urn:allot:problem:capacity_exceeded",
                        "{body}"
                    );
                    tally.refused.fetch_add(1, Ordering::Relaxed);
                }
                other => panic!("insert answered {other}: {body}"),
            }
        } else if roll < 9 {
            let id = &mine[rng.below(mine.len() as u64) as usize];
            let (start, end) = random_span(&mut rng, base);
            let (status, body) = api
                .call(
                    "PATCH",
                    &format!("/v1/entries/{id}"),
                    Some(&json!({"start": start, "end": end})),
                )
                .await;
            match status {
                200 => {
                    tally.moved.fetch_add(1, Ordering::Relaxed);
                }
                409 => {
                    assert_eq!(
                        body["type"], "urn:allot:problem:capacity_exceeded",
                        "{body}"
                    );
                    tally.refused.fetch_add(1, Ordering::Relaxed);
                }
                other => panic!("move answered {other}: {body}"),
            }
        } else {
            let idx = rng.below(mine.len() as u64) as usize;
            let id = mine.swap_remove(idx);
            let (status, body) = api.call("DELETE", &format!("/v1/entries/{id}"), None).await;
            assert_eq!(status, 204, "delete answered {status}: {body}");
            tally.deleted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Active entries, per system, that start at an instant where more than the
/// capacity of active entries overlap. The peak of a set of half-open spans
/// is always reached at some span's start, so checking every start suffices.
async fn over_capacity(db: &AuditDb) -> Vec<(String, String, i64, i64)> {
    let sql = "SELECT CAST(e1.system_id AS TEXT), CAST(e1.start_at AS TEXT), COUNT(*), MAX(s.capacity) \
         FROM booking_entries e1 \
         JOIN booking_entries e2 ON e2.system_id = e1.system_id AND e2.status = 'active' \
              AND e2.start_at <= e1.start_at AND e2.end_at > e1.start_at \
         JOIN booking_systems s ON s.id = e1.system_id \
         WHERE e1.status = 'active' \
         GROUP BY e1.id, e1.system_id, e1.start_at \
         HAVING COUNT(*) > MAX(s.capacity)";
    on_pool!(db, p => {
        let rows: Vec<(String, String, i64, i32)> = sqlx::query_as(sql)
            .fetch_all(p)
            .await
            .expect("audit query");
        rows.into_iter().map(|(a, b, c, d)| (a, b, c, i64::from(d))).collect()
    })
}

async fn count(db: &AuditDb, sql: &'static str) -> i64 {
    on_pool!(db, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.expect("count"))
}

/// Reads the whole event feed page by page and checks it never repeats or
/// goes back; returns the entry ids with an `entry.created` event.
async fn read_feed(api: &Api) -> HashSet<String> {
    let mut after: Option<String> = None;
    let mut seen = HashSet::new();
    let mut created = HashSet::new();
    loop {
        let path = match &after {
            None => "/v1/booking/events?limit=1000".to_string(),
            Some(c) => format!("/v1/booking/events?limit=1000&after={c}"),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for ev in &items {
            let cursor = ev["cursor"].as_str().unwrap_or_default().to_string();
            assert!(
                seen.insert(cursor.clone()),
                "event {cursor} delivered twice"
            );
            if ev["kind"] == "entry.created" {
                created.insert(ev["entry_id"].as_str().unwrap_or_default().to_string());
            }
        }
        after = page["next_cursor"].as_str().map(str::to_string);
    }
    created
}

async fn hammer(apis: Vec<Api>, url: &str, ops_per_client: usize) {
    let base: Timestamp = (Timestamp::now() + SignedDuration::from_hours(48))
        .round(jiff::Unit::Hour)
        .expect("round");
    let mut systems = Vec::new();
    for i in 0..SYSTEMS {
        let (status, sys) = apis[0]
            .post(
                "/v1/systems",
                &json!({"name": format!("hot-{i}"), "capacity": CAPACITY}),
            )
            .await;
        assert_eq!(status, 201, "{sys}");
        systems.push(sys["id"].as_str().unwrap_or_default().to_string());
    }
    let systems = Arc::new(systems);
    let tally = Arc::new(Tally::default());
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|n| {
            tokio::spawn(client(
                n,
                apis.clone(),
                systems.clone(),
                base,
                ops_per_client,
                tally.clone(),
            ))
        })
        .collect();
    for w in workers {
        w.await.expect("client panicked");
    }
    let elapsed = started.elapsed();

    let db = AuditDb::open(url).await;
    let violations = over_capacity(&db).await;
    let active = count(
        &db,
        "SELECT COUNT(*) FROM booking_entries WHERE status = 'active'",
    )
    .await;
    let total = count(&db, "SELECT COUNT(*) FROM booking_entries").await;
    db.close().await;
    let created = read_feed(&apis[0]).await;
    println!(
        "{CLIENTS} clients x {ops_per_client} ops on {SYSTEMS} systems of capacity {CAPACITY} in {elapsed:?}: \
         {} created, {} moved, {} deleted, {} refused; {active} active of {total}; {} over capacity",
        tally.created.load(Ordering::Relaxed),
        tally.moved.load(Ordering::Relaxed),
        tally.deleted.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        violations.len()
    );
    assert!(
        violations.is_empty(),
        "instants above capacity: {violations:#?}"
    );
    assert_eq!(total as u64, tally.created.load(Ordering::Relaxed));
    assert_eq!(
        created.len() as i64,
        total,
        "every entry has its created event"
    );
    assert!(
        tally.refused.load(Ordering::Relaxed) > 0 && tally.moved.load(Ordering::Relaxed) > 0,
        "the workload should contend: nothing was refused or moved"
    );
}

fn ops_per_client() -> usize {
    if std::env::var("ALLOT_LONG_TESTS").as_deref() == Ok("1") {
        200
    } else {
        30
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_two_replicas_never_exceed_capacity() {
    let dir = Scratch::new("booking-replicas");
    let Some(url) = allot::testing::fresh_postgres().await else {
        return;
    };
    // One after the other, so the migrations run once.
    let mut a = Launch::new("replica-a", &dir.path, &url).start().await;
    let mut b = Launch::new("replica-b", &dir.path, &url).start().await;
    hammer(
        vec![a.api().clone(), b.api().clone()],
        &url,
        ops_per_client(),
    )
    .await;
    a.terminate(Duration::from_secs(30)).await;
    b.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_sqlite_never_exceed_capacity() {
    let dir = Scratch::new("booking-sqlite");
    let url = dir.sqlite_url();
    let mut a = Launch::new("sqlite", &dir.path, &url).start().await;
    hammer(vec![a.api().clone()], &url, ops_per_client()).await;
    a.terminate(Duration::from_secs(30)).await;
}

/// Rule 5 on the wall clock, through a real server: an entry that slides
/// into an unplanned outage's window is evicted within the tolerance (1 s).
async fn sweeper_keeps_within_tolerance(url: &str, dir: &Scratch) {
    let mut server = Launch::new("sweeper", &dir.path, url)
        .args(&["--booking-sweep-tolerance", "1s"])
        .start()
        .await;
    let api = server.api().clone();
    let (status, sys) = api
        .post("/v1/systems", &json!({"name": "swept", "capacity": 1}))
        .await;
    assert_eq!(status, 201, "{sys}");
    let system = sys["id"].as_str().unwrap_or_default().to_string();
    let start = (Timestamp::now() + SignedDuration::from_secs(6))
        .round(jiff::Unit::Millisecond)
        .expect("round");
    let (status, entry) = api
        .post(
            &format!("/v1/systems/{system}/entries"),
            &json!({"start": start, "end": start + SignedDuration::from_secs(60)}),
        )
        .await;
    assert_eq!(status, 201, "{entry}");
    let id = entry["id"].as_str().unwrap_or_default().to_string();
    let (status, outage) = api
        .post(
            &format!("/v1/systems/{system}/outages"),
            &json!({"kind": "unplanned", "window": "3s"}),
        )
        .await;
    assert_eq!(status, 201, "{outage}");
    assert_eq!(
        outage["evicted"],
        json!([]),
        "the entry starts beyond the window"
    );
    // It enters the window at start - 3 s.
    let entered = start - SignedDuration::from_secs(3);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let evicted = loop {
        let (_, e) = api.get(&format!("/v1/entries/{id}")).await;
        if e["status"] == "evicted" {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not evicted within 20 s: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let at: Timestamp = evicted["eviction"]["at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("eviction time");
    let late = at.duration_since(entered);
    println!("evicted {late:?} after entering the window");
    assert!(
        late >= SignedDuration::ZERO && late <= SignedDuration::from_secs(1),
        "evicted {late:?} after entering the window (tolerance 1 s)"
    );
    assert_eq!(evicted["eviction"]["outage_id"], outage["id"]);
    server.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeper_evicts_within_the_tolerance_sqlite() {
    let dir = Scratch::new("sweeper-sqlite");
    sweeper_keeps_within_tolerance(&dir.sqlite_url(), &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeper_evicts_within_the_tolerance_postgres() {
    let dir = Scratch::new("sweeper-postgres");
    let Some(url) = allot::testing::fresh_postgres().await else {
        return;
    };
    sweeper_keeps_within_tolerance(&url, &dir).await;
}
