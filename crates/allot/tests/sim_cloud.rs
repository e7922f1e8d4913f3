//! The cloud provider simulator over HTTP: its rate limits, allocation
//! queue, idempotency keys and injected faults, on a manual clock. The only
//! real waits are the fault holds themselves (tokio time, a second at
//! most); the model's time only moves when a test sets the clock.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allot::clock::{ManualClock, SharedClock};
use allot::sim::cloud::{CloudConfig, Faults, RunningCloud, Stats, VmState, VmView, spawn};
use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

fn t0() -> Timestamp {
    "2030-06-03T08:00:00Z".parse().expect("valid time")
}

/// `t0 + secs`, to the microsecond like the clock.
fn at(secs: f64) -> Timestamp {
    let micros = (secs * 1e6).round() as i64;
    t0().checked_add(SignedDuration::from_micros(micros))
        .expect("in range")
}

/// The default profile (3 requests/s, 10 VMs/min) on a free port.
fn profile() -> CloudConfig {
    CloudConfig {
        listen: "127.0.0.1:0".to_owned(),
        seed: Some(1),
        ..CloudConfig::default()
    }
}

fn with_faults(faults: Faults) -> CloudConfig {
    CloudConfig {
        faults,
        ..profile()
    }
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {} {}", self.status, self.body))
            .to_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Sim {
    cloud: RunningCloud,
    clock: ManualClock,
    http: reqwest::Client,
}

impl Sim {
    async fn new(config: CloudConfig) -> Sim {
        let clock = ManualClock::new(t0());
        let shared: SharedClock = Arc::new(clock.clone());
        let cloud = spawn(config, shared).await.expect("spawn the simulator");
        Sim {
            cloud,
            clock,
            http: allot::tls::http_client(reqwest::redirect::Policy::none()),
        }
    }

    fn set(&self, secs: f64) {
        self.clock.set(at(secs));
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("the simulator answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    fn start_request(&self, key: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.post(format!("{}/vms", self.cloud.url()));
        match key {
            Some(k) => req.header("Idempotency-Key", k),
            None => req,
        }
    }

    async fn start(&self, key: Option<&str>) -> Reply {
        self.send(self.start_request(key)).await
    }

    async fn stop(&self, id: &str) -> Reply {
        self.send(self.http.delete(format!("{}/vms/{id}", self.cloud.url())))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.cloud.url())))
            .await
    }

    async fn vms(&self) -> Vec<VmView> {
        let r = self.get("/vms").await;
        assert_eq!(r.status, 200);
        serde_json::from_value(r.body["vms"].clone()).expect("a list of VMs")
    }

    async fn count(&self, state: VmState) -> usize {
        self.vms().await.iter().filter(|v| v.state == state).count()
    }

    async fn stats(&self) -> Stats {
        let r = self.get("/stats").await;
        assert_eq!(r.status, 200);
        serde_json::from_value(r.body).expect("stats")
    }
}

#[tokio::test]
async fn twenty_seven_calls_at_three_a_second_are_ready_over_three_minutes() {
    let sim = Sim::new(profile()).await;
    let mut ids = Vec::new();
    for second in 0..9 {
        for k in 0..3 {
            sim.set(second as f64 + k as f64 * 0.3);
            let r = sim.start(None).await;
            assert_eq!(r.status, 201, "call {} at {second}s: {}", ids.len(), r.body);
            ids.push(r.id());
        }
    }
    let vms = sim.vms().await;
    let listed: Vec<String> = vms.iter().map(|v| v.id.to_string()).collect();
    assert_eq!(listed, ids, "GET /vms is in request order");
    for (secs, ready) in [
        (5.999, 0),
        (6.0, 1),
        (59.999, 9),
        (60.0, 10),
        (119.999, 19),
        (120.0, 20),
        (161.999, 26),
        (162.0, 27),
        (174.0, 27),
    ] {
        sim.set(secs);
        assert_eq!(sim.count(VmState::Ready).await, ready, "ready at {secs}s");
        assert_eq!(
            sim.count(VmState::Allocating).await,
            27 - ready,
            "allocating at {secs}s"
        );
    }
    let last = &sim.vms().await[26];
    assert_eq!(last.requested_at, at(8.6));
    assert_eq!(last.ready_at, at(162.0));
    assert_eq!(last.stopped_at, None);
    // The in-process view is the HTTP one.
    assert_eq!(sim.cloud.vms(), sim.vms().await);
}

