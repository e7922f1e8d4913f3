//! The busy spans the placement batch has read, kept for the next batch.
//!
//! Consecutive batches on the same calendars (a busy executive's, or ten
//! attendees' in every meeting) read the same days' entries again and
//! again: that read was a third of a batch. The batch therefore keeps, per
//! calendar, the spans of each day range it read, stamped with the
//! calendar's entries generation (`calendars.entries_gen`, bumped by a
//! database trigger for every statement, or on SQLite every row, that
//! writes the calendar's entries, whoever runs it: a booking request, the
//! sweeper, another replica). A later batch, holding the calendar's lock,
//! reads the generation and uses the spans only if it is still the stamp;
//! anything else (a write it did not see, a batch whose commit it cannot
//! vouch for) is a different generation, and the range is read again.
//!
//! After a committed batch, the stamp becomes the generation the batch's
//! own writes led to (the generation read under the lock plus its own
//! bumps), with the batch's new entries added: the next batch on the same
//! calendars reads no entries at all. That next batch is usually already
//! waiting for the calendars' locks, and gets them the moment the database
//! commits, before the committing batch has heard back and stored what it
//! knows; so a batch marks its calendars [`BusyCache::committing`] before
//! it commits, and one that has just taken their locks first waits for
//! them to be [`BusyCache::settled`] (a few microseconds after the commit
//! returns). Without that wait, two batch loops taking turns on the same
//! calendars would each miss what the other just stored.
//!
//! On PostgreSQL a batch stores what it knows *before* it commits, and the
//! next batch plans on that before it takes the locks (see
//! `super::batch`): so a store is only a proposal until its batch's commit
//! succeeds, and a batch whose commit fails [`BusyCache::forget`]s it.
//! A batch that planned ahead checks, under the locks and once the batch
//! ahead is [`BusyCache::settled`], that the entry it planned on is still
//! there (the same [`Snapshot::stamp`]: a store that was forgotten, or
//! replaced by anyone's store since, fails the check) and that the
//! database's generation is the one it planned at. A batch only plans
//! ahead on what the batches begun before it have stored, and waits for
//! those to be [`BusyCache::planned`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use allot_kernel::booking::Span;
use tokio::sync::Notify;
use uuid::Uuid;

use super::store::CalendarRow;
use crate::booking::store::{OutageRow, SystemRow};

/// Spans of one calendar over one range, with the entry holding each.
pub type Spans = Vec<(Span, Uuid)>;

/// Cached spans, in all, past which the cache starts afresh: a bound on
/// memory (about 40 MB) that busy calendars stay far below.
const MAX_SPANS: usize = 1_000_000;

#[derive(Default)]
pub struct BusyCache {
    inner: Mutex<Inner>,
    /// Woken whenever a committing batch is done.
    settled: Notify,
}

#[derive(Default)]
struct Inner {
    calendars: HashMap<Uuid, Calendar>,
    spans: usize,
    /// The stamp of the next store.
    next_stamp: u64,
    /// Batches that have not yet proposed or stored what they plan: their
    /// ticket and calendars.
    planning: Vec<(u64, Vec<Uuid>)>,
    /// What batches planning ahead placed on each calendar, not yet
    /// checked under the locks and stored, oldest first.
    proposals: HashMap<Uuid, Vec<Proposal>>,
    next_ticket: u64,
    /// Calendars of batches between their commit and their store, with
    /// how many such batches each.
    committing: HashMap<Uuid, usize>,
    hits: u64,
    misses: u64,
}

/// Marks calendars as committing until dropped: whether the batch stored
/// (see [`BusyCache::store`]), failed, or was cancelled.
pub struct Committing<'a> {
    cache: &'a BusyCache,
    calendars: Vec<Uuid>,
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        let mut inner = self.cache.lock();
        for c in &self.calendars {
            if let Some(n) = inner.committing.get_mut(c) {
                *n -= 1;
                if *n == 0 {
                    inner.committing.remove(c);
                }
            }
        }
        drop(inner);
        self.cache.settled.notify_waiters();
    }
}

/// Marks a batch's calendars as still planning until dropped: whether it
/// stored, failed, or was cancelled (see [`BusyCache::planned`]).
pub struct Planning<'a> {
    cache: &'a BusyCache,
    ticket: u64,
}

