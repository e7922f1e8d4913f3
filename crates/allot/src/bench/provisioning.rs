//! `allot bench provisioning`: how fast the provisioning planner plans.
//!
//! - plan: 1,000 exams of 2,500 students over three days (starts on the
//!   quarter hour between 08:00 and 18:00, one to three hours long), an
//!   empty ledger; the time of `allot_kernel::provisioning::plan`;
//! - replan: the same with one exam moved by 30 minutes (what the service
//!   does after one change);
//! - ledger: mid-morning of the first day, every VM of the first 100 exams
//!   in the ledger (250,000 rows, a tenth still pending);
//! - baseline_per_vm: in the same run, what a typical planner does: one
//!   row per VM, sorted by deadline, assigned ready times one by one
//!   backwards from the latest deadline (no shortfall accounting, no
//!   ledger). It answers less and shows what planning per exam saves.

use std::time::Instant;

use allot_kernel::provisioning::{Exam, ExamId, Micros, Profile, Vm, VmKey, VmState, plan};
use clap::Args;
use serde_json::{Value, json};

use super::{machine, quantile};

#[derive(Debug, Clone, Args)]
pub struct ProvisioningBenchArgs {
    /// Exams planned.
    #[arg(long, default_value_t = 1_000)]
    pub exams: u32,
    /// Students per exam.
    #[arg(long, default_value_t = 2_500)]
    pub students: u32,
    /// Timed runs per scenario (the median and p99 are reported).
    #[arg(long, default_value_t = 51)]
    pub runs: usize,
    /// Smaller sizes, for CI smoke runs.
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON document per scenario instead of a table.
    #[arg(long)]
    pub json: bool,
}

const MINUTE: Micros = 60_000_000;
const HOUR: Micros = 60 * MINUTE;
const DAY: Micros = 24 * HOUR;

/// splitmix64: the same day every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n.max(1) as u64) as i64
    }
}

fn school_days(n: u32, students: u32, now: Micros) -> Vec<Exam> {
    let mut rng = Rng(0x5EED);
    (0..n)
        .map(|id| {
            let start = now + rng.below(3) * DAY + 8 * HOUR + rng.below(40) * 15 * MINUTE;
            Exam {
                id: ExamId(u128::from(id)),
                start,
                end: start + HOUR + rng.below(3) * HOUR,
                students,
            }
        })
        .collect()
}

/// Times `runs` calls of `f` after a warm-up: (p50 ms, p99 ms, last result).
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut last = f();
    let mut ms: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            last = std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    (round(quantile(&ms, 0.5)), round(quantile(&ms, 0.99)), last)
}

/// The per-VM baseline: one (deadline, exam) row per VM, latest deadline
/// first, each VM ready one period before the next or at its deadline.
fn per_vm_plan(exams: &[Exam], profile: &Profile) -> Vec<(Micros, ExamId)> {
    let mut rows: Vec<(Micros, ExamId)> = exams
        .iter()
        .flat_map(|e| (0..e.students).map(move |_| (e.start - profile.margin, e.id)))
        .collect();
    rows.sort_unstable_by(|a, b| b.cmp(a));
    let mut next = Micros::MAX;
    for row in &mut rows {
        next = row.0.min(next.saturating_sub(profile.spacing()));
        row.0 = next;
    }
    rows
}

pub async fn run(args: ProvisioningBenchArgs) -> Result<(), String> {
    let (exams_n, students, runs) = if args.quick {
        (100, 250, 11)
    } else {
        (args.exams, args.students, args.runs)
    };
    // 2 March 2026 00:00 UTC.
    let now: Micros = 1_772_409_600 * 1_000_000;
    let profile = Profile {
        margin: 2 * MINUTE,
        ..Profile::default()
    };
    let exams = school_days(exams_n, students, now);
    let mut out: Vec<Value> = Vec::new();

    let (p50, p99, planned) = timed(runs, || plan(&exams, &[], now, &profile));
    let calls: u64 = planned.starts.iter().map(|r| u64::from(r.count)).sum();
    let on_time: u64 = planned
        .exams
        .iter()
        .map(|f| u64::from(f.predicted_ready_at_start))
        .sum();
    out.push(json!({
        "scenario": "plan", "exams": exams_n, "students_each": students,
        "p50_ms": p50, "p99_ms": p99, "start_runs": planned.starts.len(),
        "start_calls": calls, "ready_on_time": on_time, "target_ms": 100,
    }));

    let mut moved = exams.clone();
    if let Some(e) = moved.get_mut(exams.len() / 2) {
        e.start += 30 * MINUTE;
        e.end += 30 * MINUTE;
    }
    let (p50, p99, _) = timed(runs, || plan(&moved, &[], now, &profile));
    out.push(json!({
        "scenario": "replan", "change": "one exam moved by 30 minutes",
        "p50_ms": p50, "p99_ms": p99, "target_ms": 10,
    }));

    let later = now + 8 * HOUR;
    let mut by_start: Vec<&Exam> = exams.iter().collect();
    by_start.sort_by_key(|e| (e.start, e.id));
    let ledger: Vec<Vm> = by_start
        .iter()
        .take(100)
        .flat_map(|e| {
            (0..e.students).map(move |slot| Vm {
                key: VmKey { exam: e.id, slot },
                state: if slot % 10 == 0 {
                    VmState::Pending { ready_at: None }
                } else {
                    VmState::Ready { at: later - HOUR }
                },
                requested_at: later - 2 * HOUR,
                stoppable: true,
            })
        })
        .collect();
    let (p50, p99, busy) = timed(runs.min(11), || plan(&exams, &ledger, later, &profile));
    out.push(json!({
        "scenario": "ledger", "ledger_rows": ledger.len(), "p50_ms": p50, "p99_ms": p99,
        "stop_calls": busy.stops.len(),
    }));

    let (p50, p99, rows) = timed(runs.min(11), || per_vm_plan(&exams, &profile));
    out.push(json!({
        "scenario": "baseline_per_vm", "rows": rows.len(), "p50_ms": p50, "p99_ms": p99,
    }));

    let machine = machine();
    if args.json {
        for mut doc in out {
            doc["machine"] = machine.clone();
            println!("{doc}");
        }
    } else {
        println!("allot bench provisioning on {machine}");
        for doc in out {
            println!("{doc}");
        }
    }
    Ok(())
}
