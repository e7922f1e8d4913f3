//! provisioning: one fresh VM per exam student through a rate-limited
//! cloud API.
//!
//! This part holds the exams as data. Pieces: [`model`] (the API's wire
//! types), [`service`] (every operation and its rules), [`store`] (SQL on
//! both backends, tolerant of rows other applications wrote badly),
//! [`watch`] (the current exams and a signal when they change, whoever
//! changed them: the API, or SQL written straight to the `exams` table),
//! [`api`] (routes). Planning is the pure kernel `allot_kernel::provisioning`;
//! the cloud provider it plans for is simulated by `crate::sim::cloud`.

pub mod api;
pub mod model;
pub mod service;
pub mod store;
pub mod watch;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use self::service::{ExamService, ProvisioningConfig};
pub use self::watch::{ExamSnapshot, ExamWatcher};
use crate::store::Db;

/// The running module.
pub struct Provisioning {
    pub exams: Arc<ExamService>,
    /// Follows the `exams` table; running only with the background workers.
    pub watcher: Option<ExamWatcher>,
}

impl Provisioning {
    /// Builds the module; with `background` the exam watcher runs until
    /// `stop`. Fails when the watcher's first read of the table does.
    pub async fn start(
        db: Db,
        config: ProvisioningConfig,
        background: bool,
        stop: CancellationToken,
    ) -> Result<Provisioning, sqlx::Error> {
        let exams = Arc::new(ExamService::new(db.clone(), config));
        let watcher = if background {
            Some(ExamWatcher::start(db, exams.changes(), stop).await?)
        } else {
            None
        };
        Ok(Provisioning { exams, watcher })
    }
}
