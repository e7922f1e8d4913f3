use super::*;

const SKIP_OVERLAP: Outcome = Outcome::Skipped(SkipReason::Overlap);
const SKIP_MISFIRE: Outcome = Outcome::Skipped(SkipReason::Misfire);
const SKIP_LIMIT: Outcome = Outcome::Skipped(SkipReason::CatchUpLimit);

fn base() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().expect("a valid timestamp")
}

/// `base + n` seconds.
fn at(n: i64) -> Timestamp {
    base() + SignedDuration::from_secs(n)
}

/// Every 10 seconds from `base`.
fn every_10s() -> Schedule {
    Schedule::every(Duration::from_secs(10), base()).expect("a valid interval")
}

fn policy(overlap: Overlap, misfire: Misfire) -> Policy {
    Policy {
        overlap,
        misfire,
        misfire_grace: Duration::from_secs(5),
        max_catch_up: 10,
    }
}

fn next_at(n: i64) -> Timing {
    Timing {
        next_run_at: Some(at(n)),
        ..Timing::default()
    }
}

fn idle(p: &Policy, timing: Timing, now: i64) -> Decision {
    decide(&every_10s(), p, &timing, false, at(now))
}

#[test]
fn rule_1_a_single_due_time_within_the_grace_starts() {
    for misfire in [Misfire::RunOnce, Misfire::Skip, Misfire::RunAll] {
        let p = policy(Overlap::Skip, misfire);
        for now in [10, 15] {
            let d = idle(&p, next_at(10), now);
            assert_eq!(
                d.runs,
                vec![(at(10), Outcome::Start)],
                "{misfire:?} at {now}"
            );
            assert_eq!(d.not_recorded, 0);
            assert_eq!(d.timing, next_at(20));
            assert_eq!(d.claim_at, Some(at(20)));
            assert_eq!(d.started(), Some(at(10)));
        }
    }
}

#[test]
fn rule_1_nothing_is_due_before_next_run_at() {
    let p = Policy::default();
    let d = idle(&p, next_at(10), 9);
    assert!(d.runs.is_empty());
    assert_eq!(d.timing, next_at(10));
    assert_eq!(d.claim_at, Some(at(10)));
}

#[test]
fn rule_1_a_single_late_time_is_a_misfire() {
    // 6s late with a 5s grace.
    let run_once = idle(&policy(Overlap::Skip, Misfire::RunOnce), next_at(10), 16);
    assert_eq!(run_once.runs, vec![(at(10), Outcome::Start)]);
    let skip = idle(&policy(Overlap::Skip, Misfire::Skip), next_at(10), 16);
    assert_eq!(skip.runs, vec![(at(10), SKIP_MISFIRE)]);
    assert_eq!(skip.timing, next_at(20));
    assert_eq!(skip.claim_at, Some(at(20)));
    let run_all = idle(&policy(Overlap::Skip, Misfire::RunAll), next_at(10), 16);
    assert_eq!(run_all.runs, vec![(at(10), Outcome::Start)]);
    assert_eq!(run_all.timing, next_at(20));
}

#[test]
fn rule_1_run_once_starts_the_latest_missed_time() {
    let d = idle(&policy(Overlap::Skip, Misfire::RunOnce), next_at(10), 45);
    assert_eq!(
        d.runs,
        vec![
            (at(10), SKIP_MISFIRE),
            (at(20), SKIP_MISFIRE),
            (at(30), SKIP_MISFIRE),
            (at(40), Outcome::Start),
        ]
    );
    assert_eq!(d.timing, next_at(50));
    assert_eq!(d.claim_at, Some(at(50)));
}

