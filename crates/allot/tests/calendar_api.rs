//! The calendar module through its API, on both backends: calendars,
//! explicit and auto placement, displacement, typed refusals with their
//! notifications, status, updates, cancellation, attendees, outages, DST,
//! bad input and scopes.
//!
//! The manual clock starts Monday 2026-11-23 12:00 UTC; most events are on
//! Tuesday 2026-11-24 in Europe/Amsterdam (UTC+1 in winter), where office
//! hours 08:00-17:00 are 07:00-16:00 UTC.

mod common;

use axum::http::StatusCode;
use common::booking::{book, booked, id};
use common::calendar::*;
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};

const AMS: &str = "Europe/Amsterdam";
const TUE: &str = "2026-11-24";

fn auto(name: &str, date: &str, duration: Value) -> Value {
    json!({"event_name": name, "date": date, "duration": duration, "attendees": [], "event_location": "HQ"})
}

fn explicit(name: &str, date: &str, time: &str, duration: Value) -> Value {
    json!({"event_name": name, "date": date, "start_time": time, "duration": duration, "attendees": [], "event_location": "HQ"})
}

both_backends!(
    calendars_are_created_read_and_changed,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let (status, cal) = app
            .call(
                "POST",
                "/v1/calendars",
                Some(json!({"owner": "Jeff", "timezone": AMS})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{cal}");
        assert_eq!(
            cal["working_hours"],
            json!([{"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "00:00", "end": "24:00"}])
        );
        assert_eq!(cal["slot_granularity"], 300);
        assert_eq!(cal["horizon_days"], Value::Null);
        let cal_id = id(&cal);
        let (status, got) = app
            .call("GET", &format!("/v1/calendars/{cal_id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, cal);
        let (status, patched) = app
        .call(
            "PATCH",
            &format!("/v1/calendars/{cal_id}"),
            Some(json!({"working_hours": office_hours(), "horizon_days": 30, "slot_granularity": "15m", "version": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["slot_granularity"], 900);
        assert_eq!(patched["horizon_days"], 30);
        assert_eq!(patched["version"], 2);
        let (status, body) = app
            .call(
                "PATCH",
                &format!("/v1/calendars/{cal_id}"),
                Some(json!({"owner": "x", "version": 1})),
            )
            .await;
        assert_problem(status, &body, StatusCode::CONFLICT, "version_conflict");
        // A calendar is a booking system of capacity 1.
        let (status, sys) = app
            .call("GET", &format!("/v1/systems/{cal_id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{sys}");
        assert_eq!(sys["capacity"], 1);
        let (status, page) = app.call("GET", "/v1/calendars", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    }
);

both_backends!(
    bad_calendars_are_422_naming_the_field,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        for (body, pointer) in [
            (
                json!({"owner": "J", "timezone": "Mars/Olympus"}),
                "/timezone",
            ),
            (json!({"owner": "", "timezone": AMS}), "/owner"),
            (
                json!({"owner": "J", "timezone": AMS, "working_hours": [{"days": ["funday"], "start": "08:00", "end": "17:00"}]}),
                "/working_hours/0",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "working_hours": [{"days": ["mon"], "start": "25:00", "end": "17:00"}]}),
                "/working_hours/0",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "working_hours": [{"days": ["mon"], "start": "17:00", "end": "08:00"}]}),
                "/working_hours/0",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "working_hours": "9 to 5"}),
                "/working_hours",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "working_hours": []}),
                "/working_hours",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "horizon_days": 0}),
                "/horizon_days",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "slot_granularity": 0}),
                "/slot_granularity",
            ),
            (
                json!({"owner": "J", "timezone": AMS, "webhook_url": "ftp://x"}),
                "/webhook_url",
            ),
        ] {
            let (status, problem) = app.call("POST", "/v1/calendars", Some(body.clone())).await;
            assert_problem(
                status,
                &problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            );
            assert_eq!(
                problem["errors"][0]["pointer"], pointer,
                "{body}: {problem}"
            );
        }
        let (_, page) = app.call("GET", "/v1/calendars", None).await;
        assert_eq!(page["items"], json!([]), "nothing stored");
    }
);

both_backends!(
    auto_events_fill_the_earliest_open_slots_in_working_hours,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        let a = event(&app, &cal, auto("standup", TUE, json!(1800))).await;
        assert_eq!(a["start"], "2026-11-24T07:00:00Z", "08:00 Amsterdam: {a}");
        assert_eq!(a["end"], "2026-11-24T07:30:00Z");
        assert_eq!(a["placement"], "auto");
        assert_eq!(a["state"], "scheduled");
        assert_eq!(a["status"], "pending");
        let b = event(&app, &cal, auto("review", TUE, json!("45m"))).await;
        assert_eq!(b["start"], "2026-11-24T07:30:00Z", "{b}");
        // An explicit event right after them: the next auto one goes after it.
        event(&app, &cal, explicit("board", TUE, "09:15", json!(3600))).await;
        let c = event(&app, &cal, auto("1:1", TUE, json!(600))).await;
        assert_eq!(c["start"], "2026-11-24T09:15:00Z", "{c}");
        // Today (Monday) from now on: 12:00 UTC is 13:00 local.
        let d = event(&app, &cal, auto("today", "2026-11-23", json!(600))).await;
        assert_eq!(d["start"], "2026-11-23T12:00:00Z", "{d}");
    }
);

both_backends!(
    explicit_events_refuse_every_overlap_shape,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        // 10:00-11:00 local.
        let held = event(&app, &cal, explicit("held", TUE, "10:00", json!(3600))).await;
        assert_eq!(held["start"], "2026-11-24T09:00:00Z");
        assert_eq!(held["placement"], "explicit");
        for (time, secs, shape) in [
            ("10:00", 3600, "equal"),
            ("10:15", 900, "inside"),
            ("09:30", 7200, "containing"),
            ("09:30", 3600, "ending inside"),
            ("10:30", 3600, "starting inside"),
        ] {
            let (status, problem) =
                post_event(&app, &cal, explicit(shape, TUE, time, json!(secs))).await;
            assert_problem(status, &problem, StatusCode::CONFLICT, "busy");
            assert_eq!(problem["reason"], "busy");
            assert_eq!(
                problem["event_ids"],
                json!([held["id"]]),
                "{shape}: {problem}"
            );
        }
        event(&app, &cal, explicit("before", TUE, "09:00", json!(3600))).await;
        event(&app, &cal, explicit("after", TUE, "11:00", json!(3600))).await;
        let unplaceable = kinds(&notifications(&app, 5).await);
        assert_eq!(unplaceable, vec!["unplaceable"; 5]);
    }
);

