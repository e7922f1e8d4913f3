//! SQL of the booking module, written once for both backends.
//!
//! Reads take a [`Src`]: the pool (for GETs) or an open [`Tx`] (for reads
//! that must see the transaction's own writes and hold its locks). Every
//! write happens inside a [`Tx`] that first locked the system row with
//! [`lock_system`]: that row lock (PostgreSQL) or the single writer
//! (SQLite) is what makes check-then-write safe under concurrent writers.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use uuid::Uuid;

use crate::store::{Backend, Db, DbId, DbStrings, DbTime, Tx};

/// Where a read runs: the pool, or an open transaction.
pub enum Src<'a, 'b> {
    Db(&'a Db),
    Tx(&'a mut Tx<'b>),
}

/// Runs `$body` with `$e` bound to an executor of either backend, from a
/// pool or a transaction (so the body is compiled four times). Shared by
/// the modules whose reads take a [`Src`].
macro_rules! on {
    ($src:expr, $e:ident => $body:expr) => {
        match $src {
            $crate::booking::store::Src::Db($crate::store::Db::Sqlite($e, _)) => $body,
            $crate::booking::store::Src::Db($crate::store::Db::Postgres($e, _)) => $body,
            $crate::booking::store::Src::Tx($crate::store::Tx::Sqlite { tx, .. }) => {
                let $e = &mut **tx;
                $body
            }
            $crate::booking::store::Src::Tx($crate::store::Tx::Postgres(tx)) => {
                let $e = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use on;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SystemRow {
    pub id: DbId,
    pub name: String,
    pub capabilities: DbStrings,
    pub capacity: i32,
    pub timezone: Option<String>,
    pub max_entry_us: i64,
    pub version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

pub(crate) const SYSTEM_COLS: &str =
    "id, name, capabilities, capacity, timezone, max_entry_us, version, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: DbId,
    pub system_id: DbId,
    pub start_at: DbTime,
    pub end_at: DbTime,
    pub capabilities: DbStrings,
    pub label: String,
    pub metadata: Json<Value>,
    pub status: String,
    pub version: i64,
    pub evicted_by: Option<DbId>,
    pub evicted_at: Option<DbTime>,
    pub evict_reason: Option<String>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

const ENTRY_COLS: &str = "id, system_id, start_at, end_at, capabilities, label, metadata, status, \
     version, evicted_by, evicted_at, evict_reason, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutageRow {
    pub id: DbId,
    pub system_id: DbId,
    pub kind: String,
    pub capabilities: Option<DbStrings>,
    pub start_at: DbTime,
    pub end_at: Option<DbTime>,
    pub expected_end: Option<DbTime>,
    pub window_seconds: Option<i64>,
    pub reason: String,
    pub resolved_at: Option<DbTime>,
    pub version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

const OUTAGE_COLS: &str = "id, system_id, kind, capabilities, start_at, end_at, expected_end, \
     window_seconds, reason, resolved_at, version, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub seq: i64,
    pub txid: i64,
    pub kind: String,
    pub system_id: DbId,
    pub entry_id: Option<DbId>,
    pub outage_id: Option<DbId>,
    pub at: DbTime,
    pub data: Json<Value>,
}

// ---- systems ----

/// Reads a system and, in a transaction on PostgreSQL, locks its row until
/// commit: every change to a system's entries or outages starts here.
pub async fn lock_system(tx: &mut Tx<'_>, id: Uuid) -> Result<Option<SystemRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {SYSTEM_COLS} FROM booking_systems WHERE id = $1{}",
        tx.backend().for_update()
    );
    crate::with_tx!(tx, c => sqlx::query_as::<_, SystemRow>(AssertSqlSafe(sql))
        .bind(DbId(id))
        .fetch_optional(c)
        .await)
}

pub async fn get_system(db: &Db, id: Uuid) -> Result<Option<SystemRow>, sqlx::Error> {
    let sql = format!("SELECT {SYSTEM_COLS} FROM booking_systems WHERE id = $1");
    crate::with_pool!(db, p => sqlx::query_as::<_, SystemRow>(AssertSqlSafe(sql))
        .bind(DbId(id))
        .fetch_optional(p)
        .await)
}

/// Systems in creation order (ids are UUIDv7), after `after`.
pub async fn list_systems(
    db: &Db,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SystemRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {SYSTEM_COLS} FROM booking_systems WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
    );
    crate::with_pool!(db, p => sqlx::query_as::<_, SystemRow>(AssertSqlSafe(sql))
        .bind(after.map(DbId))
        .bind(limit)
        .fetch_all(p)
        .await)
}

pub async fn insert_system(tx: &mut Tx<'_>, s: &SystemRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, p => sqlx::query(
        "INSERT INTO booking_systems (id, name, capabilities, capacity, timezone, max_entry_us, \
         version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(s.id)
    .bind(&s.name)
    .bind(&s.capabilities)
    .bind(s.capacity)
    .bind(&s.timezone)
    .bind(s.max_entry_us)
    .bind(s.version)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn update_system(tx: &mut Tx<'_>, s: &SystemRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "UPDATE booking_systems SET name = $2, capabilities = $3, capacity = $4, timezone = $5, \
         max_entry_us = $6, version = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(s.id)
    .bind(&s.name)
    .bind(&s.capabilities)
    .bind(s.capacity)
    .bind(&s.timezone)
    .bind(s.max_entry_us)
    .bind(s.version)
    .bind(s.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Raises the system's longest-entry bound to `len_us` if it is below.
pub async fn widen_max_entry(
    tx: &mut Tx<'_>,
    system_id: Uuid,
    len_us: i64,
) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "UPDATE booking_systems SET max_entry_us = $2 WHERE id = $1 AND max_entry_us < $2",
    )
    .bind(DbId(system_id))
    .bind(len_us)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the system with every entry it ever had (on PostgreSQL no
/// foreign key cascades to them: see migration 0009) and, by cascade, its
/// outages. The caller holds the system's lock.
pub async fn delete_system(tx: &mut Tx<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query("DELETE FROM booking_entries WHERE system_id = $1")
        .bind(DbId(id))
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    crate::with_tx!(tx, c => sqlx::query("DELETE FROM booking_systems WHERE id = $1")
        .bind(DbId(id))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The system a row of `table` (`booking_entries` or `booking_outages`)
/// belongs to.
pub async fn system_of(
    tx: &mut Tx<'_>,
    table: &'static str,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    let sql = format!("SELECT system_id FROM {table} WHERE id = $1");
    let owner: Option<DbId> = crate::with_tx!(tx, c => sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(DbId(id))
        .fetch_optional(c)
        .await)?;
    Ok(owner.map(|o| o.0))
}

// ---- entries ----

pub async fn get_entry(src: Src<'_, '_>, id: Uuid) -> Result<Option<EntryRow>, sqlx::Error> {
    let sql = format!("SELECT {ENTRY_COLS} FROM booking_entries WHERE id = $1");
    on!(src, e => sqlx::query_as::<_, EntryRow>(AssertSqlSafe(sql))
        .bind(DbId(id))
        .fetch_optional(e)
        .await)
}

/// Active entries of a system overlapping `[from, to)`. Only entries starting
/// in `(from - max_entry_us, to)` can overlap, which bounds the index range.
pub async fn active_overlapping(
    src: Src<'_, '_>,
    system: &SystemRow,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENTRY_COLS} FROM booking_entries WHERE system_id = $1 AND status = 'active' \
         AND start_at > $2 AND start_at < $3 AND end_at > $4 ORDER BY start_at, id"
    );
    let lower = Timestamp::from_microsecond(
        from.as_microsecond()
            .saturating_sub(system.max_entry_us)
            .max(Timestamp::MIN.as_microsecond()),
    )
    .unwrap_or(Timestamp::MIN);
    on!(src, e => sqlx::query_as::<_, EntryRow>(AssertSqlSafe(sql))
        .bind(system.id)
        .bind(DbTime(lower))
        .bind(DbTime(to))
        .bind(DbTime(from))
        .fetch_all(e)
        .await)
}

/// Ids of active entries on a system that have not ended by `now`.
pub async fn active_not_ended(
    tx: &mut Tx<'_>,
    system_id: Uuid,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENTRY_COLS} FROM booking_entries WHERE system_id = $1 AND status = 'active' \
         AND end_at > $2 ORDER BY start_at, id LIMIT $3"
    );
    crate::with_tx!(tx, c => sqlx::query_as::<_, EntryRow>(AssertSqlSafe(sql))
        .bind(DbId(system_id))
        .bind(DbTime(now))
        .bind(limit)
        .fetch_all(c)
        .await)
}

pub struct EntryFilter {
    pub system_id: Uuid,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub status: Option<String>,
    /// Keyset: strictly after (start, id).
    pub after: Option<(Timestamp, Uuid)>,
    pub limit: i64,
}

pub async fn list_entries(db: &Db, f: &EntryFilter) -> Result<Vec<EntryRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENTRY_COLS} FROM booking_entries WHERE system_id = $1 \
         AND ($2 IS NULL OR end_at > $2) AND ($3 IS NULL OR start_at < $3) \
         AND ($4 IS NULL OR status = $4) \
         AND ($5 IS NULL OR start_at > $5 OR (start_at = $5 AND id > $6)) \
         ORDER BY start_at, id LIMIT $7"
    );
    crate::with_pool!(db, p => sqlx::query_as::<_, EntryRow>(AssertSqlSafe(sql))
        .bind(DbId(f.system_id))
        .bind(f.from.map(DbTime))
        .bind(f.to.map(DbTime))
        .bind(&f.status)
        .bind(f.after.map(|a| DbTime(a.0)))
        .bind(f.after.map(|a| DbId(a.1)))
        .bind(f.limit)
        .fetch_all(p)
        .await)
}

pub async fn insert_entry(tx: &mut Tx<'_>, r: &EntryRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "INSERT INTO booking_entries (id, system_id, start_at, end_at, capabilities, label, metadata, \
         status, version, evicted_by, evicted_at, evict_reason, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(r.id)
    .bind(r.system_id)
    .bind(r.start_at)
    .bind(r.end_at)
    .bind(&r.capabilities)
    .bind(&r.label)
    .bind(&r.metadata)
    .bind(&r.status)
    .bind(r.version)
    .bind(r.evicted_by)
    .bind(r.evicted_at)
    .bind(&r.evict_reason)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Writes every mutable column of an entry.
pub async fn update_entry(tx: &mut Tx<'_>, r: &EntryRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "UPDATE booking_entries SET start_at = $2, end_at = $3, capabilities = $4, label = $5, \
         metadata = $6, status = $7, version = $8, evicted_by = $9, evicted_at = $10, \
         evict_reason = $11, updated_at = $12 WHERE id = $1",
    )
    .bind(r.id)
    .bind(r.start_at)
    .bind(r.end_at)
    .bind(&r.capabilities)
    .bind(&r.label)
    .bind(&r.metadata)
    .bind(&r.status)
    .bind(r.version)
    .bind(r.evicted_by)
    .bind(r.evicted_at)
    .bind(&r.evict_reason)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- outages ----

pub async fn get_outage(src: Src<'_, '_>, id: Uuid) -> Result<Option<OutageRow>, sqlx::Error> {
    let sql = format!("SELECT {OUTAGE_COLS} FROM booking_outages WHERE id = $1");
    on!(src, e => sqlx::query_as::<_, OutageRow>(AssertSqlSafe(sql))
        .bind(DbId(id))
        .fetch_optional(e)
        .await)
}

/// Outages of a system that still matter at `now`: unresolved, and for
/// planned ones not yet ended.
pub async fn open_outages(
    src: Src<'_, '_>,
    system_id: Uuid,
    now: Timestamp,
) -> Result<Vec<OutageRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {OUTAGE_COLS} FROM booking_outages WHERE system_id = $1 AND resolved_at IS NULL \
         AND (kind = 'unplanned' OR end_at > $2) ORDER BY start_at, id"
    );
    on!(src, e => sqlx::query_as::<_, OutageRow>(AssertSqlSafe(sql))
        .bind(DbId(system_id))
        .bind(DbTime(now))
        .fetch_all(e)
        .await)
}

