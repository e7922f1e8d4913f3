//! `allot outages ...`: planned and unplanned outages of a system, and the
//! booking module's change feed (`outages events`).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::booking::{Body, duration, joined, strings, time};
use super::client::{ApiArgs, Client, Method, id};
use super::error::{CliError, sanitize};
use super::output::{emit, emit_open, print_doc, print_list};
use super::pages::items;
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct OutagesArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: OutagesCommand,
}

#[derive(Debug, Subcommand)]
pub enum OutagesCommand {
    /// Register an outage of a whole system, or of some capabilities.
    ///
    /// planned: known --start and --end; refused (409 outage_conflict,
    /// listing the entries) when active entries overlap it, unless --evict.
    ///
    /// unplanned: has begun (--start, default now) and its end is unknown;
    /// entries inside --window from now are evicted, and keep being evicted
    /// as the window slides, until the outage is resolved.
    #[command(
        after_help = "Examples:\n  allot outages create --system SYSTEM_ID --kind planned --start 2030-01-01T08:00:00Z --end 2030-01-01T12:00:00Z --reason maintenance\n  allot outages create --system SYSTEM_ID --kind unplanned --window 2h --expected-end +4h --capability gpu --reason 'GPU fault'"
    )]
    Create(CreateArgs),
    /// A system's outages in start order.
    #[command(after_help = "Example:\n  allot outages list --system SYSTEM_ID --open")]
    List(ListArgs),
    /// Show one outage.
    #[command(after_help = "Example:\n  allot outages get OUTAGE_ID")]
    Get(IdArg),
    /// Change an outage (only the given fields). planned: --start, --end;
    /// unplanned: --window, --expected-end; both: capabilities and --reason.
    #[command(
        after_help = "Examples:\n  allot outages update OUTAGE_ID --end 2030-01-01T14:00:00Z --evict\n  allot outages update OUTAGE_ID --window 4h --whole-system"
    )]
    Update(UpdateArgs),
    /// End an outage now (cancels a planned one that has not begun).
    #[command(after_help = "Example:\n  allot outages resolve OUTAGE_ID")]
    Resolve(IdArg),
    /// The ordered feed of booking changes: entries created, updated,
    /// deleted and evicted; outages created, updated and resolved.
    #[command(
        after_help = "Examples:\n  allot outages events --limit 20\n  allot outages events --after 1234.0 --follow --json | jq -c 'select(.kind == \"entry.evicted\")'"
    )]
    Events(EventsArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The outage's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The system that is out (its id).
    #[arg(long, value_name = "ID")]
    pub system: String,
    /// planned (known start and end) or unplanned (begun, end unknown).
    #[arg(long, value_parser = ["planned", "unplanned"])]
    pub kind: String,
    #[command(flatten)]
    pub fields: OutageFields,
    /// Only these capabilities are out (default: the whole system). Repeat
    /// the flag or separate with commas, e.g. --capability gpu.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// planned: evict the active entries it overlaps instead of refusing.
    #[arg(long)]
    pub evict: bool,
}

/// The flags `create` and `update` share.
#[derive(Debug, Args)]
pub struct OutageFields {
    /// planned: when it begins; unplanned: when it began (default now, not in
    /// the future). RFC 3339 (2030-01-01T08:00:00Z), `now` or relative (-15m).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// planned only: when it ends; same forms as --start.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// unplanned only: how far ahead of now entries are evicted, e.g. 2h.
    #[arg(long, value_parser = duration)]
    pub window: Option<String>,
    /// unplanned only: when it is expected to end (informational).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub expected_end: Option<String>,
    /// Why, for people reading the outage later.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The system whose outages to list (its id).
    #[arg(long, value_name = "ID")]
    pub system: String,
    /// Only outages that have not ended or been resolved.
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The outage's id.
    pub id: String,
    #[command(flatten)]
    pub fields: OutageFields,
    /// Only these capabilities are out from now on: replaces the set. Repeat
    /// the flag or separate with commas.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// The whole system is out from now on, whatever the capabilities.
    #[arg(long, conflicts_with = "capabilities")]
    pub whole_system: bool,
    /// planned: evict the active entries the changed outage overlaps
    /// instead of refusing.
    #[arg(long)]
    pub evict: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Start after this event: the `cursor` of an event or the `next_cursor`
    /// of a previous page (default: from the beginning).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
    /// Events per request (the server allows 1 to 1000; default 50).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Keep polling every second and print new events as they come, until
    /// Ctrl-C. With --json, one event per line (JSON Lines).
    #[arg(long)]
    pub follow: bool,
}

