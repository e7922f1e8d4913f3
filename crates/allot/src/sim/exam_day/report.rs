//! What an exam day came to, measured at the simulator, next to what the
//! planner predicted; as a table for people or one JSON document.
//!
//! Per exam (the cancelled one is reported apart):
//!
//! - `needed`: its students at the end (after a resize);
//! - `ready_at_start`: its VMs ready at `start` and not stopped by then;
//! - `feasible`: the planner's last forecast before the exam's deadline
//!   (`start - margin`) had no shortfall; `feasible_when_known` is the
//!   same of its first forecast, the moment it was written to the table;
//! - `idle_vm_minutes`: the sum over its VMs of `start - ready_at` (up to
//!   a stop before the start, for the surplus of a shrunk exam), measured;
//!   `idle_lower_bound` is the planner's `Forecast::idle_lower_bound` in
//!   the same unit: the idle of the exam alone on an empty provider;
//! - `minutes_to_last_stop`: from its end to its last VM's stop (`null`
//!   when a VM of it was never stopped, or it had none);
//! - `ready_by_deadline` against `predicted_ready_at_start`: the VMs
//!   ready by the deadline, measured and as last predicted
//!   (`prediction_matches`); `predicted_when_known` and
//!   `prediction_changes` say how the prediction moved and after which
//!   scenario change.
//!
//! Totals: `rate_limited` (429s the simulator sent, start and stop) and
//! `leaked` (VMs not stopped at the end, or not accounted for by a ledger
//! row of their idempotency key); both must be 0.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use uuid::Uuid;

use crate::cli::table::Table;

/// VM-minutes or minutes, to the hundredth.
pub fn minutes(d: SignedDuration) -> f64 {
    (d.as_secs_f64() / 60.0 * 100.0).round() / 100.0
}

/// One exam's outcome. The first seven fields are the contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExamReport {
    pub name: String,
    pub needed: u32,
    pub ready_at_start: u32,
    pub feasible: bool,
    pub idle_vm_minutes: f64,
    /// VM-minutes, like `idle_vm_minutes`.
    pub idle_lower_bound: f64,
    pub minutes_to_last_stop: Option<f64>,
    pub id: Uuid,
    pub start: Timestamp,
    pub end: Timestamp,
    /// When it was written to the exams table.
    pub known_at: Timestamp,
    /// Added during the day.
    pub late: bool,
    /// Its students before the resize, if it was resized.
    pub resized_from: Option<u32>,
    /// VMs the simulator made for it.
    pub vms: u64,
    /// Its VMs ready at `start - margin`.
    pub ready_by_deadline: u32,
    pub predicted_when_known: u32,
    pub feasible_when_known: bool,
    /// VMs on time by the deadline, in the last forecast before it.
    pub predicted_ready_at_start: u32,
    /// The planner's idle in that forecast.
    pub predicted_idle_vm_minutes: f64,
    /// `ready_by_deadline == predicted_ready_at_start`.
    pub prediction_matches: bool,
    pub prediction_changes: Vec<PredictionChange>,
}

/// A change of an exam's predicted VMs on time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionChange {
    pub at: Timestamp,
    /// Its students at the time.
    pub needed: u32,
    pub from: u32,
    pub to: u32,
    /// The scenario change just before it, if there was one since the
    /// planner's previous look at this exam (else the provider differed
    /// from the planner's model).
    pub after: Option<String>,
}

/// The cancelled exam.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CancelledReport {
    pub name: String,
    pub needed: u32,
    pub start: Timestamp,
    pub cancelled_at: Timestamp,
    /// VMs of it the planner counted started (pending or ready) then.
    pub started_when_cancelled: u32,
    /// VMs the simulator made for it in all.
    pub vms: u64,
    /// From the cancellation to its last VM's stop.
    pub minutes_to_last_stop: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderReport {
    pub vms_per_minute: u32,
    pub requests_per_second: u32,
    pub margin_minutes: f64,
}

