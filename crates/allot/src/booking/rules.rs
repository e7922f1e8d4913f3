//! What an outage means at a given instant, and the checks every entry write
//! goes through. The capacity arithmetic itself is the kernel's
//! ([`allot_kernel::booking`]); this file turns rows into its inputs and its
//! refusals into problem documents.

use std::collections::BTreeSet;

use allot_kernel::booking::{FitRules, Refusal, Span, Timeline, check};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::store::{EntryRow, OutageRow, SystemRow};
use crate::http::problem::Problem;
use crate::store::{DbId, DbStrings, DbTime};

pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub fn from_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

pub fn span_of(start: Timestamp, end: Timestamp) -> Option<Span> {
    Span::new(micros(start), micros(end))
}

impl EntryRow {
    pub fn span(&self) -> Option<Span> {
        span_of(self.start_at.0, self.end_at.0)
    }

    /// A new active entry at version 1, created `now`.
    pub fn new_active(
        system_id: Uuid,
        span: Span,
        capabilities: Vec<String>,
        label: String,
        metadata: serde_json::Value,
        now: Timestamp,
    ) -> EntryRow {
        EntryRow {
            id: DbId(Uuid::now_v7()),
            system_id: DbId(system_id),
            start_at: DbTime(from_micros(span.start)),
            end_at: DbTime(from_micros(span.end)),
            capabilities: DbStrings(capabilities),
            label,
            metadata: sqlx::types::Json(metadata),
            status: "active".into(),
            version: 1,
            evicted_by: None,
            evicted_at: None,
            evict_reason: None,
            created_at: DbTime(now),
            updated_at: DbTime(now),
        }
    }
}

impl OutageRow {
    pub fn is_planned(&self) -> bool {
        self.kind == "planned"
    }

    /// Where entries conflict with this outage at `now`; entries that have
    /// already ended never do.
    /// - planned: `[max(start, now), end)` until resolved;
    /// - unplanned: `[max(start, now), now + window)` until resolved.
    pub fn zone(&self, now: Timestamp) -> Option<Span> {
        if self.resolved_at.is_some() {
            return None;
        }
        let lo = self.start_at.0.max(now);
        let hi = if self.is_planned() {
            self.end_at?.0
        } else {
            let window = SignedDuration::from_secs(self.window_seconds?);
            now.checked_add(window).unwrap_or(Timestamp::MAX)
        };
        span_of(lo, hi)
    }

    /// Rule 6: while an outage is present, its system takes no new entries.
    pub fn present(&self, now: Timestamp) -> bool {
        self.resolved_at.is_none()
            && self.start_at.0 <= now
            && (!self.is_planned() || self.end_at.is_some_and(|e| now < e.0))
    }

    /// Whether an entry requiring `caps` is affected: a whole-system outage
    /// affects every entry, a partial one those sharing a capability with it.
    pub fn affects(&self, caps: &[String]) -> bool {
        match &self.capabilities {
            None => true,
            Some(out) => out.0.iter().any(|c| caps.contains(c)),
        }
    }

    /// `scheduled`, `ongoing`, `ended` or `resolved`.
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.resolved_at.is_some() {
            "resolved"
        } else if now < self.start_at.0 {
            "scheduled"
        } else if self.is_planned() && self.end_at.is_some_and(|e| e.0 <= now) {
            "ended"
        } else {
            "ongoing"
        }
    }
}

/// Capabilities asked for that the system does not have (rule 2), sorted.
pub fn unsupported(system: &SystemRow, caps: &[String]) -> Vec<String> {
    let have: BTreeSet<&String> = system.capabilities.0.iter().collect();
    caps.iter()
        .filter(|c| !have.contains(c))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub fn capability_unsupported(system: &SystemRow, missing: Vec<String>) -> Problem {
    Problem::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "capability_unsupported",
        "Capability not supported",
        format!(
            "system {} does not support {}; it supports {:?}",
            system.id.0,
            missing
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            system.capabilities.0
        ),
    )
    .with("system_id", system.id.0)
    .with("capabilities", missing)
}

/// Rule 6 for new entries: refused while any outage is present.
pub fn refuse_if_outage_present(
    system: &SystemRow,
    outages: &[OutageRow],
    now: Timestamp,
) -> Result<(), Problem> {
    let present: Vec<Uuid> = outages
        .iter()
        .filter(|o| o.present(now))
        .map(|o| o.id.0)
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    Err(Problem::conflict(
        "outage_present",
        format!(
            "system {} has an outage in progress ({}); it takes no new entries until it ends",
            system.id.0,
            ids_text(&present)
        ),
    )
    .with("system_id", system.id.0)
    .with("outage_ids", present))
}

/// The kernel's rules for an entry requiring `caps` on `system` at `now`:
/// its capacity, and the zones of the outages that affect such an entry.
pub struct Admission {
    pub capacity: u32,
    pub blocked: Vec<Span>,
    blockers: Vec<(Span, Uuid)>,
}

impl Admission {
    pub fn new(system: &SystemRow, outages: &[OutageRow], caps: &[String], now: Timestamp) -> Self {
        let blockers: Vec<(Span, Uuid)> = outages
            .iter()
            .filter(|o| o.affects(caps))
            .filter_map(|o| Some((o.zone(now)?, o.id.0)))
            .collect();
        Self {
            capacity: u32::try_from(system.capacity.max(1)).unwrap_or(1),
            blocked: blockers.iter().map(|b| b.0).collect(),
            blockers,
        }
    }

    pub fn rules(&self) -> FitRules<'_> {
        FitRules {
            capacity: self.capacity,
            blocked: &self.blocked,
            allowed: None,
            align: None,
        }
    }

    /// Rules 1 and 6 for `span` among `others` (active entries of the same
    /// system, without the entry being checked): the one check that inserts,
    /// moves and the slot search share.
    pub fn check(
        &self,
        system: &SystemRow,
        others: &[EntryRow],
        span: Span,
    ) -> Result<(), Problem> {
        let timeline = Timeline::from_spans(others.iter().filter_map(|e| e.span()));
        match check(&timeline, &self.rules(), span) {
            Ok(()) => Ok(()),
            Err(Refusal::Blocked { .. }) => {
                let ids: Vec<Uuid> = self
                    .blockers
                    .iter()
                    .filter(|(z, _)| z.overlaps(&span))
                    .map(|(_, id)| *id)
                    .collect();
                Err(Problem::conflict(
                    "outage_conflict",
                    format!(
                        "the span conflicts with outage {} on system {}",
                        ids_text(&ids),
                        system.id.0
                    ),
                )
                .with("system_id", system.id.0)
                .with("outage_ids", ids))
            }
            Err(Refusal::Full { at }) => {
                let ids: Vec<Uuid> = others
                    .iter()
                    .filter(|e| e.span().is_some_and(|s| s.contains(at)))
                    .map(|e| e.id.0)
                    .collect();
                let at = from_micros(at);
                Err(Problem::conflict(
                    "capacity_exceeded",
                    format!(
                        "system {} has capacity {} and {} entries already overlap {at} ({})",
                        system.id.0,
                        system.capacity,
                        ids.len(),
                        ids_text(&ids)
                    ),
                )
                .with("system_id", system.id.0)
                .with("capacity", system.capacity)
                .with("at", at)
                .with("entry_ids", ids))
            }
            Err(Refusal::NotAllowed) => Err(Problem::internal(&"booking has no allowed windows")),
        }
    }
}

pub fn ids_text(ids: &[Uuid]) -> String {
    const SHOWN: usize = 5;
    let mut s = ids
        .iter()
        .take(SHOWN)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        s.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    s
}
