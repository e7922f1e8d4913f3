//! `allot serve`: wires storage, nodes, modules and the HTTP API together,
//! and owns the shutdown sequence.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{TokenStore, generate_secret, hash_secret};
use crate::booking::{Booking, BookingConfig};
use crate::calendar::{CalendarConfig, CalendarService};
use crate::clock::SharedClock;
use crate::config::ServeConfig;
use crate::http::auth::Gate;
use crate::http::{AppState, HttpLimits};
use crate::jobs::engine::EngineConfig;
use crate::jobs::kinds::KindSettings;
use crate::jobs::{Jobs, JobsConfig};
use crate::node::Node;
use crate::notifications::Hub;
use crate::provisioning::{Provisioning, ProvisioningConfig};
use crate::store::{Db, DbOptions};

/// A built server, ready to serve.
pub struct Server {
    pub state: AppState,
    pub router: axum::Router,
    pub jobs: Jobs,
    pub booking: Booking,
    pub provisioning: Provisioning,
    pub node: Node,
    pub db: Db,
    /// A token created because the database had none (printed once at start).
    pub first_token: Option<String>,
    stop: CancellationToken,
    shutdown_grace: Duration,
}

impl Server {
    /// Connects, migrates, registers the node and starts the modules.
    /// `background = false` leaves the claim loop to the caller (tests).
    pub async fn build(
        config: &ServeConfig,
        clock: SharedClock,
        background: bool,
    ) -> Result<Server, String> {
        let db = Db::connect(
            &config.database_url,
            &DbOptions {
                max_connections: config.database_max_connections,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        db.migrate().await.map_err(|e| e.to_string())?;
        Self::build_on(db, config, clock, background).await
    }

    /// As [`Server::build`] on an open, migrated database.
    pub async fn build_on(
        db: Db,
        config: &ServeConfig,
        clock: SharedClock,
        background: bool,
    ) -> Result<Server, String> {
        let tokens = TokenStore::new(db.clone());
        let now = clock.now();
        if let Some(secret) = &config.bootstrap_token {
            tokens
                .ensure("bootstrap", &hash_secret(secret), now)
                .await
                .map_err(|e| format!("cannot store the bootstrap token: {e}"))?;
        }
        let mut first_token = None;
        if tokens.count().await.map_err(|e| e.to_string())? == 0 {
            let secret = generate_secret();
            tokens
                .insert(
                    "first-admin",
                    &hash_secret(&secret),
                    &["*".to_string()],
                    now,
                )
                .await
                .map_err(|e| e.to_string())?;
            first_token = Some(secret);
        }
        let node = Node::register(db.clone(), clock.clone(), config.node_lease)
            .await
            .map_err(|e| format!("cannot register this node: {e}"))?;
        let stop = CancellationToken::new();
        if background {
            tokio::spawn(node.clone().keep_alive(stop.clone()));
        }
        let jobs = Jobs::start(
            db.clone(),
            clock.clone(),
            node.id,
            JobsConfig {
                workers: config.workers,
                engine: EngineConfig {
                    misfire_grace: config.misfire_grace,
                    ..Default::default()
                },
                kinds: KindSettings {
                    http_default_url: config.http_default_url.clone(),
                    allowed_hosts: config.http_allowed_hosts.clone(),
                    webhook_secret: config.webhook_secret.clone(),
                },
                rescue_every: (config.node_lease / 5).max(Duration::from_millis(200)),
            },
            background,
        );
        let booking = Booking::start(
            db.clone(),
            clock.clone(),
            node.id,
            BookingConfig {
                max_span: config.booking_max_span,
                sweep_tolerance: config.booking_sweep_tolerance,
                ..Default::default()
            },
            background,
            stop.clone(),
        );
        // One wake-up hub for the notification feed, shared by every
        // module that writes to it and by the feed's readers.
        let notifications = Arc::new(Hub::default());
        let calendar = Arc::new(CalendarService::new(
            db.clone(),
            clock.clone(),
            CalendarConfig {
                max_event: config.calendar_max_event,
                max_attachment_bytes: config.calendar_max_attachment_bytes,
                ..Default::default()
            },
            notifications.clone(),
        ));
        if background {
            // Webhook delivery of calendar notifications; safe on every
            // replica (claims skip rows another replica holds).
            crate::calendar::webhooks::Deliverer::new(db.clone(), clock.clone())
                .spawn(stop.clone());
        }
        // The exam watcher follows the exams table for the provisioning
        // executor; like the other background workers it runs on every
        // replica (it only reads).
        let provisioning = Provisioning::start(
            db.clone(),
            clock.clone(),
            node.id,
            ProvisioningConfig {
                max_students: config.provisioning_max_students,
                profile: config.provisioning_profile(),
                cloud_url: config.cloud_url.clone(),
            },
            background,
            stop.clone(),
            Some(notifications.clone()),
        )
        .await?;
        let state = AppState {
            db: db.clone(),
            clock,
            node_id: node.id,
            jobs: jobs.service.clone(),
            booking: booking.service.clone(),
            calendar,
            exams: provisioning.exams.clone(),
            exam_watcher: provisioning.watcher.clone(),
            notifications,
            metrics: crate::http::metrics::handle(),
        };
        let limits = HttpLimits {
            max_body_bytes: config.max_body_bytes,
            rate_per_second: config.rate_limit,
            rate_burst: config.rate_burst,
            max_attachment_bytes: config.calendar_max_attachment_bytes,
        };
        let gate = Arc::new(Gate::new(tokens, limits.rate_per_second, limits.rate_burst));
        let router = crate::http::router(state.clone(), gate, &limits);
        Ok(Server {
            state,
            router,
            jobs,
            booking,
            provisioning,
            node,
            db,
            first_token,
            stop,
            shutdown_grace: config.shutdown_grace,
        })
    }

    /// Serves until `shutdown` completes, then stops gracefully: no new
    /// claims, running executions get the grace period, the rest are
    /// recorded `interrupted`, the node's lease is released.
    pub async fn run(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let http_stop = CancellationToken::new();
        let http_stop_wait = http_stop.clone();
        let app = self.router.clone();
        let http = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { http_stop_wait.cancelled().await })
                .await
        });
        shutdown.await;
        tracing::info!(grace = ?self.shutdown_grace, "shutting down: no new runs; waiting for running ones");
        http_stop.cancel();
        let interrupted = self.jobs.shutdown(self.shutdown_grace).await;
        self.stop.cancel();
        // The executor ends after the step it is in (whose calls are all
        // recorded) and gives its lease up, before the database closes.
        if let Some(executor) = self.provisioning.executor.take()
            && tokio::time::timeout(Duration::from_secs(15), executor)
                .await
                .is_err()
        {
            tracing::warn!("provisioning executor still busy after 15 s; stopping anyway");
        }
        if let Err(e) = self.node.stop().await {
            tracing::warn!(error = %e, "cannot release the node lease");
        }
        match tokio::time::timeout(Duration::from_secs(5), http).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server ended with an error"),
            Err(_) => tracing::warn!("HTTP connections still open after shutdown; closing"),
            _ => {}
        }
        self.db.close().await;
        tracing::info!(interrupted, "stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// right after start-up is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {},
                _ = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
