//! The request bodies of `tasks create` and `tasks update`, built from flags
//! or read whole from `--file`. Only shape is checked here (valid JSON, one
//! schedule form); the server validates values and names the bad field.

use std::io::Read;
use std::path::Path;

use clap::Args;
use serde_json::{Map, Value, json};

use super::error::CliError;

/// Every flag that contributes to the body; `--file` replaces all of them.
pub const BODY_FLAGS: [&str; 10] = [
    "name", "params", "every", "start_at", "at", "cron", "timezone", "timeout", "overlap",
    "misfire",
];

/// The fields `create` and `update` share.
#[derive(Debug, Args)]
pub struct TaskFields {
    /// Kind-specific parameters as JSON, e.g. '{"duration":"2s"}' for sleep,
    /// '{"url":"https://..."}' for http and webhook.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    #[command(flatten)]
    pub schedule: ScheduleFlags,
    /// Longest a run may take, e.g. 30s or 5m (server default 5m).
    #[arg(long)]
    pub timeout: Option<String>,
    /// When a run comes due while the last is still going: skip or queue_one.
    #[arg(long)]
    pub overlap: Option<String>,
    /// Runs missed while the service was down: run_once, skip or run_all.
    #[arg(long)]
    pub misfire: Option<String>,
}

/// One of three schedule forms; clap rejects mixed forms before we see them.
#[derive(Debug, Args)]
pub struct ScheduleFlags {
    /// Run at this interval, e.g. 30s, 5m, 1h30m.
    #[arg(long, conflicts_with_all = ["at", "cron", "timezone"])]
    pub every: Option<String>,
    /// With --every: the first run (RFC 3339); later runs keep its phase.
    // clap counts a flag that conflicts with `every` as satisfying
    // `requires`, so the conflicts are spelled out here too.
    #[arg(long, requires = "every", conflicts_with_all = ["at", "cron"])]
    pub start_at: Option<String>,
    /// Run once at this time: RFC 3339 with offset, or local with --timezone.
    #[arg(long, conflicts_with = "cron")]
    pub at: Option<String>,
    /// Run on a cron expression: 5 fields, or 6 with leading seconds.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// IANA time zone for --cron (default UTC) or for a local --at.
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

impl ScheduleFlags {
    /// The `schedule` object, or `None` when no schedule flag was given.
    fn to_json(&self) -> Result<Option<Value>, CliError> {
        if self.every.is_none() && self.at.is_none() && self.cron.is_none() {
            if self.timezone.is_some() {
                return Err(CliError::Usage(
                    "--timezone needs --cron or --at".to_string(),
                ));
            }
            return Ok(None);
        }
        let mut spec = Map::new();
        for (key, value) in [
            ("every", &self.every),
            ("start_at", &self.start_at),
            ("at", &self.at),
            ("cron", &self.cron),
            ("timezone", &self.timezone),
        ] {
            if let Some(v) = value {
                spec.insert(key.to_string(), Value::String(v.clone()));
            }
        }
        Ok(Some(Value::Object(spec)))
    }
}

impl TaskFields {
    /// Adds the given fields to `body`; absent flags add nothing, so an
    /// update changes only what was named.
    fn fill(&self, body: &mut Map<String, Value>) -> Result<(), CliError> {
        if let Some(raw) = &self.params {
            let params: Value = serde_json::from_str(raw)
                .map_err(|e| CliError::Usage(format!("--params is not valid JSON: {e}")))?;
            body.insert("params".into(), params);
        }
        if let Some(schedule) = self.schedule.to_json()? {
            body.insert("schedule".into(), schedule);
        }
        for (key, value) in [
            ("timeout", &self.timeout),
            ("overlap", &self.overlap),
            ("misfire", &self.misfire),
        ] {
            if let Some(v) = value {
                body.insert(key.to_string(), Value::String(v.clone()));
            }
        }
        Ok(())
    }
}

/// `POST /v1/tasks` from flags; clap has already required name and kind.
pub fn create_body(name: &str, kind: &str, fields: &TaskFields) -> Result<Value, CliError> {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("kind".into(), json!(kind));
    fields.fill(&mut body)?;
    if !body.contains_key("schedule") {
        return Err(CliError::Usage(
            "give a schedule: --every INTERVAL, --at TIME or --cron EXPR".to_string(),
        ));
    }
    Ok(Value::Object(body))
}

/// `PATCH /v1/tasks/{id}` from flags: only what was given.
pub fn update_body(name: Option<&str>, fields: &TaskFields) -> Result<Value, CliError> {
    let mut body = Map::new();
    if let Some(name) = name {
        body.insert("name".into(), json!(name));
    }
    fields.fill(&mut body)?;
    if body.is_empty() {
        return Err(CliError::Usage(
            "nothing to change: give at least one of --name, --params, --every, --at, --cron, --timeout, --overlap, --misfire or --file"
                .to_string(),
        ));
    }
    Ok(Value::Object(body))
}

/// A whole body from a file, or from stdin for `-`. Invalid JSON is a usage
/// error: the request was never sent.
pub fn read_body(path: &Path) -> Result<Value, CliError> {
    let shown = path.display();
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("cannot read the body from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read --file {shown}: {e}")))?
    };
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("--file {shown} is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TaskFields {
        TaskFields {
            params: None,
            schedule: ScheduleFlags {
                every: None,
                start_at: None,
                at: None,
                cron: None,
                timezone: None,
            },
            timeout: None,
            overlap: None,
            misfire: None,
        }
    }

    #[test]
    fn create_sends_the_given_fields() {
        let mut f = fields();
        f.params = Some(r#"{"duration":"0s"}"#.into());
        f.schedule.every = Some("1h".into());
        f.overlap = Some("queue_one".into());
        let body = create_body("nap", "sleep", &f).map_err(|e| format!("{e:?}"));
        assert_eq!(
            body,
            Ok(
                json!({"name": "nap", "kind": "sleep", "params": {"duration": "0s"},
                "schedule": {"every": "1h"}, "overlap": "queue_one"})
            )
        );
    }

    #[test]
    fn create_needs_a_schedule_and_valid_params() {
        let mut f = fields();
        assert!(
            matches!(create_body("n", "sleep", &f), Err(CliError::Usage(m)) if m.contains("--every"))
        );
        f.schedule.cron = Some("* * * * *".into());
        f.params = Some("{nope".into());
        assert!(
            matches!(create_body("n", "sleep", &f), Err(CliError::Usage(m)) if m.contains("--params"))
        );
    }

    #[test]
    fn update_sends_only_what_changed() {
        let mut f = fields();
        assert!(matches!(update_body(None, &f), Err(CliError::Usage(_))));
        f.schedule.cron = Some("0 * * * *".into());
        f.schedule.timezone = Some("Europe/Paris".into());
        let body = update_body(None, &f).map_err(|e| format!("{e:?}"));
        assert_eq!(
            body,
            Ok(json!({"schedule": {"cron": "0 * * * *", "timezone": "Europe/Paris"}}))
        );
    }

    #[test]
    fn a_time_zone_alone_is_not_a_schedule() {
        let mut f = fields();
        f.schedule.timezone = Some("UTC".into());
        assert!(
            matches!(update_body(Some("x"), &f), Err(CliError::Usage(m)) if m.contains("--timezone"))
        );
    }
}
