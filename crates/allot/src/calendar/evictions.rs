//! What an outage's eviction means for calendar events.
//!
//! Outages belong to booking: when one evicts a booking entry that holds a
//! calendar event, booking calls [`on_evicted`] in the same transaction.
//! The event can no longer take place where it was, so it loses its other
//! holds (on participant calendars) too, becomes `unplaced`, and its
//! calendar gets an `evicted_by_outage` notification. It is not re-placed
//! automatically: that would lock calendars the outage's transaction did
//! not lock up front (see docs/calendar.md); the manager re-places it with
//! a PATCH.

use std::collections::HashSet;

use jiff::Timestamp;
use serde_json::json;
use uuid::Uuid;

use super::store::{self, CalendarNotification};
use crate::booking::store::Src;
use crate::http::problem::Problem;
use crate::store::{DbTime, Tx};

/// Called by booking for entries it has just evicted for `outage_id`.
pub async fn on_evicted(
    tx: &mut Tx<'_>,
    entry_ids: &[Uuid],
    outage_id: Uuid,
    reason: &str,
    now: Timestamp,
) -> Result<(), Problem> {
    if entry_ids.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    for (_, mut ev) in store::events_holding(tx, entry_ids).await? {
        if !seen.insert(ev.id.0) || ev.state != "scheduled" {
            continue;
        }
        // Its holds on other calendars go too: the event happens on all of
        // them or none.
        super::place::release(tx, ev.id.0, now, Some(outage_id)).await?;
        let was = (ev.start_at.map(|t| t.0), ev.end_at.map(|t| t.0));
        ev.state = "unplaced".into();
        ev.start_at = None;
        ev.end_at = None;
        ev.version += 1;
        ev.updated_at = DbTime(now);
        store::write_event(tx, &ev).await?;
        let webhook = store::get_calendar(Src::Tx(tx), ev.calendar_id.0)
            .await?
            .and_then(|c| c.webhook_url);
        store::insert_notification(
            tx,
            CalendarNotification {
                id: Uuid::now_v7(),
                kind: "evicted_by_outage",
                calendar_id: ev.calendar_id.0,
                event_id: Some(ev.id.0),
                at: now,
                data: json!({
                    "event": ev.to_api(now),
                    "outage_id": outage_id,
                    "reason": reason,
                    "was": {"start": was.0, "end": was.1},
                }),
            },
            webhook.as_deref(),
        )
        .await?;
    }
    Ok(())
}
