//! A provisioning rig: allot's exams and ledger on either backend, the
//! executor, and `allot sim cloud` in-process, all on one manual clock.
//! The test moves the clock to each instant the executor asks for, so an
//! exam morning runs in well under a second of real time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use allot::clock::{Clock, SharedClock};
use allot::provisioning::cloud::CloudClient;
use allot::provisioning::executor::{Executor, ExecutorConfig};
use allot::provisioning::ledger::{self, LedgerFilter, LedgerRow};
use allot::provisioning::publish::Publisher;
use allot::provisioning::store::{self, ExamRow};
use allot::provisioning::watch::ExamSnapshot;
use allot::sim::cloud::{CloudConfig, Faults, RunningCloud, VmView};
use allot::store::Backend;
use allot_kernel::provisioning::Profile;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use super::{TestApp, start_time};

pub struct Rig {
    pub app: TestApp,
    pub cloud: RunningCloud,
    pub profile: Profile,
    exams: watch::Sender<ExamSnapshot>,
    pub executor: Executor,
    pub steps: u64,
}

/// `start_time() + secs`.
pub fn at(secs: i64) -> Timestamp {
    start_time() + SignedDuration::from_secs(secs)
}

/// The default provider (10 VMs/min, 3 requests/s) with `faults`.
pub fn provider(faults: Faults) -> CloudConfig {
    CloudConfig {
        listen: "127.0.0.1:0".to_owned(),
        seed: Some(7),
        faults,
        ..CloudConfig::default()
    }
}

impl Rig {
    /// A rig on `backend` with the default provider and planner profile
    /// (no margin), or None when PostgreSQL is skipped.
    pub async fn new(backend: Backend) -> Option<Rig> {
        Self::with(backend, provider(Faults::default()), Profile::default()).await
    }

    pub async fn with(backend: Backend, cloud: CloudConfig, profile: Profile) -> Option<Rig> {
        let app = TestApp::new(backend).await?;
        let clock: SharedClock = Arc::new(app.clock.clone());
        let cloud = allot::sim::cloud::spawn(cloud, clock)
            .await
            .expect("sim cloud");
        let (exams, rx) = watch::channel(Arc::new(Vec::new()));
        let executor = Self::executor(&app, &cloud, profile, rx);
        Some(Rig {
            app,
            cloud,
            profile,
            exams,
            executor,
            steps: 0,
        })
    }

    fn executor(
        app: &TestApp,
        cloud: &RunningCloud,
        profile: Profile,
        exams: watch::Receiver<ExamSnapshot>,
    ) -> Executor {
        let clock: SharedClock = Arc::new(app.clock.clone());
        let client =
            CloudClient::new(&cloud.url(), std::time::Duration::from_secs(10)).expect("client");
        Executor::new(
            app.db().clone(),
            clock,
            client,
            ExecutorConfig {
                seed: Some(11),
                ..ExecutorConfig::new(profile)
            },
            Uuid::now_v7(),
            exams,
            Publisher::default(),
        )
    }

    /// A new executor in place of the old one, as after a crash: nothing
    /// of the old one's memory survives, only the database. Its lease is
    /// taken over once the old one's has expired.
    pub fn crash(&mut self) {
        let rx = self.exams.subscribe();
        self.executor = Self::executor(&self.app, &self.cloud, self.profile, rx);
    }

    /// Another executor on the same database and provider (a replica).
    pub fn second_executor(&self) -> Executor {
        Self::executor(&self.app, &self.cloud, self.profile, self.exams.subscribe())
    }

    pub fn now(&self) -> Timestamp {
        self.app.clock.now()
    }

    /// Creates an exam through the API and shows the executor the table.
    pub async fn exam(&self, name: &str, start: Timestamp, end: Timestamp, students: u32) -> Uuid {
        let (status, body) = self
            .app
            .call(
                "POST",
                "/v1/exams",
                Some(json!({"name": name, "start_at": start.to_string(), "end_at": end.to_string(), "students": students})),
            )
            .await;
        assert_eq!(status.as_u16(), 201, "{body}");
        self.sync().await;
        body["id"].as_str().expect("id").parse().expect("uuid")
    }

    pub async fn patch(&self, id: Uuid, body: serde_json::Value) {
        let (status, reply) = self
            .app
            .call("PATCH", &format!("/v1/exams/{id}"), Some(body))
            .await;
        assert_eq!(status.as_u16(), 200, "{reply}");
        self.sync().await;
    }

    pub async fn delete(&self, id: Uuid) {
        let (status, reply) = self
            .app
            .call("DELETE", &format!("/v1/exams/{id}"), None)
            .await;
        assert_eq!(status.as_u16(), 204, "{reply}");
        self.sync().await;
    }

    /// What the exam watcher would publish: the table as it is now.
    pub async fn sync(&self) {
        let rows: Vec<ExamRow> = store::all(self.app.db())
            .await
            .expect("read exams")
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        self.exams.send_replace(Arc::new(rows));
    }

