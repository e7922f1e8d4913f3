//! Persistence of tasks and executions, on either backend.
//!
//! The claim and finish paths are batched (one transaction per batch, and on
//! PostgreSQL one `UNNEST` statement per table) because they carry the
//! scheduler's throughput; everything else is plain single-row SQL.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::schedule_spec::ScheduleSpec;

mod batch;

use crate::store::{Db, DbId, DbTime};
use crate::{in_tx, with_pool};
pub use batch::ClaimPlan;

/// Inserts one execution unless its (task, scheduled_for) exists; evaluates
/// to whether it was inserted. A macro so one body serves both backends.
macro_rules! insert_execution {
    ($conn:expr, $e:expr) => {{
        let e: &NewExecution = $e;
        let id: Option<DbId> = sqlx::query_scalar(
            "INSERT INTO executions (id, task_id, scheduled_for, trigger, status, started_at, \
             finished_at, error, node_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (task_id, scheduled_for) DO NOTHING RETURNING id",
        )
        .bind(DbId(e.id))
        .bind(DbId(e.task_id))
        .bind(DbTime(e.scheduled_for))
        .bind(e.trigger)
        .bind(e.status)
        .bind(opt(e.started_at))
        .bind(opt(e.finished_at))
        .bind(e.error.clone())
        .bind(e.node_id.map(DbId))
        .fetch_optional($conn)
        .await?;
        id.is_some()
    }};
}

/// A task row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: DbId,
    pub name: String,
    pub kind: String,
    pub params: Json<Value>,
    pub schedule: Json<ScheduleSpec>,
    pub timeout_ms: i64,
    pub overlap: String,
    pub misfire: String,
    pub state: String,
    pub next_run_at: Option<DbTime>,
    pub queued_for: Option<DbTime>,
    pub backlog_until: Option<DbTime>,
    pub claim_at: Option<DbTime>,
    pub running_execution_id: Option<DbId>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub deleted_at: Option<DbTime>,
}

pub const TASK_COLUMNS: &str = "id, name, kind, params, schedule, timeout_ms, overlap, misfire, \
    state, next_run_at, queued_for, backlog_until, claim_at, running_execution_id, created_at, \
    updated_at, deleted_at";

/// An execution row (joined with its task's name).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: DbId,
    pub task_id: DbId,
    pub task_name: String,
    pub scheduled_for: DbTime,
    pub trigger: String,
    pub status: String,
    pub started_at: Option<DbTime>,
    pub finished_at: Option<DbTime>,
    pub output: Option<Json<Value>>,
    pub error: Option<String>,
    pub attempt: i32,
    pub node_id: Option<DbId>,
}

const EXECUTION_SELECT: &str = "SELECT e.id, e.task_id, t.name AS task_name, e.scheduled_for, \
    e.trigger, e.status, e.started_at, e.finished_at, e.output, e.error, e.attempt, e.node_id \
    FROM executions e JOIN tasks t ON t.id = e.task_id";

/// A new execution row written by the claim loop or a manual run.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: Uuid,
    pub task_id: Uuid,
    pub scheduled_for: Timestamp,
    pub trigger: &'static str,
    pub status: &'static str,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub error: Option<String>,
    pub node_id: Option<Uuid>,
}

/// The scheduling columns of a task, as the claim loop rewrites them.
#[derive(Debug, Clone)]
pub struct TaskTimingUpdate {
    pub id: Uuid,
    pub next_run_at: Option<Timestamp>,
    pub queued_for: Option<Timestamp>,
    pub backlog_until: Option<Timestamp>,
    pub claim_at: Option<Timestamp>,
    pub running_execution_id: Option<Uuid>,
    pub state: String,
}

/// The end of a run, as the runner reports it.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub execution_id: Uuid,
    pub task_id: Uuid,
    pub status: &'static str,
    pub finished_at: Timestamp,
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// What the finish path needs to know of a task to re-arm it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FinishTiming {
    pub id: DbId,
    pub state: String,
    pub next_run_at: Option<DbTime>,
    pub queued_for: Option<DbTime>,
    pub backlog_until: Option<DbTime>,
    pub deleted_at: Option<DbTime>,
}

/// Filters for the execution history.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub task_id: Option<Uuid>,
    pub status: Option<String>,
    /// Keyset cursor: strictly older than (scheduled_for, id).
    pub before: Option<(Timestamp, Uuid)>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct JobStore {
    db: Db,
}

pub(super) fn opt(t: Option<Timestamp>) -> Option<DbTime> {
    t.map(DbTime)
}

