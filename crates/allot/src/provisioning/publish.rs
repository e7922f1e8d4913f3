//! What the executor tells the outside: notifications on the shared feed
//! (an exam became infeasible, its shortfall changed, a VM may have
//! leaked) and Prometheus metrics.
//!
//! A notification is written in the same transaction as the state it
//! reports (the shortfall last notified, the ledger row marked
//! `maybe_leaked`), so it is written exactly once per change, whichever
//! replica leads and however often it restarts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use allot_kernel::provisioning::Plan;
use jiff::Timestamp;
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, LedgerRow, LedgerState};
use super::watch::ExamSnapshot;
use crate::notifications::{Hub, NewNotification};
use crate::store::{Db, Tx};

/// Notifications of the provisioning module.
pub const EXAM_INFEASIBLE: &str = "exam_infeasible";
pub const SHORTFALL_CHANGED: &str = "shortfall_changed";
pub const VM_MAYBE_LEAKED: &str = "vm_maybe_leaked";

#[derive(Clone, Default)]
pub struct Publisher {
    /// Wakes long-polling readers of the feed in this process.
    hub: Option<Arc<Hub>>,
}

fn time(micros: Option<i64>) -> Option<Timestamp> {
    micros.and_then(|m| Timestamp::from_microsecond(m).ok())
}

impl Publisher {
    pub fn new(hub: Option<Arc<Hub>>) -> Publisher {
        Publisher { hub }
    }

    async fn notify(
        &self,
        tx: &mut Tx<'_>,
        kind: &str,
        exam_id: Uuid,
        data: serde_json::Value,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        crate::notifications::insert(
            tx,
            NewNotification {
                id: Uuid::now_v7(),
                module: crate::notifications::PROVISIONING,
                kind,
                calendar_id: None,
                event_id: None,
                exam_id: Some(exam_id),
                at: now,
                data,
            },
        )
        .await
    }

    fn bump(&self) {
        if let Some(hub) = &self.hub {
            hub.bump();
        }
    }

    /// Saves `row` (marked `maybe_leaked`) with its `vm_maybe_leaked`
    /// notification.
    pub async fn maybe_leaked(
        &self,
        db: &Db,
        row: &LedgerRow,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        tracing::warn!(key = %row.idempotency_key, "provisioning: start() was called and its answer not recorded (a crash?); the VM may have leaked; asking again under the same key");
        metrics::counter!("allot_provisioning_maybe_leaked_total").increment(1);
        let mut tx = db.begin().await?;
        ledger::save_in(&mut tx, row).await?;
        let data = json!({
            "exam_id": row.exam_id,
            "slot": row.slot,
            "ledger_id": row.id,
            "idempotency_key": row.idempotency_key,
            "requested_at": row.requested_at,
        });
        self.notify(&mut tx, VM_MAYBE_LEAKED, row.exam_id, data, now)
            .await?;
        tx.commit().await?;
        self.bump();
        Ok(())
    }

    /// Notifies every exam still to start whose predicted shortfall
    /// differs from the one last notified; forgets exams no longer planned.
    pub async fn forecasts(
        &self,
        db: &Db,
        exams: &ExamSnapshot,
        plan: &Plan,
        notified: &mut HashMap<Uuid, u32>,
        now: Timestamp,
    ) {
        let mut total: u64 = 0;
        let mut wrote = false;
        let planned: HashSet<Uuid> = exams.iter().map(|e| e.id).collect();
        notified.retain(|id, _| planned.contains(id));
        for (exam, forecast) in exams.iter().zip(&plan.exams) {
            if exam.start_at <= now {
                continue;
            }
            total += u64::from(forecast.shortfall);
            let before = notified.get(&exam.id).copied().unwrap_or(0);
            if before == forecast.shortfall {
                continue;
            }
            let kind = if before == 0 {
                EXAM_INFEASIBLE
            } else {
                SHORTFALL_CHANGED
            };
            let data = json!({
                "exam_id": exam.id,
                "name": exam.name,
                "start_at": exam.start_at,
                "needed": forecast.needed,
                "predicted_ready_at_start": forecast.predicted_ready_at_start,
                "shortfall": forecast.shortfall,
                "previous_shortfall": before,
                "fully_ready_at": time(forecast.fully_ready_at),
            });
            let written = async {
                let mut tx = db.begin().await?;
                ledger::record_shortfall(&mut tx, exam.id, forecast.shortfall, now).await?;
                self.notify(&mut tx, kind, exam.id, data, now).await?;
                tx.commit().await
            };
            match written.await {
                Ok(()) => {
                    tracing::info!(exam = %exam.id, name = %exam.name, shortfall = forecast.shortfall, before, "provisioning: predicted shortfall changed");
                    notified.insert(exam.id, forecast.shortfall);
                    wrote = true;
                }
                Err(e) => {
                    tracing::warn!(error = %e, exam = %exam.id, "provisioning: cannot record a shortfall change; will retry at the next plan");
                }
            }
        }
        if wrote {
            self.bump();
        }
        metrics::gauge!("allot_provisioning_predicted_shortfall").set(total as f64);
    }

