//! Start calls in compact form: a run is consecutive slots of one exam
//! called one `step` apart, so a plan for 2,500 students is a handful of
//! runs, not 2,500 rows.

use serde::{Deserialize, Serialize};

use super::fill::{Segment, nth};
use super::model::{ExamId, VmKey};
use crate::booking::Micros;

/// `count` start calls for slots `first_slot..first_slot + count` of
/// `exam`, the i-th at `first_at + i * step`, its VM ready at
/// `first_ready + i * step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StartRun {
    pub exam: ExamId,
    pub first_slot: u32,
    pub count: u32,
    pub first_at: Micros,
    pub step: Micros,
    pub first_ready: Micros,
}

/// One planned `start()` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StartCall {
    pub key: VmKey,
    /// When to call.
    pub at: Micros,
    /// When its VM is predicted ready if the call is made then.
    pub ready: Micros,
}

impl StartRun {
    /// The run's calls in order.
    pub fn calls(&self) -> impl Iterator<Item = StartCall> + use<> {
        let run = *self;
        (0..run.count).map(move |i| run.call(i))
    }

    /// The `i`-th call (`i < count`).
    pub fn call(&self, i: u32) -> StartCall {
        StartCall {
            key: VmKey {
                exam: self.exam,
                slot: self.first_slot.saturating_add(i),
            },
            at: nth(self.first_at, self.step, u64::from(i)),
            ready: nth(self.first_ready, self.step, u64::from(i)),
        }
    }

    /// When the last call is due.
    pub fn last_at(&self) -> Micros {
        nth(
            self.first_at,
            self.step,
            u64::from(self.count.saturating_sub(1)),
        )
    }

    /// Whether `next` continues this run: same exam and step, the next slot
    /// one step later.
    fn continued_by(&self, next: &StartRun) -> bool {
        let count = u64::from(self.count);
        next.exam == self.exam
            && next.step == self.step
            && u64::from(next.first_slot) == u64::from(self.first_slot) + count
            && next.first_at == nth(self.first_at, self.step, count)
            && next.first_ready == nth(self.first_ready, self.step, count)
    }
}

/// The runs of one exam: its free slots, ascending, matched in order to its
/// ready times (segments in time order), so low slots are ready first.
/// Each call is made `lead` (P + B) before its VM's ready time.
pub(super) fn exam_runs(
    exam: ExamId,
    free: &[(u32, u32)],
    segments: &[Segment],
    step: Micros,
    lead: Micros,
    out: &mut Vec<StartRun>,
) {
    let mut segments = segments.iter().copied().filter(|s| s.count > 0);
    let mut segment = segments.next();
    for &(mut low, high) in free {
        while low < high {
            let Some(current) = segment else { return };
            let take = u64::from(high - low).min(current.count);
            // take <= high - low, so it fits in u32.
            let count = take as u32;
            out.push(StartRun {
                exam,
                first_slot: low,
                count,
                first_at: current.first.saturating_sub(lead),
                step,
                first_ready: current.first,
            });
            low += count;
            segment = if take == current.count {
                segments.next()
            } else {
                Some(Segment {
                    first: nth(current.first, step, take),
                    count: current.count - take,
                })
            };
        }
    }
}

/// All runs in time order, adjacent ones that continue each other joined.
pub(super) fn in_time_order(mut runs: Vec<StartRun>) -> Vec<StartRun> {
    runs.sort_unstable_by_key(|r| (r.first_at, r.exam, r.first_slot));
    let mut joined: Vec<StartRun> = Vec::with_capacity(runs.len());
    for run in runs {
        match joined.last_mut() {
            Some(last) if last.continued_by(&run) => last.count += run.count,
            _ => joined.push(run),
        }
    }
    joined
}
