//! The scheduler's hot path: the claim and finish transactions.
//!
//! Both carry the throughput, so each writes a whole batch with a constant
//! number of statements: PostgreSQL gets arrays through `UNNEST`, SQLite
//! gets one JSON array through `json_each`. Per-row statements would cost a
//! round trip (or a hop to SQLite's worker thread) per execution.

use std::collections::HashSet;

use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    FinishTiming, FinishedRun, JobStore, NewExecution, TASK_COLUMNS, TaskRow, TaskTimingUpdate, opt,
};
use crate::store::{Db, DbId, DbTime};

/// What the claim loop decided for a batch of locked tasks.
#[derive(Debug, Default)]
pub struct ClaimPlan {
    /// Rows to insert (started and skipped runs).
    pub executions: Vec<NewExecution>,
    /// Per task: its new timing, and the index of the execution it starts (if any).
    pub tasks: Vec<(TaskRow, TaskTimingUpdate, Option<usize>)>,
}

impl ClaimPlan {
    /// Given which execution ids were really inserted, the task updates to
    /// write and the runs to start. A start whose row already existed (the
    /// unique key caught a duplicate) is dropped, and its task is not marked
    /// running.
    fn resolve(
        self,
        inserted: &HashSet<Uuid>,
    ) -> (Vec<TaskTimingUpdate>, Vec<(TaskRow, NewExecution)>) {
        let mut updates = Vec::with_capacity(self.tasks.len());
        let mut started = Vec::new();
        for (row, mut update, start) in self.tasks {
            if let Some(i) = start {
                let e = &self.executions[i];
                if inserted.contains(&e.id) {
                    started.push((row, e.clone()));
                } else {
                    update.running_execution_id = row.running_execution_id.map(|r| r.0);
                }
            }
            updates.push(update);
        }
        (updates, started)
    }
}

/// SQLite's text form of a time, or JSON null.
fn sqlite_time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(DbTime(t).to_sqlite_text()))
        .unwrap_or(Value::Null)
}

fn sqlite_id(id: Option<Uuid>) -> Value {
    id.map(|i| Value::String(i.hyphenated().to_string()))
        .unwrap_or(Value::Null)
}

