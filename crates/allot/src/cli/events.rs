//! `allot events ...`: place events on calendars, exactly where asked
//! (explicit) or at the earliest open slot of a date (auto); list, change,
//! cancel and delete them; see a date's open slots.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use allot_kernel::duration::format_duration;

use super::booking::{Body, deleted, duration, joined, strings, time};
use super::client::{ApiArgs, Client, Method, id};
use super::error::CliError;
use super::output::{print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: EventsCommand,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Place an event on a calendar. With --start-time it goes exactly there
    /// (explicit; may be outside working hours, and moves auto-placed events
    /// out of the way); without, at the earliest open slot on --date within
    /// working hours (auto). Refused (409) when it cannot be placed, with the
    /// reason: busy, outside_working_hours, beyond_horizon, outage or
    /// attendee_busy; an `unplaceable` notification is recorded then.
    #[command(
        after_help = "Examples:\n  allot events create CALENDAR_ID --name 'Quarterly review' --date 2030-03-15 --duration 45m\n  allot events create CALENDAR_ID --name 'Board call' --date 2030-03-15 --start-time 14:30 --duration 1h \\\n    --attendee cfo@example.com --attendee OTHER_CALENDAR_ID --location 'Board room'"
    )]
    Create(CreateArgs),
    /// A calendar's events (its own and those it attends) in start order.
    #[command(
        after_help = "Example:\n  allot events list CALENDAR_ID --from now --to +7d --status pending"
    )]
    List(ListArgs),
    /// Show one event.
    #[command(after_help = "Example:\n  allot events get EVENT_ID --json | jq -r .start")]
    Get(IdArg),
    /// An event's status now: pending, in_progress, completed, cancelled or
    /// unplaced.
    #[command(after_help = "Example:\n  allot events status EVENT_ID --json | jq -r .status")]
    Status(IdArg),
    /// Change an event (only the given fields). A new date, time, duration
    /// or attendee calendars place it again; when that fails (409 with the
    /// reason) the event stays as it was. With --version the change applies
    /// only if nobody changed the event since.
    #[command(
        after_help = "Examples:\n  allot events update EVENT_ID --date 2030-03-16 --version 1\n  allot events update EVENT_ID --auto --duration 30m"
    )]
    Update(UpdateArgs),
    /// Cancel an event: the record stays (cancelled), its slot is freed.
    #[command(after_help = "Example:\n  allot events cancel EVENT_ID")]
    Cancel(IdArg),
    /// Delete an event and free its slot.
    #[command(after_help = "Example:\n  allot events delete EVENT_ID")]
    Delete(IdArg),
    /// The open slots of --duration on a local --date, within working hours,
    /// exactly as auto-placement would find them.
    #[command(
        after_help = "Example:\n  allot events free CALENDAR_ID --date 2030-03-15 --duration 1h --limit 5"
    )]
    Free(FreeArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The event's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The calendar to place the event on (its id).
    pub calendar_id: String,
    /// What the event is called.
    #[arg(long)]
    pub name: String,
    /// The local date, YYYY-MM-DD, in the calendar's time zone.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_date)]
    pub date: String,
    /// Place it exactly at this local time, HH:MM or HH:MM:SS (explicit);
    /// without it, at the earliest open slot (auto).
    #[arg(long, value_name = "HH:MM", value_parser = local_time)]
    pub start_time: Option<String>,
    /// How long it lasts, e.g. 45m or 1h30m (at most a day).
    #[arg(long, value_parser = duration)]
    pub duration: String,
    /// Someone attending; a calendar's id makes that calendar hold the same
    /// span. Repeat the flag for several.
    #[arg(long = "attendee", value_name = "ATTENDEE")]
    pub attendees: Vec<String>,
    /// Where it takes place.
    #[arg(long)]
    pub location: Option<String>,
    /// Auto-placement may also look at the following N days.
    #[arg(long, value_name = "N")]
    pub search_days: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The calendar whose events to list (its id).
    pub calendar_id: String,
    /// Only events ending after this time: RFC 3339, `now` or relative (+1h).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only events starting before this time; same forms as --from.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Only events with this status (default: all).
    #[arg(long, value_parser = ["pending", "in_progress", "completed", "cancelled", "unplaced"])]
    pub status: Option<String>,
    /// Only events with this attendee.
    #[arg(long, value_name = "ATTENDEE")]
    pub attendee: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The event's id.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new local date, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_date)]
    pub date: Option<String>,
    /// Place it exactly at this local time from now on (explicit).
    #[arg(long, value_name = "HH:MM", value_parser = local_time)]
    pub start_time: Option<String>,
    /// Let allot place it from now on (auto): drops its start time.
    #[arg(long, conflicts_with = "start_time")]
    pub auto: bool,
    /// A new length, e.g. 30m.
    #[arg(long, value_parser = duration)]
    pub duration: Option<String>,
    /// The new attendee list: replaces the current one. Repeat the flag.
    #[arg(long = "attendee", value_name = "ATTENDEE")]
    pub attendees: Vec<String>,
    /// Remove every attendee.
    #[arg(long, conflicts_with = "attendees")]
    pub no_attendees: bool,
    /// A new location.
    #[arg(long)]
    pub location: Option<String>,
    /// Auto-placement may also look at the following N days.
    #[arg(long, value_name = "N")]
    pub search_days: Option<i64>,
    /// Apply only if the event is still at this version (sent as If-Match;
    /// `events get` shows the version).
    #[arg(long, value_name = "N")]
    pub version: Option<i64>,
}

