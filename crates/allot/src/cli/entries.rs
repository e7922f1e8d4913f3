//! `allot entries ...`: book, move, list and cancel entries on a system.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::booking::{Body, capability_set, deleted, joined, strings, time};
use super::client::{ApiArgs, Client, Method, id};
use super::error::CliError;
use super::output::{print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct EntriesArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: EntriesCommand,
}

#[derive(Debug, Subcommand)]
pub enum EntriesCommand {
    /// Book an entry on a system for [--start, --end). Refused (409) when
    /// the system is full then (capacity_exceeded), an outage is in
    /// progress (outage_present) or covers the span (outage_conflict); the
    /// error names the entries or outages in the way.
    #[command(
        after_help = "Examples:\n  allot entries create --system SYSTEM_ID --start 2030-01-01T09:00:00Z --end 2030-01-01T10:00:00Z --label build\n  allot entries create --system SYSTEM_ID --start +1h --end +2h --capability gpu --metadata '{\"job\":42}'"
    )]
    Create(CreateArgs),
    /// A system's entries in start order.
    #[command(
        after_help = "Example:\n  allot entries list --system SYSTEM_ID --from now --to +1d --status active"
    )]
    List(ListArgs),
    /// Show one entry, with its version and, once evicted, why.
    #[command(after_help = "Example:\n  allot entries get ENTRY_ID --json | jq -r .status")]
    Get(IdArg),
    /// Move, resize, relabel or change an entry's capabilities (only the
    /// given fields). With --if-version the change applies only if nobody
    /// changed the entry since (409 version_conflict otherwise).
    #[command(
        after_help = "Example:\n  allot entries update ENTRY_ID --start 2030-01-01T10:00:00Z --end 2030-01-01T11:00:00Z --if-version 1"
    )]
    Update(UpdateArgs),
    /// Cancel an entry: it is kept with status deleted and its span freed.
    #[command(after_help = "Example:\n  allot entries delete ENTRY_ID")]
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The entry's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The system to book on (its id).
    #[arg(long, value_name = "ID")]
    pub system: String,
    /// Inclusive start: RFC 3339 (2030-01-01T09:00:00Z), `now`, or relative
    /// to now (+1h, -30m).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub start: String,
    /// Exclusive end, after --start; same forms as --start.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub end: String,
    /// A capability the entry requires; the system must have it. Repeat the
    /// flag or separate with commas, e.g. --capability gpu,ssd.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// A short text to recognise the entry by.
    #[arg(long)]
    pub label: Option<String>,
    /// Any JSON object, kept as given, e.g. '{"job":42}'.
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The system whose entries to list (its id).
    #[arg(long, value_name = "ID")]
    pub system: String,
    /// Only entries ending after this time: RFC 3339, `now` or relative (+1h).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only entries starting before this time; same forms as --from.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Only entries with this status (default: all).
    #[arg(long, value_parser = ["active", "evicted", "deleted"])]
    pub status: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The entry's id.
    pub id: String,
    /// A new start: RFC 3339, `now` or relative to now (+1h).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// A new end; same forms as --start.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// The new set of required capabilities: replaces the current one.
    /// Repeat the flag or separate with commas.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// Require no capability any more.
    #[arg(long, conflicts_with = "capabilities")]
    pub no_capabilities: bool,
    /// A new label.
    #[arg(long)]
    pub label: Option<String>,
    /// New metadata, a JSON object replacing the old, e.g. '{"job":43}'.
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// Apply only if the entry is still at this version (sent as If-Match;
    /// `entries get` shows the version).
    #[arg(long, value_name = "V")]
    pub if_version: Option<i64>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The entry's id.
    pub id: String,
    /// Delete only if the entry is still at this version (sent as If-Match).
    #[arg(long, value_name = "V")]
    pub if_version: Option<i64>,
}

