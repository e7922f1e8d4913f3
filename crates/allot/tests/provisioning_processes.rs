//! Provisioning as operators run it: `allot sim cloud` and `allot serve` as
//! separate processes, a fast provider profile, exams inserted straight
//! into the `exams` table with SQL (as other applications do), `allot
//! serve` killed with SIGKILL in the middle of provisioning and started
//! again; then the simulator's `GET /vms` is audited against the ledger:
//! every VM is tied to an exam slot, no slot got two VMs, every VM was
//! ready by its exam's start and stopped after its end, none leaked.
//!
//! These run on the wall clock (a few tens of seconds each): the point is
//! the real processes. The PostgreSQL variant skips (with one line) when
//! no PostgreSQL is available, unless ALLOT_REQUIRE_POSTGRES=1.

#[macro_use]
#[path = "common/process.rs"]
mod process;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use allot::store::{DbId, DbTime};
use jiff::{SignedDuration, Timestamp};
use process::{AuditDb, Launch, Scratch};
use serde_json::Value;
use uuid::Uuid;

/// 20 VMs a second, 30 requests a second: a 70-VM morning in 3.5 s.
const VMS_PER_MINUTE: &str = "1200";
const REQUESTS_PER_SECOND: &str = "30";
/// Covers a restart, which waits for the killed process's lease (10 s).
const MARGIN: &str = "15s";

