//! The jobs engine as operators meet it: real `allot serve` processes,
//! stopped with SIGTERM, crashed with SIGKILL, restarted, and run as two
//! replicas on one PostgreSQL; then the database is audited directly for
//! duplicated, lost, or stuck runs.
//!
//! The PostgreSQL variants skip (with one `SKIPPED` line) when no PostgreSQL
//! is available, unless ALLOT_REQUIRE_POSTGRES=1. `ALLOT_LONG_TESTS=1`
//! runs the replica test for a full minute instead of 15 s.

#[macro_use]
#[path = "common/process.rs"]
mod process;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use allot::store::{DbId, DbTime};
use allot_kernel::jobs::decide::SkipReason;
use jiff::{SignedDuration, Timestamp};
use process::{AuditDb, Launch, Scratch};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

/// The timing-sensitive tests (many runs per second, crash windows) take
/// turns, so they do not steal each other's CPU on a small CI machine.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL for the backend (SQLite inside `dir`), or None when
/// PostgreSQL is skipped.
async fn database(backend: Backend, dir: &Scratch) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(dir.sqlite_url()),
        Backend::Postgres => allot::testing::fresh_postgres().await,
    }
}

fn parse_id(v: &Value) -> Uuid {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a UUID: {v}"))
}

fn parse_time(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

/// One execution row, as the audit reads it.
#[derive(Debug, Clone)]
struct Row {
    id: Uuid,
    task_id: Uuid,
    scheduled_for: Timestamp,
    trigger: String,
    status: String,
    started_at: Option<Timestamp>,
    error: Option<String>,
    node_id: Option<Uuid>,
}

type RawRow = (
    DbId,
    DbId,
    DbTime,
    String,
    String,
    Option<DbTime>,
    Option<String>,
    Option<DbId>,
);

async fn all_executions(db: &AuditDb) -> Vec<Row> {
    let rows: Vec<RawRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, task_id, scheduled_for, trigger, status, started_at, error, node_id \
             FROM executions ORDER BY task_id, scheduled_for",
        )
        .fetch_all(pool)
        .await
    })
    .expect("read executions");
    rows.into_iter()
        .map(
            |(id, task, at, trigger, status, started, error, node)| Row {
                id: id.0,
                task_id: task.0,
                scheduled_for: at.0,
                trigger,
                status,
                started_at: started.map(|t| t.0),
                error,
                node_id: node.map(|n| n.0),
            },
        )
        .collect()
}

/// (task_id, scheduled_for, count) for every key recorded more than once.
async fn duplicate_keys(db: &AuditDb) -> Vec<(DbId, DbTime, i64)> {
    on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT task_id, scheduled_for, count(*) FROM executions \
             GROUP BY task_id, scheduled_for HAVING count(*) > 1",
        )
        .fetch_all(pool)
        .await
    })
    .expect("duplicate query")
}

/// Per task: next_run_at and running_execution_id.
async fn task_states(db: &AuditDb) -> HashMap<Uuid, (Option<Timestamp>, Option<Uuid>)> {
    let rows: Vec<(DbId, Option<DbTime>, Option<DbId>)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT id, next_run_at, running_execution_id FROM tasks")
            .fetch_all(pool)
            .await
    })
    .expect("read tasks");
    rows.into_iter()
        .map(|(id, next, running)| (id.0, (next.map(|t| t.0), running.map(|r| r.0))))
        .collect()
}

/// The ids of executions the database shows `running`.
async fn running_ids(db: &AuditDb) -> Vec<Uuid> {
    let rows: Vec<(DbId,)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT id FROM executions WHERE status = 'running'")
            .fetch_all(pool)
            .await
    })
    .expect("read running executions");
    rows.into_iter().map(|r| r.0.0).collect()
}

async fn counters(db: &AuditDb) -> HashMap<String, i64> {
    let rows: Vec<(String, i64)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT name, value FROM counters")
            .fetch_all(pool)
            .await
    })
    .expect("read counters");
    rows.into_iter().collect()
}

async fn execution_by_id(db: &AuditDb, id: Uuid) -> Row {
    all_executions(db)
        .await
        .into_iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("execution {id} is not in the database"))
}

