//! The notification feed every module writes to: one durable, ordered
//! table (`notifications`) behind `GET /v1/notifications`.
//!
//! A module appends rows with [`insert`] inside the transaction of the
//! change they report (so a notification exists exactly when its change
//! does) and bumps the process's [`Hub`] after the commit, which wakes
//! long-polling readers at once. Rows carry the writing `module`
//! ([`CALENDAR`], [`PROVISIONING`]) and the ids they concern
//! (`calendar_id`, `event_id`, `exam_id`); a reader sees the modules whose
//! read scope its token holds. Readers page by [`Cursor`] `(txid, seq)`:
//! see [`store::after`] for why a cursor never skips a row committed late.
//!
//! Module-specific side effects stay with their module: the calendar
//! writes its webhook deliveries (`calendar_deliveries`, which reference
//! `notifications`) itself, in the same transaction. See
//! docs/notifications.md.

pub mod api;
pub mod hub;
pub mod model;
pub mod service;
pub mod store;

use std::fmt;
use std::time::Duration;

pub use self::hub::{Hub, REREAD_EVERY};
pub use self::model::{Notification, NotificationPage, NotificationQuery};
pub use self::store::{Filter, NewNotification, NotificationRow, after, insert};
use crate::auth::allows;
use crate::http::auth::Scope;
use crate::store::Db;

/// `module` of the calendar's notifications.
pub const CALENDAR: &str = "calendar";
/// `module` of exam provisioning's notifications.
pub const PROVISIONING: &str = "provisioning";

/// Every module that writes to the feed, with the scope that reads its
/// notifications.
pub const MODULES: [(&str, &str); 2] = [
    (CALENDAR, <crate::calendar::api::Read as Scope>::NAME),
    (
        PROVISIONING,
        <crate::provisioning::api::Read as Scope>::NAME,
    ),
];

/// The scope that reads `module`'s notifications; `None` for a module that
/// writes none.
pub fn read_scope(module: &str) -> Option<&'static str> {
    MODULES.iter().find(|(m, _)| *m == module).map(|(_, s)| *s)
}

/// The modules whose notifications a token with `scopes` may read, in
/// [`MODULES`] order.
pub fn readable(scopes: &[String]) -> Vec<&'static str> {
    MODULES
        .iter()
        .filter(|(_, scope)| allows(scopes, scope))
        .map(|(m, _)| *m)
        .collect()
}

/// A position in the feed: the `(transaction id, serial)` of a row. On the
/// wire it is `"{txid}.{seq}"` (the `cursor` of a notification, the
/// `next_cursor` of a page, the `after` of a read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub txid: i64,
    pub seq: i64,
}

impl Cursor {
    /// Before every row.
    pub const START: Cursor = Cursor { txid: -1, seq: 0 };

    /// Parses the wire form; `None` for anything this API never gave out.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (txid, seq) = text.split_once('.')?;
        Some(Cursor {
            txid: txid.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.txid, self.seq)
    }
}

/// As [`after`], but when no row passes `filter` yet, waits up to `wait`
/// for one: woken at once by a [`Hub::bump`], re-reading every
/// [`Hub::reread_every`] for writes of other replicas. Returns what the
/// last read found (empty when `wait` ran out).
pub async fn long_poll(
    db: &Db,
    hub: &Hub,
    from: Cursor,
    filter: &Filter<'_>,
    limit: i64,
    wait: Duration,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Subscribed before the read, so a bump between the read and the
        // wait is not missed.
        let mut changed = hub.subscribe();
        let rows = after(db, from, filter, limit).await?;
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(rows);
        }
        let tick = deadline.min(tokio::time::Instant::now() + hub.reread_every());
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep_until(tick) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn cursors_round_trip_and_refuse_what_was_never_given_out() {
        for c in [
            Cursor::START,
            Cursor { txid: 0, seq: 7 },
            Cursor {
                txid: 812_345,
                seq: 9_000_000_001,
            },
        ] {
            assert_eq!(Cursor::parse(&c.to_string()), Some(c));
        }
        assert_eq!(Cursor::START.to_string(), "-1.0");
        for bad in [
            "",
            "7",
            "7.",
            ".7",
            "a.b",
            "1.2.3",
            "1,2",
            "9999999999999999999.1",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
        assert!(Cursor { txid: 1, seq: 0 } > Cursor { txid: 0, seq: 99 });
    }

    #[test]
    fn each_module_is_read_with_its_own_scope() {
        assert_eq!(read_scope(CALENDAR), Some("calendar:read"));
        assert_eq!(read_scope(PROVISIONING), Some("provisioning:read"));
        assert_eq!(read_scope("jobs"), None);
        assert_eq!(readable(&scopes(&["calendar:read"])), [CALENDAR]);
        assert_eq!(readable(&scopes(&["provisioning:write"])), [PROVISIONING]);
        assert_eq!(
            readable(&scopes(&["provisioning:read", "calendar:write"])),
            [CALENDAR, PROVISIONING]
        );
        assert_eq!(readable(&scopes(&["*"])), [CALENDAR, PROVISIONING]);
        assert!(readable(&scopes(&["booking:read", "jobs:write", "admin"])).is_empty());
    }
}
