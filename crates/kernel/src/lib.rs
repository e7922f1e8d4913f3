//! allot's planning kernel: pure functions that decide what the service does
//! and when, kept apart from storage and the clock so they can be tested
//! exhaustively.
//!
//! Nothing here performs IO (beyond jiff loading time zone rules), runs
//! asynchronously or reads the system clock: the current time is always an
//! argument.

pub mod booking;
pub mod calendar;
pub mod duration;
pub mod jobs;

pub mod provisioning;
#[cfg(test)]
mod test_support;
