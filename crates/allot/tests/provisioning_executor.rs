//! The provisioning executor against `allot sim cloud`, on both backends,
//! on a manual clock: the seed's 27 VMs, overlapping exams, an infeasible
//! exam, a late addition, a cancellation, resizes, provider faults, a
//! crash between an intent and its answer, and two executors at once.
//! Each test ends with the audit of the simulator's VMs against the
//! ledger (`Rig::audit`).

mod common;

use allot::provisioning::ledger::LedgerState;
use allot::sim::cloud::Faults;
use allot_kernel::provisioning::Profile;
use jiff::SignedDuration;
use serde_json::json;

use common::provisioning::{Rig, at, provider};

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

both_backends!(
    the_seeds_27_vms_are_ready_at_the_start_and_stopped_after_it,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        let start = at(3600);
        let end = at(7200);
        let exam = rig.exam("seed", start, end, 27).await;
        rig.run_until(start).await;
        assert_eq!(rig.ready_at(exam, start), 27);
        let vms = rig.vms_of(exam);
        assert_eq!(vms.len(), 27, "exactly 27 VMs, never more");
        // As late as possible: one every 6 s, the last ready at the start.
        let mut ready: Vec<_> = vms.iter().map(|v| v.ready_at).collect();
        ready.sort();
        for (k, r) in ready.iter().enumerate() {
            assert_eq!(*r, start - secs(6 * (26 - k as i64)), "VM {k}");
        }
        let first_request = vms.iter().map(|v| v.requested_at).min().expect("some");
        assert_eq!(first_request, start - secs(162));
        rig.run_until(end + secs(60)).await;
        assert!(rig.all_stopped(), "every VM stopped after the end");
        let last_stop = rig
            .vms()
            .iter()
            .filter_map(|v| v.stopped_at)
            .max()
            .expect("stops");
        assert!(
            last_stop >= end && last_stop <= end + secs(10),
            "{last_stop}"
        );
        assert_eq!(rig.rate_limited(), 0);
        rig.audit().await;
        let ledger = rig.ledger(Some(exam)).await;
        assert_eq!(ledger.len(), 27);
        assert!(
            ledger
                .iter()
                .all(|r| r.state == LedgerState::Stopped && r.start_calls == 1)
        );
    }
);

both_backends!(overlapping_exams_are_both_ready, |backend| async move {
    let Some(mut rig) = Rig::new(backend).await else {
        return;
    };
    let a = rig.exam("a", at(3600), at(5400), 100).await;
    let b = rig.exam("b", at(3900), at(5400), 60).await;
    rig.run_until(at(3900)).await;
    assert_eq!(rig.ready_at(a, at(3600)), 100);
    assert_eq!(rig.ready_at(b, at(3900)), 60);
    assert_eq!(rig.vms().len(), 160);
    rig.run_until(at(5500)).await;
    assert!(rig.all_stopped());
    assert_eq!(rig.rate_limited(), 0);
    rig.audit().await;
});

both_backends!(
    an_infeasible_exam_gets_all_it_can_and_says_how_short,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        // 600 VMs fit in the hour before the start (one per 6 s); 100 do not.
        let exam = rig.exam("big", at(3600), at(7200), 700).await;
        rig.run_until(at(1)).await;
        let forecast = rig.executor.plan().expect("leading").exams[0];
        assert_eq!(forecast.shortfall, 100);
        assert_eq!(forecast.predicted_ready_at_start, 600);
        let notes = rig.notifications(1).await;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].0, "exam_infeasible");
        assert_eq!(notes[0].1["shortfall"], 100);
        assert_eq!(notes[0].1["exam_id"], exam.to_string());
        // Fewer students: the shortfall changes, and is notified once.
        rig.patch(exam, json!({"students": 650})).await;
        rig.run_until(at(3600)).await;
        let notes = rig.notifications(2).await;
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[1].0, "shortfall_changed");
        assert_eq!(
            (
                notes[1].1["shortfall"].clone(),
                notes[1].1["previous_shortfall"].clone()
            ),
            (json!(50), json!(100))
        );
        assert_eq!(rig.ready_at(exam, at(3600)), 600);
        rig.run_until(at(4200)).await;
        assert_eq!(
            rig.ready_at(exam, at(4200)),
            650,
            "the rest as soon as possible"
        );
        assert_eq!(rig.rate_limited(), 0);
        rig.audit().await;
    }
);

