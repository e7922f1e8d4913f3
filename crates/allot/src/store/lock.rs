//! SQLite mode is single-process: two processes scheduling from one file
//! would both fire every task. The first process takes an exclusive lock on
//! `FILE.lock`; a second one is refused with a clear message. The OS releases
//! the lock when the process dies, so a crash never leaves a stale lock.

use std::fs::{File, OpenOptions};
use std::path::Path;

#[derive(Debug)]
pub struct FileLock {
    _file: Option<File>,
}

impl FileLock {
    /// No lock (in-memory databases).
    pub fn none() -> Self {
        Self { _file: None }
    }

    pub fn acquire(db_path: &Path) -> Result<Self, String> {
        let mut lock_path = db_path.as_os_str().to_owned();
        lock_path.push(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                format!(
                    "cannot open lock file {}: {e}",
                    Path::new(&lock_path).display()
                )
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "the SQLite database {} is in use by another allot process; \
                 SQLite mode is single-process (use PostgreSQL to run several replicas)",
                db_path.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(format!(
                "cannot lock {}: {e}",
                Path::new(&lock_path).display()
            )),
        }
    }
}
