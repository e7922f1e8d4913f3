//! Cron schedules in a time zone, and what they mean when the zone's clock
//! jumps.
//!
//! A cron expression describes wall-clock readings ("02:30 every day"), but
//! runs happen at instants. Across a daylight saving change the two do not
//! line up one to one, so this module fixes the meaning.
//!
//! # Two kinds of expression
//!
//! * **Wall-clock** expressions name explicit seconds, minutes and hours:
//!   numbers, lists or ranges, no `*` and no `/n` step (`30 2 * * *`,
//!   `0 9,17 * * MON-FRI`, `0 0 1-3 * * *`). They mean "when the clock on the
//!   wall shows this", so each matching reading runs exactly once:
//!   - a reading that happens twice (the repeated hour when clocks go back)
//!     runs once, at its first occurrence;
//!   - readings that do not happen (the hour skipped when clocks go forward)
//!     run once, at the first instant after the jump. Several skipped
//!     readings, and a reading right at the end of the jump, share that one
//!     run.
//! * **Elapsed-time** expressions use `*` or a step in the seconds, minutes
//!   or hours field (`*/15 * * * *`, `0 * * * *`, `0 */2 * * *`). They mean
//!   "every so often", so they fire at every instant whose wall-clock reading
//!   matches, and nothing else: through the repeated hour they keep firing on
//!   real elapsed time (an hourly job runs at 02:00 CEST and again at
//!   02:00 CET, which are an hour apart), and readings inside the skipped hour
//!   simply do not exist (`5 * * * *` runs at 01:05 then 03:05, also an hour
//!   apart).
//!
//! Every run is a distinct instant: no instant is produced twice and the
//! times come out strictly increasing.
//!
//! This is the rule Vixie cron and cronie apply (a job is "wildcard" when its
//! minute or hour field starts with `*`), extended to the optional seconds
//! field.
//!
//! # What croner does, and why it is not used directly
//!
//! croner 4 makes the same distinction but counts as fixed-time only
//! expressions with a *single* value in each of the seconds, minutes and
//! hours fields. A list or range (`30 2,14 * * *`, `0 1-3 * * *`) is treated
//! as elapsed-time: on the spring-forward day its 02:30 run silently
//! disappears, and on the fall-back day it runs twice. That breaks the
//! "a daily job runs once" promise, so here croner only matches wall-clock
//! readings (it is searched on [`jiff::civil::DateTime`], with no zone), and
//! the mapping from readings to instants is done below. croner's
//! `CronIterator` is also avoided: it prints to stderr on errors.
//!
//! # How readings become instants
//!
//! The zone's timeline is cut at its transitions into segments with one UTC
//! offset each. A segment shows the readings `[start + offset, end + offset)`.
//! A segment that starts after a backward jump shows some readings again
//! (the fold); wall-clock expressions ignore those repeats by searching
//! only from the previous segment's last reading onwards. A segment that
//! starts after a forward jump leaves a range of readings unshown (the gap);
//! wall-clock expressions that match a reading in the gap run at the
//! segment's first instant. Searches move from segment to segment, so the
//! cost of a query is one or two croner searches plus a few transition
//! lookups, whatever the expression.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::schedule::{ScheduleError, just_before};

/// A parsed cron expression bound to a time zone.
#[derive(Clone)]
pub struct CronSchedule {
    /// Shared because croner's parsed pattern is a few hundred bytes: this
    /// keeps `Schedule` small and clones cheap.
    cron: Arc<Cron>,
    expr: String,
    tz: TimeZone,
    tz_name: String,
    wall_clock: bool,
}

