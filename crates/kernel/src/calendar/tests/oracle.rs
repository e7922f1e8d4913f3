//! Brute-force accounts the property tests compare against: sets of
//! instants examined one integer instant at a time over a small domain.
//! Slow and obviously right.

use crate::booking::{Micros, Span};

/// Whether some span of `spans` contains `t` (empty and inverted spans
/// contain nothing).
pub(super) fn covers(spans: &[Span], t: Micros) -> bool {
    spans.iter().any(|s| s.start <= t && t < s.end)
}

/// The maximal runs of consecutive instants in `from..to` where `inside`
/// holds: the canonical form of that set restricted to the domain.
pub(super) fn runs(from: Micros, to: Micros, inside: impl Fn(Micros) -> bool) -> Vec<Span> {
    let mut found: Vec<Span> = Vec::new();
    for t in from..to {
        if !inside(t) {
            continue;
        }
        match found.last_mut() {
            Some(last) if last.end == t => last.end = t + 1,
            _ => found.push(Span {
                start: t,
                end: t + 1,
            }),
        }
    }
    found
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
