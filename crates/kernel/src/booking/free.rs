//! Free capacity over a range: what a calendar view shades.

use super::fit::FitRules;
use super::span::{Micros, Span};
use super::timeline::Timeline;

/// Free capacity over `range` as maximal pieces (start, end, free) where
/// free = capacity.saturating_sub(count_at) and 0 inside any blocked span
/// and, if allowed is Some, 0 outside the allowed spans. Empty for an empty
/// range.
///
/// This is per instant, so unlike [`super::check`] it joins touching
/// allowed windows: an instant in any window is open. A piece with free > 0
/// therefore does not promise that a booking spanning the whole piece is
/// admitted; ask [`super::earliest_fit`] for that.
pub fn free_segments(
    timeline: &Timeline,
    rules: &FitRules,
    range: Span,
) -> Vec<(Micros, Micros, u32)> {
    let mut pieces: Vec<(Micros, Micros, u32)> = Vec::new();
    if range.is_empty() {
        return pieces;
    }
    let mut push = |start: Micros, end: Micros, free: u32| {
        if start >= end {
            return;
        }
        match pieces.last_mut() {
            Some(last) if last.1 == start && last.2 == free => last.1 = end,
            _ => pieces.push((start, end, free)),
        }
    };
    let open = open_parts(rules, range);
    let mut next_open = 0;
    for (start, end, count) in timeline.segments(range) {
        let free = rules.capacity.saturating_sub(count);
        let mut at = start;
        while let Some(part) = open.get(next_open).filter(|part| part.start < end) {
            let from = part.start.max(at);
            let to = part.end.min(end);
            push(at, from, 0);
            push(from, to, free);
            at = to;
            if part.end > end {
                // The open part continues into the next segment.
                break;
            }
            next_open += 1;
        }
        push(at, end, 0);
    }
    pieces
}

/// The parts of `range` that are allowed and not blocked, sorted and
/// disjoint.
fn open_parts(rules: &FitRules, range: Span) -> Vec<Span> {
    let allowed = match rules.allowed {
        Some(allowed) => union(allowed.iter().copied()),
        None => vec![range],
    };
    let blocked = union(rules.blocked.iter().copied());
    let mut open = Vec::new();
    let mut b = 0;
    for part in allowed {
        let mut start = part.start.max(range.start);
        let end = part.end.min(range.end);
        // Blocked spans ending at or before `start` cannot cut this part or
        // any later one.
        while blocked.get(b).is_some_and(|x| x.end <= start) {
            b += 1;
        }
        let mut cut = b;
        while start < end {
            match blocked.get(cut).filter(|x| x.start < end) {
                Some(x) => {
                    if start < x.start {
                        open.push(Span {
                            start,
                            end: x.start,
                        });
                    }
                    start = start.max(x.end);
                    cut += 1;
                }
                None => {
                    open.push(Span { start, end });
                    break;
                }
            }
        }
    }
    open
}

/// The union of the non-empty `spans` as sorted, disjoint, non-touching
/// spans.
fn union(spans: impl Iterator<Item = Span>) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.filter(|s| !s.is_empty()).collect();
    sorted.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for s in sorted {
        match merged.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
}
