//! SQL of the calendar module, written once for both backends. Booking
//! entries (the spans events hold) go through [`crate::booking::store`];
//! this file owns calendars, events, holds and webhook deliveries; the
//! notifications themselves go to the shared feed
//! ([`crate::notifications`]).

use jiff::Timestamp;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use uuid::Uuid;

use crate::booking::store::{self as bstore, SYSTEM_COLS, Src, SystemRow, on};
use crate::notifications::{self, NewNotification};
use crate::store::{Backend, Db, DbId, DbStrings, DbTime, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CalendarRow {
    pub id: DbId,
    pub owner: String,
    pub timezone: String,
    pub working_hours: Json<Value>,
    pub horizon_days: Option<i64>,
    pub slot_granularity_s: i64,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    /// Bumped by the database whenever the calendar's entries change (see
    /// `busy_cache`); never written by the service.
    pub entries_gen: i64,
}

const CALENDAR_COLS: &str = "id, owner, timezone, working_hours, horizon_days, slot_granularity_s, \
     webhook_url, webhook_secret, version, created_at, updated_at, entries_gen";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: DbId,
    pub calendar_id: DbId,
    pub name: String,
    pub date: String,
    pub start_time: Option<String>,
    pub duration_us: i64,
    pub search_days: i64,
    pub start_at: Option<DbTime>,
    pub end_at: Option<DbTime>,
    pub attendees: DbStrings,
    pub location: String,
    pub placement: String,
    pub state: String,
    pub outside_working_hours: bool,
    pub version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

const EVENT_COLS: &str = "id, calendar_id, name, date, start_time, duration_us, search_days, \
     start_at, end_at, attendees, location, placement, state, outside_working_hours, version, \
     created_at, updated_at";

// ---- calendars ----

pub async fn insert_calendar(tx: &mut Tx<'_>, c: &CalendarRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query(
        "INSERT INTO calendars (id, owner, timezone, working_hours, horizon_days, slot_granularity_s, \
         webhook_url, webhook_secret, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(c.id)
    .bind(&c.owner)
    .bind(&c.timezone)
    .bind(&c.working_hours)
    .bind(c.horizon_days)
    .bind(c.slot_granularity_s)
    .bind(&c.webhook_url)
    .bind(&c.webhook_secret)
    .bind(c.version)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn update_calendar(tx: &mut Tx<'_>, c: &CalendarRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query(
        "UPDATE calendars SET owner = $2, timezone = $3, working_hours = $4, horizon_days = $5, \
         slot_granularity_s = $6, webhook_url = $7, webhook_secret = $8, version = $9, updated_at = $10 \
         WHERE id = $1",
    )
    .bind(c.id)
    .bind(&c.owner)
    .bind(&c.timezone)
    .bind(&c.working_hours)
    .bind(c.horizon_days)
    .bind(c.slot_granularity_s)
    .bind(&c.webhook_url)
    .bind(&c.webhook_secret)
    .bind(c.version)
    .bind(c.updated_at)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get_calendar(src: Src<'_, '_>, id: Uuid) -> Result<Option<CalendarRow>, sqlx::Error> {
    let sql = format!("SELECT {CALENDAR_COLS} FROM calendars WHERE id = $1");
    on!(src, e => sqlx::query_as::<_, CalendarRow>(AssertSqlSafe(sql)).bind(DbId(id)).fetch_optional(e).await)
}

/// The calendars among `ids` (sorted by id); ids that are not calendars are absent.
pub async fn calendars_in(src: Src<'_, '_>, ids: &[Uuid]) -> Result<Vec<CalendarRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sqlite = || {
        let doc = Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect());
        let sql = format!(
            "SELECT {CALENDAR_COLS} FROM calendars WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
        );
        (sql, doc.to_string())
    };
    let pg = || {
        let sql = format!("SELECT {CALENDAR_COLS} FROM calendars WHERE id = ANY($1) ORDER BY id");
        let ids: Vec<DbId> = ids.iter().copied().map(DbId).collect();
        (sql, ids)
    };
    match src {
        Src::Db(Db::Sqlite(p, _)) => {
            let (sql, doc) = sqlite();
            sqlx::query_as::<_, CalendarRow>(AssertSqlSafe(sql))
                .bind(doc)
                .fetch_all(p)
                .await
        }
        Src::Tx(Tx::Sqlite { tx, .. }) => {
            let (sql, doc) = sqlite();
            sqlx::query_as::<_, CalendarRow>(AssertSqlSafe(sql))
                .bind(doc)
                .fetch_all(&mut **tx)
                .await
        }
        Src::Db(Db::Postgres(p, _)) => {
            let (sql, ids) = pg();
            sqlx::query_as::<_, CalendarRow>(AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(p)
                .await
        }
        Src::Tx(Tx::Postgres(tx)) => {
            let (sql, ids) = pg();
            sqlx::query_as::<_, CalendarRow>(AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(&mut **tx)
                .await
        }
    }
}

/// A calendar with its booking system, as [`lock_calendars`] reads them:
/// the columns both tables have come as the system's, and as `c_...` for
/// the calendar's.
#[derive(sqlx::FromRow)]
struct LockedRow {
    #[sqlx(flatten)]
    system: SystemRow,
    owner: String,
    #[sqlx(rename = "c_timezone")]
    timezone: String,
    working_hours: Json<Value>,
    horizon_days: Option<i64>,
    slot_granularity_s: i64,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    #[sqlx(rename = "c_version")]
    version: i64,
    #[sqlx(rename = "c_created_at")]
    created_at: DbTime,
    #[sqlx(rename = "c_updated_at")]
    updated_at: DbTime,
    entries_gen: i64,
}

impl LockedRow {
    fn split(self) -> (SystemRow, CalendarRow) {
        let cal = CalendarRow {
            id: self.system.id,
            owner: self.owner,
            timezone: self.timezone,
            working_hours: self.working_hours,
            horizon_days: self.horizon_days,
            slot_granularity_s: self.slot_granularity_s,
            webhook_url: self.webhook_url,
            webhook_secret: self.webhook_secret,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            entries_gen: self.entries_gen,
        };
        (self.system, cal)
    }
}

/// Locks the booking systems of the calendars among `ids` (sorted, so two
/// transactions always lock in the same order) and returns them with the
/// calendars, in one round trip: ids that are not calendars are absent.
///
/// On PostgreSQL the calendar rows are locked too, and that is what makes
/// them current: a statement reads at the snapshot it started with, and
/// one that waited for a system's lock would return the calendar as it was
/// before the holder committed (its `entries_gen` a generation behind).
/// A row it locks comes back as the latest version instead. Whoever
/// changes a calendar row holds its system's lock first (an update, the
/// entries trigger in a transaction that writes the entries under it, or
/// a batch's own bump of the generations, [`bump_entries_gen`]), so
/// this second lock never waits and adds no deadlock. `NO KEY UPDATE`
/// leaves the events' foreign key checks on the calendar (`KEY SHARE`)
/// unblocked.
pub async fn lock_calendars(
    tx: &mut Tx<'_>,
    ids: &[Uuid],
) -> Result<(Vec<SystemRow>, Vec<CalendarRow>), sqlx::Error> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let system: Vec<&str> = SYSTEM_COLS.split(", ").collect();
    let columns: Vec<String> = system
        .iter()
        .map(|c| format!("s.{c}"))
        .chain(CALENDAR_COLS.split(", ").filter(|c| *c != "id").map(|c| {
            if system.contains(&c) {
                format!("c.{c} AS c_{c}")
            } else {
                format!("c.{c}")
            }
        }))
        .collect();
    let from = format!(
        "SELECT {} FROM booking_systems s JOIN calendars c ON c.id = s.id",
        columns.join(", ")
    );
    let rows = match tx {
        Tx::Sqlite { tx, .. } => {
            let doc = Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect());
            let sql =
                format!("{from} WHERE s.id IN (SELECT value FROM json_each($1)) ORDER BY s.id");
            sqlx::query_as::<_, LockedRow>(AssertSqlSafe(sql))
                .bind(doc.to_string())
                .fetch_all(&mut **tx)
                .await?
        }
        Tx::Postgres(tx) => {
            let sql = format!(
                "{from} WHERE s.id = ANY($1) ORDER BY s.id FOR UPDATE OF s FOR NO KEY UPDATE OF c"
            );
            let ids: Vec<DbId> = ids.iter().copied().map(DbId).collect();
            sqlx::query_as::<_, LockedRow>(AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(&mut **tx)
                .await?
        }
    };
    Ok(rows.into_iter().map(LockedRow::split).unzip())
}

pub async fn list_calendars(
    db: &Db,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CalendarRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CALENDAR_COLS} FROM calendars WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
    );
    on!(Src::Db(db), e => sqlx::query_as::<_, CalendarRow>(AssertSqlSafe(sql))
        .bind(after.map(DbId))
        .bind(limit)
        .fetch_all(e)
        .await)
}

