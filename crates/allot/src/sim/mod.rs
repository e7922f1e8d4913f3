//! Simulators of the outside world allot schedules against. They are real
//! HTTP servers on an injected clock, so that tests, benchmarks and demos
//! exercise allot's clients exactly as production does, while a whole day
//! of virtual time can pass in seconds.
//!
//! - [`cloud`]: the cloud provider that exam provisioning starts and stops
//!   VMs through (rate-limited calls, slow allocation, injected faults).
//! - [`exam_day`]: a school day of exams run through the provisioning
//!   executor against [`cloud`] on a virtual clock, and its report.

pub mod cloud;
pub mod exam_day;
