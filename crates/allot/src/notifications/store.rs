//! SQL of the notification feed (the `notifications` table), written once
//! for both backends.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use uuid::Uuid;

use super::Cursor;
use super::model::Notification;
use crate::store::{Backend, Db, DbId, DbTime, Tx};

/// A notification to append to the feed.
pub struct NewNotification<'a> {
    pub id: Uuid,
    /// The module that writes it: [`super::CALENDAR`] or
    /// [`super::PROVISIONING`].
    pub module: &'a str,
    pub kind: &'a str,
    pub calendar_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub exam_id: Option<Uuid>,
    pub at: Timestamp,
    pub data: Value,
}

/// Appends a notification to the feed in `tx`. It becomes visible to
/// readers when `tx` commits; bump the [`super::Hub`] after the commit to
/// wake long-polling readers of this process at once.
pub async fn insert(tx: &mut Tx<'_>, n: NewNotification<'_>) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, e => sqlx::query(
        "INSERT INTO notifications (id, module, kind, calendar_id, event_id, exam_id, at, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(DbId(n.id))
    .bind(n.module)
    .bind(n.kind)
    .bind(n.calendar_id.map(DbId))
    .bind(n.event_id.map(DbId))
    .bind(n.exam_id.map(DbId))
    .bind(DbTime(n.at))
    .bind(Json(&n.data))
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One row of the feed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub seq: i64,
    pub txid: i64,
    pub id: DbId,
    pub module: String,
    pub kind: String,
    pub calendar_id: Option<DbId>,
    pub event_id: Option<DbId>,
    pub exam_id: Option<DbId>,
    pub at: DbTime,
    pub data: Json<Value>,
}

impl NotificationRow {
    /// This row's position in the feed.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.txid,
            seq: self.seq,
        }
    }

    /// The wire document (`GET /v1/notifications`, webhook bodies).
    pub fn to_api(self) -> Notification {
        Notification {
            id: self.id.0,
            cursor: self.cursor().to_string(),
            module: self.module,
            kind: self.kind,
            calendar_id: self.calendar_id.map(|c| c.0),
            event_id: self.event_id.map(|e| e.0),
            exam_id: self.exam_id.map(|e| e.0),
            at: self.at.0,
            data: self.data.0,
        }
    }
}

/// Which rows a read returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// Only rows of these modules; none matches nothing.
    pub modules: &'a [&'a str],
    /// Only this calendar's rows.
    pub calendar_id: Option<Uuid>,
    /// Only this exam's rows.
    pub exam_id: Option<Uuid>,
}

/// Up to `limit` rows after `after` that pass `filter`, in feed order
/// `(txid, seq)`. On PostgreSQL only rows of transactions older than every
/// running one are visible, so a row committed late never lands behind a
/// cursor already handed out (the same rule as the booking event feed); on
/// SQLite the single writer makes every `txid` 0 and `seq` alone orders.
pub async fn after(
    db: &Db,
    after: Cursor,
    filter: &Filter<'_>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    if filter.modules.is_empty() {
        return Ok(Vec::new());
    }
    let visible = match db.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
    };
    // Only the filters asked for appear in the statement, so an `exam_id`
    // read can use `notifications_by_exam`.
    let mut next = 3;
    let mut param = || {
        next += 1;
        format!("${}", next - 1)
    };
    let modules: Vec<String> = filter.modules.iter().map(|_| param()).collect();
    let mut sql = format!(
        "SELECT seq, txid, id, module, kind, calendar_id, event_id, exam_id, at, data \
         FROM notifications WHERE (txid > $1 OR (txid = $1 AND seq > $2)){visible} \
         AND module IN ({})",
        modules.join(", ")
    );
    if filter.calendar_id.is_some() {
        sql.push_str(&format!(" AND calendar_id = {}", param()));
    }
    if filter.exam_id.is_some() {
        sql.push_str(&format!(" AND exam_id = {}", param()));
    }
    sql.push_str(&format!(" ORDER BY txid, seq LIMIT {}", param()));
    crate::with_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, NotificationRow>(AssertSqlSafe(sql))
            .bind(after.txid)
            .bind(after.seq);
        for m in filter.modules {
            q = q.bind(*m);
        }
        if let Some(c) = filter.calendar_id {
            q = q.bind(DbId(c));
        }
        if let Some(e) = filter.exam_id {
            q = q.bind(DbId(e));
        }
        q.bind(limit).fetch_all(pool).await
    })
}