// ---- events ----

pub async fn get_event(src: Src<'_, '_>, id: Uuid) -> Result<Option<EventRow>, sqlx::Error> {
    let sql = format!("SELECT {EVENT_COLS} FROM calendar_events WHERE id = $1");
    on!(src, e => sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql)).bind(DbId(id)).fetch_optional(e).await)
}

pub async fn insert_event(tx: &mut Tx<'_>, r: &EventRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query(
        "INSERT INTO calendar_events (id, calendar_id, name, date, start_time, duration_us, search_days, \
         start_at, end_at, attendees, location, placement, state, outside_working_hours, version, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(r.id)
    .bind(r.calendar_id)
    .bind(&r.name)
    .bind(&r.date)
    .bind(&r.start_time)
    .bind(r.duration_us)
    .bind(r.search_days)
    .bind(r.start_at)
    .bind(r.end_at)
    .bind(&r.attendees)
    .bind(&r.location)
    .bind(&r.placement)
    .bind(&r.state)
    .bind(r.outside_working_hours)
    .bind(r.version)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Inserts a batch of placements: new events, the booking entries they
/// hold (with their feed events, as
/// [`bstore::insert_entries_with_events`]) and the holds tying the two,
/// in a constant number of statements whatever their number (the group
/// commit of auto-placements): one on PostgreSQL. Each event travels as a
/// JSON object named by column, times in the one text form both databases
/// read.
pub async fn insert_placements(
    tx: &mut Tx<'_>,
    events: &[EventRow],
    holds: &[(Uuid, Uuid, Uuid)],
    entries: &[bstore::EntryRow],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return bstore::insert_entries_with_events(tx, entries).await;
    }
    let events_doc = event_docs(events);
    match tx {
        Tx::Sqlite { tx: inner, .. } => {
            let holds: Vec<Value> = holds
                .iter()
                .map(|(entry, event, cal)| {
                    serde_json::json!({"entry_id": entry, "event_id": event, "calendar_id": cal})
                })
                .collect();
            let holds_doc = Value::Array(holds).to_string();
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO calendar_events ({EVENT_COLS}) \
                 SELECT value ->> 'id', value ->> 'calendar_id', value ->> 'name', value ->> 'date', \
                 value ->> 'start_time', value ->> 'duration_us', value ->> 'search_days', \
                 value ->> 'start_at', value ->> 'end_at', value ->> 'attendees', value ->> 'location', \
                 value ->> 'placement', value ->> 'state', value ->> 'outside_working_hours', \
                 value ->> 'version', value ->> 'created_at', value ->> 'updated_at' \
                 FROM json_each($1) ORDER BY key"
            )))
            .bind(&events_doc)
            .execute(&mut **inner)
            .await?;
            sqlx::query(
                "INSERT INTO calendar_holds (entry_id, event_id, calendar_id) \
                 SELECT value ->> 'entry_id', value ->> 'event_id', value ->> 'calendar_id' \
                 FROM json_each($1) ORDER BY key",
            )
            .bind(&holds_doc)
            .execute(&mut **inner)
            .await?;
            bstore::insert_entries_with_events(tx, entries).await?;
        }
        Tx::Postgres(tx) => {
            // One statement, one round trip under the calendars' locks.
            pg_events_holds_entries(tx, events_doc, holds, entries).await?;
        }
    }
    Ok(())
}

