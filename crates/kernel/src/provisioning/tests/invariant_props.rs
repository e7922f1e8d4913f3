//! Larger random instances, where no exhaustive search reaches: every
//! plan passes the full checks, has as many VMs on time as forward EDF
//! over single VMs gives, and nothing panics on arbitrary values.

use proptest::prelude::*;

use super::checks::{check, holders};
use super::oracle::first_ready;
use crate::booking::Micros;
use crate::provisioning::{Exam, ExamId, Profile, Vm, VmKey, VmState, plan};

fn state(low: i64, high: i64) -> impl Strategy<Value = VmState> {
    prop_oneof![
        4 => prop::option::of(low..high).prop_map(|ready_at| VmState::Pending { ready_at }),
        3 => (low..high).prop_map(|at| VmState::Ready { at }),
        1 => Just(VmState::Failed),
        1 => Just(VmState::Stopping),
        1 => Just(VmState::Stopped),
    ]
}

fn exams(ids: u128, low: i64, high: i64, students: u32) -> impl Strategy<Value = Vec<Exam>> {
    prop::collection::vec((0..ids, low..high, -100..600i64, 0..=students), 0..20).prop_map(
        |exams| {
            exams
                .into_iter()
                .map(|(id, start, len, students)| Exam {
                    id: ExamId(id),
                    start,
                    end: start + len,
                    students,
                })
                .collect()
        },
    )
}

fn ledger(ids: u128, slots: u32, low: i64, high: i64) -> impl Strategy<Value = Vec<Vm>> {
    prop::collection::vec(
        (0..ids, 0..slots, state(low, high), low..high, any::<bool>()),
        0..80,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(exam, slot, state, requested_at, stoppable)| {
                super::vm(exam, slot, state, requested_at, stoppable)
            })
            .collect()
    })
}

fn profile() -> impl Strategy<Value = Profile> {
    (1..50i64, 0..30i64, 1..60i64, -5..100i64, 0..50i64).prop_map(|(p, b, i, margin, grace)| {
        Profile {
            alloc_period: p,
            boot_delay: b,
            request_interval: i,
            margin,
            stop_grace: grace,
        }
    })
}

/// Forward EDF over single VMs: in deadline order, a VM is on time if the
/// next free grid point is at or before its deadline.
fn most_on_time(first: Micros, spacing: Micros, deadlines: &mut [Micros]) -> u64 {
    deadlines.sort_unstable();
    let mut next = first;
    let mut on_time = 0;
    for &d in deadlines.iter() {
        if next <= d {
            on_time += 1;
            next += spacing;
        }
    }
    on_time
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plans_are_valid_and_get_the_most_on_time(
        profile in profile(),
        now in 0..1000i64,
        exams in exams(25, 0, 3000, 40),
        ledger in ledger(25, 45, -200, 1200),
    ) {
        let planned = plan(&exams, &ledger, now, &profile);
        let replayed = check(&exams, &ledger, now, &profile, &planned);
        let (held, _) = holders(&exams, &ledger, &replayed.pending);
        let mut seen = std::collections::HashSet::new();
        let mut deadlines: Vec<Micros> = Vec::new();
        for exam in exams.iter().filter(|e| seen.insert(e.id)) {
            if exam.end.max(exam.start) > now {
                let holding = held.keys().filter(|k| k.exam == exam.id).count() as u32;
                let d = exam.start - profile.margin;
                deadlines.extend((holding..exam.students).map(|_| d));
            }
        }
        let deadline = |id: ExamId| {
            let exam = exams.iter().find(|e| e.id == id).expect("a planned exam");
            exam.start - profile.margin
        };
        let on_time = replayed
            .calls
            .iter()
            .filter(|(call, ready)| *ready <= deadline(call.key.exam))
            .count() as u64;
        let spacing = profile.alloc_period.max(profile.request_interval);
        let first = first_ready(&ledger, now, &profile);
        prop_assert_eq!(on_time, most_on_time(first, spacing, &mut deadlines));
    }

    #[test]
    fn nothing_panics(
        p in any::<i64>(),
        b in any::<i64>(),
        i in any::<i64>(),
        margin in any::<i64>(),
        grace in any::<i64>(),
        now in any::<i64>(),
        raw in prop::collection::vec((0..6u128, any::<i64>(), any::<i64>(), any::<u32>()), 0..6),
        rows in prop::collection::vec(
            (0..8u128, any::<u32>(), state(i64::MIN, i64::MAX), any::<i64>(), any::<bool>()),
            0..10,
        ),
    ) {
        let profile = Profile {
            alloc_period: p,
            boot_delay: b,
            request_interval: i,
            margin,
            stop_grace: grace,
        };
        let exams: Vec<Exam> = raw
            .into_iter()
            .map(|(id, start, end, students)| Exam { id: ExamId(id), start, end, students })
            .collect();
        let ledger: Vec<Vm> = rows
            .into_iter()
            .map(|(exam, slot, state, requested_at, stoppable)| Vm {
                key: VmKey { exam: ExamId(exam), slot },
                state,
                requested_at,
                stoppable,
            })
            .collect();
        let planned = plan(&exams, &ledger, now, &profile);
        prop_assert_eq!(planned.exams.len(), exams.len());
        for f in &planned.exams {
            prop_assert_eq!(f.predicted_ready_at_start + f.shortfall, f.needed);
            prop_assert!(f.live <= f.needed);
        }
        for run in &planned.starts {
            prop_assert!(run.count > 0);
            let _ = run.calls().take(3).count();
        }
    }
}