    /// Steps the executor, moving the clock to each instant it asks for,
    /// until `until`.
    pub async fn run_until(&mut self, until: Timestamp) {
        loop {
            let wake = self.executor.step().await;
            self.steps += 1;
            let now = self.now();
            if self.steps.is_multiple_of(100_000) {
                panic!(
                    "still stepping at {now} (wake {wake}) after {} steps",
                    self.steps
                );
            }
            if wake > until {
                if until > now {
                    self.app.clock.set(until);
                }
                return;
            }
            if wake > now {
                self.app.clock.set(wake);
            }
        }
    }

    pub async fn run_for(&mut self, secs: i64) {
        let until = self.now() + SignedDuration::from_secs(secs);
        self.run_until(until).await;
    }

    /// The ledger, every row.
    pub async fn ledger(&self, exam: Option<Uuid>) -> Vec<LedgerRow> {
        ledger::list(
            self.app.db(),
            &LedgerFilter {
                exam_id: exam,
                limit: 1_000_000,
                ..Default::default()
            },
        )
        .await
        .expect("ledger")
    }

    /// The provider's VMs (its `GET /vms`).
    pub fn vms(&self) -> Vec<VmView> {
        self.cloud.vms()
    }

    /// The provider's VMs of `exam`, by their idempotency keys.
    pub fn vms_of(&self, exam: Uuid) -> Vec<VmView> {
        let prefix = format!("{exam}:");
        self.vms()
            .into_iter()
            .filter(|v| {
                v.idempotency_key
                    .as_deref()
                    .is_some_and(|k| k.starts_with(&prefix))
            })
            .collect()
    }

    /// VMs of `exam` ready at `t` and not stopped by then.
    pub fn ready_at(&self, exam: Uuid, t: Timestamp) -> usize {
        self.vms_of(exam)
            .iter()
            .filter(|v| v.ready_at <= t && v.stopped_at.is_none_or(|s| s > t))
            .count()
    }

    /// The audit of the simulator's `GET /vms` against the ledger:
    /// every VM carries a key of the ledger's, so it is tied to an exam;
    /// no slot has two VMs alive at once; every ledger row with an id is
    /// the provider's VM of its key. Returns the VMs per exam.
    pub async fn audit(&self) -> HashMap<Uuid, Vec<VmView>> {
        let rows = self.ledger(None).await;
        let by_key: HashMap<&str, &LedgerRow> = rows
            .iter()
            .map(|r| (r.idempotency_key.as_str(), r))
            .collect();
        let mut per_exam: HashMap<Uuid, Vec<VmView>> = HashMap::new();
        let mut keys = HashSet::new();
        for vm in self.vms() {
            let key = vm.idempotency_key.clone().expect("every VM has a key");
            assert!(keys.insert(key.clone()), "two VMs for key {key}");
            let row = by_key
                .get(key.as_str())
                .unwrap_or_else(|| panic!("VM {} has key {key} the ledger does not know", vm.id));
            assert_eq!(
                row.vm_id,
                Some(vm.id),
                "ledger row {key} records another VM"
            );
            per_exam.entry(row.exam_id).or_default().push(vm);
        }
        // No slot ever had two VMs alive at the same time.
        let mut by_slot: HashMap<(Uuid, u32), Vec<&VmView>> = HashMap::new();
        let vms: Vec<VmView> = per_exam.values().flatten().cloned().collect();
        for vm in &vms {
            let key = vm.idempotency_key.as_deref().unwrap_or_default();
            let row = by_key[key];
            by_slot.entry((row.exam_id, row.slot)).or_default().push(vm);
        }
        for ((exam, slot), list) in &by_slot {
            for (i, a) in list.iter().enumerate() {
                for b in &list[i + 1..] {
                    let a_end = a.stopped_at.unwrap_or(Timestamp::MAX);
                    let b_end = b.stopped_at.unwrap_or(Timestamp::MAX);
                    assert!(
                        a_end <= b.requested_at || b_end <= a.requested_at,
                        "exam {exam} slot {slot} had two VMs at once: {a:?} {b:?}"
                    );
                }
            }
        }
        per_exam
    }

    /// The provisioning notifications of the feed, as (kind, data), once
    /// at least `expected` are visible (PostgreSQL shows a row only when
    /// every older transaction has ended, so this waits up to 20 s).
    pub async fn notifications(&self, expected: usize) -> Vec<(String, serde_json::Value)> {
        use allot::notifications::{Cursor, Filter, PROVISIONING, after};
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let filter = Filter {
                modules: &[PROVISIONING],
                ..Default::default()
            };
            let rows = after(self.app.db(), Cursor::START, &filter, 1000)
                .await
                .expect("feed");
            if rows.len() >= expected || std::time::Instant::now() > deadline {
                return rows.into_iter().map(|r| (r.kind, r.data.0)).collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Every VM the provider made is stopped.
    pub fn all_stopped(&self) -> bool {
        self.vms().iter().all(|v| v.stopped_at.is_some())
    }

    pub fn rate_limited(&self) -> u64 {
        let s = self.cloud.stats();
        s.start.rate_limited + s.stop.rate_limited
    }
}