/// The events, their holds and their entries in one statement on
/// PostgreSQL; the holds (ten per 10-attendee event) travel as binary
/// arrays of ids rather than JSON to be parsed.
async fn pg_events_holds_entries(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    events_doc: String,
    holds: &[(Uuid, Uuid, Uuid)],
    entries: &[bstore::EntryRow],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "WITH {}, {}",
        events_and_holds(),
        bstore::pg_entries_tail(5)
    );
    let query = sqlx::query(AssertSqlSafe(sql))
        .bind(events_doc)
        .bind(hold_column(holds, |h| h.0))
        .bind(hold_column(holds, |h| h.1))
        .bind(hold_column(holds, |h| h.2));
    bstore::bind_pg_entries(query, entries, bstore::entry_created_docs(entries))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Bumps the entries generation of each calendar in `ids` once, for a
/// batch that wrote their entries with the trigger's bump deferred to it
/// (`SET LOCAL allot.entries_gen = 'caller'`, migration `0012`), under
/// the calendars' locks. On its own, an insert of entries bumps them
/// through the trigger, which takes the calendar rows' locks there and
/// then.
pub async fn bump_entries_gen(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<DbId> = ids.iter().copied().map(DbId).collect();
    sqlx::query("UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The events of a batch as one JSON array of objects named by column,
/// times in the one text form both databases read.
fn event_docs(events: &[EventRow]) -> String {
    let time = |t: &DbTime| t.to_sqlite_text();
    let docs: Vec<Value> = events
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id.0, "calendar_id": r.calendar_id.0, "name": r.name,
                "date": r.date, "start_time": r.start_time,
                "duration_us": r.duration_us, "search_days": r.search_days,
                "start_at": r.start_at.as_ref().map(time), "end_at": r.end_at.as_ref().map(time),
                "attendees": r.attendees.0, "location": r.location,
                "placement": r.placement, "state": r.state,
                "outside_working_hours": r.outside_working_hours, "version": r.version,
                "created_at": time(&r.created_at), "updated_at": time(&r.updated_at),
            })
        })
        .collect();
    Value::Array(docs).to_string()
}