/// `allot sim cloud` as a child process, killed on drop.
struct Cloud {
    child: Child,
    url: String,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cloud {
    fn start() -> Cloud {
        let mut child = Command::new(env!("CARGO_BIN_EXE_allot"))
            .args(["sim", "cloud", "--listen", "127.0.0.1:0", "--seed", "5"])
            .args(["--vms-per-minute", VMS_PER_MINUTE])
            .args(["--requests-per-second", REQUESTS_PER_SECOND])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start allot sim cloud");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).expect("a first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .trim_end_matches(['.', ','])
            .to_owned();
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Cloud { child, url }
    }

    async fn vms(&self) -> Vec<Value> {
        let body: Value = reqwest::get(format!("{}/vms", self.url))
            .await
            .expect("GET /vms")
            .json()
            .await
            .expect("json");
        body["vms"].as_array().cloned().unwrap_or_default()
    }

    async fn rate_limited(&self) -> u64 {
        let stats: Value = reqwest::get(format!("{}/stats", self.url))
            .await
            .expect("GET /stats")
            .json()
            .await
            .expect("json");
        stats["start"]["rate_limited"].as_u64().unwrap_or(0)
            + stats["stop"]["rate_limited"].as_u64().unwrap_or(0)
    }
}

fn time(v: &Value) -> Option<Timestamp> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// Inserts an exam with plain SQL, as another application would.
async fn insert_exam(
    db: &AuditDb,
    name: &str,
    start: Timestamp,
    end: Timestamp,
    students: i32,
) -> Uuid {
    let id = Uuid::now_v7();
    match db {
        AuditDb::Postgres(p) => {
            sqlx::query("INSERT INTO exams (id, name, start_at, end_at, students) VALUES ($1, $2, $3, $4, $5)")
                .bind(DbId(id))
                .bind(name)
                .bind(DbTime(start))
                .bind(DbTime(end))
                .bind(students)
                .execute(p)
                .await
                .expect("insert exam");
        }
        AuditDb::Sqlite(p) => {
            // The documented text forms: lowercase UUID, UTC with six digits.
            let text = |t: Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            sqlx::query("INSERT INTO exams (id, name, start_at, end_at, students) VALUES (?1, ?2, ?3, ?4, ?5)")
                .bind(id.to_string())
                .bind(name)
                .bind(text(start))
                .bind(text(end))
                .bind(students)
                .execute(p)
                .await
                .expect("insert exam");
        }
    }
    id
}

/// (idempotency key, exam, slot, vm id) of every ledger row.
async fn ledger(db: &AuditDb) -> Vec<(String, Uuid, i32, Option<Uuid>, String)> {
    let sql = "SELECT idempotency_key, exam_id, slot, vm_id, state FROM provisioning_vms";
    let rows: Vec<(String, DbId, i32, Option<DbId>, String)> =
        on_pool!(db, p => sqlx::query_as(sql).fetch_all(p).await).expect("ledger");
    rows.into_iter()
        .map(|(k, e, s, v, st)| (k, e.0, s, v.map(|v| v.0), st))
        .collect()
}

async fn run(url: &str, dir: &Scratch) {
    let cloud = Cloud::start();
    let launch = Launch::new("serve", &dir.path, url)
        .env("ALLOT_CLOUD_URL", &cloud.url)
        .env("ALLOT_CLOUD_VMS_PER_MINUTE", VMS_PER_MINUTE)
        .env("ALLOT_CLOUD_REQUESTS_PER_SECOND", REQUESTS_PER_SECOND)
        .env("ALLOT_PROVISIONING_MARGIN", MARGIN);
    let mut serve = launch.start().await;
    assert!(
        serve
            .stdout()
            .iter()
            .any(|l| l.contains("provisioning: VMs through the cloud at")),
        "says the executor runs: {:?}",
        serve.stdout()
    );
    let db = AuditDb::open(url).await;
    let t0 = Timestamp::now();
    let s = |secs: i64| t0 + SignedDuration::from_secs(secs);
    let exams = [
        ("morning", s(35), s(40), 40),
        ("overlapping", s(38), s(43), 30),
    ];
    let mut ids = HashMap::new();
    for (name, start, end, students) in exams {
        ids.insert(
            insert_exam(&db, name, start, end, students).await,
            (start, end, students),
        );
    }

    // Kill it in the middle of provisioning.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let started = cloud.vms().await.len();
        if started >= 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no VM started: {}",
            serve.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.kill_now();
    let at_kill = cloud.vms().await.len();
    assert!(
        at_kill < 70,
        "killed after everything was started ({at_kill})"
    );
    let mut serve = launch.start().await;

    // Wait for the last exam to end and its VMs to be stopped.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let vms = cloud.vms().await;
        if vms.len() == 70 && vms.iter().all(|v| !v["stopped_at"].is_null()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all started and stopped: {} VMs\n{}",
            vms.len(),
            serve.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The audit.
    let vms = cloud.vms().await;
    let rows = ledger(&db).await;
    let by_key: HashMap<&str, _> = rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut slots = HashSet::new();
    let mut per_exam: HashMap<Uuid, usize> = HashMap::new();
    for vm in &vms {
        let key = vm["idempotency_key"].as_str().expect("every VM has a key");
        let row = by_key
            .get(key)
            .unwrap_or_else(|| panic!("VM {vm} is not in the ledger"));
        assert_eq!(
            row.3.map(|v| v.to_string()),
            vm["id"].as_str().map(str::to_owned),
            "{key}"
        );
        assert_eq!(row.4, "stopped", "{key}");
        assert!(
            slots.insert((row.1, row.2)),
            "slot {} of {} started twice",
            row.2,
            row.1
        );
        let (start, end, _) = ids[&row.1];
        let ready = time(&vm["ready_at"]).expect("ready_at");
        let stopped = time(&vm["stopped_at"]).expect("stopped_at");
        assert!(
            ready <= start,
            "{key} ready at {ready}, after the start {start}"
        );
        assert!(
            stopped >= end,
            "{key} stopped at {stopped}, before the end {end}"
        );
        *per_exam.entry(row.1).or_default() += 1;
    }
    for (id, (_, _, students)) in &ids {
        assert_eq!(
            per_exam.get(id).copied().unwrap_or(0),
            *students as usize,
            "exam {id}"
        );
    }
    assert_eq!(cloud.rate_limited().await, 0, "no 429 in normal operation");
    let metrics = reqwest::get(format!("{}/metrics", serve.api().base))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    for name in [
        "allot_provisioning_calls_total",
        "allot_provisioning_vms",
        "allot_provisioning_predicted_shortfall",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    let log = serve.stderr();
    serve.terminate(Duration::from_secs(30)).await;
    db.close().await;
    // The restarted executor resumed from the ledger.
    assert!(log.contains("provisioning: executing"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_against_the_simulator_survives_sigkill_on_sqlite() {
    let dir = Scratch::new("prov-sqlite");
    run(&dir.sqlite_url(), &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_against_the_simulator_survives_sigkill_on_postgres() {
    let dir = Scratch::new("prov-pg");
    let Some(url) = allot::testing::fresh_postgres().await else {
        return;
    };
    run(&url, &dir).await;
}
