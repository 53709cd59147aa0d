//! The free ports of a [`PortRange`], handed out in a random order: the one port pool of
//! media-edge, behind the TURN relay range and the forwarder's public and enterprise ranges.

use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::PortRange;

/// The free ports of a range.
///
/// The ports are shuffled once (RFC 8656 §7.2 asks for unpredictable relay ports, and a
/// media port nobody can guess is harder to inject into), and a released port goes to the
/// back of the queue, so it is the last to be reused: datagrams still in flight toward an
/// ended session or allocation are unlikely to reach a new one.
///
/// The pool only books ports; the operating system stays the arbiter of which ports are
/// really free. An owner binds the port it took, and a port the system refuses (another
/// process holds it) is released again by that owner, once it has a port it could bind, so
/// it is not tried twice in one search. The pool is not shared by itself: each owner keeps
/// it under the lock that also guards whatever moves with a port (the TURN quotas, say).
#[derive(Debug)]
pub struct PortPool {
    range: PortRange,
    /// The free ports, the next to hand out at the front.
    queue: VecDeque<u16>,
    /// Whether each port of the range (by offset from its first) is in `queue`.
    free: Vec<bool>,
}

impl PortPool {
    /// Every port of `range` free, in an order drawn from `seed`.
    pub fn new(range: PortRange, seed: u64) -> Self {
        let mut ports: Vec<u16> = range.ports().collect();
        ports.shuffle(&mut SmallRng::seed_from_u64(seed));
        Self {
            range,
            queue: ports.into(),
            free: vec![true; range.len()],
        }
    }

    /// The range the pool hands out.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Takes a free port (an even one when `even` is set), or `None` when none is left.
    pub fn take(&mut self, even: bool) -> Option<u16> {
        let at = if even {
            self.queue.iter().position(|p| p % 2 == 0)?
        } else {
            0
        };
        let port = self.queue.remove(at)?;
        self.set_free(port, false);
        Some(port)
    }

    /// Takes an even port and the port after it (RTP and RTCP), or `None` when no such
    /// pair is free. The even port is returned.
    pub fn take_pair(&mut self) -> Option<u16> {
        let at = self.queue.iter().position(|&p| {
            p % 2 == 0
                && p.checked_add(1)
                    .is_some_and(|next| self.range.contains(next) && self.is_free(next))
        })?;
        let port = self.queue.remove(at)?;
        self.set_free(port, false);
        let next = port + 1;
        if let Some(at) = self.queue.iter().position(|&p| p == next) {
            self.queue.remove(at);
        }
        self.set_free(next, false);
        Some(port)
    }

    /// Returns a port taken with [`take`](Self::take) or [`take_pair`](Self::take_pair)
    /// (each port of a pair is returned on its own). A port outside the range, or one
    /// already free, is ignored.
    pub fn release(&mut self, port: u16) {
        if self.range.contains(port) && !self.is_free(port) {
            self.set_free(port, true);
            self.queue.push_back(port);
        }
    }

    /// How many ports are free.
    pub fn free(&self) -> usize {
        self.queue.len()
    }

    fn is_free(&self, port: u16) -> bool {
        self.free[usize::from(port - self.range.first())]
    }

    fn set_free(&mut self, port: u16, free: bool) {
        self.free[usize::from(port - self.range.first())] = free;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(first: u16, last: u16, seed: u64) -> PortPool {
        PortPool::new(PortRange::new(first, last).unwrap(), seed)
    }

    #[test]
    fn hands_out_every_port_once_then_none() {
        let mut pool = pool(50000, 50009, 7);
        let mut got: Vec<u16> = (0..10).map(|_| pool.take(false).unwrap()).collect();
        assert_eq!(pool.take(false), None);
        got.sort_unstable();
        assert_eq!(got, (50000..=50009).collect::<Vec<_>>());
        pool.release(50003);
        assert_eq!(pool.free(), 1);
        assert_eq!(pool.take(false), Some(50003));
    }

    #[test]
    fn the_order_is_shuffled_by_the_seed() {
        let order = |seed| {
            let mut p = pool(40000, 40999, seed);
            (0..1000)
                .map(|_| p.take(false).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(order(1), order(1));
        assert_ne!(order(1), order(2));
        assert_ne!(order(1), (40000..=40999).collect::<Vec<_>>());
    }

    #[test]
    fn even_port_and_reuse_last() {
        let mut pool = pool(40001, 40004, 1);
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

    #[test]
    fn pairs_are_even_and_next_and_never_overlap() {
        // 40001 cannot start a pair, 40006 has no next in the range.
        let mut pool = pool(40001, 40006, 3);
        let mut starts = vec![pool.take_pair().unwrap(), pool.take_pair().unwrap()];
        starts.sort_unstable();
        assert_eq!(starts, [40002, 40004]);
        assert_eq!(pool.take_pair(), None);
        assert_eq!(pool.free(), 2, "40001 and 40006 are left");
        // Half a pair is no pair.
        pool.release(40003);
        assert_eq!(pool.take_pair(), None);
        pool.release(40002);
        assert_eq!(pool.take_pair(), Some(40002));
        assert_eq!(pool.free(), 2);
    }

    #[test]
    fn releasing_a_port_twice_or_outside_the_range_changes_nothing() {
        let mut pool = pool(40000, 40003, 5);
        let p = pool.take(false).unwrap();
        pool.release(p);
        pool.release(p);
        pool.release(1);
        pool.release(40004);
        assert_eq!(pool.free(), 4);
        let mut all: Vec<u16> = std::iter::from_fn(|| pool.take(false)).collect();
        all.sort_unstable();
        assert_eq!(all, [40000, 40001, 40002, 40003]);
    }
}