#[tokio::test]
async fn the_fourth_start_in_a_sliding_second_is_refused_and_does_nothing() {
    let sim = Sim::new(profile()).await;
    for secs in [0.0, 0.2, 0.4] {
        sim.set(secs);
        assert_eq!(sim.start(None).await.status, 201);
    }
    sim.set(0.5);
    let r = sim.start(Some("never-made")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body, json!({"error": "rate-limit-exceeded"}));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("retry-after-ms"), Some("500"));
    assert_eq!(sim.vms().await.len(), 3, "a refused start creates nothing");

    // Refusals do not count: hammering does not push the opening back.
    for ms in [600, 700, 800, 900] {
        sim.set(ms as f64 / 1000.0);
        let r = sim.start(None).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after-ms"), Some(&*(1000 - ms).to_string()));
    }
    sim.set(0.9995);
    let r = sim.start(None).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        (r.header("retry-after"), r.header("retry-after-ms")),
        (Some("1"), Some("1")),
        "rounded up, never 0"
    );
    // The window slides: at 1.0 the call at 0.0 is out of (0.0, 1.0].
    sim.set(1.0);
    assert_eq!(sim.start(None).await.status, 201);
    sim.set(1.1);
    let r = sim.start(None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after-ms"), Some("100"));
    sim.set(1.2);
    assert_eq!(sim.start(None).await.status, 201);

    let s = sim.stats().await;
    assert_eq!(s.start.requests, 12);
    assert_eq!(s.start.accepted, 5);
    assert_eq!(s.start.rate_limited, 7);
    assert_eq!(s.vms_created, 5);
    assert!(sim.vms().await.iter().all(|v| v.idempotency_key.is_none()));
    assert_eq!(sim.cloud.stats(), s);
}

#[tokio::test]
async fn start_and_stop_have_separate_windows() {
    let sim = Sim::new(profile()).await;
    let a = sim.start(None).await.id();
    let b = sim.start(None).await.id();
    let c = sim.start(None).await.id();
    assert_eq!(sim.start(None).await.status, 429);
    // The start window is full; stop has its own.
    assert_eq!(sim.stop(&a).await.status, 204);
    assert_eq!(sim.stop(&b).await.status, 204);
    assert_eq!(sim.stop(&a).await.status, 204, "a repeated stop counts too");
    let r = sim.stop(&c).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body, json!({"error": "rate-limit-exceeded"}));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("retry-after-ms"), Some("1000"));
    let c_vm = sim.cloud.vm(c.parse().expect("uuid")).expect("known");
    assert_eq!(
        c_vm.state,
        VmState::Allocating,
        "a refused stop does nothing"
    );
    sim.set(0.5);
    assert_eq!(
        sim.start(None).await.status,
        429,
        "starts still full at 0.5s"
    );

    // At 1.0 both windows slid; now fill the stop window: starts go on.
    sim.set(1.0);
    let d = sim.start(None).await.id();
    assert_eq!(sim.stop(&c).await.status, 204);
    assert_eq!(sim.stop(&d).await.status, 204);
    assert_eq!(sim.stop(&d).await.status, 204);
    let e = sim.start(None).await;
    assert_eq!(e.status, 201, "a full stop window does not block starts");
    let r = sim.stop(&e.id()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after-ms"), Some("1000"));

    let c_vm = sim.cloud.vm(c.parse().expect("uuid")).expect("known");
    assert_eq!(c_vm.stopped_at, Some(at(1.0)));
    let s = sim.stats().await;
    assert_eq!(
        (s.start.requests, s.start.accepted, s.start.rate_limited),
        (7, 5, 2)
    );
    assert_eq!(
        (s.stop.requests, s.stop.accepted, s.stop.rate_limited),
        (8, 6, 2)
    );
    assert_eq!((s.vms_created, s.vms_stopped), (5, 4));
}

