//! 100k random bookings against a simple O(n) sweep at sample ranges: the
//! tree stays right (and fast) far beyond what the oracle tests reach.

use crate::booking::{FitRules, Micros, Span, Timeline, admits, earliest_fit};
use crate::test_support::Rng;

const HORIZON: i64 = 1_000_000_000;

fn random_span(rng: &mut Rng) -> Span {
    let start = rng.below(HORIZON);
    let len = 1 + rng.below(2_000_000);
    Span {
        start,
        end: start + len,
    }
}

/// Count at `t` by looking at every span.
fn sweep_count(spans: &[Span], t: Micros) -> u32 {
    spans.iter().filter(|s| s.contains(t)).count() as u32
}

/// Most spans at once over `range`: the count at the start, then the
/// changes inside the range in time order.
fn sweep_max(spans: &[Span], range: Span) -> u32 {
    let mut level = sweep_count(spans, range.start) as i64;
    let mut changes: Vec<(Micros, i64)> = Vec::new();
    for s in spans {
        if range.start < s.start && s.start < range.end {
            changes.push((s.start, 1));
        }
        if range.start < s.end && s.end < range.end {
            changes.push((s.end, -1));
        }
    }
    changes.sort_unstable();
    let mut best = level;
    for (_, delta) in changes {
        level += delta;
        best = best.max(level);
    }
    best as u32
}

/// Net change of the count at each instant where it changes, in order.
fn change_points(spans: &[Span]) -> Vec<(Micros, i64)> {
    let mut events: Vec<(Micros, i64)> = spans
        .iter()
        .flat_map(|s| [(s.start, 1), (s.end, -1)])
        .collect();
    events.sort_unstable();
    let mut points: Vec<(Micros, i64)> = Vec::new();
    for (t, delta) in events {
        match points.last_mut() {
            Some(last) if last.0 == t => last.1 += delta,
            _ => points.push((t, delta)),
        }
    }
    points.retain(|&(_, delta)| delta != 0);
    points
}

fn agree(timeline: &Timeline, spans: &[Span], rng: &mut Rng) {
    assert_eq!(timeline.len(), spans.len());
    for _ in 0..8 {
        let t = rng.below(HORIZON + 4_000_000) - 1_000_000;
        assert_eq!(timeline.count_at(t), sweep_count(spans, t));
        let range = Span {
            start: t,
            end: t + 1 + rng.below(5_000_000),
        };
        let top = sweep_max(spans, range);
        assert_eq!(timeline.max_over(range), top);
        assert_eq!(timeline.first_at_least(range, top + 1), None);
        let at = timeline
            .first_at_least(range, top)
            .expect("the maximum is reached");
        assert_eq!(sweep_count(spans, at), top);
    }
}

#[test]
fn hundred_thousand_spans_agree_with_a_sweep() {
    let mut rng = Rng(0x5EED);
    let mut spans: Vec<Span> = (0..100_000).map(|_| random_span(&mut rng)).collect();
    let mut timeline = Timeline::from_spans(spans.iter().copied());
    agree(&timeline, &spans, &mut rng);

    // Churn one booking in five: cancel it (and try to cancel one that was
    // never booked), book a new one elsewhere.
    for i in (0..spans.len()).step_by(5) {
        let old = spans[i];
        assert!(timeline.remove(old));
        assert!(!timeline.remove(Span {
            start: old.start,
            end: old.end + HORIZON,
        }));
        let new = random_span(&mut rng);
        timeline.insert(new);
        spans[i] = new;
    }
    agree(&timeline, &spans, &mut rng);
    // The tree is still balanced with the right sums, and holds exactly the
    // net change at every instant where some span starts or ends.
    assert_eq!(timeline.assert_tree_invariants(), change_points(&spans));
    let probe = Span {
        start: 0,
        end: HORIZON / 10,
    };

    // Search lands on an admitted slot whose start cannot move earlier.
    let capacity = timeline.max_over(probe).saturating_sub(3).max(1);
    let rules = FitRules::with_capacity(capacity);
    let duration = 100_000;
    let start = earliest_fit(&timeline, &rules, duration, probe).expect("a fit exists");
    let slot = Span {
        start,
        end: start + duration,
    };
    assert!(admits(&timeline, &rules, slot));
    if start > 0 {
        let earlier = Span {
            start: start - 1,
            end: start - 1 + duration,
        };
        assert!(!admits(&timeline, &rules, earlier));
    }
}