pub async fn run(args: EntriesArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: EntriesArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        EntriesCommand::Create(a) => {
            let system_id = id("system", &a.system)?;
            let body = Body::default()
                .text("start", &Some(a.start))
                .text("end", &Some(a.end))
                .value("capabilities", Some(strings(&a.capabilities)))
                .text("label", &a.label)
                .metadata(&a.metadata)?
                .done();
            let entry = Client::new(&args.api)?
                .post(&["systems", system_id, "entries"], Some(&body))
                .await?;
            print_doc(json, &entry, entry_detail)?;
        }
        EntriesCommand::List(a) => {
            let system_id = id("system", &a.system)?;
            let client = Client::new(&args.api)?;
            let query = [("from", a.from), ("to", a.to), ("status", a.status)];
            let doc = fetch(&client, &["systems", system_id, "entries"], &query, &a.page).await?;
            print_list(json, &doc, "no entries", entry_table)?;
        }
        EntriesCommand::Get(a) => {
            let entry = Client::new(&args.api)?
                .get(&["entries", id("entry", &a.id)?], &[])
                .await?;
            print_doc(json, &entry, entry_detail)?;
        }
        EntriesCommand::Update(a) => {
            let entry_id = id("entry", &a.id)?;
            let body = Body::default()
                .text("start", &a.start)
                .text("end", &a.end)
                .value(
                    "capabilities",
                    capability_set(&a.capabilities, a.no_capabilities),
                )
                .text("label", &a.label)
                .metadata(&a.metadata)?
                .non_empty(
                    "--start, --end, --capability, --no-capabilities, --label or --metadata",
                )?;
            let entry = Client::new(&args.api)?
                .call(
                    Method::PATCH,
                    &["entries", entry_id],
                    &[],
                    Some(&body),
                    a.if_version,
                )
                .await?;
            print_doc(json, &entry, entry_detail)?;
        }
        EntriesCommand::Delete(a) => {
            let entry_id = id("entry", &a.id)?;
            Client::new(&args.api)?
                .call(
                    Method::DELETE,
                    &["entries", entry_id],
                    &[],
                    None,
                    a.if_version,
                )
                .await?;
            deleted(json, "entry", entry_id)?;
        }
    }
    Ok(())
}

fn entry_table(entries: &[Value]) -> String {
    let mut t = Table::new(&["ID", "START", "END", "STATUS", "LABEL", "CAPABILITIES"]);
    for e in entries {
        t.row(vec![
            cell(e, "id"),
            cell(e, "start"),
            cell(e, "end"),
            cell(e, "status"),
            cell(e, "label"),
            joined(e, "capabilities"),
        ]);
    }
    t.render()
}

fn entry_detail(entry: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in [
        "id",
        "system_id",
        "start",
        "end",
        "status",
        "label",
        "capabilities",
        "metadata",
        "version",
    ] {
        t.row(vec![key.to_string(), joined(entry, key)]);
    }
    if let Some(eviction) = entry.get("eviction").filter(|e| !e.is_null()) {
        t.row(vec!["evicted_at".into(), cell(eviction, "at")]);
        t.row(vec!["evicted_by".into(), cell(eviction, "outage_id")]);
        t.row(vec!["evict_reason".into(), cell(eviction, "reason")]);
    }
    for key in ["created_at", "updated_at"] {
        t.row(vec![key.to_string(), cell(entry, key)]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_evicted_entry_says_by_what() {
        let entry = json!({"id": "e1", "status": "evicted", "label": "",
            "capabilities": ["gpu"], "metadata": {},
            "eviction": {"outage_id": "o1", "at": "2030-01-01T00:00:00Z", "reason": "window"}});
        let text = entry_detail(&entry);
        assert!(text.contains("status        evicted\n"), "{text}");
        assert!(text.contains("capabilities  gpu\n"), "{text}");
        assert!(text.contains("evicted_by    o1\n"), "{text}");
        assert!(!entry_detail(&json!({"eviction": null})).contains("evicted_by"));
    }
}
