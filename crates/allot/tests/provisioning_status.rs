//! What the user sees of provisioning, on both backends:
//! `GET /v1/exams/{id}/provisioning` (every field, from ledger rows in
//! each state and the kernel's forecast, an infeasible exam with and
//! without margin), `GET /v1/provisioning/plan` (runs per exam, the window
//! filter, the cap), `GET /v1/provisioning/vms` (fields, filters, paging),
//! scopes and bad input.
//!
//! The clock is the test's manual clock at 2026-11-23T12:00:00Z (`now`);
//! exams are made through the API and VMs written straight to the ledger.
//! The provider profile is the server's default: one VM per 6 s, 3
//! requests a second (stop calls 333,334 µs apart), no boot delay.

mod common;

use allot::config::ServeArgs;
use allot::provisioning::ledger::{self, LedgerRow, LedgerState};
use allot::provisioning::store::{self as exam_store, ExamRow};
use allot::store::Backend;
use axum::http::StatusCode;
use common::booking::{h, id};
use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use uuid::Uuid;

/// `now` plus `secs` seconds.
fn at(secs: i64) -> Timestamp {
    start_time() + SignedDuration::from_secs(secs)
}

/// `now` plus `micros` microseconds, as the API writes it.
fn at_us(micros: i64) -> String {
    (start_time() + SignedDuration::from_micros(micros)).to_string()
}

/// The stop interval at 3 requests a second.
const STOP_STEP: i64 = 333_334;

/// An exam from `now + start` to `now + end` hours.
async fn exam(app: &TestApp, name: &str, start: i64, end: i64, students: u32) -> Uuid {
    exam_at(app, name, &h(start), &h(end), students).await
}

