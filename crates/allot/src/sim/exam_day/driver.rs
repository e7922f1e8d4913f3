//! Runs a [`Scenario`] through the executor against the cloud simulator.
//!
//! Everything runs in this process on one [`ManualClock`], shared by the
//! simulator and the executor: a private SQLite database in a temporary
//! folder (deleted at the end), migrated like a server's; the exams
//! table written with its store functions at each scenario change and
//! re-read into the `watch` channel the executor follows, as the exam
//! watcher would; the executor stepped, and the clock moved to the
//! earlier of its next wake-up and the next scenario change. A step never
//! sleeps, so the day takes as long as the work in it (HTTP calls on
//! loopback and ledger writes), not as long as the day.
//!
//! After every step the planner's forecasts are recorded: the first one of
//! each exam (when it became known), every change of its predicted VMs on
//! time, and the last one before its deadline. The run ends when every
//! exam is over and every VM the simulator made is stopped (or 12 hours
//! after the last exam, when something was left running: the report then
//! counts it as leaked). Then the simulator's VMs are audited against the
//! ledger and measured.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allot_kernel::provisioning::Forecast;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use uuid::Uuid;

use super::ExamDayConfig;
use super::report::{self, CancelledReport, ExamReport, PredictionChange, ProviderReport, Report};
use super::scenario::{Scenario, ScenarioError, generate};
use crate::clock::{Clock, ManualClock, SharedClock};
use crate::provisioning::cloud::CloudClient;
use crate::provisioning::executor::{Executor, ExecutorConfig};
use crate::provisioning::ledger::{self, LedgerFilter};
use crate::provisioning::publish::Publisher;
use crate::provisioning::store::{self, ExamRow};
use crate::provisioning::watch::ExamSnapshot;
use crate::sim::cloud::{CloudConfig, VmView};
use crate::store::{ConnectError, Db, DbOptions};

/// Steps after which a run is taken to be stuck (a 30-exam day takes
/// about 35,000).
const MAX_STEPS: u64 = 20_000_000;
/// How long after the last exam's end the run waits for the last stop.
const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(12);

/// Why a simulation could not run (not: why it went badly; that is the
/// report's verdict).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("the simulation's database: {0}")]
    Connect(#[from] ConnectError),
    #[error("the simulation's database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the simulation's files or sockets: {0}")]
    Io(#[from] std::io::Error),
    #[error("the cloud client: {0}")]
    Cloud(String),
    #[error("the executor made no progress: {0}")]
    Stuck(String),
}

/// The ready VMs of one exam over the day, for the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub needed: u32,
    pub ready_at_start: u32,
    pub cancelled: bool,
    /// (instant, ready VMs from then on), in time order; starts at zero.
    pub points: Vec<(Timestamp, u32)>,
}

/// What a run gives: the report, the chart's data, and how long it took.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub series: Vec<Series>,
    /// Wall-clock time of the run (not part of the report, which depends
    /// on the seed alone).
    pub elapsed: Duration,
}

/// Generates the day of `config` and runs it.
pub async fn simulate(config: &ExamDayConfig) -> Result<Outcome, SimError> {
    let scenario = generate(&config.scenario)?;
    run(config, &scenario).await
}

/// Runs `scenario` on the provider of `config`.
pub async fn run(config: &ExamDayConfig, scenario: &Scenario) -> Result<Outcome, SimError> {
    let started = Instant::now();
    let dir = TempDir::new()?;
    let url = format!("sqlite://{}", dir.path().join("exam-day.db").display());
    let db = Db::connect(&url, &DbOptions::default()).await?;
    let result = drive(config, scenario, &db).await;
    db.close().await;
    drop(db);
    drop(dir);
    let (report, series) = result?;
    Ok(Outcome {
        report,
        series,
        elapsed: started.elapsed(),
    })
}

/// A folder under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!(
            "allot-exam-day-{}-{}",
            std::process::id(),
            Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(error = %e, dir = %self.0.display(), "exam-day: cannot remove the temporary database");
        }
    }
}

/// A change of the exams table at its time.
#[derive(Debug, Clone, Copy)]
enum Change {
    Add(usize),
    Resize(usize, u32),
}

/// What the planner said of one exam.
#[derive(Debug, Clone, Default)]
struct Predictions {
    /// At the first plan that had it.
    first: Option<(Timestamp, Forecast)>,
    /// The last before its deadline.
    last: Option<Forecast>,
    changes: Vec<PredictionChange>,
    /// The scenario change count at the last look.
    seen: u64,
}

