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
//! tests never see each other's rows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::OnceCell;

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();

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
    let name = format!("allot_t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = match PgConnectOptions::from_str(&base) {
        Ok(o) => o.connect().await,
        Err(e) => panic!("bad test database URL {base}: {e}"),
    }
    .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {base}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    Some(with_database(&base, &name))
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
