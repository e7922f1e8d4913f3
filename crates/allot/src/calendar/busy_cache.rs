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

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use allot_kernel::booking::Span;
use tokio::sync::Notify;
use uuid::Uuid;

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

struct Calendar {
    generation: i64,
    /// By `(range.start, range.end)`.
    ranges: HashMap<(i64, i64), Spans>,
}

impl Calendar {
    fn spans(&self) -> usize {
        self.ranges.values().map(Vec::len).sum()
    }
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
        loop {
            // Registered before the check, so a wake between the check
            // and the wait is not lost.
            let woken = self.settled.notified();
            {
                let inner = self.lock();
                if !calendars.iter().any(|c| inner.committing.contains_key(c)) {
                    return;
                }
            }
            woken.await;
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
    pub fn store(
        &self,
        calendar: Uuid,
        seen: i64,
        now: i64,
        ranges: Vec<(Span, Spans)>,
        added: &[(Span, Uuid)],
    ) {
        let mut inner = self.lock();
        let existing = inner.calendars.remove(&calendar);
        let before = existing.as_ref().map_or(0, Calendar::spans);
        let mut cal = match existing {
            Some(c) if c.generation > seen => {
                inner.calendars.insert(calendar, c);
                return;
            }
            Some(c) if c.generation == seen => c,
            // Absent, or stamped before a write this cache never saw.
            _ => Calendar {
                generation: seen,
                ranges: HashMap::new(),
            },
        };
        for (range, spans) in ranges {
            cal.ranges.insert((range.start, range.end), spans);
        }
        for (&(start, end), spans) in cal.ranges.iter_mut() {
            let Some(range) = Span::new(start, end) else {
                continue;
            };
            spans.extend(added.iter().filter(|(s, _)| s.overlaps(&range)));
        }
        cal.generation = now;
        inner.spans = inner.spans - before + cal.spans();
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
        cache.store(cal, 0, 0, vec![(mon, vec![])], &[]);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        // A batch that read Tuesday and placed across midnight and on Tuesday.
        cache.store(
            cal,
            0,
            1,
            vec![(tue, vec![])],
            &[(span(90, 110), a), (span(150, 160), b)],
        );
        assert_eq!(ids(&cache.get(cal, 1, mon).expect("monday")), [a]);
        assert_eq!(ids(&cache.get(cal, 1, tue).expect("tuesday")), [a, b]);
    }

    #[test]
    fn an_older_store_never_replaces_a_newer_one() {
        let cache = BusyCache::default();
        let cal = Uuid::now_v7();
        let day = span(0, 100);
        let (newer, older) = (Uuid::now_v7(), Uuid::now_v7());
        cache.store(cal, 7, 8, vec![(day, vec![(span(1, 2), newer)])], &[]);
        // A batch that ran at 5 and stores late: dropped.
        cache.store(cal, 5, 6, vec![(day, vec![(span(3, 4), older)])], &[]);
        assert_eq!(ids(&cache.get(cal, 8, day).expect("kept")), [newer]);
        // One that read at 9 (after a write this cache never saw) replaces
        // everything, other ranges included.
        let other = span(100, 200);
        cache.store(cal, 8, 8, vec![(other, vec![])], &[]);
        cache.store(cal, 9, 9, vec![(day, vec![])], &[]);
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
        cache.store(a, 0, 1, vec![(span(0, 1), vec![])], &[]);
        drop(marked);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken once `a` is stored")
            .expect("task");
        assert!(cache.get(a, 1, span(0, 1)).is_some());
    }

    #[test]
    fn the_cache_starts_afresh_past_its_bound() {
        let cache = BusyCache::default();
        let many: Spans = (0..MAX_SPANS as i64)
            .map(|i| (span(i, i + 1), Uuid::nil()))
            .collect();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        cache.store(a, 0, 0, vec![(span(0, i64::MAX), many)], &[]);
        assert!(cache.get(a, 0, span(0, i64::MAX)).is_some());
        cache.store(b, 0, 0, vec![(span(0, 1), vec![(span(0, 1), b)])], &[]);
        assert!(cache.get(a, 0, span(0, i64::MAX)).is_none());
        assert!(cache.get(b, 0, span(0, 1)).is_none());
    }
}
