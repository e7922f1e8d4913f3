//! What the kernel's scale and speed tests share.

use std::time::{Duration, Instant};

/// splitmix64: a tiny deterministic generator, so a test needs no seed
/// plumbing and fails the same way every time.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` at least 1).
    pub fn below(&mut self, n: i64) -> i64 {
        (self.next() % n.max(1) as u64) as i64
    }
}

/// The median of `runs` timings of `f`, after a warm-up run, and the last
/// result.
pub fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = f();
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            last = std::hint::black_box(f());
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    (times[times.len() / 2], last)
}
