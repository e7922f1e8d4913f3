//! allot: schedules things in time under hard limits.
//!
//! See ARCHITECTURE.md at the repository root for the map of this crate.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod jobs;
pub mod node;
pub mod server;
pub mod store;
pub mod testing;
pub mod tls;
