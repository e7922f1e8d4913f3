//! The quick benchmarks end to end on each backend: what a user runs from
//! docs/benchmarks.md keeps working (seed, settle, the timed runs), and
//! every timed request is accepted.

use std::process::Command;

use serde_json::Value;

/// Runs `allot bench <args> --json` on `backend` and returns its documents.
fn bench(args: &[&str], backend: &str, postgres_url: Option<&str>) -> Vec<Value> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_allot"));
    cmd.arg("bench")
        .args(args)
        .args(["--quick", "--json", "--backend", backend]);
    if let Some(url) = postgres_url {
        cmd.args(["--postgres-url", url]);
    }
    let out = cmd.output().expect("allot runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench {args:?} --backend {backend} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn scenario<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["scenario"] == name)
        .unwrap_or_else(|| panic!("no {name} figures in {docs:?}"))
}

#[tokio::test]
async fn quick_booking_bench_accepts_every_insert_on_both_backends() {
    let docs = bench(&["booking", "--no-baseline"], "sqlite", None);
    let doc = scenario(&docs, "http_inserts");
    assert_eq!(doc["accepted"], 2000, "{doc}");
    assert!(
        doc["inserts_per_second"].as_f64().unwrap_or(0.0) > 0.0,
        "{doc}"
    );
    if let Some(server) = allot::testing::postgres_server().await {
        let docs = bench(&["booking", "--no-baseline"], "postgres", Some(&server));
        let doc = scenario(&docs, "http_inserts");
        assert_eq!(doc["accepted"], 2000, "{doc}");
        assert_eq!(doc["existing_entries"], 20000, "{doc}");
    }
}

/// Every scenario, the fixed-rate runs included, places all its events:
/// the seeded calendars leave room for every timed placement, and the
/// 10-attendee batches on PostgreSQL's batch connections finish (an
/// earlier connection scheme stalled there).
#[tokio::test]
async fn quick_calendar_bench_places_every_event_on_both_backends() {
    let check = |docs: &[Value]| {
        for name in ["single", "single_at_rate", "attendees", "attendees_at_rate"] {
            let doc = scenario(docs, name);
            assert_eq!(doc["placed"], 200, "{doc}");
        }
        for name in ["single_at_rate", "attendees_at_rate"] {
            let doc = scenario(docs, name);
            assert_eq!(doc["offered_per_second"], 2000.0, "{doc}");
            // 200 placements at 2,000/s: no whole second to judge.
            assert_eq!(doc.get("worst_second_p99_ms"), Some(&Value::Null), "{doc}");
        }
    };
    check(&bench(&["calendar"], "sqlite", None));
    if let Some(server) = allot::testing::postgres_server().await {
        check(&bench(&["calendar"], "postgres", Some(&server)));
    }
}

#[test]
fn a_rate_or_a_length_of_zero_is_refused_before_anything_runs() {
    for (flag, says) in [
        ("--rate", "--rate must be"),
        ("--rate-seconds", "--rate-seconds must be"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_allot"))
            .args([
                "bench",
                "calendar",
                "--quick",
                "--backend",
                "sqlite",
                flag,
                "0",
            ])
            .output()
            .expect("allot runs");
        assert!(!out.status.success(), "{flag} 0 was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}