#[tokio::test]
async fn an_idempotency_key_used_before_returns_its_vm_and_creates_nothing() {
    let sim = Sim::new(profile()).await;
    let key = "exam-2030-06-03/student-17";
    let first = sim.start(Some(key)).await;
    assert_eq!(first.status, 201);
    sim.set(0.5);
    let again = sim.start(Some(key)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.id(), first.id());
    let vms = sim.vms().await;
    assert_eq!(vms.len(), 1);
    assert_eq!(vms[0].idempotency_key.as_deref(), Some(key));
    assert_eq!(vms[0].requested_at, t0(), "the first call's time");
    assert_eq!(vms[0].ready_at, at(6.0));

    // The replay used a place in the window.
    assert_eq!(sim.start(Some("other")).await.status, 201);
    let r = sim.start(Some(key)).await;
    assert_eq!(r.status, 429, "a replay is rate-limited like any call");

    // Still the same VM once it is stopped: a key never starts a second one.
    sim.set(1.0);
    assert_eq!(sim.stop(&first.id()).await.status, 204);
    let after_stop = sim.start(Some(key)).await;
    assert_eq!((after_stop.status, after_stop.id()), (200, first.id()));

    let s = sim.stats().await;
    assert_eq!((s.vms_created, s.replays), (2, 2));
    assert_eq!(sim.vms().await.len(), 2);
}

#[tokio::test]
async fn malformed_idempotency_keys_are_refused_before_the_limit() {
    let sim = Sim::new(profile()).await;
    let longest = "k".repeat(200);
    let r = sim.start(Some(&"k".repeat(201))).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid-idempotency-key");
    let r = sim.start(Some("")).await;
    assert_eq!(r.status, 400);
    let two = sim
        .send(sim.start_request(Some("a")).header("Idempotency-Key", "b"))
        .await;
    assert_eq!(two.status, 400);
    let raw = |bytes: &[u8]| {
        let value = reqwest::header::HeaderValue::from_bytes(bytes).expect("a header value");
        sim.start_request(None).header("Idempotency-Key", value)
    };
    let not_utf8 = sim.send(raw(&[0xff, 0xfe])).await;
    assert_eq!(not_utf8.status, 400);
    // None of them used the window: three starts still go through.
    assert_eq!(sim.start(Some(&longest)).await.status, 201);
    let unicode = sim.send(raw("é-ü-ñ".as_bytes())).await;
    assert_eq!(unicode.status, 201);
    assert_eq!(sim.start(None).await.status, 201);
    let s = sim.stats().await;
    assert_eq!(
        (s.start.requests, s.start.invalid, s.vms_created),
        (7, 4, 3)
    );
    let keys: Vec<Option<String>> = sim
        .vms()
        .await
        .into_iter()
        .map(|v| v.idempotency_key)
        .collect();
    assert_eq!(keys, vec![Some(longest), Some("é-ü-ñ".to_owned()), None]);
}

#[tokio::test]
async fn stop_answers_and_records_when() {
    let sim = Sim::new(profile()).await;
    let r = sim.stop("018f4c3e-6b1e-7c3a-9d2e-4f5a6b7c8d9e").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"error": "not-found"}));
    let r = sim.stop("not-a-uuid").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid-id");
    let r = sim.stop("%FF").await;
    assert_eq!((r.status, &r.body["error"]), (400, &json!("invalid-id")));

    let a = sim.start(None).await.id();
    let b = sim.start(None).await.id();
    sim.set(2.0);
    let r = sim.stop(&a).await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    sim.set(3.0);
    assert_eq!(sim.stop(&a).await.status, 204, "stopping twice is fine");

    let described = sim.get(&format!("/vms/{a}")).await;
    assert_eq!(described.status, 200);
    let vm: VmView = serde_json::from_value(described.body.clone()).expect("a VM");
    assert_eq!(vm.stopped_at, Some(at(2.0)), "the first stop's time");
    assert_eq!(vm.state, VmState::Stopped);
    assert_eq!(described.body["stopped_at"], "2030-06-03T08:00:02Z");
    assert_eq!(described.body["requested_at"], "2030-06-03T08:00:00Z");
    assert_eq!(described.body["state"], "stopped");

    // Stopped before it was ready, it kept its place: b is ready at 12s.
    sim.set(11.9);
    let b_vm = sim.cloud.vm(b.parse().expect("uuid")).expect("known");
    assert_eq!((b_vm.state, b_vm.ready_at), (VmState::Allocating, at(12.0)));
    sim.set(12.0);
    assert_eq!(sim.get(&format!("/vms/{b}")).await.body["state"], "ready");

    assert_eq!(sim.get("/vms/not-a-uuid").await.status, 400);
    let unknown = sim.get("/vms/018f4c3e-6b1e-7c3a-9d2e-4f5a6b7c8d9e").await;
    assert_eq!(
        (unknown.status, unknown.body),
        (404, json!({"error": "not-found"}))
    );
    let s = sim.stats().await;
    assert_eq!(
        (s.stop.requests, s.stop.invalid, s.stop.accepted),
        (5, 2, 3)
    );
    assert_eq!(s.vms_stopped, 1);
}

