//! [`earliest_common_slot`], [`common_slots`], [`refusal`], [`conflict`],
//! [`outside_windows`] and [`within_windows`] against an oracle that
//! checks every participant directly at every instant of a small domain:
//! one to four participants, random busy, window and blocked spans
//! (touching, nested, empty, inverted, none at all), grids of every kind,
//! and domains at both ends of `i64`.

use proptest::prelude::*;

use super::oracle::{aligned, covers};
use crate::booking::{Micros, Span};
use crate::calendar::{
    Participant, SlotReason, SlotRefusal, common_slots, conflict, earliest_common_slot,
    outside_windows, refusal, within_windows,
};

/// The last offset of the test domain; spans end by then.
const LAST: i64 = 200;

#[derive(Debug, Clone)]
struct Person {
    busy: Vec<(i64, i64)>,
    windows: Vec<(i64, i64)>,
    blocked: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, Copy)]
enum Origin {
    Offset(i64),
    Min,
    Max,
}

#[derive(Debug, Clone)]
struct Scenario {
    base: Micros,
    people: Vec<Person>,
    duration: i64,
    within: (i64, i64),
    align: Option<(Origin, i64)>,
    limit: usize,
    candidates: Vec<(i64, i64)>,
}

/// Mostly proper spans up to `longest` long, sometimes empty or inverted.
fn any_span(longest: i64) -> impl Strategy<Value = (i64, i64)> {
    prop_oneof![
        8 => (0..LAST, 1..=longest).prop_map(|(s, len)| (s, (s + len).min(LAST))),
        1 => (0..=LAST, 0..=LAST),
    ]
}

fn person() -> impl Strategy<Value = Person> {
    let windows = prop_oneof![
        6 => prop::collection::vec(any_span(90), 0..5),
        // Touching windows, as rules 08:00-12:00 and 12:00-17:00 give.
        2 => (0..LAST, 1..60i64, 1..60i64)
            .prop_map(|(s, a, b)| vec![(s, (s + a).min(LAST)), ((s + a).min(LAST), (s + a + b).min(LAST))]),
        1 => Just(vec![(0, LAST)]),
    ];
    (
        prop::collection::vec(any_span(25), 0..10),
        windows,
        prop::collection::vec(any_span(20), 0..3),
    )
        .prop_map(|(busy, windows, blocked)| Person {
            busy,
            windows,
            blocked,
        })
}

fn align() -> impl Strategy<Value = Option<(Origin, i64)>> {
    prop_oneof![
        3 => Just(None),
        3 => (-30..30i64, 1..12i64).prop_map(|(o, step)| Some((Origin::Offset(o), step))),
        1 => (-30..30i64, -8..0i64).prop_map(|(o, step)| Some((Origin::Offset(o), step))),
        1 => (0..=LAST).prop_map(|o| Some((Origin::Offset(o), 0))),
        1 => (prop_oneof![Just(Origin::Min), Just(Origin::Max)], 2..8i64)
            .prop_map(|(o, step)| Some((o, step))),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let base = prop_oneof![
        Just(0),
        Just(-1_000_000),
        Just(i64::MIN),
        Just(i64::MAX - LAST),
    ];
    let duration = prop_oneof![
        10 => 1..=20i64,
        1 => 30..=120i64,
        1 => -3..=0i64,
        1 => Just(i64::MAX),
    ];
    let within = prop_oneof![
        4 => (0..LAST, 1..=LAST).prop_map(|(a, len)| (a, (a + len).min(LAST))),
        1 => Just((0, LAST)),
        1 => (0..=LAST, 0..=LAST),
    ];
    (
        base,
        prop::collection::vec(person(), 1..=4),
        duration,
        within,
        align(),
        0..8usize,
        prop::collection::vec(any_span(30), 1..20),
    )
        .prop_map(
            |(base, people, duration, within, align, limit, candidates)| Scenario {
                base,
                people,
                duration,
                within,
                align,
                limit,
                candidates,
            },
        )
}

/// One participant in absolute times.
struct Calendar {
    busy: Vec<Span>,
    windows: Vec<Span>,
    blocked: Vec<Span>,
}

impl Calendar {
    fn participant(&self) -> Participant<'_> {
        Participant {
            busy: &self.busy,
            windows: &self.windows,
            blocked: &self.blocked,
        }
    }

    /// Every instant of `span` is in some window, so `span` lies inside
    /// one merged window; an empty span lies inside none.
    fn inside_windows(&self, span: Span) -> bool {
        span.start < span.end && (span.start..span.end).all(|t| covers(&self.windows, t))
    }

    /// The earliest-starting (then earliest-ending) blocked span sharing an
    /// instant with `span`.
    fn blocker(&self, span: Span) -> Option<Span> {
        self.blocked
            .iter()
            .filter(|b| (span.start..span.end).any(|t| b.start <= t && t < b.end))
            .min()
            .copied()
    }

    /// The first instant of `span` some busy span covers.
    fn busy_at(&self, span: Span) -> Option<Micros> {
        (span.start..span.end).find(|&t| covers(&self.busy, t))
    }

    fn suits(&self, span: Span) -> bool {
        self.inside_windows(span) && self.blocker(span).is_none() && self.busy_at(span).is_none()
    }
}

