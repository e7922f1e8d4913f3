//! What the planner is told: exams, and the ledger of VMs already asked for.

use serde::{Deserialize, Serialize};

use super::profile::Profile;
use crate::booking::Micros;

/// An exam's identity. The service passes `Uuid::as_u128`; the kernel only
/// needs it to be comparable, so that ties break the same way every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExamId(pub u128);

/// One exam: `students` VMs must be ready by [`Exam::deadline`] and are
/// stopped after `end`.
///
/// Ids should be unique in one call to [`super::plan`]; a repeated id is
/// planned once, by its first occurrence, and every occurrence gets that
/// forecast. An `end` before `start` is read as `start` (an exam of no
/// length), so that its VMs are never stopped before it begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Exam {
    pub id: ExamId,
    pub start: Micros,
    pub end: Micros,
    pub students: u32,
}

impl Exam {
    /// `start - margin`: when its VMs must be ready.
    pub fn deadline(&self, profile: &Profile) -> Micros {
        self.start.saturating_sub(profile.margin)
    }

    /// When the exam is over: `end`, but never before `start`.
    pub fn finish(&self) -> Micros {
        self.end.max(self.start)
    }
}

/// The idempotency key of one VM: exam and seat number, `slot` in
/// `0..students`. One VM per key is live at a time; a key whose VM failed
/// gets a new one under the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VmKey {
    pub exam: ExamId,
    pub slot: u32,
}

/// One row of the executor's VM ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Vm {
    pub key: VmKey,
    pub state: VmState,
    /// When `start()` was first called for it (or the intent to call it
    /// written). A time after the planner's `now` is read as `now`.
    pub requested_at: Micros,
    /// Its provider id is known, so `stop()` can be called on it.
    pub stoppable: bool,
}

/// Where a VM is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VmState {
    /// `start()` was called (or its intent written) and the VM is not known
    /// to be ready. `ready_at` is what the provider or executor expects, if
    /// anything; the planner never believes a time earlier than its own
    /// model of the provider's queue (see the module documentation).
    Pending {
        ready_at: Option<Micros>,
    },
    /// Ready since `at`.
    Ready {
        at: Micros,
    },
    /// `stop()` was called and not confirmed.
    Stopping,
    Stopped,
    /// `start()` definitely created nothing: the slot is free again.
    Failed,
}

impl VmState {
    /// Pending or ready: the VM holds its slot.
    pub fn is_live(&self) -> bool {
        matches!(self, VmState::Pending { .. } | VmState::Ready { .. })
    }
}
