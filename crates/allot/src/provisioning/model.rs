//! The exams API's wire types. Field names are the public contract; they
//! are also the column names of the `exams` table other applications write.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// `POST /v1/exams`
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExam {
    /// 1 to 200 characters, not blank.
    pub name: String,
    /// When the exam begins (RFC 3339 with an offset); every student's VM
    /// must be ready by then.
    #[schema(value_type = String, format = DateTime)]
    pub start_at: Timestamp,
    /// When it ends, after `start_at`; its VMs are stopped after it.
    #[schema(value_type = String, format = DateTime)]
    pub end_at: Timestamp,
    /// One VM per student: 1 to the server's maximum (10000 by default).
    pub students: i64,
}

/// `PATCH /v1/exams/{id}`: any subset of the fields. The result is checked
/// as a whole, against the stored values of the fields not given. `null` is
/// refused: no field can be cleared.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExam {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "present")]
    pub students: Option<i64>,
}

/// A field that, when given, must hold a value: `null` fails as a wrong
/// type (a 422 naming the field) instead of reading as "unchanged".
fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

/// An exam: `students` VMs, ready by `start_at`, stopped after `end_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exam {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub start_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_at: Timestamp,
    pub students: u32,
}

/// `GET /v1/exams`
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExamListQuery {
    /// Exams starting at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Exams starting before this instant (RFC 3339).
    pub to: Option<String>,
    /// 1 to 1000, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
