//! Wake-ups for long-polling readers of the notification feed.
//!
//! Notifications are rows (the durable part); this only tells waiting
//! readers in this process that new rows may exist, so a long poll answers
//! as soon as a local write commits instead of at its next re-read. One
//! `Hub` per process, shared by every module that writes notifications.

use tokio::sync::watch;

pub struct Hub {
    tx: watch::Sender<u64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(0),
        }
    }
}

impl Hub {
    /// Called after a commit that wrote notifications.
    pub fn bump(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver whose `changed()` resolves at the next bump.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}
