use super::*;
use proptest::prelude::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp literal")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn plus(t: Timestamp, millis: i64) -> Timestamp {
    t + SignedDuration::from_millis(millis)
}

#[test]
fn intervals_are_phase_locked_to_their_anchor() {
    let anchor = ts("2026-01-01T10:00:00Z");
    let every = Schedule::every(secs(90), anchor).expect("a valid interval");
    assert_eq!(every.next_after(plus(anchor, -1_000)), Some(anchor));
    assert_eq!(every.next_after(anchor), Some(plus(anchor, 90_000)));
    assert_eq!(
        every.next_after(plus(anchor, 100_000)),
        Some(plus(anchor, 180_000))
    );
    assert_eq!(
        every.first_at_or_after(plus(anchor, 90_000)),
        Some(plus(anchor, 90_000))
    );
    assert_eq!(
        every.first_at_or_after(plus(anchor, 90_001)),
        Some(plus(anchor, 180_000))
    );
    assert_eq!(
        every.last_at_or_before(plus(anchor, 179_999)),
        Some(plus(anchor, 90_000))
    );
    assert_eq!(every.last_at_or_before(plus(anchor, -1)), None);
    // Far from the anchor the grid is still exact: no drift.
    let later = ts("2027-06-15T03:17:42.5Z");
    let next = every.next_after(later).expect("a next run");
    let since = next.duration_since(anchor).as_millis();
    assert_eq!(since % 90_000, 0);
    assert!(next > later && next.duration_since(later) <= SignedDuration::from_secs(90));
}

#[test]
fn intervals_under_a_second_are_refused() {
    let anchor = ts("2026-01-01T00:00:00Z");
    assert_eq!(
        Schedule::every(Duration::from_millis(999), anchor),
        Err(ScheduleError::IntervalTooShort)
    );
    assert_eq!(
        Schedule::every(Duration::ZERO, anchor)
            .unwrap_err()
            .to_string(),
        "interval must be at least 1s"
    );
    assert!(Schedule::every(secs(1), anchor).is_ok());
    let odd = Schedule::every(Duration::from_millis(1_500), anchor).expect("1.5s is fine");
    assert_eq!(odd.next_after(anchor), Some(plus(anchor, 1_500)));
}

#[test]
fn a_single_run() {
    let at = ts("2026-05-01T12:00:00Z");
    let once = Schedule::at(at);
    assert_eq!(once.next_after(plus(at, -1)), Some(at));
    assert_eq!(once.next_after(at), None);
    assert_eq!(once.first_at_or_after(at), Some(at));
    assert_eq!(once.last_at_or_before(at), Some(at));
    assert_eq!(once.last_at_or_before(plus(at, -1)), None);
    assert_eq!(once.due_between(at, at, 5), (vec![at], 0));
    assert_eq!(once.due_between(plus(at, 1), plus(at, 10), 5), (vec![], 0));
}

#[test]
fn a_one_second_interval_missed_for_a_year_is_counted_not_walked() {
    let anchor = ts("2025-01-01T00:00:00Z");
    let every = Schedule::every(secs(1), anchor).expect("a valid interval");
    let to = ts("2026-01-01T00:00:00Z");
    let (listed, rest) = every.due_between(anchor, to, 3);
    assert_eq!(
        listed,
        vec![anchor, plus(anchor, 1_000), plus(anchor, 2_000)]
    );
    assert_eq!(rest, 365 * 86_400 + 1 - 3);
    assert_eq!(every.count_between(anchor, to), 365 * 86_400 + 1);
    assert_eq!(
        every.latest_between(anchor, to, 2),
        vec![plus(to, -1_000), to]
    );
}

#[test]
fn cron_counting_stops_at_the_cap() {
    let every_second = Schedule::cron("* * * * * *", "UTC").expect("a valid expression");
    let from = ts("2026-01-01T00:00:00Z");
    let to = ts("2026-01-03T00:00:00Z");
    let (listed, rest) = every_second.due_between(from, to, 1);
    assert_eq!(listed, vec![from]);
    assert_eq!(rest, CRON_COUNT_CAP);
    // Going backwards does not depend on the window's length.
    assert_eq!(
        every_second.latest_between(from, to, 2),
        vec![plus(to, -1_000), to]
    );
}

