//! Humane durations: the short text form ("30s", "1h30m", "500ms") that users
//! type into configuration and that the service prints back.
//!
//! The grammar is one or more `<whole number><unit>` parts, units from largest
//! to smallest and each at most once: `d`, `h`, `m`, `s`, `ms`. Letters are
//! case-insensitive and blanks may separate parts and a number from its unit.
//! The strictness (no fractions, no repeated or shuffled units, no bare
//! numbers) is deliberate: "30" could mean seconds or minutes and "1m1m" is
//! almost certainly a typo, so both are refused with a message that says so,
//! instead of guessing.

use std::time::Duration;

/// Why a duration text was refused. Each message quotes the input and says
/// what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write something like \"30s\", \"5m\" or \"1h30m\"")]
    Empty,
    #[error("negative duration in \"{input}\"; durations are zero or more")]
    Negative { input: String },
    #[error(
        "fractional amount in \"{input}\"; use whole numbers of a smaller unit, like \"1h30m\" or \"1500ms\""
    )]
    Fractional { input: String },
    #[error("missing unit after \"{number}\" in \"{input}\"; use ms, s, m, h or d")]
    MissingUnit { number: String, input: String },
    #[error("unknown unit \"{unit}\" in \"{input}\"; use ms, s, m, h or d")]
    UnknownUnit { unit: String, input: String },
    #[error("expected a number at \"{found}\" in \"{input}\", like \"30s\" or \"1h30m\"")]
    ExpectedNumber { found: String, input: String },
    #[error("unit \"{unit}\" appears twice in \"{input}\"; give each unit at most once")]
    RepeatedUnit { unit: String, input: String },
    #[error(
        "unit \"{unit}\" comes after the smaller unit \"{previous}\" in \"{input}\"; write units from largest to smallest (d, h, m, s, ms)"
    )]
    UnitOrder {
        unit: String,
        previous: String,
        input: String,
    },
    #[error("duration \"{input}\" is too large")]
    Overflow { input: String },
}

/// The units, largest first: their position is the order parts must follow.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a humane duration such as `"30s"`, `"1h30m"`, `"1d 2h"` or
/// `"500ms"`. Zero (`"0s"`) is accepted; callers enforce their own minimums.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = input;
    let mut total_ms: u64 = 0;
    // Index into UNITS of the last unit seen: later parts must use a larger
    // index, which rules out both repetition and shuffling.
    let mut last_unit: Option<usize> = None;

    while !rest.is_empty() {
        let (number, after_number) = split_number(rest, input)?;
        let after_blanks = after_number.trim_start();
        let (unit_text, after_unit) = split_while(after_blanks, |c| c.is_ascii_alphabetic());
        if unit_text.is_empty() {
            return Err(DurationError::MissingUnit {
                number: number.to_owned(),
                input: input.to_owned(),
            });
        }
        let unit = unit_text.to_ascii_lowercase();
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit_text.to_owned(),
                input: input.to_owned(),
            });
        };
        if let Some(previous) = last_unit {
            if previous == index {
                return Err(DurationError::RepeatedUnit {
                    unit,
                    input: input.to_owned(),
                });
            }
            if previous > index {
                return Err(DurationError::UnitOrder {
                    unit,
                    previous: UNITS[previous].0.to_owned(),
                    input: input.to_owned(),
                });
            }
        }
        last_unit = Some(index);

        let overflow = || DurationError::Overflow {
            input: input.to_owned(),
        };
        let amount: u64 = number.parse().map_err(|_| overflow())?;
        let part_ms = amount.checked_mul(UNITS[index].1).ok_or_else(overflow)?;
        total_ms = total_ms.checked_add(part_ms).ok_or_else(overflow)?;
        rest = after_unit.trim_start();
    }
    Ok(Duration::from_millis(total_ms))
}

/// Splits the leading run of digits off `text`, explaining what is wrong when
/// the text does not start with a plain whole number.
fn split_number<'a>(text: &'a str, input: &str) -> Result<(&'a str, &'a str), DurationError> {
    let (digits, after) = split_while(text, |c| c.is_ascii_digit());
    if digits.is_empty() {
        if text.starts_with('-') {
            return Err(DurationError::Negative {
                input: input.to_owned(),
            });
        }
        return Err(DurationError::ExpectedNumber {
            found: text.to_owned(),
            input: input.to_owned(),
        });
    }
    // "1.5h" and "1,5h" would otherwise surface as the puzzling
    // "unknown unit" or "missing unit"; name the real problem.
    let mut chars = after.chars();
    if let (Some('.' | ','), Some(next)) = (chars.next(), chars.next())
        && next.is_ascii_digit()
    {
        return Err(DurationError::Fractional {
            input: input.to_owned(),
        });
    }
    Ok((digits, after))
}