pub async fn run(args: OutagesArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: OutagesArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        OutagesCommand::Create(a) => {
            let system_id = id("system", &a.system)?;
            let capabilities = (!a.capabilities.is_empty()).then(|| strings(&a.capabilities));
            let body = a
                .fields
                .body()
                .value("kind", Some(json!(a.kind)))
                .value("capabilities", capabilities)
                .done();
            let change = Client::new(&args.api)?
                .call(
                    Method::POST,
                    &["systems", system_id, "outages"],
                    &[("evict", a.evict.then(|| "true".to_string()))],
                    Some(&body),
                    None,
                )
                .await
                .map_err(evict_hint)?;
            print_doc(json, &change, outage_detail)?;
        }
        OutagesCommand::List(a) => {
            let system_id = id("system", &a.system)?;
            let doc = Client::new(&args.api)?
                .get(
                    &["systems", system_id, "outages"],
                    &[("state", a.open.then(|| "open".to_string()))],
                )
                .await?;
            let empty = if a.open {
                "no open outages"
            } else {
                "no outages"
            };
            print_list(json, &doc, empty, outage_table)?;
        }
        OutagesCommand::Get(a) => {
            let outage = Client::new(&args.api)?
                .get(&["outages", id("outage", &a.id)?], &[])
                .await?;
            print_doc(json, &outage, outage_detail)?;
        }
        OutagesCommand::Update(a) => {
            let outage_id = id("outage", &a.id)?;
            let capabilities = if a.whole_system {
                Some(Value::Null)
            } else {
                (!a.capabilities.is_empty()).then(|| strings(&a.capabilities))
            };
            let body = a.fields.body().value("capabilities", capabilities).non_empty(
                "--start, --end, --window, --expected-end, --capability, --whole-system or --reason",
            )?;
            let change = Client::new(&args.api)?
                .call(
                    Method::PATCH,
                    &["outages", outage_id],
                    &[("evict", a.evict.then(|| "true".to_string()))],
                    Some(&body),
                    None,
                )
                .await
                .map_err(evict_hint)?;
            print_doc(json, &change, outage_detail)?;
        }
        OutagesCommand::Resolve(a) => {
            let outage_id = id("outage", &a.id)?;
            let outage = Client::new(&args.api)?
                .post(&["outages", outage_id, "resolve"], None)
                .await?;
            print_doc(json, &outage, outage_detail)?;
        }
        OutagesCommand::Events(a) => {
            let client = Client::new(&args.api)?;
            let limit = a.limit.map(|n| n.to_string());
            if a.follow {
                follow(&client, a.after, limit, json).await?;
            } else {
                let query = [("after", a.after.clone()), ("limit", limit)];
                let doc = client.get(&["booking", "events"], &query).await?;
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
                        emit(&format!("no events{after}\n"))?;
                    } else {
                        emit(&event_table(list, true))?;
                    }
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
    Ok(())
}

impl OutageFields {
    fn body(&self) -> Body {
        Body::default()
            .text("start", &self.start)
            .text("end", &self.end)
            .text("window", &self.window)
            .text("expected_end", &self.expected_end)
            .text("reason", &self.reason)
    }
}

/// The server's advice names its query parameter (`?evict=true`); here
/// that is a flag.
fn evict_hint(e: CliError) -> CliError {
    match e {
        CliError::Refused(m) if m.contains("\n  problem: outage_conflict") => {
            CliError::Refused(format!("{m}\n  (add --evict to evict these entries)"))
        }
        other => other,
    }
}

const POLL: Duration = Duration::from_secs(1);

/// Prints events from `after` on, then polls for new ones every second
/// until Ctrl-C or until nobody reads the output. While the server cannot
/// be reached it says so once and keeps trying; a refusal (a bad cursor,
/// a revoked token) ends the command.
async fn follow(
    client: &Client,
    mut after: Option<String>,
    limit: Option<String>,
    json: bool,
) -> Result<(), CliError> {
    let mut interrupted = std::pin::pin!(async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handling: Ctrl-C keeps its default effect.
            std::future::pending::<()>().await;
        }
    });
    let mut header = !json;
    let mut failing = false;
    loop {
        let query = [("after", after.clone()), ("limit", limit.clone())];
        let answer = tokio::select! {
            answer = client.get(&["booking", "events"], &query) => answer,
            () = &mut interrupted => return Ok(()),
        };
        let mut got_some = false;
        match answer {
            Ok(doc) => {
                if failing {
                    eprintln!("reconnected");
                    failing = false;
                }
                let list = items(&doc)?;
                if !list.is_empty() {
                    got_some = true;
                    let text = if json {
                        list.iter().map(|e| format!("{e}\n")).collect()
                    } else {
                        event_table(list, std::mem::take(&mut header))
                    };
                    if !emit_open(&text)? {
                        return Ok(());
                    }
                }
                if let Some(next) = doc.get("next_cursor").and_then(Value::as_str) {
                    after = Some(next.to_string());
                }
            }
            Err(CliError::Failed(message)) => {
                if !failing {
                    eprintln!("warning: {message}\n  retrying every second; Ctrl-C to stop");
                    failing = true;
                }
            }
            Err(refused) => return Err(refused),
        }
        // A batch may have been one page of many: ask again at once.
        if got_some {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = &mut interrupted => return Ok(()),
        }
    }
}

