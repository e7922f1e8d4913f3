//! Webhook delivery of calendar notifications.
//!
//! A notification of a calendar with a `webhook_url` gets a
//! `calendar_deliveries` row in the transaction that writes it, so none is
//! lost. The [`Deliverer`] POSTs every due pending delivery, and retries
//! failures with exponential backoff (1 s, 2 s, 4 s, ... capped at one
//! hour, plus up to 10% jitter) until one is answered with a 2xx: a
//! delivery is never given up on. Delivery is at least once (a crash after
//! sending but before recording sends again after the claim lease) and
//! unordered; receivers deduplicate by `X-Allot-Notification-Id`.
//!
//! Claiming is safe with several replicas: a short transaction selects due
//! rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and moves their
//! `next_attempt_at` forward by a lease, then commits; the requests are sent
//! outside any transaction, and each result is recorded only if the claim
//! is still this deliverer's.
//!
//! The request is signed like the `webhook` job kind
//! ([`crate::jobs::kinds::webhook::sign`]): `X-Allot-Timestamp` is the Unix
//! second of the attempt and `X-Allot-Signature: sha256=<hex>` the
//! HMAC-SHA256, keyed with the calendar's current `webhook_secret`, of
//! `"{timestamp}.{body}"`. See docs/calendar.md.

use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::model::{Delivery, DeliveryListQuery};
use super::store::{self, ClaimedDelivery, DeliveryOutcome, DeliveryRow};
use crate::booking::store::Src;
use crate::clock::SharedClock;
use crate::http::paging::{Page, bad_cursor, decode_cursor, encode_cursor, page_limit, parse_id};
use crate::http::problem::Problem;
use crate::jobs::kinds::webhook::sign;
use crate::notifications::{Cursor, Notification};
use crate::store::Db;

/// Tuning of the [`Deliverer`]; the defaults suit a service.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// How often the background loop looks for due deliveries.
    pub tick_every: Duration,
    /// The most deliveries one claim takes.
    pub batch: i64,
    /// The most requests in flight at once.
    pub concurrency: usize,
    /// How long a claim lasts: a deliverer that dies holding claims hands
    /// them back when it runs out. Must exceed `timeout`.
    pub lease: Duration,
    /// Each request's time limit.
    pub timeout: Duration,
    /// The first retry's delay; doubled at each failure.
    pub first_backoff: Duration,
    /// The longest delay between attempts (before jitter).
    pub max_backoff: Duration,
    /// Up to this fraction of the delay is added at random, so deliveries
    /// that failed together do not all retry at the same instant.
    pub jitter: f64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            tick_every: Duration::from_millis(500),
            batch: 50,
            concurrency: 16,
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            jitter: 0.1,
        }
    }
}

/// The most claims one tick makes, so a tick ends even if deliveries keep
/// becoming due while it runs.
const MAX_BATCHES_PER_TICK: usize = 20;

/// Longest `last_error` stored.
const MAX_ERROR_CHARS: usize = 500;

/// Delivers calendar notifications to their webhooks.
#[derive(Clone)]
pub struct Deliverer {
    pub db: Db,
    pub clock: SharedClock,
    pub client: reqwest::Client,
    pub config: DeliveryConfig,
}

impl Deliverer {
    /// A deliverer with the default settings and an HTTP client that does
    /// not follow redirects (a 3xx is a failed attempt).
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self {
            db,
            clock,
            client: crate::tls::http_client(reqwest::redirect::Policy::none()),
            config: DeliveryConfig::default(),
        }
    }

    /// Delivers every pending delivery due now, in batches; returns how many
    /// attempts were made (successful or not).
    pub async fn tick(&self) -> Result<usize, sqlx::Error> {
        let mut attempted = 0;
        for _ in 0..MAX_BATCHES_PER_TICK {
            let now = self.clock.now();
            let lease_until = after(now, self.config.lease);
            let claimed =
                store::claim_deliveries(&self.db, now, lease_until, self.config.batch).await?;
            let n = claimed.len();
            attempted += n;
            let results: Vec<Result<(), sqlx::Error>> = futures::stream::iter(claimed)
                .map(|c| self.attempt(c, lease_until))
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
            for r in results {
                r?;
            }
            if (n as i64) < self.config.batch {
                break;
            }
        }
        Ok(attempted)
    }

    /// Ticks every `tick_every` until `stop` is cancelled.
    pub fn spawn(self, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.tick().await {
                    tracing::warn!(error = %e, "calendar webhook delivery failed; retrying next tick");
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(self.config.tick_every) => {}
                }
            }
        })
    }

    /// Sends one claimed delivery and records the result.
    async fn attempt(&self, c: ClaimedDelivery, lease_until: Timestamp) -> Result<(), sqlx::Error> {
        let id = c.notification_id.0;
        let attempt = c.attempts + 1;
        let body = body_of(&c);
        let timestamp = self.clock.now().as_second();
        let mut request = self
            .client
            .post(&c.url)
            .timeout(self.config.timeout)
            .header("content-type", "application/json")
            .header("x-allot-notification-id", id.to_string())
            .header("x-allot-delivery-attempt", attempt.to_string())
            .header("x-allot-timestamp", timestamp.to_string());
        if let Some(secret) = &c.webhook_secret {
            request = request.header("x-allot-signature", sign(secret, timestamp, &body));
        }
        let (status, error) = match request.body(body).send().await {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i64), None),
            Ok(r) => (
                Some(r.status().as_u16() as i64),
                Some(format!("answered {}", r.status())),
            ),
            Err(e) => (e.status().map(|s| s.as_u16() as i64), Some(error_text(&e))),
        };
        let now = self.clock.now();
        let delivered = error.is_none();
        let next_attempt_at = if delivered {
            now
        } else {
            after(now, backoff(&self.config, attempt, rand::random::<f64>()))
        };
        metrics::counter!(
            "allot_calendar_webhook_deliveries_total",
            "result" => if delivered { "delivered" } else { "failed" }
        )
        .increment(1);
        if delivered {
            tracing::debug!(notification = %id, attempt, "calendar webhook delivered");
        } else {
            tracing::info!(notification = %id, attempt, url = %c.url,
                error = error.as_deref().unwrap_or_default(), next = %next_attempt_at,
                "calendar webhook delivery failed; will retry");
        }
        let outcome = DeliveryOutcome {
            delivered,
            status,
            error,
            next_attempt_at,
            now,
        };
        if !store::record_delivery(&self.db, id, c.attempts, lease_until, &outcome).await? {
            tracing::warn!(notification = %id, "calendar webhook claim expired before its result was recorded");
        }
        Ok(())
    }
}