/// What the schedule audit found; every list should be empty.
#[derive(Debug, Default)]
struct ScheduleAudit {
    executions: usize,
    by_status: BTreeMap<String, usize>,
    /// Runs (not skips) per node.
    by_node: BTreeMap<Uuid, usize>,
    duplicates: usize,
    /// Missing steps, and rows off the task's anchor + k·interval grid.
    gaps: Vec<String>,
    missing_steps: u64,
    still_running: Vec<Uuid>,
    /// Tasks whose next_run_at is not after their last scheduled time.
    stale_next: Vec<String>,
    tasks_still_marked_running: Vec<Uuid>,
    misfire_skips: usize,
    overlap_skips: usize,
    /// Start lateness (started_at − scheduled_for) of scheduled runs, ms.
    lateness_ms: Vec<i64>,
}

impl ScheduleAudit {
    fn lateness(&self, quantile: f64) -> i64 {
        if self.lateness_ms.is_empty() {
            return 0;
        }
        let mut l = self.lateness_ms.clone();
        l.sort_unstable();
        let i = ((l.len() - 1) as f64 * quantile).round() as usize;
        l[i]
    }

    fn summary(&self) -> String {
        let nodes: Vec<String> = self
            .by_node
            .iter()
            .map(|(n, c)| format!("{}…={c}", &n.simple().to_string()[24..]))
            .collect();
        format!(
            "executions={} statuses={:?} runs_per_node=[{}] duplicates={} gaps={} (missing steps {}) \
             still_running={} stale_next_run_at={} misfire_skips={} overlap_skips={} \
             start_lateness_ms p50={} p99={} max={}",
            self.executions,
            self.by_status,
            nodes.join(", "),
            self.duplicates,
            self.gaps.len(),
            self.missing_steps,
            self.still_running.len(),
            self.stale_next.len(),
            self.misfire_skips,
            self.overlap_skips,
            self.lateness(0.5),
            self.lateness(0.99),
            self.lateness(1.0),
        )
    }
}

/// Audits the scheduled runs of `anchors` (task id → first run time), all
/// on one `interval`: one row per (task, time), every step from the anchor
/// to the last recorded time present, nothing left running, next_run_at
/// after the last time.
async fn audit_schedule(
    db: &AuditDb,
    anchors: &HashMap<Uuid, Timestamp>,
    interval: Duration,
) -> (ScheduleAudit, Vec<Row>) {
    let rows = all_executions(db).await;
    let tasks = task_states(db).await;
    let step = SignedDuration::try_from(interval).expect("interval fits");
    let misfire = SkipReason::Misfire.to_string();
    let overlap = SkipReason::Overlap.to_string();
    let mut a = ScheduleAudit {
        executions: rows.len(),
        duplicates: duplicate_keys(db).await.len(),
        ..Default::default()
    };
    let mut per_task: HashMap<Uuid, Vec<&Row>> = HashMap::new();
    for r in &rows {
        *a.by_status.entry(r.status.clone()).or_default() += 1;
        match r.status.as_str() {
            "skipped" => {
                let e = r.error.as_deref().unwrap_or_default();
                if e.starts_with(&misfire) {
                    a.misfire_skips += 1;
                } else if e.starts_with(&overlap) {
                    a.overlap_skips += 1;
                }
            }
            "running" => a.still_running.push(r.id),
            _ => {
                if let Some(node) = r.node_id {
                    *a.by_node.entry(node).or_default() += 1;
                }
            }
        }
        if r.trigger == "schedule" {
            if let Some(started) = r.started_at {
                a.lateness_ms
                    .push(started.duration_since(r.scheduled_for).as_millis() as i64);
            }
            per_task.entry(r.task_id).or_default().push(r);
        }
    }
    for (task, anchor) in anchors {
        let times: Vec<Timestamp> = per_task
            .get(task)
            .map(|rs| rs.iter().map(|r| r.scheduled_for).collect())
            .unwrap_or_default();
        let Some(last) = times.last().copied() else {
            a.gaps
                .push(format!("task {task}: no scheduled execution at all"));
            continue;
        };
        if times[0] != *anchor {
            a.gaps.push(format!(
                "task {task}: first scheduled run {} is not its anchor {anchor}",
                times[0]
            ));
        }
        for pair in times.windows(2) {
            let d = pair[1].duration_since(pair[0]);
            if d != step {
                let missing = (d.as_micros() / step.as_micros()).max(1) as u64 - 1;
                a.missing_steps += missing;
                a.gaps.push(format!(
                    "task {task}: {} then {} ({missing} steps missing)",
                    pair[0], pair[1]
                ));
            }
        }
        match tasks.get(task) {
            Some((next, running)) => {
                if !next.is_some_and(|n| n > last) {
                    a.stale_next.push(format!(
                        "task {task}: next_run_at {next:?} is not after its last run {last}"
                    ));
                }
                if running.is_some() {
                    a.tasks_still_marked_running.push(*task);
                }
            }
            None => a
                .stale_next
                .push(format!("task {task}: missing from tasks")),
        }
    }
    (a, rows)
}

