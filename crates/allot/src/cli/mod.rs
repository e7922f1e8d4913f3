//! The `allot` command line: `serve` runs the service; `token create` writes
//! to its database; `tasks` and `executions` (jobs), `systems`, `entries`
//! and `outages` (booking), `calendars`, `events` and `notifications`
//! (calendar) and `exams` and `provisioning` (provisioning) are clients of
//! its API; `sim` runs simulators of what allot schedules against.
//!
//! Exit codes scripts can rely on: 0 success, 1 the server refused the
//! request (4xx), 2 usage error, 3 the server failed or cannot be reached.
//!
//! API commands take `--server`/`ALLOT_SERVER` and
//! `--token`/`ALLOT_TOKEN`; they print tables for people, or with `--json`
//! the server's JSON document compact on one line, for scripts and `jq`.

mod booking;
mod calendars;
mod client;
mod entries;
mod error;
mod events;
mod exams;
mod executions;
mod notifications;
mod outages;
mod output;
mod pages;
mod provisioning;
mod systems;
pub(crate) mod table;
mod task_body;
mod tasks;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ServeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "allot",
    version,
    about = "Schedules things in time under hard limits."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Create, inspect, change and trigger tasks.
    Tasks(tasks::TasksArgs),
    /// Inspect run history and upcoming runs.
    Executions(executions::ExecutionsArgs),
    /// Register systems to book on; see their free capacity and slots.
    Systems(systems::SystemsArgs),
    /// Book, move, list and cancel entries on systems.
    Entries(entries::EntriesArgs),
    /// Register and resolve outages; follow the booking change feed.
    Outages(outages::OutagesArgs),
    /// Create, list and change calendars: owner, time zone, working hours.
    Calendars(calendars::CalendarsArgs),
    /// Place events on calendars, exactly or at the earliest open slot; see
    /// free slots; change, cancel and delete events.
    Events(events::EventsArgs),
    /// Read or follow the calendar notification feed (unplaceable,
    /// displaced, ...).
    Notifications(notifications::NotificationsArgs),
    /// Add, list, change and remove the exams VMs are provisioned for.
    Exams(exams::ExamsArgs),
    /// See where each exam's VMs are, what the plan predicts (shortfall,
    /// when fully ready) and the start and stop calls it will make.
    Provisioning(provisioning::ProvisioningArgs),
    /// Run a benchmark and print its figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run a simulator of something allot schedules against.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// A cloud provider: rate-limited VM start/stop calls, VMs allocated at
    /// a fixed rate, injected faults (see docs/provisioning.md).
    Cloud(crate::sim::cloud::command::CloudArgs),
    /// A school day of exams run through the provisioning executor against
    /// the cloud simulator on a virtual clock, in seconds; prints per exam
    /// what was needed, ready at the start, idle and stopped after the end
    /// (see docs/provisioning.md).
    ExamDay(crate::sim::exam_day::command::ExamDayArgs),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Scheduler throughput, firing lateness and start-up with many tasks.
    Jobs(crate::bench::jobs::JobsBenchArgs),
    /// Accepted inserts per second with 1,000,000 entries (HTTP, a naive SQL
    /// baseline, the kernel alone).
    Booking(crate::bench::booking::BookingBenchArgs),
    /// Auto-placements per second on a calendar with 10,000 events and of
    /// 10-attendee events (HTTP), and the common-slot search alone.
    Calendar(crate::bench::calendar::CalendarBenchArgs),
    /// The provisioning planner: a plan for 1,000 exams of 2,500 students,
    /// a replan after one change, a large ledger, and a per-VM baseline.
    Provisioning(crate::bench::provisioning::ProvisioningBenchArgs),
}

pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_FAILED: u8 = 3;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = if matches!(cli.command, Command::Sim(SimCommand::ExamDay(_))) {
        // The simulation is one chain of awaits (executor, simulator,
        // database): on one thread it skips the cross-thread wake-ups.
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Token(cmd) => token::run(cmd).await,
            Command::Tasks(args) => tasks::run(args).await,
            Command::Executions(args) => executions::run(args).await,
            Command::Systems(args) => systems::run(args).await,
            Command::Entries(args) => entries::run(args).await,
            Command::Outages(args) => outages::run(args).await,
            Command::Calendars(args) => calendars::run(args).await,
            Command::Events(args) => events::run(args).await,
            Command::Notifications(args) => notifications::run(args).await,
            Command::Exams(args) => exams::run(args).await,
            Command::Provisioning(args) => provisioning::run(args).await,
            Command::Sim(SimCommand::Cloud(args)) => crate::sim::cloud::command::run(args).await,
            Command::Sim(SimCommand::ExamDay(args)) => {
                crate::sim::exam_day::command::run(args).await
            }
            Command::Bench(bench) => {
                // Quiet unless asked: the figures are the output. With
                // `ALLOT_LOG` set, the service's logs (such as the placement
                // batches' phases) go to standard error.
                if std::env::var_os("ALLOT_LOG").is_some() {
                    init_tracing(false);
                }
                crate::tls::install();
                let result = match bench {
                    BenchCommand::Jobs(args) => crate::bench::jobs::run(args).await,
                    BenchCommand::Booking(args) => crate::bench::booking::run(args).await,
                    BenchCommand::Calendar(args) => crate::bench::calendar::run(args).await,
                    BenchCommand::Provisioning(args) => crate::bench::provisioning::run(args).await,
                };
                match result {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::from(EXIT_FAILED)
                    }
                }
            }
        }
    })
}

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("ALLOT_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let config = match args.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(config.log_json);
    crate::tls::install();
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    let server = match crate::server::Server::build(&config, clock, true).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", config.listen);
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let shutdown = crate::server::shutdown_signal();
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.listen.clone());
    println!(
        "allot {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "  database: {} ({})",
        redact(&config.database_url),
        server.db.backend().as_str()
    );
    println!("  API docs: http://{addr}/docs");
    match &config.cloud_url {
        Some(url) => println!(
            "  provisioning: VMs through the cloud at {url} ({} VMs/min, {} requests/s, ready {} before exams)",
            config.cloud_vms_per_minute,
            config.cloud_requests_per_second,
            allot_kernel::duration::format_duration(config.provisioning_margin)
        ),
        None => println!(
            "  provisioning: off (no --cloud-url / ALLOT_CLOUD_URL): exams are kept and planned, no VM is started"
        ),
    }
    match &server.first_token {
        Some(token) => {
            println!("  created the first API token (shown once, stored hashed):");
            println!("    export ALLOT_TOKEN={token}");
        }
        None if config.bootstrap_token.is_some() => {
            println!(
                "  authenticate with the bootstrap token: Authorization: Bearer $ALLOT_BOOTSTRAP_TOKEN"
            );
        }
        None => println!(
            "  authenticate with: Authorization: Bearer <token>  (make one: allot token create --name NAME)"
        ),
    }
    match server.run(listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The URL without its password, for printing.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    #[test]
    fn the_command_line_is_well_formed() {
        // Catches conflicts/requires naming flags that do not exist.
        Cli::command().debug_assert();
    }

    #[test]
    fn schedule_forms_and_file_are_exclusive() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["allot", "tasks", "create", "--name", "n", "--kind", "sleep"];
            argv.extend(args);
            Cli::try_parse_from(argv).map(|_| ())
        };
        assert!(parse(&["--every", "1s"]).is_ok());
        assert!(parse(&["--every", "1s", "--cron", "* * * * *"]).is_err());
        assert!(parse(&["--every", "1s", "--timezone", "UTC"]).is_err());
        assert!(parse(&["--cron", "* * * * *", "--start-at", "x"]).is_err());
        assert!(parse(&["--every", "1s", "--file", "b.json"]).is_err());
        assert!(Cli::try_parse_from(["allot", "tasks", "create", "--file", "-"]).is_ok());
        assert!(Cli::try_parse_from(["allot", "tasks", "--json", "list", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["allot", "tasks", "list", "--json"]).is_ok());
    }

    #[test]
    fn booking_flags() {
        let ok = |args: &[&str]| {
            let mut argv = vec!["allot"];
            argv.extend(args);
            Cli::try_parse_from(argv).map(|_| ())
        };
        let s = "--system=s1";
        assert!(ok(&["entries", "create", s, "--start", "+1h", "--end", "+2h"]).is_ok());
        assert!(ok(&["entries", "create", s, "--start", "-1h", "--end", "now"]).is_ok());
        assert!(
            ok(&[
                "entries", "create", s, "--start", "tomorrow", "--end", "+2h"
            ])
            .is_err()
        );
        assert!(
            ok(&[
                "entries",
                "update",
                "e1",
                "--capability",
                "a",
                "--no-capabilities"
            ])
            .is_err()
        );
        assert!(ok(&["entries", "list", s, "--status", "gone"]).is_err());
        assert!(ok(&["outages", "create", s, "--kind", "sometimes"]).is_err());
        assert!(
            ok(&[
                "outages",
                "create",
                s,
                "--kind",
                "unplanned",
                "--window",
                "2x"
            ])
            .is_err()
        );
        assert!(
            ok(&[
                "outages",
                "create",
                s,
                "--kind",
                "unplanned",
                "--window",
                "2h"
            ])
            .is_ok()
        );
        assert!(
            ok(&[
                "outages",
                "update",
                "o1",
                "--capability",
                "a",
                "--whole-system"
            ])
            .is_err()
        );
        assert!(ok(&["outages", "events", "--follow", "--json"]).is_ok());
        assert!(
            ok(&["systems", "slots", "s1"]).is_err(),
            "--duration is required"
        );
        assert!(
            ok(&[
                "systems",
                "create",
                "--name",
                "n",
                "--capacity",
                "1",
                "--capability",
                "a,b"
            ])
            .is_ok()
        );
    }

    #[test]
    fn calendar_flags() {
        let ok = |args: &[&str]| {
            let mut argv = vec!["allot"];
            argv.extend(args);
            Cli::try_parse_from(argv).map(|_| ())
        };
        let create = [
            "events",
            "create",
            "c1",
            "--name",
            "n",
            "--date",
            "2030-03-15",
        ];
        let with = |extra: &[&'static str]| {
            let mut argv = create.to_vec();
            argv.extend(extra);
            ok(&argv)
        };
        assert!(with(&["--duration", "45m"]).is_ok());
        assert!(with(&["--duration", "45m", "--start-time", "14:30"]).is_ok());
        assert!(
            with(&["--duration", "45"]).is_err(),
            "durations need a unit"
        );
        assert!(with(&[]).is_err(), "--duration is required");
        assert!(with(&["--duration", "1h", "--start-time", "2pm"]).is_err());
        assert!(
            ok(&[
                "events",
                "create",
                "c1",
                "--name",
                "n",
                "--date",
                "15/03/2030",
                "--duration",
                "1h"
            ])
            .is_err()
        );
        assert!(
            with(&[
                "--duration",
                "1h",
                "--attendee",
                "a@example.com",
                "--attendee",
                "b",
                "--location",
                "x",
                "--search-days",
                "2"
            ])
            .is_ok()
        );
        assert!(ok(&["events", "update", "e1", "--auto", "--start-time", "09:00"]).is_err());
        assert!(
            ok(&[
                "events",
                "update",
                "e1",
                "--attendee",
                "a",
                "--no-attendees"
            ])
            .is_err()
        );
        assert!(ok(&["events", "list", "c1", "--status", "gone"]).is_err());
        assert!(
            ok(&[
                "events", "list", "c1", "--from", "-1d", "--status", "pending"
            ])
            .is_ok()
        );
        assert!(ok(&["events", "free", "c1", "--date", "2030-03-15"]).is_err());
        assert!(
            ok(&[
                "events",
                "free",
                "c1",
                "--date",
                "2030-03-15",
                "--duration",
                "1h"
            ])
            .is_ok()
        );
        assert!(
            ok(&[
                "calendars",
                "create",
                "--owner",
                "o",
                "--timezone",
                "UTC",
                "--slot-granularity",
                "15m"
            ])
            .is_ok()
        );
        assert!(ok(&["calendars", "create", "--owner", "o"]).is_err());
        assert!(
            ok(&[
                "calendars",
                "update",
                "c1",
                "--version",
                "2",
                "--owner",
                "x"
            ])
            .is_ok()
        );
        assert!(
            ok(&[
                "notifications",
                "tail",
                "--follow",
                "--json",
                "--after",
                "-1.0"
            ])
            .is_ok()
        );
        assert!(ok(&["notifications", "tail", "--calendar", "c1"]).is_ok());
    }

    #[test]
    fn provisioning_flags() {
        let ok = |args: &[&str]| {
            let mut argv = vec!["allot", "provisioning"];
            argv.extend(args);
            Cli::try_parse_from(argv).map(|_| ())
        };
        assert!(ok(&["status"]).is_ok());
        assert!(ok(&["status", "e1", "--json"]).is_ok());
        assert!(ok(&["status", "e1", "e2"]).is_err());
        assert!(ok(&["plan", "--from", "-1h", "--to", "+2h", "--json"]).is_ok());
        assert!(ok(&["plan", "--from", "soon"]).is_err());
        assert!(ok(&["plan", "--to", "2030-06-03T08:00:00"]).is_err());
        assert!(ok(&["plans"]).is_err());
    }

    #[test]
    fn sim_cloud_flags() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["allot", "sim", "cloud"];
            argv.extend(args);
            Cli::try_parse_from(argv)
        };
        let config = |args: &[&str]| match parse(args) {
            Ok(Cli {
                command: super::Command::Sim(super::SimCommand::Cloud(a)),
            }) => a.config(),
            other => panic!("{args:?} should parse, got {other:?}"),
        };
        assert_eq!(config(&[]), crate::sim::cloud::CloudConfig::default());
        let c = config(&[
            "--listen",
            "0.0.0.0:0",
            "--vms-per-minute",
            "0.5",
            "--requests-per-second",
            "5",
            "--boot-delay",
            "2m",
            "--window",
            "1500ms",
            "--seed",
            "42",
            "--fail-rate",
            "0.1",
            "--delay-rate",
            "1",
            "--delay",
            "3s",
            "--start-timeout-rate",
            "0.05",
            "--timeout-after",
            "1m",
        ]);
        assert_eq!(c.listen, "0.0.0.0:0");
        assert_eq!(c.vms_per_minute, 0.5);
        assert_eq!(c.requests_per_second, 5);
        assert_eq!(c.boot_delay, std::time::Duration::from_secs(120));
        assert_eq!(c.window, std::time::Duration::from_millis(1500));
        assert_eq!(c.seed, Some(42));
        assert_eq!(c.faults.fail_rate, 0.1);
        assert_eq!(c.faults.delay_rate, 1.0);
        assert_eq!(c.faults.delay, std::time::Duration::from_secs(3));
        assert_eq!(c.faults.start_timeout_rate, 0.05);
        assert_eq!(c.faults.timeout_after, std::time::Duration::from_secs(60));
        assert_eq!(c.validate(), Ok(()));
        for bad in [
            &["--fail-rate", "1.5"][..],
            &["--delay-rate=-0.1"],
            &["--start-timeout-rate", "half"],
            &["--vms-per-minute", "0"],
            &["--vms-per-minute", "inf"],
            &["--requests-per-second", "0"],
            &["--window", "0s"],
            &["--boot-delay", "30"],
            &["--delay", "1.5s"],
            &["--seed=-1"],
        ] {
            let e = parse(bad).expect_err("refused");
            let flag = bad[0].split('=').next().unwrap_or(bad[0]);
            assert!(e.to_string().contains(flag), "{bad:?}: {e}");
        }
    }

    #[test]
    fn sim_cloud_help_documents_every_flag() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("sim")
            .and_then(|s| s.find_subcommand_mut("cloud"))
            .expect("allot sim cloud exists")
            .render_long_help()
            .to_string();
        for flag in [
            "--listen",
            "--vms-per-minute",
            "--requests-per-second",
            "--boot-delay",
            "--window",
            "--seed",
            "--fail-rate",
            "--delay-rate",
            "--delay ",
            "--start-timeout-rate",
            "--timeout-after",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }
}
