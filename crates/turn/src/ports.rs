//! The relay port pool: the configured range, handed out in a random order.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Free relay ports. Ports are shuffled once (RFC 8656 §7.2 asks for unpredictable relay
/// ports) and a released port goes to the back of the queue, so it is reused last and late
/// peer datagrams for a closed allocation are unlikely to reach a new one.
#[derive(Debug)]
pub(crate) struct PortPool {
    free: VecDeque<u16>,
    range: RangeInclusive<u16>,
}

impl PortPool {
    pub(crate) fn new(range: RangeInclusive<u16>, seed: u64) -> Self {
        let mut ports: Vec<u16> = range.clone().collect();
        ports.shuffle(&mut SmallRng::seed_from_u64(seed));
        Self {
            free: ports.into(),
            range,
        }
    }

    /// Takes a free port (an even one when `even` is set), or `None` when none is left.
    pub(crate) fn take(&mut self, even: bool) -> Option<u16> {
        let at = if even {
            self.free.iter().position(|p| p % 2 == 0)?
        } else if self.free.is_empty() {
            return None;
        } else {
            0
        };
        self.free.remove(at)
    }

    /// Returns a port taken with [`PortPool::take`].
    pub(crate) fn release(&mut self, port: u16) {
        debug_assert!(self.range.contains(&port) && !self.free.contains(&port));
        self.free.push_back(port);
    }

    /// How many ports are free.
    pub(crate) fn free(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn hands_out_every_port_once_then_none() {
        let mut pool = PortPool::new(50000..=50009, 7);
        let mut got: Vec<u16> = (0..10).map(|_| pool.take(false).unwrap()).collect();
        assert_eq!(pool.take(false), None);
        got.sort_unstable();
        assert_eq!(got, (50000..=50009).collect::<Vec<_>>());
        pool.release(50003);
        assert_eq!(pool.free(), 1);
        assert_eq!(pool.take(false), Some(50003));
    }

    #[test]
    fn even_port_and_reuse_last() {
        let mut pool = PortPool::new(40001..=40004, 1);
        let p = pool.take(true).unwrap();
        assert_eq!(p % 2, 0);
        let q = pool.take(true).unwrap();
        assert_eq!(q % 2, 0);
        assert_eq!(pool.take(true), None);
        assert_eq!(pool.free(), 2);
        let first = pool.take(false).unwrap();
        pool.release(first);
        assert_ne!(pool.take(false), Some(first));
    }
}