impl Planning<'_> {
    pub fn ticket(&self) -> u64 {
        self.ticket
    }
}

impl Drop for Planning<'_> {
    fn drop(&mut self) {
        self.cache
            .lock()
            .planning
            .retain(|(ticket, _)| *ticket != self.ticket);
        self.cache.settled.notify_waiters();
    }
}

/// The rows a batch plans one calendar with, as a batch that held its lock
/// read them: a batch planning ahead of the lock reads nothing from the
/// database before it plans. They are valid at the store's generation
/// (outages move it too) while the calendar's and system's versions hold.
#[derive(Clone)]
pub struct Rows {
    pub system: SystemRow,
    pub calendar: CalendarRow,
    /// The calendar's open outages.
    pub outages: Vec<OutageRow>,
}

/// What a batch that planned ahead of its locks placed on one calendar,
/// on top of the store stamped `base`: the batch behind it may plan on it
/// too, before it is checked. Checked and committed, the batch's store of
/// the calendar carries `token` as its stamp; anything else carries
/// another.
#[derive(Clone)]
pub struct Proposal {
    pub token: u64,
    pub base: u64,
    /// The calendar's generation once the batch has committed.
    pub generation: i64,
    pub added: Spans,
}

/// Withdraws a batch's proposals when dropped: stored, failed or placed
/// again under the locks, they are no longer news.
pub struct Proposed<'a> {
    cache: &'a BusyCache,
    tokens: Vec<(Uuid, u64)>,
}

impl Proposed<'_> {
    /// The token proposed for `calendar`.
    pub fn token(&self, calendar: Uuid) -> Option<u64> {
        self.tokens
            .iter()
            .find(|(c, _)| *c == calendar)
            .map(|(_, t)| *t)
    }
}

impl Drop for Proposed<'_> {
    fn drop(&mut self) {
        let mut inner = self.cache.lock();
        for (calendar, token) in &self.tokens {
            if let Some(list) = inner.proposals.get_mut(calendar) {
                list.retain(|p| p.token != *token);
                if list.is_empty() {
                    inner.proposals.remove(calendar);
                }
            }
        }
        drop(inner);
        self.cache.settled.notify_waiters();
    }
}

/// What a batch read of one calendar from the cache, to plan on before it
/// holds the calendar's lock.
pub struct Snapshot {
    pub generation: i64,
    /// Which store it came from: every store has its own.
    pub stamp: u64,
    /// The spans of each range asked for, in the order asked.
    pub ranges: Vec<Spans>,
}

struct Calendar {
    generation: i64,
    stamp: u64,
    rows: Option<Rows>,
    /// By `(range.start, range.end)`, in order: the ranges a new entry
    /// overlaps are found by their starts, not by a walk over every day
    /// cached.
    ranges: BTreeMap<(i64, i64), Spans>,
    /// The longest of `ranges`: none starting earlier than this before an
    /// entry can overlap it.
    longest: i64,
    /// How many spans `ranges` hold, kept as they change: summing them
    /// walked every day cached on each store.
    spans: usize,
}

