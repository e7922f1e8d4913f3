//! The schedule as clients write it (`{"every": "30s"}`, `{"at": ...}`,
//! `{"cron": ..., "timezone": ...}`), its validation into a kernel
//! [`Schedule`], and the normalised form stored and shown back.

use allot_kernel::duration::{format_duration, parse_duration};
use allot_kernel::jobs::schedule::{Schedule, ScheduleError};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::http::problem::FieldError;

/// One of three shapes; exactly one of `every`, `at`, `cron` must be given.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Interval: humane duration such as `30s`, `2m`, `1h30m` (at least 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Interval only: the first run (RFC 3339); runs are phase-locked to it.
    /// Defaults to one interval after the task is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// One-shot: RFC 3339 with offset, or a local time with `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Cron: 5 fields, or 6 with leading seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// IANA time zone for `cron` (default UTC) or for a local `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

fn field(pointer: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        pointer: format!("/schedule{pointer}"),
        message: message.into(),
    }
}

impl ScheduleSpec {
    /// Validates the spec at `now` into a kernel schedule and the normalised
    /// spec to store (interval anchor and one-shot instant made explicit).
    pub fn resolve(&self, now: Timestamp) -> Result<(Schedule, ScheduleSpec), FieldError> {
        let given = [self.every.is_some(), self.at.is_some(), self.cron.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if given != 1 {
            return Err(field(
                "",
                "give exactly one of `every` (interval), `at` (one-shot) or `cron`",
            ));
        }
        if let Some(every) = &self.every {
            if self.timezone.is_some() {
                return Err(field(
                    "/timezone",
                    "`timezone` applies to `cron` and `at` only",
                ));
            }
            let interval = parse_duration(every).map_err(|e| field("/every", e.to_string()))?;
            let anchor = match &self.start_at {
                Some(s) => parse_instant(s, None).map_err(|m| field("/start_at", m))?,
                None => now
                    .checked_add(
                        jiff::SignedDuration::try_from(interval)
                            .map_err(|_| field("/every", "interval is too long"))?,
                    )
                    .map_err(|_| field("/every", "interval is too long"))?,
            };
            let schedule =
                Schedule::every(interval, anchor).map_err(|e| field("/every", e.to_string()))?;
            let normalised = ScheduleSpec {
                every: Some(format_duration(interval)),
                start_at: Some(anchor.to_string()),
                ..Default::default()
            };
            return Ok((schedule, normalised));
        }
        if self.start_at.is_some() {
            return Err(field("/start_at", "`start_at` applies to `every` only"));
        }
        if let Some(at) = &self.at {
            let zone = match &self.timezone {
                Some(name) => Some(
                    TimeZone::get(name)
                        .map_err(|_| field("/timezone", format!("unknown time zone {name:?}")))?,
                ),
                None => None,
            };
            let instant = parse_instant(at, zone.as_ref()).map_err(|m| field("/at", m))?;
            if instant <= now {
                return Err(field(
                    "/at",
                    format!(
                        "{instant} is in the past (now is {now}); a one-shot must be in the future"
                    ),
                ));
            }
            let normalised = ScheduleSpec {
                at: Some(instant.to_string()),
                timezone: self.timezone.as_deref().map(canonical_zone),
                ..Default::default()
            };
            return Ok((Schedule::at(instant), normalised));
        }
        let expr = self.cron.as_deref().unwrap_or_default();
        let zone = canonical_zone(self.timezone.as_deref().unwrap_or("UTC"));
        let schedule = Schedule::cron(expr, &zone).map_err(|e| match e {
            ScheduleError::UnknownTimeZone(_) => field("/timezone", e.to_string()),
            other => field("/cron", other.to_string()),
        })?;
        Ok((
            schedule,
            ScheduleSpec {
                cron: Some(expr.trim().to_string()),
                timezone: Some(zone),
                ..Default::default()
            },
        ))
    }

    /// Rebuilds the kernel schedule from a stored (normalised) spec.
    pub fn to_schedule(&self) -> Result<Schedule, String> {
        if let (Some(every), Some(start)) = (&self.every, &self.start_at) {
            let interval = parse_duration(every).map_err(|e| e.to_string())?;
            let anchor: Timestamp = start.parse().map_err(|e: jiff::Error| e.to_string())?;
            return Schedule::every(interval, anchor).map_err(|e| e.to_string());
        }
        if let Some(at) = &self.at {
            let instant: Timestamp = at.parse().map_err(|e: jiff::Error| e.to_string())?;
            return Ok(Schedule::at(instant));
        }
        if let Some(expr) = &self.cron {
            return Schedule::cron(expr, self.timezone.as_deref().unwrap_or("UTC"))
                .map_err(|e| e.to_string());
        }
        Err("stored schedule has none of every/at/cron".to_string())
    }
}

/// RFC 3339 with an offset; or, when `zone` is given, also a civil date-time
/// without offset, read in that zone (a time in a DST gap moves forward, a
/// repeated time takes its first occurrence).
fn parse_instant(s: &str, zone: Option<&TimeZone>) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    match (s.parse::<DateTime>(), zone) {
        (Ok(civil), Some(zone)) => zone
            .to_ambiguous_timestamp(civil)
            .compatible()
            .map_err(|e| format!("{s:?} does not exist in that time zone: {e}")),
        (Ok(_), None) => Err(format!(
            "{s:?} has no UTC offset; add one (e.g. \"{s}+02:00\") or give `timezone`"
        )),
        (Err(_), _) => Err(format!(
            "{s:?} is not an RFC 3339 time such as \"2027-08-08T17:35:00+02:00\""
        )),
    }
}

