//! Plain examples that document the behaviour callers rely on: the text
//! form and its errors, windows across DST changes, clipping and merging,
//! and refusals.

use jiff::Timestamp;
use jiff::civil::{Time, Weekday, date};
use jiff::tz::TimeZone;

use crate::booking::{Micros, Span};
use crate::calendar::{
    HoursError, LocalEnd, MAX_WINDOW_DAYS, Participant, RawRule, RuleError, SlotReason,
    SlotRefusal, Weekdays, WeeklyRule, WorkingHours, common_slots, conflict, earliest_common_slot,
    intersect, outside_windows, refusal, union, windows, within_windows,
};

const HOUR: Micros = 3_600_000_000;
const MINUTE: Micros = 60_000_000;

fn span(start: i64, end: i64) -> Span {
    Span::new(start, end).expect("a non-empty span literal")
}

/// The instant of a UTC reading.
fn utc(year: i16, month: i8, day: i8, hour: i8, minute: i8) -> Micros {
    date(year, month, day)
        .at(hour, minute, 0, 0)
        .to_zoned(TimeZone::UTC)
        .expect("a valid UTC reading")
        .timestamp()
        .as_microsecond()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("a known zone")
}

fn rule(days: &[&str], start: &str, end: &str) -> WeeklyRule {
    WeeklyRule::parse(days.iter().copied(), start, end).expect("a valid rule")
}

fn hours(rules: &[(&[&str], &str, &str)]) -> WorkingHours {
    WorkingHours::new(
        rules
            .iter()
            .map(|&(days, start, end)| rule(days, start, end))
            .collect(),
    )
}

const EVERY_DAY: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[test]
fn day_names_are_short_or_full_in_any_case() {
    let days = Weekdays::parse(["Mon", "TUESDAY", "wed", "Sunday", "sun"]).expect("valid days");
    assert_eq!(
        days.iter().collect::<Vec<_>>(),
        vec![
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Sunday
        ]
    );
    for bad in ["tues", "mo", "", " mon", "lundi", "monday,"] {
        assert_eq!(
            Weekdays::parse([bad]),
            Err(RuleError::UnknownDay(bad.to_string()))
        );
    }
}

#[test]
fn rule_errors_are_typed() {
    let parse =
        |days: &[&str], start: &str, end: &str| WeeklyRule::parse(days.iter().copied(), start, end);
    assert_eq!(
        parse(&["mon", "mun"], "08:00", "17:00"),
        Err(RuleError::UnknownDay("mun".into()))
    );
    for bad in [
        "25:00",
        "8am",
        "8:00",
        "08:0",
        "08:60",
        "08:00:60",
        "",
        "08",
        "08:00:00:00",
        "08-00",
        "+8:00",
        "24:00",
        "24:00:00",
        "0８:00",
    ] {
        assert_eq!(
            parse(&["mon"], bad, "23:00"),
            Err(RuleError::BadTime(bad.into())),
            "start {bad:?}"
        );
    }
    for bad in ["24:01", "24:00:01", "25:00", "5pm"] {
        assert_eq!(
            parse(&["mon"], "08:00", bad),
            Err(RuleError::BadTime(bad.into())),
            "end {bad:?}"
        );
    }
    assert_eq!(
        parse(&["mon"], "17:00", "08:00"),
        Err(RuleError::EndNotAfterStart {
            start: "17:00".into(),
            end: "08:00".into()
        })
    );
    assert_eq!(
        parse(&["mon"], "08:00:30", "08:00:30"),
        Err(RuleError::EndNotAfterStart {
            start: "08:00:30".into(),
            end: "08:00:30".into()
        })
    );
    assert_eq!(
        parse(&["mon"], "00:00", "00:00"),
        Err(RuleError::EndNotAfterStart {
            start: "00:00".into(),
            end: "00:00".into()
        })
    );
    assert_eq!(parse(&[], "08:00", "17:00"), Err(RuleError::NoDays));

    // Checked constructors refuse the same things, and fractions of a
    // second, which the text form could not write back.
    let monday = Weekdays::none().with(Weekday::Monday);
    let eight = Time::constant(8, 0, 0, 0);
    assert_eq!(
        WeeklyRule::new(Weekdays::none(), eight, LocalEnd::EndOfDay),
        Err(RuleError::NoDays)
    );
    assert!(matches!(
        WeeklyRule::new(monday, Time::constant(8, 0, 0, 1), LocalEnd::EndOfDay),
        Err(RuleError::BadTime(_))
    ));
    assert_eq!(
        WeeklyRule::new(monday, eight, LocalEnd::At(eight)),
        Err(RuleError::EndNotAfterStart {
            start: "08:00".into(),
            end: "08:00".into()
        })
    );
    let whole = WeeklyRule::new(monday, Time::midnight(), LocalEnd::EndOfDay).expect("valid");
    assert_eq!(whole.start(), Time::midnight());
    assert_eq!(whole.end(), LocalEnd::EndOfDay);
    assert_eq!(whole.days(), monday);
}

