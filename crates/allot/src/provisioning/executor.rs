//! The executor: turns the planner's start and stop calls into calls to the
//! cloud, at their times, and keeps the ledger true.
//!
//! One executor is active at a time, the holder of the `provisioning`
//! leader lease; the others wait for it. When it takes the lease it loads
//! the open ledger rows and resumes from them, whoever wrote them. Then
//! each [`Executor::step`], at `now` from the injected clock:
//!
//! 1. takes the latest exams from the [`super::watch`]er and replans when
//!    they changed, when a call did not go as planned, and every
//!    `replan_every` (the plan is followed call by call in between, which
//!    keeps a school day of 15,000 VMs at a few thousand plans);
//! 2. repeats due retries (`start()` of `requesting` rows, under their
//!    key; `stop()` of `stopping` rows);
//! 3. makes the planned start calls that are due: intent row first, then
//!    the call, then its answer;
//! 4. makes the planned stop calls that are due: stop intent first;
//! 5. asks the provider about pending VMs whose ready time has come;
//!
//! and returns when it next has something to do. Every call goes through a
//! [`Pacer`] per endpoint, so the executor never exceeds the provider's
//! rate in normal operation; 429s hold the pacer for their `Retry-After`,
//! other failures are retried with capped, jittered exponential backoff.
//! A step never sleeps: [`Executor::run`] sleeps between steps on tokio
//! time, and the exam-day simulation moves a manual clock to the returned
//! instant instead, which runs a day in seconds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use allot_kernel::provisioning::{ExamId, Plan, Profile, VmKey, plan};
use jiff::{SignedDuration, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::cloud::{CallError, CloudClient};
use super::ledger::{self, LedgerRow, LedgerState};
use super::pacing::{Backoff, Pacer};
use super::publish::Publisher;
use super::watch::ExamSnapshot;
use crate::clock::SharedClock;
use crate::leader::LeaderLease;
use crate::store::Db;

/// The lease only one executor holds.
pub const LEASE: &str = "provisioning";

/// How the executor works, besides the provider's profile.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub profile: Profile,
    /// Added to the request interval between two calls of one endpoint,
    /// so that jitter on the way cannot make two arrive too close.
    pub pacing_slack: SignedDuration,
    /// Least time between two `describe()` calls.
    pub describe_interval: SignedDuration,
    pub backoff: Backoff,
    /// Replan at least this often, to follow the provider's real pace.
    pub replan_every: SignedDuration,
    pub lease_ttl: Duration,
    /// Calls of one step at most, so a step stays short.
    pub max_calls_per_step: usize,
    /// Seeds the retry jitter (a simulation is repeatable with one).
    pub seed: Option<u64>,
}

impl ExecutorConfig {
    pub fn new(profile: Profile) -> ExecutorConfig {
        ExecutorConfig {
            profile,
            pacing_slack: SignedDuration::from_millis(5),
            describe_interval: SignedDuration::from_millis(50),
            backoff: Backoff::default(),
            replan_every: SignedDuration::from_secs(30),
            lease_ttl: Duration::from_secs(10),
            max_calls_per_step: 64,
            seed: None,
        }
    }
}

/// An open ledger row, with when the executor next looks at it.
struct Open {
    row: LedgerRow,
    /// Retry time (requesting, stopping) or next poll (pending).
    due: Option<Timestamp>,
    retries: u32,
}

/// The executor's state while it holds the lease.
struct Leading {
    rows: BTreeMap<Uuid, Open>,
    /// Open rows by their due time.
    due: BTreeSet<(Timestamp, Uuid)>,
    /// Live rows by key (several only if something went wrong).
    live: HashMap<VmKey, Vec<Uuid>>,
    exams: ExamSnapshot,
    plan: Plan,
    planned_at: Timestamp,
    replan: bool,
    /// Per run of `plan.starts`, the next call to make.
    run_next: Vec<u32>,
    stop_next: usize,
    start_pacer: Pacer,
    stop_pacer: Pacer,
    describe_pacer: Pacer,
    /// The last shortfall notified per exam.
    shortfalls: HashMap<Uuid, u32>,
}

impl Leading {
    fn set_due(&mut self, id: Uuid, due: Option<Timestamp>) {
        if let Some(open) = self.rows.get_mut(&id) {
            if let Some(old) = open.due {
                self.due.remove(&(old, id));
            }
            open.due = due;
            if let Some(t) = due {
                self.due.insert((t, id));
            }
        }
    }

