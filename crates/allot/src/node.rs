//! A node is one running `allot serve` process. It registers itself and
//! renews a lease; work it holds (running executions) is taken back by the
//! others once its lease has expired, which is how a crashed replica's runs
//! come to be marked `interrupted`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::store::{Backend, Db, DbId, DbTime};
use crate::with_pool;

#[derive(Clone)]
pub struct Node {
    pub id: Uuid,
    db: Db,
    clock: SharedClock,
    lease: Duration,
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}

impl Node {
    /// Registers a new node. On SQLite, which is single-process by its file
    /// lock, every other node is known dead and is expired at once, so their
    /// runs are interrupted and their leader leases freed without waiting
    /// out a lease.
    pub async fn register(
        db: Db,
        clock: SharedClock,
        lease: Duration,
    ) -> Result<Node, sqlx::Error> {
        let id = Uuid::now_v7();
        let now = clock.now();
        let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
        with_pool!(&db, pool => {
            sqlx::query(
                "INSERT INTO nodes (id, hostname, pid, started_at, heartbeat_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $4, $5)",
            )
            .bind(DbId(id))
            .bind(hostname)
            .bind(std::process::id() as i32)
            .bind(DbTime(now))
            .bind(DbTime(plus(now, lease)))
            .execute(pool)
            .await?;
            if db.backend() == Backend::Sqlite {
                sqlx::query("UPDATE nodes SET expires_at = $1 WHERE id <> $2 AND expires_at > $1")
                    .bind(DbTime(now))
                    .bind(DbId(id))
                    .execute(pool)
                    .await?;
                // Their leader leases too, so a restarted process resumes its
                // singletons (the provisioning executor) at once instead of
                // waiting for a dead holder's lease to run out.
                sqlx::query("DELETE FROM leader_leases WHERE holder <> $1")
                    .bind(DbId(id))
                    .execute(pool)
                    .await?;
            }
        });
        Ok(Node {
            id,
            db,
            clock,
            lease,
        })
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Renews the lease.
    pub async fn heartbeat(&self) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        with_pool!(&self.db, pool => {
            sqlx::query("UPDATE nodes SET heartbeat_at = $2, expires_at = $3 WHERE id = $1 AND stopped_at IS NULL")
                .bind(DbId(self.id))
                .bind(DbTime(now))
                .bind(DbTime(plus(now, self.lease)))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Marks the node stopped: its lease ends now.
    pub async fn stop(&self) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        with_pool!(&self.db, pool => {
            sqlx::query("UPDATE nodes SET stopped_at = $2, expires_at = $2 WHERE id = $1")
                .bind(DbId(self.id))
                .bind(DbTime(now))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Renews the lease every third of its length until `stop` is cancelled.
    pub async fn keep_alive(self, stop: tokio_util::sync::CancellationToken) {
        let every = self.lease / 3;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.heartbeat().await {
                tracing::warn!(error = %e, "node heartbeat failed; will retry");
            }
        }
    }
}
