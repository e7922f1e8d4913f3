//! Sets of instants as span lists: union and intersection.
//!
//! Results are always in canonical form: sorted, every span non-empty, and
//! consecutive spans separated by at least one instant (overlapping and
//! touching spans are merged). Two canonical lists are equal exactly when
//! they cover the same instants, and "is this span inside the set" is
//! "is it inside one span of the list", which is what the booking kernel's
//! `allowed` windows test.

use std::borrow::Cow;

use crate::booking::Span;

/// The instants covered by any of `spans`, in canonical form.
///
/// Takes spans in any order, overlapping or not; empty and inverted spans
/// cover nothing and are dropped. Touching spans merge, so `[8h, 12h)` and
/// `[12h, 17h)` become `[8h, 17h)`: a meeting across noon is inside
/// working hours made of a morning and an afternoon rule. O(n log n), and
/// O(n) for input that is already sorted.
pub fn union(spans: &[Span]) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.iter().copied().filter(|s| !s.is_empty()).collect();
    // By start alone: merging takes the furthest end anyway, and an
    // integer key sorts faster than the whole span.
    sorted.sort_unstable_by_key(|s| s.start);
    merge_sorted(sorted)
}

/// The instants covered by both `a` and `b`, in canonical form.
///
/// Meant for sorted, non-overlapping inputs (such as [`union`]'s or
/// [`super::windows`]' output), which cost O(n + m). Any other input is
/// first put in canonical form with [`union`], so the result is right for
/// every input, only slower.
pub fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let a = canonical(a);
    let b = canonical(b);
    let mut found = Vec::new();
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        let start = x.start.max(y.start);
        let end = x.end.min(y.end);
        if start < end {
            found.push(Span { start, end });
        }
        // The span ending first cannot meet anything later in the other
        // list, whose spans all start after the current one ends.
        if x.end <= y.end {
            i += 1;
        } else {
            j += 1;
        }
    }
    // Pieces of canonical inputs never touch (an instant on both sides of
    // a shared boundary would be in one span of each input), but merging
    // keeps the promise without relying on that argument.
    merge_sorted(found)
}

/// Sorted spans with overlapping and touching ones merged.
fn merge_sorted(sorted: Vec<Span>) -> Vec<Span> {
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// `spans` itself if already canonical, else its [`union`].
pub(super) fn canonical(spans: &[Span]) -> Cow<'_, [Span]> {
    let ordered = spans.iter().all(|s| !s.is_empty())
        && spans.windows(2).all(|pair| match pair {
            [a, b] => a.end < b.start,
            _ => true,
        });
    if ordered {
        Cow::Borrowed(spans)
    } else {
        Cow::Owned(union(spans))
    }
}