/// What an event is about: its entry, or its outage.
fn subject(event: &Value) -> String {
    match (event.get("entry_id"), event.get("outage_id")) {
        (Some(Value::String(e)), _) => format!("entry {e}"),
        (_, Some(Value::String(o))) => format!("outage {o}"),
        _ => "-".to_string(),
    }
}

/// Fixed column widths (a time to the microsecond, the longest kind, an
/// outage subject, a system id), so the batches `--follow` prints over time
/// line up under one header.
fn event_table(events: &[Value], header: bool) -> String {
    let line = |cells: [&str; 5]| {
        let [at, kind, subject, system, cursor] = cells.map(sanitize);
        let text = format!("{at:<27}  {kind:<15}  {subject:<43}  {system:<36}  {cursor}");
        format!("{}\n", text.trim_end())
    };
    let mut out = String::new();
    if header {
        out.push_str(&line(["AT", "KIND", "SUBJECT", "SYSTEM", "CURSOR"]));
    }
    for e in events {
        out.push_str(&line([
            &cell(e, "at"),
            &cell(e, "kind"),
            &subject(e),
            &cell(e, "system_id"),
            &cell(e, "cursor"),
        ]));
    }
    out
}

/// `null` capabilities: the whole system is out.
fn scope(outage: &Value) -> String {
    match outage.get("capabilities") {
        None | Some(Value::Null) => "whole system".to_string(),
        Some(_) => joined(outage, "capabilities"),
    }
}

fn outage_table(outages: &[Value]) -> String {
    let mut t = Table::new(&[
        "ID", "KIND", "STATE", "START", "END", "WINDOW", "SCOPE", "REASON",
    ]);
    for o in outages {
        t.row(vec![
            cell(o, "id"),
            cell(o, "kind"),
            cell(o, "state"),
            cell(o, "start"),
            cell(o, "end"),
            cell(o, "window"),
            scope(o),
            cell(o, "reason"),
        ]);
    }
    t.render()
}

/// One outage; after a create or update also the entries it evicted.
fn outage_detail(outage: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in ["id", "system_id", "kind", "state"] {
        t.row(vec![key.to_string(), cell(outage, key)]);
    }
    t.row(vec!["capabilities".into(), scope(outage)]);
    for key in [
        "start",
        "end",
        "expected_end",
        "window",
        "reason",
        "resolved_at",
        "version",
        "created_at",
        "updated_at",
    ] {
        t.row(vec![key.to_string(), cell(outage, key)]);
    }
    if outage.get("evicted").is_some() {
        t.row(vec!["evicted".into(), joined(outage, "evicted")]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_scope_and_evictions() {
        let change = json!({"id": "o1", "kind": "unplanned", "capabilities": null,
            "window": "2h", "evicted": ["e1", "e2"]});
        let text = outage_detail(&change);
        assert!(text.contains("capabilities  whole system\n"), "{text}");
        assert!(text.contains("evicted       e1, e2\n"), "{text}");
        let plain = outage_detail(&json!({"capabilities": ["gpu"]}));
        assert!(plain.contains("capabilities  gpu\n"), "{plain}");
        assert!(!plain.contains("evicted"), "{plain}");
    }

    #[test]
    fn events_name_their_subject() {
        let events = [
            json!({"at": "t1", "kind": "entry.evicted", "system_id": "s", "entry_id": "e1",
                "outage_id": "o1", "cursor": "5.0"}),
            json!({"at": "t2", "kind": "outage.resolved", "system_id": "s", "entry_id": null,
                "outage_id": "o1", "cursor": "6.0"}),
        ];
        let text = event_table(&events, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("AT "), "{text}");
        assert!(lines[1].contains("  entry e1  "), "{text}");
        assert!(lines[2].contains("  outage o1  "), "{text}");
        let column = |l: &str| l.find("CURSOR").or_else(|| l.find(['5', '6']));
        assert_eq!(column(lines[0]), column(lines[1]), "{text}");
        assert_eq!(column(lines[1]), column(lines[2]), "{text}");
        assert!(!event_table(&events, false).contains("KIND"));
    }
}
