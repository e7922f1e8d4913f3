//! The booking service: every operation of the API and CLI with its rules.
//!
//! Every write to a system's entries or outages runs in one transaction that
//! first locks the system ([`store::lock_system`]), then reads what the rules
//! need, checks, and writes the change with its events. A refused request
//! rolls back: nothing is half-written.

use std::time::Duration;

use allot_kernel::booking::{Span, Timeline, free_segments, slots};
use allot_kernel::duration::{format_duration, parse_duration};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::batch::{InsertBatcher, NewEntry};
use super::model::*;
use super::rules::{
    Admission, capability_unsupported, from_micros, ids_text, micros, span_of, unsupported,
};
use super::store::{self, EntryFilter, EntryRow, NewEvent, OutageRow, Src, SystemRow};
use crate::clock::{SharedClock, truncate_to_micros};
use crate::http::paging::{Page, bad_cursor, decode_cursor, encode_cursor, page_limit, parse_id};
use crate::http::problem::{FieldError, Problem};
use crate::http::versions::version_conflict;
use crate::store::{Db, DbId, DbStrings, DbTime, Tx};

/// Limits of the booking module.
#[derive(Debug, Clone)]
pub struct BookingConfig {
    /// The longest entry accepted.
    pub max_span: Duration,
    /// The widest range availability and slot searches may cover.
    pub max_search: Duration,
    /// How late the sweeper may evict an entry that entered an unplanned
    /// outage's window.
    pub sweep_tolerance: Duration,
}

impl Default for BookingConfig {
    fn default() -> Self {
        Self {
            max_span: Duration::from_secs(366 * 86_400),
            max_search: Duration::from_secs(366 * 86_400),
            sweep_tolerance: Duration::from_secs(1),
        }
    }
}

pub struct BookingService {
    db: Db,
    clock: SharedClock,
    config: BookingConfig,
    batcher: InsertBatcher,
}

const MAX_CAPABILITIES: usize = 100;
const MAX_CAPACITY: i64 = 1_000_000;
/// How many conflicting ids a refusal lists at most.
const MAX_LISTED: i64 = 1000;

