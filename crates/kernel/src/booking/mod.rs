//! Booking: entries occupy half-open time spans `[start, end)` on a system
//! that runs at most `capacity` entries at once.
//!
//! This is the pure core the service and the calendar build on. It answers
//! two questions, and answers them with the same predicate so that they
//! can never disagree:
//!
//! - validation: may this span be booked? ([`check`], [`admits`]);
//! - search: where is the earliest span that may be booked? ([`earliest_fit`],
//!   [`slots`], and [`free_segments`] for display).
//!
//! Bookings live in a [`Timeline`], a multiset of spans whose coverage
//! count ("how many entries run at instant t") is queried in O(log n).
//! The rules a candidate must meet — capacity, outages, working hours and
//! a slot grid — are a [`FitRules`]. Time is [`Micros`], microseconds since
//! the Unix epoch; nothing here reads a clock, performs IO or panics on any
//! `i64` input.

mod fit;
mod free;
mod grid;
mod search;
mod span;
mod timeline;
mod tree;

pub use fit::{FitRules, Refusal, admits, check};
pub use free::free_segments;
pub use search::{earliest_fit, slots};
pub use span::{Micros, Span};
pub use timeline::Timeline;

#[cfg(test)]
mod tests;
