//! One DTLS-SRTP handshake with one peer, as a sans-IO state machine.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use bytes::BytesMut;
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_shared::error::Error as LibraryError;
use rtc_shared::TransportProtocol;

use crate::config::Limits;
use crate::fingerprint::Fingerprint;
use crate::keys::EXPORTER_LABEL;
use crate::record::{self, alert_name, FragmentId};
use crate::retransmit::Retransmit;
use crate::{Config, Error, Role, SrtpKeys, SrtpProfile};

/// The library keys its associations by address; this handshake has exactly one, and these
/// documentation addresses (RFC 5737) are never used for I/O.
const LOCAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 1));
const PEER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 2));

/// A DTLS-SRTP handshake with one peer: datagrams and time in, datagrams, a deadline and
/// finally [`SrtpKeys`] out. It reads no clock and owns no socket.
///
/// # Methods
/// - Inputs: [`handle_input`](Self::handle_input) with each received DTLS datagram (first
///   byte 20..=63, RFC 7983) and [`handle_timeout`](Self::handle_timeout) when the deadline
///   passes. Either returns the error that ended the handshake; after that every input
///   returns [`Error::Closed`].
/// - Outputs, drained after every input in this order: [`poll_transmit`](Self::poll_transmit)
///   until `None`, then [`poll_keys`](Self::poll_keys) (once, when established), then
///   [`poll_timeout`](Self::poll_timeout) for the next wake-up.
/// - Getters: [`role`](Self::role), [`is_established`](Self::is_established),
///   [`stats`](Self::stats). Mutator: [`close`](Self::close).
///
/// After it is established keep feeding it DTLS datagrams: a peer whose last flight went
/// unanswered repeats it, and the answer comes out of `poll_transmit`. On any error the DTLS
/// state is released at once; only alerts still to be sent remain until drained.
pub struct Handshake {
    role: Role,
    remote: Vec<Fingerprint>,
    limits: Limits,
    phase: Phase,
    transmits: VecDeque<BytesMut>,
    keys: Option<SrtpKeys>,
    stats: HandshakeStats,
    /// Plaintext handshake fragments received from the peer, oldest first (bounded).
    fragments: Vec<FragmentId>,
    /// How many of `fragments` had arrived when this side sent its current flight.
    answered: usize,
}

/// The most fragments remembered for repeat detection; a handshake has a few dozen.
const MAX_REMEMBERED_FRAGMENTS: usize = 256;

enum Phase {
    Handshaking {
        endpoint: Box<Endpoint>,
        deadline: Instant,
        retransmit: Retransmit,
    },
    Established {
        endpoint: Box<Endpoint>,
    },
    Ended,
}

/// Counters of one handshake, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeStats {
    /// Well-formed datagrams passed to the DTLS state machine.
    pub datagrams: u64,
    /// Datagrams dropped because they were not DTLS records.
    pub malformed_datagrams: u32,
    /// Record bytes accepted before the handshake completed.
    pub handshake_bytes: usize,
    /// Flight retransmissions triggered by this side's timer.
    pub retransmissions: u32,
    /// Datagrams that only repeated a flight already answered (the timer retransmits instead).
    pub repeated_flights: u32,
    /// Application-data records received after the handshake (this crate carries no data
    /// channel; they are dropped).
    pub dropped_application_data: u32,
}

impl Handshake {
    /// Starts a handshake in `role` with a peer whose SDP offered `remote` fingerprints.
    ///
    /// A client queues its ClientHello at once; a server waits for one. The handshake timeout
    /// runs from `now`.
    ///
    /// # Errors
    /// [`Error::Config`] when `remote` is empty; [`Error::Protocol`] when the DTLS library
    /// refuses the configuration.
    pub fn new(
        config: &Config,
        role: Role,
        remote: &[Fingerprint],
        now: Instant,
    ) -> Result<Self, Error> {
        if remote.is_empty() {
            return Err(Error::Config {
                reason: "no remote a=fingerprint given",
            });
        }
        let library = config.handshake_config(role, remote)?;
        let limits = config.limits;
        let mut endpoint = match role {
            Role::Server => Endpoint::new(LOCAL, TransportProtocol::UDP, Some(library)),
            Role::Client => {
                let mut endpoint = Endpoint::new(LOCAL, TransportProtocol::UDP, None);
                endpoint
                    .connect(now, PEER, library, None)
                    .map_err(Error::protocol)?;
                endpoint
            }
        };
        let mut transmits = VecDeque::new();
        drain(&mut endpoint, &mut transmits);
        let mut retransmit = Retransmit::new(limits);
        retransmit.after_input(endpoint.poll_timeout(&PEER), transmits.iter());
        Ok(Handshake {
            role,
            remote: remote.to_vec(),
            limits,
            phase: Phase::Handshaking {
                endpoint: Box::new(endpoint),
                deadline: now + limits.handshake_timeout,
                retransmit,
            },
            transmits,
            keys: None,
            stats: HandshakeStats::default(),
            fragments: Vec::new(),
            answered: 0,
        })
    }

