//! `allot provisioning status|plan`: where each exam's VMs are, what the
//! plan predicts, and the start and stop calls it will make.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::booking::time;
use super::client::{ApiArgs, Client, id};
use super::error::CliError;
use super::output::{emit, print_doc};
use super::table::{Table, cell};

#[derive(Debug, Args)]
pub struct ProvisioningArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: ProvisioningCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProvisioningCommand {
    /// One exam's VMs (requested, ready, stopped, ...) and forecast
    /// (predicted ready at its start, shortfall, when fully ready, next
    /// start call); without an id, one line per exam not yet over.
    #[command(
        after_help = "Examples:\n  allot provisioning status\n  allot provisioning status EXAM_ID\n  allot provisioning status EXAM_ID --json | jq .shortfall"
    )]
    Status(StatusArgs),
    /// The planned start and stop calls in time order, as runs (COUNT
    /// calls of one exam from WHEN to UNTIL).
    #[command(
        after_help = "Examples:\n  allot provisioning plan\n  allot provisioning plan --from now --to +2h\n  allot provisioning plan --json | jq '.exams[] | {name, shortfall: .forecast.shortfall}'"
    )]
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The exam's id; without it, every exam not yet over.
    pub exam_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only calls at or after this time: RFC 3339, `now` or relative (+1h);
    /// default now.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only calls before this time; same forms as --from; default no end.
    #[arg(long, value_name = "TIME", value_parser = time, allow_hyphen_values = true)]
    pub to: Option<String>,
}

pub async fn run(args: ProvisioningArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

async fn execute(args: ProvisioningArgs) -> Result<(), CliError> {
    let json = args.api.json;
    let client = Client::new(&args.api)?;
    match args.command {
        ProvisioningCommand::Status(StatusArgs {
            exam_id: Some(exam),
        }) => {
            let exam = id("exam", &exam)?;
            let doc = client.get(&["exams", exam, "provisioning"], &[]).await?;
            print_doc(json, &doc, status_detail)?;
        }
        ProvisioningCommand::Status(StatusArgs { exam_id: None }) => {
            let plan = client.get(&["provisioning", "plan"], &[]).await?;
            let items = upcoming(&plan)?;
            if json {
                let doc = json!({"items": items, "truncated": plan["truncated"]});
                emit(&format!("{doc}\n"))?;
            } else {
                if items.is_empty() {
                    emit("no exams to come\n")?;
                } else {
                    emit(&status_table(&items))?;
                }
                notes(&plan);
            }
        }
        ProvisioningCommand::Plan(a) => {
            let plan = client
                .get(&["provisioning", "plan"], &[("from", a.from), ("to", a.to)])
                .await?;
            if json {
                emit(&format!("{plan}\n"))?;
            } else {
                let runs = runs(&plan)?;
                if runs.is_empty() {
                    emit("no planned calls\n")?;
                } else {
                    emit(&plan_table(&runs))?;
                }
                notes(&plan);
            }
        }
    }
    Ok(())
}

/// What a person should know besides the table, on stderr.
fn notes(plan: &Value) {
    if plan["truncated"] == Value::Bool(true) {
        eprintln!(
            "the server's answer stops at 1000 exams or 1000 runs: narrow it with --to to see the rest"
        );
    }
    if plan["executor"] == Value::Bool(false) {
        eprintln!(
            "note: the server has no cloud to call (--cloud-url), so these calls are planned but none is made"
        );
    }
}

fn exams(plan: &Value) -> Result<&[Value], CliError> {
    plan.get("exams")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| {
            CliError::Failed(
                "the server's answer has no `exams` list; is --server/ALLOT_SERVER an allot server?"
                    .to_string(),
            )
        })
}

fn instant(doc: &Value, key: &str) -> Option<Timestamp> {
    doc.get(key)?.as_str()?.parse().ok()
}

