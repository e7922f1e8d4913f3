//! Brute-force accounts the tests compare against: the provider replayed
//! one VM at a time, and the best objective over every integer-valued
//! schedule of a small instance. Slow and obviously right.

use crate::booking::Micros;
use crate::provisioning::{ExamId, Plan, Profile, StartCall, StartRun, Vm, VmState};

/// The provider's view of a plan.
pub(super) struct Replayed {
    /// Per ledger row, when a pending VM is ready.
    pub pending: Vec<Option<Micros>>,
    /// Every planned start call in call order, with the ready time the
    /// provider gives it.
    pub calls: Vec<(StartCall, Micros)>,
}

fn clamp(p: &Profile) -> (Micros, Micros, Micros) {
    (
        p.alloc_period.max(0),
        p.boot_delay.max(0),
        p.request_interval.max(0),
    )
}

/// The ledger's pending VMs in `requested_at` order, then the plan's calls
/// in call order, one at a time: allocated at `max(call, previous) + P`,
/// ready B later. A pending VM is never believed ready before the
/// provider's own `ready_at`, nor before `now`.
pub(super) fn replay(ledger: &[Vm], now: Micros, profile: &Profile, plan: &Plan) -> Replayed {
    let (period, boot, _) = clamp(profile);
    let mut rows: Vec<usize> = (0..ledger.len())
        .filter(|&i| matches!(ledger[i].state, VmState::Pending { .. }))
        .collect();
    rows.sort_by_key(|&i| (ledger[i].requested_at.min(now), ledger[i].key));
    let mut pending = vec![None; ledger.len()];
    let mut previous = Micros::MIN;
    for i in rows {
        let called = ledger[i].requested_at.min(now);
        let mut alloc = called.max(previous).saturating_add(period);
        if let VmState::Pending { ready_at: Some(r) } = ledger[i].state {
            alloc = alloc.max(r.saturating_sub(boot));
        }
        alloc = alloc.max(now.saturating_sub(boot));
        pending[i] = Some(alloc.saturating_add(boot));
        previous = alloc;
    }
    let mut calls: Vec<StartCall> = plan.starts.iter().flat_map(|r| r.calls()).collect();
    calls.sort_by_key(|c| c.at);
    let calls = calls
        .into_iter()
        .map(|call| {
            let alloc = call.at.max(previous).saturating_add(period);
            previous = alloc;
            (call, alloc.saturating_add(boot))
        })
        .collect();
    Replayed { pending, calls }
}

/// The ready time of one more VM called at the earliest instant the rate
/// limit allows, replayed behind the ledger's queue.
pub(super) fn first_ready(ledger: &[Vm], now: Micros, profile: &Profile) -> Micros {
    let (_, _, interval) = clamp(profile);
    let earliest = ledger
        .iter()
        .map(|vm| vm.requested_at.min(now).saturating_add(interval))
        .fold(now, Micros::max);
    let probe = Plan {
        starts: vec![StartRun {
            exam: ExamId(u128::MAX),
            first_slot: 0,
            count: 1,
            first_at: earliest,
            step: 1,
            first_ready: 0,
        }],
        stops: vec![],
        exams: vec![],
    };
    replay(ledger, now, profile, &probe).calls[0].1
}

/// The objective, compared lexicographically: VMs late, then their total
/// lateness, then the total idle of the others before their deadlines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Objective {
    pub late: u64,
    pub lateness: i128,
    pub idle: i128,
}

impl Objective {
    pub fn of(ready: Micros, deadline: Micros) -> Objective {
        if ready <= deadline {
            Objective {
                late: 0,
                lateness: 0,
                idle: i128::from(deadline) - i128::from(ready),
            }
        } else {
            Objective {
                late: 1,
                lateness: i128::from(ready) - i128::from(deadline),
                idle: 0,
            }
        }
    }

    pub fn plus(self, other: Objective) -> Objective {
        Objective {
            late: self.late + other.late,
            lateness: self.lateness + other.lateness,
            idle: self.idle + other.idle,
        }
    }
}

