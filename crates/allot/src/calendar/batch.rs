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
//! outages and the busy spans it does not have cached (see
//! [`super::busy_cache`]) in one statement each, places every request in
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
use std::sync::Arc;

use allot_kernel::booking::Span;
use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use super::busy_cache::{BusyCache, Spans};
use super::place::{self, AutoRequest, day_start};
use super::store::{self, EventRow};
use crate::booking::rules::{from_micros, micros};
use crate::booking::store as bstore;
use crate::clock::SharedClock;
use crate::group_commit::{BatchShape, GroupCommit};
use crate::http::problem::Problem;
use crate::store::{Backend, Db, DbTime};

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
    cache: Arc<BusyCache>,
}

impl PlacementBatcher {
    /// Starts the batch loops; must be called inside a tokio runtime. Two
    /// loops: placements on shared calendars still run one after the other
    /// under their locks, but a second batch can be formed and begun while
    /// the first commits (on PostgreSQL, with the batch connections of
    /// `Db::begin_batch`, 6,300 → 7,000 placements/s on one calendar).
    /// The loops run on a thread of their own (see `group_commit`), with
    /// connections of their own (`Db::begin_own_thread_batch`).
    pub fn start(db: Db, clock: SharedClock) -> Self {
        let shape = BatchShape {
            max: MAX_BATCH,
            workers: 2,
            linger: Some(std::time::Duration::from_millis(1)),
            own_thread: true,
        };
        let cache = Arc::new(BusyCache::default());
        let shared = cache.clone();
        let queue = GroupCommit::start(shape, move |jobs: Vec<AutoJob>| {
            let (db, cache, now) = (db.clone(), shared.clone(), clock.now());
            async move {
                let n = jobs.len();
                // A failed batch (a database error) tells every request to
                // try alone: a lone retry succeeds or reports its own error.
                place_and_write(&db, &cache, now, jobs)
                    .await
                    .unwrap_or_else(|_| (0..n).map(|_| Outcome::Single).collect())
            }
        });
        Self { queue, cache }
    }

    /// `(hits, misses)` of the busy-span cache: calendar days a batch did
    /// and did not find cached.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    pub async fn place(&self, job: AutoJob) -> Result<Outcome, Problem> {
        self.queue.submit(job).await
    }
}

async fn place_and_write(
    db: &Db,
    cache: &BusyCache,
    now: Timestamp,
    jobs: Vec<AutoJob>,
) -> Result<Vec<Outcome>, Problem> {
    let ids: Vec<Uuid> = jobs
        .iter()
        .flat_map(|j| j.seat_ids.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut phases = Phases::start(jobs.len());
    let mut tx = db.begin_own_thread_batch().await?;
    let (systems, cals) = store::lock_calendars(&mut tx, &ids).await?;
    // A batch that held these locks may still be storing what it knows.
    cache.settled(&ids).await;
    phases.mark("lock");
    let outages = bstore::open_outages_of(&mut tx, &ids, now).await?;
    phases.mark("outages");
    // Each job searches its requested date only (clipped to now).
    let ranges: Vec<Option<Span>> = jobs
        .iter()
        .map(|j| {
            let cal = cals.iter().find(|c| c.id.0 == j.row.calendar_id.0)?;
            place::day_range(&place::calendar_tz(cal), j.date, 0, now)
        })
        .collect();
    // One read per (calendar, day), however many placements ask for it,
    // and none for a day cached at the calendar's current generation.
    // Today's range starts now, so it is never the same range twice and is
    // neither looked up nor kept.
    let generation: HashMap<Uuid, i64> = cals.iter().map(|c| (c.id.0, c.entries_gen)).collect();
    let mut reads: Vec<(&bstore::SystemRow, Timestamp, Timestamp)> = Vec::new();
    let mut known = Vec::new();
    let mut asked: BTreeSet<(Uuid, i64, i64)> = BTreeSet::new();
    for (job, range) in jobs.iter().zip(&ranges) {
        let Some(r) = range else { continue };
        for id in &job.seat_ids {
            let (Some(s), Some(&g)) = (systems.iter().find(|s| s.id.0 == *id), generation.get(id))
            else {
                continue;
            };
            if !asked.insert((*id, r.start, r.end)) {
                continue;
            }
            match BusyCache::keeps(*r, micros(now))
                .then(|| cache.get(*id, g, *r))
                .flatten()
            {
                Some(spans) => known.extend(spans.into_iter().map(|(span, e)| (*id, span, e))),
                None => reads.push((s, from_micros(r.start), from_micros(r.end))),
            }
        }
    }
    phases.mark("cache");
    let read = bstore::active_spans_many(&mut tx, &reads).await?;
    phases.days(reads.len(), asked.len() - reads.len());
    let busy = place::by_system_with(read, known.into_iter());
    phases.mark("read");

    let none = HashSet::new();
    let mut taken: HashMap<Uuid, Vec<Span>> = HashMap::new();
    let mut answers = Vec::with_capacity(jobs.len());
    let mut events = Vec::new();
    let mut entries = Vec::new();
    let mut holds = Vec::new();
    let mut longest: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut added: HashMap<Uuid, Spans> = HashMap::new();
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
            added.entry(e.system_id.0).or_default().push((span, e.id.0));
            entries.push(e);
        }
        events.push(job.row.clone());
        answers.push(Outcome::Placed(Box::new(job.row)));
    }
    phases.mark("place");
    store::insert_placements(&mut tx, &events, &holds, &entries).await?;
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
    phases.mark("write");
    let committing = cache.committing(ids);
    tx.commit().await?;
    remember(db, cache, &generation, &asked, &busy, &added, micros(now));
    drop(committing);
    phases.mark("commit");
    phases.log();
    Ok(answers)
}

