//! provisioning: one fresh VM per exam student through a rate-limited
//! cloud API.
//!
//! This part holds the exams as data. Pieces: [`model`] (the API's wire
//! types), [`service`] (every operation and its rules), [`store`] (SQL on
//! both backends, tolerant of rows other applications wrote badly),
//! [`watch`] (the current exams and a signal when they change, whoever
//! changed them: the API, or SQL written straight to the `exams` table),
//! [`api`] (routes), [`status`] (what the user sees: one exam's status,
//! the planned calls, the VM ledger). Planning is the pure kernel
//! `allot_kernel::provisioning`; the cloud provider it plans for is
//! simulated by `crate::sim::cloud`.

pub mod api;
pub mod cloud;
pub mod executor;
pub mod ledger;
pub mod model;
pub mod pacing;
pub mod publish;
pub mod service;
pub mod status;
pub mod store;
pub mod watch;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::cloud::CloudClient;
pub use self::executor::{Executor, ExecutorConfig};
use self::publish::Publisher;
pub use self::service::{ExamService, ProvisioningConfig};
pub use self::watch::{ExamSnapshot, ExamWatcher};
use crate::clock::SharedClock;
use crate::notifications::Hub;
use crate::store::Db;

/// The running module.
pub struct Provisioning {
    pub exams: Arc<ExamService>,
    /// Follows the `exams` table; running only with the background workers.
    pub watcher: Option<ExamWatcher>,
    /// The executor's task, when it runs (background workers and a cloud URL).
    pub executor: Option<tokio::task::JoinHandle<()>>,
}

/// How long one call to the provider may take before it counts as failed.
pub const CLOUD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Provisioning {
    /// Builds the module; with `background` the exam watcher runs until
    /// `stop`, and so does the executor when a cloud URL is configured
    /// (on every replica; the `provisioning` lease lets one act). Fails
    /// when the watcher's first read of the table does.
    pub async fn start(
        db: Db,
        clock: SharedClock,
        node_id: Uuid,
        config: ProvisioningConfig,
        background: bool,
        stop: CancellationToken,
        hub: Option<Arc<Hub>>,
    ) -> Result<Provisioning, String> {
        let exams = Arc::new(ExamService::new(db.clone(), config.clone()));
        let watcher = if background {
            Some(
                ExamWatcher::start(db.clone(), exams.changes(), stop.clone())
                    .await
                    .map_err(|e| format!("cannot start the exam watcher: {e}"))?,
            )
        } else {
            None
        };
        let executor = match (&watcher, &config.cloud_url) {
            (Some(watcher), Some(url)) => {
                let cloud = CloudClient::new(url, CLOUD_TIMEOUT)?;
                let executor = Executor::new(
                    db,
                    clock,
                    cloud,
                    ExecutorConfig::new(config.profile),
                    node_id,
                    watcher.subscribe(),
                    Publisher::new(hub),
                );
                tracing::info!(cloud = %url, "provisioning: the executor runs (one replica at a time acts)");
                Some(tokio::spawn(executor.run(stop)))
            }
            (Some(_), None) => {
                tracing::info!(
                    "provisioning: no cloud URL (--cloud-url / ALLOT_CLOUD_URL), so the executor is off: exams are kept and planned, no VM is started"
                );
                None
            }
            (None, _) => None,
        };
        Ok(Provisioning {
            exams,
            watcher,
            executor,
        })
    }
}