both_backends!(
    explicit_events_displace_auto_ones_which_are_placed_again,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        let first = event(&app, &cal, auto("auto-1", TUE, json!(3600))).await; // 08:00-09:00
        let second = event(&app, &cal, auto("auto-2", TUE, json!(3600))).await; // 09:00-10:00
        assert_eq!(second["start"], "2026-11-24T08:00:00Z");
        // Explicit 08:30-09:30 local overlaps both auto events.
        let boss = event(&app, &cal, explicit("boss", TUE, "08:30", json!(3600))).await;
        assert_eq!(boss["start"], "2026-11-24T07:30:00Z");
        let first = get_event(&app, &id(&first)).await;
        let second = get_event(&app, &id(&second)).await;
        // Re-placed in start order at the earliest open slots: 09:30 and 10:30 local.
        assert_eq!(first["start"], "2026-11-24T08:30:00Z", "{first}");
        assert_eq!(second["start"], "2026-11-24T09:30:00Z", "{second}");
        assert_eq!(first["placement"], "auto");
        assert_eq!(first["version"], 2);
        let ns = notifications(&app, 4).await;
        assert_eq!(
            kinds(&ns),
            vec!["displaced", "replaced", "displaced", "replaced"]
        );
        assert_eq!(ns[0]["event_id"], first["id"]);
        assert_eq!(ns[0]["data"]["by"], boss["id"]);
        // An explicit event over an explicit one is refused, even if auto
        // events are also in the way, and nothing moves.
        let (status, problem) =
            post_event(&app, &cal, explicit("clash", TUE, "08:00", json!(7200))).await;
        assert_problem(status, &problem, StatusCode::CONFLICT, "busy");
        assert_eq!(problem["event_ids"], json!([boss["id"]]));
        assert_eq!(
            get_event(&app, &id(&first)).await["start"],
            "2026-11-24T08:30:00Z"
        );
    }
);

both_backends!(
    displaced_events_that_fit_nowhere_become_unplaced,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar_with(
        &app,
        json!({"owner": "J", "timezone": AMS, "working_hours": [{"days": ["tue"], "start": "08:00", "end": "10:00"}], "horizon_days": 3}),
    )
    .await;
        let a = event(&app, &cal, auto("a", TUE, json!(3600))).await;
        event(&app, &cal, explicit("b", TUE, "09:00", json!(3600))).await;
        event(&app, &cal, explicit("c", TUE, "08:00", json!(3600))).await;
        let a = get_event(&app, &id(&a)).await;
        assert_eq!(a["state"], "unplaced", "{a}");
        assert_eq!(a["status"], "unplaced");
        assert_eq!(a["start"], Value::Null);
        assert_eq!(
            kinds(&notifications(&app, 2).await),
            vec!["displaced", "unplaced"]
        );
        // Giving it a new date places it again.
        let (status, moved) = app
            .call(
                "PATCH",
                &format!("/v1/events/{}", id(&a)),
                Some(json!({"date": "2026-12-01"})),
            )
            .await;
        // 2026-12-01 is beyond the 3-day horizon.
        assert_problem(status, &moved, StatusCode::CONFLICT, "beyond_horizon");
    }
);

both_backends!(refusals_are_typed_and_notified, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let cal = calendar_with(
        &app,
        json!({"owner": "J", "timezone": AMS, "working_hours": office_hours(), "horizon_days": 7}),
    )
    .await;
    // Longer than any working day.
    let (status, p) = post_event(&app, &cal, auto("long", TUE, json!("10h"))).await;
    assert_problem(status, &p, StatusCode::CONFLICT, "outside_working_hours");
    // A Saturday has no working hours at all.
    let (status, p) = post_event(&app, &cal, auto("sat", "2026-11-28", json!(600))).await;
    assert_problem(status, &p, StatusCode::CONFLICT, "outside_working_hours");
    // Beyond the 7-day horizon.
    let (status, p) = post_event(&app, &cal, auto("far", "2026-12-15", json!(600))).await;
    assert_problem(status, &p, StatusCode::CONFLICT, "beyond_horizon");
    // A full day.
    event(&app, &cal, explicit("all day", TUE, "08:00", json!("9h"))).await;
    let (status, p) = post_event(&app, &cal, auto("squeeze", TUE, json!(600))).await;
    assert_problem(status, &p, StatusCode::CONFLICT, "busy");
    // ... but search_days lets it look at Wednesday.
    let wed = event(
        &app,
        &cal,
        json!({"event_name": "later", "date": TUE, "duration": 600, "search_days": 1}),
    )
    .await;
    assert_eq!(wed["start"], "2026-11-25T07:00:00Z");
    let ns = notifications(&app, 4).await;
    assert_eq!(kinds(&ns), vec!["unplaceable"; 4]);
    assert_eq!(ns[0]["data"]["reason"], "outside_working_hours");
    assert_eq!(ns[2]["data"]["reason"], "beyond_horizon");
    assert_eq!(ns[3]["data"]["reason"], "busy");
    assert_eq!(ns[3]["calendar_id"], cal.as_str());
    // Explicit events outside working hours are allowed, and flagged.
    let late = event(
        &app,
        &cal,
        explicit("late", "2026-11-25", "19:00", json!(600)),
    )
    .await;
    assert_eq!(late["outside_working_hours"], true);
    let ok = event(
        &app,
        &cal,
        explicit("ok", "2026-11-25", "12:00", json!(600)),
    )
    .await;
    assert_eq!(ok["outside_working_hours"], false);
});

