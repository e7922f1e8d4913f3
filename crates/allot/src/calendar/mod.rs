//! The calendar module: events auto-placed into open slots of people's
//! calendars, built on the booking engine. A calendar is a booking system
//! of capacity 1 with an owner, a time zone and working hours; an event
//! holds one booking entry on its calendar and on each participant
//! calendar. Placement itself is the kernel's
//! ([`allot_kernel::calendar`]). See docs/calendar.md.

pub mod api;
pub mod attachments;
pub mod batch;
pub mod busy_cache;
pub mod evictions;
pub mod input;
pub mod model;
pub mod place;
pub mod service;
pub mod store;
pub mod webhooks;

pub use service::{CalendarConfig, CalendarService};
