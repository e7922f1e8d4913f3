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
//!
//! On PostgreSQL a batch also plans *ahead of its locks* when every day it
//! needs is cached ([`plan_ahead`]): batches sharing calendars (ten
//! attendees in every meeting) run one after the other under the locks,
//! and that serial section was the whole batch, reads, search and about
//! thirty rows per 10-attendee placement. Planned and written ahead, it is
//! the lock, one update of the calendars' generations and the commit; the
//! rest overlaps the batch ahead's serial section. What the batch planned
//! on is checked under the locks, and planned again there if anything
//! changed, so both ways place exactly as a batch that locked first would.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use allot_kernel::booking::Span;
use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use super::busy_cache::{BusyCache, Planning, Proposed, Rows, Spans};
use super::place::{self, AutoRequest, day_start};
use super::store::{self, CalendarRow, EventRow};
use crate::booking::rules::{from_micros, micros};
use crate::booking::store as bstore;
use crate::clock::SharedClock;
use crate::group_commit::{BatchShape, GroupCommit};
use crate::http::problem::Problem;
use crate::store::{Backend, Db, DbTime, Tx};

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
    counts: Arc<AheadCounts>,
}

impl PlacementBatcher {
    /// Starts the batch loops; must be called inside a tokio runtime. Three
    /// loops: placements on shared calendars still run one after the other
    /// under their locks, but the next batches can be formed, planned and
    /// partly written while one holds the locks (see [`plan_ahead`]; with
    /// two loops the next batch's planning started only once the one before
    /// the locked one had committed). The loops run on a thread of their
    /// own (see `group_commit`), with connections of their own
    /// (`Db::begin_own_thread_batch`).
    pub fn start(db: Db, clock: SharedClock) -> Self {
        let shape = BatchShape {
            max: MAX_BATCH,
            workers: 3,
            linger: Some(std::time::Duration::from_millis(1)),
            own_thread: true,
        };
        let cache = Arc::new(BusyCache::default());
        let counts = Arc::new(AheadCounts::default());
        let (shared, tally) = (cache.clone(), counts.clone());
        let queue = GroupCommit::start(shape, move |jobs: Vec<AutoJob>| {
            let (db, cache, counts, now) = (db.clone(), shared.clone(), tally.clone(), clock.now());
            async move {
                let n = jobs.len();
                // A failed batch (a database error) tells every request to
                // try alone: a lone retry succeeds or reports its own error.
                place_and_write(&db, &cache, &counts, now, jobs)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = ?e, "placement batch failed; placing each alone");
                        (0..n).map(|_| Outcome::Single).collect()
                    })
            }
        });
        Self {
            queue,
            cache,
            counts,
        }
    }

    /// `(written, changed)`: batches written as planned ahead of their
    /// locks, and batches that found what they planned on changed and
    /// planned again under the locks (see [`AheadCounts`]).
    pub fn ahead_stats(&self) -> (u64, u64) {
        (
            self.counts.written.load(Ordering::Relaxed),
            self.counts.changed.load(Ordering::Relaxed),
        )
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
    counts: &AheadCounts,
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
    // SQLite has one writer, taken with the transaction: nothing to plan
    // ahead of.
    let mut planning =
        matches!(db.backend(), Backend::Postgres).then(|| cache.planning(ids.clone()));
    let mut tx = db.begin_own_thread_batch().await?;
    if let Some(ticket) = planning.as_ref().map(|p| p.ticket()) {
        cache.planned(&ids, ticket).await;
        phases.mark("wait");
        let ahead =
            plan_ahead(&mut tx, cache, now, &jobs, &ids, &mut planning, &mut phases).await?;
        match ahead {
            Ahead::Written(done) => {
                let (basis, planned, proposed) = *done;
                counts.written.fetch_add(1, Ordering::Relaxed);
                let held = Held {
                    _planning: None,
                    proposed: Some(proposed),
                };
                finish(db, cache, tx, ids, held, &basis, &planned, now).await?;
                phases.mark("commit");
                phases.log("ahead");
                return Ok(planned.answers);
            }
            Ahead::Changed => {
                counts.changed.fetch_add(1, Ordering::Relaxed);
            }
            Ahead::NotCached => {}
        }
    }
    let (systems, cals) = store::lock_calendars(&mut tx, &ids).await?;
    // A batch that held these locks may still be storing what it knows.
    cache.settled(&ids).await;
    phases.mark("lock");
    let outages = bstore::open_outages_of(&mut tx, &ids, now).await?;
    phases.mark("outages");
    let ranges = job_ranges(&jobs, &cals, now);
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
    let basis = Basis {
        generation,
        asked,
        busy: place::by_system_with(read, known.into_iter()),
        rows: rows_of(&systems, &cals, &outages),
    };
    phases.mark("read");
    let planned = plan(&jobs, &ranges, now, &cals, &basis.busy, &outages);
    phases.mark("place");
    store::insert_placements(&mut tx, &planned.events, &planned.holds, &planned.entries).await?;
    widen_bounds(&mut tx, &systems, &planned.longest).await?;
    phases.mark("write");
    let held = Held {
        _planning: planning,
        proposed: None,
    };
    finish(db, cache, tx, ids, held, &basis, &planned, now).await?;
    phases.mark("commit");
    phases.log("locked");
    Ok(planned.answers)
}

