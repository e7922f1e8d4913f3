//! Stop calls: surplus VMs at once, every other VM as soon as its exam is
//! over, one call per request interval.
//!
//! A single pass in release order, each call at the later of its release
//! and one interval after the previous call, is as early as the rate limit
//! allows for every call: the calls are sorted by release, so no call can
//! go earlier without pushing one released before it later. Surplus VMs
//! are released at `now`; an exam's VMs at `max(now, finish + grace)`, in
//! finish order, ties by exam and slot. VMs whose provider id is not known
//! yet (not `stoppable`) get no call: the executor learns the id and
//! replans. The plan's own future VMs get none either; they are in the
//! ledger, and so in the next plan, once started.

use serde::{Deserialize, Serialize};

use super::model::{Exam, ExamId, Vm, VmKey};
use crate::booking::Micros;

/// One planned `stop()` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StopCall {
    pub key: VmKey,
    pub at: Micros,
}

/// `surplus` rows first (already by key), then the VMs holding slots:
/// `holders[e]` are exam `e`'s rows by slot.
pub(super) fn stop_calls(
    exams: &[Exam],
    ledger: &[Vm],
    surplus: &[usize],
    holders: &[Vec<usize>],
    now: Micros,
    interval: Micros,
    grace: Micros,
) -> Vec<StopCall> {
    let mut order: Vec<(Micros, ExamId, usize)> = (0..exams.len())
        .filter(|&e| !holders[e].is_empty())
        .map(|e| (exams[e].finish(), exams[e].id, e))
        .collect();
    order.sort_unstable();
    let held = order.iter().flat_map(|&(finish, _, e)| {
        let release = finish.saturating_add(grace).max(now);
        holders[e].iter().map(move |&row| (release, row))
    });
    let released = surplus
        .iter()
        .map(|&row| (now, row))
        .chain(held)
        .filter(|&(_, row)| ledger[row].stoppable)
        .map(|(release, row)| (release, ledger[row].key));
    let mut calls: Vec<StopCall> = Vec::new();
    let mut free = Micros::MIN;
    for (release, key) in released {
        let at = release.max(free);
        calls.push(StopCall { key, at });
        free = at.saturating_add(interval);
    }
    calls
}