impl CronSchedule {
    /// Parses `expr` (5 fields, or 6 with leading seconds; `@daily` style
    /// nicknames are accepted too) for the IANA zone `timezone`.
    ///
    /// Day-of-month and day-of-week combine the classic way: when both are
    /// restricted, a day matching either runs (prefix day-of-week with `+`
    /// to require both).
    ///
    /// An expression that matches no date at all (`0 0 31 2 *`) is refused.
    /// Without a year field every expression repeats with the 400-year
    /// Gregorian cycle, so "never in 400 years" is "never".
    pub fn new(expr: &str, timezone: &str) -> Result<CronSchedule, ScheduleError> {
        let expr = expr.trim();
        let invalid = |reason: String| ScheduleError::InvalidCron {
            expr: expr.to_owned(),
            reason,
        };
        let fields = expr.split_whitespace().count();
        if !expr.starts_with('@') && !(5..=6).contains(&fields) {
            return Err(invalid(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, found {fields}"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| invalid(plain_reason(&e)))?;

        let tz = TimeZone::get(timezone)
            .map_err(|_| ScheduleError::UnknownTimeZone(timezone.to_owned()))?;
        let tz_name = tz.iana_name().unwrap_or(timezone).to_owned();

        let fixed = |field: &croner::CronComponent| !field.from_wildcard && field.step <= 1;
        let pattern = &cron.pattern;
        let wall_clock =
            fixed(&pattern.seconds) && fixed(&pattern.minutes) && fixed(&pattern.hours);

        let schedule = CronSchedule {
            cron: Arc::new(cron),
            expr: expr.to_owned(),
            tz,
            tz_name,
            wall_clock,
        };
        if !schedule.fires_at_all() {
            return Err(ScheduleError::NeverFires {
                expr: expr.to_owned(),
            });
        }
        Ok(schedule)
    }

    /// The expression as given (surrounding blanks removed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA name of the time zone.
    pub fn timezone(&self) -> &str {
        &self.tz_name
    }

    /// The time zone the expression is read in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Whether the expression follows the wall clock (each matching reading
    /// runs once) rather than elapsed time; see the module docs.
    pub fn is_wall_clock(&self) -> bool {
        self.wall_clock
    }

    /// The first run strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let mut search = Search::new(&self.cron);
        let mut seg = Segment::containing(&self.tz, t);
        let reading = seg.offset.to_datetime(t);
        let after_reading = reading.checked_add(SignedDuration::from_nanos(1)).ok()?;
        // In the second pass of a fold, a wall-clock expression only looks
        // past the readings the first pass already showed.
        let from = match self.lower_bound(&seg) {
            Some(lower) if lower > after_reading => lower,
            _ => after_reading,
        };
        if let Some(m) = search.next_at_or_after(from).filter(|m| seg.shows(*m)) {
            return seg.offset.to_timestamp(m).ok();
        }
        loop {
            seg = seg.following(&self.tz)?;
            if let Some(instant) = self.gap_catch_up(&seg, &mut search) {
                return Some(instant);
            }
            let m = search.next_at_or_after(self.lower_bound(&seg)?)?;
            if seg.shows(m) {
                return seg.offset.to_timestamp(m).ok();
            }
        }
    }

    /// The last run at or before `t`.
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        let mut search = Search::new(&self.cron);
        let mut seg = Segment::containing(&self.tz, t);
        let reading = seg.offset.to_datetime(t);
        let lower = self.lower_bound(&seg);
        let found = search.last_at_or_before(reading);
        if let Some(m) = found.filter(|m| lower.is_none_or(|lower| *m >= lower)) {
            return seg.offset.to_timestamp(m).ok();
        }
        loop {
            if let Some(instant) = self.gap_catch_up(&seg, &mut search) {
                return Some(instant);
            }
            seg = seg.preceding(&self.tz)?;
            let before_end = seg
                .last_reading()?
                .checked_sub(SignedDuration::from_nanos(1))
                .ok()?;
            let m = search.last_at_or_before(before_end)?;
            if self.lower_bound(&seg).is_none_or(|lower| m >= lower) {
                return seg.offset.to_timestamp(m).ok();
            }
        }
    }

    /// The first reading a segment contributes runs for: its own first
    /// reading, or for wall-clock expressions after a fold, the reading the
    /// previous segment stopped at. `None` means no lower bound.
    fn lower_bound(&self, seg: &Segment) -> Option<DateTime> {
        let first = seg.first_reading()?;
        match seg.previous_end_reading() {
            Some(previous_end) if self.wall_clock && previous_end > first => Some(previous_end),
            _ => Some(first),
        }
    }

    /// For a wall-clock expression and a segment that begins with a forward
    /// jump: the segment's first instant, when a reading inside the skipped
    /// range matches.
    fn gap_catch_up(&self, seg: &Segment, search: &mut Search) -> Option<Timestamp> {
        if !self.wall_clock {
            return None;
        }
        let gap_start = seg.previous_end_reading()?;
        let gap_end = seg.first_reading()?;
        if gap_start >= gap_end {
            return None;
        }
        let m = search.next_at_or_after(gap_start)?;
        (m < gap_end).then_some(seg.start?)
    }

    /// Whether any date matches. croner searches up to year 5000 before it
    /// gives up, so a miss costs a fraction of a second; only expressions
    /// that are refused pay it.
    fn fires_at_all(&self) -> bool {
        let reference = jiff::civil::date(2000, 1, 1).at(0, 0, 0, 0);
        let horizon = jiff::civil::date(2400, 1, 1).at(0, 0, 0, 0);
        self.cron
            .find_next_occurrence(&reference, true)
            .is_ok_and(|first| first < horizon)
    }
}

/// Rewrites croner's error in plain words for the user.
fn plain_reason(error: &CronError) -> String {
    match error {
        CronError::EmptyPattern => "the expression is empty".to_owned(),
        CronError::InvalidPattern(msg) | CronError::ComponentError(msg) => {
            msg.trim_end_matches('.').to_owned()
        }
        CronError::IllegalCharacters(msg) => msg
            .trim_end_matches('.')
            .replace("CronPattern contains illegal", "illegal")
            .replace("in part", "in field"),
        other => other.to_string().trim_end_matches('.').to_owned(),
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expr", &self.expr)
            .field("timezone", &self.tz_name)
            .field("wall_clock", &self.wall_clock)
            .finish()
    }
}

/// Two schedules are the same when their text and zone are: that is what
/// the store keeps and what a user would compare.
impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz_name == other.tz_name
    }
}