/// How many batches on PostgreSQL were written as planned ahead of their
/// locks, and how many found under the locks that what they planned on
/// had changed (and planned again).
#[derive(Default)]
pub struct AheadCounts {
    written: AtomicU64,
    changed: AtomicU64,
}

enum Ahead<'a> {
    /// Planned ahead and written, locks held: left to commit.
    Written(Box<(Basis, Planned, Proposed<'a>)>),
    /// Planned ahead, but what it planned on changed before the locks were
    /// taken: nothing written, locks held.
    Changed,
    /// A range it needs is not cached: nothing planned, no locks.
    NotCached,
}

/// Plans a batch before taking its calendars' locks, on what the cache
/// holds (the rows and busy spans a batch stores before it commits) and on
/// the proposal of the batch ahead (what it placed, before its writes and
/// check), proposes in turn, and writes everything (the events, their
/// holds, the entries and their feed events) while the batch ahead still
/// holds the calendars: none of it is seen by another writer before this
/// commits. Under the locks only the calendars' generations are left to
/// bump: the serial section is a lock, one update and a commit, where it
/// was also the reads, the search and every row.
///
/// Under the locks it checks that what it planned on is what is there: each
/// calendar's generation (bumped by every write of its entries or outages)
/// is the one of the cached spans it planned on, those spans' store still
/// stands (the batch that stored them committed), and the calendar and its
/// system are unchanged. Anything else is rolled back to before the writes,
/// and the batch is planned again under the locks.
async fn plan_ahead<'c>(
    tx: &mut Tx<'_>,
    cache: &'c BusyCache,
    now: Timestamp,
    jobs: &[AutoJob],
    ids: &[Uuid],
    planning: &mut Option<Planning<'c>>,
    phases: &mut Phases,
) -> Result<Ahead<'c>, Problem> {
    // The rows to plan with, as the batches ahead stored them (`planned`
    // waited for those): no read before planning.
    let mut cached: BTreeMap<Uuid, (u64, Rows)> = BTreeMap::new();
    for id in ids {
        if let Some(found) = cache.rows(*id) {
            cached.insert(*id, found);
        }
    }
    let systems: Vec<bstore::SystemRow> = cached.values().map(|(_, r)| r.system.clone()).collect();
    let cals: Vec<CalendarRow> = cached.values().map(|(_, r)| r.calendar.clone()).collect();
    let outages: Vec<bstore::OutageRow> = cached
        .values()
        .flat_map(|(_, r)| r.outages.iter().cloned())
        .collect();
    let ranges = job_ranges(jobs, &cals, now);
    let mut wanted: BTreeMap<Uuid, Vec<Span>> = BTreeMap::new();
    for (job, range) in jobs.iter().zip(&ranges) {
        // A job on a calendar not cached has no range: nothing to plan on.
        let Some(r) = range else {
            return Ok(Ahead::NotCached);
        };
        if !BusyCache::keeps(*r, micros(now)) {
            return Ok(Ahead::NotCached);
        }
        for id in &job.seat_ids {
            if !cached.contains_key(id) {
                return Ok(Ahead::NotCached);
            }
            let spans = wanted.entry(*id).or_default();
            if !spans.contains(r) {
                spans.push(*r);
            }
        }
    }
    let mut generation = HashMap::new();
    let mut stamps = HashMap::new();
    let mut awaited = Vec::new();
    let mut asked = BTreeSet::new();
    let mut known = Vec::new();
    for (id, spans) in &wanted {
        // The spans must come from the same store as the rows.
        let stamp = cached.get(id).map(|(stamp, _)| *stamp);
        let Some(snap) = cache
            .snapshot(*id, spans)
            .filter(|s| Some(s.stamp) == stamp)
        else {
            return Ok(Ahead::NotCached);
        };
        for (range, busy) in spans.iter().zip(snap.ranges) {
            asked.insert((*id, range.start, range.end));
            known.extend(busy.into_iter().map(|(span, e)| (*id, span, e)));
        }
        // The batches ahead may not have stored yet, but have proposed
        // what they placed: plan on that too, and expect the last one's
        // store under the locks. A proposal made on something else belongs
        // to a batch that will store something else first (it planned on a
        // proposal that failed): this one could only fail its check, so it
        // locks first.
        let Some(chain) = cache.proposals_on(*id, snap.stamp) else {
            return Ok(Ahead::NotCached);
        };
        let (mut at, mut stamp) = (snap.generation, snap.stamp);
        for p in chain {
            known.extend(p.added.iter().map(|(span, e)| (*id, *span, *e)));
            (at, stamp) = (p.generation, p.token);
            awaited.push(p.token);
        }
        generation.insert(*id, at);
        stamps.insert(*id, stamp);
    }
    phases.days(0, asked.len());
    let mut basis = Basis {
        generation,
        asked,
        busy: place::by_system_with(Vec::new(), known.into_iter()),
        rows: HashMap::new(),
    };
    phases.mark("read");
    let planned = plan(jobs, &ranges, now, &cals, &basis.busy, &outages);
    if planned.events.is_empty() {
        return Ok(Ahead::NotCached);
    }
    // Proposed, the batch behind can plan on this one: it need not wait
    // for the writes and the check.
    let proposed = cache.propose(
        wanted
            .keys()
            .map(|id| {
                let added = planned.added.get(id).cloned().unwrap_or_default();
                let at = basis.generation.get(id).copied().unwrap_or_default();
                let bump = i64::from(!added.is_empty());
                (
                    *id,
                    stamps.get(id).copied().unwrap_or_default(),
                    at + bump,
                    added,
                )
            })
            .collect(),
    );
    drop(planning.take());
    phases.mark("place");
    let Tx::Postgres(pg) = tx else {
        return Ok(Ahead::NotCached);
    };
    // Everything is written ahead of the locks, the entries too: they stay
    // invisible to every other writer until this commits, and it commits
    // only if, under the locks, nothing it planned on has changed. Their
    // insert leaves the calendars' generations to be bumped under the locks
    // (migration 0012): the trigger's bump would take the calendar rows'
    // locks now, behind the batch ahead. Both are undone with the savepoint.
    sqlx::raw_sql("SAVEPOINT ahead; SET LOCAL allot.entries_gen = 'caller'")
        .execute(&mut **pg)
        .await?;
    store::insert_placements(tx, &planned.events, &planned.holds, &planned.entries).await?;
    phases.mark("prewrite");
    cache.resolved(&awaited).await;
    let (locked_systems, locked_cals) = store::lock_calendars(tx, ids).await?;
    cache.settled(ids).await;
    phases.mark("lock");
    let unchanged = wanted.keys().all(|id| {
        let cal = |list: &[CalendarRow]| {
            list.iter()
                .find(|c| c.id.0 == *id)
                .map(|c| (c.version, c.entries_gen))
        };
        let sys =
            |list: &[bstore::SystemRow]| list.iter().find(|s| s.id.0 == *id).map(|s| s.version);
        let planned_at = basis.generation.get(id).copied();
        cal(&locked_cals) == cal(&cals).map(|(v, _)| v).zip(planned_at)
            && sys(&locked_systems).is_some()
            && sys(&locked_systems) == sys(&systems)
            && cache.stamp(*id) == stamps.get(id).copied()
    });
    let Tx::Postgres(pg) = tx else {
        return Ok(Ahead::NotCached);
    };
    if !unchanged {
        sqlx::query("ROLLBACK TO SAVEPOINT ahead")
            .execute(&mut **pg)
            .await?;
        return Ok(Ahead::Changed);
    }
    let written: Vec<Uuid> = planned.added.keys().copied().collect();
    store::bump_entries_gen(pg, &written).await?;
    widen_bounds(tx, &locked_systems, &planned.longest).await?;
    // Unchanged, so the outages too (they would have moved the generation).
    basis.rows = rows_of(&locked_systems, &locked_cals, &outages);
    phases.mark("write");
    Ok(Ahead::Written(Box::new((basis, planned, proposed))))
}