impl JobStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert_task(&self, t: &TaskRow) -> Result<(), sqlx::Error> {
        self.insert_tasks(std::slice::from_ref(t)).await
    }

    /// Inserts many tasks in one transaction (bulk loads, benchmarks).
    pub async fn insert_tasks(&self, tasks: &[TaskRow]) -> Result<(), sqlx::Error> {
        in_tx!(&self.db, tx => {
            for t in tasks {
                insert_task_row!(&mut *tx, t);
            }
            Ok::<_, sqlx::Error>(())
        })
    }
}

/// Inserts one task row; a macro so one body serves both backends.
macro_rules! insert_task_row {
    ($conn:expr, $t:expr) => {{
        let t: &TaskRow = $t;
        sqlx::query(
                "INSERT INTO tasks (id, name, kind, params, schedule, timeout_ms, overlap, misfire, \
                 state, next_run_at, queued_for, backlog_until, claim_at, running_execution_id, \
                 created_at, updated_at, deleted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(t.id)
            .bind(&t.name)
            .bind(&t.kind)
            .bind(&t.params)
            .bind(&t.schedule)
            .bind(t.timeout_ms)
            .bind(&t.overlap)
            .bind(&t.misfire)
            .bind(&t.state)
            .bind(t.next_run_at)
            .bind(t.queued_for)
            .bind(t.backlog_until)
            .bind(t.claim_at)
            .bind(t.running_execution_id)
            .bind(t.created_at)
            .bind(t.updated_at)
            .bind(t.deleted_at)
            .execute($conn)
            .await?;
    }};
}
use insert_task_row;

impl JobStore {
    /// A task that is not deleted.
    pub async fn get_task(&self, id: Uuid) -> Result<Option<TaskRow>, sqlx::Error> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND deleted_at IS NULL");
        with_pool!(&self.db, pool => {
            sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql))
                .bind(DbId(id))
                .fetch_optional(pool)
                .await
        })
    }

    /// Tasks in creation order after `after`, optionally of one state.
    pub async fn list_tasks(
        &self,
        after: Option<Uuid>,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TaskRow>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE deleted_at IS NULL"
            ));
            if let Some(after) = after {
                qb.push(" AND id > ").push_bind(DbId(after));
            }
            if let Some(state) = state {
                qb.push(" AND state = ").push_bind(state.to_string());
            }
            qb.push(" ORDER BY id LIMIT ").push_bind(limit);
            qb.build_query_as::<TaskRow>().fetch_all(pool).await
        })
    }

    /// Runs `change` on the task under a row lock and writes back what it
    /// returns. `None` from `change` leaves the row untouched. Returns the
    /// new row, or `Ok(None)` when the task does not exist.
    pub async fn update_task<E>(
        &self,
        id: Uuid,
        change: impl FnOnce(TaskRow) -> Result<Option<TaskRow>, E>,
    ) -> Result<Option<TaskRow>, E>
    where
        E: From<sqlx::Error>,
    {
        let select = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND deleted_at IS NULL{}",
            self.db.backend().for_update()
        );
        in_tx!(&self.db, tx => {
            let row = sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(select))
                .bind(DbId(id))
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => match change(row.clone()) {
                    Err(e) => Err(e),
                    Ok(None) => Ok(Some(row)),
                    Ok(Some(new)) => {
                        sqlx::query(
                            "UPDATE tasks SET name = $2, params = $3, schedule = $4, timeout_ms = $5, \
                             overlap = $6, misfire = $7, state = $8, next_run_at = $9, queued_for = $10, \
                             backlog_until = $11, claim_at = $12, running_execution_id = $13, \
                             updated_at = $14, deleted_at = $15 WHERE id = $1",
                        )
                        .bind(new.id)
                        .bind(&new.name)
                        .bind(&new.params)
                        .bind(&new.schedule)
                        .bind(new.timeout_ms)
                        .bind(&new.overlap)
                        .bind(&new.misfire)
                        .bind(&new.state)
                        .bind(new.next_run_at)
                        .bind(new.queued_for)
                        .bind(new.backlog_until)
                        .bind(new.claim_at)
                        .bind(new.running_execution_id)
                        .bind(new.updated_at)
                        .bind(new.deleted_at)
                        .execute(&mut *tx)
                        .await?;
                        Ok(Some(new))
                    }
                },
            }
        })
    }

    /// Starts a manual run: under the task's row lock, refuses when a run is in
    /// progress, else inserts a running execution and marks the task running.
    /// Returns `Err(Some(running id))` when the task is busy, `Err(None)` when
    /// it does not exist.
    pub async fn start_manual_run(
        &self,
        task_id: Uuid,
        execution: &NewExecution,
    ) -> Result<Result<(TaskRow, NewExecution), Option<Uuid>>, sqlx::Error> {
        let lock = format!(
            "SELECT running_execution_id FROM tasks WHERE id = $1 AND deleted_at IS NULL{}",
            self.db.backend().for_update()
        );
        in_tx!(&self.db, tx => {
            let running: Option<Option<DbId>> = sqlx::query_scalar(sqlx::AssertSqlSafe(lock))
                .bind(DbId(task_id))
                .fetch_optional(&mut *tx)
                .await?;
            match running {
                None => Ok(Err(None)),
                Some(Some(busy)) => Ok(Err(Some(busy.0))),
                Some(None) => {
                    // Two manual runs can share a clock reading (a coarse or
                    // manual clock); the later one moves on by a microsecond.
                    let mut execution = execution.clone();
                    while !insert_execution!(&mut *tx, &execution) {
                        execution.scheduled_for = execution
                            .scheduled_for
                            .checked_add(jiff::SignedDuration::from_micros(1))
                            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
                    }
                    let row = sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(format!(
                        "UPDATE tasks SET running_execution_id = $2 \
                         WHERE id = $1 RETURNING {TASK_COLUMNS}"
                    )))
                    .bind(DbId(task_id))
                    .bind(DbId(execution.id))
                    .fetch_one(&mut *tx)
                    .await?;
                    Ok::<_, sqlx::Error>(Ok((row, execution)))
                }
            }
        })
    }

    pub async fn get_execution(&self, id: Uuid) -> Result<Option<ExecutionRow>, sqlx::Error> {
        let sql = format!("{EXECUTION_SELECT} WHERE e.id = $1");
        with_pool!(&self.db, pool => {
            sqlx::query_as::<_, ExecutionRow>(sqlx::AssertSqlSafe(sql))
                .bind(DbId(id))
                .fetch_optional(pool)
                .await
        })
    }

    /// History, newest scheduled time first.
    pub async fn list_executions(
        &self,
        f: &ExecutionFilter,
    ) -> Result<Vec<ExecutionRow>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            let mut qb = QueryBuilder::new(format!("{EXECUTION_SELECT} WHERE 1 = 1"));
            if let Some(task) = f.task_id {
                qb.push(" AND e.task_id = ").push_bind(DbId(task));
            }
            if let Some(status) = &f.status {
                qb.push(" AND e.status = ").push_bind(status.clone());
            }
            if let Some((at, id)) = f.before {
                qb.push(" AND (e.scheduled_for < ")
                    .push_bind(DbTime(at))
                    .push(" OR (e.scheduled_for = ")
                    .push_bind(DbTime(at))
                    .push(" AND e.id < ")
                    .push_bind(DbId(id))
                    .push("))");
            }
            qb.push(" ORDER BY e.scheduled_for DESC, e.id DESC LIMIT ")
                .push_bind(f.limit);
            qb.build_query_as::<ExecutionRow>().fetch_all(pool).await
        })
    }

    /// Active tasks with a next run at or before `until`, soonest first.
    pub async fn tasks_due_by(
        &self,
        until: Timestamp,
        limit: i64,
    ) -> Result<Vec<TaskRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE state = 'active' AND deleted_at IS NULL \
             AND next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2"
        );
        with_pool!(&self.db, pool => {
            sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql))
                .bind(DbTime(until))
                .bind(limit)
                .fetch_all(pool)
                .await
        })
    }

    /// The earliest time any task wants claiming, if any.
    pub async fn next_claim_at(&self) -> Result<Option<Timestamp>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            let t: Option<DbTime> = sqlx::query_scalar("SELECT min(claim_at) FROM tasks WHERE claim_at IS NOT NULL")
                .fetch_one(pool)
                .await?;
            Ok(t.map(|t| t.0))
        })
    }

    /// Executions still `running` on nodes other than `node`, whose node's
    /// lease expired before `now` (or that have no live node at all).
    pub async fn orphaned_runs(
        &self,
        now: Timestamp,
        node: Uuid,
        limit: i64,
    ) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            let rows = sqlx::query(
                "SELECT e.id, e.task_id FROM executions e LEFT JOIN nodes n ON n.id = e.node_id \
                 WHERE e.status = 'running' AND (e.node_id IS NULL OR e.node_id <> $2) \
                 AND (n.id IS NULL OR n.expires_at < $1) LIMIT $3",
            )
            .bind(DbTime(now))
            .bind(DbId(node))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<DbId, _>(0)?.0, r.try_get::<DbId, _>(1)?.0)))
                .collect()
        })
    }

    /// Executions `node` is running, per the database.
    pub async fn runs_of_node(&self, node: Uuid) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            let rows = sqlx::query("SELECT id, task_id FROM executions WHERE status = 'running' AND node_id = $1")
                .bind(DbId(node))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<DbId, _>(0)?.0, r.try_get::<DbId, _>(1)?.0)))
                .collect()
        })
    }

    pub async fn counter_value(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT value FROM counters WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
        })
    }
}
