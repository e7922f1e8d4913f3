//! `allot serve` configuration: flags, environment variables (`ALLOT_*`) and
//! an optional TOML file, in that order of precedence, then defaults.
//! The TOML keys are the flag names with underscores, e.g.
//! `database_url = "postgres://..."`.

use std::path::PathBuf;
use std::time::Duration;

use allot_kernel::duration::parse_duration;
use clap::Args;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://allot.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_HTTP_URL: &str = "https://httpbin.org/status/200";

#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// Database: sqlite://FILE (default sqlite://allot.db) or postgres://USER@HOST/DB.
    #[arg(long, env = "ALLOT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "ALLOT_LISTEN")]
    pub listen: Option<String>,
    /// TOML file with any of these settings (keys as flag names with underscores).
    #[arg(long, env = "ALLOT_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Log format: text or json (default text).
    #[arg(long, env = "ALLOT_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// On SIGTERM/SIGINT, how long running executions may take to finish (default 30s).
    #[arg(long, env = "ALLOT_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<String>,
    /// Executions that may run at once (default 64).
    #[arg(long, env = "ALLOT_WORKERS")]
    pub workers: Option<usize>,
    /// Largest request body in bytes (default 1048576).
    #[arg(long, env = "ALLOT_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Requests per second allowed per token; 0 turns the limit off (default 1000).
    #[arg(long, env = "ALLOT_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Burst allowed above the rate (default twice the rate).
    #[arg(long, env = "ALLOT_RATE_BURST")]
    pub rate_burst: Option<u32>,
    /// A token ensured at start with every scope (for first use and deployments).
    #[arg(long, env = "ALLOT_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<String>,
    /// URL `http` tasks GET when their params name none (default https://httpbin.org/status/200).
    #[arg(long, env = "ALLOT_HTTP_DEFAULT_URL")]
    pub http_default_url: Option<String>,
    /// Comma-separated hosts `http` and `webhook` tasks may reach (default: any).
    #[arg(long, env = "ALLOT_HTTP_ALLOWED_HOSTS")]
    pub http_allowed_hosts: Option<String>,
    /// HMAC-SHA256 key that signs webhook requests; webhook tasks need it.
    #[arg(long, env = "ALLOT_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// How long a node's lease lasts; a crashed node's runs are interrupted after it (default 15s).
    #[arg(long, env = "ALLOT_NODE_LEASE")]
    pub node_lease: Option<String>,
    /// A run found due later than this after its time counts as missed (default 5s).
    #[arg(long, env = "ALLOT_MISFIRE_GRACE")]
    pub misfire_grace: Option<String>,
    /// Database connections per process (default 16; SQLite uses at most 8).
    #[arg(long, env = "ALLOT_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// booking: the longest entry accepted (default 366d).
    #[arg(long, env = "ALLOT_BOOKING_MAX_SPAN")]
    pub booking_max_span: Option<String>,
    /// booking: how late an entry entering an unplanned outage's window may be evicted (default 1s).
    #[arg(long, env = "ALLOT_BOOKING_SWEEP_TOLERANCE")]
    pub booking_sweep_tolerance: Option<String>,
    /// calendar: the longest event accepted (default 1d).
    #[arg(long, env = "ALLOT_CALENDAR_MAX_EVENT")]
    pub calendar_max_event: Option<String>,
    /// calendar: the largest attachment accepted, in bytes (default 10485760, 10 MiB).
    #[arg(long, env = "ALLOT_CALENDAR_MAX_ATTACHMENT_BYTES")]
    pub calendar_max_attachment_bytes: Option<usize>,
    /// provisioning: the most students (one VM each) an exam may have (default 10000).
    #[arg(long, env = "ALLOT_PROVISIONING_MAX_STUDENTS")]
    pub provisioning_max_students: Option<u32>,
    /// provisioning: the cloud provider's URL (e.g. an `allot sim cloud`); without one the executor is off.
    #[arg(long, env = "ALLOT_CLOUD_URL")]
    pub cloud_url: Option<String>,
    /// provisioning: VMs the provider allocates per minute (default 10).
    #[arg(long, env = "ALLOT_CLOUD_VMS_PER_MINUTE")]
    pub cloud_vms_per_minute: Option<u32>,
    /// provisioning: requests per second the provider accepts on each of start() and stop() (default 3).
    #[arg(long, env = "ALLOT_CLOUD_REQUESTS_PER_SECOND")]
    pub cloud_requests_per_second: Option<u32>,
    /// provisioning: how long before an exam's start its VMs must be ready (default 2m).
    #[arg(long, env = "ALLOT_PROVISIONING_MARGIN")]
    pub provisioning_margin: Option<String>,
    /// provisioning: how long after an exam's end its VMs are stopped (default 0s: at the end).
    #[arg(long, env = "ALLOT_PROVISIONING_STOP_GRACE")]
    pub provisioning_stop_grace: Option<String>,
}