/// Each calendar's rows for the cache.
fn rows_of(
    systems: &[bstore::SystemRow],
    cals: &[CalendarRow],
    outages: &[bstore::OutageRow],
) -> HashMap<Uuid, Rows> {
    cals.iter()
        .filter_map(|c| {
            let system = systems.iter().find(|s| s.id.0 == c.id.0)?;
            let rows = Rows {
                system: system.clone(),
                calendar: c.clone(),
                outages: outages
                    .iter()
                    .filter(|o| o.system_id.0 == c.id.0)
                    .cloned()
                    .collect(),
            };
            Some((c.id.0, rows))
        })
        .collect()
}

/// Each job's search range: its requested date only (clipped to now), or
/// `None` where its calendar is unknown.
fn job_ranges(jobs: &[AutoJob], cals: &[CalendarRow], now: Timestamp) -> Vec<Option<Span>> {
    jobs.iter()
        .map(|j| {
            let cal = cals.iter().find(|c| c.id.0 == j.row.calendar_id.0)?;
            place::day_range(&place::calendar_tz(cal), j.date, 0, now)
        })
        .collect()
}

/// What a batch planned on: each calendar's generation, the (calendar,
/// range) pairs it asked for, and their busy spans.
struct Basis {
    generation: HashMap<Uuid, i64>,
    asked: BTreeSet<(Uuid, i64, i64)>,
    busy: place::BusyBySystem,
    /// The calendars' rows as read or checked under their locks.
    rows: HashMap<Uuid, Rows>,
}

