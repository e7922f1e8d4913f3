//! The provider's queue as the ledger shows it: when each pending VM will
//! be ready, and the earliest a new VM can be.
//!
//! The provider allocates first come first served, one VM per P: a VM
//! requested at `t` is allocated at `max(t, previous allocation) + P` and
//! ready B later. The ledger's pending VMs are replayed through that rule
//! in `requested_at` order, each allocation pushed no earlier than
//!
//! - the provider's own `ready_at - B`, when the ledger has one (it may
//!   know of a slower queue; an earlier time would contradict the queue,
//!   so the model keeps the later of the two), and
//! - `now - B`: a VM the model expected before `now` and that is still
//!   pending is taken to be ready at `now` at the earliest, and everything
//!   behind it moves back with it. A slow provider corrects the plan at
//!   the next replan instead of leaving it in the past.
//!
//! Every pending VM counts, also those of cancelled exams: stopping a VM
//! that was not allocated yet need not give its place in the queue back,
//! so assuming it does not is the safe reading.

use super::model::{Vm, VmKey, VmState};
use super::profile::Profile;
use crate::booking::Micros;

/// The modelled queue.
pub(super) struct Pipeline {
    /// Per ledger row: when that VM is (or is predicted to be) ready, for
    /// pending and ready VMs; `None` for the rest.
    pub ready: Vec<Option<Micros>>,
    /// The earliest ready time of a VM requested now: the queue must be
    /// empty (`max(now, last allocation)`) and the start endpoint free
    /// (`last request + request interval`), then P + B.
    pub first_ready: Micros,
}

impl Pipeline {
    pub fn model(ledger: &[Vm], now: Micros, profile: &Profile) -> Pipeline {
        let period = profile.period();
        let boot = profile.boot();
        let mut ready: Vec<Option<Micros>> = ledger
            .iter()
            .map(|vm| match vm.state {
                VmState::Ready { at } => Some(at),
                _ => None,
            })
            .collect();
        let mut pending: Vec<(Micros, VmKey, usize)> = ledger
            .iter()
            .enumerate()
            .filter(|(_, vm)| matches!(vm.state, VmState::Pending { .. }))
            .map(|(i, vm)| (vm.requested_at.min(now), vm.key, i))
            .collect();
        pending.sort_unstable();
        let mut last_alloc: Option<Micros> = None;
        for (_, _, i) in pending {
            let vm = &ledger[i];
            let mut alloc = vm.requested_at.min(now).saturating_add(period);
            if let Some(previous) = last_alloc {
                alloc = alloc.max(previous.saturating_add(period));
            }
            if let VmState::Pending {
                ready_at: Some(expected),
            } = vm.state
            {
                alloc = alloc.max(expected.saturating_sub(boot));
            }
            alloc = alloc.max(now.saturating_sub(boot));
            ready[i] = Some(alloc.saturating_add(boot));
            last_alloc = Some(alloc);
        }
        let queue_free = last_alloc.map_or(now, |alloc| alloc.max(now));
        let endpoint_free = ledger
            .iter()
            .map(|vm| vm.requested_at.min(now))
            .max()
            .map_or(now, |last| last.saturating_add(profile.interval()));
        let first_call = queue_free.max(endpoint_free);
        Pipeline {
            ready,
            first_ready: first_call.saturating_add(profile.lead()),
        }
    }
}
