//! What the API refused and why: counters served by `GET /v1/stats`, and the rate-limited
//! log line of each refusal.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The counters, since start.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    refused_unlisted: AtomicU64,
    refused_over_limit: AtomicU64,
    refused_over_total: AtomicU64,
    refused_banned: AtomicU64,
    tls_failed: AtomicU64,
    banned_requests: AtomicU64,
    rate_limited: AtomicU64,
    refused_origin: AtomicU64,
    auth_failures: AtomicU64,
    log: LogLimit,
}

/// One thing counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A connection admitted at accept.
    Accepted,
    /// A connection closed at accept: `api.clients` does not list its source.
    RefusedUnlisted,
    /// A connection closed at accept: its client entry (or, without `api.clients`, its
    /// source) holds `max-connections-per-client`.
    RefusedOverLimit,
    /// A connection closed at accept: all sources together hold `max-connections`.
    RefusedOverTotal,
    /// A connection closed at accept: its source is banned.
    RefusedBanned,
    /// A connection whose TLS handshake failed or timed out.
    TlsFailed,
    /// A request refused (403) on an open connection: its source is banned.
    BannedRequest,
    /// A request refused (429): its source is over the rate limit.
    RateLimited,
    /// A request refused (403): its `Origin` is not whitelisted.
    RefusedOrigin,
    /// A request with a bad bearer token (a failure recorded in the guard).
    AuthFailure,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Accepted => "accepted",
            Event::RefusedUnlisted => "refused: not in api.clients",
            Event::RefusedOverLimit => "refused: api.max-connections-per-client reached",
            Event::RefusedOverTotal => "refused: api.max-connections reached",
            Event::RefusedBanned => "refused: banned source",
            Event::TlsFailed => "TLS handshake failed",
            Event::BannedRequest => "request refused: banned source",
            Event::RateLimited => "request refused: over the rate limit",
            Event::RefusedOrigin => "request refused: origin not in api.cors.domain-whitelist",
            Event::AuthFailure => "request refused: bad bearer token",
        }
    }
}

/// The counters as `GET /v1/stats` serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Snapshot {
    /// Connections open now.
    pub open: usize,
    pub accepted: u64,
    pub refused_unlisted: u64,
    pub refused_over_limit: u64,
    pub refused_over_total: u64,
    pub refused_banned: u64,
    pub tls_failed: u64,
    pub banned_requests: u64,
    pub rate_limited: u64,
    pub refused_origin: u64,
    pub auth_failures: u64,
    /// Bans in force now (every service's: the guard may be shared).
    pub bans: usize,
}

impl Counters {
    /// Counts `event`. Refusals are logged at INFO, at most [`LogLimit::PER_SECOND`] lines a
    /// second (the next line after a quiet spell says how many were left out). Failures are
    /// not: the guard logs each in its `auth-failure` line.
    pub(crate) fn count(&self, now: Instant, event: Event, what: impl fmt::Display) {
        self.counter(event).fetch_add(1, Ordering::Relaxed);
        if matches!(event, Event::Accepted | Event::AuthFailure) {
            return;
        }
        if let Some(suppressed) = self.log.admit(now) {
            if suppressed > 0 {
                tracing::info!(
                    "control API: {what}: {} ({suppressed} refusal lines left out before this)",
                    event.as_str()
                );
            } else {
                tracing::info!("control API: {what}: {}", event.as_str());
            }
        }
    }

    fn counter(&self, event: Event) -> &AtomicU64 {
        match event {
            Event::Accepted => &self.accepted,
            Event::RefusedUnlisted => &self.refused_unlisted,
            Event::RefusedOverLimit => &self.refused_over_limit,
            Event::RefusedOverTotal => &self.refused_over_total,
            Event::RefusedBanned => &self.refused_banned,
            Event::TlsFailed => &self.tls_failed,
            Event::BannedRequest => &self.banned_requests,
            Event::RateLimited => &self.rate_limited,
            Event::RefusedOrigin => &self.refused_origin,
            Event::AuthFailure => &self.auth_failures,
        }
    }

    /// The counters now, with the open connections and bans the caller knows.
    pub(crate) fn snapshot(&self, open: usize, bans: usize) -> Snapshot {
        let get = |e| self.counter(e).load(Ordering::Relaxed);
        Snapshot {
            open,
            accepted: get(Event::Accepted),
            refused_unlisted: get(Event::RefusedUnlisted),
            refused_over_limit: get(Event::RefusedOverLimit),
            refused_over_total: get(Event::RefusedOverTotal),
            refused_banned: get(Event::RefusedBanned),
            tls_failed: get(Event::TlsFailed),
            banned_requests: get(Event::BannedRequest),
            rate_limited: get(Event::RateLimited),
            refused_origin: get(Event::RefusedOrigin),
            auth_failures: get(Event::AuthFailure),
            bans,
        }
    }
}

/// At most [`LogLimit::PER_SECOND`] lines in each one-second window; counts the rest.
#[derive(Debug, Default)]
struct LogLimit {
    /// The window's start, lines logged in it, lines left out since the last logged one.
    state: Mutex<Option<(Instant, u32, u64)>>,
}

impl LogLimit {
    const PER_SECOND: u32 = 10;

    /// `Some(left out so far)` when a line may be logged now, `None` when it is to be left
    /// out.
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (start, logged, suppressed) = state.get_or_insert((now, 0, 0));
        if now.saturating_duration_since(*start) >= Duration::from_secs(1) {
            *start = now;
            *logged = 0;
        }
        if *logged >= Self::PER_SECOND {
            *suppressed += 1;
            return None;
        }
        *logged += 1;
        Some(std::mem::take(suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_is_limited_per_second_and_counting_is_not() {
        let counters = Counters::default();
        let t0 = Instant::now();
        let admitted = (0..1000)
            .filter(|_| counters.log.admit(t0).is_some())
            .count();
        assert_eq!(admitted, LogLimit::PER_SECOND as usize);
        assert_eq!(
            counters.log.admit(t0 + Duration::from_secs(1)),
            Some(1000 - u64::from(LogLimit::PER_SECOND))
        );
        assert_eq!(counters.log.admit(t0 + Duration::from_secs(1)), Some(0));
        for _ in 0..50 {
            counters.count(t0, Event::RefusedUnlisted, "192.0.2.1:4000");
        }
        counters.count(t0, Event::Accepted, "192.0.2.1:4001");
        let s = counters.snapshot(3, 1);
        assert_eq!(
            (s.refused_unlisted, s.accepted, s.open, s.bans),
            (50, 1, 3, 1)
        );
    }
}
