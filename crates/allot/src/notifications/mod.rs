//! Notifications shared by the modules. For now: the [`Hub`] that wakes
//! long-polling readers of the feed, one per server (created in
//! `server.rs`, held by the calendar service and by
//! `AppState::notifications`), so any module that writes notifications can
//! wake them.

pub mod hub;

pub use self::hub::Hub;
