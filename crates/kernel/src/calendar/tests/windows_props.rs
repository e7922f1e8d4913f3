//! [`windows`] against an oracle on real time zones. The oracle converts
//! local readings to instants on its own, from nothing but the zone's
//! offset at an instant (`TimeZone::to_offset`): the instants showing a
//! reading are those `reading - offset` whose offset is that offset; the
//! earliest of them is taken (a fold), and when there is none (a gap) the
//! reading is read with the offset from before the jump, which puts it
//! after the gap ("compatible"). Random dates in 2020-2030, half of them
//! moved onto a DST change, random rules (often at night, where changes
//! happen), and zones with whole-hour, half-hour and no changes.
//!
//! On top of exact agreement, two checks say what the windows mean in
//! local terms: every window boundary is a rule's start or end on a day the
//! rule names (or lies next to a DST change), and away from changes an
//! instant is in a window exactly when its local reading is inside some
//! rule on that weekday.

use jiff::civil::{Date, DateTime, Time, Weekday, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use crate::booking::{Micros, Span};
use crate::calendar::{LocalEnd, Weekdays, WeeklyRule, WorkingHours, windows};

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Amsterdam",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
];

const SECOND: Micros = 1_000_000;
const MINUTE: Micros = 60 * SECOND;
const HOUR: Micros = 60 * MINUTE;
const DAY_SECONDS: i32 = 86_400;

fn timestamp(t: Micros) -> Timestamp {
    Timestamp::from_microsecond(t).expect("a test instant in range")
}

/// A rule from seconds of the day: start in `0..86400`, end in
/// `start+1..=86400` (86400 being 24:00).
fn rule(mask: u8, start: i32, end: i32) -> WeeklyRule {
    let days: Weekdays = (0..7)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| Weekday::from_monday_zero_offset(bit).expect("0..7"))
        .collect();
    let time = |s: i32| {
        Time::new((s / 3600) as i8, (s / 60 % 60) as i8, (s % 60) as i8, 0)
            .expect("a second of the day")
    };
    let end = if end == DAY_SECONDS {
        LocalEnd::EndOfDay
    } else {
        LocalEnd::At(time(end))
    };
    WeeklyRule::new(days, time(start), end).expect("a valid rule")
}

/// Rules as (day mask, start second, end second).
fn rule_parts() -> impl Strategy<Value = (u8, i32, i32)> {
    let start = prop_oneof![
        // Whole minutes anywhere in the day.
        3 => (0..1440i32).prop_map(|m| m * 60),
        // At night, where DST changes happen, to the second.
        3 => 0..5 * 3600i32,
        1 => Just(0),
    ];
    let length = prop_oneof![
        3 => (1..=1440i32).prop_map(|m| m * 60),
        3 => 1..=3 * 3600i32,
        1 => Just(DAY_SECONDS),
    ];
    (1..128u8, start, length)
        .prop_map(|(mask, start, length)| (mask, start, (start + length).min(DAY_SECONDS)))
}

#[derive(Debug, Clone)]
struct Case {
    zone: usize,
    /// Days after 2020-01-01 (up to the end of 2030).
    day: i32,
    /// Move the day onto the zone's next DST change.
    on_change: bool,
    /// Offset of `within.start` from the UTC midnight before the day, and
    /// its length, in minutes.
    start: i64,
    length: i64,
    rules: Vec<(u8, i32, i32)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..ZONES.len(),
        0..4018i32,
        any::<bool>(),
        0..2880i64,
        prop_oneof![3 => 1..4 * 1440i64, 1 => 1..180i64],
        prop::collection::vec(rule_parts(), 1..4),
    )
        .prop_map(|(zone, day, on_change, start, length, rules)| Case {
            zone,
            day,
            on_change,
            start,
            length,
            rules,
        })
}

/// The instant showing local `reading`, by the oracle's own rule (see the
/// module docs).
fn compatible(tz: &TimeZone, reading: DateTime) -> Micros {
    let naive = reading
        .to_zoned(TimeZone::UTC)
        .expect("a reading in range")
        .timestamp()
        .as_microsecond();
    // Offsets stay within ±14h, so every instant showing `reading` is
    // within 15 hours of `naive`; sample the offsets in force there.
    let mut offsets: Vec<Micros> = (-60..=60)
        .map(|k| {
            let offset = tz.to_offset(timestamp(naive + k * 15 * MINUTE));
            i64::from(offset.seconds()) * SECOND
        })
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    let offset_at = |t: Micros| i64::from(tz.to_offset(timestamp(t)).seconds()) * SECOND;
    let real = offsets
        .iter()
        .map(|&o| naive - o)
        .filter(|&t| offset_at(t) == naive - t)
        .min();
    // In a gap, the earlier (smaller) offset puts the reading after it.
    real.unwrap_or_else(|| offsets.iter().map(|&o| naive - o).max().expect("an offset"))
}

