//! The continuous job of rule 5: entries that slide into the window of an
//! unresolved unplanned outage are evicted as they enter it.
//!
//! It ticks every quarter of the tolerance (default 1 s, so every 250 ms),
//! which bounds the lateness of an eviction by a quarter of the tolerance
//! plus one sweep. Only the holder of the `booking-sweeper` leader lease
//! sweeps, so replicas do not race each other for the same entries (they
//! could not evict twice anyway: evictions run under the system lock and
//! re-check). Each eviction's lateness is recorded in the
//! `allot_booking_eviction_lateness_seconds` histogram.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::service::BookingService;
use crate::leader::LeaderLease;

pub struct Sweeper {
    pub service: Arc<BookingService>,
    pub lease: LeaderLease,
}

impl Sweeper {
    pub fn tick_every(&self) -> Duration {
        (self.service.config().sweep_tolerance / 4).max(Duration::from_millis(10))
    }

    /// One round: holds (or takes) the lease, and if held, sweeps.
    pub async fn round(&self) -> usize {
        match self.lease.try_hold().await {
            Ok(true) => {}
            Ok(false) => return 0,
            Err(e) => {
                tracing::warn!(error = %e, "booking sweeper: cannot renew its lease");
                return 0;
            }
        }
        match self.service.sweep().await {
            Ok(evicted) => {
                for (id, late) in &evicted {
                    metrics::histogram!("allot_booking_eviction_lateness_seconds")
                        .record(late.as_secs_f64());
                    metrics::counter!("allot_booking_evictions_total").increment(1);
                    tracing::info!(entry = %id, lateness_ms = late.as_millis() as u64, "evicted entry inside an unplanned outage window");
                }
                evicted.len()
            }
            Err(e) => {
                tracing::warn!(error = %e, "booking sweep failed; retrying next tick");
                0
            }
        }
    }

    pub async fn run(self, stop: CancellationToken) {
        let every = self.tick_every();
        loop {
            self.round().await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
        if let Err(e) = self.lease.release().await {
            tracing::debug!(error = %e, "booking sweeper: cannot release its lease");
        }
    }
}