impl JobStore {
    /// The claim transaction: locks up to `limit` tasks whose claim time has
    /// come (skipping rows another replica holds), lets `plan` decide what to
    /// do with them, and writes executions and task timings in one commit.
    /// Returns the executions that were inserted with status `running`.
    pub async fn claim<F>(
        &self,
        now: Timestamp,
        limit: i64,
        plan: F,
    ) -> Result<Vec<(TaskRow, NewExecution)>, sqlx::Error>
    where
        F: FnOnce(Vec<TaskRow>) -> ClaimPlan,
    {
        // One body for both backends; only the row lock and the bulk
        // statements differ.
        macro_rules! claim_in {
            ($tx:ident, $lock:expr, $insert:ident, $update:ident) => {{
                let rows = sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {TASK_COLUMNS} FROM tasks WHERE claim_at <= $1 ORDER BY claim_at LIMIT $2{}",
                    $lock
                )))
                .bind(DbTime(now))
                .bind(limit)
                .fetch_all(&mut *$tx)
                .await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let plan = plan(rows);
                let inserted = $insert(&mut $tx, &plan.executions).await?;
                let (updates, started) = plan.resolve(&inserted);
                $update(&mut $tx, &updates).await?;
                $tx.commit().await?;
                Ok(started)
            }};
        }
        match &self.db {
            Db::Postgres(pool, _) => {
                let mut tx = pool.begin().await?;
                claim_in!(
                    tx,
                    " FOR UPDATE SKIP LOCKED",
                    pg_insert_executions,
                    pg_update_timings
                )
            }
            Db::Sqlite(_, shared) => {
                let (_writer, mut tx) = shared.begin_write().await?;
                claim_in!(tx, "", sqlite_insert_executions, sqlite_update_timings)
            }
        }
    }

    /// The finish transaction: records the end of each run (unless it was
    /// already marked otherwise, e.g. interrupted by the rescuer), frees its
    /// task and re-arms the task's claim time with `rearm`.
    /// Returns how many tasks were freed.
    pub async fn finish<F>(&self, runs: &[FinishedRun], rearm: F) -> Result<usize, sqlx::Error>
    where
        F: Fn(&FinishTiming) -> (Option<Timestamp>, String),
    {
        if runs.is_empty() {
            return Ok(0);
        }
        match &self.db {
            Db::Postgres(pool, _) => {
                let mut tx = pool.begin().await?;
                let ended: Vec<(DbId, DbId)> = sqlx::query_as(
                    "UPDATE executions AS e SET status = v.status, finished_at = v.finished_at, \
                     output = v.output, error = v.error \
                     FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::text[]) \
                     AS v(id, status, finished_at, output, error) \
                     WHERE e.id = v.id AND e.status = 'running' RETURNING e.id, e.task_id",
                )
                .bind(runs.iter().map(|r| DbId(r.execution_id)).collect::<Vec<_>>())
                .bind(runs.iter().map(|r| r.status).collect::<Vec<_>>())
                .bind(runs.iter().map(|r| DbTime(r.finished_at)).collect::<Vec<_>>())
                .bind(runs.iter().map(|r| r.output.clone().map(Json)).collect::<Vec<_>>())
                .bind(runs.iter().map(|r| r.error.clone()).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
                if ended.is_empty() {
                    tx.commit().await?;
                    return Ok(0);
                }
                // Locked in id order, so two finishers can never deadlock.
                // Found by primary key; the running-execution check makes sure
                // a task already freed (and maybe running again) is left alone.
                let timings = sqlx::query_as::<_, FinishTiming>(
                    "SELECT id, state, next_run_at, queued_for, backlog_until, deleted_at FROM tasks \
                     WHERE id = ANY($1) AND running_execution_id = ANY($2) ORDER BY id FOR UPDATE",
                )
                .bind(ended.iter().map(|e| e.1).collect::<Vec<_>>())
                .bind(ended.iter().map(|e| e.0).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
                let decided: Vec<(DbId, Option<DbTime>, String)> = timings
                    .iter()
                    .map(|t| {
                        let (claim_at, state) = rearm(t);
                        (t.id, opt(claim_at), state)
                    })
                    .collect();
                sqlx::query(
                    "UPDATE tasks AS t SET running_execution_id = NULL, claim_at = v.claim_at, state = v.state \
                     FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[]) AS v(id, claim_at, state) \
                     WHERE t.id = v.id",
                )
                .bind(decided.iter().map(|d| d.0).collect::<Vec<_>>())
                .bind(decided.iter().map(|d| d.1).collect::<Vec<_>>())
                .bind(decided.iter().map(|d| d.2.as_str()).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(decided.len())
            }
            Db::Sqlite(_, shared) => {
                let (_writer, mut tx) = shared.begin_write().await?;
                let batch: Vec<Value> = runs
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.execution_id.hyphenated().to_string(),
                            "status": r.status,
                            "finished_at": sqlite_time(Some(r.finished_at)),
                            "output": r.output.as_ref().map(|o| o.to_string()),
                            "error": r.error,
                        })
                    })
                    .collect();
                let ended: Vec<(String, String)> = sqlx::query_as(
                    "UPDATE executions SET status = v.status, finished_at = v.finished_at, \
                     output = v.output, error = v.error \
                     FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status, \
                           value ->> 'finished_at' AS finished_at, value ->> 'output' AS output, \
                           value ->> 'error' AS error FROM json_each($1)) AS v \
                     WHERE executions.id = v.id AND executions.status = 'running' \
                     RETURNING executions.id, executions.task_id",
                )
                .bind(Value::Array(batch).to_string())
                .fetch_all(&mut *tx)
                .await?;
                if ended.is_empty() {
                    tx.commit().await?;
                    return Ok(0);
                }
                let timings = sqlx::query_as::<_, FinishTiming>(
                    "SELECT t.id, t.state, t.next_run_at, t.queued_for, t.backlog_until, t.deleted_at \
                     FROM json_each($1) AS v JOIN tasks t ON t.id = v.value ->> 1 \
                     AND t.running_execution_id = v.value ->> 0",
                )
                .bind(serde_json::to_string(&ended).unwrap_or_default())
                .fetch_all(&mut *tx)
                .await?;
                let decided: Vec<Value> = timings
                    .iter()
                    .map(|t| {
                        let (claim_at, state) = rearm(t);
                        json!({"id": t.id.0.hyphenated().to_string(), "claim_at": sqlite_time(claim_at), "state": state})
                    })
                    .collect();
                let freed = decided.len();
                sqlx::query(
                    "UPDATE tasks SET running_execution_id = NULL, claim_at = v.claim_at, state = v.state \
                     FROM (SELECT value ->> 'id' AS id, value ->> 'claim_at' AS claim_at, \
                           value ->> 'state' AS state FROM json_each($1)) AS v \
                     WHERE tasks.id = v.id",
                )
                .bind(Value::Array(decided).to_string())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(freed)
            }
        }
    }
}

