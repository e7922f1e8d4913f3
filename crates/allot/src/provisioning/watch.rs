//! The exam watcher: the current content of the `exams` table, and a signal
//! each time it changes, whoever changed it.
//!
//! The executor plans VM calls from the exams, and other applications
//! write exams with plain SQL, so the API cannot be the only source of
//! change. The watcher re-reads the whole table when woken and at least
//! every [`REREAD`], and publishes a new snapshot only when the rows read
//! differ from the last ones. It is woken by:
//!
//! - the exams service, after each write it commits (at once);
//! - on PostgreSQL, a `LISTEN` on `allot_exams`, which the table's trigger
//!   notifies after every statement that changes it (at once);
//! - its timer, which alone covers SQLite, and covers a notification lost
//!   while the listening connection was down.
//!
//! So any change is seen within about a second. A row that cannot be read
//! (say, a SQLite time text that is no date) is left out of the snapshot
//! and logged once (again only if it changes or comes back after being
//! fixed); a failed read keeps the last snapshot and retries. Nothing a
//! row holds stops the watcher; the server's shutdown token does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::store::{self, ExamRow, Read, Unreadable};
use crate::store::Db;

/// Every exam that can be read, by start then id.
pub type ExamSnapshot = Arc<Vec<ExamRow>>;

/// The longest a change can go unseen (plus one read).
pub const REREAD: Duration = Duration::from_secs(1);

/// The PostgreSQL channel the `exams` trigger notifies.
pub const CHANNEL: &str = "allot_exams";

/// A handle on the running watcher; clones share it.
///
/// ```no_run
/// # async fn executor(watcher: allot::provisioning::watch::ExamWatcher) {
/// let mut exams = watcher.subscribe();
/// loop {
///     let snapshot = exams.borrow_and_update().clone();
///     let planned: Vec<_> = snapshot.iter().map(|e| e.planned()).collect();
///     // ... plan and call the cloud with `planned` ...
///     if exams.changed().await.is_err() {
///         break; // the watcher stopped: the server is shutting down
///     }
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct ExamWatcher {
    snapshot: watch::Receiver<ExamSnapshot>,
    wake: Arc<Notify>,
}

impl ExamWatcher {
    /// Starts listening (PostgreSQL), reads the table once, and follows it
    /// from then on until `stop` is cancelled. `wake` is notified by
    /// whoever writes exams in this process
    /// ([`super::service::ExamService::changes`]). Fails only when the
    /// first read does, so the first snapshot is always the table's content.
    pub async fn start(
        db: Db,
        wake: Arc<Notify>,
        stop: CancellationToken,
    ) -> Result<ExamWatcher, sqlx::Error> {
        // Ends the listener when the reader ends, for whatever reason.
        let done = stop.child_token();
        // Listen before the first read: a change committed between the two
        // is then notified rather than missed.
        if let Db::Postgres(pool, _) = &db {
            let listener = match listen(pool).await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "exam watcher: cannot listen on {CHANNEL}; retrying, re-reading every {REREAD:?} meanwhile");
                    None
                }
            };
            tokio::spawn(forward(pool.clone(), listener, wake.clone(), done.clone()));
        }
        let mut warned = Warned::default();
        let first = match store::all(&db).await {
            Ok(rows) => warned.readable(rows),
            Err(e) => {
                done.cancel();
                return Err(e);
            }
        };
        let (tx, rx) = watch::channel(Arc::new(first));
        tokio::spawn(follow(db, tx, wake.clone(), done, warned));
        Ok(ExamWatcher { snapshot: rx, wake })
    }

    /// A receiver of snapshots. Its current value counts as seen: `changed()`
    /// completes at the next change, and fails once the watcher has stopped.
    pub fn subscribe(&self) -> watch::Receiver<ExamSnapshot> {
        let mut rx = self.snapshot.clone();
        rx.mark_unchanged();
        rx
    }

    /// The exams as last read.
    pub fn current(&self) -> ExamSnapshot {
        self.snapshot.borrow().clone()
    }

    /// Re-read now, for a writer that changed the table by other means.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Re-reads on every wake-up or [`REREAD`], publishing changes, until
