//! Plain examples that document the behaviour the executor relies on.
//! Every plan here also goes through the full set of checks.

use super::checks::check;
use super::oracle::replay;
use super::vm;
use crate::booking::Micros;
use crate::provisioning::{
    Exam, ExamId, Plan, Profile, StartRun, StopCall, Vm, VmKey, VmState, plan,
};

const SECOND: Micros = 1_000_000;
const MINUTE: Micros = 60 * SECOND;
/// 2 March 2026 09:00 UTC.
const NOW: Micros = 1_772_442_000 * SECOND;
const INTERVAL: Micros = 333_334;

fn exam(id: u128, start: Micros, end: Micros, students: u32) -> Exam {
    Exam {
        id: ExamId(id),
        start,
        end,
        students,
    }
}

fn ready(at: Micros) -> VmState {
    VmState::Ready { at }
}

fn checked(exams: &[Exam], ledger: &[Vm], now: Micros, profile: &Profile) -> Plan {
    let planned = plan(exams, ledger, now, profile);
    check(exams, ledger, now, profile, &planned);
    planned
}

fn stop(exam: u128, slot: u32, at: Micros) -> StopCall {
    StopCall {
        key: VmKey {
            exam: ExamId(exam),
            slot,
        },
        at,
    }
}

#[test]
fn default_profile_is_ten_a_minute_and_three_calls_a_second() {
    let profile = Profile::default();
    assert_eq!(profile.alloc_period, 6 * SECOND);
    assert_eq!(profile.request_interval, INTERVAL, "1 s / 3, rounded up");
    assert_eq!(profile.spacing(), 6 * SECOND);
    assert_eq!(Profile::from_rates(7, 0).alloc_period, 8_571_429);
    assert_eq!(Profile::from_rates(0, 0).request_interval, Micros::MAX);
}

#[test]
fn twenty_seven_calls_back_to_back_come_out_one_per_six_seconds() {
    let profile = Profile::default();
    // 27 calls as fast as the endpoint allows: over 9 seconds.
    let burst = Plan {
        starts: vec![StartRun {
            exam: ExamId(1),
            first_slot: 0,
            count: 27,
            first_at: NOW,
            step: INTERVAL,
            first_ready: 0,
        }],
        stops: vec![],
        exams: vec![],
    };
    assert!(burst.starts[0].last_at() - NOW < 9 * SECOND);
    let readies: Vec<Micros> = replay(&[], NOW, &profile, &burst)
        .calls
        .iter()
        .map(|&(_, r)| r)
        .collect();
    let by = |t: Micros| readies.iter().filter(|&&r| r <= NOW + t).count();
    assert_eq!(by(MINUTE), 10);
    assert_eq!(by(2 * MINUTE), 20);
    assert_eq!(readies[26], NOW + 162 * SECOND, "the 27th at 2m42s");

    // The plan gets the same 27 with one call per 6 s instead, just in
    // time for a deadline at 2m42s: the first call now.
    let tight = [exam(1, NOW + 162 * SECOND, NOW + 2 * 60 * MINUTE, 27)];
    let planned = checked(&tight, &[], NOW, &profile);
    assert_eq!(
        planned.starts,
        vec![StartRun {
            exam: ExamId(1),
            first_slot: 0,
            count: 27,
            first_at: NOW,
            step: 6 * SECOND,
            first_ready: NOW + 6 * SECOND,
        }]
    );
    let forecast = planned.exams[0];
    assert_eq!(forecast.shortfall, 0);
    assert_eq!(forecast.fully_ready_at, Some(NOW + 162 * SECOND));

    // An hour away, the calls wait: the last VM is ready exactly at the
    // deadline, and the idle is the least there is.
    let later = [exam(1, NOW + 60 * MINUTE, NOW + 3 * 60 * MINUTE, 27)];
    let planned = checked(&later, &[], NOW, &profile);
    let run = planned.starts[0];
    assert_eq!(run.count, 27);
    assert_eq!(run.first_ready, NOW + 60 * MINUTE - 26 * 6 * SECOND);
    assert_eq!(run.first_at, run.first_ready - 6 * SECOND);
    let forecast = planned.exams[0];
    assert_eq!(forecast.fully_ready_at, Some(NOW + 60 * MINUTE));
    assert_eq!(forecast.next_start_call_at, Some(run.first_at));
    assert_eq!(forecast.idle_vm, forecast.idle_lower_bound);
    assert_eq!(forecast.idle_vm, 6 * SECOND * (26 * 27 / 2));
}