/// The events' and holds' inserts of [`insert_placements`] on PostgreSQL,
/// as the start of a `WITH` list (parameters `$1` to `$4`).
fn events_and_holds() -> String {
    format!(
        "ev AS (INSERT INTO calendar_events ({EVENT_COLS}) SELECT {EVENT_COLS} \
         FROM jsonb_populate_recordset(NULL::calendar_events, $1::jsonb)), \
         h AS (INSERT INTO calendar_holds (entry_id, event_id, calendar_id) \
         SELECT * FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[]))"
    )
}

fn hold_column(holds: &[(Uuid, Uuid, Uuid)], k: fn(&(Uuid, Uuid, Uuid)) -> Uuid) -> Vec<DbId> {
    holds.iter().map(|h| DbId(k(h))).collect()
}

/// Writes every mutable column of an event, whose `version` must be one
/// more than the stored one: every change goes up by exactly one, so a
/// stored version that moved since this row was read refuses the write
/// (no lost update, whichever locks the caller holds).
/// Returns false (and writes nothing) when the stored version moved.
pub async fn update_event(tx: &mut Tx<'_>, r: &EventRow) -> Result<bool, sqlx::Error> {
    let updated = crate::with_tx!(tx, e => sqlx::query(
        "UPDATE calendar_events SET name = $2, date = $3, start_time = $4, duration_us = $5, \
         search_days = $6, start_at = $7, end_at = $8, attendees = $9, location = $10, \
         placement = $11, state = $12, outside_working_hours = $13, version = $14, updated_at = $15 \
         WHERE id = $1 AND version = $14 - 1",
    )
    .bind(r.id)
    .bind(&r.name)
    .bind(&r.date)
    .bind(&r.start_time)
    .bind(r.duration_us)
    .bind(r.search_days)
    .bind(r.start_at)
    .bind(r.end_at)
    .bind(&r.attendees)
    .bind(&r.location)
    .bind(&r.placement)
    .bind(&r.state)
    .bind(r.outside_working_hours)
    .bind(r.version)
    .bind(r.updated_at)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// [`update_event`], with a moved version as a 409 `version_conflict`.
pub async fn write_event(
    tx: &mut Tx<'_>,
    r: &EventRow,
) -> Result<(), crate::http::problem::Problem> {
    if update_event(tx, r).await? {
        return Ok(());
    }
    Err(crate::http::problem::Problem::conflict(
        "version_conflict",
        format!(
            "event {} changed while this request ran; read it again and retry",
            r.id.0
        ),
    )
    .with("id", r.id.0))
}

pub async fn delete_event(tx: &mut Tx<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query("DELETE FROM calendar_events WHERE id = $1")
        .bind(DbId(id))
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Filters of `GET /v1/calendars/{id}/events`, already validated.
#[derive(Debug, Clone)]
pub struct EventFilter {
    pub calendar_id: Uuid,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// A derived status (`pending`, ...), evaluated at `now`.
    pub status: Option<String>,
    pub attendee: Option<String>,
    pub now: Timestamp,
    /// Continue after this (sort time, id).
    pub after: Option<(Timestamp, Uuid)>,
    pub limit: i64,
}

/// Events on a calendar (its own and those it takes part in), ordered by
/// start (unplaced events by creation time), then id.
///
/// Its own events and those it takes part in are read as two halves, each
/// along an index (its events by calendar and start; its holds by
/// calendar), and merged: one condition `calendar_id = $1 OR id IN (its
/// holds)` could use neither index and read every event of every calendar
/// (34 ms for 200,000 events, growing with the table).
pub async fn list_events(db: &Db, f: &EventFilter) -> Result<Vec<EventRow>, sqlx::Error> {
    let attendee = match db.backend() {
        Backend::Sqlite => "EXISTS (SELECT 1 FROM json_each(attendees) WHERE value = $6)",
        Backend::Postgres => "$6 = ANY(attendees)",
    };
    let status = match f.status.as_deref() {
        Some("pending") => "state = 'scheduled' AND start_at > $7",
        Some("in_progress") => "state = 'scheduled' AND start_at <= $7 AND end_at > $7",
        Some("completed") => "state = 'scheduled' AND end_at <= $7",
        Some("cancelled") => "state = 'cancelled'",
        Some("unplaced") => "state = 'unplaced'",
        _ => "$7 IS NOT NULL",
    };
    let filters = format!(
        "($2 IS NULL OR end_at > $2) AND ($3 IS NULL OR start_at < $3) \
         AND ($4 IS NULL OR COALESCE(start_at, created_at) > $4 \
              OR (COALESCE(start_at, created_at) = $4 AND id > $5)) \
         AND ($6 IS NULL OR {attendee}) AND {status}"
    );
    // An event may hold several entries on one participant calendar (one
    // per place it has been): `IN` takes it once.
    let sql = format!(
        "SELECT {EVENT_COLS} FROM (\
           SELECT {EVENT_COLS} FROM calendar_events WHERE calendar_id = $1 AND {filters} \
           UNION ALL \
           SELECT {EVENT_COLS} FROM calendar_events WHERE calendar_id <> $1 \
             AND id IN (SELECT event_id FROM calendar_holds WHERE calendar_id = $1) AND {filters}\
         ) mine ORDER BY COALESCE(start_at, created_at), id LIMIT $8"
    );
    on!(Src::Db(db), e => sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
        .bind(DbId(f.calendar_id))
        .bind(f.from.map(DbTime))
        .bind(f.to.map(DbTime))
        .bind(f.after.map(|a| DbTime(a.0)))
        .bind(f.after.map(|a| DbId(a.1)))
        .bind(&f.attendee)
        .bind(DbTime(f.now))
        .bind(f.limit)
        .fetch_all(e)
        .await)
}

// ---- holds ----

pub async fn insert_hold(
    tx: &mut Tx<'_>,
    entry_id: Uuid,
    event_id: Uuid,
    calendar_id: Uuid,
) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query(
        "INSERT INTO calendar_holds (entry_id, event_id, calendar_id) VALUES ($1, $2, $3)",
    )
    .bind(DbId(entry_id))
    .bind(DbId(event_id))
    .bind(DbId(calendar_id))
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The events holding these entries: (entry id, event).
pub async fn events_holding(
    tx: &mut Tx<'_>,
    entry_ids: &[Uuid],
) -> Result<Vec<(Uuid, EventRow)>, sqlx::Error> {
    let mut out = Vec::new();
    for id in entry_ids {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM calendar_events WHERE id = \
             (SELECT event_id FROM calendar_holds WHERE entry_id = $1)"
        );
        let row = crate::with_tx!(tx, e => sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
            .bind(DbId(*id))
            .fetch_optional(e)
            .await)?;
        if let Some(row) = row {
            out.push((*id, row));
        }
    }
    Ok(out)
}

/// The ids of the active booking entries an event holds.
pub async fn active_holds(tx: &mut Tx<'_>, event_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    let rows: Vec<(DbId,)> = crate::with_tx!(tx, e => sqlx::query_as(
        "SELECT h.entry_id FROM calendar_holds h JOIN booking_entries b ON b.id = h.entry_id \
         WHERE h.event_id = $1 AND b.status = 'active' ORDER BY h.entry_id",
    )
    .bind(DbId(event_id))
    .fetch_all(e)
    .await)?;
    Ok(rows.into_iter().map(|r| r.0.0).collect())
}

