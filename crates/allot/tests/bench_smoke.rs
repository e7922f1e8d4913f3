//! `allot bench booking --quick` end to end on each backend: the benchmark
//! a user runs from docs/benchmarks.md keeps working (seed, settle, the
//! HTTP inserts), and every timed insert is accepted.

use std::process::Command;

use serde_json::Value;

fn http_inserts(backend: &str, postgres_url: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_allot"));
    cmd.args(["bench", "booking", "--quick", "--no-baseline", "--json"])
        .args(["--backend", backend]);
    if let Some(url) = postgres_url {
        cmd.args(["--postgres-url", url]);
    }
    let out = cmd.output().expect("allot runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench booking --backend {backend} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|d| d["scenario"] == "http_inserts")
        .unwrap_or_else(|| panic!("no http_inserts figures in:\n{stdout}"))
}

#[tokio::test]
async fn quick_booking_bench_accepts_every_insert_on_both_backends() {
    let doc = http_inserts("sqlite", None);
    assert_eq!(doc["accepted"], 2000, "{doc}");
    assert!(
        doc["inserts_per_second"].as_f64().unwrap_or(0.0) > 0.0,
        "{doc}"
    );
    if let Some(server) = allot::testing::postgres_server().await {
        let doc = http_inserts("postgres", Some(&server));
        assert_eq!(doc["accepted"], 2000, "{doc}");
        assert_eq!(doc["existing_entries"], 20000, "{doc}");
    }
}
