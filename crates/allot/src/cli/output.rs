//! Where results go: `--json` prints the server's document compact on one
//! line (stable for `jq`, `grep`, `head -1`); otherwise a table for people.

use serde_json::Value;

use super::error::{CliError, sanitize};
use super::pages::items;

/// One resource (task, execution).
pub fn print_doc(json: bool, doc: &Value, render: fn(&Value) -> String) {
    if json {
        println!("{doc}");
    } else {
        print!("{}", render(doc));
    }
}

/// A list document `{items, next_cursor?}`. For people, an empty list says
/// so in words and a partial list says how to get the rest.
pub fn print_list(
    json: bool,
    doc: &Value,
    empty: &str,
    render: fn(&[Value]) -> String,
) -> Result<(), CliError> {
    if json {
        println!("{doc}");
        return Ok(());
    }
    let list = items(doc)?;
    if list.is_empty() {
        println!("{empty}");
    } else {
        print!("{}", render(list));
    }
    if let Some(next) = doc.get("next_cursor").and_then(Value::as_str) {
        eprintln!(
            "more results: add --cursor {}, or --all for every page",
            sanitize(next)
        );
    }
    Ok(())
}