/// The whole day. `exams`, `rate_limited` and `leaked` are the issue's
/// contract; the rest is added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// By start, then end, then name.
    pub exams: Vec<ExamReport>,
    /// 429s received; must be 0.
    pub rate_limited: u64,
    /// `not_stopped` and `unaccounted` VMs (each VM counted once); must be 0.
    pub leaked: u64,
    pub seed: u64,
    /// 00:00 of the simulated day.
    pub day: Timestamp,
    pub provider: ProviderReport,
    pub cancelled: Option<CancelledReport>,
    pub vms_started: u64,
    /// VMs the simulator still ran at the end.
    pub not_stopped: u64,
    /// VMs with no ledger row of their key (or one recording another VM).
    pub unaccounted: u64,
    /// Slots that had two VMs alive at once; must be 0.
    pub slots_with_two_vms: u64,
    pub start_calls: u64,
    pub stop_calls: u64,
    /// When the run ended (virtual time).
    pub simulated_until: Timestamp,
    /// Executor steps.
    pub steps: u64,
}

fn clock_time(t: Timestamp, day: Timestamp) -> String {
    let days = t.duration_since(day).as_hours().div_euclid(24);
    let hm = t.to_zoned(TimeZone::UTC).strftime("%H:%M").to_string();
    if days == 0 {
        hm
    } else {
        format!("{hm} (day {days:+})")
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// What went wrong, one line each; empty when the day went as it
    /// must: no 429, nothing leaked, no slot with two VMs, every exam the
    /// planner last called feasible ready at its start, and every exam
    /// ready by its deadline exactly as last predicted.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.rate_limited > 0 {
            out.push(format!("{} requests were answered 429", self.rate_limited));
        }
        if self.leaked > 0 {
            out.push(format!(
                "{} VMs leaked ({} not stopped, {} not accounted for by the ledger)",
                self.leaked, self.not_stopped, self.unaccounted
            ));
        }
        if self.slots_with_two_vms > 0 {
            out.push(format!(
                "{} slots had two VMs at once",
                self.slots_with_two_vms
            ));
        }
        for e in &self.exams {
            if e.feasible && e.ready_at_start < e.needed {
                out.push(format!(
                    "{} was predicted feasible but had {} of {} VMs ready at its start",
                    e.name, e.ready_at_start, e.needed
                ));
            }
            if !e.prediction_matches {
                out.push(format!(
                    "{} was predicted {} VMs ready by its deadline and had {}",
                    e.name, e.predicted_ready_at_start, e.ready_by_deadline
                ));
            }
        }
        out
    }

    /// The per-exam table and the totals, for people.
    pub fn render_text(&self, elapsed: Option<std::time::Duration>) -> String {
        let mut out = format!(
            "exam day {} (seed {}): {} exams and 1 cancelled; provider {} VMs/min, {} requests/s; margin {} min\n\n",
            self.day.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d"),
            self.seed,
            self.exams.len(),
            self.provider.vms_per_minute,
            self.provider.requests_per_second,
            self.provider.margin_minutes,
        );
        let mut table = Table::new(&[
            "EXAM",
            "START",
            "END",
            "NEEDED",
            "READY AT START",
            "FEASIBLE",
            "IDLE VM-MIN",
            "LOWER BOUND",
            "END TO LAST STOP",
            "NOTES",
        ]);
        for e in &self.exams {
            let mut notes = Vec::new();
            if e.late {
                notes.push(format!("added {}", clock_time(e.known_at, self.day)));
            }
            if let Some(before) = e.resized_from {
                notes.push(format!("resized from {before}"));
            }
            if !e.feasible {
                notes.push(format!(
                    "short {}",
                    e.needed.saturating_sub(e.ready_at_start)
                ));
            }
            if e.feasible != e.feasible_when_known
                || e.predicted_when_known != e.predicted_ready_at_start
            {
                notes.push(format!(
                    "predicted {} on time when known, {} at the end",
                    e.predicted_when_known, e.predicted_ready_at_start
                ));
            }
            if !e.prediction_matches {
                notes.push(format!(
                    "MISMATCH: {} ready by the deadline, {} predicted",
                    e.ready_by_deadline, e.predicted_ready_at_start
                ));
            }
            table.row(vec![
                e.name.clone(),
                clock_time(e.start, self.day),
                clock_time(e.end, self.day),
                e.needed.to_string(),
                e.ready_at_start.to_string(),
                yes(e.feasible).to_string(),
                format!("{:.1}", e.idle_vm_minutes),
                format!("{:.1}", e.idle_lower_bound),
                match (e.vms, e.minutes_to_last_stop) {
                    (0, _) => "- (no VM)".to_string(),
                    (_, None) => "never".to_string(),
                    (_, Some(m)) => format!("{m:.1} min"),
                },
                notes.join("; "),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
        if let Some(c) = &self.cancelled {
            out.push_str(&format!(
                "cancelled: {} ({} students, start {}) was deleted at {} with {} VMs started; {} made in all, the last stopped {}\n",
                c.name,
                c.needed,
                clock_time(c.start, self.day),
                clock_time(c.cancelled_at, self.day),
                c.started_when_cancelled,
                c.vms,
                c.minutes_to_last_stop
                    .map_or("never".to_string(), |m| format!("{m:.1} min later")),
            ));
        }
        out.push_str(&self.predictions_line());
        let idle: f64 = self.exams.iter().map(|e| e.idle_vm_minutes).sum();
        let bound: f64 = self.exams.iter().map(|e| e.idle_lower_bound).sum();
        out.push_str(&format!(
            "idle: {idle:.1} VM-minutes before the starts, against a lower bound of {bound:.1} for the exams each alone\n"
        ));
        out.push_str(&format!(
            "totals: {} VMs started, {} start and {} stop calls; 429s received: {} (must be 0); leaked VMs: {} (must be 0)\n",
            thousands(self.vms_started),
            thousands(self.start_calls),
            thousands(self.stop_calls),
            self.rate_limited,
            self.leaked,
        ));
        let took = elapsed.map_or(String::new(), |d| format!(" in {:.1} s", d.as_secs_f64()));
        out.push_str(&format!(
            "simulated {} to {}{took} ({} executor steps)\n",
            clock_time(self.day, self.day),
            clock_time(self.simulated_until, self.day),
            thousands(self.steps),
        ));
        let failures = self.failures();
        if failures.is_empty() {
            out.push_str("verdict: ok\n");
        } else {
            out.push_str(&format!("verdict: FAILED: {}\n", failures.join("; ")));
        }
        out
    }

    /// Whether the measured outcome is what the planner predicted.
    fn predictions_line(&self) -> String {
        let n = self.exams.len();
        let matched = self.exams.iter().filter(|e| e.prediction_matches).count();
        let infeasible: Vec<String> = self
            .exams
            .iter()
            .filter(|e| !e.feasible)
            .map(|e| format!("{} ({} of {})", e.name, e.ready_at_start, e.needed))
            .collect();
        let moved: Vec<&ExamReport> = self
            .exams
            .iter()
            .filter(|e| e.predicted_when_known != e.predicted_ready_at_start)
            .collect();
        let mut out = if matched == n {
            format!(
                "predictions: all {n} exams had exactly the VMs the planner last predicted ready by their deadline"
            )
        } else {
            format!(
                "predictions: {matched} of {n} exams had exactly the VMs the planner last predicted ready by their deadline"
            )
        };
        if moved.is_empty() {
            out.push_str(", as it predicted when each became known");
        } else {
            let names: Vec<String> = moved
                .iter()
                .map(|e| {
                    let after = e
                        .prediction_changes
                        .iter()
                        .filter_map(|c| c.after.as_deref())
                        .next_back()
                        .unwrap_or("a replan");
                    format!("{} after {after}", e.name)
                })
                .collect();
            let (count, verb, pronoun) = match moved.len() {
                1 => ("1 of them".to_string(), "was", "it"),
                n => (format!("{n} of them"), "were", "they"),
            };
            out.push_str(&format!(
                "; {count} {verb} predicted otherwise when {pronoun} became known: {}",
                names.join(", ")
            ));
        }
        out.push('\n');
        if infeasible.is_empty() {
            out.push_str("feasible: every exam\n");
        } else {
            out.push_str(&format!(
                "infeasible (ready at start of needed): {}\n",
                infeasible.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn minutes_round_to_the_hundredth() {
        assert_eq!(minutes(SignedDuration::from_secs(90)), 1.5);
        assert_eq!(minutes(SignedDuration::from_secs(1)), 0.02);
    }
}
