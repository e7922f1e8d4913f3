//! The rescuer: runs held by a node whose lease expired (it crashed or lost
//! its database connection) are recorded `interrupted`, and their tasks are
//! freed to run again. Every node runs it; the finish statement only touches
//! runs still `running`, so two rescuers never record one run twice.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::engine::rearm_after_finish;
use super::store::{FinishedRun, JobStore};
use crate::clock::SharedClock;

/// One pass: returns how many runs were interrupted.
pub async fn rescue_once(
    store: &JobStore,
    clock: &SharedClock,
    node: Uuid,
) -> Result<usize, sqlx::Error> {
    let now = clock.now();
    let orphans = store.orphaned_runs(now, node, 1000).await?;
    if orphans.is_empty() {
        return Ok(0);
    }
    interrupt(
        store,
        &orphans,
        now,
        "the node running it stopped before the run finished (lease expired)",
    )
    .await?;
    tracing::warn!(count = orphans.len(), "interrupted runs of dead nodes");
    Ok(orphans.len())
}

/// Records `(execution, task)` runs as `interrupted` with `reason` and
/// frees their tasks; runs already ended are left as they are.
pub async fn interrupt(
    store: &JobStore,
    runs: &[(Uuid, Uuid)],
    now: jiff::Timestamp,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let ends: Vec<FinishedRun> = runs
        .iter()
        .map(|(execution_id, task_id)| FinishedRun {
            execution_id: *execution_id,
            task_id: *task_id,
            status: "interrupted",
            finished_at: now,
            output: None,
            error: Some(reason.to_string()),
        })
        .collect();
    store.finish(&ends, |t| rearm_after_finish(t, now)).await?;
    metrics::counter!("allot_jobs_executions_total", "status" => "interrupted")
        .increment(ends.len() as u64);
    Ok(())
}

/// Rescues every `every` until `stop`.
pub async fn run(
    store: JobStore,
    clock: SharedClock,
    node: Uuid,
    every: Duration,
    wake: Arc<tokio::sync::Notify>,
    stop: CancellationToken,
) {
    loop {
        match rescue_once(&store, &clock, node).await {
            Ok(n) if n > 0 => wake.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rescuer pass failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
