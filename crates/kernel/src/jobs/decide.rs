//! What to do when the claim loop finds a task due.
//!
//! The service keeps a [`Timing`] per task. Its claim loop looks at a task
//! at the task's `claim_at`, locks the row, calls [`decide`], applies the
//! [`Decision`] (records the runs, starts at most one, stores the new timing
//! and claim time) and lets go. When a run ends it calls
//! [`claim_after_finish`] to learn when to look again.
//!
//! # The rules
//!
//! "Due" means the schedule's run times in `[timing.next_run_at, now]`. The
//! rules are numbered as in the design; [`decide`] tries rule 4 (a run is in
//! progress) first, then 2, 3 and 1.
//!
//! 1. **Idle** (not running, nothing queued, no backlog): if exactly one time
//!    is due and it is at most `misfire_grace` old, it starts. Otherwise the
//!    task missed its time (the service was down, or the claim loop fell
//!    behind) and the misfire policy decides:
//!    - [`Misfire::RunOnce`]: the latest due time starts, however late; the
//!      earlier ones are skipped as [`SkipReason::Misfire`].
//!    - [`Misfire::Skip`]: the latest due time starts only if it is within
//!      the grace; everything else is skipped as [`SkipReason::Misfire`].
//!    - [`Misfire::RunAll`]: the latest `max_catch_up` due times run one
//!      after another, oldest first: the first starts now and the others
//!      become the backlog (`next_run_at` = the second, `backlog_until` =
//!      now). Older due times are skipped as [`SkipReason::CatchUpLimit`].
//!      Keeping the newest rather than the oldest means a long outage never
//!      drops the run for the current period.
//! 2. **Idle with a queued run**: the queued run starts. Times that came due
//!    while the queue was full (the claim loop does not look at a task while
//!    a run waits for it) are skipped as [`SkipReason::Overlap`].
//! 3. **Idle with a backlog** ([`Misfire::RunAll`] catching up): the next
//!    backlog time starts, and the cursor moves one run time on. When it
//!    passes `backlog_until` the backlog is over; times that came due during
//!    the catch-up are then due as usual, and since the last backlog run is
//!    still in progress the overlap policy (rule 4) decides them.
//! 4. **Running** (the claim loop found the task due while a run is in
//!    progress): [`Overlap::Skip`] skips every due time as
//!    [`SkipReason::Overlap`]. [`Overlap::QueueOne`] queues the earliest due
//!    time in `queued_for` when nothing is queued yet, and skips the rest; if
//!    a run is already queued, all due times are skipped. With a backlog
//!    nothing is decided: times that come due wait behind the backlog until
//!    it has drained. A run never starts while another is in progress.
//! 5. Afterwards `next_run_at` is the first run time strictly after `now`,
//!    unless a backlog holds it earlier (or has just ended, see rule 3), and
//!    `None` once the schedule has no more runs (an `At` task after its run).
//! 6. `claim_at` is `None` while something waits for the current run to
//!    finish (a queued run or a backlog): the claim loop need not look until
//!    then, and [`claim_after_finish`] answers "now". Otherwise it is
//!    `next_run_at`, which may already have passed; that means "look again
//!    right away".
//!
//! A time that comes due while a run is in progress but is first looked at
//! after the run ended (because the claim loop was down at that moment) is
//! judged by rule 1, as a missed time, not as an overlap.
//!
//! # History
//!
//! [`Decision::runs`] lists at most `max(max_catch_up, 1)` times, in
//! scheduled order: the started run (if any) and the newest of the skipped
//! ones.
//! Handled times beyond that are only counted in
//! [`Decision::not_recorded`], so a task that was down for a year with a 1s
//! interval does not write millions of rows. For cron schedules the count
//! stops at [`CRON_COUNT_CAP`](super::schedule::CRON_COUNT_CAP).

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::schedule::{Schedule, just_before};

/// The default misfire grace: a run at most this late still counts as on
/// time.
pub const DEFAULT_MISFIRE_GRACE: Duration = Duration::from_secs(60);

/// The default catch-up limit (and history length) per decision.
pub const DEFAULT_MAX_CATCH_UP: usize = 10;

