//! `allot bench calendar`: how fast events are auto-placed.
//!
//! - seed: 11 calendars (all day, every day; 5-minute grid): calendar 0
//!   holds 10,000 events (half-hour events every hour, 16 a day), calendars
//!   1-10 hold at least 1,000 each (one every other hour, 8 a day: as many
//!   days as leave room for every timed placement at half their free
//!   time); written through the service, the calendars side by side;
//! - single: auto-placements through the HTTP API on calendar 0, each on a
//!   date among the seeded ones (the search reads that date's events);
//! - attendees: auto-placements of 10-attendee events: an event on one of
//!   calendars 1-10 with the other nine as attendees, so it must find a
//!   slot free on all ten and hold all ten;
//! - kernel: the earliest common slot of 10 participants with 1,000 busy
//!   spans each, in-process (timeline build included).

use std::sync::Arc;
use std::time::Instant;

use allot_kernel::booking::Span;
use allot_kernel::calendar::{Participant, earliest_common_slot};
use clap::Args;
use jiff::civil::Date;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{drive, drive_at_rate, fresh_db, load, machine, quantile};
use crate::calendar::CalendarService;
use crate::calendar::model::{CreateCalendar, CreateEvent};
use crate::clock::{SharedClock, SystemClock};
use crate::config::ServeArgs;
use crate::server::Server;

#[derive(Debug, Clone, Args)]
pub struct CalendarBenchArgs {
    /// Backends to measure: sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// PostgreSQL server URL (a fresh database is made on it); default: the test server.
    #[arg(long, env = "ALLOT_BENCH_DATABASE_URL")]
    pub postgres_url: Option<String>,
    /// Events seeded on the big calendar.
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Auto-placements timed in each scenario.
    #[arg(long, default_value_t = 2_000)]
    pub placements: usize,
    /// Concurrent clients of the throughput runs.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Placements per second offered in the fixed-rate runs.
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,
    /// How long each fixed-rate run offers placements: its p99 is over
    /// rate x seconds placements, and each second's p99 is reported too.
    #[arg(long, default_value_t = 5.0)]
    pub rate_seconds: f64,
    /// Smaller sizes, for CI smoke runs.
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON document per scenario instead of a table.
    #[arg(long)]
    pub json: bool,
}

const TOKEN: &str = "bench-calendar-token";
/// Seeded events per day on the big calendar: half an hour at the top of
/// 16 hours.
const PER_DAY: usize = 16;
/// Seeded events per day on the attendee calendars: every other hour, so
/// a day has 80 free quarter-hours (each timed placement takes one on all
/// ten calendars).
const PER_DAY_ATTENDEE: usize = 8;
/// Timed 10-attendee placements per seeded day at most: half its free
/// quarter-hours, so every placement fits on its requested date and the
/// dates fill evenly.
const ATTENDEE_ROOM_PER_DAY: usize = 40;
/// Untimed placements before each scenario's timed runs: they open the
/// client connections and the database connections, and prepare and plan
/// the statements, which the first requests of a fresh server pay for.
const WARM_UP: usize = 200;

fn summary(scenario: &str, latencies: &mut [f64], placed: usize, elapsed: f64) -> Value {
    latencies.sort_by(f64::total_cmp);
    json!({
        "scenario": scenario,
        "placed": placed,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "placements_per_second": (placed as f64 / elapsed).round(),
        "p50_ms": (quantile(latencies, 0.5) * 1000.0).round() / 1000.0,
        "p99_ms": (quantile(latencies, 0.99) * 1000.0).round() / 1000.0,
        "max_ms": (latencies.last().copied().unwrap_or(0.0) * 1000.0).round() / 1000.0,
    })
}

/// The worst p99 of any whole second of a fixed-rate run: `latencies` in
/// the order the requests were due, `rate` a second. A run's p99 can hide
/// one bad second among many; this shows it. `None` for a run shorter than
/// a second (`--quick`), which has no whole second to judge.
fn worst_second_p99(latencies: &[f64], rate: f64) -> Option<f64> {
    let per_second = (rate.round() as usize).max(1);
    latencies
        .chunks_exact(per_second)
        .map(|second| {
            let mut sorted = second.to_vec();
            sorted.sort_by(f64::total_cmp);
            quantile(&sorted, 0.99)
        })
        .reduce(f64::max)
}

/// Seeds `n` explicit events on `calendar` from `first` on, `per_day` a
/// day, half an hour each, at 04:00 and every `16 / per_day` hours after.
async fn seed_events(
    service: Arc<CalendarService>,
    calendar: Uuid,
    first: Date,
    n: usize,
    per_day: usize,
) -> Result<(), String> {
    let id = calendar.to_string();
    let step = PER_DAY / per_day.clamp(1, PER_DAY);
    for k in 0..n {
        let day = first
            .checked_add(jiff::Span::new().days((k / per_day) as i64))
            .map_err(|e| e.to_string())?;
        let hour = 4 + (k % per_day) * step;
        service
            .create_event(
                &id,
                CreateEvent {
                    event_name: format!("seed {k}"),
                    date: day.to_string(),
                    start_time: Some(format!("{hour:02}:00")),
                    duration: json!(1800),
                    attendees: Vec::new(),
                    event_location: String::new(),
                    search_days: None,
                },
            )
            .await
            .map_err(|p| p.detail)?;
    }
    Ok(())
}

