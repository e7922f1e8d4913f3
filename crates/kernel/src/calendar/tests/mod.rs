//! Tests for calendars: plain examples that document behaviour, property
//! tests against brute-force oracles (per instant for span sets and slot
//! search, per offset lookup for time zones), and an ignored speed check.

mod common_props;
mod examples;
mod oracle;
mod spans_props;
mod speed;
mod windows_props;
