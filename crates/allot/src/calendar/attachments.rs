//! Event attachments (the seed's follow-up 2): files stored with the event,
//! in the database, so they share its backups, replicas and deletion.
//!
//! `POST /v1/events/{id}/attachments?filename=agenda.pdf` with the raw file
//! as the body and its `Content-Type`; the size limit is the server's
//! `--calendar-max-attachment-bytes` (default 10 MiB), and the SHA-256 of
//! the bytes is recorded and returned (and served as the download's ETag).

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::api::{Read, Write};
use super::store as cstore;
use crate::booking::store::Src;
use crate::http::AppState;
use crate::http::auth::Authorized;
use crate::http::extract::{ApiBytes, ApiQuery};
use crate::http::paging::parse_id;
use crate::http::problem::Problem;
use crate::store::{Db, DbId, DbTime};

/// The most attachments one event may carry.
const MAX_PER_EVENT: i64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub event_id: Uuid,
    pub filename: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentList {
    pub items: Vec<Attachment>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as it should be downloaded (1 to 255 characters, no
    /// path separators or control characters).
    pub filename: String,
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    id: DbId,
    event_id: DbId,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
    created_at: DbTime,
}

impl AttachmentRow {
    fn to_api(&self) -> Attachment {
        Attachment {
            id: self.id.0,
            event_id: self.event_id.0,
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            created_at: self.created_at.0,
        }
    }
}

const COLS: &str = "id, event_id, filename, content_type, size, sha256, created_at";

pub fn routes(max_bytes: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/events/{id}/attachments",
            post(upload)
                .layer(DefaultBodyLimit::max(max_bytes))
                .get(list),
        )
        .route(
            "/v1/events/{id}/attachments/{attachment_id}",
            get(download).delete(remove),
        )
}

fn check_filename(name: &str) -> Result<(), Problem> {
    let n = name.chars().count();
    if n == 0 || n > 255 || name.trim().is_empty() {
        return Err(Problem::invalid_query(
            "filename must be 1 to 255 characters",
        ));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
        || name == "."
        || name == ".."
    {
        return Err(Problem::invalid_query(
            "filename must not contain path separators or control characters",
        ));
    }
    Ok(())
}

fn content_type(headers: &HeaderMap) -> Result<String, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    let valid = essence.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && !ct.chars().any(|c| c.is_control()) && ct.len() <= 200
    });
    if !valid {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the file with its Content-Type, like `application/pdf` (or `application/octet-stream`)",
        ));
    }
    Ok(ct.to_string())
}

async fn event_exists(db: &Db, id: Uuid) -> Result<(), Problem> {
    cstore::get_event(Src::Db(db), id)
        .await?
        .map(|_| ())
        .ok_or_else(|| Problem::not_found("event", &id.to_string()))
}

/// Attach a file to an event.
#[utoipa::path(post, path = "/v1/events/{id}/attachments", tag = "calendar", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Attachment), (status = 413, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:write"])))]
pub async fn upload(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<impl IntoResponse, Problem> {
    let event_id = parse_id(&id, "event")?;
    check_filename(&q.filename)?;
    let ct = content_type(&headers)?;
    if body.is_empty() {
        return Err(Problem::invalid("/", "the attachment is empty"));
    }
    let now = s.clock.now();
    let row = AttachmentRow {
        id: DbId(Uuid::now_v7()),
        event_id: DbId(event_id),
        filename: q.filename,
        content_type: ct,
        size: body.len() as i64,
        sha256: hex::encode(Sha256::digest(&body)),
        created_at: DbTime(now),
    };
    let mut tx = s.db.begin().await?;
    // The event row is the lock: a concurrent delete of the event either
    // happens first (404 here) or cascades to this attachment.
    cstore::get_event(Src::Tx(&mut tx), event_id)
        .await?
        .ok_or_else(|| Problem::not_found("event", &id))?;
    let count: i64 = crate::with_tx!(&mut tx, e => sqlx::query_scalar(
        "SELECT count(*) FROM calendar_attachments WHERE event_id = $1",
    )
    .bind(DbId(event_id))
    .fetch_one(e)
    .await)?;
    if count >= MAX_PER_EVENT {
        return Err(Problem::conflict(
            "too_many_attachments",
            format!("event {event_id} already has {count} attachments, the most allowed"),
        )
        .with("event_id", event_id));
    }
    crate::with_tx!(&mut tx, e => sqlx::query(
        "INSERT INTO calendar_attachments (id, event_id, filename, content_type, size, sha256, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.id)
    .bind(row.event_id)
    .bind(&row.filename)
    .bind(&row.content_type)
    .bind(row.size)
    .bind(&row.sha256)
    .bind(body.as_ref())
    .bind(row.created_at)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.to_api())))
}

/// An event's attachments (metadata only), oldest first.
#[utoipa::path(get, path = "/v1/events/{id}/attachments", tag = "calendar",
    responses((status = 200, body = AttachmentList)), security(("bearer" = ["calendar:read"])))]
pub async fn list(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path(id): Path<String>,
) -> Result<Json<AttachmentList>, Problem> {
    let event_id = parse_id(&id, "event")?;
    event_exists(&s.db, event_id).await?;
    let sql = format!(
        "SELECT {COLS} FROM calendar_attachments WHERE event_id = $1 ORDER BY created_at, id"
    );
    let rows: Vec<AttachmentRow> = crate::with_pool!(&s.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(DbId(event_id))
        .fetch_all(p)
        .await)?;
    Ok(Json(AttachmentList {
        items: rows.iter().map(AttachmentRow::to_api).collect(),
    }))
}

/// Download an attachment: its bytes with its content type.
#[utoipa::path(get, path = "/v1/events/{id}/attachments/{attachment_id}", tag = "calendar",
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:read"])))]
pub async fn download(
    State(s): State<AppState>,
    _: Authorized<Read>,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, Problem> {
    let event_id = parse_id(&id, "event")?;
    let att = parse_id(&attachment_id, "attachment")?;
    let row: Option<(String, String, String, Vec<u8>)> = crate::with_pool!(&s.db, p => sqlx::query_as(
        "SELECT filename, content_type, sha256, data FROM calendar_attachments WHERE id = $1 AND event_id = $2",
    )
    .bind(DbId(att))
    .bind(DbId(event_id))
    .fetch_optional(p)
    .await)?;
    let (filename, ct, sha, data) =
        row.ok_or_else(|| Problem::not_found("attachment", &attachment_id))?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\'], "_")
    );
    let header = |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""));
    Ok((
        [
            (header::CONTENT_TYPE, header(ct)),
            (header::CONTENT_DISPOSITION, header(disposition)),
            (header::ETAG, header(format!("\"{sha}\""))),
        ],
        data,
    ))
}

/// Delete an attachment.
#[utoipa::path(delete, path = "/v1/events/{id}/attachments/{attachment_id}", tag = "calendar",
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["calendar:write"])))]
pub async fn remove(
    State(s): State<AppState>,
    _: Authorized<Write>,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let event_id = parse_id(&id, "event")?;
    let att = parse_id(&attachment_id, "attachment")?;
    let mut tx = s.db.begin().await?;
    let deleted = crate::with_tx!(&mut tx, e => sqlx::query(
        "DELETE FROM calendar_attachments WHERE id = $1 AND event_id = $2",
    )
    .bind(DbId(att))
    .bind(DbId(event_id))
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    if deleted == 0 {
        return Err(Problem::not_found("attachment", &attachment_id));
    }
    Ok(StatusCode::NO_CONTENT)
}