async fn exam_at(app: &TestApp, name: &str, start: &str, end: &str, students: u32) -> Uuid {
    let body = json!({"name": name, "start_at": start, "end_at": end, "students": students});
    let (status, created) = app.call("POST", "/v1/exams", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    id(&created).parse().expect("uuid")
}

/// Writes a ledger row for `slot` of `exam` in `state`, requested a minute
/// ago; `edit` adjusts it before it is written.
async fn vm(
    app: &TestApp,
    exam: Uuid,
    slot: u32,
    attempt: u32,
    state: LedgerState,
    edit: impl FnOnce(&mut LedgerRow),
) -> LedgerRow {
    let mut row = LedgerRow::intent(exam, slot, attempt, at(-60), None);
    row.state = state;
    row.start_calls = 1;
    if !matches!(state, LedgerState::Requesting | LedgerState::Failed) {
        row.vm_id = Some(Uuid::now_v7());
    }
    match state {
        LedgerState::Ready => row.ready_at = Some(at(-54)),
        LedgerState::Stopping => {
            row.ready_at = Some(at(-54));
            row.stop_requested_at = Some(at(-10));
            row.stop_calls = 1;
        }
        LedgerState::Stopped => {
            row.ready_at = Some(at(-54));
            row.stop_requested_at = Some(at(-10));
            row.stopped_at = Some(at(-9));
            row.stop_calls = 1;
        }
        LedgerState::Failed => row.last_error = Some("500 internal".to_string()),
        _ => {}
    }
    edit(&mut row);
    assert!(
        ledger::insert_intent(app.db(), &row)
            .await
            .expect("insert ledger row"),
        "slot {slot} already has a live row"
    );
    row
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

fn status_path(exam: Uuid) -> String {
    format!("/v1/exams/{exam}/provisioning")
}

// ---- GET /v1/exams/{id}/provisioning ----

both_backends!(
    status_counts_every_state_and_forecasts,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        // Starts in 2 h; the server's default margin is 2 minutes.
        let e = exam(&app, "Physics", 2, 3, 10).await;
        let other = exam(&app, "Chemistry", 4, 5, 3).await;
        vm(&app, e, 0, 1, LedgerState::Ready, |_| {}).await;
        vm(&app, e, 1, 1, LedgerState::Pending, |r| {
            r.expected_ready_at = Some(at(30));
        })
        .await;
        // Found requesting after a crash: maybe leaked, VM not found yet.
        vm(&app, e, 2, 1, LedgerState::Requesting, |r| {
            r.maybe_leaked = true;
        })
        .await;
        // Failed, so the slot is free again; then a second attempt, leaked
        // once and found since (it has its VM id): not counted as leaked.
        vm(&app, e, 3, 1, LedgerState::Failed, |_| {}).await;
        vm(&app, e, 3, 2, LedgerState::Pending, |r| {
            r.maybe_leaked = true
        })
        .await;
        vm(&app, e, 4, 1, LedgerState::Stopped, |_| {}).await;
        vm(&app, e, 5, 1, LedgerState::Stopping, |_| {}).await;
        // Above the exam's 10 slots (it shrank): requested, but not its VM.
        vm(&app, e, 12, 1, LedgerState::Ready, |_| {}).await;
        // Another exam's VMs count for that exam only.
        vm(&app, other, 0, 1, LedgerState::Ready, |_| {}).await;
        vm(&app, other, 1, 1, LedgerState::Stopped, |_| {}).await;

        let s = get(&app, &status_path(e)).await;
        // Slots 0 to 3 are held (live); 4 to 9 get new VMs, packed backwards
        // one per 6 s so that the last is ready at the deadline, 13:58:00;
        // each call is made 6 s before its VM is ready.
        assert_eq!(
            s,
            json!({
                "exam_id": e.to_string(),
                "name": "Physics",
                "start_at": "2026-11-23T14:00:00Z",
                "end_at": "2026-11-23T15:00:00Z",
                "deadline": "2026-11-23T13:58:00Z",
                "needed": 10,
                "requested": 7,
                "pending": 3,
                "ready": 1,
                "stopping": 1,
                "stopped": 1,
                "failed": 1,
                "maybe_leaked": 1,
                "predicted_ready_at_start": 10,
                "shortfall": 0,
                "feasible": true,
                "fully_ready_at": "2026-11-23T13:58:00Z",
                "next_start_call_at": "2026-11-23T13:57:24Z",
                "planned_starts": 6,
                "executor": false,
                "as_of": "2026-11-23T12:00:00Z",
            }),
            "{s}"
        );
        let o = get(&app, &status_path(other)).await;
        assert_eq!(
            (
                &o["requested"],
                &o["ready"],
                &o["stopped"],
                &o["maybe_leaked"]
            ),
            (&json!(2), &json!(1), &json!(1), &json!(0)),
            "{o}"
        );

        // In the plan, the surplus VM is stopped at once and the exam's three
        // stoppable VMs (the requesting one has no id yet) from its end: two
        // runs, as the calls between are hours apart, not one interval.
        let plan = get(&app, "/v1/provisioning/plan").await;
        assert_eq!(plan["exams"][0]["exam_id"], e.to_string(), "{plan}");
        assert_eq!(
            plan["exams"][0]["stops"],
            json!([{"first_at": at_us(0), "last_at": at_us(0), "count": 1},
               {"first_at": "2026-11-23T15:00:00Z", "last_at": "2026-11-23T15:00:00.666668Z",
                "count": 3}])
        );
        assert_eq!(plan["exams"][0]["starts"][0]["first_slot"], 4);
        assert_eq!(plan["exams"][0]["starts"][0]["count"], 6);

        // The clock moves: VMs held from the ledger, nothing new asked for,
        // so the same calls are planned; the status says when it was made.
        app.clock.advance(SignedDuration::from_mins(10));
        let later = get(&app, &status_path(e)).await;
        assert_eq!(later["as_of"], "2026-11-23T12:10:00Z");
        assert_eq!(later["next_start_call_at"], s["next_start_call_at"]);

        // The ledger shows the exam's 8 rows, the failed one included.
        let rows = get(
            &app,
            &format!("/v1/provisioning/vms?exam_id={e}&limit=1000"),
        )
        .await;
        assert_eq!(rows["items"].as_array().map(Vec::len), Some(8), "{rows}");
    }
);

both_backends!(
    an_exam_that_cannot_be_served_in_full_says_by_how_much,
    |backend| async move {
        // 700 students an hour from now, on an empty provider that makes
        // one VM per 6 s: the first is ready at 12:00:06, the k-th 6 s
        // later, all 700 at 13:10:00.
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let e = exam(&app, "Big", 1, 3, 700).await;
        let s = get(&app, &status_path(e)).await;
        // Deadline 12:58:00 (margin 2 m): 12:00:06 + 6 s * k <= 12:58:00
        // for k = 0..=579, so 580 on time.
        assert_eq!(s["deadline"], "2026-11-23T12:58:00Z", "{s}");
        assert_eq!(s["predicted_ready_at_start"], 580, "{s}");
        assert_eq!(s["shortfall"], 120, "{s}");
        assert_eq!(s["feasible"], false, "{s}");
        assert_eq!(s["fully_ready_at"], "2026-11-23T13:10:00Z", "{s}");
        assert_eq!(s["next_start_call_at"], "2026-11-23T12:00:00Z", "{s}");
        assert_eq!(s["planned_starts"], 700, "{s}");
        assert_eq!((&s["requested"], &s["ready"]), (&json!(0), &json!(0)));
        // On time and late, the calls are one run, one per 6 s from now.
        let plan = get(&app, "/v1/provisioning/plan").await;
        assert_eq!(
            plan["exams"][0]["starts"],
            json!([{"first_at": "2026-11-23T12:00:00Z", "last_at": "2026-11-23T13:09:54Z",
                    "count": 700, "step_seconds": 6.0, "first_slot": 0,
                    "first_ready_at": "2026-11-23T12:00:06Z",
                    "last_ready_at": "2026-11-23T13:10:00Z"}])
        );

        // Margin 0 (and a cloud configured): the deadline is the start,
        // 12:00:06 + 6 s * k <= 13:00:00 for k = 0..=599: shortfall 100.
        let args = ServeArgs {
            provisioning_margin: Some("0s".to_string()),
            cloud_url: Some("http://127.0.0.1:9".to_string()),
            ..ServeArgs::default()
        };
        let Some(app) = TestApp::with_args(backend, args).await else {
            return;
        };
        let e = exam(&app, "Big", 1, 3, 700).await;
        let s = get(&app, &status_path(e)).await;
        assert_eq!(s["deadline"], "2026-11-23T13:00:00Z", "{s}");
        assert_eq!(s["predicted_ready_at_start"], 600, "{s}");
        assert_eq!(s["shortfall"], 100, "{s}");
        assert_eq!(s["feasible"], false, "{s}");
        assert_eq!(s["fully_ready_at"], "2026-11-23T13:10:00Z", "{s}");
        assert_eq!(s["executor"], true, "{s}");

        // Exams share the provider: one of 10 students at 12:30 takes
        // the first 10 VMs (earliest deadline first), so 590 of the 700
        // are on time and the last is ready 10 VMs (60 s) later.
        let early = exam_at(&app, "Early", "2026-11-23T12:30:00Z", &h(1), 10).await;
        let s = get(&app, &status_path(e)).await;
        assert_eq!(s["predicted_ready_at_start"], 590, "{s}");
        assert_eq!(s["shortfall"], 110, "{s}");
        assert_eq!(s["fully_ready_at"], "2026-11-23T13:11:00Z", "{s}");
        let f = get(&app, &status_path(early)).await;
        assert_eq!(
            (&f["shortfall"], &f["feasible"]),
            (&json!(0), &json!(true)),
            "{f}"
        );
        assert_eq!(f["fully_ready_at"], "2026-11-23T12:01:00Z", "{f}");
        // One that starts now cannot get a VM in time; a late VM comes
        // after every VM that is on time, so the others keep theirs.
        let now = exam_at(&app, "Now", "2026-11-23T12:00:00Z", &h(1), 1).await;
        let n = get(&app, &status_path(now)).await;
        assert_eq!(
            (&n["shortfall"], &n["feasible"]),
            (&json!(1), &json!(false)),
            "{n}"
        );
        let s = get(&app, &status_path(e)).await;
        assert_eq!(s["shortfall"], 110, "{s}");
    }
);

both_backends!(
    status_refuses_bad_ids_unknown_and_unreadable_exams,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        for bad in ["not-a-uuid", "123", "0197a3c2-8f00-7000-8000-00000000000g"] {
            let (status, problem) = app
                .call("GET", &format!("/v1/exams/{bad}/provisioning"), None)
                .await;
            assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
            assert_eq!(problem["id"], bad, "{problem}");
            assert!(
                problem["detail"].as_str().unwrap_or_default().contains(bad),
                "{problem}"
            );
        }
        let unknown = Uuid::now_v7();
        let (status, problem) = app.call("GET", &status_path(unknown), None).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
        assert_eq!(problem["id"], unknown.to_string());

        // A row another application wrote that allot cannot read: 409, and it
        // does not stop the plan of the others.
        let (start, end) = match backend {
            Backend::Sqlite => (
                "'2026-02-30T08:00:00.000000Z'",
                "'2026-03-01T08:00:00.000000Z'",
            ),
            Backend::Postgres => ("'12000-01-01T00:00:00Z'", "'12000-01-02T00:00:00Z'"),
        };
        let bad_id = "0196f000-0000-4000-8000-000000000bad";
        let sql = format!(
            "INSERT INTO exams (id, name, start_at, end_at, students) \
         VALUES ('{bad_id}', 'broken', {start}, {end}, 4)"
        );
        allot::with_pool!(app.db(), p => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(p)
        .await
        .map(drop))
        .expect("insert an unreadable exam");
        let (status, problem) = app
            .call("GET", &format!("/v1/exams/{bad_id}/provisioning"), None)
            .await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "unreadable");
        assert_eq!(problem["id"], bad_id);
        let fine = exam(&app, "fine", 2, 3, 1).await;
        assert_eq!(get(&app, &status_path(fine)).await["shortfall"], 0);
        let plan = get(&app, "/v1/provisioning/plan").await;
        let listed: Vec<&str> = plan["exams"]
            .as_array()
            .expect("exams")
            .iter()
            .map(|x| x["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(listed, ["fine"], "{plan}");
    }
);

// ---- GET /v1/provisioning/plan ----

/// Exams A (in 2 h, 10 students, 3 VMs ready), B (in 5 h, 4 students), C
/// (over an hour ago, 2 VMs never stopped) and D (deleted, 1 VM left).
struct Scene {
    a: Uuid,
    b: Uuid,
    c: Uuid,
    d: Uuid,
}

async fn scene(app: &TestApp) -> Scene {
    let a = exam(app, "A", 2, 3, 10).await;
    let b = exam(app, "B", 5, 6, 4).await;
    let c = exam(app, "C", -3, -2, 2).await;
    let d = exam(app, "D", 1, 2, 1).await;
    for slot in 0..3 {
        vm(app, a, slot, 1, LedgerState::Ready, |_| {}).await;
    }
    for slot in 0..2 {
        vm(app, c, slot, 1, LedgerState::Ready, |r| {
            r.requested_at = at(-3 * 3600 - 1800);
            r.ready_at = Some(at(-3 * 3600 - 1794));
        })
        .await;
    }
    vm(app, d, 0, 1, LedgerState::Ready, |_| {}).await;
    let (status, _) = app.call("DELETE", &format!("/v1/exams/{d}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    Scene { a, b, c, d }
}

fn names(plan: &Value) -> Vec<String> {
    plan["exams"]
        .as_array()
        .unwrap_or_else(|| panic!("no exams in {plan}"))
        .iter()
        .map(|x| match &x["name"] {
            Value::String(s) => s.clone(),
            _ => "-".to_string(),
        })
        .collect()
}

both_backends!(
    the_plan_lists_runs_per_exam_in_start_order,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let Scene { a, b, c, d } = scene(&app).await;
        let plan = get(&app, "/v1/provisioning/plan").await;
        assert_eq!(plan["as_of"], "2026-11-23T12:00:00Z", "{plan}");
        assert_eq!(plan["from"], "2026-11-23T12:00:00Z", "from defaults to now");
        assert_eq!(plan["to"], Value::Null);
        assert_eq!(plan["executor"], false);
        assert_eq!(plan["truncated"], false);
        // The deleted exam's VM first, then by start: C, A, B.
        assert_eq!(names(&plan), ["-", "C", "A", "B"], "{plan}");
        let exams = plan["exams"].as_array().expect("exams");

        // Stops: D's surplus VM at once, then C's two (over: now), then A's
        // three from its end, each one request interval after the previous.
        assert_eq!(
            exams[0],
            json!({"exam_id": d.to_string(), "name": null, "start_at": null, "end_at": null,
               "deadline": null, "forecast": null, "starts": [],
               "stops": [{"first_at": at_us(0), "last_at": at_us(0), "count": 1}]})
        );
        assert_eq!(exams[1]["exam_id"], c.to_string());
        assert_eq!(
            exams[1]["starts"],
            json!([]),
            "an exam that is over gets no VMs"
        );
        assert_eq!(
            exams[1]["stops"],
            json!([{"first_at": at_us(STOP_STEP), "last_at": at_us(2 * STOP_STEP), "count": 2}])
        );
        assert_eq!(
            exams[1]["forecast"],
            json!({"needed": 2, "live": 2, "ready": 2, "predicted_ready_at_start": 2,
               "shortfall": 0, "feasible": true,
               "fully_ready_at": "2026-11-23T08:30:06Z", "next_start_call_at": null})
        );

        // A: slots 3..10 get 7 VMs ready 13:57:24 to 13:58:00, called 6 s
        // before each; its 3 ledger VMs are stopped from its end.
        assert_eq!(
            exams[2],
            json!({"exam_id": a.to_string(), "name": "A",
               "start_at": "2026-11-23T14:00:00Z", "end_at": "2026-11-23T15:00:00Z",
               "deadline": "2026-11-23T13:58:00Z",
               "forecast": {"needed": 10, "live": 3, "ready": 3, "predicted_ready_at_start": 10,
                            "shortfall": 0, "feasible": true,
                            "fully_ready_at": "2026-11-23T13:58:00Z",
                            "next_start_call_at": "2026-11-23T13:57:18Z"},
               "starts": [{"first_at": "2026-11-23T13:57:18Z", "last_at": "2026-11-23T13:57:54Z",
                           "count": 7, "step_seconds": 6.0, "first_slot": 3,
                           "first_ready_at": "2026-11-23T13:57:24Z",
                           "last_ready_at": "2026-11-23T13:58:00Z"}],
               "stops": [{"first_at": "2026-11-23T15:00:00Z",
                          "last_at": "2026-11-23T15:00:00.666668Z", "count": 3}]}),
            "{}",
            exams[2]
        );
        assert_eq!(exams[3]["exam_id"], b.to_string());
        assert_eq!(
            exams[3]["starts"],
            json!([{"first_at": "2026-11-23T16:57:36Z", "last_at": "2026-11-23T16:57:54Z",
                "count": 4, "step_seconds": 6.0, "first_slot": 0,
                "first_ready_at": "2026-11-23T16:57:42Z",
                "last_ready_at": "2026-11-23T16:58:00Z"}])
        );
        assert_eq!(exams[3]["stops"], json!([]), "VMs not started get no stop");

        // The status of A agrees with its forecast in the plan.
        let s = get(&app, &status_path(a)).await;
        for field in [
            "needed",
            "ready",
            "predicted_ready_at_start",
            "shortfall",
            "fully_ready_at",
            "next_start_call_at",
        ] {
            assert_eq!(s[field], exams[2]["forecast"][field], "{field}");
        }
    }
);

both_backends!(
    the_plan_keeps_runs_overlapping_the_window,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        scene(&app).await;
        let window = |q: &str| {
            let app = &app;
            let path = format!("/v1/provisioning/plan?{q}");
            async move { get(app, &path).await }
        };
        // From 15:00: A's stops (A itself is over by then, its starts before),
        // and B; nothing of C or D.
        let p = window(&format!("from={}", h(3))).await;
        assert_eq!(names(&p), ["A", "B"], "{p}");
        assert_eq!(p["exams"][0]["starts"], json!([]));
        assert_eq!(p["exams"][0]["stops"][0]["count"], 3);
        assert_eq!(p["exams"][1]["starts"][0]["count"], 4);
        assert_eq!(p["from"], "2026-11-23T15:00:00Z");

        // The first second: the stops due now (D's, C's); A and B take place
        // later and have no call in it.
        let p = window(&format!("to={}", at_us(1_000_000))).await;
        assert_eq!(names(&p), ["-", "C"], "{p}");
        assert_eq!(p["to"], at_us(1_000_000));
        // `to` is exclusive: the window ending at C's first stop holds D's only.
        let p = window(&format!("to={}", at_us(STOP_STEP))).await;
        assert_eq!(names(&p), ["-"], "{p}");

        // A second inside A's run of starts: the whole run, not a piece of it.
        let p = window("from=2026-11-23T13:57:30Z&to=2026-11-23T13:57:31Z").await;
        assert_eq!(names(&p), ["A"], "{p}");
        assert_eq!(p["exams"][0]["starts"][0]["count"], 7);
        assert_eq!(p["exams"][0]["stops"], json!([]));
        // Its last call is in the window; one microsecond later, nothing is.
        let p = window("from=2026-11-23T13:57:54Z&to=2026-11-23T13:57:55Z").await;
        assert_eq!(names(&p), ["A"], "{p}");
        let p = window("from=2026-11-23T13:57:54.000001Z&to=2026-11-23T13:57:55Z").await;
        assert_eq!(names(&p), Vec::<String>::new(), "{p}");

        // An exam taking place in the window is listed without calls in it.
        let p = window("from=2026-11-23T14:30:00Z&to=2026-11-23T14:31:00Z").await;
        assert_eq!(names(&p), ["A"], "{p}");
        assert_eq!(
            (&p["exams"][0]["starts"], &p["exams"][0]["stops"]),
            (&json!([]), &json!([]))
        );
        // After everything: empty.
        let p = window(&format!("from={}", h(7))).await;
        assert_eq!(p["exams"], json!([]), "{p}");
        // A window in the past holds C (which took place then) but no call.
        let p = window(&format!("from={}&to={}", h(-3), h(-2))).await;
        assert_eq!(names(&p), ["C"], "{p}");
        assert_eq!(p["exams"][0]["stops"], json!([]));

        // Bad windows: 400 naming what is wrong.
        for (q, word) in [
            ("from=tomorrow", "from"),
            ("to=2026-11-23T12:00:00", "to"),
            ("from=10000-01-01T00:00:00Z", "from"),
            (&format!("from={}&to={}", h(3), h(2)), "after"),
            (&format!("from={}&to={}", h(3), h(3)), "after"),
            (&format!("to={}", h(-1)), "now"),
        ] {
            let (status, problem) = app
                .call("GET", &format!("/v1/provisioning/plan?{q}"), None)
                .await;
            assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(word),
                "{q}: {problem}"
            );
        }
    }
);

