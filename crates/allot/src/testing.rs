//! Test and benchmark support: a PostgreSQL to run against.
//!
//! [`postgres_server`] finds one, in this order: `ALLOT_TEST_DATABASE_URL`,
//! `DATABASE_URL`, a server already listening on 127.0.0.1:5432, or a
//! private temporary cluster started from the installed server binaries
//! (`initdb` in a temp dir; it stops when this process exits). With none of
//! these it prints one loud `SKIPPED: no PostgreSQL` line and returns
//! `None`, unless `ALLOT_REQUIRE_POSTGRES=1`, which makes that a failure.
//!
//! [`fresh_postgres`] creates an empty database on that server per call, so
//! tests never see each other's rows. A test's database outlives its test
//! (a failed test's rows are there to read); the first call in a process
//! drops the test databases of runs that began more than
//! [`STALE_TEST_DATABASE`] ago, which would otherwise pile up run after run
//! on a long-lived server (hundreds per run, 8 MB and a few hundred files
//! each, every one of them synced by each checkpoint).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::OnceCell;

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();
static SWEPT: OnceCell<()> = OnceCell::const_new();

/// Test databases older than this (by the time in their UUIDv7 name) are
/// dropped: longer than any test run lasts.
pub const STALE_TEST_DATABASE: Duration = Duration::from_secs(3 * 3600);

/// The prefix of every test database's name, a UUIDv7 after it.
const TEST_DATABASE_PREFIX: &str = "allot_t_";

/// The base URL of a PostgreSQL server for tests, or `None` (after printing
/// the skip line) when there is none and it is not required.
pub async fn postgres_server() -> Option<String> {
    SERVER
        .get_or_init(|| async {
            let found = find_server().await;
            if found.is_none() {
                if std::env::var("ALLOT_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!(
                        "ALLOT_REQUIRE_POSTGRES=1 but no PostgreSQL was found: set \
                         ALLOT_TEST_DATABASE_URL or install the PostgreSQL server binaries"
                    );
                }
                eprintln!("SKIPPED: no PostgreSQL (set ALLOT_TEST_DATABASE_URL to run the PostgreSQL tests)");
            }
            found
        })
        .await
        .clone()
}

/// A URL to a new, empty database on the test server.
pub async fn fresh_postgres() -> Option<String> {
    let base = postgres_server().await?;
    let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::now_v7().simple());
    let mut admin = match PgConnectOptions::from_str(&base) {
        Ok(o) => o.connect().await,
        Err(e) => panic!("bad test database URL {base}: {e}"),
    }
    .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {base}: {e}"));
    SWEPT
        .get_or_init(|| drop_stale_test_databases(&mut admin))
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    Some(with_database(&base, &name))
}

/// Drops the test databases created more than [`STALE_TEST_DATABASE`]
/// ago. Best effort: a database another process drops first, or one still
/// in use, is left to the next sweep.
async fn drop_stale_test_databases(admin: &mut sqlx::PgConnection) {
    let names: Vec<(String,)> =
        match sqlx::query_as("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(TEST_DATABASE_PREFIX)
            .fetch_all(&mut *admin)
            .await
        {
            Ok(names) => names,
            Err(_) => return,
        };
    let now = std::time::SystemTime::now();
    for (name,) in names {
        if !test_database_is_stale(&name, now) {
            continue;
        }
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\""
        )))
        .execute(&mut *admin)
        .await;
    }
}

/// Whether `name` is a test database created more than
/// [`STALE_TEST_DATABASE`] before `now` (judged by the UUIDv7 in its name).
fn test_database_is_stale(name: &str, now: std::time::SystemTime) -> bool {
    let Some(created) = name
        .strip_prefix(TEST_DATABASE_PREFIX)
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .and_then(|id| id.get_timestamp())
    else {
        return false;
    };
    let (secs, nanos) = created.to_unix();
    let created = std::time::UNIX_EPOCH + Duration::new(secs, nanos);
    now.duration_since(created)
        .is_ok_and(|age| age > STALE_TEST_DATABASE)
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_path(&format!("/{database}"));
            u.to_string()
        }
        Err(_) => format!("{}/{database}", url.trim_end_matches('/')),
    }
}

async fn can_connect(url: &str) -> bool {
    let Ok(options) = PgConnectOptions::from_str(url) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), options.connect()).await,
        Ok(Ok(_))
    )
}

async fn find_server() -> Option<String> {
    for var in ["ALLOT_TEST_DATABASE_URL", "DATABASE_URL"] {
        if let Ok(url) = std::env::var(var)
            && url.starts_with("postgres")
        {
            if can_connect(&url).await {
                return Some(url);
            }
            panic!("{var}={url} is set but that PostgreSQL cannot be reached");
        }
    }
    for url in [
        "postgres://postgres@127.0.0.1:5432/postgres",
        "postgres://127.0.0.1:5432/postgres",
    ] {
        if can_connect(url).await {
            return Some(url.to_string());
        }
    }
    let url = tokio::task::spawn_blocking(start_private_cluster)
        .await
        .ok()??;
    for _ in 0..100 {
        if can_connect(&url).await {
            return Some(url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn server_bin_dir() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("postgres").exists())
    });
    from_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// Starts `postgres` on a free port in a temp dir, watched by a shell that
/// stops it when this process exits. Returns the URL.
fn start_private_cluster() -> Option<String> {
    let bin = server_bin_dir()?;
    let dir = std::env::temp_dir().join(format!("allot-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok()?;
    // initdb refuses to run as root; run the server as the `postgres` user then.
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let run_as = |cmd: &Path| -> Command {
        if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(cmd);
            c
        } else {
            Command::new(cmd)
        }
    };
    if as_root {
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status()
            .ok()?;
    }
    let data = dir.join("data");
    let ok = run_as(&bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let postgres = bin.join("postgres");
    let prefix = if as_root {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "{prefix}'{}' -D '{}' -p {port} -h 127.0.0.1 -k '{}' -c fsync=off -c max_connections=300 \
         >'{}/log' 2>&1 & pg=$!; while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
         kill $pg; sleep 2; rm -rf '{}'",
        postgres.display(),
        data.display(),
        dir.display(),
        dir.display(),
        dir.display(),
        parent = std::process::id(),
    );
    Command::new("sh").args(["-c", &script]).spawn().ok()?;
    Some(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_test_databases_older_than_a_run_are_stale() {
        let now = std::time::SystemTime::now();
        let name = |id: uuid::Uuid| format!("{TEST_DATABASE_PREFIX}{}", id.simple());
        assert!(!test_database_is_stale(&name(uuid::Uuid::now_v7()), now));
        let old = now - STALE_TEST_DATABASE - Duration::from_secs(60);
        let later = now + STALE_TEST_DATABASE + Duration::from_secs(60);
        assert!(test_database_is_stale(&name(uuid::Uuid::now_v7()), later));
        let ts = old
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        let stamp = uuid::Timestamp::from_unix(uuid::NoContext, ts.as_secs(), ts.subsec_nanos());
        assert!(test_database_is_stale(
            &name(uuid::Uuid::new_v7(stamp)),
            now
        ));
        // Not ours, or no time in the name: never dropped.
        for other in ["allot", "root", "allot_t_notauuid", "allot_bench_x"] {
            assert!(!test_database_is_stale(other, later), "{other}");
        }
        assert!(!test_database_is_stale(&name(uuid::Uuid::nil()), later));
    }
}
