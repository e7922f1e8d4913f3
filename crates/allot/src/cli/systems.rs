//! `allot systems ...`: the things entries are booked on, their free
//! capacity and the free slots of a given length.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::booking::{
    Body, capability_query, capability_set, deleted, duration, joined, strings, time,
};
use super::client::{ApiArgs, Client, id};
use super::error::CliError;
use super::output::{emit, print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct SystemsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: SystemsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SystemsCommand {
    /// Register a system: how many entries may overlap on it, and the
    /// capabilities entries may require.
    #[command(
        after_help = "Example:\n  allot systems create --name rig-1 --capacity 2 --capability gpu --capability ssd"
    )]
    Create(CreateArgs),
    /// List systems in creation order.
    #[command(after_help = "Example:\n  allot systems list --all --json | jq -r '.items[].id'")]
    List(ListArgs),
    /// Show one system.
    #[command(after_help = "Example:\n  allot systems get 0199a2b4-7c1e-7f00-8000-000000000000")]
    Get(IdArg),
    /// Change a system's name, capacity, capabilities or time zone (only the
    /// given fields). Refused (409) when live entries or outages still need
    /// what would be taken away; the error lists them.
    #[command(
        after_help = "Example:\n  allot systems update SYSTEM_ID --capacity 3 --capability gpu"
    )]
    Update(UpdateArgs),
    /// Delete a system with its history. Refused (409) while it has entries
    /// that have not ended.
    #[command(after_help = "Example:\n  allot systems delete SYSTEM_ID")]
    Delete(IdArg),
    /// Free capacity over time, as START END FREE segments (0 where an
    /// outage blocks).
    #[command(
        after_help = "Example:\n  allot systems availability SYSTEM_ID --from now --to +1d --capability gpu"
    )]
    Availability(AvailabilityArgs),
    /// The earliest spans where an entry of --duration would be accepted.
    #[command(
        after_help = "Example:\n  allot systems slots SYSTEM_ID --duration 1h30m --from +1h --limit 3"
    )]
    Slots(SlotsArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The system's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the system by, e.g. rig-1.
    #[arg(long)]
    pub name: String,
    /// How many entries may overlap at any instant (at least 1).
    #[arg(long, value_name = "N")]
    pub capacity: i64,
    /// A capability entries on this system may require, e.g. gpu. Repeat the
    /// flag or separate with commas for several.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// IANA time zone, informational (e.g. Europe/Paris).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The system's id.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new capacity (at least 1).
    #[arg(long, value_name = "N")]
    pub capacity: Option<i64>,
    /// The new capability set: replaces the current one. Repeat the flag or
    /// separate with commas, e.g. --capability gpu,ssd.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// Remove every capability.
    #[arg(long, conflicts_with = "capabilities")]
    pub no_capabilities: bool,
    /// A new IANA time zone; "" clears it.
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

/// The span and capabilities a search is about.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Search from this time: RFC 3339 (2030-01-01T09:00:00Z), `now` or
    /// relative to now (+1h). Default: now.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Search until this time, same forms as --from. Default: 7 days after
    /// --from for availability, 30 days for slots.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// A capability the entry would require; outages of other capabilities
    /// do not count. Repeat or separate with commas.
    #[arg(long = "capability", value_name = "NAME", value_delimiter = ',')]
    pub capabilities: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AvailabilityArgs {
    /// The system's id.
    pub id: String,
    #[command(flatten)]
    pub search: SearchArgs,
}

#[derive(Debug, Args)]
pub struct SlotsArgs {
    /// The system's id.
    pub id: String,
    /// How long the entry would be, e.g. 30m or 1h30m.
    #[arg(long, value_parser = duration)]
    pub duration: String,
    #[command(flatten)]
    pub search: SearchArgs,
    /// At most this many slots (the server allows 1 to 1000; default 10).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

pub async fn run(args: SystemsArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: SystemsArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        SystemsCommand::Create(a) => {
            let body = Body::default()
                .value("name", Some(json!(a.name)))
                .value("capacity", Some(json!(a.capacity)))
                .value("capabilities", Some(strings(&a.capabilities)))
                .text("timezone", &a.timezone)
                .done();
            let system = Client::new(&args.api)?
                .post(&["systems"], Some(&body))
                .await?;
            print_doc(json, &system, system_detail)?;
        }
        SystemsCommand::List(a) => {
            let client = Client::new(&args.api)?;
            let doc = fetch(&client, &["systems"], &[], &a.page).await?;
            print_list(json, &doc, "no systems", system_table)?;
        }
        SystemsCommand::Get(a) => {
            let system = Client::new(&args.api)?
                .get(&["systems", id("system", &a.id)?], &[])
                .await?;
            print_doc(json, &system, system_detail)?;
        }
        SystemsCommand::Update(a) => {
            let system_id = id("system", &a.id)?;
            let body = Body::default()
                .text("name", &a.name)
                .value("capacity", a.capacity.map(|c| json!(c)))
                .value(
                    "capabilities",
                    capability_set(&a.capabilities, a.no_capabilities),
                )
                .text("timezone", &a.timezone)
                .non_empty("--name, --capacity, --capability, --no-capabilities or --timezone")?;
            let system = Client::new(&args.api)?
                .patch(&["systems", system_id], &body)
                .await?;
            print_doc(json, &system, system_detail)?;
        }
        SystemsCommand::Delete(a) => {
            let system_id = id("system", &a.id)?;
            Client::new(&args.api)?
                .delete(&["systems", system_id])
                .await?;
            deleted(json, "system", system_id)?;
        }
        SystemsCommand::Availability(a) => {
            let system_id = id("system", &a.id)?;
            let doc = Client::new(&args.api)?
                .get(&["systems", system_id, "availability"], &a.search.query())
                .await?;
            print_doc(json, &doc, availability_view)?;
        }
        SystemsCommand::Slots(a) => {
            let system_id = id("system", &a.id)?;
            let mut query = a.search.query();
            query.push(("duration", Some(a.duration)));
            query.push(("limit", a.limit.map(|n| n.to_string())));
            let doc = Client::new(&args.api)?
                .get(&["systems", system_id, "slots"], &query)
                .await?;
            if json {
                emit(&format!("{doc}\n"))?;
            } else {
                print_list(
                    false,
                    &doc,
                    "no free slot of that length between --from and --to",
                    slot_table,
                )?;
                emit(&blocked_note(&doc))?;
            }
        }
    }
    Ok(())
}

impl SearchArgs {
    fn query(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("capabilities", capability_query(&self.capabilities)),
        ]
    }
}

