//! The VM ledger (`provisioning_vms`): one row per `start()` attempt, the
//! executor's durable memory of what it asked the cloud for.
//!
//! The order of writes is what makes a crash harmless:
//!
//! 1. [`insert_intent`] commits a `requesting` row, with the idempotency
//!    key the call will carry, before `start()` is called. A partial
//!    unique index allows one live row per (exam, slot), so no executor,
//!    however many run, can ask twice for one slot.
//! 2. The answer's VM id is saved ([`save`], state `pending`).
//! 3. Readiness, the stop intent (`stopping`, before `stop()`) and the stop
//!    are saved the same way.
//!
//! A crash after 1 leaves a `requesting` row; the next executor calls
//! `start()` again under the same key, and a provider that honours keys
//! answers with the VM it already made. A crash after a stop intent leaves
//! a `stopping` row, and `stop()` is repeated (it is idempotent).

use std::str::FromStr;

use allot_kernel::provisioning::{ExamId, Vm, VmKey, VmState};
use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::store::{Db, DbId, DbTime, is_unique_violation};

/// Where one VM is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LedgerState {
    /// The intent is written; the provider's answer is not (yet) known.
    Requesting,
    /// The provider gave its id; the VM is not known to be ready.
    Pending,
    Ready,
    /// The stop intent is written; the provider has not confirmed it.
    Stopping,
    Stopped,
    /// `start()` definitely made nothing; the slot is free again.
    Failed,
}

impl LedgerState {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Requesting => "requesting",
            LedgerState::Pending => "pending",
            LedgerState::Ready => "ready",
            LedgerState::Stopping => "stopping",
            LedgerState::Stopped => "stopped",
            LedgerState::Failed => "failed",
        }
    }

    /// Not finished: the executor still has something to do for it.
    pub fn is_open(self) -> bool {
        !matches!(self, LedgerState::Stopped | LedgerState::Failed)
    }

    /// Holds its slot (requesting, pending or ready).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            LedgerState::Requesting | LedgerState::Pending | LedgerState::Ready
        )
    }

    pub const ALL: [LedgerState; 6] = [
        LedgerState::Requesting,
        LedgerState::Pending,
        LedgerState::Ready,
        LedgerState::Stopping,
        LedgerState::Stopped,
        LedgerState::Failed,
    ];
}

impl FromStr for LedgerState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LedgerState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("{s:?} is no ledger state"))
    }
}

/// One row: one `start()` attempt for one slot of one exam, and what
/// became of its VM. This is also the wire shape of
/// `GET /v1/provisioning/vms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LedgerRow {
    pub id: Uuid,
    pub exam_id: Uuid,
    /// The seat it is for, `0..students`: one live VM per slot.
    pub slot: u32,
    /// 1 for the slot's first `start()`, one more after each failed one.
    pub attempt: u32,
    /// Sent with every `start()` of this row: `{exam}:{slot}:{row id}`.
    pub idempotency_key: String,
    pub state: LedgerState,
    /// The provider's id, once it answered.
    pub vm_id: Option<Uuid>,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    /// When the plan expects it ready (the provider's word once asked).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expected_ready_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ready_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stop_requested_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stopped_at: Option<Timestamp>,
    pub start_calls: u32,
    pub stop_calls: u32,
    /// Found `requesting` after a crash: the provider may have made a VM
    /// whose id was never recorded. It stays set once the VM is found
    /// (`vm_id` given), as a record of the incident.
    pub maybe_leaked: bool,
    /// The last failed call's error, cleared by a success.
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl LedgerRow {
    /// A new intent for `slot` of `exam`, attempt `attempt`.
    pub fn intent(
        exam_id: Uuid,
        slot: u32,
        attempt: u32,
        now: Timestamp,
        expected_ready_at: Option<Timestamp>,
    ) -> LedgerRow {
        let id = Uuid::now_v7();
        LedgerRow {
            id,
            exam_id,
            slot,
            attempt,
            idempotency_key: format!("{exam_id}:{slot}:{id}"),
            state: LedgerState::Requesting,
            vm_id: None,
            requested_at: now,
            expected_ready_at,
            ready_at: None,
            stop_requested_at: None,
            stopped_at: None,
            start_calls: 0,
            stop_calls: 0,
            maybe_leaked: false,
            last_error: None,
            updated_at: now,
        }
    }

    pub fn key(&self) -> VmKey {
        VmKey {
            exam: ExamId(self.exam_id.as_u128()),
            slot: self.slot,
        }
    }

    /// The row as the planner takes it; `None` for finished rows, which
    /// the planner does not need.
    pub fn planned(&self) -> Option<Vm> {
        let micros = |t: Option<Timestamp>| t.map(|t| t.as_microsecond());
        let state = match self.state {
            LedgerState::Requesting | LedgerState::Pending => VmState::Pending {
                ready_at: micros(self.expected_ready_at),
            },
            LedgerState::Ready => VmState::Ready {
                at: self.ready_at.unwrap_or(self.updated_at).as_microsecond(),
            },
            LedgerState::Stopping => VmState::Stopping,
            LedgerState::Stopped | LedgerState::Failed => return None,
        };
        Some(Vm {
            key: self.key(),
            state,
            requested_at: self.requested_at.as_microsecond(),
            stoppable: self.vm_id.is_some(),
        })
    }
}

