//! Placement: turning the locked calendars of a request into the kernel's
//! inputs, asking it where an event fits, and explaining a refusal.
//!
//! Everything here runs inside the write transaction that locked the
//! calendars' booking systems, so what it reads cannot change before the
//! transaction commits.

use std::collections::{HashMap, HashSet};

use allot_kernel::booking::Span;
use allot_kernel::calendar::{
    Participant, SlotReason, WorkingHours, conflict, earliest_common_slot, outside_windows, windows,
};
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::Deserialize;
use uuid::Uuid;

use super::store::CalendarRow;
use crate::booking::rules::{from_micros, micros, span_of};
use crate::booking::store::{self as bstore, Src};
use crate::http::problem::Problem;
use crate::store::Tx;

/// One calendar taking part in a placement, loaded for a time range.
pub struct Seat {
    /// The calendar's id.
    pub id: Uuid,
    pub tz: TimeZone,
    pub horizon_days: Option<i64>,
    pub slot_granularity_s: i64,
    pub windows: Vec<Span>,
    /// Spans taken by other entries, with the entry holding each.
    pub busy: Vec<(Span, Uuid)>,
    pub busy_spans: Vec<Span>,
    /// Where outages forbid new events.
    pub blocked: Vec<Span>,
    /// Outages in progress now: while one is, the calendar takes nothing new.
    pub present_outages: Vec<Uuid>,
}

impl Seat {
    fn participant(&self, busy: bool, blocked: bool) -> Participant<'_> {
        Participant {
            busy: if busy { &self.busy_spans } else { &[] },
            windows: &self.windows,
            blocked: if blocked { &self.blocked } else { &[] },
        }
    }
}

pub fn calendar_tz(cal: &CalendarRow) -> TimeZone {
    TimeZone::get(&cal.timezone).unwrap_or(TimeZone::UTC)
}

pub fn calendar_hours(cal: &CalendarRow) -> WorkingHours {
    WorkingHours::deserialize(&cal.working_hours.0).unwrap_or_else(|_| WorkingHours::all_day())
}

/// The instant a local date and time name in `tz` (a time in a DST gap
/// moves forward; in a fold, the earlier instant).
pub fn local_instant(tz: &TimeZone, date: Date, time: Time) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(date.to_datetime(time))
        .compatible()
        .ok()
}

/// Local midnight starting `date` in `tz`.
pub fn day_start(tz: &TimeZone, date: Date) -> Option<Timestamp> {
    local_instant(tz, date, Time::midnight())
}

/// `[max(now, local midnight of date), local midnight after date + days)`:
/// where an auto-placement on `date` searching `days` more days may look.
pub fn day_range(tz: &TimeZone, date: Date, days: i64, now: Timestamp) -> Option<Span> {
    let start = day_start(tz, date)?;
    let last = date.checked_add(jiff::Span::new().days(days + 1)).ok()?;
    let end = day_start(tz, last)?;
    Span::new(micros(start).max(micros(now)), micros(end))
}

const DAY_US: i64 = 86_400_000_000;

/// The earliest horizon end among the seats, if any has one.
pub fn horizon_end(seats: &[Seat], now: Timestamp) -> Option<i64> {
    seats
        .iter()
        .filter_map(|s| s.horizon_days)
        .map(|d| micros(now).saturating_add(d.saturating_mul(DAY_US)))
        .min()
}

/// Locks the booking systems of `ids` (sorted, so two requests always lock
/// in the same order) and loads each calendar's busy spans, outages and
/// windows over `range`. Entries in `ignore` (the event's own, when it is
/// being moved) are not busy. The first seat is `ids[0]`'s; a missing
/// calendar is a 404 naming it.
pub async fn load_seats(
    tx: &mut Tx<'_>,
    ids: &[Uuid],
    range: Span,
    now: Timestamp,
    ignore: &HashSet<Uuid>,
) -> Result<Vec<Seat>, Problem> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    let (systems, cals) = super::store::lock_calendars(tx, &sorted).await?;
    for id in ids {
        if !cals.iter().any(|c| c.id.0 == *id) {
            return Err(Problem::not_found("calendar", &id.to_string()));
        }
    }
    let from = from_micros(range.start);
    let to = from_micros(range.end);
    let ranges: Vec<_> = systems.iter().map(|s| (s, from, to)).collect();
    let entries = by_system(bstore::active_spans_many(tx, &ranges).await?);
    let outages = bstore::open_outages_of(tx, &sorted, now).await?;
    Ok(build_seats(
        ids, range, now, ignore, &cals, &entries, &outages,
    ))
}