    fn insert(&mut self, row: LedgerRow, due: Option<Timestamp>) {
        let id = row.id;
        if row.state.is_live() {
            self.live.entry(row.key()).or_default().push(id);
        }
        self.rows.insert(
            id,
            Open {
                row,
                due: None,
                retries: 0,
            },
        );
        self.set_due(id, due);
    }

    /// Records a row's new state: out of `live` when it no longer holds
    /// its slot, out of memory when finished.
    fn update(&mut self, row: LedgerRow, due: Option<Timestamp>) {
        let id = row.id;
        if !row.state.is_live()
            && let Some(ids) = self.live.get_mut(&row.key())
        {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.live.remove(&row.key());
            }
        }
        if row.state.is_open() {
            if let Some(open) = self.rows.get_mut(&id) {
                open.row = row;
            }
            self.set_due(id, due);
        } else {
            self.set_due(id, None);
            self.rows.remove(&id);
        }
    }

    /// The open rows due at or before `now`, earliest first.
    fn due_by(&self, now: Timestamp) -> Vec<Uuid> {
        self.due
            .range(..=(now, Uuid::max()))
            .map(|&(_, id)| id)
            .collect()
    }

    /// The planned start call due first: (run, call index).
    fn next_start(&self) -> Option<(usize, u32, Timestamp)> {
        self.plan
            .starts
            .iter()
            .enumerate()
            .filter(|(i, run)| self.run_next[*i] < run.count)
            .map(|(i, run)| {
                let index = self.run_next[i];
                (i, index, at_micros(run.call(index).at))
            })
            .min_by_key(|&(i, _, at)| (at, i))
    }
}

