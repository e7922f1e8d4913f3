//! A timing check at the size the service expects at most: 1,000 exams of
//! 2,500 students over three days. Run it with
//! `cargo test -p allot-kernel --release provisioning -- --ignored --nocapture`.

use std::time::Duration;

use super::checks::check;
use crate::booking::Micros;
use crate::provisioning::{Exam, ExamId, Profile, Vm, VmKey, VmState, plan};
use crate::test_support::{Rng, median};

const MINUTE: Micros = 60_000_000;
const HOUR: Micros = 60 * MINUTE;
const DAY: Micros = 24 * HOUR;

#[test]
#[ignore = "a timing check; run in release with --ignored --nocapture"]
fn provisioning_speed() {
    // 2 March 2026 00:00 UTC.
    let now: Micros = 1_772_409_600 * 1_000_000;
    let profile = Profile {
        margin: 10 * MINUTE,
        stop_grace: 5 * MINUTE,
        ..Profile::default()
    };
    let mut rng = Rng(0x5EED);
    // Starts on the quarter hour between 08:00 and 18:00 of three days,
    // one to three hours long: dozens a day, heavily overlapping.
    let exams: Vec<Exam> = (0..1000u128)
        .map(|id| {
            let day = rng.below(3);
            let start = now + day * DAY + 8 * HOUR + rng.below(40) * 15 * MINUTE;
            Exam {
                id: ExamId(id),
                start,
                end: start + HOUR + rng.below(3) * HOUR,
                students: 2500,
            }
        })
        .collect();

    let (fresh, planned) = median(51, || plan(&exams, &[], now, &profile));
    let calls: u64 = planned.starts.iter().map(|r| u64::from(r.count)).sum();
    let on_time: u64 = planned
        .exams
        .iter()
        .map(|f| u64::from(f.predicted_ready_at_start))
        .sum();
    println!(
        "1,000 exams x 2,500 students, empty ledger: plan {fresh:?} (median of 51): \
         {} runs, {calls} calls, {on_time} on time",
        planned.starts.len()
    );

    let mut moved = exams.clone();
    moved[500].start += 30 * MINUTE;
    moved[500].end += 30 * MINUTE;
    let (replan, _) = median(51, || plan(&moved, &[], now, &profile));
    println!("the same with one exam moved: replan {replan:?} (median of 51)");

    // Mid-morning of the first day: every VM of the first 100 exams by
    // start is in the ledger, ready or still pending, and the plan goes on.
    let mut by_start: Vec<&Exam> = exams.iter().collect();
    by_start.sort_by_key(|e| (e.start, e.id));
    let later = now + 8 * HOUR;
    let ledger: Vec<Vm> = by_start[..100]
        .iter()
        .flat_map(|e| {
            (0..e.students).map(move |slot| Vm {
                key: VmKey { exam: e.id, slot },
                state: if slot % 10 == 0 {
                    VmState::Pending { ready_at: None }
                } else {
                    VmState::Ready { at: later - HOUR }
                },
                requested_at: later - 2 * HOUR,
                stoppable: true,
            })
        })
        .collect();
    let (busy, planned_busy) = median(11, || plan(&exams, &ledger, later, &profile));
    println!(
        "with a ledger of {} VMs: plan {busy:?} (median of 11), {} stop calls",
        ledger.len(),
        planned_busy.stops.len()
    );

    // The big plans are valid too (checked once, outside the timing).
    check(&exams, &[], now, &profile, &planned);
    if !cfg!(debug_assertions) {
        assert!(fresh < Duration::from_millis(100));
        assert!(replan < Duration::from_millis(10));
    }
}