#[test]
fn messages_say_what_to_write() {
    let raw = vec![
        RawRule {
            days: vec!["mon".into()],
            start: "08:00".into(),
            end: "17:00".into(),
        },
        RawRule {
            days: vec!["tue".into()],
            start: "8am".into(),
            end: "17:00".into(),
        },
    ];
    let error = WorkingHours::parse(&raw).expect_err("the second rule is bad");
    assert_eq!(
        error,
        HoursError {
            rule: 1,
            error: RuleError::BadTime("8am".into())
        }
    );
    let message = error.to_string();
    assert!(
        message.starts_with("working hours rule 1: bad time \"8am\""),
        "{message}"
    );
    assert!(message.contains("HH:MM"), "{message}");
}

#[test]
fn json_round_trips_to_canonical_strings() {
    let input = r#"[
        {"days": ["Tuesday", "MON", "mon"], "start": "08:00:00", "end": "12:00"},
        {"days": ["sat"], "start": "09:15:30", "end": "24:00:00"}
    ]"#;
    let hours: WorkingHours = serde_json::from_str(input).expect("valid hours");
    let canonical = serde_json::to_string(&hours).expect("serializes");
    assert_eq!(
        canonical,
        r#"[{"days":["mon","tue"],"start":"08:00","end":"12:00"},{"days":["sat"],"start":"09:15:30","end":"24:00"}]"#
    );
    let again: WorkingHours = serde_json::from_str(&canonical).expect("canonical parses");
    assert_eq!(again, hours);
    assert_eq!(
        serde_json::to_string(&again).expect("serializes"),
        canonical
    );

    let all_day = serde_json::to_string(&WorkingHours::all_day()).expect("serializes");
    assert_eq!(
        all_day,
        r#"[{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00"}]"#
    );
    assert_eq!(
        serde_json::from_str::<WorkingHours>(&all_day).expect("parses"),
        WorkingHours::all_day()
    );

    // An empty list is valid and means "never".
    let never: WorkingHours = serde_json::from_str("[]").expect("parses");
    assert!(never.rules().is_empty());
    assert_ne!(never, WorkingHours::all_day());

    for bad in [
        r#"[{"days": ["mon"], "start": "08:00", "end": "17:00", "zone": "UTC"}]"#,
        r#"[{"days": ["mon"], "start": "08:00"}]"#,
        r#"[{"days": [], "start": "08:00", "end": "17:00"}]"#,
        r#"[{"days": ["mon"], "start": "18:00", "end": "17:00"}]"#,
        r#"{"days": ["mon"], "start": "08:00", "end": "17:00"}"#,
    ] {
        assert!(serde_json::from_str::<WorkingHours>(bad).is_err(), "{bad}");
    }
    let error = serde_json::from_str::<WorkingHours>(
        r#"[{"days": ["mon"], "start": "08:00", "end": "17:00"}, {"days": ["xyz"], "start": "08:00", "end": "17:00"}]"#,
    )
    .expect_err("an unknown day");
    assert!(
        error.to_string().contains("rule 1: unknown day \"xyz\""),
        "{error}"
    );

    let one: WeeklyRule =
        serde_json::from_str(r#"{"days": ["fri"], "start": "22:00", "end": "24:00"}"#)
            .expect("a rule");
    assert_eq!(one, rule(&["friday"], "22:00", "24:00"));
}

