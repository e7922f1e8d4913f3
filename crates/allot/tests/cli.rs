//! The `allot tasks` / `allot executions` commands against a real
//! `allot serve` process: the binaries as a user runs them, checked by
//! output and exit code (0 ok, 1 refused, 2 usage, 3 unreachable).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_allot");

/// A port nothing listens on once this returns. Another process could take
/// it before we use it; on a test machine that is rare enough.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A fresh folder under the system temp dir (no tempfile crate).
fn unique_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("allot-cli-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the test folder");
    dir
}

/// The developer's own ALLOT_* settings must not leak into the children.
fn clean_command() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ALLOT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `allot serve` on a free port; killed on drop, so a failing assertion
/// does not leave it running. Its folder is kept after a failure, for the log.
struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
    token: String,
}

impl Server {
    fn start() -> Server {
        let dir = unique_dir();
        let port = free_port();
        let token = allot::auth::generate_secret();
        let log = std::fs::File::create(dir.join("server.log")).expect("create the server log");
        let child = clean_command()
            .arg("serve")
            .arg("--database-url")
            .arg(format!("sqlite://{}", dir.join("t.db").display()))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("ALLOT_BOOTSTRAP_TOKEN", &token)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start allot serve");
        let mut server = Server {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            token,
        };
        server.wait_healthy(port);
        server
    }

    fn wait_healthy(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("allot serve exited with {status}:\n{}", self.log());
            }
            if healthz(port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("allot serve did not become healthy:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The CLI pointed at this server with its token.
    fn cli(&self, args: &[&str]) -> Run {
        run(clean_command()
            .env("ALLOT_SERVER", &self.url)
            .env("ALLOT_TOKEN", &self.token)
            .args(args))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("server folder kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// GET /healthz with a bare HTTP/1.1 request: no HTTP client needed here.
fn healthz(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run the allot CLI");
    Run {
        // No code means killed by a signal: never a success.
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn has_item(list: &Value, pred: impl Fn(&Value) -> bool) -> bool {
    list["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(pred))
}

#[test]
fn tasks_and_executions_against_a_live_server() {
    let server = Server::start();

    let created = server
        .cli(&[
            "tasks",
            "create",
            "--name",
            "cli-nap",
            "--kind",
            "sleep",
            "--params",
            r#"{"duration":"0s"}"#,
            "--every",
            "1h",
            "--json",
        ])
        .ok();
    assert_eq!(created.stdout.lines().count(), 1, "--json is one line");
    let task = created.json();
    let id = task["id"].as_str().expect("the task has an id").to_string();
    assert_eq!(task["state"], "active");

    let shown = server.cli(&["tasks", "get", &id]).ok();
    assert!(shown.stdout.contains(&id), "{}", shown.stdout);
    assert!(shown.stdout.contains("cli-nap"), "{}", shown.stdout);
    assert!(shown.stdout.contains("every 1h"), "{}", shown.stdout);

    let listed = server.cli(&["tasks", "list", "--json"]).ok().json();
    assert!(has_item(&listed, |t| t["id"] == id.as_str()), "{listed}");
    let table = server.cli(&["tasks", "list"]).ok();
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains(&id), "{}", table.stdout);

    server.cli(&["tasks", "pause", &id]).ok();
    let paused = server.cli(&["tasks", "get", &id, "--json"]).ok().json();
    assert_eq!(paused["state"], "paused", "{paused}");

    let started = server.cli(&["tasks", "run", &id, "--json"]).ok().json();
    assert_eq!(started["task_id"], id.as_str(), "{started}");
    assert_eq!(started["trigger"], "manual", "{started}");

    // The run is asynchronous: 202 first, the outcome a moment later.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let history = server
            .cli(&["executions", "list", "--task", &id, "--json"])
            .ok()
            .json();
        if has_item(&history, |e| e["status"] == "succeeded") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no succeeded execution: {history}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let execution_id = started["id"].as_str().expect("the execution has an id");
    let execution = server.cli(&["executions", "get", execution_id]).ok();
    assert!(
        execution.stdout.contains("succeeded"),
        "{}",
        execution.stdout
    );

    let bad = server.cli(&[
        "tasks",
        "create",
        "--name",
        "bad",
        "--kind",
        "sleep",
        "--params",
        r#"{"duration":"0s"}"#,
        "--every",
        "0s",
    ]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("/schedule/every"), "{}", bad.stderr);

    let not_json = server.cli(&[
        "tasks", "create", "--name", "bad", "--kind", "sleep", "--params", "{nope", "--every", "1h",
    ]);
    assert_eq!(not_json.code, 2, "{}", not_json.stderr);
    assert!(not_json.stderr.contains("--params"), "{}", not_json.stderr);

    let wrong_token = run(clean_command()
        .env("ALLOT_SERVER", &server.url)
        .env("ALLOT_TOKEN", "allot_wrong")
        .args(["tasks", "list"]));
    assert_eq!(wrong_token.code, 1, "{}", wrong_token.stderr);
    assert!(wrong_token.stderr.contains("401"), "{}", wrong_token.stderr);

    server.cli(&["tasks", "delete", &id]).ok();
    let gone = server.cli(&["tasks", "get", &id]);
    assert_eq!(gone.code, 1, "{}", gone.stderr);
    assert!(gone.stderr.contains("Not found"), "{}", gone.stderr);
    // A deleted task's history stays readable.
    let history = server
        .cli(&["executions", "list", "--task", &id, "--json"])
        .ok()
        .json();
    assert!(has_item(&history, |e| e["id"] == execution_id), "{history}");
}

#[test]
fn an_unreachable_server_exits_3() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = run(clean_command()
        .env("ALLOT_SERVER", &url)
        .env("ALLOT_TOKEN", "allot_any")
        .args(["tasks", "list"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains(&url), "{}", out.stderr);
    assert!(out.stderr.contains("ALLOT_SERVER"), "{}", out.stderr);
}

#[test]
fn a_missing_token_exits_2_before_any_request() {
    // Nothing listens there: reaching it would exit 3, not 2.
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = run(clean_command()
        .env("ALLOT_SERVER", &url)
        .args(["executions", "upcoming"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("ALLOT_TOKEN"), "{}", out.stderr);
}
