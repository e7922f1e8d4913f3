//! The provider's behaviour for one call, without HTTP: the rate limit
//! first, then the seeded fault, then the effect on the fleet, and the
//! counters of it all. Each call takes `now` from the caller (the injected
//! clock) and returns what to answer and how long to hold the answer; the
//! routes only translate that into HTTP and sleep.
//!
//! Order per call: a refused request (429) does nothing and draws no fate;
//! an accepted one is in the window whatever happens next, including an
//! injected 500 (the limiter sits in front of the service, as in real
//! APIs, so a client must budget its retries too).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::config::{CloudConfig, Faults, InvalidConfig, signed};
use super::faults::Dice;
use super::fleet::{Fleet, Started, Stopped, VmView};
use super::window::SlidingWindow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Start,
    Stop,
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<T> {
    /// 429: nothing happened; accepted again after this long.
    RateLimited { retry_after: SignedDuration },
    /// Injected 500: nothing happened.
    Failed,
    /// Done; answer normally.
    Done(T),
    /// Done, but the client never learns it: answer 504 after the hold.
    Lost(T),
}

/// An answer and how long to hold it back (zero: answer at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<T> {
    pub answer: Answer<T>,
    pub hold: Duration,
}

/// Counters of one rate-limited endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// Every request, whatever its answer.
    pub requests: u64,
    /// Malformed (400), refused before the rate limit.
    pub invalid: u64,
    /// Refused by the rate limit (429).
    pub rate_limited: u64,
    /// Passed the rate limit (counted in the window): all the rest.
    pub accepted: u64,
    /// Injected 500s.
    pub failed: u64,
    /// Answers held back by the delay fault.
    pub delayed: u64,
    /// start() answers lost by the timeout fault (VM created).
    pub timed_out: u64,
}

/// What `GET /stats` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub start: EndpointStats,
    pub stop: EndpointStats,
    pub vms_created: u64,
    pub vms_stopped: u64,
    /// start() calls answered with the VM of an idempotency key used before.
    pub replays: u64,
}

#[derive(Debug)]
pub struct Provider {
    faults: Faults,
    start_window: SlidingWindow,
    stop_window: SlidingWindow,
    fleet: Fleet,
    dice: Dice,
    ids: StdRng,
    stats: Stats,
}

impl Provider {
    pub fn new(config: &CloudConfig, seed: u64) -> Result<Self, InvalidConfig> {
        config.validate()?;
        let window = signed("--window", config.window)?;
        let boot_delay = signed("--boot-delay", config.boot_delay)?;
        Ok(Self {
            faults: config.faults.clone(),
            start_window: SlidingWindow::new(config.requests_per_second, window),
            stop_window: SlidingWindow::new(config.requests_per_second, window),
            fleet: Fleet::new(config.allocation_period(), boot_delay),
            dice: Dice::new(seed),
            // A stream of its own, so that ids never shift the fault draws.
            ids: StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            stats: Stats::default(),
        })
    }

    /// A start() call at `now`, with an already validated idempotency key.
    pub fn start(&mut self, now: Timestamp, key: Option<&str>) -> Reply<Started> {
        self.stats.start.requests += 1;
        if let Err(retry_after) = self.start_window.admit(now) {
            self.stats.start.rate_limited += 1;
            return rate_limited(retry_after);
        }
        self.stats.start.accepted += 1;
        let fate = self.dice.roll(&self.faults);
        let hold = fate.delay.unwrap_or_default();
        if fate.fail {
            self.stats.start.failed += 1;
            self.stats.start.delayed += u64::from(fate.delay.is_some());
            return Reply {
                answer: Answer::Failed,
                hold,
            };
        }
        let ids = &mut self.ids;
        let started = self.fleet.start(now, key, || new_v7(ids, now));
        match started {
            Started::Replayed(_) => self.stats.replays += 1,
            Started::Created(_) => self.stats.vms_created += 1,
        }
        // Only a call that creates a VM loses its answer: a replay is how a
        // client recovers, so it is answered (or fails, or is delayed).
        if let (Started::Created(_), Some(timeout)) = (started, fate.lose_answer) {
            self.stats.start.timed_out += 1;
            return Reply {
                answer: Answer::Lost(started),
                hold: timeout,
            };
        }
        self.stats.start.delayed += u64::from(fate.delay.is_some());
        Reply {
            answer: Answer::Done(started),
            hold,
        }
    }

    /// A stop() call at `now`.
    pub fn stop(&mut self, now: Timestamp, id: Uuid) -> Reply<Stopped> {
        self.stats.stop.requests += 1;
        if let Err(retry_after) = self.stop_window.admit(now) {
            self.stats.stop.rate_limited += 1;
            return rate_limited(retry_after);
        }
        self.stats.stop.accepted += 1;
        let fate = self.dice.roll(&self.faults);
        let hold = fate.delay.unwrap_or_default();
        self.stats.stop.delayed += u64::from(fate.delay.is_some());
        if fate.fail {
            self.stats.stop.failed += 1;
            return Reply {
                answer: Answer::Failed,
                hold,
            };
        }
        let stopped = self.fleet.stop(now, id);
        if stopped == Stopped::Now {
            self.stats.vms_stopped += 1;
        }
        Reply {
            answer: Answer::Done(stopped),
            hold,
        }
    }

