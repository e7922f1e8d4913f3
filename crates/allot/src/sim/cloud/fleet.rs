//! The provider's VMs and its allocation queue, as plain functions of `now`.
//!
//! Allocation is FIFO at one VM per period: a VM requested at `t` finishes
//! allocation at `max(t, previous VM's allocation) + period` and is ready
//! `boot_delay` later. Every time is fixed at request, so a VM's state at
//! any instant is derived, never stored: "allocating" before `ready_at`,
//! "ready" from then on, "stopped" once stopped. Stopping a VM early does
//! not give its place in the queue to the next one (real providers do not
//! reorder their backlog either), it only stops it.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One VM as the provider remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Vm {
    pub id: Uuid,
    pub idempotency_key: Option<String>,
    pub requested_at: Timestamp,
    pub allocated_at: Timestamp,
    pub ready_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VmState {
    Allocating,
    Ready,
    Stopped,
}

impl Vm {
    pub fn state(&self, now: Timestamp) -> VmState {
        if self.stopped_at.is_some() {
            VmState::Stopped
        } else if now < self.ready_at {
            VmState::Allocating
        } else {
            VmState::Ready
        }
    }

    /// What `GET /vms` shows of this VM at `now`.
    pub fn view(&self, now: Timestamp) -> VmView {
        VmView {
            id: self.id,
            idempotency_key: self.idempotency_key.clone(),
            requested_at: self.requested_at,
            ready_at: self.ready_at,
            stopped_at: self.stopped_at,
            state: self.state(now),
        }
    }
}

/// A VM as the inspection calls show it (and as they serialize it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmView {
    pub id: Uuid,
    pub idempotency_key: Option<String>,
    pub requested_at: Timestamp,
    pub ready_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
    pub state: VmState,
}

/// What a start() call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Created(Uuid),
    /// The idempotency key was used before: that VM, nothing new.
    Replayed(Uuid),
}

impl Started {
    pub fn id(self) -> Uuid {
        match self {
            Started::Created(id) | Started::Replayed(id) => id,
        }
    }
}

/// What a stop() call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Now,
    Already,
    NotFound,
}

#[derive(Debug, Clone)]
pub struct Fleet {
    period: SignedDuration,
    boot_delay: SignedDuration,
    /// In request order.
    vms: Vec<Vm>,
    by_id: HashMap<Uuid, usize>,
    by_key: HashMap<String, usize>,
}

impl Fleet {
    pub fn new(period: SignedDuration, boot_delay: SignedDuration) -> Self {
        Self {
            period,
            boot_delay,
            vms: Vec::new(),
            by_id: HashMap::new(),
            by_key: HashMap::new(),
        }
    }

    /// Starts a VM at `now`, or finds the one started under `key` before.
    /// `new_id` is only called when a VM is created.
    pub fn start(
        &mut self,
        now: Timestamp,
        key: Option<&str>,
        new_id: impl FnOnce() -> Uuid,
    ) -> Started {
        if let Some(&i) = key.and_then(|k| self.by_key.get(k)) {
            return Started::Replayed(self.vms[i].id);
        }
        let queue_free = self.vms.last().map_or(now, |v| v.allocated_at.max(now));
        let allocated_at = later(queue_free, self.period);
        let mut id = new_id();
        while self.by_id.contains_key(&id) {
            // Only a seeded generator repeating itself gets here; the id
            // must stay unique whatever the seed.
            id = Uuid::from_u128(id.as_u128().wrapping_add(1));
        }
        let index = self.vms.len();
        self.vms.push(Vm {
            id,
            idempotency_key: key.map(str::to_owned),
            requested_at: now,
            allocated_at,
            ready_at: later(allocated_at, self.boot_delay),
            stopped_at: None,
        });
        self.by_id.insert(id, index);
        if let Some(k) = key {
            self.by_key.insert(k.to_owned(), index);
        }
        Started::Created(id)
    }

    /// Stops a VM at `now`; stopping it again changes nothing.
    pub fn stop(&mut self, now: Timestamp, id: Uuid) -> Stopped {
        let Some(&i) = self.by_id.get(&id) else {
            return Stopped::NotFound;
        };
        let vm = &mut self.vms[i];
        if vm.stopped_at.is_some() {
            return Stopped::Already;
        }
        vm.stopped_at = Some(now);
        Stopped::Now
    }

    pub fn get(&self, id: Uuid) -> Option<&Vm> {
        self.by_id.get(&id).map(|&i| &self.vms[i])
    }

    /// In request order.
    pub fn vms(&self) -> &[Vm] {
        &self.vms
    }
}

