//! Runs claimed executions on a bounded pool and writes their ends back in
//! batches.
//!
//! Each run is a tokio task holding one permit of the pool. Its end (success,
//! failure, timeout, or interruption at shutdown) goes through a channel to a
//! single finisher, which writes many ends per transaction: that is what lets
//! no-op tasks reach thousands of executions per second. A batch that fails
//! to write is retried, never dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::kinds::{RunContext, TaskAction, TaskKind};
use super::store::{FinishTiming, FinishedRun, JobStore, NewExecution, TaskRow};
use crate::clock::SharedClock;

/// Decides a task's next claim time and state once its run has ended.
pub type Rearm = Arc<dyn Fn(&FinishTiming) -> (Option<jiff::Timestamp>, String) + Send + Sync>;

/// Shared state of the pool.
pub struct Runner {
    ctx: RunContext,
    clock: SharedClock,
    permits: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<FinishedRun>,
    /// Runs dispatched whose end is not yet written.
    in_flight: Arc<AtomicUsize>,
    /// Runs whose end has been written, since start.
    ended: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    /// Cancelled when the shutdown grace period is over: running runs stop
    /// and are recorded `interrupted`.
    hard_stop: CancellationToken,
}

impl Runner {
    /// Starts the finisher; returns the runner and the finisher's handle.
    pub fn start(
        ctx: RunContext,
        store: JobStore,
        clock: SharedClock,
        workers: usize,
        wake: Arc<Notify>,
        rearm: Rearm,
    ) -> (Arc<Runner>, tokio::task::JoinHandle<()>) {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let runner = Arc::new(Runner {
            ctx,
            clock: clock.clone(),
            permits: Arc::new(Semaphore::new(workers.max(1))),
            done_tx,
            in_flight: Arc::new(AtomicUsize::new(0)),
            ended: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(Notify::new()),
            hard_stop: CancellationToken::new(),
        });
        let finisher = tokio::spawn(finish_loop(
            done_rx,
            store,
            runner.in_flight.clone(),
            runner.ended.clone(),
            runner.idle.clone(),
            wake,
            rearm,
        ));
        (runner, finisher)
    }

    /// Free slots in the pool.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Runs whose end is not yet written.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Runs whose end has been written since this runner started.
    pub fn ended(&self) -> usize {
        self.ended.load(Ordering::SeqCst)
    }

    /// Starts `execution` of `task` on the pool.
    pub fn dispatch(&self, task: &TaskRow, execution: NewExecution) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let permits = self.permits.clone();
        let ctx = self.ctx.clone();
        let clock = self.clock.clone();
        let done = self.done_tx.clone();
        let hard_stop = self.hard_stop.clone();
        let timeout = Duration::from_millis(task.timeout_ms.max(1) as u64);
        let action = TaskKind::parse(&task.kind)
            .ok_or_else(|| format!("unknown kind {:?}", task.kind))
            .and_then(|kind| {
                TaskAction::parse(kind, &task.params.0, &ctx.settings)
                    .map_err(|e| format!("invalid params: {}: {}", e.pointer, e.message))
            });
        // Taken now, not in the task, so the claim loop sees the pool shrink
        // before its next claim. It only claims as many runs as there are
        // free permits, so the fallback wait does not happen in practice.
        let permit = permits.clone().try_acquire_owned().ok();
        tokio::spawn(async move {
            let _permit = match permit {
                Some(p) => Some(p),
                None => permits.acquire_owned().await.ok(),
            };
            let task_id = execution.task_id;
            let (status, output, error) = match action {
                Err(e) => ("failed", None, Some(e)),
                Ok(action) => {
                    tokio::select! {
                        biased;
                        _ = hard_stop.cancelled() => (
                            "interrupted",
                            None,
                            Some("the server shut down before the run finished".to_string()),
                        ),
                        r = tokio::time::timeout(timeout, action.run(task_id, &ctx)) => match r {
                            Ok(Ok(output)) => ("succeeded", Some(output), None),
                            Ok(Err(f)) => ("failed", f.output, Some(f.error)),
                            Err(_) => (
                                "timed_out",
                                None,
                                Some(format!(
                                    "cancelled after the task timeout of {}",
                                    allot_kernel::duration::format_duration(timeout)
                                )),
                            ),
                        },
                    }
                }
            };
            metrics::counter!("allot_jobs_executions_total", "status" => status).increment(1);
            let _ = done.send(FinishedRun {
                execution_id: execution.id,
                task_id,
                status,
                finished_at: clock.now(),
                output,
                error,
            });
        });
    }

    /// Stops every running run now; they are recorded `interrupted`.
    pub fn interrupt_all(&self) {
        self.hard_stop.cancel();
    }

    /// Waits until every dispatched run has ended and its end is written,
    /// or until `limit` passes. Returns whether the pool is idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.idle.notified();
            if self.in_flight() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.in_flight() == 0;
            }
        }
    }
}

async fn finish_loop(
    mut rx: mpsc::UnboundedReceiver<FinishedRun>,
    store: JobStore,
    in_flight: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    wake: Arc<Notify>,
    rearm: Rearm,
) {
    const MAX_BATCH: usize = 1024;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(run) => batch.push(run),
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            match store.finish(&batch, |t| rearm(t)).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, runs = batch.len(), "cannot record run ends; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        ended.fetch_add(batch.len(), Ordering::SeqCst);
        in_flight.fetch_sub(batch.len(), Ordering::SeqCst);
        batch.clear();
        wake.notify_one();
        idle.notify_waiters();
    }
}