/// The scenario's state during the run.
struct Day<'a> {
    scenario: &'a Scenario,
    margin: SignedDuration,
    by_id: HashMap<u128, usize>,
    predictions: Vec<Predictions>,
    /// Scenario changes so far, and what the last one was.
    changes: u64,
    last_change: Option<String>,
}

impl Day<'_> {
    fn deadline(&self, exam: usize) -> Timestamp {
        self.scenario.exams[exam].start - self.margin
    }

    fn changed(&mut self, what: String) {
        self.changes += 1;
        self.last_change = Some(what);
    }

    /// Records the forecasts of `plan` at `now`.
    fn observe(&mut self, forecasts: &[Forecast], now: Timestamp) {
        for f in forecasts {
            let Some(&exam) = self.by_id.get(&f.exam.0) else {
                continue;
            };
            if now >= self.deadline(exam) {
                continue;
            }
            let changes = self.changes;
            let cause = self.last_change.clone();
            let p = &mut self.predictions[exam];
            if p.first.is_none() {
                p.first = Some((now, *f));
            }
            if let Some(prev) = p.last
                && (prev.predicted_ready_at_start, prev.needed)
                    != (f.predicted_ready_at_start, f.needed)
            {
                p.changes.push(PredictionChange {
                    at: now,
                    needed: f.needed,
                    from: prev.predicted_ready_at_start,
                    to: f.predicted_ready_at_start,
                    after: if changes > p.seen { cause } else { None },
                });
            }
            p.last = Some(*f);
            p.seen = changes;
        }
    }
}

