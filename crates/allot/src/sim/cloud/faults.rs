//! Seeded fault draws. Every request that passes the rate limit draws the
//! same three numbers (fail, delay, lost answer) whatever the rates and
//! whatever it turns out to be, so the fate of the n-th accepted request
//! depends only on the seed and n: a failing run is replayed exactly by
//! sending the same calls with the same `--seed`.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::config::Faults;

/// What happens to one accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    /// Answer 500 and do nothing.
    pub fail: bool,
    /// Hold the answer this long (the effect is already done).
    pub delay: Option<Duration>,
    /// For a start() that creates a VM: hold the answer this long and then
    /// answer 504 instead of the id.
    pub lose_answer: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Dice {
    rng: StdRng,
}

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn roll(&mut self, faults: &Faults) -> Fate {
        let fail: f64 = self.rng.random();
        let delay: f64 = self.rng.random();
        let lose: f64 = self.rng.random();
        // random() is in [0, 1): a rate of 0 never hits, 1 always does.
        Fate {
            fail: fail < faults.fail_rate,
            delay: (delay < faults.delay_rate).then_some(faults.delay),
            lose_answer: (lose < faults.start_timeout_rate).then_some(faults.timeout_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(fail: f64, delay: f64, lose: f64) -> Faults {
        Faults {
            fail_rate: fail,
            delay_rate: delay,
            start_timeout_rate: lose,
            ..Faults::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_fates() {
        let f = faults(0.3, 0.3, 0.3);
        let a: Vec<Fate> = {
            let mut d = Dice::new(42);
            (0..200).map(|_| d.roll(&f)).collect()
        };
        let b: Vec<Fate> = {
            let mut d = Dice::new(42);
            (0..200).map(|_| d.roll(&f)).collect()
        };
        let c: Vec<Fate> = {
            let mut d = Dice::new(43);
            (0..200).map(|_| d.roll(&f)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rates_zero_and_one_are_never_and_always() {
        let mut d = Dice::new(1);
        for _ in 0..1000 {
            let fate = d.roll(&faults(0.0, 0.0, 0.0));
            assert_eq!(
                fate,
                Fate {
                    fail: false,
                    delay: None,
                    lose_answer: None
                }
            );
            let fate = d.roll(&faults(1.0, 1.0, 1.0));
            assert!(fate.fail);
            assert_eq!(fate.delay, Some(Faults::default().delay));
            assert_eq!(fate.lose_answer, Some(Faults::default().timeout_after));
        }
    }

    #[test]
    fn a_rate_is_the_fraction_hit() {
        let mut d = Dice::new(7);
        let f = faults(0.1, 0.5, 0.9);
        let fates: Vec<Fate> = (0..10_000).map(|_| d.roll(&f)).collect();
        let share = |hit: fn(&Fate) -> bool| fates.iter().filter(|x| hit(x)).count();
        assert!((800..1200).contains(&share(|x| x.fail)));
        assert!((4700..5300).contains(&share(|x| x.delay.is_some())));
        assert!((8700..9300).contains(&share(|x| x.lose_answer.is_some())));
    }

    #[test]
    fn one_rate_does_not_shift_the_others() {
        // Same seed, only the fail rate differs: the delays hit the same
        // requests.
        let mut a = Dice::new(9);
        let mut b = Dice::new(9);
        for _ in 0..500 {
            let x = a.roll(&faults(0.0, 0.4, 0.0));
            let y = b.roll(&faults(0.7, 0.4, 0.0));
            assert_eq!(x.delay, y.delay);
        }
    }
}
