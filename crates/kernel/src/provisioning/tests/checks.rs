//! What every plan must satisfy, checked against the exams, the ledger and
//! the provider replay: exactly one VM per slot, claims the provider
//! confirms, the rate limits, stops as early as allowed and forecasts that
//! add up. The property tests run this on every plan they make.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::oracle::{Replayed, first_ready, replay};
use crate::booking::Micros;
use crate::provisioning::{Exam, ExamId, Forecast, Plan, Profile, StopCall, Vm, VmKey, VmState};

/// Which ledger row holds which slot: per key, among the live VMs of a
/// planned exam's slots below `students`, the ready one, else the one the
/// replay has ready first, else the earliest requested.
pub(super) fn holders(
    exams: &[Exam],
    ledger: &[Vm],
    pending: &[Option<Micros>],
) -> (BTreeMap<VmKey, usize>, Vec<usize>) {
    let mut first: HashMap<ExamId, usize> = HashMap::new();
    for (i, exam) in exams.iter().enumerate() {
        first.entry(exam.id).or_insert(i);
    }
    let mut held: BTreeMap<VmKey, usize> = BTreeMap::new();
    let mut surplus: Vec<usize> = Vec::new();
    let rank = |row: usize| {
        let vm = &ledger[row];
        let (not_ready, ready) = match vm.state {
            VmState::Ready { at } => (false, at),
            _ => (true, pending[row].unwrap_or(Micros::MAX)),
        };
        (not_ready, ready, vm.requested_at, row)
    };
    for (row, vm) in ledger.iter().enumerate() {
        if !vm.state.is_live() {
            continue;
        }
        let planned = first
            .get(&vm.key.exam)
            .is_some_and(|&e| vm.key.slot < exams[e].students);
        if !planned {
            surplus.push(row);
            continue;
        }
        match held.get(&vm.key).copied() {
            Some(other) if rank(other) <= rank(row) => surplus.push(row),
            Some(other) => {
                surplus.push(other);
                held.insert(vm.key, row);
            }
            None => {
                held.insert(vm.key, row);
            }
        }
    }
    (held, surplus)
}

