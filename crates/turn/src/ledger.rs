//! What every TURN thread shares: the relay port pool and the allocation quotas.
//!
//! Each thread owns its allocations, their relay sockets, permissions and channels; nothing
//! of the per-packet path is shared. Only the creation and the removal of an allocation go
//! through the [`Ledger`], under one short mutex: a port is taken from (or returned to) the
//! one pool, and the per-user and total counts move with it. So a user at its quota on one
//! thread is refused on every other, and no port is ever handed out twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::allocation::CreateError;
use edge_config::{PortPool, PortRange};

/// The relay port pool and the quotas, shared by the threads of one TURN service (cloning
/// shares). A server created alone ([`Server::new`](crate::Server::new)) has a ledger of
/// its own.
#[derive(Debug, Clone)]
pub struct Ledger {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    pool: PortPool,
    per_user: HashMap<String, u32>,
    live: u32,
    user_quota: u32,
    total_quota: u32,
}

impl Ledger {
    /// A ledger over the relay `ports` (shuffled with `seed`), allowing `user_quota`
    /// allocations per username and `total_quota` in all.
    pub fn new(ports: PortRange, seed: u64, user_quota: u32, total_quota: u32) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                pool: PortPool::new(ports, seed),
                per_user: HashMap::new(),
                live: 0,
                user_quota,
                total_quota,
            })),
        }
    }

    /// The ledger of a server's configuration.
    pub fn for_config(config: &crate::ServerConfig) -> Self {
        Self::new(
            config.port_range,
            config.rng_seed,
            config.user_quota,
            config.total_quota,
        )
    }

    /// Charges one allocation to `username` and takes a relay port for it (an even one when
    /// `even` is set). Refused with [`CreateError::Quota`] when the user or the service is at
    /// its quota, [`CreateError::Capacity`] when no port is free.
    pub(crate) fn admit(&self, username: &str, even: bool) -> Result<u16, CreateError> {
        let mut inner = self.lock();
        let used = inner.per_user.get(username).copied().unwrap_or(0);
        if used >= inner.user_quota || inner.live >= inner.total_quota {
            return Err(CreateError::Quota);
        }
        let port = inner.pool.take(even).ok_or(CreateError::Capacity)?;
        *inner.per_user.entry(username.to_owned()).or_insert(0) += 1;
        inner.live += 1;
        Ok(port)
    }

    /// Another port for an allocation [`Ledger::admit`] charged, whose port the system
    /// refused; the caller keeps the refused ports until the allocation is settled, so none
    /// is tried twice. `None` when no port is left.
    pub(crate) fn next_port(&self, even: bool) -> Option<u16> {
        self.lock().pool.take(even)
    }

    /// Returns ports the system refused to the pool (at the back of the queue).
    pub(crate) fn release_ports(&self, ports: &[u16]) {
        let mut inner = self.lock();
        for &port in ports {
            inner.pool.release(port);
        }
    }

    /// Returns the user's and the service's counts that [`Ledger::admit`] charged; the port
    /// goes back on its own ([`Ledger::release_ports`]) once its socket is closed.
    pub(crate) fn release_user(&self, username: &str) {
        let mut inner = self.lock();
        if let Some(n) = inner.per_user.get_mut(username) {
            *n -= 1;
            if *n == 0 {
                inner.per_user.remove(username);
            }
        }
        inner.live = inner.live.saturating_sub(1);
    }

    /// Free relay ports, over every thread.
    pub fn free_ports(&self) -> usize {
        self.lock().pool.free()
    }

    /// Live allocations, over every thread.
    pub fn live(&self) -> u32 {
        self.lock().live
    }

    /// The counts stay consistent whatever a panicking thread left behind: every update
    /// above is complete before it can panic, so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Returns everything `admit` charged, as an allocation's end does.
    fn release(ledger: &Ledger, username: &str, port: u16) {
        ledger.release_user(username);
        ledger.release_ports(&[port]);
    }

    #[test]
    fn quotas_hold_across_clones_and_ports_are_never_handed_out_twice() {
        let ledger = Ledger::new(PortRange::new(50000, 50099).unwrap(), 3, 2, 100);
        let other = ledger.clone();
        let a = ledger.admit("alice", false).unwrap();
        let b = other.admit("alice", false).unwrap();
        assert_ne!(a, b);
        // alice is at her quota of 2 on both handles.
        assert_eq!(ledger.admit("alice", false), Err(CreateError::Quota));
        assert_eq!(other.admit("alice", false), Err(CreateError::Quota));
        release(&other, "alice", a);
        assert!(ledger.admit("alice", false).is_ok());
        assert_eq!(ledger.live(), 2);
        assert_eq!(other.free_ports(), 98);
    }

    #[test]
    fn threads_share_one_pool() {
        let ledger = Ledger::new(PortRange::new(40000, 44999).unwrap(), 9, u32::MAX, u32::MAX);
        let taken: Vec<Vec<u16>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let ledger = ledger.clone();
                    s.spawn(move || {
                        let user = format!("user{t}");
                        (0..1250)
                            .map(|_| ledger.admit(&user, false).unwrap())
                            .collect::<Vec<u16>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<u16> = taken.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (40000..=44999).collect::<Vec<_>>(), "each port once");
        assert_eq!(ledger.free_ports(), 0);
        assert_eq!(ledger.admit("late", false), Err(CreateError::Capacity));
    }

    #[test]
    fn refused_ports_are_held_until_released() {
        let ledger = Ledger::new(PortRange::new(30000, 30003).unwrap(), 1, 10, 10);
        let first = ledger.admit("u", false).unwrap();
        let second = ledger.next_port(false).unwrap();
        assert_ne!(first, second);
        assert_eq!(ledger.free_ports(), 2);
        ledger.release_ports(&[first]);
        assert_eq!(ledger.free_ports(), 3);
        assert_eq!(ledger.live(), 1, "the allocation stays charged");
        release(&ledger, "u", second);
        assert_eq!((ledger.live(), ledger.free_ports()), (0, 4));
    }
}
