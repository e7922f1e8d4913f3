//! The claim loop: finds tasks whose time has come, decides with the kernel
//! what each one does, records that in one transaction, and hands the runs
//! to the [`Runner`].
//!
//! Exactly-once rests on three things: the task row is locked while it is
//! decided (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on
//! SQLite); the decision and the advanced `next_run_at` commit together with
//! the execution rows; and `UNIQUE (task_id, scheduled_for)` refuses a
//! second execution of the same scheduled time whatever else goes wrong.

use std::sync::Arc;
use std::time::Duration;

use allot_kernel::jobs::decide::{self, Misfire, Outcome, Overlap, Policy, Timing};
use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::runner::Runner;
use super::store::{ClaimPlan, FinishTiming, JobStore, NewExecution, TaskRow, TaskTimingUpdate};
use crate::clock::SharedClock;

/// Tuning of the claim loop.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most tasks claimed per transaction.
    pub batch: usize,
    /// Longest sleep between claims, so changes made by other replicas are
    /// noticed even without a wake-up.
    pub poll_max: Duration,
    /// A run found due later than this after its time counts as missed.
    pub misfire_grace: Duration,
    /// Most missed runs recorded (or caught up) per task at once.
    pub max_catch_up: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            batch: 512,
            poll_max: Duration::from_millis(500),
            misfire_grace: Duration::from_secs(5),
            max_catch_up: 100,
        }
    }
}

pub struct Engine {
    store: JobStore,
    clock: SharedClock,
    node_id: Uuid,
    runner: Arc<Runner>,
    wake: Arc<Notify>,
    config: EngineConfig,
}

pub fn parse_overlap(s: &str) -> Overlap {
    match s {
        "queue_one" => Overlap::QueueOne,
        _ => Overlap::Skip,
    }
}

pub fn parse_misfire(s: &str) -> Misfire {
    match s {
        "skip" => Misfire::Skip,
        "run_all" => Misfire::RunAll,
        _ => Misfire::RunOnce,
    }
}