const COLS: &str = "id, exam_id, slot, attempt, idempotency_key, state, vm_id, requested_at, \
    expected_ready_at, ready_at, stop_requested_at, stopped_at, start_calls, stop_calls, \
    maybe_leaked, last_error, updated_at";

#[derive(sqlx::FromRow)]
struct Raw {
    id: DbId,
    exam_id: DbId,
    slot: i32,
    attempt: i32,
    idempotency_key: String,
    state: String,
    vm_id: Option<DbId>,
    requested_at: DbTime,
    expected_ready_at: Option<DbTime>,
    ready_at: Option<DbTime>,
    stop_requested_at: Option<DbTime>,
    stopped_at: Option<DbTime>,
    start_calls: i32,
    stop_calls: i32,
    maybe_leaked: bool,
    last_error: Option<String>,
    updated_at: DbTime,
}

impl Raw {
    fn row(self) -> Result<LedgerRow, sqlx::Error> {
        let count = |n: i32| u32::try_from(n).unwrap_or(0);
        Ok(LedgerRow {
            id: self.id.0,
            exam_id: self.exam_id.0,
            slot: count(self.slot),
            attempt: count(self.attempt),
            idempotency_key: self.idempotency_key,
            state: self
                .state
                .parse()
                .map_err(|e: String| sqlx::Error::ColumnDecode {
                    index: "\"state\"".to_string(),
                    source: e.into(),
                })?,
            vm_id: self.vm_id.map(|v| v.0),
            requested_at: self.requested_at.0,
            expected_ready_at: self.expected_ready_at.map(|t| t.0),
            ready_at: self.ready_at.map(|t| t.0),
            stop_requested_at: self.stop_requested_at.map(|t| t.0),
            stopped_at: self.stopped_at.map(|t| t.0),
            start_calls: count(self.start_calls),
            stop_calls: count(self.stop_calls),
            maybe_leaked: self.maybe_leaked,
            last_error: self.last_error,
            updated_at: self.updated_at.0,
        })
    }
}

fn rows(raw: Vec<Raw>) -> Result<Vec<LedgerRow>, sqlx::Error> {
    raw.into_iter().map(Raw::row).collect()
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Every row the executor still has work for, oldest request first.
pub async fn open(db: &Db) -> Result<Vec<LedgerRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLS} FROM provisioning_vms \
         WHERE state IN ('requesting', 'pending', 'ready', 'stopping') ORDER BY requested_at, id"
    );
    let raw: Vec<Raw> =
        crate::with_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await)?;
    rows(raw)
}

/// Which rows [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub exam_id: Option<Uuid>,
    pub state: Option<LedgerState>,
    /// Keyset: strictly after this row id (ids are time-ordered v7 UUIDs).
    pub after: Option<Uuid>,
    pub limit: i64,
}

/// Rows by id (that is, by creation).
pub async fn list(db: &Db, f: &LedgerFilter) -> Result<Vec<LedgerRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLS} FROM provisioning_vms WHERE ($1 IS NULL OR exam_id = $1) \
         AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
    );
    let raw: Vec<Raw> = crate::with_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql))
        .bind(f.exam_id.map(DbId))
        .bind(f.state.map(|s| s.as_str()))
        .bind(f.after.map(DbId))
        .bind(f.limit)
        .fetch_all(p)
        .await)?;
    rows(raw)
}

/// Rows per state for one exam (every state present, zeros included).
pub async fn counts(db: &Db, exam_id: Uuid) -> Result<Vec<(LedgerState, u64)>, sqlx::Error> {
    let found: Vec<(String, i64)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT state, COUNT(*) FROM provisioning_vms WHERE exam_id = $1 GROUP BY state",
    )
    .bind(DbId(exam_id))
    .fetch_all(p)
    .await)?;
    Ok(LedgerState::ALL
        .into_iter()
        .map(|state| {
            let n = found
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                .unwrap_or(0);
            (state, n)
        })
        .collect())
}

/// The highest attempt number of `slot` of `exam_id` (0 when it has no row).
pub async fn last_attempt(db: &Db, exam_id: Uuid, slot: u32) -> Result<u32, sqlx::Error> {
    let n: Option<i32> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT MAX(attempt) FROM provisioning_vms WHERE exam_id = $1 AND slot = $2",
    )
    .bind(DbId(exam_id))
    .bind(int(slot))
    .fetch_one(p)
    .await)?;
    Ok(n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
}