/// What to do with a run time that comes due while a run is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Skip it.
    #[default]
    Skip,
    /// Keep one such run waiting and start it when the current run ends;
    /// skip any others.
    QueueOne,
}

/// What to do with run times that were missed (found late, or several at
/// once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Run once, for the latest missed time.
    #[default]
    RunOnce,
    /// Run only a time found within the grace; skip the rest.
    Skip,
    /// Run every missed time (up to `max_catch_up`), one after another.
    RunAll,
}

/// How a task reacts to overlaps and misfires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub overlap: Overlap,
    pub misfire: Misfire,
    /// How late a run may start and still be on time.
    pub misfire_grace: Duration,
    /// How many missed times [`Misfire::RunAll`] catches up on, and how many
    /// handled times one decision lists individually (at least one).
    pub max_catch_up: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            overlap: Overlap::default(),
            misfire: Misfire::default(),
            misfire_grace: DEFAULT_MISFIRE_GRACE,
            max_catch_up: DEFAULT_MAX_CATCH_UP,
        }
    }
}

/// What the store keeps per task to drive decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Next schedule time not yet handled (may be in the past when behind).
    pub next_run_at: Option<Timestamp>,
    /// A run waiting for the current run to finish.
    pub queued_for: Option<Timestamp>,
    /// Run-all catch-up: every schedule time from `next_run_at` up to this
    /// still has to run, one after another.
    pub backlog_until: Option<Timestamp>,
}

impl Timing {
    /// The timing of a new task (or one whose schedule just changed): its
    /// first run is the first schedule time at or after `from`.
    pub fn starting(schedule: &Schedule, from: Timestamp) -> Timing {
        Timing {
            next_run_at: schedule.first_at_or_after(from),
            queued_for: None,
            backlog_until: None,
        }
    }
}

/// Why a run time did not get a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// It came due while another run was in progress (or already queued).
    Overlap,
    /// It was missed: found later than the grace allows, or superseded by a
    /// later missed time.
    Misfire,
    /// Run-all catch-up had more missed times than `max_catch_up`.
    CatchUpLimit,
}

impl SkipReason {
    /// The stable tag the store keeps: `"overlap"`, `"misfire"` or
    /// `"catch_up_limit"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Overlap => "overlap",
            SkipReason::Misfire => "misfire",
            SkipReason::CatchUpLimit => "catch_up_limit",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Overlap => "skipped: the previous run was still in progress",
            SkipReason::Misfire => {
                "skipped: missed its time (the scheduler was down or behind) and the misfire policy does not run it"
            }
            SkipReason::CatchUpLimit => {
                "skipped: too many missed runs to catch up on (over the max_catch_up limit)"
            }
        })
    }
}

/// What happens to one run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Start,
    Skipped(SkipReason),
}

/// The result of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Handled run times in scheduled order; at most one is started.
    pub runs: Vec<(Timestamp, Outcome)>,
    /// Skipped times beyond what `runs` lists (bounded history).
    pub not_recorded: u64,
    /// The new timing to store.
    pub timing: Timing,
    /// When the claim loop should look at this task again; `None` means not
    /// until the current run finishes (or never).
    pub claim_at: Option<Timestamp>,
}

impl Decision {
    /// The run time started by this decision, if any.
    pub fn started(&self) -> Option<Timestamp> {
        self.runs
            .iter()
            .find(|(_, outcome)| *outcome == Outcome::Start)
            .map(|(t, _)| *t)
    }

    fn unchanged(timing: &Timing, claim_at: Option<Timestamp>) -> Decision {
        Decision {
            runs: Vec::new(),
            not_recorded: 0,
            timing: *timing,
            claim_at,
        }
    }
}

/// Decides what to do with a task the claim loop found due; see the module
/// docs for the rules. `running` says whether a run of the task is in
/// progress.
pub fn decide(
    schedule: &Schedule,
    policy: &Policy,
    timing: &Timing,
    running: bool,
    now: Timestamp,
) -> Decision {
    let planner = Planner {
        schedule,
        policy,
        now,
        budget: policy.max_catch_up.max(1),
    };
    if running {
        return planner.while_running(timing);
    }
    if let Some(queued) = timing.queued_for {
        return planner.start_queued(timing, queued);
    }
    if let Some(next) = backlog_cursor(timing) {
        return planner.continue_backlog(timing, next);
    }
    // A backlog whose cursor has run past its end (or vanished) is over.
    planner.when_idle(&Timing {
        backlog_until: None,
        ..*timing
    })
}

