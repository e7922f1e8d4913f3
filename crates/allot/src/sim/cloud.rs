//! The cloud provider simulator (`allot sim cloud`): the provider exam
//! provisioning starts one VM per student through, as a real HTTP server.
//! start() and stop() are each limited to a few requests in a sliding
//! window, VMs are allocated one after the other at a fixed rate, and
//! faults (500s, late answers, lost answers) can be injected from a seed.
//!
//! Its rules read only the injected [`Clock`](crate::clock::Clock): on a
//! `ManualClock` a test or the exam-day simulation moves a whole school day
//! in milliseconds. Fault holds (delays, lost answers) are tokio sleeps, so
//! they follow tokio's paused clock. The HTTP contract, the fault semantics
//! and how to put a real provider in its place: docs/provisioning.md.
//!
//! - `config`: the profile and its validation.
//! - `window`: the sliding-window rate limit of one endpoint.
//! - `fleet`: VMs, the FIFO allocation queue, idempotency keys.
//! - `faults`: seeded fault draws.
//! - `provider`: one call's behaviour (limit, fault, effect, counters).
//! - `routes`: HTTP.
//! - `command`: `allot sim cloud`.

pub mod command;
mod config;
mod faults;
mod fleet;
mod provider;
mod routes;
mod window;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use config::{CloudConfig, Faults, InvalidConfig, MAX_IDEMPOTENCY_KEY_CHARS};
pub use fleet::{VmState, VmView};
pub use provider::{EndpointStats, Stats};
pub use routes::{IDEMPOTENCY_KEY, RETRY_AFTER_MS};

use crate::clock::SharedClock;
use provider::Provider;

/// What the routes share: the clock, the provider behind one lock, and the
/// shutdown signal that ends held answers.
struct Shared {
    clock: SharedClock,
    provider: Mutex<Provider>,
    stop: CancellationToken,
}

impl Shared {
    fn provider(&self) -> MutexGuard<'_, Provider> {
        // Nothing panics while holding the lock; if something ever did, the
        // counters and VMs inside are still whole.
        self.provider.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulator serving in a tokio task. Dropping it stops the server too;
/// [`RunningCloud::shutdown`] also waits for it to finish.
pub struct RunningCloud {
    addr: SocketAddr,
    seed: u64,
    config: CloudConfig,
    shared: Arc<Shared>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Binds `config.listen` and serves the simulator on `clock` in a tokio
/// task. An invalid profile is an `InvalidInput` error naming the flag.
pub async fn spawn(config: CloudConfig, clock: SharedClock) -> std::io::Result<RunningCloud> {
    let seed = config.seed.unwrap_or_else(rand::random);
    let provider = Provider::new(&config, seed)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        clock,
        provider: Mutex::new(provider),
        stop: CancellationToken::new(),
    });
    let app = routes::router(shared.clone());
    let stop = shared.stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    Ok(RunningCloud {
        addr,
        seed,
        config,
        shared,
        server: Some(server),
    })
}

impl RunningCloud {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base of every route.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The seed in use (the configured one, or the one picked at random).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// Every VM in request order, with its state now (as `GET /vms`).
    pub fn vms(&self) -> Vec<VmView> {
        self.shared.call_now(|p, now| p.vms(now))
    }

    /// One VM with its state now (as `GET /vms/{id}`).
    pub fn vm(&self, id: Uuid) -> Option<VmView> {
        self.shared.call_now(|p, now| p.vm(now, id))
    }

    /// The counters (as `GET /stats`).
    pub fn stats(&self) -> Stats {
        self.shared.provider().stats()
    }

    /// Stops accepting connections, ends held answers, and waits for the
    /// server task.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.shared.stop.cancel();
        match self.server.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningCloud {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

impl Shared {
    /// Runs one provider operation at the clock's `now`, read under the
    /// lock so that calls are recorded in the order of their times.
    fn call<T>(&self, f: impl FnOnce(&mut Provider, Timestamp) -> T) -> T {
        let mut provider = self.provider();
        let now = self.clock.now();
        f(&mut provider, now)
    }

    fn call_now<T>(&self, f: impl FnOnce(&Provider, Timestamp) -> T) -> T {
        self.call(|p, now| f(p, now))
    }

    /// Holds an answer back (tokio time, so a paused test runtime controls
    /// it); shutdown ends every hold at once.
    async fn hold(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.stop.cancelled() => {}
        }
    }
}