both_backends!(
    status_follows_the_clock_and_cancel_frees_the_slot,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        // Monday 14:00-15:00 local = 13:00-14:00 UTC; now is 12:00 UTC.
        let ev = event(
            &app,
            &cal,
            explicit("m", "2026-11-23", "14:00", json!(3600)),
        )
        .await;
        let path = format!("/v1/events/{}/status", id(&ev));
        assert_eq!(
            app.call("GET", &path, None).await.1,
            json!({"id": ev["id"], "status": "pending"})
        );
        app.clock.advance(SignedDuration::from_mins(60));
        assert_eq!(
            app.call("GET", &path, None).await.1["status"],
            "in_progress"
        );
        app.clock.advance(SignedDuration::from_mins(60));
        assert_eq!(app.call("GET", &path, None).await.1["status"], "completed");
        let later = event(&app, &cal, explicit("t", TUE, "09:00", json!(3600))).await;
        let (status, cancelled) = app
            .call("POST", &format!("/v1/events/{}/cancel", id(&later)), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(
            cancelled["start"], later["start"],
            "the record keeps its time"
        );
        // The slot is free again.
        event(&app, &cal, explicit("t2", TUE, "09:00", json!(3600))).await;
        // A cancelled event cannot be changed.
        let (status, p) = app
            .call(
                "PATCH",
                &format!("/v1/events/{}", id(&later)),
                Some(json!({"event_name": "x"})),
            )
            .await;
        assert_problem(status, &p, StatusCode::CONFLICT, "event_cancelled");
        // Delete removes it.
        let (status, _) = app
            .call("DELETE", &format!("/v1/events/{}", id(&later)), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app
            .call("GET", &format!("/v1/events/{}", id(&later)), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Its holds go with it (a foreign key on SQLite, a trigger on
        // PostgreSQL), the other events' stay.
        assert_eq!(holds_of(&app, &id(&later)).await, 0);
        assert_eq!(holds_of(&app, &id(&ev)).await, 1);
        let (_, page) = app
            .call(
                "GET",
                &format!("/v1/calendars/{cal}/events?status=completed"),
                None,
            )
            .await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    }
);

both_backends!(
    updates_rename_in_place_and_move_when_times_change,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        let ev = event(&app, &cal, auto("a", TUE, json!(1800))).await;
        let path = format!("/v1/events/{}", id(&ev));
        let (status, renamed) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"event_name": "renamed", "event_location": "Room 1", "version": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
        assert_eq!(renamed["name"], "renamed");
        assert_eq!(renamed["start"], ev["start"]);
        assert_eq!(renamed["version"], 2);
        let (status, p) = app
            .call(
                "PATCH",
                &path,
                Some(json!({"event_name": "x", "version": 1})),
            )
            .await;
        assert_problem(status, &p, StatusCode::CONFLICT, "version_conflict");
        // An explicit time makes it explicit.
        let (status, moved) = app
            .call("PATCH", &path, Some(json!({"start_time": "15:00"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["start"], "2026-11-24T14:00:00Z");
        assert_eq!(moved["placement"], "explicit");
        // Its old slot is free for others.
        let other = event(&app, &cal, explicit("b", TUE, "08:00", json!(1800))).await;
        assert_eq!(other["start"], "2026-11-24T07:00:00Z");
        // A move into a taken slot is refused and changes nothing.
        let (status, p) = app
            .call("PATCH", &path, Some(json!({"start_time": "08:00"})))
            .await;
        assert_problem(status, &p, StatusCode::CONFLICT, "busy");
        assert_eq!(
            get_event(&app, &id(&ev)).await["start"],
            "2026-11-24T14:00:00Z"
        );
    }
);

both_backends!(attendee_calendars_are_held_together, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let jeff = calendar(&app, AMS).await;
    let ann = calendar(&app, "Europe/London").await;
    // Ann is busy 08:00-09:00 Amsterdam time (07:00-08:00 London).
    event(&app, &ann, explicit("ann busy", TUE, "07:00", json!(3600))).await;
    let meeting = event(
        &app,
        &jeff,
        json!({"event_name": "sync", "date": TUE, "duration": 1800, "attendees": ["bob@example.com", ann]}),
    )
    .await;
    assert_eq!(meeting["start"], "2026-11-24T08:00:00Z", "{meeting}");
    assert_eq!(meeting["participants"], json!([ann]));
    // Ann's calendar lists it.
    let (_, page) = app
        .call("GET", &format!("/v1/calendars/{ann}/events"), None)
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    // An explicit event on Ann's calendar displaces the auto-placed
    // meeting from both calendars; it moves to where both are free again.
    let clash = event(&app, &ann, explicit("clash", TUE, "08:00", json!(600))).await;
    let meeting = get_event(&app, &id(&meeting)).await;
    assert_eq!(meeting["start"], "2026-11-24T08:10:00Z", "{meeting}");
    // Both calendars list it once, though it has held two places on each;
    // a time window applies to the events a calendar takes part in too.
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str().map(str::to_string))
            .collect()
    };
    let on_ann = calendar_events(&app, &ann).await;
    assert_eq!(names(&on_ann), ["ann busy", "clash", "sync"], "{on_ann}");
    let on_jeff = calendar_events(&app, &jeff).await;
    assert_eq!(names(&on_jeff), ["sync"], "{on_jeff}");
    let (_, window) = app
        .call(
            "GET",
            &format!(
                "/v1/calendars/{ann}/events?from=2026-11-24T08:10:00Z&to=2026-11-24T09:00:00Z"
            ),
            None,
        )
        .await;
    assert_eq!(names(&window), ["sync"], "{window}");
    // An explicit event over an explicit one on a participant calendar.
    let (status, p) = post_event(
        &app,
        &jeff,
        json!({"event_name": "y", "date": TUE, "start_time": "09:00", "duration": 600, "attendees": [ann]}),
    )
    .await;
    assert_problem(status, &p, StatusCode::CONFLICT, "attendee_busy");
    assert_eq!(p["attendee"], ann.as_str());
    assert_eq!(p["event_ids"], json!([clash["id"]]), "{p}");
    // Filter by attendee.
    let (_, page) = app
        .call(
            "GET",
            &format!("/v1/calendars/{jeff}/events?attendee=bob@example.com"),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    // Ann fully booked on Wednesday: attendee_busy names her.
    event(
        &app,
        &ann,
        explicit("ann day", "2026-11-25", "08:00", json!("9h")),
    )
    .await;
    let (status, p) = post_event(
        &app,
        &jeff,
        json!({"event_name": "x", "date": "2026-11-25", "duration": 600, "attendees": [ann]}),
    )
    .await;
    assert_problem(status, &p, StatusCode::CONFLICT, "attendee_busy");
    assert_eq!(p["attendee"], ann.as_str());
    // Cancelling frees both calendars.
    app.call("POST", &format!("/v1/events/{}/cancel", id(&meeting)), None)
        .await;
    event(&app, &ann, explicit("free again", TUE, "08:10", json!(600))).await;
});

both_backends!(
    outages_on_a_calendar_block_placement,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        let generation = || async {
            let id = cal.parse().expect("uuid");
            allot::calendar::store::get_calendar(allot::booking::store::Src::Db(app.db()), id)
                .await
                .expect("read")
                .expect("calendar")
                .entries_gen
        };
        let before = generation().await;
        // A planned outage Tuesday 08:00-12:00 local, through the booking API.
        let (status, out) = app
        .call(
            "POST",
            &format!("/v1/systems/{cal}/outages"),
            Some(json!({"kind": "planned", "start": "2026-11-24T07:00:00Z", "end": "2026-11-24T11:00:00Z", "reason": "offsite"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{out}");
        // An outage moves the calendar's generation, entries or not: a
        // batch that planned ahead of its locks sees it there.
        assert!(generation().await > before, "outage left the generation");
        let ev = event(&app, &cal, auto("a", TUE, json!(600))).await;
        assert_eq!(ev["start"], "2026-11-24T11:00:00Z");
        let (status, p) = post_event(&app, &cal, explicit("b", TUE, "09:00", json!(600))).await;
        assert_problem(status, &p, StatusCode::CONFLICT, "outage");
    }
);

both_backends!(
    working_hours_follow_daylight_saving_time,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, "America/New_York").await;
        // Friday before the change (EST, UTC-5) and Monday after it (EDT, UTC-4).
        let fri = event(&app, &cal, auto("fri", "2027-03-12", json!(600))).await;
        assert_eq!(fri["start"], "2027-03-12T13:00:00Z");
        let mon = event(&app, &cal, auto("mon", "2027-03-15", json!(600))).await;
        assert_eq!(mon["start"], "2027-03-15T12:00:00Z");
        // 17:00 local is the end either way.
        let (status, p) = post_event(&app, &cal, auto("long", "2027-03-15", json!("9h1m"))).await;
        assert_problem(status, &p, StatusCode::CONFLICT, "outside_working_hours");
    }
);

both_backends!(bad_events_are_4xx_and_store_nothing, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let cal = calendar(&app, AMS).await;
    for (body, pointer) in [
        (
            json!({"event_name": "x", "date": "2026-02-30", "duration": 60}),
            "/date",
        ),
        (
            json!({"event_name": "x", "date": "24-11-2026", "duration": 60}),
            "/date",
        ),
        (
            json!({"event_name": "x", "date": TUE, "start_time": "25:00", "duration": 60}),
            "/start_time",
        ),
        (
            json!({"event_name": "x", "date": TUE, "start_time": "9am", "duration": 60}),
            "/start_time",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": 0}),
            "/duration",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": -60}),
            "/duration",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": "2d"}),
            "/duration",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": "soon"}),
            "/duration",
        ),
        (
            json!({"event_name": "", "date": TUE, "duration": 60}),
            "/event_name",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": 60, "attendees": [""]}),
            "/attendees/0",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": 60, "attendees": ["a", "a"]}),
            "/attendees/1",
        ),
        (
            json!({"event_name": "x", "date": "2026-11-20", "duration": 60}),
            "/date",
        ),
        (
            json!({"event_name": "x", "date": "2026-11-23", "start_time": "08:00", "duration": 60}),
            "/start_time",
        ),
        (
            json!({"event_name": "x", "date": TUE, "duration": 60, "search_days": -1}),
            "/search_days",
        ),
    ] {
        let (status, p) = post_event(&app, &cal, body.clone()).await;
        assert_problem(status, &p, StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(p["errors"][0]["pointer"], pointer, "{body}: {p}");
    }
    let ghost = uuid::Uuid::now_v7().to_string();
    let (status, p) = post_event(
        &app,
        &cal,
        json!({"event_name": "x", "date": TUE, "duration": 60, "attendees": [ghost]}),
    )
    .await;
    assert_problem(status, &p, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(p["unknown_calendar_ids"], json!([ghost]));
    let (status, p) = post_event(&app, &ghost, auto("x", TUE, json!(60))).await;
    assert_problem(status, &p, StatusCode::NOT_FOUND, "not-found");
    let (status, p) = post_event(&app, "not-an-id", auto("x", TUE, json!(60))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    let (status, p) = app
        .call(
            "POST",
            &format!("/v1/calendars/{cal}/events"),
            Some(json!({"event_name": "x"})),
        )
        .await;
    assert!(status.is_client_error(), "{p}");
    let (_, page) = app
        .call("GET", &format!("/v1/calendars/{cal}/events"), None)
        .await;
    assert_eq!(page["items"], json!([]), "nothing stored");
    assert!(notifications(&app, 0).await.is_empty());
    let (status, p) = app
        .call(
            "GET",
            &format!("/v1/calendars/{cal}/events?status=soon"),
            None,
        )
        .await;
    assert_problem(status, &p, StatusCode::BAD_REQUEST, "invalid-query");
});

both_backends!(
    free_slots_are_what_auto_placement_would_take,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        event(&app, &cal, explicit("a", TUE, "08:00", json!("1h30m"))).await;
        let (status, free) = app
            .call(
                "GET",
                &format!("/v1/calendars/{cal}/free?date={TUE}&duration=1h&limit=3"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{free}");
        let starts: Vec<&str> = free["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap())
            .collect();
        assert_eq!(
            starts,
            vec![
                "2026-11-24T08:30:00Z",
                "2026-11-24T09:30:00Z",
                "2026-11-24T10:30:00Z"
            ]
        );
        let next = event(&app, &cal, auto("b", TUE, json!(3600))).await;
        assert_eq!(next["start"], starts[0]);
        let (status, p) = app
            .call(
                "GET",
                &format!("/v1/calendars/{cal}/free?date=2026-02-30&duration=1h"),
                None,
            )
            .await;
        assert_problem(status, &p, StatusCode::BAD_REQUEST, "invalid-query");
    }
);

both_backends!(
    notifications_long_poll_wakes_on_a_new_one,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let app = std::sync::Arc::new(app);
        let cal = calendar(&app, AMS).await;
        let (_, first) = app.call("GET", "/v1/notifications", None).await;
        assert_eq!(first["items"], json!([]));
        let writer = {
            let app = app.clone();
            let cal = cal.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                post_event(&app, &cal, auto("sat", "2026-11-28", json!(60))).await
            })
        };
        let started = std::time::Instant::now();
        let (status, page) = app.call("GET", "/v1/notifications?wait=20s", None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "woke up late"
        );
        assert_eq!(page["items"][0]["kind"], "unplaceable");
        let (status, _) = writer.await.expect("writer");
        assert_eq!(status, StatusCode::CONFLICT);
        let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
        let (_, rest) = app
            .call(
                "GET",
                &format!("/v1/notifications?after={cursor}&wait=1s"),
                None,
            )
            .await;
        assert_eq!(rest["items"], json!([]));
        assert_eq!(rest["next_cursor"], cursor.as_str());
        let (status, p) = app.call("GET", "/v1/notifications?wait=5m", None).await;
        assert_problem(status, &p, StatusCode::BAD_REQUEST, "invalid-query");
    }
);

both_backends!(other_scopes_are_refused, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let secret = "booker-secret";
    allot::auth::TokenStore::new(app.db().clone())
        .insert(
            "booker",
            &allot::auth::hash_secret(secret),
            &["booking:write".to_string(), "booking:read".to_string()],
            start_time(),
        )
        .await
        .expect("token");
    let cal = calendar(&app, AMS).await;
    for (method, path, body) in [
        ("GET", "/v1/calendars".to_string(), None),
        (
            "POST",
            "/v1/calendars".to_string(),
            Some(json!({"owner": "x", "timezone": AMS})),
        ),
        (
            "POST",
            format!("/v1/calendars/{cal}/events"),
            Some(auto("x", TUE, json!(60))),
        ),
        ("GET", "/v1/notifications".to_string(), None),
    ] {
        let (status, p) = app
            .call_with(
                method,
                &path,
                body.map(|b| b.to_string()),
                Some(secret),
                "application/json",
            )
            .await;
        assert_problem(status, &p, StatusCode::FORBIDDEN, "forbidden");
    }
});

both_backends!(
    concurrent_auto_placements_never_double_book,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let app = std::sync::Arc::new(app);
        let cal = calendar(&app, AMS).await;
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let app = app.clone();
                let cal = cal.clone();
                tokio::spawn(async move {
                    post_event(&app, &cal, auto(&format!("e{i}"), TUE, json!(900))).await
                })
            })
            .collect();
        let mut placed = Vec::new();
        for t in tasks {
            let (status, ev) = t.await.expect("task");
            match status {
                StatusCode::CREATED => placed.push((
                    ev["start"].as_str().unwrap().to_string(),
                    ev["end"].as_str().unwrap().to_string(),
                )),
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}: {ev}"),
            }
        }
        assert_eq!(placed.len(), 32, "a nine-hour day holds 36 quarter hours");
        placed.sort();
        for w in placed.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlap: {w:?}");
        }
    }
);

