//! Working hours: weekly rules in local time, their text form and its
//! checks.
//!
//! The types only hold valid rules (a rule names at least one day and ends
//! after it starts), so [`super::windows`] never has to decide what a
//! malformed rule means. Everything from outside goes through
//! [`WeeklyRule::new`], [`WeeklyRule::parse`] or the serde form, which all
//! apply the same checks and report them as a typed [`RuleError`].

use std::fmt;

use jiff::civil::{Time, Weekday};
use serde::{Deserialize, Serialize};

/// Why one working-hours rule was refused. Each message quotes the input
/// and says what to write instead, so the service can pass it on as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RuleError {
    #[error(
        "unknown day \"{0}\"; use mon, tue, wed, thu, fri, sat or sun (or the full name, like \"monday\")"
    )]
    UnknownDay(String),
    #[error(
        "bad time \"{0}\"; write HH:MM or HH:MM:SS on a 24-hour clock, like \"08:00\" or \"17:30\" (\"24:00\" only as an end)"
    )]
    BadTime(String),
    #[error(
        "end {end} is not after start {start}; a rule covers part of one day (use \"24:00\" for the end of the day)"
    )]
    EndNotAfterStart { start: String, end: String },
    #[error("a rule must name at least one day, like [\"mon\", \"tue\"]")]
    NoDays,
}

/// Why a list of working-hours rules was refused: which rule (its index in
/// the list, counting from 0 as in the JSON array) and what is wrong with
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("working hours rule {rule}: {error}")]
pub struct HoursError {
    pub rule: usize,
    #[source]
    pub error: RuleError,
}

/// A set of weekdays, one bit per day, Monday first.
///
/// A set rather than a list so that duplicates and order cannot make two
/// equal rules compare unequal, and so that "does this rule apply on this
/// date" is one bit test while expanding windows day by day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

impl Weekdays {
    /// No day at all. Only useful as a start for [`Weekdays::with`]: a rule
    /// with no days is refused.
    pub const fn none() -> Self {
        Weekdays(0)
    }

    /// Every day of the week.
    pub const fn all() -> Self {
        Weekdays(0x7F)
    }

    fn bit(day: Weekday) -> u8 {
        // to_monday_zero_offset is 0..=6, so the shift is in range.
        1 << day.to_monday_zero_offset()
    }

    /// This set with `day` added.
    pub fn with(self, day: Weekday) -> Self {
        Weekdays(self.0 | Self::bit(day))
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// Whether the set has no day.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first: the canonical order the text
    /// form is written in.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        WEEK.into_iter().filter(move |&day| self.contains(day))
    }

    /// The set of days named in `names` (see [`parse_weekday`]); duplicates
    /// are fine. An empty list gives an empty set, which
    /// [`WeeklyRule::new`] refuses.
    pub fn parse<'s>(names: impl IntoIterator<Item = &'s str>) -> Result<Self, RuleError> {
        names.into_iter().try_fold(Weekdays::none(), |set, name| {
            Ok(set.with(parse_weekday(name)?))
        })
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(days: I) -> Self {
        days.into_iter().fold(Weekdays::none(), Weekdays::with)
    }
}

const WEEK: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// A day name: "mon".."sun" or "monday".."sunday", in any case. Nothing
/// else (no "tues", no surrounding blanks): a near miss is more likely a
/// typo than a day.
pub fn parse_weekday(name: &str) -> Result<Weekday, RuleError> {
    let day = match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return Err(RuleError::UnknownDay(name.to_string())),
    };
    Ok(day)
}

/// The canonical short name of `day`, as written by the text form.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// Where a rule's hours end on its day.
///
/// A separate type because the end of the day is not a [`Time`]: the last
/// `Time` is 23:59:59.999999999, and a rule ending there would leave a gap
/// before midnight that breaks an all-day calendar into one window per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LocalEnd {
    /// At this time of the same day.
    At(Time),
    /// At the next local midnight, written "24:00".
    EndOfDay,
}

impl fmt::Display for LocalEnd {
    /// The canonical text: "HH:MM", "HH:MM:SS" or "24:00".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalEnd::At(time) => f.write_str(&format_time(*time)),
            LocalEnd::EndOfDay => f.write_str("24:00"),
        }
    }
}

/// "On these weekdays, from `start` to `end` local time."
///
/// The fields are private so that every rule is valid: at least one day,
/// whole-second times, and `end` after `start` on the same day. A rule
/// never crosses midnight; night shifts are two rules (22:00-24:00 and
/// 00:00-06:00 on the next day), which [`super::windows`] joins into one
/// window because touching windows merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRule", into = "RawRule")]
pub struct WeeklyRule {
    days: Weekdays,
    start: Time,
    end: LocalEnd,
}

impl WeeklyRule {
    /// A rule, checked: `days` must not be empty, `end` must be after
    /// `start`, and both must be whole seconds (the text form has no
    /// fractions, so a fraction could not round-trip).
    pub fn new(days: Weekdays, start: Time, end: LocalEnd) -> Result<Self, RuleError> {
        if days.is_empty() {
            return Err(RuleError::NoDays);
        }
        for time in [Some(start), end_time(end)].into_iter().flatten() {
            if time.subsec_nanosecond() != 0 {
                return Err(RuleError::BadTime(time.to_string()));
            }
        }
        if end_time(end).is_some_and(|end| end <= start) {
            return Err(RuleError::EndNotAfterStart {
                start: format_time(start),
                end: end.to_string(),
            });
        }
        Ok(WeeklyRule { days, start, end })
    }

