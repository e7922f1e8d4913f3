//! Drives [`decide`] and [`claim_after_finish`] the way the service's claim
//! loop does, over virtual time with random run lengths, random downtime of
//! the claim loop and random policies, and checks the promises the module
//! docs make against a brute-force account of the schedule.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

/// Seconds of virtual time in which downtime may start.
const ACTIVE: i64 = 450;
/// Seconds simulated in all; the tail has no downtime so backlogs drain.
const END: i64 = 900;

#[derive(Debug, Clone)]
enum Kind {
    Every {
        every: i64,
        anchor: i64,
    },
    At {
        at: i64,
    },
    /// `*/n * * * * *` in Europe/Amsterdam, across the 2026 fall-back.
    CronSeconds {
        n: i64,
    },
}

#[derive(Debug, Clone)]
struct Scenario {
    kind: Kind,
    policy: Policy,
    durations: Vec<i64>,
    downtime: Vec<(i64, i64)>,
}

/// Virtual second 0; a minute before Amsterdam's clocks go back.
fn base() -> Timestamp {
    "2026-10-25T00:59:00Z".parse().expect("a valid timestamp")
}

fn instant(second: i64) -> Timestamp {
    base() + SignedDuration::from_secs(second)
}

fn second_of(t: Timestamp) -> i64 {
    t.duration_since(base()).as_secs()
}

impl Kind {
    fn schedule(&self) -> Schedule {
        match *self {
            Kind::Every { every, anchor } => {
                let every = Duration::from_secs(every.unsigned_abs());
                Schedule::every(every, instant(anchor)).expect("at least a second")
            }
            Kind::At { at } => Schedule::at(instant(at)),
            Kind::CronSeconds { n } => {
                Schedule::cron(&format!("*/{n} * * * * *"), "Europe/Amsterdam")
                    .expect("a valid expression")
            }
        }
    }

    /// Whether virtual second `s` is a run time, decided without
    /// [`Schedule`].
    fn is_run_time(&self, s: i64) -> bool {
        match *self {
            Kind::Every { every, anchor } => s >= anchor && (s - anchor) % every == 0,
            Kind::At { at } => s == at,
            // The zone's offset is whole hours, so seconds of the minute are
            // the same locally and in UTC, and an elapsed-time expression
            // runs at every matching instant.
            Kind::CronSeconds { n } => {
                (second_of(instant(s)) + base().as_second()).rem_euclid(60) % n == 0
            }
        }
    }

    fn run_times(&self, from: i64, to: i64) -> Vec<i64> {
        (from..=to).filter(|s| self.is_run_time(*s)).collect()
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let kind = prop_oneof![
        4 => (1i64..=15, 0i64..30).prop_map(|(every, anchor)| Kind::Every { every, anchor }),
        1 => (0i64..300).prop_map(|at| Kind::At { at }),
        2 => (1i64..=20).prop_map(|n| Kind::CronSeconds { n }),
    ];
    let policy = (
        prop_oneof![Just(Overlap::Skip), Just(Overlap::QueueOne)],
        prop_oneof![
            Just(Misfire::RunOnce),
            Just(Misfire::Skip),
            Just(Misfire::RunAll)
        ],
        0u64..8,
        0usize..6,
    )
        .prop_map(|(overlap, misfire, grace, max_catch_up)| Policy {
            overlap,
            misfire,
            misfire_grace: Duration::from_secs(grace),
            max_catch_up,
        });
    let durations = prop::collection::vec(1i64..40, 1..8);
    let downtime = prop::collection::vec((0i64..ACTIVE, 1i64..120), 0..4).prop_map(|windows| {
        let mut windows: Vec<(i64, i64)> = windows
            .into_iter()
            .map(|(start, len)| (start, start + len))
            .collect();
        windows.sort_unstable();
        windows
    });
    (kind, policy, durations, downtime).prop_map(|(kind, policy, durations, downtime)| Scenario {
        kind,
        policy,
        durations,
        downtime,
    })
}

/// The claim loop's view of one task, plus everything the checks need.
struct World {
    scenario: Scenario,
    schedule: Schedule,
    timing: Timing,
    claim_at: Option<Timestamp>,
    /// Scheduled-for second and end second of the run in progress.
    running: Option<(i64, i64)>,
    runs_started: usize,
    seen: BTreeSet<i64>,
    not_recorded: u64,
    last_start: Option<i64>,
    /// Backlog starts still owed by an earlier run-all decision, in order.
    owed: VecDeque<i64>,
}

impl World {
    fn new(scenario: Scenario) -> World {
        let schedule = scenario.kind.schedule();
        let timing = Timing::starting(&schedule, instant(0));
        World {
            claim_at: timing.next_run_at,
            schedule,
            timing,
            running: None,
            runs_started: 0,
            seen: BTreeSet::new(),
            not_recorded: 0,
            last_start: None,
            owed: VecDeque::new(),
            scenario,
        }
    }