both_backends!(the_plan_stops_at_a_thousand_runs, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    // 501 exams an hour apart, each with a VM ready on slot 0 (one stop
    // run) and slot 1 to start (one start run): 1002 runs.
    let mut tx = app.db().begin().await.expect("begin");
    let mut ids = Vec::new();
    for i in 0..501i64 {
        let row = ExamRow {
            id: Uuid::now_v7(),
            name: format!("e{i:03}"),
            start_at: at(3600 * (i + 2)),
            end_at: at(3600 * (i + 2) + 1800),
            students: 2,
        };
        exam_store::insert(&mut tx, &row)
            .await
            .expect("insert exam");
        ids.push(row.id);
    }
    tx.commit().await.expect("commit");
    for e in &ids {
        vm(&app, *e, 0, 1, LedgerState::Ready, |_| {}).await;
    }
    let p = get(&app, "/v1/provisioning/plan").await;
    assert_eq!(p["truncated"], true, "{}", p["truncated"]);
    let exams = p["exams"].as_array().expect("exams");
    assert_eq!(exams.len(), 500, "the 501st exam has no room left");
    let runs: usize = exams
        .iter()
        .map(|x| {
            x["starts"].as_array().map_or(0, Vec::len) + x["stops"].as_array().map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(runs, 1000);
    assert_eq!(exams[499]["name"], "e499");
    // A window without the last exam (its first call is at 2 m 6 s
    // before its start, h(502)) is whole.
    let to = at(3600 * 501 + 2700);
    let p = get(&app, &format!("/v1/provisioning/plan?to={to}")).await;
    assert_eq!(p["truncated"], false);
    assert_eq!(p["exams"].as_array().map(Vec::len), Some(500));
});

// ---- GET /v1/provisioning/vms ----

both_backends!(the_ledger_pages_by_id_with_filters, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let a = exam(&app, "A", 2, 3, 10).await;
    let b = exam(&app, "B", 4, 5, 10).await;
    let mut made = Vec::new();
    for (exam, slot, attempt, state) in [
        (a, 0, 1, LedgerState::Ready),
        (a, 1, 1, LedgerState::Pending),
        (a, 2, 1, LedgerState::Requesting),
        (b, 0, 1, LedgerState::Failed),
        (b, 0, 2, LedgerState::Ready),
        (a, 3, 1, LedgerState::Stopping),
        (a, 4, 1, LedgerState::Stopped),
    ] {
        made.push(vm(&app, exam, slot, attempt, state, |_| {}).await);
    }
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {page}"))
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect()
    };
    let all: Vec<String> = made.iter().map(|r| r.id.to_string()).collect();

    // Every field of a row, as stored.
    let page = get(&app, "/v1/provisioning/vms").await;
    assert_eq!(ids(&page), all, "by id, that is by creation");
    assert_eq!(page["next_cursor"], Value::Null);
    let r = &made[5];
    assert_eq!(
        page["items"][5],
        json!({"id": r.id.to_string(), "exam_id": a.to_string(), "slot": 3, "attempt": 1,
               "state": "stopping", "vm_id": r.vm_id.map(|v| v.to_string()),
               "idempotency_key": r.idempotency_key,
               "requested_at": "2026-11-23T11:59:00Z", "expected_ready_at": null,
               "ready_at": "2026-11-23T11:59:06Z", "stop_requested_at": "2026-11-23T11:59:50Z",
               "stopped_at": null, "start_calls": 1, "stop_calls": 1, "maybe_leaked": false,
               "last_error": null, "updated_at": "2026-11-23T11:59:00Z"})
    );
    assert_eq!(page["items"][3]["last_error"], "500 internal");
    assert_eq!(page["items"][2]["vm_id"], Value::Null);

    // Pages of 3, followed by cursor, give every row once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/provisioning/vms?limit=3".to_string(),
            Some(c) => format!("/v1/provisioning/vms?limit=3&cursor={c}"),
        };
        let page = get(&app, &path).await;
        pages += 1;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!((seen, pages), (all.clone(), 3));
    // A full last page says there is no more only when there is none.
    let page = get(&app, "/v1/provisioning/vms?limit=7").await;
    assert_eq!(page["next_cursor"], Value::Null);

    // Filters, alone and together.
    let only = |ix: &[usize]| -> Vec<String> { ix.iter().map(|&i| all[i].clone()).collect() };
    let page = get(&app, &format!("/v1/provisioning/vms?exam_id={a}")).await;
    assert_eq!(ids(&page), only(&[0, 1, 2, 5, 6]));
    let page = get(&app, "/v1/provisioning/vms?state=ready").await;
    assert_eq!(ids(&page), only(&[0, 4]));
    let page = get(
        &app,
        &format!("/v1/provisioning/vms?state=ready&exam_id={b}"),
    )
    .await;
    assert_eq!(ids(&page), only(&[4]));
    let page = get(&app, &format!("/v1/provisioning/vms?exam_id={a}&limit=2")).await;
    let next = page["next_cursor"].as_str().expect("more").to_string();
    let page = get(
        &app,
        &format!("/v1/provisioning/vms?exam_id={a}&limit=2&cursor={next}"),
    )
    .await;
    assert_eq!(ids(&page), only(&[2, 5]));
    let unknown = Uuid::now_v7();
    let page = get(&app, &format!("/v1/provisioning/vms?exam_id={unknown}")).await;
    assert_eq!(page["items"], json!([]), "a filter, not a lookup");

    // Bad input: 400 saying what is wrong.
    for (q, word) in [
        (
            "state=running",
            "requesting, pending, ready, stopping, stopped, failed",
        ),
        ("state=READY", "state"),
        ("exam_id=nope", "exam_id"),
        ("cursor=zz", "cursor"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
    ] {
        let (status, problem) = app
            .call("GET", &format!("/v1/provisioning/vms?{q}"), None)
            .await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-query");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(word),
            "{q}: {problem}"
        );
    }
});

