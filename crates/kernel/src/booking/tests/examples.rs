//! Plain examples that document the behaviour callers rely on.

use crate::booking::{
    FitRules, Refusal, Span, Timeline, admits, check, earliest_fit, free_segments, slots,
};

fn span(start: i64, end: i64) -> Span {
    Span::new(start, end).expect("a non-empty span literal")
}

#[test]
fn spans_are_half_open() {
    assert_eq!(Span::new(5, 5), None);
    assert_eq!(Span::new(6, 5), None);
    let s = span(0, 10);
    assert!(s.contains(0) && s.contains(9) && !s.contains(10));
    assert_eq!(s.len(), 10);
    assert!(!s.is_empty());
    assert!(
        !s.overlaps(&span(10, 20)),
        "touching spans share no instant"
    );
    assert!(s.overlaps(&span(9, 20)));
    assert!(
        span(i64::MIN, i64::MAX).len() == i64::MAX,
        "length saturates"
    );
    let inverted = Span { start: 5, end: 3 };
    assert!(inverted.is_empty());
    assert_eq!(inverted.len(), 0);
    assert!(!inverted.overlaps(&span(0, 10)) && !span(0, 10).overlaps(&inverted));
}

#[test]
fn back_to_back_spans_fit_on_capacity_one() {
    let rules = FitRules::with_capacity(1);
    let mut timeline = Timeline::new();
    assert!(admits(&timeline, &rules, span(0, 10)));
    timeline.insert(span(0, 10));
    assert!(admits(&timeline, &rules, span(10, 20)));
    timeline.insert(span(10, 20));
    assert_eq!(
        check(&timeline, &rules, span(5, 15)),
        Err(Refusal::Full { at: 5 })
    );
    assert_eq!(
        timeline.segments(span(-5, 25)),
        vec![(-5, 0, 0), (0, 20, 1), (20, 25, 0)]
    );
}

#[test]
fn removing_a_span_that_is_not_held_changes_nothing() {
    let mut timeline = Timeline::from_spans([span(0, 10), span(0, 10)]);
    assert_eq!(timeline.len(), 2);
    assert!(!timeline.remove(span(0, 9)));
    assert_eq!(timeline.count_at(5), 2);
    assert!(timeline.remove(span(0, 10)));
    assert!(timeline.remove(span(0, 10)));
    assert!(!timeline.remove(span(0, 10)));
    assert!(timeline.is_empty());
    assert_eq!(timeline.count_at(5), 0);
}

#[test]
fn step_function_queries() {
    // Three bookings: [0,10), [5,15), [5,8).
    let timeline = Timeline::from_spans([span(0, 10), span(5, 15), span(5, 8)]);
    assert_eq!(timeline.count_at(4), 1);
    assert_eq!(timeline.count_at(5), 3);
    assert_eq!(timeline.count_at(8), 2);
    assert_eq!(timeline.max_over(span(0, 5)), 1);
    assert_eq!(timeline.max_over(span(0, 6)), 3);
    assert_eq!(timeline.first_at_least(span(0, 20), 2), Some(5));
    assert_eq!(timeline.first_at_least(span(8, 20), 3), None);
    assert_eq!(timeline.first_below(5, 3), Some(8));
    assert_eq!(timeline.first_below(5, 1), Some(15));
    assert_eq!(timeline.first_below(5, 0), None, "no count is below 0");
}

#[test]
fn refusals_come_in_a_fixed_order() {
    let timeline = Timeline::from_spans([span(0, 100)]);
    let blocked = [span(40, 60), span(30, 50), span(30, 45)];
    let allowed = [span(0, 50), span(50, 100)];
    let rules = FitRules {
        capacity: 1,
        blocked: &blocked,
        allowed: Some(&allowed),
        align: None,
    };
    // Straddles two touching windows: inside neither, so not allowed.
    assert_eq!(
        check(&timeline, &rules, span(45, 55)),
        Err(Refusal::NotAllowed)
    );
    // Allowed but blocked: the earliest-starting blocker, shortest on ties.
    assert_eq!(
        check(&timeline, &rules, span(35, 50)),
        Err(Refusal::Blocked {
            blocker: span(30, 45)
        })
    );
    // Allowed, not blocked, but the system is full.
    assert_eq!(
        check(&timeline, &rules, span(10, 20)),
        Err(Refusal::Full { at: 10 })
    );
    // Alignment is for search only: an off-grid span is still admitted.
    let grid = FitRules {
        align: Some((0, 15)),
        ..FitRules::with_capacity(2)
    };
    assert!(admits(&timeline, &grid, span(7, 8)));
    // Capacity 0 admits nothing.
    assert_eq!(
        check(&Timeline::new(), &FitRules::with_capacity(0), span(3, 4)),
        Err(Refusal::Full { at: 3 })
    );
}

