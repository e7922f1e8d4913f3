//! The exam-day simulation (`allot sim exam-day`): a generated school day
//! of exams run through the real executor against the cloud simulator on
//! a virtual clock, measured at the simulator.
//!
//! - [`scenario`]: the day, from a seed: overlapping exams of mixed sizes,
//!   late additions, one resize, one cancellation.
//! - [`driver`]: one private SQLite database, the cloud simulator and the
//!   executor on one `ManualClock`; the scenario's changes are written to
//!   the exams table at their times and the clock jumps from one wake-up
//!   to the next, so a day passes in seconds.
//! - [`report`]: per exam what was needed, ready at the start, idle
//!   against the planner's lower bound and stopped after the end, measured
//!   from the simulator's VMs, next to what the planner predicted; the
//!   totals (429s, leaked VMs) and the verdict.
//! - [`svg`]: a chart of ready VMs per exam over the day.
//! - [`command`]: the CLI.
//!
//! How to read a report: docs/provisioning.md, "The exam-day simulation".

pub mod command;
pub mod driver;
pub mod report;
pub mod scenario;
pub mod svg;

use allot_kernel::provisioning::Profile;
use jiff::SignedDuration;

pub use driver::{Outcome, Series, SimError, run, simulate};
pub use report::{ExamReport, Report};
pub use scenario::{Scenario, ScenarioConfig, generate};

/// One simulation: the day to generate and the provider to run it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExamDayConfig {
    pub scenario: ScenarioConfig,
    /// The provider's allocation rate (simulator and planner alike).
    pub vms_per_minute: u32,
    /// Per endpoint (start, stop), in any sliding second.
    pub requests_per_second: u32,
    /// VMs must be ready this long before an exam's start.
    pub margin: SignedDuration,
}

impl ExamDayConfig {
    /// `exams` exams from `seed`, up to 2,500 students each, on the default
    /// provider (10 VMs a minute, 3 requests a second) with a 2-minute
    /// margin.
    pub fn new(exams: usize, seed: u64) -> ExamDayConfig {
        ExamDayConfig {
            scenario: ScenarioConfig {
                exams,
                seed,
                max_students: 2500,
            },
            vms_per_minute: 10,
            requests_per_second: 3,
            margin: SignedDuration::from_mins(2),
        }
    }

    /// The planner's profile: the provider's rates and the margin (no boot
    /// delay, no stop grace, as `allot serve` by default).
    pub fn profile(&self) -> Profile {
        Profile {
            margin: i64::try_from(self.margin.as_micros()).unwrap_or(i64::MAX),
            ..Profile::from_rates(self.vms_per_minute, self.requests_per_second)
        }
    }
}