fn split_while(text: &str, keep: impl Fn(char) -> bool) -> (&str, &str) {
    let end = text.find(|c: char| !keep(c)).unwrap_or(text.len());
    text.split_at(end)
}

/// Formats a duration in the canonical short form that [`parse_duration`]
/// reads back: units largest first, zero parts left out (`"1h30m"`,
/// `"1d2h"`, `"500ms"`), and `"0s"` for zero. Sub-millisecond precision is
/// dropped (rounded down), since the text form has no smaller unit.
pub fn format_duration(d: Duration) -> String {
    let mut remaining = d.as_millis();
    if remaining == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, unit_ms) in UNITS {
        let unit_ms = u128::from(unit_ms);
        let amount = remaining / unit_ms;
        if amount > 0 {
            out.push_str(&amount.to_string());
            out.push_str(name);
            remaining %= unit_ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_the_documented_examples() {
        let cases = [
            ("30s", ms(30_000)),
            ("2m", ms(120_000)),
            ("1h30m", ms(5_400_000)),
            ("1d2h", ms(93_600_000)),
            ("500ms", ms(500)),
            ("1h 30m", ms(5_400_000)),
            ("1H30M", ms(5_400_000)),
            ("500MS", ms(500)),
            ("1m 500ms", ms(60_500)),
            ("  5 m ", ms(300_000)),
            ("0s", ms(0)),
            ("1d1h1m1s1ms", ms(90_061_001)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_bad_input_with_a_precise_reason() {
        let err = |s: &str| parse_duration(s).expect_err(s);
        assert_eq!(err(""), DurationError::Empty);
        assert_eq!(err("   "), DurationError::Empty);
        assert!(matches!(err("-5m"), DurationError::Negative { .. }));
        assert!(matches!(err("30"), DurationError::MissingUnit { number, .. } if number == "30"));
        assert!(matches!(err("1h30"), DurationError::MissingUnit { number, .. } if number == "30"));
        assert!(matches!(err("30s1m"), DurationError::UnitOrder { .. }));
        assert!(matches!(err("1m1m"), DurationError::RepeatedUnit { .. }));
        assert!(matches!(err("1.5h"), DurationError::Fractional { .. }));
        assert!(matches!(err("1,5h"), DurationError::Fractional { .. }));
        assert!(matches!(err("h"), DurationError::ExpectedNumber { .. }));
        assert!(matches!(err("+5m"), DurationError::ExpectedNumber { .. }));
        assert!(matches!(
            err("99999999999999999999999s"),
            DurationError::Overflow { .. }
        ));
        assert!(matches!(
            err("213503982334602d"),
            DurationError::Overflow { .. }
        ));
    }

    #[test]
    fn error_messages_say_what_to_do() {
        assert_eq!(
            parse_duration("5 parsecs").unwrap_err().to_string(),
            r#"unknown unit "parsecs" in "5 parsecs"; use ms, s, m, h or d"#
        );
        assert_eq!(
            parse_duration("30").unwrap_err().to_string(),
            r#"missing unit after "30" in "30"; use ms, s, m, h or d"#
        );
        assert_eq!(
            parse_duration("30s1m").unwrap_err().to_string(),
            r#"unit "m" comes after the smaller unit "s" in "30s1m"; write units from largest to smallest (d, h, m, s, ms)"#
        );
        assert_eq!(
            parse_duration("-5m").unwrap_err().to_string(),
            r#"negative duration in "-5m"; durations are zero or more"#
        );
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_duration(ms(0)), "0s");
        assert_eq!(format_duration(ms(500)), "500ms");
        assert_eq!(format_duration(ms(5_400_000)), "1h30m");
        assert_eq!(format_duration(ms(93_600_000)), "1d2h");
        assert_eq!(format_duration(ms(61_001)), "1m1s1ms");
        assert_eq!(format_duration(Duration::from_nanos(1_500_000)), "1ms");
        assert_eq!(format_duration(Duration::from_nanos(999_999)), "0s");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn format_then_parse_roundtrips_whole_milliseconds(millis in any::<u64>()) {
            let d = ms(millis);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