both_backends!(
    a_late_addition_is_planned_around_the_running_one,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        let a = rig.exam("a", at(1800), at(3600), 50).await;
        rig.run_until(at(1200)).await;
        let b = rig.exam("late", at(1500), at(3600), 30).await;
        rig.run_until(at(1800)).await;
        assert_eq!(rig.ready_at(b, at(1500)), 30);
        assert_eq!(rig.ready_at(a, at(1800)), 50);
        assert_eq!(rig.vms().len(), 80);
        rig.audit().await;
    }
);

both_backends!(
    a_cancelled_exams_vms_are_stopped_at_once,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        let exam = rig.exam("cancelled", at(1200), at(3600), 40).await;
        rig.run_until(at(1200 - 120)).await;
        let started = rig.vms_of(exam).len();
        assert!(started > 10 && started < 40, "{started} started");
        rig.delete(exam).await;
        rig.run_for(30).await;
        assert_eq!(
            rig.vms_of(exam).len(),
            started,
            "no start after the cancellation"
        );
        assert!(rig.all_stopped(), "every VM stopped within 30 s");
        let ledger = rig.ledger(Some(exam)).await;
        assert!(ledger.iter().all(|r| r.state == LedgerState::Stopped));
        assert_eq!(rig.rate_limited(), 0);
        rig.audit().await;
    }
);

both_backends!(
    a_resized_exam_stops_the_surplus_and_starts_the_missing,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        let exam = rig.exam("resized", at(1200), at(3600), 40).await;
        rig.run_until(at(1100)).await;
        let started = rig.vms_of(exam).len();
        assert!(started > 20 && started < 40, "{started}");
        // Fewer students: the surplus is stopped at once.
        rig.patch(exam, json!({"students": 25})).await;
        rig.run_until(at(1200)).await;
        let live = |rig: &Rig| {
            rig.vms_of(exam)
                .iter()
                .filter(|v| v.stopped_at.is_none())
                .count()
        };
        assert_eq!(live(&rig), 25);
        assert_eq!(rig.ready_at(exam, at(1200)), 25);
        // More students and a later start: fresh VMs for the new slots.
        rig.patch(
            exam,
            json!({"students": 30, "start_at": at(1800).to_string()}),
        )
        .await;
        rig.run_until(at(1800)).await;
        assert_eq!(live(&rig), 30);
        assert_eq!(rig.ready_at(exam, at(1800)), 30);
        assert_eq!(
            rig.vms_of(exam).len(),
            started.max(25) + 5,
            "a stopped VM is never reused"
        );
        assert_eq!(rig.rate_limited(), 0);
        rig.audit().await;
    }
);

both_backends!(
    provider_faults_are_retried_without_a_second_vm_per_slot,
    |backend| async move {
        let faults = Faults {
            fail_rate: 0.15,
            delay_rate: 0.1,
            delay: std::time::Duration::from_millis(20),
            start_timeout_rate: 0.1,
            timeout_after: std::time::Duration::from_millis(20),
        };
        let profile = Profile {
            margin: 60_000_000,
            ..Profile::default()
        };
        let Some(mut rig) = Rig::with(backend, provider(faults), profile).await else {
            return;
        };
        let exam = rig.exam("faulty", at(1800), at(3600), 60).await;
        rig.run_until(at(1800)).await;
        assert_eq!(
            rig.ready_at(exam, at(1800)),
            60,
            "all ready at the start despite faults"
        );
        let stats = rig.cloud.stats();
        assert!(
            stats.start.failed > 0 && stats.replays > 0,
            "faults happened: {stats:?}"
        );
        rig.run_until(at(3700)).await;
        assert!(rig.all_stopped());
        assert_eq!(rig.rate_limited(), 0, "pacing never causes a 429");
        let per_exam = rig.audit().await;
        assert_eq!(per_exam[&exam].len(), 60, "one VM per slot");
    }
);

