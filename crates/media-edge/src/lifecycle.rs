//! The process's lifecycle as the admin listener (`/healthz`, `/readyz`) and the signal
//! handlers (SIGTERM drain) share it: two flags, written by the control plane, read by
//! probes. Nothing on the data path touches them.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether every listener is bound, and whether the process is draining.
#[derive(Debug, Default)]
pub struct Lifecycle {
    bound: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    /// Records that every configured listener (TURN, forwarder, API, admin) is bound.
    pub fn mark_bound(&self) {
        self.bound.store(true, Ordering::Release);
    }

    /// Starts the drain; returns `true` the first time only (a second SIGTERM stops at once).
    pub fn start_draining(&self) -> bool {
        !self.draining.swap(true, Ordering::AcqRel)
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Ready for new work: every listener bound and not draining (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.bound.load(Ordering::Acquire) && !self.is_draining()
    }
}
