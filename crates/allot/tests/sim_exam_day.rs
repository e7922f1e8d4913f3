//! `allot sim exam-day`: a small generated day through the library API
//! (the executor against the cloud simulator on a virtual clock, audited
//! at the simulator), the same seed twice, and the built binary with
//! `--json` and `--svg`.

use std::collections::HashSet;
use std::process::Command;

use allot::sim::exam_day::{ExamDayConfig, generate, run, simulate};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_allot");

fn small_day(exams: usize, seed: u64, max_students: u32) -> ExamDayConfig {
    let mut config = ExamDayConfig::new(exams, seed);
    config.scenario.max_students = max_students;
    config
}

#[tokio::test]
async fn a_small_day_has_no_429_no_leak_and_every_feasible_exam_ready() {
    let config = small_day(6, 3, 300);
    let scenario = generate(&config.scenario).expect("a day");
    let outcome = simulate(&config).await.expect("the day runs");
    let r = &outcome.report;
    assert_eq!(r.rate_limited, 0, "no 429");
    assert_eq!(r.leaked, 0, "nothing leaked");
    assert_eq!((r.not_stopped, r.unaccounted), (0, 0));
    assert_eq!(r.slots_with_two_vms, 0);
    assert_eq!(r.exams.len(), 5, "six exams, one cancelled");
    assert!(r.exams.iter().any(|e| e.late), "a late addition");
    assert!(r.exams.iter().any(|e| e.resized_from.is_some()), "a resize");
    for e in &r.exams {
        assert!(e.feasible, "{} fits a 300-student day: {e:?}", e.name);
        assert_eq!(e.ready_at_start, e.needed, "{e:?}");
        assert!(e.prediction_matches, "{e:?}");
        assert!(e.vms >= u64::from(e.needed), "{e:?}");
        assert!(
            e.idle_vm_minutes + 0.01 >= e.idle_lower_bound,
            "the lower bound holds: {e:?}"
        );
        let stop = e.minutes_to_last_stop.expect("every VM stopped");
        assert!(
            (0.0..=15.0).contains(&stop),
            "stopped soon after the end: {e:?}"
        );
    }
    let c = r.cancelled.as_ref().expect("one cancellation");
    let planned = &scenario.exams[scenario.cancellation.exam];
    assert_eq!(c.name, planned.name);
    assert!(
        c.started_when_cancelled >= scenario.cancellation.after_started,
        "cancelled mid-provisioning: {c:?}"
    );
    assert!(c.cancelled_at < planned.start, "{c:?}");
    assert!(c.vms >= 1 && c.vms < u64::from(c.needed), "{c:?}");
    let stop = c.minutes_to_last_stop.expect("its VMs are stopped");
    assert!((0.0..=5.0).contains(&stop), "{c:?}");
    let all: u64 = r.exams.iter().map(|e| e.vms).sum::<u64>() + c.vms;
    assert_eq!(all, r.vms_started, "every VM belongs to an exam");
    assert!(r.failures().is_empty(), "{:?}", r.failures());
    assert_eq!(outcome.series.len(), 6, "one series per exam");
}

#[tokio::test]
async fn an_overfull_day_reports_the_shortfall_the_planner_predicted() {
    // One VM a minute, and the first plain exam of the day made larger
    // than the minutes before it: it cannot be served in full.
    let mut config = small_day(5, 4, 300);
    config.vms_per_minute = 1;
    let mut scenario = generate(&config.scenario).expect("a day");
    let big = (0..scenario.exams.len())
        .find(|&i| {
            i != scenario.cancellation.exam
                && scenario.resize.is_none_or(|r| r.exam != i)
                && !scenario.exams[i].is_late(scenario.day)
        })
        .expect("a plain exam");
    let minutes = scenario.exams[big]
        .start
        .duration_since(scenario.day)
        .as_mins();
    scenario.exams[big].students = u32::try_from(minutes).expect("minutes") + 100;
    let outcome = run(&config, &scenario).await.expect("the day runs");
    let r = &outcome.report;
    assert_eq!((r.rate_limited, r.leaked), (0, 0));
    let e = r
        .exams
        .iter()
        .find(|e| e.name == scenario.exams[big].name)
        .expect("reported");
    assert!(!e.feasible && !e.feasible_when_known, "{e:?}");
    assert!(e.ready_at_start < e.needed, "{e:?}");
    assert!(e.predicted_ready_at_start < e.needed, "{e:?}");
    for e in &r.exams {
        assert!(e.prediction_matches, "measured as predicted: {e:?}");
        if e.feasible {
            assert_eq!(e.ready_at_start, e.needed, "{e:?}");
        }
    }
    assert!(r.failures().is_empty(), "{:?}", r.failures());
}

#[tokio::test]
async fn a_seed_gives_the_same_report() {
    let config = small_day(3, 9, 60);
    let a = simulate(&config).await.expect("runs");
    let b = simulate(&config).await.expect("runs");
    assert_eq!(a.report, b.report);
    assert_eq!(a.series, b.series);
}

#[test]
fn the_binary_prints_one_json_document_and_writes_the_chart() {
    let dir = std::env::temp_dir().join(format!("allot-exam-day-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let svg = dir.join("day.svg");
    let out = Command::new(BIN)
        .args([
            "sim",
            "exam-day",
            "--exams",
            "4",
            "--seed",
            "2",
            "--max-students",
            "100",
            "--json",
            "--svg",
        ])
        .arg(&svg)
        .output()
        .expect("run allot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim().lines().count(), 1, "one line: {stdout}");
    let doc: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(doc["rate_limited"], 0);
    assert_eq!(doc["leaked"], 0);
    let exams = doc["exams"].as_array().expect("exams");
    assert_eq!(exams.len(), 3);
    for e in exams {
        for key in [
            "name",
            "needed",
            "ready_at_start",
            "feasible",
            "idle_vm_minutes",
            "idle_lower_bound",
            "minutes_to_last_stop",
        ] {
            assert!(e.get(key).is_some(), "{key} in {e}");
        }
        assert_eq!(e["feasible"], true, "{e}");
        assert_eq!(e["ready_at_start"], e["needed"], "{e}");
    }
    let chart = std::fs::read_to_string(&svg).expect("the chart");
    assert!(chart.starts_with("<?xml") && chart.trim_end().ends_with("</svg>"));
    let names: HashSet<&str> = exams.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(chart.matches(r#"<polyline class="series""#).count(), 4);
    for name in names {
        assert!(chart.contains(&format!(r#"data-exam="{name}""#)), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let usage = Command::new(BIN)
        .args(["sim", "exam-day", "--exams", "2", "--seed", "1"])
        .output()
        .expect("run allot");
    assert_eq!(
        usage.status.code(),
        Some(2),
        "too few exams is a usage error"
    );
}
