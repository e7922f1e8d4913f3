//! Half-open spans of time: the unit everything in booking is measured in.

use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch. A plain integer rather than a
/// timestamp type so that the kernel's arithmetic is exact, cheap and
/// trivially comparable; callers convert at the edges.
pub type Micros = i64;

/// The half-open span `[start, end)`: it contains `start` but not `end`.
///
/// Half-open so that back-to-back bookings (`[9h, 10h)` then `[10h, 11h)`)
/// share no instant and never conflict, and so that lengths are plain
/// differences. [`Span::new`] only builds non-empty spans (`start < end`);
/// the fields stay public for pattern matching and literals, and code that
/// writes them directly can make an empty or inverted span, which every
/// function in this module treats as covering no instant. Deserializing
/// refuses such spans, so they cannot arrive from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "SpanFields")]
pub struct Span {
    pub start: Micros,
    pub end: Micros,
}

impl Span {
    /// The span `[start, end)`, or `None` unless `start < end`: an empty
    /// booking occupies nothing and is almost always a caller's mistake.
    pub fn new(start: Micros, end: Micros) -> Option<Span> {
        (start < end).then_some(Span { start, end })
    }

    /// `end - start`, saturating at `Micros::MAX` (a span from near the
    /// minimum to near the maximum instant is longer than `i64` can say)
    /// and zero for an empty or inverted span.
    pub fn len(&self) -> Micros {
        self.end.saturating_sub(self.start).max(0)
    }

    /// Whether the span covers no instant. Never true for spans from
    /// [`Span::new`]; only for ones whose fields were written directly.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// Whether the two spans share an instant. Touching spans (one's `end`
    /// is the other's `start`) do not.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start.max(other.start) < self.end.min(other.end)
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: Micros) -> bool {
        self.start <= t && t < self.end
    }
}

/// The wire form of a [`Span`], checked before it becomes one.
#[derive(Deserialize)]
struct SpanFields {
    start: Micros,
    end: Micros,
}

impl TryFrom<SpanFields> for Span {
    type Error = &'static str;

    fn try_from(fields: SpanFields) -> Result<Span, Self::Error> {
        Span::new(fields.start, fields.end).ok_or("a span's start must be before its end")
    }
}
