//! The per-allocation bandwidth cap: a token bucket over relayed payload bytes.

use std::time::Instant;

/// A bandwidth cap: a sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandwidthCap {
    /// Sustained rate in bytes per second (both directions of an allocation together).
    pub bytes_per_sec: u64,
    /// Bucket depth in bytes: how far a burst may run ahead of the rate.
    pub burst_bytes: u64,
}

/// A token bucket filled at `rate` bytes per second up to `burst` bytes.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    cap: BandwidthCap,
    tokens: u64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(cap: BandwidthCap, now: Instant) -> Self {
        Self {
            cap,
            tokens: cap.burst_bytes,
            last: now,
        }
    }

    /// Takes `bytes` tokens if there are enough; a packet that does not fit is dropped whole.
    pub(crate) fn take(&mut self, now: Instant, bytes: usize) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        let refill = elapsed.saturating_mul(u128::from(self.cap.bytes_per_sec)) / 1_000_000_000;
        if refill > 0 {
            let refill = u64::try_from(refill).unwrap_or(u64::MAX);
            self.tokens = self.tokens.saturating_add(refill).min(self.cap.burst_bytes);
            self.last = now;
        }
        let bytes = bytes as u64;
        if self.tokens >= bytes {
            self.tokens -= bytes;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let cap = BandwidthCap {
            bytes_per_sec: 1000,
            burst_bytes: 500,
        };
        let mut b = TokenBucket::new(cap, t0);
        assert!(b.take(t0, 300));
        assert!(b.take(t0, 200));
        assert!(!b.take(t0, 1));
        // 100 ms refills 100 bytes.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1, 100));
        assert!(!b.take(t1, 1));
        // Never more than the burst, however long the pause.
        let t2 = t1 + Duration::from_secs(3600);
        assert!(!b.take(t2, 501));
        assert!(b.take(t2, 500));
    }

    #[test]
    fn slow_trickle_accumulates() {
        let t0 = Instant::now();
        let cap = BandwidthCap {
            bytes_per_sec: 10,
            burst_bytes: 10,
        };
        let mut b = TokenBucket::new(cap, t0);
        assert!(b.take(t0, 10));
        // 50 ms at 10 B/s is half a byte: not yet a token, and the time is not lost.
        let t1 = t0 + Duration::from_millis(50);
        assert!(!b.take(t1, 1));
        assert!(b.take(t0 + Duration::from_millis(100), 1));
    }
}