impl Eq for CronSchedule {}

impl FromStr for CronSchedule {
    type Err = ScheduleError;

    /// Parses an expression in UTC.
    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        CronSchedule::new(expr, "UTC")
    }
}

/// A stretch of the zone's timeline with one UTC offset.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// First instant; `None` when the zone has no earlier transition.
    start: Option<Timestamp>,
    /// First instant of the next segment; `None` when there is none.
    end: Option<Timestamp>,
    offset: Offset,
    /// The offset just before `start`.
    previous_offset: Option<Offset>,
}

impl Segment {
    fn containing(tz: &TimeZone, t: Timestamp) -> Segment {
        // `preceding` is strict, so ask from just after `t` to find a
        // transition exactly at `t`.
        let after = t.checked_add(SignedDuration::from_nanos(1)).unwrap_or(t);
        let start = tz.preceding(after).next().map(|tr| tr.timestamp());
        Segment {
            start,
            end: tz.following(t).next().map(|tr| tr.timestamp()),
            offset: tz.to_offset(t),
            previous_offset: start
                .and_then(just_before)
                .map(|before| tz.to_offset(before)),
        }
    }

    fn following(&self, tz: &TimeZone) -> Option<Segment> {
        let start = self.end?;
        Some(Segment {
            start: Some(start),
            end: tz.following(start).next().map(|tr| tr.timestamp()),
            offset: tz.to_offset(start),
            previous_offset: Some(self.offset),
        })
    }

    fn preceding(&self, tz: &TimeZone) -> Option<Segment> {
        let end = self.start?;
        let start = tz.preceding(end).next().map(|tr| tr.timestamp());
        Some(Segment {
            start,
            end: Some(end),
            offset: self.previous_offset?,
            previous_offset: start
                .and_then(just_before)
                .map(|before| tz.to_offset(before)),
        })
    }

    /// The reading at the segment's first instant.
    fn first_reading(&self) -> Option<DateTime> {
        self.start.map(|start| self.offset.to_datetime(start))
    }

    /// The reading just past the segment's last instant (exclusive end).
    fn last_reading(&self) -> Option<DateTime> {
        self.end.map(|end| self.offset.to_datetime(end))
    }

    /// The previous segment's exclusive end reading: where the wall clock
    /// stood when this segment began.
    fn previous_end_reading(&self) -> Option<DateTime> {
        Some(self.previous_offset?.to_datetime(self.start?))
    }

    /// Whether a reading at or after the segment's first reading falls
    /// before its end.
    fn shows(&self, reading: DateTime) -> bool {
        self.last_reading().is_none_or(|end| reading < end)
    }
}

/// Wall-clock searches that remember their last answer in each direction:
/// moving to the next segment usually asks for the same match again, and for
/// a rarely matching expression (29 February) each croner search is costly.
struct Search<'a> {
    cron: &'a Cron,
    /// The last forward search: from this reading, the first match at or
    /// after it.
    forward: Option<(DateTime, Option<DateTime>)>,
    /// The last backward search: from this reading, the last match at or
    /// before it.
    backward: Option<(DateTime, Option<DateTime>)>,
}

impl<'a> Search<'a> {
    fn new(cron: &'a Cron) -> Search<'a> {
        Search {
            cron,
            forward: None,
            backward: None,
        }
    }

    /// The first matching reading at or after `from`.
    fn next_at_or_after(&mut self, from: DateTime) -> Option<DateTime> {
        if let Some((origin, found)) = self.forward
            && origin <= from
            && found.is_none_or(|m| m >= from)
        {
            return found;
        }
        // croner works in whole seconds and truncates its origin, so an
        // inclusive search from a reading with a fraction could answer the
        // second before it. An exclusive search steps to the next whole
        // second, which is the first candidate at or after the fraction.
        let inclusive = from.subsec_nanosecond() == 0;
        let found = self.cron.find_next_occurrence(&from, inclusive).ok();
        self.forward = Some((from, found));
        found
    }

    /// The last matching reading at or before `from`. croner truncates the
    /// fraction of a second, which keeps the answer at or before `from`.
    fn last_at_or_before(&mut self, from: DateTime) -> Option<DateTime> {
        if let Some((origin, found)) = self.backward
            && from <= origin
            && found.is_none_or(|m| m <= from)
        {
            return found;
        }
        let found = self.cron.find_previous_occurrence(&from, true).ok();
        self.backward = Some((from, found));
        found
    }
}

#[cfg(test)]
mod tests;
