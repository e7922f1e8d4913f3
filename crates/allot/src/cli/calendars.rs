//! `allot calendars ...`: the calendars events are placed on, each with an
//! owner, a time zone, working hours, a horizon and a slot grid.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use allot_kernel::duration::format_duration;

use super::booking::{Body, duration};
use super::client::{ApiArgs, Client, id};
use super::error::CliError;
use super::output::{print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct CalendarsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: CalendarsCommand,
}

#[derive(Debug, Subcommand)]
pub enum CalendarsCommand {
    /// Create a calendar: whose it is, its time zone and when it works.
    /// Without --working-hours it works all day, every day.
    #[command(
        after_help = "Example:\n  allot calendars create --owner 'Jeff Blumba' --timezone Europe/Amsterdam \\\n    --working-hours '[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"start\":\"08:00\",\"end\":\"17:00\"}]' \\\n    --horizon-days 30 --slot-granularity 15m"
    )]
    Create(CreateArgs),
    /// List calendars in creation order.
    #[command(after_help = "Example:\n  allot calendars list --all --json | jq -r '.items[].id'")]
    List(ListArgs),
    /// Show one calendar.
    #[command(after_help = "Example:\n  allot calendars get CALENDAR_ID")]
    Get(IdArg),
    /// Change a calendar (only the given fields). Events already placed stay
    /// where they are. With --version the change applies only if nobody
    /// changed the calendar since (409 otherwise).
    #[command(
        after_help = "Examples:\n  allot calendars update CALENDAR_ID --slot-granularity 30m --version 1\n  allot calendars update CALENDAR_ID --horizon-days 0 --webhook-url ''"
    )]
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The calendar's id.
    pub id: String,
}

/// The flags `create` and `update` share, apart from the required ones.
#[derive(Debug, Args)]
pub struct CalendarFields {
    /// Weekly rules in local time, as JSON, e.g.
    /// '[{"days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"17:00"}]'.
    #[arg(long, value_name = "JSON")]
    pub working_hours: Option<String>,
    /// Auto-placement puts events only where they end within this many days
    /// from now (on update, 0 removes the horizon).
    #[arg(long, value_name = "N")]
    pub horizon_days: Option<i64>,
    /// Auto-placed events start on this grid from local midnight, e.g. 15m
    /// (default 5m).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub slot_granularity: Option<String>,
    /// Where this calendar's notifications are POSTed (on update, '' removes
    /// the webhook).
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key webhook bodies are signed with (never shown
    /// again; `calendars get` says only whether one is set).
    #[arg(long, value_name = "SECRET")]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Whose calendar this is, e.g. 'Jeff Blumba'.
    #[arg(long)]
    pub owner: String,
    /// IANA time zone event dates, times and working hours are read in,
    /// e.g. Europe/Amsterdam.
    #[arg(long, value_name = "ZONE")]
    pub timezone: String,
    #[command(flatten)]
    pub fields: CalendarFields,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The calendar's id.
    pub id: String,
    /// A new owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// A new IANA time zone.
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    #[command(flatten)]
    pub fields: CalendarFields,
    /// Apply only if the calendar is still at this version (`calendars get`
    /// shows it).
    #[arg(long, value_name = "N")]
    pub version: Option<i64>,
}

pub async fn run(args: CalendarsArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: CalendarsArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        CalendarsCommand::Create(a) => {
            let body = a
                .fields
                .body(Body::default().text("owner", &Some(a.owner)))?
                .text("timezone", &Some(a.timezone))
                .done();
            let calendar = Client::new(&args.api)?
                .post(&["calendars"], Some(&body))
                .await?;
            print_doc(json, &calendar, calendar_detail)?;
        }
        CalendarsCommand::List(a) => {
            let client = Client::new(&args.api)?;
            let doc = fetch(&client, &["calendars"], &[], &a.page).await?;
            print_list(json, &doc, "no calendars", calendar_table)?;
        }
        CalendarsCommand::Get(a) => {
            let calendar = Client::new(&args.api)?
                .get(&["calendars", id("calendar", &a.id)?], &[])
                .await?;
            print_doc(json, &calendar, calendar_detail)?;
        }
        CalendarsCommand::Update(a) => {
            let calendar_id = id("calendar", &a.id)?;
            let mut body = a
                .fields
                .body(
                    Body::default()
                        .text("owner", &a.owner)
                        .text("timezone", &a.timezone),
                )?
                .non_empty(
                    "--owner, --timezone, --working-hours, --horizon-days, --slot-granularity, --webhook-url or --webhook-secret",
                )?;
            if let (Some(v), Value::Object(fields)) = (a.version, &mut body) {
                fields.insert("version".to_string(), json!(v));
            }
            let calendar = Client::new(&args.api)?
                .patch(&["calendars", calendar_id], &body)
                .await?;
            print_doc(json, &calendar, calendar_detail)?;
        }
    }
    Ok(())
}