/// The request body: the notification exactly as `GET /v1/notifications`
/// shows it.
fn body_of(c: &ClaimedDelivery) -> Vec<u8> {
    let doc = Notification {
        id: c.notification_id.0,
        cursor: Cursor {
            txid: c.txid,
            seq: c.seq,
        }
        .to_string(),
        module: c.module.clone(),
        kind: c.kind.clone(),
        calendar_id: Some(c.calendar_id.0),
        event_id: c.event_id.map(|e| e.0),
        exam_id: c.exam_id.map(|e| e.0),
        at: c.at.0,
        data: c.data.0.clone(),
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// A request error with its causes (reqwest's own text is often just
/// "error sending request").
fn error_text(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// The delay after failed attempt number `attempt` (1-based):
/// `first_backoff * 2^(attempt-1)`, capped at `max_backoff`, plus
/// `unit * jitter` of it (`unit` in [0, 1)).
pub fn backoff(config: &DeliveryConfig, attempt: i64, unit: f64) -> Duration {
    let doublings = (attempt - 1).clamp(0, 40) as u32;
    let base = config
        .first_backoff
        .saturating_mul(2u32.saturating_pow(doublings.min(31)))
        .min(config.max_backoff);
    let extra = base.mul_f64((unit * config.jitter).clamp(0.0, 1.0));
    base + extra
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    crate::clock::truncate_to_micros(t.saturating_add(d).unwrap_or(t))
}

impl DeliveryRow {
    pub fn to_api(&self) -> Delivery {
        let delivered = self.state == "delivered";
        Delivery {
            notification_id: self.notification_id.0,
            kind: self.kind.clone(),
            url: self.url.clone(),
            state: self.state.clone(),
            attempts: self.attempts,
            next_attempt_at: (!delivered).then_some(self.next_attempt_at.0),
            last_status: self.last_status,
            last_error: self.last_error.clone(),
            delivered_at: self.delivered_at.map(|t| t.0),
            created_at: self.created_at.0,
        }
    }
}

/// `GET /v1/calendars/{id}/deliveries`: a calendar's deliveries by creation
/// time, then notification id.
pub async fn list(
    db: &Db,
    calendar_id: &str,
    q: &DeliveryListQuery,
) -> Result<Page<Delivery>, Problem> {
    let id: Uuid = parse_id(calendar_id, "calendar")?;
    let limit = page_limit(q.limit)?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s @ ("pending" | "delivered")) => Some(s),
        Some(s) => {
            return Err(Problem::invalid_query(format!(
                "state must be pending or delivered, got {s:?}"
            )));
        }
    };
    let after = match &q.cursor {
        None => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| bad_cursor(c))?),
    };
    if store::get_calendar(Src::Db(db), id).await?.is_none() {
        return Err(Problem::not_found("calendar", calendar_id));
    }
    let rows = store::list_deliveries(db, id, state, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<Delivery> = rows
        .iter()
        .take(limit as usize)
        .map(DeliveryRow::to_api)
        .collect();
    let next_cursor = if more {
        items
            .last()
            .map(|d| encode_cursor(d.created_at, d.notification_id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let c = DeliveryConfig::default();
        let secs = |a, u| backoff(&c, a, u).as_secs_f64();
        assert_eq!(secs(1, 0.0), 1.0);
        assert_eq!(secs(2, 0.0), 2.0);
        assert_eq!(secs(3, 0.0), 4.0);
        assert_eq!(secs(12, 0.0), 2048.0);
        assert_eq!(secs(13, 0.0), 3600.0);
        assert_eq!(secs(1_000_000, 0.0), 3600.0);
        assert!((secs(1, 0.999) - 1.0999).abs() < 1e-6);
        assert!(secs(100, 0.999) < 3960.0);
        assert!(secs(100, 0.5) > 3600.0);
    }
}