/// Windows by the definition, with dates two days past each end of the
/// range and a plain sort-and-merge.
fn expected_windows(rules: &[WeeklyRule], tz: &TimeZone, within: Span) -> Vec<Span> {
    let date_of = |t: Micros| tz.to_datetime(timestamp(t)).date();
    let days = |d: Date, n: i64| {
        d.checked_add(SignedDuration::from_hours(24 * n))
            .expect("in range")
    };
    let mut found: Vec<Span> = Vec::new();
    let mut day = days(date_of(within.start), -2);
    let last = days(date_of(within.end), 2);
    while day <= last {
        for rule in rules.iter().filter(|r| r.days().contains(day.weekday())) {
            let start = compatible(tz, day.to_datetime(rule.start()));
            let end = match rule.end() {
                LocalEnd::At(time) => compatible(tz, day.to_datetime(time)),
                LocalEnd::EndOfDay => compatible(tz, days(day, 1).to_datetime(Time::midnight())),
            };
            let (start, end) = (start.max(within.start), end.min(within.end));
            if start < end {
                found.push(Span { start, end });
            }
        }
        day = days(day, 1);
    }
    found.sort_unstable();
    let mut merged: Vec<Span> = Vec::new();
    for span in found {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Whether the zone changes offset within `margin` of `t`.
fn near_change(tz: &TimeZone, t: Micros, margin: Micros) -> bool {
    tz.following(timestamp(t - margin))
        .next()
        .is_some_and(|change| change.timestamp().as_microsecond() <= t + margin)
}

/// Whether the local reading `at` is inside some rule on its weekday.
fn reading_inside(rules: &[WeeklyRule], at: DateTime) -> bool {
    rules.iter().any(|r| {
        r.days().contains(at.weekday())
            && r.start() <= at.time()
            && match r.end() {
                LocalEnd::At(end) => at.time() < end,
                LocalEnd::EndOfDay => true,
            }
    })
}

impl Case {
    fn tz(&self) -> TimeZone {
        TimeZone::get(ZONES[self.zone]).expect("a known zone")
    }

    /// The UTC midnight the range is measured from.
    fn anchor(&self, tz: &TimeZone) -> Micros {
        let day = date(2020, 1, 1)
            .checked_add(SignedDuration::from_hours(24 * i64::from(self.day)))
            .expect("in range");
        let mut t = day
            .to_datetime(Time::midnight())
            .to_zoned(TimeZone::UTC)
            .expect("in range")
            .timestamp()
            .as_microsecond();
        if self.on_change
            && let Some(change) = tz.following(timestamp(t)).next()
        {
            t = change.timestamp().as_microsecond();
            t -= t.rem_euclid(24 * HOUR);
        }
        t - 24 * HOUR
    }

    fn within(&self, tz: &TimeZone) -> Span {
        let start = self.anchor(tz) + self.start * MINUTE;
        Span {
            start,
            end: start + self.length * MINUTE,
        }
    }

    fn rules(&self) -> Vec<WeeklyRule> {
        self.rules
            .iter()
            .map(|&(mask, start, end)| rule(mask, start, end))
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn windows_match_oracle(case in case()) {
        let tz = case.tz();
        let within = case.within(&tz);
        let rules = case.rules();
        let hours = WorkingHours::new(rules.clone());
        let found = windows(&hours, &tz, within);

        prop_assert_eq!(&found, &expected_windows(&rules, &tz, within));

        let reading = |t: Micros| tz.to_datetime(timestamp(t));
        for window in &found {
            prop_assert!(within.start <= window.start && window.end <= within.end);
            // Each boundary is a rule's start or end on a day it names, or
            // the compatible shift of one next to a DST change.
            if window.start != within.start && !near_change(&tz, window.start, 3 * HOUR) {
                let at = reading(window.start);
                prop_assert!(
                    rules.iter().any(|r| r.days().contains(at.weekday()) && r.start() == at.time()),
                    "window {:?} starts at {} local", window, at
                );
            }
            if window.end != within.end && !near_change(&tz, window.end, 3 * HOUR) {
                let at = reading(window.end);
                let yesterday = at.date().yesterday().expect("in range").weekday();
                prop_assert!(
                    rules.iter().any(|r| match r.end() {
                        LocalEnd::At(end) => r.days().contains(at.weekday()) && end == at.time(),
                        LocalEnd::EndOfDay => r.days().contains(yesterday) && at.time() == Time::midnight(),
                    }),
                    "window {:?} ends at {} local", window, at
                );
            }
        }

        // Away from DST changes, membership is the local reading's.
        let mut t = within.start;
        while t < within.end {
            if !near_change(&tz, t, 3 * HOUR) {
                let covered = found.iter().any(|w| w.contains(t));
                prop_assert_eq!(
                    covered,
                    reading_inside(&rules, reading(t)),
                    "instant {} (local {})", timestamp(t), reading(t)
                );
            }
            t += 7 * MINUTE + SECOND;
        }
    }
}