both_backends!(
    a_crash_between_intent_and_answer_loses_no_vm_and_starts_none_twice,
    |backend| async move {
        // The margin covers the restart (the old lease has to run out).
        let profile = Profile {
            margin: 60_000_000,
            ..Profile::default()
        };
        let Some(mut rig) = Rig::with(backend, provider(Faults::default()), profile).await else {
            return;
        };
        let exam = rig.exam("crash", at(1200), at(2400), 50).await;
        rig.run_until(at(1000)).await;
        let before = rig.vms_of(exam).len();
        assert!(before > 10 && before < 50, "{before}");
        // The last start intent: pretend its answer never came back by
        // putting the row back to `requesting` without an id (the VM exists
        // at the provider under its key).
        let mut rows = rig.ledger(Some(exam)).await;
        rows.sort_by_key(|r| r.requested_at);
        let mut lost = rows.last().cloned().expect("rows");
        lost.state = LedgerState::Requesting;
        lost.vm_id = None;
        allot::provisioning::ledger::save(rig.app.db(), &lost)
            .await
            .expect("save");
        rig.crash();
        // The old executor's lease runs out; the new one takes over.
        rig.app.clock.advance(secs(11));
        rig.run_until(at(1200)).await;
        assert_eq!(rig.ready_at(exam, at(1200)), 50);
        assert_eq!(
            rig.vms_of(exam).len(),
            50,
            "the lost answer's VM was found, not made again"
        );
        let recovered = rig
            .ledger(Some(exam))
            .await
            .into_iter()
            .find(|r| r.id == lost.id)
            .expect("row");
        assert!(recovered.maybe_leaked, "reported as possibly leaked");
        // (The 11 s without an executor also made two VMs miss the margin,
        // which is notified as well.)
        let notes = rig.notifications(1).await;
        let leaked: Vec<_> = notes
            .iter()
            .filter(|(k, _)| k == "vm_maybe_leaked")
            .collect();
        assert_eq!(leaked.len(), 1, "{notes:?}");
        assert_eq!(leaked[0].1["idempotency_key"], lost.idempotency_key);
        assert!(recovered.vm_id.is_some());
        rig.run_until(at(2500)).await;
        assert!(rig.all_stopped());
        rig.audit().await;
    }
);

both_backends!(two_executors_act_as_one, |backend| async move {
    let Some(mut rig) = Rig::new(backend).await else {
        return;
    };
    let exam = rig.exam("pair", at(600), at(1200), 30).await;
    let mut other = rig.second_executor();
    // Interleave the two; only the lease holder acts.
    let until = at(600);
    loop {
        let a = rig.executor.step().await;
        let b = other.step().await;
        let next = a.min(b);
        if next > until {
            break;
        }
        if next > rig.now() {
            rig.app.clock.set(next);
        }
    }
    assert!(
        rig.executor.is_leading() != other.is_leading(),
        "first leads: {}, second leads: {}",
        rig.executor.is_leading(),
        other.is_leading()
    );
    assert_eq!(rig.ready_at(exam, at(600)), 30);
    assert_eq!(rig.vms_of(exam).len(), 30);
    rig.audit().await;
});

both_backends!(
    an_exam_moved_earlier_is_replanned_and_its_shortfall_reported,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        let exam = rig.exam("moved", at(3600), at(5400), 50).await;
        rig.run_until(at(600)).await;
        assert!(
            rig.vms_of(exam).is_empty(),
            "nothing asked for an hour ahead"
        );
        // 100 s before the new start: one VM per 6 s, 16 of them on time.
        rig.patch(exam, json!({"start_at": at(700).to_string()}))
            .await;
        rig.run_until(at(601)).await;
        let forecast = rig.executor.plan().expect("leading").exams[0];
        assert_eq!(
            (forecast.predicted_ready_at_start, forecast.shortfall),
            (16, 34)
        );
        let notes = rig.notifications(1).await;
        assert_eq!(notes[0].0, "exam_infeasible");
        assert_eq!(notes[0].1["shortfall"], 34);
        rig.run_until(at(700)).await;
        assert_eq!(rig.ready_at(exam, at(700)), 16, "as predicted");
        rig.run_until(at(700 + 34 * 6)).await;
        assert_eq!(
            rig.ready_at(exam, rig.now()),
            50,
            "the rest as soon as possible"
        );
        rig.audit().await;
    }
);

