//! What one exam can expect if the plan is followed.

use serde::{Deserialize, Serialize};

use super::fill::Segment;
use super::model::{Exam, ExamId};
use super::profile::Profile;
use crate::booking::Micros;

/// One exam's outlook. "Its VMs" are the ledger VMs holding its slots and
/// the plan's new ones; surplus VMs being stopped do not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Forecast {
    pub exam: ExamId,
    /// `students`.
    pub needed: u32,
    /// Ledger VMs holding one of its slots (pending or ready).
    pub live: u32,
    /// Of those, the ones in state ready.
    pub ready_now: u32,
    /// VMs ready by the deadline (`start - margin`) if the plan is followed.
    pub predicted_ready_at_start: u32,
    /// `needed - predicted_ready_at_start`.
    pub shortfall: u32,
    /// When the last of its VMs is predicted ready; `None` if it needs none,
    /// or if it is over and some slots will never get one.
    pub fully_ready_at: Option<Micros>,
    /// Its first planned start call.
    pub next_start_call_at: Option<Micros>,
    /// The sum over its VMs ready before the exam's start of
    /// `start - ready`: VM time paid for before anyone uses it.
    pub idle_vm: Micros,
    /// The idle of an ideal plan: this exam alone on an empty pipeline, one
    /// VM per P_eff ending exactly at the deadline, so
    /// `sum_{k < needed} max(0, margin + k * P_eff)`. Any plan that has all
    /// its VMs on time one P_eff apart idles at least this much; the excess
    /// of `idle_vm` over it is what sharing the pipeline costs.
    pub idle_lower_bound: Micros,
}

/// The forecast for `exam`, whose slots are held by VMs with the given
/// (in state ready, ready time) and get new VMs at `segments`.
pub(super) fn forecast(
    exam: &Exam,
    held: impl Iterator<Item = (bool, Micros)>,
    segments: &[Segment],
    profile: &Profile,
) -> Forecast {
    let step = profile.spacing();
    let deadline = exam.deadline(profile);
    let mut live: u32 = 0;
    let mut ready_now: u32 = 0;
    let mut on_time: u64 = 0;
    let mut idle: i128 = 0;
    let mut last: Option<Micros> = None;
    for (ready_state, ready) in held {
        live += 1;
        ready_now += u32::from(ready_state);
        on_time += u64::from(ready <= deadline);
        idle += i128::from(exam.start.saturating_sub(ready).max(0));
        last = last.max(Some(ready));
    }
    let mut new: u64 = 0;
    for segment in segments.iter().filter(|s| s.count > 0) {
        new += segment.count;
        on_time += segment.count_by(step, deadline);
        idle = idle.saturating_add(segment.idle_before(step, exam.start));
        last = last.max(Some(segment.last(step)));
    }
    let covered = u64::from(live) + new >= u64::from(exam.students);
    let predicted = u32::try_from(on_time)
        .unwrap_or(u32::MAX)
        .min(exam.students);
    Forecast {
        exam: exam.id,
        needed: exam.students,
        live,
        ready_now,
        predicted_ready_at_start: predicted,
        shortfall: exam.students - predicted,
        fully_ready_at: if exam.students > 0 && covered {
            last
        } else {
            None
        },
        next_start_call_at: segments
            .iter()
            .find(|s| s.count > 0)
            .map(|s| s.first.saturating_sub(profile.lead())),
        idle_vm: saturate(idle),
        idle_lower_bound: ideal_idle(exam.students, profile.margin, step),
    }
}

/// `sum_{k < n} max(0, margin + k * step)`.
fn ideal_idle(n: u32, margin: Micros, step: Micros) -> Micros {
    let n = i128::from(n);
    let margin = i128::from(margin);
    let step = i128::from(step.max(1));
    // The first k with margin + k * step > 0.
    let skip = if margin > 0 {
        0
    } else {
        (-margin / step + 1).min(n)
    };
    let terms = n - skip;
    let first = margin + skip * step;
    saturate(
        terms
            .saturating_mul(first)
            .saturating_add(step.saturating_mul(terms.saturating_mul(terms - 1) / 2)),
    )
}

fn saturate(value: i128) -> Micros {
    Micros::try_from(value).unwrap_or(if value < 0 { Micros::MIN } else { Micros::MAX })
}