/// Settings after every source has been applied.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database_url: String,
    pub listen: String,
    pub log_json: bool,
    pub shutdown_grace: Duration,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub rate_limit: u32,
    pub rate_burst: u32,
    pub bootstrap_token: Option<String>,
    pub http_default_url: String,
    pub http_allowed_hosts: Vec<String>,
    pub webhook_secret: Option<String>,
    pub node_lease: Duration,
    pub misfire_grace: Duration,
    pub database_max_connections: u32,
    pub booking_max_span: Duration,
    pub booking_sweep_tolerance: Duration,
    pub calendar_max_event: Duration,
    pub calendar_max_attachment_bytes: usize,
    pub provisioning_max_students: u32,
    pub cloud_url: Option<String>,
    pub cloud_vms_per_minute: u32,
    pub cloud_requests_per_second: u32,
    pub provisioning_margin: Duration,
    pub provisioning_stop_grace: Duration,
}

fn duration(name: &str, value: Option<String>, default: Duration) -> Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(v) => parse_duration(&v).map_err(|e| format!("--{name}: {e}")),
    }
}

impl ServeConfig {
    /// The provider's speed and the margin, as the provisioning planner
    /// takes them.
    pub fn provisioning_profile(&self) -> allot_kernel::provisioning::Profile {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        allot_kernel::provisioning::Profile {
            margin: micros(self.provisioning_margin),
            stop_grace: micros(self.provisioning_stop_grace),
            ..allot_kernel::provisioning::Profile::from_rates(
                self.cloud_vms_per_minute,
                self.cloud_requests_per_second,
            )
        }
    }
}

