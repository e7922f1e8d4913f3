//! Working hours as instants: the windows of a calendar in a time zone.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::hours::{LocalEnd, WorkingHours};
use super::spans::union;
use crate::booking::{Micros, Span};

/// The most local dates [`windows`] expands in one call, about 27 years.
///
/// A bound so that a caller passing an absurd range (say, the whole of
/// `i64`) gets an answer in bounded time and memory instead of looping for
/// hours. Dates past the bound produce no windows: a range longer than
/// this is treated as ending early, which makes search find nothing there
/// rather than something wrong.
pub const MAX_WINDOW_DAYS: usize = 10_000;

/// The working windows of `hours` in `tz`, as instants clipped to
/// `within`, in canonical form (sorted, overlapping and touching windows
/// merged; see [`super::union`]).
///
/// Each rule gives, on each local date whose weekday it names, the window
/// `[date at start, date at end)`, where an end of 24:00 is the next
/// date's 00:00. Local times become instants with jiff's "compatible"
/// disambiguation (`TimeZone::to_timestamp`), the rule RFC 5545 and
/// Temporal use:
///
/// - in a fold (clocks go back, a reading happens twice) the earlier
///   instant is taken, so 08:00-17:00 on a fall-back day still lasts 9
///   hours and a window ending in the fold ends the first time the clock
///   shows its end;
/// - in a gap (clocks go forward, a reading never happens) the time is
///   moved forward by the length of the gap: 02:30 on a day that skips
///   from 02:00 to 03:00 becomes 03:30. A window whose end then comes
///   before its start (02:30-03:15 on that day gives 03:30-03:15) covers
///   nothing and is dropped.
///
/// Consecutive days use the same conversion for "this date at 24:00" and
/// "the next date at 00:00", so an all-day calendar is one unbroken window
/// even where midnight itself falls in a gap.
///
/// Dates are expanded from the day before the one containing
/// `within.start` to the day after the one containing `within.end` (local
/// dates in `tz`), so windows that a DST shift pushes across midnight are
/// not missed; at most [`MAX_WINDOW_DAYS`] dates are expanded. Cost:
/// O(days × rules) conversions plus a sort of the result. Instants outside
/// jiff's range (years -9999 to 9999) are clipped to it rather than
/// refused, and a conversion that fails there drops only that window.
pub fn windows(hours: &WorkingHours, tz: &TimeZone, within: Span) -> Vec<Span> {
    if within.is_empty() || hours.rules().is_empty() {
        return Vec::new();
    }
    let Some((first, last)) = local_dates(tz, within) else {
        return Vec::new();
    };
    let mut found: Vec<Span> = Vec::new();
    let mut date = first;
    // The instant this date starts: the previous date's 24:00.
    let mut midnight = instant(tz, date, Time::midnight());
    for _ in 0..MAX_WINDOW_DAYS {
        let next = date.tomorrow().ok();
        let next_midnight = next.and_then(|next| instant(tz, next, Time::midnight()));
        let weekday = date.weekday();
        for rule in hours.rules() {
            if !rule.days().contains(weekday) {
                continue;
            }
            let start = if rule.start() == Time::midnight() {
                midnight
            } else {
                instant(tz, date, rule.start())
            };
            let end = match rule.end() {
                LocalEnd::At(time) => instant(tz, date, time),
                LocalEnd::EndOfDay => next_midnight,
            };
            if let (Some(start), Some(end)) = (start, end) {
                let start = start.max(within.start);
                let end = end.min(within.end);
                if start < end {
                    found.push(Span { start, end });
                }
            }
        }
        match next {
            Some(next) if next <= last => {
                date = next;
                midnight = next_midnight;
            }
            _ => break,
        }
    }
    union(&found)
}

/// `date` at `time` in `tz` as microseconds, with compatible
/// disambiguation; `None` only at the edges of jiff's range.
fn instant(tz: &TimeZone, date: Date, time: Time) -> Option<Micros> {
    tz.to_timestamp(date.to_datetime(time))
        .ok()
        .map(Timestamp::as_microsecond)
}

/// The first and last local date to expand for `within`: one more on each
/// side than the dates containing its ends. `within` is first clipped to
/// the instants jiff can represent.
fn local_dates(tz: &TimeZone, within: Span) -> Option<(Date, Date)> {
    // Whole seconds: `Timestamp::MAX` has a fraction that
    // `from_microsecond` refuses.
    let lowest = Timestamp::MIN.as_second().saturating_mul(1_000_000);
    let highest = Timestamp::MAX.as_second().saturating_mul(1_000_000);
    let date_of = |t: Micros| {
        Timestamp::from_microsecond(t.clamp(lowest, highest))
            .ok()
            .map(|t| tz.to_datetime(t).date())
    };
    let first = date_of(within.start)?;
    let last = date_of(within.end)?;
    Some((
        first.yesterday().unwrap_or(first),
        last.tomorrow().unwrap_or(last),
    ))
}
