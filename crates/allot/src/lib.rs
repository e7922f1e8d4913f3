//! allot: schedules things in time under hard limits.
//!
//! See ARCHITECTURE.md at the repository root for the map of this crate.

// `Problem` (the problem+json error every handler returns) is larger than
// clippy's threshold; it is built only on error paths, where one move of a
// few hundred bytes costs nothing next to the request, and boxing it would
// make every `?` in the handlers noisier.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod bench;
pub mod booking;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod group_commit;
pub mod http;
pub mod jobs;
pub mod leader;
pub mod node;
pub mod notifications;
pub mod provisioning;
pub mod server;
pub mod sim;
pub mod store;
pub mod testing;
pub mod tls;