#[test]
fn overlapping_exams_that_fit_are_packed_backwards_from_the_last_deadline() {
    let profile = Profile::default();
    let exams = [
        exam(1, NOW + 10 * MINUTE, NOW + 70 * MINUTE, 30),
        exam(2, NOW + 11 * MINUTE, NOW + 71 * MINUTE, 40),
    ];
    let planned = checked(&exams, &[], NOW, &profile);
    let runs: Vec<(u128, u32, Micros, Micros)> = planned
        .starts
        .iter()
        .map(|r| (r.exam.0, r.count, r.first_ready - NOW, r.last_at() - NOW))
        .collect();
    // Exam 2's 40 end at its deadline (660 s); exam 1's 30 end 6 s before
    // exam 2's first (426 s), under its own deadline of 600 s.
    assert_eq!(
        runs,
        vec![
            (1, 30, 246 * SECOND, 414 * SECOND),
            (2, 40, 426 * SECOND, 654 * SECOND),
        ]
    );
    assert!(planned.exams.iter().all(|f| f.shortfall == 0));
    assert_eq!(planned.exams[0].fully_ready_at, Some(NOW + 420 * SECOND));
    assert!(planned.stops.is_empty());
}

#[test]
fn overlapping_exams_that_do_not_fit_go_earliest_deadline_first() {
    let profile = Profile::default();
    let exams = [
        exam(1, NOW + 5 * MINUTE, NOW + 65 * MINUTE, 30),
        exam(2, NOW + 6 * MINUTE, NOW + 66 * MINUTE, 40),
    ];
    let planned = checked(&exams, &[], NOW, &profile);
    // 60 fit before 6 minutes (6 s, 12 s, ..., 360 s): all of exam 1's,
    // 30 of exam 2's; its other 10 follow at once, the last at 420 s.
    let [first, second] = [planned.exams[0], planned.exams[1]];
    assert_eq!((first.predicted_ready_at_start, first.shortfall), (30, 0));
    assert_eq!(
        (second.predicted_ready_at_start, second.shortfall),
        (30, 10)
    );
    assert_eq!(first.fully_ready_at, Some(NOW + 180 * SECOND));
    assert_eq!(second.fully_ready_at, Some(NOW + 420 * SECOND));
    assert_eq!(planned.starts.len(), 2);
    assert_eq!(planned.starts[0].first_at, NOW);
    assert_eq!(planned.starts[1].first_ready, NOW + 186 * SECOND);
}

#[test]
fn an_infeasible_exam_says_so_at_once() {
    let profile = Profile {
        margin: 5 * MINUTE,
        ..Profile::default()
    };
    // 2,500 students, VMs due in 60 minutes: one per 6 s from 6 s on gives
    // 600 by then, and the last of the 2,500 at 15,000 s (4h10m).
    let exams = [exam(7, NOW + 65 * MINUTE, NOW + 245 * MINUTE, 2500)];
    let planned = checked(&exams, &[], NOW, &profile);
    let forecast = planned.exams[0];
    assert_eq!(forecast.predicted_ready_at_start, 600);
    assert_eq!(forecast.shortfall, 1900);
    assert_eq!(forecast.fully_ready_at, Some(NOW + 15_000 * SECOND));
    assert!(forecast.fully_ready_at > Some(exams[0].deadline(&profile)));
    assert_eq!(forecast.next_start_call_at, Some(NOW));
    assert_eq!(planned.starts.len(), 1, "one run of 2,500 calls");
}

#[test]
fn a_shrunk_exam_stops_its_surplus_now_and_the_rest_after_the_end() {
    let profile = Profile {
        stop_grace: MINUTE,
        ..Profile::default()
    };
    let end = NOW + 90 * MINUTE;
    let exams = [exam(1, NOW + 30 * MINUTE, end, 3)];
    let ledger: Vec<Vm> = (0..5)
        .map(|slot| vm(1, slot, ready(NOW - MINUTE), NOW - 2 * MINUTE, true))
        .collect();
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert!(planned.starts.is_empty());
    assert_eq!(
        planned.stops,
        vec![
            stop(1, 3, NOW),
            stop(1, 4, NOW + INTERVAL),
            stop(1, 0, end + MINUTE),
            stop(1, 1, end + MINUTE + INTERVAL),
            stop(1, 2, end + MINUTE + 2 * INTERVAL),
        ]
    );
    let forecast = planned.exams[0];
    assert_eq!(
        (forecast.live, forecast.ready_now, forecast.shortfall),
        (3, 3, 0)
    );
}

