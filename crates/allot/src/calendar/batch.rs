//! Group commit of auto-placements.
//!
//! An auto-placement locks every calendar it involves from the read of
//! their busy spans to commit, so placements on one calendar run one after
//! the other; each was a transaction of about ten statements, and on
//! PostgreSQL their round trips and commits were the whole cost (125
//! placements/s on one calendar). Concurrent auto-placements are therefore
//! queued and taken in batches, as booking does with inserts: one
//! transaction locks every calendar of the batch (sorted, so batches never
//! deadlock each other or a single placement), reads their calendars,
//! outages and busy spans in one statement each, places every request in
//! arrival order with the same kernel search as a single placement (each
//! placed event joins the busy spans the next is searched against), and
//! writes all events, entries, holds and booking events in a constant
//! number of statements.
//!
//! The batch takes only the common case: an event that fits on its
//! requested date. Anything else (the date is full and later days must be
//! searched, a refusal whose reason must be worked out and notified) is
//! answered [`Outcome::Single`], and the requester places it alone through
//! the single path, which re-reads everything under its own locks. Both
//! paths search with [`place::auto_slot`] over seats built by
//! [`place::build_seats`], so they never disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use allot_kernel::booking::Span;
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;
use uuid::Uuid;

use super::place::{self, AutoRequest, day_start};
use super::store::{self, EventRow};
use crate::booking::rules::{from_micros, micros};
use crate::booking::store::{self as bstore, Src};
use crate::clock::SharedClock;
use crate::group_commit::{BatchShape, GroupCommit};
use crate::http::problem::Problem;
use crate::store::{Db, DbTime};

/// A validated auto-placement of a new event.
pub struct AutoJob {
    /// The event to insert, `start_at`/`end_at` still empty.
    pub row: EventRow,
    pub date: Date,
    pub duration_us: i64,
    /// Its own calendar first, then its participants.
    pub seat_ids: Vec<Uuid>,
}

pub enum Outcome {
    /// Placed and committed.
    Placed(Box<EventRow>),
    /// Not decided by the batch: place it alone.
    Single,
}

/// Most placements decided in one transaction.
const MAX_BATCH: usize = 128;

#[derive(Clone)]
pub struct PlacementBatcher {
    queue: GroupCommit<AutoJob, Outcome>,
}

impl PlacementBatcher {
    /// Starts the batch loops; must be called inside a tokio runtime. Two
    /// loops: placements on shared calendars still run one after the other
    /// under their locks, but a second batch can be formed and begun while
    /// the first commits (on PostgreSQL, with the batch connections of
    /// `Db::begin_batch`, 6,300 → 7,000 placements/s on one calendar).
    pub fn start(db: Db, clock: SharedClock) -> Self {
        let shape = BatchShape {
            max: MAX_BATCH,
            workers: 2,
            linger: Some(std::time::Duration::from_millis(1)),
        };
        let queue = GroupCommit::start(shape, move |jobs: Vec<AutoJob>| {
            let (db, now) = (db.clone(), clock.now());
            async move {
                let n = jobs.len();
                // A failed batch (a database error) tells every request to
                // try alone: a lone retry succeeds or reports its own error.
                place_and_write(&db, now, jobs)
                    .await
                    .unwrap_or_else(|_| (0..n).map(|_| Outcome::Single).collect())
            }
        });
        Self { queue }
    }

    pub async fn place(&self, job: AutoJob) -> Result<Outcome, Problem> {
        self.queue.submit(job).await
    }
}

