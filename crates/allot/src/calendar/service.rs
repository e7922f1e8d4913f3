//! The calendar service: every operation of the API and CLI with its rules.
//!
//! Each write runs in one transaction that first locks the booking systems
//! of every calendar it touches (sorted by id), reads what the rules need,
//! places with the kernel, and writes the event, its booking entries, its
//! holds and its notifications. A refused request rolls back; the only
//! thing a refused create leaves behind is its `unplaceable` notification,
//! written on purpose in a transaction of its own.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use allot_kernel::booking::Span;
use allot_kernel::calendar::{Participant, common_slots};
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::batch::{AutoJob, Outcome, PlacementBatcher};
use super::input::{self, field};
use super::model::*;
use super::place::{
    self, AutoRequest, Explicit, Seat, Unplaceable, day_start, load_seats, local_instant,
};
use super::store::{self, CalendarNotification, CalendarRow, EventFilter, EventRow};
use crate::booking::rules::{from_micros, micros};
use crate::booking::store::{self as bstore, Src, SystemRow};
use crate::clock::SharedClock;
use crate::http::paging::{Page, bad_cursor, decode_cursor, encode_cursor, page_limit, parse_id};
use crate::http::problem::Problem;
use crate::http::versions::version_conflict;
use crate::notifications::Hub;
use crate::store::{Db, DbId, DbStrings, DbTime, Tx};

/// Limits of the calendar module.
#[derive(Debug, Clone)]
pub struct CalendarConfig {
    /// The longest event accepted.
    pub max_event: Duration,
    /// The most days one auto-placement may search (`search_days`).
    pub max_search_days: i64,
    /// How many days after its date a displaced event may be re-placed on
    /// calendars without a horizon.
    pub replace_days: i64,
    /// The largest attachment accepted.
    pub max_attachment_bytes: usize,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            max_event: Duration::from_secs(86_400),
            max_search_days: 366,
            replace_days: 14,
            max_attachment_bytes: 10 * 1024 * 1024,
        }
    }
}

pub struct CalendarService {
    db: Db,
    clock: SharedClock,
    config: CalendarConfig,
    hub: Arc<Hub>,
    batcher: PlacementBatcher,
}

const MAX_HORIZON_DAYS: i64 = 3660;

