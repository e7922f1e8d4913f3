//! `allot executions ...`: the run history and what runs next.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{ApiArgs, Client, id};
use super::error::CliError;
use super::output::{print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: ExecutionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExecutionsCommand {
    /// Run history, newest first.
    List(ListArgs),
    /// Show one execution, with its output or error.
    Get(GetArgs),
    /// The next runs across all active tasks, in time order.
    Upcoming(UpcomingArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this task's executions (deleted tasks included).
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    /// Only executions with this status: running, succeeded, failed,
    /// timed_out, skipped or interrupted.
    #[arg(long)]
    pub status: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The execution's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct UpcomingArgs {
    /// At most this many runs (the server allows 1 to 1000; default 50).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Only runs before this time, RFC 3339 (default: 24 hours from now).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

pub async fn run(args: ExecutionsArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: ExecutionsArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        ExecutionsCommand::List(a) => {
            let task_id = a.task.as_deref().map(|t| id("task", t)).transpose()?;
            let client = Client::new(&args.api)?;
            // The filter, not /v1/tasks/{id}/executions: that route answers
            // 404 once the task is deleted, and a deleted task's history
            // stays readable.
            let query = [
                ("task_id", task_id.map(str::to_string)),
                ("status", a.status),
            ];
            let doc = fetch(&client, &["executions"], &query, &a.page).await?;
            print_list(json, &doc, "no executions", execution_table)?;
        }
        ExecutionsCommand::Get(a) => {
            let execution = Client::new(&args.api)?
                .get(&["executions", id("execution", &a.id)?], &[])
                .await?;
            print_doc(json, &execution, execution_detail)?;
        }
        ExecutionsCommand::Upcoming(a) => {
            let doc = Client::new(&args.api)?
                .get(
                    &["executions", "upcoming"],
                    &[
                        ("limit", a.limit.map(|n| n.to_string())),
                        ("until", a.until),
                    ],
                )
                .await?;
            print_list(
                json,
                &doc,
                "no runs scheduled before --until (default: the next 24 hours)",
                upcoming_table,
            )?;
        }
    }
    Ok(())
}

fn execution_table(executions: &[Value]) -> String {
    let mut t = Table::new(&[
        "ID",
        "TASK",
        "STATUS",
        "TRIGGER",
        "SCHEDULED FOR",
        "FINISHED",
    ]);
    for e in executions {
        t.row(vec![
            cell(e, "id"),
            cell(e, "task_name"),
            cell(e, "status"),
            cell(e, "trigger"),
            cell(e, "scheduled_for"),
            cell(e, "finished_at"),
        ]);
    }
    t.render()
}

/// Also what `tasks run` prints: the execution it started.
pub fn execution_detail(execution: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in [
        "id",
        "task_id",
        "task_name",
        "status",
        "trigger",
        "attempt",
        "scheduled_for",
        "started_at",
        "finished_at",
        "error",
        "output",
    ] {
        t.row(vec![key.to_string(), cell(execution, key)]);
    }
    t.render()
}

fn upcoming_table(runs: &[Value]) -> String {
    let mut t = Table::new(&["SCHEDULED FOR", "TASK", "TASK ID"]);
    for r in runs {
        t.row(vec![
            cell(r, "scheduled_for"),
            cell(r, "task_name"),
            cell(r, "task_id"),
        ]);
    }
    t.render()
}