async fn drive(
    config: &ExamDayConfig,
    scenario: &Scenario,
    db: &Db,
) -> Result<(Report, Vec<Series>), SimError> {
    db.migrate().await?;
    let seed = config.scenario.seed;
    let clock = ManualClock::new(scenario.day);
    let shared: SharedClock = Arc::new(clock.clone());
    let cloud = crate::sim::cloud::spawn(
        CloudConfig {
            listen: "127.0.0.1:0".to_owned(),
            vms_per_minute: f64::from(config.vms_per_minute),
            requests_per_second: config.requests_per_second,
            seed: Some(seed),
            ..CloudConfig::default()
        },
        shared.clone(),
    )
    .await?;
    let client = CloudClient::new(&cloud.url(), crate::provisioning::CLOUD_TIMEOUT)
        .map_err(SimError::Cloud)?;
    let profile = config.profile();
    let (exams_tx, exams_rx) = watch::channel::<ExamSnapshot>(Arc::new(Vec::new()));
    let mut executor = Executor::new(
        db.clone(),
        shared,
        client,
        ExecutorConfig {
            seed: Some(seed),
            ..ExecutorConfig::new(profile)
        },
        Uuid::now_v7(),
        exams_rx,
        Publisher::default(),
    );

    let mut pending: Vec<(Timestamp, Change)> = scenario
        .exams
        .iter()
        .enumerate()
        .map(|(i, e)| (e.known_at, Change::Add(i)))
        .chain(
            scenario
                .resize
                .map(|r| (r.at, Change::Resize(r.exam, r.students))),
        )
        .collect();
    // Latest first, so that the next one is popped off the end.
    pending
        .sort_by_key(|&(at, change)| std::cmp::Reverse((at, matches!(change, Change::Resize(..)))));
    let mut day = Day {
        scenario,
        margin: config.margin,
        by_id: scenario
            .exams
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_u128(), i))
            .collect(),
        predictions: vec![Predictions::default(); scenario.exams.len()],
        changes: 0,
        last_change: None,
    };
    let mut cancel = Some(scenario.cancellation);
    let mut cancelled: Option<(Timestamp, u32)> = None;
    let last_end = scenario.last_end();
    let give_up = last_end + GIVE_UP_AFTER;
    let mut steps: u64 = 0;
    loop {
        let now = clock.now();
        let mut wrote = false;
        while let Some(&(at, change)) = pending.last() {
            if at > now {
                break;
            }
            pending.pop();
            apply(db, scenario, change).await?;
            day.changed(describe(scenario, change));
            wrote = true;
        }
        if wrote {
            publish(db, &exams_tx).await?;
        }
        let wake = executor.step().await;
        steps += 1;
        if steps >= MAX_STEPS {
            return Err(SimError::Stuck(format!(
                "{steps} steps and still at {now} (next wake-up {wake})"
            )));
        }
        let forecasts = executor.plan().map(|p| p.exams.as_slice()).unwrap_or(&[]);
        day.observe(forecasts, now);
        if let Some(c) = cancel {
            let exam = &scenario.exams[c.exam];
            let live = forecasts
                .iter()
                .find(|f| f.exam.0 == exam.id.as_u128())
                .map(|f| f.live);
            if let Some(live) = live
                && (live >= c.after_started || now >= exam.start)
            {
                let mut tx = db.begin().await?;
                store::delete(&mut tx, exam.id).await?;
                tx.commit().await?;
                publish(db, &exams_tx).await?;
                day.changed(format!("the cancellation of {}", exam.name));
                cancelled = Some((now, live));
                cancel = None;
                continue;
            }
        }
        if pending.is_empty() && cancel.is_none() && now >= last_end {
            let stats = cloud.stats();
            if stats.vms_created == stats.vms_stopped || now >= give_up {
                break;
            }
        }
        let next = pending.last().map_or(wake, |&(at, _)| wake.min(at));
        if next > now {
            clock.set(next);
        }
    }

    let until = clock.now();
    let vms = cloud.vms();
    let stats = cloud.stats();
    let rows = ledger::list(
        db,
        &LedgerFilter {
            limit: i64::MAX,
            ..LedgerFilter::default()
        },
    )
    .await?;
    cloud.shutdown().await?;

    // The audit: every VM's key is a ledger row's, which records that VM.
    let ledger: HashMap<&str, (Uuid, u32, Option<Uuid>)> = rows
        .iter()
        .map(|r| (r.idempotency_key.as_str(), (r.exam_id, r.slot, r.vm_id)))
        .collect();
    let mut per_exam: HashMap<Uuid, Vec<&VmView>> = HashMap::new();
    let mut per_slot: HashMap<(Uuid, u32), Vec<&VmView>> = HashMap::new();
    let (mut not_stopped, mut unaccounted, mut leaked) = (0u64, 0u64, 0u64);
    for vm in &vms {
        let row = vm
            .idempotency_key
            .as_deref()
            .and_then(|k| ledger.get(k))
            .filter(|(_, _, id)| *id == Some(vm.id));
        let running = vm.stopped_at.is_none();
        not_stopped += u64::from(running);
        unaccounted += u64::from(row.is_none());
        leaked += u64::from(running || row.is_none());
        if let Some(&(exam, slot, _)) = row {
            per_exam.entry(exam).or_default().push(vm);
            per_slot.entry((exam, slot)).or_default().push(vm);
        }
    }
    let slots_with_two_vms = per_slot.values().filter(|list| overlap(list)).count() as u64;

    let mut exams = Vec::new();
    let mut series = Vec::new();
    let mut cancelled_report = None;
    for (i, exam) in scenario.exams.iter().enumerate() {
        let mine: &[&VmView] = per_exam.get(&exam.id).map_or(&[], |v| v.as_slice());
        let needed = scenario.final_students(i);
        let ready_at_start = ready_at(mine, exam.start);
        let is_cancelled = i == scenario.cancellation.exam;
        series.push(Series {
            name: exam.name.clone(),
            start: exam.start,
            end: exam.end,
            needed,
            ready_at_start,
            cancelled: is_cancelled,
            points: ready_over_time(mine),
        });
        let last_stop = if mine.iter().all(|v| v.stopped_at.is_some()) {
            mine.iter().filter_map(|v| v.stopped_at).max()
        } else {
            None
        };
        if is_cancelled {
            let (at, live) = cancelled.unwrap_or((until, 0));
            cancelled_report = Some(CancelledReport {
                name: exam.name.clone(),
                needed,
                start: exam.start,
                cancelled_at: at,
                started_when_cancelled: live,
                vms: mine.len() as u64,
                minutes_to_last_stop: last_stop.map(|t| report::minutes(t.duration_since(at))),
            });
            continue;
        }
        let p = &day.predictions[i];
        let first = p.first.map(|(_, f)| f);
        let last = p.last;
        let deadline = day.deadline(i);
        let ready_by_deadline = ready_at(mine, deadline);
        let idle: SignedDuration = mine
            .iter()
            .map(|v| {
                let until = v.stopped_at.map_or(exam.start, |s| s.min(exam.start));
                until.duration_since(v.ready_at).max(SignedDuration::ZERO)
            })
            .sum();
        let predicted = last.map_or(0, |f| f.predicted_ready_at_start);
        exams.push(ExamReport {
            name: exam.name.clone(),
            needed,
            ready_at_start,
            feasible: last.is_some_and(|f| f.shortfall == 0),
            idle_vm_minutes: report::minutes(idle),
            idle_lower_bound: report::minutes(SignedDuration::from_micros(
                last.map_or(0, |f| f.idle_lower_bound),
            )),
            minutes_to_last_stop: last_stop.map(|t| report::minutes(t.duration_since(exam.end))),
            id: exam.id,
            start: exam.start,
            end: exam.end,
            known_at: exam.known_at,
            late: exam.is_late(scenario.day),
            resized_from: scenario
                .resize
                .filter(|r| r.exam == i)
                .map(|_| exam.students),
            vms: mine.len() as u64,
            ready_by_deadline,
            predicted_when_known: first.map_or(0, |f| f.predicted_ready_at_start),
            feasible_when_known: first.is_some_and(|f| f.shortfall == 0),
            predicted_ready_at_start: predicted,
            predicted_idle_vm_minutes: report::minutes(SignedDuration::from_micros(
                last.map_or(0, |f| f.idle_vm),
            )),
            prediction_matches: last.is_some() && ready_by_deadline == predicted,
            prediction_changes: p.changes.clone(),
        });
    }
    let report = Report {
        exams,
        rate_limited: stats.start.rate_limited + stats.stop.rate_limited,
        leaked,
        seed,
        day: scenario.day,
        provider: ProviderReport {
            vms_per_minute: config.vms_per_minute,
            requests_per_second: config.requests_per_second,
            margin_minutes: report::minutes(config.margin),
        },
        cancelled: cancelled_report,
        vms_started: stats.vms_created,
        not_stopped,
        unaccounted,
        slots_with_two_vms,
        start_calls: stats.start.requests,
        stop_calls: stats.stop.requests,
        simulated_until: until,
        steps,
    };
    Ok((report, series))
}