async fn place_and_write(
    db: &Db,
    now: Timestamp,
    jobs: Vec<AutoJob>,
) -> Result<Vec<Outcome>, Problem> {
    let ids: Vec<Uuid> = jobs
        .iter()
        .flat_map(|j| j.seat_ids.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tx = db.begin_batch().await?;
    let systems = bstore::lock_systems(&mut tx, &ids).await?;
    let cals = store::calendars_in(Src::Tx(&mut tx), &ids).await?;
    let outages = bstore::open_outages_of(&mut tx, &ids, now).await?;
    // Each job searches its requested date only (clipped to now).
    let ranges: Vec<Option<Span>> = jobs
        .iter()
        .map(|j| {
            let cal = cals.iter().find(|c| c.id.0 == j.row.calendar_id.0)?;
            place::day_range(&place::calendar_tz(cal), j.date, 0, now)
        })
        .collect();
    // One read per (calendar, day), however many placements ask for it.
    let mut reads: Vec<(&bstore::SystemRow, Timestamp, Timestamp)> = Vec::new();
    let mut asked = HashSet::new();
    for (job, range) in jobs.iter().zip(&ranges) {
        let Some(r) = range else { continue };
        for id in &job.seat_ids {
            if let Some(s) = systems.iter().find(|s| s.id.0 == *id)
                && asked.insert((*id, r.start, r.end))
            {
                reads.push((s, from_micros(r.start), from_micros(r.end)));
            }
        }
    }
    let busy = place::by_system(bstore::active_spans_many(&mut tx, &reads).await?);

    let none = HashSet::new();
    let mut taken: HashMap<Uuid, Vec<Span>> = HashMap::new();
    let mut answers = Vec::with_capacity(jobs.len());
    let mut events = Vec::new();
    let mut entries = Vec::new();
    let mut holds = Vec::new();
    let mut longest: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (mut job, range) in jobs.into_iter().zip(ranges) {
        let Some(range) = range else {
            answers.push(Outcome::Single);
            continue;
        };
        let mut seats =
            place::build_seats(&job.seat_ids, range, now, &none, &cals, &busy, &outages);
        if seats.len() != job.seat_ids.len() {
            // A calendar is gone: the single path answers the 404.
            answers.push(Outcome::Single);
            continue;
        }
        for seat in &mut seats {
            if let Some(spans) = taken.get(&seat.id()) {
                seat.busy_spans
                    .extend(spans.iter().filter(|s| s.overlaps(&range)));
            }
        }
        let origin = day_start(&seats[0].tz, job.date)
            .map(micros)
            .unwrap_or(range.start);
        let req = AutoRequest {
            duration_us: job.duration_us,
            range,
            horizon_end: place::horizon_end(&seats, now),
            align: (
                origin,
                seats[0].cal.slot_granularity_s.saturating_mul(1_000_000),
            ),
        };
        let Ok(span) = place::auto_slot(&seats, &req) else {
            answers.push(Outcome::Single);
            continue;
        };
        job.row.start_at = Some(DbTime(from_micros(span.start)));
        job.row.end_at = Some(DbTime(from_micros(span.end)));
        for id in &job.seat_ids {
            taken.entry(*id).or_default().push(span);
            let l = longest.entry(*id).or_default();
            *l = (*l).max(span.len());
        }
        for e in place::hold_entries(&job.row, &job.seat_ids, span, now) {
            holds.push((e.id.0, job.row.id.0, e.system_id.0));
            entries.push(e);
        }
        events.push(job.row.clone());
        answers.push(Outcome::Placed(Box::new(job.row)));
    }
    let feed: Vec<Value> = entries
        .iter()
        .map(|r| serde_json::to_value(r.to_api()).unwrap_or(Value::Null))
        .collect();
    store::insert_events_with_holds(&mut tx, &events, &holds).await?;
    bstore::insert_entries_with_events(&mut tx, &entries, &feed).await?;
    // A statement only for the systems whose longest-entry bound grows
    // (the first long event on a calendar), not one per calendar per batch.
    for (system, len) in longest {
        let bound = systems
            .iter()
            .find(|s| s.id.0 == system)
            .map(|s| s.max_entry_us);
        if bound.is_none_or(|b| len > b) {
            bstore::widen_max_entry(&mut tx, system, len).await?;
        }
    }
    tx.commit().await?;
    Ok(answers)
}
