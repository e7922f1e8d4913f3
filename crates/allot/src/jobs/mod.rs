//! jobs: a persistent task scheduler (interval, one-shot and cron tasks),
//! with no self-overlap, timeouts, misfire handling and execution history.
//!
//! Pieces: [`service`] (the rules behind every API call), [`engine`] (the
//! claim loop), [`runner`] (the worker pool and batched finisher),
//! [`maintenance`] (the rescuer of dead nodes' runs), [`store`] (SQL on both
//! backends), [`kinds`] (what each kind of task does), [`api`] (routes).
//! Scheduling decisions themselves are pure functions in
//! `allot_kernel::jobs`.

pub mod api;
pub mod engine;
pub mod kinds;
pub mod maintenance;
pub mod model;
pub mod runner;
pub mod schedule_spec;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::engine::{Engine, EngineConfig, rearm_after_finish};
use self::kinds::{KindSettings, RunContext};
use self::runner::Runner;
use self::service::JobService;
use self::store::JobStore;
use crate::clock::SharedClock;
use crate::store::Db;

/// Follows at most 10 redirects, and only to allowed hosts: otherwise a
/// redirect would walk an `http` task around the host allowlist.
fn redirect_policy(allowed: Vec<String>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let host = attempt.url().host_str().unwrap_or_default().to_string();
        if attempt.previous().len() >= 10 {
            attempt.error("more than 10 redirects")
        } else if !allowed.is_empty() && !allowed.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            attempt.error(format!(
                "redirect to host {host:?}, which is not in the allowed hosts"
            ))
        } else {
            attempt.follow()
        }
    })
}

/// How the jobs module is set up.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub workers: usize,
    pub engine: EngineConfig,
    pub kinds: KindSettings,
    /// How often the rescuer looks for runs of dead nodes.
    pub rescue_every: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: 64,
            engine: EngineConfig::default(),
            kinds: KindSettings::default(),
            rescue_every: Duration::from_secs(2),
        }
    }
}

/// The running module: its service and its background workers.
pub struct Jobs {
    pub service: Arc<JobService>,
    pub engine: Arc<Engine>,
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
    finisher: JoinHandle<()>,
    store: JobStore,
    clock: SharedClock,
    node_id: Uuid,
}

impl Jobs {
    /// Builds the module. With `background` the claim loop and the rescuer
    /// run; without, tests drive [`Engine::tick`] themselves.
    pub fn start(
        db: Db,
        clock: SharedClock,
        node_id: Uuid,
        config: JobsConfig,
        background: bool,
    ) -> Jobs {
        let store = JobStore::new(db.clone());
        let settings = Arc::new(config.kinds.clone());
        let http = crate::tls::http_client(redirect_policy(config.kinds.allowed_hosts.clone()));
        let ctx = RunContext {
            db,
            clock: clock.clone(),
            http,
            settings: settings.clone(),
        };
        let wake = Arc::new(Notify::new());
        let rearm_clock = clock.clone();
        let (runner, finisher) = Runner::start(
            ctx,
            store.clone(),
            clock.clone(),
            config.workers,
            wake.clone(),
            Arc::new(move |t| rearm_after_finish(t, rearm_clock.now())),
        );
        let engine = Arc::new(Engine::new(
            store.clone(),
            clock.clone(),
            node_id,
            runner,
            wake.clone(),
            config.engine.clone(),
        ));
        let service = Arc::new(JobService::new(
            store.clone(),
            clock.clone(),
            settings,
            engine.clone(),
        ));
        let stop = CancellationToken::new();
        let mut workers = Vec::new();
        if background {
            // Free the runs of dead nodes before the first claim: otherwise the
            // claim loop would see their tasks as still running and record the
            // downtime as overlaps instead of misfires (no catch-up run).
            let (first_store, first_clock, first_engine, first_stop) =
                (store.clone(), clock.clone(), engine.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                if let Err(e) = maintenance::rescue_once(&first_store, &first_clock, node_id).await {
                    tracing::warn!(error = %e, "rescuing runs of dead nodes failed; the rescuer will retry");
                }
                first_engine.run(first_stop).await
            }));
            workers.push(tokio::spawn(maintenance::run(
                store.clone(),
                clock.clone(),
                node_id,
                config.rescue_every,
                wake,
                stop.clone(),
            )));
        }
        Jobs {
            service,
            engine,
            stop,
            workers,
            finisher,
            store,
            clock,
            node_id,
        }
    }

    /// Graceful stop: claim nothing more, let running runs finish for up to
    /// `grace`, then interrupt the rest and record them `interrupted`.
    /// Returns how many runs had to be interrupted.
    pub async fn shutdown(self, grace: Duration) -> usize {
        self.stop.cancel();
        for w in self.workers {
            let _ = w.await;
        }
        let runner = self.engine.runner().clone();
        let mut interrupted = 0;
        if !runner.wait_idle(grace).await {
            interrupted = runner.in_flight();
            tracing::warn!(
                runs = interrupted,
                "grace period over; interrupting running executions"
            );
            runner.interrupt_all();
            runner.wait_idle(Duration::from_secs(10)).await;
        }
        // Anything the database still shows as ours (e.g. a finish that could
        // not be written) is closed as interrupted too.
        if let Ok(left) = self.store.runs_of_node(self.node_id).await
            && !left.is_empty()
        {
            let reason = "the server shut down before the run finished";
            if let Err(e) =
                maintenance::interrupt(&self.store, &left, self.clock.now(), reason).await
            {
                tracing::error!(error = %e, "cannot record interrupted runs at shutdown");
            }
        }
        drop(runner);
        drop(self.engine);
        drop(self.service);
        self.finisher.abort();
        interrupted
    }
}