both_backends!(
    concurrent_placements_with_attendees_spill_over_and_hold_every_calendar,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let app = std::sync::Arc::new(app);
        let (a, b, c) = (
            calendar(&app, AMS).await,
            calendar(&app, AMS).await,
            calendar(&app, AMS).await,
        );
        // 24 events on A with B attending, 24 on B with C, 24 on C alone,
        // all at once: B and C need 48 quarter hours, a day has 36, so
        // some spill over to Wednesday; placements share calendars in
        // overlapping sets, so batches must lock and see all of them.
        let mut tasks = Vec::new();
        for i in 0..72 {
            let (owner, attendees) = match i % 3 {
                0 => (a.clone(), json!([b])),
                1 => (b.clone(), json!([c])),
                _ => (c.clone(), json!([])),
            };
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"event_name": format!("e{i}"), "date": TUE, "duration": 900,
                    "attendees": attendees, "event_location": "HQ", "search_days": 2});
                post_event(&app, &owner, body).await
            }));
        }
        for t in tasks {
            let (status, ev) = t.await.expect("task");
            assert_eq!(status, StatusCode::CREATED, "{ev}");
        }
        // Audit through booking: every calendar's active entries never
        // overlap, and each holds exactly the events it takes part in.
        for (cal, expected) in [(&a, 24), (&b, 48), (&c, 48)] {
            let held = active_entries(&app, cal, expected).await;
            let mut placed = spans(&calendar_events(&app, cal).await);
            placed.sort();
            assert_eq!(placed, held, "events of {cal} and its booking entries");
        }
    }
);

