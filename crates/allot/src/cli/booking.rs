//! What the booking commands (`systems`, `entries`, `outages`) share: time
//! and duration flags checked before anything is sent, the JSON bodies they
//! build, and capability lists as table cells.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

use allot_kernel::duration::parse_duration;

use super::error::CliError;
use super::output::emit;
use super::table::cell;
use crate::clock::{Clock, SystemClock};

/// clap value parser for time flags: RFC 3339 with an offset, `now`, or a
/// duration from now (`+2h`, `-30m`, `now+1d`). Relative times are resolved
/// with this machine's clock; the server gets RFC 3339 either way.
pub fn time(text: &str) -> Result<String, String> {
    let now = SystemClock.now();
    let t = text.trim();
    let relative = |sign: i32, rest: &str| -> Result<String, String> {
        let d = parse_duration(rest).map_err(|e| e.to_string())?;
        let d = SignedDuration::try_from(d).map_err(|e| e.to_string())?;
        let d = if sign < 0 { -d } else { d };
        now.checked_add(d)
            .map(|ts| ts.to_string())
            .map_err(|e| e.to_string())
    };
    let after_now = t.strip_prefix("now").unwrap_or(t);
    if t == "now" {
        Ok(now.to_string())
    } else if let Some(rest) = after_now.strip_prefix('+') {
        relative(1, rest)
    } else if let Some(rest) = after_now.strip_prefix('-') {
        relative(-1, rest)
    } else {
        t.parse::<Timestamp>().map(|_| t.to_string()).map_err(|e| {
            format!(
                "not a time ({e}); give RFC 3339 with an offset like 2030-01-01T09:00:00Z, `now`, or `+1h`"
            )
        })
    }
}

/// clap value parser for duration flags (`--window`, `--duration`): the
/// server's own syntax, `30m`, `1h30m`, `2d`; sent as typed.
pub fn duration(text: &str) -> Result<String, String> {
    parse_duration(text)
        .map(|_| text.trim().to_string())
        .map_err(|e| format!("{e}; durations look like 30m, 1h30m or 2d"))
}

/// A JSON body from the flags that were given; absent ones are left out,
/// so an update changes only what was named.
#[derive(Default)]
pub struct Body(Map<String, Value>);

impl Body {
    pub fn text(mut self, key: &str, value: &Option<String>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::String(v.clone()));
        }
        self
    }

    pub fn value(mut self, key: &str, value: Option<Value>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), v);
        }
        self
    }

    /// `--metadata`: parsed here so bad JSON is a usage error, not a round trip.
    pub fn metadata(self, raw: &Option<String>) -> Result<Self, CliError> {
        let value = raw
            .as_deref()
            .map(|r| {
                serde_json::from_str::<Value>(r)
                    .map_err(|e| CliError::Usage(format!("--metadata is not valid JSON: {e}")))
            })
            .transpose()?;
        Ok(self.value("metadata", value))
    }

    /// An update with no field would be a no-op the server accepts silently.
    pub fn non_empty(self, flags: &str) -> Result<Value, CliError> {
        if self.0.is_empty() {
            return Err(CliError::Usage(format!("nothing to change: give {flags}")));
        }
        Ok(self.done())
    }

    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// The repeated `--capability` flags of an update: `Some` (replacing the
/// set) when any was given or `clear` says to empty it.
pub fn capability_set(given: &[String], clear: bool) -> Option<Value> {
    if clear {
        Some(Value::Array(Vec::new()))
    } else if given.is_empty() {
        None
    } else {
        Some(strings(given))
    }
}

pub fn strings(list: &[String]) -> Value {
    Value::Array(list.iter().cloned().map(Value::String).collect())
}

/// `--capability a --capability b` as the query parameter `capabilities=a,b`.
pub fn capability_query(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(","))
}

/// A list of strings as one cell, `gpu, ssd`; empty or missing as `-`.
pub fn joined(doc: &Value, key: &str) -> String {
    match doc.get(key) {
        Some(Value::Array(list)) if list.is_empty() => "-".to_string(),
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => list
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => cell(doc, key),
    }
}

/// After a 204: with `--json` the exit code says it all.
pub fn deleted(json: bool, what: &str, id: &str) -> Result<(), CliError> {
    if json {
        Ok(())
    } else {
        emit(&format!("deleted {what} {id}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_absolute_and_relative() {
        assert_eq!(
            time("2030-01-01T09:00:00+01:00").as_deref(),
            Ok("2030-01-01T09:00:00+01:00")
        );
        let now = SystemClock.now();
        let later: Timestamp = time("+1h").and_then(|t| t.parse().map_err(|_| t)).unwrap();
        let diff = later.duration_since(now).as_secs();
        assert!((3599..=3601).contains(&diff), "{diff}");
        let earlier: Timestamp = time("now-30m")
            .and_then(|t| t.parse().map_err(|_| t))
            .unwrap();
        assert!(earlier < now);
        assert!(time("now").is_ok());
        for bad in ["tomorrow", "2030-01-01T09:00:00", "+1x", "now+", ""] {
            assert!(time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_are_checked_and_kept_as_typed() {
        assert_eq!(duration("1h30m").as_deref(), Ok("1h30m"));
        assert!(duration("90").is_err());
    }

    #[test]
    fn bodies_hold_only_given_fields() {
        let body = Body::default()
            .text("label", &Some("x".into()))
            .text("start", &None)
            .metadata(&Some(r#"{"a":1}"#.into()))
            .unwrap()
            .value("capabilities", capability_set(&[], false))
            .done();
        assert_eq!(body, json!({"label": "x", "metadata": {"a": 1}}));
        assert!(matches!(
            Body::default().metadata(&Some("{nope".into())),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            Body::default().non_empty("--x"),
            Err(CliError::Usage(m)) if m.contains("--x")
        ));
        assert_eq!(capability_set(&[], true), Some(json!([])));
    }

    #[test]
    fn capability_cells() {
        let doc = json!({"a": ["gpu", "ssd"], "b": [], "c": null});
        assert_eq!(joined(&doc, "a"), "gpu, ssd");
        assert_eq!(joined(&doc, "b"), "-");
        assert_eq!(joined(&doc, "c"), "-");
        assert_eq!(
            capability_query(&["a".into(), "b".into()]).as_deref(),
            Some("a,b")
        );
    }
}
