//! `allot sim cloud`: the simulator on the wall clock, for demos and for
//! running allot against by hand. Flags are checked before anything
//! listens; the URL and the profile are printed; Ctrl-C or SIGTERM stops
//! it (exit 0).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use allot_kernel::duration::parse_duration;

use super::config::{CloudConfig, Faults, check_fraction, check_vms_per_minute};
use crate::cli::{EXIT_FAILED, EXIT_USAGE};
use crate::clock::{SharedClock, SystemClock};

/// A simulated cloud provider: rate-limited start/stop calls, VMs allocated
/// one after the other, optional injected faults. The HTTP contract and the
/// fault semantics are in docs/provisioning.md.
#[derive(Debug, Clone, clap::Args)]
pub struct CloudArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "ALLOT_SIM_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:9090"
    )]
    pub listen: String,
    /// VMs allocated per minute, FIFO, one after the other (fractions allowed,
    /// like 0.5).
    #[arg(long, env = "ALLOT_SIM_VMS_PER_MINUTE", value_name = "N", default_value = "10", value_parser = vms_per_minute)]
    pub vms_per_minute: f64,
    /// Requests accepted per endpoint (start, stop) in any sliding --window;
    /// more are answered 429.
    #[arg(long, env = "ALLOT_SIM_REQUESTS_PER_SECOND", value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub requests_per_second: u32,
    /// Time from a VM's allocation to its being ready (like 30s, 2m).
    #[arg(long, env = "ALLOT_SIM_BOOT_DELAY", value_name = "DUR", default_value = "0s", value_parser = duration)]
    pub boot_delay: Duration,
    /// The sliding window of the rate limit.
    #[arg(long, env = "ALLOT_SIM_WINDOW", value_name = "DUR", default_value = "1s", value_parser = positive_duration)]
    pub window: Duration,
    /// Seed of the fault draws and VM ids, to replay a run exactly (default:
    /// random, printed at start).
    #[arg(long, env = "ALLOT_SIM_SEED", value_name = "N")]
    pub seed: Option<u64>,
    /// Fraction (0 to 1) of accepted start/stop calls answered 500 with
    /// nothing done; they still count in the rate window.
    #[arg(long, env = "ALLOT_SIM_FAIL_RATE", value_name = "F", default_value = "0", value_parser = fail_rate)]
    pub fail_rate: f64,
    /// Fraction (0 to 1) of accepted start/stop calls done at arrival but
    /// answered --delay late.
    #[arg(long, env = "ALLOT_SIM_DELAY_RATE", value_name = "F", default_value = "0", value_parser = delay_rate)]
    pub delay_rate: f64,
    /// How late a delayed answer comes.
    #[arg(long, env = "ALLOT_SIM_DELAY", value_name = "DUR", default_value = "2s", value_parser = duration)]
    pub delay: Duration,
    /// Fraction (0 to 1) of VM-creating start calls whose VM is created but
    /// whose answer is held --timeout-after and then replaced by a 504 with
    /// no id (a client with a shorter timeout sees its own timeout).
    #[arg(long, env = "ALLOT_SIM_START_TIMEOUT_RATE", value_name = "F", default_value = "0", value_parser = start_timeout_rate)]
    pub start_timeout_rate: f64,
    /// How long a lost start answer is held before the 504.
    #[arg(long, env = "ALLOT_SIM_TIMEOUT_AFTER", value_name = "DUR", default_value = "30s", value_parser = duration)]
    pub timeout_after: Duration,
}

impl CloudArgs {
    pub fn config(&self) -> CloudConfig {
        CloudConfig {
            listen: self.listen.clone(),
            vms_per_minute: self.vms_per_minute,
            requests_per_second: self.requests_per_second,
            window: self.window,
            boot_delay: self.boot_delay,
            seed: self.seed,
            faults: Faults {
                fail_rate: self.fail_rate,
                delay_rate: self.delay_rate,
                delay: self.delay,
                start_timeout_rate: self.start_timeout_rate,
                timeout_after: self.timeout_after,
            },
        }
    }
}

pub async fn run(args: CloudArgs) -> ExitCode {
    let config = args.config();
    if let Err(e) = config.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    // Signal handlers first, so a signal right after the URL is printed is
    // a clean stop rather than the default kill.
    let shutdown = crate::server::shutdown_signal();
    let clock: SharedClock = Arc::new(SystemClock);
    let cloud = match super::spawn(config, clock).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(EXIT_FAILED);
        }
    };
    println!(
        "allot sim cloud {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        cloud.url()
    );
    println!("{}", cloud.config().describe(cloud.seed()));
    println!(
        "  calls: POST {0}/vms, DELETE {0}/vms/ID; inspect: GET {0}/vms, {0}/vms/ID, {0}/stats",
        cloud.url()
    );
    shutdown.await;
    let stats = cloud.stats();
    match cloud.shutdown().await {
        Ok(()) => {
            println!(
                "stopped: {} VMs created, {} stopped",
                stats.vms_created, stats.vms_stopped
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| format!("{e}; durations look like 30s, 2m or 1m30s"))
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d.is_zero() {
        return Err("must be longer than zero, like 1s".to_owned());
    }
    Ok(d)
}

fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| format!("\"{text}\" is not a number"))
}

fn vms_per_minute(text: &str) -> Result<f64, String> {
    check_vms_per_minute(number(text)?).map_err(|e| e.to_string())
}

fn fraction(flag: &str, text: &str) -> Result<f64, String> {
    check_fraction(flag, number(text)?).map_err(|e| e.to_string())
}

fn fail_rate(text: &str) -> Result<f64, String> {
    fraction("--fail-rate", text)
}

fn delay_rate(text: &str) -> Result<f64, String> {
    fraction("--delay-rate", text)
}

fn start_timeout_rate(text: &str) -> Result<f64, String> {
    fraction("--start-timeout-rate", text)
}
