//! The exams service: every operation of the API and CLI with its rules.
//!
//! An exam is valid as a whole: a name of 1 to 200 characters, times in
//! years 1 to 9999 with `end_at` after `start_at`, and 1 to the configured
//! maximum of students. A PATCH is checked after merging it with the
//! stored row, in the transaction that writes it (the row locked on
//! PostgreSQL), so two partial updates cannot together make an exam end
//! before it starts. Every refused request leaves the table unchanged.
//!
//! After each committed write the service wakes the [`super::watch`]er,
//! so API changes reach the executor at once rather than at the next
//! re-read.

use std::sync::Arc;

use axum::http::StatusCode;
use jiff::Timestamp;
use tokio::sync::Notify;
use uuid::Uuid;

use super::model::{CreateExam, Exam, ExamListQuery, UpdateExam};
use super::store::{self, ExamFilter, ExamRow, Read, Unreadable};
use crate::booking::service::{accepted_time, query_time};
use crate::booking::store::Src;
use crate::calendar::input::{field, text};
use crate::http::paging::{Page, bad_cursor, decode_cursor, encode_cursor, page_limit, parse_id};
use crate::http::problem::{FieldError, Problem};
use crate::store::Db;

/// Settings of the provisioning module.
#[derive(Debug, Clone)]
pub struct ProvisioningConfig {
    /// The most students (VMs) one exam may have.
    pub max_students: u32,
    /// The provider's speed and the safety margin, as the planner takes them.
    pub profile: allot_kernel::provisioning::Profile,
    /// Where the provider is; `None` turns the executor off.
    pub cloud_url: Option<String>,
}

/// The default of `--provisioning-max-students`.
pub const DEFAULT_MAX_STUDENTS: u32 = 10_000;

impl Default for ProvisioningConfig {
    fn default() -> Self {
        Self {
            max_students: DEFAULT_MAX_STUDENTS,
            profile: allot_kernel::provisioning::Profile {
                margin: 120_000_000,
                ..Default::default()
            },
            cloud_url: None,
        }
    }
}

pub struct ExamService {
    db: Db,
    config: ProvisioningConfig,
    changed: Arc<Notify>,
}

/// The fields of an exam before they are checked.
struct Fields {
    name: String,
    start_at: Timestamp,
    end_at: Timestamp,
    students: i64,
}

/// Which fields a request gave, so that an `end_at <= start_at` error names
/// the one the client sent rather than the one stored.
#[derive(Clone, Copy)]
struct Given {
    start_at: bool,
    end_at: bool,
}

impl ExamRow {
    pub fn to_api(&self) -> Exam {
        Exam {
            id: self.id,
            name: self.name.clone(),
            start_at: self.start_at,
            end_at: self.end_at,
            students: self.students,
        }
    }
}

/// 409: the row is in the table but one of its columns cannot be read.
pub(super) fn unreadable(u: &Unreadable) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "unreadable",
        "Conflict",
        format!(
            "the stored exam {} cannot be read ({}); replace it with a PATCH of every field, or delete it",
            u.id, u.reason
        ),
    )
    .with("id", &u.id)
}

impl ExamService {
    pub fn new(db: Db, config: ProvisioningConfig) -> Self {
        Self {
            db,
            config,
            changed: Arc::new(Notify::new()),
        }
    }

    pub fn config(&self) -> &ProvisioningConfig {
        &self.config
    }

    /// Notified after every write this service commits: what the exam
    /// watcher waits on besides its timer and PostgreSQL's notifications.
    pub fn changes(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Checks every rule, collecting every failed field.
    fn check(&self, f: Fields, id: Uuid, given: Given) -> Result<ExamRow, Problem> {
        let mut errors: Vec<FieldError> = Vec::new();
        if let Err(e) = text(&f.name, "/name", 1, 200) {
            errors.push(e);
        }
        let mut time = |t: Timestamp, pointer: &str| {
            accepted_time(t, pointer).unwrap_or_else(|e| {
                errors.push(e);
                t
            })
        };
        let start_at = time(f.start_at, "/start_at");
        let end_at = time(f.end_at, "/end_at");
        if end_at <= start_at {
            let pointer = if given.end_at || !given.start_at {
                "/end_at"
            } else {
                "/start_at"
            };
            errors.push(field(
                pointer,
                format!("end_at ({end_at}) must be after start_at ({start_at})"),
            ));
        }
        let max = self.config.max_students;
        let students = match u32::try_from(f.students) {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.push(field("/students", format!("must be 1 to {max}")));
                0
            }
        };
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        Ok(ExamRow {
            id,
            name: f.name,
            start_at,
            end_at,
            students,
        })
    }

