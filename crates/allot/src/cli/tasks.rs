//! `allot tasks ...`: create, inspect, change and trigger tasks through the
//! API, one command per route.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{ApiArgs, Client, id};
use super::error::CliError;
use super::executions::execution_detail;
use super::output::{emit, print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};
use super::task_body::{BODY_FLAGS, TaskFields, create_body, read_body, update_body};

#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: TasksCommand,
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Schedule a new task.
    Create(CreateArgs),
    /// List tasks in creation order.
    List(ListArgs),
    /// Show one task.
    Get(IdArg),
    /// Change a task's name, params, schedule, timeout or policies (only the given fields).
    Update(UpdateArgs),
    /// Delete a task; its execution history stays readable.
    Delete(IdArg),
    /// Stop scheduling a task until it is resumed.
    Pause(IdArg),
    /// Resume a paused task from its next future run.
    Resume(IdArg),
    /// Run a task once, now; prints the started execution.
    Run(IdArg),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The task's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the task by.
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// What a run does: sleep, counter, http or webhook.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub kind: Option<String>,
    #[command(flatten)]
    pub fields: TaskFields,
    /// Send this JSON file as the whole request body instead of the flags (`-` reads stdin).
    #[arg(long, value_name = "PATH", conflicts_with_all = BODY_FLAGS)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The task's id.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub fields: TaskFields,
    /// Send this JSON file as the whole PATCH body instead of the flags (`-` reads stdin).
    #[arg(long, value_name = "PATH", conflicts_with_all = BODY_FLAGS)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tasks in this state: active, paused or completed.
    #[arg(long)]
    pub state: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

pub async fn run(args: TasksArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: TasksArgs) -> Result<(), CliError> {
    let json = args.api.json;
    // Bodies are built before the client so that a bad flag is reported
    // as such even when no token or server is configured yet.
    match args.command {
        TasksCommand::Create(a) => {
            let body = match (&a.file, &a.name, &a.kind) {
                (Some(path), _, _) => read_body(path)?,
                (None, Some(name), Some(kind)) => create_body(name, kind, &a.fields)?,
                _ => {
                    return Err(CliError::Usage(
                        "give --name and --kind, or --file".to_string(),
                    ));
                }
            };
            let task = Client::new(&args.api)?
                .post(&["tasks"], Some(&body))
                .await?;
            print_doc(json, &task, task_detail)?;
        }
        TasksCommand::List(a) => {
            let client = Client::new(&args.api)?;
            let doc = fetch(&client, &["tasks"], &[("state", a.state)], &a.page).await?;
            print_list(json, &doc, "no tasks", task_table)?;
        }
        TasksCommand::Get(a) => {
            let task = Client::new(&args.api)?
                .get(&["tasks", id("task", &a.id)?], &[])
                .await?;
            print_doc(json, &task, task_detail)?;
        }
        TasksCommand::Update(a) => {
            let task_id = id("task", &a.id)?;
            let body = match &a.file {
                Some(path) => read_body(path)?,
                None => update_body(a.name.as_deref(), &a.fields)?,
            };
            let task = Client::new(&args.api)?
                .patch(&["tasks", task_id], &body)
                .await?;
            print_doc(json, &task, task_detail)?;
        }
        TasksCommand::Delete(a) => {
            let task_id = id("task", &a.id)?;
            Client::new(&args.api)?.delete(&["tasks", task_id]).await?;
            // 204 has no document to print; with --json the exit code says it all.
            if !json {
                emit(&format!("deleted task {task_id}\n"))?;
            }
        }
        TasksCommand::Pause(a) => action(&args.api, &a.id, "pause", task_detail).await?,
        TasksCommand::Resume(a) => action(&args.api, &a.id, "resume", task_detail).await?,
        TasksCommand::Run(a) => action(&args.api, &a.id, "run", execution_detail).await?,
    }
    Ok(())
}

/// `POST /v1/tasks/{id}/{verb}` and print what comes back.
async fn action(
    api: &ApiArgs,
    task_id: &str,
    verb: &str,
    render: fn(&Value) -> String,
) -> Result<(), CliError> {
    let task_id = id("task", task_id)?;
    let doc = Client::new(api)?
        .post(&["tasks", task_id, verb], None)
        .await?;
    print_doc(api.json, &doc, render)?;
    Ok(())
}

/// `every 30s`, `at 2030-01-01T00:00:00Z`, `cron 0 9 * * 1-5 (Europe/Paris)`.
pub fn schedule_summary(schedule: &Value) -> String {
    let text = |key| schedule.get(key).and_then(Value::as_str);
    let zone = text("timezone")
        .map(|z| format!(" ({z})"))
        .unwrap_or_default();
    if let Some(every) = text("every") {
        format!("every {every}")
    } else if let Some(at) = text("at") {
        format!("at {at}{zone}")
    } else if let Some(cron) = text("cron") {
        format!("cron {cron}{zone}")
    } else {
        schedule.to_string()
    }
}

fn task_table(tasks: &[Value]) -> String {
    let mut t = Table::new(&["ID", "NAME", "KIND", "SCHEDULE", "STATE", "NEXT RUN"]);
    for task in tasks {
        t.row(vec![
            cell(task, "id"),
            cell(task, "name"),
            cell(task, "kind"),
            schedule_summary(task.get("schedule").unwrap_or(&Value::Null)),
            cell(task, "state"),
            cell(task, "next_run_at"),
        ]);
    }
    t.render()
}

fn task_detail(task: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in ["id", "name", "kind"] {
        t.row(vec![key.to_string(), cell(task, key)]);
    }
    t.row(vec![
        "schedule".into(),
        schedule_summary(task.get("schedule").unwrap_or(&Value::Null)),
    ]);
    for key in [
        "state",
        "next_run_at",
        "params",
        "timeout",
        "overlap",
        "misfire",
        "running_execution_id",
        "created_at",
        "updated_at",
    ] {
        t.row(vec![key.to_string(), cell(task, key)]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schedule_summaries() {
        assert_eq!(
            schedule_summary(&json!({"every": "30s", "start_at": "2030-01-01T00:00:00Z"})),
            "every 30s"
        );
        assert_eq!(
            schedule_summary(&json!({"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"})),
            "cron 0 9 * * 1-5 (Europe/Paris)"
        );
        assert_eq!(
            schedule_summary(&json!({"at": "2030-01-01T00:00:00Z"})),
            "at 2030-01-01T00:00:00Z"
        );
    }

    #[test]
    fn task_list_columns() {
        let task = json!({"id": "t1", "name": "nap", "kind": "sleep", "schedule": {"every": "1h"},
            "state": "paused", "next_run_at": null});
        assert_eq!(
            task_table(&[task]),
            "ID  NAME  KIND   SCHEDULE  STATE   NEXT RUN\nt1  nap   sleep  every 1h  paused  -\n"
        );
    }
}
