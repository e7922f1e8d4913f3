//! The README's tours, run as written: each `curl` command of a tour's
//! first shell block is sent through the API with its body verbatim, in
//! order. Every request must succeed, except one whose comment line just
//! above names a 4xx status and a problem type (`# ...: 409
//! beyond_horizon`): it must be refused with that status. A tour whose
//! dates or fields have drifted from what the service accepts fails here
//! before a reader finds out.

use std::collections::BTreeMap;

use super::{TOKEN, TestApp};

/// One `curl` command of a tour.
#[derive(Debug)]
pub struct TourRequest {
    pub method: String,
    /// As written, placeholders and all.
    pub path: String,
    pub body: Option<String>,
    /// Sends a file of the reader's (`--data-binary`): skipped.
    pub binary: bool,
    /// The status the comment above it says it is refused with.
    pub refused: Option<u16>,
}

/// Runs the tour under the README heading `heading`. `fill` names each
/// placeholder of the tour (`$CAL`, `EVENT_ID`) with the path (query
/// left out) of the request whose answer's `id` it stands for; the latest
/// success counts. Returns the placeholders filled.
pub async fn run(app: &TestApp, heading: &str, fill: &[(&str, &str)]) -> BTreeMap<String, String> {
    let readme = include_str!("../../../../README.md");
    let block = readme
        .split(heading)
        .nth(1)
        .and_then(|t| t.split("```sh").nth(1))
        .and_then(|t| t.split("```").next())
        .unwrap_or_else(|| panic!("README has no shell block under {heading:?}"));
    let requests = requests(block);
    assert!(!requests.is_empty(), "no curl commands under {heading:?}");
    let mut filled: BTreeMap<String, String> = BTreeMap::new();
    for r in requests.iter().filter(|r| !r.binary) {
        let mut path = r.path.clone();
        for (name, id) in &filled {
            path = path.replace(name.as_str(), id);
        }
        let (status, body) = app
            .call_with(
                &r.method,
                &path,
                r.body.clone(),
                Some(TOKEN),
                "application/json",
            )
            .await;
        match r.refused {
            Some(code) => assert_eq!(status.as_u16(), code, "{r:?}: {body}"),
            None => assert!(status.is_success(), "{r:?}: {status} {body}"),
        }
        let bare = r.path.split('?').next().unwrap_or_default();
        if r.method == "POST" && status.is_success() {
            for (name, creates) in fill {
                if bare.ends_with(creates)
                    && let Some(id) = body["id"].as_str()
                {
                    filled.insert((*name).to_string(), id.to_string());
                }
            }
        }
    }
    filled
}

/// The `curl` commands of a shell block, each with its continuation lines.
pub fn requests(block: &str) -> Vec<TourRequest> {
    let mut commands: Vec<(String, Option<u16>)> = Vec::new();
    let mut said: Option<u16> = None;
    for line in block.lines() {
        let trimmed = line.trim_start();
        if let Some(comment) = trimmed.strip_prefix('#') {
            said = refusal(comment);
        } else if trimmed.starts_with("curl ") {
            commands.push((line.to_string(), said.take()));
        } else if let Some((last, _)) = commands.last_mut()
            && (last.trim_end().ends_with('\\') || last.matches('\'').count() % 2 == 1)
        {
            last.push('\n');
            last.push_str(line);
        } else {
            said = None;
        }
    }
    commands
        .into_iter()
        .map(|(command, refused)| parse(&command, refused))
        .collect()
}

/// The 4xx status a comment says the next request is refused with: a
/// number followed by a problem type (`409 beyond_horizon`).
pub fn refusal(comment: &str) -> Option<u16> {
    let words: Vec<&str> = comment
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).find_map(|pair| {
        let code = pair[0].trim_end_matches(':').parse::<u16>().ok()?;
        let typed =
            pair[1].contains('_') && pair[1].chars().all(|c| c.is_ascii_lowercase() || c == '_');
        ((400..500).contains(&code) && typed).then_some(code)
    })
}

fn parse(command: &str, refused: Option<u16>) -> TourRequest {
    let body = command
        .split_once("-d '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(body, _)| body.to_string());
    let method = command
        .split_once("-X ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
    let path = command
        .split_once("localhost:8080")
        .map(|(_, rest)| {
            rest.split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default();
    TourRequest {
        method,
        path,
        binary: command.contains("--data-binary"),
        body,
        refused,
    }
}