impl BusyCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `calendars` as committing: call before the commit of a batch
    /// that will [`BusyCache::store`] them, and drop after storing.
    pub fn committing(&self, calendars: Vec<Uuid>) -> Committing<'_> {
        let mut inner = self.lock();
        for c in &calendars {
            *inner.committing.entry(*c).or_default() += 1;
        }
        Committing {
            cache: self,
            calendars,
        }
    }

    /// Waits until no batch is committing any of `calendars`. Call holding
    /// their locks: a batch still marked has then already committed (or
    /// failed), and is only storing.
    pub async fn settled(&self, calendars: &[Uuid]) {
        self.wait_until(|inner| !calendars.iter().any(|c| inner.committing.contains_key(c)))
            .await
    }

    /// Waits until `done` holds, checked again at every wake-up (a guard
    /// dropped: a batch settled, planned or withdrew).
    async fn wait_until(&self, done: impl Fn(&Inner) -> bool) {
        loop {
            // Registered before the check, so a wake between the check
            // and the wait is not lost.
            let woken = self.settled.notified();
            if done(&self.lock()) {
                return;
            }
            woken.await;
        }
    }

    /// Marks `calendars` as planned on by a batch that has not yet stored:
    /// take it before reading anything, drop it once stored.
    pub fn planning(&self, calendars: Vec<Uuid>) -> Planning<'_> {
        let mut inner = self.lock();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        inner.planning.push((ticket, calendars));
        Planning {
            cache: self,
            ticket,
        }
    }

    /// Waits until no batch that took its [`BusyCache::planning`] ticket
    /// before `ticket` is still planning any of `calendars`. Later batches
    /// are not waited for: they wait for this one.
    pub async fn planned(&self, calendars: &[Uuid], ticket: u64) {
        self.wait_until(|inner| {
            !inner
                .planning
                .iter()
                .any(|(t, cals)| *t < ticket && cals.iter().any(|c| calendars.contains(c)))
        })
        .await
    }

    /// The spans of `calendar` over every one of `ranges` from one store,
    /// whatever its generation (the caller checks it), or `None` if any
    /// range is not cached.
    pub fn snapshot(&self, calendar: Uuid, ranges: &[Span]) -> Option<Snapshot> {
        let mut inner = self.lock();
        let found = inner.calendars.get(&calendar).and_then(|c| {
            let spans: Option<Vec<Spans>> = ranges
                .iter()
                .map(|r| c.ranges.get(&(r.start, r.end)).cloned())
                .collect();
            Some(Snapshot {
                generation: c.generation,
                stamp: c.stamp,
                ranges: spans?,
            })
        });
        match found {
            Some(_) => inner.hits += ranges.len() as u64,
            None => inner.misses += ranges.len() as u64,
        }
        found
    }

    /// The rows cached of `calendar`, with the stamp of their store.
    pub fn rows(&self, calendar: Uuid) -> Option<(u64, Rows)> {
        let inner = self.lock();
        let c = inner.calendars.get(&calendar)?;
        Some((c.stamp, c.rows.clone()?))
    }

    /// Records what a batch planning ahead placed: per calendar, the stamp
    /// it planned on, the generation its commit will lead to, and its new
    /// entries there.
    pub fn propose(&self, placed: Vec<(Uuid, u64, i64, Spans)>) -> Proposed<'_> {
        let mut inner = self.lock();
        let mut tokens = Vec::with_capacity(placed.len());
        for (calendar, base, generation, added) in placed {
            let token = inner.next_stamp;
            inner.next_stamp += 1;
            inner.proposals.entry(calendar).or_default().push(Proposal {
                token,
                base,
                generation,
                added,
            });
            tokens.push((calendar, token));
        }
        Proposed {
            cache: self,
            tokens,
        }
    }

    /// The proposals on `calendar` made one on the other from the store
    /// stamped `base`, oldest first, if they reach the latest one; `None`
    /// if the latest was made on something else (its batch planned on a
    /// proposal that failed, and will store something else first).
    pub fn proposals_on(&self, calendar: Uuid, base: u64) -> Option<Vec<Proposal>> {
        let inner = self.lock();
        let Some(list) = inner.proposals.get(&calendar) else {
            return Some(Vec::new());
        };
        let mut chain: Vec<Proposal> = Vec::new();
        let mut on = base;
        while let Some(next) = list.iter().find(|p| p.base == on) {
            on = next.token;
            chain.push(next.clone());
        }
        let latest = list.last().map(|p| p.token);
        (chain.last().map(|p| p.token) == latest).then_some(chain)
    }

    /// Waits until each of `tokens` is stored or withdrawn: a batch that
    /// planned on another's proposals takes its locks only after that one
    /// has taken its own, so their locks are granted in the order planned.
    pub async fn resolved(&self, tokens: &[u64]) {
        self.wait_until(|inner| {
            !inner
                .proposals
                .values()
                .flatten()
                .any(|p| tokens.contains(&p.token))
        })
        .await
    }

    /// The stamp of what is cached of `calendar` now.
    pub fn stamp(&self, calendar: Uuid) -> Option<u64> {
        self.lock().calendars.get(&calendar).map(|c| c.stamp)
    }

    /// Drops what is cached of `calendars`: a batch whose commit failed
    /// (or whose outcome is unknown) takes back what it stored.
    pub fn forget(&self, calendars: &[Uuid]) {
        let mut inner = self.lock();
        for c in calendars {
            if let Some(cal) = inner.calendars.remove(c) {
                inner.spans -= cal.spans;
            }
        }
    }

    /// Whether a batch's range is worth keeping: today's starts at the
    /// batch's `now`, so it is never asked for twice.
    pub fn keeps(range: Span, now: i64) -> bool {
        range.start != now
    }

    /// The spans of `calendar` over `range`, if cached at `generation`.
    pub fn get(&self, calendar: Uuid, generation: i64, range: Span) -> Option<Spans> {
        let mut inner = self.lock();
        let found = inner
            .calendars
            .get(&calendar)
            .filter(|c| c.generation == generation)
            .and_then(|c| c.ranges.get(&(range.start, range.end)))
            .cloned();
        match found {
            Some(_) => inner.hits += 1,
            None => inner.misses += 1,
        }
        found
    }

    /// Records what a committed batch knows of `calendar`: the spans of
    /// `ranges` at generation `seen` (read under its lock), plus the entries
    /// it `added`, which made the generation `now`. A calendar cached at
    /// `seen` keeps its other ranges (with `added` joined to them); one
    /// cached at an older generation is replaced; one already cached at a
    /// newer generation (a later batch stored first) is left alone.
    /// `token`: the batch's checked [`Proposal`] of the calendar, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &self,
        calendar: Uuid,
        seen: i64,
        now: i64,
        ranges: Vec<(Span, Spans)>,
        added: &[(Span, Uuid)],
        rows: Option<Rows>,
        token: Option<u64>,
    ) {
        let mut inner = self.lock();
        let existing = inner.calendars.remove(&calendar);
        let before = existing.as_ref().map_or(0, |c| c.spans);
        let mut cal = match existing {
            Some(c) if c.generation > seen => {
                inner.calendars.insert(calendar, c);
                return;
            }
            Some(c) if c.generation == seen => c,
            // Absent, or stamped before a write this cache never saw.
            _ => Calendar {
                generation: seen,
                stamp: 0,
                rows: None,
                ranges: BTreeMap::new(),
                longest: 0,
                spans: 0,
            },
        };
        if rows.is_some() {
            cal.rows = rows;
        }
        // A checked proposal's store carries its token: the batch that
        // planned on the proposal sees that it stands.
        cal.stamp = token.unwrap_or(inner.next_stamp);
        inner.next_stamp += 1;
        for (range, spans) in ranges {
            cal.longest = cal.longest.max(range.len());
            cal.spans += spans.len();
            if let Some(old) = cal.ranges.insert((range.start, range.end), spans) {
                cal.spans -= old.len();
            }
        }
        for &(span, entry) in added {
            let first = (span.start.saturating_sub(cal.longest), i64::MIN);
            for (&(start, end), spans) in cal.ranges.range_mut(first..(span.end, i64::MIN)) {
                if span.overlaps(&Span { start, end }) {
                    spans.push((span, entry));
                    cal.spans += 1;
                }
            }
        }
        cal.generation = now;
        inner.spans = inner.spans - before + cal.spans;
        inner.calendars.insert(calendar, cal);
        if inner.spans > MAX_SPANS {
            inner.calendars.clear();
            inner.spans = 0;
        }
    }

    /// `(hits, misses)` of [`BusyCache::get`] so far.
    pub fn stats(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.hits, inner.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: i64, end: i64) -> Span {
        Span { start, end }
    }

    fn ids(spans: &Spans) -> Vec<Uuid> {
        spans.iter().map(|s| s.1).collect()
    }

    #[test]
    fn spans_are_used_only_at_the_generation_they_were_stored_with() {
        let cache = BusyCache::default();
        let (cal, day) = (Uuid::now_v7(), span(0, 100));
        let (read, mine) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(cache.get(cal, 0, day).is_none(), "empty");
        cache.store(
            cal,
            4,
            5,
            vec![(day, vec![(span(10, 20), read)])],
            &[(span(30, 40), mine)],
            None,
            None,
        );
        assert!(cache.get(cal, 4, day).is_none(), "stamp is after the batch");
        assert_eq!(ids(&cache.get(cal, 5, day).expect("hit")), [read, mine]);
        assert!(cache.get(cal, 6, day).is_none(), "someone else wrote");
        assert!(cache.get(cal, 5, span(0, 99)).is_none(), "other range");
        assert_eq!(cache.stats(), (1, 4));
    }

    #[test]
    fn a_batch_at_the_cached_generation_extends_every_range_it_overlaps() {
        let cache = BusyCache::default();
        let cal = Uuid::now_v7();
        let (mon, tue) = (span(0, 100), span(100, 200));
        cache.store(cal, 0, 0, vec![(mon, vec![])], &[], None, None);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        // A batch that read Tuesday and placed across midnight and on Tuesday.
        cache.store(
            cal,
            0,
            1,
            vec![(tue, vec![])],
            &[(span(90, 110), a), (span(150, 160), b)],
            None,
            None,
        );
        assert_eq!(ids(&cache.get(cal, 1, mon).expect("monday")), [a]);
        assert_eq!(ids(&cache.get(cal, 1, tue).expect("tuesday")), [a, b]);
    }

    /// Against the plain rule (every added entry joins every cached range
    /// it overlaps), on ranges of mixed lengths that may overlap each other
    /// (a calendar whose time zone changed keeps the old days too).
    #[test]
    fn added_entries_join_exactly_the_ranges_they_overlap() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |m: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as i64
        };
        for _ in 0..200 {
            let cache = BusyCache::default();
            let cal = Uuid::now_v7();
            let ranges: Vec<Span> = (0..1 + next(8))
                .map(|_| {
                    let start = next(1_000);
                    span(start, start + 1 + next(300))
                })
                .collect();
            let stored: Vec<(Span, Spans)> = ranges.iter().map(|r| (*r, Vec::new())).collect();
            cache.store(cal, 0, 0, stored, &[], None, None);
            let added: Spans = (0..next(6))
                .map(|_| {
                    let start = next(1_300);
                    (span(start, start + 1 + next(100)), Uuid::now_v7())
                })
                .collect();
            cache.store(cal, 0, 1, Vec::new(), &added, None, None);
            for r in &ranges {
                let expected: Vec<Uuid> = added
                    .iter()
                    .filter(|(s, _)| s.overlaps(r))
                    .map(|(_, id)| *id)
                    .collect();
                assert_eq!(
                    ids(&cache.get(cal, 1, *r).expect("cached")),
                    expected,
                    "{r:?}"
                );
            }
            // The kept count is the spans held (it bounds the cache).
            let inner = cache.lock();
            let held = &inner.calendars[&cal];
            let counted: usize = held.ranges.values().map(Vec::len).sum();
            assert_eq!((held.spans, inner.spans), (counted, counted));
        }
    }

    #[test]
    fn an_older_store_never_replaces_a_newer_one() {
        let cache = BusyCache::default();
        let cal = Uuid::now_v7();
        let day = span(0, 100);
        let (newer, older) = (Uuid::now_v7(), Uuid::now_v7());
        cache.store(
            cal,
            7,
            8,
            vec![(day, vec![(span(1, 2), newer)])],
            &[],
            None,
            None,
        );
        // A batch that ran at 5 and stores late: dropped.
        cache.store(
            cal,
            5,
            6,
            vec![(day, vec![(span(3, 4), older)])],
            &[],
            None,
            None,
        );
        assert_eq!(ids(&cache.get(cal, 8, day).expect("kept")), [newer]);
        // One that read at 9 (after a write this cache never saw) replaces
        // everything, other ranges included.
        let other = span(100, 200);
        cache.store(cal, 8, 8, vec![(other, vec![])], &[], None, None);
        cache.store(cal, 9, 9, vec![(day, vec![])], &[], None, None);
        assert!(cache.get(cal, 9, other).is_none(), "stale range dropped");
        assert_eq!(cache.get(cal, 9, day).expect("fresh").len(), 0);
    }

    #[tokio::test]
    async fn settled_waits_for_the_calendars_committing_only() {
        let cache = std::sync::Arc::new(BusyCache::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let marked = cache.committing(vec![a]);
        // Another calendar is not held up.
        cache.settled(&[b]).await;
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.settled(&[b, a]).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "waits while `a` is committing");
        cache.store(a, 0, 1, vec![(span(0, 1), vec![])], &[], None, None);
        drop(marked);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken once `a` is stored")
            .expect("task");
        assert!(cache.get(a, 1, span(0, 1)).is_some());
    }

    #[test]
    fn a_snapshot_names_its_store_and_a_forgotten_store_is_gone() {
        let cache = BusyCache::default();
        let cal = Uuid::now_v7();
        let (mon, tue) = (span(0, 100), span(100, 200));
        assert!(cache.snapshot(cal, &[mon]).is_none(), "empty");
        cache.store(
            cal,
            3,
            4,
            vec![(mon, vec![]), (tue, vec![])],
            &[],
            None,
            None,
        );
        let snap = cache.snapshot(cal, &[tue, mon]).expect("both days");
        assert_eq!((snap.generation, snap.ranges.len()), (4, 2));
        assert_eq!(cache.stamp(cal), Some(snap.stamp));
        assert!(
            cache.snapshot(cal, &[mon, span(200, 300)]).is_none(),
            "one day missing"
        );
        // Every store is a new stamp, even at the same generation.
        cache.store(cal, 4, 4, vec![(mon, vec![])], &[], None, None);
        assert_ne!(cache.stamp(cal), Some(snap.stamp));
        cache.forget(&[cal]);
        assert_eq!(cache.stamp(cal), None);
        assert!(cache.get(cal, 4, mon).is_none());
    }

    #[tokio::test]
    async fn planned_waits_for_earlier_batches_on_shared_calendars_only() {
        let cache = std::sync::Arc::new(BusyCache::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = cache.planning(vec![a]);
        let second = cache.planning(vec![a, b]);
        // The first never waits for the one begun after it.
        cache.planned(&[a], first.ticket()).await;
        // One begun later on another calendar waits for neither.
        let c = Uuid::now_v7();
        let third = cache.planning(vec![c]);
        cache.planned(&[c], third.ticket()).await;
        let waiter = {
            let cache = cache.clone();
            let ticket = second.ticket();
            tokio::spawn(async move { cache.planned(&[a, b], ticket).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the second waits for the first");
        drop(third);
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken once the first is done")
            .expect("task");
        drop(second);
    }

    #[tokio::test]
    async fn proposals_stack_until_their_batches_store_or_withdraw() {
        let cache = std::sync::Arc::new(BusyCache::default());
        let cal = Uuid::now_v7();
        let entry = (span(10, 20), Uuid::now_v7());
        let first = cache.propose(vec![(cal, 7, 4, vec![entry])]);
        let a = first.token(cal).expect("token");
        let second = cache.propose(vec![(cal, a, 5, vec![])]);
        let b = second.token(cal).expect("token");
        // Both are planned on, the first first; the first is still pending.
        let chain = cache.proposals_on(cal, 7).expect("a chain");
        let got: Vec<_> = chain
            .iter()
            .map(|p| (p.token, p.base, p.generation))
            .collect();
        assert_eq!(got, [(a, 7, 4), (b, a, 5)]);
        assert!(
            cache.proposals_on(cal, 8).is_none(),
            "made on another store"
        );
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.resolved(&[a]).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the first has not stored");
        // Stored under its token, then withdrawn.
        cache.store(
            cal,
            3,
            4,
            vec![(span(0, 100), vec![])],
            &[entry],
            None,
            Some(a),
        );
        assert_eq!(cache.stamp(cal), Some(a));
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken once the first is withdrawn")
            .expect("task");
        let left: Vec<_> = cache
            .proposals_on(cal, a)
            .expect("chain")
            .iter()
            .map(|p| p.token)
            .collect();
        assert_eq!(left, [b]);
        drop(second);
        assert_eq!(cache.proposals_on(cal, a).map(|c| c.len()), Some(0));
    }

    #[test]
    fn the_cache_starts_afresh_past_its_bound() {
        let cache = BusyCache::default();
        let many: Spans = (0..MAX_SPANS as i64)
            .map(|i| (span(i, i + 1), Uuid::nil()))
            .collect();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        cache.store(a, 0, 0, vec![(span(0, i64::MAX), many)], &[], None, None);
        assert!(cache.get(a, 0, span(0, i64::MAX)).is_some());
        cache.store(
            b,
            0,
            0,
            vec![(span(0, 1), vec![(span(0, 1), b)])],
            &[],
            None,
            None,
        );
        assert!(cache.get(a, 0, span(0, i64::MAX)).is_none());
        assert!(cache.get(b, 0, span(0, 1)).is_none());
    }
}
