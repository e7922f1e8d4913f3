//! The brute-force account the property tests compare against: a plain
//! list of spans, counted by looking at every integer instant of a small
//! domain. Slow and obviously right.

use crate::booking::{FitRules, Micros, Refusal, Span};

/// Per-instant coverage of a list of spans over the instants
/// `base..=base + last`. Every span in the tests ends by `base + last`, so
/// instants after the domain are uncovered.
pub(super) struct Coverage {
    pub base: Micros,
    pub counts: Vec<u32>,
}

impl Coverage {
    pub fn new(spans: &[Span], base: Micros, last: i64) -> Self {
        let counts = (0..=last)
            .map(|offset| {
                let t = base + offset;
                spans.iter().filter(|s| s.start <= t && t < s.end).count() as u32
            })
            .collect();
        Coverage { base, counts }
    }

    pub fn count(&self, t: Micros) -> u32 {
        let offset = i128::from(t) - i128::from(self.base);
        usize::try_from(offset)
            .ok()
            .and_then(|i| self.counts.get(i).copied())
            .unwrap_or(0)
    }

    /// The instants of `range` in order.
    fn instants(range: Span) -> impl Iterator<Item = Micros> {
        range.start..range.end
    }

    pub fn max_over(&self, range: Span) -> u32 {
        Self::instants(range)
            .map(|t| self.count(t))
            .max()
            .unwrap_or(0)
    }

    pub fn first_at_least(&self, range: Span, level: u32) -> Option<Micros> {
        Self::instants(range).find(|&t| self.count(t) >= level)
    }

    /// Scans from `from` to the end of the domain (where the count is 0).
    pub fn first_below(&self, from: Micros, level: u32) -> Option<Micros> {
        let last = self.base + (self.counts.len() as i64 - 1);
        (from..=last.max(from)).find(|&t| self.count(t) < level)
    }

    pub fn segments(&self, range: Span) -> Vec<(Micros, Micros, u32)> {
        coalesce(Self::instants(range).map(|t| (t, self.count(t))))
    }

    pub fn check(&self, rules: &FitRules, span: Span) -> Result<(), Refusal> {
        if span.start >= span.end {
            return Err(Refusal::NotAllowed);
        }
        let inside_one = |allowed: &[Span]| {
            allowed
                .iter()
                .any(|w| w.start <= span.start && span.end <= w.end)
        };
        if rules.allowed.is_some_and(|allowed| !inside_one(allowed)) {
            return Err(Refusal::NotAllowed);
        }
        let blocker = rules
            .blocked
            .iter()
            .filter(|b| Self::instants(span).any(|t| b.start <= t && t < b.end))
            .min();
        if let Some(&blocker) = blocker {
            return Err(Refusal::Blocked { blocker });
        }
        match Self::instants(span)
            .find(|&t| u64::from(self.count(t)) + 1 > u64::from(rules.capacity))
        {
            Some(at) => Err(Refusal::Full { at }),
            None => Ok(()),
        }
    }

    pub fn earliest_fit(&self, rules: &FitRules, duration: Micros, within: Span) -> Option<Micros> {
        if duration <= 0 {
            return None;
        }
        Self::instants(within).find(|&t| {
            let Some(end) = t.checked_add(duration).filter(|&end| end <= within.end) else {
                return false;
            };
            aligned(rules.align, t) && self.check(rules, Span { start: t, end }).is_ok()
        })
    }

    pub fn slots(
        &self,
        rules: &FitRules,
        duration: Micros,
        within: Span,
        limit: usize,
    ) -> Vec<Span> {
        let mut found = Vec::new();
        let mut from = within.start;
        while found.len() < limit && from < within.end {
            let rest = Span {
                start: from,
                end: within.end,
            };
            let Some(start) = self.earliest_fit(rules, duration, rest) else {
                break;
            };
            found.push(Span {
                start,
                end: start + duration,
            });
            from = start + duration;
        }
        found
    }

    pub fn free_segments(&self, rules: &FitRules, range: Span) -> Vec<(Micros, Micros, u32)> {
        coalesce(Self::instants(range).map(|t| {
            let blocked = rules.blocked.iter().any(|b| b.start <= t && t < b.end);
            let outside = rules
                .allowed
                .is_some_and(|allowed| !allowed.iter().any(|w| w.start <= t && t < w.end));
            let free = if blocked || outside {
                0
            } else {
                rules.capacity.saturating_sub(self.count(t))
            };
            (t, free)
        }))
    }
}

/// Whether `t` is `origin + k*step` for some integer `k`.
pub(super) fn aligned(align: Option<(Micros, Micros)>, t: Micros) -> bool {
    match align {
        None => true,
        Some((origin, 0)) => t == origin,
        Some((origin, step)) => {
            (i128::from(t) - i128::from(origin)).rem_euclid(i128::from(step).abs()) == 0
        }
    }
}

/// Per-instant values as maximal constant pieces.
fn coalesce(values: impl Iterator<Item = (Micros, u32)>) -> Vec<(Micros, Micros, u32)> {
    let mut pieces: Vec<(Micros, Micros, u32)> = Vec::new();
    for (t, value) in values {
        match pieces.last_mut() {
            Some(last) if last.2 == value => last.1 = t + 1,
            _ => pieces.push((t, t + 1, value)),
        }
    }
    pieces
}
