//! The jobs service: every operation the API and CLI offer, with its
//! validation. Handlers stay thin; this is where the rules live.

use std::sync::Arc;
use std::time::Duration;

use allot_kernel::duration::parse_duration;
use jiff::Timestamp;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::engine::Engine;
use super::kinds::{KindSettings, TaskAction, TaskKind};
use super::model::{
    CreateTask, Execution, ExecutionListQuery, Page, Task, TaskListQuery, Upcoming, UpcomingQuery,
    UpcomingRun, UpdateTask,
};
use super::store::{ExecutionFilter, JobStore, NewExecution, TaskRow};
use crate::clock::SharedClock;
use crate::http::paging::{bad_cursor, decode_cursor, encode_cursor, page_limit, parse_id};
use crate::http::problem::{FieldError, Problem};
use crate::store::{DbId, DbTime};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
pub struct JobService {
    store: JobStore,
    clock: SharedClock,
    settings: Arc<KindSettings>,
    engine: Arc<Engine>,
}

fn not_found(id: &str) -> Problem {
    Problem::not_found("task", id)
}

fn parse_timeout(s: &str) -> Result<Duration, FieldError> {
    let d = parse_duration(s).map_err(|e| FieldError {
        pointer: "/timeout".into(),
        message: e.to_string(),
    })?;
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(FieldError {
            pointer: "/timeout".into(),
            message: "timeout must be more than 0s and at most 7d".into(),
        });
    }
    Ok(d)
}

fn check_name(name: &str) -> Result<(), FieldError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(FieldError {
            pointer: "/name".into(),
            message: "name must be 1 to 200 characters".into(),
        });
    }
    Ok(())
}

/// Where a (re)scheduled task should be claimed next.
fn claim_for(row: &TaskRow) -> Option<DbTime> {
    if row.state != "active" || row.deleted_at.is_some() {
        return None;
    }
    if row.running_execution_id.is_some()
        && (row.queued_for.is_some() || row.backlog_until.is_some())
    {
        return None;
    }
    row.next_run_at
}

