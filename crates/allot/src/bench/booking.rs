//! `allot bench booking`: how fast entries are accepted.
//!
//! - seed: 1,000 systems (capacity 4) holding 1,000,000 entries between
//!   them (one hour every six, over eight months), written in bulk;
//! - http: accepted inserts per second through the HTTP API of an
//!   in-process `allot serve`, from concurrent clients, with p50/p99
//!   latency; every insert lands in a free gap, so every one is accepted
//!   after the full check (system lock, outages, capacity, event);
//! - baseline (same run, same data): the naive SQL a typical implementation
//!   uses: count the entries overlapping the span, insert if below capacity,
//!   without a lock (so it is also wrong under concurrency; see
//!   docs/booking.md) and without HTTP;
//! - kernel: capacity checks per second on in-memory timelines holding the
//!   same 1,000,000 spans (one per system, and all in one), and inserts +
//!   removes per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use allot_kernel::booking::{FitRules, Span, Timeline, check};
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{drive, fresh_db, load, machine, quantile};
use crate::clock::{SharedClock, SystemClock};
use crate::config::ServeArgs;
use crate::server::Server;
use crate::store::{Db, DbId, DbTime};

#[derive(Debug, Clone, Args)]
pub struct BookingBenchArgs {
    /// Backends to measure: sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// PostgreSQL server URL (a fresh database is made on it); default: the test server.
    #[arg(long, env = "ALLOT_BENCH_DATABASE_URL")]
    pub postgres_url: Option<String>,
    /// Systems to seed.
    #[arg(long, default_value_t = 1_000)]
    pub systems: usize,
    /// Entries to seed, spread evenly over the systems.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: usize,
    /// Inserts to time through the API (and through the baseline).
    #[arg(long, default_value_t = 20_000)]
    pub inserts: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Smaller sizes, for CI smoke runs.
    #[arg(long)]
    pub quick: bool,
    /// Skip the naive SQL baseline (e.g. to profile the API path alone).
    #[arg(long)]
    pub no_baseline: bool,
    /// Print one JSON document per scenario instead of a table.
    #[arg(long)]
    pub json: bool,
}

const TOKEN: &str = "bench-booking-token";
const CAPACITY: i32 = 4;
const HOUR_US: i64 = 3_600_000_000;
/// Seeded entries sit one hour in every six; inserts go into the gaps.
const STRIDE_US: i64 = 6 * HOUR_US;

struct Sizes {
    systems: usize,
    entries: usize,
    inserts: usize,
}

fn sizes(args: &BookingBenchArgs) -> Sizes {
    if args.quick {
        Sizes {
            systems: args.systems.min(100),
            entries: args.entries.min(20_000),
            inserts: args.inserts.min(2_000),
        }
    } else {
        Sizes {
            systems: args.systems.max(1),
            entries: args.entries,
            inserts: args.inserts,
        }
    }
}

fn at(base: Timestamp, us: i64) -> Timestamp {
    base.checked_add(SignedDuration::from_micros(us))
        .unwrap_or(base)
}