#[test]
fn rule_1_skip_starts_the_latest_only_within_the_grace() {
    let p = policy(Overlap::Skip, Misfire::Skip);
    let in_grace = idle(&p, next_at(10), 42);
    assert_eq!(
        in_grace.runs,
        vec![
            (at(10), SKIP_MISFIRE),
            (at(20), SKIP_MISFIRE),
            (at(30), SKIP_MISFIRE),
            (at(40), Outcome::Start),
        ]
    );
    let too_late = idle(&p, next_at(10), 49);
    assert_eq!(
        too_late.runs,
        vec![
            (at(10), SKIP_MISFIRE),
            (at(20), SKIP_MISFIRE),
            (at(30), SKIP_MISFIRE),
            (at(40), SKIP_MISFIRE),
        ]
    );
    assert_eq!(too_late.timing, next_at(50));
    assert_eq!(too_late.claim_at, Some(at(50)));
}

#[test]
fn rule_1_run_all_starts_the_first_and_keeps_the_rest_as_a_backlog() {
    let d = idle(&policy(Overlap::Skip, Misfire::RunAll), next_at(10), 45);
    assert_eq!(d.runs, vec![(at(10), Outcome::Start)]);
    assert_eq!(
        d.timing,
        Timing {
            next_run_at: Some(at(20)),
            queued_for: None,
            backlog_until: Some(at(45)),
        }
    );
    assert_eq!(d.claim_at, None);
}

#[test]
fn rule_1_run_all_keeps_the_newest_times_within_the_catch_up_limit() {
    let p = Policy {
        max_catch_up: 2,
        ..policy(Overlap::Skip, Misfire::RunAll)
    };
    let d = idle(&p, next_at(10), 45);
    // 30 and 40 are kept; 20 is listed and 10 only counted (two entries
    // at most, the start among them).
    assert_eq!(d.runs, vec![(at(20), SKIP_LIMIT), (at(30), Outcome::Start)]);
    assert_eq!(d.not_recorded, 1);
    assert_eq!(
        d.timing,
        Timing {
            next_run_at: Some(at(40)),
            queued_for: None,
            backlog_until: Some(at(45)),
        }
    );
    assert_eq!(d.claim_at, None);
}

#[test]
fn rule_1_history_is_bounded_but_everything_is_counted() {
    let every_second = Schedule::every(Duration::from_secs(1), base()).expect("valid");
    let p = Policy {
        max_catch_up: 3,
        ..policy(Overlap::Skip, Misfire::RunOnce)
    };
    let timing = Timing {
        next_run_at: Some(base()),
        ..Timing::default()
    };
    let d = decide(&every_second, &p, &timing, false, at(86_400));
    assert_eq!(
        d.runs,
        vec![
            (at(86_398), SKIP_MISFIRE),
            (at(86_399), SKIP_MISFIRE),
            (at(86_400), Outcome::Start),
        ]
    );
    assert_eq!(d.not_recorded, 86_401 - 3);
    // Zero still lists the started run.
    let none = Policy {
        max_catch_up: 0,
        ..p
    };
    let d = decide(&every_second, &none, &timing, false, at(86_400));
    assert_eq!(d.runs, vec![(at(86_400), Outcome::Start)]);
    assert_eq!(d.not_recorded, 86_400);
}

#[test]
fn rule_2_a_queued_run_starts_and_times_that_came_due_meanwhile_are_overlaps() {
    let timing = Timing {
        next_run_at: Some(at(30)),
        queued_for: Some(at(10)),
        backlog_until: None,
    };
    let d = idle(&policy(Overlap::QueueOne, Misfire::RunOnce), timing, 45);
    assert_eq!(
        d.runs,
        vec![
            (at(10), Outcome::Start),
            (at(30), SKIP_OVERLAP),
            (at(40), SKIP_OVERLAP)
        ]
    );
    assert_eq!(d.timing, next_at(50));
    assert_eq!(d.claim_at, Some(at(50)));
    // With nothing else due the next run is kept.
    let d = idle(&policy(Overlap::QueueOne, Misfire::RunOnce), timing, 25);
    assert_eq!(d.runs, vec![(at(10), Outcome::Start)]);
    assert_eq!(d.timing, next_at(30));
}