/// After a run ends (finished, timed out or interrupted): when should the
/// claim loop look again? Right away when a queued run or a backlog waits,
/// otherwise at the next run time.
pub fn claim_after_finish(timing: &Timing, now: Timestamp) -> Option<Timestamp> {
    if timing.queued_for.is_some() || timing.backlog_until.is_some() {
        Some(now)
    } else {
        timing.next_run_at
    }
}

/// The task is finished for good: nothing queued, no backlog, no next run.
/// The caller must still let a run in progress end.
pub fn is_exhausted(timing: &Timing) -> bool {
    timing.next_run_at.is_none() && timing.queued_for.is_none() && timing.backlog_until.is_none()
}

/// The backlog time to run next, when a backlog is in progress.
fn backlog_cursor(timing: &Timing) -> Option<Timestamp> {
    let until = timing.backlog_until?;
    timing.next_run_at.filter(|next| *next <= until)
}

struct Planner<'a> {
    schedule: &'a Schedule,
    policy: &'a Policy,
    now: Timestamp,
    /// How many run times one decision lists individually.
    budget: usize,
}

impl Planner<'_> {
    /// Rule 4.
    fn while_running(&self, timing: &Timing) -> Decision {
        if timing.backlog_until.is_some() {
            return Decision::unchanged(timing, None);
        }
        let waiting = timing.queued_for.is_some();
        let Some(from) = timing.next_run_at.filter(|from| *from <= self.now) else {
            let claim_at = if waiting { None } else { timing.next_run_at };
            return Decision::unchanged(timing, claim_at);
        };
        let next = self.schedule.next_after(self.now);
        let mut history = History::default();
        let mut queued_for = timing.queued_for;
        if self.policy.overlap == Overlap::QueueOne && queued_for.is_none() {
            queued_for = self
                .schedule
                .first_at_or_after(from)
                .filter(|q| *q <= self.now);
        }
        // The newly queued time is not handled yet: it is recorded when it
        // starts.
        let newly_queued = queued_for.filter(|_| !waiting);
        history.skip_range(
            self,
            from,
            self.now,
            newly_queued,
            SkipReason::Overlap,
            self.budget,
        );
        let waiting = queued_for.is_some();
        history.finish(
            Timing {
                next_run_at: next,
                queued_for,
                backlog_until: None,
            },
            if waiting { None } else { next },
        )
    }

    /// Rule 2.
    fn start_queued(&self, timing: &Timing, queued: Timestamp) -> Decision {
        let mut history = History::default();
        history.start(queued);
        if let Some(until) = timing.backlog_until {
            // Not reachable through these rules, but a policy change could
            // leave both: the backlog is owed too, so keep it intact.
            return history.finish(
                Timing {
                    queued_for: None,
                    backlog_until: Some(until),
                    ..*timing
                },
                None,
            );
        }
        let next_run_at = match timing.next_run_at {
            Some(from) if from <= self.now => {
                let room = self.budget - 1;
                history.skip_range(
                    self,
                    from,
                    self.now,
                    Some(queued),
                    SkipReason::Overlap,
                    room,
                );
                self.schedule.next_after(self.now)
            }
            other => other,
        };
        history.finish(
            Timing {
                next_run_at,
                queued_for: None,
                backlog_until: None,
            },
            next_run_at,
        )
    }

    /// Rule 3.
    fn continue_backlog(&self, timing: &Timing, next: Timestamp) -> Decision {
        let mut history = History::default();
        history.start(next);
        let after = self.schedule.next_after(next);
        let backlog_until = timing
            .backlog_until
            .filter(|until| after.is_some_and(|a| a <= *until));
        let claim_at = if backlog_until.is_some() { None } else { after };
        history.finish(
            Timing {
                next_run_at: after,
                queued_for: None,
                backlog_until,
            },
            claim_at,
        )
    }

    /// Rule 1.
    fn when_idle(&self, timing: &Timing) -> Decision {
        let Some(from) = timing.next_run_at else {
            return Decision::unchanged(timing, None);
        };
        if from > self.now {
            return Decision::unchanged(timing, Some(from));
        }
        let next = self.schedule.next_after(self.now);
        let mut history = History::default();
        let latest = self
            .schedule
            .last_at_or_before(self.now)
            .filter(|l| *l >= from);
        let Some(latest) = latest else {
            // `next_run_at` was not a run time (say the schedule changed
            // under it) and nothing else is due: just move on.
            return history.finish(
                Timing {
                    next_run_at: next,
                    ..*timing
                },
                next,
            );
        };
        let on_time = self.now.duration_since(latest) <= grace(self.policy.misfire_grace);
        let room = self.budget - 1;
        match self.policy.misfire {
            // One due time within the grace is the on-time case of rule 1;
            // every policy starts it, so it needs no branch of its own.
            Misfire::RunOnce => {
                history.start(latest);
                self.skip_before(&mut history, from, latest, SkipReason::Misfire, room);
            }
            Misfire::Skip if on_time => {
                history.start(latest);
                self.skip_before(&mut history, from, latest, SkipReason::Misfire, room);
            }
            Misfire::Skip => {
                history.skip_range(self, from, self.now, None, SkipReason::Misfire, self.budget);
            }
            Misfire::RunAll => {
                let kept = self.schedule.latest_between(from, self.now, self.budget);
                if let [first, rest @ ..] = kept.as_slice() {
                    history.start(*first);
                    self.skip_before(&mut history, from, *first, SkipReason::CatchUpLimit, room);
                    if let Some(second) = rest.first() {
                        return history.finish(
                            Timing {
                                next_run_at: Some(*second),
                                queued_for: None,
                                backlog_until: Some(self.now),
                            },
                            None,
                        );
                    }
                }
            }
        }
        history.finish(
            Timing {
                next_run_at: next,
                queued_for: None,
                backlog_until: None,
            },
            next,
        )
    }

    /// Skips the run times in `[from, before)`.
    fn skip_before(
        &self,
        history: &mut History,
        from: Timestamp,
        before: Timestamp,
        reason: SkipReason,
        room: usize,
    ) {
        if let Some(to) = just_before(before) {
            history.skip_range(self, from, to, None, reason, room);
        }
    }
}