    /// Whether this replica executes (holds the lease). One that stops
    /// also zeroes the gauges only the executing replica keeps: left as
    /// they were, a replica that lost the lease would go on reporting its
    /// last VM counts and plan beside the new leader's, and a sum over the
    /// replicas would count every VM twice.
    pub fn leading(&self, leading: bool) {
        metrics::gauge!("allot_provisioning_leading").set(if leading { 1.0 } else { 0.0 });
        if leading {
            return;
        }
        for state in LedgerState::ALL.into_iter().filter(|s| s.is_open()) {
            metrics::gauge!("allot_provisioning_vms", "state" => state.as_str()).set(0.0);
        }
        for endpoint in ["start", "stop"] {
            metrics::gauge!("allot_provisioning_planned_calls", "endpoint" => endpoint).set(0.0);
        }
        metrics::gauge!("allot_provisioning_predicted_shortfall").set(0.0);
    }

    /// VMs by state (of the open ledger rows) and the calls planned.
    pub fn gauges(&self, states: impl Iterator<Item = LedgerState>, plan: &Plan) {
        let mut counts: HashMap<LedgerState, u64> = HashMap::new();
        for state in states {
            *counts.entry(state).or_default() += 1;
        }
        for state in LedgerState::ALL.into_iter().filter(|s| s.is_open()) {
            let n = counts.get(&state).copied().unwrap_or(0);
            metrics::gauge!("allot_provisioning_vms", "state" => state.as_str()).set(n as f64);
        }
        let starts: u64 = plan.starts.iter().map(|r| u64::from(r.count)).sum();
        metrics::gauge!("allot_provisioning_planned_calls", "endpoint" => "start")
            .set(starts as f64);
        metrics::gauge!("allot_provisioning_planned_calls", "endpoint" => "stop")
            .set(plan.stops.len() as f64);
    }

    /// One call made to the provider, by endpoint and outcome (`ok`,
    /// `rate_limited`, `error`, `refused`).
    pub fn call(&self, endpoint: &'static str, outcome: &'static str) {
        metrics::counter!("allot_provisioning_calls_total", "endpoint" => endpoint, "outcome" => outcome)
            .increment(1);
        if outcome == "rate_limited" {
            metrics::counter!("allot_provisioning_rate_limited_total", "endpoint" => endpoint)
                .increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use allot_kernel::provisioning::{StopCall, VmKey};
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    /// The value of the first sample line that starts with `series`.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[test]
    fn a_replica_that_stops_leading_zeroes_what_only_the_leader_reports() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let publisher = Publisher::default();
        let key = VmKey {
            exam: allot_kernel::provisioning::ExamId(1),
            slot: 0,
        };
        let plan = Plan {
            starts: Vec::new(),
            stops: vec![StopCall { key, at: 0 }],
            exams: Vec::new(),
        };
        let ready = "allot_provisioning_vms{state=\"ready\"}";
        let stops = "allot_provisioning_planned_calls{endpoint=\"stop\"}";
        let shortfall = "allot_provisioning_predicted_shortfall";
        metrics::with_local_recorder(&recorder, || {
            publisher.leading(true);
            let states = [LedgerState::Ready, LedgerState::Ready, LedgerState::Pending];
            publisher.gauges(states.into_iter(), &plan);
            metrics::gauge!(shortfall).set(7.0);
        });
        let led = handle.render();
        assert_eq!(
            sample(&led, "allot_provisioning_leading"),
            Some(1.0),
            "{led}"
        );
        assert_eq!(sample(&led, ready), Some(2.0), "{led}");
        assert_eq!(sample(&led, stops), Some(1.0), "{led}");
        metrics::with_local_recorder(&recorder, || publisher.leading(false));
        let after = handle.render();
        assert_eq!(
            sample(&after, "allot_provisioning_leading"),
            Some(0.0),
            "{after}"
        );
        for series in [
            ready,
            "allot_provisioning_vms{state=\"pending\"}",
            stops,
            shortfall,
        ] {
            assert_eq!(sample(&after, series), Some(0.0), "{series}: {after}");
        }
    }
}
