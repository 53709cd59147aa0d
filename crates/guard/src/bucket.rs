//! The token bucket of every rate limit in media-edge: the guard's per-source request limits
//! (one token per request) and edge-turn's per-allocation bandwidth cap (one token per
//! relayed byte).
//!
//! A bucket is kept as one instant, the generic cell rate algorithm (GCRA): the bucket is
//! full again at `full_at`; taking `n` tokens pushes that `n` refill intervals later, and
//! is refused (taking nothing) when it would put `full_at` more than the bucket's depth
//! (`burst` intervals) ahead of now. No counter drifts and no fraction of a token is lost,
//! however often or rarely the bucket is used. The bucket reads no clock: every call takes
//! `now`, so tests run on a virtual clock.

use std::time::{Duration, Instant};

use edge_config::MAX_DURATION;

/// How a [`TokenBucket`] refills: `per_second` tokens a second, `burst` tokens at most.
/// Shared by every bucket of one limit; cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refill {
    /// Nanoseconds one token takes to come back.
    nanos_per_token: f64,
    /// Time an empty bucket takes to fill, at most [`MAX_DURATION`].
    depth: Duration,
}

impl Refill {
    /// The slowest rate any limit may have, per second: one token in [`MAX_DURATION`].
    pub const MIN_PER_SECOND: f64 = 1.0 / MAX_DURATION.as_secs() as f64;

    /// `per_second` tokens a second up to `burst` tokens. Values out of bounds are brought
    /// to the nearest bound, so `now + depth` can never overflow: the rate to at least
    /// [`Refill::MIN_PER_SECOND`] (a NaN rate to that), the burst to at least one token,
    /// the depth to at most [`MAX_DURATION`]. Configurations check their own keys against
    /// [`Refill::check`] first, so a running limit is the one configured.
    pub fn new(per_second: f64, burst: u64) -> Self {
        let per_second = if per_second.is_nan() {
            Self::MIN_PER_SECOND
        } else {
            per_second.max(Self::MIN_PER_SECOND)
        };
        let nanos_per_token = 1e9 / per_second;
        let depth = nanos(burst.max(1) as f64 * nanos_per_token).min(MAX_DURATION);
        Self {
            nanos_per_token,
            depth,
        }
    }

    /// Whether [`Refill::new`] keeps `per_second` and `burst` as given.
    ///
    /// # Errors
    /// What it would change, for the caller to name its key with.
    pub fn check(per_second: f64, burst: u64) -> Result<(), RefillError> {
        if !(per_second.is_finite() && per_second >= Self::MIN_PER_SECOND) {
            return Err(RefillError::Rate);
        }
        if burst == 0 {
            return Err(RefillError::Burst);
        }
        if burst as f64 / per_second > MAX_DURATION.as_secs_f64() {
            return Err(RefillError::Depth);
        }
        Ok(())
    }

    /// The time one token takes to come back.
    pub fn interval(&self) -> Duration {
        self.cost(1)
    }

    /// The time an empty bucket takes to fill.
    pub fn depth(&self) -> Duration {
        self.depth
    }

    /// The refill time of `tokens` tokens (saturating far beyond any depth).
    fn cost(&self, tokens: u64) -> Duration {
        nanos(tokens as f64 * self.nanos_per_token)
    }
}

/// A duration of `n` nanoseconds, fractions cut; saturating at `u64::MAX` (the `as` cast
/// saturates, and maps NaN to 0).
fn nanos(n: f64) -> Duration {
    Duration::from_nanos(n as u64)
}

/// Why [`Refill::check`] refused a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefillError {
    /// The rate is not finite or below [`Refill::MIN_PER_SECOND`].
    #[error(
        "the rate is not a number of tokens per second of at least {}",
        Refill::MIN_PER_SECOND
    )]
    Rate,
    /// A burst of 0 refuses everything.
    #[error("a burst of 0 refuses everything")]
    Burst,
    /// An empty bucket would take longer than [`MAX_DURATION`] to fill.
    #[error("an empty bucket would take longer than {} s to fill", MAX_DURATION.as_secs())]
    Depth,
}

/// One bucket: the instant it is full again. 16 bytes; its [`Refill`] is kept by the owner
/// of the limit, once for all its buckets.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    full_at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(now: Instant) -> Self {
        Self { full_at: now }
    }

    /// Takes `tokens` tokens if the bucket holds them, otherwise takes nothing (a packet
    /// that does not fit is dropped whole). More tokens than the burst never fit.
    pub fn take(&mut self, now: Instant, tokens: u64, refill: &Refill) -> bool {
        let cost = refill.cost(tokens);
        if cost > refill.depth {
            return false;
        }
        // full_at <= now + depth (each take keeps it so), cost <= depth <= MAX_DURATION:
        // far inside Instant's range.
        let next = self.full_at.max(now) + cost;
        if next.saturating_duration_since(now) > refill.depth {
            return false;
        }
        self.full_at = next;
        true
    }

    /// When the bucket is full again: from then on it decides nothing a fresh one would not.
    pub fn full_at(&self) -> Instant {
        self.full_at
    }
}