/// Writes one scenario change to the exams table.
async fn apply(db: &Db, scenario: &Scenario, change: Change) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    match change {
        Change::Add(i) => {
            let e = &scenario.exams[i];
            store::insert(&mut tx, &row(e, e.students)).await?;
        }
        Change::Resize(i, students) => {
            store::update(&mut tx, &row(&scenario.exams[i], students)).await?;
        }
    }
    tx.commit().await
}

fn row(e: &super::scenario::ScenarioExam, students: u32) -> ExamRow {
    ExamRow {
        id: e.id,
        name: e.name.clone(),
        start_at: e.start,
        end_at: e.end,
        students,
    }
}

fn describe(scenario: &Scenario, change: Change) -> String {
    match change {
        Change::Add(i) => format!("the addition of {}", scenario.exams[i].name),
        Change::Resize(i, n) => format!(
            "the resize of {} from {} to {n}",
            scenario.exams[i].name, scenario.exams[i].students
        ),
    }
}

/// What the exam watcher would publish: the table as it is now.
async fn publish(db: &Db, exams: &watch::Sender<ExamSnapshot>) -> Result<(), sqlx::Error> {
    let rows: Vec<ExamRow> = store::all(db)
        .await?
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    exams.send_replace(Arc::new(rows));
    Ok(())
}

/// VMs ready at `t` and not stopped by then.
fn ready_at(vms: &[&VmView], t: Timestamp) -> u32 {
    let n = vms
        .iter()
        .filter(|v| v.ready_at <= t && v.stopped_at.is_none_or(|s| s > t))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The number of ready VMs as a step function: +1 at each ready time, -1
/// at each stop (a VM stopped before it was ready never counts).
fn ready_over_time(vms: &[&VmView]) -> Vec<(Timestamp, u32)> {
    let mut deltas: Vec<(Timestamp, i64)> = Vec::with_capacity(vms.len() * 2);
    for v in vms {
        match v.stopped_at {
            Some(s) if s <= v.ready_at => {}
            Some(s) => {
                deltas.push((v.ready_at, 1));
                deltas.push((s, -1));
            }
            None => deltas.push((v.ready_at, 1)),
        }
    }
    deltas.sort();
    let mut points: Vec<(Timestamp, u32)> = Vec::new();
    let mut level: i64 = 0;
    for (t, d) in deltas {
        level += d;
        let value = u32::try_from(level.max(0)).unwrap_or(u32::MAX);
        match points.last_mut() {
            Some(last) if last.0 == t => last.1 = value,
            _ => points.push((t, value)),
        }
    }
    points
}

/// Two VMs of one slot alive at once (the executor must never do that).
fn overlap(vms: &[&VmView]) -> bool {
    for (i, a) in vms.iter().enumerate() {
        for b in &vms[i + 1..] {
            let a_end = a.stopped_at.unwrap_or(Timestamp::MAX);
            let b_end = b.stopped_at.unwrap_or(Timestamp::MAX);
            if a.requested_at < b_end && b.requested_at < a_end {
                return true;
            }
        }
    }
    false
}