async fn pg_insert_executions(
    tx: &mut sqlx::PgConnection,
    executions: &[NewExecution],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    if executions.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<DbId> = sqlx::query_scalar(
        "INSERT INTO executions (id, task_id, scheduled_for, trigger, status, started_at, \
         finished_at, error, node_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], \
         $6::timestamptz[], $7::timestamptz[], $8::text[], $9::uuid[]) \
         ON CONFLICT (task_id, scheduled_for) DO NOTHING RETURNING id",
    )
    .bind(executions.iter().map(|e| DbId(e.id)).collect::<Vec<_>>())
    .bind(
        executions
            .iter()
            .map(|e| DbId(e.task_id))
            .collect::<Vec<_>>(),
    )
    .bind(
        executions
            .iter()
            .map(|e| DbTime(e.scheduled_for))
            .collect::<Vec<_>>(),
    )
    .bind(executions.iter().map(|e| e.trigger).collect::<Vec<_>>())
    .bind(executions.iter().map(|e| e.status).collect::<Vec<_>>())
    .bind(
        executions
            .iter()
            .map(|e| opt(e.started_at))
            .collect::<Vec<_>>(),
    )
    .bind(
        executions
            .iter()
            .map(|e| opt(e.finished_at))
            .collect::<Vec<_>>(),
    )
    .bind(
        executions
            .iter()
            .map(|e| e.error.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        executions
            .iter()
            .map(|e| e.node_id.map(DbId))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

async fn pg_update_timings(
    tx: &mut sqlx::PgConnection,
    updates: &[TaskTimingUpdate],
) -> Result<(), sqlx::Error> {
    if updates.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE tasks AS t SET next_run_at = v.next_run_at, queued_for = v.queued_for, \
         backlog_until = v.backlog_until, claim_at = v.claim_at, \
         running_execution_id = v.running, state = v.state \
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], \
         $5::timestamptz[], $6::uuid[], $7::text[]) \
         AS v(id, next_run_at, queued_for, backlog_until, claim_at, running, state) \
         WHERE t.id = v.id",
    )
    .bind(updates.iter().map(|u| DbId(u.id)).collect::<Vec<_>>())
    .bind(
        updates
            .iter()
            .map(|u| opt(u.next_run_at))
            .collect::<Vec<_>>(),
    )
    .bind(
        updates
            .iter()
            .map(|u| opt(u.queued_for))
            .collect::<Vec<_>>(),
    )
    .bind(
        updates
            .iter()
            .map(|u| opt(u.backlog_until))
            .collect::<Vec<_>>(),
    )
    .bind(updates.iter().map(|u| opt(u.claim_at)).collect::<Vec<_>>())
    .bind(
        updates
            .iter()
            .map(|u| u.running_execution_id.map(DbId))
            .collect::<Vec<_>>(),
    )
    .bind(updates.iter().map(|u| u.state.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn sqlite_insert_executions(
    tx: &mut sqlx::SqliteConnection,
    executions: &[NewExecution],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    if executions.is_empty() {
        return Ok(HashSet::new());
    }
    let batch: Vec<Value> = executions
        .iter()
        .map(|e| {
            json!({
                "id": e.id.hyphenated().to_string(),
                "task_id": e.task_id.hyphenated().to_string(),
                "scheduled_for": sqlite_time(Some(e.scheduled_for)),
                "trigger": e.trigger,
                "status": e.status,
                "started_at": sqlite_time(e.started_at),
                "finished_at": sqlite_time(e.finished_at),
                "error": e.error,
                "node_id": sqlite_id(e.node_id),
            })
        })
        .collect();
    // `WHERE true` resolves SQLite's parsing ambiguity between a join's ON
    // and the upsert's ON CONFLICT.
    let rows: Vec<String> = sqlx::query_scalar(
        "INSERT INTO executions (id, task_id, scheduled_for, trigger, status, started_at, \
         finished_at, error, node_id) \
         SELECT value ->> 'id', value ->> 'task_id', value ->> 'scheduled_for', value ->> 'trigger', \
         value ->> 'status', value ->> 'started_at', value ->> 'finished_at', value ->> 'error', \
         value ->> 'node_id' FROM json_each($1) WHERE true \
         ON CONFLICT (task_id, scheduled_for) DO NOTHING RETURNING id",
    )
    .bind(Value::Array(batch).to_string())
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.iter().filter_map(|r| r.parse().ok()).collect())
}

async fn sqlite_update_timings(
    tx: &mut sqlx::SqliteConnection,
    updates: &[TaskTimingUpdate],
) -> Result<(), sqlx::Error> {
    if updates.is_empty() {
        return Ok(());
    }
    let batch: Vec<Value> = updates
        .iter()
        .map(|u| {
            json!({
                "id": u.id.hyphenated().to_string(),
                "next_run_at": sqlite_time(u.next_run_at),
                "queued_for": sqlite_time(u.queued_for),
                "backlog_until": sqlite_time(u.backlog_until),
                "claim_at": sqlite_time(u.claim_at),
                "running": sqlite_id(u.running_execution_id),
                "state": u.state,
            })
        })
        .collect();
    sqlx::query(
        "UPDATE tasks SET next_run_at = v.next_run_at, queued_for = v.queued_for, \
         backlog_until = v.backlog_until, claim_at = v.claim_at, \
         running_execution_id = v.running, state = v.state \
         FROM (SELECT value ->> 'id' AS id, value ->> 'next_run_at' AS next_run_at, \
               value ->> 'queued_for' AS queued_for, value ->> 'backlog_until' AS backlog_until, \
               value ->> 'claim_at' AS claim_at, value ->> 'running' AS running, \
               value ->> 'state' AS state FROM json_each($1)) AS v \
         WHERE tasks.id = v.id",
    )
    .bind(Value::Array(batch).to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