// ---- scopes and the OpenAPI document ----

both_backends!(
    the_status_routes_need_provisioning_read,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let e = exam(&app, "guarded", 2, 3, 1).await;
        let paths = [
            status_path(e),
            "/v1/provisioning/plan".to_string(),
            "/v1/provisioning/vms".to_string(),
        ];
        let as_token = |path: &str, token: Option<&str>| {
            let (app, path, token) = (&app, path.to_string(), token.map(str::to_string));
            async move {
                app.call_with("GET", &path, None, token.as_deref(), "application/json")
                    .await
            }
        };
        let booking = app
            .add_token("booking-reader", &["booking:read", "calendar:write"])
            .await;
        let reader = app.add_token("exam-reader", &["provisioning:read"]).await;
        let writer = app.add_token("exam-writer", &["provisioning:write"]).await;
        for path in &paths {
            for token in [None, Some("wrong")] {
                let (status, problem) = as_token(path, token).await;
                assert_problem(status, &problem, StatusCode::UNAUTHORIZED, "unauthorized");
            }
            let (status, problem) = as_token(path, Some(&booking)).await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(problem["required_scope"], "provisioning:read", "{path}");
            for token in [&reader, &writer] {
                let (status, body) = as_token(path, Some(token)).await;
                assert_eq!(status, StatusCode::OK, "{path}: {body}");
            }
        }
        // The scope is checked before the input: a bad id is still a 403.
        let (status, problem) = as_token("/v1/exams/nope/provisioning", Some(&booking)).await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
    }
);

