//! Admission of requests at the public ports: bans and per-source rate limits from
//! edge-guard (service `ice`), applied to the datagrams that start work, never to media.
//!
//! # What is a request
//! A STUN message (first byte 0..=3, RFC 7983: ICE connectivity checks) or a DTLS
//! ClientHello (a handshake record whose first message is a ClientHello). Before the session
//! sees one, the worker asks [`Admission::admit`]: a banned source is dropped before any
//! parsing or MESSAGE-INTEGRITY work, then a source over its rate is dropped. Both are
//! counted here, per relay. SRTP/SRTCP never reaches the guard: the media path stays free of
//! locks and allocations. Other DTLS records are accepted only from an address that passed
//! an ICE check, which the session enforces without the guard.
//!
//! # What is a failure, and UDP spoofing
//! Over UDP a source address proves nothing, and ICE-lite has no return-routability
//! exchange before the check is verified. So a check counts as an authentication failure
//! ([`Admission::failure`], reason `bad-integrity`) only when its USERNAME names the local
//! ufrag of the live session owning the port it arrived at and its MESSAGE-INTEGRITY does
//! not verify with that session's password. The ufrag is 48 random bits, sent only to the
//! browser (in the signalling, over HTTPS) and on the wire in the browser's own checks: a
//! spray of random usernames, from any forged source, never counts, and guessing a ufrag
//! takes 2^47 tries on average per session, far beyond the rate limit.
//!
//! What remains possible: an attacker who can see a session's checks (on the path between
//! the browser and the relay) learns the ufrag and can forge failing checks from a victim's
//! address, getting the victim banned, and with a guard shared with TURN and the API banned
//! there too, for `ban-duration`. Such an attacker can already drop or delay the browser's
//! traffic; the allow list (`guard.allow`) exempts addresses that must never be banned.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use edge_guard::{Guard, Service};
use edge_stun::Message;
use serde::Serialize;

/// DTLS record content type `handshake`.
const DTLS_HANDSHAKE: u8 = 22;
/// DTLS handshake message type `client_hello`.
const CLIENT_HELLO: u8 = 1;
/// Bytes of a DTLS record header; the handshake message type follows.
const DTLS_RECORD_HEADER: usize = 13;

/// The relay's admission counters, over all sessions and workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ForwardStats {
    /// Requests (STUN messages, DTLS ClientHellos) dropped because their source is banned.
    pub banned: u64,
    /// Requests dropped because their source exceeded the `ice` rate limit.
    pub rate_limited: u64,
    /// ICE checks naming a live session's ufrag whose MESSAGE-INTEGRITY was wrong (each
    /// recorded with the guard as a failure).
    pub ice_auth_failures: u64,
    /// Bans those failures started.
    pub bans_started: u64,
}

/// The workers' shared handle on the guard and the counters.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    guard: Guard,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    banned: AtomicU64,
    rate_limited: AtomicU64,
    ice_auth_failures: AtomicU64,
    bans_started: AtomicU64,
}

impl Admission {
    pub(crate) fn new(guard: Guard) -> Self {
        Admission {
            guard,
            counters: Arc::default(),
        }
    }

    /// The guard.
    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Whether a request from `source` may be processed: not banned, and within the `ice`
    /// rate. A refusal is counted.
    pub(crate) fn admit(&self, now: Instant, source: IpAddr) -> bool {
        let counter = if self.guard.is_banned(now, source) {
            &self.counters.banned
        } else if !self.guard.allow_request(now, source, Service::Ice) {
            &self.counters.rate_limited
        } else {
            return true;
        };
        counter.fetch_add(1, Relaxed);
        false
    }

    /// Records a failed check from `source`: the STUN request `datagram` named the
    /// session's ufrag with a wrong MESSAGE-INTEGRITY. Its USERNAME goes into the log line.
    pub(crate) fn failure(&self, now: Instant, source: IpAddr, datagram: &[u8]) {
        let msg = Message::parse(datagram).ok();
        let user = msg.as_ref().and_then(|m| m.username().ok().flatten());
        self.counters.ice_auth_failures.fetch_add(1, Relaxed);
        if self
            .guard
            .record_failure(now, source, Service::Ice, "bad-integrity", user)
            .is_some()
        {
            self.counters.bans_started.fetch_add(1, Relaxed);
        }
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> ForwardStats {
        let c = &self.counters;
        ForwardStats {
            banned: c.banned.load(Relaxed),
            rate_limited: c.rate_limited.load(Relaxed),
            ice_auth_failures: c.ice_auth_failures.load(Relaxed),
            bans_started: c.bans_started.load(Relaxed),
        }
    }
}

/// Whether a datagram from the browser side is a request (a STUN message or a DTLS
/// ClientHello) rather than media or the rest of a DTLS handshake.
pub(crate) fn is_request(datagram: &[u8]) -> bool {
    match datagram.first() {
        Some(0..=3) => true,
        Some(&DTLS_HANDSHAKE) => datagram.get(DTLS_RECORD_HEADER) == Some(&CLIENT_HELLO),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_guard::GuardConfig;
    use std::time::Duration;

    #[test]
    fn requests_are_stun_and_client_hellos_only() {
        assert!(is_request(&[0, 1, 0, 0]));
        assert!(is_request(&[3]));
        let mut hello = [0u8; 14];
        hello[0] = 22;
        hello[13] = 1;
        assert!(is_request(&hello));
        // A ServerHello, a truncated record, a ChangeCipherSpec, SRTP, empty input.
        hello[13] = 2;
        assert!(!is_request(&hello));
        assert!(!is_request(&hello[..13]));
        assert!(!is_request(&[20, 0, 0]));
        assert!(!is_request(&[0x80, 0x00, 0x01]));
        assert!(!is_request(&[]));
    }

    #[test]
    fn bans_and_rate_limits_are_counted_apart() {
        let mut config = GuardConfig::default();
        config.rate.ice.rate = 1.0;
        config.rate.ice.burst = 2;
        config.ban_duration = Duration::from_secs(1);
        let admission = Admission::new(Guard::new(config).unwrap());
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(admission.admit(now, a));
        assert!(admission.admit(now, a));
        assert!(!admission.admit(now, a));
        assert_eq!(admission.stats().rate_limited, 1);
        for _ in 0..3 {
            admission.failure(now, b, b"not even STUN");
        }
        assert!(!admission.admit(now, b));
        let s = admission.stats();
        assert_eq!((s.banned, s.ice_auth_failures, s.bans_started), (1, 3, 1));
        assert!(admission.admit(now + Duration::from_secs(2), b));
    }
}
