//! Which ledger VM holds which exam's slot, and which VMs hold nothing.
//!
//! A live (pending or ready) VM holds its key's slot when its exam is in
//! the input and the slot is below the exam's `students`. Everything else
//! that is live is surplus and stopped at once: VMs of exams that are gone
//! (cancelled or deleted), of slots an exam no longer has (it shrank), and
//! all but one VM of a key that somehow has several (the one kept is the
//! ready one, else the one predicted ready first). Failed, stopping and
//! stopped VMs hold nothing, so a failed VM's slot is free for a new one.

use std::collections::HashMap;

use super::model::{Exam, ExamId, Vm, VmKey, VmState};
use crate::booking::Micros;

/// A live VM on a planned exam's slot: (slot, not ready, ready time,
/// request time, row). Sorting puts each key's VMs together, best first.
type Candidate = (u32, bool, Micros, Micros, usize);

pub(super) struct Seats {
    /// Per input exam: the index of the first exam with the same id, which
    /// is the one planned.
    pub canonical: Vec<usize>,
    /// Per input exam: the ledger rows holding its slots, by slot. Empty
    /// for repeated ids.
    pub holders: Vec<Vec<usize>>,
    /// Ledger rows to stop at once, by key.
    pub surplus: Vec<usize>,
}

impl Seats {
    /// `ready` is the pipeline's per-row ready time, used to keep the best
    /// of several VMs on one key.
    pub fn sort(exams: &[Exam], ledger: &[Vm], ready: &[Option<Micros>]) -> Seats {
        let mut first: HashMap<ExamId, usize> = HashMap::with_capacity(exams.len());
        let canonical: Vec<usize> = exams
            .iter()
            .enumerate()
            .map(|(i, exam)| *first.entry(exam.id).or_insert(i))
            .collect();
        let mut surplus: Vec<usize> = Vec::new();
        // Per exam, sorted alone so that the sorts stay small.
        let mut candidates: Vec<Vec<Candidate>> = vec![Vec::new(); exams.len()];
        for (row, vm) in ledger.iter().enumerate() {
            if !vm.state.is_live() {
                continue;
            }
            match first.get(&vm.key.exam) {
                Some(&e) if vm.key.slot < exams[e].students => candidates[e].push((
                    vm.key.slot,
                    !matches!(vm.state, VmState::Ready { .. }),
                    ready[row].unwrap_or(Micros::MAX),
                    vm.requested_at,
                    row,
                )),
                _ => surplus.push(row),
            }
        }
        let holders: Vec<Vec<usize>> = candidates
            .into_iter()
            .map(|mut rows| {
                rows.sort_unstable();
                let mut held = Vec::with_capacity(rows.len());
                let mut previous: Option<u32> = None;
                for (slot, _, _, _, row) in rows {
                    if previous == Some(slot) {
                        surplus.push(row);
                    } else {
                        held.push(row);
                        previous = Some(slot);
                    }
                }
                held
            })
            .collect();
        let mut keyed: Vec<(VmKey, usize)> = surplus
            .into_iter()
            .map(|row| (ledger[row].key, row))
            .collect();
        keyed.sort_unstable();
        let surplus = keyed.into_iter().map(|(_, row)| row).collect();
        Seats {
            canonical,
            holders,
            surplus,
        }
    }

    /// The slots of exam `e` that no VM holds, as ascending ranges
    /// `[lo, hi)`.
    pub fn free_slots(&self, e: usize, exams: &[Exam], ledger: &[Vm]) -> Vec<(u32, u32)> {
        let mut free = Vec::new();
        let mut next: u32 = 0;
        for &row in &self.holders[e] {
            let slot = ledger[row].key.slot;
            if slot > next {
                free.push((next, slot));
            }
            next = slot + 1;
        }
        if next < exams[e].students {
            free.push((next, exams[e].students));
        }
        free
    }
}
