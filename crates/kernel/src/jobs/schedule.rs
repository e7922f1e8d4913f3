//! When a task runs: fixed intervals, a single instant, or a cron expression
//! in a time zone, behind one type with the queries the planner needs
//! (next run, runs in a window, how many runs a window holds).
//!
//! All times are absolute instants ([`Timestamp`]). Interval schedules are
//! phase-locked to an anchor, so a task that was down for a while resumes on
//! the same grid instead of drifting. The wall-clock and daylight saving
//! rules of cron schedules live in [`super::cron`].

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::cron::CronSchedule;

/// The most run times [`Schedule::due_between`] counts beyond the ones it
/// returns for a cron schedule. Cron times are found one by one, so counting
/// is bounded to keep a claim (which holds a row lock) short; past the cap
/// the count is a lower bound. Interval schedules are counted exactly.
pub const CRON_COUNT_CAP: u64 = 100_000;

/// Why a schedule could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("interval must be at least 1s")]
    IntervalTooShort,
    #[error("invalid cron expression \"{expr}\": {reason}")]
    InvalidCron { expr: String, reason: String },
    #[error("unknown time zone \"{0}\"; use an IANA name such as \"Europe/Amsterdam\" or \"UTC\"")]
    UnknownTimeZone(String),
    #[error("cron expression \"{expr}\" never fires (no date matches it)")]
    NeverFires { expr: String },
}

/// When a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `every`, phase-locked to `anchor`: runs at anchor + k*every, k >= 0.
    Every { every: Duration, anchor: Timestamp },
    /// Once at `at`.
    At { at: Timestamp },
    /// A cron expression (5 fields, or 6 with leading seconds) evaluated in a time zone.
    Cron(CronSchedule),
}

impl Schedule {
    /// An interval schedule. Intervals under a second are refused: the claim
    /// loop cannot honour them and they are almost always a unit mistake.
    pub fn every(every: Duration, anchor: Timestamp) -> Result<Schedule, ScheduleError> {
        if every < Duration::from_secs(1) {
            return Err(ScheduleError::IntervalTooShort);
        }
        Ok(Schedule::Every { every, anchor })
    }

    /// A single run at `at`.
    pub fn at(at: Timestamp) -> Schedule {
        Schedule::At { at }
    }

    /// A cron schedule; see [`CronSchedule::new`] for what is accepted.
    pub fn cron(expr: &str, timezone: &str) -> Result<Schedule, ScheduleError> {
        CronSchedule::new(expr, timezone).map(Schedule::Cron)
    }