impl JobService {
    pub fn new(
        store: JobStore,
        clock: SharedClock,
        settings: Arc<KindSettings>,
        engine: Arc<Engine>,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            engine,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn store(&self) -> &JobStore {
        &self.store
    }

    pub async fn create(&self, input: CreateTask) -> Result<Task, Problem> {
        let now = self.clock.now();
        let mut errors = Vec::new();
        if let Err(e) = check_name(&input.name) {
            errors.push(e);
        }
        if let Err(e) = TaskAction::parse(input.kind, &input.params, &self.settings) {
            errors.push(e);
        }
        let timeout = match input.timeout.as_deref().map(parse_timeout).transpose() {
            Ok(t) => t.unwrap_or(DEFAULT_TIMEOUT),
            Err(e) => {
                errors.push(e);
                DEFAULT_TIMEOUT
            }
        };
        let resolved = match input.schedule.resolve(now) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let Some((schedule, spec)) = resolved.filter(|_| errors.is_empty()) else {
            return Err(Problem::validation(errors));
        };
        let next = schedule.first_at_or_after(now);
        let mut row = TaskRow {
            id: DbId(Uuid::now_v7()),
            name: input.name.trim().to_string(),
            kind: input.kind.as_str().to_string(),
            params: Json(if input.params.is_null() {
                Value::Object(Default::default())
            } else {
                input.params
            }),
            schedule: Json(spec),
            timeout_ms: timeout.as_millis() as i64,
            overlap: input.overlap.unwrap_or_default().as_str().to_string(),
            misfire: input.misfire.unwrap_or_default().as_str().to_string(),
            state: if next.is_some() {
                "active"
            } else {
                "completed"
            }
            .to_string(),
            next_run_at: next.map(DbTime),
            queued_for: None,
            backlog_until: None,
            claim_at: None,
            running_execution_id: None,
            created_at: DbTime(now),
            updated_at: DbTime(now),
            deleted_at: None,
        };
        row.claim_at = claim_for(&row);
        self.store.insert_task(&row).await?;
        self.engine.wake();
        Ok(Task::from(&row))
    }

    pub async fn get(&self, id: &str) -> Result<Task, Problem> {
        let uuid = parse_id(id, "task")?;
        let row = self
            .store
            .get_task(uuid)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(Task::from(&row))
    }

    pub async fn list(&self, q: &TaskListQuery) -> Result<Page<Task>, Problem> {
        let limit = page_limit(q.limit)?;
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(c.parse::<Uuid>().map_err(|_| bad_cursor(c))?),
        };
        if let Some(state) = &q.state
            && !matches!(state.as_str(), "active" | "paused" | "completed")
        {
            return Err(Problem::invalid_query(format!(
                "state must be active, paused or completed, got {state:?}"
            )));
        }
        let rows = self
            .store
            .list_tasks(after, q.state.as_deref(), limit + 1)
            .await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<Task> = rows.iter().take(limit as usize).map(Task::from).collect();
        let next_cursor = if more {
            items.last().map(|t| t.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub async fn update(&self, id: &str, patch: UpdateTask) -> Result<Task, Problem> {
        let uuid = parse_id(id, "task")?;
        let now = self.clock.now();
        let settings = self.settings.clone();
        let row = self
            .store
            .update_task::<Problem>(uuid, |mut row| {
                let mut errors = Vec::new();
                if let Some(name) = &patch.name {
                    match check_name(name) {
                        Ok(()) => row.name = name.trim().to_string(),
                        Err(e) => errors.push(e),
                    }
                }
                if let Some(params) = &patch.params {
                    let kind = TaskKind::parse(&row.kind).unwrap_or(TaskKind::Sleep);
                    match TaskAction::parse(kind, params, &settings) {
                        Ok(_) => row.params = Json(params.clone()),
                        Err(e) => errors.push(e),
                    }
                }
                if let Some(t) = &patch.timeout {
                    match parse_timeout(t) {
                        Ok(d) => row.timeout_ms = d.as_millis() as i64,
                        Err(e) => errors.push(e),
                    }
                }
                if let Some(o) = patch.overlap {
                    row.overlap = o.as_str().to_string();
                }
                if let Some(m) = patch.misfire {
                    row.misfire = m.as_str().to_string();
                }
                if let Some(spec) = &patch.schedule {
                    match spec.resolve(now) {
                        Ok((schedule, normalised)) => {
                            row.schedule = Json(normalised);
                            row.next_run_at = schedule.first_at_or_after(now).map(DbTime);
                            // A new schedule replaces whatever the old one had pending.
                            row.queued_for = None;
                            row.backlog_until = None;
                            if row.state == "completed" && row.next_run_at.is_some() {
                                row.state = "active".to_string();
                            }
                        }
                        Err(e) => errors.push(e),
                    }
                }
                if !errors.is_empty() {
                    return Err(Problem::validation(errors));
                }
                row.updated_at = DbTime(now);
                row.claim_at = claim_for(&row);
                Ok(Some(row))
            })
            .await?
            .ok_or_else(|| not_found(id))?;
        self.engine.wake();
        Ok(Task::from(&row))
    }

    pub async fn delete(&self, id: &str) -> Result<(), Problem> {
        let uuid = parse_id(id, "task")?;
        let now = self.clock.now();
        self.store
            .update_task::<Problem>(uuid, |mut row| {
                row.deleted_at = Some(DbTime(now));
                row.updated_at = DbTime(now);
                row.claim_at = None;
                row.queued_for = None;
                row.backlog_until = None;
                Ok(Some(row))
            })
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(())
    }

    pub async fn pause(&self, id: &str) -> Result<Task, Problem> {
        let uuid = parse_id(id, "task")?;
        let now = self.clock.now();
        let row = self
            .store
            .update_task::<Problem>(uuid, |mut row| match row.state.as_str() {
                "paused" => Ok(None),
                "completed" => Err(Problem::conflict(
                    "task-completed",
                    format!("task {} has completed; there is nothing to pause", row.id.0),
                )
                .with("task_id", row.id.0)),
                _ => {
                    row.state = "paused".to_string();
                    row.claim_at = None;
                    row.updated_at = DbTime(now);
                    Ok(Some(row))
                }
            })
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(Task::from(&row))
    }

    pub async fn resume(&self, id: &str) -> Result<Task, Problem> {
        let uuid = parse_id(id, "task")?;
        let now = self.clock.now();
        let row = self
            .store
            .update_task::<Problem>(uuid, |mut row| {
                if row.state != "paused" {
                    return Ok(None);
                }
                let schedule = row
                    .schedule
                    .0
                    .to_schedule()
                    .map_err(|e| Problem::internal(&e))?;
                // Runs that fell in the pause are not made up. A one-shot whose
                // time passed during the pause keeps that time, so the claim
                // loop treats it as missed and the misfire policy decides
                // (run_once and run_all run it now; skip records it skipped).
                row.next_run_at = schedule
                    .first_at_or_after(now)
                    .or(match schedule {
                        allot_kernel::jobs::schedule::Schedule::At { at } => Some(at),
                        _ => None,
                    })
                    .map(DbTime);
                row.queued_for = None;
                row.backlog_until = None;
                row.state = if row.next_run_at.is_some() {
                    "active"
                } else {
                    "completed"
                }
                .to_string();
                row.updated_at = DbTime(now);
                row.claim_at = claim_for(&row);
                Ok(Some(row))
            })
            .await?
            .ok_or_else(|| not_found(id))?;
        self.engine.wake();
        Ok(Task::from(&row))
    }

    /// Starts one run now, outside the schedule. 409 while a run is in progress.
    pub async fn run_now(&self, id: &str, node_id: Uuid) -> Result<Execution, Problem> {
        let uuid = parse_id(id, "task")?;
        let mut now = self.clock.now();
        // A manual run must not take the (task, scheduled_for) key of a
        // scheduled run that happens to fall on the same microsecond.
        if let Some(task) = self.store.get_task(uuid).await?
            && let Ok(schedule) = task.schedule.0.to_schedule()
        {
            while schedule.is_run_time(now) {
                now = now
                    .checked_add(jiff::SignedDuration::from_micros(1))
                    .map_err(|e| Problem::internal(&e))?;
            }
        }
        let execution = NewExecution {
            id: Uuid::now_v7(),
            task_id: uuid,
            scheduled_for: now,
            trigger: "manual",
            status: "running",
            started_at: Some(now),
            finished_at: None,
            error: None,
            node_id: Some(node_id),
        };
        match self.store.start_manual_run(uuid, &execution).await? {
            Ok((task, execution)) => {
                self.engine.runner().dispatch(&task, execution.clone());
                let row = self
                    .store
                    .get_execution(execution.id)
                    .await?
                    .ok_or_else(|| Problem::internal(&"execution vanished after insert"))?;
                Ok(Execution::from(&row))
            }
            Err(Some(running)) => Err(Problem::conflict(
                "task-running",
                format!(
                    "task {uuid} is running (execution {running}); tasks never overlap themselves"
                ),
            )
            .with("task_id", uuid)
            .with("execution_id", running)),
            Err(None) => Err(not_found(id)),
        }
    }

    pub async fn executions(
        &self,
        q: &ExecutionListQuery,
        task: Option<&str>,
    ) -> Result<Page<Execution>, Problem> {
        let limit = page_limit(q.limit)?;
        let task_id = match task.or(q.task_id.as_deref()) {
            None => None,
            Some(t) => Some(t.parse::<Uuid>().map_err(|_| not_found(t))?),
        };
        if let Some(status) = &q.status
            && !matches!(
                status.as_str(),
                "running" | "succeeded" | "failed" | "timed_out" | "skipped" | "interrupted"
            )
        {
            return Err(Problem::invalid_query(format!(
                "status must be one of running, succeeded, failed, timed_out, skipped, interrupted; got {status:?}"
            )));
        }
        if let (Some(_), Some(t)) = (task, task_id)
            && self.store.get_task(t).await?.is_none()
        {
            return Err(not_found(&t.to_string()));
        }
        let before = match &q.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| bad_cursor(c))?),
        };
        let rows = self
            .store
            .list_executions(&ExecutionFilter {
                task_id,
                status: q.status.clone(),
                before,
                limit: limit + 1,
            })
            .await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<Execution> = rows
            .iter()
            .take(limit as usize)
            .map(Execution::from)
            .collect();
        let next_cursor = if more {
            items.last().map(|e| encode_cursor(e.scheduled_for, e.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub async fn execution(&self, id: &str) -> Result<Execution, Problem> {
        let uuid = parse_id(id, "execution")?;
        let row = self
            .store
            .get_execution(uuid)
            .await?
            .ok_or_else(|| Problem::not_found("execution", id))?;
        Ok(Execution::from(&row))
    }

    /// The next runs across active tasks, in time order.
    pub async fn upcoming(&self, q: &UpcomingQuery) -> Result<Upcoming, Problem> {
        let limit = page_limit(q.limit)?;
        let now = self.clock.now();
        let until = match &q.until {
            None => now
                .checked_add(jiff::SignedDuration::from_hours(24))
                .unwrap_or(now),
            Some(s) => s.parse::<Timestamp>().map_err(|_| {
                Problem::invalid_query(format!("until {s:?} is not an RFC 3339 time"))
            })?,
        };
        // A task whose first run is later than the `limit`-th task's first run
        // cannot contribute to the first `limit` runs.
        let rows = self.store.tasks_due_by(until, limit).await?;
        let mut items = Vec::new();
        for row in &rows {
            let Ok(schedule) = row.schedule.0.to_schedule() else {
                continue;
            };
            let Some(first) = row.next_run_at else {
                continue;
            };
            let mut times: Vec<Timestamp> = row.queued_for.map(|q| q.0).into_iter().collect();
            times.extend(schedule.upcoming(first.0, until, limit as usize));
            for t in times {
                items.push(UpcomingRun {
                    task_id: row.id.0,
                    task_name: row.name.clone(),
                    scheduled_for: t,
                });
            }
        }
        items.sort_by(|a, b| {
            a.scheduled_for
                .cmp(&b.scheduled_for)
                .then(a.task_id.cmp(&b.task_id))
        });
        items.truncate(limit as usize);
        Ok(Upcoming { items })
    }
}
