//! Scheduling behaviour on a virtual clock, on both backends: intervals,
//! one-shots, cron across DST, no self-overlap, timeouts and misfires.
//! Hours of schedule run in well under a second; the only real waiting is
//! for runs that sleep a few hundred milliseconds on purpose.

mod common;

use axum::http::StatusCode;
use common::*;
use jiff::SignedDuration;
use serde_json::json;

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

both_backends!(interval_runs_on_its_phase, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let task = app
        .create_task(json!({"name": "c", "kind": "counter", "schedule": {"every": "10m"}}))
        .await;
    let id = task["id"].as_str().unwrap();
    for _ in 0..6 {
        app.advance(mins(10)).await;
    }
    let runs = runs(&app.executions(id).await);
    let expected: Vec<(String, String)> = (1..=6)
        .map(|k| {
            (
                format!("2026-11-23T{:02}:{:02}:00Z", 12 + k * 10 / 60, k * 10 % 60),
                "succeeded".to_string(),
            )
        })
        .collect();
    assert_eq!(runs, expected);
    // The counter really was incremented once per run.
    let value = app
        .server
        .jobs
        .service
        .store()
        .counter_value(id)
        .await
        .unwrap();
    assert_eq!(value, Some(6));
});

both_backends!(one_shot_runs_once_and_completes, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let task = app
        .create_task(
            json!({"name": "once", "kind": "counter", "schedule": {"at": "2026-11-23T12:30:00Z"}}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    app.advance(mins(29)).await;
    assert!(app.executions(id).await.is_empty());
    app.advance(mins(1)).await;
    app.advance(mins(60)).await;
    assert_eq!(
        runs(&app.executions(id).await),
        [("2026-11-23T12:30:00Z".to_string(), "succeeded".to_string())]
    );
    let (_, task) = app.call("GET", &format!("/v1/tasks/{id}"), None).await;
    assert_eq!(task["state"], "completed");
    assert_eq!(task["next_run_at"], serde_json::Value::Null);
});

both_backends!(cron_across_dst_gap_and_fold, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    app.clock.set("2026-03-28T00:00:00Z".parse().unwrap());
    let spring = app
        .create_task(json!({"name": "0230", "kind": "counter",
            "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Amsterdam"}}))
        .await;
    // 2026-03-29: 02:00 -> 03:00 local; 02:30 does not exist and runs once at 03:00 CEST (01:00Z).
    for _ in 0..(3 * 24) {
        app.advance(mins(60)).await;
    }
    assert_eq!(
        runs(&app.executions(spring["id"].as_str().unwrap()).await)
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z"
        ]
    );

    app.clock.set("2026-10-24T00:00:00Z".parse().unwrap());
    let fall = app
        .create_task(json!({"name": "fold", "kind": "counter",
            "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Amsterdam"}}))
        .await;
    let hourly = app
        .create_task(json!({"name": "hourly", "kind": "counter",
            "schedule": {"cron": "0 * * * *", "timezone": "Europe/Amsterdam"}}))
        .await;
    for _ in 0..(3 * 24 * 4) {
        app.advance(mins(15)).await;
    }
    // 2026-10-25: 03:00 -> 02:00 local; 02:30 happens twice but runs once (the first, 00:30Z).
    assert_eq!(
        runs(&app.executions(fall["id"].as_str().unwrap()).await)
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z"
        ]
    );
    // An hourly job fires every real hour through the fold: 25 runs that day, none twice.
    let hourly_runs = app.executions(hourly["id"].as_str().unwrap()).await;
    let on_fold_day = hourly_runs
        .iter()
        .filter(|e| {
            let t: jiff::Timestamp = e["scheduled_for"].as_str().unwrap().parse().unwrap();
            t >= "2026-10-24T22:00:00Z".parse().unwrap()
                && t < "2026-10-25T23:00:00Z".parse().unwrap()
        })
        .count();
    assert_eq!(on_fold_day, 25);
});

