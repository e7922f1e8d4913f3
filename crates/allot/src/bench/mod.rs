//! `allot bench ...`: benchmark programs. Each prints its figures as a
//! human table and, with `--json`, as one JSON document per scenario, and
//! states the machine it ran on.

pub mod booking;
pub mod jobs;
pub mod load;

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
