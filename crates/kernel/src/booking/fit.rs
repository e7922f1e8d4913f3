//! The fit predicate: whether one candidate span may be booked. Validation
//! ([`check`]) and slot search ([`super::earliest_fit`]) both go through
//! [`Prepared::refusal`], so they cannot disagree about what fits.

use super::span::{Micros, Span};
use super::timeline::Timeline;

/// What a candidate span must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitRules<'a> {
    /// Most entries the system runs at once. The candidate itself needs one
    /// unit, so it fits iff `max_over(span) + 1 <= capacity`; a capacity of
    /// 0 admits nothing.
    pub capacity: u32,
    /// Spans the candidate must not overlap (outages). Any order; they may
    /// overlap each other.
    pub blocked: &'a [Span],
    /// If `Some`, the candidate must lie entirely inside ONE of these spans
    /// (working hours). Any order. Touching or overlapping windows are not
    /// joined: a booking that straddles two shifts is not inside either.
    /// `Some(&[])` allows nothing.
    pub allowed: Option<&'a [Span]>,
    /// `(origin, step)`: candidate starts must be `origin + k*step` for
    /// some integer `k` (a slot grid). Used only by the search functions,
    /// not by [`admits`]: an existing booking off the grid is still valid.
    /// `step` should be positive; a negative step gives the same grid as
    /// its magnitude, and a step of 0 allows only `origin` itself.
    pub align: Option<(Micros, Micros)>,
}

impl<'a> FitRules<'a> {
    /// Rules with only a capacity: nothing blocked, always allowed, no grid.
    pub fn with_capacity(capacity: u32) -> Self {
        FitRules {
            capacity,
            blocked: &[],
            allowed: None,
            align: None,
        }
    }
}

/// Why a given span is not admitted: the first reason in this order.
///
/// The order goes from the most permanent reason to the most transient
/// (working hours do not change, outages end, bookings come and go), and
/// each variant carries what slot search needs to jump past the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// `allowed` is `Some` and no single allowed span contains the
    /// candidate, or the candidate is empty or inverted.
    NotAllowed,
    /// The candidate overlaps a blocked span; `blocker` is the
    /// earliest-starting one it overlaps (on a tie, the one ending first).
    Blocked { blocker: Span },
    /// The system is full: `at` is the first instant in the candidate
    /// where `count_at + 1 > capacity`.
    Full { at: Micros },
}

/// Whether `span` may be booked on `timeline` under `rules`, and if not,
/// the first reason why (see [`Refusal`]).
///
/// Sorts `rules.blocked` and `rules.allowed` once, O(m log m); with a
/// handful of outages and windows that is negligible next to the
/// timeline's O(log n) walk.
pub fn check(timeline: &Timeline, rules: &FitRules, span: Span) -> Result<(), Refusal> {
    match Prepared::new(rules).refusal(timeline, span) {
        None => Ok(()),
        Some(refusal) => Err(refusal),
    }
}

/// `check(timeline, rules, span).is_ok()`.
pub fn admits(timeline: &Timeline, rules: &FitRules, span: Span) -> bool {
    check(timeline, rules, span).is_ok()
}

/// [`FitRules`] sorted for binary search, built once per call so that a
/// search can test many candidates in O(log) each.
#[derive(Debug, Clone)]
pub(super) struct Prepared {
    pub(super) capacity: u32,
    /// Non-empty blocked spans, sorted by (start, end).
    blocked: Vec<Span>,
    /// `reach[i]` is the latest end among `blocked[..=i]`; non-decreasing,
    /// so "first blocked span ending after t" is a binary search.
    reach: Vec<Micros>,
    /// Non-empty allowed spans with every span that lies inside another
    /// dropped, sorted: starts and ends are then both strictly increasing.
    /// Dropping contained windows changes nothing, as anything inside one
    /// is inside the other too.
    windows: Option<Vec<Span>>,
}

impl Prepared {
    pub(super) fn new(rules: &FitRules) -> Self {
        let mut blocked: Vec<Span> = rules
            .blocked
            .iter()
            .copied()
            .filter(|b| !b.is_empty())
            .collect();
        blocked.sort_unstable();
        let reach = blocked
            .iter()
            .scan(Micros::MIN, |latest, b| {
                *latest = (*latest).max(b.end);
                Some(*latest)
            })
            .collect();
        let windows = rules.allowed.map(|allowed| {
            let mut sorted: Vec<Span> = allowed.iter().copied().filter(|w| !w.is_empty()).collect();
            // By start, longest first, so each window need only be compared
            // with the last one kept.
            sorted.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
            let mut kept: Vec<Span> = Vec::with_capacity(sorted.len());
            for w in sorted {
                if kept.last().is_none_or(|last| w.end > last.end) {
                    kept.push(w);
                }
            }
            kept
        });
        Prepared {
            capacity: rules.capacity,
            blocked,
            reach,
            windows,
        }
    }

    /// THE predicate: `None` if `span` fits, else the first reason it does
    /// not, in [`Refusal`]'s order.
    pub(super) fn refusal(&self, timeline: &Timeline, span: Span) -> Option<Refusal> {
        if span.is_empty() || !self.is_allowed(span) {
            return Some(Refusal::NotAllowed);
        }
        if let Some(blocker) = self.first_blocker(span) {
            return Some(Refusal::Blocked { blocker });
        }
        timeline
            .first_at_least(span, self.capacity)
            .map(|at| Refusal::Full { at })
    }

    /// Whether some allowed window contains `span`. Of the windows starting
    /// at or before `span.start`, the last one reaches furthest, so it is
    /// the only one worth asking.
    fn is_allowed(&self, span: Span) -> bool {
        let Some(windows) = &self.windows else {
            return true;
        };
        let after = windows.partition_point(|w| w.start <= span.start);
        after > 0 && windows[after - 1].end >= span.end
    }

    /// The first blocked span (by start, then end) overlapping `span`.
    fn first_blocker(&self, span: Span) -> Option<Span> {
        let starting_before_end = self.blocked.partition_point(|b| b.start < span.end);
        let first = self.reach[..starting_before_end].partition_point(|&r| r <= span.start);
        self.blocked[..starting_before_end].get(first).copied()
    }

    /// For a candidate `span` that [`Prepared::first_blocker`] refused: the
    /// latest end among the blocked spans starting before `span.end`. Every
    /// later candidate starting before it overlaps that blocked span, so
    /// search may jump straight there.
    pub(super) fn blocked_until(&self, span: Span) -> Option<Micros> {
        let starting_before_end = self.blocked.partition_point(|b| b.start < span.end);
        starting_before_end
            .checked_sub(1)
            .map(|last| self.reach[last])
    }

    /// For a candidate `[t, t + duration)` that [`Prepared::is_allowed`]
    /// refused: the start of the first window after `t` long enough to
    /// hold `duration`. Windows starting at or before `t` end too early for
    /// any start from `t` on (the last of them already did), so no start
    /// before the returned one can be allowed.
    pub(super) fn next_window_start(&self, t: Micros, duration: Micros) -> Option<Micros> {
        let windows = self.windows.as_ref()?;
        let after = windows.partition_point(|w| w.start <= t);
        windows[after..]
            .iter()
            .find(|w| w.len() >= duration)
            .map(|w| w.start)
    }
}
