//! `allot bench ...`: benchmark programs. Each prints its figures as a
//! human table and, with `--json`, as one JSON document per scenario, and
//! states the machine it ran on.

pub mod booking;
pub mod calendar;
pub mod jobs;
pub mod load;
pub mod provisioning;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::store::{Db, DbOptions};
use crate::with_pool;

/// A new, migrated database for a benchmark: a SQLite file in a temporary
/// folder, or a new database on `postgres_url` (default: the test server).
pub async fn fresh_db(backend: &str, postgres_url: Option<&str>) -> Result<(Db, String), String> {
    let url = match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("allot-bench-{}", Uuid::now_v7().simple()));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            format!("sqlite://{}/bench.db", dir.display())
        }
        _ => match postgres_url {
            Some(server) => {
                let name = format!("allot_bench_{}", Uuid::now_v7().simple());
                let admin = Db::connect(
                    server,
                    &DbOptions {
                        max_connections: 1,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                with_pool!(&admin, pool => {
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(pool)
                        .await
                        .map_err(|e| e.to_string())?;
                });
                admin.close().await;
                crate::testing::with_database(server, &name)
            }
            None => crate::testing::fresh_postgres()
                .await
                .ok_or("no PostgreSQL found: pass --postgres-url")?,
        },
    };
    let db = Db::connect(&url, &DbOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    Ok((db, url))
}

/// Closes `db` and deletes the database [`fresh_db`] made for it (a
/// booking run leaves 300 MB behind otherwise). Best effort: a database
/// that cannot be dropped is named on stderr and the run goes on.
pub async fn discard(db: Db, url: &str) {
    db.close().await;
    if let Some(file) = url.strip_prefix("sqlite://") {
        let dir = std::path::Path::new(file).parent();
        if let Some(dir) = dir.filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("allot-bench-"))
        }) && let Err(e) = std::fs::remove_dir_all(dir)
        {
            eprintln!("cannot remove {}: {e}", dir.display());
        }
        return;
    }
    let Some(name) = reqwest::Url::parse(url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_string())
        .filter(|n| n.starts_with("allot_"))
    else {
        return;
    };
    let admin = crate::testing::with_database(url, "postgres");
    let dropped = match Db::connect(
        &admin,
        &DbOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    {
        Ok(admin) => {
            let r = with_pool!(&admin, pool => sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(pool)
            .await
            .map(|_| ()));
            admin.close().await;
            r.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = dropped {
        eprintln!("cannot drop the benchmark database {name}: {e}");
    }
}

/// Brings a freshly seeded database to the state a server's database is in
/// after months of service, before anything is timed: statistics gathered,
/// and (on SQLite) the load's write-ahead log folded into the file, so the
/// timed run does not pay for copying it; (on PostgreSQL) `tables` vacuumed
/// (tuples frozen and marked visible, so reads no longer dirty the pages
/// they visit to set hint bits, and index-only scans skip the table) and
/// the load checkpointed. An autovacuum would do the vacuum a while after
/// the load, possibly in the middle of the timed run (or never, where it is
/// off). CHECKPOINT needs a privileged role: without one the run goes on,
/// less settled.
pub async fn settle(db: &Db, tables: &str) -> Result<(), String> {
    with_pool!(db, p => sqlx::query("ANALYZE").execute(p).await.map(|_| ()))
        .map_err(|e| e.to_string())?;
    match db {
        Db::Sqlite(pool, _) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        Db::Postgres(pool, _) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM (FREEZE) {tables}")))
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?;
            let _ = sqlx::raw_sql("CHECKPOINT").execute(pool).await;
        }
    }
    Ok(())
}

/// The backends a `--backend` value names.
pub fn backends(arg: &str) -> Result<Vec<&'static str>, String> {
    match arg {
        "both" => Ok(vec!["sqlite", "postgres"]),
        "sqlite" => Ok(vec!["sqlite"]),
        "postgres" => Ok(vec!["postgres"]),
        other => Err(format!(
            "--backend must be sqlite, postgres or both, got {other:?}"
        )),
    }
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    rss_field(
        std::fs::read_to_string("/proc/self/status").ok()?.as_str(),
        "VmHWM:",
    )
}

/// Peak RSS of another process, in MiB.
pub fn peak_rss_mib_of(pid: u32) -> Option<f64> {
    rss_field(
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()?
            .as_str(),
        "VmHWM:",
    )
}

fn rss_field(status: &str, field: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What the figures were measured on.
pub fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| rss_field(&m, "MemTotal:"))
        .map(|mib| (mib / 1024.0 * 10.0).round() / 10.0);
    json!({"cpus": cpus, "cpu": model, "memory_gib": mem_gib, "os": std::env::consts::OS})
}

/// The `q`-quantile (0..=1) of sorted `values`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs `n` jobs over `clients` tasks; each job returns whether it was
/// accepted and takes the job index. Returns (accepted, latencies in ms, seconds).
pub async fn drive<F, Fut>(n: usize, clients: usize, job: F) -> (usize, Vec<f64>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let job = job.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t = Instant::now();
                    if job(i).await {
                        ok += 1;
                    }
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                (ok, lat)
            })
        })
        .collect();
    let mut accepted = 0;
    let mut latencies = Vec::with_capacity(n);
    for w in workers {
        if let Ok((ok, lat)) = w.await {
            accepted += ok;
            latencies.extend(lat);
        }
    }
    (accepted, latencies, started.elapsed().as_secs_f64())
}

/// Offers `n` jobs at a fixed `rate` per second, whatever the server's
/// pace: an open loop, as from many independent users, where a slow answer
/// does not hold back the next request. Each latency counts from the
/// instant its request was due, so a server that falls behind shows it in
/// the figures instead of slowing the load down (coordinated omission).
/// Returns (accepted, latencies in ms, seconds until the last answer).
pub async fn drive_at_rate<F, Fut>(n: usize, rate: f64, job: F) -> (usize, Vec<f64>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let job = Arc::new(job);
    let interval = std::time::Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let job = job.clone();
        tasks.push(tokio::spawn(async move {
            let ok = job(i).await;
            (ok, due.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut accepted = 0;
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        if let Ok((ok, ms)) = t.await {
            accepted += usize::from(ok);
            latencies.push(ms);
        }
    }
    (accepted, latencies, started.elapsed().as_secs_f64())
}
