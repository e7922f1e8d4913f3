//! What the user sees of provisioning: one exam's status, the planned
//! calls over time, and the VM ledger.
//!
//! The status and the plan are the kernel's plan at the server's `now`,
//! computed from the stored exams and the open ledger rows
//! ([`super::executor::plan_for`]) with this server's profile. Any replica
//! answers them the same way, whether or not it runs the executor: the
//! executor follows the same plan from the same rows (it replans at least
//! every 30 s, so between replans its calls may drift from this view by
//! the provider's real pace).
//!
//! Unreadable exam rows are left out of the plan, as the executor leaves
//! them out; asking for one by id is a 409.

use std::collections::{HashMap, HashSet};

use allot_kernel::provisioning::{ExamId, Forecast, Micros, Plan, StartRun, StopCall};
use jiff::Timestamp;
use uuid::Uuid;

use super::executor::plan_for;
use super::ledger::{self, LedgerFilter, LedgerRow, LedgerState};
use super::model::{
    ExamProvisioning, PlanExam, PlanForecast, PlanQuery, ProvisioningPlan, StartRunView,
    StopRunView, VmListQuery,
};
use super::service::{ProvisioningConfig, unreadable};
use super::store::{self, ExamRow};
use crate::booking::service::query_time;
use crate::booking::store::Src;
use crate::http::paging::{Page, bad_cursor, page_limit};
use crate::http::problem::Problem;
use crate::store::Db;

/// The most exams one plan answer holds.
pub const MAX_PLAN_EXAMS: usize = 1000;
/// The most runs (start and stop runs together) one plan answer holds.
pub const MAX_PLAN_RUNS: usize = 1000;

/// A time from the kernel; `None` for one outside the representable range
/// (the kernel saturates rather than fail).
fn time(m: Micros) -> Option<Timestamp> {
    Timestamp::from_microsecond(m).ok()
}

/// A kernel time that is always in range when it comes from in-range
/// inputs; `fallback` otherwise.
fn time_or(m: Micros, fallback: Timestamp) -> Timestamp {
    time(m).unwrap_or(fallback)
}

/// The exams the planner is given: every readable row, as the executor's
/// watcher reads them.
async fn readable_exams(db: &Db) -> Result<Vec<ExamRow>, Problem> {
    Ok(store::all(db)
        .await?
        .into_iter()
        .filter_map(Result::ok)
        .collect())
}

/// The plan at `now` and what it was made from.
struct View {
    exams: Vec<ExamRow>,
    open: Vec<LedgerRow>,
    plan: Plan,
}

async fn view(db: &Db, config: &ProvisioningConfig, now: Timestamp) -> Result<View, Problem> {
    let exams = readable_exams(db).await?;
    let open = ledger::open(db).await?;
    let plan = plan_for(&exams, &open, now, &config.profile);
    Ok(View { exams, open, plan })
}

fn deadline(exam: &ExamRow, config: &ProvisioningConfig) -> Timestamp {
    time_or(exam.planned().deadline(&config.profile), exam.start_at)
}

fn forecast_view(f: &Forecast) -> PlanForecast {
    PlanForecast {
        needed: f.needed,
        live: f.live,
        ready: f.ready_now,
        predicted_ready_at_start: f.predicted_ready_at_start,
        shortfall: f.shortfall,
        feasible: f.shortfall == 0,
        fully_ready_at: f.fully_ready_at.and_then(time),
        next_start_call_at: f.next_start_call_at.and_then(time),
    }
}