/// 08:00-17:00 every day, on the DST change dates of two zones.
#[test]
fn office_hours_last_nine_hours_on_dst_days() {
    let office = hours(&[(EVERY_DAY, "08:00", "17:00")]);
    let cases = [
        // Amsterdam: CET (+1) to CEST (+2) on 29 March, back on 25 October.
        ("Europe/Amsterdam", (2026, 3, 29), 6),
        ("Europe/Amsterdam", (2026, 10, 25), 7),
        ("Europe/Amsterdam", (2026, 3, 28), 7),
        ("Europe/Amsterdam", (2026, 3, 30), 6),
        // New York: EST (-5) to EDT (-4) on 8 March, back on 1 November.
        ("America/New_York", (2026, 3, 8), 12),
        ("America/New_York", (2026, 11, 1), 13),
    ];
    for (name, (y, m, d), start_hour) in cases {
        let tz = zone(name);
        let day = span(utc(y, m, d, 0, 0), utc(y, m, d, 23, 59));
        let found = windows(&office, &tz, day);
        let expected = span(utc(y, m, d, start_hour, 0), utc(y, m, d, start_hour + 9, 0));
        assert_eq!(found, vec![expected], "{name} {y}-{m}-{d}");
        assert_eq!(expected.len(), 9 * HOUR);
    }
}

#[test]
fn all_day_is_one_window_of_23_or_25_hours_on_dst_days() {
    let tz = zone("Europe/Amsterdam");
    let wide = span(utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
    let sundays = hours(&[(&["sun"], "00:00", "24:00")]);
    let found = windows(&sundays, &tz, wide);
    let spring = span(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0));
    let autumn = span(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0));
    assert!(found.contains(&spring), "{found:?}");
    assert!(found.contains(&autumn), "{found:?}");
    assert_eq!(spring.len(), 23 * HOUR);
    assert_eq!(autumn.len(), 25 * HOUR);
    assert!(
        found
            .iter()
            .all(|w| [23 * HOUR, 24 * HOUR, 25 * HOUR].contains(&w.len()))
    );

    // Every day, all day: one window across every midnight and both
    // changes.
    assert_eq!(windows(&WorkingHours::all_day(), &tz, wide), vec![wide]);
    let ny = zone("America/New_York");
    assert_eq!(windows(&WorkingHours::all_day(), &ny, wide), vec![wide]);
}

#[test]
fn gaps_shift_forward_and_folds_take_the_earlier_instant() {
    let tz = zone("Europe/Amsterdam");
    let day = |y, m, d| span(utc(y, m, d - 1, 12, 0), utc(y, m, d, 12, 0));
    // 29 March 2026: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    let gap = hours(&[(&["sun"], "02:30", "04:00")]);
    assert_eq!(
        windows(&gap, &tz, day(2026, 3, 29)),
        vec![span(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 0))],
        "02:30 becomes 03:30 CEST"
    );
    // 02:15 becomes 03:15 CEST, after 03:00 CEST: nothing is left.
    let inside_out = hours(&[(&["sun"], "02:15", "03:00")]);
    assert_eq!(windows(&inside_out, &tz, day(2026, 3, 29)), vec![]);
    // An end in the gap moves forward too.
    let ends_in_gap = hours(&[(&["sun"], "01:00", "02:30")]);
    assert_eq!(
        windows(&ends_in_gap, &tz, day(2026, 3, 29)),
        vec![span(utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 30))]
    );
    // 25 October 2026: 03:00 CEST goes back to 02:00 CET (01:00 UTC); the
    // first 02:30 is CEST.
    let fold = hours(&[(&["sun"], "02:30", "04:00")]);
    assert_eq!(
        windows(&fold, &tz, day(2026, 10, 25)),
        vec![span(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3, 0))]
    );
    // Lord Howe moves by half an hour, at 02:00 local.
    let lord_howe = zone("Australia/Lord_Howe");
    let early = hours(&[(EVERY_DAY, "01:00", "03:00")]);
    // 5 April 2026: 02:00 +11 goes back to 01:30 +10:30 (15:00 UTC on the
    // 4th), so 01:00-03:00 lasts two and a half hours.
    let found = windows(&early, &lord_howe, day(2026, 4, 5));
    assert_eq!(
        found,
        vec![span(utc(2026, 4, 4, 14, 0), utc(2026, 4, 4, 16, 30))]
    );
}