#[test]
fn a_cancelled_exam_is_stopped_now_and_its_queue_still_counts() {
    let profile = Profile::default();
    let ledger = [
        vm(9, 0, ready(NOW - MINUTE), NOW - 2 * MINUTE, true),
        vm(9, 1, ready(NOW - MINUTE), NOW - 2 * MINUTE, true),
        vm(9, 2, VmState::Pending { ready_at: None }, NOW, true),
        // Not stoppable yet: its id is unknown until start() returns.
        vm(9, 3, VmState::Pending { ready_at: None }, NOW, false),
        vm(9, 4, VmState::Stopped, NOW - 2 * MINUTE, true),
    ];
    let exams = [exam(1, NOW + 20 * MINUTE, NOW + 80 * MINUTE, 1)];
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert_eq!(
        planned.stops,
        vec![
            stop(9, 0, NOW),
            stop(9, 1, NOW + INTERVAL),
            stop(9, 2, NOW + 2 * INTERVAL),
        ]
    );
    // The two pending VMs are allocated at 6 s and 12 s whatever happens
    // to them, so a VM for exam 1 can be ready at 18 s at the earliest.
    let tight = [exam(1, NOW + 18 * SECOND, NOW + 80 * MINUTE, 2)];
    let planned = checked(&tight, &ledger, NOW, &profile);
    assert_eq!(planned.exams[0].predicted_ready_at_start, 1);
    assert_eq!(planned.exams[0].fully_ready_at, Some(NOW + 24 * SECOND));
}

#[test]
fn a_slow_provider_moves_the_plan_back() {
    let profile = Profile::default();
    let exams = [exam(1, NOW + 10 * SECOND, NOW + 60 * MINUTE, 3)];
    // Requested a minute ago, so the model had them ready 54 and 53 s ago;
    // the provider still has them pending. The first is taken to be ready
    // now, the second one period later, and the third slot's new VM one
    // period after that: 2 s after the deadline.
    let ledger = [
        vm(
            1,
            0,
            VmState::Pending { ready_at: None },
            NOW - 60 * SECOND,
            true,
        ),
        vm(
            1,
            1,
            VmState::Pending { ready_at: None },
            NOW - 59 * SECOND,
            true,
        ),
    ];
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert_eq!(
        planned.starts,
        vec![StartRun {
            exam: ExamId(1),
            first_slot: 2,
            count: 1,
            first_at: NOW + 6 * SECOND,
            step: 6 * SECOND,
            first_ready: NOW + 12 * SECOND,
        }]
    );
    let forecast = planned.exams[0];
    assert_eq!((forecast.live, forecast.ready_now), (2, 0));
    assert_eq!(
        (forecast.predicted_ready_at_start, forecast.shortfall),
        (2, 1)
    );
    assert_eq!(forecast.fully_ready_at, Some(NOW + 12 * SECOND));
    // Pending VMs of a live exam are stopped only after it ends.
    assert!(planned.stops.iter().all(|s| s.at >= exams[0].end));
}

#[test]
fn the_providers_own_ready_time_is_believed_when_later() {
    let profile = Profile::default();
    let ledger = [vm(
        1,
        0,
        VmState::Pending {
            ready_at: Some(NOW + 10 * MINUTE),
        },
        NOW - SECOND,
        true,
    )];
    let exams = [exam(1, NOW + 30 * MINUTE, NOW + 60 * MINUTE, 2)];
    let planned = checked(&exams, &ledger, NOW, &profile);
    let forecast = planned.exams[0];
    assert_eq!(forecast.predicted_ready_at_start, 2);
    // Slot 1's VM goes just in time; the pending one is ready at 10 min.
    assert_eq!(planned.starts[0].first_ready, NOW + 30 * MINUTE);
    let urgent = [exam(1, NOW + 5 * MINUTE, NOW + 60 * MINUTE, 2)];
    let planned = checked(&urgent, &ledger, NOW, &profile);
    assert_eq!(
        planned.starts[0].first_ready,
        NOW + 10 * MINUTE + 6 * SECOND
    );
    assert_eq!(planned.exams[0].shortfall, 2);
}

#[test]
fn a_recent_call_delays_the_next_by_one_request_interval() {
    let profile = Profile::default();
    let ledger = [vm(1, 0, ready(NOW), NOW - 100_000, true)];
    let exams = [exam(1, NOW, NOW + 60 * MINUTE, 2)];
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert_eq!(planned.starts[0].first_at, NOW - 100_000 + INTERVAL);
}