    fn down_at(&self, s: i64) -> bool {
        self.scenario
            .downtime
            .iter()
            .any(|(a, b)| *a <= s && s < *b)
    }

    /// Whether the claim loop was down at some second in `[from, to]`.
    fn down_during(&self, from: i64, to: i64) -> bool {
        self.scenario
            .downtime
            .iter()
            .any(|(a, b)| *a <= to && from < *b)
    }

    fn tick(&mut self, now: i64) -> Result<(), TestCaseError> {
        if let Some((_, ends)) = self.running
            && ends <= now
        {
            self.running = None;
            self.claim_at = claim_after_finish(&self.timing, instant(now));
        }
        if self.down_at(now) {
            return Ok(());
        }
        let mut decisions = 0;
        while self.claim_at.is_some_and(|c| c <= instant(now)) {
            decisions += 1;
            prop_assert!(decisions <= 3, "the claim loop spins at {}", now);
            self.decide_once(now)?;
        }
        Ok(())
    }

    fn decide_once(&mut self, now: i64) -> Result<(), TestCaseError> {
        let before = self.timing;
        let was_running = self.running.is_some();
        let policy = self.scenario.policy;
        let d = decide(&self.schedule, &policy, &before, was_running, instant(now));

        let times: Vec<i64> = d.runs.iter().map(|(t, _)| second_of(*t)).collect();
        prop_assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "runs out of order: {:?}",
            d.runs
        );
        let starts: Vec<i64> = d
            .runs
            .iter()
            .filter(|(_, o)| *o == Outcome::Start)
            .map(|(t, _)| second_of(*t))
            .collect();
        prop_assert!(starts.len() <= 1, "two starts: {:?}", d.runs);
        prop_assert!(
            !was_running || starts.is_empty(),
            "started while running: {:?}",
            d.runs
        );
        prop_assert!(d.runs.len() <= policy.max_catch_up.max(1));

        for ((t, outcome), s) in d.runs.iter().zip(&times) {
            prop_assert!(*s <= now, "decided a future time {}", t);
            prop_assert!(
                self.scenario.kind.is_run_time(*s),
                "{} is not a run time",
                t
            );
            prop_assert!(self.seen.insert(*s), "{} handled twice", t);
            if matches!(
                outcome,
                Outcome::Skipped(SkipReason::Misfire | SkipReason::CatchUpLimit)
            ) {
                prop_assert!(
                    self.down_during(*s, now),
                    "{:?} of {} at {} without downtime",
                    outcome,
                    s,
                    now
                );
            }
        }
        self.not_recorded += d.not_recorded;

        self.check_against_oracle(&before, was_running, now, &d, starts.first().copied())?;

        if let Some(start) = starts.first().copied() {
            prop_assert!(
                self.last_start.is_none_or(|last| last < start),
                "starts out of order"
            );
            self.last_start = Some(start);
            let durations = &self.scenario.durations;
            let length = durations[self.runs_started % durations.len()];
            self.runs_started += 1;
            self.running = Some((start, now + length));
        }
        self.timing = d.timing;
        self.claim_at = d.claim_at;
        if self.running.is_none() && !is_exhausted(&self.timing) {
            prop_assert!(self.claim_at.is_some(), "an idle task nobody will look at");
        }
        Ok(())
    }