#[test]
fn windows_and_listings() {
    let anchor = ts("2026-01-01T00:00:00Z");
    let every = Schedule::every(secs(10), anchor).expect("a valid interval");
    let upcoming = every.upcoming(plus(anchor, 5_000), plus(anchor, 100_000), 3);
    assert_eq!(
        upcoming,
        vec![
            plus(anchor, 10_000),
            plus(anchor, 20_000),
            plus(anchor, 30_000)
        ]
    );
    assert!(every.upcoming(anchor, plus(anchor, -1), 3).is_empty());
    assert_eq!(every.due_between(plus(anchor, 1), anchor, 3), (vec![], 0));
    assert_eq!(
        every.latest_between(plus(anchor, 5_000), plus(anchor, 35_000), 10),
        vec![
            plus(anchor, 10_000),
            plus(anchor, 20_000),
            plus(anchor, 30_000)
        ]
    );
    assert!(every.is_run_time(plus(anchor, 20_000)));
    assert!(!every.is_run_time(plus(anchor, 20_001)));
}

#[test]
fn extreme_instants_do_not_panic() {
    let every = Schedule::every(secs(3_600), Timestamp::MAX).expect("a valid interval");
    assert_eq!(every.next_after(Timestamp::MAX), None);
    assert_eq!(
        every.first_at_or_after(Timestamp::MIN),
        Some(Timestamp::MAX)
    );
    let huge = Schedule::every(Duration::MAX, Timestamp::MIN).expect("a valid interval");
    assert_eq!(huge.next_after(Timestamp::MIN), None);
    assert_eq!(huge.first_at_or_after(Timestamp::MIN), Some(Timestamp::MIN));
    assert_eq!(huge.count_between(Timestamp::MIN, Timestamp::MAX), 1);
    let once = Schedule::at(Timestamp::MIN);
    assert_eq!(once.first_at_or_after(Timestamp::MIN), Some(Timestamp::MIN));
    let cron = Schedule::cron("0 0 * * *", "UTC").expect("a valid expression");
    assert_eq!(cron.next_after(Timestamp::MAX), None);
    assert!(cron.last_at_or_before(Timestamp::MIN).is_none());
}

#[test]
fn kinds_and_accessors_describe_the_schedule() {
    let anchor = ts("2026-01-01T00:00:00Z");
    let every = Schedule::every(secs(60), anchor).expect("a valid interval");
    assert_eq!(every.kind(), "every");
    assert_eq!(every.interval(), Some(secs(60)));
    assert_eq!(every.anchor(), Some(anchor));
    assert_eq!(every.at_time(), None);

    let once = Schedule::at(anchor);
    assert_eq!(once.kind(), "at");
    assert_eq!(once.at_time(), Some(anchor));
    assert_eq!(once.cron_expr(), None);

    let cron = Schedule::cron("*/5 * * * *", "Europe/Amsterdam").expect("a valid expression");
    assert_eq!(cron.kind(), "cron");
    assert_eq!(cron.cron_expr(), Some("*/5 * * * *"));
    assert_eq!(cron.timezone(), Some("Europe/Amsterdam"));
    assert_eq!(cron.interval(), None);

    // Rebuilding from the accessors gives an equal schedule.
    let rebuilt = Schedule::cron(
        cron.cron_expr().expect("an expression"),
        cron.timezone().expect("a zone"),
    )
    .expect("a valid expression");
    assert_eq!(rebuilt, cron);
    assert_ne!(cron, every);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `due_between` on intervals against walking the grid one step at a
    /// time.
    #[test]
    fn interval_windows_match_enumeration(
        every_ms in 1_000u64..12_000,
        anchor_ms in 0i64..100_000,
        from_ms in -20_000i64..200_000,
        len_ms in -1_000i64..150_000,
        limit in 0usize..20,
    ) {
        let base = ts("2026-01-01T00:00:00Z");
        let anchor = plus(base, anchor_ms);
        let schedule = Schedule::every(Duration::from_millis(every_ms), anchor)
            .expect("at least a second");
        let from = plus(base, from_ms);
        let to = plus(from, len_ms);

        let mut expected = Vec::new();
        let mut t = anchor;
        while t <= to {
            if t >= from {
                expected.push(t);
            }
            t = plus(t, i64::try_from(every_ms).expect("small"));
        }

        let (listed, rest) = schedule.due_between(from, to, limit);
        let shown = expected.len().min(limit);
        prop_assert_eq!(&listed[..], &expected[..shown]);
        prop_assert_eq!(rest, (expected.len() - shown) as u64);
        prop_assert_eq!(schedule.count_between(from, to), expected.len() as u64);
        let tail = expected.len().saturating_sub(limit);
        prop_assert_eq!(schedule.latest_between(from, to, limit), expected[tail..].to_vec());
        if let Some(first) = expected.first() {
            prop_assert_eq!(schedule.first_at_or_after(from), Some(*first));
        }
    }
}
