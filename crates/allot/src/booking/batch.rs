//! Group commit of entry inserts.
//!
//! Inserting one entry takes a transaction of seven statements (lock the
//! system, read its outages and overlapping entries, insert the entry and
//! its event, begin, commit); at a few thousand inserts per second those
//! round trips and commits were the whole cost. Concurrent inserts are
//! therefore queued and taken in batches: one transaction locks every
//! system the batch touches (in id order, so batches never deadlock each
//! other or a single-system write), reads their outages and overlapping
//! entries in one statement each, decides every insert in arrival order
//! with the same [`Admission`] check as a single insert (each accepted entry
//! joins what the next one is checked against), and writes all accepted
//! entries and their events in one statement. The rule-1 guarantee is
//! unchanged: the checks and the writes happen under the systems' locks.
//!
//! A request waits at most for the batch in progress; a lone request is a
//! batch of one.

use std::collections::{BTreeMap, BTreeSet};

use allot_kernel::booking::Span;
use jiff::Timestamp;
use serde_json::Value;
use uuid::Uuid;

use super::model::Entry;
use super::rules::{
    Admission, capability_unsupported, from_micros, refuse_if_outage_present, unsupported,
};
use super::store::{self, EntryRow, OutageRow, SystemRow};
use crate::clock::SharedClock;
use crate::group_commit::{BatchShape, GroupCommit};
use crate::http::problem::Problem;
use crate::store::Db;

/// A validated insert request.
pub struct NewEntry {
    pub system_id: Uuid,
    pub span: Span,
    pub capabilities: Vec<String>,
    pub label: String,
    pub metadata: Value,
}

/// Most inserts decided in one transaction.
const MAX_BATCH: usize = 256;

#[derive(Clone)]
pub struct InsertBatcher {
    queue: GroupCommit<NewEntry, Result<Entry, Problem>>,
}

impl InsertBatcher {
    /// Starts `workers` batch loops (more than one lets PostgreSQL work on
    /// one batch while the next is decided; SQLite has one writer anyway).
    pub fn start(db: Db, clock: SharedClock, workers: usize) -> Self {
        let shape = BatchShape {
            max: MAX_BATCH,
            workers,
            linger: None,
            own_thread: false,
        };
        let queue = GroupCommit::start(shape, move |jobs: Vec<NewEntry>| {
            let (db, now) = (db.clone(), clock.now());
            async move {
                match decide_and_write(&db, now, &jobs).await {
                    Ok(answers) => answers,
                    Err(e) => {
                        let p = Problem::from(e);
                        jobs.iter().map(|_| Err(p.clone())).collect()
                    }
                }
            }
        });
        Self { queue }
    }

    pub async fn insert(&self, entry: NewEntry) -> Result<Entry, Problem> {
        self.queue.submit(entry).await?
    }
}

/// One system's state as the batch sees it.
struct Slate {
    system: SystemRow,
    outages: Vec<OutageRow>,
    entries: Vec<EntryRow>,
}

async fn decide_and_write(
    db: &Db,
    now: Timestamp,
    jobs: &[NewEntry],
) -> Result<Vec<Result<Entry, Problem>>, sqlx::Error> {
    let ids: Vec<Uuid> = jobs
        .iter()
        .map(|j| j.system_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tx = db.begin_batch().await?;
    let systems = store::lock_systems(&mut tx, &ids).await?;
    let outages = store::open_outages_of(&mut tx, &ids, now).await?;
    // One read range per system: from the earliest start to the latest end
    // of the batch's entries on it.
    let mut ranges: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    for j in jobs {
        let r = ranges
            .entry(j.system_id)
            .or_insert((j.span.start, j.span.end));
        r.0 = r.0.min(j.span.start);
        r.1 = r.1.max(j.span.end);
    }
    let read: Vec<(&SystemRow, Timestamp, Timestamp)> = systems
        .iter()
        .filter_map(|s| {
            let (a, b) = ranges.get(&s.id.0)?;
            Some((s, from_micros(*a), from_micros(*b)))
        })
        .collect();
    let entries = store::active_overlapping_many(&mut tx, &read).await?;
    let mut slates: BTreeMap<Uuid, Slate> = systems
        .into_iter()
        .map(|s| {
            (
                s.id.0,
                Slate {
                    system: s,
                    outages: Vec::new(),
                    entries: Vec::new(),
                },
            )
        })
        .collect();
    for o in outages {
        if let Some(s) = slates.get_mut(&o.system_id.0) {
            s.outages.push(o);
        }
    }
    for e in entries {
        if let Some(s) = slates.get_mut(&e.system_id.0) {
            s.entries.push(e);
        }
    }

    let mut answers = Vec::with_capacity(jobs.len());
    let mut accepted: Vec<EntryRow> = Vec::new();
    let mut widen: BTreeMap<Uuid, i64> = BTreeMap::new();
    for j in jobs {
        let Some(slate) = slates.get_mut(&j.system_id) else {
            answers.push(Err(Problem::not_found("system", &j.system_id.to_string())));
            continue;
        };
        match decide(slate, j, now) {
            Err(p) => answers.push(Err(p)),
            Ok(row) => {
                if j.span.len() > slate.system.max_entry_us {
                    slate.system.max_entry_us = j.span.len();
                    widen.insert(j.system_id, j.span.len());
                }
                slate.entries.push(row.clone());
                answers.push(Ok(row.to_api()));
                accepted.push(row);
            }
        }
    }
    store::insert_entries_with_events(&mut tx, &accepted).await?;
    for (system, len) in widen {
        store::widen_max_entry(&mut tx, system, len).await?;
    }
    tx.commit().await?;
    Ok(answers)
}

/// Rules 2, 6 and 1 for one insert against the system's state so far.
fn decide(slate: &Slate, j: &NewEntry, now: Timestamp) -> Result<EntryRow, Problem> {
    let sys = &slate.system;
    let missing = unsupported(sys, &j.capabilities);
    if !missing.is_empty() {
        return Err(capability_unsupported(sys, missing));
    }
    refuse_if_outage_present(sys, &slate.outages, now)?;
    let others: Vec<EntryRow> = slate
        .entries
        .iter()
        .filter(|e| e.span().is_some_and(|s| s.overlaps(&j.span)))
        .cloned()
        .collect();
    Admission::new(sys, &slate.outages, &j.capabilities, now).check(sys, &others, j.span)?;
    Ok(EntryRow::new_active(
        sys.id.0,
        j.span,
        j.capabilities.clone(),
        j.label.clone(),
        j.metadata.clone(),
        now,
    ))
}
