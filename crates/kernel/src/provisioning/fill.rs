//! The scheduling core: ready times for new VMs, exam by exam, on an empty
//! queue that can deliver one VM per `spacing` from `first_ready` on.
//!
//! Works on exams, not VMs: every step is a pass over the exams or over
//! the gaps between their blocks, so a day of 2,500-student exams costs
//! O(E) after the caller's sort. The module documentation says why the
//! result is optimal; in short:
//!
//! 1. the grid: position `k` is `first_ready + k * spacing`, `k < n` (n new
//!    VMs in all), the earliest n ready times there are;
//! 2. on time: exams in deadline order take the next grid positions while
//!    they are at or before their deadline (forward EDF); the rest are late;
//! 3. the on-time VMs are packed backwards on the grid, latest deadline
//!    first, each exam as one block as high as its deadline and the block
//!    above allow. The grid positions left between the blocks are holes;
//! 4. the late VMs fill the holes from the bottom, in deadline order;
//! 5. above the highest hole the blocks leave the grid: they are packed
//!    backwards again in continuous time, each ending at its deadline or one
//!    spacing before the block above, whichever is earlier. Below it they
//!    stay packed on the grid, because the late VMs behind them must not
//!    wait.

use crate::booking::Micros;

/// One exam's need for new VMs. The caller passes these in the order ties
/// should break: by deadline, then by whatever it likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Demand {
    pub deadline: Micros,
    pub count: u64,
}

/// `count` ready times `first, first + step, ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    pub first: Micros,
    pub count: u64,
}

/// `base + k * step`, saturating.
pub(super) fn nth(base: Micros, step: Micros, k: u64) -> Micros {
    base.saturating_add(step.saturating_mul(i64::try_from(k).unwrap_or(i64::MAX)))
}

impl Segment {
    /// The last ready time; `first` for an empty segment.
    pub fn last(&self, step: Micros) -> Micros {
        nth(self.first, step, self.count.saturating_sub(1))
    }

    /// How many of its ready times are at or before `t`.
    pub fn count_by(&self, step: Micros, t: Micros) -> u64 {
        if t < self.first {
            return 0;
        }
        let steps = (i128::from(t) - i128::from(self.first)) / i128::from(step.max(1));
        u64::try_from(steps.saturating_add(1)).map_or(self.count, |n| n.min(self.count))
    }

    /// The sum over its ready times `r` before `t` of `t - r`.
    pub fn idle_before(&self, step: Micros, t: Micros) -> i128 {
        if t <= self.first {
            return 0;
        }
        let step = i128::from(step.max(1));
        let gap = i128::from(t) - i128::from(self.first);
        // Terms with first + i*step < t: i < ceil(gap / step).
        let terms = ((gap - 1) / step + 1).min(i128::from(self.count));
        // terms * gap - step * terms * (terms - 1) / 2; step * (terms - 1) < gap.
        terms.saturating_mul(gap) - step.saturating_mul(terms - 1).saturating_mul(terms) / 2
    }
}

/// Ready times for every demand, one `Vec<Segment>` per demand in time
/// order, on time ones first. `demands` must be sorted by deadline.
pub(super) fn fill(first_ready: Micros, spacing: Micros, demands: &[Demand]) -> Vec<Vec<Segment>> {
    let spacing = spacing.max(1);
    let total: u64 = demands.iter().map(|d| d.count).fold(0, u64::saturating_add);
    // How many grid positions are at or before t.
    let cap = |t: Micros| -> u64 {
        if t < first_ready {
            return 0;
        }
        let steps = (i128::from(t) - i128::from(first_ready)) / i128::from(spacing);
        u64::try_from(steps + 1).map_or(total, |n| n.min(total))
    };

    // 2. Forward EDF: how many of each exam's VMs can be on time.
    let mut taken: u64 = 0;
    let on_time: Vec<u64> = demands
        .iter()
        .map(|d| {
            let on = d.count.min(cap(d.deadline).saturating_sub(taken));
            taken += on;
            on
        })
        .collect();

    // 3. The on-time blocks packed backwards on the grid, and the holes.
    let mut bottom: Vec<u64> = vec![0; demands.len()];
    let mut holes: Vec<(u64, u64)> = Vec::new();
    let mut top = total;
    for (j, d) in demands.iter().enumerate().rev() {
        if on_time[j] == 0 {
            continue;
        }
        let high = cap(d.deadline).min(top);
        let low = high.saturating_sub(on_time[j]);
        if high < top {
            holes.push((high, top));
        }
        bottom[j] = low;
        top = low;
    }
    if top > 0 {
        holes.push((0, top));
    }
    holes.reverse();
    let highest_hole = holes.last().map(|&(_, high)| high - 1);

    // 5. Blocks above the highest hole in continuous time, the rest on
    // the grid.
    let mut out: Vec<Vec<Segment>> = vec![Vec::new(); demands.len()];
    let mut above: Option<Micros> = None;
    for (j, d) in demands.iter().enumerate().rev() {
        let count = on_time[j];
        if count == 0 {
            continue;
        }
        let first = match highest_hole {
            Some(hole) if bottom[j] < hole => nth(first_ready, spacing, bottom[j]),
            _ => {
                let last = match above {
                    None => d.deadline,
                    Some(next) => d.deadline.min(next.saturating_sub(spacing)),
                };
                let first = last.saturating_sub(
                    spacing.saturating_mul(i64::try_from(count - 1).unwrap_or(i64::MAX)),
                );
                above = Some(first);
                first
            }
        };
        out[j].push(Segment { first, count });
    }

    // 4. The late VMs into the holes, bottom up, in deadline order.
    let mut holes = holes.into_iter();
    let mut hole = holes.next();
    for (j, d) in demands.iter().enumerate() {
        let mut late = d.count - on_time[j];
        while late > 0 {
            let Some((low, high)) = hole else { break };
            let take = late.min(high - low);
            out[j].push(Segment {
                first: nth(first_ready, spacing, low),
                count: take,
            });
            late -= take;
            hole = if low + take == high {
                holes.next()
            } else {
                Some((low + take, high))
            };
        }
    }
    out
}
