//! `allot notifications tail`: the ordered notification feed every module
//! writes to (calendar: `unplaceable`, `displaced`, `replaced`, `unplaced`,
//! `evicted_by_outage`; provisioning: `exam_infeasible`,
//! `shortfall_changed`, `vm_maybe_leaked`), once or followed with long
//! polls. The token's scopes decide which modules' notifications it reads.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{ApiArgs, Client, id};
use super::error::{CliError, sanitize};
use super::output::{emit, emit_open};
use super::pages::items;
use super::table::cell;

#[derive(Debug, Args)]
pub struct NotificationsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: NotificationsCommand,
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// Print notifications in order: calendar events that could not be
    /// placed (unplaceable, with the reason), moved by an explicit event
    /// (displaced, then replaced or unplaced), evicted by an outage; exams
    /// that cannot be provisioned in full (exam_infeasible,
    /// shortfall_changed) and VMs that may have leaked (vm_maybe_leaked).
    /// A token reads the modules whose read scope it has (calendar:read,
    /// provisioning:read).
    #[command(
        after_help = "Examples:\n  allot notifications tail --calendar CALENDAR_ID\n  allot notifications tail --module provisioning --exam EXAM_ID\n  allot notifications tail --follow --json | jq -c 'select(.kind == \"unplaceable\")'"
    )]
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Start after this notification: the `cursor` of a notification or the
    /// `next_cursor` of a previous answer (default: from the beginning).
    #[arg(long, value_name = "CURSOR", allow_hyphen_values = true)]
    pub after: Option<String>,
    /// Only this module's notifications: calendar or provisioning
    /// (default: every module the token may read).
    #[arg(long, value_name = "MODULE", value_parser = ["calendar", "provisioning"])]
    pub module: Option<String>,
    /// Only this calendar's notifications (its id).
    #[arg(long, value_name = "ID")]
    pub calendar: Option<String>,
    /// Only this exam's notifications (its id).
    #[arg(long, value_name = "ID")]
    pub exam: Option<String>,
    /// Notifications per request (the server allows 1 to 1000; default 50).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Keep waiting for new notifications and print each as it arrives,
    /// until Ctrl-C. With --json, one notification per line (JSON Lines).
    #[arg(long)]
    pub follow: bool,
}

