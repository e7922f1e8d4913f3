//! Planning for scheduled jobs: when a task's runs fall ([`schedule`]) and
//! what the claim loop should do when it finds a task due ([`decide`]).
//!
//! Everything here is a pure function of its arguments. "Now" is always
//! passed in, so the service can replay decisions and the tests can drive
//! virtual time.

pub mod cron;
pub mod decide;
pub mod schedule;

pub use cron::CronSchedule;
pub use decide::{
    Decision, Misfire, Outcome, Overlap, Policy, SkipReason, Timing, claim_after_finish, decide,
    is_exhausted,
};
pub use schedule::{Schedule, ScheduleError};

#[cfg(test)]
mod simulation_tests;
