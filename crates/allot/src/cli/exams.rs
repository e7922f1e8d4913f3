//! `allot exams ...`: the exams provisioning starts one VM per student for.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::booking::{Body, deleted, time};
use super::client::{ApiArgs, Client, id};
use super::error::CliError;
use super::output::{print_doc, print_list};
use super::pages::{PageArgs, fetch};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct ExamsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: ExamsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExamsCommand {
    /// Add an exam: one VM per student, ready by --start, stopped after --end.
    #[command(
        after_help = "Examples:\n  allot exams create --name 'Physics 101' --start 2030-06-03T08:00:00Z --end 2030-06-03T10:00:00Z --students 120\n  allot exams create --name rehearsal --start +2h --end +3h --students 5"
    )]
    Create(CreateArgs),
    /// List exams by start time.
    #[command(after_help = "Example:\n  allot exams list --from now --to +7d")]
    List(ListArgs),
    /// Show one exam.
    #[command(after_help = "Example:\n  allot exams get EXAM_ID --json | jq .students")]
    Get(IdArg),
    /// Change an exam's name, times or number of students (only the given
    /// flags); the result is checked as a whole.
    #[command(after_help = "Example:\n  allot exams update EXAM_ID --students 130 --end +4h")]
    Update(UpdateArgs),
    /// Remove an exam.
    #[command(after_help = "Example:\n  allot exams delete EXAM_ID")]
    Delete(IdArg),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The exam's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the exam by (1 to 200 characters).
    #[arg(long)]
    pub name: String,
    /// When the exam begins: RFC 3339 (2030-06-03T08:00:00Z), `now`, or
    /// relative to now (+2h).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub start: String,
    /// When it ends, after --start; same forms as --start.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub end: String,
    /// How many students, one VM each (at least 1; the server sets the most).
    #[arg(long, value_name = "N")]
    pub students: u32,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only exams starting at or after this time: RFC 3339, `now` or relative (+1h).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only exams starting before this time; same forms as --from.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub to: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The exam's id.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new start: RFC 3339, `now` or relative to now (+2h).
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// A new end; same forms as --start.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// A new number of students.
    #[arg(long, value_name = "N")]
    pub students: Option<u32>,
}

pub async fn run(args: ExamsArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: ExamsArgs) -> Result<(), CliError> {
    let json = args.api.json;
    match args.command {
        ExamsCommand::Create(a) => {
            let body = Body::default()
                .text("name", &Some(a.name))
                .text("start_at", &Some(a.start))
                .text("end_at", &Some(a.end))
                .value("students", Some(json!(a.students)))
                .done();
            let exam = Client::new(&args.api)?
                .post(&["exams"], Some(&body))
                .await?;
            print_doc(json, &exam, exam_detail)?;
        }
        ExamsCommand::List(a) => {
            let client = Client::new(&args.api)?;
            let query = [("from", a.from), ("to", a.to)];
            let doc = fetch(&client, &["exams"], &query, &a.page).await?;
            print_list(json, &doc, "no exams", exam_table)?;
        }
        ExamsCommand::Get(a) => {
            let exam = Client::new(&args.api)?
                .get(&["exams", id("exam", &a.id)?], &[])
                .await?;
            print_doc(json, &exam, exam_detail)?;
        }
        ExamsCommand::Update(a) => {
            let exam_id = id("exam", &a.id)?;
            let body = Body::default()
                .text("name", &a.name)
                .text("start_at", &a.start)
                .text("end_at", &a.end)
                .value("students", a.students.map(|n| json!(n)))
                .non_empty("--name, --start, --end or --students")?;
            let exam = Client::new(&args.api)?
                .patch(&["exams", exam_id], &body)
                .await?;
            print_doc(json, &exam, exam_detail)?;
        }
        ExamsCommand::Delete(a) => {
            let exam_id = id("exam", &a.id)?;
            Client::new(&args.api)?.delete(&["exams", exam_id]).await?;
            deleted(json, "exam", exam_id)?;
        }
    }
    Ok(())
}

fn exam_table(exams: &[Value]) -> String {
    let mut t = Table::new(&["ID", "START", "END", "STUDENTS", "NAME"]);
    for e in exams {
        t.row(vec![
            cell(e, "id"),
            cell(e, "start_at"),
            cell(e, "end_at"),
            cell(e, "students"),
            cell(e, "name"),
        ]);
    }
    t.render()
}

fn exam_detail(exam: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in ["id", "name", "start_at", "end_at", "students"] {
        t.row(vec![key.to_string(), cell(exam, key)]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::super::pages::items;
    use super::*;

    #[test]
    fn exam_rows_and_detail() {
        let doc = json!({"items": [{"id": "x1", "name": "Physics", "students": 120,
            "start_at": "2030-06-03T08:00:00Z", "end_at": "2030-06-03T10:00:00Z"}]});
        assert_eq!(
            exam_table(items(&doc).unwrap()),
            "ID  START                 END                   STUDENTS  NAME\n\
             x1  2030-06-03T08:00:00Z  2030-06-03T10:00:00Z  120       Physics\n"
        );
        let text = exam_detail(&doc["items"][0]);
        assert!(
            text.starts_with("id        x1\nname      Physics\n"),
            "{text}"
        );
        assert!(text.ends_with("students  120\n"), "{text}");
    }
}
