//! The simulator's profile: how fast the provider allocates, how many calls
//! it takes, and which faults it injects. One struct for both the command
//! line and in-process use, checked in one place so that a bad profile is
//! refused with the flag at fault named, never discovered mid-run.

use std::time::Duration;

use allot_kernel::duration::format_duration;
use jiff::SignedDuration;

/// Longest idempotency key a client may send, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// Fastest allocation rate: one VM per microsecond (the clock's precision).
const MAX_VMS_PER_MINUTE: f64 = 60_000_000.0;

/// Everything that shapes one simulated provider.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// Where [`super::spawn`] listens (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// VMs allocated per minute, one after the other (fractions allowed).
    pub vms_per_minute: f64,
    /// Accepted requests per endpoint in any sliding [`Self::window`].
    pub requests_per_second: u32,
    /// The sliding window of the rate limit.
    pub window: Duration,
    /// Time from the end of a VM's allocation to its being ready.
    pub boot_delay: Duration,
    /// Seed of the fault draws and VM ids; `None` picks one at random (the
    /// running simulator reports which).
    pub seed: Option<u64>,
    pub faults: Faults,
}

/// Injected faults. Each is a fraction in `0..=1` of the requests that pass
/// the rate limit; see docs/provisioning.md for exactly what each does.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Answered 500 with nothing done.
    pub fail_rate: f64,
    /// Done at arrival, answered after [`Self::delay`].
    pub delay_rate: f64,
    pub delay: Duration,
    /// start() calls whose VM is created but whose answer is held for
    /// [`Self::timeout_after`] and then replaced by a 504.
    pub start_timeout_rate: f64,
    pub timeout_after: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            fail_rate: 0.0,
            delay_rate: 0.0,
            delay: Duration::from_secs(2),
            start_timeout_rate: 0.0,
            timeout_after: Duration::from_secs(30),
        }
    }
}

impl Faults {
    pub fn none(&self) -> bool {
        self.fail_rate == 0.0 && self.delay_rate == 0.0 && self.start_timeout_rate == 0.0
    }
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9090".to_owned(),
            vms_per_minute: 10.0,
            requests_per_second: 3,
            window: Duration::from_secs(1),
            boot_delay: Duration::ZERO,
            seed: None,
            faults: Faults::default(),
        }
    }
}

/// Why a profile was refused; the message names the flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

impl CloudConfig {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        check_vms_per_minute(self.vms_per_minute)?;
        if self.requests_per_second == 0 {
            return Err(InvalidConfig(
                "--requests-per-second must be at least 1".to_owned(),
            ));
        }
        if self.window.is_zero() {
            return Err(InvalidConfig(
                "--window must be longer than zero, like 1s".to_owned(),
            ));
        }
        let f = &self.faults;
        check_fraction("--fail-rate", f.fail_rate)?;
        check_fraction("--delay-rate", f.delay_rate)?;
        check_fraction("--start-timeout-rate", f.start_timeout_rate)?;
        for (flag, d) in [
            ("--window", self.window),
            ("--boot-delay", self.boot_delay),
            ("--delay", f.delay),
            ("--timeout-after", f.timeout_after),
        ] {
            signed(flag, d)?;
        }
        Ok(())
    }

    /// Time between two allocations: 60 s / vms_per_minute, to the
    /// microsecond (at least one).
    pub fn allocation_period(&self) -> SignedDuration {
        let micros = (60_000_000.0 / self.vms_per_minute).round();
        // Validation bounds vms_per_minute, so this is a finite positive
        // number; the clamp only guards unvalidated use.
        SignedDuration::from_micros(micros.clamp(1.0, i64::MAX as f64) as i64)
    }

    /// The profile in one paragraph, for people starting the simulator.
    pub fn describe(&self, seed: u64) -> String {
        let f = &self.faults;
        let mut faults = Vec::new();
        if f.fail_rate > 0.0 {
            faults.push(format!("{} of calls fail with 500", percent(f.fail_rate)));
        }
        if f.delay_rate > 0.0 {
            faults.push(format!(
                "{} of calls answered {} late",
                percent(f.delay_rate),
                format_duration(f.delay)
            ));
        }
        if f.start_timeout_rate > 0.0 {
            faults.push(format!(
                "{} of VM-creating starts answer 504 after {} (VM created)",
                percent(f.start_timeout_rate),
                format_duration(f.timeout_after)
            ));
        }
        let faults = if faults.is_empty() {
            "none".to_owned()
        } else {
            faults.join("; ")
        };
        format!(
            "  start/stop: at most {} requests per {} each (sliding)\n  allocation: {} VMs per minute (one every {}), boot delay {}\n  faults: {faults} (seed {seed})",
            self.requests_per_second,
            format_duration(self.window),
            self.vms_per_minute,
            format_duration(self.allocation_period().unsigned_abs()),
            format_duration(self.boot_delay),
        )
    }
}