/// The plan's exams that are not over at its `as_of`, each as one object:
/// the exam's fields and its forecast's.
fn upcoming(plan: &Value) -> Result<Vec<Value>, CliError> {
    let now = instant(plan, "as_of");
    Ok(exams(plan)?
        .iter()
        .filter(|e| e["forecast"].is_object())
        .filter(|e| match (instant(e, "end_at"), now) {
            (Some(end), Some(now)) => end > now,
            _ => true,
        })
        .map(|e| {
            let mut item = serde_json::Map::new();
            for key in ["exam_id", "name", "start_at", "end_at", "deadline"] {
                item.insert(key.to_string(), e[key].clone());
            }
            if let Some(forecast) = e["forecast"].as_object() {
                item.extend(forecast.clone());
            }
            Value::Object(item)
        })
        .collect())
}

fn status_table(items: &[Value]) -> String {
    let mut t = Table::new(&[
        "EXAM",
        "START",
        "NEEDED",
        "READY",
        "PREDICTED",
        "SHORTFALL",
        "FULLY READY AT",
        "NEXT START CALL",
        "NAME",
    ]);
    for e in items {
        t.row(vec![
            cell(e, "exam_id"),
            cell(e, "start_at"),
            cell(e, "needed"),
            cell(e, "ready"),
            cell(e, "predicted_ready_at_start"),
            cell(e, "shortfall"),
            cell(e, "fully_ready_at"),
            cell(e, "next_start_call_at"),
            cell(e, "name"),
        ]);
    }
    t.render()
}

/// The fields of `GET /v1/exams/{id}/provisioning`, in the order a person
/// reads them; fields a newer server adds follow.
const STATUS_FIELDS: [&str; 21] = [
    "exam_id",
    "name",
    "start_at",
    "end_at",
    "deadline",
    "needed",
    "requested",
    "pending",
    "ready",
    "stopping",
    "stopped",
    "failed",
    "maybe_leaked",
    "predicted_ready_at_start",
    "shortfall",
    "feasible",
    "fully_ready_at",
    "next_start_call_at",
    "planned_starts",
    "executor",
    "as_of",
];

fn status_detail(doc: &Value) -> String {
    let mut t = Table::new(&[]);
    for key in STATUS_FIELDS {
        t.row(vec![key.to_string(), cell(doc, key)]);
    }
    if let Some(all) = doc.as_object() {
        for key in all.keys().filter(|k| !STATUS_FIELDS.contains(&k.as_str())) {
            t.row(vec![key.clone(), cell(doc, key)]);
        }
    }
    t.render()
}

/// One line of the plan table.
struct Run {
    at: Option<Timestamp>,
    cells: Vec<String>,
}

/// Every run of the plan, start and stop, in time order (ties: the
/// server's order).
fn runs(plan: &Value) -> Result<Vec<Run>, CliError> {
    let mut out = Vec::new();
    for e in exams(plan)? {
        let exam = match e["name"].as_str() {
            Some(name) => name.to_string(),
            None => format!("(deleted) {}", cell(e, "exam_id")),
        };
        let list = |key: &str| e[key].as_array().cloned().unwrap_or_default();
        for r in list("starts") {
            let slots = match (r["first_slot"].as_u64(), r["count"].as_u64()) {
                (Some(first), Some(n)) if n > 0 => format!("{first}-{}", first + n - 1),
                _ => "-".to_string(),
            };
            out.push(Run {
                at: instant(&r, "first_at"),
                cells: vec![
                    cell(&r, "first_at"),
                    cell(&r, "last_at"),
                    "start".to_string(),
                    cell(&r, "count"),
                    slots,
                    format!(
                        "{} to {}",
                        cell(&r, "first_ready_at"),
                        cell(&r, "last_ready_at")
                    ),
                    exam.clone(),
                ],
            });
        }
        for r in list("stops") {
            out.push(Run {
                at: instant(&r, "first_at"),
                cells: vec![
                    cell(&r, "first_at"),
                    cell(&r, "last_at"),
                    "stop".to_string(),
                    cell(&r, "count"),
                    "-".to_string(),
                    "-".to_string(),
                    exam.clone(),
                ],
            });
        }
    }
    out.sort_by_key(|r| r.at);
    Ok(out)
}