/// Busy spans grouped by the calendar (booking system) they are on.
pub type BusyBySystem = HashMap<Uuid, SystemBusy>;

/// One calendar's busy spans, sorted by start, so that a seat takes those
/// overlapping its range by binary search: a batch reads a calendar for
/// every day its placements ask for, and each seat scanning all of them
/// made a batch's placing grow with the square of its size.
#[derive(Default)]
pub struct SystemBusy {
    spans: Vec<(Span, Uuid)>,
    longest: i64,
}

impl SystemBusy {
    /// The spans overlapping `range`, by start.
    pub fn overlapping(&self, range: Span) -> impl Iterator<Item = &(Span, Uuid)> {
        let from = range.start.saturating_sub(self.longest);
        let lo = self.spans.partition_point(|(s, _)| s.start <= from);
        let hi = self.spans.partition_point(|(s, _)| s.start < range.end);
        self.spans[lo..hi.max(lo)]
            .iter()
            .filter(move |(s, _)| s.overlaps(&range))
    }
}

/// Groups `spans` by system, each entry once (reads of overlapping ranges
/// return an entry once per range).
pub fn by_system(spans: Vec<bstore::BusySpan>) -> BusyBySystem {
    by_system_with(spans, std::iter::empty())
}

/// [`by_system`] of read `spans` and of spans known already (`(system,
/// span, entry)`, from the batch's cache).
pub fn by_system_with(
    spans: Vec<bstore::BusySpan>,
    known: impl Iterator<Item = (Uuid, Span, Uuid)>,
) -> BusyBySystem {
    let mut out = BusyBySystem::new();
    let read = spans
        .into_iter()
        .filter_map(|e| Some((e.system_id.0, span_of(e.start_at.0, e.end_at.0)?, e.id.0)));
    for (system, span, entry) in read.chain(known) {
        let busy = out.entry(system).or_default();
        busy.longest = busy.longest.max(span.len());
        busy.spans.push((span, entry));
    }
    // An entry seen twice has the same span both times, so sorted by span
    // and then id its copies are neighbours (cheaper than hashing every
    // entry of a batch's tens of thousands).
    for busy in out.values_mut() {
        busy.spans
            .sort_unstable_by_key(|(s, id)| (s.start, s.end, *id));
        busy.spans.dedup_by_key(|(_, id)| *id);
    }
    out
}

/// The seats of `ids` over `range` from rows already read under the
/// calendars' locks (by [`load_seats`], or once for a whole batch):
/// `entries` and `outages` may include other calendars' rows and entries
/// outside `range`; only those of each seat overlapping `range` count.
pub fn build_seats(
    ids: &[Uuid],
    range: Span,
    now: Timestamp,
    ignore: &HashSet<Uuid>,
    cals: &[CalendarRow],
    entries: &BusyBySystem,
    outages: &[bstore::OutageRow],
) -> Vec<Seat> {
    let mut seats = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(cal) = cals.iter().find(|c| c.id.0 == *id) else {
            continue;
        };
        let tz = calendar_tz(cal);
        let hours = calendar_hours(cal);
        let busy: Vec<(Span, Uuid)> = entries
            .get(id)
            .into_iter()
            .flat_map(|b| b.overlapping(range))
            .filter(|(_, entry)| !ignore.contains(entry))
            .copied()
            .collect();
        let mine = outages
            .iter()
            .filter(|o| o.system_id.0 == *id && o.affects(&[]));
        let mut blocked = Vec::new();
        let mut present = Vec::new();
        for o in mine {
            if o.present(now) {
                present.push(o.id.0);
            }
            if let Some(zone) = o.zone(now) {
                blocked.push(zone);
            }
        }
        seats.push(Seat {
            id: *id,
            windows: windows(&hours, &tz, range),
            busy_spans: busy.iter().map(|b| b.0).collect(),
            busy,
            blocked,
            present_outages: present,
            tz,
            horizon_days: cal.horizon_days,
            slot_granularity_s: cal.slot_granularity_s,
        });
    }
    seats
}

/// Why an event could not be placed: the typed reasons of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplaceable {
    Busy {
        event_ids: Vec<Uuid>,
        entry_ids: Vec<Uuid>,
    },
    OutsideWorkingHours,
    BeyondHorizon,
    Outage {
        calendar_id: Uuid,
        outage_ids: Vec<Uuid>,
    },
    AttendeeBusy {
        attendee: Uuid,
        event_ids: Vec<Uuid>,
        entry_ids: Vec<Uuid>,
    },
}