#[test]
fn rule_3_the_backlog_runs_one_time_after_another() {
    let p = policy(Overlap::Skip, Misfire::RunAll);
    let timing = Timing {
        next_run_at: Some(at(20)),
        queued_for: None,
        backlog_until: Some(at(45)),
    };
    let d = idle(&p, timing, 60);
    assert_eq!(d.runs, vec![(at(20), Outcome::Start)]);
    assert_eq!(
        d.timing,
        Timing {
            next_run_at: Some(at(30)),
            ..timing
        }
    );
    assert_eq!(d.claim_at, None);

    // The last backlog run ends the backlog; times that came due during
    // the catch-up are looked at right away (by rule 4, since a run is on).
    let last = Timing {
        next_run_at: Some(at(40)),
        ..timing
    };
    let d = idle(&p, last, 60);
    assert_eq!(d.runs, vec![(at(40), Outcome::Start)]);
    assert_eq!(d.timing, next_at(50));
    assert_eq!(d.claim_at, Some(at(50)));
    let d = decide(&every_10s(), &p, &d.timing, true, at(60));
    assert_eq!(d.runs, vec![(at(50), SKIP_OVERLAP), (at(60), SKIP_OVERLAP)]);
}

#[test]
fn a_backlog_past_its_end_is_dropped() {
    let timing = Timing {
        next_run_at: Some(at(50)),
        queued_for: None,
        backlog_until: Some(at(45)),
    };
    let d = idle(&policy(Overlap::Skip, Misfire::RunAll), timing, 50);
    assert_eq!(d.runs, vec![(at(50), Outcome::Start)]);
    assert_eq!(d.timing, next_at(60));
}

#[test]
fn rule_4_overlap_skip_skips_while_running() {
    let p = policy(Overlap::Skip, Misfire::RunOnce);
    let d = decide(&every_10s(), &p, &next_at(10), true, at(10));
    assert_eq!(d.runs, vec![(at(10), SKIP_OVERLAP)]);
    assert_eq!(d.timing, next_at(20));
    assert_eq!(d.claim_at, Some(at(20)));
}

#[test]
fn rule_4_queue_one_keeps_one_run_waiting() {
    let p = policy(Overlap::QueueOne, Misfire::RunOnce);
    let d = decide(&every_10s(), &p, &next_at(10), true, at(25));
    // 10 waits (it is recorded when it starts); 20 is an overlap.
    assert_eq!(d.runs, vec![(at(20), SKIP_OVERLAP)]);
    assert_eq!(
        d.timing,
        Timing {
            next_run_at: Some(at(30)),
            queued_for: Some(at(10)),
            backlog_until: None,
        }
    );
    assert_eq!(d.claim_at, None);

    // The queue is full: everything else is skipped.
    let d = decide(&every_10s(), &p, &d.timing, true, at(30));
    assert_eq!(d.runs, vec![(at(30), SKIP_OVERLAP)]);
    assert_eq!(d.timing.queued_for, Some(at(10)));
    assert_eq!(d.claim_at, None);
}

#[test]
fn rule_4_a_running_backlog_is_left_alone() {
    let timing = Timing {
        next_run_at: Some(at(20)),
        queued_for: None,
        backlog_until: Some(at(45)),
    };
    for overlap in [Overlap::Skip, Overlap::QueueOne] {
        let d = decide(
            &every_10s(),
            &policy(overlap, Misfire::RunAll),
            &timing,
            true,
            at(70),
        );
        assert!(d.runs.is_empty());
        assert_eq!(d.timing, timing);
        assert_eq!(d.claim_at, None);
    }
}

#[test]
fn rule_4_nothing_due_while_running() {
    let p = policy(Overlap::QueueOne, Misfire::RunOnce);
    let d = decide(&every_10s(), &p, &next_at(30), true, at(25));
    assert!(d.runs.is_empty());
    assert_eq!(d.claim_at, Some(at(30)));
}

