//! [`union`] and [`intersect`] against the per-instant oracle, with
//! unsorted, overlapping, touching, empty and inverted input, at both ends
//! of `i64`.

use proptest::prelude::*;

use super::oracle::{covers, runs};
use crate::booking::{Micros, Span};
use crate::calendar::{intersect, union};

/// The last offset of the test domain; spans end by then.
const LAST: i64 = 60;

fn base() -> impl Strategy<Value = Micros> {
    prop_oneof![Just(0), Just(-1_000), Just(i64::MIN), Just(i64::MAX - LAST),]
}

/// Mostly proper spans, sometimes empty or inverted ones.
fn offsets() -> impl Strategy<Value = (i64, i64)> {
    prop_oneof![
        6 => (0..LAST, 1..=20i64).prop_map(|(s, len)| (s, (s + len).min(LAST))),
        1 => (0..=LAST, 0..=LAST),
    ]
}

fn spans(base: Micros, offsets: &[(i64, i64)]) -> Vec<Span> {
    offsets
        .iter()
        .map(|&(s, e)| Span {
            start: base + s,
            end: base + e,
        })
        .collect()
}

/// Sorted, non-empty, and separated by at least one instant.
fn is_canonical(spans: &[Span]) -> bool {
    spans.iter().all(|s| s.start < s.end) && spans.windows(2).all(|p| p[0].end < p[1].start)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn union_and_intersect_match_oracle(
        base in base(),
        a in prop::collection::vec(offsets(), 0..8),
        b in prop::collection::vec(offsets(), 0..8),
    ) {
        let a = spans(base, &a);
        let b = spans(base, &b);
        let domain = |inside: &dyn Fn(Micros) -> bool| runs(base, base + LAST, inside);

        let united = union(&a);
        prop_assert_eq!(&united, &domain(&|t| covers(&a, t)));
        prop_assert!(is_canonical(&united));
        prop_assert_eq!(union(&united), united.clone(), "union is idempotent");

        let both = domain(&|t| covers(&a, t) && covers(&b, t));
        // Arbitrary input, and the canonical input intersect is meant for.
        prop_assert_eq!(&intersect(&a, &b), &both);
        prop_assert_eq!(&intersect(&united, &union(&b)), &both);
        prop_assert_eq!(&intersect(&b, &a), &both);
        prop_assert!(is_canonical(&both));
        prop_assert_eq!(intersect(&united, &united), united.clone());
        prop_assert_eq!(intersect(&a, &[]), vec![]);
    }
}