impl Unplaceable {
    pub fn reason(&self) -> &'static str {
        match self {
            Unplaceable::Busy { .. } => "busy",
            Unplaceable::OutsideWorkingHours => "outside_working_hours",
            Unplaceable::BeyondHorizon => "beyond_horizon",
            Unplaceable::Outage { .. } => "outage",
            Unplaceable::AttendeeBusy { .. } => "attendee_busy",
        }
    }
}

/// An auto-placement request over loaded seats.
pub struct AutoRequest {
    pub duration_us: i64,
    /// Where the search may look (already clipped to now).
    pub range: Span,
    /// The end of the horizon, if any participant has one.
    pub horizon_end: Option<i64>,
    /// `(origin, step)`: the slot grid.
    pub align: (i64, i64),
}

/// The earliest slot suiting every seat, or why there is none: with no
/// window long enough the reason is the working hours, or the horizon if
/// only the horizon cut it off; with outages the only obstacle, `outage`;
/// when the first calendar alone has room but an attendee calendar does
/// not, `attendee_busy` naming the first such attendee; else `busy`.
pub fn auto_slot(seats: &[Seat], req: &AutoRequest) -> Result<Span, Unplaceable> {
    let within = match req.horizon_end {
        Some(h) => Span::new(req.range.start, req.range.end.min(h)),
        None => Some(req.range),
    };
    let search = |parts: &[Participant], within: Span| {
        earliest_common_slot(parts, req.duration_us, within, Some(req.align))
    };
    let all: Vec<Participant> = seats.iter().map(|s| s.participant(true, true)).collect();
    if let Some(within) = within
        && let Some(slot) = search(&all, within)
    {
        return Ok(slot);
    }
    let hours_only: Vec<Participant> = seats.iter().map(|s| s.participant(false, false)).collect();
    if search(&hours_only, req.range).is_none() {
        return Err(Unplaceable::OutsideWorkingHours);
    }
    let Some(within) = within.filter(|w| search(&hours_only, *w).is_some()) else {
        return Err(Unplaceable::BeyondHorizon);
    };
    let no_outages: Vec<Participant> = seats.iter().map(|s| s.participant(true, false)).collect();
    if search(&no_outages, within).is_some() {
        let seat = seats.iter().find(|s| !s.blocked.is_empty());
        return Err(Unplaceable::Outage {
            calendar_id: seat.map(|s| s.id).unwrap_or_default(),
            outage_ids: seat.map(|s| s.present_outages.clone()).unwrap_or_default(),
        });
    }
    let first_alone = |other: Option<usize>| -> Vec<Participant> {
        seats
            .iter()
            .enumerate()
            .map(|(i, s)| s.participant(i == 0 || Some(i) == other, true))
            .collect()
    };
    if search(&first_alone(None), within).is_some() {
        for (i, seat) in seats.iter().enumerate().skip(1) {
            if search(&first_alone(Some(i)), within).is_none() {
                return Err(Unplaceable::AttendeeBusy {
                    attendee: seat.id,
                    event_ids: Vec::new(),
                    entry_ids: Vec::new(),
                });
            }
        }
    }
    Err(Unplaceable::Busy {
        event_ids: Vec::new(),
        entry_ids: Vec::new(),
    })
}

/// What stands in an explicit span's way.
pub enum Explicit {
    /// Free on every seat; `outside` tells whether it is outside some
    /// seat's working hours (allowed, but flagged).
    Free {
        outside: bool,
    },
    /// Taken by these entries, per seat index.
    Taken(Vec<(usize, Uuid)>),
    Refused(Unplaceable),
}

pub fn explicit_span(seats: &[Seat], span: Span) -> Explicit {
    for s in seats {
        if !s.present_outages.is_empty() {
            return Explicit::Refused(Unplaceable::Outage {
                calendar_id: s.id,
                outage_ids: s.present_outages.clone(),
            });
        }
    }
    let parts: Vec<Participant> = seats.iter().map(|s| s.participant(true, true)).collect();
    match conflict(&parts, span) {
        None => Explicit::Free {
            outside: !outside_windows(&parts, span).is_empty(),
        },
        Some(r) => match r.reason {
            SlotReason::Blocked { .. } => {
                let s = &seats[r.participant];
                Explicit::Refused(Unplaceable::Outage {
                    calendar_id: s.id,
                    outage_ids: s.present_outages.clone(),
                })
            }
            _ => Explicit::Taken(
                seats
                    .iter()
                    .enumerate()
                    .flat_map(|(i, s)| {
                        s.busy
                            .iter()
                            .filter(|(b, _)| b.overlaps(&span))
                            .map(move |(_, id)| (i, *id))
                    })
                    .collect(),
            ),
        },
    }
}