both_backends!(a_running_task_never_overlaps_itself, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let skip = app
        .create_task(
            json!({"name": "skip", "kind": "sleep", "params": {"duration": "400ms"},
            "schedule": {"every": "1m"}}),
        )
        .await;
    let queue = app
        .create_task(
            json!({"name": "queue", "kind": "sleep", "params": {"duration": "400ms"},
            "schedule": {"every": "1m"}, "overlap": "queue_one"}),
        )
        .await;
    // t+1m: both start. t+2m and t+3m come due while they still run.
    app.clock.advance(mins(1));
    assert_eq!(app.tick().await, 2);
    app.clock.advance(mins(1));
    app.tick().await;
    app.clock.advance(mins(1));
    app.tick().await;
    app.settle().await;
    // The queued run starts as soon as the first ends.
    app.tick().await;
    app.settle().await;
    let skip_runs = runs(&app.executions(skip["id"].as_str().unwrap()).await);
    assert_eq!(
        skip_runs,
        [
            ("2026-11-23T12:01:00Z", "succeeded"),
            ("2026-11-23T12:02:00Z", "skipped"),
            ("2026-11-23T12:03:00Z", "skipped"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let queue_runs = runs(&app.executions(queue["id"].as_str().unwrap()).await);
    assert_eq!(
        queue_runs,
        [
            ("2026-11-23T12:01:00Z", "succeeded"),
            ("2026-11-23T12:02:00Z", "succeeded"),
            ("2026-11-23T12:03:00Z", "skipped"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Never two runs of one task at once: starts and ends interleave properly.
    for executions in [
        app.executions(skip["id"].as_str().unwrap()).await,
        app.executions(queue["id"].as_str().unwrap()).await,
    ] {
        let mut spans: Vec<(String, String)> = executions
            .iter()
            .filter(|e| e["status"] != "skipped")
            .map(|e| {
                (
                    e["started_at"].as_str().unwrap().to_string(),
                    e["finished_at"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        spans.sort();
        for pair in spans.windows(2) {
            let end: jiff::Timestamp = pair[0].1.parse().unwrap();
            let start: jiff::Timestamp = pair[1].0.parse().unwrap();
            assert!(end <= start, "overlapping runs {pair:?}");
        }
    }
});

both_backends!(different_tasks_run_at_the_same_time, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let task = app
            .create_task(
                json!({"name": name, "kind": "sleep", "params": {"duration": "1s"},
                "schedule": {"every": "1m"}}),
            )
            .await;
        ids.push(task["id"].as_str().unwrap().to_string());
    }
    app.clock.advance(mins(1));
    assert_eq!(app.tick().await, 4);
    // One claim started all four, and all four are running at once.
    for id in &ids {
        let executions = app.executions(id).await;
        assert_eq!(
            runs(&executions),
            [("2026-11-23T12:01:00Z".to_string(), "running".to_string())]
        );
    }
    assert_eq!(app.server.jobs.engine.runner().in_flight(), 4);
    app.settle().await;
    for id in &ids {
        assert_eq!(app.executions(id).await[0]["status"], "succeeded");
    }
});

both_backends!(a_run_over_its_timeout_is_cancelled, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let task = app
        .create_task(
            json!({"name": "stuck", "kind": "sleep", "params": {"duration": "30s"},
            "schedule": {"every": "1m"}, "timeout": "200ms"}),
        )
        .await;
    let started = std::time::Instant::now();
    app.advance(mins(1)).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let executions = app.executions(task["id"].as_str().unwrap()).await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0]["status"], "timed_out");
    assert!(executions[0]["error"].as_str().unwrap().contains("200ms"));
    // The task is free again: the next run starts normally.
    app.advance(mins(1)).await;
    assert_eq!(app.executions(task["id"].as_str().unwrap()).await.len(), 2);
});

both_backends!(
    misfires_after_downtime_follow_the_policy,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let mut ids = Vec::new();
        for misfire in ["run_once", "skip", "run_all"] {
            let task = app
            .create_task(json!({"name": misfire, "kind": "counter", "schedule": {"every": "1m"}, "misfire": misfire}))
            .await;
            ids.push(task["id"].as_str().unwrap().to_string());
        }
        // The service is "down" for 5 minutes: nobody claims. Then it comes back.
        app.clock.advance(mins(5));
        for _ in 0..10 {
            app.tick().await;
            app.settle().await;
        }
        let statuses =
            |runs: Vec<(String, String)>| runs.into_iter().map(|r| r.1).collect::<Vec<_>>();
        // run_once: the missed runs are visible as skipped, one catch-up run (the latest).
        assert_eq!(
            statuses(runs(&app.executions(&ids[0]).await)),
            ["skipped", "skipped", "skipped", "skipped", "succeeded"]
        );
        // skip: missed runs are skipped, but the one due right now is on time and runs.
        assert_eq!(
            statuses(runs(&app.executions(&ids[1]).await)),
            ["skipped", "skipped", "skipped", "skipped", "succeeded"]
        );
        // run_all: every missed run executes, one after another, in order.
        let all = runs(&app.executions(&ids[2]).await);
        assert_eq!(statuses(all.clone()), ["succeeded"; 5]);
        assert_eq!(all[0].0, "2026-11-23T12:01:00Z");
        assert_eq!(all[4].0, "2026-11-23T12:05:00Z");
        // Each is back on schedule afterwards.
        for id in &ids {
            let (_, task) = app.call("GET", &format!("/v1/tasks/{id}"), None).await;
            assert_eq!(task["next_run_at"], "2026-11-23T12:06:00Z", "{task}");
        }
        let misfire_note = app.executions(&ids[0]).await[0]["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            misfire_note.to_lowercase().contains("miss"),
            "{misfire_note}"
        );
    }
);

both_backends!(
    long_downtime_records_a_bounded_history,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let task = app
            .create_task(json!({"name": "busy", "kind": "counter", "schedule": {"every": "1s"}}))
            .await;
        app.clock.advance(SignedDuration::from_hours(24));
        app.tick().await;
        app.settle().await;
        let executions = app.executions(task["id"].as_str().unwrap()).await;
        // One catch-up run and a bounded number of skipped rows, the last of which
        // says how many more were not recorded one by one.
        assert!(executions.len() <= 101, "{}", executions.len());
        assert_eq!(executions.last().unwrap()["status"], "succeeded");
        let notes: Vec<&str> = executions
            .iter()
            .filter_map(|e| e["error"].as_str())
            .collect();
        assert!(
            notes.iter().any(|n| n.contains("not recorded")),
            "{notes:?}"
        );
        let (status, _) = app
            .call(
                "GET",
                &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
);

both_backends!(
    a_one_shot_missed_during_a_pause_follows_the_misfire_policy,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let mut ids = Vec::new();
        for misfire in ["run_once", "skip"] {
            let task = app
                .create_task(
                    json!({"name": misfire, "kind": "counter", "misfire": misfire,
                "schedule": {"at": "2026-11-23T12:30:00Z"}}),
                )
                .await;
            let id = task["id"].as_str().unwrap().to_string();
            app.call("POST", &format!("/v1/tasks/{id}/pause"), None)
                .await;
            ids.push(id);
        }
        app.advance(mins(60)).await;
        for id in &ids {
            let (status, task) = app
                .call("POST", &format!("/v1/tasks/{id}/resume"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{task}");
        }
        app.advance(mins(1)).await;
        let statuses = [
            runs(&app.executions(&ids[0]).await),
            runs(&app.executions(&ids[1]).await),
        ];
        assert_eq!(
            statuses[0],
            [("2026-11-23T12:30:00Z".to_string(), "succeeded".to_string())]
        );
        assert_eq!(
            statuses[1],
            [("2026-11-23T12:30:00Z".to_string(), "skipped".to_string())]
        );
        for id in &ids {
            let (_, task) = app.call("GET", &format!("/v1/tasks/{id}"), None).await;
            assert_eq!(task["state"], "completed", "{task}");
        }
    }
);

both_backends!(
    a_manual_run_during_a_scheduled_time_keeps_both,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let task = app
        .create_task(json!({"name": "m", "kind": "counter", "schedule": {"every": "1m", "start_at": "2026-11-23T12:00:00Z"}}))
        .await;
        let id = task["id"].as_str().unwrap();
        // Exactly at a schedule time: the manual run must not take its slot.
        let (status, manual) = app.call("POST", &format!("/v1/tasks/{id}/run"), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{manual}");
        assert_ne!(manual["scheduled_for"], "2026-11-23T12:00:00Z");
        app.settle().await;
        app.advance(mins(0)).await;
        let all = runs(&app.executions(id).await);
        assert!(
            all.contains(&("2026-11-23T12:00:00Z".to_string(), "succeeded".to_string())),
            "{all:?}"
        );
        assert_eq!(all.len(), 2, "{all:?}");
    }
);