// ---- notifications ----

/// A notification of the calendar module.
pub struct CalendarNotification<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub calendar_id: Uuid,
    pub event_id: Option<Uuid>,
    pub at: Timestamp,
    pub data: Value,
}

/// Appends a calendar notification to the shared feed
/// ([`crate::notifications::insert`]); when `webhook` is set, also its
/// pending delivery, in the same transaction.
pub async fn insert_notification(
    tx: &mut Tx<'_>,
    n: CalendarNotification<'_>,
    webhook: Option<&str>,
) -> Result<(), sqlx::Error> {
    let (id, calendar_id, at) = (n.id, n.calendar_id, n.at);
    notifications::insert(
        tx,
        NewNotification {
            id,
            module: notifications::CALENDAR,
            kind: n.kind,
            calendar_id: Some(calendar_id),
            event_id: n.event_id,
            exam_id: None,
            at,
            data: n.data,
        },
    )
    .await?;
    if let Some(url) = webhook {
        insert_delivery(tx, id, calendar_id, url, at).await?;
    }
    Ok(())
}

/// The pending webhook delivery of notification `notification_id`,
/// written in the notification's transaction so none is lost.
pub async fn insert_delivery(
    tx: &mut Tx<'_>,
    notification_id: Uuid,
    calendar_id: Uuid,
    url: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query(
        "INSERT INTO calendar_deliveries (notification_id, calendar_id, url, state, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
    )
    .bind(DbId(notification_id))
    .bind(DbId(calendar_id))
    .bind(url)
    .bind(DbTime(at))
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- webhook deliveries ----

/// A due delivery claimed by a deliverer, with what its request needs: the
/// notification it carries and the calendar's current secret (`None` when
/// the calendar has none, or is gone).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub notification_id: DbId,
    pub calendar_id: DbId,
    pub url: String,
    pub attempts: i64,
    pub seq: i64,
    pub txid: i64,
    pub module: String,
    pub kind: String,
    pub event_id: Option<DbId>,
    pub exam_id: Option<DbId>,
    pub at: DbTime,
    pub data: Json<Value>,
    pub webhook_secret: Option<String>,
}

