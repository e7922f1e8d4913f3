//! The alignment grid for slot search: which instants a slot may start at.

use super::span::Micros;

/// The instants `origin + k*step` for every integer `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grid {
    /// No alignment: every instant.
    Any,
    /// A step of 0: only this instant.
    Only(Micros),
    /// A non-zero step, by its magnitude (`k` ranges over all integers, so
    /// the sign of the step does not matter).
    Every { origin: Micros, step: u64 },
}

impl Grid {
    pub(super) fn new(align: Option<(Micros, Micros)>) -> Self {
        match align {
            None => Grid::Any,
            Some((origin, 0)) => Grid::Only(origin),
            Some((_, 1 | -1)) => Grid::Any,
            Some((origin, step)) => Grid::Every {
                origin,
                step: step.unsigned_abs(),
            },
        }
    }

    /// The first grid instant at or after `t`, if one fits in an `i64`.
    /// Computed in `i128` so that an origin at one end of time and `t` at
    /// the other cannot overflow.
    pub(super) fn round_up(self, t: Micros) -> Option<Micros> {
        match self {
            Grid::Any => Some(t),
            Grid::Only(origin) => (t <= origin).then_some(origin),
            Grid::Every { origin, step } => {
                let step = i128::from(step);
                let offset = (i128::from(t) - i128::from(origin)).rem_euclid(step);
                if offset == 0 {
                    Some(t)
                } else {
                    Micros::try_from(i128::from(t) + (step - offset)).ok()
                }
            }
        }
    }
}