/// A grace as a signed duration; one too long to represent never expires.
fn grace(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// The runs of one decision, built up rule by rule.
#[derive(Default)]
struct History {
    runs: Vec<(Timestamp, Outcome)>,
    not_recorded: u64,
}

impl History {
    fn start(&mut self, t: Timestamp) {
        self.runs.push((t, Outcome::Start));
    }

    /// Skips every run time in `[from, to]` except `except`: the latest
    /// `room` of them are listed, the rest counted.
    fn skip_range(
        &mut self,
        planner: &Planner<'_>,
        from: Timestamp,
        to: Timestamp,
        except: Option<Timestamp>,
        reason: SkipReason,
        room: usize,
    ) {
        if from > to {
            return;
        }
        let schedule = planner.schedule;
        let mut total = schedule.count_between(from, to);
        if let Some(except) = except
            && from <= except
            && except <= to
            && schedule.is_run_time(except)
        {
            total = total.saturating_sub(1);
        }
        let mut listed: Vec<Timestamp> = schedule
            .latest_between(from, to, room.saturating_add(1))
            .into_iter()
            .filter(|t| Some(*t) != except)
            .collect();
        let surplus = listed.len().saturating_sub(room);
        listed.drain(..surplus);
        let listed_count = u64::try_from(listed.len()).unwrap_or(u64::MAX);
        self.not_recorded += total.saturating_sub(listed_count);
        self.runs
            .extend(listed.into_iter().map(|t| (t, Outcome::Skipped(reason))));
    }

    fn finish(mut self, timing: Timing, claim_at: Option<Timestamp>) -> Decision {
        self.runs.sort_by_key(|(t, _)| *t);
        Decision {
            runs: self.runs,
            not_recorded: self.not_recorded,
            timing,
            claim_at,
        }
    }
}

#[cfg(test)]
mod tests;
