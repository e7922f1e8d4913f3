//! The `allot tasks` / `allot executions`, booking (`systems`, `entries`,
//! `outages`), calendar (`calendars`, `events`, `notifications`) and
//! provisioning (`exams`, `provisioning`) commands against a real `allot
//! serve` process: the binaries as a user runs them, checked by output and
//! exit code (0 ok, 1 refused, 2 usage, 3 unreachable).

use std::io::{BufRead, BufReader, Read, Write};
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

/// The string `key` of a JSON document, or a panic naming the document.
fn text(doc: &Value, key: &str) -> String {
    doc[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {doc}"))
        .to_string()
}

fn kinds(events: &Value) -> Vec<String> {
    events["items"]
        .as_array()
        .map(|items| items.iter().map(|e| text(e, "kind")).collect())
        .unwrap_or_default()
}

#[test]
fn booking_round_trip_against_a_live_server() {
    let server = Server::start();

    // A system that takes one entry at a time.
    let created = server
        .cli(&[
            "systems",
            "create",
            "--name",
            "rig-1",
            "--capacity",
            "1",
            "--capability",
            "gpu",
            "--timezone",
            "Europe/Paris",
            "--json",
        ])
        .ok();
    assert_eq!(created.stdout.lines().count(), 1, "--json is one line");
    let system = created.json();
    let system_id = text(&system, "id");
    assert_eq!(system["capacity"], 1, "{system}");
    let shown = server.cli(&["systems", "get", &system_id]).ok();
    assert!(shown.stdout.contains("rig-1"), "{}", shown.stdout);
    assert!(shown.stdout.contains("Europe/Paris"), "{}", shown.stdout);
    let table = server.cli(&["systems", "list"]).ok();
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains(&system_id), "{}", table.stdout);

    // One entry fits; a second overlapping it exceeds the capacity.
    let entry = server
        .cli(&[
            "entries",
            "create",
            "--system",
            &system_id,
            "--start",
            "+1h",
            "--end",
            "+2h",
            "--capability",
            "gpu",
            "--label",
            "build",
            "--metadata",
            r#"{"job":42}"#,
            "--json",
        ])
        .ok()
        .json();
    let entry_id = text(&entry, "id");
    assert_eq!(entry["status"], "active", "{entry}");
    assert_eq!(entry["metadata"]["job"], 42, "{entry}");
    let full = server.cli(&[
        "entries", "create", "--system", &system_id, "--start", "+90m", "--end", "+150m",
    ]);
    assert_eq!(full.code, 1, "{}", full.stderr);
    assert!(full.stderr.contains("capacity_exceeded"), "{}", full.stderr);
    assert!(
        full.stderr.contains(&entry_id),
        "the conflicting entry is named: {}",
        full.stderr
    );
    let listed = server
        .cli(&[
            "entries", "list", "--system", &system_id, "--status", "active",
        ])
        .ok();
    assert!(listed.stdout.contains(&entry_id), "{}", listed.stdout);
    assert!(listed.stdout.contains("build"), "{}", listed.stdout);

    // Bad input is caught before anything is sent.
    let bad_time = server.cli(&[
        "entries", "create", "--system", &system_id, "--start", "soon", "--end", "+2h",
    ]);
    assert_eq!(bad_time.code, 2, "{}", bad_time.stderr);
    let bad_json = server.cli(&[
        "entries",
        "create",
        "--system",
        &system_id,
        "--start",
        "+3h",
        "--end",
        "+4h",
        "--metadata",
        "{nope",
    ]);
    assert_eq!(bad_json.code, 2, "{}", bad_json.stderr);
    assert!(
        bad_json.stderr.contains("--metadata"),
        "{}",
        bad_json.stderr
    );

    // Slots and availability go around the entry.
    let slots = server
        .cli(&[
            "systems",
            "slots",
            &system_id,
            "--duration",
            "30m",
            "--capability",
            "gpu",
            "--limit",
            "3",
            "--json",
        ])
        .ok()
        .json();
    let found = slots["items"].as_array().map(Vec::len).unwrap_or(0);
    assert!((1..=3).contains(&found), "{slots}");
    let slot_table = server
        .cli(&["systems", "slots", &system_id, "--duration", "30m"])
        .ok();
    assert!(
        slot_table.stdout.starts_with("START"),
        "{}",
        slot_table.stdout
    );
    let availability = server
        .cli(&[
            "systems",
            "availability",
            &system_id,
            "--to",
            "+1d",
            "--json",
        ])
        .ok()
        .json();
    let segments = availability["segments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        segments.iter().any(|s| s[2] == 0) && segments.iter().any(|s| s[2] == 1),
        "the entry's hour is full, the rest free: {availability}"
    );

    // A conditional update applies once; the same version again is a conflict.
    let moved = server
        .cli(&[
            "entries",
            "update",
            &entry_id,
            "--label",
            "build-2",
            "--if-version",
            "1",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(moved["version"], 2, "{moved}");
    let stale = server.cli(&[
        "entries",
        "update",
        &entry_id,
        "--label",
        "x",
        "--if-version",
        "1",
    ]);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(
        stale.stderr.contains("version_conflict"),
        "{}",
        stale.stderr
    );

    // An unplanned outage evicts what lies inside its window.
    let change = server
        .cli(&[
            "outages",
            "create",
            "--system",
            &system_id,
            "--kind",
            "unplanned",
            "--window",
            "3h",
            "--reason",
            "power",
            "--json",
        ])
        .ok()
        .json();
    let outage_id = text(&change, "id");
    assert!(
        change["evicted"]
            .as_array()
            .is_some_and(|e| e.iter().any(|i| *i == entry_id.as_str())),
        "{change}"
    );
    let evicted = server
        .cli(&["entries", "get", &entry_id, "--json"])
        .ok()
        .json();
    assert_eq!(evicted["status"], "evicted", "{evicted}");
    assert_eq!(
        evicted["eviction"]["outage_id"],
        outage_id.as_str(),
        "{evicted}"
    );
    let evicted_view = server.cli(&["entries", "get", &entry_id]).ok();
    assert!(
        evicted_view.stdout.contains(&outage_id),
        "{}",
        evicted_view.stdout
    );
    let blocked = server.cli(&[
        "entries", "create", "--system", &system_id, "--start", "+5h", "--end", "+6h",
    ]);
    assert_eq!(blocked.code, 1, "{}", blocked.stderr);
    assert!(
        blocked.stderr.contains("outage_present"),
        "{}",
        blocked.stderr
    );
    assert!(blocked.stderr.contains(&outage_id), "{}", blocked.stderr);
    let open = server
        .cli(&["outages", "list", "--system", &system_id, "--open"])
        .ok();
    assert!(open.stdout.contains(&outage_id), "{}", open.stdout);
    assert!(open.stdout.contains("whole system"), "{}", open.stdout);

    let resolved = server
        .cli(&["outages", "resolve", &outage_id, "--json"])
        .ok()
        .json();
    assert_eq!(resolved["state"], "resolved", "{resolved}");
    let open = server
        .cli(&[
            "outages", "list", "--system", &system_id, "--open", "--json",
        ])
        .ok()
        .json();
    assert!(
        !has_item(&open, |o| o["id"] == outage_id.as_str()),
        "{open}"
    );

    // The feed tells the whole story, in order.
    let events = server.cli(&["outages", "events", "--json"]).ok().json();
    let seen = kinds(&events);
    for kind in [
        "entry.created",
        "entry.updated",
        "outage.created",
        "entry.evicted",
        "outage.resolved",
    ] {
        assert!(seen.iter().any(|k| k == kind), "no {kind} in {seen:?}");
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("outage.resolved"),
        "{seen:?}"
    );
    let first = text(&events["items"][0], "cursor");
    let rest = server
        .cli(&["outages", "events", "--after", &first, "--json"])
        .ok()
        .json();
    assert_eq!(kinds(&rest).len(), seen.len() - 1, "{rest}");

    // --follow prints what is there, then what comes, one JSON event per line.
    let mut follower = clean_command()
        .env("ALLOT_SERVER", &server.url)
        .env("ALLOT_TOKEN", &server.token)
        .args(["outages", "events", "--follow", "--json", "--after"])
        .arg(text(&events, "next_cursor"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start allot outages events --follow");
    let later = server
        .cli(&[
            "entries", "create", "--system", &system_id, "--start", "+1h", "--end", "+2h", "--json",
        ])
        .ok()
        .json();
    let later_id = text(&later, "id");
    let mut line = String::new();
    let stdout = follower.stdout.take().expect("the follower's stdout");
    let read = BufReader::new(stdout).read_line(&mut line);
    let _ = follower.kill();
    let _ = follower.wait();
    read.expect("read an event line");
    let event: Value = serde_json::from_str(&line).expect("an event as JSON");
    assert_eq!(event["kind"], "entry.created", "{event}");
    assert_eq!(event["entry_id"], later_id.as_str(), "{event}");

    // A system with a live entry cannot go; without it, it can.
    let in_use = server.cli(&["systems", "delete", &system_id]);
    assert_eq!(in_use.code, 1, "{}", in_use.stderr);
    assert!(in_use.stderr.contains("system_in_use"), "{}", in_use.stderr);
    assert!(in_use.stderr.contains(&later_id), "{}", in_use.stderr);
    server.cli(&["entries", "delete", &later_id]).ok();
    server.cli(&["systems", "delete", &system_id]).ok();
    let gone = server.cli(&["systems", "get", &system_id]);
    assert_eq!(gone.code, 1, "{}", gone.stderr);
    assert!(gone.stderr.contains("Not found"), "{}", gone.stderr);
}

const AMSTERDAM: &str = "Europe/Amsterdam";

/// The local wall-clock time (`HH:MM`) in Amsterdam of an RFC 3339 instant.
fn amsterdam_time(doc: &Value, key: &str) -> String {
    let at: jiff::Timestamp = text(doc, key)
        .parse()
        .unwrap_or_else(|e| panic!("{key} of {doc} is not a time: {e}"));
    at.in_tz(AMSTERDAM)
        .expect("a known time zone")
        .strftime("%H:%M")
        .to_string()
}

#[test]
fn calendar_round_trip_against_a_live_server() {
    // A Tuesday at least a week ahead, and the Saturday after it: whatever
    // the day the test runs, the auto event's day starts in the future.
    let today = jiff::Zoned::now()
        .in_tz(AMSTERDAM)
        .expect("a known time zone")
        .date();
    let mut tuesday = today
        .checked_add(jiff::Span::new().days(7))
        .expect("a date");
    while tuesday.weekday() != jiff::civil::Weekday::Tuesday {
        tuesday = tuesday.tomorrow().expect("a date");
    }
    let saturday = tuesday
        .checked_add(jiff::Span::new().days(4))
        .expect("a date");
    let (tuesday, saturday) = (tuesday.to_string(), saturday.to_string());

    let server = Server::start();
    let office = r#"[{"days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"17:00"}]"#;
    let created = server
        .cli(&[
            "calendars",
            "create",
            "--owner",
            "Jeff Blumba",
            "--timezone",
            AMSTERDAM,
            "--working-hours",
            office,
            "--slot-granularity",
            "15m",
            "--json",
        ])
        .ok();
    assert_eq!(created.stdout.lines().count(), 1, "--json is one line");
    let calendar = created.json();
    let calendar_id = text(&calendar, "id");
    assert_eq!(calendar["slot_granularity"], 900, "{calendar}");
    let shown = server.cli(&["calendars", "get", &calendar_id]).ok();
    assert!(
        shown.stdout.contains("mon,tue,wed,thu,fri 08:00-17:00"),
        "{}",
        shown.stdout
    );
    let table = server.cli(&["calendars", "list"]).ok();
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains(&calendar_id), "{}", table.stdout);
    assert!(table.stdout.contains("15m"), "{}", table.stdout);
    let renamed = server
        .cli(&[
            "calendars",
            "update",
            &calendar_id,
            "--owner",
            "J. Blumba",
            "--version",
            "1",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(renamed["owner"], "J. Blumba", "{renamed}");
    let stale = server.cli(&[
        "calendars",
        "update",
        &calendar_id,
        "--owner",
        "x",
        "--version",
        "1",
    ]);
    assert_eq!(stale.code, 1, "{}", stale.stderr);

    // Auto: the earliest open slot of the day, at the start of office hours.
    let auto = server
        .cli(&[
            "events",
            "create",
            &calendar_id,
            "--name",
            "standup",
            "--date",
            &tuesday,
            "--duration",
            "45m",
            "--attendee",
            "cfo@example.com",
            "--json",
        ])
        .ok()
        .json();
    let auto_id = text(&auto, "id");
    assert_eq!(auto["placement"], "auto", "{auto}");
    assert_eq!(auto["status"], "pending", "{auto}");
    assert_eq!(amsterdam_time(&auto, "start"), "08:00", "{auto}");
    assert_eq!(amsterdam_time(&auto, "end"), "08:45", "{auto}");

    // Explicit: exactly where asked, outside office hours too (flagged).
    let review = server
        .cli(&[
            "events",
            "create",
            &calendar_id,
            "--name",
            "review",
            "--date",
            &tuesday,
            "--start-time",
            "14:30",
            "--duration",
            "1h",
            "--location",
            "Board room",
            "--json",
        ])
        .ok()
        .json();
    let review_id = text(&review, "id");
    assert_eq!(review["placement"], "explicit", "{review}");
    assert_eq!(amsterdam_time(&review, "start"), "14:30", "{review}");
    let late = server
        .cli(&[
            "events",
            "create",
            &calendar_id,
            "--name",
            "late call",
            "--date",
            &tuesday,
            "--start-time",
            "18:00",
            "--duration",
            "30m",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(late["outside_working_hours"], true, "{late}");

    let listed = server.cli(&["events", "list", &calendar_id]).ok();
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", listed.stdout);
    assert!(lines[0].starts_with("ID "), "{}", listed.stdout);
    assert!(
        lines[1].contains(&auto_id) && lines[1].contains("auto"),
        "{}",
        listed.stdout
    );
    assert!(
        lines[2].contains(&review_id) && lines[2].contains("explicit"),
        "{}",
        listed.stdout
    );
    assert!(
        lines[3].ends_with("outside working hours"),
        "{}",
        listed.stdout
    );
    let page = server
        .cli(&["events", "list", &calendar_id, "--json"])
        .ok()
        .json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3), "{page}");

    let status = server
        .cli(&["events", "status", &auto_id, "--json"])
        .ok()
        .json();
    assert_eq!(status["status"], "pending", "{status}");
    let status_view = server.cli(&["events", "status", &auto_id]).ok();
    assert!(
        status_view.stdout.contains("status  pending"),
        "{}",
        status_view.stdout
    );

    let cancelled = server
        .cli(&["events", "cancel", &review_id, "--json"])
        .ok()
        .json();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let pending = server
        .cli(&[
            "events",
            "list",
            &calendar_id,
            "--status",
            "pending",
            "--json",
        ])
        .ok()
        .json();
    assert!(
        !has_item(&pending, |e| e["id"] == review_id.as_str()),
        "{pending}"
    );

    // Free slots follow each other from the end of the auto event to the
    // end of office hours: 08:45 to 16:45, the cancelled review's hour
    // included (with it, 14:30-15:30 would break the run).
    let free = server
        .cli(&[
            "events",
            "free",
            &calendar_id,
            "--date",
            &tuesday,
            "--duration",
            "1h",
            "--json",
        ])
        .ok()
        .json();
    let slots = free["items"].as_array().cloned().unwrap_or_default();
    let starts: Vec<String> = slots.iter().map(|s| amsterdam_time(s, "start")).collect();
    assert_eq!(
        starts,
        [
            "08:45", "09:45", "10:45", "11:45", "12:45", "13:45", "14:45", "15:45"
        ],
        "{free}"
    );
    let free_table = server
        .cli(&[
            "events",
            "free",
            &calendar_id,
            "--date",
            &tuesday,
            "--duration",
            "1h",
            "--limit",
            "2",
        ])
        .ok();
    assert!(
        free_table.stdout.starts_with("START"),
        "{}",
        free_table.stdout
    );
    assert_eq!(
        free_table.stdout.lines().count(),
        3,
        "{}",
        free_table.stdout
    );

    // A Saturday has no office hours: refused with the reason, exit 1, and
    // the feed says so.
    let weekend = server.cli(&[
        "events",
        "create",
        &calendar_id,
        "--name",
        "golf",
        "--date",
        &saturday,
        "--duration",
        "1h",
    ]);
    assert_eq!(weekend.code, 1, "{}", weekend.stderr);
    assert!(weekend.stderr.contains("409"), "{}", weekend.stderr);
    assert!(
        weekend.stderr.contains("working-hours window"),
        "the detail: {}",
        weekend.stderr
    );
    assert!(
        weekend.stderr.contains("reason: outside_working_hours"),
        "{}",
        weekend.stderr
    );
    let feed = server.cli(&["notifications", "tail", "--json"]).ok();
    assert_eq!(feed.stdout.lines().count(), 1, "--json is one line");
    let feed = feed.json();
    assert!(
        has_item(&feed, |n| n["kind"] == "unplaceable"
            && n["calendar_id"] == calendar_id.as_str()
            && n["data"]["reason"] == "outside_working_hours"),
        "{feed}"
    );
    let feed_table = server
        .cli(&["notifications", "tail", "--calendar", &calendar_id])
        .ok();
    assert!(
        feed_table.stdout.starts_with("CURSOR "),
        "{}",
        feed_table.stdout
    );
    assert!(
        feed_table
            .stdout
            .lines()
            .any(|l| l.contains("unplaceable") && l.ends_with("outside_working_hours")),
        "{}",
        feed_table.stdout
    );

    // The feed is shared: --module and --exam narrow it to a module or an
    // exam (none has notifications here).
    let calendar_feed = server
        .cli(&["notifications", "tail", "--module", "calendar", "--json"])
        .ok()
        .json();
    assert!(
        has_item(&calendar_feed, |n| n["kind"] == "unplaceable"
            && n["module"] == "calendar"
            && n["exam_id"].is_null()),
        "{calendar_feed}"
    );
    let exam_feed = server
        .cli(&[
            "notifications",
            "tail",
            "--module",
            "provisioning",
            "--exam",
            "0190b6e4-5c3a-7d2e-9a41-0c2f6d1e8b7a",
        ])
        .ok();
    assert_eq!(exam_feed.stdout, "no notifications\n");
    let unknown = server.cli(&["notifications", "tail", "--module", "jobs"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    let bad_exam = server.cli(&["notifications", "tail", "--exam", "nope"]);
    assert_ne!(bad_exam.code, 0, "{}", bad_exam.stdout);

    // --follow long-polls from the cursor and prints what comes, one JSON
    // notification per line.
    let mut follower = clean_command()
        .env("ALLOT_SERVER", &server.url)
        .env("ALLOT_TOKEN", &server.token)
        .args(["notifications", "tail", "--follow", "--json", "--after"])
        .arg(text(&feed, "next_cursor"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start allot notifications tail --follow");
    let clash = server.cli(&[
        "events",
        "create",
        &calendar_id,
        "--name",
        "clash",
        "--date",
        &tuesday,
        "--start-time",
        "18:15",
        "--duration",
        "30m",
    ]);
    assert_eq!(clash.code, 1, "{}", clash.stderr);
    assert!(clash.stderr.contains("reason: busy"), "{}", clash.stderr);
    let mut line = String::new();
    let stdout = follower.stdout.take().expect("the follower's stdout");
    let read = BufReader::new(stdout).read_line(&mut line);
    let _ = follower.kill();
    let _ = follower.wait();
    read.expect("read a notification line");
    let notification: Value = serde_json::from_str(&line).expect("a notification as JSON");
    assert_eq!(notification["kind"], "unplaceable", "{notification}");
    assert_eq!(notification["data"]["reason"], "busy", "{notification}");

    server.cli(&["events", "delete", &auto_id]).ok();
    let gone = server.cli(&["events", "get", &auto_id]);
    assert_eq!(gone.code, 1, "{}", gone.stderr);
}

#[test]
fn exams_round_trip_against_a_live_server() {
    let server = Server::start();

    let created = server
        .cli(&[
            "exams",
            "create",
            "--name",
            "Physics 101",
            "--start",
            "2030-06-03T10:00:00+02:00",
            "--end",
            "2030-06-03T10:00:00Z",
            "--students",
            "120",
            "--json",
        ])
        .ok();
    assert_eq!(created.stdout.lines().count(), 1, "--json is one line");
    let exam = created.json();
    let exam_id = text(&exam, "id");
    assert_eq!(exam["start_at"], "2030-06-03T08:00:00Z", "{exam}");
    assert_eq!(exam["students"], 120, "{exam}");
    let soon = server
        .cli(&[
            "exams",
            "create",
            "--name",
            "rehearsal",
            "--start",
            "+2h",
            "--end",
            "+3h",
            "--students",
            "5",
        ])
        .ok();
    assert!(soon.stdout.contains("rehearsal"), "{}", soon.stdout);

    // By start: the rehearsal (in two hours) before the 2030 exam.
    let table = server.cli(&["exams", "list"]).ok();
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    let physics = table.stdout.find("Physics 101").expect("listed");
    let rehearsal = table.stdout.find("rehearsal").expect("listed");
    assert!(rehearsal < physics, "{}", table.stdout);
    let later = server
        .cli(&["exams", "list", "--from", "+1d", "--json"])
        .ok()
        .json();
    assert_eq!(later["items"].as_array().map(Vec::len), Some(1), "{later}");
    assert_eq!(later["items"][0]["id"], exam_id.as_str(), "{later}");

    let updated = server
        .cli(&["exams", "update", &exam_id, "--students", "130", "--json"])
        .ok()
        .json();
    assert_eq!(updated["students"], 130, "{updated}");
    let shown = server.cli(&["exams", "get", &exam_id]).ok();
    assert!(shown.stdout.contains("130"), "{}", shown.stdout);

    // Refused by the server (exit 1, the field named) or by the command
    // line before anything is sent (exit 2).
    let backwards = server.cli(&["exams", "update", &exam_id, "--end", "2030-06-03T07:00:00Z"]);
    assert_eq!(backwards.code, 1, "{}", backwards.stderr);
    assert!(backwards.stderr.contains("/end_at"), "{}", backwards.stderr);
    let none = server.cli(&[
        "exams",
        "create",
        "--name",
        "empty",
        "--start",
        "+1h",
        "--end",
        "+2h",
        "--students",
        "0",
    ]);
    assert_eq!(none.code, 1, "{}", none.stderr);
    assert!(none.stderr.contains("/students"), "{}", none.stderr);
    for bad in [
        &[
            "exams",
            "create",
            "--name",
            "x",
            "--start",
            "soon",
            "--end",
            "+2h",
            "--students",
            "1",
        ][..],
        &[
            "exams",
            "create",
            "--name",
            "x",
            "--start",
            "+1h",
            "--end",
            "+2h",
            "--students",
            "-3",
        ],
        &["exams", "update", &exam_id],
        &["exams", "get", "../tokens"],
    ] {
        let out = server.cli(bad);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
    }

    let deleted = server.cli(&["exams", "delete", &exam_id]).ok();
    assert!(deleted.stdout.contains(&exam_id), "{}", deleted.stdout);
    let gone = server.cli(&["exams", "get", &exam_id]);
    assert_eq!(gone.code, 1, "{}", gone.stderr);
    let left = server.cli(&["exams", "list", "--json"]).ok().json();
    assert_eq!(left["items"].as_array().map(Vec::len), Some(1), "{left}");
}

#[test]
fn provisioning_status_and_plan_against_a_live_server() {
    let server = Server::start();
    let exam = server
        .cli(&[
            "exams",
            "create",
            "--name",
            "Chemistry",
            "--start",
            "+2h",
            "--end",
            "+3h",
            "--students",
            "5",
            "--json",
        ])
        .ok()
        .json();
    let exam_id = text(&exam, "id");

    // One exam: every field, one per line; --json is the server's document.
    let shown = server.cli(&["provisioning", "status", &exam_id]).ok();
    for line in [
        "needed ",
        "requested ",
        "ready ",
        "shortfall ",
        "next_start_call_at ",
    ] {
        assert!(
            shown.stdout.lines().any(|l| l.starts_with(line)),
            "{line:?} missing:\n{}",
            shown.stdout
        );
    }
    let status = server
        .cli(&["provisioning", "status", &exam_id, "--json"])
        .ok()
        .json();
    assert_eq!(status["needed"], 5, "{status}");
    assert_eq!(status["requested"], 0, "{status}");
    assert_eq!(status["shortfall"], 0, "{status}");
    assert_eq!(status["feasible"], true, "{status}");
    assert_eq!(status["executor"], false, "no --cloud-url: {status}");
    assert!(status["next_start_call_at"].is_string(), "{status}");

    // Every exam to come: a table, or --json items with the forecast.
    let table = server.cli(&["provisioning", "status"]).ok();
    assert!(table.stdout.starts_with("EXAM "), "{}", table.stdout);
    assert!(table.stdout.contains("SHORTFALL"), "{}", table.stdout);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with(&exam_id))
        .unwrap_or_else(|| panic!("no row for the exam:\n{}", table.stdout));
    assert!(row.ends_with("Chemistry"), "{row}");
    assert!(
        table.stderr.contains("--cloud-url"),
        "says nothing is started: {}",
        table.stderr
    );
    let items = server
        .cli(&["provisioning", "status", "--json"])
        .ok()
        .json();
    assert_eq!(items["items"][0]["exam_id"], exam_id.as_str(), "{items}");
    assert_eq!(items["items"][0]["predicted_ready_at_start"], 5, "{items}");

    // The plan: one run of 5 start calls, shortly before the deadline.
    let plan = server.cli(&["provisioning", "plan"]).ok();
    let lines: Vec<&str> = plan.stdout.lines().collect();
    assert!(lines[0].starts_with("WHEN "), "{}", plan.stdout);
    assert_eq!(lines.len(), 2, "{}", plan.stdout);
    assert!(lines[1].contains(" start "), "{}", plan.stdout);
    assert!(lines[1].contains(" 5 "), "{}", plan.stdout);
    assert!(lines[1].contains(" 0-4 "), "{}", plan.stdout);
    assert!(lines[1].ends_with("Chemistry"), "{}", plan.stdout);
    let doc = server
        .cli(&["provisioning", "plan", "--to", "+4h", "--json"])
        .ok()
        .json();
    assert_eq!(doc["exams"][0]["starts"][0]["count"], 5, "{doc}");
    assert_eq!(doc["exams"][0]["starts"][0]["step_seconds"], 6.0, "{doc}");
    assert_eq!(doc["truncated"], false, "{doc}");
    let later = server.cli(&["provisioning", "plan", "--from", "+4h"]).ok();
    assert_eq!(later.stdout, "no planned calls\n");

    // Refused by the server (exit 1, saying why) or by the command line
    // before anything is sent (exit 2).
    let backwards = server.cli(&["provisioning", "plan", "--from", "+2h", "--to", "+1h"]);
    assert_eq!(backwards.code, 1, "{}", backwards.stderr);
    assert!(backwards.stderr.contains("after"), "{}", backwards.stderr);
    let unknown = server.cli(&[
        "provisioning",
        "status",
        "0197a3c2-8f00-7000-8000-000000000000",
    ]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    let malformed = server.cli(&["provisioning", "status", "not-an-id"]);
    assert_eq!(malformed.code, 1, "{}", malformed.stderr);
    assert!(
        malformed.stderr.contains("not-an-id"),
        "{}",
        malformed.stderr
    );
    for bad in [
        &["provisioning", "status", "../tokens"][..],
        &["provisioning", "plan", "--from", "soon"],
        &["provisioning", "plan", "--to", "2030-06-03T08:00:00"],
        &["provisioning", "stats"],
    ] {
        let out = server.cli(bad);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
    }
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
