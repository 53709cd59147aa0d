//! What every TURN thread shares: the relay port pool and the allocation quotas.
//!
//! Each thread owns its allocations, their relay sockets, permissions and channels; nothing
//! of the per-packet path is shared. Only the creation and the removal of an allocation go
//! through the [`Ledger`], under one short mutex: a port is taken from (or returned to) the
//! one pool, and the per-user and total counts move with it. So a user at its quota on one
//! thread is refused on every other, and no port is ever handed out twice.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::allocation::CreateError;
use crate::ports::PortPool;

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
    pub fn new(ports: RangeInclusive<u16>, seed: u64, user_quota: u32, total_quota: u32) -> Self {
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
            config.port_range.clone(),
            config.rng_seed,
            config.user_quota,
            config.total_quota,
        )
    }

    /// Charges one allocation to `username` and takes a relay port for it: ports are taken
    /// from the pool until `open` succeeds (ports it refuses go back, at the end of the
    /// queue). Refused with [`CreateError::Quota`] when the user or the service is at its
    /// quota, [`CreateError::Capacity`] when no port could be opened.
    pub(crate) fn admit(
        &self,
        username: &str,
        even: bool,
        mut open: impl FnMut(u16) -> std::io::Result<()>,
    ) -> Result<u16, CreateError> {
        let mut inner = self.lock();
        let used = inner.per_user.get(username).copied().unwrap_or(0);
        if used >= inner.user_quota || inner.live >= inner.total_quota {
            return Err(CreateError::Quota);
        }
        let mut refused = Vec::new();
        let mut opened = None;
        while let Some(port) = inner.pool.take(even) {
            match open(port) {
                Ok(()) => {
                    opened = Some(port);
                    break;
                }
                Err(e) => {
                    tracing::debug!(port, error = %e, "relay port refused by the system");
                    refused.push(port);
                }
            }
        }
        for port in refused {
            inner.pool.release(port);
        }
        let port = opened.ok_or(CreateError::Capacity)?;
        *inner.per_user.entry(username.to_owned()).or_insert(0) += 1;
        inner.live += 1;
        Ok(port)
    }

    /// Returns what [`Ledger::admit`] charged: the port goes back to the pool (reused last)
    /// and the user's and the service's counts go down.
    pub(crate) fn release(&self, username: &str, port: u16) {
        let mut inner = self.lock();
        if let Some(n) = inner.per_user.get_mut(username) {
            *n -= 1;
            if *n == 0 {
                inner.per_user.remove(username);
            }
        }
        inner.live = inner.live.saturating_sub(1);
        inner.pool.release(port);
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

    #[test]
    fn quotas_hold_across_clones_and_ports_are_never_handed_out_twice() {
        let ledger = Ledger::new(50000..=50099, 3, 2, 100);
        let other = ledger.clone();
        let ok = |_| Ok(());
        let a = ledger.admit("alice", false, ok).unwrap();
        let b = other.admit("alice", false, ok).unwrap();
        assert_ne!(a, b);
        // alice is at her quota of 2 on both handles.
        assert_eq!(ledger.admit("alice", false, ok), Err(CreateError::Quota));
        assert_eq!(other.admit("alice", false, ok), Err(CreateError::Quota));
        other.release("alice", a);
        assert!(ledger.admit("alice", false, ok).is_ok());
        assert_eq!(ledger.live(), 2);
        assert_eq!(other.free_ports(), 98);
    }

    #[test]
    fn threads_share_one_pool() {
        let ledger = Ledger::new(40000..=44999, 9, u32::MAX, u32::MAX);
        let taken: Vec<Vec<u16>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let ledger = ledger.clone();
                    s.spawn(move || {
                        let user = format!("user{t}");
                        (0..1250)
                            .map(|_| ledger.admit(&user, false, |_| Ok(())).unwrap())
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
        assert_eq!(
            ledger.admit("late", false, |_| Ok(())),
            Err(CreateError::Capacity)
        );
    }

    #[test]
    fn ports_the_system_refuses_go_back() {
        let ledger = Ledger::new(30000..=30003, 1, 10, 10);
        let got = ledger
            .admit("u", false, |p| {
                if p % 2 == 0 {
                    Err(std::io::Error::other("busy"))
                } else {
                    Ok(())
                }
            })
            .unwrap();
        assert_eq!(got % 2, 1);
        assert_eq!(ledger.free_ports(), 3);
    }
}