/// What a batch decided: an outcome per job, and the rows to write.
struct Planned {
    answers: Vec<Outcome>,
    events: Vec<EventRow>,
    entries: Vec<bstore::EntryRow>,
    /// (entry, event, calendar).
    holds: Vec<(Uuid, Uuid, Uuid)>,
    /// The longest span placed on each calendar.
    longest: BTreeMap<Uuid, i64>,
    /// Each calendar's new entries, for the cache.
    added: HashMap<Uuid, Spans>,
}

/// Places every job in arrival order, each placed event joining the busy
/// spans the next is searched against.
fn plan(
    jobs: &[AutoJob],
    ranges: &[Option<Span>],
    now: Timestamp,
    cals: &[CalendarRow],
    busy: &place::BusyBySystem,
    outages: &[bstore::OutageRow],
) -> Planned {
    let none = HashSet::new();
    let mut taken: HashMap<Uuid, Vec<Span>> = HashMap::new();
    let mut out = Planned {
        answers: Vec::with_capacity(jobs.len()),
        events: Vec::new(),
        entries: Vec::new(),
        holds: Vec::new(),
        longest: BTreeMap::new(),
        added: HashMap::new(),
    };
    for (job, range) in jobs.iter().zip(ranges) {
        let Some(range) = *range else {
            out.answers.push(Outcome::Single);
            continue;
        };
        let mut seats = place::build_seats(&job.seat_ids, range, now, &none, cals, busy, outages);
        if seats.len() != job.seat_ids.len() {
            // A calendar is gone: the single path answers the 404.
            out.answers.push(Outcome::Single);
            continue;
        }
        for seat in &mut seats {
            if let Some(spans) = taken.get(&seat.id) {
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
                seats[0].slot_granularity_s.saturating_mul(1_000_000),
            ),
        };
        let Ok(span) = place::auto_slot(&seats, &req) else {
            out.answers.push(Outcome::Single);
            continue;
        };
        let mut row = job.row.clone();
        row.start_at = Some(DbTime(from_micros(span.start)));
        row.end_at = Some(DbTime(from_micros(span.end)));
        for id in &job.seat_ids {
            taken.entry(*id).or_default().push(span);
            let l = out.longest.entry(*id).or_default();
            *l = (*l).max(span.len());
        }
        for e in place::hold_entries(&row, &job.seat_ids, span, now) {
            out.holds.push((e.id.0, row.id.0, e.system_id.0));
            out.added
                .entry(e.system_id.0)
                .or_default()
                .push((span, e.id.0));
            out.entries.push(e);
        }
        out.events.push(row.clone());
        out.answers.push(Outcome::Placed(Box::new(row)));
    }
    out
}