#[derive(Debug, Args)]
pub struct FreeArgs {
    /// The calendar's id.
    pub calendar_id: String,
    /// The local date, YYYY-MM-DD, in the calendar's time zone.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_date)]
    pub date: String,
    /// How long the event would be, e.g. 1h.
    #[arg(long, value_parser = duration)]
    pub duration: String,
    /// At most this many slots (the server allows 1 to 1000; default 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

pub async fn run(args: EventsArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: EventsArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        EventsCommand::Create(a) => {
            let calendar_id = id("calendar", &a.calendar_id)?;
            let explicit = a.start_time.is_some();
            let body = Body::default()
                .text("event_name", &Some(a.name))
                .text("date", &Some(a.date))
                .text("start_time", &a.start_time)
                .text("duration", &Some(a.duration))
                .value("attendees", Some(strings(&a.attendees)))
                .text("event_location", &a.location)
                .value("search_days", a.search_days.map(|n| json!(n)))
                .done();
            let event = Client::new(&args.api)?
                .post(&["calendars", calendar_id, "events"], Some(&body))
                .await
                .map_err(|e| placement_hint(e, explicit))?;
            print_doc(json, &event, event_detail)?;
        }
        EventsCommand::List(a) => {
            let calendar_id = id("calendar", &a.calendar_id)?;
            let client = Client::new(&args.api)?;
            let query = [
                ("from", a.from),
                ("to", a.to),
                ("status", a.status),
                ("attendee", a.attendee),
            ];
            let doc = fetch(
                &client,
                &["calendars", calendar_id, "events"],
                &query,
                &a.page,
            )
            .await?;
            print_list(json, &doc, "no events", event_table)?;
        }
        EventsCommand::Get(a) => {
            let event = Client::new(&args.api)?
                .get(&["events", id("event", &a.id)?], &[])
                .await?;
            print_doc(json, &event, event_detail)?;
        }
        EventsCommand::Status(a) => {
            let status = Client::new(&args.api)?
                .get(&["events", id("event", &a.id)?, "status"], &[])
                .await?;
            print_doc(json, &status, status_view)?;
        }
        EventsCommand::Update(a) => {
            let event_id = id("event", &a.id)?;
            let start_time = if a.auto {
                Some(String::new())
            } else {
                a.start_time
            };
            let attendees = if a.no_attendees {
                Some(json!([]))
            } else {
                (!a.attendees.is_empty()).then(|| strings(&a.attendees))
            };
            let body = Body::default()
                .text("event_name", &a.name)
                .text("date", &a.date)
                .text("start_time", &start_time)
                .text("duration", &a.duration)
                .value("attendees", attendees)
                .text("event_location", &a.location)
                .value("search_days", a.search_days.map(|n| json!(n)))
                .non_empty(
                    "--name, --date, --start-time, --auto, --duration, --attendee, --no-attendees, --location or --search-days",
                )?;
            let event = Client::new(&args.api)?
                .call(
                    Method::PATCH,
                    &["events", event_id],
                    &[],
                    Some(&body),
                    a.version,
                )
                .await
                // Without --auto the event may be explicit already: the
                // auto-placement hints would mislead.
                .map_err(|e| placement_hint(e, !a.auto))?;
            print_doc(json, &event, event_detail)?;
        }
        EventsCommand::Cancel(a) => {
            let event = Client::new(&args.api)?
                .post(&["events", id("event", &a.id)?, "cancel"], None)
                .await?;
            print_doc(json, &event, event_detail)?;
        }
        EventsCommand::Delete(a) => {
            let event_id = id("event", &a.id)?;
            Client::new(&args.api)?
                .delete(&["events", event_id])
                .await?;
            deleted(json, "event", event_id)?;
        }
        EventsCommand::Free(a) => {
            let calendar_id = id("calendar", &a.calendar_id)?;
            let query = [
                ("date", Some(a.date)),
                ("duration", Some(a.duration)),
                ("limit", a.limit.map(|n| n.to_string())),
            ];
            let doc = Client::new(&args.api)?
                .get(&["calendars", calendar_id, "free"], &query)
                .await?;
            print_list(
                json,
                &doc,
                "no open slot of that length on that date",
                slot_table,
            )?;
        }
    }
    Ok(())
}