    /// Counts a malformed request, refused before the rate limit.
    pub fn refuse_invalid(&mut self, endpoint: Endpoint) {
        let stats = match endpoint {
            Endpoint::Start => &mut self.stats.start,
            Endpoint::Stop => &mut self.stats.stop,
        };
        stats.requests += 1;
        stats.invalid += 1;
    }

    /// Every VM in request order, with its state at `now`.
    pub fn vms(&self, now: Timestamp) -> Vec<VmView> {
        self.fleet.vms().iter().map(|v| v.view(now)).collect()
    }

    pub fn vm(&self, now: Timestamp, id: Uuid) -> Option<VmView> {
        self.fleet.get(id).map(|v| v.view(now))
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }
}

fn rate_limited<T>(retry_after: SignedDuration) -> Reply<T> {
    Reply {
        answer: Answer::RateLimited { retry_after },
        hold: Duration::ZERO,
    }
}

/// A UUID v7 stamped with the injected clock (not the wall clock), its
/// random bits from the seeded stream.
fn new_v7(rng: &mut StdRng, now: Timestamp) -> Uuid {
    let millis = u64::try_from(now.as_millisecond()).unwrap_or(0);
    let mut bytes = [0u8; 10];
    rng.fill(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        "2030-06-03T08:00:00Z".parse().expect("valid")
    }

    fn provider(faults: Faults) -> Provider {
        let config = CloudConfig {
            faults,
            ..CloudConfig::default()
        };
        Provider::new(&config, 5).expect("valid")
    }

    #[test]
    fn a_refused_call_does_nothing() {
        let mut p = provider(Faults::default());
        for _ in 0..3 {
            assert!(matches!(
                p.start(t0(), None).answer,
                Answer::Done(Started::Created(_))
            ));
        }
        let r = p.start(t0(), Some("k"));
        assert_eq!(
            r.answer,
            Answer::RateLimited {
                retry_after: SignedDuration::from_secs(1)
            }
        );
        assert_eq!(p.vms(t0()).len(), 3);
        let id = p.vms(t0())[0].id;
        for _ in 0..3 {
            assert_eq!(p.stop(t0(), id).hold, Duration::ZERO);
        }
        assert!(matches!(
            p.stop(t0(), Uuid::nil()).answer,
            Answer::RateLimited { .. }
        ));
        let s = p.stats();
        assert_eq!((s.start.requests, s.start.accepted), (4, 3));
        assert_eq!((s.stop.requests, s.stop.rate_limited), (4, 1));
        assert_eq!((s.vms_created, s.vms_stopped), (3, 1));
    }

    #[test]
    fn an_injected_failure_does_nothing_but_uses_the_window() {
        let mut p = provider(Faults {
            fail_rate: 1.0,
            ..Faults::default()
        });
        for _ in 0..3 {
            assert_eq!(p.start(t0(), None).answer, Answer::Failed);
        }
        assert!(matches!(
            p.start(t0(), None).answer,
            Answer::RateLimited { .. }
        ));
        assert!(p.vms(t0()).is_empty());
        assert_eq!(p.stats().start.failed, 3);
    }

    #[test]
    fn a_lost_answer_still_creates_and_a_replay_is_answered() {
        let mut p = provider(Faults {
            start_timeout_rate: 1.0,
            ..Faults::default()
        });
        let r = p.start(t0(), Some("k"));
        let Answer::Lost(Started::Created(id)) = r.answer else {
            panic!("expected a lost answer, got {r:?}");
        };
        assert_eq!(r.hold, Faults::default().timeout_after);
        assert_eq!(p.vms(t0()).len(), 1);
        let again = p.start(t0(), Some("k"));
        assert_eq!(again.answer, Answer::Done(Started::Replayed(id)));
        assert_eq!(again.hold, Duration::ZERO);
        let s = p.stats();
        assert_eq!((s.start.timed_out, s.replays, s.vms_created), (1, 1, 1));
    }

    #[test]
    fn ids_are_v7_on_the_injected_clock_and_follow_the_seed() {
        let mut a = provider(Faults::default());
        let mut b = provider(Faults::default());
        let Answer::Done(x) = a.start(t0(), None).answer else {
            panic!("created")
        };
        let Answer::Done(y) = b.start(t0(), None).answer else {
            panic!("created")
        };
        assert_eq!(x, y);
        let id = x.id();
        assert_eq!(id.get_version_num(), 7);
        let (secs, _) = id.get_timestamp().expect("v7 has a time").to_unix();
        assert_eq!(secs as i64, t0().as_second());
    }
}
