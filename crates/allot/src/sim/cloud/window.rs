//! The rate limit of one endpoint, as the provider enforces it: a request
//! at `t` is accepted iff fewer than `limit` accepted requests lie in
//! `(t - window, t]`. Keeping the accepted timestamps (not a token bucket)
//! makes the rule exact at every instant, so a client that paces itself by
//! `Retry-After-Ms` is never refused twice for the same reason. Refused
//! requests leave no trace: hammering does not lengthen the wait.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: usize,
    window: SignedDuration,
    /// Accepted requests, oldest first.
    accepted: VecDeque<Timestamp>,
}

impl SlidingWindow {
    pub fn new(limit: u32, window: SignedDuration) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX).max(1),
            window,
            accepted: VecDeque::new(),
        }
    }

    /// Accepts a request at `now` (and records it), or refuses it with the
    /// time until a request would be accepted (always more than zero).
    pub fn admit(&mut self, now: Timestamp) -> Result<(), SignedDuration> {
        // Older than the window: out for good (time only moves forward for
        // the requests to come, or, on a clock set back, they are simply
        // not in the window either way).
        while let Some(&oldest) = self.accepted.front() {
            if after(oldest, self.window) <= now {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        // Requests recorded "after" now only exist if the clock went back;
        // they are not in (now - window, now].
        let in_window = self.accepted.partition_point(|&t| t <= now);
        if in_window < self.limit {
            self.accepted.insert(in_window, now);
            return Ok(());
        }
        // Accepted again once enough of the oldest have left the window:
        // the (in_window - limit + 1)-th oldest leaves at its time + window.
        let leaving = self.accepted[in_window - self.limit];
        let wait = after(leaving, self.window).duration_since(now);
        Err(wait.max(SignedDuration::from_micros(1)))
    }
}

fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).expect("valid")
    }

    fn ms(n: i64) -> SignedDuration {
        SignedDuration::from_millis(n)
    }

    #[test]
    fn the_fourth_in_a_second_waits_for_the_first_to_leave() {
        let mut w = SlidingWindow::new(3, SignedDuration::from_secs(1));
        assert_eq!(w.admit(at(0)), Ok(()));
        assert_eq!(w.admit(at(200)), Ok(()));
        assert_eq!(w.admit(at(400)), Ok(()));
        assert_eq!(w.admit(at(500)), Err(ms(500)));
        assert_eq!(w.admit(at(999)), Err(ms(1)));
        // The window is open on the left: at 1000 the request at 0 is out.
        assert_eq!(w.admit(at(1000)), Ok(()));
        assert_eq!(w.admit(at(1100)), Err(ms(100)));
        assert_eq!(w.admit(at(1200)), Ok(()));
    }

    #[test]
    fn refused_requests_do_not_count() {
        let mut w = SlidingWindow::new(1, SignedDuration::from_secs(1));
        assert_eq!(w.admit(at(0)), Ok(()));
        for t in (10..1000).step_by(10) {
            assert_eq!(w.admit(at(t)), Err(ms(1000 - t)));
        }
        assert_eq!(w.admit(at(1000)), Ok(()));
    }

    #[test]
    fn simultaneous_requests_fill_the_window_at_once() {
        let mut w = SlidingWindow::new(3, SignedDuration::from_secs(1));
        for _ in 0..3 {
            assert_eq!(w.admit(at(0)), Ok(()));
        }
        assert_eq!(w.admit(at(0)), Err(ms(1000)));
        for _ in 0..3 {
            assert_eq!(w.admit(at(1000)), Ok(()));
        }
        assert_eq!(w.admit(at(1999)), Err(ms(1)));
    }

    #[test]
    fn brute_force_agrees_over_random_arrivals() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for limit in 1..5u32 {
            let mut w = SlidingWindow::new(limit, ms(1000));
            let mut accepted: Vec<i64> = Vec::new();
            let mut t = 0;
            for _ in 0..2000 {
                t += rng.random_range(0..300);
                let in_window = accepted.iter().filter(|&&a| a > t - 1000).count();
                let got = w.admit(at(t));
                if in_window < limit as usize {
                    assert_eq!(got, Ok(()), "t={t}");
                    accepted.push(t);
                } else {
                    let wait = got.expect_err("refused").as_millis() as i64;
                    // Accepted exactly at t + wait, not a millisecond before.
                    let count = |u: i64| accepted.iter().filter(|&&a| a > u - 1000).count();
                    assert!(count(t + wait) < limit as usize, "t={t}");
                    assert!(count(t + wait - 1) >= limit as usize, "t={t}");
                }
            }
        }
    }

    #[test]
    fn a_clock_set_back_sees_no_future_requests() {
        let mut w = SlidingWindow::new(1, SignedDuration::from_secs(1));
        assert_eq!(w.admit(at(5000)), Ok(()));
        assert_eq!(w.admit(at(0)), Ok(()));
        assert_eq!(w.admit(at(10)), Err(ms(990)));
    }
}