/// Panics, saying which rule broke, unless `plan` is a valid plan for the
/// input; returns the provider's replay of it.
pub(super) fn check(
    exams: &[Exam],
    ledger: &[Vm],
    now: Micros,
    profile: &Profile,
    plan: &Plan,
) -> Replayed {
    let replayed = replay(ledger, now, profile, plan);
    let period = profile.alloc_period.max(0);
    let boot = profile.boot_delay.max(0);
    let interval = profile.request_interval.max(0);
    let spacing = period.max(interval).max(1);
    let (held, surplus) = holders(exams, ledger, &replayed.pending);
    let mut first: HashMap<ExamId, usize> = HashMap::new();
    for (i, exam) in exams.iter().enumerate() {
        first.entry(exam.id).or_insert(i);
    }

    // The provider confirms every claim.
    for (call, ready) in &replayed.calls {
        assert_eq!(
            call.ready, *ready,
            "the provider replay disagrees with {call:?}"
        );
        assert_eq!(
            call.at,
            ready - period - boot,
            "{call:?} is not just in time"
        );
    }

    // Runs are compact, in time order, and the calls respect the limits.
    for pair in plan.starts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let continues = a.exam == b.exam
            && b.first_slot == a.first_slot + a.count
            && b.first_at == a.first_at + i64::from(a.count) * a.step;
        assert!(!continues, "runs {a:?} and {b:?} should be one");
    }
    for run in &plan.starts {
        assert!(run.count > 0 && run.step == spacing, "bad run {run:?}");
    }
    let calls: Vec<_> = plan.starts.iter().flat_map(|r| r.calls()).collect();
    let last_request = ledger
        .iter()
        .map(|vm| vm.requested_at.min(now) + interval)
        .fold(now, Micros::max);
    if let Some(call) = calls.first() {
        assert!(
            call.at >= last_request,
            "{call:?} before the endpoint is free"
        );
        assert!(
            call.ready >= first_ready(ledger, now, profile),
            "{call:?} ready before the queue is free"
        );
    }
    for pair in calls.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= interval,
            "start calls too close: {pair:?}"
        );
        assert!(
            pair[1].ready - pair[0].ready >= spacing,
            "ready times closer than P_eff: {pair:?}"
        );
    }

    // Exactly one VM per slot of every exam that is not over.
    let mut new: BTreeMap<ExamId, BTreeSet<u32>> = BTreeMap::new();
    for call in &calls {
        let e = first.get(&call.key.exam).copied();
        assert!(
            e.is_some_and(|e| call.key.slot < exams[e].students),
            "start for a slot no exam has: {call:?}"
        );
        assert!(!held.contains_key(&call.key), "{call:?} for a held slot");
        assert!(
            new.entry(call.key.exam).or_default().insert(call.key.slot),
            "two starts for {:?}",
            call.key
        );
    }
    for (e, exam) in exams.iter().enumerate() {
        if first[&exam.id] != e {
            continue;
        }
        let planned = new.get(&exam.id).map_or(0, BTreeSet::len);
        let holding = held.keys().filter(|k| k.exam == exam.id).count();
        if exam.end.max(exam.start) > now {
            assert_eq!(
                planned + holding,
                exam.students as usize,
                "exam {:?} does not get exactly its students",
                exam.id
            );
        } else {
            assert_eq!(planned, 0, "new VMs for exam {:?}, which is over", exam.id);
        }
    }

    // Stops: surplus at once by key, then held VMs by finish, exam, slot,
    // each as early as the one before allows.
    let grace = profile.stop_grace.max(0);
    let mut due: Vec<(Micros, VmKey)> = {
        let mut rows: Vec<usize> = surplus
            .iter()
            .copied()
            .filter(|&r| ledger[r].stoppable)
            .collect();
        rows.sort_by_key(|&r| (ledger[r].key, r));
        rows.into_iter().map(|r| (now, ledger[r].key)).collect()
    };
    let mut regular: Vec<(Micros, VmKey)> = held
        .iter()
        .filter(|&(_, &row)| ledger[row].stoppable)
        .map(|(&key, _)| (exams[first[&key.exam]].finish(), key))
        .collect();
    regular.sort();
    due.extend(
        regular
            .into_iter()
            .map(|(finish, key)| ((finish + grace).max(now), key)),
    );
    let mut expected: Vec<StopCall> = Vec::new();
    for (release, key) in due {
        let at = match expected.last() {
            Some(last) => release.max(last.at + interval),
            None => release,
        };
        expected.push(StopCall { key, at });
    }
    assert_eq!(plan.stops, expected, "stop calls");

    // Forecasts recomputed from the replay.
    assert_eq!(plan.exams.len(), exams.len());
    for (exam, got) in exams.iter().zip(&plan.exams) {
        // A repeated id reports its first occurrence.
        let exam = &exams[first[&exam.id]];
        let deadline = exam.start - profile.margin;
        let mut readies: Vec<Micros> = Vec::new();
        let mut ready_now = 0;
        for (&key, &row) in &held {
            if key.exam == exam.id {
                match ledger[row].state {
                    VmState::Ready { at } => {
                        ready_now += 1;
                        readies.push(at);
                    }
                    _ => readies.push(replayed.pending[row].expect("a pending row")),
                }
            }
        }
        let live = readies.len() as u32;
        let mine: Vec<_> = replayed
            .calls
            .iter()
            .filter(|(c, _)| c.key.exam == exam.id)
            .collect();
        readies.extend(mine.iter().map(|(_, r)| *r));
        let on_time = readies.iter().filter(|&&r| r <= deadline).count() as u32;
        let complete = readies.len() == exam.students as usize;
        let want = Forecast {
            exam: exam.id,
            needed: exam.students,
            live,
            ready_now,
            predicted_ready_at_start: on_time,
            shortfall: exam.students - on_time,
            fully_ready_at: if exam.students > 0 && complete {
                readies.iter().copied().max()
            } else {
                None
            },
            next_start_call_at: mine.iter().map(|(c, _)| c.at).min(),
            idle_vm: readies.iter().map(|&r| (exam.start - r).max(0)).sum(),
            idle_lower_bound: (0..i64::from(exam.students))
                .map(|k| (profile.margin + k * spacing).max(0))
                .sum(),
        };
        assert_eq!(*got, want, "forecast of {:?}", exam.id);
    }
    replayed
}