both_backends!(
    the_status_routes_are_in_the_openapi_document,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let (status, doc) = app.call_with("GET", "/openapi.json", None, None, "").await;
        assert_eq!(status, StatusCode::OK);
        for path in [
            "/v1/exams/{id}/provisioning",
            "/v1/provisioning/plan",
            "/v1/provisioning/vms",
        ] {
            let get = &doc["paths"][path]["get"];
            assert_eq!(get["tags"], json!(["provisioning"]), "{path}: {get}");
            assert!(
                get["security"].to_string().contains("provisioning:read"),
                "{path}: {get}"
            );
        }
        let params = |path: &str| -> Vec<String> {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(params("/v1/exams/{id}/provisioning"), ["id"]);
        assert_eq!(params("/v1/provisioning/plan"), ["from", "to"]);
        assert_eq!(
            params("/v1/provisioning/vms"),
            ["exam_id", "state", "limit", "cursor"]
        );
        let schemas = &doc["components"]["schemas"];
        for (schema, fields) in [
            (
                "ExamProvisioning",
                &[
                    "exam_id",
                    "needed",
                    "requested",
                    "ready",
                    "stopped",
                    "predicted_ready_at_start",
                    "shortfall",
                    "fully_ready_at",
                    "next_start_call_at",
                    "feasible",
                    "deadline",
                    "maybe_leaked",
                    "executor",
                ][..],
            ),
            ("ProvisioningPlan", &["from", "to", "exams", "truncated"]),
            ("PlanExam", &["exam_id", "forecast", "starts", "stops"]),
            (
                "StartRunView",
                &[
                    "first_at",
                    "last_at",
                    "count",
                    "step_seconds",
                    "first_slot",
                    "first_ready_at",
                    "last_ready_at",
                ],
            ),
            ("StopRunView", &["first_at", "last_at", "count"]),
            (
                "LedgerRow",
                &[
                    "id",
                    "exam_id",
                    "slot",
                    "attempt",
                    "state",
                    "vm_id",
                    "idempotency_key",
                    "maybe_leaked",
                ],
            ),
        ] {
            for field in fields {
                assert!(
                    schemas[schema]["properties"][field].is_object(),
                    "{schema}.{field} missing"
                );
            }
        }
    }
);