/// Keeps what a committed batch knows of each calendar's busy days for the
/// next batch (see [`BusyCache`]): the spans of every day it read or found
/// cached, at the generation it read under the calendars' locks, plus the
/// entries it added, at the generation those led to. Its one insert of
/// entries bumped the generation of each calendar it wrote once on
/// PostgreSQL (a statement trigger) and once per entry on SQLite (a row
/// trigger).
fn remember(
    db: &Db,
    cache: &BusyCache,
    generation: &HashMap<Uuid, i64>,
    asked: &BTreeSet<(Uuid, i64, i64)>,
    busy: &place::BusyBySystem,
    added: &HashMap<Uuid, Spans>,
    now: i64,
) {
    let mut ranges: BTreeMap<Uuid, Vec<(Span, Spans)>> = BTreeMap::new();
    for &(system, start, end) in asked {
        let Some(range) = Span::new(start, end).filter(|r| BusyCache::keeps(*r, now)) else {
            continue;
        };
        let spans = busy
            .get(&system)
            .map(|b| b.overlapping(range).copied().collect())
            .unwrap_or_default();
        ranges.entry(system).or_default().push((range, spans));
    }
    for (system, ranges) in ranges {
        let Some(&seen) = generation.get(&system) else {
            continue;
        };
        let mine = added.get(&system).map(Vec::as_slice).unwrap_or_default();
        let bumps = match (db.backend(), mine.len()) {
            (_, 0) => 0,
            (Backend::Postgres, _) => 1,
            (Backend::Sqlite, n) => n as i64,
        };
        cache.store(system, seen, seen + bumps, ranges, mine);
    }
}

/// Where a batch's time went, logged at debug level
/// (`ALLOT_LOG=allot::calendar::batch=debug`): the measure behind the
/// breakdown in docs/benchmarks.md.
struct Phases {
    placements: usize,
    days_read: usize,
    days_cached: usize,
    last: std::time::Instant,
    marks: Vec<(&'static str, f64)>,
}

impl Phases {
    fn start(placements: usize) -> Self {
        Self {
            placements,
            days_read: 0,
            days_cached: 0,
            last: std::time::Instant::now(),
            marks: Vec::with_capacity(8),
        }
    }

    fn days(&mut self, read: usize, cached: usize) {
        (self.days_read, self.days_cached) = (read, cached);
    }

    fn mark(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.marks
            .push((phase, (now - self.last).as_secs_f64() * 1000.0));
        self.last = now;
    }

    fn log(&self) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let ms: Vec<String> = self
                .marks
                .iter()
                .map(|(phase, ms)| format!("{phase} {ms:.2}"))
                .collect();
            tracing::debug!(
                placements = self.placements,
                days_read = self.days_read,
                days_cached = self.days_cached,
                "placement batch (ms): {}",
                ms.join(", ")
            );
        }
    }
}
