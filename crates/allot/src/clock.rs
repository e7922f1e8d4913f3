//! Time is injected: nothing in allot reads the system clock except
//! [`SystemClock`]. Schedulers, workers and tests take an `Arc<dyn Clock>`, so a
//! test can run hours of schedule on a [`ManualClock`] in milliseconds.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// A source of "now".
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock, truncated to microseconds (the precision both databases
/// store), so that a time read here survives a round trip unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate_to_micros(Timestamp::now())
    }
}

/// A clock that only moves when told to. Used by tests and simulations.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(truncate_to_micros(start))),
        }
    }

    pub fn set(&self, t: Timestamp) {
        *self.lock() = truncate_to_micros(t);
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.lock();
        *now = truncate_to_micros(now.saturating_add(by).unwrap_or(*now));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A poisoned clock only means a test panicked while holding it; the
        // timestamp inside is still valid.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

/// Drops sub-microsecond precision.
pub fn truncate_to_micros(t: Timestamp) -> Timestamp {
    let micros = t.as_microsecond();
    Timestamp::from_microsecond(micros).unwrap_or(t)
}