#[test]
fn windows_are_clipped_to_the_range() {
    let tz = TimeZone::UTC;
    let office = hours(&[(&["mon", "tue", "wed", "thu", "fri"], "08:00", "17:00")]);
    // Monday 2 March 2026, from 10:00 to Tuesday 09:00.
    let within = span(utc(2026, 3, 2, 10, 0), utc(2026, 3, 3, 9, 0));
    assert_eq!(
        windows(&office, &tz, within),
        vec![
            span(utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 17, 0)),
            span(utc(2026, 3, 3, 8, 0), utc(2026, 3, 3, 9, 0)),
        ]
    );
    // Saturday and Sunday: nothing.
    let weekend = span(utc(2026, 3, 7, 0, 0), utc(2026, 3, 9, 0, 0));
    assert_eq!(windows(&office, &tz, weekend), vec![]);
    // An empty or inverted range, or hours that never apply: nothing.
    let inverted = Span {
        start: within.end,
        end: within.start,
    };
    assert_eq!(windows(&office, &tz, inverted), vec![]);
    assert_eq!(windows(&WorkingHours::new(vec![]), &tz, within), vec![]);
    // A range ending exactly at a window's start does not include it.
    let until_eight = span(utc(2026, 3, 3, 0, 0), utc(2026, 3, 3, 8, 0));
    assert_eq!(windows(&office, &tz, until_eight), vec![]);
}

#[test]
fn touching_and_overlapping_windows_merge() {
    let tz = zone("Europe/Amsterdam");
    let monday = span(utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0));
    let split = hours(&[(&["mon"], "08:00", "12:00"), (&["mon"], "12:00", "17:00")]);
    assert_eq!(
        windows(&split, &tz, monday),
        vec![span(utc(2026, 3, 2, 7, 0), utc(2026, 3, 2, 16, 0))]
    );
    let overlapping = hours(&[(&["mon"], "08:00", "13:00"), (&["mon"], "10:00", "11:00")]);
    assert_eq!(
        windows(&overlapping, &tz, monday),
        vec![span(utc(2026, 3, 2, 7, 0), utc(2026, 3, 2, 12, 0))]
    );
    let apart = hours(&[(&["mon"], "08:00", "12:00"), (&["mon"], "12:01", "17:00")]);
    assert_eq!(windows(&apart, &tz, monday).len(), 2);

    // A night shift: Monday 22:00 to Tuesday 06:00 is one window.
    let night = hours(&[(&["mon"], "22:00", "24:00"), (&["tue"], "00:00", "06:00")]);
    let week = span(utc(2026, 3, 2, 0, 0), utc(2026, 3, 9, 0, 0));
    assert_eq!(
        windows(&night, &tz, week),
        vec![span(utc(2026, 3, 2, 21, 0), utc(2026, 3, 3, 5, 0))]
    );
}

