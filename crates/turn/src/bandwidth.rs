//! The per-allocation bandwidth cap: edge-guard's token bucket (media-edge's one token
//! bucket, see [`edge_guard::TokenBucket`]) over relayed payload bytes, one byte a token.

use std::time::Instant;

use edge_guard::Refill;

/// A bandwidth cap: a sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandwidthCap {
    /// Sustained rate in bytes per second (both directions of an allocation together).
    pub bytes_per_sec: u64,
    /// Bucket depth in bytes: how far a burst may run ahead of the rate.
    pub burst_bytes: u64,
}

impl BandwidthCap {
    /// How the cap's bucket refills ([`ServerConfig::validate`](crate::ServerConfig::validate)
    /// checks it keeps the configured values).
    pub(crate) fn refill(&self) -> Refill {
        Refill::new(self.bytes_per_sec as f64, self.burst_bytes)
    }
}

/// One allocation's bucket with the cap's refill.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    bucket: edge_guard::TokenBucket,
    refill: Refill,
}

impl TokenBucket {
    /// A full bucket for `cap`.
    pub(crate) fn new(cap: BandwidthCap, now: Instant) -> Self {
        Self {
            bucket: edge_guard::TokenBucket::full(now),
            refill: cap.refill(),
        }
    }

    /// Takes `bytes` tokens if there are enough; a packet that does not fit is dropped whole.
    pub(crate) fn take(&mut self, now: Instant, bytes: usize) -> bool {
        self.bucket.take(now, bytes as u64, &self.refill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The cap's bytes per second and burst reach the shared bucket (whose own tests cover
    /// the algorithm on a virtual clock).
    #[test]
    fn the_cap_counts_bytes() {
        let t0 = Instant::now();
        let cap = BandwidthCap {
            bytes_per_sec: 1000,
            burst_bytes: 500,
        };
        let mut b = TokenBucket::new(cap, t0);
        assert!(b.take(t0, 500));
        assert!(!b.take(t0, 1));
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1, 100));
        assert!(!b.take(t1, 1));
    }
}