impl crate::table::Expiring for TokenBucket {
    /// A full bucket decides nothing a fresh one would not.
    fn expiry(&self) -> Instant {
        self.full_at
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The virtual clock's origin: any instant will do, nothing here reads the clock again.
    fn t0() -> Instant {
        Instant::now()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn burst_then_refill_at_rate() {
        let t0 = t0();
        let refill = Refill::new(10.0, 5); // 10 per second, burst 5
        assert_eq!((refill.interval(), refill.depth()), (ms(100), ms(500)));
        let mut b = TokenBucket::full(t0);
        assert!((0..5).all(|_| b.take(t0, 1, &refill)));
        assert!(!b.take(t0, 1, &refill));
        // 99 ms: still empty; 100 ms: exactly one token back.
        assert!(!b.take(t0 + ms(99), 1, &refill));
        let t1 = t0 + ms(100);
        assert!(b.take(t1, 1, &refill));
        assert!(!b.take(t1, 1, &refill));
        // A long idle time refills to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        assert!((0..5).all(|_| b.take(t2, 1, &refill)));
        assert!(!b.take(t2, 1, &refill));
        assert_eq!(b.full_at(), t2 + refill.depth());
    }

    #[test]
    fn sustained_rate_is_exact() {
        let t0 = t0();
        let refill = Refill::new(50.0, 10); // one token per 20 ms
        let mut b = TokenBucket::full(t0);
        // One attempt per millisecond for 10 s: burst + rate x time pass.
        let passed = (0..10_000u64)
            .filter(|n| b.take(t0 + ms(*n), 1, &refill))
            .count();
        assert_eq!(passed, 10 + 10_000 / 20 - 1);
    }

    /// Bytes as tokens (the bandwidth cap): several at once, a packet that does not fit
    /// taking nothing.
    #[test]
    fn bytes_burst_then_rate() {
        let t0 = t0();
        let refill = Refill::new(1000.0, 500);
        let mut b = TokenBucket::full(t0);
        assert!(b.take(t0, 300, &refill));
        assert!(b.take(t0, 200, &refill));
        assert!(!b.take(t0, 1, &refill));
        // 100 ms refills 100 bytes.
        let t1 = t0 + ms(100);
        assert!(b.take(t1, 100, &refill));
        assert!(!b.take(t1, 1, &refill));
        // Never more than the burst, however long the pause.
        let t2 = t1 + Duration::from_secs(3600);
        assert!(!b.take(t2, 501, &refill));
        assert!(b.take(t2, 500, &refill));
    }

    #[test]
    fn slow_trickle_accumulates() {
        let t0 = t0();
        let refill = Refill::new(10.0, 10);
        let mut b = TokenBucket::full(t0);
        assert!(b.take(t0, 10, &refill));
        // 50 ms at 10 B/s is half a byte: not yet a token, and the time is not lost.
        assert!(!b.take(t0 + ms(50), 1, &refill));
        assert!(b.take(t0 + ms(100), 1, &refill));
    }

    /// A rate far above one token per nanosecond (a multi-gigabit cap) still counts
    /// fractions: 10 GB/s for a tenth of a second passes a gigabyte plus the burst, no more.
    #[test]
    fn fast_rates_keep_fractions_of_a_nanosecond_per_token() {
        let t0 = t0();
        let refill = Refill::new(1e10, 15_000);
        let mut b = TokenBucket::full(t0);
        let mut passed = 0u64;
        // 1000-byte packets offered every 50 ns for 0.1 s: twice the rate.
        for n in 0..2_000_000u64 {
            if b.take(t0 + Duration::from_nanos(n * 50), 1000, &refill) {
                passed += 1000;
            }
        }
        let expected = 1_000_000_000u64 + 15_000;
        assert!(
            passed.abs_diff(expected) <= expected / 10_000,
            "{passed} bytes passed, expected about {expected}"
        );
    }

    #[test]
    fn limits_out_of_bounds_are_refused_by_check_and_bounded_by_new() {
        assert_eq!(Refill::check(50.0, 200), Ok(()));
        assert_eq!(Refill::check(0.0, 1), Err(RefillError::Rate));
        assert_eq!(Refill::check(-1.0, 1), Err(RefillError::Rate));
        assert_eq!(Refill::check(f64::NAN, 1), Err(RefillError::Rate));
        assert_eq!(Refill::check(f64::INFINITY, 1), Err(RefillError::Rate));
        assert_eq!(Refill::check(1.0, 0), Err(RefillError::Burst));
        assert_eq!(Refill::check(1.0, u64::MAX), Err(RefillError::Depth));
        let longest = MAX_DURATION.as_secs();
        assert_eq!(Refill::check(1.0, longest), Ok(()), "fills in MAX_DURATION");
        assert_eq!(Refill::check(1.0, longest + 1), Err(RefillError::Depth));
        // Whatever `new` is given, a bucket's instants stay within MAX_DURATION of now.
        let t0 = t0();
        for (rate, burst) in [
            (0.0, 0),
            (f64::NAN, 1),
            (-5.0, 7),
            (1.0, u64::MAX),
            (f64::INFINITY, u64::MAX),
        ] {
            let refill = Refill::new(rate, burst);
            assert!(refill.depth() <= MAX_DURATION, "{rate} {burst}");
            let mut b = TokenBucket::full(t0);
            for _ in 0..3 {
                b.take(t0, u64::MAX, &refill);
                b.take(t0, 1, &refill);
            }
            assert!(b.full_at() <= t0 + MAX_DURATION, "{rate} {burst}");
        }
    }
}
