//! [`Timeline`] against the per-instant oracle, after every operation of
//! random interleaved inserts and removes, at several places on the time
//! line including both ends of `i64`.

use proptest::prelude::*;

use super::oracle::Coverage;
use crate::booking::{Micros, Span, Timeline};

/// The last offset of the test domain; spans end by then.
pub(super) const LAST: i64 = 85;

/// Where the domain sits: ordinary times and both ends of `i64`.
pub(super) fn base() -> impl Strategy<Value = Micros> {
    prop_oneof![
        Just(0),
        Just(-1_000_000),
        Just(i64::MIN),
        Just(i64::MAX - LAST),
    ]
}

/// An offset span `[start, start + len)` ending by `LAST`.
pub(super) fn offsets() -> impl Strategy<Value = (i64, i64)> {
    (0..70i64, 1..=15i64).prop_map(|(start, len)| (start, start + len))
}

#[derive(Debug, Clone)]
enum Op {
    Insert(i64, i64),
    /// Start and end drawn independently, so often empty or inverted.
    InsertRaw(i64, i64),
    /// Usually a span that is not held.
    Remove(i64, i64),
    /// The held span at this index (modulo the number held).
    RemoveHeld(usize),
    /// Replace the timeline with `from_spans` of what it holds.
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => offsets().prop_map(|(s, e)| Op::Insert(s, e)),
        1 => (0..=LAST, 0..=LAST).prop_map(|(s, e)| Op::InsertRaw(s, e)),
        2 => offsets().prop_map(|(s, e)| Op::Remove(s, e)),
        3 => any::<usize>().prop_map(Op::RemoveHeld),
        1 => Just(Op::Rebuild),
    ]
}

/// A query range inside the domain, and a level.
fn query() -> impl Strategy<Value = (i64, i64, u32)> {
    (0..LAST, 1..=LAST, 0..5u32).prop_map(|(a, len, level)| (a, (a + len).min(LAST), level))
}

fn at(base: Micros, s: i64, e: i64) -> Span {
    Span {
        start: base + s,
        end: base + e,
    }
}

/// Compares every query on `timeline` with the oracle for `held`.
fn agree(timeline: &Timeline, held: &[Span], base: Micros, queries: &[(i64, i64, u32)]) {
    timeline.assert_invariants();
    let oracle = Coverage::new(held, base, LAST);
    assert_eq!(timeline.len(), held.len());
    assert_eq!(timeline.is_empty(), held.is_empty());
    for offset in 0..=LAST {
        assert_eq!(
            timeline.count_at(base + offset),
            oracle.count(base + offset)
        );
    }
    let whole = at(base, 0, LAST);
    assert_eq!(timeline.segments(whole), oracle.segments(whole));
    for &(a, b, level) in queries {
        let range = at(base, a, b);
        assert_eq!(
            timeline.max_over(range),
            oracle.max_over(range),
            "max_over {range:?}"
        );
        assert_eq!(
            timeline.segments(range),
            oracle.segments(range),
            "segments {range:?}"
        );
        for level in [level, level + 1, 0] {
            assert_eq!(
                timeline.first_at_least(range, level),
                oracle.first_at_least(range, level),
                "first_at_least {range:?} {level}"
            );
            assert_eq!(
                timeline.first_below(range.start, level),
                oracle.first_below(range.start, level),
                "first_below {} {level}",
                range.start
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn timeline_matches_oracle_after_every_operation(
        base in base(),
        ops in prop::collection::vec(op(), 0..40),
        queries in prop::collection::vec(query(), 1..5),
    ) {
        let mut timeline = Timeline::new();
        let mut held: Vec<Span> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(s, e) | Op::InsertRaw(s, e) => {
                    let span = at(base, s, e);
                    timeline.insert(span);
                    if s < e {
                        held.push(span);
                    }
                }
                Op::Remove(s, e) => {
                    let span = at(base, s, e);
                    let position = held.iter().position(|&h| h == span);
                    prop_assert_eq!(timeline.remove(span), position.is_some());
                    if let Some(i) = position {
                        held.swap_remove(i);
                    }
                }
                Op::RemoveHeld(i) => {
                    if !held.is_empty() {
                        let span = held.swap_remove(i % held.len());
                        prop_assert!(timeline.remove(span));
                    }
                }
                Op::Rebuild => {
                    timeline = Timeline::from_spans(held.iter().rev().copied());
                }
            }
            agree(&timeline, &held, base, &queries);
        }
    }

    /// Queries reaching past the domain, to the ends of `i64`, never panic
    /// and agree with the oracle where it can answer.
    #[test]
    fn queries_at_the_ends_of_time(
        spans in prop::collection::vec(offsets(), 0..25),
        level in 0..4u32,
    ) {
        for base in [i64::MIN, i64::MAX - LAST] {
            let held: Vec<Span> = spans.iter().map(|&(s, e)| at(base, s, e)).collect();
            let timeline = Timeline::from_spans(held.iter().copied());
            let oracle = Coverage::new(&held, base, LAST);
            let everything = Span { start: i64::MIN, end: i64::MAX };
            let top = oracle.max_over(at(base, 0, LAST));
            prop_assert_eq!(timeline.max_over(everything), top);
            prop_assert_eq!(timeline.count_at(i64::MIN), oracle.count(i64::MIN));
            prop_assert_eq!(timeline.count_at(i64::MAX), 0);
            let first = if level == 0 {
                Some(i64::MIN)
            } else {
                oracle.first_at_least(at(base, 0, LAST), level)
            };
            prop_assert_eq!(timeline.first_at_least(everything, level), first);
            let below = if level == 0 {
                None
            } else if oracle.count(i64::MIN) < level {
                Some(i64::MIN)
            } else {
                oracle.first_below(i64::MIN, level)
            };
            prop_assert_eq!(timeline.first_below(i64::MIN, level), below);
            let segments = timeline.segments(everything);
            prop_assert_eq!(segments.first().map(|p| p.0), Some(i64::MIN));
            prop_assert_eq!(segments.last().map(|p| p.1), Some(i64::MAX));
            prop_assert!(segments.windows(2).all(|w| w[0].1 == w[1].0 && w[0].2 != w[1].2));
        }
    }
}
