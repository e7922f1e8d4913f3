//! Paged lists (`{items, next_cursor}`): one page, or with `--all` every
//! page merged into one document of the same shape, so a script reads the
//! output the same way whichever it asked for.

use clap::Args;
use serde_json::{Value, json};

use super::client::Client;
use super::error::CliError;

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Items per page (the server allows 1 to 1000; default 50).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Start after this point: the `next_cursor` of a previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow `next_cursor` through every page.
    #[arg(long)]
    pub all: bool,
}

/// GETs `segments` with `query` plus the paging parameters.
pub async fn fetch(
    client: &Client,
    segments: &[&str],
    query: &[(&str, Option<String>)],
    page: &PageArgs,
) -> Result<Value, CliError> {
    let mut cursor = page.cursor.clone();
    let mut merged = Vec::new();
    loop {
        let mut q = query.to_vec();
        q.push(("limit", page.limit.map(|n| n.to_string())));
        q.push(("cursor", cursor.clone()));
        let doc = client.get(segments, &q).await?;
        if !page.all {
            return Ok(doc);
        }
        merged.extend(items(&doc)?.iter().cloned());
        let next = doc
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        match next {
            None => return Ok(json!({"items": merged, "next_cursor": null})),
            // A server handing back the cursor it was given would loop us forever.
            Some(n) if Some(&n) == cursor.as_ref() => {
                return Err(CliError::Failed(format!(
                    "the server returned the same next_cursor twice ({n:?}); stopping"
                )));
            }
            Some(n) => cursor = Some(n),
        }
    }
}

/// The `items` array of a page or `{items}` document.
pub fn items(doc: &Value) -> Result<&[Value], CliError> {
    doc.get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| {
            CliError::Failed(
                "the server's answer has no `items` list; is --server/ALLOT_SERVER an allot server?"
                    .to_string(),
            )
        })
}