/// Writes a new intent and commits it. `Ok(false)`: the slot already has a
/// live row (or this attempt exists), and nothing was written.
pub async fn insert_intent(db: &Db, r: &LedgerRow) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "INSERT INTO provisioning_vms ({COLS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    let done = crate::with_tx!(&mut tx, c => sqlx::query(AssertSqlSafe(sql))
        .bind(DbId(r.id))
        .bind(DbId(r.exam_id))
        .bind(int(r.slot))
        .bind(int(r.attempt))
        .bind(&r.idempotency_key)
        .bind(r.state.as_str())
        .bind(r.vm_id.map(DbId))
        .bind(DbTime(r.requested_at))
        .bind(r.expected_ready_at.map(DbTime))
        .bind(r.ready_at.map(DbTime))
        .bind(r.stop_requested_at.map(DbTime))
        .bind(r.stopped_at.map(DbTime))
        .bind(int(r.start_calls))
        .bind(int(r.stop_calls))
        .bind(r.maybe_leaked)
        .bind(r.last_error.as_deref())
        .bind(DbTime(r.updated_at))
        .execute(c)
        .await
        .map(|r| r.rows_affected()));
    match done {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Saves every mutable column of `r` and commits.
pub async fn save(db: &Db, r: &LedgerRow) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    save_in(&mut tx, r).await?;
    tx.commit().await
}

/// As [`save`], inside a transaction.
pub async fn save_in(tx: &mut crate::store::Tx<'_>, r: &LedgerRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "UPDATE provisioning_vms SET state = $2, vm_id = $3, expected_ready_at = $4, ready_at = $5, \
         stop_requested_at = $6, stopped_at = $7, start_calls = $8, stop_calls = $9, \
         maybe_leaked = $10, last_error = $11, updated_at = $12 WHERE id = $1",
    )
    .bind(DbId(r.id))
    .bind(r.state.as_str())
    .bind(r.vm_id.map(DbId))
    .bind(r.expected_ready_at.map(DbTime))
    .bind(r.ready_at.map(DbTime))
    .bind(r.stop_requested_at.map(DbTime))
    .bind(r.stopped_at.map(DbTime))
    .bind(int(r.start_calls))
    .bind(int(r.stop_calls))
    .bind(r.maybe_leaked)
    .bind(r.last_error.as_deref())
    .bind(DbTime(r.updated_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- the last shortfall notified per exam ----

/// Every exam's last notified shortfall.
pub async fn notified_shortfalls(db: &Db) -> Result<Vec<(Uuid, u32)>, sqlx::Error> {
    let found: Vec<(DbId, i32)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT exam_id, shortfall FROM provisioning_forecasts",
    )
    .fetch_all(p)
    .await)?;
    Ok(found
        .into_iter()
        .map(|(id, n)| (id.0, u32::try_from(n).unwrap_or(0)))
        .collect())
}

/// Records the shortfall last notified for `exam_id`.
pub async fn record_shortfall(
    tx: &mut crate::store::Tx<'_>,
    exam_id: Uuid,
    shortfall: u32,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "INSERT INTO provisioning_forecasts (exam_id, shortfall, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (exam_id) DO UPDATE SET shortfall = excluded.shortfall, updated_at = excluded.updated_at",
    )
    .bind(DbId(exam_id))
    .bind(int(shortfall))
    .bind(DbTime(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_900_000_000 + s).unwrap()
    }

    #[test]
    fn states_round_trip_and_say_what_they_hold() {
        for state in LedgerState::ALL {
            assert_eq!(state.as_str().parse::<LedgerState>(), Ok(state));
        }
        assert!("running".parse::<LedgerState>().is_err());
        let live: Vec<_> = LedgerState::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(
            live,
            [
                LedgerState::Requesting,
                LedgerState::Pending,
                LedgerState::Ready
            ]
        );
        assert!(LedgerState::Stopping.is_open() && !LedgerState::Stopped.is_open());
    }

    #[test]
    fn the_planner_sees_open_rows_and_only_stops_what_has_an_id() {
        let exam = Uuid::now_v7();
        let mut row = LedgerRow::intent(exam, 3, 1, t(0), Some(t(6)));
        assert!(row.idempotency_key.starts_with(&format!("{exam}:3:")));
        let vm = row.planned().unwrap();
        assert_eq!(vm.key.slot, 3);
        assert!(!vm.stoppable, "no id yet");
        assert_eq!(
            vm.state,
            VmState::Pending {
                ready_at: Some(t(6).as_microsecond())
            }
        );
        row.state = LedgerState::Ready;
        row.vm_id = Some(Uuid::now_v7());
        row.ready_at = Some(t(5));
        let vm = row.planned().unwrap();
        assert!(vm.stoppable);
        assert_eq!(
            vm.state,
            VmState::Ready {
                at: t(5).as_microsecond()
            }
        );
        row.state = LedgerState::Stopped;
        assert_eq!(row.planned(), None);
    }
}