#[test]
fn search_jumps_to_the_earliest_aligned_fit() {
    // Working hours 9-17 on two days (in hours), a lunch outage, one desk
    // busy 9-12 on day one, and half-hour slots on a grid from midnight.
    let h = 60;
    let day = 24 * h;
    let timeline = Timeline::from_spans([span(9 * h, 12 * h)]);
    let allowed = [span(9 * h, 17 * h), span(day + 9 * h, day + 17 * h)];
    let blocked = [span(12 * h, 13 * h)];
    let rules = FitRules {
        capacity: 1,
        blocked: &blocked,
        allowed: Some(&allowed),
        align: Some((0, 30)),
    };
    let week = span(0, 7 * day);
    assert_eq!(earliest_fit(&timeline, &rules, 90, week), Some(13 * h));
    // Four hours fit only from 13:00; five only on day two.
    assert_eq!(earliest_fit(&timeline, &rules, 4 * h, week), Some(13 * h));
    assert_eq!(
        earliest_fit(&timeline, &rules, 5 * h, week),
        Some(day + 9 * h)
    );
    assert_eq!(earliest_fit(&timeline, &rules, 9 * h, week), None);
    // A duration longer than the window never fits.
    assert_eq!(
        earliest_fit(&timeline, &rules, 30, span(13 * h, 13 * h + 29)),
        None
    );
    assert_eq!(
        slots(&timeline, &rules, 2 * h, week, 4),
        vec![
            span(13 * h, 15 * h),
            span(15 * h, 17 * h),
            span(day + 9 * h, day + 11 * h),
            span(day + 11 * h, day + 13 * h),
        ]
    );
}

#[test]
fn free_segments_show_outages_and_closed_hours_as_zero() {
    let timeline = Timeline::from_spans([span(2, 4), span(3, 6)]);
    let blocked = [span(7, 8)];
    let allowed = [span(0, 5), span(5, 9)];
    let rules = FitRules {
        capacity: 2,
        blocked: &blocked,
        allowed: Some(&allowed),
        align: None,
    };
    assert_eq!(
        free_segments(&timeline, &rules, span(-1, 10)),
        vec![
            (-1, 0, 0),
            (0, 2, 2),
            (2, 3, 1),
            (3, 4, 0),
            (4, 6, 1),
            (6, 7, 2),
            (7, 8, 0),
            (8, 9, 2),
            (9, 10, 0),
        ]
    );
}

#[test]
fn extreme_times_do_not_panic() {
    let all = span(i64::MIN, i64::MAX);
    let mut timeline = Timeline::from_spans([all, span(i64::MAX - 1, i64::MAX)]);
    timeline.insert(span(i64::MIN, i64::MIN + 1));
    assert_eq!(timeline.count_at(i64::MIN), 2);
    assert_eq!(timeline.count_at(i64::MAX - 1), 2);
    assert_eq!(timeline.count_at(i64::MAX), 0);
    assert_eq!(timeline.max_over(all), 2);
    assert_eq!(timeline.first_below(i64::MIN, 2), Some(i64::MIN + 1));
    assert_eq!(timeline.first_below(i64::MIN, 1), Some(i64::MAX));
    let rules = FitRules {
        capacity: 2,
        blocked: &[],
        allowed: None,
        align: Some((i64::MAX, 7)),
    };
    // Both ends are full; a span of length i64::MAX fits between them, and
    // the grid from i64::MAX by 7 reaches i64::MIN + 1 (2^64 - 2 is a
    // multiple of 7).
    let fit = earliest_fit(&timeline, &rules, i64::MAX, all);
    assert_eq!(fit, Some(i64::MIN + 1));
    // From 0, the only start of that length covers the full instant
    // i64::MAX - 1.
    assert_eq!(
        earliest_fit(&timeline, &rules, i64::MAX, span(0, i64::MAX)),
        None
    );
    let last = earliest_fit(&timeline, &FitRules::with_capacity(3), 1, all);
    assert_eq!(last, Some(i64::MIN));
    assert_eq!(slots(&timeline, &rules, 1, all, 2).len(), 2);
    assert_eq!(
        free_segments(&timeline, &rules, all),
        vec![
            (i64::MIN, i64::MIN + 1, 0),
            (i64::MIN + 1, i64::MAX - 1, 1),
            (i64::MAX - 1, i64::MAX, 0),
        ]
    );
    let inverted = Span { start: 10, end: 0 };
    timeline.insert(inverted);
    assert_eq!(timeline.len(), 3, "inverted spans are not held");
    assert!(!timeline.remove(inverted));
    assert_eq!(timeline.max_over(inverted), 0);
    assert!(timeline.segments(inverted).is_empty());
    assert_eq!(check(&timeline, &rules, inverted), Err(Refusal::NotAllowed));
    assert_eq!(earliest_fit(&timeline, &rules, 5, inverted), None);
}

#[test]
fn spans_serialize_as_fields_and_refuse_inverted_input() {
    let json = serde_json::to_string(&span(1, 2)).expect("serializable");
    assert_eq!(json, r#"{"start":1,"end":2}"#);
    let back: Span = serde_json::from_str(&json).expect("a valid span");
    assert_eq!(back, span(1, 2));
    assert!(serde_json::from_str::<Span>(r#"{"start":2,"end":2}"#).is_err());
    assert!(serde_json::from_str::<Span>(r#"{"start":3,"end":2}"#).is_err());
}
