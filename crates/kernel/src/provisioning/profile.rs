//! The provider's speed and the service's safety margins.

use serde::{Deserialize, Serialize};

use crate::booking::Micros;

const SECOND: Micros = 1_000_000;

/// How fast the provider works and how much slack the service wants.
///
/// Negative durations make no sense for `alloc_period`, `boot_delay`,
/// `request_interval` and `stop_grace` and are read as zero. `margin` is
/// taken as given (a negative one lets VMs be ready after the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Profile {
    /// P: the provider allocates one VM per `alloc_period`, first come
    /// first served (60 s / VMs per minute).
    pub alloc_period: Micros,
    /// B: from allocated to ready.
    pub boot_delay: Micros,
    /// The least time between two calls to ONE endpoint (`start` and
    /// `stop` are limited separately): `ceil(1 s / requests per second)`.
    pub request_interval: Micros,
    /// VMs must be ready by `start - margin`, the exam's deadline.
    pub margin: Micros,
    /// VMs are stopped from `end + stop_grace` on.
    pub stop_grace: Micros,
}

impl Profile {
    /// A profile for a provider that allocates `vms_per_minute` VMs a
    /// minute and accepts `requests_per_second` calls per endpoint, with no
    /// boot delay, margin or grace. Both periods round up, so the planner
    /// never asks faster than allowed; a rate of 0 gives the longest period
    /// there is.
    pub fn from_rates(vms_per_minute: u32, requests_per_second: u32) -> Profile {
        let period = |per: Micros, rate: u32| match Micros::from(rate) {
            0 => Micros::MAX,
            rate => (per + rate - 1) / rate,
        };
        Profile {
            alloc_period: period(60 * SECOND, vms_per_minute),
            boot_delay: 0,
            request_interval: period(SECOND, requests_per_second),
            margin: 0,
            stop_grace: 0,
        }
    }

    /// P_eff = max(P, request interval), at least 1 µs: the least time
    /// between two new VMs' ready times in a plan. New calls are made one
    /// per P_eff, so both the provider and the rate limit keep up.
    pub fn spacing(&self) -> Micros {
        self.period().max(self.interval()).max(1)
    }

    pub(super) fn period(&self) -> Micros {
        self.alloc_period.max(0)
    }

    pub(super) fn boot(&self) -> Micros {
        self.boot_delay.max(0)
    }

    pub(super) fn interval(&self) -> Micros {
        self.request_interval.max(0)
    }

    pub(super) fn grace(&self) -> Micros {
        self.stop_grace.max(0)
    }

    /// P + B: from a call to its VM being ready when the queue is empty.
    pub(super) fn lead(&self) -> Micros {
        self.period().saturating_add(self.boot())
    }
}

/// 10 VMs a minute (P = 6 s), 3 requests a second, no boot delay, margin
/// or grace.
impl Default for Profile {
    fn default() -> Self {
        Profile::from_rates(10, 3)
    }
}