/// Claims up to `limit` pending deliveries due at `now` by moving their
/// `next_attempt_at` to `lease_until`, in one short transaction. On
/// PostgreSQL the rows are locked with `SKIP LOCKED`, so concurrent
/// deliverers (other replicas) claim disjoint rows; a row another deliverer
/// claimed and committed meanwhile is re-checked by PostgreSQL and is no
/// longer due. On SQLite the write transaction excludes every other writer.
pub async fn claim_deliveries(
    db: &Db,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
    let lock = match db.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
    };
    let sql = format!(
        "SELECT d.notification_id, d.calendar_id, d.url, d.attempts, n.seq, n.txid, n.kind, \
         n.module, n.event_id, n.exam_id, n.at, n.data, c.webhook_secret \
         FROM calendar_deliveries d \
         JOIN notifications n ON n.id = d.notification_id \
         LEFT JOIN calendars c ON c.id = d.calendar_id \
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
         ORDER BY d.next_attempt_at, d.notification_id LIMIT $2{lock}"
    );
    let mut tx = db.begin().await?;
    let rows = crate::with_tx!(&mut tx, e => sqlx::query_as::<_, ClaimedDelivery>(AssertSqlSafe(sql))
        .bind(DbTime(now))
        .bind(limit)
        .fetch_all(e)
        .await)?;
    if rows.is_empty() {
        return Ok(rows);
    }
    match &mut tx {
        Tx::Sqlite { tx, .. } => {
            let ids = Value::Array(
                rows.iter()
                    .map(|r| Value::String(r.notification_id.0.to_string()))
                    .collect(),
            );
            sqlx::query(
                "UPDATE calendar_deliveries SET next_attempt_at = $1 \
                 WHERE notification_id IN (SELECT value FROM json_each($2))",
            )
            .bind(DbTime(lease_until))
            .bind(ids.to_string())
            .execute(&mut **tx)
            .await?;
        }
        Tx::Postgres(tx) => {
            let ids: Vec<DbId> = rows.iter().map(|r| r.notification_id).collect();
            sqlx::query(
                "UPDATE calendar_deliveries SET next_attempt_at = $1 WHERE notification_id = ANY($2)",
            )
            .bind(DbTime(lease_until))
            .bind(ids)
            .execute(&mut **tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(rows)
}

/// The outcome of one delivery attempt.
pub struct DeliveryOutcome {
    /// True for a 2xx answer.
    pub delivered: bool,
    pub status: Option<i64>,
    pub error: Option<String>,
    /// The next attempt (failures) or the delivery time (successes).
    pub next_attempt_at: Timestamp,
    pub now: Timestamp,
}

/// Records an attempt of a delivery claimed with `attempts` and
/// `lease_until`. Returns false (and changes nothing) when the claim is no
/// longer this deliverer's: its lease ran out and another deliverer claimed
/// the row again, or the row is already delivered.
pub async fn record_delivery(
    db: &Db,
    notification_id: Uuid,
    attempts: i64,
    lease_until: Timestamp,
    o: &DeliveryOutcome,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let n = crate::with_tx!(&mut tx, e => sqlx::query(
        "UPDATE calendar_deliveries SET state = $2, attempts = attempts + 1, next_attempt_at = $3, \
         last_status = $4, last_error = $5, delivered_at = $6 \
         WHERE notification_id = $1 AND state = 'pending' AND attempts = $7 AND next_attempt_at = $8",
    )
    .bind(DbId(notification_id))
    .bind(if o.delivered { "delivered" } else { "pending" })
    .bind(DbTime(o.next_attempt_at))
    .bind(o.status)
    .bind(&o.error)
    .bind(o.delivered.then_some(DbTime(o.now)))
    .bind(attempts)
    .bind(DbTime(lease_until))
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub notification_id: DbId,
    pub kind: String,
    pub url: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: DbTime,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DbTime>,
    pub created_at: DbTime,
}

/// A calendar's deliveries by (created_at, notification_id), after the
/// cursor, optionally of one state.
pub async fn list_deliveries(
    db: &Db,
    calendar_id: Uuid,
    state: Option<&str>,
    after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    on!(Src::Db(db), e => sqlx::query_as::<_, DeliveryRow>(
        "SELECT d.notification_id, n.kind, d.url, d.state, d.attempts, d.next_attempt_at, \
         d.last_status, d.last_error, d.delivered_at, d.created_at \
         FROM calendar_deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE d.calendar_id = $1 AND ($2 IS NULL OR d.state = $2) \
         AND ($3 IS NULL OR d.created_at > $3 OR (d.created_at = $3 AND d.notification_id > $4)) \
         ORDER BY d.created_at, d.notification_id LIMIT $5",
    )
    .bind(DbId(calendar_id))
    .bind(state)
    .bind(after.map(|a| DbTime(a.0)))
    .bind(after.map(|a| DbId(a.1)))
    .bind(limit)
    .fetch_all(e)
    .await)
}
