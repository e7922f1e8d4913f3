//! [`check`], [`earliest_fit`], [`slots`] and [`free_segments`] against
//! the per-instant oracle: capacity 0, 1 and more, overlapping and
//! inverted blocked spans, allowed windows (touching, nested, none),
//! grids with positive, negative and extreme origins and steps, durations
//! longer than the search window, and domains at both ends of `i64`.

use proptest::prelude::*;

use super::oracle::{Coverage, aligned};
use super::timeline_props::{LAST, base, offsets};
use crate::booking::{
    FitRules, Micros, Span, Timeline, admits, check, earliest_fit, free_segments, slots,
};

#[derive(Debug, Clone, Copy)]
enum Origin {
    Offset(i64),
    Min,
    Max,
}

#[derive(Debug, Clone)]
struct Scenario {
    base: Micros,
    spans: Vec<(i64, i64)>,
    capacity: u32,
    blocked: Vec<(i64, i64)>,
    allowed: Option<Vec<(i64, i64)>>,
    align: Option<(Origin, i64)>,
    duration: i64,
    within: (i64, i64),
    limit: usize,
    candidates: Vec<(i64, i64)>,
}

/// Mostly proper spans, sometimes empty or inverted ones.
fn any_span(longest: i64) -> impl Strategy<Value = (i64, i64)> {
    prop_oneof![
        6 => (0..LAST, 1..=longest).prop_map(|(s, len)| (s, (s + len).min(LAST))),
        1 => (0..=LAST, 0..=LAST),
    ]
}

fn align() -> impl Strategy<Value = Option<(Origin, i64)>> {
    prop_oneof![
        3 => Just(None),
        3 => (-30..30i64, 1..8i64).prop_map(|(o, step)| Some((Origin::Offset(o), step))),
        1 => (-30..30i64, -8..0i64).prop_map(|(o, step)| Some((Origin::Offset(o), step))),
        1 => (0..=LAST).prop_map(|o| Some((Origin::Offset(o), 0))),
        1 => (prop_oneof![Just(Origin::Min), Just(Origin::Max)], 2..8i64)
            .prop_map(|(o, step)| Some((o, step))),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let duration = prop_oneof![
        8 => 1..=20i64,
        1 => 30..=90i64,
        1 => -3..=0i64,
        1 => Just(i64::MAX),
    ];
    let capacity = prop_oneof![1 => Just(0u32), 4 => Just(1u32), 4 => 2..4u32];
    (
        base(),
        prop::collection::vec(offsets(), 0..25),
        capacity,
        prop::collection::vec(any_span(15), 0..4),
        prop::option::weighted(0.5, prop::collection::vec(any_span(40), 0..4)),
        align(),
        duration,
        (0..LAST, 1..=LAST).prop_map(|(a, len)| (a, (a + len).min(LAST))),
        0..6usize,
        prop::collection::vec(any_span(20), 1..30),
    )
        .prop_map(
            |(
                base,
                spans,
                capacity,
                blocked,
                allowed,
                align,
                duration,
                within,
                limit,
                candidates,
            )| {
                Scenario {
                    base,
                    spans,
                    capacity,
                    blocked,
                    allowed,
                    align,
                    duration,
                    within,
                    limit,
                    candidates,
                }
            },
        )
}

impl Scenario {
    fn span(&self, (s, e): (i64, i64)) -> Span {
        Span {
            start: self.base + s,
            end: self.base + e,
        }
    }

    fn spans(&self, offsets: &[(i64, i64)]) -> Vec<Span> {
        offsets.iter().map(|&o| self.span(o)).collect()
    }

    fn align(&self) -> Option<(Micros, Micros)> {
        self.align.map(|(origin, step)| {
            let origin = match origin {
                Origin::Offset(o) => self.base.saturating_add(o),
                Origin::Min => i64::MIN,
                Origin::Max => i64::MAX,
            };
            (origin, step)
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fit_functions_match_oracle(s in scenario()) {
        let held = s.spans(&s.spans);
        let blocked = s.spans(&s.blocked);
        let allowed = s.allowed.as_ref().map(|a| s.spans(a));
        let rules = FitRules {
            capacity: s.capacity,
            blocked: &blocked,
            allowed: allowed.as_deref(),
            align: s.align(),
        };
        let timeline = Timeline::from_spans(held.iter().copied());
        let oracle = Coverage::new(&held, s.base, LAST);

        for &candidate in &s.candidates {
            let span = s.span(candidate);
            let expected = oracle.check(&rules, span);
            prop_assert_eq!(check(&timeline, &rules, span), expected, "check {:?}", span);
            prop_assert_eq!(admits(&timeline, &rules, span), expected.is_ok());
        }

        let within = s.span(s.within);
        let fit = earliest_fit(&timeline, &rules, s.duration, within);
        prop_assert_eq!(fit, oracle.earliest_fit(&rules, s.duration, within));
        if let Some(start) = fit {
            // Whatever search offers, validation accepts.
            let slot = Span { start, end: start + s.duration };
            prop_assert!(admits(&timeline, &rules, slot));
            prop_assert!(aligned(rules.align, start));
        }

        let found = slots(&timeline, &rules, s.duration, within, s.limit);
        prop_assert_eq!(&found, &oracle.slots(&rules, s.duration, within, s.limit));
        prop_assert!(found.len() <= s.limit);
        prop_assert!(found.iter().all(|&slot| admits(&timeline, &rules, slot)));

        for range in [within, s.span((0, LAST))] {
            prop_assert_eq!(
                free_segments(&timeline, &rules, range),
                oracle.free_segments(&rules, range),
                "free_segments {:?}", range
            );
        }
    }
}
