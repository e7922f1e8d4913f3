//! Where results go: `--json` prints the server's document compact on one
//! line (stable for `jq`, `grep`, `head -1`); otherwise a table for people.

use std::io::{ErrorKind, Write};

use serde_json::Value;

use super::error::{CliError, sanitize};
use super::pages::items;

/// Writes to stdout. `println!` would panic when the reader has gone away
/// (`allot tasks list | head -1`); a closed pipe just means nobody wants
/// the rest.
pub fn emit(text: &str) -> Result<(), CliError> {
    emit_open(text).map(drop)
}

/// [`emit`], telling whether anyone still reads: `false` once the pipe is
/// closed, so a command that prints until stopped (`--follow`) can stop.
pub fn emit_open(text: &str) -> Result<bool, CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::Failed(format!("cannot write the output: {e}"))),
    }
}

/// One resource (task, execution).
pub fn print_doc(json: bool, doc: &Value, render: fn(&Value) -> String) -> Result<(), CliError> {
    if json {
        emit(&format!("{doc}\n"))
    } else {
        emit(&render(doc))
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
        return emit(&format!("{doc}\n"));
    }
    let list = items(doc)?;
    if list.is_empty() {
        emit(&format!("{empty}\n"))?;
    } else {
        emit(&render(list))?;
    }
    if let Some(next) = doc.get("next_cursor").and_then(Value::as_str) {
        eprintln!(
            "more results: add --cursor {}, or --all for every page",
            sanitize(next)
        );
    }
    Ok(())
}
