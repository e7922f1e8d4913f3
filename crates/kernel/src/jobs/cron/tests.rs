use super::*;
use crate::jobs::Schedule;
use jiff::civil::date;
use jiff::tz::AmbiguousOffset;
use proptest::prelude::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp literal")
}

fn cron(expr: &str, tz: &str) -> CronSchedule {
    CronSchedule::new(expr, tz).expect("a valid cron schedule")
}

/// The first `n` runs strictly after `from`.
fn runs(schedule: &CronSchedule, from: &str, n: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut t = ts(from);
    while out.len() < n {
        let Some(next) = schedule.next_after(t) else {
            break;
        };
        out.push(next);
        t = next;
    }
    out
}

fn all(times: &[&str]) -> Vec<Timestamp> {
    times.iter().map(|t| ts(t)).collect()
}

// Europe/Amsterdam 2026: spring forward on 29 March 02:00 CET -> 03:00 CEST
// (01:00Z), fall back on 25 October 03:00 CEST -> 02:00 CET (01:00Z).

#[test]
fn utc_daily_and_minutely() {
    let daily = cron("30 2 * * *", "UTC");
    assert_eq!(
        runs(&daily, "2026-03-28T12:00:00Z", 2),
        all(&["2026-03-29T02:30:00Z", "2026-03-30T02:30:00Z"])
    );
    let every_five = cron("*/5 * * * *", "UTC");
    assert_eq!(
        runs(&every_five, "2026-01-01T00:02:30.5Z", 3),
        all(&[
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:10:00Z",
            "2026-01-01T00:15:00Z"
        ])
    );
}

#[test]
fn a_daily_time_in_the_spring_forward_gap_runs_once_right_after_the_gap() {
    let daily = cron("30 2 * * *", "Europe/Amsterdam");
    assert!(daily.is_wall_clock());
    assert_eq!(
        runs(&daily, "2026-03-28T12:00:00Z", 3),
        all(&[
            // 03:00 CEST, the first instant after the gap.
            "2026-03-29T01:00:00Z",
            // Back to 02:30, now CEST.
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z",
        ])
    );
}

#[test]
fn a_daily_time_in_the_repeated_hour_runs_once_at_its_first_occurrence() {
    let daily = cron("30 2 * * *", "Europe/Amsterdam");
    assert_eq!(
        runs(&daily, "2026-10-24T12:00:00Z", 3),
        all(&[
            // 02:30 CEST; 02:30 CET (01:30Z) does not run.
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
            "2026-10-27T01:30:00Z",
        ])
    );
}

#[test]
fn lists_and_ranges_are_wall_clock_too_unlike_croner() {
    // croner treats these as interval jobs: it drops the 02:30 run on the
    // spring-forward day and runs it twice on the fall-back day.
    let twice_daily = cron("30 2,14 * * *", "Europe/Amsterdam");
    assert!(twice_daily.is_wall_clock());
    assert_eq!(
        runs(&twice_daily, "2026-03-28T12:00:00Z", 4),
        all(&[
            "2026-03-28T13:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T12:30:00Z",
            "2026-03-30T00:30:00Z",
        ])
    );
    assert_eq!(
        runs(&twice_daily, "2026-10-24T12:00:00Z", 4),
        all(&[
            "2026-10-24T12:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T13:30:00Z",
            "2026-10-26T01:30:00Z",
        ])
    );
    // 01:00, 02:00 (once) and 03:00 on the fall-back day.
    let early_hours = cron("0 1-3 * * *", "Europe/Amsterdam");
    assert_eq!(
        runs(&early_hours, "2026-10-24T22:00:00Z", 4),
        all(&[
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-26T00:00:00Z",
        ])
    );
    // 02:00 and 02:30 both fall into the gap and share one run at 03:00,
    // which also stands for the 03:00 reading itself.
    let in_the_gap = cron("0,30 2,3 * * *", "Europe/Amsterdam");
    assert_eq!(
        runs(&in_the_gap, "2026-03-28T23:00:00Z", 3),
        all(&[
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-30T00:00:00Z",
        ])
    );
}