both_backends!(
    an_outage_evicting_an_event_unplaces_it_everywhere,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let jeff = calendar(&app, AMS).await;
        let ann = calendar(&app, AMS).await;
        let meeting = event(
        &app,
        &jeff,
        json!({"event_name": "sync", "date": TUE, "start_time": "10:00", "duration": 3600, "attendees": [ann]}),
    )
    .await;
        // An outage on Ann's calendar over the meeting, evicting.
        let (status, out) = app
        .call(
            "POST",
            &format!("/v1/systems/{ann}/outages?evict=true"),
            Some(json!({"kind": "planned", "start": "2026-11-24T09:30:00Z", "end": "2026-11-24T10:30:00Z", "reason": "sick"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{out}");
        let meeting = get_event(&app, &id(&meeting)).await;
        assert_eq!(meeting["state"], "unplaced", "{meeting}");
        assert_eq!(meeting["start"], Value::Null);
        let ns = notifications(&app, 1).await;
        assert_eq!(kinds(&ns), vec!["evicted_by_outage"]);
        assert_eq!(ns[0]["calendar_id"], jeff.as_str());
        assert_eq!(ns[0]["data"]["outage_id"], out["id"]);
        assert_eq!(ns[0]["data"]["was"]["start"], "2026-11-24T09:00:00Z");
        // Jeff's slot is free again: the event lost its hold there too.
        event(&app, &jeff, explicit("solo", TUE, "10:00", json!(3600))).await;
    }
);

both_backends!(
    attachments_are_stored_hashed_and_served_back,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal = calendar(&app, AMS).await;
        let ev = event(&app, &cal, auto("with files", TUE, json!(600))).await;
        let base = format!("/v1/events/{}/attachments", id(&ev));
        let pdf = "%PDF-1.4 agenda".to_string();
        let (status, att) = app
            .call_with(
                "POST",
                &format!("{base}?filename=agenda.pdf"),
                Some(pdf.clone()),
                Some(TOKEN),
                "application/pdf",
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{att}");
        assert_eq!(att["size"], pdf.len());
        assert_eq!(att["content_type"], "application/pdf");
        use sha2::Digest;
        assert_eq!(
            att["sha256"],
            hex::encode(sha2::Sha256::digest(pdf.as_bytes()))
        );
        let (status, headers, body) = app
            .call_full(
                "GET",
                &format!("{base}/{}", id(&att)),
                None,
                Some(TOKEN),
                "",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, Value::String(pdf.clone()));
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"agenda.pdf\""
        );
        let (_, list) = app.call("GET", &base, None).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
        // Over the default 1 MiB JSON body limit, under the 10 MiB attachment limit.
        let big = "x".repeat(2 * 1024 * 1024);
        let (status, att2) = app
            .call_with(
                "POST",
                &format!("{base}?filename=big.bin"),
                Some(big),
                Some(TOKEN),
                "application/octet-stream",
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{att2}");
        let huge = "x".repeat(10 * 1024 * 1024 + 1);
        let (status, p) = app
            .call_with(
                "POST",
                &format!("{base}?filename=huge.bin"),
                Some(huge),
                Some(TOKEN),
                "application/octet-stream",
            )
            .await;
        assert_problem(
            status,
            &p,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        );
        for (query, ct, expected, slug) in [
            (
                "filename=../etc/passwd",
                "text/plain",
                StatusCode::BAD_REQUEST,
                "invalid-query",
            ),
            ("", "text/plain", StatusCode::BAD_REQUEST, "invalid-query"),
            (
                "filename=a.txt",
                "nonsense",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            ),
        ] {
            let (status, p) = app
                .call_with(
                    "POST",
                    &format!("{base}?{query}"),
                    Some("hello".into()),
                    Some(TOKEN),
                    ct,
                )
                .await;
            assert_problem(status, &p, expected, slug);
        }
        let (status, p) = app
            .call_with(
                "POST",
                &format!("/v1/events/{}/attachments?filename=a", uuid::Uuid::now_v7()),
                Some("x".into()),
                Some(TOKEN),
                "text/plain",
            )
            .await;
        assert_problem(status, &p, StatusCode::NOT_FOUND, "not-found");
        let (status, _) = app
            .call("DELETE", &format!("{base}/{}", id(&att)), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app
            .call("DELETE", &format!("{base}/{}", id(&att)), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Deleting the event deletes its attachments.
        app.call("DELETE", &format!("/v1/events/{}", id(&ev)), None)
            .await;
        let (status, _) = app
            .call("GET", &format!("{base}/{}", id(&att2)), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    cached_busy_days_see_every_other_writer,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        // A second replica on the same database, with its own cache.
        let other = app.replica().await;
        let cal = calendar(&app, AMS).await;
        let place = |name: &str| auto(name, TUE, json!(1800));
        let stats = || app.server.state.calendar.busy_cache_stats();
        // Office hours start at 08:00 Amsterdam, 07:00 UTC.
        let a1 = event(&app, &cal, place("a1")).await;
        assert_eq!(a1["start"], "2026-11-24T07:00:00Z");
        let (hits, _) = stats();
        let a2 = event(&app, &cal, place("a2")).await;
        assert_eq!(a2["start"], "2026-11-24T07:30:00Z");
        assert_eq!(
            stats().0,
            hits + 1,
            "the second placement reads Tuesday from the cache"
        );

        // The other replica places an event explicitly: the next auto
        // placement here steps over it,
        let b1 = event(&other, &cal, explicit("b1", TUE, "09:00", json!(1800))).await;
        let a3 = event(&app, &cal, place("a3")).await;
        assert_eq!(a3["start"], "2026-11-24T08:30:00Z");
        // ... books the calendar's system directly through the booking API,
        booked(
            &other,
            &cal,
            "2026-11-24T09:00:00Z",
            "2026-11-24T09:30:00Z",
            &[],
        )
        .await;
        let a4 = event(&app, &cal, place("a4")).await;
        assert_eq!(a4["start"], "2026-11-24T09:30:00Z");
        // ... deletes an event: its slot is open again,
        let (status, _) = other
            .call("DELETE", &format!("/v1/events/{}", id(&b1)), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let a5 = event(&app, &cal, place("a5")).await;
        assert_eq!(a5["start"], "2026-11-24T08:00:00Z");
        // ... and cancels one of ours.
        let (status, _) = other
            .call("POST", &format!("/v1/events/{}/cancel", id(&a2)), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let a6 = event(&app, &cal, place("a6")).await;
        assert_eq!(a6["start"], "2026-11-24T07:30:00Z");
        // This replica's own writes outside the batch count as well.
        event(&app, &cal, explicit("x", TUE, "11:30", json!(1800))).await;
        let a7 = event(&app, &cal, place("a7")).await;
        assert_eq!(a7["start"], "2026-11-24T10:00:00Z");
        let a8 = event(&app, &cal, place("a8")).await;
        assert_eq!(a8["start"], "2026-11-24T11:00:00Z");
    }
);

both_backends!(
    placements_planned_ahead_are_checked_under_the_locks,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let app = std::sync::Arc::new(app);
        let other = std::sync::Arc::new(app.replica().await);
        let cal = calendar(&app, AMS).await;
        const WED: &str = "2026-11-25";
        // Tuesday and Wednesday in the cache.
        event(&app, &cal, auto("warm", TUE, json!(900))).await;
        event(&app, &cal, auto("warm", WED, json!(900))).await;
        let place = |i: usize| {
            let (app, cal) = (app.clone(), cal.clone());
            tokio::spawn(async move {
                let body = json!({"event_name": format!("e{i}"), "date": TUE, "duration": 900,
                    "attendees": [], "search_days": 1});
                post_event(&app, &cal, body).await
            })
        };
        // Nothing else writes: on PostgreSQL the batches plan ahead of
        // their locks, on the spans the batch before them cached.
        let first: Vec<_> = (0..12).map(place).collect();
        for t in first {
            let (status, ev) = t.await.expect("task");
            assert_eq!(status, StatusCode::CREATED, "{ev}");
        }
        if backend == allot::store::Backend::Postgres {
            let (written, _) = app.server.state.calendar.ahead_stats();
            assert!(written > 0, "no batch planned ahead");
        }
        // While placements batch, another replica books the calendar
        // through the booking API and declares an outage on Wednesday
        // afternoon: writes that land between batches' plans and locks.
        let mut placing: Vec<_> = (12..48).map(place).collect();
        let mut writes = Vec::new();
        for k in 0..6 {
            let (other, cal) = (other.clone(), cal.clone());
            writes.push(tokio::spawn(async move {
                let start = format!("2026-11-24T{:02}:00:00Z", 10 + k);
                let end = format!("2026-11-24T{:02}:20:00Z", 10 + k);
                book(&other, &cal, &start, &end, &[]).await
            }));
        }
        let (o, c) = (other.clone(), cal.clone());
        writes.push(tokio::spawn(async move {
            o.call(
                "POST",
                &format!("/v1/systems/{c}/outages"),
                Some(json!({"kind": "planned", "start": "2026-11-25T12:00:00Z",
                    "end": "2026-11-25T16:00:00Z", "reason": "offsite"})),
            )
            .await
        }));
        for t in writes {
            let (status, body) = t.await.expect("task");
            assert!(
                matches!(status, StatusCode::CREATED | StatusCode::CONFLICT),
                "{status}: {body}"
            );
        }
        placing.push(place(48));
        for t in placing {
            let (status, ev) = t.await.expect("task");
            assert!(
                matches!(status, StatusCode::CREATED | StatusCode::CONFLICT),
                "{status}: {ev}"
            );
        }
        // Whatever the order, nothing overlaps on the calendar, and no
        // event placed on Wednesday sits in the outage.
        active_entries(&app, &cal, None).await;
        for (start, end) in spans(&calendar_events(&app, &cal).await) {
            if start.starts_with(WED) {
                assert!(
                    end.as_str() <= "2026-11-25T12:00:00Z"
                        || start.as_str() >= "2026-11-25T16:00:00Z",
                    "in the outage: [{start}, {end})"
                );
            }
        }
    }
);

both_backends!(
    a_calendar_locked_after_a_wait_is_read_as_its_holder_left_it,
    |backend| async move {
        use allot::calendar::store::lock_calendars;
        use allot::store::Tx;
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let cal: uuid::Uuid = calendar(&app, AMS).await.parse().expect("uuid");
        let mut first = app.db().begin().await.expect("begin");
        let (_, cals) = lock_calendars(&mut first, &[cal]).await.expect("lock");
        let before = cals[0].entries_gen;
        // What a write of entries under the lock does (the trigger's bump).
        let bump = "UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = $1";
        let id = allot::store::DbId(cal);
        match &mut first {
            Tx::Sqlite { tx, .. } => sqlx::query(bump)
                .bind(id)
                .execute(&mut **tx)
                .await
                .map(drop),
            Tx::Postgres(tx) => sqlx::query(bump)
                .bind(id)
                .execute(&mut **tx)
                .await
                .map(drop),
        }
        .expect("bump");
        let db = app.db().clone();
        let second = tokio::spawn(async move {
            let mut tx = db.begin().await.expect("begin");
            let (_, cals) = lock_calendars(&mut tx, &[cal]).await.expect("lock");
            cals[0].entries_gen
        });
        // Let the second transaction start waiting for the first.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the second lock waits for the first");
        first.commit().await.expect("commit");
        assert_eq!(second.await.expect("task"), before + 1);
    }
);

both_backends!(
    two_replicas_placing_at_once_never_double_book,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let replicas = std::sync::Arc::new([app.replica().await, app.replica().await]);
        let (a, b) = (calendar(&app, AMS).await, calendar(&app, AMS).await);
        // Two waves of 24 events on A with B attending and 24 on B alone,
        // sent to two replicas at once: each replica's batches cache the
        // days they read, and each must see what the other wrote.
        for wave in 0..2 {
            let mut tasks = Vec::new();
            for i in 0..48 {
                let (owner, attendees) = match i % 2 {
                    0 => (a.clone(), json!([b])),
                    _ => (b.clone(), json!([])),
                };
                let replicas = replicas.clone();
                tasks.push(tokio::spawn(async move {
                    let body = json!({"event_name": format!("w{wave}e{i}"), "date": TUE, "duration": 900,
                        "attendees": attendees, "event_location": "HQ", "search_days": 3});
                    post_event(&replicas[(i / 2) % 2], &owner, body).await
                }));
            }
            for t in tasks {
                let (status, ev) = t.await.expect("task");
                assert_eq!(status, StatusCode::CREATED, "{ev}");
            }
        }
        for (cal, expected) in [(&a, 48), (&b, 96)] {
            active_entries(&app, cal, expected).await;
        }
    }
);

both_backends!(
    deleting_a_calendars_system_takes_its_events_and_holds,
    |backend| async move {
        let Some(app) = TestApp::new(backend).await else {
            return;
        };
        let (cal, guest) = (calendar(&app, AMS).await, calendar(&app, AMS).await);
        let body = json!({"event_name": "m", "date": TUE, "start_time": "09:00", "duration": 1800,
            "attendees": [guest], "event_location": "HQ"});
        let ev = event(&app, &cal, body).await;
        assert_eq!(holds_of(&app, &id(&ev)).await, 2);
        // Once the event is over, the calendar's booking system may go.
        app.clock.advance(SignedDuration::from_hours(48));
        let (status, body) = app
            .call("DELETE", &format!("/v1/systems/{cal}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, _) = app
            .call("GET", &format!("/v1/events/{}", id(&ev)), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(holds_of(&app, &id(&ev)).await, 0);
        // The guest's calendar stays.
        let (status, _) = app
            .call("GET", &format!("/v1/calendars/{guest}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
);

/// How many hold rows name the event `ev`.
async fn holds_of(app: &TestApp, ev: &str) -> i64 {
    allot::with_pool!(app.db(), p => sqlx::query_scalar(
        "SELECT count(*) FROM calendar_holds WHERE event_id = $1")
        .bind(allot::store::DbId(ev.parse().expect("event id")))
        .fetch_one(p)
        .await
        .expect("count holds"))
}

/// Every event on `cal` (its own and those it takes part in).
async fn calendar_events(app: &TestApp, cal: &str) -> Value {
    let (status, events) = app
        .call(
            "GET",
            &format!("/v1/calendars/{cal}/events?limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events
}

/// The active entries on `cal`, sorted, asserting that none overlap (and
/// that there are `expected`, when given).
async fn active_entries(
    app: &TestApp,
    cal: &str,
    expected: impl Into<Option<usize>>,
) -> Vec<(String, String)> {
    let (status, page) = app
        .call(
            "GET",
            &format!("/v1/systems/{cal}/entries?status=active&limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut held = spans(&page);
    if let Some(expected) = expected.into() {
        assert_eq!(held.len(), expected, "active entries on {cal}");
    }
    held.sort();
    for w in held.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap on {cal}: {w:?}");
    }
    held
}

/// Migration 0012: a transaction that says it bumps its calendars'
/// generations itself (`allot.entries_gen = 'caller'`, as a placement
/// batch writing ahead of its locks does) inserts entries without the
/// trigger's bump, so without taking the calendar row's lock, which
/// another transaction holds meanwhile; it bumps once under the lock
/// itself. The setting ends with its transaction: the next insert on the
/// same connection bumps through the trigger again. (PostgreSQL only:
/// SQLite's batches write under its one writer, with the trigger.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_ahead_leave_the_generation_to_their_batch() {
    use allot::booking::store::{EntryRow, insert_entries_with_events};
    use allot::calendar::store::{bump_entries_gen, lock_calendars};
    use allot::store::Tx;
    use allot_kernel::booking::Span;
    let Some(app) = TestApp::new(allot::store::Backend::Postgres).await else {
        return;
    };
    let cal: uuid::Uuid = calendar(&app, AMS).await.parse().expect("uuid");
    let generation = || async {
        allot::calendar::store::get_calendar(allot::booking::store::Src::Db(app.db()), cal)
            .await
            .expect("read")
            .expect("calendar")
            .entries_gen
    };
    let entry = |hour: i64| {
        let start = jiff::Timestamp::from_second(1_900_000_000 + hour * 3600).expect("time");
        let span = Span::new(
            start.as_microsecond(),
            start.as_microsecond() + 3_600_000_000,
        );
        EntryRow::new_active(
            cal,
            span.expect("span"),
            Vec::new(),
            "ahead".into(),
            json!({}),
            allot::clock::Clock::now(&app.clock),
        )
    };
    let before = generation().await;
    // Another transaction holds the calendar's locks throughout.
    let mut holder = app.db().begin().await.expect("begin");
    lock_calendars(&mut holder, &[cal]).await.expect("lock");

    let mut ahead = app.db().begin().await.expect("begin");
    let Tx::Postgres(pg) = &mut ahead else {
        panic!("a PostgreSQL transaction");
    };
    sqlx::raw_sql("SET LOCAL allot.entries_gen = 'caller'")
        .execute(&mut **pg)
        .await
        .expect("set");
    // Written while the calendar is locked by `holder`: with the trigger's
    // bump this would wait for it.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        insert_entries_with_events(&mut ahead, &[entry(0)]),
    )
    .await
    .expect("the insert waits for no calendar lock")
    .expect("insert");
    drop(holder);
    assert_eq!(generation().await, before, "nothing committed yet");
    let Tx::Postgres(pg) = &mut ahead else {
        panic!("a PostgreSQL transaction");
    };
    bump_entries_gen(pg, &[cal]).await.expect("bump");
    ahead.commit().await.expect("commit");
    assert_eq!(generation().await, before + 1, "bumped once, by the batch");

    // Any other insert bumps through the trigger, whichever connection.
    for hour in 1..4 {
        let mut tx = app.db().begin().await.expect("begin");
        insert_entries_with_events(&mut tx, &[entry(hour)])
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        assert_eq!(generation().await, before + 1 + hour, "the trigger bumps");
    }
}

// The README's calendar tour runs as written (see `common::tour`). It once
// set a horizon that refused its own first event.
both_backends!(the_readme_calendar_tour_works, |backend| async move {
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    let ids = tour::run(
        &app,
        "## A five-minute tour of calendar",
        &[("$CAL", "/v1/calendars"), ("EVENT_ID", "/events")],
    )
    .await;
    assert_eq!(ids.len(), 2, "a calendar and an event: {ids:?}");
});

#[test]
fn a_tour_comment_names_a_refusal_only_with_its_problem_type() {
    assert_eq!(
        tour::refusal(" now 2030 is too far ahead: 409 beyond_horizon"),
        Some(409)
    );
    assert_eq!(
        tour::refusal(" a planned outage over the entry: 409 naming it, or evict it"),
        None
    );
    assert_eq!(
        tour::refusal(" every 30 seconds, increment a counter"),
        None
    );
}