#[test]
fn absurd_ranges_are_bounded_and_never_panic() {
    let office = hours(&[(&["mon", "tue", "wed", "thu", "fri"], "08:00", "17:00")]);
    let everything = span(i64::MIN, i64::MAX);
    for tz in [
        TimeZone::UTC,
        zone("Pacific/Kiritimati"),
        zone("America/New_York"),
    ] {
        let found = windows(&office, &tz, everything);
        assert!(!found.is_empty() && found.len() <= MAX_WINDOW_DAYS);
        assert!(found.windows(2).all(|pair| pair[0].end < pair[1].start));
        let all = windows(&WorkingHours::all_day(), &tz, everything);
        assert_eq!(all.len(), 1);
        // Both ends of jiff's range.
        let lowest = Timestamp::MIN.as_microsecond();
        let highest = Timestamp::MAX.as_microsecond();
        for within in [
            span(i64::MIN, lowest + 3 * 24 * HOUR),
            span(highest - 3 * 24 * HOUR, i64::MAX),
            span(highest, i64::MAX),
            span(i64::MIN, lowest),
        ] {
            for window in windows(&WorkingHours::all_day(), &tz, within)
                .into_iter()
                .chain(windows(&office, &tz, within))
            {
                assert!(within.start <= window.start && window.end <= within.end);
            }
        }
    }
}

#[test]
fn union_and_intersect_work_on_canonical_lists() {
    assert_eq!(
        union(&[
            span(5, 8),
            span(0, 2),
            Span { start: 9, end: 9 },
            span(2, 3),
            span(7, 10)
        ]),
        vec![span(0, 3), span(5, 10)]
    );
    assert_eq!(union(&[]), vec![]);
    assert_eq!(
        intersect(&[span(0, 5), span(6, 10)], &[span(3, 8)]),
        vec![span(3, 5), span(6, 8)]
    );
    // Touching pieces of non-canonical input come out merged.
    assert_eq!(
        intersect(&[span(0, 5), span(5, 10)], &[span(0, 10)]),
        vec![span(0, 10)]
    );
    assert_eq!(intersect(&[span(0, 5)], &[span(5, 10)]), vec![]);
    // Unsorted input still gives the right answer.
    assert_eq!(
        intersect(&[span(6, 10), span(0, 7)], &[span(3, 8), span(9, 12)]),
        vec![span(3, 8), span(9, 10)]
    );
}

#[test]
fn earliest_common_slot_meets_everyone() {
    // Two calendars, minutes as the unit: one works 60..120 and 120..180,
    // the other 90..240; one is busy 80..110, the other has an outage
    // 140..150.
    let a = Participant {
        busy: &[span(80, 110)],
        windows: &[span(60, 120), span(120, 180)],
        blocked: &[],
    };
    let b = Participant {
        busy: &[],
        windows: &[span(90, 240)],
        blocked: &[span(140, 150)],
    };
    let within = span(0, 1000);
    assert_eq!(
        earliest_common_slot(&[a, b], 10, within, None),
        Some(span(110, 120))
    );
    assert_eq!(
        earliest_common_slot(&[a, b], 11, within, None),
        Some(span(110, 121)),
        "a slot may cross the touching windows of a"
    );
    assert_eq!(
        earliest_common_slot(&[a, b], 30, within, None),
        Some(span(110, 140))
    );
    assert_eq!(
        earliest_common_slot(&[a, b], 10, within, Some((0, 15))),
        Some(span(120, 130))
    );
    assert_eq!(earliest_common_slot(&[a, b], 31, within, None), None);
    assert_eq!(earliest_common_slot(&[a, b], 0, within, None), None);
    assert_eq!(
        earliest_common_slot(&[a, b], 10, span(0, 119), None),
        None,
        "the slot must end inside the range"
    );
    assert_eq!(
        common_slots(&[a, b], 10, within, None, 10),
        vec![
            span(110, 120),
            span(120, 130),
            span(130, 140),
            span(150, 160),
            span(160, 170),
            span(170, 180)
        ]
    );
    assert_eq!(common_slots(&[a, b], 10, within, None, 0), vec![]);
    // Nobody to please: the first grid start.
    assert_eq!(
        earliest_common_slot(&[], 10, within, Some((3, 7))),
        Some(span(3, 13))
    );
    // Somebody who never works: nothing.
    let never = Participant {
        busy: &[],
        windows: &[],
        blocked: &[],
    };
    assert_eq!(earliest_common_slot(&[a, never], 10, within, None), None);
}

