//! booking: entries on systems with capabilities and a capacity, planned and
//! unplanned outages, and the sweeper that clears unplanned outages' windows.
//!
//! Pieces: [`service`] (every operation and its rules, one transaction each,
//! under a per-system lock), [`batch`] (group commit of concurrent inserts), [`rules`] (what an outage means at an instant,
//! and the one admission check that inserts, moves and slot searches share),
//! [`store`] (SQL on both backends), [`sweeper`] (rule 5, under a leader
//! lease), [`api`] (routes). Capacity arithmetic is the pure kernel
//! `allot_kernel::booking`.

pub mod api;
pub mod batch;
pub mod model;
pub mod rules;
pub mod service;
pub mod store;
pub mod sweeper;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use self::service::{BookingConfig, BookingService};
use self::sweeper::Sweeper;
use crate::clock::SharedClock;
use crate::leader::LeaderLease;
use crate::store::Db;

/// The running module.
pub struct Booking {
    pub service: Arc<BookingService>,
    pub sweeper: Sweeper,
}

impl Booking {
    /// Builds the module; with `background` the sweeper runs until `stop`.
    pub fn start(
        db: Db,
        clock: SharedClock,
        node_id: Uuid,
        config: BookingConfig,
        background: bool,
        stop: CancellationToken,
    ) -> Booking {
        let service = Arc::new(BookingService::new(db.clone(), clock.clone(), config));
        let make_sweeper = || Sweeper {
            service: service.clone(),
            lease: LeaderLease::new(
                db.clone(),
                clock.clone(),
                "booking-sweeper",
                node_id,
                Duration::from_secs(10),
            ),
        };
        if background {
            tokio::spawn(make_sweeper().run(stop));
        }
        Booking {
            sweeper: make_sweeper(),
            service,
        }
    }
}