/// A zone name as the time zone database spells it (`europe/amsterdam`
/// becomes `Europe/Amsterdam`), so tasks show one spelling whatever was
/// typed. Unknown names are returned unchanged (validation reports them).
fn canonical_zone(name: &str) -> String {
    TimeZone::get(name)
        .ok()
        .and_then(|tz| tz.iana_name().map(str::to_string))
        .unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn spec(json: serde_json::Value) -> ScheduleSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn zone_names_are_stored_as_the_database_spells_them() {
        let (_, cron) =
            spec(serde_json::json!({"cron": "0 9 * * *", "timezone": "europe/amsterdam"}))
                .resolve(now())
                .unwrap();
        assert_eq!(cron.timezone.as_deref(), Some("Europe/Amsterdam"));
        let (_, at) =
            spec(serde_json::json!({"at": "2027-08-08T17:35:00", "timezone": "EUROPE/AMSTERDAM"}))
                .resolve(now())
                .unwrap();
        assert_eq!(at.timezone.as_deref(), Some("Europe/Amsterdam"));
    }

    #[test]
    fn every_defaults_its_anchor_to_one_interval_after_now() {
        let (s, n) = spec(serde_json::json!({"every": "30s"}))
            .resolve(now())
            .unwrap();
        assert_eq!(n.start_at.as_deref(), Some("2026-11-23T12:00:30Z"));
        assert_eq!(
            s.first_at_or_after(now()),
            Some("2026-11-23T12:00:30Z".parse().unwrap())
        );
        assert_eq!(n.to_schedule().unwrap(), s);
    }

    #[test]
    fn at_accepts_offset_or_local_time_with_zone() {
        let (_, n) = spec(serde_json::json!({"at": "2027-08-08T17:35:00+02:00"}))
            .resolve(now())
            .unwrap();
        assert_eq!(n.at.as_deref(), Some("2027-08-08T15:35:00Z"));
        let (_, n) =
            spec(serde_json::json!({"at": "2027-08-08T17:35:00", "timezone": "Europe/Amsterdam"}))
                .resolve(now())
                .unwrap();
        assert_eq!(n.at.as_deref(), Some("2027-08-08T15:35:00Z"));
    }

    #[test]
    fn rejects_bad_shapes_with_pointers() {
        let cases = [
            (serde_json::json!({}), "/schedule"),
            (
                serde_json::json!({"every": "30s", "cron": "* * * * *"}),
                "/schedule",
            ),
            (serde_json::json!({"every": "0s"}), "/schedule/every"),
            (serde_json::json!({"every": "-5m"}), "/schedule/every"),
            (serde_json::json!({"every": "5 parsecs"}), "/schedule/every"),
            (
                serde_json::json!({"at": "2020-01-01T00:00:00Z"}),
                "/schedule/at",
            ),
            (
                serde_json::json!({"at": "2027-08-08T17:35:00"}),
                "/schedule/at",
            ),
            (serde_json::json!({"at": "tomorrow"}), "/schedule/at"),
            (serde_json::json!({"cron": "61 * * * *"}), "/schedule/cron"),
            (
                serde_json::json!({"cron": "* * * * *", "timezone": "Mars/Olympus"}),
                "/schedule/timezone",
            ),
        ];
        for (json, pointer) in cases {
            let err = spec(json.clone()).resolve(now()).unwrap_err();
            assert_eq!(err.pointer, pointer, "{json}: {}", err.message);
            assert!(!err.message.is_empty());
        }
    }
}