both_backends!(a_noisy_neighbours_429s_are_honoured, |backend| async move {
    // The neighbour's VMs also take places in the provider's queue ahead
    // of the exam's; the margin absorbs that.
    let profile = Profile {
        margin: 60_000_000,
        ..Profile::default()
    };
    let Some(mut rig) = Rig::with(backend, provider(Faults::default()), profile).await else {
        return;
    };
    let exam = rig.exam("shared account", at(600), at(1200), 20).await;
    // Another client of the same account uses the whole second's budget
    // just when the executor's first call is due.
    let http = reqwest::Client::new();
    let first_call = at(600 - 60 - 20 * 6);
    rig.run_until(first_call - secs(1)).await;
    rig.app.clock.set(first_call);
    for i in 0..3 {
        let r = http
            .post(format!("{}/vms", rig.cloud.url()))
            .header("idempotency-key", format!("neighbour-{i}"))
            .send()
            .await
            .expect("neighbour");
        assert_eq!(r.status().as_u16(), 201);
    }
    rig.run_until(at(600)).await;
    let stats = rig.cloud.stats();
    assert!(
        stats.start.rate_limited >= 1,
        "the executor met a 429: {stats:?}"
    );
    assert_eq!(rig.ready_at(exam, at(600)), 20);
    assert_eq!(
        rig.vms_of(exam).len(),
        20,
        "a refused call made nothing, and was made again"
    );
    let ledger = rig.ledger(Some(exam)).await;
    let slots: std::collections::HashSet<u32> = ledger.iter().map(|r| r.slot).collect();
    assert_eq!(slots.len(), 20);
});

/// Runs `work` to its end with the metrics it records kept in `recorder`
/// (a recorder of this thread only, so tests running side by side do not
/// mix their gauges).
fn recorded<F: std::future::Future>(
    recorder: &metrics_exporter_prometheus::PrometheusRecorder,
    work: F,
) -> F::Output {
    tokio::task::block_in_place(|| {
        metrics::with_local_recorder(recorder, || {
            tokio::runtime::Handle::current().block_on(work)
        })
    })
}

/// The value of the sample line of `series` in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

both_backends!(
    a_replica_that_loses_the_lease_stops_reporting_the_leaders_gauges,
    |backend| async move {
        let Some(mut rig) = Rig::new(backend).await else {
            return;
        };
        let exam = rig.exam("handover", at(600), at(1200), 20).await;
        let first = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        recorded(&first, rig.run_until(at(550)));
        assert!(rig.executor.is_leading());
        let ready = "allot_provisioning_vms{state=\"ready\"}";
        let led = first.handle().render();
        assert_eq!(
            sample(&led, "allot_provisioning_leading"),
            Some(1.0),
            "{led}"
        );
        assert!(sample(&led, ready).is_some_and(|n| n > 0.0), "{led}");
        // The first stalls past its lease; a second replica takes over.
        rig.app.clock.advance(secs(11));
        let mut other = rig.second_executor();
        let second = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        recorded(&second, other.step());
        assert!(other.is_leading());
        let now_led = second.handle().render();
        assert_eq!(
            sample(&now_led, "allot_provisioning_leading"),
            Some(1.0),
            "{now_led}"
        );
        // The first finds the lease gone at its next step, and zeroes what
        // only the leader reports.
        recorded(&first, rig.executor.step());
        assert!(!rig.executor.is_leading());
        let after = first.handle().render();
        assert_eq!(
            sample(&after, "allot_provisioning_leading"),
            Some(0.0),
            "{after}"
        );
        assert_eq!(sample(&after, ready), Some(0.0), "{after}");
        assert_eq!(
            sample(&after, "allot_provisioning_predicted_shortfall"),
            Some(0.0),
            "{after}"
        );
        assert!(!rig.vms_of(exam).is_empty());
    }
);