struct Oracle {
    people: Vec<Calendar>,
}

impl Oracle {
    /// The refusal with the lowest reason rank, then the lowest index;
    /// `windows: false` skips the working-hours test (and refuses nothing
    /// for an empty span).
    fn refusal(&self, span: Span, windows: bool) -> Option<SlotRefusal> {
        let at = |participant, reason| {
            Some(SlotRefusal {
                participant,
                reason,
            })
        };
        if windows && let Some(i) = self.people.iter().position(|p| !p.inside_windows(span)) {
            return at(i, SlotReason::OutsideWindows);
        }
        for (i, p) in self.people.iter().enumerate() {
            if let Some(blocker) = p.blocker(span) {
                return at(i, SlotReason::Blocked { blocker });
            }
        }
        for (i, p) in self.people.iter().enumerate() {
            if let Some(at_instant) = p.busy_at(span) {
                return at(i, SlotReason::Busy { at: at_instant });
            }
        }
        None
    }

    fn earliest(
        &self,
        duration: i64,
        within: Span,
        align: Option<(Micros, Micros)>,
    ) -> Option<Span> {
        if duration <= 0 {
            return None;
        }
        (within.start..within.end).find_map(|t| {
            let end = t.checked_add(duration).filter(|&end| end <= within.end)?;
            let slot = Span { start: t, end };
            (aligned(align, t) && self.people.iter().all(|p| p.suits(slot))).then_some(slot)
        })
    }

    fn slots(
        &self,
        duration: i64,
        within: Span,
        align: Option<(Micros, Micros)>,
        limit: usize,
    ) -> Vec<Span> {
        let mut found = Vec::new();
        let mut from = within.start;
        while found.len() < limit && from < within.end {
            let rest = Span {
                start: from,
                end: within.end,
            };
            let Some(slot) = self.earliest(duration, rest, align) else {
                break;
            };
            found.push(slot);
            from = slot.end;
        }
        found
    }
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

    fn calendars(&self) -> Vec<Calendar> {
        self.people
            .iter()
            .map(|p| Calendar {
                busy: self.spans(&p.busy),
                windows: self.spans(&p.windows),
                blocked: self.spans(&p.blocked),
            })
            .collect()
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
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn common_search_matches_oracle(s in scenario()) {
        let oracle = Oracle { people: s.calendars() };
        let participants: Vec<Participant> =
            oracle.people.iter().map(Calendar::participant).collect();
        let within = s.span(s.within);
        let align = s.align();

        let found = earliest_common_slot(&participants, s.duration, within, align);
        prop_assert_eq!(found, oracle.earliest(s.duration, within, align));
        if let Some(slot) = found {
            // Whatever search offers, explicit placement accepts.
            prop_assert_eq!(refusal(&participants, slot), None);
            prop_assert_eq!(conflict(&participants, slot), None);
            prop_assert!(outside_windows(&participants, slot).is_empty());
        }

        let offered = common_slots(&participants, s.duration, within, align, s.limit);
        prop_assert_eq!(&offered, &oracle.slots(s.duration, within, align, s.limit));
        prop_assert!(offered.iter().all(|&slot| refusal(&participants, slot).is_none()));

        let candidates = s.spans(&s.candidates);
        for &span in candidates.iter().chain([within].iter()) {
            let expected = oracle.refusal(span, true);
            let got = refusal(&participants, span);
            prop_assert_eq!(got.is_some(), expected.is_some(), "refusal {:?}", span);
            prop_assert_eq!(got, expected, "refusal {:?}", span);

            let expected = if span.start < span.end { oracle.refusal(span, false) } else { None };
            prop_assert_eq!(conflict(&participants, span), expected, "conflict {:?}", span);

            let outside: Vec<usize> = (0..oracle.people.len())
                .filter(|&i| !oracle.people[i].inside_windows(span))
                .collect();
            prop_assert_eq!(outside_windows(&participants, span), outside.clone());
            for (i, p) in oracle.people.iter().enumerate() {
                prop_assert_eq!(
                    within_windows(&p.windows, span),
                    !outside.contains(&i)
                );
            }
        }
    }
}
