//! Slot search: the earliest spans that [`super::check`] would admit.
//!
//! Search never steps one microsecond at a time. Each refused candidate
//! says why, and the reason bounds where the next possible start is:
//!
//! - `NotAllowed`: the start of the next allowed window long enough to
//!   hold the duration;
//! - `Blocked`: the latest end among the blocked spans that start before
//!   the candidate ends (every start before it overlaps that span);
//! - `Full { at }`: the first instant from `at` on where the count drops
//!   below capacity (every start up to then covers a full instant).
//!
//! Each jump lands strictly after the candidate's start, then rounds up to
//! the grid, so `t` strictly increases and the loop ends. Each jump passes
//! a window start, a blocked span's end or a change point of the timeline,
//! so a search costs O((n + m) log n) in the worst case and usually a few
//! iterations. The acceptance test is the shared predicate, so whatever
//! search returns, validation admits.

use super::fit::{FitRules, Prepared, Refusal};
use super::grid::Grid;
use super::span::{Micros, Span};
use super::timeline::Timeline;

/// Earliest start t with t >= within.start, t + duration <= within.end,
/// aligned if rules.align, such that check(Span{t, t+duration}) is Ok.
/// `None` if there is none or `duration <= 0`.
pub fn earliest_fit(
    timeline: &Timeline,
    rules: &FitRules,
    duration: Micros,
    within: Span,
) -> Option<Micros> {
    let prepared = Prepared::new(rules);
    first_fit(
        timeline,
        &prepared,
        Grid::new(rules.align),
        duration,
        within,
    )
}

/// Up to `limit` non-overlapping slots: the earliest fit, then the earliest
/// fit starting at or after the previous slot's end, and so on.
///
/// Every slot fits the timeline as it is; the slots are alternatives to
/// offer, not a plan to book together (booking one may make the next full).
pub fn slots(
    timeline: &Timeline,
    rules: &FitRules,
    duration: Micros,
    within: Span,
    limit: usize,
) -> Vec<Span> {
    let prepared = Prepared::new(rules);
    let grid = Grid::new(rules.align);
    let mut found = Vec::new();
    let mut from = within.start;
    while found.len() < limit {
        let Some(rest) = Span::new(from, within.end) else {
            break;
        };
        let Some(start) = first_fit(timeline, &prepared, grid, duration, rest) else {
            break;
        };
        // first_fit only returns starts with start + duration <= within.end.
        let slot = Span {
            start,
            end: start + duration,
        };
        found.push(slot);
        from = slot.end;
    }
    found
}

/// [`earliest_fit`] with the rules already prepared.
fn first_fit(
    timeline: &Timeline,
    prepared: &Prepared,
    grid: Grid,
    duration: Micros,
    within: Span,
) -> Option<Micros> {
    if duration <= 0 || within.is_empty() {
        return None;
    }
    // The last start whose slot still ends inside `within`; below
    // `Micros::MAX` because duration > 0, so `t + 1` below cannot overflow.
    let latest = within.end.checked_sub(duration)?;
    let mut t = grid.round_up(within.start)?;
    while t <= latest {
        let candidate = Span {
            start: t,
            end: t + duration,
        };
        let next = match prepared.refusal(timeline, candidate) {
            None => return Some(t),
            Some(Refusal::NotAllowed) => prepared.next_window_start(t, duration)?,
            Some(Refusal::Blocked { blocker }) => {
                prepared.blocked_until(candidate).unwrap_or(blocker.end)
            }
            Some(Refusal::Full { at }) => timeline.first_below(at, prepared.capacity)?,
        };
        // Every jump above is already past `t`; `max` makes termination
        // independent of that argument.
        t = grid.round_up(next.max(t + 1))?;
    }
    None
}