impl CalendarRow {
    pub fn to_api(&self) -> Calendar {
        Calendar {
            id: self.id.0,
            owner: self.owner.clone(),
            timezone: self.timezone.clone(),
            working_hours: self.working_hours.0.clone(),
            horizon_days: self.horizon_days,
            slot_granularity: self.slot_granularity_s,
            webhook_url: self.webhook_url.clone(),
            webhook_signed: self.webhook_secret.is_some(),
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

impl EventRow {
    /// Derived from the clock: `pending` before start, `in_progress` in
    /// `[start, end)`, `completed` after; `cancelled` and `unplaced` as such.
    pub fn status(&self, now: Timestamp) -> &'static str {
        match (self.state.as_str(), self.start_at, self.end_at) {
            ("cancelled", ..) => "cancelled",
            ("scheduled", Some(s), Some(e)) => {
                if now < s.0 {
                    "pending"
                } else if now < e.0 {
                    "in_progress"
                } else {
                    "completed"
                }
            }
            _ => "unplaced",
        }
    }

    /// The attendees that are calendars (checked when they were written),
    /// each once: one id may be spelled several ways (case, hyphens), and
    /// a calendar held twice would hold two entries of one event.
    pub fn participants(&self) -> Vec<Uuid> {
        let mut seen = HashSet::new();
        self.attendees
            .0
            .iter()
            .filter_map(|a| Uuid::parse_str(a.trim()).ok())
            .filter(|id| *id != self.calendar_id.0 && seen.insert(*id))
            .collect()
    }

    /// This event's calendar first, then its participants.
    fn seat_ids(&self) -> Vec<Uuid> {
        let mut ids = vec![self.calendar_id.0];
        ids.extend(self.participants());
        ids
    }

    pub fn to_api(&self, now: Timestamp) -> Event {
        Event {
            id: self.id.0,
            calendar_id: self.calendar_id.0,
            name: self.name.clone(),
            start: self.start_at.map(|t| t.0),
            end: self.end_at.map(|t| t.0),
            date: self.date.clone(),
            start_time: self.start_time.clone(),
            duration: self.duration_us / 1_000_000,
            attendees: self.attendees.0.clone(),
            participants: self.participants(),
            location: self.location.clone(),
            placement: self.placement.clone(),
            state: self.state.clone(),
            status: self.status(now).to_string(),
            outside_working_hours: self.outside_working_hours,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

/// What a placement attempt inside one transaction came to.
enum Attempt<T> {
    Done(T),
    /// Displacing events needs calendars that were not locked up front:
    /// roll back and start again with these locked too, in order (taking
    /// them mid-transaction could deadlock with another request).
    NeedLocks(BTreeSet<Uuid>),
    Refused(Unplaceable),
}

/// A validated create or re-placement request.
#[derive(Clone)]
struct Want {
    date: Date,
    start_time: Option<Time>,
    duration_us: i64,
    search_days: i64,
}

fn unplaceable_problem(u: &Unplaceable, calendar_id: Uuid, notification: Option<Uuid>) -> Problem {
    let detail = match u {
        Unplaceable::Busy { event_ids, .. } if !event_ids.is_empty() => format!(
            "calendar {calendar_id} is busy at that time with event(s) {}",
            list(event_ids)
        ),
        Unplaceable::Busy { .. } => {
            format!("calendar {calendar_id} has no open slot of that length in the range searched")
        }
        Unplaceable::OutsideWorkingHours => format!(
            "no working-hours window of calendar {calendar_id} (and its participants) on that date is long enough"
        ),
        Unplaceable::BeyondHorizon => {
            "the date is beyond the horizon auto-placement may use".to_string()
        }
        Unplaceable::Outage {
            calendar_id,
            outage_ids,
        } => format!(
            "calendar {calendar_id} has an outage ({}) in the way",
            list(outage_ids)
        ),
        Unplaceable::AttendeeBusy { attendee, .. } => {
            format!("attendee calendar {attendee} has no open slot in common")
        }
    };
    let mut p = Problem::conflict(u.reason(), detail)
        .with("reason", u.reason())
        .with("calendar_id", calendar_id);
    match u {
        Unplaceable::Busy {
            event_ids,
            entry_ids,
        } => {
            p = p.with("event_ids", event_ids).with("entry_ids", entry_ids);
        }
        Unplaceable::AttendeeBusy {
            attendee,
            event_ids,
            entry_ids,
        } => {
            p = p
                .with("attendee", attendee)
                .with("event_ids", event_ids)
                .with("entry_ids", entry_ids);
        }
        Unplaceable::Outage { outage_ids, .. } => {
            p = p.with("outage_ids", outage_ids);
        }
        _ => {}
    }
    if let Some(n) = notification {
        p = p.with("notification_id", n);
    }
    p
}

fn list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CalendarService {
    /// Must be called inside a tokio runtime: it starts the placement
    /// batcher.
    pub fn new(db: Db, clock: SharedClock, config: CalendarConfig, hub: Arc<Hub>) -> Self {
        let batcher = PlacementBatcher::start(db.clone(), clock.clone());
        Self {
            db,
            clock,
            config,
            hub,
            batcher,
        }
    }

    pub fn config(&self) -> &CalendarConfig {
        &self.config
    }

    /// `(hits, misses)` of the placement batches' busy-span cache.
    pub fn busy_cache_stats(&self) -> (u64, u64) {
        self.batcher.cache_stats()
    }

    /// `(written, changed)` of the placement batches that planned ahead of
    /// their locks (PostgreSQL): written as planned, and planned again
    /// because what they planned on had changed.
    pub fn ahead_stats(&self) -> (u64, u64) {
        self.batcher.ahead_stats()
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ---- calendars ----

    fn granularity(value: Option<&Value>) -> Result<i64, crate::http::problem::FieldError> {
        match value {
            None => Ok(300),
            Some(v) => {
                let d = input::duration(v, "/slot_granularity", Duration::from_secs(86_400))?;
                Ok(d.as_secs() as i64)
            }
        }
    }

    fn webhook(url: Option<&str>) -> Result<(), crate::http::problem::FieldError> {
        if let Some(u) = url
            && !u.is_empty()
        {
            let ok = reqwest::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
                .unwrap_or(false);
            if !ok || u.len() > 2000 {
                return Err(field("/webhook_url", "must be an http(s) URL"));
            }
        }
        Ok(())
    }

    pub async fn create_calendar(&self, input: CreateCalendar) -> Result<Calendar, Problem> {
        let mut errors = Vec::new();
        if let Err(e) = input::text(&input.owner, "/owner", 1, 200) {
            errors.push(e);
        }
        if let Err(e) = input::timezone(&input.timezone, "/timezone") {
            errors.push(e);
        }
        let hours = input::working_hours(input.working_hours.as_ref()).unwrap_or_else(|e| {
            errors.push(e);
            allot_kernel::calendar::WorkingHours::all_day()
        });
        if let Some(h) = input.horizon_days
            && !(1..=MAX_HORIZON_DAYS).contains(&h)
        {
            errors.push(field(
                "/horizon_days",
                format!("must be 1 to {MAX_HORIZON_DAYS} days"),
            ));
        }
        let granularity = Self::granularity(input.slot_granularity.as_ref()).unwrap_or_else(|e| {
            errors.push(e);
            300
        });
        if let Err(e) = Self::webhook(input.webhook_url.as_deref()) {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let now = self.now();
        let id = Uuid::now_v7();
        let system = SystemRow {
            id: DbId(id),
            name: input.owner.clone(),
            capabilities: DbStrings(Vec::new()),
            capacity: 1,
            timezone: Some(input.timezone.clone()),
            max_entry_us: 0,
            version: 1,
            created_at: DbTime(now),
            updated_at: DbTime(now),
        };
        let row = CalendarRow {
            id: DbId(id),
            owner: input.owner,
            timezone: input.timezone,
            working_hours: Json(input::hours_json(&hours)),
            horizon_days: input.horizon_days,
            slot_granularity_s: granularity,
            webhook_url: input.webhook_url.filter(|u| !u.is_empty()),
            webhook_secret: input.webhook_secret.filter(|s| !s.is_empty()),
            version: 1,
            created_at: DbTime(now),
            updated_at: DbTime(now),
            entries_gen: 0,
        };
        let mut tx = self.db.begin().await?;
        bstore::insert_system(&mut tx, &system).await?;
        store::insert_calendar(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(row.to_api())
    }

    async fn calendar_row(&self, id: &str) -> Result<CalendarRow, Problem> {
        let uuid = parse_id(id, "calendar")?;
        store::get_calendar(Src::Db(&self.db), uuid)
            .await?
            .ok_or_else(|| Problem::not_found("calendar", id))
    }

    pub async fn get_calendar(&self, id: &str) -> Result<Calendar, Problem> {
        Ok(self.calendar_row(id).await?.to_api())
    }

    pub async fn list_calendars(
        &self,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Calendar>, Problem> {
        let limit = page_limit(limit)?;
        let after = match cursor {
            None => None,
            Some(c) => Some(Uuid::parse_str(c).map_err(|_| bad_cursor(c))?),
        };
        let rows = store::list_calendars(&self.db, after, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<Calendar> = rows
            .iter()
            .take(limit as usize)
            .map(|r| r.to_api())
            .collect();
        let next_cursor = if more {
            items.last().map(|c| c.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Changes a calendar's settings. Existing events stay where they are:
    /// new working hours or a new horizon bind later placements only.
    pub async fn update_calendar(
        &self,
        id: &str,
        input: UpdateCalendar,
    ) -> Result<Calendar, Problem> {
        let uuid = parse_id(id, "calendar")?;
        let mut errors = Vec::new();
        if let Some(o) = &input.owner
            && let Err(e) = input::text(o, "/owner", 1, 200)
        {
            errors.push(e);
        }
        if let Some(tz) = &input.timezone
            && let Err(e) = input::timezone(tz, "/timezone")
        {
            errors.push(e);
        }
        let hours = match &input.working_hours {
            None => None,
            Some(v) => match input::working_hours(Some(v)) {
                Ok(h) => Some(h),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        if let Some(h) = input.horizon_days
            && !(0..=MAX_HORIZON_DAYS).contains(&h)
        {
            errors.push(field(
                "/horizon_days",
                format!("must be 1 to {MAX_HORIZON_DAYS} days (0 removes the horizon)"),
            ));
        }
        let granularity = match &input.slot_granularity {
            None => None,
            Some(v) => match Self::granularity(Some(v)) {
                Ok(g) => Some(g),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        if let Err(e) = Self::webhook(input.webhook_url.as_deref()) {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        bstore::lock_system(&mut tx, uuid)
            .await?
            .ok_or_else(|| Problem::not_found("calendar", id))?;
        let mut row = store::get_calendar(Src::Tx(&mut tx), uuid)
            .await?
            .ok_or_else(|| Problem::not_found("calendar", id))?;
        if let Some(v) = input.version
            && v != row.version
        {
            return Err(version_conflict("calendar", uuid, v, row.version));
        }
        if let Some(o) = input.owner {
            row.owner = o;
        }
        if let Some(tz) = input.timezone {
            row.timezone = tz;
        }
        if let Some(h) = hours {
            row.working_hours = Json(input::hours_json(&h));
        }
        if let Some(h) = input.horizon_days {
            row.horizon_days = (h > 0).then_some(h);
        }
        if let Some(g) = granularity {
            row.slot_granularity_s = g;
        }
        if let Some(u) = input.webhook_url {
            row.webhook_url = (!u.is_empty()).then_some(u);
        }
        if let Some(s) = input.webhook_secret {
            row.webhook_secret = (!s.is_empty()).then_some(s);
        }
        row.version += 1;
        row.updated_at = DbTime(now);
        store::update_calendar(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(row.to_api())
    }

    // ---- events: reading ----

    async fn event_row(&self, id: &str) -> Result<EventRow, Problem> {
        let uuid = parse_id(id, "event")?;
        store::get_event(Src::Db(&self.db), uuid)
            .await?
            .ok_or_else(|| Problem::not_found("event", id))
    }

    pub async fn get_event(&self, id: &str) -> Result<Event, Problem> {
        Ok(self.event_row(id).await?.to_api(self.now()))
    }

    pub async fn event_status(&self, id: &str) -> Result<EventStatus, Problem> {
        let row = self.event_row(id).await?;
        Ok(EventStatus {
            id: row.id.0,
            status: row.status(self.now()).to_string(),
        })
    }

    pub async fn list_events(
        &self,
        calendar_id: &str,
        q: &EventListQuery,
    ) -> Result<Page<Event>, Problem> {
        let cal = self.calendar_row(calendar_id).await?;
        let limit = page_limit(q.limit)?;
        let time = |v: &Option<String>, name: &str| -> Result<Option<Timestamp>, Problem> {
            v.as_deref()
                .map(|s| {
                    s.parse::<Timestamp>().map_err(|_| {
                        Problem::invalid_query(format!(
                            "{name}={s:?} is not an RFC 3339 time like 2027-03-15T09:00:00Z"
                        ))
                    })
                })
                .transpose()
        };
        let from = time(&q.from, "from")?;
        let to = time(&q.to, "to")?;
        if let Some(s) = &q.status
            && ![
                "pending",
                "in_progress",
                "completed",
                "cancelled",
                "unplaced",
            ]
            .contains(&s.as_str())
        {
            return Err(Problem::invalid_query(format!(
                "status={s:?}: use pending, in_progress, completed, cancelled or unplaced"
            )));
        }
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| bad_cursor(c))?),
        };
        let now = self.now();
        let rows = store::list_events(
            &self.db,
            &EventFilter {
                calendar_id: cal.id.0,
                from,
                to,
                status: q.status.clone(),
                attendee: q.attendee.clone(),
                now,
                after,
                limit: limit + 1,
            },
        )
        .await?;
        let more = rows.len() as i64 > limit;
        let page: Vec<&EventRow> = rows.iter().take(limit as usize).collect();
        let next_cursor = if more {
            page.last()
                .map(|r| encode_cursor(r.start_at.unwrap_or(r.created_at).0, r.id.0))
        } else {
            None
        };
        Ok(Page {
            items: page.into_iter().map(|r| r.to_api(now)).collect(),
            next_cursor,
        })
    }

    /// Open slots of `duration` on a local date, within working hours and
    /// not before now: what an auto-placement on that date could get.
    pub async fn free(&self, calendar_id: &str, q: &FreeQuery) -> Result<FreeSlots, Problem> {
        let cal = self.calendar_row(calendar_id).await?;
        let date = input::date(&q.date, "date").map_err(|e| Problem::invalid_query(e.message))?;
        let dur = input::duration(
            &Value::String(q.duration.clone()),
            "duration",
            self.config.max_event,
        )
        .or_else(|e| match q.duration.trim().parse::<i64>() {
            Ok(n) => input::duration(&Value::from(n), "duration", self.config.max_event),
            Err(_) => Err(e),
        })
        .map_err(|e| Problem::invalid_query(format!("duration: {}", e.message)))?;
        let limit = page_limit(q.limit.or(Some(100)))? as usize;
        let tz = place::calendar_tz(&cal);
        let now = self.now();
        let Some(range) = place::day_range(&tz, date, 0, now) else {
            return Ok(FreeSlots { items: Vec::new() });
        };
        let mut tx = self.db.begin().await?;
        let seats = load_seats(&mut tx, &[cal.id.0], range, now, &HashSet::new()).await?;
        drop(tx);
        let parts: Vec<Participant> = seats
            .iter()
            .map(|s| Participant {
                busy: &s.busy_spans,
                windows: &s.windows,
                blocked: &s.blocked,
            })
            .collect();
        let origin = day_start(&tz, date).map(micros).unwrap_or(range.start);
        let items = if seats.iter().any(|s| !s.present_outages.is_empty()) {
            Vec::new()
        } else {
            common_slots(
                &parts,
                dur.as_micros() as i64,
                range,
                Some((origin, cal.slot_granularity_s * 1_000_000)),
                limit,
            )
        };
        Ok(FreeSlots {
            items: items
                .into_iter()
                .map(|s| FreeSlot {
                    start: from_micros(s.start),
                    end: from_micros(s.end),
                })
                .collect(),
        })
    }

    // ---- events: writing ----

    fn want(
        &self,
        date: &str,
        start_time: Option<&str>,
        duration: &Value,
        search_days: Option<i64>,
        errors: &mut Vec<crate::http::problem::FieldError>,
    ) -> Option<Want> {
        let date = input::date(date, "/date").map_err(|e| errors.push(e)).ok();
        let time = match start_time.filter(|t| !t.is_empty()) {
            None => Some(None),
            Some(t) => input::time_of_day(t, "/start_time")
                .map(Some)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        let dur = input::duration(duration, "/duration", self.config.max_event)
            .map_err(|e| errors.push(e))
            .ok();
        let search_days = search_days.unwrap_or(0);
        if !(0..=self.config.max_search_days).contains(&search_days) {
            errors.push(field(
                "/search_days",
                format!("must be 0 to {}", self.config.max_search_days),
            ));
        }
        Some(Want {
            date: date?,
            start_time: time?,
            duration_us: dur?.as_micros() as i64,
            search_days,
        })
    }

    /// Attendees that are ids must be calendars: a 422 names the others.
    async fn check_participants(&self, ids: &[Uuid], own: Uuid) -> Result<(), Problem> {
        let ids: Vec<Uuid> = ids.iter().copied().filter(|i| *i != own).collect();
        let found = store::calendars_in(Src::Db(&self.db), &ids).await?;
        let missing: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|i| !found.iter().any(|c| c.id.0 == *i))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Problem::validation(vec![field(
            "/attendees",
            format!(
                "{} look(s) like calendar ids but no such calendar exists; attendees that are ids must be calendars",
                list(&missing)
            ),
        )])
        .with("unknown_calendar_ids", missing))
    }

    pub async fn create_event(
        &self,
        calendar_id: &str,
        input: CreateEvent,
    ) -> Result<Event, Problem> {
        let cal_id = parse_id(calendar_id, "calendar")?;
        let mut errors = Vec::new();
        if let Err(e) = input::text(&input.event_name, "/event_name", 1, 500) {
            errors.push(e);
        }
        if let Err(e) = input::text(&input.event_location, "/event_location", 0, 500) {
            errors.push(e);
        }
        let attendees = input::attendees(&input.attendees, "/attendees")
            .map_err(|e| errors.push(e))
            .ok();
        let want = self.want(
            &input.date,
            input.start_time.as_deref(),
            &input.duration,
            input.search_days,
            &mut errors,
        );
        let (Some(want), Some((attendees, ids)), true) = (want, attendees, errors.is_empty())
        else {
            return Err(Problem::validation(errors));
        };
        let now = self.now();
        let row = EventRow {
            id: DbId(Uuid::now_v7()),
            calendar_id: DbId(cal_id),
            name: input.event_name,
            date: want.date.to_string(),
            start_time: want.start_time.map(input::format_time),
            duration_us: want.duration_us,
            search_days: want.search_days,
            start_at: None,
            end_at: None,
            attendees: DbStrings(attendees),
            location: input.event_location,
            placement: if want.start_time.is_some() {
                "explicit"
            } else {
                "auto"
            }
            .into(),
            state: "scheduled".into(),
            outside_working_hours: false,
            version: 1,
            created_at: DbTime(now),
            updated_at: DbTime(now),
        };
        // The common case first: an auto-placement that fits on its date,
        // in a group commit. The batch reads the calendars itself; anything
        // it does not place (a missing calendar or participant, a past or
        // full date) goes the single way, which checks and explains.
        if want.start_time.is_none() {
            let job = AutoJob {
                row: row.clone(),
                date: want.date,
                duration_us: want.duration_us,
                seat_ids: row.seat_ids(),
            };
            if let Outcome::Placed(placed) = self.batcher.place(job).await? {
                return self.after_write(Ok(Ok(*placed)), cal_id, &want, now).await;
            }
        }
        let cal = store::get_calendar(Src::Db(&self.db), cal_id)
            .await?
            .ok_or_else(|| Problem::not_found("calendar", calendar_id))?;
        self.check_participants(&ids, cal_id).await?;
        self.check_not_past(&cal, &want, now)?;
        let placed = self.place_with_retry(row, &want, now, None).await;
        self.after_write(placed, cal_id, &want, now).await
    }

    /// Explicit times and auto dates must not lie wholly in the past.
    fn check_not_past(
        &self,
        cal: &CalendarRow,
        want: &Want,
        now: Timestamp,
    ) -> Result<(), Problem> {
        let tz = place::calendar_tz(cal);
        match want.start_time {
            Some(t) => {
                let start = local_instant(&tz, want.date, t);
                if start.is_none_or(|s| s < now) {
                    return Err(Problem::validation(vec![field(
                        "/start_time",
                        format!(
                            "{} {} in {} is in the past",
                            want.date,
                            input::format_time(t),
                            cal.timezone
                        ),
                    )]));
                }
            }
            None => {
                if place::day_range(&tz, want.date, want.search_days, now).is_none() {
                    return Err(Problem::validation(vec![field(
                        "/date",
                        format!(
                            "{} (and the days searched after it) is in the past in {}",
                            want.date, cal.timezone
                        ),
                    )]));
                }
            }
        }
        Ok(())
    }

    /// Writes the `unplaceable` notification of a refused placement and
    /// turns the outcome into the answer.
    async fn after_write(
        &self,
        placed: Result<Result<EventRow, Unplaceable>, Problem>,
        cal_id: Uuid,
        want: &Want,
        now: Timestamp,
    ) -> Result<Event, Problem> {
        match placed? {
            Ok(row) => {
                self.hub.bump();
                Ok(row.to_api(now))
            }
            Err(u) => {
                let id = Uuid::now_v7();
                let data = json!({
                    "reason": u.reason(),
                    "date": want.date.to_string(),
                    "start_time": want.start_time.map(input::format_time),
                    "duration": want.duration_us / 1_000_000,
                    "problem": unplaceable_problem(&u, cal_id, None),
                });
                let webhook = store::get_calendar(Src::Db(&self.db), cal_id)
                    .await?
                    .and_then(|c| c.webhook_url);
                let mut tx = self.db.begin().await?;
                store::insert_notification(
                    &mut tx,
                    CalendarNotification {
                        id,
                        kind: "unplaceable",
                        calendar_id: cal_id,
                        event_id: None,
                        at: now,
                        data,
                    },
                    webhook.as_deref(),
                )
                .await?;
                tx.commit().await?;
                self.hub.bump();
                Err(unplaceable_problem(&u, cal_id, Some(id)))
            }
        }
    }

    /// Places `row` (new when `insert`, else moved) in its own transaction,
    /// retrying with a wider lock set when displacement needs one.
    ///
    /// `moving`: the version the existing event must still have (else 409).
    async fn place_with_retry(
        &self,
        row: EventRow,
        want: &Want,
        now: Timestamp,
        moving: Option<i64>,
    ) -> Result<Result<EventRow, Unplaceable>, Problem> {
        let insert = moving.is_none();
        let mut extra = BTreeSet::new();
        for _ in 0..4 {
            let mut tx = self.db.begin().await?;
            tx.prefer_generic_plans().await?;
            if let Some(version) = moving {
                let fresh = store::get_event(Src::Tx(&mut tx), row.id.0)
                    .await?
                    .ok_or_else(|| Problem::not_found("event", &row.id.0.to_string()))?;
                if fresh.version != version {
                    return Err(version_conflict("event", row.id.0, version, fresh.version));
                }
            }
            let mut r = row.clone();
            match self
                .place(&mut tx, &mut r, want, now, insert, &extra)
                .await?
            {
                Attempt::Done(()) => {
                    tx.commit().await?;
                    return Ok(Ok(r));
                }
                Attempt::Refused(u) => {
                    drop(tx);
                    return Ok(Err(u));
                }
                Attempt::NeedLocks(more) => {
                    drop(tx);
                    extra.extend(more);
                }
            }
        }
        Err(Problem::unavailable(
            "the calendars involved kept changing; retry the request",
        ))
    }

    /// One placement attempt inside `tx`: lock, load, place (displacing
    /// auto-placed events for an explicit one), write.
    async fn place(
        &self,
        tx: &mut Tx<'_>,
        row: &mut EventRow,
        want: &Want,
        now: Timestamp,
        insert: bool,
        extra: &BTreeSet<Uuid>,
    ) -> Result<Attempt<()>, Problem> {
        let seat_ids = row.seat_ids();
        let own: HashSet<Uuid> = if insert {
            HashSet::new()
        } else {
            store::active_holds(tx, row.id.0)
                .await?
                .into_iter()
                .collect()
        };
        // Every calendar this attempt may touch, locked up front in order.
        let mut lock: Vec<Uuid> = seat_ids.iter().chain(extra.iter()).copied().collect();
        lock.sort();
        lock.dedup();
        bstore::lock_systems(tx, &lock).await?;
        let primary = store::get_calendar(Src::Tx(tx), row.calendar_id.0)
            .await?
            .ok_or_else(|| Problem::not_found("calendar", &row.calendar_id.0.to_string()))?;
        let tz = place::calendar_tz(&primary);
        let origin = day_start(&tz, want.date).map(micros).unwrap_or(0);
        let span = match want.start_time {
            Some(t) => {
                let start = local_instant(&tz, want.date, t)
                    .ok_or_else(|| Problem::invalid("/start_time", "not a representable time"))?;
                Span::new(
                    micros(start),
                    micros(start).saturating_add(want.duration_us),
                )
                .ok_or_else(|| Problem::invalid("/duration", "must be positive"))?
            }
            None => {
                let Some(range) = place::day_range(&tz, want.date, want.search_days, now) else {
                    return Ok(Attempt::Refused(Unplaceable::BeyondHorizon));
                };
                let step = primary.slot_granularity_s.saturating_mul(1_000_000);
                // Most placements fit on the requested date: search it
                // first, reading only its events. The earliest slot there
                // is the earliest of the whole range too (a slot that
                // starts earlier would have to end on that date as well),
                // so the whole range, and the reasons for a refusal, are
                // read only when the date is full.
                let mut slot = None;
                if want.search_days > 0
                    && let Some(day) = place::day_range(&tz, want.date, 0, now)
                {
                    let seats = load_seats(tx, &seat_ids, day, now, &own).await?;
                    let req = AutoRequest {
                        duration_us: want.duration_us,
                        range: day,
                        horizon_end: place::horizon_end(&seats, now),
                        align: (origin, step),
                    };
                    slot = place::auto_slot(&seats, &req).ok();
                }
                match slot {
                    Some(slot) => slot,
                    None => {
                        let seats = load_seats(tx, &seat_ids, range, now, &own).await?;
                        let req = AutoRequest {
                            duration_us: want.duration_us,
                            range,
                            horizon_end: place::horizon_end(&seats, now),
                            align: (origin, step),
                        };
                        match place::auto_slot(&seats, &req) {
                            Ok(slot) => slot,
                            Err(u) => return Ok(Attempt::Refused(u)),
                        }
                    }
                }
            }
        };
        let mut displaced: Vec<EventRow> = Vec::new();
        if want.start_time.is_some() {
            let seats = load_seats(tx, &seat_ids, span, now, &own).await?;
            match place::explicit_span(&seats, span) {
                Explicit::Free { outside } => row.outside_working_hours = outside,
                Explicit::Refused(u) => return Ok(Attempt::Refused(u)),
                Explicit::Taken(taken) => {
                    let entry_ids: Vec<Uuid> = taken.iter().map(|t| t.1).collect();
                    let holders = store::events_holding(tx, &entry_ids).await?;
                    let blocking: Vec<&(usize, Uuid)> = taken
                        .iter()
                        .filter(|(_, entry)| {
                            !holders.iter().any(|(e, ev)| {
                                e == entry && ev.placement == "auto" && ev.state == "scheduled"
                            })
                        })
                        .collect();
                    if !blocking.is_empty() {
                        return Ok(Attempt::Refused(conflict_of(&seats, &blocking, &holders)));
                    }
                    for (_, ev) in holders {
                        if !displaced.iter().any(|d| d.id == ev.id) {
                            displaced.push(ev);
                        }
                    }
                    let needed: BTreeSet<Uuid> = displaced
                        .iter()
                        .flat_map(|d| d.seat_ids())
                        .filter(|id| !lock.contains(id))
                        .collect();
                    if !needed.is_empty() {
                        return Ok(Attempt::NeedLocks(needed));
                    }
                    row.outside_working_hours = !allot_kernel::calendar::outside_windows(
                        &seats
                            .iter()
                            .map(|s| Participant {
                                busy: &[],
                                windows: &s.windows,
                                blocked: &[],
                            })
                            .collect::<Vec<_>>(),
                        span,
                    )
                    .is_empty();
                }
            }
        }
        // Free the slot: the displaced events' entries and the event's own.
        for d in &displaced {
            place::release(tx, d.id.0, now, None).await?;
        }
        if !insert {
            place::release(tx, row.id.0, now, None).await?;
        }
        row.start_at = Some(DbTime(from_micros(span.start)));
        row.end_at = Some(DbTime(from_micros(span.end)));
        row.state = "scheduled".into();
        if insert {
            store::insert_event(tx, row).await?;
        } else {
            store::write_event(tx, row).await?;
        }
        self.hold(tx, row, &seat_ids, span, now).await?;
        displaced.sort_by_key(|d| d.start_at.map(|t| t.0));
        for mut d in displaced {
            self.notify(
                tx,
                "displaced",
                &d,
                json!({"event": d.to_api(now), "by": row.id.0}),
                now,
            )
            .await?;
            self.replace_displaced(tx, &mut d, now).await?;
        }
        Ok(Attempt::Done(()))
    }

    /// Re-places a displaced auto event at the earliest open slot from its
    /// date on (within the horizon, or `replace_days` after its date), or
    /// marks it `unplaced`.
    async fn replace_displaced(
        &self,
        tx: &mut Tx<'_>,
        d: &mut EventRow,
        now: Timestamp,
    ) -> Result<(), Problem> {
        let seat_ids = d.seat_ids();
        let Some(cal) = store::get_calendar(Src::Tx(tx), d.calendar_id.0).await? else {
            return Ok(());
        };
        let tz = place::calendar_tz(&cal);
        let date: Date = d
            .date
            .parse()
            .unwrap_or_else(|_| now.to_zoned(tz.clone()).date());
        let days = d.search_days.max(self.config.replace_days);
        let from = d.start_at;
        let slot = match place::day_range(&tz, date, days, now) {
            None => None,
            Some(range) => {
                let seats = load_seats(tx, &seat_ids, range, now, &HashSet::new()).await?;
                let origin = day_start(&tz, date).map(micros).unwrap_or(0);
                let req = AutoRequest {
                    duration_us: d.duration_us,
                    range,
                    horizon_end: place::horizon_end(&seats, now),
                    align: (origin, cal.slot_granularity_s.saturating_mul(1_000_000)),
                };
                place::auto_slot(&seats, &req).ok()
            }
        };
        d.version += 1;
        d.updated_at = DbTime(now);
        match slot {
            Some(span) => {
                d.start_at = Some(DbTime(from_micros(span.start)));
                d.end_at = Some(DbTime(from_micros(span.end)));
                store::write_event(tx, d).await?;
                self.hold(tx, d, &seat_ids, span, now).await?;
                self.notify(
                    tx,
                    "replaced",
                    d,
                    json!({"event": d.to_api(now), "from": {"start": from.map(|t| t.0)}}),
                    now,
                )
                .await?;
            }
            None => {
                d.start_at = None;
                d.end_at = None;
                d.state = "unplaced".into();
                store::write_event(tx, d).await?;
                self.notify(tx, "unplaced", d, json!({"event": d.to_api(now)}), now)
                    .await?;
            }
        }
        Ok(())
    }

    /// Books `span` on every seat calendar for the event: one booking entry
    /// each (with its `entry.created` event) and the holds tying them to it.
    async fn hold(
        &self,
        tx: &mut Tx<'_>,
        ev: &EventRow,
        seat_ids: &[Uuid],
        span: Span,
        now: Timestamp,
    ) -> Result<(), Problem> {
        let rows = place::hold_entries(ev, seat_ids, span, now);
        for cal in seat_ids {
            bstore::widen_max_entry(tx, *cal, span.len()).await?;
        }
        bstore::insert_entries_with_events(tx, &rows).await?;
        for r in &rows {
            store::insert_hold(tx, r.id.0, ev.id.0, r.system_id.0).await?;
        }
        Ok(())
    }

    async fn notify(
        &self,
        tx: &mut Tx<'_>,
        kind: &str,
        ev: &EventRow,
        data: Value,
        now: Timestamp,
    ) -> Result<(), Problem> {
        let webhook = store::get_calendar(Src::Tx(tx), ev.calendar_id.0)
            .await?
            .and_then(|c| c.webhook_url);
        store::insert_notification(
            tx,
            CalendarNotification {
                id: Uuid::now_v7(),
                kind,
                calendar_id: ev.calendar_id.0,
                event_id: Some(ev.id.0),
                at: now,
                data,
            },
            webhook.as_deref(),
        )
        .await?;
        Ok(())
    }

    pub async fn update_event(
        &self,
        id: &str,
        input: UpdateEvent,
        if_match: Option<i64>,
    ) -> Result<Event, Problem> {
        let uuid = parse_id(id, "event")?;
        let current = self.event_row(id).await?;
        let expected = if_match.or(input.version);
        if let Some(v) = expected
            && v != current.version
        {
            return Err(version_conflict("event", uuid, v, current.version));
        }
        if current.state == "cancelled" {
            return Err(Problem::conflict(
                "event_cancelled",
                format!("event {uuid} is cancelled; create a new event instead"),
            )
            .with("event_id", uuid));
        }
        let mut errors = Vec::new();
        if let Some(n) = &input.event_name
            && let Err(e) = input::text(n, "/event_name", 1, 500)
        {
            errors.push(e);
        }
        if let Some(l) = &input.event_location
            && let Err(e) = input::text(l, "/event_location", 0, 500)
        {
            errors.push(e);
        }
        let attendees = match &input.attendees {
            None => None,
            Some(a) => input::attendees(a, "/attendees")
                .map_err(|e| errors.push(e))
                .ok(),
        };
        let moved = input.date.is_some()
            || input.start_time.is_some()
            || input.duration.is_some()
            || input.search_days.is_some()
            || attendees.as_ref().is_some_and(|(_, ids)| {
                let mut a: Vec<Uuid> = ids
                    .iter()
                    .copied()
                    .filter(|i| *i != current.calendar_id.0)
                    .collect();
                let mut b = current.participants();
                a.sort();
                b.sort();
                a != b
            })
            || current.state == "unplaced";
        let start_time = match &input.start_time {
            Some(t) => Some(t.as_str()),
            None => current.start_time.as_deref(),
        };
        let duration = input
            .duration
            .clone()
            .unwrap_or_else(|| Value::from(current.duration_us / 1_000_000));
        let want = self.want(
            input.date.as_deref().unwrap_or(&current.date),
            start_time,
            &duration,
            input.search_days.or(Some(current.search_days)),
            &mut errors,
        );
        let Some(want) = want.filter(|_| errors.is_empty()) else {
            return Err(Problem::validation(errors));
        };
        if let Some((_, ids)) = &attendees {
            self.check_participants(ids, current.calendar_id.0).await?;
        }
        let now = self.now();
        let mut row = current.clone();
        if let Some(n) = input.event_name {
            row.name = n;
        }
        if let Some(l) = input.event_location {
            row.location = l;
        }
        if let Some((a, _)) = attendees {
            row.attendees = DbStrings(a);
        }
        row.date = want.date.to_string();
        row.start_time = want.start_time.map(input::format_time);
        row.duration_us = want.duration_us;
        row.search_days = want.search_days;
        row.placement = if want.start_time.is_some() {
            "explicit"
        } else {
            "auto"
        }
        .into();
        row.version += 1;
        row.updated_at = DbTime(now);
        if !moved {
            let mut tx = self.db.begin().await?;
            let fresh = store::get_event(Src::Tx(&mut tx), uuid)
                .await?
                .ok_or_else(|| Problem::not_found("event", id))?;
            if fresh.version != current.version {
                return Err(version_conflict(
                    "event",
                    uuid,
                    current.version,
                    fresh.version,
                ));
            }
            row.outside_working_hours = fresh.outside_working_hours;
            store::write_event(&mut tx, &row).await?;
            tx.commit().await?;
            return Ok(row.to_api(now));
        }
        let cal = store::get_calendar(Src::Db(&self.db), row.calendar_id.0)
            .await?
            .ok_or_else(|| Problem::not_found("calendar", &row.calendar_id.0.to_string()))?;
        self.check_not_past(&cal, &want, now)?;
        let placed = self
            .place_with_retry(row, &want, now, Some(current.version))
            .await;
        match placed? {
            Ok(r) => {
                self.hub.bump();
                Ok(r.to_api(now))
            }
            Err(u) => Err(unplaceable_problem(&u, current.calendar_id.0, None)),
        }
    }

    /// Cancels an event: the record stays (status `cancelled`), the slot is
    /// freed. Cancelling a cancelled event changes nothing.
    pub async fn cancel_event(&self, id: &str) -> Result<Event, Problem> {
        let uuid = parse_id(id, "event")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut row = self.locked_event(&mut tx, uuid).await?;
        if row.state != "cancelled" {
            place::release(&mut tx, uuid, now, None).await?;
            row.state = "cancelled".into();
            row.version += 1;
            row.updated_at = DbTime(now);
            store::write_event(&mut tx, &row).await?;
        }
        tx.commit().await?;
        Ok(row.to_api(now))
    }

    /// Deletes an event and frees its slot.
    pub async fn delete_event(&self, id: &str) -> Result<(), Problem> {
        let uuid = parse_id(id, "event")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.locked_event(&mut tx, uuid).await?;
        place::release(&mut tx, uuid, now, None).await?;
        store::delete_event(&mut tx, uuid).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads an event after locking its calendars (read, lock, re-read: the
    /// participants could change between the first read and the lock).
    async fn locked_event(&self, tx: &mut Tx<'_>, id: Uuid) -> Result<EventRow, Problem> {
        let row = store::get_event(Src::Tx(tx), id)
            .await?
            .ok_or_else(|| Problem::not_found("event", &id.to_string()))?;
        let mut ids = row.seat_ids();
        ids.sort();
        ids.dedup();
        bstore::lock_systems(tx, &ids).await?;
        store::get_event(Src::Tx(tx), id)
            .await?
            .ok_or_else(|| Problem::not_found("event", &id.to_string()))
    }
}

/// A 409 for an explicit span taken by entries that cannot be displaced:
/// `busy` on the event's own calendar, else `attendee_busy`.
fn conflict_of(
    seats: &[Seat],
    blocking: &[&(usize, Uuid)],
    holders: &[(Uuid, EventRow)],
) -> Unplaceable {
    let event_of = |entry: &Uuid| {
        holders
            .iter()
            .find(|(e, _)| e == entry)
            .map(|(_, ev)| ev.id.0)
    };
    let on_primary: Vec<&&(usize, Uuid)> = blocking.iter().filter(|(i, _)| *i == 0).collect();
    let (chosen, attendee) = if on_primary.is_empty() {
        let first = blocking.first().map(|b| b.0).unwrap_or(0);
        let chosen: Vec<Uuid> = blocking
            .iter()
            .filter(|(i, _)| *i == first)
            .map(|b| b.1)
            .collect();
        (chosen, seats.get(first).map(|s| s.id))
    } else {
        (on_primary.iter().map(|b| b.1).collect(), None)
    };
    let mut event_ids: Vec<Uuid> = chosen.iter().filter_map(event_of).collect();
    event_ids.sort();
    event_ids.dedup();
    let entry_ids: Vec<Uuid> = chosen
        .iter()
        .filter(|e| event_of(e).is_none())
        .copied()
        .collect();
    match attendee {
        None => Unplaceable::Busy {
            event_ids,
            entry_ids,
        },
        Some(attendee) => Unplaceable::AttendeeBusy {
            attendee,
            event_ids,
            entry_ids,
        },
    }
}