/// `stop` or until nobody holds a receiver any more.
async fn follow(
    db: Db,
    tx: watch::Sender<ExamSnapshot>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    mut warned: Warned,
) {
    let guard = stop.drop_guard();
    let stop = guard.token();
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(REREAD) => {}
        }
        let rows = match store::all(&db).await {
            Ok(rows) => rows,
            Err(e) => {
                if stop.is_cancelled() {
                    return;
                }
                if !failing {
                    tracing::warn!(error = %e, "exam watcher: cannot read exams; keeping the last ones and retrying");
                    failing = true;
                }
                continue;
            }
        };
        if failing {
            tracing::info!("exam watcher: reading exams again");
            failing = false;
        }
        let rows = warned.readable(rows);
        tx.send_if_modified(|current| {
            if **current == rows {
                false
            } else {
                *current = Arc::new(rows);
                true
            }
        });
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Turns notifications on [`CHANNEL`] into wake-ups. A lost connection
/// (reconnected by the listener itself) or a new listener also wakes the
/// reader, since notifications sent meanwhile are gone.
async fn forward(
    pool: PgPool,
    mut listener: Option<PgListener>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        let Some(l) = listener.as_mut() else {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(REREAD) => {}
            }
            match listen(&pool).await {
                Ok(l) => {
                    tracing::info!("exam watcher: listening on {CHANNEL} again");
                    listener = Some(l);
                    wake.notify_one();
                }
                Err(e) if pool.is_closed() => {
                    tracing::debug!(error = %e, "exam watcher: pool closed");
                    return;
                }
                Err(e) => tracing::debug!(error = %e, "exam watcher: still cannot listen"),
            }
            continue;
        };
        let got = tokio::select! {
            _ = stop.cancelled() => return,
            got = l.try_recv() => got,
        };
        match got {
            Ok(Some(_)) => wake.notify_one(),
            Ok(None) => {
                tracing::debug!("exam watcher: listener reconnected");
                wake.notify_one();
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "exam watcher: lost the {CHANNEL} listener; re-reading every {REREAD:?} until it is back");
                listener = None;
                wake.notify_one();
            }
        }
    }
}

/// The unreadable rows already logged, so each is logged once.
#[derive(Default)]
struct Warned(HashSet<Unreadable>);

impl Warned {
    /// The readable rows; logs each unreadable one not logged before.
    fn readable(&mut self, rows: Vec<Read>) -> Vec<ExamRow> {
        let (out, new) = self.split(rows);
        for u in new {
            tracing::warn!(id = %u.id, reason = %u.reason, "exam watcher: skipping an exam row that cannot be read");
        }
        out
    }

    /// The readable rows, and the unreadable ones not seen in the previous
    /// read. Rows gone (fixed or deleted) are forgotten, so a row that
    /// breaks again is new again.
    fn split(&mut self, rows: Vec<Read>) -> (Vec<ExamRow>, Vec<Unreadable>) {
        let mut now = HashSet::new();
        let mut new = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            match row {
                Ok(r) => out.push(r),
                Err(u) => {
                    if !self.0.contains(&u) {
                        new.push(u.clone());
                    }
                    now.insert(u);
                }
            }
        }
        self.0 = now;
        (out, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(id: &str) -> Read {
        Err(Unreadable {
            id: id.to_string(),
            reason: "start_at: no such day".to_string(),
        })
    }

    fn good() -> Read {
        Ok(ExamRow {
            id: uuid::Uuid::nil(),
            name: "ok".to_string(),
            start_at: jiff::Timestamp::UNIX_EPOCH,
            end_at: jiff::Timestamp::MAX,
            students: 1,
        })
    }

    #[test]
    fn each_unreadable_row_is_reported_once_while_it_stays() {
        let mut warned = Warned::default();
        let (rows, new) = warned.split(vec![bad("a"), good(), bad("b")]);
        assert_eq!(rows.len(), 1);
        assert_eq!(new.len(), 2);
        let (_, new) = warned.split(vec![bad("a"), good(), bad("b")]);
        assert!(new.is_empty(), "reported again: {new:?}");
        // b is fixed, then breaks again: reported again; a stays quiet.
        let (rows, new) = warned.split(vec![bad("a"), good(), good()]);
        assert_eq!((rows.len(), new.len()), (2, 0));
        let (_, new) = warned.split(vec![bad("a"), bad("b")]);
        assert_eq!(new.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["b"]);
    }
}