#[tokio::test]
async fn boot_delay_and_a_fractional_rate() {
    let sim = Sim::new(CloudConfig {
        vms_per_minute: 0.5,
        boot_delay: Duration::from_secs(30),
        ..profile()
    })
    .await;
    let a = sim.start(None).await.id();
    sim.set(1.0);
    sim.start(None).await;
    let vms = sim.vms().await;
    assert_eq!(vms[0].ready_at, at(150.0), "120 s allocation + 30 s boot");
    assert_eq!(vms[1].ready_at, at(270.0));
    sim.set(149.999);
    assert_eq!(
        sim.get(&format!("/vms/{a}")).await.body["state"],
        "allocating"
    );
    sim.set(150.0);
    assert_eq!(sim.get(&format!("/vms/{a}")).await.body["state"], "ready");
    assert_eq!(sim.count(VmState::Ready).await, 1);
}

#[tokio::test]
async fn injected_failures_do_nothing_and_follow_the_seed() {
    let faults = Faults {
        fail_rate: 0.5,
        ..Faults::default()
    };
    let config = CloudConfig {
        seed: Some(2030),
        ..with_faults(faults.clone())
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = Sim::new(config.clone()).await;
        let mut statuses = Vec::new();
        for second in 0..5 {
            sim.set(second as f64);
            for _ in 0..3 {
                let r = sim.start(None).await;
                if r.status == 500 {
                    assert_eq!(r.body, json!({"error": "internal"}));
                }
                statuses.push(r.status);
            }
        }
        let created = statuses.iter().filter(|&&s| s == 201).count();
        let failed = statuses.iter().filter(|&&s| s == 500).count();
        assert_eq!(created + failed, 15, "{statuses:?}");
        assert!(
            created > 0 && failed > 0,
            "seed 2030 gives both: {statuses:?}"
        );
        assert_eq!(sim.vms().await.len(), created, "a 500 creates nothing");
        let s = sim.stats().await;
        assert_eq!(
            (s.start.failed, s.vms_created),
            (failed as u64, created as u64)
        );
        // Stops fail the same way: the VM stays as it was.
        let id = sim.vms().await[0].id.to_string();
        let mut stop_statuses = Vec::new();
        for _ in 0..3 {
            let r = sim.stop(&id).await;
            stop_statuses.push(r.status);
            if r.status == 204 {
                break;
            }
            assert_eq!(r.status, 500);
            assert_eq!(sim.vms().await[0].state, VmState::Allocating);
        }
        runs.push((statuses, stop_statuses));
    }
    assert_eq!(runs[0], runs[1], "the same seed replays the same faults");

    // Every call failing: nothing is created, and failures fill the window.
    let sim = Sim::new(with_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    for _ in 0..3 {
        assert_eq!(sim.start(None).await.status, 500);
    }
    assert_eq!(sim.start(None).await.status, 429);
    assert!(sim.vms().await.is_empty());
    let s = sim.stats().await;
    assert_eq!(
        (s.start.accepted, s.start.failed, s.start.rate_limited),
        (3, 3, 1)
    );
}

#[tokio::test]
async fn a_delayed_answer_comes_late_but_the_vm_exists_from_arrival() {
    let sim = Arc::new(
        Sim::new(with_faults(Faults {
            delay_rate: 1.0,
            delay: Duration::from_secs(1),
            ..Faults::default()
        }))
        .await,
    );
    let sent = Instant::now();
    let pending = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.start(Some("late")).await })
    };
    // GET is never delayed: the VM is listed while its start is unanswered.
    let vm = loop {
        if let Some(vm) = sim.vms().await.into_iter().next() {
            break vm;
        }
        assert!(sent.elapsed() < Duration::from_secs(1), "VM not created");
        tokio::task::yield_now().await;
    };
    assert!(!pending.is_finished(), "the answer is still held");
    assert_eq!(vm.idempotency_key.as_deref(), Some("late"));
    assert_eq!(vm.requested_at, t0());
    let r = pending.await.expect("the request task");
    assert_eq!(r.status, 201);
    assert_eq!(r.id(), vm.id.to_string());
    assert!(sent.elapsed() >= Duration::from_secs(1));
    assert_eq!(sim.stats().await.start.delayed, 1);
}