pub async fn list_outages(db: &Db, system_id: Uuid) -> Result<Vec<OutageRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {OUTAGE_COLS} FROM booking_outages WHERE system_id = $1 ORDER BY start_at, id"
    );
    crate::with_pool!(db, p => sqlx::query_as::<_, OutageRow>(AssertSqlSafe(sql))
        .bind(DbId(system_id))
        .fetch_all(p)
        .await)
}

/// Every unresolved unplanned outage, for the sweeper.
pub async fn unresolved_unplanned(db: &Db) -> Result<Vec<OutageRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {OUTAGE_COLS} FROM booking_outages WHERE kind = 'unplanned' AND resolved_at IS NULL \
         ORDER BY system_id, start_at"
    );
    crate::with_pool!(db, p => sqlx::query_as::<_, OutageRow>(AssertSqlSafe(sql))
        .fetch_all(p)
        .await)
}

pub async fn insert_outage(tx: &mut Tx<'_>, o: &OutageRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "INSERT INTO booking_outages (id, system_id, kind, capabilities, start_at, end_at, expected_end, \
         window_seconds, reason, resolved_at, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(o.id)
    .bind(o.system_id)
    .bind(&o.kind)
    .bind(&o.capabilities)
    .bind(o.start_at)
    .bind(o.end_at)
    .bind(o.expected_end)
    .bind(o.window_seconds)
    .bind(&o.reason)
    .bind(o.resolved_at)
    .bind(o.version)
    .bind(o.created_at)
    .bind(o.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn update_outage(tx: &mut Tx<'_>, o: &OutageRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "UPDATE booking_outages SET capabilities = $2, start_at = $3, end_at = $4, expected_end = $5, \
         window_seconds = $6, reason = $7, resolved_at = $8, version = $9, updated_at = $10 WHERE id = $1",
    )
    .bind(o.id)
    .bind(&o.capabilities)
    .bind(o.start_at)
    .bind(o.end_at)
    .bind(o.expected_end)
    .bind(o.window_seconds)
    .bind(&o.reason)
    .bind(o.resolved_at)
    .bind(o.version)
    .bind(o.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- events ----

pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub system_id: Uuid,
    pub entry_id: Option<Uuid>,
    pub outage_id: Option<Uuid>,
    pub at: Timestamp,
    pub data: Value,
}

pub async fn insert_event(tx: &mut Tx<'_>, ev: NewEvent<'_>) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "INSERT INTO booking_events (kind, system_id, entry_id, outage_id, at, data) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ev.kind)
    .bind(DbId(ev.system_id))
    .bind(ev.entry_id.map(DbId))
    .bind(ev.outage_id.map(DbId))
    .bind(DbTime(ev.at))
    .bind(Json(ev.data))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Events after the cursor `(txid, seq)`, in order. On PostgreSQL only rows of
/// transactions older than every transaction still running are returned:
/// those are final, so nothing can later appear before a cursor handed out.
pub async fn events_after(
    db: &Db,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let visible = match db.backend() {
        Backend::Postgres => " AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT seq, txid, kind, system_id, entry_id, outage_id, at, data FROM booking_events \
         WHERE (txid > $1 OR (txid = $1 AND seq > $2)){visible} ORDER BY txid, seq LIMIT $3"
    );
    crate::with_pool!(db, p => sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(p)
        .await)
}

// ---- batches (group commit of entry inserts; see `super::batch`) ----
//
// A constant number of statements per batch: arrays through `UNNEST` on
// PostgreSQL, one JSON document through `json_each` on SQLite.

fn sqlite_ids(ids: &[Uuid]) -> String {
    Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect()).to_string()
}

/// Locks the systems (ids sorted, so two batches always lock in the same
/// order and cannot deadlock) and returns them.
pub async fn lock_systems(tx: &mut Tx<'_>, ids: &[Uuid]) -> Result<Vec<SystemRow>, sqlx::Error> {
    match tx {
        Tx::Sqlite { tx, .. } => {
            let sql = format!(
                "SELECT {SYSTEM_COLS} FROM booking_systems WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
            );
            sqlx::query_as::<_, SystemRow>(AssertSqlSafe(sql))
                .bind(sqlite_ids(ids))
                .fetch_all(&mut **tx)
                .await
        }
        Tx::Postgres(tx) => {
            let sql = format!(
                "SELECT {SYSTEM_COLS} FROM booking_systems WHERE id = ANY($1) ORDER BY id FOR UPDATE"
            );
            let ids: Vec<DbId> = ids.iter().copied().map(DbId).collect();
            sqlx::query_as::<_, SystemRow>(AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(&mut **tx)
                .await
        }
    }
}

/// [`open_outages`] of several systems.
pub async fn open_outages_of(
    tx: &mut Tx<'_>,
    ids: &[Uuid],
    now: Timestamp,
) -> Result<Vec<OutageRow>, sqlx::Error> {
    let cond = "resolved_at IS NULL AND (kind = 'unplanned' OR end_at > $2) ORDER BY start_at, id";
    match tx {
        Tx::Sqlite { tx, .. } => {
            let sql = format!(
                "SELECT {OUTAGE_COLS} FROM booking_outages WHERE system_id IN (SELECT value FROM json_each($1)) AND {cond}"
            );
            sqlx::query_as::<_, OutageRow>(AssertSqlSafe(sql))
                .bind(sqlite_ids(ids))
                .bind(DbTime(now))
                .fetch_all(&mut **tx)
                .await
        }
        Tx::Postgres(tx) => {
            let sql = format!(
                "SELECT {OUTAGE_COLS} FROM booking_outages WHERE system_id = ANY($1) AND {cond}"
            );
            let ids: Vec<DbId> = ids.iter().copied().map(DbId).collect();
            sqlx::query_as::<_, OutageRow>(AssertSqlSafe(sql))
                .bind(ids)
                .bind(DbTime(now))
                .fetch_all(&mut **tx)
                .await
        }
    }
}

/// [`active_overlapping`] for several (system, from, to) ranges at once,
/// one range per system.
pub async fn active_overlapping_many(
    tx: &mut Tx<'_>,
    ranges: &[(&SystemRow, Timestamp, Timestamp)],
) -> Result<Vec<EntryRow>, sqlx::Error> {
    overlapping_many(tx, ranges, ENTRY_COLS).await
}

/// Just where the active entries of [`active_overlapping_many`] are:
/// `(entry id, system id, start, end)`. For searches that read many
/// entries and need nothing else of them (decoding whole rows was most of
/// a calendar search's time).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BusySpan {
    pub id: DbId,
    pub system_id: DbId,
    pub start_at: DbTime,
    pub end_at: DbTime,
}

pub async fn active_spans_many(
    tx: &mut Tx<'_>,
    ranges: &[(&SystemRow, Timestamp, Timestamp)],
) -> Result<Vec<BusySpan>, sqlx::Error> {
    overlapping_many(tx, ranges, "id, system_id, start_at, end_at").await
}

async fn overlapping_many<R>(
    tx: &mut Tx<'_>,
    ranges: &[(&SystemRow, Timestamp, Timestamp)],
    columns: &str,
) -> Result<Vec<R>, sqlx::Error>
where
    R: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    if ranges.is_empty() {
        // Every range was known already (a calendar batch's busy cache):
        // no round trip.
        return Ok(Vec::new());
    }
    let lower = |s: &SystemRow, from: Timestamp| {
        Timestamp::from_microsecond(from.as_microsecond().saturating_sub(s.max_entry_us))
            .unwrap_or(Timestamp::MIN)
    };
    let cols = columns
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    match tx {
        Tx::Sqlite { tx, .. } => {
            let doc: Vec<Value> = ranges
                .iter()
                .map(|(s, from, to)| {
                    serde_json::json!([
                        s.id.0.to_string(),
                        DbTime(lower(s, *from)).to_sqlite_text(),
                        DbTime(*from).to_sqlite_text(),
                        DbTime(*to).to_sqlite_text()
                    ])
                })
                .collect();
            let sql = format!(
                "SELECT {cols} FROM json_each($1) AS r JOIN booking_entries e \
                 ON e.system_id = r.value ->> 0 AND e.status = 'active' \
                 AND e.start_at > r.value ->> 1 AND e.start_at < r.value ->> 3 \
                 AND e.end_at > r.value ->> 2"
            );
            sqlx::query_as::<_, R>(AssertSqlSafe(sql))
                .bind(Value::Array(doc).to_string())
                .fetch_all(&mut **tx)
                .await
        }
        Tx::Postgres(tx) => {
            // One index range per requested range, always: the LATERAL
            // subquery (kept apart by OFFSET 0) can only be joined as a
            // loop over the ranges. As a plain join, the generic plan
            // (see PgShared::batch_pool) turned into a merge join over
            // every entry of the systems once the table's statistics said
            // the array was small and the index cheap: 100 ms instead of 4.
            let sql = format!(
                "SELECT {cols} FROM UNNEST($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[]) \
                 AS r(sys, lower_, from_, to_) CROSS JOIN LATERAL (SELECT {columns} FROM booking_entries e \
                 WHERE e.system_id = r.sys AND e.status = 'active' \
                 AND e.start_at > r.lower_ AND e.start_at < r.to_ AND e.end_at > r.from_ OFFSET 0) e"
            );
            let sys: Vec<DbId> = ranges.iter().map(|r| r.0.id).collect();
            let lowers: Vec<DbTime> = ranges.iter().map(|r| DbTime(lower(r.0, r.1))).collect();
            let froms: Vec<DbTime> = ranges.iter().map(|r| DbTime(r.1)).collect();
            let tos: Vec<DbTime> = ranges.iter().map(|r| DbTime(r.2)).collect();
            sqlx::query_as::<_, R>(AssertSqlSafe(sql))
                .bind(sys)
                .bind(lowers)
                .bind(froms)
                .bind(tos)
                .fetch_all(&mut **tx)
                .await
        }
    }
}