/// clap value parser for `--date`: a real calendar date, `YYYY-MM-DD`.
fn local_date(text: &str) -> Result<String, String> {
    let t = text.trim();
    match t.parse::<jiff::civil::Date>() {
        Ok(_) if t.len() == 10 => Ok(t.to_string()),
        _ => Err("not a date; write YYYY-MM-DD, like 2030-03-15".to_string()),
    }
}

/// clap value parser for `--start-time`: `HH:MM` or `HH:MM:SS`, 24-hour clock.
fn local_time(text: &str) -> Result<String, String> {
    let t = text.trim();
    let shaped = (t.len() == 5 || t.len() == 8)
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    match t.parse::<jiff::civil::Time>() {
        Ok(_) if shaped => Ok(t.to_string()),
        _ => Err("not a time; write HH:MM or HH:MM:SS on a 24-hour clock, like 14:30".to_string()),
    }
}

/// What to try after a refused placement, in terms of this command's flags.
fn placement_hint(e: CliError, explicit: bool) -> CliError {
    let CliError::Refused(m) = e else {
        return e;
    };
    let hint = if m.contains("\n  reason: outside_working_hours") && !explicit {
        "(give --start-time to place it exactly, outside working hours too, or try another --date)"
    } else if m.contains("\n  reason: busy") && !explicit {
        "(try another --date or a larger --search-days; `allot events free` lists open slots)"
    } else if m.contains("\n  reason: beyond_horizon") && !explicit {
        "(give --start-time to place it exactly: the horizon binds auto-placement only)"
    } else {
        return CliError::Refused(m);
    };
    CliError::Refused(format!("{m}\n  {hint}"))
}

/// `duration` (seconds) as `45m`.
fn length(event: &Value) -> String {
    match event
        .get("duration")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
    {
        Some(secs) => format_duration(Duration::from_secs(secs)),
        None => cell(event, "duration"),
    }
}