#[test]
fn refusals_name_the_participant_and_the_most_permanent_reason() {
    let a = Participant {
        busy: &[span(100, 130), span(90, 110)],
        windows: &[span(60, 180)],
        blocked: &[],
    };
    let b = Participant {
        busy: &[],
        windows: &[span(0, 120)],
        blocked: &[span(140, 150), span(95, 200)],
    };
    let at = |participant, reason| {
        Some(SlotRefusal {
            participant,
            reason,
        })
    };
    assert_eq!(refusal(&[a, b], span(60, 80)), None);
    assert_eq!(
        refusal(&[a, b], span(100, 125)),
        at(1, SlotReason::OutsideWindows),
        "b's working hours come before a's events and b's outage"
    );
    assert_eq!(
        refusal(&[a, b], span(100, 110)),
        at(
            1,
            SlotReason::Blocked {
                blocker: span(95, 200)
            }
        )
    );
    assert_eq!(
        refusal(&[a, b], span(85, 95)),
        at(0, SlotReason::Busy { at: 90 })
    );
    assert_eq!(
        refusal(&[a, b], Span { start: 70, end: 70 }),
        at(0, SlotReason::OutsideWindows)
    );
    // Explicit placement: outside working hours is not a conflict...
    assert_eq!(
        conflict(&[a, b], span(40, 50)),
        None,
        "outside a's hours only"
    );
    assert_eq!(outside_windows(&[a, b], span(40, 50)), vec![0]);
    assert_eq!(outside_windows(&[a, b], span(150, 170)), vec![1]);
    assert_eq!(outside_windows(&[a, b], span(150, 200)), vec![0, 1]);
    assert_eq!(outside_windows(&[a, b], span(60, 70)), Vec::<usize>::new());
    // ...but events and outages are.
    assert_eq!(
        conflict(&[a, b], span(120, 160)),
        at(
            1,
            SlotReason::Blocked {
                blocker: span(95, 200)
            }
        )
    );
    assert_eq!(
        conflict(&[a, b], span(80, 92)),
        at(0, SlotReason::Busy { at: 90 })
    );
    assert_eq!(conflict(&[a, b], Span { start: 92, end: 92 }), None);
    assert_eq!(refusal(&[], span(0, 10)), None);

    assert!(within_windows(&[span(0, 5), span(5, 10)], span(3, 8)));
    assert!(!within_windows(&[span(0, 5), span(6, 10)], span(3, 8)));
    assert!(!within_windows(&[span(0, 10)], Span { start: 3, end: 3 }));
    assert!(!within_windows(&[], span(3, 4)));
}

#[test]
fn working_hours_feed_a_common_search() {
    // Two offices, Amsterdam and New York, 09:00-17:00 on weekdays: the
    // overlap on Monday 2 March 2026 is 14:00-16:00 UTC, and New York has a
    // meeting 09:00-10:00 local (14:00-15:00 UTC).
    let office = hours(&[(&["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00")]);
    let range = span(utc(2026, 3, 2, 0, 0), utc(2026, 3, 9, 0, 0));
    let ams = windows(&office, &zone("Europe/Amsterdam"), range);
    let nyc = windows(&office, &zone("America/New_York"), range);
    let busy = [span(utc(2026, 3, 2, 14, 0), utc(2026, 3, 2, 15, 0))];
    let people = [
        Participant {
            busy: &[],
            windows: &ams,
            blocked: &[],
        },
        Participant {
            busy: &busy,
            windows: &nyc,
            blocked: &[],
        },
    ];
    let slot = earliest_common_slot(&people, HOUR, range, Some((0, 5 * MINUTE)));
    assert_eq!(
        slot,
        Some(span(utc(2026, 3, 2, 15, 0), utc(2026, 3, 2, 16, 0)))
    );
    let slot = earliest_common_slot(&people, 2 * HOUR, range, Some((0, 5 * MINUTE)));
    assert_eq!(
        slot,
        Some(span(utc(2026, 3, 3, 14, 0), utc(2026, 3, 3, 16, 0)))
    );
    // The offices never share three hours that week.
    assert_eq!(earliest_common_slot(&people, 3 * HOUR, range, None), None);
}