    /// Recomputes, from the brute-force run times, what the rules say this
    /// decision must do.
    fn check_against_oracle(
        &mut self,
        before: &Timing,
        was_running: bool,
        now: i64,
        d: &Decision,
        start: Option<i64>,
    ) -> Result<(), TestCaseError> {
        let policy = self.scenario.policy;
        let due = match before.next_run_at {
            Some(next) if second_of(next) <= now => {
                self.scenario.kind.run_times(second_of(next), now)
            }
            _ => Vec::new(),
        };
        let idle = !was_running && before.queued_for.is_none() && before.backlog_until.is_none();

        // Owed backlog runs start in order, and nothing else starts first.
        if let Some(start) = start
            && let Some(owed) = self.owed.pop_front()
        {
            prop_assert_eq!(start, owed, "backlog out of order");
        }

        if idle && let Some(latest) = due.last().copied() {
            let grace = i64::try_from(policy.misfire_grace.as_secs()).unwrap_or(i64::MAX);
            let expected = match policy.misfire {
                Misfire::RunOnce => Some(latest),
                Misfire::Skip => (now - latest <= grace).then_some(latest),
                Misfire::RunAll => {
                    let keep = policy.max_catch_up.max(1);
                    let kept = &due[due.len().saturating_sub(keep)..];
                    self.owed.extend(kept.iter().skip(1));
                    kept.first().copied()
                }
            };
            prop_assert_eq!(start, expected, "rule 1 with due {:?}", due);
            // Every due time is accounted for here or in the backlog.
            let backlog = self.owed.len() as u64;
            prop_assert_eq!(
                d.runs.len() as u64 + d.not_recorded + backlog,
                due.len() as u64
            );
        }
        if was_running
            && before.backlog_until.is_none()
            && before.queued_for.is_none()
            && policy.overlap == Overlap::QueueOne
        {
            prop_assert_eq!(d.timing.queued_for.map(second_of), due.first().copied());
        }
        if was_running {
            prop_assert!(
                d.runs
                    .iter()
                    .all(|(_, o)| *o == Outcome::Skipped(SkipReason::Overlap))
            );
        }
        // Rule 6: nobody looks while something waits for the current run.
        let waits = d.timing.queued_for.is_some() || d.timing.backlog_until.is_some();
        if waits && (was_running || start.is_some()) {
            prop_assert_eq!(d.claim_at, None);
        } else {
            prop_assert_eq!(d.claim_at, d.timing.next_run_at);
        }
        Ok(())
    }

    /// Every run time before the next unhandled one was handled exactly
    /// once: listed, counted, or waiting in the queue.
    fn check_accounting(&self) -> Result<(), TestCaseError> {
        let horizon = self.timing.next_run_at.map_or(END + 1, second_of);
        let expected = self.scenario.kind.run_times(0, horizon - 1).len() as u64;
        let queued = u64::from(self.timing.queued_for.is_some());
        prop_assert_eq!(
            self.seen.len() as u64 + self.not_recorded + queued,
            expected
        );
        prop_assert!(
            self.owed.is_empty(),
            "backlog never drained: {:?}",
            self.owed
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_claim_loop_keeps_every_promise(scenario in scenario()) {
        let mut world = World::new(scenario);
        for now in 0..=END {
            world.tick(now)?;
        }
        world.check_accounting()?;
    }
}

/// A fixed scenario that exercises a long outage with run-all catch-up.
#[test]
fn run_all_catches_up_after_an_outage_in_order() {
    let scenario = Scenario {
        kind: Kind::Every {
            every: 10,
            anchor: 0,
        },
        policy: Policy {
            overlap: Overlap::Skip,
            misfire: Misfire::RunAll,
            misfire_grace: Duration::from_secs(2),
            max_catch_up: 4,
        },
        durations: vec![3],
        downtime: vec![(5, 95)],
    };
    let mut world = World::new(scenario);
    let mut started = Vec::new();
    for now in 0..=200 {
        let before = world.runs_started;
        world.tick(now).expect("the promises hold");
        if world.runs_started > before {
            started.push(world.running.map(|(s, _)| s));
        }
    }
    // 0 runs on time; 10..=90 are missed; the newest four (60..=90) catch up
    // one after another (starting at 95, 98, 101 and 104). 100 came due
    // while the catch-up was running, so Overlap::Skip skips it; then the
    // schedule resumes.
    assert_eq!(
        started.into_iter().flatten().take(8).collect::<Vec<_>>(),
        vec![0, 60, 70, 80, 90, 110, 120, 130]
    );
}