/// `GET /v1/exams/{id}/provisioning`
pub async fn exam_status(
    db: &Db,
    config: &ProvisioningConfig,
    now: Timestamp,
    id: &str,
) -> Result<ExamProvisioning, Problem> {
    // As `GET /v1/exams/{id}`: an id that is no UUID names no exam (404).
    let uuid = crate::http::paging::parse_id(id, "exam")?;
    // The plan is made from every readable exam; this one must be among
    // them. If it is not, the row says why (absent or unreadable); one
    // created between the two reads is planned again.
    let mut again = true;
    let (View { exams, open, plan }, i) = loop {
        let v = view(db, config, now).await?;
        if let Some(i) = v.exams.iter().position(|e| e.id == uuid) {
            break (v, i);
        }
        match store::get(Src::Db(db), uuid).await? {
            Some(Err(u)) => return Err(unreadable(&u)),
            Some(Ok(_)) if again => again = false,
            _ => return Err(Problem::not_found("exam", id)),
        }
    };
    let exam = &exams[i];
    let forecast = plan
        .exams
        .get(i)
        .copied()
        .ok_or_else(|| Problem::internal(&"the plan has no forecast for one of its exams"))?;
    let counts = ledger::counts(db, uuid).await?;
    let count = |state: LedgerState| {
        counts
            .iter()
            .find(|(s, _)| *s == state)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let key = ExamId(uuid.as_u128());
    let planned_starts = plan
        .starts
        .iter()
        .filter(|r| r.exam == key)
        .map(|r| u64::from(r.count))
        .sum();
    let maybe_leaked = open
        .iter()
        .filter(|r| r.exam_id == uuid && r.maybe_leaked && r.state == LedgerState::Requesting)
        .count() as u64;
    let f = forecast_view(&forecast);
    Ok(ExamProvisioning {
        exam_id: exam.id,
        name: exam.name.clone(),
        start_at: exam.start_at,
        end_at: exam.end_at,
        deadline: deadline(exam, config),
        needed: f.needed,
        requested: counts
            .iter()
            .filter(|(s, _)| *s != LedgerState::Failed)
            .map(|(_, n)| n)
            .sum(),
        pending: count(LedgerState::Requesting) + count(LedgerState::Pending),
        ready: f.ready,
        stopping: count(LedgerState::Stopping),
        stopped: count(LedgerState::Stopped),
        failed: count(LedgerState::Failed),
        maybe_leaked,
        predicted_ready_at_start: f.predicted_ready_at_start,
        shortfall: f.shortfall,
        feasible: f.feasible,
        fully_ready_at: f.fully_ready_at,
        next_start_call_at: f.next_start_call_at,
        planned_starts,
        executor: config.cloud_url.is_some(),
        as_of: now,
    })
}

/// `[from, to)` in microseconds; `to` unbounded when `None`.
#[derive(Clone, Copy)]
struct Window {
    from: Micros,
    to: Option<Micros>,
}

impl Window {
    /// Whether `[first, last]` overlaps the window.
    fn overlaps(&self, first: Micros, last: Micros) -> bool {
        last >= self.from && self.to.is_none_or(|to| first < to)
    }
}

fn start_view(r: &StartRun) -> StartRunView {
    let last = r.call(r.count.saturating_sub(1));
    let first_at = time_or(r.first_at, Timestamp::MIN);
    let first_ready_at = time_or(r.first_ready, Timestamp::MAX);
    StartRunView {
        first_at,
        last_at: time_or(last.at, first_at),
        count: r.count,
        step_seconds: r.step as f64 / 1e6,
        first_slot: r.first_slot,
        first_ready_at,
        last_ready_at: time_or(last.ready, first_ready_at),
    }
}

/// One exam's run of consecutive stop calls.
struct StopRun {
    exam: ExamId,
    first: Micros,
    last: Micros,
    count: u32,
}

/// The stop calls (in time order) as runs: consecutive calls of one exam,
/// each one request `interval` after the previous one (a longer gap, as
/// when the next calls wait for the exam's end, starts a new run).
fn stop_runs(stops: &[StopCall], interval: Micros) -> Vec<StopRun> {
    let mut runs: Vec<StopRun> = Vec::new();
    for call in stops {
        match runs.last_mut() {
            Some(run)
                if run.exam == call.key.exam
                    && call.at.saturating_sub(run.last) <= interval.max(0) =>
            {
                run.last = call.at;
                run.count = run.count.saturating_add(1);
            }
            _ => runs.push(StopRun {
                exam: call.key.exam,
                first: call.at,
                last: call.at,
                count: 1,
            }),
        }
    }
    runs
}

/// `GET /v1/provisioning/plan`
pub async fn plan(
    db: &Db,
    config: &ProvisioningConfig,
    now: Timestamp,
    q: &PlanQuery,
) -> Result<ProvisioningPlan, Problem> {
    let from = query_time("from", &q.from)?.unwrap_or(now);
    let to = query_time("to", &q.to)?;
    if let Some(to) = to
        && to <= from
    {
        return Err(Problem::invalid_query(format!(
            "to ({to}) must be after from ({from}{})",
            if q.from.is_none() { ", now" } else { "" }
        )));
    }
    let window = Window {
        from: from.as_microsecond(),
        to: to.map(|t| t.as_microsecond()),
    };
    let View { exams, plan, .. } = view(db, config, now).await?;

    // Every run in the window, grouped by exam (each kind in time order).
    let mut starts: HashMap<ExamId, Vec<StartRunView>> = Default::default();
    for run in plan
        .starts
        .iter()
        .filter(|r| window.overlaps(r.first_at, r.last_at()))
    {
        starts.entry(run.exam).or_default().push(start_view(run));
    }
    let mut stops: HashMap<ExamId, Vec<StopRunView>> = Default::default();
    for run in stop_runs(&plan.stops, config.profile.request_interval)
        .into_iter()
        .filter(|r| window.overlaps(r.first, r.last))
    {
        let first_at = time_or(run.first, Timestamp::MIN);
        stops.entry(run.exam).or_default().push(StopRunView {
            first_at,
            last_at: time_or(run.last, first_at),
            count: run.count,
        });
    }

    // Exams no longer in the table first (their VMs are stopped now), by
    // id; then the table's exams by start, then id.
    let known: HashSet<ExamId> = exams.iter().map(|e| ExamId(e.id.as_u128())).collect();
    let mut gone: Vec<ExamId> = stops
        .keys()
        .chain(starts.keys())
        .filter(|k| !known.contains(k))
        .copied()
        .collect();
    gone.sort_unstable();
    gone.dedup();
    let mut order: Vec<usize> = (0..exams.len()).collect();
    order.sort_by_key(|&i| (exams[i].start_at, exams[i].id));

    let mut out = Vec::new();
    let mut runs = 0usize;
    let mut truncated = false;
    let entries = gone.into_iter().map(|k| (k, None)).chain(
        order
            .into_iter()
            .map(|i| (ExamId(exams[i].id.as_u128()), Some(i))),
    );
    for (key, index) in entries {
        let mut s = starts.remove(&key).unwrap_or_default();
        let mut p = stops.remove(&key).unwrap_or_default();
        let in_window = index.is_some_and(|i| {
            let (start, end) = (
                exams[i].start_at.as_microsecond(),
                exams[i].end_at.as_microsecond(),
            );
            end > window.from && window.to.is_none_or(|to| start < to)
        });
        if s.is_empty() && p.is_empty() && !in_window {
            continue;
        }
        if out.len() == MAX_PLAN_EXAMS {
            truncated = true;
            break;
        }
        let room = MAX_PLAN_RUNS - runs;
        if s.len() + p.len() > room {
            truncated = true;
            if room == 0 {
                break;
            }
            s.truncate(room);
            p.truncate(room - s.len());
        }
        runs += s.len() + p.len();
        out.push(match index {
            None => PlanExam {
                exam_id: Uuid::from_u128(key.0),
                name: None,
                start_at: None,
                end_at: None,
                deadline: None,
                forecast: None,
                starts: s,
                stops: p,
            },
            Some(i) => {
                let exam = &exams[i];
                PlanExam {
                    exam_id: exam.id,
                    name: Some(exam.name.clone()),
                    start_at: Some(exam.start_at),
                    end_at: Some(exam.end_at),
                    deadline: Some(deadline(exam, config)),
                    forecast: plan.exams.get(i).map(forecast_view),
                    starts: s,
                    stops: p,
                }
            }
        });
        if truncated {
            break;
        }
    }
    Ok(ProvisioningPlan {
        as_of: now,
        from,
        to,
        executor: config.cloud_url.is_some(),
        exams: out,
        truncated,
    })
}

/// `GET /v1/provisioning/vms`: ledger rows by id (creation order).
pub async fn vms(db: &Db, q: &VmListQuery) -> Result<Page<LedgerRow>, Problem> {
    let limit = page_limit(q.limit)?;
    let exam_id = match q.exam_id.as_deref() {
        None => None,
        Some(e) => Some(e.parse::<Uuid>().map_err(|_| {
            Problem::invalid_query(format!("exam_id {e:?} is not an exam id (a UUID)"))
        })?),
    };
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<LedgerState>().map_err(|_| {
            let allowed: Vec<&str> = LedgerState::ALL.iter().map(|s| s.as_str()).collect();
            Problem::invalid_query(format!("state {s:?} is not one of {}", allowed.join(", ")))
        })?),
    };
    let after = match &q.cursor {
        None => None,
        Some(c) => Some(c.parse::<Uuid>().map_err(|_| bad_cursor(c))?),
    };
    let mut rows = ledger::list(
        db,
        &LedgerFilter {
            exam_id,
            state,
            after,
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(Page {
        next_cursor: if more {
            rows.last().map(|r| r.id.to_string())
        } else {
            None
        },
        items: rows,
    })
}
