//! Tests for provisioning: examples that document behaviour, a replay of
//! every plan through the provider model, property tests against an
//! exhaustive search on small instances and against invariants on larger
//! ones, and a timing check at the size the service expects.

mod checks;
mod examples;
mod invariant_props;
mod optimal_props;
mod oracle;
mod speed;

use crate::booking::Micros;
use crate::provisioning::{ExamId, Vm, VmKey, VmState};

/// One ledger row.
pub(super) fn vm(
    exam: u128,
    slot: u32,
    state: VmState,
    requested_at: Micros,
    stoppable: bool,
) -> Vm {
    Vm {
        key: VmKey {
            exam: ExamId(exam),
            slot,
        },
        state,
        requested_at,
        stoppable,
    }
}
