//! A token bucket per (service, source), kept as one instant (the generic cell rate
//! algorithm, GCRA): the bucket is full again at `full_at`; each request pushes it one refill
//! interval later, and a request is refused when that would put it more than the bucket's
//! depth (`burst` intervals) ahead of now.

use std::time::{Duration, Instant};

use crate::table::Expiring;

/// One bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    full_at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(now: Instant) -> Self {
        Self { full_at: now }
    }

    /// Takes a token if one is left; `interval` is one token's refill time, `depth` the
    /// bucket's (`burst` intervals).
    pub(crate) fn take(&mut self, now: Instant, interval: Duration, depth: Duration) -> bool {
        let next = self.full_at.max(now) + interval;
        if next.saturating_duration_since(now) > depth {
            return false;
        }
        self.full_at = next;
        true
    }
}

impl Expiring for Bucket {
    /// A full bucket decides nothing a fresh one would not.
    fn expiry(&self) -> Instant {
        self.full_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_at_rate() {
        let t0 = Instant::now();
        let interval = Duration::from_millis(100); // 10 per second
        let depth = interval * 5; // burst 5
        let mut b = Bucket::full(t0);
        assert!((0..5).all(|_| b.take(t0, interval, depth)));
        assert!(!b.take(t0, interval, depth));
        // 99 ms: still empty; 100 ms: exactly one token back.
        assert!(!b.take(t0 + Duration::from_millis(99), interval, depth));
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1, interval, depth));
        assert!(!b.take(t1, interval, depth));
        // A long idle time refills to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        assert!((0..5).all(|_| b.take(t2, interval, depth)));
        assert!(!b.take(t2, interval, depth));
        assert_eq!(b.expiry(), t2 + depth);
    }

    #[test]
    fn sustained_rate_is_exact() {
        let t0 = Instant::now();
        let interval = Duration::from_millis(20); // 50 per second
        let depth = interval * 10;
        let mut b = Bucket::full(t0);
        // One attempt per millisecond for 10 s: burst + rate x time pass.
        let passed = (0..10_000u64)
            .filter(|ms| b.take(t0 + Duration::from_millis(*ms), interval, depth))
            .count();
        assert_eq!(passed, 10 + 10_000 / 20 - 1);
    }
}