    /// `"every"`, `"at"` or `"cron"`: the tag the store keeps.
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Every { .. } => "every",
            Schedule::At { .. } => "at",
            Schedule::Cron(_) => "cron",
        }
    }

    /// The interval of an `Every` schedule.
    pub fn interval(&self) -> Option<Duration> {
        match self {
            Schedule::Every { every, .. } => Some(*every),
            _ => None,
        }
    }

    /// The anchor of an `Every` schedule.
    pub fn anchor(&self) -> Option<Timestamp> {
        match self {
            Schedule::Every { anchor, .. } => Some(*anchor),
            _ => None,
        }
    }

    /// The instant of an `At` schedule.
    pub fn at_time(&self) -> Option<Timestamp> {
        match self {
            Schedule::At { at } => Some(*at),
            _ => None,
        }
    }

    /// The expression of a cron schedule, as given.
    pub fn cron_expr(&self) -> Option<&str> {
        match self {
            Schedule::Cron(cron) => Some(cron.expr()),
            _ => None,
        }
    }

    /// The IANA time zone name of a cron schedule.
    pub fn timezone(&self) -> Option<&str> {
        match self {
            Schedule::Cron(cron) => Some(cron.timezone()),
            _ => None,
        }
    }

    /// The first run strictly after `t`, or `None` when there is none.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Every { every, anchor } => {
                let grid = Grid::new(*every, *anchor);
                grid.time(grid.first_index_after(t))
            }
            Schedule::At { at } => (*at > t).then_some(*at),
            Schedule::Cron(cron) => cron.next_after(t),
        }
    }

    /// The first run at or after `t`.
    pub fn first_at_or_after(&self, t: Timestamp) -> Option<Timestamp> {
        match just_before(t) {
            Some(before) => self.next_after(before),
            // Nothing precedes Timestamp::MIN, so ask about it directly.
            None if self.is_run_time(t) => Some(t),
            None => self.next_after(t),
        }
    }

    /// The last run at or before `t`, or `None` when there is none.
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Every { every, anchor } => {
                let grid = Grid::new(*every, *anchor);
                grid.time(grid.last_index_at_or_before(t)?)
            }
            Schedule::At { at } => (*at <= t).then_some(*at),
            Schedule::Cron(cron) => cron.last_at_or_before(t),
        }
    }

    /// Whether `t` is one of the schedule's run times.
    pub fn is_run_time(&self, t: Timestamp) -> bool {
        self.last_at_or_before(t) == Some(t)
    }

    /// Run times in `[from, to]` (both inclusive): the first `limit` of them
    /// in order, and how many more the window holds. For cron schedules the
    /// extra count stops at [`CRON_COUNT_CAP`].
    pub fn due_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> (Vec<Timestamp>, u64) {
        if from > to {
            return (Vec::new(), 0);
        }
        match self {
            Schedule::Every { every, anchor } => {
                let grid = Grid::new(*every, *anchor);
                let first = grid.first_index_at_or_after(from);
                let Some(last) = grid.last_index_at_or_before(to) else {
                    return (Vec::new(), 0);
                };
                if last < first {
                    return (Vec::new(), 0);
                }
                let total = u64::try_from(last - first + 1).unwrap_or(u64::MAX);
                let listed = total.min(u64::try_from(limit).unwrap_or(u64::MAX));
                let times: Vec<Timestamp> = (0..i128::from(listed))
                    .map_while(|i| grid.time(first + i))
                    .collect();
                let rest = total - u64::try_from(times.len()).unwrap_or(u64::MAX);
                (times, rest)
            }
            Schedule::At { .. } | Schedule::Cron(_) => {
                let mut times = Vec::new();
                let mut rest = 0u64;
                let mut cursor = self.first_at_or_after(from);
                while let Some(t) = cursor.filter(|t| *t <= to) {
                    if times.len() < limit {
                        times.push(t);
                    } else if rest < CRON_COUNT_CAP {
                        rest += 1;
                    } else {
                        break;
                    }
                    cursor = self.next_after(t);
                }
                (times, rest)
            }
        }
    }

    /// How many run times `[from, to]` holds (cron: at most
    /// [`CRON_COUNT_CAP`]).
    pub fn count_between(&self, from: Timestamp, to: Timestamp) -> u64 {
        self.due_between(from, to, 0).1
    }

    /// Up to `limit` run times in `[after_or_at, until]`, in order, for
    /// display. Unlike [`Schedule::due_between`] it does not count the rest.
    pub fn upcoming(
        &self,
        after_or_at: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Vec<Timestamp> {
        let mut times = Vec::new();
        let mut cursor = self.first_at_or_after(after_or_at);
        while let Some(t) = cursor.filter(|t| *t <= until && times.len() < limit) {
            times.push(t);
            cursor = self.next_after(t);
        }
        times
    }

    /// The last `limit` run times in `[from, to]`, in order. Found from the
    /// end backwards, so its cost does not depend on how long the window is.
    pub fn latest_between(&self, from: Timestamp, to: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut times = Vec::new();
        let mut cursor = self.last_at_or_before(to);
        while let Some(t) = cursor.filter(|t| *t >= from && times.len() < limit) {
            times.push(t);
            cursor = just_before(t).and_then(|before| self.last_at_or_before(before));
        }
        times.reverse();
        times
    }
}

/// The instant one nanosecond earlier, the finest step a timestamp has.
pub(crate) fn just_before(t: Timestamp) -> Option<Timestamp> {
    t.checked_sub(SignedDuration::from_nanos(1)).ok()
}

/// The grid `anchor + k*step` in nanoseconds, so that interval queries are
/// O(1) however long the window: a 1s task missed for a year is one
/// division, not 31 million steps. i128 holds every timestamp in nanoseconds
/// with room to spare for the products below.
struct Grid {
    anchor: i128,
    step: i128,
}

impl Grid {
    fn new(every: Duration, anchor: Timestamp) -> Grid {
        Grid {
            anchor: anchor.as_nanosecond(),
            // A Duration has under 2^64 seconds, so its nanoseconds fit.
            step: i128::try_from(every.as_nanos()).unwrap_or(i128::MAX).max(1),
        }
    }

    /// Index of the first grid point at or after `t`.
    fn first_index_at_or_after(&self, t: Timestamp) -> i128 {
        let since = t.as_nanosecond() - self.anchor;
        if since <= 0 {
            0
        } else {
            // Ceiling division of positive numbers.
            (since + self.step - 1) / self.step
        }
    }

    /// Index of the first grid point strictly after `t`.
    fn first_index_after(&self, t: Timestamp) -> i128 {
        let since = t.as_nanosecond() - self.anchor;
        if since < 0 { 0 } else { since / self.step + 1 }
    }

    /// Index of the last grid point at or before `t`.
    fn last_index_at_or_before(&self, t: Timestamp) -> Option<i128> {
        let since = t.as_nanosecond() - self.anchor;
        (since >= 0).then(|| since / self.step)
    }

    fn time(&self, index: i128) -> Option<Timestamp> {
        let nanos = index.checked_mul(self.step)?.checked_add(self.anchor)?;
        Timestamp::from_nanosecond(nanos).ok()
    }
}

#[cfg(test)]
mod tests;