pub struct Executor {
    db: Db,
    clock: SharedClock,
    cloud: CloudClient,
    config: ExecutorConfig,
    lease: LeaderLease,
    exams: watch::Receiver<ExamSnapshot>,
    publisher: Publisher,
    rng: StdRng,
    leading: Option<Leading>,
    /// The lease was held at its last check.
    holding: bool,
    lease_checked_at: Option<Timestamp>,
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn at_micros(m: i64) -> Timestamp {
    Timestamp::from_microsecond(m).unwrap_or(if m < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn plus(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// `t` rounded up to the clock's precision: a manual clock set to the
/// result has reached `t`.
fn ceil_micros(t: Timestamp) -> Timestamp {
    let down = at_micros(t.as_microsecond());
    if down < t {
        plus(down, SignedDuration::from_micros(1))
    } else {
        down
    }
}

/// The exam's UUID from the planner's id.
fn exam_uuid(id: ExamId) -> Uuid {
    Uuid::from_u128(id.0)
}

impl Executor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        clock: SharedClock,
        cloud: CloudClient,
        config: ExecutorConfig,
        holder: Uuid,
        exams: watch::Receiver<ExamSnapshot>,
        publisher: Publisher,
    ) -> Executor {
        let lease = LeaderLease::new(db.clone(), clock.clone(), LEASE, holder, config.lease_ttl);
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Executor {
            db,
            clock,
            cloud,
            config,
            lease,
            exams,
            publisher,
            rng,
            leading: None,
            holding: false,
            lease_checked_at: None,
        }
    }

    pub fn is_leading(&self) -> bool {
        self.leading.is_some()
    }

    /// The plan being followed, while leading.
    pub fn plan(&self) -> Option<&Plan> {
        self.leading.as_ref().map(|l| &l.plan)
    }

    /// Runs steps until `stop`, sleeping between them; gives the lease up
    /// at the end so another replica need not wait for it to expire.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut exams_open = true;
        loop {
            let wake = self.step().await;
            let wait = wake
                .duration_since(self.clock.now())
                .clamp(SignedDuration::ZERO, SignedDuration::from_secs(1));
            let wait = Duration::try_from(wait).unwrap_or(Duration::from_secs(1));
            let mut exams = self.exams.clone();
            tokio::select! {
                _ = stop.cancelled() => break,
                changed = exams.changed(), if exams_open => exams_open = changed.is_ok(),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if self.leading.is_some()
            && let Err(e) = self.lease.release().await
        {
            tracing::debug!(error = %e, "provisioning: cannot release the lease");
        }
    }

    /// Does what is due at the clock's `now`; returns when it next has
    /// something to do.
    pub async fn step(&mut self) -> Timestamp {
        let now = self.clock.now();
        let renew = self.renew_every();
        let lease_due = self
            .lease_checked_at
            .is_none_or(|t| now >= plus(t, renew) || now < t);
        if lease_due {
            match self.lease.try_hold().await {
                Ok(held) => {
                    if !held && self.leading.take().is_some() {
                        tracing::warn!(
                            "provisioning: lost the lease; another replica executes now"
                        );
                        self.publisher.leading(false);
                    }
                    self.holding = held;
                    self.lease_checked_at = Some(now);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "provisioning: cannot renew the lease; pausing");
                    self.holding = false;
                    if self.leading.take().is_some() {
                        self.publisher.leading(false);
                    }
                    self.lease_checked_at = None;
                    return ceil_micros(plus(now, SignedDuration::from_secs(1)));
                }
            }
        }
        if !self.holding {
            return ceil_micros(plus(self.lease_checked_at.unwrap_or(now), renew).max(now));
        }
        let mut leading = match self.leading.take() {
            Some(l) => l,
            None => match self.lead(now).await {
                Ok(l) => {
                    self.publisher.leading(true);
                    l
                }
                Err(e) => {
                    tracing::warn!(error = %e, "provisioning: cannot load the ledger; retrying");
                    return plus(now, SignedDuration::from_secs(1));
                }
            },
        };
        let wake = self.work(&mut leading, now).await;
        self.leading = Some(leading);
        let lease_wake = self.lease_checked_at.map(|t| plus(t, renew)).unwrap_or(now);
        ceil_micros(wake.min(lease_wake))
    }

    /// A third of the lease's time to live, in whole microseconds (the
    /// clock's precision, so that a clock set to a wake-up reaches it).
    fn renew_every(&self) -> SignedDuration {
        let micros = i64::try_from(self.config.lease_ttl.as_micros() / 3).unwrap_or(i64::MAX);
        SignedDuration::from_micros(micros.max(1))
    }

    /// Takes over: loads the open rows and the notified shortfalls.
    async fn lead(&mut self, now: Timestamp) -> Result<Leading, sqlx::Error> {
        let rows = ledger::open(&self.db).await?;
        let shortfalls = ledger::notified_shortfalls(&self.db)
            .await?
            .into_iter()
            .collect();
        let interval = SignedDuration::from_micros(self.config.profile.request_interval.max(0))
            + self.config.pacing_slack;
        let mut leading = Leading {
            rows: BTreeMap::new(),
            due: BTreeSet::new(),
            live: HashMap::new(),
            exams: self.exams.borrow_and_update().clone(),
            plan: Plan {
                starts: Vec::new(),
                stops: Vec::new(),
                exams: Vec::new(),
            },
            planned_at: now,
            replan: true,
            run_next: Vec::new(),
            stop_next: 0,
            start_pacer: Pacer::new(interval),
            stop_pacer: Pacer::new(interval),
            describe_pacer: Pacer::new(self.config.describe_interval),
            shortfalls,
        };
        let (mut requesting, mut stopping, mut pending) = (0, 0, 0);
        for mut row in rows {
            let due = match row.state {
                // A crash between the intent and its answer: the provider
                // may have made a VM nobody knows the id of. The call is
                // repeated under the same key to find out.
                LedgerState::Requesting => {
                    requesting += 1;
                    if !row.maybe_leaked {
                        row.maybe_leaked = true;
                        row.updated_at = now;
                        self.publisher.maybe_leaked(&self.db, &row, now).await?;
                    }
                    Some(now)
                }
                LedgerState::Stopping => {
                    stopping += 1;
                    Some(now)
                }
                LedgerState::Pending => {
                    pending += 1;
                    Some(row.expected_ready_at.unwrap_or(now).min(now))
                }
                _ => None,
            };
            leading.insert(row, due);
        }
        tracing::info!(
            open = leading.rows.len(),
            requesting,
            pending,
            stopping,
            "provisioning: executing (holding the {LEASE} lease)"
        );
        Ok(leading)
    }

    async fn work(&mut self, l: &mut Leading, now: Timestamp) -> Timestamp {
        if self.exams.has_changed().unwrap_or(false) {
            l.exams = self.exams.borrow_and_update().clone();
            l.replan = true;
        }
        if l.replan || now >= plus(l.planned_at, self.config.replan_every) || now < l.planned_at {
            self.replan(l, now).await;
        }
        let mut budget = self.config.max_calls_per_step;
        self.retries(l, now, &mut budget).await;
        self.starts(l, now, &mut budget).await;
        self.stops(l, now, &mut budget).await;
        self.describes(l, now, &mut budget).await;
        if budget == 0 {
            return now;
        }
        self.next_wake(l, now)
    }

    async fn replan(&mut self, l: &mut Leading, now: Timestamp) {
        let exams: Vec<_> = l.exams.iter().map(|e| e.planned()).collect();
        let vms: Vec<_> = l.rows.values().filter_map(|o| o.row.planned()).collect();
        l.plan = plan(&exams, &vms, micros(now), &self.config.profile);
        l.run_next = vec![0; l.plan.starts.len()];
        l.stop_next = 0;
        l.planned_at = now;
        l.replan = false;
        self.publisher
            .forecasts(&self.db, &l.exams, &l.plan, &mut l.shortfalls, now)
            .await;
        self.publisher
            .gauges(l.rows.values().map(|o| o.row.state), &l.plan);
    }

    /// Repeats due `start()`s of requesting rows and `stop()`s of stopping
    /// rows, oldest due first.
    async fn retries(&mut self, l: &mut Leading, now: Timestamp, budget: &mut usize) {
        for id in l.due_by(now) {
            if *budget == 0 {
                return;
            }
            let Some(open) = l.rows.get(&id) else {
                continue;
            };
            match open.row.state {
                LedgerState::Requesting => {
                    if l.start_pacer.try_take(now).is_err() {
                        continue;
                    }
                    *budget -= 1;
                    let row = open.row.clone();
                    let answer = self.cloud.start(&row.idempotency_key).await;
                    self.started(l, row, answer, now).await;
                }
                LedgerState::Stopping => {
                    if l.stop_pacer.try_take(now).is_err() {
                        continue;
                    }
                    *budget -= 1;
                    self.stop_row(l, id, now).await;
                }
                _ => {}
            }
        }
    }

    /// The planned start calls that are due.
    async fn starts(&mut self, l: &mut Leading, now: Timestamp, budget: &mut usize) {
        while let Some((run, index, at)) = l.next_start() {
            if at > now || *budget == 0 {
                return;
            }
            let call = l.plan.starts[run].call(index);
            if l.live.contains_key(&call.key) {
                l.run_next[run] += 1;
                continue;
            }
            if l.start_pacer.try_take(now).is_err() {
                return;
            }
            *budget -= 1;
            let exam = exam_uuid(call.key.exam);
            let expected = Some(at_micros(call.ready).max(now));
            let mut row = LedgerRow::intent(exam, call.key.slot, 1, now, expected);
            let written = match ledger::insert_intent(&self.db, &row).await {
                Ok(false) => {
                    // An earlier attempt of this slot exists, or another
                    // executor holds the slot: try the next attempt once.
                    match ledger::last_attempt(&self.db, exam, call.key.slot).await {
                        Ok(last) => {
                            row = LedgerRow::intent(exam, call.key.slot, last + 1, now, expected);
                            ledger::insert_intent(&self.db, &row).await
                        }
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            match written {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%exam, slot = call.key.slot, "provisioning: the slot already has a live VM in the ledger; reloading");
                    l.run_next[run] += 1;
                    l.replan = true;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "provisioning: cannot write a start intent; retrying");
                    return;
                }
            }
            l.run_next[run] += 1;
            l.insert(row.clone(), None);
            let answer = self.cloud.start(&row.idempotency_key).await;
            self.started(l, row, answer, now).await;
        }
    }

    /// Records what `start()` answered.
    async fn started(
        &mut self,
        l: &mut Leading,
        mut row: LedgerRow,
        answer: Result<Uuid, CallError>,
        now: Timestamp,
    ) {
        row.start_calls += 1;
        row.updated_at = now;
        let retries = l.rows.get(&row.id).map(|o| o.retries).unwrap_or(0);
        let due = match answer {
            Ok(vm) => {
                self.publisher.call("start", "ok");
                if row.maybe_leaked {
                    tracing::info!(key = %row.idempotency_key, %vm, "provisioning: a VM possibly leaked in a crash is found and kept");
                }
                row.state = LedgerState::Pending;
                row.vm_id = Some(vm);
                row.last_error = None;
                let poll = row.expected_ready_at.unwrap_or(now).max(now);
                if let Err(e) = ledger::save(&self.db, &row).await {
                    // The id is not recorded: ask again under the same key
                    // (the provider answers with the same VM).
                    tracing::warn!(error = %e, "provisioning: cannot record a started VM; asking again");
                    l.set_due(row.id, Some(plus(now, SignedDuration::from_secs(1))));
                    return;
                }
                if let Some(open) = l.rows.get_mut(&row.id) {
                    open.retries = 0;
                }
                l.update(row, Some(poll));
                return;
            }
            Err(CallError::RateLimited { retry_after }) => {
                self.publisher.call("start", "rate_limited");
                let wait = retry_after.unwrap_or(SignedDuration::from_secs(1));
                l.start_pacer.hold_until(plus(now, wait));
                row.last_error = Some("rate limited".to_string());
                l.replan = true;
                Some(plus(now, wait))
            }
            Err(CallError::Transient(e)) => {
                self.publisher.call("start", "error");
                row.last_error = Some(e);
                l.replan = true;
                Some(plus(
                    now,
                    self.config.backoff.delay(retries + 1, &mut self.rng),
                ))
            }
            Err(e @ (CallError::NotFound | CallError::Refused { .. })) => {
                self.publisher.call("start", "refused");
                tracing::warn!(key = %row.idempotency_key, error = %e, "provisioning: start() refused; the slot is free again");
                row.state = LedgerState::Failed;
                row.last_error = Some(e.to_string());
                l.replan = true;
                None
            }
        };
        if let Err(e) = ledger::save(&self.db, &row).await {
            tracing::warn!(error = %e, "provisioning: cannot record a start() failure");
        }
        if let Some(open) = l.rows.get_mut(&row.id) {
            open.retries = retries + 1;
        }
        l.update(row, due);
    }

    /// The planned stop calls that are due.
    async fn stops(&mut self, l: &mut Leading, now: Timestamp, budget: &mut usize) {
        while let Some(call) = l.plan.stops.get(l.stop_next).copied() {
            if micros(now) < call.at || *budget == 0 {
                return;
            }
            // The VM the kernel means: the only live stoppable one of the
            // key, or of several the one not ready and asked for last.
            let id = l.live.get(&call.key).and_then(|ids| {
                ids.iter()
                    .filter_map(|id| l.rows.get(id))
                    .filter(|o| o.row.vm_id.is_some())
                    .max_by_key(|o| (o.row.state != LedgerState::Ready, o.row.requested_at))
                    .map(|o| o.row.id)
            });
            let Some(id) = id else {
                l.stop_next += 1;
                continue;
            };
            if l.stop_pacer.try_take(now).is_err() {
                return;
            }
            *budget -= 1;
            l.stop_next += 1;
            let Some(mut row) = l.rows.get(&id).map(|o| o.row.clone()) else {
                continue;
            };
            row.state = LedgerState::Stopping;
            row.stop_requested_at = Some(now);
            row.updated_at = now;
            if let Err(e) = ledger::save(&self.db, &row).await {
                tracing::warn!(error = %e, "provisioning: cannot write a stop intent; retrying");
                l.replan = true;
                return;
            }
            l.update(row, None);
            self.stop_row(l, id, now).await;
        }
    }

    /// Calls `stop()` for a stopping row and records the answer.
    async fn stop_row(&mut self, l: &mut Leading, id: Uuid, now: Timestamp) {
        let Some(open) = l.rows.get(&id) else { return };
        let mut row = open.row.clone();
        let retries = open.retries;
        let Some(vm) = row.vm_id else {
            // Unreachable by the table's check; nothing to call.
            row.state = LedgerState::Failed;
            let _ = ledger::save(&self.db, &row).await;
            l.update(row, None);
            return;
        };
        let answer = self.cloud.stop(vm).await;
        row.stop_calls += 1;
        row.updated_at = now;
        let due = match answer {
            Ok(()) | Err(CallError::NotFound) => {
                self.publisher.call("stop", "ok");
                row.state = LedgerState::Stopped;
                row.stopped_at = Some(now);
                row.last_error = None;
                None
            }
            Err(CallError::RateLimited { retry_after }) => {
                self.publisher.call("stop", "rate_limited");
                let wait = retry_after.unwrap_or(SignedDuration::from_secs(1));
                l.stop_pacer.hold_until(plus(now, wait));
                row.last_error = Some("rate limited".to_string());
                Some(plus(now, wait))
            }
            Err(e) => {
                self.publisher.call("stop", "error");
                row.last_error = Some(e.to_string());
                Some(plus(
                    now,
                    self.config.backoff.delay(retries + 1, &mut self.rng),
                ))
            }
        };
        if let Err(e) = ledger::save(&self.db, &row).await {
            tracing::warn!(error = %e, "provisioning: cannot record a stop; will stop again");
            // Stopping twice is harmless; losing the stop is not.
            row.state = LedgerState::Stopping;
            l.update(row, Some(plus(now, SignedDuration::from_secs(1))));
            return;
        }
        if let Some(open) = l.rows.get_mut(&id) {
            open.retries = if due.is_some() { retries + 1 } else { 0 };
        }
        l.update(row, due);
    }

    /// Asks the provider about pending VMs whose time has come.
    async fn describes(&mut self, l: &mut Leading, now: Timestamp, budget: &mut usize) {
        for id in l.due_by(now) {
            if *budget == 0 {
                return;
            }
            let Some(open) = l.rows.get(&id) else {
                continue;
            };
            if open.row.state != LedgerState::Pending {
                continue;
            }
            let Some(vm) = open.row.vm_id else { continue };
            if l.describe_pacer.try_take(now).is_err() {
                return;
            }
            *budget -= 1;
            let mut row = open.row.clone();
            let retries = open.retries;
            let period = SignedDuration::from_micros(self.config.profile.spacing());
            let due = match self.cloud.describe(vm).await {
                Ok(d) if d.stopped => {
                    tracing::warn!(%vm, "provisioning: a pending VM was stopped by someone else; its slot gets a new one");
                    row.state = LedgerState::Stopped;
                    row.stopped_at = Some(now);
                    l.replan = true;
                    None
                }
                Ok(d) if d.ready => {
                    row.state = LedgerState::Ready;
                    row.ready_at = Some(d.ready_at.map_or(now, |t| t.min(now)));
                    None
                }
                Ok(d) => {
                    if let Some(t) = d.ready_at {
                        row.expected_ready_at = Some(t);
                    }
                    Some(d.ready_at.filter(|t| *t > now).unwrap_or(plus(now, period)))
                }
                Err(CallError::NotFound) => {
                    tracing::warn!(%vm, "provisioning: the provider does not know a started VM; its slot gets a new one");
                    row.state = LedgerState::Failed;
                    row.last_error = Some("the provider does not know this VM".to_string());
                    l.replan = true;
                    None
                }
                Err(e) => {
                    row.last_error = Some(e.to_string());
                    Some(plus(
                        now,
                        self.config.backoff.delay(retries + 1, &mut self.rng),
                    ))
                }
            };
            row.updated_at = now;
            if let Err(e) = ledger::save(&self.db, &row).await {
                tracing::warn!(error = %e, "provisioning: cannot record a VM's readiness; asking again");
                l.set_due(id, Some(plus(now, SignedDuration::from_secs(1))));
                continue;
            }
            l.update(row, due);
        }
    }

    /// The next instant with something to do.
    fn next_wake(&self, l: &Leading, now: Timestamp) -> Timestamp {
        let mut wake = plus(l.planned_at, self.config.replan_every);
        let mut consider = |t: Timestamp| wake = wake.min(t);
        let start_free = l.start_pacer.free_at();
        let stop_free = l.stop_pacer.free_at();
        let describe_free = l.describe_pacer.free_at();
        if let Some((_, _, at)) = l.next_start() {
            consider(at.max(start_free));
        }
        if let Some(call) = l.plan.stops.get(l.stop_next) {
            consider(at_micros(call.at).max(stop_free));
        }
        // The earliest due row of each kind is enough.
        let mut seen = (false, false, false);
        for &(t, id) in &l.due {
            let Some(open) = l.rows.get(&id) else {
                continue;
            };
            match open.row.state {
                LedgerState::Requesting if !seen.0 => {
                    seen.0 = true;
                    consider(t.max(start_free));
                }
                LedgerState::Stopping if !seen.1 => {
                    seen.1 = true;
                    consider(t.max(stop_free));
                }
                LedgerState::Pending if !seen.2 => {
                    seen.2 = true;
                    consider(t.max(describe_free));
                }
                _ => {}
            }
            if seen == (true, true, true) {
                break;
            }
        }
        if l.replan {
            return now;
        }
        wake.max(now)
    }
}

/// Shared by the status routes: the planner's view at `now`, from the
/// stored exams and ledger (any replica can answer, leading or not).
pub fn plan_for(
    exams: &[super::store::ExamRow],
    open: &[LedgerRow],
    now: Timestamp,
    profile: &Profile,
) -> Plan {
    let exams: Vec<_> = exams.iter().map(|e| e.planned()).collect();
    let vms: Vec<_> = open.iter().filter_map(|r| r.planned()).collect();
    plan(&exams, &vms, micros(now), profile)
}