#[tokio::test]
async fn a_lost_start_answer_creates_the_vm_and_a_retry_with_its_key_finds_it() {
    let sim = Sim::new(with_faults(Faults {
        start_timeout_rate: 1.0,
        timeout_after: Duration::from_secs(60),
        ..Faults::default()
    }))
    .await;
    let key = "exam-9/student-3";
    let lost = sim
        .start_request(Some(key))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    match lost {
        Err(e) => assert!(e.is_timeout(), "a timeout, got {e}"),
        Ok(r) => panic!("the answer should be lost, got {}", r.status()),
    }
    let vms = sim.vms().await;
    assert_eq!(vms.len(), 1, "the VM was created anyway");
    assert_eq!(vms[0].idempotency_key.as_deref(), Some(key));
    assert_eq!(vms[0].state, VmState::Allocating);

    // The recovery: the same key answers at once with that VM.
    let retry = sim.start(Some(key)).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.id(), vms[0].id.to_string());
    let s = sim.stats().await;
    assert_eq!((s.start.timed_out, s.replays, s.vms_created), (1, 1, 1));

    // Shutdown does not wait out a held answer.
    let held = tokio::spawn({
        let req = sim.start_request(Some("held"));
        async move { req.send().await }
    });
    while sim.cloud.vms().len() < 2 {
        tokio::task::yield_now().await;
    }
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), sim.cloud.shutdown())
        .await
        .expect("shutdown ends held answers")
        .expect("clean shutdown");
    assert!(began.elapsed() < Duration::from_secs(10));
    let held = held.await.expect("the request task");
    assert!(
        held.map(|r| r.status().as_u16()).unwrap_or(504) == 504,
        "a held answer never carries the id"
    );
}

#[tokio::test]
async fn a_lost_start_answer_is_a_504_without_id_for_a_patient_client() {
    let sim = Sim::new(with_faults(Faults {
        start_timeout_rate: 1.0,
        timeout_after: Duration::from_millis(200),
        ..Faults::default()
    }))
    .await;
    let sent = Instant::now();
    let r = sim.start(None).await;
    assert!(sent.elapsed() >= Duration::from_millis(200));
    assert_eq!((r.status, r.body), (504, json!({"error": "timeout"})));
    assert_eq!(sim.vms().await.len(), 1);
    // Without a key there is no way back to it: that is what keys are for.
    assert_eq!(sim.start(None).await.status, 504);
    assert_eq!(sim.vms().await.len(), 2);
}

#[tokio::test]
async fn an_invalid_profile_is_refused_before_listening() {
    let bad = CloudConfig {
        requests_per_second: 0,
        ..profile()
    };
    let clock: SharedClock = Arc::new(ManualClock::new(t0()));
    match spawn(bad, clock).await {
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("--requests-per-second"), "{e}");
        }
        Ok(_) => panic!("refused"),
    }
}

/// Kills the child if a test fails before it exits.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_command_prints_its_url_serves_and_stops_on_sigterm() {
    let mut child = Guard(
        Command::new(env!("CARGO_BIN_EXE_allot"))
            .args(["sim", "cloud", "--listen", "127.0.0.1:0", "--seed", "4"])
            .args(["--boot-delay", "30s", "--fail-rate", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start allot sim cloud"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .expect("prints at start")
        .expect("a line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    let profile = tokio::time::timeout(Duration::from_secs(5), lines.recv())
        .await
        .expect("profile")
        .expect("a line");
    assert!(profile.contains("at most 3 requests per 1s"), "{profile}");

    let http = allot::tls::http_client(reqwest::redirect::Policy::none());
    let r = http
        .post(format!("{url}/vms"))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 201);
    let vms: Value = http
        .get(format!("{url}/vms"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        vms["vms"][0]["state"], "allocating",
        "30 s boot on the wall clock"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), lines.recv()).await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("1 VMs created")), "{rest:?}");
}