/// The best objective of any schedule of new VMs on the integer grid:
/// `demands` are (deadline, count) per exam, ready times are integers
/// `>= first` at least `spacing` apart. Exhaustive: a dynamic program
/// over every instant from `first` to a horizon past which no ready time
/// can help, trying at each instant "no VM" and "a VM of each exam that
/// still needs one". Exponential in the number of exams; for small cases.
pub(super) fn best(first: Micros, spacing: Micros, demands: &[(Micros, u32)]) -> Objective {
    let spacing = spacing.max(1);
    let total: i64 = demands.iter().map(|&(_, n)| i64::from(n)).sum();
    if total == 0 {
        return Objective::default();
    }
    // Late VMs are best on the earliest n grid points and on-time VMs
    // gain nothing after their deadline, so nothing is ready after this.
    let horizon = demands
        .iter()
        .map(|&(d, _)| d)
        .max()
        .unwrap_or(first)
        .max(first + (total - 1) * spacing);
    let strides: Vec<usize> = demands
        .iter()
        .scan(1usize, |stride, &(_, n)| {
            let this = *stride;
            *stride *= n as usize + 1;
            Some(this)
        })
        .collect();
    let states: usize = demands.iter().map(|&(_, n)| n as usize + 1).product();
    let full: usize = demands
        .iter()
        .zip(&strides)
        .map(|(&(_, n), &s)| n as usize * s)
        .sum();
    let steps = (horizon - first + 1) as usize;
    let gap = spacing as usize;
    // table[t][s]: the best objective placing the VMs still needed in
    // state s, with the next ready time at first + t or later.
    let mut table: Vec<Vec<Option<Objective>>> = vec![vec![None; states]; steps + gap];
    for row in &mut table[steps..] {
        row[0] = Some(Objective::default());
    }
    for t in (0..steps).rev() {
        let instant = first + t as i64;
        for s in 0..states {
            let mut found = table[t + 1][s];
            for (e, &(deadline, n)) in demands.iter().enumerate() {
                let left = (s / strides[e]) % (n as usize + 1);
                if left == 0 {
                    continue;
                }
                if let Some(rest) = table[t + gap][s - strides[e]] {
                    let here = Objective::of(instant, deadline).plus(rest);
                    found = Some(found.map_or(here, |f| f.min(here)));
                }
            }
            table[t][s] = found;
        }
    }
    table[0][full].expect("every demand fits before the horizon")
}

/// The same as [`best`] the slowest way: every set of ready times up to a
/// generous horizon, times every order of the VMs over them. For a handful
/// of VMs only; it keeps [`best`] honest.
pub(super) fn best_by_enumeration(
    first: Micros,
    spacing: Micros,
    demands: &[(Micros, u32)],
) -> Objective {
    let spacing = spacing.max(1);
    let units: Vec<Micros> = demands
        .iter()
        .flat_map(|&(d, n)| (0..n).map(move |_| d))
        .collect();
    if units.is_empty() {
        return Objective::default();
    }
    let latest = units.iter().copied().max().unwrap_or(first);
    let horizon = latest.max(first + (units.len() as i64 - 1) * spacing) + 2 * spacing + 3;
    let mut found: Option<Objective> = None;
    let mut times: Vec<Micros> = Vec::new();
    fn sets(
        from: Micros,
        horizon: Micros,
        spacing: Micros,
        left: usize,
        times: &mut Vec<Micros>,
        each: &mut dyn FnMut(&[Micros]),
    ) {
        if left == 0 {
            each(times);
            return;
        }
        for t in from..=horizon {
            times.push(t);
            sets(t + spacing, horizon, spacing, left - 1, times, each);
            times.pop();
        }
    }
    fn orders(units: &mut Vec<Micros>, k: usize, each: &mut dyn FnMut(&[Micros])) {
        if k == units.len() {
            each(units);
            return;
        }
        for i in k..units.len() {
            units.swap(k, i);
            orders(units, k + 1, each);
            units.swap(k, i);
        }
    }
    let mut units = units;
    let n = units.len();
    sets(first, horizon, spacing, n, &mut times, &mut |set| {
        orders(&mut units, 0, &mut |deadlines| {
            let cost = set
                .iter()
                .zip(deadlines)
                .fold(Objective::default(), |sum, (&r, &d)| {
                    sum.plus(Objective::of(r, d))
                });
            found = Some(found.map_or(cost, |f| f.min(cost)));
        });
    });
    found.expect("some schedule fits before the horizon")
}
