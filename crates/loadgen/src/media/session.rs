//! The set-up of one browser-like session, sans-IO: ICE checks until the other side
//! answers the nominating one, then a DTLS handshake in the client role (the answer's
//! `a=setup:passive`) or the server role (`active`), then SRTP contexts from the exported
//! keys. Inputs: datagrams from the session's remote address and the time; outputs:
//! datagrams to send to it, the next deadline, and finally the contexts.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_dtls::{Fingerprint, Handshake, Role};
use edge_srtp::{Config, Inbound, MasterKey, Outbound, Profile};
use edge_stun::{classify, PacketKind};

use super::ice::{Check, Checker};
use crate::Error;

/// Interval between ICE checks until one succeeds (RFC 8445's Ta is 50 ms; one pair).
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// Checks sent before giving up.
const CHECK_TRIES: u32 = 50;

/// Where a session's set-up is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Checking connectivity.
    Ice,
    /// Handshaking.
    Dtls,
    /// Keys installed: media can flow.
    Ready,
    /// Gave up (see [`MediaSetup::take_error`]).
    Failed,
}

/// SRTP contexts for both directions.
pub struct SrtpPair {
    /// Protects what we send.
    pub outbound: Outbound,
    /// Unprotects what we receive.
    pub inbound: Inbound,
}

impl std::fmt::Debug for SrtpPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpPair")
            .field("profile", &self.outbound.profile())
            .finish_non_exhaustive()
    }
}

impl SrtpPair {
    /// Contexts from two master keys (ours for sending, theirs for receiving).
    pub fn new(local: &MasterKey, remote: &MasterKey, peer: SocketAddr) -> Result<SrtpPair, Error> {
        let srtp = |source| Error::Srtp { peer, source };
        let config = Config::default();
        Ok(SrtpPair {
            outbound: Outbound::new(local, &config).map_err(srtp)?,
            inbound: Inbound::new(remote, &config).map_err(srtp)?,
        })
    }
}

/// One session's ICE + DTLS set-up.
pub struct MediaSetup {
    remote: SocketAddr,
    checker: Checker,
    phase: Phase,
    next_check: Instant,
    checks: u32,
    role: Role,
    fingerprints: Vec<Fingerprint>,
    dtls: Option<Handshake>,
    srtp: Option<SrtpPair>,
    out: VecDeque<Vec<u8>>,
    scratch: Vec<u8>,
    error: Option<Error>,
}

impl std::fmt::Debug for MediaSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSetup")
            .field("remote", &self.remote)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl MediaSetup {
    /// A set-up toward `remote`, checking with `checker`, then handshaking as the answer's
    /// `setup` value says, accepting the certificates of `fingerprints`.
    pub fn new(
        remote: SocketAddr,
        checker: Checker,
        remote_setup: &str,
        fingerprints: &[String],
        now: Instant,
    ) -> Result<MediaSetup, Error> {
        let dtls = |source| Error::Dtls {
            peer: remote,
            source,
        };
        // Our role is the opposite of the answer's.
        let role = Role::answering(remote_setup).map_err(dtls)?;
        let fingerprints = fingerprints
            .iter()
            .map(|f| f.parse::<Fingerprint>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(dtls)?;
        Ok(MediaSetup {
            remote,
            checker,
            phase: Phase::Ice,
            next_check: now,
            checks: 0,
            role,
            fingerprints,
            dtls: None,
            srtp: None,
            out: VecDeque::new(),
            scratch: Vec::with_capacity(2_048),
            error: None,
        })
    }

    /// Where the set-up is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The other side's media address.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Why it failed, once.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// The SRTP contexts and the checker (for consent), once [`Phase::Ready`].
    pub fn into_parts(self) -> (Option<SrtpPair>, Checker) {
        (self.srtp, self.checker)
    }

    /// Handles a datagram from the remote address.
    pub fn handle_input(&mut self, now: Instant, datagram: &[u8], config: &edge_dtls::Config) {
        let Some(&first) = datagram.first() else {
            return;
        };
        match classify(first) {
            PacketKind::Stun => {
                let mut answer = [0u8; 512];
                match self.checker.handle(datagram, self.remote, &mut answer) {
                    Check::Succeeded if self.phase == Phase::Ice => self.start_dtls(now, config),
                    Check::Answered(len) => self.out.push_back(answer[..len].to_vec()),
                    _ => {}
                }
            }
            PacketKind::Dtls => {
                if let Some(h) = &mut self.dtls {
                    if let Err(source) = h.handle_input(now, datagram) {
                        return self.fail(Error::Dtls {
                            peer: self.remote,
                            source,
                        });
                    }
                    self.after_dtls();
                }
            }
            _ => {}
        }
    }

    /// Runs the check and handshake timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Ice if now >= self.next_check => {
                if self.checks >= CHECK_TRIES {
                    return self.fail(Error::Timeout {
                        method: "ICE Binding",
                        to: self.remote,
                        tries: self.checks,
                    });
                }
                self.checks += 1;
                self.next_check = now + CHECK_EVERY;
                let mut buf = [0u8; 512];
                match self.checker.request(&mut buf, true) {
                    Ok(n) => self.out.push_back(buf[..n].to_vec()),
                    Err(source) => {
                        let (from, what) = (self.remote, "ICE Binding");
                        self.fail(Error::Malformed { what, from, source })
                    }
                }
            }
            Phase::Dtls => {
                if let Some(h) = &mut self.dtls {
                    if h.poll_timeout().is_some_and(|t| now >= t) {
                        if let Err(source) = h.handle_timeout(now) {
                            return self.fail(Error::Dtls {
                                peer: self.remote,
                                source,
                            });
                        }
                        self.after_dtls();
                    }
                }
            }
            _ => {}
        }
    }

    /// The next datagram to send to [`remote`](Self::remote).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Ice => Some(self.next_check),
            Phase::Dtls => self.dtls.as_ref().and_then(Handshake::poll_timeout),
            _ => None,
        }
    }

    fn fail(&mut self, e: Error) {
        self.phase = Phase::Failed;
        self.dtls = None;
        self.error.get_or_insert(e);
    }

    fn start_dtls(&mut self, now: Instant, config: &edge_dtls::Config) {
        match Handshake::new(config, self.role, &self.fingerprints, now) {
            Ok(h) => {
                self.dtls = Some(h);
                self.phase = Phase::Dtls;
                self.after_dtls();
            }
            Err(source) => self.fail(Error::Dtls {
                peer: self.remote,
                source,
            }),
        }
    }

    /// Collects the handshake's datagrams, and its keys when done.
    fn after_dtls(&mut self) {
        let Some(h) = &mut self.dtls else { return };
        self.scratch.clear();
        while let Some(len) = h.poll_transmit(&mut self.scratch) {
            let start = self.scratch.len() - len;
            self.out.push_back(self.scratch[start..].to_vec());
        }
        let Some(keys) = h.poll_keys() else { return };
        let peer = self.remote;
        let srtp = |source| Error::Srtp { peer, source };
        let pair = Profile::from_dtls_id(keys.profile.id())
            .and_then(|p| {
                Ok((
                    MasterKey::new(p, &keys.local_master_key, &keys.local_master_salt)?,
                    MasterKey::new(p, &keys.remote_master_key, &keys.remote_master_salt)?,
                ))
            })
            .map_err(srtp)
            .and_then(|(local, remote)| SrtpPair::new(&local, &remote, peer));
        match pair {
            Ok(p) => {
                self.srtp = Some(p);
                self.phase = Phase::Ready;
            }
            Err(e) => self.fail(e),
        }
    }
}