/// Writes the systems and entries in bulk (JSON batches on SQLite, arrays
/// on PostgreSQL); returns the system ids.
async fn seed(db: &Db, s: &Sizes, base: Timestamp, now: Timestamp) -> Result<Vec<Uuid>, String> {
    let systems: Vec<Uuid> = (0..s.systems).map(|_| Uuid::now_v7()).collect();
    let per_system = s.entries.div_ceil(s.systems);
    let caps = crate::store::DbStrings(vec!["a".into(), "b".into()]);
    for (i, id) in systems.iter().enumerate() {
        crate::with_pool!(db, p => sqlx::query(
            "INSERT INTO booking_systems (id, name, capabilities, capacity, max_entry_us, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
        )
        .bind(DbId(*id))
        .bind(format!("bench-{i}"))
        .bind(&caps)
        .bind(CAPACITY)
        .bind(HOUR_US)
        .bind(DbTime(now))
        .execute(p)
        .await
        .map(|_| ()))
        .map_err(|e| e.to_string())?;
    }
    let mut rows: Vec<(Uuid, Uuid, Timestamp, Timestamp)> = Vec::with_capacity(10_000);
    let flush = async |rows: &mut Vec<(Uuid, Uuid, Timestamp, Timestamp)>| -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        match db {
            Db::Sqlite(pool, _) => {
                let doc: Vec<Value> = rows
                    .iter()
                    .map(|(id, sys, a, b)| {
                        json!([
                            id.to_string(),
                            sys.to_string(),
                            DbTime(*a).to_sqlite_text(),
                            DbTime(*b).to_sqlite_text()
                        ])
                    })
                    .collect();
                sqlx::query(
                    "INSERT INTO booking_entries (id, system_id, start_at, end_at, capabilities, status, created_at, updated_at) \
                     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, '[]', 'active', $2, $2 FROM json_each($1)",
                )
                .bind(Value::Array(doc).to_string())
                .bind(DbTime(now))
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?;
            }
            Db::Postgres(pool, _) => {
                let ids: Vec<DbId> = rows.iter().map(|r| DbId(r.0)).collect();
                let sys: Vec<DbId> = rows.iter().map(|r| DbId(r.1)).collect();
                let starts: Vec<DbTime> = rows.iter().map(|r| DbTime(r.2)).collect();
                let ends: Vec<DbTime> = rows.iter().map(|r| DbTime(r.3)).collect();
                sqlx::query(
                    "INSERT INTO booking_entries (id, system_id, start_at, end_at, capabilities, status, created_at, updated_at) \
                     SELECT i, s, a, b, '{}', 'active', $5, $5 FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS t(i, s, a, b)",
                )
                .bind(ids)
                .bind(sys)
                .bind(starts)
                .bind(ends)
                .bind(DbTime(now))
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?;
            }
        }
        rows.clear();
        Ok(())
    };
    let mut written = 0;
    'outer: for k in 0..per_system {
        for sys in &systems {
            if written == s.entries {
                break 'outer;
            }
            let start = at(base, k as i64 * STRIDE_US);
            rows.push((Uuid::now_v7(), *sys, start, at(start, HOUR_US)));
            written += 1;
            if rows.len() == 10_000 {
                flush(&mut rows).await?;
            }
        }
    }
    flush(&mut rows).await?;
    super::settle(db, "booking_entries").await?;
    Ok(systems)
}

/// The gap `i` of the run: a different (system, gap) for every insert, so
/// all are accepted and none waits on another's lock more than chance has it.
fn gap(i: usize, systems: &[Uuid], base: Timestamp) -> (Uuid, Timestamp, Timestamp) {
    let sys = systems[i % systems.len()];
    let k = (i / systems.len()) as i64;
    let start = at(base, k * STRIDE_US + 2 * HOUR_US);
    (sys, start, at(start, HOUR_US))
}

fn summary(latencies: &mut [f64], accepted: usize, elapsed: f64) -> Value {
    latencies.sort_by(f64::total_cmp);
    json!({
        "accepted": accepted,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "inserts_per_second": (accepted as f64 / elapsed).round(),
        "p50_ms": (quantile(latencies, 0.5) * 1000.0).round() / 1000.0,
        "p99_ms": (quantile(latencies, 0.99) * 1000.0).round() / 1000.0,
    })
}

async fn http_and_baseline(backend: &str, args: &BookingBenchArgs) -> Result<Vec<Value>, String> {
    let s = sizes(args);
    let (db, url) = fresh_db(backend, args.postgres_url.as_deref()).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now();
    let base = at(now, 24 * HOUR_US);
    let seeded_at = Instant::now();
    let systems = Arc::new(seed(&db, &s, base, now).await?);
    let seed_seconds = seeded_at.elapsed().as_secs_f64();

    let serve = ServeArgs {
        database_url: Some(url.clone()),
        bootstrap_token: Some(TOKEN.into()),
        rate_limit: Some(0),
        ..Default::default()
    };
    let config = serve.resolve()?;
    let server = Server::build_on(db.clone(), &config, clock.clone(), true).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let router = server.router.clone();
    let http = tokio::spawn(async move { axum::serve(listener, router).await });

    let sys = systems.clone();
    let conns = load::Pool::new(addr);
    let (accepted, mut lat, secs) = drive(s.inserts, args.clients, move |i| {
        let (system, start, end) = gap(i, &sys, base);
        let body = json!({"start": start, "end": end, "capabilities": ["a"]}).to_string();
        let request = load::post_json(addr, &format!("/v1/systems/{system}/entries"), TOKEN, &body);
        let conns = conns.clone();
        async move { matches!(conns.send(&request).await, Ok(201)) }
    })
    .await;
    let mut http_doc = summary(&mut lat, accepted, secs);
    http_doc["scenario"] = json!("http_inserts");
    http_doc["backend"] = json!(backend);
    http_doc["existing_entries"] = json!(s.entries);
    http_doc["systems"] = json!(s.systems);
    http_doc["clients"] = json!(args.clients);
    http_doc["seed_seconds"] = json!((seed_seconds * 10.0).round() / 10.0);
    http.abort();
    server.jobs.shutdown(Duration::from_secs(1)).await;

    if args.no_baseline {
        super::discard(db, &url).await;
        return Ok(vec![http_doc]);
    }
    // The baseline fills the next gaps over, on the same database.
    let sys = systems.clone();
    let pool_db = db.clone();
    let offset = s.inserts;
    let (accepted, mut lat, secs) = drive(s.inserts, args.clients, move |i| {
        let (system, start, end) = gap(i + offset, &sys, base);
        let db = pool_db.clone();
        async move {
            naive_insert(&db, system, start, end, now)
                .await
                .unwrap_or(false)
        }
    })
    .await;
    let mut base_doc = summary(&mut lat, accepted, secs);
    base_doc["scenario"] = json!("baseline_naive_sql");
    base_doc["backend"] = json!(backend);
    base_doc["existing_entries"] = json!(s.entries);
    base_doc["clients"] = json!(args.clients);
    super::discard(db, &url).await;
    Ok(vec![http_doc, base_doc])
}