fn plan_table(runs: &[Run]) -> String {
    let mut t = Table::new(&["WHEN", "UNTIL", "CALL", "COUNT", "SLOTS", "READY", "EXAM"]);
    for r in runs {
        t.row(r.cells.clone());
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Value {
        json!({"as_of": "2030-06-03T07:00:00Z", "executor": true, "truncated": false,
        "exams": [
            {"exam_id": "d1", "name": null, "forecast": null, "starts": [],
             "stops": [{"first_at": "2030-06-03T07:00:00Z", "last_at": "2030-06-03T07:00:00Z", "count": 1}]},
            {"exam_id": "x0", "name": "Old", "start_at": "2030-06-03T05:00:00Z",
             "end_at": "2030-06-03T06:00:00Z", "deadline": "2030-06-03T04:58:00Z",
             "forecast": {"needed": 1, "ready": 1},
             "starts": [], "stops": [{"first_at": "2030-06-03T07:00:01Z", "last_at": "2030-06-03T07:00:01Z", "count": 1}]},
            {"exam_id": "x1", "name": "Physics", "start_at": "2030-06-03T08:00:00Z",
             "end_at": "2030-06-03T10:00:00Z", "deadline": "2030-06-03T07:58:00Z",
             "forecast": {"needed": 10, "live": 0, "ready": 0, "predicted_ready_at_start": 10,
                          "shortfall": 0, "feasible": true,
                          "fully_ready_at": "2030-06-03T07:58:00Z",
                          "next_start_call_at": "2030-06-03T07:56:54Z"},
             "starts": [{"first_at": "2030-06-03T07:56:54Z", "last_at": "2030-06-03T07:57:48Z",
                         "count": 10, "step_seconds": 6.0, "first_slot": 0,
                         "first_ready_at": "2030-06-03T07:57:00Z",
                         "last_ready_at": "2030-06-03T07:58:00Z"}],
             "stops": []}
        ]})
    }

    #[test]
    fn status_rows_are_the_exams_not_over() {
        let items = upcoming(&plan()).expect("exams");
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["exam_id"], "x1");
        assert_eq!(items[0]["shortfall"], 0, "the forecast is flattened in");
        assert_eq!(
            status_table(&items),
            "EXAM  START                 NEEDED  READY  PREDICTED  SHORTFALL  FULLY READY AT        NEXT START CALL       NAME\n\
             x1    2030-06-03T08:00:00Z  10      0      10         0          2030-06-03T07:58:00Z  2030-06-03T07:56:54Z  Physics\n"
        );
    }

    #[test]
    fn plan_runs_in_time_order() {
        let runs = runs(&plan()).expect("exams");
        let text = plan_table(&runs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("WHEN "), "{text}");
        assert!(
            lines[1].contains("stop") && lines[1].ends_with("(deleted) d1"),
            "{text}"
        );
        assert!(
            lines[2].contains("stop") && lines[2].ends_with("Old"),
            "{text}"
        );
        assert!(
            lines[3].contains("start")
                && lines[3].contains(" 10 ")
                && lines[3].contains("0-9")
                && lines[3].contains("2030-06-03T07:57:00Z to 2030-06-03T07:58:00Z")
                && lines[3].ends_with("Physics"),
            "{text}"
        );
    }

    #[test]
    fn status_detail_lists_known_fields_then_new_ones() {
        let doc = json!({"exam_id": "x1", "needed": 10, "shortfall": 2, "feasible": false,
                         "fully_ready_at": null, "later_field": 1});
        let text = status_detail(&doc);
        assert!(text.starts_with("exam_id  "), "{text}");
        assert!(text.contains("\nshortfall  "), "{text}");
        assert!(text.contains("fully_ready_at  "), "{text}");
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("later_field ") && last.ends_with(" 1"),
            "{text}"
        );
    }
}
