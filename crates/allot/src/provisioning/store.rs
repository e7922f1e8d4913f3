//! SQL of the `exams` table, written once for both backends.
//!
//! Other applications write this table by hand, so every read decodes row
//! by row: a row whose columns cannot be read (a time text of the right
//! shape that is no date, a PostgreSQL time beyond year 9999) becomes an
//! [`Unreadable`] in place of its [`ExamRow`] instead of failing the whole
//! read. Callers decide what to do with it; none of them stops.

use allot_kernel::provisioning::{Exam as PlannedExam, ExamId};
use jiff::Timestamp;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::booking::store::{Src, on};
use crate::store::{Db, DbId, DbTime, Tx};

/// One exam as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamRow {
    pub id: Uuid,
    pub name: String,
    pub start_at: Timestamp,
    pub end_at: Timestamp,
    pub students: u32,
}

impl ExamRow {
    /// The exam as the provisioning planner (`allot_kernel::provisioning`)
    /// takes it.
    pub fn planned(&self) -> PlannedExam {
        PlannedExam {
            id: ExamId(self.id.as_u128()),
            start: self.start_at.as_microsecond(),
            end: self.end_at.as_microsecond(),
            students: self.students,
        }
    }
}

/// A row that is in the table but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unreadable {
    /// The id as text, as stored (or `?` when even that cannot be read).
    pub id: String,
    /// What could not be read, naming the column.
    pub reason: String,
}

/// A row read: the exam, or why it cannot be.
pub type Read = Result<ExamRow, Unreadable>;

/// `id_text` names the row in [`Unreadable`] whatever else is wrong with it.
const COLS: &str = "CAST(id AS TEXT) AS id_text, id, name, start_at, end_at, students";

/// Decodes one row; compiled for the row type of each backend.
fn decode<R>(row: &R) -> Read
where
    R: Row,
    &'static str: sqlx::ColumnIndex<R>,
    for<'r> DbId: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DbTime: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let unreadable = |reason: String| Unreadable {
        id: row
            .try_get::<String, _>("id_text")
            .unwrap_or_else(|_| "?".to_string()),
        reason,
    };
    let read = || -> Result<ExamRow, sqlx::Error> {
        let students: i32 = row.try_get("students")?;
        Ok(ExamRow {
            id: row.try_get::<DbId, _>("id")?.0,
            name: row.try_get("name")?,
            start_at: row.try_get::<DbTime, _>("start_at")?.0,
            end_at: row.try_get::<DbTime, _>("end_at")?.0,
            students: u32::try_from(students).map_err(|_| sqlx::Error::ColumnDecode {
                index: "\"students\"".to_string(),
                source: format!("{students} is not a number of students").into(),
            })?,
        })
    };
    read().map_err(|e| unreadable(e.to_string()))
}

/// Every exam, by start then id.
pub async fn all(db: &Db) -> Result<Vec<Read>, sqlx::Error> {
    let sql = format!("SELECT {COLS} FROM exams ORDER BY start_at, id");
    crate::with_pool!(db, p => {
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(p).await?;
        Ok(rows.iter().map(decode).collect())
    })
}

pub struct ExamFilter {
    /// Exams starting at or after this.
    pub from: Option<Timestamp>,
    /// Exams starting before this.
    pub to: Option<Timestamp>,
    /// Keyset: strictly after (start, id).
    pub after: Option<(Timestamp, Uuid)>,
    pub limit: i64,
}

/// Exams in `f`'s range, by start then id.
pub async fn list(db: &Db, f: &ExamFilter) -> Result<Vec<Read>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLS} FROM exams WHERE ($1 IS NULL OR start_at >= $1) \
         AND ($2 IS NULL OR start_at < $2) \
         AND ($3 IS NULL OR start_at > $3 OR (start_at = $3 AND id > $4)) \
         ORDER BY start_at, id LIMIT $5"
    );
    crate::with_pool!(db, p => {
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(f.from.map(DbTime))
            .bind(f.to.map(DbTime))
            .bind(f.after.map(|a| DbTime(a.0)))
            .bind(f.after.map(|a| DbId(a.1)))
            .bind(f.limit)
            .fetch_all(p)
            .await?;
        Ok(rows.iter().map(decode).collect())
    })
}

/// One exam; in a transaction on PostgreSQL its row stays locked until
/// commit, so a check of the stored fields holds until the write.
pub async fn get(src: Src<'_, '_>, id: Uuid) -> Result<Option<Read>, sqlx::Error> {
    let lock = match &src {
        Src::Tx(tx) => tx.backend().for_update(),
        Src::Db(_) => "",
    };
    let sql = format!("SELECT {COLS} FROM exams WHERE id = $1{lock}");
    on!(src, e => {
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(DbId(id))
            .fetch_optional(e)
            .await?;
        Ok(row.as_ref().map(decode))
    })
}

pub async fn insert(tx: &mut Tx<'_>, r: &ExamRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "INSERT INTO exams (id, name, start_at, end_at, students) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(DbId(r.id))
    .bind(&r.name)
    .bind(DbTime(r.start_at))
    .bind(DbTime(r.end_at))
    .bind(students(r))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn update(tx: &mut Tx<'_>, r: &ExamRow) -> Result<(), sqlx::Error> {
    crate::with_tx!(tx, c => sqlx::query(
        "UPDATE exams SET name = $2, start_at = $3, end_at = $4, students = $5 WHERE id = $1",
    )
    .bind(DbId(r.id))
    .bind(&r.name)
    .bind(DbTime(r.start_at))
    .bind(DbTime(r.end_at))
    .bind(students(r))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether there was such an exam.
pub async fn delete(tx: &mut Tx<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let n = crate::with_tx!(tx, c => sqlx::query("DELETE FROM exams WHERE id = $1")
        .bind(DbId(id))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The column is a 32-bit integer; the service never accepts more.
fn students(r: &ExamRow) -> i32 {
    i32::try_from(r.students).unwrap_or(i32::MAX)
}