/// A statement only for the systems whose longest-entry bound grows (the
/// first long event on a calendar), not one per calendar per batch.
async fn widen_bounds(
    tx: &mut Tx<'_>,
    systems: &[bstore::SystemRow],
    longest: &BTreeMap<Uuid, i64>,
) -> Result<(), Problem> {
    for (system, len) in longest {
        let bound = systems
            .iter()
            .find(|s| s.id.0 == *system)
            .map(|s| s.max_entry_us);
        if bound.is_none_or(|b| *len > b) {
            bstore::widen_max_entry(tx, *system, *len).await?;
        }
    }
    Ok(())
}

/// What a batch holds in the cache until it has stored: its planning mark
/// (a batch that locked first) or its proposals (one that planned ahead).
/// Both are held for their drop, once the batch has stored.
struct Held<'a> {
    _planning: Option<Planning<'a>>,
    proposed: Option<Proposed<'a>>,
}

/// Stores what the batch knows in the cache, lets the batches behind it
/// plan on that, and commits; a failed commit takes the store back.
#[allow(clippy::too_many_arguments)]
async fn finish(
    db: &Db,
    cache: &BusyCache,
    tx: Tx<'_>,
    ids: Vec<Uuid>,
    held: Held<'_>,
    basis: &Basis,
    planned: &Planned,
    now: Timestamp,
) -> Result<(), Problem> {
    let committing = cache.committing(ids.clone());
    remember(
        db,
        cache,
        basis,
        &planned.added,
        held.proposed.as_ref(),
        micros(now),
    );
    drop(held);
    let committed = tx.commit().await;
    if committed.is_err() {
        // The commit may or may not have happened: either way the cache
        // must not vouch for it.
        cache.forget(&ids);
    }
    drop(committing);
    Ok(committed?)
}

/// Keeps what a batch knows of each calendar's busy days for the next
/// batch (see [`BusyCache`]), before it commits (a failed commit forgets
/// it): the spans of every day it read or found cached, at the generation
/// it planned at and checked under the calendars' locks, plus the entries
/// it added, at the generation those led to. Its one insert of
/// entries bumped the generation of each calendar it wrote once on
/// PostgreSQL (a statement trigger, or the batch's own update when it
/// wrote ahead of its locks) and once per entry on SQLite (a row trigger).
fn remember(
    db: &Db,
    cache: &BusyCache,
    basis: &Basis,
    added: &HashMap<Uuid, Spans>,
    proposed: Option<&Proposed<'_>>,
    now: i64,
) {
    let Basis {
        generation,
        asked,
        busy,
        rows,
    } = basis;
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
        cache.store(
            system,
            seen,
            seen + bumps,
            ranges,
            mine,
            rows.get(&system).cloned(),
            proposed.and_then(|p| p.token(system)),
        );
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

    /// `path`: `ahead` (planned before the locks) or `locked`.
    fn log(&self, path: &str) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let ms: Vec<String> = self
                .marks
                .iter()
                .map(|(phase, ms)| format!("{phase} {ms:.2}"))
                .collect();
            tracing::debug!(
                path,
                placements = self.placements,
                days_read = self.days_read,
                days_cached = self.days_cached,
                "placement batch (ms): {}",
                ms.join(", ")
            );
        }
    }
}
