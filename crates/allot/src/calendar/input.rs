//! Reading the calendar API's inputs: local dates and times, durations,
//! working hours, attendees. Each function returns a [`FieldError`] naming
//! the field and what to write instead.

use std::time::Duration;

use allot_kernel::calendar::{RawRule, WorkingHours};
use allot_kernel::duration::parse_duration;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde_json::Value;
use uuid::Uuid;

use crate::http::problem::FieldError;

pub fn field(pointer: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

/// A text field of `min` to `max` characters, not blank when `min > 0`.
pub fn text(value: &str, pointer: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = value.chars().count();
    if n < min || n > max || (min > 0 && value.trim().is_empty()) {
        return Err(field(
            pointer,
            format!("must be {min} to {max} characters and not blank"),
        ));
    }
    Ok(())
}

pub fn timezone(name: &str, pointer: &str) -> Result<TimeZone, FieldError> {
    TimeZone::get(name).map_err(|_| {
        field(
            pointer,
            format!("unknown time zone {name:?}; use an IANA name like \"Europe/Amsterdam\""),
        )
    })
}

/// `YYYY-MM-DD`, a real date (not 2026-02-30), years 1 to 9999.
pub fn date(value: &str, pointer: &str) -> Result<Date, FieldError> {
    let bad = || {
        field(
            pointer,
            format!("{value:?} is not a date; write YYYY-MM-DD, like \"2027-03-15\""),
        )
    };
    let d: Date = value.trim().parse().map_err(|_| bad())?;
    if value.trim().len() != 10 || d.year() < 1 {
        return Err(bad());
    }
    Ok(d)
}

/// `HH:MM` or `HH:MM:SS` on a 24-hour clock.
pub fn time_of_day(value: &str, pointer: &str) -> Result<Time, FieldError> {
    let v = value.trim();
    let bad = || {
        field(
            pointer,
            format!(
                "{value:?} is not a time; write HH:MM or HH:MM:SS on a 24-hour clock, like \"14:30\""
            ),
        )
    };
    let well_formed = (v.len() == 5 || v.len() == 8)
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(bad());
    }
    v.parse::<Time>().map_err(|_| bad())
}

/// The canonical spelling of a time of day: `HH:MM`, or `HH:MM:SS` when the
/// seconds are not zero.
pub fn format_time(t: Time) -> String {
    if t.second() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }
}

/// A duration: whole seconds as a JSON number, or text like `"45m"` or
/// `"1h30m"`; at least 1 second, at most `max`.
pub fn duration(value: &Value, pointer: &str, max: Duration) -> Result<Duration, FieldError> {
    let d = match value {
        Value::Number(n) => match n.as_i64() {
            Some(s) if s > 0 => Duration::from_secs(s as u64),
            Some(_) => return Err(field(pointer, "must be positive: at least 1 second")),
            None => {
                return Err(field(
                    pointer,
                    "must be a whole number of seconds, or text like \"45m\"",
                ));
            }
        },
        Value::String(s) => parse_duration(s).map_err(|e| field(pointer, e.to_string()))?,
        _ => {
            return Err(field(
                pointer,
                "must be a number of seconds or text like \"45m\"",
            ));
        }
    };
    if d < Duration::from_secs(1) || d.subsec_nanos() != 0 {
        return Err(field(
            pointer,
            "must be a whole number of seconds, at least 1",
        ));
    }
    if d > max {
        return Err(field(
            pointer,
            format!(
                "must be at most {} seconds (the server's --calendar-max-event)",
                max.as_secs()
            ),
        ));
    }
    Ok(d)
}

/// Working hours from their JSON form; `None` means the default, all day.
pub fn working_hours(value: Option<&Value>) -> Result<WorkingHours, FieldError> {
    let Some(value) = value else {
        return Ok(WorkingHours::all_day());
    };
    let raw: Vec<RawRule> = serde_json::from_value(value.clone()).map_err(|e| {
        field(
            "/working_hours",
            format!(
                "must be a list like [{{\"days\": [\"mon\"], \"start\": \"08:00\", \"end\": \"17:00\"}}]: {e}"
            ),
        )
    })?;
    if raw.is_empty() {
        return Err(field(
            "/working_hours",
            "give at least one rule, or leave working_hours out for all day, every day",
        ));
    }
    if raw.len() > 50 {
        return Err(field("/working_hours", "at most 50 rules"));
    }
    WorkingHours::parse(&raw)
        .map_err(|e| field(&format!("/working_hours/{}", e.rule), e.to_string()))
}

/// The canonical JSON of working hours.
pub fn hours_json(hours: &WorkingHours) -> Value {
    serde_json::to_value(hours.to_raw()).unwrap_or(Value::Array(Vec::new()))
}

/// Attendees: each 1 to 200 characters, at most 100, no repeats. Returns
/// the list as given and the ids among them (candidate participant
/// calendars, checked against the database by the caller).
pub fn attendees(list: &[String], pointer: &str) -> Result<(Vec<String>, Vec<Uuid>), FieldError> {
    if list.len() > 100 {
        return Err(field(pointer, "at most 100 attendees"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for (i, a) in list.iter().enumerate() {
        text(a, &format!("{pointer}/{i}"), 1, 200)?;
        if !seen.insert(a.trim()) {
            return Err(field(
                &format!("{pointer}/{i}"),
                format!("{a:?} is listed twice"),
            ));
        }
        if let Ok(id) = Uuid::parse_str(a.trim()) {
            ids.push(id);
        }
    }
    Ok((list.to_vec(), ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_exist() {
        assert!(date("2026-02-28", "/date").is_ok());
        assert!(date("2026-02-30", "/date").is_err());
        assert!(date("2026-2-3", "/date").is_err());
        assert!(date("tomorrow", "/date").is_err());
    }

    #[test]
    fn times_are_24_hour_clock_readings() {
        assert_eq!(format_time(time_of_day("08:05", "/t").unwrap()), "08:05");
        assert_eq!(
            format_time(time_of_day("23:59:30", "/t").unwrap()),
            "23:59:30"
        );
        for bad in ["25:00", "8:00", "08-00-00", "24:00", "12:60", "noon", ""] {
            assert!(time_of_day(bad, "/t").is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_are_seconds_or_humane_text() {
        let day = Duration::from_secs(86_400);
        assert_eq!(
            duration(&Value::from(2700), "/d", day).unwrap().as_secs(),
            2700
        );
        assert_eq!(
            duration(&Value::from("45m"), "/d", day).unwrap().as_secs(),
            2700
        );
        for bad in [
            Value::from(0),
            Value::from(-5),
            Value::from(1.5),
            Value::from("2d"),
            Value::Null,
        ] {
            assert!(duration(&bad, "/d", day).is_err(), "{bad}");
        }
    }

    #[test]
    fn attendees_are_unique_and_ids_are_picked_out() {
        let id = Uuid::now_v7();
        let (_, ids) = attendees(&["ann".into(), id.to_string()], "/attendees").unwrap();
        assert_eq!(ids, vec![id]);
        assert!(attendees(&["ann".into(), "ann".into()], "/attendees").is_err());
        assert!(attendees(&["".into()], "/attendees").is_err());
    }
}
