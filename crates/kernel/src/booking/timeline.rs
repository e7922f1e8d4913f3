//! The multiset of booked spans and the step function they make.

use std::collections::BTreeMap;
use std::fmt;

use super::span::{Micros, Span};
use super::tree::{DeltaTree, Goal};

/// A multiset of spans with O(log n) insert/remove and O(log n) queries
/// over the step function "how many spans cover instant t".
///
/// The step function is kept as its change points (+1 where a span starts,
/// -1 where one ends, summed per instant) in a balanced tree that also
/// knows running-total extremes, so each query is one walk down the tree
/// instead of a scan over the bookings. A separate count per distinct span
/// lets [`Timeline::remove`] refuse spans that were never inserted, which
/// would otherwise silently corrupt the counts.
///
/// Spans with `start >= end` (only possible by writing [`Span`]'s fields
/// directly) cover no instant; they are ignored by insertion and never
/// held.
#[derive(Clone, Default)]
pub struct Timeline {
    changes: DeltaTree,
    /// How many times each distinct span is held.
    spans: BTreeMap<Span, u64>,
    len: usize,
}

impl fmt::Debug for Timeline {
    /// Shows the spans held (with multiplicity), not the tree's layout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("len", &self.len)
            .field("spans", &self.spans)
            .finish()
    }
}

/// A running total as a count. Totals are never negative (every end has
/// its start before it) and cannot exceed `u32::MAX` without that many
/// bookings in memory; clamping keeps the conversion total anyway.
fn to_count(total: i64) -> u32 {
    u32::try_from(total.max(0)).unwrap_or(u32::MAX)
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// A timeline holding `spans`, built in O(n log n) by sorting once and
    /// building the tree and the span counts in bulk, instead of n
    /// separate insertions.
    pub fn from_spans(spans: impl IntoIterator<Item = Span>) -> Self {
        let mut sorted: Vec<Span> = spans.into_iter().filter(|s| !s.is_empty()).collect();
        sorted.sort_unstable();
        let len = sorted.len();
        // Sorted by start already; the ends need their own sort.
        let mut ends: Vec<Micros> = sorted.iter().map(|s| s.end).collect();
        ends.sort_unstable();
        let mut points: Vec<(Micros, i64)> = Vec::with_capacity(2 * len);
        let (mut i, mut j) = (0, 0);
        while i < len || j < len {
            let (key, delta) = match (sorted.get(i), ends.get(j)) {
                (Some(s), Some(&end)) if s.start < end => {
                    i += 1;
                    (s.start, 1)
                }
                (_, Some(&end)) => {
                    j += 1;
                    (end, -1)
                }
                (Some(s), None) => {
                    i += 1;
                    (s.start, 1)
                }
                (None, None) => break,
            };
            match points.last_mut() {
                Some(last) if last.0 == key => last.1 += delta,
                _ => points.push((key, delta)),
            }
        }
        points.retain(|&(_, delta)| delta != 0);
        let mut counts: Vec<(Span, u64)> = Vec::new();
        for span in sorted {
            match counts.last_mut() {
                Some(last) if last.0 == span => last.1 += 1,
                _ => counts.push((span, 1)),
            }
        }
        Timeline {
            changes: DeltaTree::from_sorted(&points),
            // Already sorted and distinct, which BTreeMap builds in bulk.
            spans: counts.into_iter().collect(),
            len,
        }
    }

    /// Adds one occurrence of `span`. Empty or inverted spans are ignored.
    pub fn insert(&mut self, span: Span) {
        if span.is_empty() {
            return;
        }
        *self.spans.entry(span).or_insert(0) += 1;
        self.len += 1;
        self.changes.add(span.start, 1);
        self.changes.add(span.end, -1);
    }

    /// Removes one occurrence of exactly `span`. Returns `false`, changing
    /// nothing, if the timeline does not hold it: removing a span that was
    /// never booked must not free capacity someone else is using.
    pub fn remove(&mut self, span: Span) -> bool {
        let Some(count) = self.spans.get_mut(&span) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            self.spans.remove(&span);
        }
        self.len -= 1;
        self.changes.add(span.start, -1);
        self.changes.add(span.end, 1);
        true
    }

    /// Number of spans held, counting repeats.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no span is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of held spans covering instant `t`.
    pub fn count_at(&self, t: Micros) -> u32 {
        to_count(self.changes.prefix_at(t))
    }

    /// The most spans covering any one instant of `range` (0 for an empty
    /// range). The count inside the range can only rise at a change point,
    /// so this is the larger of the count at `range.start` and the highest
    /// running total at a change point inside the range.
    pub fn max_over(&self, range: Span) -> u32 {
        if range.is_empty() {
            return 0;
        }
        let at_start = self.changes.prefix_at(range.start);
        let inside = self.changes.max_prefix_between(range.start, range.end);
        to_count(inside.map_or(at_start, |m| m.max(at_start)))
    }

    /// First instant t in `range` with count_at(t) >= level, if any.
    ///
    /// This is "where does a booking of `range` first overflow a capacity
    /// of `level`", answered without walking the range. A `level` of 0 is
    /// met at `range.start`; an empty range has no instants.
    pub fn first_at_least(&self, range: Span, level: u32) -> Option<Micros> {
        if range.is_empty() {
            return None;
        }
        self.changes.first_from(
            range.start,
            Some(range.end),
            Goal::AtLeast(i64::from(level)),
        )
    }

    /// First instant t >= from with count_at(t) < level (count_at is
    /// piecewise constant, changing only at span starts/ends), if any
    /// (there always is one after the last end when level>0).
    ///
    /// This is "when does capacity free up again", the jump that lets slot
    /// search skip a full stretch in one step. A `level` of 0 is never met.
    pub fn first_below(&self, from: Micros, level: u32) -> Option<Micros> {
        self.changes
            .first_from(from, None, Goal::Below(i64::from(level)))
    }

    /// The step function over `range` as maximal constant pieces (start,
    /// end, count), covering range exactly, adjacent pieces with different
    /// counts. Empty for an empty range.
    ///
    /// Costs O(log n + pieces): only the change points inside the range are
    /// visited, and each one starts a new piece because only non-zero
    /// changes are stored.
    pub fn segments(&self, range: Span) -> Vec<(Micros, Micros, u32)> {
        let mut pieces = Vec::new();
        if range.is_empty() {
            return pieces;
        }
        let mut start = range.start;
        let mut total = self.changes.prefix_at(range.start);
        for (key, delta) in self.changes.after(range.start) {
            if key >= range.end {
                break;
            }
            pieces.push((start, key, to_count(total)));
            start = key;
            total += delta;
        }
        pieces.push((start, range.end, to_count(total)));
        pieces
    }

    /// Checks the tree's invariants (order, balance, sums) and returns its
    /// change points.
    #[cfg(test)]
    pub(super) fn assert_tree_invariants(&self) -> Vec<(Micros, i64)> {
        self.changes.assert_invariants()
    }

    /// Checks the tree's invariants and that its change points are exactly
    /// those of the spans held.
    #[cfg(test)]
    pub(super) fn assert_invariants(&self) {
        let keys = self.changes.assert_invariants();
        let rebuilt = Timeline::from_spans(self.spans.iter().flat_map(|(&span, &count)| {
            std::iter::repeat_n(span, usize::try_from(count).expect("a small count"))
        }));
        assert_eq!(keys, rebuilt.changes.assert_invariants());
        assert_eq!(self.len, rebuilt.len);
        assert_eq!(self.len, self.spans.values().sum::<u64>() as usize);
        assert_eq!(self.changes.key_count(), keys.len());
    }
}