    /// Feeds one received datagram (one or more DTLS records).
    ///
    /// A datagram that is not a sequence of DTLS records is dropped and counted; past
    /// `max_malformed_datagrams` of them during the handshake it fails with
    /// [`Error::Malformed`].
    ///
    /// # Errors
    /// The error that ended the handshake or association (see [`Error`]); [`Error::Closed`]
    /// if it had already ended.
    pub fn handle_input(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        let handshaking = match &self.phase {
            Phase::Ended => return Err(Error::Closed),
            Phase::Handshaking { .. } => true,
            Phase::Established { .. } => false,
        };
        let Ok(framing) = record::check(datagram) else {
            self.stats.malformed_datagrams = self.stats.malformed_datagrams.saturating_add(1);
            if handshaking && self.stats.malformed_datagrams > self.limits.max_malformed_datagrams {
                return Err(self.abort(
                    now,
                    Error::Malformed {
                        limit: self.limits.max_malformed_datagrams,
                    },
                ));
            }
            return Ok(());
        };
        if handshaking {
            self.stats.handshake_bytes += datagram.len();
            if self.stats.handshake_bytes > self.limits.max_handshake_bytes {
                return Err(self.abort(
                    now,
                    Error::TooMuchHandshakeData {
                        limit: self.limits.max_handshake_bytes,
                    },
                ));
            }
        }
        self.stats.datagrams += 1;
        if handshaking && framing.only_plaintext_handshake && self.repeats_answered(datagram) {
            self.stats.repeated_flights += 1;
            return Ok(());
        }
        for id in record::plaintext_fragments(datagram) {
            if self.fragments.len() < MAX_REMEMBERED_FRAGMENTS && !self.fragments.contains(&id) {
                self.fragments.push(id);
            }
        }
        let Some(endpoint) = self.phase.endpoint() else {
            return Err(Error::Closed);
        };
        let queued = self.transmits.len();
        let result = endpoint.read(now, PEER, None, BytesMut::from(datagram));
        drain(endpoint, &mut self.transmits);
        let events = match result {
            Ok(events) => events,
            Err(e) => {
                let error = self.library_error(e, framing.plaintext_alert, false);
                self.release();
                return Err(error);
            }
        };
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete => {
                    if let Err(error) = self.establish() {
                        return Err(self.abort(now, error));
                    }
                }
                EndpointEvent::ApplicationData(_) => {
                    self.stats.dropped_application_data += 1;
                }
                EndpointEvent::PeerClosed => {
                    self.release();
                    return Err(Error::PeerClosed);
                }
                _ => {}
            }
        }
        if let Phase::Handshaking {
            endpoint,
            retransmit,
            ..
        } = &mut self.phase
        {
            retransmit.after_input(endpoint.poll_timeout(&PEER), self.transmits.range(queued..));
            if self.transmits.len() > queued {
                self.answered = self.fragments.len();
            }
        }
        Ok(())
    }

    /// Advances timers to `now`: retransmits the last flight when its timer expired, and fails
    /// the handshake with [`Error::Timeout`] past the handshake timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`], or another error that ended the handshake; [`Error::Closed`] if it
    /// had already ended.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let (endpoint, deadline, retransmit) = match &mut self.phase {
            Phase::Ended => return Err(Error::Closed),
            Phase::Established { .. } => return Ok(()),
            Phase::Handshaking {
                endpoint,
                deadline,
                retransmit,
            } => (endpoint, *deadline, retransmit),
        };
        if now >= deadline {
            let timeout = self.limits.handshake_timeout;
            return Err(self.abort(now, Error::Timeout { timeout }));
        }
        if !retransmit.is_due(now) {
            return Ok(());
        }
        let queued = self.transmits.len();
        if retransmit.library_armed() {
            let result = endpoint.handle_timeout(PEER, now);
            drain(endpoint, &mut self.transmits);
            retransmit.library_fired(
                now,
                endpoint.poll_timeout(&PEER),
                self.transmits.range(queued..),
            );
            if let Err(e) = result {
                let error = self.library_error(e, None, true);
                self.release();
                return Err(error);
            }
        } else {
            retransmit.resend(now, &mut self.transmits);
        }
        if self.transmits.len() > queued {
            self.stats.retransmissions += 1;
        }
        Ok(())
    }

    /// Appends the next datagram to send to `buf` and returns its length, or `None` when
    /// nothing is queued.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let datagram = self.transmits.pop_front()?;
        buf.extend_from_slice(&datagram);
        Some(datagram.len())
    }

    /// The SRTP keys, once: `Some` on the first call after the handshake is established and
    /// the peer's certificate matched its fingerprint.
    pub fn poll_keys(&mut self) -> Option<SrtpKeys> {
        self.keys.take()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called; `None` once
    /// established or ended (nothing is timed then).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Handshaking {
                deadline,
                retransmit,
                ..
            } => Some(
                retransmit
                    .deadline()
                    .map_or(*deadline, |r| r.min(*deadline)),
            ),
            _ => None,
        }
    }

    /// Sends `close_notify` (collect it with [`poll_transmit`](Self::poll_transmit)) and
    /// releases the DTLS state. Further input returns [`Error::Closed`].
    pub fn close(&mut self, now: Instant) {
        if let Some(endpoint) = self.phase.endpoint() {
            endpoint.stop(now, PEER);
            drain(endpoint, &mut self.transmits);
        }
        self.release();
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the handshake completed and the peer's certificate was verified.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established { .. })
    }

    /// Counters of this handshake.
    pub fn stats(&self) -> HandshakeStats {
        self.stats
    }

    /// Whether a datagram of plaintext handshake records only repeats fragments that had all
    /// arrived before this side sent its current flight. The library, fed one, drops its
    /// retransmission timer for good (it waits for the rest of a flight that will never come),
    /// so such datagrams stay here and the timer retransmits our flight instead. Exception: a
    /// repeated first ClientHello (message_seq 0) still reaches a server, whose
    /// HelloVerifyRequest has no timer and is answered per ClientHello (RFC 6347 §4.2.1).
    fn repeats_answered(&self, datagram: &[u8]) -> bool {
        let answered = &self.fragments[..self.answered];
        let mut any = false;
        for id in record::plaintext_fragments(datagram) {
            let first_hello = self.role == Role::Server && id.message_seq == 0;
            if first_hello || !answered.contains(&id) {
                return false;
            }
            any = true;
        }
        any
    }

    /// Verifies the peer's certificate against the SDP fingerprints, then exports the keys.
    fn establish(&mut self) -> Result<(), Error> {
        let Phase::Handshaking { endpoint, .. } = &mut self.phase else {
            return Err(Error::Closed);
        };
        let state = endpoint
            .get_connection_state(PEER)
            .ok_or(Error::NoPeerCertificate)?;
        let leaf = state
            .peer_certificates
            .first()
            .ok_or(Error::NoPeerCertificate)?;
        let verified = Fingerprint::verify(&self.remote, leaf)?;
        let profile = SrtpProfile::from_id(state.srtp_protection_profile() as u16)
            .ok_or(Error::NoCommonProfile)?;
        let material = state
            .export_keying_material(EXPORTER_LABEL, &[], profile.keying_material_len())
            .map_err(Error::protocol)?;
        self.keys = Some(SrtpKeys::split(
            profile,
            self.role,
            material.as_ref(),
            &verified,
        ));
        if let Phase::Handshaking { endpoint, .. } =
            std::mem::replace(&mut self.phase, Phase::Ended)
        {
            self.phase = Phase::Established { endpoint };
        }
        Ok(())
    }

    /// Ends the handshake for a reason found here (not by the library): tells the peer with
    /// `close_notify` and releases the state.
    fn abort(&mut self, now: Instant, error: Error) -> Error {
        self.close(now);
        error
    }

    /// Drops the DTLS state; queued datagrams stay until drained.
    fn release(&mut self) {
        self.phase = Phase::Ended;
    }

    /// Names a library failure as precisely as the evidence allows.
    fn library_error(&mut self, e: LibraryError, alert: Option<u8>, on_timer: bool) -> Error {
        let remote = &self.remote;
        if let Some(Err(mismatch)) = self
            .phase
            .endpoint()
            .and_then(|endpoint| endpoint.get_connection_state(PEER))
            .and_then(|state| state.peer_certificates.first())
            .map(|leaf| Fingerprint::verify(remote, leaf))
        {
            return mismatch;
        }
        match (e, alert) {
            (LibraryError::ErrAlertFatalOrClose, Some(0)) => Error::PeerClosed,
            (LibraryError::ErrAlertFatalOrClose, Some(description)) => Error::PeerAlert {
                name: alert_name(description),
            },
            (
                LibraryError::ErrServerNoMatchingSrtpProfile
                | LibraryError::ErrClientNoMatchingSrtpProfile
                | LibraryError::ErrRequestedButNoSrtpExtension,
                _,
            ) => Error::NoCommonProfile,
            (LibraryError::ErrClientCertificateRequired | LibraryError::ErrNoCertificates, _) => {
                Error::NoPeerCertificate
            }
            // The library gives up after its own retransmission budget.
            (_, _) if on_timer => Error::Timeout {
                timeout: self.limits.handshake_timeout,
            },
            (e, _) => Error::protocol(e),
        }
    }
}

impl Phase {
    /// The DTLS association while it is alive.
    fn endpoint(&mut self) -> Option<&mut Endpoint> {
        match self {
            Phase::Handshaking { endpoint, .. } | Phase::Established { endpoint } => Some(endpoint),
            Phase::Ended => None,
        }
    }
}

/// Moves what the library queued into this handshake's transmit queue.
fn drain(endpoint: &mut Endpoint, transmits: &mut VecDeque<BytesMut>) {
    while let Some(message) = endpoint.poll_transmit() {
        transmits.push_back(message.message);
    }
}