/// The booking entries an event placed at `span` holds: one on each of
/// `seat_ids` (its own calendar first), labelled with its name and naming
/// it in their metadata.
pub fn hold_entries(
    ev: &super::store::EventRow,
    seat_ids: &[Uuid],
    span: Span,
    now: Timestamp,
) -> Vec<bstore::EntryRow> {
    seat_ids
        .iter()
        .map(|cal| {
            bstore::EntryRow::new_active(
                *cal,
                span,
                Vec::new(),
                ev.name.clone(),
                serde_json::json!({"event_id": ev.id.0}),
                now,
            )
        })
        .collect()
}

/// Deletes the event's active booking entries (each with its
/// `entry.deleted` booking event, naming the outage when one caused it):
/// its slot is free again on every calendar it held.
pub async fn release(
    tx: &mut Tx<'_>,
    event_id: Uuid,
    now: Timestamp,
    outage_id: Option<Uuid>,
) -> Result<(), Problem> {
    for entry_id in super::store::active_holds(tx, event_id).await? {
        let Some(mut e) = bstore::get_entry(Src::Tx(tx), entry_id).await? else {
            continue;
        };
        e.status = "deleted".into();
        e.version += 1;
        e.updated_at = crate::store::DbTime(now);
        bstore::update_entry(tx, &e).await?;
        bstore::insert_event(
            tx,
            bstore::NewEvent {
                kind: "entry.deleted",
                system_id: e.system_id.0,
                entry_id: Some(e.id.0),
                outage_id,
                at: now,
                data: serde_json::to_value(e.to_api()).unwrap_or(serde_json::Value::Null),
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::{DbId, DbTime};

    fn busy(system: Uuid, start: i64, len: i64) -> bstore::BusySpan {
        bstore::BusySpan {
            id: DbId(Uuid::now_v7()),
            system_id: DbId(system),
            start_at: DbTime(from_micros(start)),
            end_at: DbTime(from_micros(start + len)),
        }
    }

    proptest! {
        /// The binary search over sorted spans finds exactly what a scan of
        /// every span read or known (each once) finds.
        #[test]
        fn overlapping_matches_a_scan(
            spans in prop::collection::vec((0..2usize, 0..500i64, 1..120i64), 0..60),
            from in 0..600i64,
            len in 1..200i64,
        ) {
            let systems = [Uuid::now_v7(), Uuid::now_v7()];
            let mut rows: Vec<bstore::BusySpan> = spans
                .iter()
                .map(|(s, start, len)| busy(systems[*s], start * 1_000_000, len * 1_000_000))
                .collect();
            // A read of overlapping ranges returns some entries twice.
            rows.extend(rows.iter().take(5).cloned().collect::<Vec<_>>());
            let range = Span::new(from * 1_000_000, (from + len) * 1_000_000).unwrap();
            // Some rows read, some known from the cache, a few both.
            let split = rows.len() / 2;
            let known: Vec<(Uuid, Span, Uuid)> = rows[split.saturating_sub(3)..]
                .iter()
                .map(|r| (r.system_id.0, span_of(r.start_at.0, r.end_at.0).unwrap(), r.id.0))
                .collect();
            let grouped = by_system_with(rows[..split].to_vec(), known.into_iter());
            for system in systems {
                let mut want: Vec<(Span, Uuid)> = rows
                    .iter()
                    .filter(|r| r.system_id.0 == system)
                    .map(|r| (span_of(r.start_at.0, r.end_at.0).unwrap(), r.id.0))
                    .filter(|(s, _)| s.overlaps(&range))
                    .collect();
                want.sort();
                want.dedup();
                let mut got: Vec<(Span, Uuid)> = grouped
                    .get(&system)
                    .into_iter()
                    .flat_map(|b| b.overlapping(range))
                    .copied()
                    .collect();
                got.sort();
                prop_assert_eq!(got, want);
            }
        }
    }
}