fn later(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        "2030-06-03T08:00:00Z".parse().expect("valid")
    }

    fn at(secs: f64) -> Timestamp {
        later(t0(), SignedDuration::from_secs_f64(secs))
    }

    fn fleet() -> Fleet {
        Fleet::new(SignedDuration::from_secs(6), SignedDuration::ZERO)
    }

    fn ids() -> impl FnMut() -> Uuid {
        let mut n = 0u128;
        move || {
            n += 1;
            Uuid::from_u128(n)
        }
    }

    fn ready(f: &Fleet, now: Timestamp) -> usize {
        f.vms()
            .iter()
            .filter(|v| v.state(now) == VmState::Ready)
            .count()
    }

    #[test]
    fn twenty_seven_calls_over_nine_seconds() {
        let mut f = fleet();
        let mut id = ids();
        for s in 0..9 {
            for k in 0..3 {
                f.start(at(s as f64 + k as f64 * 0.3), None, &mut id);
            }
        }
        // Queued behind each other: the k-th is ready at 6k seconds.
        for (k, vm) in f.vms().iter().enumerate() {
            assert_eq!(vm.ready_at, at(6.0 * (k + 1) as f64));
        }
        assert_eq!(ready(&f, at(59.999)), 9);
        assert_eq!(ready(&f, at(60.0)), 10);
        assert_eq!(ready(&f, at(120.0)), 20);
        assert_eq!(ready(&f, at(161.999)), 26);
        assert_eq!(ready(&f, at(162.0)), 27);
        assert_eq!(ready(&f, at(174.0)), 27);
    }

    #[test]
    fn an_idle_queue_starts_from_the_request() {
        let mut f = fleet();
        let mut id = ids();
        f.start(at(0.0), None, &mut id);
        f.start(at(100.0), None, &mut id);
        f.start(at(101.0), None, &mut id);
        let ready: Vec<_> = f.vms().iter().map(|v| v.ready_at).collect();
        assert_eq!(ready, vec![at(6.0), at(106.0), at(112.0)]);
    }

    #[test]
    fn boot_delay_follows_allocation() {
        let mut f = Fleet::new(SignedDuration::from_secs(6), SignedDuration::from_secs(30));
        let mut id = ids();
        f.start(at(0.0), None, &mut id);
        f.start(at(0.0), None, &mut id);
        assert_eq!(f.vms()[0].allocated_at, at(6.0));
        assert_eq!(f.vms()[0].ready_at, at(36.0));
        // Boots overlap; only allocation is serial.
        assert_eq!(f.vms()[1].ready_at, at(42.0));
        assert_eq!(f.vms()[0].state(at(35.9)), VmState::Allocating);
        assert_eq!(f.vms()[0].state(at(36.0)), VmState::Ready);
    }

    #[test]
    fn stopping_early_keeps_the_queue() {
        let mut f = fleet();
        let mut id = ids();
        let a = f.start(at(0.0), None, &mut id).id();
        f.start(at(0.0), None, &mut id);
        assert_eq!(f.stop(at(1.0), a), Stopped::Now);
        assert_eq!(f.stop(at(2.0), a), Stopped::Already);
        let vm = f.get(a).expect("known");
        assert_eq!(vm.stopped_at, Some(at(1.0)));
        assert_eq!(vm.state(at(100.0)), VmState::Stopped);
        assert_eq!(f.vms()[1].ready_at, at(12.0));
        assert_eq!(f.stop(at(3.0), Uuid::from_u128(999)), Stopped::NotFound);
    }

    #[test]
    fn a_used_key_replays_its_vm() {
        let mut f = fleet();
        let mut id = ids();
        let a = f.start(at(0.0), Some("exam-1/s-7"), &mut id);
        let again = f.start(at(5.0), Some("exam-1/s-7"), || unreachable!());
        assert_eq!(again, Started::Replayed(a.id()));
        assert_eq!(f.vms().len(), 1);
        // A replay of a stopped VM is still that VM: nothing restarts.
        f.stop(at(6.0), a.id());
        let after_stop = f.start(at(7.0), Some("exam-1/s-7"), || unreachable!());
        assert_eq!(after_stop, Started::Replayed(a.id()));
        let b = f.start(at(8.0), Some("exam-1/s-8"), &mut id);
        assert!(matches!(b, Started::Created(id) if id != a.id()));
    }

    #[test]
    fn repeated_ids_are_made_unique() {
        let mut f = fleet();
        let a = f.start(at(0.0), None, || Uuid::from_u128(5)).id();
        let b = f.start(at(0.0), None, || Uuid::from_u128(5)).id();
        assert_ne!(a, b);
        assert_eq!(f.vms().len(), 2);
    }
}