fn field(pointer: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

fn check_text(value: &str, pointer: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = value.chars().count();
    if n < min || n > max || (min > 0 && value.trim().is_empty()) {
        return Err(field(
            pointer,
            format!("must be {min} to {max} characters and not blank"),
        ));
    }
    Ok(())
}

/// A capability set: each 1 to 100 characters, at most 100, returned sorted
/// and without repeats.
fn capability_set(caps: &[String], pointer: &str) -> Result<Vec<String>, FieldError> {
    if caps.len() > MAX_CAPABILITIES {
        return Err(field(
            pointer,
            format!("at most {MAX_CAPABILITIES} capabilities"),
        ));
    }
    for (i, c) in caps.iter().enumerate() {
        check_text(c, &format!("{pointer}/{i}"), 1, 100)?;
    }
    let mut out = caps.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

fn check_timezone(tz: &str) -> Result<(), FieldError> {
    jiff::tz::TimeZone::get(tz)
        .map(|_| ())
        .map_err(|_| field("/timezone", format!("unknown time zone {tz:?}")))
}

fn to_signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(to_signed(d)).unwrap_or(Timestamp::MAX)
}

/// A window like `2h`: whole seconds, at least one.
fn parse_window(s: &str) -> Result<i64, FieldError> {
    let d = parse_duration(s).map_err(|e| field("/window", e.to_string()))?;
    if d.as_secs() < 1 || d.subsec_nanos() != 0 {
        return Err(field(
            "/window",
            "the window must be a whole number of seconds, at least 1s",
        ));
    }
    i64::try_from(d.as_secs()).map_err(|_| field("/window", "the window is too long"))
}

/// The earliest time accepted from outside. jiff reads years back to -9999;
/// PostgreSQL stores none before 4713 BC and answered such a time with a
/// 500. Years 1 to 9999 are stored alike by both backends.
const EARLIEST: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// A time from a request: truncated to microseconds (what both databases
/// keep) and in years 1 to 9999. Shared with the other modules that take
/// times.
pub(crate) fn accepted_time(t: Timestamp, pointer: &str) -> Result<Timestamp, FieldError> {
    if t < EARLIEST {
        return Err(field(pointer, "times must be in years 1 to 9999"));
    }
    Ok(truncate_to_micros(t))
}

/// Checks the times of an outage request with [`accepted_time`], in place.
fn accept_times(times: [(&mut Option<Timestamp>, &str); 3]) -> Result<(), Problem> {
    let mut errors = Vec::new();
    for (t, pointer) in times {
        if let Some(v) = *t {
            match accepted_time(v, pointer) {
                Ok(v) => *t = Some(v),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

/// A time query parameter, checked like [`accepted_time`]; a 400 naming it.
pub(crate) fn query_time(name: &str, value: &Option<String>) -> Result<Option<Timestamp>, Problem> {
    value
        .as_deref()
        .map(|v| {
            let t = v.parse::<Timestamp>().map_err(|e| {
                Problem::invalid_query(format!(
                    "{name} must be an RFC 3339 time with an offset, like 2027-01-01T09:00:00Z: {e}"
                ))
            })?;
            accepted_time(t, name)
                .map_err(|e| Problem::invalid_query(format!("{name}: {}", e.message)))
        })
        .transpose()
}

fn query_caps(value: &Option<String>) -> Result<Vec<String>, Problem> {
    let caps: Vec<String> = value
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    capability_set(&caps, "capabilities")
        .map_err(|e| Problem::invalid_query(format!("capabilities: {}", e.message)))
}

impl SystemRow {
    pub fn to_api(&self) -> System {
        System {
            id: self.id.0,
            name: self.name.clone(),
            capabilities: self.capabilities.0.clone(),
            capacity: i64::from(self.capacity),
            timezone: self.timezone.clone(),
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

impl EntryRow {
    pub fn to_api(&self) -> Entry {
        Entry {
            id: self.id.0,
            system_id: self.system_id.0,
            start: self.start_at.0,
            end: self.end_at.0,
            capabilities: self.capabilities.0.clone(),
            label: self.label.clone(),
            metadata: self.metadata.0.clone(),
            status: self.status.clone(),
            version: self.version,
            eviction: self.evicted_at.map(|at| Eviction {
                outage_id: self.evicted_by.map(|o| o.0),
                at: at.0,
                reason: self.evict_reason.clone().unwrap_or_default(),
            }),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

impl OutageRow {
    pub fn to_api(&self, now: Timestamp) -> Outage {
        Outage {
            id: self.id.0,
            system_id: self.system_id.0,
            kind: if self.is_planned() {
                OutageKind::Planned
            } else {
                OutageKind::Unplanned
            },
            capabilities: self.capabilities.as_ref().map(|c| c.0.clone()),
            start: self.start_at.0,
            end: self.end_at.map(|t| t.0),
            expected_end: self.expected_end.map(|t| t.0),
            window: self
                .window_seconds
                .map(|s| format_duration(Duration::from_secs(s.max(0) as u64))),
            reason: self.reason.clone(),
            state: self.state(now).to_string(),
            resolved_at: self.resolved_at.map(|t| t.0),
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

impl BookingService {
    /// Must be called inside a tokio runtime: it starts the insert batcher.
    pub fn new(db: Db, clock: SharedClock, config: BookingConfig) -> Self {
        let workers = match db.backend() {
            crate::store::Backend::Sqlite => 1,
            crate::store::Backend::Postgres => 2,
        };
        let batcher = InsertBatcher::start(db.clone(), clock.clone(), workers);
        Self {
            db,
            clock,
            config,
            batcher,
        }
    }

    pub fn config(&self) -> &BookingConfig {
        &self.config
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn locked_system(&self, tx: &mut Tx<'_>, id: Uuid) -> Result<SystemRow, Problem> {
        store::lock_system(tx, id)
            .await?
            .ok_or_else(|| Problem::not_found("system", &id.to_string()))
    }

    async fn event(
        tx: &mut Tx<'_>,
        kind: &str,
        system_id: Uuid,
        entry: Option<&EntryRow>,
        outage: Option<(&OutageRow, Timestamp)>,
        at: Timestamp,
    ) -> Result<(), Problem> {
        let data = match (entry, outage) {
            (Some(e), _) => serde_json::to_value(e.to_api()),
            (None, Some((o, now))) => serde_json::to_value(o.to_api(now)),
            (None, None) => Ok(Value::Null),
        }
        .map_err(|e| Problem::internal(&e))?;
        store::insert_event(
            tx,
            NewEvent {
                kind,
                system_id,
                entry_id: entry.map(|e| e.id.0),
                outage_id: outage.map(|(o, _)| o.id.0),
                at,
                data,
            },
        )
        .await?;
        Ok(())
    }

    // ---- systems ----

    pub async fn create_system(&self, input: CreateSystem) -> Result<System, Problem> {
        let mut errors = Vec::new();
        if let Err(e) = check_text(&input.name, "/name", 1, 200) {
            errors.push(e);
        }
        let caps = capability_set(&input.capabilities, "/capabilities").unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        });
        if !(1..=MAX_CAPACITY).contains(&input.capacity) {
            errors.push(field(
                "/capacity",
                format!("capacity must be 1 to {MAX_CAPACITY}"),
            ));
        }
        if let Some(tz) = &input.timezone
            && let Err(e) = check_timezone(tz)
        {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let now = self.now();
        let row = SystemRow {
            id: DbId(Uuid::now_v7()),
            name: input.name,
            capabilities: DbStrings(caps),
            capacity: input.capacity as i32,
            timezone: input.timezone,
            max_entry_us: 0,
            version: 1,
            created_at: DbTime(now),
            updated_at: DbTime(now),
        };
        let mut tx = self.db.begin().await?;
        store::insert_system(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(row.to_api())
    }

    pub async fn get_system(&self, id: &str) -> Result<System, Problem> {
        Ok(self.system_row(id).await?.to_api())
    }

    async fn system_row(&self, id: &str) -> Result<SystemRow, Problem> {
        let uuid = parse_id(id, "system")?;
        store::get_system(&self.db, uuid)
            .await?
            .ok_or_else(|| Problem::not_found("system", id))
    }

    pub async fn list_systems(&self, q: &SystemListQuery) -> Result<Page<System>, Problem> {
        let limit = page_limit(q.limit)?;
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(c.parse::<Uuid>().map_err(|_| bad_cursor(c))?),
        };
        let mut rows = store::list_systems(&self.db, after, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok(Page {
            next_cursor: if more {
                rows.last().map(|r| r.id.0.to_string())
            } else {
                None
            },
            items: rows.iter().map(SystemRow::to_api).collect(),
        })
    }

    /// Renames, changes capabilities or capacity. Removing a capability that
    /// a live entry or open outage uses, or lowering the capacity below what
    /// live entries already use somewhere, is a 409 naming them.
    pub async fn update_system(&self, id: &str, input: UpdateSystem) -> Result<System, Problem> {
        let uuid = parse_id(id, "system")?;
        let mut errors = Vec::new();
        if let Some(name) = &input.name
            && let Err(e) = check_text(name, "/name", 1, 200)
        {
            errors.push(e);
        }
        let caps = match input
            .capabilities
            .as_deref()
            .map(|c| capability_set(c, "/capabilities"))
        {
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            Some(Ok(c)) => Some(c),
            None => None,
        };
        if let Some(c) = input.capacity
            && !(1..=MAX_CAPACITY).contains(&c)
        {
            errors.push(field(
                "/capacity",
                format!("capacity must be 1 to {MAX_CAPACITY}"),
            ));
        }
        if let Some(tz) = input.timezone.as_deref().filter(|t| !t.is_empty())
            && let Err(e) = check_timezone(tz)
        {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut sys = self.locked_system(&mut tx, uuid).await?;
        let live = store::active_not_ended(&mut tx, uuid, now, i64::MAX).await?;
        if let Some(caps) = caps {
            let outages = store::open_outages(Src::Tx(&mut tx), uuid, now).await?;
            let removed: Vec<String> = sys
                .capabilities
                .0
                .iter()
                .filter(|c| !caps.contains(c))
                .cloned()
                .collect();
            let users: Vec<Uuid> = live
                .iter()
                .filter(|e| e.capabilities.0.iter().any(|c| removed.contains(c)))
                .map(|e| e.id.0)
                .collect();
            let outage_users: Vec<Uuid> = outages
                .iter()
                .filter(|o| {
                    o.capabilities
                        .as_ref()
                        .is_some_and(|oc| oc.0.iter().any(|c| removed.contains(c)))
                })
                .map(|o| o.id.0)
                .collect();
            if !users.is_empty() || !outage_users.is_empty() {
                return Err(Problem::conflict(
                    "capability_unsupported",
                    format!(
                        "capabilities {removed:?} are still required by entries {} and outages {}",
                        ids_text(&users),
                        ids_text(&outage_users)
                    ),
                )
                .with("system_id", uuid)
                .with("capabilities", removed)
                .with("entry_ids", users)
                .with("outage_ids", outage_users));
            }
            sys.capabilities = DbStrings(caps);
        }
        if let Some(capacity) = input.capacity {
            let timeline = Timeline::from_spans(live.iter().filter_map(|e| e.span()));
            let level = u32::try_from(capacity + 1).unwrap_or(u32::MAX);
            let all = Span::new(micros(now), i64::MAX);
            if let Some(at) = all.and_then(|s| timeline.first_at_least(s, level)) {
                let ids: Vec<Uuid> = live
                    .iter()
                    .filter(|e| e.span().is_some_and(|s| s.contains(at)))
                    .map(|e| e.id.0)
                    .collect();
                let at = from_micros(at);
                return Err(Problem::conflict(
                    "capacity_exceeded",
                    format!(
                        "{} entries overlap at {at}, more than the new capacity {capacity} ({})",
                        ids.len(),
                        ids_text(&ids)
                    ),
                )
                .with("system_id", uuid)
                .with("capacity", capacity)
                .with("at", at)
                .with("entry_ids", ids));
            }
            sys.capacity = capacity as i32;
        }
        if let Some(name) = input.name {
            sys.name = name;
        }
        if let Some(tz) = input.timezone {
            sys.timezone = (!tz.is_empty()).then_some(tz);
        }
        sys.version += 1;
        sys.updated_at = DbTime(now);
        store::update_system(&mut tx, &sys).await?;
        tx.commit().await?;
        Ok(sys.to_api())
    }

    /// Deletes a system with its history; refused while it has entries
    /// that have not ended.
    pub async fn delete_system(&self, id: &str) -> Result<(), Problem> {
        let uuid = parse_id(id, "system")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.locked_system(&mut tx, uuid).await?;
        let live = store::active_not_ended(&mut tx, uuid, now, MAX_LISTED).await?;
        if !live.is_empty() {
            let ids: Vec<Uuid> = live.iter().map(|e| e.id.0).collect();
            return Err(Problem::conflict(
                "system_in_use",
                format!(
                    "system {uuid} still has active entries ({}); delete or move them first",
                    ids_text(&ids)
                ),
            )
            .with("system_id", uuid)
            .with("entry_ids", ids));
        }
        store::delete_system(&mut tx, uuid).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- entries ----

    fn entry_span(
        &self,
        start: Timestamp,
        end: Timestamp,
        errors: &mut Vec<FieldError>,
    ) -> Option<Span> {
        let (start, end) = match (accepted_time(start, "/start"), accepted_time(end, "/end")) {
            (Ok(start), Ok(end)) => (start, end),
            (a, b) => {
                errors.extend([a.err(), b.err()].into_iter().flatten());
                return None;
            }
        };
        if end <= start {
            errors.push(field("/end", "end must be after start"));
            return None;
        }
        if end.duration_since(start) > to_signed(self.config.max_span) {
            errors.push(field(
                "/end",
                format!(
                    "an entry may span at most {}",
                    format_duration(self.config.max_span)
                ),
            ));
            return None;
        }
        span_of(start, end)
    }

    fn check_label_and_metadata(
        label: Option<&str>,
        metadata: Option<&Value>,
        errors: &mut Vec<FieldError>,
    ) {
        if let Some(l) = label
            && let Err(e) = check_text(l, "/label", 0, 200)
        {
            errors.push(e);
        }
        if let Some(m) = metadata
            && !m.is_object()
        {
            errors.push(field("/metadata", "metadata must be a JSON object"));
        }
    }

    pub async fn create_entry(
        &self,
        system_id: &str,
        input: CreateEntry,
    ) -> Result<Entry, Problem> {
        let uuid = parse_id(system_id, "system")?;
        let mut errors = Vec::new();
        let span = self.entry_span(input.start, input.end, &mut errors);
        let caps = capability_set(&input.capabilities, "/capabilities").unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        });
        Self::check_label_and_metadata(
            input.label.as_deref(),
            input.metadata.as_ref(),
            &mut errors,
        );
        let Some(span) = span.filter(|_| errors.is_empty()) else {
            return Err(Problem::validation(errors));
        };
        self.batcher
            .insert(NewEntry {
                system_id: uuid,
                span,
                capabilities: caps,
                label: input.label.unwrap_or_default(),
                metadata: input
                    .metadata
                    .unwrap_or_else(|| Value::Object(Default::default())),
            })
            .await
    }

    pub async fn get_entry(&self, id: &str) -> Result<Entry, Problem> {
        let uuid = parse_id(id, "entry")?;
        store::get_entry(Src::Db(&self.db), uuid)
            .await?
            .map(|r| r.to_api())
            .ok_or_else(|| Problem::not_found("entry", id))
    }

    pub async fn list_entries(
        &self,
        system_id: &str,
        q: &EntryListQuery,
    ) -> Result<Page<Entry>, Problem> {
        let sys = self.system_row(system_id).await?;
        let limit = page_limit(q.limit)?;
        if let Some(s) = &q.status
            && !matches!(s.as_str(), "active" | "evicted" | "deleted")
        {
            return Err(Problem::invalid_query(format!(
                "status must be active, evicted or deleted, got {s:?}"
            )));
        }
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| bad_cursor(c))?),
        };
        let (from, to) = (query_time("from", &q.from)?, query_time("to", &q.to)?);
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            return Err(Problem::invalid_query("to must be after from"));
        }
        let mut rows = store::list_entries(
            &self.db,
            &EntryFilter {
                system_id: sys.id.0,
                from,
                to,
                status: q.status.clone(),
                after,
                limit: limit + 1,
            },
        )
        .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok(Page {
            next_cursor: if more {
                rows.last().map(|r| encode_cursor(r.start_at.0, r.id.0))
            } else {
                None
            },
            items: rows.iter().map(EntryRow::to_api).collect(),
        })
    }

    /// Locks the system owning row `id` of `table`; the caller then reads
    /// the row under that lock (it may have changed before it was taken).
    async fn lock_owner(
        &self,
        tx: &mut Tx<'_>,
        table: &'static str,
        what: &str,
        id: Uuid,
    ) -> Result<SystemRow, Problem> {
        let system = store::system_of(tx, table, id)
            .await?
            .ok_or_else(|| Problem::not_found(what, &id.to_string()))?;
        self.locked_system(tx, system).await
    }

    async fn locked_entry(
        &self,
        tx: &mut Tx<'_>,
        uuid: Uuid,
    ) -> Result<(SystemRow, EntryRow), Problem> {
        let sys = self
            .lock_owner(tx, "booking_entries", "entry", uuid)
            .await?;
        let entry = store::get_entry(Src::Tx(tx), uuid)
            .await?
            .ok_or_else(|| Problem::not_found("entry", &uuid.to_string()))?;
        Ok((sys, entry))
    }

    /// Moves, resizes or relabels an entry. A change of span or
    /// capabilities is checked like an insert against everything but the
    /// entry itself (rule 7), except that an outage merely being present does
    /// not stop it: only conflicting with an outage's zone does.
    pub async fn update_entry(
        &self,
        id: &str,
        input: UpdateEntry,
        if_match: Option<i64>,
    ) -> Result<Entry, Problem> {
        let uuid = parse_id(id, "entry")?;
        let mut errors = Vec::new();
        let caps = match input
            .capabilities
            .as_deref()
            .map(|c| capability_set(c, "/capabilities"))
        {
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            Some(Ok(c)) => Some(c),
            None => None,
        };
        Self::check_label_and_metadata(
            input.label.as_deref(),
            input.metadata.as_ref(),
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (sys, mut entry) = self.locked_entry(&mut tx, uuid).await?;
        for expected in [if_match, input.version].into_iter().flatten() {
            if expected != entry.version {
                return Err(version_conflict("entry", uuid, expected, entry.version));
            }
        }
        if entry.status != "active" {
            return Err(Problem::conflict(
                "entry_not_active",
                format!(
                    "entry {uuid} is {}; only active entries change",
                    entry.status
                ),
            )
            .with("entry_id", uuid)
            .with("entry_status", entry.status.clone()));
        }
        let start = input.start.unwrap_or(entry.start_at.0);
        let end = input.end.unwrap_or(entry.end_at.0);
        let span = self.entry_span(start, end, &mut errors);
        let Some(span) = span.filter(|_| errors.is_empty()) else {
            return Err(Problem::validation(errors));
        };
        let (start, end) = (from_micros(span.start), from_micros(span.end));
        let caps = caps.unwrap_or_else(|| entry.capabilities.0.clone());
        let moved = Some(span) != entry.span() || caps != entry.capabilities.0;
        if moved {
            let missing = unsupported(&sys, &caps);
            if !missing.is_empty() {
                return Err(capability_unsupported(&sys, missing));
            }
            let outages = store::open_outages(Src::Tx(&mut tx), sys.id.0, now).await?;
            let mut others = store::active_overlapping(Src::Tx(&mut tx), &sys, start, end).await?;
            others.retain(|e| e.id != entry.id);
            Admission::new(&sys, &outages, &caps, now).check(&sys, &others, span)?;
        }
        entry.start_at = DbTime(start);
        entry.end_at = DbTime(end);
        entry.capabilities = DbStrings(caps);
        if let Some(label) = input.label {
            entry.label = label;
        }
        if let Some(m) = input.metadata {
            entry.metadata = Json(m);
        }
        entry.version += 1;
        entry.updated_at = DbTime(now);
        store::update_entry(&mut tx, &entry).await?;
        if moved && span.len() > sys.max_entry_us {
            store::widen_max_entry(&mut tx, sys.id.0, span.len()).await?;
        }
        Self::event(&mut tx, "entry.updated", sys.id.0, Some(&entry), None, now).await?;
        tx.commit().await?;
        Ok(entry.to_api())
    }

    /// Marks an entry deleted (kept for audit) and frees its span.
    /// Deleting it again changes nothing.
    pub async fn delete_entry(&self, id: &str, if_match: Option<i64>) -> Result<(), Problem> {
        let uuid = parse_id(id, "entry")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (sys, mut entry) = self.locked_entry(&mut tx, uuid).await?;
        if let Some(expected) = if_match
            && expected != entry.version
        {
            return Err(version_conflict("entry", uuid, expected, entry.version));
        }
        if entry.status == "deleted" {
            return Ok(());
        }
        entry.status = "deleted".into();
        entry.version += 1;
        entry.updated_at = DbTime(now);
        store::update_entry(&mut tx, &entry).await?;
        Self::event(&mut tx, "entry.deleted", sys.id.0, Some(&entry), None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- availability and slots ----

    fn search_range(
        &self,
        from: &Option<String>,
        to: &Option<String>,
        default_len: Duration,
    ) -> Result<(Timestamp, Timestamp), Problem> {
        let from = query_time("from", from)?.unwrap_or_else(|| self.now());
        let to = query_time("to", to)?.unwrap_or_else(|| plus(from, default_len));
        if to <= from {
            return Err(Problem::invalid_query("to must be after from"));
        }
        if to.duration_since(from) > to_signed(self.config.max_search) {
            return Err(Problem::invalid_query(format!(
                "from..to may cover at most {}",
                format_duration(self.config.max_search)
            )));
        }
        Ok((from, to))
    }

    pub async fn availability(
        &self,
        system_id: &str,
        q: &SearchQuery,
    ) -> Result<Availability, Problem> {
        let sys = self.system_row(system_id).await?;
        let (from, to) = self.search_range(&q.from, &q.to, Duration::from_secs(7 * 86_400))?;
        let caps = query_caps(&q.capabilities)?;
        let missing = unsupported(&sys, &caps);
        if !missing.is_empty() {
            return Err(capability_unsupported(&sys, missing));
        }
        let now = self.now();
        let outages = store::open_outages(Src::Db(&self.db), sys.id.0, now).await?;
        let entries = store::active_overlapping(Src::Db(&self.db), &sys, from, to).await?;
        let blocked_by: Vec<Uuid> = outages
            .iter()
            .filter(|o| o.present(now))
            .map(|o| o.id.0)
            .collect();
        let admission = Admission::new(&sys, &outages, &caps, now);
        let timeline = Timeline::from_spans(entries.iter().filter_map(|e| e.span()));
        let range = span_of(from, to).ok_or_else(|| Problem::invalid_query("empty range"))?;
        let segments = if blocked_by.is_empty() {
            free_segments(&timeline, &admission.rules(), range)
                .into_iter()
                .map(|(s, e, free)| (from_micros(s), from_micros(e), free))
                .collect()
        } else {
            vec![(from, to, 0)]
        };
        Ok(Availability {
            system_id: sys.id.0,
            capacity: i64::from(sys.capacity),
            segments,
            blocked_by,
        })
    }

    /// The earliest spans where an entry would be accepted: the same
    /// [`Admission`] rules the insert checks, searched by the kernel.
    pub async fn slots(&self, system_id: &str, q: &SearchQuery) -> Result<Slots, Problem> {
        let sys = self.system_row(system_id).await?;
        let duration = match q.duration.as_deref() {
            None => return Err(Problem::invalid_query("duration is required, like 1h30m")),
            Some(d) => {
                parse_duration(d).map_err(|e| Problem::invalid_query(format!("duration: {e}")))?
            }
        };
        if duration.is_zero() || duration > self.config.max_span {
            return Err(Problem::invalid_query(format!(
                "duration must be more than 0s and at most {}",
                format_duration(self.config.max_span)
            )));
        }
        let limit = match q.limit {
            None => 10,
            Some(n) if (1..=1000).contains(&n) => n as usize,
            Some(n) => {
                return Err(Problem::invalid_query(format!(
                    "limit must be between 1 and 1000, got {n}"
                )));
            }
        };
        let (from, to) = self.search_range(&q.from, &q.to, Duration::from_secs(30 * 86_400))?;
        let caps = query_caps(&q.capabilities)?;
        let missing = unsupported(&sys, &caps);
        if !missing.is_empty() {
            return Err(capability_unsupported(&sys, missing));
        }
        let now = self.now();
        let outages = store::open_outages(Src::Db(&self.db), sys.id.0, now).await?;
        let blocked_by: Vec<Uuid> = outages
            .iter()
            .filter(|o| o.present(now))
            .map(|o| o.id.0)
            .collect();
        if !blocked_by.is_empty() {
            return Ok(Slots {
                items: Vec::new(),
                blocked_by,
            });
        }
        let entries = store::active_overlapping(Src::Db(&self.db), &sys, from, to).await?;
        let admission = Admission::new(&sys, &outages, &caps, now);
        let timeline = Timeline::from_spans(entries.iter().filter_map(|e| e.span()));
        let range = span_of(from, to).ok_or_else(|| Problem::invalid_query("empty range"))?;
        let len = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        let items = slots(&timeline, &admission.rules(), len, range, limit)
            .into_iter()
            .map(|s| Slot {
                start: from_micros(s.start),
                end: from_micros(s.end),
            })
            .collect();
        Ok(Slots { items, blocked_by })
    }

    // ---- outages ----

    /// Evicts `victims` for `outage` (rule 9: the entry stays, marked
    /// `evicted` with the outage, time and reason, and an event is recorded).
    async fn evict(
        tx: &mut Tx<'_>,
        outage: &OutageRow,
        victims: Vec<EntryRow>,
        reason: &str,
        now: Timestamp,
    ) -> Result<Vec<Uuid>, Problem> {
        let mut ids = Vec::with_capacity(victims.len());
        for mut e in victims {
            e.status = "evicted".into();
            e.evicted_by = Some(outage.id);
            e.evicted_at = Some(DbTime(now));
            e.evict_reason = Some(reason.to_string());
            e.version += 1;
            e.updated_at = DbTime(now);
            store::update_entry(tx, &e).await?;
            Self::event(
                tx,
                "entry.evicted",
                outage.system_id.0,
                Some(&e),
                Some((outage, now)),
                now,
            )
            .await?;
            ids.push(e.id.0);
        }
        // Evicted entries may hold calendar events: those become unplaced
        // in this same transaction, with their notifications.
        crate::calendar::evictions::on_evicted(tx, &ids, outage.id.0, reason, now).await?;
        Ok(ids)
    }

    /// Active entries in conflict with `outage` at `now`.
    async fn conflicting(
        tx: &mut Tx<'_>,
        sys: &SystemRow,
        outage: &OutageRow,
        now: Timestamp,
    ) -> Result<Vec<EntryRow>, Problem> {
        let Some(zone) = outage.zone(now) else {
            return Ok(Vec::new());
        };
        let mut entries = store::active_overlapping(
            Src::Tx(tx),
            sys,
            from_micros(zone.start),
            from_micros(zone.end),
        )
        .await?;
        entries.retain(|e| outage.affects(&e.capabilities.0));
        Ok(entries)
    }

    /// Rule 3 for planned outages (refuse, or evict with `evict`), rule 4 and
    /// 8 for unplanned ones (always evict what is inside the window).
    async fn clear_conflicts(
        tx: &mut Tx<'_>,
        sys: &SystemRow,
        outage: &OutageRow,
        evict: bool,
        now: Timestamp,
    ) -> Result<Vec<Uuid>, Problem> {
        let victims = Self::conflicting(tx, sys, outage, now).await?;
        if victims.is_empty() {
            return Ok(Vec::new());
        }
        if outage.is_planned() && !evict {
            let ids: Vec<Uuid> = victims.iter().map(|e| e.id.0).collect();
            return Err(Problem::conflict(
                "outage_conflict",
                format!(
                    "{} active entries conflict with the outage ({}); move them, or pass ?evict=true",
                    ids.len(),
                    ids_text(&ids)
                ),
            )
            .with("system_id", sys.id.0)
            .with("entry_ids", ids));
        }
        let reason = if outage.is_planned() {
            format!("planned outage {} was registered over it", outage.id.0)
        } else {
            format!("inside the window of unplanned outage {}", outage.id.0)
        };
        Self::evict(tx, outage, victims, &reason, now).await
    }

    pub async fn create_outage(
        &self,
        system_id: &str,
        mut input: CreateOutage,
        evict: bool,
    ) -> Result<OutageChange, Problem> {
        let uuid = parse_id(system_id, "system")?;
        accept_times([
            (&mut input.start, "/start"),
            (&mut input.end, "/end"),
            (&mut input.expected_end, "/expected_end"),
        ])?;
        let now = self.now();
        let mut errors = Vec::new();
        let caps = match input.capabilities.as_deref() {
            None => None,
            Some([]) => {
                errors.push(field(
                    "/capabilities",
                    "give at least one capability, or null for the whole system",
                ));
                None
            }
            Some(c) => capability_set(c, "/capabilities")
                .map_err(|e| errors.push(e))
                .ok(),
        };
        if let Some(r) = &input.reason
            && let Err(e) = check_text(r, "/reason", 0, 1000)
        {
            errors.push(e);
        }
        let mut row = OutageRow {
            id: DbId(Uuid::now_v7()),
            system_id: DbId(uuid),
            kind: input.kind.as_str().into(),
            capabilities: caps.map(DbStrings),
            start_at: DbTime(now),
            end_at: None,
            expected_end: None,
            window_seconds: None,
            reason: input.reason.unwrap_or_default(),
            resolved_at: None,
            version: 1,
            created_at: DbTime(now),
            updated_at: DbTime(now),
        };
        match input.kind {
            OutageKind::Planned => {
                if input.window.is_some() {
                    errors.push(field("/window", "only unplanned outages have a window"));
                }
                if input.expected_end.is_some() {
                    errors.push(field(
                        "/expected_end",
                        "a planned outage has an end; use end",
                    ));
                }
                match (input.start, input.end) {
                    (Some(s), Some(e)) if e > s => {
                        row.start_at = DbTime(s);
                        row.end_at = Some(DbTime(e));
                    }
                    (Some(_), Some(_)) => errors.push(field("/end", "end must be after start")),
                    (None, _) => errors.push(field("/start", "a planned outage needs a start")),
                    (_, None) => errors.push(field("/end", "a planned outage needs an end")),
                }
            }
            OutageKind::Unplanned => {
                if input.end.is_some() {
                    errors.push(field(
                        "/end",
                        "an unplanned outage's end is unknown; give expected_end, and resolve it when it ends",
                    ));
                }
                let start = input.start.unwrap_or(now);
                if start > now {
                    errors.push(field(
                        "/start",
                        "an unplanned outage has already begun; register a future one as planned",
                    ));
                }
                row.start_at = DbTime(start);
                if let Some(x) = input.expected_end {
                    if x <= start {
                        errors.push(field("/expected_end", "expected_end must be after start"));
                    }
                    row.expected_end = Some(DbTime(x));
                }
                match input.window.as_deref().map(parse_window) {
                    None => errors.push(field(
                        "/window",
                        "an unplanned outage needs a window, like \"2h\"",
                    )),
                    Some(Err(e)) => errors.push(e),
                    Some(Ok(w)) => row.window_seconds = Some(w),
                }
            }
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let mut tx = self.db.begin().await?;
        let sys = self.locked_system(&mut tx, uuid).await?;
        if let Some(c) = &row.capabilities {
            let missing = unsupported(&sys, &c.0);
            if !missing.is_empty() {
                return Err(capability_unsupported(&sys, missing));
            }
        }
        store::insert_outage(&mut tx, &row).await?;
        Self::event(
            &mut tx,
            "outage.created",
            uuid,
            None,
            Some((&row, now)),
            now,
        )
        .await?;
        let evicted = Self::clear_conflicts(&mut tx, &sys, &row, evict, now).await?;
        tx.commit().await?;
        Ok(OutageChange {
            outage: row.to_api(now),
            evicted,
        })
    }

    pub async fn get_outage(&self, id: &str) -> Result<Outage, Problem> {
        let uuid = parse_id(id, "outage")?;
        store::get_outage(Src::Db(&self.db), uuid)
            .await?
            .map(|o| o.to_api(self.now()))
            .ok_or_else(|| Problem::not_found("outage", id))
    }

    pub async fn list_outages(
        &self,
        system_id: &str,
        q: &OutageListQuery,
    ) -> Result<Vec<Outage>, Problem> {
        let sys = self.system_row(system_id).await?;
        let now = self.now();
        let open_only = match q.state.as_deref() {
            None | Some("all") => false,
            Some("open") => true,
            Some(other) => {
                return Err(Problem::invalid_query(format!(
                    "state must be open or all, got {other:?}"
                )));
            }
        };
        let rows = if open_only {
            store::open_outages(Src::Db(&self.db), sys.id.0, now).await?
        } else {
            store::list_outages(&self.db, sys.id.0).await?
        };
        Ok(rows.iter().map(|o| o.to_api(now)).collect())
    }

    async fn locked_outage(
        &self,
        tx: &mut Tx<'_>,
        uuid: Uuid,
    ) -> Result<(SystemRow, OutageRow), Problem> {
        let sys = self
            .lock_owner(tx, "booking_outages", "outage", uuid)
            .await?;
        let outage = store::get_outage(Src::Tx(tx), uuid)
            .await?
            .ok_or_else(|| Problem::not_found("outage", &uuid.to_string()))?;
        Ok((sys, outage))
    }

    /// Rule 8: a planned outage moved or extended is checked as when it was
    /// registered; an unplanned one may change its window, capabilities and
    /// expected end, and what a wider window now covers is evicted.
    pub async fn update_outage(
        &self,
        id: &str,
        mut input: UpdateOutage,
        evict: bool,
    ) -> Result<OutageChange, Problem> {
        let uuid = parse_id(id, "outage")?;
        accept_times([
            (&mut input.start, "/start"),
            (&mut input.end, "/end"),
            (&mut input.expected_end, "/expected_end"),
        ])?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (sys, mut o) = self.locked_outage(&mut tx, uuid).await?;
        if let Some(expected) = input.version
            && expected != o.version
        {
            return Err(version_conflict("outage", uuid, expected, o.version));
        }
        if o.resolved_at.is_some() {
            return Err(Problem::conflict(
                "outage_resolved",
                format!("outage {uuid} is resolved and can no longer change"),
            )
            .with("outage_id", uuid));
        }
        let mut errors = Vec::new();
        match input.capabilities.as_ref() {
            None => {}
            Some(None) => o.capabilities = None,
            Some(Some(c)) if c.is_empty() => errors.push(field(
                "/capabilities",
                "give at least one capability, or null for the whole system",
            )),
            Some(Some(c)) => match capability_set(c, "/capabilities") {
                Ok(c) => o.capabilities = Some(DbStrings(c)),
                Err(e) => errors.push(e),
            },
        }
        if let Some(r) = input.reason {
            match check_text(&r, "/reason", 0, 1000) {
                Ok(()) => o.reason = r,
                Err(e) => errors.push(e),
            }
        }
        if o.is_planned() {
            if input.window.is_some() {
                errors.push(field("/window", "only unplanned outages have a window"));
            }
            if input.expected_end.is_some() {
                errors.push(field(
                    "/expected_end",
                    "a planned outage has an end; use end",
                ));
            }
            let start = input.start.unwrap_or(o.start_at.0);
            let end = input.end.or(o.end_at.map(|e| e.0)).unwrap_or(start);
            if end <= start {
                errors.push(field("/end", "end must be after start"));
            }
            o.start_at = DbTime(start);
            o.end_at = Some(DbTime(end));
        } else {
            if input.start.is_some() {
                errors.push(field("/start", "an unplanned outage's start cannot change"));
            }
            if input.end.is_some() {
                errors.push(field(
                    "/end",
                    "an unplanned outage ends when resolved: POST /v1/outages/{id}/resolve",
                ));
            }
            if let Some(x) = input.expected_end {
                if x <= o.start_at.0 {
                    errors.push(field("/expected_end", "expected_end must be after start"));
                }
                o.expected_end = Some(DbTime(x));
            }
            if let Some(w) = input.window.as_deref() {
                match parse_window(w) {
                    Ok(w) => o.window_seconds = Some(w),
                    Err(e) => errors.push(e),
                }
            }
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        if let Some(c) = &o.capabilities {
            let missing = unsupported(&sys, &c.0);
            if !missing.is_empty() {
                return Err(capability_unsupported(&sys, missing));
            }
        }
        o.version += 1;
        o.updated_at = DbTime(now);
        store::update_outage(&mut tx, &o).await?;
        Self::event(
            &mut tx,
            "outage.updated",
            sys.id.0,
            None,
            Some((&o, now)),
            now,
        )
        .await?;
        let evicted = Self::clear_conflicts(&mut tx, &sys, &o, evict, now).await?;
        tx.commit().await?;
        Ok(OutageChange {
            outage: o.to_api(now),
            evicted,
        })
    }

    /// Ends an outage now. A planned outage that has not begun is thereby
    /// cancelled; one in progress ends now. Resolving twice changes nothing.
    pub async fn resolve_outage(&self, id: &str) -> Result<Outage, Problem> {
        let uuid = parse_id(id, "outage")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (sys, mut o) = self.locked_outage(&mut tx, uuid).await?;
        if o.resolved_at.is_some() {
            return Ok(o.to_api(now));
        }
        if o.is_planned() {
            // Begun (strictly: at its very start instant it has not yet
            // held anything, and an end equal to its start is no span).
            if let Some(end) = o.end_at
                && o.start_at.0 < now
                && now < end.0
            {
                o.end_at = Some(DbTime(now));
            }
        } else {
            o.end_at = Some(DbTime(now.max(o.start_at.0)));
        }
        o.resolved_at = Some(DbTime(now));
        o.version += 1;
        o.updated_at = DbTime(now);
        store::update_outage(&mut tx, &o).await?;
        Self::event(
            &mut tx,
            "outage.resolved",
            sys.id.0,
            None,
            Some((&o, now)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(o.to_api(now))
    }

    // ---- the sweeper's step ----

    /// Rule 5: evicts every active entry that has entered the window of an
    /// unresolved unplanned outage. Returns the evicted entries with how late
    /// each was (now minus when it entered the window).
    pub async fn sweep(&self) -> Result<Vec<(Uuid, Duration)>, Problem> {
        let now = self.now();
        let mut evicted = Vec::new();
        for candidate in store::unresolved_unplanned(&self.db).await? {
            let Some(sys) = store::get_system(&self.db, candidate.system_id.0).await? else {
                continue;
            };
            // A read without locks first: most sweeps find nothing to do and
            // should not queue behind writers.
            let Some(zone) = candidate.zone(now) else {
                continue;
            };
            let mut inside = store::active_overlapping(
                Src::Db(&self.db),
                &sys,
                from_micros(zone.start),
                from_micros(zone.end),
            )
            .await?;
            inside.retain(|e| candidate.affects(&e.capabilities.0));
            if inside.is_empty() {
                continue;
            }
            let mut tx = self.db.begin().await?;
            let (sys, outage) = self.locked_outage(&mut tx, candidate.id.0).await?;
            let victims = Self::conflicting(&mut tx, &sys, &outage, now).await?;
            let window = SignedDuration::from_secs(outage.window_seconds.unwrap_or(0));
            let lateness: Vec<Duration> = victims
                .iter()
                .map(|e| {
                    let entered = e
                        .start_at
                        .0
                        .checked_sub(window)
                        .unwrap_or(Timestamp::MIN)
                        .max(outage.updated_at.0);
                    Duration::try_from(now.duration_since(entered)).unwrap_or_default()
                })
                .collect();
            let reason = format!("entered the window of unplanned outage {}", outage.id.0);
            let ids = Self::evict(&mut tx, &outage, victims, &reason, now).await?;
            tx.commit().await?;
            evicted.extend(ids.into_iter().zip(lateness));
        }
        Ok(evicted)
    }

    // ---- events ----

    pub async fn events(&self, q: &EventQuery) -> Result<EventPage, Problem> {
        let limit = page_limit(q.limit)?;
        let after = match &q.after {
            None => (-1, 0),
            Some(c) => decode_event_cursor(c).ok_or_else(|| bad_cursor(c))?,
        };
        let rows = store::events_after(&self.db, after, limit).await?;
        let next = rows
            .last()
            .map(|r| encode_event_cursor(r.txid, r.seq))
            .or_else(|| q.after.clone());
        Ok(EventPage {
            items: rows
                .into_iter()
                .map(|r| BookingEvent {
                    cursor: encode_event_cursor(r.txid, r.seq),
                    kind: r.kind,
                    system_id: r.system_id.0,
                    entry_id: r.entry_id.map(|i| i.0),
                    outage_id: r.outage_id.map(|i| i.0),
                    at: r.at.0,
                    data: r.data.0,
                })
                .collect(),
            next_cursor: next,
        })
    }
}

fn encode_event_cursor(txid: i64, seq: i64) -> String {
    format!("{txid}.{seq}")
}

fn decode_event_cursor(c: &str) -> Option<(i64, i64)> {
    let (a, b) = c.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}
