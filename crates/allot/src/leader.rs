//! Leader leases: a singleton worker (the booking sweeper, planners) runs on
//! one replica at a time. The lease is a row in `leader_leases`, taken when
//! free or expired and renewed by its holder; a holder that dies loses it
//! when it expires, and another replica takes over.

use std::time::Duration;

use jiff::SignedDuration;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::store::{Db, DbId, DbTime};

#[derive(Clone)]
pub struct LeaderLease {
    db: Db,
    clock: SharedClock,
    name: &'static str,
    holder: Uuid,
    ttl: Duration,
}

impl LeaderLease {
    pub fn new(
        db: Db,
        clock: SharedClock,
        name: &'static str,
        holder: Uuid,
        ttl: Duration,
    ) -> Self {
        Self {
            db,
            clock,
            name,
            holder,
            ttl,
        }
    }

    /// Takes or renews the lease; true while this holder has it. Renew well
    /// within the time to live (a third of it is customary).
    pub async fn try_hold(&self) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        let ttl = SignedDuration::try_from(self.ttl).unwrap_or(SignedDuration::from_secs(10));
        let expires = now.checked_add(ttl).unwrap_or(now);
        // Through the write transaction of either backend: on SQLite that is
        // the writer queue and its connection, not a read connection racing
        // the writer for the file lock.
        let held: Option<DbId> = crate::in_tx!(&self.db, tx => sqlx::query_scalar(
            "INSERT INTO leader_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at <= $4 \
             RETURNING holder",
        )
        .bind(self.name)
        .bind(DbId(self.holder))
        .bind(DbTime(expires))
        .bind(DbTime(now))
        .fetch_optional(&mut *tx)
        .await)?;
        Ok(held.is_some_and(|h| h.0 == self.holder))
    }

    /// Gives the lease up (at shutdown), so another replica need not wait
    /// for it to expire.
    pub async fn release(&self) -> Result<(), sqlx::Error> {
        crate::in_tx!(&self.db, tx => sqlx::query(
            "DELETE FROM leader_leases WHERE name = $1 AND holder = $2",
        )
        .bind(self.name)
        .bind(DbId(self.holder))
        .execute(&mut *tx)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
