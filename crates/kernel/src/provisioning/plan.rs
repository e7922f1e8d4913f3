//! [`plan`]: the ledger and the exams in, start and stop calls and
//! forecasts out.

use serde::{Deserialize, Serialize};

use super::fill::{Demand, Segment, fill};
use super::forecast::{Forecast, forecast};
use super::model::{Exam, Vm, VmState};
use super::pipeline::Pipeline;
use super::profile::Profile;
use super::runs::{StartRun, exam_runs, in_time_order};
use super::seats::Seats;
use super::stops::{StopCall, stop_calls};
use crate::booking::Micros;

/// What to do from `now` on, and what it will achieve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Plan {
    /// Start calls, in time order, one step apart within a run and at least
    /// a request interval apart overall.
    pub starts: Vec<StartRun>,
    /// Stop calls, in time order, at least a request interval apart.
    pub stops: Vec<StopCall>,
    /// One per input exam, in input order.
    pub exams: Vec<Forecast>,
}

impl Plan {
    /// The earliest planned call of either kind: when the executor should
    /// next wake up (and replan after acting).
    pub fn next_call_at(&self) -> Option<Micros> {
        let start = self.starts.first().map(|r| r.first_at);
        let stop = self.stops.first().map(|s| s.at);
        match (start, stop) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// An exam with free slots to fill: its index, the free slots as ranges
/// and how many they are.
struct Wanting {
    exam: usize,
    free: Vec<(u32, u32)>,
    count: u64,
}

/// Plans start and stop calls for `exams` given the VMs in `ledger`, from
/// `now` on. See the module documentation for the model and the objective.
///
/// Exams that are over (`finish() <= now`) get no new VMs. Costs
/// O(E log E + V log V) for E exams and V ledger rows, whatever the number
/// of students.
pub fn plan(exams: &[Exam], ledger: &[Vm], now: Micros, profile: &Profile) -> Plan {
    let pipeline = Pipeline::model(ledger, now, profile);
    let seats = Seats::sort(exams, ledger, &pipeline.ready);

    // The exams that still want VMs, in deadline order (ties by id).
    let mut wanting: Vec<Wanting> = (0..exams.len())
        .filter(|&e| seats.canonical[e] == e && exams[e].finish() > now)
        .map(|e| {
            let free = seats.free_slots(e, exams, ledger);
            let count = free.iter().map(|&(lo, hi)| u64::from(hi - lo)).sum();
            Wanting {
                exam: e,
                free,
                count,
            }
        })
        .filter(|w| w.count > 0)
        .collect();
    wanting.sort_unstable_by_key(|w| {
        let exam = &exams[w.exam];
        (exam.deadline(profile), exam.id, w.exam)
    });
    let demands: Vec<Demand> = wanting
        .iter()
        .map(|w| Demand {
            deadline: exams[w.exam].deadline(profile),
            count: w.count,
        })
        .collect();
    let step = profile.spacing();
    let placed = fill(pipeline.first_ready, step, &demands);

    let mut segments: Vec<Vec<Segment>> = vec![Vec::new(); exams.len()];
    let mut runs: Vec<StartRun> = Vec::new();
    for (w, placed) in wanting.iter().zip(placed) {
        let id = exams[w.exam].id;
        exam_runs(id, &w.free, &placed, step, profile.lead(), &mut runs);
        segments[w.exam] = placed;
    }

    let stops = stop_calls(
        exams,
        ledger,
        &seats.surplus,
        &seats.holders,
        now,
        profile.interval(),
        profile.grace(),
    );

    let mut forecasts: Vec<Forecast> = Vec::with_capacity(exams.len());
    for (e, exam) in exams.iter().enumerate() {
        let first = seats.canonical[e];
        let outlook = if first == e {
            let held = seats.holders[e].iter().map(|&row| {
                let ready = matches!(ledger[row].state, VmState::Ready { .. });
                (ready, pipeline.ready[row].unwrap_or(Micros::MAX))
            });
            forecast(exam, held, &segments[e], profile)
        } else {
            forecasts[first]
        };
        forecasts.push(outlook);
    }

    Plan {
        starts: in_time_order(runs),
        stops,
        exams: forecasts,
    }
}