#[test]
fn rule_5_a_single_run_exhausts_the_task() {
    let once = Schedule::at(at(100));
    let timing = Timing::starting(&once, at(0));
    assert_eq!(timing, next_at(100));
    let d = decide(&once, &Policy::default(), &timing, false, at(100));
    assert_eq!(d.runs, vec![(at(100), Outcome::Start)]);
    assert_eq!(d.timing, Timing::default());
    assert_eq!(d.claim_at, None);
    assert!(is_exhausted(&d.timing));
    assert_eq!(claim_after_finish(&d.timing, at(130)), None);
    // Once exhausted, nothing happens any more.
    let again = decide(&once, &Policy::default(), &d.timing, false, at(200));
    assert!(again.runs.is_empty());
    assert_eq!(again.claim_at, None);
}

#[test]
fn rule_5_a_stale_next_run_at_moves_on() {
    // 15 is not on the 10s grid (the schedule changed under the task).
    let d = idle(&Policy::default(), next_at(15), 17);
    assert!(d.runs.is_empty());
    assert_eq!(d.timing, next_at(20));
    assert_eq!(d.claim_at, Some(at(20)));
}

#[test]
fn rule_6_claiming_after_a_run() {
    let now = at(99);
    assert_eq!(claim_after_finish(&next_at(100), now), Some(at(100)));
    let queued = Timing {
        queued_for: Some(at(90)),
        ..next_at(100)
    };
    assert_eq!(claim_after_finish(&queued, now), Some(now));
    let backlog = Timing {
        backlog_until: Some(at(95)),
        ..next_at(90)
    };
    assert_eq!(claim_after_finish(&backlog, now), Some(now));
    assert!(!is_exhausted(&queued));
    assert!(!is_exhausted(&backlog));
    assert!(!is_exhausted(&next_at(1)));
    assert!(is_exhausted(&Timing::default()));
}

#[test]
fn cron_tasks_decide_the_same_way() {
    let cron = Schedule::cron("*/10 * * * * *", "UTC").expect("a valid expression");
    let d = decide(
        &cron,
        &policy(Overlap::Skip, Misfire::RunOnce),
        &next_at(10),
        false,
        at(45),
    );
    assert_eq!(d.started(), Some(at(40)));
    assert_eq!(d.runs.len(), 4);
    assert_eq!(d.timing, next_at(50));
}

#[test]
fn policies_and_reasons_have_stable_names() -> Result<(), serde_json::Error> {
    assert_eq!(serde_json::to_string(&Overlap::QueueOne)?, r#""queue_one""#);
    assert_eq!(serde_json::to_string(&Overlap::Skip)?, r#""skip""#);
    assert_eq!(serde_json::to_string(&Misfire::RunOnce)?, r#""run_once""#);
    assert_eq!(serde_json::to_string(&Misfire::Skip)?, r#""skip""#);
    assert_eq!(serde_json::to_string(&Misfire::RunAll)?, r#""run_all""#);
    assert_eq!(
        serde_json::from_str::<Misfire>(r#""run_all""#)?,
        Misfire::RunAll
    );
    assert_eq!(Overlap::default(), Overlap::Skip);
    assert_eq!(Misfire::default(), Misfire::RunOnce);
    assert_eq!(
        serde_json::to_string(&SkipReason::CatchUpLimit)?,
        r#""catch_up_limit""#
    );
    assert_eq!(SkipReason::CatchUpLimit.as_str(), "catch_up_limit");
    assert!(
        SkipReason::Overlap
            .to_string()
            .contains("still in progress")
    );
    let timing = Timing {
        queued_for: Some(at(5)),
        ..next_at(10)
    };
    let json = serde_json::to_string(&timing)?;
    assert_eq!(serde_json::from_str::<Timing>(&json)?, timing);
    Ok(())
}