pub async fn run(args: NotificationsArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: NotificationsArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        NotificationsCommand::Tail(a) => {
            let calendar = a
                .calendar
                .as_deref()
                .map(|c| id("calendar", c).map(str::to_string))
                .transpose()?;
            let exam = a
                .exam
                .as_deref()
                .map(|e| id("exam", e).map(str::to_string))
                .transpose()?;
            let client = Client::new(&args.api)?;
            let feed = Feed {
                client: &client,
                module: a.module.clone(),
                calendar,
                exam,
                limit: a.limit.map(|n| n.to_string()),
            };
            if a.follow {
                follow(&feed, a.after, json).await?;
            } else {
                let doc = feed.read(a.after.clone(), None).await?;
                if json {
                    emit(&format!("{doc}\n"))?;
                } else {
                    let list = items(&doc)?;
                    if list.is_empty() {
                        let after = if a.after.is_some() {
                            " after that cursor"
                        } else {
                            ""
                        };
                        emit(&format!("no notifications{after}\n"))?;
                    } else {
                        emit(&notification_table(list, true))?;
                        // With nothing new the server hands back --after itself.
                        if let Some(next) = doc.get("next_cursor").and_then(Value::as_str) {
                            eprintln!(
                                "to read what follows: --after {}, or --follow",
                                sanitize(next)
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The query every read of the feed shares.
struct Feed<'a> {
    client: &'a Client,
    module: Option<String>,
    calendar: Option<String>,
    exam: Option<String>,
    limit: Option<String>,
}

impl Feed<'_> {
    /// One page after `after`; with `wait`, the server holds the request
    /// until something new arrives or the wait is over.
    async fn read(&self, after: Option<String>, wait: Option<&str>) -> Result<Value, CliError> {
        let query = [
            ("after", after),
            ("module", self.module.clone()),
            ("calendar_id", self.calendar.clone()),
            ("exam_id", self.exam.clone()),
            ("limit", self.limit.clone()),
            ("wait", wait.map(str::to_string)),
        ];
        self.client.get(&["notifications"], &query).await
    }
}

/// How long each long poll may wait on the server: well inside the
/// client's request timeout.
const WAIT: &str = "30s";
/// Between attempts while the server cannot be reached.
const RETRY: Duration = Duration::from_secs(1);

/// Prints notifications from `after` on, then long-polls for new ones
/// until Ctrl-C or until nobody reads the output. While the server cannot
/// be reached it says so once and keeps trying; a refusal (a bad cursor,
/// a revoked token) ends the command.
async fn follow(feed: &Feed<'_>, mut after: Option<String>, json: bool) -> Result<(), CliError> {
    let mut interrupted = std::pin::pin!(async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handling: Ctrl-C keeps its default effect.
            std::future::pending::<()>().await;
        }
    });
    let mut header = !json;
    let mut failing = false;
    loop {
        let answer = tokio::select! {
            answer = feed.read(after.clone(), Some(WAIT)) => answer,
            () = &mut interrupted => return Ok(()),
        };
        match answer {
            Ok(doc) => {
                if failing {
                    eprintln!("reconnected");
                    failing = false;
                }
                let list = items(&doc)?;
                if !list.is_empty() {
                    let text = if json {
                        list.iter().map(|n| format!("{n}\n")).collect()
                    } else {
                        notification_table(list, std::mem::take(&mut header))
                    };
                    if !emit_open(&text)? {
                        return Ok(());
                    }
                }
                if let Some(next) = doc.get("next_cursor").and_then(Value::as_str) {
                    after = Some(next.to_string());
                }
                // The server waited (or had something): ask again at once.
                continue;
            }
            Err(CliError::Failed(message)) => {
                if !failing {
                    eprintln!("warning: {message}\n  retrying every second; Ctrl-C to stop");
                    failing = true;
                }
            }
            Err(refused) => return Err(refused),
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = &mut interrupted => return Ok(()),
        }
    }
}

/// Why an `unplaceable` notification's event could not be placed; other
/// kinds have no reason.
fn reason(notification: &Value) -> String {
    match notification.get("kind").and_then(Value::as_str) {
        Some("unplaceable") => notification
            .get("data")
            .map(|d| cell(d, "reason"))
            .unwrap_or_else(|| "-".to_string()),
        _ => "-".to_string(),
    }
}

/// Fixed column widths (a feed cursor, the longest kind, three ids, a
/// time to the microsecond), so the batches `--follow` prints over time
/// line up under one header. Calendar notifications fill CALENDAR and
/// EVENT, provisioning ones EXAM.
fn notification_table(notifications: &[Value], header: bool) -> String {
    let line = |cells: [&str; 7]| {
        let [cursor, kind, calendar, event, exam, at, reason] = cells.map(sanitize);
        let text = format!(
            "{cursor:<14}  {kind:<17}  {calendar:<36}  {event:<36}  {exam:<36}  {at:<27}  {reason}"
        );
        format!("{}\n", text.trim_end())
    };
    let mut out = String::new();
    if header {
        out.push_str(&line([
            "CURSOR", "KIND", "CALENDAR", "EVENT", "EXAM", "AT", "REASON",
        ]));
    }
    for n in notifications {
        out.push_str(&line([
            &cell(n, "cursor"),
            &cell(n, "kind"),
            &cell(n, "calendar_id"),
            &cell(n, "event_id"),
            &cell(n, "exam_id"),
            &cell(n, "at"),
            &reason(n),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unplaceable_notifications_say_why() {
        let list = [
            json!({"cursor": "7.0", "module": "calendar", "kind": "unplaceable",
                "calendar_id": "c1", "event_id": null, "exam_id": null,
                "at": "2030-01-01T00:00:00Z", "data": {"reason": "outside_working_hours"}}),
            json!({"cursor": "8.0", "module": "calendar", "kind": "displaced",
                "calendar_id": "c1", "event_id": "e1", "exam_id": null,
                "at": "2030-01-01T00:00:01Z", "data": {"by": "e2"}}),
        ];
        let text = notification_table(&list, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("CURSOR "), "{text}");
        assert!(lines[1].ends_with("  outside_working_hours"), "{text}");
        assert!(lines[2].ends_with("  -"), "{text}");
        assert_eq!(
            lines[0].find("REASON"),
            lines[1].find("outside_working_hours"),
            "{text}"
        );
        assert_eq!(lines[0].find("EVENT"), lines[2].find("e1 "), "{text}");
        assert!(!notification_table(&list, false).contains("KIND"));
    }

    #[test]
    fn provisioning_notifications_show_their_exam() {
        let exam = "0190b6e4-5c3a-7d2e-9a41-0c2f6d1e8b7a";
        let list = [
            json!({"cursor": "7.0", "module": "calendar", "kind": "unplaceable",
                "calendar_id": "c1", "event_id": null, "exam_id": null,
                "at": "2030-01-01T00:00:00Z", "data": {"reason": "busy"}}),
            json!({"cursor": "9.0", "module": "provisioning", "kind": "shortfall_changed",
                "calendar_id": null, "event_id": null, "exam_id": exam,
                "at": "2030-01-01T00:00:02Z", "data": {}}),
        ];
        let text = notification_table(&list, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0].find("EXAM"), lines[2].find(exam), "{text}");
        assert_eq!(lines[0].find("CALENDAR"), lines[1].find("c1 "), "{text}");
        // No calendar, no event: dashes in their columns.
        assert_eq!(lines[0].find("CALENDAR"), lines[2].find("- "), "{text}");
        assert_eq!(lines[0].find("AT"), lines[2].find("2030-"), "{text}");
        assert!(lines[2].ends_with("  -"), "{text}");
    }
}
