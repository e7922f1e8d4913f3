//! Column types shared by both backends. Each maps to the native type on
//! PostgreSQL (`timestamptz`, `uuid`) and to readable text on SQLite, so the
//! same Rust row struct decodes from either database.

use jiff::Timestamp;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use uuid::Uuid;

/// A timestamp column: `timestamptz` on PostgreSQL, fixed-width UTC RFC 3339
/// text on SQLite (`2026-11-23T12:00:00.000000Z`), which sorts correctly as
/// text and stays readable in the `sqlite3` shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbTime(pub Timestamp);

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

impl DbTime {
    pub fn to_sqlite_text(self) -> String {
        format!("{}", self.0.strftime("%Y-%m-%dT%H:%M:%S.%6fZ"))
    }
}

impl From<Timestamp> for DbTime {
    fn from(t: Timestamp) -> Self {
        DbTime(t)
    }
}

impl From<DbTime> for Timestamp {
    fn from(t: DbTime) -> Self {
        t.0
    }
}

// Well-known OIDs from pg_type.h; fixed since PostgreSQL 7.
impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(1184))
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let micros = self.0.as_microsecond() - PG_EPOCH_OFFSET_MICROS;
        Encode::<Postgres>::encode(micros, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let micros: i64 = Decode::<Postgres>::decode(value)?;
                let t = Timestamp::from_microsecond(micros + PG_EPOCH_OFFSET_MICROS)?;
                Ok(DbTime(t))
            }
            PgValueFormat::Text => {
                // e.g. "2026-11-23 12:00:00.5+00"
                let s = value.as_str()?;
                let t: Timestamp = jiff::fmt::temporal::DateTimeParser::new()
                    .parse_timestamp(s.replace(' ', "T"))?;
                Ok(DbTime(t))
            }
        }
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.to_sqlite_text(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let s: &str = Decode::<Sqlite>::decode(value)?;
        Ok(DbTime(s.parse()?))
    }
}

/// A UUID column: `uuid` on PostgreSQL, hyphenated text on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbId(pub Uuid);

impl From<Uuid> for DbId {
    fn from(u: Uuid) -> Self {
        DbId(u)
    }
}

impl Type<Postgres> for DbId {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(2950))
    }
}

impl Encode<'_, Postgres> for DbId {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Postgres> for DbId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => Ok(DbId(Uuid::from_slice(value.as_bytes()?)?)),
            PgValueFormat::Text => Ok(DbId(value.as_str()?.parse()?)),
        }
    }
}

impl Type<Sqlite> for DbId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for DbId {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.hyphenated().to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let s: &str = Decode::<Sqlite>::decode(value)?;
        Ok(DbId(s.parse()?))
    }
}

/// A list of strings: `text[]` on PostgreSQL, a JSON array on SQLite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbStrings(pub Vec<String>);

impl Type<Postgres> for DbStrings {
    fn type_info() -> PgTypeInfo {
        <Vec<String> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for DbStrings {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbStrings {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbStrings(Decode::<Postgres>::decode(value)?))
    }
}

impl Type<Sqlite> for DbStrings {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for DbStrings {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(serde_json::to_string(&self.0)?, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbStrings {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let s: &str = Decode::<Sqlite>::decode(value)?;
        Ok(DbStrings(serde_json::from_str(s)?))
    }
}

// Arrays of ids and times, for PostgreSQL's `unnest` batch statements.
impl sqlx::postgres::PgHasArrayType for DbTime {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(1185))
    }
}

impl sqlx::postgres::PgHasArrayType for DbId {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(2951))
    }
}