#[test]
fn a_failed_vm_frees_its_slot_and_a_duplicate_is_stopped() {
    let profile = Profile::default();
    let exams = [exam(1, NOW + 30 * MINUTE, NOW + 60 * MINUTE, 3)];
    let ledger = [
        vm(1, 0, VmState::Failed, NOW - MINUTE, false),
        vm(1, 1, ready(NOW - MINUTE), NOW - 2 * MINUTE, true),
        vm(
            1,
            2,
            VmState::Pending { ready_at: None },
            NOW - 10 * SECOND,
            true,
        ),
        vm(1, 2, ready(NOW - 30 * SECOND), NOW - MINUTE, true),
    ];
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert_eq!(planned.starts.len(), 1);
    assert_eq!(
        (planned.starts[0].first_slot, planned.starts[0].count),
        (0, 1)
    );
    // The ready VM holds slot 2; the pending one on the same key goes.
    assert_eq!(planned.stops[0], stop(1, 2, NOW));
    assert_eq!(planned.exams[0].live, 2);
}

#[test]
fn no_students_need_nothing_and_an_inverted_exam_is_stopped_after_its_start() {
    let profile = Profile::default();
    let exams = [
        exam(1, NOW + MINUTE, NOW + 2 * MINUTE, 0),
        exam(2, NOW + 30 * MINUTE, NOW + 10 * MINUTE, 1),
    ];
    let ledger = [
        vm(1, 0, ready(NOW), NOW - MINUTE, true),
        vm(2, 0, ready(NOW), NOW - MINUTE, true),
    ];
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert!(planned.starts.is_empty());
    assert_eq!(
        planned.stops,
        vec![stop(1, 0, NOW), stop(2, 0, NOW + 30 * MINUTE)]
    );
    assert_eq!(planned.exams[0].needed, 0);
    assert_eq!(planned.exams[0].fully_ready_at, None);
    assert_eq!(planned.exams[0].idle_lower_bound, 0);
}

#[test]
fn an_exam_that_is_over_gets_no_new_vms() {
    let profile = Profile::default();
    let exams = [exam(1, NOW - 60 * MINUTE, NOW - MINUTE, 2)];
    let ledger = [vm(1, 0, ready(NOW - 70 * MINUTE), NOW - 71 * MINUTE, true)];
    let planned = checked(&exams, &ledger, NOW, &profile);
    assert!(planned.starts.is_empty());
    assert_eq!(planned.stops, vec![stop(1, 0, NOW)]);
    let forecast = planned.exams[0];
    assert_eq!(
        (forecast.predicted_ready_at_start, forecast.shortfall),
        (1, 1)
    );
    assert_eq!(forecast.fully_ready_at, None, "slot 1 never gets a VM");
}

#[test]
fn a_repeated_id_is_planned_once() {
    let profile = Profile::default();
    let exams = [
        exam(1, NOW + 30 * MINUTE, NOW + 60 * MINUTE, 2),
        exam(1, NOW + 40 * MINUTE, NOW + 60 * MINUTE, 5),
    ];
    let planned = checked(&exams, &[], NOW, &profile);
    assert_eq!(planned.starts.iter().map(|r| r.count).sum::<u32>(), 2);
    assert_eq!(planned.exams[0], planned.exams[1]);
}

#[test]
fn extreme_values_do_not_panic() {
    let profiles = [
        Profile::default(),
        Profile {
            alloc_period: Micros::MAX,
            boot_delay: Micros::MAX,
            request_interval: Micros::MAX,
            margin: Micros::MIN,
            stop_grace: Micros::MAX,
        },
        Profile {
            alloc_period: 0,
            boot_delay: -5,
            request_interval: 0,
            margin: Micros::MAX,
            stop_grace: Micros::MIN,
        },
    ];
    let exams = [
        exam(1, Micros::MIN, Micros::MAX, u32::MAX),
        exam(2, Micros::MAX, Micros::MIN, u32::MAX),
        exam(3, 0, 0, 0),
    ];
    let ledger = [
        vm(1, u32::MAX - 1, ready(Micros::MIN), Micros::MAX, true),
        vm(
            2,
            0,
            VmState::Pending {
                ready_at: Some(Micros::MAX),
            },
            Micros::MIN,
            true,
        ),
        vm(
            2,
            1,
            VmState::Pending {
                ready_at: Some(Micros::MIN),
            },
            Micros::MAX,
            true,
        ),
    ];
    for profile in &profiles {
        for now in [Micros::MIN, 0, Micros::MAX] {
            let planned = plan(&exams, &ledger, now, profile);
            assert_eq!(planned.exams.len(), 3);
            for f in &planned.exams {
                assert_eq!(f.predicted_ready_at_start + f.shortfall, f.needed);
            }
            assert!(plan(&[], &[], now, profile).starts.is_empty());
        }
    }
}