/// Outages present now take no new entries: said after the figures, since
/// they explain an empty answer.
fn blocked_note(doc: &Value) -> String {
    match joined(doc, "blocked_by").as_str() {
        "-" => String::new(),
        ids => format!("blocked now by outages {ids}: no new entries until they end\n"),
    }
}

fn system_table(systems: &[Value]) -> String {
    let mut t = Table::new(&["ID", "NAME", "CAPACITY", "CAPABILITIES", "TIMEZONE"]);
    for s in systems {
        t.row(vec![
            cell(s, "id"),
            cell(s, "name"),
            cell(s, "capacity"),
            joined(s, "capabilities"),
            cell(s, "timezone"),
        ]);
    }
    t.render()
}

fn system_detail(system: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in [
        "id",
        "name",
        "capacity",
        "capabilities",
        "timezone",
        "version",
        "created_at",
        "updated_at",
    ] {
        t.row(vec![key.to_string(), joined(system, key)]);
    }
    t.render()
}

fn availability_view(doc: &Value) -> String {
    let mut t = Table::new(&["START", "END", "FREE"]);
    for segment in doc
        .get("segments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let part = |i: usize| match segment.get(i) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "-".to_string(),
        };
        t.row(vec![part(0), part(1), part(2)]);
    }
    format!(
        "capacity {}\n{}{}",
        cell(doc, "capacity"),
        t.render(),
        blocked_note(doc)
    )
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
    use super::super::pages::items;
    use super::*;

    #[test]
    fn availability_lists_segments_and_blockers() {
        let doc = json!({"system_id": "s", "capacity": 2,
            "segments": [["2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z", 2]],
            "blocked_by": ["o1"]});
        assert_eq!(
            availability_view(&doc),
            "capacity 2\nSTART                 END                   FREE\n\
             2030-01-01T00:00:00Z  2030-01-01T01:00:00Z  2\n\
             blocked now by outages o1: no new entries until they end\n"
        );
    }

    #[test]
    fn system_rows() {
        let doc = json!({"items": [{"id": "s1", "name": "rig", "capacity": 2,
            "capabilities": ["gpu"], "timezone": null}]});
        assert_eq!(
            system_table(items(&doc).unwrap()),
            "ID  NAME  CAPACITY  CAPABILITIES  TIMEZONE\ns1  rig   2         gpu           -\n"
        );
    }
}