/// What a typical implementation does: count overlapping entries, insert
/// when below capacity. No lock between the two statements (racy), and no
/// bound on how far back the overlap scan reads.
async fn naive_insert(
    db: &Db,
    system: Uuid,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM booking_entries WHERE system_id = $1 AND status = 'active' \
         AND start_at < $3 AND end_at > $2",
    )
    .bind(DbId(system))
    .bind(DbTime(start))
    .bind(DbTime(end))
    .fetch_one(p)
    .await)?;
    if n >= i64::from(CAPACITY) {
        return Ok(false);
    }
    crate::with_pool!(db, p => sqlx::query(
        "INSERT INTO booking_entries (id, system_id, start_at, end_at, capabilities, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(DbId(Uuid::now_v7()))
    .bind(DbId(system))
    .bind(DbTime(start))
    .bind(DbTime(end))
    .bind(crate::store::DbStrings(vec!["a".into()]))
    .bind(DbTime(now))
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(true)
}

/// The kernel alone, on `systems` timelines sharing `n` spans (one hour each,
/// at random over a horizon that puts about 4 on any instant), then random
/// capacity checks on random systems, and insert + remove pairs. With one
/// system it is the worst case: all spans in one tree.
fn kernel(n: usize, systems: usize, checks: usize) -> Value {
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let systems = systems.max(1);
    let per_system = n.div_ceil(systems);
    let horizon = (per_system as i64 * HOUR_US / 4).max(HOUR_US);
    let mut random_span = move || -> Option<Span> {
        let s = (next() % horizon as u64) as i64;
        Span::new(s, s + HOUR_US)
    };
    let mut spans: Vec<Vec<Span>> = vec![Vec::with_capacity(per_system); systems];
    for i in 0..n {
        if let Some(span) = random_span() {
            spans[i % systems].push(span);
        }
    }
    let built = Instant::now();
    let mut timelines: Vec<Timeline> = spans.into_iter().map(Timeline::from_spans).collect();
    let build_seconds = built.elapsed().as_secs_f64();
    let rules = FitRules {
        capacity: 8,
        blocked: &[],
        allowed: None,
        align: None,
    };
    let probes: Vec<(usize, Span)> = (0..checks)
        .filter_map(|i| Some(((i * 7919) % systems, random_span()?)))
        .collect();
    let started = Instant::now();
    let mut admitted = 0u64;
    for (sys, p) in &probes {
        if check(&timelines[*sys], &rules, *p).is_ok() {
            admitted += 1;
        }
    }
    let check_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for (sys, p) in probes.iter().take(checks / 2) {
        timelines[*sys].insert(*p);
        timelines[*sys].remove(*p);
    }
    let update_secs = started.elapsed().as_secs_f64();
    json!({
        "scenario": "kernel", "spans": n, "systems": systems, "checks": checks, "admitted": admitted,
        "build_seconds": (build_seconds * 1000.0).round() / 1000.0,
        "checks_per_second": (checks as f64 / check_secs).round(),
        "insert_remove_pairs_per_second": ((checks / 2) as f64 / update_secs).round(),
    })
}

pub async fn run(args: BookingBenchArgs) -> Result<(), String> {
    let backends = super::backends(&args.backend)?;
    let machine = machine();
    if !args.json {
        println!("allot bench booking on {machine}");
    }
    let s = sizes(&args);
    let checks = if args.quick { 200_000 } else { 2_000_000 };
    // As the service holds them (one timeline per system), and the worst
    // case of every span in one timeline.
    let mut docs = vec![
        kernel(s.entries, s.systems, checks),
        kernel(s.entries, 1, checks),
    ];
    for backend in backends {
        docs.extend(http_and_baseline(backend, &args).await?);
    }
    for mut doc in docs {
        if args.json {
            doc["machine"] = machine.clone();
        }
        println!("{doc}");
    }
    Ok(())
}