/// Inserts new active entries and their `entry.created` events (each
/// carrying the entry as the API shows it).
pub async fn insert_entries_with_events(
    tx: &mut Tx<'_>,
    rows: &[EntryRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let events = entry_created_docs(rows);
    match tx {
        Tx::Sqlite { tx, .. } => {
            let doc: Vec<Value> = rows
                .iter()
                .zip(&events)
                .map(|(r, ev)| {
                    serde_json::json!({
                        "id": r.id.0.to_string(),
                        "system_id": r.system_id.0.to_string(),
                        "start_at": r.start_at.to_sqlite_text(),
                        "end_at": r.end_at.to_sqlite_text(),
                        "capabilities": serde_json::to_string(&r.capabilities.0).unwrap_or_default(),
                        "label": r.label,
                        "metadata": r.metadata.0.to_string(),
                        "at": r.created_at.to_sqlite_text(),
                        "event": ev,
                    })
                })
                .collect();
            let doc = Value::Array(doc).to_string();
            sqlx::query(
                "INSERT INTO booking_entries (id, system_id, start_at, end_at, capabilities, label, metadata, \
                 status, version, created_at, updated_at) \
                 SELECT value ->> 'id', value ->> 'system_id', value ->> 'start_at', value ->> 'end_at', \
                 value ->> 'capabilities', value ->> 'label', value ->> 'metadata', 'active', 1, \
                 value ->> 'at', value ->> 'at' FROM json_each($1) ORDER BY key",
            )
            .bind(&doc)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO booking_events (kind, system_id, entry_id, at, data) \
                 SELECT 'entry.created', value ->> 'system_id', value ->> 'id', value ->> 'at', \
                 value ->> 'event' FROM json_each($1) ORDER BY key",
            )
            .bind(&doc)
            .execute(&mut **tx)
            .await?;
        }
        Tx::Postgres(tx) => {
            let sql = format!("WITH {}", pg_entries_tail(1));
            bind_pg_entries(sqlx::query(AssertSqlSafe(sql)), rows, events)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// The PostgreSQL statement of [`insert_entries_with_events`] without its
/// `WITH`: `r AS (...), ins AS (INSERT ...) INSERT INTO booking_events ...`,
/// its nine parameters numbered from `$first` (bound by
/// [`bind_pg_entries`]). A caller with writes of its own to make in the
/// same transaction puts them in front, in the same statement: one round
/// trip instead of two.
pub(crate) fn pg_entries_tail(first: usize) -> String {
    let p: Vec<String> = (first..first + 9).map(|i| format!("${i}")).collect();
    let at = &p[8];
    let entries = format!(
        "INSERT INTO booking_entries (id, system_id, start_at, end_at, capabilities, label, \
           metadata, status, version, created_at, updated_at) \
           SELECT id, sys, a, b, CASE WHEN caps = '[]' THEN '{{}}'::text[] \
           ELSE ARRAY(SELECT jsonb_array_elements_text(caps::jsonb)) END, label, \
           meta::jsonb, 'active', 1, {at}, {at} FROM r"
    );
    let feed = format!(
        "INSERT INTO booking_events (kind, system_id, entry_id, at, data) \
         SELECT 'entry.created', sys, id, {at}, ev::json FROM r ORDER BY n"
    );
    let rows = format!(
        "r AS (SELECT * FROM UNNEST({}::uuid[], {}::uuid[], {}::timestamptz[], {}::timestamptz[], \
           {}::text[], {}::text[], {}::text[], {}::text[]) WITH ORDINALITY \
           AS r(id, sys, a, b, caps, label, meta, ev, n))",
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
    );
    format!("{rows}, ins AS ({entries}) {feed}")
}

/// Binds the parameters of [`pg_entries_tail`] for `rows` (not empty) and
/// their `entry.created` documents, `events`.
pub(crate) fn bind_pg_entries<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    rows: &[EntryRow],
    events: Vec<String>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let ids: Vec<DbId> = rows.iter().map(|r| r.id).collect();
    let sys: Vec<DbId> = rows.iter().map(|r| r.system_id).collect();
    let starts: Vec<DbTime> = rows.iter().map(|r| r.start_at).collect();
    let ends: Vec<DbTime> = rows.iter().map(|r| r.end_at).collect();
    // Capability sets differ in length, and PostgreSQL arrays of arrays
    // must be rectangular: each set travels as JSON text. An empty set
    // (every calendar hold) skips the per-row subquery that unpacks it.
    let caps: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&r.capabilities.0).unwrap_or_default())
        .collect();
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let metadata: Vec<String> = rows.iter().map(|r| r.metadata.0.to_string()).collect();
    let at = rows.first().map(|r| r.created_at);
    query
        .bind(ids)
        .bind(sys)
        .bind(starts)
        .bind(ends)
        .bind(caps)
        .bind(labels)
        .bind(metadata)
        .bind(events)
        .bind(at)
}

/// The `entry.created` documents of `rows`: each entry as the API shows
/// it, serialized straight to text (the feed stores them as written).
pub(crate) fn entry_created_docs(rows: &[EntryRow]) -> Vec<String> {
    rows.iter()
        .map(|r| serde_json::to_string(&r.to_api()).unwrap_or_default())
        .collect()
}
