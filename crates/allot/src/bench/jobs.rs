//! `allot bench jobs`: the scheduler's speed on each backend, with no-op
//! tasks (`sleep 0s`).
//!
//! - throughput: N tasks all due at once; executions per second until every
//!   one has run and its end is recorded (a sustained drain of the backlog).
//! - baseline (same run): a typical one-task-per-transaction claim loop
//!   draining due tasks, without running them.
//! - lateness: R tasks every second, their phases spread over the second
//!   (R executions/s), for D seconds; lateness = start - scheduled time.
//! - startup: 100,000 registered tasks; time for a fresh `allot serve`
//!   process to answer /readyz, and its peak RSS after it has run a while.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::{fresh_db, machine, peak_rss_mib_of, quantile};
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::jobs::engine::EngineConfig;
use crate::jobs::schedule_spec::ScheduleSpec;
use crate::jobs::store::{JobStore, TaskRow};
use crate::jobs::{Jobs, JobsConfig};
use crate::node::Node;
use crate::store::{Db, DbId, DbTime};
use crate::with_pool;

#[derive(Debug, Clone, Args)]
pub struct JobsBenchArgs {
    /// Backends to measure: sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// PostgreSQL server URL (a fresh database is made on it); default: the test server.
    #[arg(long, env = "ALLOT_BENCH_DATABASE_URL")]
    pub postgres_url: Option<String>,
    /// Tasks in the throughput drain (default: 100000 on SQLite, 50000 on PostgreSQL).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Executions per second offered in the lateness run.
    #[arg(long, default_value_t = 1000)]
    pub rate: usize,
    /// How long the lateness run lasts, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Registered tasks for the startup measurement.
    #[arg(long, default_value_t = 100_000)]
    pub startup_tasks: usize,
    /// Smaller sizes, for CI smoke runs.
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON document per scenario instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn noop_task(now: Timestamp, first_run: Timestamp, every: &str) -> TaskRow {
    TaskRow {
        id: DbId(Uuid::now_v7()),
        name: "bench".to_string(),
        kind: "sleep".to_string(),
        params: Json(json!({"duration": "0s"})),
        schedule: Json(ScheduleSpec {
            every: Some(every.to_string()),
            start_at: Some(first_run.to_string()),
            ..Default::default()
        }),
        timeout_ms: 60_000,
        overlap: "skip".to_string(),
        misfire: "run_once".to_string(),
        state: "active".to_string(),
        next_run_at: Some(DbTime(first_run)),
        queued_for: None,
        backlog_until: None,
        claim_at: Some(DbTime(first_run)),
        running_execution_id: None,
        created_at: DbTime(now),
        updated_at: DbTime(now),
        deleted_at: None,
    }
}

async fn start_jobs(db: &Db, clock: SharedClock) -> Result<(Jobs, Node), String> {
    let node = Node::register(db.clone(), clock.clone(), Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    let jobs = Jobs::start(
        db.clone(),
        clock,
        node.id,
        JobsConfig {
            workers: 1024,
            engine: EngineConfig {
                batch: 1000,
                misfire_grace: Duration::from_secs(3600),
                ..Default::default()
            },
            ..Default::default()
        },
        true,
    );
    Ok((jobs, node))
}

async fn throughput(backend: &str, args: &JobsBenchArgs) -> Result<Value, String> {
    let n = args.tasks.unwrap_or(match (backend, args.quick) {
        (_, true) => 5_000,
        ("sqlite", false) => 100_000,
        _ => 50_000,
    });
    let (db, _) = fresh_db(backend, args.postgres_url.as_deref()).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now();
    let store = JobStore::new(db.clone());
    let rows: Vec<TaskRow> = (0..n).map(|_| noop_task(now, now, "24h")).collect();
    for chunk in rows.chunks(5_000) {
        store.insert_tasks(chunk).await.map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let (jobs, _node) = start_jobs(&db, clock).await?;
    let deadline = started + Duration::from_secs(600);
    let mut done = 0;
    while Instant::now() < deadline {
        done = jobs.engine.runner().ended() as i64;
        if done >= n as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    jobs.shutdown(Duration::from_secs(5)).await;
    db.close().await;
    Ok(json!({
        "scenario": "throughput", "backend": backend, "tasks": n, "completed": done,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "executions_per_second": (done as f64 / elapsed).round(),
    }))
}

/// The baseline, in the same run: how a typical database-backed scheduler
/// claims work, one due task per transaction (select the earliest due task
/// with a row lock, insert its execution, move its next run, commit) from
/// 16 concurrent workers, without running anything. allot's engine does
/// the same work in batches, and also runs the tasks and records their ends.
async fn baseline(backend: &str, args: &JobsBenchArgs) -> Result<Value, String> {
    let n = if args.quick { 2_000 } else { 20_000 };
    let (db, _) = fresh_db(backend, args.postgres_url.as_deref()).await?;
    let now = SystemClock.now();
    let store = JobStore::new(db.clone());
    let rows: Vec<TaskRow> = (0..n).map(|_| noop_task(now, now, "24h")).collect();
    for chunk in rows.chunks(5_000) {
        store.insert_tasks(chunk).await.map_err(|e| e.to_string())?;
    }
    let later = DbTime(
        now.checked_add(SignedDuration::from_hours(24))
            .unwrap_or(now),
    );
    let select = format!(
        "SELECT id, next_run_at FROM tasks WHERE claim_at IS NOT NULL AND claim_at <= $1 \
         ORDER BY claim_at LIMIT 1{}",
        match db.backend() {
            crate::store::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::store::Backend::Sqlite => "",
        }
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (db, select) = (db.clone(), select.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                loop {
                    let claimed: Result<bool, sqlx::Error> = async { crate::in_tx!(&db, tx => {
                        let due: Option<(DbId, DbTime)> =
                            sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                                .bind(DbTime(now))
                                .fetch_optional(&mut *tx)
                                .await?;
                        match due {
                            None => Ok(false),
                            Some((id, at)) => {
                                sqlx::query(
                                    "INSERT INTO executions (id, task_id, scheduled_for, trigger, status, \
                                     started_at, finished_at) VALUES ($1, $2, $3, 'schedule', 'succeeded', $4, $4)",
                                )
                                .bind(DbId(Uuid::now_v7()))
                                .bind(id)
                                .bind(at)
                                .bind(DbTime(now))
                                .execute(&mut *tx)
                                .await?;
                                sqlx::query("UPDATE tasks SET next_run_at = $2, claim_at = $2 WHERE id = $1")
                                    .bind(id)
                                    .bind(later)
                                    .execute(&mut *tx)
                                    .await?;
                                Ok(true)
                            }
                        }
                    }) }
                    .await;
                    match claimed {
                        Ok(true) => done += 1,
                        Ok(false) => break,
                        Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for w in workers {
        done += w.await.unwrap_or(0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    db.close().await;
    Ok(json!({
        "scenario": "baseline_per_row_claim", "backend": backend, "tasks": n, "completed": done,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "executions_per_second": (done as f64 / elapsed).round(),
    }))
}

async fn lateness(backend: &str, args: &JobsBenchArgs) -> Result<Value, String> {
    let rate = if args.quick {
        args.rate.min(200)
    } else {
        args.rate
    };
    let seconds = if args.quick {
        args.seconds.min(3)
    } else {
        args.seconds
    };
    let (db, _) = fresh_db(backend, args.postgres_url.as_deref()).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now();
    // Phases spread evenly over the second, starting 2 s from now.
    let base = now
        .checked_add(SignedDuration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let rows: Vec<TaskRow> = (0..rate)
        .map(|i| {
            let offset = SignedDuration::from_micros((i as i64 * 1_000_000) / rate as i64);
            noop_task(now, base.checked_add(offset).unwrap_or(base), "1s")
        })
        .collect();
    JobStore::new(db.clone())
        .insert_tasks(&rows)
        .await
        .map_err(|e| e.to_string())?;
    let (jobs, _node) = start_jobs(&db, clock.clone()).await?;
    tokio::time::sleep(Duration::from_secs(2 + seconds)).await;
    jobs.shutdown(Duration::from_secs(5)).await;
    let window_end = base
        .checked_add(SignedDuration::from_secs(seconds as i64))
        .map_err(|e| e.to_string())?;
    let pairs: Vec<(DbTime, Option<DbTime>)> = with_pool!(&db, pool => {
        sqlx::query_as("SELECT scheduled_for, started_at FROM executions WHERE scheduled_for < $1")
            .bind(DbTime(window_end))
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?
    });
    db.close().await;
    let mut late: Vec<f64> = pairs
        .iter()
        .filter_map(|(s, st)| {
            st.map(|st| (st.0.as_microsecond() - s.0.as_microsecond()) as f64 / 1000.0)
        })
        .collect();
    let skipped = pairs.iter().filter(|(_, st)| st.is_none()).count();
    late.sort_by(|a, b| a.total_cmp(b));
    Ok(json!({
        "scenario": "lateness", "backend": backend, "offered_per_second": rate, "seconds": seconds,
        "executions": late.len(), "expected": rate as u64 * seconds, "skipped": skipped,
        "lateness_ms": {"p50": round2(quantile(&late, 0.5)), "p99": round2(quantile(&late, 0.99)), "max": round2(late.last().copied().unwrap_or(0.0))},
    }))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

async fn startup(backend: &str, args: &JobsBenchArgs) -> Result<Value, String> {
    let n = if args.quick {
        args.startup_tasks.min(10_000)
    } else {
        args.startup_tasks
    };
    let (db, url) = fresh_db(backend, args.postgres_url.as_deref()).await?;
    let now = SystemClock.now();
    // Registered, with runs spread over the coming day (none due during the measurement).
    let rows: Vec<TaskRow> = (0..n)
        .map(|i| {
            let first = now
                .checked_add(SignedDuration::from_secs(600 + (i as i64 % 86_000)))
                .unwrap_or(now);
            noop_task(now, first, "24h")
        })
        .collect();
    for chunk in rows.chunks(5_000) {
        JobStore::new(db.clone())
            .insert_tasks(chunk)
            .await
            .map_err(|e| e.to_string())?;
    }
    db.close().await;
    drop(db);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
        ])
        .env("ALLOT_BOOTSTRAP_TOKEN", "bench")
        .env("ALLOT_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let client = crate::tls::http_client(reqwest::redirect::Policy::none());
    let ready_url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = client.get(&ready_url).send().await
            && r.status().is_success()
        {
            ready = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let it claim, list and serve for a moment before reading its peak memory.
    let _ = client
        .get(format!(
            "http://127.0.0.1:{port}/v1/executions/upcoming?limit=1000"
        ))
        .bearer_auth("bench")
        .send()
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = child.id().and_then(peak_rss_mib_of);
    let _ = child.kill().await;
    Ok(json!({
        "scenario": "startup", "backend": backend, "registered_tasks": n,
        "ready_seconds": ready.map(|s| (s * 1000.0).round() / 1000.0),
        "peak_rss_mib": rss.map(|r| r.round()),
    }))
}

pub async fn run(args: JobsBenchArgs) -> Result<(), String> {
    let backends = super::backends(&args.backend)?;
    let machine = machine();
    if !args.json {
        println!("allot bench jobs on {}", machine);
    }
    for backend in backends {
        for result in [
            throughput(backend, &args).await?,
            baseline(backend, &args).await?,
            lateness(backend, &args).await?,
            startup(backend, &args).await?,
        ] {
            if args.json {
                let mut doc = result;
                doc["machine"] = machine.clone();
                println!("{doc}");
            } else {
                println!("{result}");
            }
        }
    }
    Ok(())
}