impl ServeArgs {
    /// Applies the TOML file (if any) under the flags and environment.
    pub fn resolve(self) -> Result<ServeConfig, String> {
        let file = match &self.config {
            None => ServeArgs::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str::<ServeArgs>(&text)
                    .map_err(|e| format!("config file {}: {e}", path.display()))?
            }
        };
        macro_rules! pick {
            ($field:ident) => {
                self.$field.clone().or(file.$field.clone())
            };
        }
        let log_format = pick!(log_format).unwrap_or_else(|| "text".to_string());
        if !matches!(log_format.as_str(), "text" | "json") {
            return Err(format!(
                "--log-format must be text or json, got {log_format:?}"
            ));
        }
        let rate_limit = pick!(rate_limit).unwrap_or(1000);
        let node_lease = duration("node-lease", pick!(node_lease), Duration::from_secs(15))?;
        if node_lease < Duration::from_secs(1) {
            return Err("--node-lease must be at least 1s".to_string());
        }
        let booking_max_span = duration(
            "booking-max-span",
            pick!(booking_max_span),
            Duration::from_secs(366 * 86_400),
        )?;
        if booking_max_span < Duration::from_secs(1) {
            return Err("--booking-max-span must be at least 1s".to_string());
        }
        let booking_sweep_tolerance = duration(
            "booking-sweep-tolerance",
            pick!(booking_sweep_tolerance),
            Duration::from_secs(1),
        )?;
        if booking_sweep_tolerance < Duration::from_millis(40) {
            return Err("--booking-sweep-tolerance must be at least 40ms".to_string());
        }
        let calendar_max_event = duration(
            "calendar-max-event",
            pick!(calendar_max_event),
            Duration::from_secs(86_400),
        )?;
        if calendar_max_event < Duration::from_secs(1) {
            return Err("--calendar-max-event must be at least 1s".to_string());
        }
        let provisioning_max_students = pick!(provisioning_max_students)
            .unwrap_or(crate::provisioning::service::DEFAULT_MAX_STUDENTS);
        // The column is a 32-bit integer.
        if !(1..=i32::MAX as u32).contains(&provisioning_max_students) {
            return Err(format!(
                "--provisioning-max-students must be 1 to {}",
                i32::MAX
            ));
        }
        let cloud_vms_per_minute = pick!(cloud_vms_per_minute).unwrap_or(10);
        if cloud_vms_per_minute == 0 {
            return Err("--cloud-vms-per-minute must be at least 1".to_string());
        }
        let cloud_requests_per_second = pick!(cloud_requests_per_second).unwrap_or(3);
        if cloud_requests_per_second == 0 {
            return Err("--cloud-requests-per-second must be at least 1".to_string());
        }
        let provisioning_margin = duration(
            "provisioning-margin",
            pick!(provisioning_margin),
            Duration::from_secs(120),
        )?;
        let provisioning_stop_grace = duration(
            "provisioning-stop-grace",
            pick!(provisioning_stop_grace),
            Duration::ZERO,
        )?;
        let cloud_url = pick!(cloud_url).filter(|u| !u.trim().is_empty());
        if let Some(url) = &cloud_url {
            crate::provisioning::cloud::check_url(url).map_err(|e| format!("--cloud-url: {e}"))?;
        }
        Ok(ServeConfig {
            database_url: pick!(database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            listen: pick!(listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            log_json: log_format == "json",
            shutdown_grace: duration(
                "shutdown-grace",
                pick!(shutdown_grace),
                Duration::from_secs(30),
            )?,
            workers: pick!(workers).unwrap_or(64).max(1),
            max_body_bytes: pick!(max_body_bytes).unwrap_or(1024 * 1024),
            rate_limit,
            rate_burst: pick!(rate_burst).unwrap_or(rate_limit.saturating_mul(2)),
            bootstrap_token: pick!(bootstrap_token).filter(|t| !t.is_empty()),
            http_default_url: pick!(http_default_url)
                .unwrap_or_else(|| DEFAULT_HTTP_URL.to_string()),
            http_allowed_hosts: pick!(http_allowed_hosts)
                .map(|h| {
                    h.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            webhook_secret: pick!(webhook_secret).filter(|s| !s.is_empty()),
            node_lease,
            misfire_grace: duration(
                "misfire-grace",
                pick!(misfire_grace),
                Duration::from_secs(5),
            )?,
            database_max_connections: pick!(database_max_connections).unwrap_or(16).max(1),
            booking_max_span,
            booking_sweep_tolerance,
            calendar_max_event,
            calendar_max_attachment_bytes: pick!(calendar_max_attachment_bytes)
                .unwrap_or(10 * 1024 * 1024)
                .max(1),
            provisioning_max_students,
            cloud_url,
            cloud_vms_per_minute,
            cloud_requests_per_second,
            provisioning_margin,
            provisioning_stop_grace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_configuration() {
        let c = ServeArgs::default().resolve().unwrap();
        assert_eq!(c.database_url, "sqlite://allot.db");
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.shutdown_grace, Duration::from_secs(30));
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert!(!c.log_json);
        assert_eq!(c.cloud_url, None, "the provisioning executor is off");
        let profile = c.provisioning_profile();
        assert_eq!(profile.margin, 120_000_000);
        assert_eq!(profile.stop_grace, 0);
        assert_eq!(profile.alloc_period, 6_000_000);
    }

    #[test]
    fn the_provisioning_profile_follows_the_settings() {
        let c = ServeArgs {
            cloud_url: Some("http://127.0.0.1:9700".into()),
            cloud_vms_per_minute: Some(20),
            cloud_requests_per_second: Some(5),
            provisioning_margin: Some("5m".into()),
            provisioning_stop_grace: Some("1m".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let p = c.provisioning_profile();
        assert_eq!((p.alloc_period, p.request_interval), (3_000_000, 200_000));
        assert_eq!((p.margin, p.stop_grace), (300_000_000, 60_000_000));
        for bad in [
            ServeArgs {
                cloud_url: Some("ftp://x".into()),
                ..Default::default()
            },
            ServeArgs {
                cloud_vms_per_minute: Some(0),
                ..Default::default()
            },
            ServeArgs {
                cloud_requests_per_second: Some(0),
                ..Default::default()
            },
            ServeArgs {
                provisioning_stop_grace: Some("soon".into()),
                ..Default::default()
            },
        ] {
            assert!(bad.resolve().is_err());
        }
    }

    #[test]
    fn the_student_maximum_fits_the_column() {
        let max = |n: Option<u32>| {
            ServeArgs {
                provisioning_max_students: n,
                ..Default::default()
            }
            .resolve()
            .map(|c| c.provisioning_max_students)
        };
        assert_eq!(max(None), Ok(10_000));
        assert_eq!(max(Some(1)), Ok(1));
        assert_eq!(max(Some(i32::MAX as u32)), Ok(i32::MAX as u32));
        for bad in [0, i32::MAX as u32 + 1] {
            let err = max(Some(bad)).unwrap_err();
            assert!(err.contains("--provisioning-max-students"), "{err}");
        }
    }

    #[test]
    fn flags_and_environment_win_over_the_file() {
        let dir =
            std::env::temp_dir().join(format!("allot-config-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("allot.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ndatabase_url = \"postgres://db/allot\"\nshutdown_grace = \"5s\"\nhttp_allowed_hosts = \"a.example, b.example\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            listen: Some("127.0.0.1:1".to_string()),
            ..Default::default()
        };
        let c = args.resolve().unwrap();
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.database_url, "postgres://db/allot");
        assert_eq!(c.shutdown_grace, Duration::from_secs(5));
        assert_eq!(c.http_allowed_hosts, ["a.example", "b.example"]);

        std::fs::write(&file, "listen = 5\n").unwrap();
        let err = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.contains("allot.toml"), "{err}");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = ServeArgs {
            config: Some(file),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.contains("lisen"), "{err}");
        let err = ServeArgs {
            shutdown_grace: Some("soon".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.contains("--shutdown-grace"), "{err}");
    }
}