#[test]
fn hourly_runs_follow_elapsed_time_through_the_repeated_hour() {
    let hourly = cron("0 * * * *", "Europe/Amsterdam");
    assert!(!hourly.is_wall_clock());
    assert_eq!(
        runs(&hourly, "2026-10-24T22:30:00Z", 5),
        all(&[
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
            "2026-10-25T03:00:00Z",
        ])
    );
    // Through the gap the hourly grid simply continues: 01:00 CET, 03:00 CEST.
    assert_eq!(
        runs(&hourly, "2026-03-28T23:30:00Z", 3),
        all(&[
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z",
        ])
    );
}

#[test]
fn quarter_hourly_runs_stay_fifteen_minutes_apart_across_both_changes() {
    let quarterly = cron("*/15 * * * *", "Europe/Amsterdam");
    for start in ["2026-10-24T22:50:00Z", "2026-03-28T23:50:00Z"] {
        let times = runs(&quarterly, start, 20);
        for pair in times.windows(2) {
            assert_eq!(
                pair[1].duration_since(pair[0]),
                SignedDuration::from_mins(15),
                "{pair:?}"
            );
        }
    }
    // Eight runs during the repeated hour: four CEST, four CET.
    let (inside, _) = Schedule::Cron(quarterly).due_between(
        ts("2026-10-25T00:00:00Z"),
        ts("2026-10-25T01:59:59Z"),
        100,
    );
    assert_eq!(inside.len(), 8);
}

#[test]
fn an_hourly_minute_inside_the_gap_does_not_exist() {
    let at_five_past = cron("5 * * * *", "Europe/Amsterdam");
    assert_eq!(
        runs(&at_five_past, "2026-03-29T00:00:00Z", 2),
        all(&["2026-03-29T00:05:00Z", "2026-03-29T01:05:00Z"])
    );
}