    /// A rule from its text form: day names (see [`parse_weekday`]) and
    /// times "HH:MM" or "HH:MM:SS" ("24:00" only as `end`). Errors are
    /// reported in the order days, start, end, then the order check.
    pub fn parse<'s>(
        days: impl IntoIterator<Item = &'s str>,
        start: &str,
        end: &str,
    ) -> Result<Self, RuleError> {
        let days = Weekdays::parse(days)?;
        if days.is_empty() {
            return Err(RuleError::NoDays);
        }
        WeeklyRule::new(days, parse_start(start)?, parse_end(end)?)
    }

    /// The days the rule applies on.
    pub fn days(&self) -> Weekdays {
        self.days
    }

    /// Local start time on each of those days.
    pub fn start(&self) -> Time {
        self.start
    }

    /// Local end on each of those days.
    pub fn end(&self) -> LocalEnd {
        self.end
    }
}

fn end_time(end: LocalEnd) -> Option<Time> {
    match end {
        LocalEnd::At(time) => Some(time),
        LocalEnd::EndOfDay => None,
    }
}

/// The wire form of a [`WeeklyRule`]: `{"days": ["mon", "tue"], "start":
/// "08:00", "end": "17:00"}`. Public so that the service can describe and
/// build it; [`WeeklyRule`] converts from it with all checks and back to it
/// in canonical form (short day names Monday first, no duplicates, times
/// without ":00" seconds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
}

impl TryFrom<RawRule> for WeeklyRule {
    type Error = RuleError;

    fn try_from(raw: RawRule) -> Result<Self, Self::Error> {
        WeeklyRule::parse(raw.days.iter().map(String::as_str), &raw.start, &raw.end)
    }
}

impl From<WeeklyRule> for RawRule {
    fn from(rule: WeeklyRule) -> Self {
        RawRule {
            days: rule
                .days
                .iter()
                .map(|day| weekday_name(day).to_string())
                .collect(),
            start: format_time(rule.start),
            end: rule.end.to_string(),
        }
    }
}

/// A calendar's working hours: the union of its rules.
///
/// An empty list means "never": no working windows at all, so search finds
/// nothing and every explicit event is outside working hours. It does NOT
/// mean "always"; that is [`WorkingHours::all_day`], the service's default.
/// Keeping the two apart means a list that lost its rules fails closed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<RawRule>", into = "Vec<RawRule>")]
pub struct WorkingHours {
    rules: Vec<WeeklyRule>,
}

impl WorkingHours {
    /// Working hours made of `rules` (already checked). Overlapping or
    /// touching rules are fine: their windows merge.
    pub fn new(rules: Vec<WeeklyRule>) -> Self {
        WorkingHours { rules }
    }

    /// Every day from 00:00 to 24:00: one window without breaks, across
    /// midnights and DST changes alike.
    pub fn all_day() -> Self {
        WorkingHours {
            rules: vec![WeeklyRule {
                days: Weekdays::all(),
                start: Time::midnight(),
                end: LocalEnd::EndOfDay,
            }],
        }
    }

    /// Working hours from their wire form, checking every rule; the error
    /// names the first bad rule by its index.
    pub fn parse(raw: &[RawRule]) -> Result<Self, HoursError> {
        raw.iter()
            .enumerate()
            .map(|(rule, raw)| {
                WeeklyRule::try_from(raw.clone()).map_err(|error| HoursError { rule, error })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(WorkingHours::new)
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[WeeklyRule] {
        &self.rules
    }

    /// The canonical wire form: what serialization writes.
    pub fn to_raw(&self) -> Vec<RawRule> {
        self.rules.iter().copied().map(RawRule::from).collect()
    }
}

impl TryFrom<Vec<RawRule>> for WorkingHours {
    type Error = HoursError;

    fn try_from(raw: Vec<RawRule>) -> Result<Self, Self::Error> {
        WorkingHours::parse(&raw)
    }
}

impl From<WorkingHours> for Vec<RawRule> {
    fn from(hours: WorkingHours) -> Self {
        hours.to_raw()
    }
}

/// "HH:MM", or "HH:MM:SS" when the seconds are not zero. Fractions are not
/// written: rules never hold them.
fn format_time(time: Time) -> String {
    if time.second() == 0 {
        format!("{:02}:{:02}", time.hour(), time.minute())
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        )
    }
}

/// "HH:MM" or "HH:MM:SS", exactly two ASCII digits each, as (hour, minute,
/// second) with hour up to 24 and minute and second up to 59. Range checks
/// against the kind of time (start or end) are the caller's.
fn parse_clock(text: &str) -> Option<(i8, i8, i8)> {
    fn two_digits(part: &str) -> Option<i8> {
        match part.as_bytes() {
            [tens @ b'0'..=b'9', ones @ b'0'..=b'9'] => {
                i8::try_from((tens - b'0') * 10 + (ones - b'0')).ok()
            }
            _ => None,
        }
    }
    let mut parts = text.split(':');
    let hour = two_digits(parts.next()?)?;
    let minute = two_digits(parts.next()?)?;
    let second = match parts.next() {
        Some(part) => two_digits(part)?,
        None => 0,
    };
    if parts.next().is_some() || hour > 24 || minute > 59 || second > 59 {
        return None;
    }
    Some((hour, minute, second))
}

/// A start time: 00:00 to 23:59:59.
fn parse_start(text: &str) -> Result<Time, RuleError> {
    parse_clock(text)
        .and_then(|(hour, minute, second)| Time::new(hour, minute, second, 0).ok())
        .ok_or_else(|| RuleError::BadTime(text.to_string()))
}

/// An end: 00:00 to 23:59:59, or 24:00 (also written 24:00:00).
fn parse_end(text: &str) -> Result<LocalEnd, RuleError> {
    match parse_clock(text) {
        Some((24, 0, 0)) => Ok(LocalEnd::EndOfDay),
        _ => parse_start(text).map(LocalEnd::At),
    }
}
