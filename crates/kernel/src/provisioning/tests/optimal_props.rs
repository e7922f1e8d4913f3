//! The plan's objective (VMs late, their total lateness, the idle of the
//! rest) equals the best of every integer-valued schedule, on small
//! instances: P of 1 to 3 units, boot 0 to 2, request intervals on both
//! sides of P, up to 4 exams of up to 4 students with deadlines within
//! about 40 units (some already past), and ledgers with pending, ready,
//! failed and stopped VMs, some of them for exams that are gone.

use proptest::prelude::*;

use super::checks::{check, holders};
use super::oracle::{Objective, best, best_by_enumeration, first_ready};
use crate::booking::Micros;
use crate::provisioning::{Exam, ExamId, Profile, Vm, VmState, plan};

#[derive(Debug, Clone)]
pub(super) struct Case {
    pub profile: Profile,
    pub now: Micros,
    pub exams: Vec<Exam>,
    pub ledger: Vec<Vm>,
}

fn state(low: i64, high: i64) -> impl Strategy<Value = VmState> {
    prop_oneof![
        4 => prop::option::of(low..high).prop_map(|ready_at| VmState::Pending { ready_at }),
        2 => (low..high).prop_map(|at| VmState::Ready { at }),
        1 => Just(VmState::Failed),
        1 => Just(VmState::Stopping),
        1 => Just(VmState::Stopped),
    ]
}

fn small() -> impl Strategy<Value = Case> {
    (
        (1..=3i64, 0..=2i64, 1..=4i64, 0..=3i64, 0..=3i64),
        0..=3i64,
        prop::collection::vec((-3..40i64, 1..10i64, 0..=4u32), 1..=4),
        prop::collection::vec(
            (0..6u128, 0..5u32, state(-10, 30), -12..=3i64, any::<bool>()),
            0..6,
        ),
    )
        .prop_map(|((p, b, i, margin, grace), now, exams, ledger)| Case {
            profile: Profile {
                alloc_period: p,
                boot_delay: b,
                request_interval: i,
                margin,
                stop_grace: grace,
            },
            now,
            exams: exams
                .into_iter()
                .enumerate()
                .map(|(id, (start, len, students))| Exam {
                    id: ExamId(id as u128),
                    start,
                    end: start + len,
                    students,
                })
                .collect(),
            ledger: ledger
                .into_iter()
                .map(|(exam, slot, state, requested_at, stoppable)| {
                    super::vm(exam, slot, state, requested_at, stoppable)
                })
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plan_is_optimal(case in small()) {
        let Case { profile, now, exams, ledger } = &case;
        let planned = plan(exams, ledger, *now, profile);
        let replayed = check(exams, ledger, *now, profile, &planned);
        let deadline = |id: ExamId| {
            let exam = exams.iter().find(|e| e.id == id).expect("a planned exam");
            exam.start - profile.margin
        };
        let got = replayed
            .calls
            .iter()
            .fold(Objective::default(), |sum, (call, ready)| {
                sum.plus(Objective::of(*ready, deadline(call.key.exam)))
            });
        let (held, _) = holders(exams, ledger, &replayed.pending);
        let demands: Vec<(Micros, u32)> = exams
            .iter()
            .filter(|e| e.end > *now)
            .map(|e| {
                let holding = held.keys().filter(|k| k.exam == e.id).count() as u32;
                (e.start - profile.margin, e.students - holding)
            })
            .collect();
        let spacing = profile.alloc_period.max(profile.request_interval);
        let want = best(first_ready(ledger, *now, profile), spacing, &demands);
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The search the optimality test trusts agrees with trying every
    /// schedule outright.
    #[test]
    fn search_matches_enumeration(
        first in -2..4i64,
        spacing in 1..=3i64,
        demands in prop::collection::vec((-3..14i64, 0..=2u32), 1..=3)
            .prop_filter("at most four VMs", |d| d.iter().map(|&(_, n)| n).sum::<u32>() <= 4),
    ) {
        prop_assert_eq!(
            best(first, spacing, &demands),
            best_by_enumeration(first, spacing, &demands)
        );
    }
}