fn percent(f: f64) -> String {
    format!("{}%", (f * 1000.0).round() / 10.0)
}

/// A fraction for a `--*-rate` flag: `0..=1`.
pub fn check_fraction(flag: &str, f: f64) -> Result<f64, InvalidConfig> {
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err(InvalidConfig(format!(
            "{flag} must be a fraction between 0 and 1 (like 0.05), got {f}"
        )))
    }
}

pub fn check_vms_per_minute(n: f64) -> Result<f64, InvalidConfig> {
    if n.is_finite() && n > 0.0 && n <= MAX_VMS_PER_MINUTE {
        Ok(n)
    } else {
        Err(InvalidConfig(format!(
            "--vms-per-minute must be more than 0 and at most {MAX_VMS_PER_MINUTE}, got {n}"
        )))
    }
}

/// `d` as a signed duration for timestamp arithmetic; refuses durations
/// too long to add to a time.
pub fn signed(flag: &str, d: Duration) -> Result<SignedDuration, InvalidConfig> {
    SignedDuration::try_from(d)
        .ok()
        .filter(|s| s.as_secs() < 100 * 365 * 86_400)
        .ok_or_else(|| InvalidConfig(format!("{flag} is too long (at most 100 years)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_exam_cloud() {
        let c = CloudConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.allocation_period(), SignedDuration::from_secs(6));
        assert_eq!(c.requests_per_second, 3);
        assert_eq!(c.window, Duration::from_secs(1));
        assert!(c.faults.none());
    }

    #[test]
    fn fractional_rates_give_microsecond_periods() {
        let c = CloudConfig {
            vms_per_minute: 0.5,
            ..CloudConfig::default()
        };
        assert_eq!(c.allocation_period(), SignedDuration::from_secs(120));
        let c = CloudConfig {
            vms_per_minute: 7.0,
            ..CloudConfig::default()
        };
        assert_eq!(
            c.allocation_period(),
            SignedDuration::from_micros(8_571_429)
        );
    }

    #[test]
    fn bad_profiles_name_the_flag() {
        let bad = |c: CloudConfig, flag: &str| {
            let e = c.validate().expect_err("refused");
            assert!(e.0.contains(flag), "{e} should name {flag}");
        };
        let d = CloudConfig::default;
        bad(
            CloudConfig {
                vms_per_minute: 0.0,
                ..d()
            },
            "--vms-per-minute",
        );
        bad(
            CloudConfig {
                vms_per_minute: f64::NAN,
                ..d()
            },
            "--vms-per-minute",
        );
        bad(
            CloudConfig {
                requests_per_second: 0,
                ..d()
            },
            "--requests-per-second",
        );
        bad(
            CloudConfig {
                window: Duration::ZERO,
                ..d()
            },
            "--window",
        );
        for (rate, flag) in [(1.5, "--fail-rate"), (-0.1, "--fail-rate")] {
            let mut c = d();
            c.faults.fail_rate = rate;
            bad(c, flag);
        }
        let mut c = d();
        c.faults.delay_rate = 2.0;
        bad(c, "--delay-rate");
        let mut c = d();
        c.faults.start_timeout_rate = f64::NAN;
        bad(c, "--start-timeout-rate");
        let mut c = d();
        c.faults.timeout_after = Duration::from_secs(u64::MAX);
        bad(c, "--timeout-after");
    }
}