fn outside_hours(event: &Value) -> bool {
    event.get("outside_working_hours") == Some(&Value::Bool(true))
}

/// The NOTE column appears only when some event was placed outside working
/// hours.
fn event_table(events: &[Value]) -> String {
    let note = events.iter().any(outside_hours);
    let mut header = vec!["ID", "NAME", "START", "END", "PLACEMENT", "STATUS"];
    if note {
        header.push("NOTE");
    }
    let mut t = Table::new(&header);
    for e in events {
        let mut row = vec![
            cell(e, "id"),
            cell(e, "name"),
            cell(e, "start"),
            cell(e, "end"),
            cell(e, "placement"),
            cell(e, "status"),
        ];
        if note && outside_hours(e) {
            row.push("outside working hours".to_string());
        }
        t.row(row);
    }
    t.render()
}

fn event_detail(event: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in [
        "id",
        "calendar_id",
        "name",
        "status",
        "state",
        "placement",
        "date",
        "start_time",
        "start",
        "end",
    ] {
        t.row(vec![key.to_string(), cell(event, key)]);
    }
    t.row(vec!["duration".into(), length(event)]);
    if outside_hours(event) {
        t.row(vec!["outside_working_hours".into(), "true".into()]);
    }
    for key in ["attendees", "participants", "location"] {
        t.row(vec![key.to_string(), joined(event, key)]);
    }
    for key in ["version", "created_at", "updated_at"] {
        t.row(vec![key.to_string(), cell(event, key)]);
    }
    t.render()
}

fn status_view(status: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in ["id", "status"] {
        t.row(vec![key.to_string(), cell(status, key)]);
    }
    t.render()
}

fn slot_table(slots: &[Value]) -> String {
    let mut t = Table::new(&["START", "END"]);
    for s in slots {
        t.row(vec![cell(s, "start"), cell(s, "end")]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_checked_before_sending() {
        assert_eq!(local_date("2030-03-15").as_deref(), Ok("2030-03-15"));
        for bad in ["2030-02-30", "2030-3-15", "tomorrow", ""] {
            assert!(local_date(bad).is_err(), "{bad}");
        }
        assert_eq!(local_time("08:05").as_deref(), Ok("08:05"));
        assert_eq!(local_time("23:59:30").as_deref(), Ok("23:59:30"));
        for bad in ["8:00", "24:00", "12:60", "noon", ""] {
            assert!(local_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_flag_working_hours_only_when_outside() {
        let inside = json!({"id": "e1", "name": "a", "start": "s", "end": "e",
            "placement": "auto", "status": "pending", "outside_working_hours": false});
        let text = event_table(std::slice::from_ref(&inside));
        assert!(!text.contains("NOTE"), "{text}");
        let outside = json!({"id": "e2", "name": "b", "start": null, "end": null,
            "placement": "explicit", "status": "pending", "outside_working_hours": true});
        let text = event_table(&[inside, outside.clone()]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("NOTE"), "{text}");
        assert!(lines[1].ends_with("pending"), "{text}");
        assert!(lines[2].ends_with("outside working hours"), "{text}");
        let detail = event_detail(&json!({"duration": 2700, "attendees": ["ann"]}));
        assert!(detail.contains("duration      45m\n"), "{detail}");
        assert!(!detail.contains("outside"), "{detail}");
        assert!(event_detail(&outside).contains("outside_working_hours  true\n"));
    }

    #[test]
    fn refused_auto_placements_say_what_to_try() {
        let refused = CliError::Refused("Conflict (409): x\n  reason: busy".into());
        assert!(matches!(
            placement_hint(refused, false),
            CliError::Refused(m) if m.ends_with("open slots)")
        ));
        let explicit = CliError::Refused("Conflict (409): x\n  reason: busy".into());
        assert!(matches!(
            placement_hint(explicit, true),
            CliError::Refused(m) if m.ends_with("reason: busy")
        ));
    }
}