fn ts(t: Option<crate::store::DbTime>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// When a finished task should be looked at again, and its new state.
pub fn rearm_after_finish(t: &FinishTiming, now: Timestamp) -> (Option<Timestamp>, String) {
    let timing = Timing {
        next_run_at: ts(t.next_run_at),
        queued_for: ts(t.queued_for),
        backlog_until: ts(t.backlog_until),
    };
    if t.deleted_at.is_some() || t.state != "active" {
        return (None, t.state.clone());
    }
    if decide::is_exhausted(&timing) {
        return (None, "completed".to_string());
    }
    (decide::claim_after_finish(&timing, now), t.state.clone())
}

impl Engine {
    pub fn new(
        store: JobStore,
        clock: SharedClock,
        node_id: Uuid,
        runner: Arc<Runner>,
        wake: Arc<Notify>,
        config: EngineConfig,
    ) -> Self {
        Self {
            store,
            clock,
            node_id,
            runner,
            wake,
            config,
        }
    }

    pub fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    /// Wakes the claim loop (a task was created or changed here).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// One claim: returns how many runs were started.
    pub async fn tick(&self) -> Result<usize, sqlx::Error> {
        let free = self.runner.available();
        if free == 0 {
            return Ok(0);
        }
        let now = self.clock.now();
        let limit = free.min(self.config.batch) as i64;
        let started = self
            .store
            .claim(now, limit, |rows| self.plan(rows, now))
            .await?;
        for (task, execution) in &started {
            let lateness = (now.as_microsecond() - execution.scheduled_for.as_microsecond()).max(0);
            metrics::histogram!("allot_jobs_start_lateness_seconds").record(lateness as f64 / 1e6);
            self.runner.dispatch(task, execution.clone());
        }
        Ok(started.len())
    }

    /// The pure part of a claim: the kernel's decision for each locked task.
    fn plan(&self, rows: Vec<TaskRow>, now: Timestamp) -> ClaimPlan {
        let mut plan = ClaimPlan::default();
        for row in rows {
            let task_id = row.id.0;
            let running = row.running_execution_id.is_some();
            let schedule = match row.schedule.0.to_schedule() {
                Ok(s) if row.state == "active" && row.deleted_at.is_none() => s,
                Ok(_) => {
                    // Paused or deleted since its claim time was set: park it.
                    let update = self.keep(&row, None);
                    plan.tasks.push((row, update, None));
                    continue;
                }
                Err(e) => {
                    tracing::error!(task = %task_id, error = %e, "stored schedule is unreadable; parking the task");
                    let update = self.keep(&row, None);
                    plan.tasks.push((row, update, None));
                    continue;
                }
            };
            let policy = Policy {
                overlap: parse_overlap(&row.overlap),
                misfire: parse_misfire(&row.misfire),
                misfire_grace: self.config.misfire_grace,
                max_catch_up: self.config.max_catch_up,
            };
            let timing = Timing {
                next_run_at: ts(row.next_run_at),
                queued_for: ts(row.queued_for),
                backlog_until: ts(row.backlog_until),
            };
            let decision = decide::decide(&schedule, &policy, &timing, running, now);
            let mut start = None;
            // The kernel keeps the newest missed runs; the note about the
            // older ones it did not list goes on the oldest recorded skip.
            let mut note_pending = decision.not_recorded > 0;
            for (at, outcome) in decision.runs.iter() {
                let id = Uuid::now_v7();
                let execution = match outcome {
                    Outcome::Start => {
                        start = Some(plan.executions.len());
                        NewExecution {
                            id,
                            task_id,
                            scheduled_for: *at,
                            trigger: "schedule",
                            status: "running",
                            started_at: Some(now),
                            finished_at: None,
                            error: None,
                            node_id: Some(self.node_id),
                        }
                    }
                    Outcome::Skipped(reason) => {
                        let mut error = reason.to_string();
                        if std::mem::take(&mut note_pending) {
                            error.push_str(&format!(
                                " ({} earlier missed runs were skipped too and not recorded one by one)",
                                decision.not_recorded
                            ));
                        }
                        NewExecution {
                            id,
                            task_id,
                            scheduled_for: *at,
                            trigger: "schedule",
                            status: "skipped",
                            started_at: None,
                            finished_at: Some(now),
                            error: Some(error),
                            node_id: Some(self.node_id),
                        }
                    }
                };
                plan.executions.push(execution);
            }
            let running_after = start
                .map(|i| plan.executions[i].id)
                .or(row.running_execution_id.map(|r| r.0));
            let state = if running_after.is_none() && decide::is_exhausted(&decision.timing) {
                "completed"
            } else {
                "active"
            };
            let update = TaskTimingUpdate {
                id: task_id,
                next_run_at: decision.timing.next_run_at,
                queued_for: decision.timing.queued_for,
                backlog_until: decision.timing.backlog_until,
                claim_at: if state == "completed" {
                    None
                } else {
                    decision.claim_at
                },
                running_execution_id: running_after,
                state: state.to_string(),
            };
            plan.tasks.push((row, update, start));
        }
        plan
    }

    /// An update that leaves the task as it is but with `claim_at`.
    fn keep(&self, row: &TaskRow, claim_at: Option<Timestamp>) -> TaskTimingUpdate {
        TaskTimingUpdate {
            id: row.id.0,
            next_run_at: ts(row.next_run_at),
            queued_for: ts(row.queued_for),
            backlog_until: ts(row.backlog_until),
            claim_at,
            running_execution_id: row.running_execution_id.map(|r| r.0),
            state: row.state.clone(),
        }
    }

    /// Claims until `stop` is cancelled, sleeping until the next claim time
    /// (or a wake-up, or `poll_max`) in between.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            let wait = match self.tick().await {
                Ok(n) if n > 0 => {
                    backoff = Duration::from_millis(100);
                    continue;
                }
                Ok(_) if self.runner.available() == 0 => self.config.poll_max,
                Ok(_) => match self.store.next_claim_at().await {
                    Ok(Some(next)) => {
                        let micros = next.as_microsecond() - self.clock.now().as_microsecond();
                        // Due but not claimable (another replica holds it): look again soon.
                        Duration::from_micros(micros.max(2_000) as u64).min(self.config.poll_max)
                    }
                    Ok(None) => self.config.poll_max,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the next claim time");
                        self.config.poll_max
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "claim failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