    pub async fn create(&self, input: CreateExam) -> Result<Exam, Problem> {
        let row = self.check(
            Fields {
                name: input.name,
                start_at: input.start_at,
                end_at: input.end_at,
                students: input.students,
            },
            Uuid::now_v7(),
            Given {
                start_at: true,
                end_at: true,
            },
        )?;
        let mut tx = self.db.begin().await?;
        store::insert(&mut tx, &row).await?;
        tx.commit().await?;
        self.changed.notify_one();
        Ok(row.to_api())
    }

    pub async fn get(&self, id: &str) -> Result<Exam, Problem> {
        let uuid = parse_id(id, "exam")?;
        match store::get(Src::Db(&self.db), uuid).await? {
            None => Err(Problem::not_found("exam", id)),
            Some(Ok(row)) => Ok(row.to_api()),
            Some(Err(u)) => Err(unreadable(&u)),
        }
    }

    /// Exams by start, then id. Unreadable rows are left out (the watcher
    /// logs them); a page still holds `limit` exams when there are that
    /// many after the cursor.
    pub async fn list(&self, q: &ExamListQuery) -> Result<Page<Exam>, Problem> {
        let limit = page_limit(q.limit)?;
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| bad_cursor(c))?),
        };
        let (from, to) = (query_time("from", &q.from)?, query_time("to", &q.to)?);
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            return Err(Problem::invalid_query("to must be after from"));
        }
        // Read `limit + 1` readable rows, so that `more` is known; each
        // unreadable row met widens the next read by one.
        let mut fetch = limit + 1;
        let mut rows = loop {
            let read = store::list(
                &self.db,
                &ExamFilter {
                    from,
                    to,
                    after,
                    limit: fetch,
                },
            )
            .await?;
            let exhausted = (read.len() as i64) < fetch;
            let good = readable(read);
            let skipped = fetch - good.len() as i64;
            if exhausted || good.len() as i64 > limit {
                break good;
            }
            fetch = limit + 1 + skipped;
        };
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok(Page {
            next_cursor: if more {
                rows.last().map(|r| encode_cursor(r.start_at, r.id))
            } else {
                None
            },
            items: rows.iter().map(ExamRow::to_api).collect(),
        })
    }

    /// Changes any subset of the fields; the merged exam is checked as a
    /// whole. A stored row that cannot be read can only be replaced by a
    /// PATCH of every field.
    pub async fn update(&self, id: &str, input: UpdateExam) -> Result<Exam, Problem> {
        let uuid = parse_id(id, "exam")?;
        let mut tx = self.db.begin().await?;
        let stored = store::get(Src::Tx(&mut tx), uuid)
            .await?
            .ok_or_else(|| Problem::not_found("exam", id))?;
        let given = Given {
            start_at: input.start_at.is_some(),
            end_at: input.end_at.is_some(),
        };
        let fields = match (stored, input) {
            (
                _,
                UpdateExam {
                    name: Some(name),
                    start_at: Some(start_at),
                    end_at: Some(end_at),
                    students: Some(students),
                },
            ) => Fields {
                name,
                start_at,
                end_at,
                students,
            },
            (Err(u), _) => return Err(unreadable(&u)),
            (Ok(s), input) => Fields {
                name: input.name.unwrap_or(s.name),
                start_at: input.start_at.unwrap_or(s.start_at),
                end_at: input.end_at.unwrap_or(s.end_at),
                students: input.students.unwrap_or(i64::from(s.students)),
            },
        };
        let row = self.check(fields, uuid, given)?;
        store::update(&mut tx, &row).await?;
        tx.commit().await?;
        self.changed.notify_one();
        Ok(row.to_api())
    }

    pub async fn delete(&self, id: &str) -> Result<(), Problem> {
        let uuid = parse_id(id, "exam")?;
        let mut tx = self.db.begin().await?;
        if !store::delete(&mut tx, uuid).await? {
            return Err(Problem::not_found("exam", id));
        }
        tx.commit().await?;
        self.changed.notify_one();
        Ok(())
    }
}

/// The rows that could be read; the others are logged at debug level only,
/// since the watcher already warns about each once.
fn readable(rows: Vec<Read>) -> Vec<ExamRow> {
    rows.into_iter()
        .filter_map(|r| {
            r.map_err(|u| tracing::debug!(id = %u.id, reason = %u.reason, "unreadable exam row left out of a list"))
                .ok()
        })
        .collect()
}
