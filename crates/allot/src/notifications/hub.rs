//! Wake-ups for long-polling readers of the notification feed.
//!
//! Notifications are rows (the durable part); this only tells waiting
//! readers in this process that new rows may exist, so a long poll answers
//! as soon as a local write commits instead of at its next re-read. One
//! `Hub` per process, shared by every module that writes notifications.

use std::time::Duration;

use tokio::sync::watch;

pub struct Hub {
    tx: watch::Sender<u64>,
    reread_every: Duration,
}

/// How often a waiting reader re-reads the feed by default.
pub const REREAD_EVERY: Duration = Duration::from_millis(250);

impl Default for Hub {
    fn default() -> Self {
        Self::with_reread(REREAD_EVERY)
    }
}

impl Hub {
    /// A hub whose waiting readers also re-read the feed every
    /// `reread_every`, to see rows other processes wrote (their bumps do
    /// not reach this process).
    pub fn with_reread(reread_every: Duration) -> Self {
        Self {
            tx: watch::Sender::new(0),
            reread_every,
        }
    }

    /// Called after a commit that wrote notifications.
    pub fn bump(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver whose `changed()` resolves at the next bump.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// How often a waiting reader re-reads the feed.
    pub fn reread_every(&self) -> Duration {
        self.reread_every
    }
}
