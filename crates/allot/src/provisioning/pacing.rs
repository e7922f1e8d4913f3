//! Client-side pacing of the cloud's endpoints, and the backoff of retries,
//! both on the injected clock.
//!
//! The provider accepts at most N requests per endpoint in any sliding
//! second. A [`Pacer`] is a GCRA (generic cell rate algorithm) with no
//! burst: it lets a call through only when its theoretical arrival time
//! has come, and then moves that time one interval on, so calls are at
//! least `interval` apart and no sliding second ever holds more than N.
//! The interval is `ceil(1 s / N)` plus a small slack, so that network
//! jitter between here and the provider cannot squeeze two calls into one
//! interval there. A 429's `Retry-After` holds the pacer until then.

use jiff::{SignedDuration, Timestamp};
use rand::Rng;

/// GCRA with no burst tolerance, over the injected clock.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: SignedDuration,
    /// The theoretical arrival time: the first instant a call may go.
    next: Timestamp,
}

impl Pacer {
    pub fn new(interval: SignedDuration) -> Pacer {
        Pacer {
            interval: interval.max(SignedDuration::ZERO),
            next: Timestamp::MIN,
        }
    }

    /// Takes the right to call at `now`, or says when it comes.
    pub fn try_take(&mut self, now: Timestamp) -> Result<(), Timestamp> {
        if now < self.next {
            return Err(self.next);
        }
        self.next = now.saturating_add(self.interval).unwrap_or(Timestamp::MAX);
        Ok(())
    }

    /// The first instant a call may go.
    pub fn free_at(&self) -> Timestamp {
        self.next
    }

    /// No call before `until` (the provider's `Retry-After`).
    pub fn hold_until(&mut self, until: Timestamp) {
        self.next = self.next.max(until);
    }
}

/// Capped exponential backoff with jitter: the n-th retry (from 1) waits a
/// random time in `[d/2, d]` for `d = min(cap, base * 2^(n-1))`. The jitter
/// keeps retries of many VMs that failed together from arriving together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: SignedDuration,
    pub cap: SignedDuration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: SignedDuration::from_millis(500),
            cap: SignedDuration::from_secs(30),
        }
    }
}

impl Backoff {
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> SignedDuration {
        let base = self.base.as_micros().max(1);
        let cap = self.cap.as_micros().max(base);
        let full = base
            .saturating_mul(1i128 << retry.saturating_sub(1).min(40))
            .min(cap);
        let half = full / 2;
        let micros = rng.random_range(half..=full);
        SignedDuration::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).unwrap()
    }

    /// Against a brute-force count: calls taken as soon as allowed never
    /// put more than 3 into any sliding second.
    #[test]
    fn no_sliding_second_holds_more_than_the_rate() {
        let mut p = Pacer::new(SignedDuration::from_micros(333_334));
        let mut sent = Vec::new();
        let mut now = at(0);
        while sent.len() < 50 {
            match p.try_take(now) {
                Ok(()) => sent.push(now),
                Err(next) => now = next,
            }
        }
        for (i, &t) in sent.iter().enumerate() {
            let window_end = t + SignedDuration::from_secs(1);
            let n = sent[i..].iter().take_while(|&&s| s < window_end).count();
            assert!(n <= 3, "{n} calls in the second from {t}");
        }
        let span = sent[49].duration_since(sent[0]);
        assert!(span < SignedDuration::from_millis(16_400), "{span:?}");
    }

    #[test]
    fn a_hold_delays_the_next_call() {
        let mut p = Pacer::new(SignedDuration::from_millis(100));
        assert!(p.try_take(at(0)).is_ok());
        p.hold_until(at(2_000));
        assert_eq!(p.try_take(at(500)), Err(at(2_000)));
        assert!(p.try_take(at(2_000)).is_ok());
        assert_eq!(p.free_at(), at(2_100));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let b = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..20 {
            let full = (500_000i64 << (retry - 1).min(20)).min(30_000_000);
            let d = b.delay(retry, &mut rng).as_micros() as i64;
            assert!(d >= full / 2 && d <= full, "retry {retry}: {d} vs {full}");
        }
    }
}
