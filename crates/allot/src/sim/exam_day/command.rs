//! `allot sim exam-day`: generates a day from `--exams` and `--seed`, runs
//! it, prints the report (a table, or with `--json` one JSON document) and
//! with `--svg FILE` writes the chart.
//!
//! Exit codes: 0 the day went as it must (no 429, nothing leaked, every
//! exam predicted feasible ready at its start, every prediction met), 1 it
//! did not (the report says why), 2 usage error, 3 the simulation could
//! not run or the chart could not be written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use allot_kernel::duration::parse_duration;
use jiff::SignedDuration;

use super::scenario::{MAX_EXAMS, MIN_EXAMS, ScenarioConfig};
use super::{ExamDayConfig, simulate, svg};
use crate::cli::{EXIT_FAILED, EXIT_REFUSED};

/// A school day of exams against the simulated cloud, on a virtual clock.
#[derive(Debug, Clone, clap::Args)]
pub struct ExamDayArgs {
    /// Exams in the day (one of them is cancelled, some are added late).
    #[arg(long, value_name = "N", value_parser = exams)]
    pub exams: usize,
    /// Seed of the day, the simulator and the retry jitter: a seed gives
    /// the same report every time.
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// The largest exam's students.
    #[arg(long, value_name = "N", default_value_t = 2500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_students: u32,
    /// The provider's allocation rate.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub vms_per_minute: u32,
    /// Requests per second the provider accepts per endpoint (start, stop).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub requests_per_second: u32,
    /// VMs must be ready this long before an exam's start (like 2m, 0s).
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = margin)]
    pub margin: Duration,
    /// Print the report as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Write a chart of ready VMs per exam over the day to FILE (SVG).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

impl ExamDayArgs {
    pub fn config(&self) -> ExamDayConfig {
        ExamDayConfig {
            scenario: ScenarioConfig {
                exams: self.exams,
                seed: self.seed,
                max_students: self.max_students,
            },
            vms_per_minute: self.vms_per_minute,
            requests_per_second: self.requests_per_second,
            margin: SignedDuration::try_from(self.margin).unwrap_or(SignedDuration::MAX),
        }
    }
}

pub async fn run(args: ExamDayArgs) -> ExitCode {
    let outcome = match simulate(&args.config()).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let report = &outcome.report;
    if args.json {
        match serde_json::to_string(report) {
            Ok(doc) => println!("{doc}"),
            Err(e) => {
                eprintln!("error: cannot write the report: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    } else {
        print!("{}", report.render_text(Some(outcome.elapsed)));
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "allot sim exam-day --exams {} --seed {}: ready VMs per exam",
            args.exams, args.seed
        );
        let doc = svg::render(&outcome.series, report.day, &title);
        if let Err(e) = std::fs::write(path, doc) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
        if !args.json {
            println!("chart: {}", path.display());
        }
    }
    if report.failures().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REFUSED)
    }
}

fn exams(text: &str) -> Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number"))?;
    if !(MIN_EXAMS..=MAX_EXAMS).contains(&n) {
        return Err(format!(
            "must be {MIN_EXAMS} to {MAX_EXAMS} (one exam is cancelled, one added late)"
        ));
    }
    Ok(n)
}

fn margin(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text).map_err(|e| format!("{e}; durations look like 2m or 90s"))?;
    if d > Duration::from_secs(24 * 3600) {
        return Err("must be at most a day".to_owned());
    }
    Ok(d)
}
