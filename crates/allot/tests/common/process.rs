//! Process-level harness: real `allot serve` children (the binary cargo
//! builds for integration tests), driven over HTTP and signals, and audited
//! through their database.
//!
//! Every child is killed when its [`ServerProcess`] is dropped, so a failing
//! assertion never leaks a server; its stderr log is printed then.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_allot");

/// The bootstrap token every test server accepts (all scopes).
pub const TOKEN: &str = "process-test-token-with-every-scope";

/// A fresh folder under the system temp dir for databases and logs. Removed
/// on drop unless the test is failing (then kept, and its path printed).
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!(
            "allot-proc-{tag}-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Scratch { path }
    }

    /// A SQLite database URL inside this folder.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.path.join("allot.db").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test folder kept: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// How to start one `allot serve`.
pub struct Launch {
    name: String,
    dir: PathBuf,
    database_url: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

impl Launch {
    /// `allot serve` on `database_url`, listening on a free port, with the
    /// bootstrap token [`TOKEN`] and rate limits off. `name` tells its logs
    /// apart in `dir`.
    pub fn new(name: &str, dir: &Path, database_url: &str) -> Launch {
        Launch {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            database_url: database_url.to_string(),
            env: Vec::new(),
            args: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Starts the process without waiting for it to listen.
    pub fn spawn(&self) -> ServerProcess {
        let stderr_path = self.dir.join(format!("{}.stderr.log", self.name));
        let stderr = std::fs::File::create(&stderr_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", stderr_path.display()));
        let mut cmd = Command::new(BIN);
        // The developer's own ALLOT_* settings must not leak into the child.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ALLOT_") {
                cmd.env_remove(key);
            }
        }
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(&self.args)
            .env("ALLOT_DATABASE_URL", &self.database_url)
            .env("ALLOT_BOOTSTRAP_TOKEN", TOKEN)
            .env("ALLOT_RATE_LIMIT", "0")
            .env("ALLOT_LOG", "info,sqlx=warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN} serve ({}): {e}", self.name));
        let out = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("{}: the child has no stdout pipe", self.name));
        let stdout = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = stdout.clone();
        // Drains stdout for the child's whole life so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(line) => sink.lock().unwrap_or_else(|e| e.into_inner()).push(line),
                    Err(_) => break,
                }
            }
        });
        ServerProcess {
            name: self.name.clone(),
            child,
            stdout,
            stderr_path,
            api: None,
        }
    }

    /// Starts the process and waits until it answers `GET /healthz`.
    pub async fn start(&self) -> ServerProcess {
        let mut server = self.spawn();
        server.wait_ready(Duration::from_secs(60)).await;
        server
    }
}

/// A running (or exited) `allot serve` child.
pub struct ServerProcess {
    pub name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr_path: PathBuf,
    api: Option<Api>,
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its API client (once it is ready).
    pub fn api(&self) -> &Api {
        self.api
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not ready yet", self.name))
    }

    /// Everything it wrote to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Everything it wrote to stderr (its log) so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits for the `listening on http://ADDR` line, then for `/healthz`.
    pub async fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let addr = loop {
            if let Some(status) = self.try_wait() {
                panic!(
                    "{} exited with {status} before listening:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            if let Some(first) = self.stdout().first() {
                let addr = first
                    .split("listening on http://")
                    .nth(1)
                    .unwrap_or_else(|| {
                        panic!("{}: unexpected first stdout line {first:?}", self.name)
                    })
                    .trim()
                    .to_string();
                break addr;
            }
            assert!(
                Instant::now() < deadline,
                "{} printed nothing within {limit:?}:\n{}",
                self.name,
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let api = Api::new(&format!("http://{addr}"));
        loop {
            if let Some(status) = self.try_wait() {
                panic!(
                    "{} exited with {status} before it was healthy:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            if api.healthy().await {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} was not healthy within {limit:?}:\n{}",
                self.name,
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.api = Some(api);
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("cannot poll {}: {e}", self.name))
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill -{name} {}: {e}", self.pid()));
        assert!(
            status.success(),
            "kill -{name} {} ({}) failed: {status}",
            self.pid(),
            self.name
        );
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM, then waits up to `limit`; panics (with the log) unless it
    /// exits with status 0. Returns how long the exit took.
    pub async fn terminate(&mut self, limit: Duration) -> Duration {
        let sent = Instant::now();
        self.signal("TERM");
        let status = self.wait_exit(limit).await.unwrap_or_else(|| {
            panic!(
                "{} did not exit within {limit:?} of SIGTERM:\n{}",
                self.name,
                self.stderr()
            )
        });
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM:\n{}",
            self.name,
            self.stderr()
        );
        sent.elapsed()
    }

    /// SIGKILL (a crash: no shutdown code runs) and reaps it.
    pub fn kill_now(&mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("cannot SIGKILL {}: {e}", self.name));
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("cannot reap {}: {e}", self.name));
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = self.stderr();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- last stderr lines of {} (pid {}):",
                self.name,
                self.pid()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A JSON client of one server, authenticated with [`TOKEN`].
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            client: allot::tls::http_client(reqwest::redirect::Policy::none()),
        }
    }

    async fn healthy(&self) -> bool {
        matches!(
            self.client
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Sends a request; returns the status code and the JSON body (Null when empty).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_str(method)
            .unwrap_or_else(|e| panic!("bad HTTP method {method}: {e}"));
        let url = format!("{}{path}", self.base);
        let mut req = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// Creates a task, asserting 201; returns its JSON.
    pub async fn create_task(&self, body: &Value) -> Value {
        let (status, task) = self.post("/v1/tasks", body).await;
        assert_eq!(status, 201, "creating {body}: {task}");
        task
    }
}

/// A connection to a server's database for auditing, opened beside the
/// running servers (on SQLite without allot's single-process lock, which
/// [`allot::store::Db::connect`] would take). Query it with [`on_pool!`];
/// decode columns with [`allot::store::DbId`] and [`allot::store::DbTime`].
pub enum AuditDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl AuditDb {
    pub async fn open(database_url: &str) -> AuditDb {
        if database_url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
                .unwrap_or_else(|e| panic!("bad SQLite URL {database_url}: {e}"))
                .busy_timeout(Duration::from_secs(10));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .unwrap_or_else(|e| panic!("cannot open {database_url}: {e}"));
            AuditDb::Sqlite(pool)
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(database_url)
                .await
                .unwrap_or_else(|e| panic!("cannot open {database_url}: {e}"));
            AuditDb::Postgres(pool)
        }
    }

    pub async fn close(&self) {
        match self {
            AuditDb::Sqlite(pool) => pool.close().await,
            AuditDb::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to the audit database's pool; the body is
/// compiled once per backend, like `allot::with_pool!`.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::process::AuditDb::Sqlite($pool) => $body,
            $crate::process::AuditDb::Postgres($pool) => $body,
        }
    };
}
