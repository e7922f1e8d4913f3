//! How an API command fails: the exit code scripts branch on and the text a
//! person reads. Problem documents (RFC 9457) are rendered field by field so
//! a validation error points at the flag to fix without reading JSON.

use std::process::ExitCode;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE};

/// Each variant carries the complete message, without the `error: ` prefix.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong; nothing was sent (exit 2).
    Usage(String),
    /// The server refused the request with a 4xx (exit 1).
    Refused(String),
    /// The server failed, gave an answer we cannot read, or cannot be reached (exit 3).
    Failed(String),
}

impl CliError {
    /// Prints the message to stderr and gives the exit code.
    pub fn report(self) -> ExitCode {
        let (code, message) = match self {
            CliError::Usage(m) => (EXIT_USAGE, m),
            CliError::Refused(m) => (EXIT_REFUSED, m),
            CliError::Failed(m) => (EXIT_FAILED, m),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }

    /// The error for a non-2xx answer: 4xx is the caller's to fix, anything
    /// else (5xx, or a status we never send) is the server's.
    pub fn from_answer(status: StatusCode, body: &[u8]) -> Self {
        let message = describe_answer(status, body);
        if status.is_client_error() {
            CliError::Refused(message)
        } else {
            CliError::Failed(message)
        }
    }
}

/// The members of a problem document we lay out ourselves; everything else
/// (`execution_id`, `task_id`, `entry_ids`, ...) is printed as `key: value`.
#[derive(Debug, Deserialize)]
struct ProblemDoc {
    /// `urn:allot:problem:{kind}`; the kind (`capacity_exceeded`, ...) is
    /// what a script tells conflicts apart by.
    #[serde(default, rename = "type")]
    type_uri: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct FieldError {
    #[serde(default)]
    pointer: String,
    #[serde(default)]
    message: String,
}

/// `<title> (<status>): <detail>`, then one indented line per field error,
/// the problem's kind and one per extension member (a list of ids joined
/// by commas). Bodies that are not problem documents (a proxy's
/// HTML page, an empty 405) fall back to the status and a short excerpt.
fn describe_answer(status: StatusCode, body: &[u8]) -> String {
    let reason = status.canonical_reason().unwrap_or("HTTP error");
    let Ok(doc) = serde_json::from_slice::<ProblemDoc>(body) else {
        let text = String::from_utf8_lossy(body);
        let excerpt: String = sanitize(text.trim()).chars().take(200).collect();
        return if excerpt.is_empty() {
            format!("{reason} ({})", status.as_u16())
        } else {
            format!("{reason} ({}): {excerpt}", status.as_u16())
        };
    };
    // The status line is authoritative; the document's `status` only repeats it.
    let mut out = format!(
        "{} ({})",
        sanitize(doc.title.as_deref().unwrap_or(reason)),
        status.as_u16()
    );
    if let Some(detail) = doc.detail.as_deref().filter(|d| !d.is_empty()) {
        out.push_str(": ");
        out.push_str(&sanitize(detail));
    }
    for e in &doc.errors {
        let pointer = if e.pointer.is_empty() {
            "body"
        } else {
            &e.pointer
        };
        out.push_str(&format!(
            "\n  {}: {}",
            sanitize(pointer),
            sanitize(&e.message)
        ));
    }
    if let Some(kind) = doc
        .type_uri
        .as_deref()
        .and_then(|t| t.strip_prefix("urn:allot:problem:"))
    {
        out.push_str(&format!("\n  problem: {}", sanitize(kind)));
    }
    for (key, value) in &doc.rest {
        if key == "status" {
            continue;
        }
        let shown = match value {
            Value::String(s) => s.clone(),
            Value::Array(list) if list.iter().all(Value::is_string) => list
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        out.push_str(&format!("\n  {}: {}", sanitize(key), sanitize(&shown)));
    }
    out
}

/// Server text goes to a terminal: control characters (escape sequences,
/// stray newlines) become spaces so an answer cannot garble or fake output.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_lists_each_field() {
        let body = br#"{"type":"urn:allot:problem:validation","title":"Invalid request","status":422,
            "detail":"/schedule/every: too short","errors":[{"pointer":"/schedule/every","message":"too short"}]}"#;
        let text = describe_answer(StatusCode::UNPROCESSABLE_ENTITY, body);
        assert_eq!(
            text,
            "Invalid request (422): /schedule/every: too short\n  /schedule/every: too short\n  problem: validation"
        );
    }

    #[test]
    fn extension_members_follow_the_detail() {
        let body = br#"{"type":"urn:allot:problem:running","title":"Conflict","status":409,
            "detail":"already running","task_id":"t1","execution_id":"e1"}"#;
        let text = describe_answer(StatusCode::CONFLICT, body);
        assert!(
            text.starts_with("Conflict (409): already running"),
            "{text}"
        );
        assert!(text.contains("\n  task_id: t1"), "{text}");
        assert!(text.contains("\n  execution_id: e1"), "{text}");
        assert!(!text.contains("urn:allot"), "{text}");
        assert!(text.contains("\n  problem: running"), "{text}");
    }

    #[test]
    fn conflicting_ids_are_listed_plainly() {
        let body =
            br#"{"type":"urn:allot:problem:capacity_exceeded","title":"Conflict","status":409,
            "detail":"full","at":"2030-01-01T10:00:00Z","entry_ids":["e1","e2"]}"#;
        let text = describe_answer(StatusCode::CONFLICT, body);
        assert!(text.contains("\n  problem: capacity_exceeded"), "{text}");
        assert!(text.contains("\n  entry_ids: e1, e2"), "{text}");
        assert!(text.contains("\n  at: 2030-01-01T10:00:00Z"), "{text}");
    }

    #[test]
    fn non_problem_bodies_fall_back_to_the_status() {
        assert_eq!(
            describe_answer(StatusCode::METHOD_NOT_ALLOWED, b""),
            "Method Not Allowed (405)"
        );
        assert_eq!(
            describe_answer(StatusCode::BAD_GATEWAY, b"<h1>bad\ngateway</h1>"),
            "Bad Gateway (502): <h1>bad gateway</h1>"
        );
    }

    #[test]
    fn exit_code_follows_the_status_class() {
        assert!(matches!(
            CliError::from_answer(StatusCode::NOT_FOUND, b"{}"),
            CliError::Refused(_)
        ));
        assert!(matches!(
            CliError::from_answer(StatusCode::SERVICE_UNAVAILABLE, b"{}"),
            CliError::Failed(_)
        ));
    }
}