async fn scenario(backend: &str, args: &CalendarBenchArgs) -> Result<Vec<Value>, String> {
    let (events, placements, at_rate) = if args.quick {
        (1_000, 200, 200)
    } else {
        let at_rate = (args.rate * args.rate_seconds).round().max(1.0) as usize;
        (args.events, args.placements, at_rate)
    };
    // Attendee days enough for every timed placement (warm-up, closed
    // loop, fixed rate) at `ATTENDEE_ROOM_PER_DAY` a day.
    let attendee_days = (WARM_UP + placements + at_rate).div_ceil(ATTENDEE_ROOM_PER_DAY);
    let per_attendee = (attendee_days * PER_DAY_ATTENDEE).max(if args.quick { 100 } else { 1_000 });
    let (db, url) = fresh_db(backend, args.postgres_url.as_deref()).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let serve = ServeArgs {
        database_url: Some(url.clone()),
        bootstrap_token: Some(TOKEN.into()),
        rate_limit: Some(0),
        ..Default::default()
    };
    let config = serve.resolve()?;
    let server = Server::build_on(db.clone(), &config, clock.clone(), true).await?;
    let mut calendars = Vec::new();
    for i in 0..11 {
        let cal = server
            .state
            .calendar
            .create_calendar(CreateCalendar {
                owner: format!("bench {i}"),
                timezone: "UTC".into(),
                working_hours: None,
                horizon_days: None,
                slot_granularity: None,
                webhook_url: None,
                webhook_secret: None,
            })
            .await
            .map_err(|p| p.detail)?;
        calendars.push(cal.id);
    }
    let first = clock
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(2))
        .map_err(|e| e.to_string())?;
    let seeded_at = Instant::now();
    // The calendars side by side: each placement locks only its own.
    let seeding: Vec<_> = calendars
        .iter()
        .enumerate()
        .map(|(i, cal)| {
            let (n, per_day) = if i == 0 {
                (events, PER_DAY)
            } else {
                (per_attendee, PER_DAY_ATTENDEE)
            };
            tokio::spawn(seed_events(
                server.state.calendar.clone(),
                *cal,
                first,
                n,
                per_day,
            ))
        })
        .collect();
    for seeded in seeding {
        seeded.await.map_err(|e| e.to_string())??;
    }
    let seed_seconds = seeded_at.elapsed().as_secs_f64();
    super::settle(&db, "booking_entries, calendar_events, calendar_holds").await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let router = server.router.clone();
    let http = tokio::spawn(async move { axum::serve(listener, router).await });
    let mut docs = Vec::new();

    let conns = load::Pool::new(addr);
    let timed = Timed {
        placements,
        at_rate,
        clients: args.clients,
        rate: args.rate,
    };

    // One calendar with `events` events: each placement on one of its days.
    let days = events.div_ceil(PER_DAY).max(1);
    let big = calendars[0];
    let pool = conns.clone();
    let single = move |i: usize| {
        let date = first.checked_add(jiff::Span::new().days((i * 7919 % days) as i64));
        let body = json!({"event_name": format!("auto {i}"), "date": date.map(|d| d.to_string()).unwrap_or_default(),
            "duration": 900, "search_days": 30})
        .to_string();
        let request = load::post_json(addr, &format!("/v1/calendars/{big}/events"), TOKEN, &body);
        let pool = pool.clone();
        async move { matches!(pool.send(&request).await, Ok(201)) }
    };
    for mut doc in timed.run("single", single).await {
        doc["existing_events"] = json!(events);
        doc["seed_seconds"] = json!((seed_seconds * 10.0).round() / 10.0);
        docs.push(doc);
    }

    // 10-attendee events over calendars 1-10.
    let ten: Arc<Vec<Uuid>> = Arc::new(calendars[1..].to_vec());
    let seeded_days = per_attendee.div_ceil(PER_DAY_ATTENDEE).max(1);
    let pool = conns.clone();
    let attendees = move |i: usize| {
        let own = ten[i % ten.len()];
        let others: Vec<String> = ten
            .iter()
            .filter(|c| **c != own)
            .map(Uuid::to_string)
            .collect();
        // 7919 is prime: consecutive placements go to days far apart, and
        // every day gets its share, however many days there are.
        let date = first.checked_add(jiff::Span::new().days((i * 7919 % seeded_days) as i64));
        let body = json!({"event_name": format!("meeting {i}"), "date": date.map(|d| d.to_string()).unwrap_or_default(),
            "duration": 900, "attendees": others, "search_days": 30})
        .to_string();
        let request = load::post_json(addr, &format!("/v1/calendars/{own}/events"), TOKEN, &body);
        let pool = pool.clone();
        async move { matches!(pool.send(&request).await, Ok(201)) }
    };
    for mut doc in timed.run("attendees", attendees).await {
        doc["participants"] = json!(10);
        doc["existing_events_each"] = json!(per_attendee);
        docs.push(doc);
    }

    for d in &mut docs {
        d["backend"] = json!(backend);
    }
    http.abort();
    server
        .jobs
        .shutdown(std::time::Duration::from_secs(1))
        .await;
    super::discard(db, &url).await;
    Ok(docs)
}

