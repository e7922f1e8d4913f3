//! Calendars: booking systems of capacity 1 with working hours in a time
//! zone, and the search for times that suit several of them at once.
//!
//! The service loads, for each calendar taking part in a request, its busy
//! spans (events) and blocked spans (outages) inside a search range, turns
//! its [`WorkingHours`] into instants with [`windows`], and hands the lot
//! to the functions here as [`Participant`]s. Nothing here reads a clock,
//! performs IO (beyond jiff loading zone rules) or panics on any input.
//!
//! # Working hours
//!
//! A [`WeeklyRule`] says "on these weekdays, from this time to that time,
//! local time"; [`WorkingHours`] is a list of them whose windows are
//! united. A rule stays within one day, but may end at 24:00 (the next
//! midnight), and touching windows merge, so an all-day calendar is one
//! continuous window and a night shift is two rules that join at
//! midnight. An empty list means "never", not "always": the service's
//! default is [`WorkingHours::all_day`].
//!
//! # Daylight saving time
//!
//! A rule's window on a date runs from that date at its start to that date
//! at its end (the next date's 00:00 for 24:00), each converted with jiff's
//! "compatible" disambiguation: a reading the clock skips (a gap) moves
//! forward by the length of the gap, a reading the clock shows twice (a
//! fold) takes the earlier instant. So 08:00-17:00 lasts 9 hours on the
//! days clocks change (the change happens at night in the usual zones), an
//! all-day window lasts 23 or 25 hours on those days, and a window that the
//! gap turns inside out is dropped. See [`windows`] for the details.
//!
//! # Reduction to the booking kernel
//!
//! A slot suits a set of calendars when, for every one of them, it is
//! inside its merged working windows, overlaps none of its outages and
//! overlaps none of its events. That is a single booking question
//! ([`crate::booking`]):
//!
//! - every participant's events go into one [`crate::booking::Timeline`]
//!   of capacity 1, so a candidate fits iff no participant is busy at any
//!   instant of it (merged first with [`union`]: at capacity 1 only whether
//!   an instant is taken matters, and the merged list builds a much
//!   smaller tree);
//! - the allowed windows are the [`intersect`]ion of every participant's
//!   windows, each first merged with [`union`]; the kernel's "inside one
//!   allowed window" is then "inside some window of every participant",
//!   because canonical lists keep no touching pieces apart;
//! - the blocked spans are all participants' outages together.
//!
//! [`earliest_common_slot`] and [`common_slots`] are then the kernel's
//! `earliest_fit` and `slots`, with their jumps past obstacles and their
//! slot grid. [`refusal`] runs the kernel's `check` per participant, so
//! that a refused explicit placement names the calendar and the reason,
//! and [`conflict`] and [`outside_windows`] split it in two for events that
//! may be placed outside working hours but never over anything.

mod common;
mod hours;
mod spans;
mod windows;

pub use common::{
    Participant, SlotReason, SlotRefusal, common_slots, conflict, earliest_common_slot,
    outside_windows, refusal, within_windows,
};
pub use hours::{
    HoursError, LocalEnd, RawRule, RuleError, Weekdays, WeeklyRule, WorkingHours, parse_weekday,
    weekday_name,
};
pub use spans::{intersect, union};
pub use windows::{MAX_WINDOW_DAYS, windows};

#[cfg(test)]
mod tests;
