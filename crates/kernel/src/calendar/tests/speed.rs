//! A timing check for the common-slot search at the size the service
//! expects at most: run it with
//! `cargo test -p allot-kernel --release -- --ignored --nocapture common_slot_speed`.

use jiff::tz::TimeZone;

use crate::booking::{Micros, Span};
use crate::calendar::{
    Participant, WeeklyRule, WorkingHours, earliest_common_slot, refusal, windows,
};
use crate::test_support::{Rng, median};

const MINUTE: Micros = 60_000_000;
const HOUR: Micros = 60 * MINUTE;
const DAY: Micros = 24 * HOUR;

#[test]
#[ignore = "a timing check; run in release with --ignored --nocapture"]
fn common_slot_speed() {
    // 2 March 2026 00:00 UTC, 30 days, weekdays 08:00-18:00 in three zones.
    let origin: Micros = 1_772_409_600 * 1_000_000;
    let range = Span {
        start: origin,
        end: origin + 30 * DAY,
    };
    let office = WorkingHours::new(vec![
        WeeklyRule::parse(["mon", "tue", "wed", "thu", "fri"], "08:00", "18:00")
            .expect("a valid rule"),
    ]);
    let zones = ["Europe/Amsterdam", "Europe/London", "Europe/Berlin"];
    let (window_time, windows_of) = median(200, || {
        zones
            .iter()
            .map(|name| windows(&office, &TimeZone::get(name).expect("a known zone"), range))
            .collect::<Vec<_>>()
    });

    let mut rng = Rng(0x5EED);
    // 1,000 events of 5 to 30 minutes each, anywhere in the 30 days, for
    // 10 people: so dense that no common hour exists, and the search must
    // walk the whole range.
    let dense: Vec<Vec<Span>> = (0..10)
        .map(|_| {
            (0..1000)
                .map(|_| {
                    let start = origin + rng.below(30 * DAY);
                    Span {
                        start,
                        end: start + 5 * MINUTE + rng.below(25 * MINUTE),
                    }
                })
                .collect()
        })
        .collect();
    // The same, with every event in the last week's Thursday morning
    // removed: the one free hour is late in the range.
    let free = Span {
        start: origin + 24 * DAY + 8 * HOUR,
        end: origin + 24 * DAY + 11 * HOUR,
    };
    let late: Vec<Vec<Span>> = dense
        .iter()
        .map(|busy| {
            busy.iter()
                .copied()
                .filter(|b| !b.overlaps(&free))
                .collect()
        })
        .collect();
    // The same with the first Monday morning free: the slot comes at once,
    // so this is mostly the cost of building the timeline.
    let early_free = Span {
        start: origin + 8 * HOUR,
        end: origin + 11 * HOUR,
    };
    let early: Vec<Vec<Span>> = dense
        .iter()
        .map(|busy| {
            busy.iter()
                .copied()
                .filter(|b| !b.overlaps(&early_free))
                .collect()
        })
        .collect();
    // As the service will likely load them: each list sorted by start.
    let sorted: Vec<Vec<Span>> = dense
        .iter()
        .map(|busy| {
            let mut busy = busy.clone();
            busy.sort_unstable();
            busy
        })
        .collect();

    let blocked = [Span {
        start: origin + 3 * DAY,
        end: origin + 4 * DAY,
    }];
    for (name, busy) in [
        ("dense", &dense),
        ("dense, sorted", &sorted),
        ("late", &late),
        ("early", &early),
    ] {
        let people: Vec<Participant> = busy
            .iter()
            .enumerate()
            .map(|(i, busy)| Participant {
                busy,
                windows: &windows_of[i % zones.len()],
                blocked: &blocked,
            })
            .collect();
        let spans: usize = busy.iter().map(Vec::len).sum();
        let (time, slot) = median(200, || {
            earliest_common_slot(&people, HOUR, range, Some((0, 5 * MINUTE)))
        });
        println!(
            "{name}: {spans} busy spans, 10 participants: earliest_common_slot {time:?} (median of 200) -> {slot:?}"
        );
        if let Some(slot) = slot {
            assert_eq!(refusal(&people, slot), None);
        }
        match name {
            "late" => assert!(slot.is_some_and(|s| s.start >= free.start && s.end <= free.end)),
            "early" => {
                assert!(
                    slot.is_some_and(|s| s.start >= early_free.start && s.end <= early_free.end)
                )
            }
            _ => assert_eq!(slot, None),
        }
    }
    println!("windows for 3 zones over 30 days: {window_time:?} (median of 200)");
}