/// The timed runs of a scenario, after its warm-up.
struct Timed {
    /// Placements of the closed-loop run.
    placements: usize,
    /// Placements of the fixed-rate run.
    at_rate: usize,
    clients: usize,
    rate: f64,
}

impl Timed {
    /// Warms up, then times `placements` placements as fast as `clients`
    /// closed-loop clients get them placed (throughput), and `at_rate`
    /// offered at a fixed `rate` (latency at that load, counted from when
    /// each request was due). `job(i)` places placement `i`; every `i` is
    /// used once, so each run places different events.
    async fn run<F, Fut>(&self, scenario: &str, job: F) -> Vec<Value>
    where
        F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        let n = self.placements;
        let offset = |base: usize, job: F| move |i: usize| job(base + i);
        drive(WARM_UP, self.clients, offset(0, job.clone())).await;
        let (placed, mut lat, secs) = drive(n, self.clients, offset(WARM_UP, job.clone())).await;
        let mut throughput = summary(scenario, &mut lat, placed, secs);
        throughput["clients"] = json!(self.clients);
        let (placed, mut lat, secs) =
            drive_at_rate(self.at_rate, self.rate, offset(WARM_UP + n, job)).await;
        let worst_second = worst_second_p99(&lat, self.rate);
        let mut at_rate = summary(&format!("{scenario}_at_rate"), &mut lat, placed, secs);
        at_rate["offered_per_second"] = json!(self.rate);
        at_rate["worst_second_p99_ms"] =
            json!(worst_second.map(|ms| (ms * 1000.0).round() / 1000.0));
        vec![throughput, at_rate]
    }
}

/// Earliest common slot of 10 participants with 1,000 busy spans each over
/// 30 days (5 to 30 minutes each), one hour, 5-minute grid.
fn kernel(runs: usize) -> Value {
    const MIN: i64 = 60_000_000;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |m: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m.max(1) as u64) as i64
    };
    let range = Span {
        start: 0,
        end: 30 * 24 * 60 * MIN,
    };
    let busy: Vec<Vec<Span>> = (0..10)
        .map(|_| {
            (0..1000)
                .map(|_| {
                    let start = next(range.end);
                    Span {
                        start,
                        end: start + (5 + next(26)) * MIN,
                    }
                })
                .collect()
        })
        .collect();
    let windows = [range];
    let mut times = Vec::with_capacity(runs);
    let mut found = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let parts: Vec<Participant> = busy
            .iter()
            .map(|b| Participant {
                busy: b,
                windows: &windows,
                blocked: &[],
            })
            .collect();
        if earliest_common_slot(&parts, 60 * MIN, range, Some((0, 5 * MIN))).is_some() {
            found += 1;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    json!({
        "scenario": "kernel", "participants": 10, "busy_spans_each": 1000, "runs": runs, "found": found,
        "p50_ms": (quantile(&times, 0.5) * 1000.0).round() / 1000.0,
        "p99_ms": (quantile(&times, 0.99) * 1000.0).round() / 1000.0,
    })
}

pub async fn run(args: CalendarBenchArgs) -> Result<(), String> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err(format!(
            "--rate must be a number of placements per second above 0, not {}",
            args.rate
        ));
    }
    if !(args.rate_seconds.is_finite() && args.rate_seconds > 0.0) {
        return Err(format!(
            "--rate-seconds must be a number of seconds above 0, not {}",
            args.rate_seconds
        ));
    }
    let backends = super::backends(&args.backend)?;
    let machine = machine();
    if !args.json {
        println!("allot bench calendar on {machine}");
    }
    let mut docs = vec![kernel(if args.quick { 50 } else { 500 })];
    for backend in backends {
        docs.extend(scenario(backend, &args).await?);
    }
    for mut doc in docs {
        if args.json {
            doc["machine"] = machine.clone();
        }
        println!("{doc}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_second_is_judged_on_whole_seconds_only() {
        // Two whole seconds at 100/s (the second one slow in its last 5%),
        // then half a second that is slower still but not a whole second.
        let mut lat: Vec<f64> = vec![1.0; 100];
        lat.extend((0..100).map(|i| if i >= 95 { 40.0 } else { 2.0 }));
        lat.extend(vec![500.0; 50]);
        assert_eq!(worst_second_p99(&lat, 100.0), Some(40.0));
        assert_eq!(worst_second_p99(&lat[..100], 100.0), Some(1.0));
        assert_eq!(worst_second_p99(&lat[..99], 100.0), None);
    }
}