#[test]
fn new_york_spring_forward_and_fall_back() {
    // 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT ->
    // 01:00 EST (06:00Z).
    let in_gap = cron("30 2 * * *", "America/New_York");
    assert_eq!(
        runs(&in_gap, "2026-03-07T12:00:00Z", 2),
        all(&["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
    );
    let in_fold = cron("30 1 * * *", "America/New_York");
    assert_eq!(
        runs(&in_fold, "2026-10-31T12:00:00Z", 2),
        all(&["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    );
    let half_hourly = cron("*/30 * * * *", "America/New_York");
    assert_eq!(
        runs(&half_hourly, "2026-11-01T04:50:00Z", 5),
        all(&[
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T06:30:00Z", // 01:30 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
        ])
    );
}

#[test]
fn half_hour_shifts_and_midnight_changes() {
    // Lord Howe Island moves its clock by 30 minutes: on 2026-10-04 02:00
    // becomes 02:30 (15:30Z the day before).
    let lord_howe = cron("15 2 * * *", "Australia/Lord_Howe");
    assert_eq!(
        runs(&lord_howe, "2026-10-03T00:00:00Z", 1),
        all(&["2026-10-03T15:30:00Z"])
    );
    // Santiago springs forward at midnight: on 2026-09-06 00:00 -04 becomes
    // 01:00 -03, so the daily midnight run happens at 01:00.
    let santiago = cron("0 0 * * *", "America/Santiago");
    assert_eq!(
        runs(&santiago, "2026-09-05T12:00:00Z", 2),
        all(&["2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"])
    );
}

#[test]
fn queries_from_inside_the_repeated_hour() {
    let tz = "Europe/Amsterdam";
    // 02:10 CET (01:10Z), second pass: the daily 02:30 already ran at
    // 02:30 CEST, so the next run is tomorrow.
    assert_eq!(
        cron("30 2 * * *", tz).next_after(ts("2026-10-25T01:10:00Z")),
        Some(ts("2026-10-26T01:30:00Z"))
    );
    assert_eq!(
        cron("45 2 * * *", tz).last_at_or_before(ts("2026-10-25T01:30:00Z")),
        Some(ts("2026-10-25T00:45:00Z"))
    );
    let quarterly = cron("*/15 * * * *", tz);
    // Second pass: the next CET quarter.
    assert_eq!(
        quarterly.next_after(ts("2026-10-25T01:10:00Z")),
        Some(ts("2026-10-25T01:15:00Z"))
    );
    // End of the first pass: the second pass starts again at 02:00 CET.
    assert_eq!(
        quarterly.next_after(ts("2026-10-25T00:50:00Z")),
        Some(ts("2026-10-25T01:00:00Z"))
    );
    // Start of the second pass, backwards: the last CEST quarter.
    assert_eq!(
        quarterly.last_at_or_before(ts("2026-10-25T01:05:00Z")),
        Some(ts("2026-10-25T01:00:00Z"))
    );
    assert_eq!(
        quarterly.last_at_or_before(ts("2026-10-25T00:59:59Z")),
        Some(ts("2026-10-25T00:45:00Z"))
    );
    // After the gap, the daily job's last run is the catch-up at 03:00 CEST.
    assert_eq!(
        cron("30 2 * * *", tz).last_at_or_before(ts("2026-03-29T01:10:00Z")),
        Some(ts("2026-03-29T01:00:00Z"))
    );
}

#[test]
fn six_fields_add_seconds() {
    let every_20s = cron("*/20 * * * * *", "UTC");
    assert_eq!(
        runs(&every_20s, "2026-01-01T00:00:05Z", 3),
        all(&[
            "2026-01-01T00:00:20Z",
            "2026-01-01T00:00:40Z",
            "2026-01-01T00:01:00Z"
        ])
    );
    let precise = cron("15 30 2 * * *", "Europe/Amsterdam");
    assert!(precise.is_wall_clock());
    assert_eq!(
        runs(&precise, "2026-03-28T12:00:00Z", 2),
        all(&["2026-03-29T01:00:00Z", "2026-03-30T00:30:15Z"])
    );
}

#[test]
fn invalid_expressions_are_explained() {
    let reason = |expr: &str| match CronSchedule::new(expr, "UTC") {
        Err(ScheduleError::InvalidCron { reason, .. }) => reason,
        other => panic!("{expr:?} gave {other:?}"),
    };
    assert!(
        reason("* * * *").contains("expected 5 fields"),
        "{}",
        reason("* * * *")
    );
    assert!(reason("0 0 * * * * 2030").contains("found 7"));
    assert_eq!(
        reason(""),
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, found 0"
    );
    assert!(!reason("61 * * * *").is_empty());
    assert!(!reason("*/0 * * * *").is_empty());
    assert!(
        reason("x * * * *").contains("illegal character"),
        "{}",
        reason("x * * * *")
    );
    let message = CronSchedule::new("x * * * *", "UTC")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("invalid cron expression \"x * * * *\": "),
        "{message}"
    );
}

#[test]
fn unknown_time_zones_are_refused() {
    assert_eq!(
        CronSchedule::new("0 * * * *", "Mars/Olympus_Mons"),
        Err(ScheduleError::UnknownTimeZone(
            "Mars/Olympus_Mons".to_owned()
        ))
    );
    assert!(matches!(
        CronSchedule::new("0 * * * *", ""),
        Err(ScheduleError::UnknownTimeZone(_))
    ));
}

#[test]
fn an_expression_that_never_fires_is_refused_but_a_rare_one_is_not() {
    for expr in ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"] {
        assert_eq!(
            CronSchedule::new(expr, "UTC"),
            Err(ScheduleError::NeverFires {
                expr: expr.to_owned()
            })
        );
    }
    // 29 February on a Monday (both required): decades apart, but real.
    let rare = cron("0 0 29 2 +MON", "UTC");
    let next = rare.next_after(ts("2026-01-01T00:00:00Z")).expect("a run");
    let day = next.to_zoned(TimeZone::UTC).date();
    assert_eq!((day.month(), day.day()), (2, 29));
    assert_eq!(day.weekday(), jiff::civil::Weekday::Monday);
}

#[test]
fn nicknames_identity_and_accessors() {
    let daily = cron(" @daily ", "europe/amsterdam");
    assert_eq!(daily.expr(), "@daily");
    assert_eq!(daily.timezone(), "Europe/Amsterdam");
    assert!(daily.is_wall_clock());
    assert_eq!(daily, cron("@daily", "Europe/Amsterdam"));
    assert_ne!(daily, cron("0 0 * * *", "Europe/Amsterdam"));
    assert_ne!(daily, cron("@daily", "UTC"));
    assert_eq!(
        format!("{daily:?}"),
        r#"CronSchedule { expr: "@daily", timezone: "Europe/Amsterdam", wall_clock: true }"#
    );
    assert_eq!(
        "0 * * * *".parse::<CronSchedule>(),
        Ok(cron("0 * * * *", "UTC"))
    );
}

// ---------------------------------------------------------------------------
// A brute-force oracle, written from the module docs' definition, that walks
// every minute of a window and says which instants are runs.
// ---------------------------------------------------------------------------

fn oracle(schedule: &CronSchedule, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    let tz = &schedule.tz;
    let minute = SignedDuration::from_mins(1);
    let matches = |reading: DateTime| schedule.cron.is_time_matching(&reading).unwrap_or(false);
    let mut out = Vec::new();
    let mut i = from;
    while i <= to {
        let reading = tz.to_datetime(i);
        let runs = if schedule.is_wall_clock() {
            let first_occurrence = match tz.to_ambiguous_timestamp(reading).offset() {
                AmbiguousOffset::Fold { before, .. } => {
                    before.to_timestamp(reading).ok() == Some(i)
                }
                _ => true,
            };
            // Readings skipped just before this instant (a forward jump).
            let mut skipped = tz.to_datetime(i - minute) + minute;
            let mut catch_up = false;
            while skipped < reading {
                catch_up |= matches(skipped);
                skipped += minute;
            }
            (matches(reading) && first_occurrence) || catch_up
        } else {
            matches(reading)
        };
        if runs {
            out.push(i);
        }
        i += minute;
    }
    out
}

const ZONES: &[&str] = &[
    "Europe/Amsterdam",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kolkata",
    "UTC",
];

const EXPRESSIONS: &[&str] = &[
    "30 2 * * *",
    "0 2 * * *",
    "0 3 * * *",
    "59 1 * * *",
    "0 0 * * *",
    "45 1 * * *",
    "30 2,14 * * *",
    "0 1-3 * * *",
    "*/15 * * * *",
    "0 * * * *",
    "5 * * * *",
    "*/7 2 * * *",
    "*/20 1-3 * * *",
    "0,30 * * * *",
];

/// Two-day windows around each zone's 2026 transitions (or one plain window
/// for zones without any).
fn windows(zone: &str) -> Vec<(Timestamp, Timestamp)> {
    let tz = TimeZone::get(zone).expect("a known zone");
    let year = ts("2026-01-01T00:00:00Z");
    let mut transitions: Vec<Timestamp> = tz
        .following(year)
        .take(2)
        .map(|tr| tr.timestamp())
        .collect();
    if transitions.is_empty() {
        transitions.push(ts("2026-06-01T00:00:00Z"));
    }
    transitions
        .into_iter()
        .map(|t| {
            let t = t
                .round(jiff::Unit::Minute)
                .expect("rounding a 2026 instant");
            (
                t - SignedDuration::from_hours(26),
                t + SignedDuration::from_hours(26),
            )
        })
        .collect()
}

#[test]
fn matches_the_oracle_around_every_transition() {
    for zone in ZONES {
        for expr in EXPRESSIONS {
            let schedule = cron(expr, zone);
            for (from, to) in windows(zone) {
                let expected = oracle(&schedule, from, to);
                let (found, rest) =
                    Schedule::Cron(schedule.clone()).due_between(from, to, usize::MAX);
                assert_eq!(rest, 0);
                assert_eq!(found, expected, "{expr} in {zone} from {from}");
                // Backwards gives the same runs.
                let mut backwards = Vec::new();
                let mut cursor = schedule.last_at_or_before(to);
                while let Some(t) = cursor.filter(|t| *t >= from) {
                    backwards.push(t);
                    cursor = schedule.last_at_or_before(t - SignedDuration::from_nanos(1));
                }
                backwards.reverse();
                assert_eq!(backwards, expected, "{expr} in {zone} backwards from {to}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// From any instant (with a fraction of a second), the next and previous
    /// runs are the oracle's neighbours.
    #[test]
    fn next_and_last_agree_with_the_oracle(
        zone in prop::sample::select(ZONES),
        expr in prop::sample::select(EXPRESSIONS),
        which in 0usize..2,
        offset_ms in 0i64..(40 * 3_600_000),
    ) {
        let schedule = cron(expr, zone);
        let all_windows = windows(zone);
        let (from, to) = all_windows[which % all_windows.len()];
        let expected = oracle(&schedule, from, to);
        let t = from + SignedDuration::from_hours(6) + SignedDuration::from_millis(offset_ms);
        let next = expected.iter().copied().find(|run| *run > t);
        let last = expected.iter().copied().rev().find(|run| *run <= t);
        if let Some(next) = next {
            prop_assert_eq!(schedule.next_after(t), Some(next));
        }
        if let Some(last) = last {
            prop_assert_eq!(schedule.last_at_or_before(t), Some(last));
        }
    }

    /// `due_between` for "*/N * * * *" against plain minute arithmetic in UTC.
    #[test]
    fn every_n_minutes_counts_match_enumeration(
        n in 1u32..=30,
        start_s in 0i64..86_400,
        len_s in 0i64..(3 * 86_400),
        limit in 0usize..50,
    ) {
        let schedule = Schedule::Cron(cron(&format!("*/{n} * * * *"), "UTC"));
        let base = ts("2026-05-01T00:00:00Z");
        let from = base + SignedDuration::from_secs(start_s);
        let to = from + SignedDuration::from_secs(len_s);
        let mut expected = Vec::new();
        let mut minute = from.as_second().div_euclid(60);
        while minute * 60 <= to.as_second() {
            let t = Timestamp::from_second(minute * 60).expect("a 2026 instant");
            let minute_of_hour = u32::try_from(minute.rem_euclid(60)).expect("0..60");
            if t >= from && minute_of_hour % n == 0 {
                expected.push(t);
            }
            minute += 1;
        }
        let (listed, rest) = schedule.due_between(from, to, limit);
        let shown = expected.len().min(limit);
        prop_assert_eq!(&listed[..], &expected[..shown]);
        prop_assert_eq!(rest, (expected.len() - shown) as u64);
    }
}

#[test]
fn civil_dates_in_the_oracle_helpers_are_sane() {
    // Guards the oracle itself: 02:30 on the spring-forward day is a gap.
    let tz = TimeZone::get("Europe/Amsterdam").expect("a known zone");
    let reading = date(2026, 3, 29).at(2, 30, 0, 0);
    assert!(matches!(
        tz.to_ambiguous_timestamp(reading).offset(),
        AmbiguousOffset::Gap { .. }
    ));
}

/// Pins down the croner behaviour the module docs describe, so that a croner
/// upgrade that changes it is noticed: searched with zoned times, croner
/// drops a listed time that falls in the gap and runs it twice in the fold.
#[test]
fn croner_alone_treats_lists_as_interval_jobs() {
    let tz = TimeZone::get("Europe/Amsterdam").expect("a known zone");
    let croner: Cron = "30 2,14 * * *".parse().expect("a valid pattern");
    let collect = |from: &str, n: usize| {
        let mut out = Vec::new();
        let mut cursor = ts(from).to_zoned(tz.clone());
        for _ in 0..n {
            let Ok(next) = croner.find_next_occurrence(&cursor, false) else {
                break;
            };
            out.push(next.timestamp());
            cursor = next;
        }
        out
    };
    // No run on 29 March before 14:30 CEST.
    assert_eq!(
        collect("2026-03-28T14:00:00Z", 1),
        all(&["2026-03-29T12:30:00Z"])
    );
    // 02:30 CEST and 02:30 CET on 25 October.
    assert_eq!(
        collect("2026-10-24T14:00:00Z", 2),
        all(&["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"])
    );
}