impl CalendarFields {
    /// `body` with the given fields added; bad --working-hours JSON is a
    /// usage error, not a round trip.
    fn body(&self, body: Body) -> Result<Body, CliError> {
        let hours = self
            .working_hours
            .as_deref()
            .map(|raw| {
                serde_json::from_str::<Value>(raw)
                    .map_err(|e| CliError::Usage(format!("--working-hours is not valid JSON: {e}")))
            })
            .transpose()?;
        Ok(body
            .value("working_hours", hours)
            .value("horizon_days", self.horizon_days.map(|n| json!(n)))
            .text("slot_granularity", &self.slot_granularity)
            .text("webhook_url", &self.webhook_url)
            .text("webhook_secret", &self.webhook_secret))
    }
}

/// `horizon_days` as `30d`; none as `-`.
fn horizon(calendar: &Value) -> String {
    match calendar.get("horizon_days").and_then(Value::as_i64) {
        Some(days) => format!("{days}d"),
        None => "-".to_string(),
    }
}

/// `slot_granularity` (seconds) as `15m`.
fn granularity(calendar: &Value) -> String {
    match calendar
        .get("slot_granularity")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
    {
        Some(secs) => format_duration(Duration::from_secs(secs)),
        None => cell(calendar, "slot_granularity"),
    }
}

/// Working hours as `mon,tue 08:00-17:00; sat 10:00-12:00`; an empty
/// list (never works) as `none`, anything unexpected as JSON.
fn hours(calendar: &Value) -> String {
    let Some(rules) = calendar.get("working_hours").and_then(Value::as_array) else {
        return cell(calendar, "working_hours");
    };
    if rules.is_empty() {
        return "none".to_string();
    }
    let mut parts = Vec::new();
    for rule in rules {
        let days = rule.get("days").and_then(Value::as_array).map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        });
        match (
            days,
            rule.get("start").and_then(Value::as_str),
            rule.get("end").and_then(Value::as_str),
        ) {
            (Some(days), Some(start), Some(end)) => parts.push(format!("{days} {start}-{end}")),
            _ => return cell(calendar, "working_hours"),
        }
    }
    parts.join("; ")
}

fn calendar_table(calendars: &[Value]) -> String {
    let mut t = Table::new(&["ID", "OWNER", "TIMEZONE", "HORIZON", "GRANULARITY"]);
    for c in calendars {
        t.row(vec![
            cell(c, "id"),
            cell(c, "owner"),
            cell(c, "timezone"),
            horizon(c),
            granularity(c),
        ]);
    }
    t.render()
}

fn calendar_detail(calendar: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in ["id", "owner", "timezone"] {
        t.row(vec![key.to_string(), cell(calendar, key)]);
    }
    t.row(vec!["working_hours".into(), hours(calendar)]);
    t.row(vec!["horizon".into(), horizon(calendar)]);
    t.row(vec!["slot_granularity".into(), granularity(calendar)]);
    for key in [
        "webhook_url",
        "webhook_signed",
        "version",
        "created_at",
        "updated_at",
    ] {
        t.row(vec![key.to_string(), cell(calendar, key)]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::super::pages::items;
    use super::*;

    #[test]
    fn calendar_rows() {
        let doc = json!({"items": [
            {"id": "c1", "owner": "Jeff", "timezone": "Europe/Amsterdam",
             "horizon_days": 30, "slot_granularity": 900},
            {"id": "c2", "owner": "Ann", "timezone": "UTC",
             "horizon_days": null, "slot_granularity": 300}]});
        assert_eq!(
            calendar_table(items(&doc).unwrap()),
            "ID  OWNER  TIMEZONE          HORIZON  GRANULARITY\n\
             c1  Jeff   Europe/Amsterdam  30d      15m\n\
             c2  Ann    UTC               -        5m\n"
        );
    }

    #[test]
    fn working_hours_read_like_a_timetable() {
        let cal = json!({"working_hours": [
            {"days": ["mon", "tue"], "start": "08:00", "end": "17:00"},
            {"days": ["sat"], "start": "10:00", "end": "12:00"}]});
        assert_eq!(hours(&cal), "mon,tue 08:00-17:00; sat 10:00-12:00");
        assert_eq!(hours(&json!({"working_hours": []})), "none");
        assert_eq!(hours(&json!({"working_hours": [{"x": 1}]})), r#"[{"x":1}]"#);
    }

    #[test]
    fn bad_working_hours_json_is_a_usage_error() {
        let fields = CalendarFields {
            working_hours: Some("[{nope".into()),
            horizon_days: None,
            slot_granularity: None,
            webhook_url: None,
            webhook_secret: None,
        };
        assert!(matches!(
            fields.body(Body::default()),
            Err(CliError::Usage(m)) if m.contains("--working-hours")
        ));
    }
}