// ---------------------------------------------------------------------------
// 1. SIGTERM lets a run in progress finish.

async fn graceful_shutdown_lets_runs_finish(backend: Backend) {
    let dir = Scratch::new("graceful");
    let Some(url) = database(backend, &dir).await else {
        return;
    };
    let mut server = Launch::new("serve", &dir.path, &url).start().await;
    let api = server.api().clone();
    let task = api
        .create_task(&json!({
            "name": "one-and-a-half-seconds",
            "kind": "sleep",
            "params": {"duration": "1500ms"},
            "schedule": {"every": "1h"},
        }))
        .await;
    let task_id = parse_id(&task["id"]);
    let (status, execution) = api
        .post(&format!("/v1/tasks/{task_id}/run"), &json!({}))
        .await;
    assert_eq!(status, 202, "{execution}");
    assert_eq!(execution["status"], "running", "{execution}");
    let execution_id = parse_id(&execution["id"]);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let took = server.terminate(Duration::from_secs(20)).await;
    // The run had ~1.2 s left: the process waited for it, and not much more.
    assert!(
        took >= Duration::from_millis(900),
        "exited after {took:?}: did it wait for the run?\n{}",
        server.stderr()
    );
    assert!(took < Duration::from_secs(10), "exit took {took:?}");

    let db = AuditDb::open(&url).await;
    let row = execution_by_id(&db, execution_id).await;
    assert_eq!(row.status, "succeeded", "{row:?}\n{}", server.stderr());
    let output: (Option<Json<Value>>, Option<DbTime>) = on_pool!(&db, pool => {
        sqlx::query_as("SELECT output, finished_at FROM executions WHERE id = $1")
            .bind(DbId(execution_id))
            .fetch_one(pool)
            .await
    })
    .expect("read the execution");
    let slept = output.0.as_ref().and_then(|o| o.0["slept_ms"].as_u64());
    assert!(slept.is_some_and(|ms| ms >= 1500), "output {:?}", output.0);
    let ran = output
        .1
        .expect("finished_at is set")
        .0
        .duration_since(row.started_at.expect("started_at is set"));
    assert!(ran >= SignedDuration::from_millis(1500), "ran {ran:?}");
    let (_, running) = task_states(&db).await[&task_id];
    assert_eq!(running, None, "the task is still marked running");
    let stopped: Vec<(Option<DbTime>,)> = on_pool!(&db, pool => {
        sqlx::query_as("SELECT stopped_at FROM nodes").fetch_all(pool).await
    })
    .expect("read nodes");
    assert!(
        stopped.iter().all(|(s,)| s.is_some()),
        "the node did not record its stop: {stopped:?}"
    );
    db.close().await;
    println!(
        "graceful shutdown ({backend:?}): exit 0 after {took:?}; the run succeeded after {ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_runs_finish_sqlite() {
    graceful_shutdown_lets_runs_finish(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_runs_finish_postgres() {
    graceful_shutdown_lets_runs_finish(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------
// 2. When the grace runs out, runs are interrupted and their tasks freed.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_grace_expiry_interrupts_runs() {
    let dir = Scratch::new("grace");
    let url = dir.sqlite_url();
    let launch = Launch::new("serve", &dir.path, &url).args(&["--shutdown-grace", "500ms"]);
    let mut server = launch.start().await;
    let api = server.api().clone();
    let task = api
        .create_task(&json!({
            "name": "thirty-seconds",
            "kind": "sleep",
            "params": {"duration": "30s"},
            "schedule": {"every": "1h"},
        }))
        .await;
    let task_id = parse_id(&task["id"]);
    let (status, execution) = api
        .post(&format!("/v1/tasks/{task_id}/run"), &json!({}))
        .await;
    assert_eq!(status, 202, "{execution}");
    let execution_id = parse_id(&execution["id"]);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let took = server.terminate(Duration::from_secs(15)).await;
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "exit took {took:?} with a 500ms grace"
    );
    drop(server);

    let db = AuditDb::open(&url).await;
    let row = execution_by_id(&db, execution_id).await;
    assert_eq!(row.status, "interrupted", "{row:?}");
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("shut down")),
        "interrupted without a reason: {row:?}"
    );
    let (_, running) = task_states(&db).await[&task_id];
    assert_eq!(running, None, "the task is still marked running");
    db.close().await;

    // A new server accepts a run of the task: it is not stuck "running".
    let mut again = Launch::new("restarted", &dir.path, &url)
        .args(&["--shutdown-grace", "500ms"])
        .start()
        .await;
    let (status, body) = again
        .api()
        .post(&format!("/v1/tasks/{task_id}/run"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    again.terminate(Duration::from_secs(15)).await;
    println!("grace expiry: exit 0 after {took:?}; the run was interrupted; the task ran again");
}

// ---------------------------------------------------------------------------
// 3. SIGKILL mid-run, downtime, restart: nothing lost, nothing twice.

async fn crash_mid_run_loses_nothing_and_duplicates_nothing(backend: Backend) {
    let _turn = HEAVY.lock().await;
    let dir = Scratch::new("crash");
    let Some(url) = database(backend, &dir).await else {
        return;
    };
    let launch = |name: &str| Launch::new(name, &dir.path, &url).env("ALLOT_NODE_LEASE", "2s");
    let mut first = launch("first").start().await;
    let api = first.api().clone();
    let mut anchors = HashMap::new();
    let mut counter_tasks = Vec::new();
    for i in 0..25 {
        let body = if i < 20 {
            json!({"name": format!("sleep-{i}"), "kind": "sleep",
                   "params": {"duration": "300ms"}, "schedule": {"every": "1s"}})
        } else {
            json!({"name": format!("counter-{i}"), "kind": "counter", "schedule": {"every": "1s"}})
        };
        let task = api.create_task(&body).await;
        let id = parse_id(&task["id"]);
        anchors.insert(id, parse_time(&task["schedule"]["start_at"]));
        if i >= 20 {
            counter_tasks.push(id);
        }
    }
    let db = AuditDb::open(&url).await;

    // Run ~4 s, then crash while sleep runs are in flight (they run 300 ms
    // of every second, all in phase): watch for one, then SIGKILL.
    tokio::time::sleep(Duration::from_millis(3700)).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while running_ids(&db).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The tasks' anchors spread over their creation: let the rest start too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.kill_now();
    let killed_at = Timestamp::now();
    // A COMMIT the process sent just before dying still lands on the
    // server (a finish batch recording a run's end did, once): let the
    // database settle before reading which runs the crash cut short.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = running_ids(&db).await;
    let before_crash = all_executions(&db).await.len();

    // Downtime, then a new process on the same database.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarted_at = Timestamp::now();
    let mut second = launch("second").start().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    second.terminate(Duration::from_secs(20)).await;

    let (audit, rows) = audit_schedule(&db, &anchors, Duration::from_secs(1)).await;
    println!(
        "crash audit ({backend:?}): {} executions before the crash, {} in flight at SIGKILL; {}",
        before_crash,
        in_flight.len(),
        audit.summary()
    );
    // (a) one row per (task, scheduled time).
    assert_eq!(audit.duplicates, 0, "duplicate executions");
    // (b) nothing left running, no task still marked running.
    assert!(
        audit.still_running.is_empty(),
        "executions left running: {:?}",
        audit.still_running
    );
    assert!(
        audit.tasks_still_marked_running.is_empty(),
        "tasks still marked running: {:?}",
        audit.tasks_still_marked_running
    );
    // (c) the runs the crash cut short are recorded interrupted.
    if in_flight.is_empty() {
        println!("note: no run was in flight at the SIGKILL; (c) not checked this time");
    }
    for id in &in_flight {
        let row = rows
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("in-flight execution {id} vanished"));
        assert_eq!(row.status, "interrupted", "{row:?}");
        assert!(
            row.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{row:?}"
        );
    }
    // (d) every scheduled second is accounted for, from the anchor on.
    assert!(audit.gaps.is_empty(), "lost runs: {:#?}", audit.gaps);
    // The times missed while down are recorded skipped, then one catch-up
    // run (misfire run_once). A task whose run the crash cut short may
    // instead have had them skipped as overlapping that run, if the new
    // claim loop saw it before the rescuer interrupted the run.
    let cut_short: Vec<Uuid> = rows
        .iter()
        .filter(|r| in_flight.contains(&r.id))
        .map(|r| r.task_id)
        .collect();
    let misfire = SkipReason::Misfire.to_string();
    for task in anchors.keys() {
        let after: Vec<&Row> = rows
            .iter()
            .filter(|r| r.task_id == *task && r.trigger == "schedule")
            .filter(|r| r.scheduled_for > killed_at)
            .collect();
        let first_run = after
            .iter()
            .position(|r| r.status != "skipped")
            .unwrap_or_else(|| panic!("task {task} never ran after the restart: {after:#?}"));
        assert!(
            first_run >= 2,
            "task {task}: the downtime left only {first_run} skipped rows: {after:#?}"
        );
        if !cut_short.contains(task) {
            assert!(
                after[..first_run]
                    .iter()
                    .all(|r| r.error.as_deref().is_some_and(|e| e.starts_with(&misfire))),
                "task {task}: downtime not recorded as misfires: {after:#?}"
            );
        }
        let in_downtime = |r: &&&Row| r.scheduled_for <= restarted_at;
        let runs = after
            .iter()
            .filter(in_downtime)
            .filter(|r| r.status != "skipped")
            .count();
        assert!(
            runs <= 1,
            "task {task}: {runs} runs for the downtime, at most one catch-up expected: {after:#?}"
        );
        assert!(
            after[first_run..]
                .iter()
                .all(|r| !r.error.as_deref().is_some_and(|e| e.starts_with(&misfire))),
            "task {task}: runs missed while the new server was up: {after:#?}"
        );
    }
    // (e) each task will run again after its last recorded time.
    assert!(audit.stale_next.is_empty(), "{:#?}", audit.stale_next);
    // Counter increments: each succeeded run counted once; an interrupted
    // run may or may not have counted before the crash.
    let values = counters(&db).await;
    for task in &counter_tasks {
        let of = |status: &str| {
            rows.iter()
                .filter(|r| r.task_id == *task && r.status == status)
                .count() as i64
        };
        let (ok, cut) = (of("succeeded"), of("interrupted"));
        let value = values.get(&task.to_string()).copied().unwrap_or(0);
        assert!(
            ok <= value && value <= ok + cut,
            "counter {task} = {value}, but {ok} runs succeeded and {cut} were interrupted"
        );
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_run_loses_nothing_and_duplicates_nothing_sqlite() {
    crash_mid_run_loses_nothing_and_duplicates_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_run_loses_nothing_and_duplicates_nothing_postgres() {
    crash_mid_run_loses_nothing_and_duplicates_nothing(Backend::Postgres).await;
}

/// A task whose run died with the crashed process has its downtime judged
/// as missed runs (misfire: one catch-up run), not as overlaps: the restarted
/// server frees the dead node's runs before its first claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_cut_run_gets_its_misfire_catch_up() {
    let _turn = HEAVY.lock().await;
    let dir = Scratch::new("catch-up");
    let url = dir.sqlite_url();
    let launch = |name: &str| {
        Launch::new(name, &dir.path, &url)
            .env("ALLOT_NODE_LEASE", "1s")
            .args(&["--shutdown-grace", "200ms"])
    };
    let mut first = launch("first").start().await;
    let task = first
        .api()
        .create_task(&json!({"name": "long", "kind": "sleep",
                             "params": {"duration": "30s"}, "schedule": {"every": "1s"}}))
        .await;
    let task_id = parse_id(&task["id"]);
    let db = AuditDb::open(&url).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while running_ids(&db).await.is_empty() {
        assert!(Instant::now() < deadline, "the task never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill_now();
    let killed_at = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarted_at = Timestamp::now();
    let mut second = launch("second").start().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.terminate(Duration::from_secs(10)).await;

    let misfire = SkipReason::Misfire.to_string();
    let downtime: Vec<Row> = all_executions(&db)
        .await
        .into_iter()
        .filter(|r| r.task_id == task_id)
        .filter(|r| r.scheduled_for > killed_at && r.scheduled_for <= restarted_at)
        .collect();
    db.close().await;
    assert!(downtime.len() >= 2, "{downtime:#?}");
    assert!(
        downtime.iter().all(|r| r.status != "skipped"
            || r.error.as_deref().is_some_and(|e| e.starts_with(&misfire))),
        "the downtime should be recorded as missed (misfire), not as overlapping \
         the dead process's run: {downtime:#?}"
    );
}

// ---------------------------------------------------------------------------
// 4. Two replicas on one PostgreSQL share the work, each run exactly once.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_work_without_duplicates() {
    let _turn = HEAVY.lock().await;
    let dir = Scratch::new("replicas");
    let Some(url) = allot::testing::fresh_postgres().await else {
        return;
    };
    let long = std::env::var("ALLOT_LONG_TESTS").as_deref() == Ok("1");
    let run_for = Duration::from_secs(if long { 60 } else { 15 });
    const TASKS: usize = 200;

    // One after the other, so the migrations run once.
    let mut a = Launch::new("replica-a", &dir.path, &url).start().await;
    let mut b = Launch::new("replica-b", &dir.path, &url).start().await;
    let apis = [a.api().clone(), b.api().clone()];
    let mut anchors = HashMap::new();
    for i in 0..TASKS {
        let task = apis[i % 2]
            .create_task(&json!({
                "name": format!("noop-{i}"),
                "kind": "sleep",
                "params": {"duration": "0s"},
                "schedule": {"every": "1s"},
            }))
            .await;
        anchors.insert(
            parse_id(&task["id"]),
            parse_time(&task["schedule"]["start_at"]),
        );
    }
    tokio::time::sleep(run_for).await;
    // Both at once; each must exit 0.
    a.signal("TERM");
    b.signal("TERM");
    for server in [&mut a, &mut b] {
        let status = server
            .wait_exit(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{} did not exit after SIGTERM", server.name));
        assert!(status.success(), "{} exited with {status}", server.name);
    }

    let db = AuditDb::open(&url).await;
    let (audit, _) = audit_schedule(&db, &anchors, Duration::from_secs(1)).await;
    db.close().await;
    println!(
        "two replicas, {TASKS} tasks every 1s for {run_for:?}: {}",
        audit.summary()
    );
    assert_eq!(audit.duplicates, 0, "duplicate executions");
    assert!(audit.gaps.is_empty(), "missed runs: {:#?}", audit.gaps);
    assert!(
        audit.still_running.is_empty() && audit.tasks_still_marked_running.is_empty(),
        "runs left running after a graceful stop"
    );
    assert!(audit.stale_next.is_empty(), "{:#?}", audit.stale_next);
    assert_eq!(
        audit.by_node.len(),
        2,
        "both replicas should have run executions: {:?}",
        audit.by_node
    );
    // Both were up the whole time: no run may count as missed.
    assert_eq!(audit.misfire_skips, 0, "runs skipped as missed while up");
    let expected = TASKS as u64 * (run_for.as_secs() - 2);
    assert!(
        audit.executions as u64 >= expected,
        "only {} executions; expected at least {expected}",
        audit.executions
    );
}

// ---------------------------------------------------------------------------
// 5. SQLite is single-process.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_a_second_process() {
    let dir = Scratch::new("lock");
    let url = dir.sqlite_url();
    let first = Launch::new("first", &dir.path, &url).start().await;
    let started = Instant::now();
    let mut second = Launch::new("second", &dir.path, &url).spawn();
    let status = second
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the second process should exit on its own");
    let took = started.elapsed();
    let stderr = second.stderr();
    assert!(!status.success(), "the second process exited with {status}");
    assert!(took < Duration::from_secs(10), "refusing took {took:?}");
    assert!(
        stderr.contains("is in use by another allot process"),
        "stderr does not say why: {stderr}"
    );
    assert!(
        second.stdout().iter().all(|l| !l.contains("listening")),
        "the second process listened: {:?}",
        second.stdout()
    );
    let (code, _) = first.api().get("/v1/tasks").await;
    assert_eq!(code, 200, "the first server should be unaffected");
    println!("second process refused in {took:?} with {status}");
}
