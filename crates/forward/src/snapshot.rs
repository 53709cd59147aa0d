//! What the control plane can read about a session: [`SessionSnapshot`] with its state and
//! [`Counters`].
//!
//! Counters live in [`Stats`], one relaxed atomic per counter. Only the session's worker
//! writes them (a load and a store, no locked read-modify-write), so a packet costs no lock
//! and no contended cache line; readers see values at most a few packets old.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::quality::{CallQuality, Cells};
use crate::SessionId;

/// Where a session is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SessionState {
    /// Sockets bound; no valid ICE check from the browser yet.
    New,
    /// The browser passed an ICE check; the DTLS handshake is running or about to.
    Connecting,
    /// DTLS-SRTP keys are in place; no media forwarded yet.
    DtlsConnected,
    /// Media has been forwarded.
    Active,
    /// The session ended and its ports are free again.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

impl SessionState {
    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        matches!(self, SessionState::Ended { .. })
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EndReason {
    /// [`crate::Forwarder::remove_session`] was called.
    Removed,
    /// No media on either leg for `media-timeout`.
    MediaTimeout,
    /// ICE and DTLS did not complete within `setup-timeout`.
    SetupTimeout,
    /// No valid ICE consent check from the browser for `consent-timeout` (RFC 7675).
    ConsentExpired,
    /// The DTLS handshake failed; the text says why (e.g. a certificate that does not match
    /// the SDP fingerprint).
    DtlsFailed(String),
    /// The browser closed DTLS (close_notify).
    DtlsClosed,
    /// The relay shut down.
    Shutdown,
    /// The worker could not take the session over; the text says why.
    Failed(String),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Removed => f.write_str("removed through the API"),
            EndReason::MediaTimeout => f.write_str("no media within media-timeout"),
            EndReason::SetupTimeout => f.write_str("ICE/DTLS not established within setup-timeout"),
            EndReason::ConsentExpired => f.write_str("ICE consent expired (RFC 7675)"),
            EndReason::DtlsFailed(why) => write!(f, "DTLS failed: {why}"),
            EndReason::DtlsClosed => f.write_str("the browser closed DTLS"),
            EndReason::Shutdown => f.write_str("the relay shut down"),
            EndReason::Failed(why) => write!(f, "the relay failed: {why}"),
        }
    }
}

/// A session as the control plane sees it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SessionSnapshot {
    /// The id.
    pub id: SessionId,
    /// The state.
    #[serde(flatten)]
    pub state: SessionState,
    /// Time since the session was created.
    pub age: Duration,
    /// The relay's public socket (advertised address).
    pub public_addr: SocketAddr,
    /// The browser's address, latched from the nominated ICE pair.
    pub browser_addr: Option<SocketAddr>,
    /// The relay's enterprise RTP socket.
    pub enterprise_rtp: SocketAddr,
    /// Where enterprise RTP currently goes: the configured remote, or the latched source.
    pub enterprise_remote: Option<SocketAddr>,
    /// The named enterprise connection the leg is bound to (absent: the default leg).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The counters.
    pub counters: Counters,
    /// Call quality per leg, from the media and the peers' RTCP.
    pub quality: CallQuality,
    /// Time since the last packet forwarded from each side, at this snapshot (absent: none
    /// yet).
    pub last_packet: LastPacket,
    /// With video (a BUNDLE of audio and video): each m-line's enterprise leg and counters,
    /// audio first (`counters` is their sum, with the drops no line could be blamed for);
    /// empty for an audio-only session.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media_lines: Vec<MediaLine>,
}

/// Time since the last packet forwarded from each side (RTP or RTCP), at a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LastPacket {
    /// From the browser.
    pub from_browser: Option<Duration>,
    /// From the enterprise side.
    pub from_enterprise: Option<Duration>,
}

/// A session's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Counters {
    /// Media received from the browser (SRTP, SRTCP), toward the enterprise.
    pub browser_to_enterprise: DirectionCounters,
    /// Media received from the enterprise, toward the browser.
    pub enterprise_to_browser: DirectionCounters,
    /// ICE Binding requests answered with success.
    pub ice_checks: u64,
    /// ICE Binding requests refused (bad USERNAME or MESSAGE-INTEGRITY: 400/401).
    pub ice_rejected: u64,
    /// DTLS datagrams received from the browser.
    pub dtls_datagrams: u64,
}

/// One direction's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DirectionCounters {
    /// RTP packets forwarded.
    pub rtp_packets: u64,
    /// RTCP packets forwarded.
    pub rtcp_packets: u64,
    /// Bytes forwarded, as sent.
    pub bytes: u64,
    /// RFC 4733 telephone-event (DTMF) packets forwarded (among `rtp_packets`).
    pub dtmf_packets: u64,
    /// Packets dropped, by reason.
    pub drops: Drops,
}

/// Dropped packets by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Drops {
    /// Not a packet this leg carries: a first byte outside RFC 7983's STUN, DTLS and RTP
    /// ranges, a header that does not parse, a STUN message that is not a Binding request.
    pub malformed: u64,
    /// From a source other than the browser's ICE-validated address or, in strict mode,
    /// the enterprise remote.
    pub unexpected_source: u64,
    /// Arrived before it could be forwarded (no SRTP keys or no destination yet).
    pub not_ready: u64,
    /// SRTP/SRTCP authentication failed (bad tag, wrong key).
    pub auth_failed: u64,
    /// SRTP/SRTCP replay: an index already seen or older than the replay window.
    pub replayed: u64,
    /// Refused by SRTP for another reason (too many SSRCs, key exhausted).
    pub srtp_other: u64,
    /// The outgoing socket's buffer was full.
    pub send_failed: u64,
    /// RTP media the SDP directions forbid (a side on hold, `sendonly`, `recvonly`,
    /// `inactive`).
    pub direction: u64,
    /// RTP of an SSRC other than the running stream's while that stream runs (an SSRC
    /// storm, or the first packets of a stream that replaces it without a re-offer).
    pub foreign_ssrc: u64,
    /// From the browser in a BUNDLE with video: RTP that neither its MID header extension,
    /// its SSRC nor its payload type places on an m-line.
    pub unknown_ssrc: u64,
}

impl Drops {
    /// Every dropped packet, whatever the reason.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.unexpected_source
            + self.not_ready
            + self.auth_failed
            + self.replayed
            + self.srtp_other
            + self.send_failed
            + self.direction
            + self.foreign_ssrc
            + self.unknown_ssrc
    }
}

/// One m-line of a session with video: its enterprise leg and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MediaLine {
    /// `audio` or `video`.
    pub kind: &'static str,
    /// The relay's enterprise RTP socket of the line.
    pub enterprise_rtp: SocketAddr,
    /// Where the line's enterprise RTP goes now.
    pub enterprise_remote: Option<SocketAddr>,
    /// Media of the line received from the browser, toward the enterprise.
    pub browser_to_enterprise: DirectionCounters,
    /// Media of the line received from the enterprise, toward the browser.
    pub enterprise_to_browser: DirectionCounters,
}

/// One per-direction counter of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    RtpPackets,
    RtcpPackets,
    Bytes,
    Malformed,
    UnexpectedSource,
    NotReady,
    AuthFailed,
    Replayed,
    SrtpOther,
    SendFailed,
    Direction,
    ForeignSsrc,
    Dtmf,
    UnknownSsrc,
}

const PER_DIRECTION: usize = 14;

/// The direction a per-direction counter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Received from the browser.
    FromBrowser,
    /// Received from the enterprise.
    FromEnterprise,
}

/// A session's counters as single-writer atomics (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    directions: [[AtomicU64; PER_DIRECTION]; 2],
    /// Per direction: nanoseconds from the session's creation to its last forwarded packet,
    /// plus one (0: none yet).
    last_packet: [AtomicU64; 2],
    ice_checks: AtomicU64,
    ice_rejected: AtomicU64,
    dtls_datagrams: AtomicU64,
}

/// Adds `n` to a counter only this thread writes.
fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

impl Stats {
    /// Adds `n` to a per-direction counter.
    pub(crate) fn add(&self, direction: Direction, counter: Counter, n: u64) {
        add(&self.directions[direction as usize][counter as usize], n);
    }

    /// Counts a forwarded packet of `bytes` bytes.
    pub(crate) fn forwarded(&self, direction: Direction, rtcp: bool, bytes: usize) {
        let kind = if rtcp {
            Counter::RtcpPackets
        } else {
            Counter::RtpPackets
        };
        self.add(direction, kind, 1);
        self.add(direction, Counter::Bytes, bytes as u64);
    }

    /// Notes that a packet from `direction` was forwarded `since_created` after the
    /// session was created (one store, by the one thread that writes these counters).
    pub(crate) fn touched(&self, direction: Direction, since_created: Duration) {
        let nanos = u64::try_from(since_created.as_nanos()).unwrap_or(u64::MAX - 1);
        self.last_packet[direction as usize].store(nanos + 1, Relaxed);
    }

    /// Time from the last packet of `direction` to `age` (the session's age now).
    fn since_last(&self, direction: Direction, age: Duration) -> Option<Duration> {
        match self.last_packet[direction as usize].load(Relaxed) {
            0 => None,
            n => Some(age.saturating_sub(Duration::from_nanos(n - 1))),
        }
    }

    /// Counts a dropped packet.
    pub(crate) fn dropped(&self, direction: Direction, reason: Counter) {
        self.add(direction, reason, 1);
    }

    /// Counts an ICE Binding request, answered or refused.
    pub(crate) fn ice_check(&self, accepted: bool) {
        add(
            if accepted {
                &self.ice_checks
            } else {
                &self.ice_rejected
            },
            1,
        );
    }

    /// Counts a DTLS datagram from the browser.
    pub(crate) fn dtls_datagram(&self) {
        add(&self.dtls_datagrams, 1);
    }

    /// The counters now.
    pub(crate) fn snapshot(&self) -> Counters {
        let direction = |d: Direction| {
            let c = &self.directions[d as usize];
            let get = |k: Counter| c[k as usize].load(Relaxed);
            DirectionCounters {
                rtp_packets: get(Counter::RtpPackets),
                rtcp_packets: get(Counter::RtcpPackets),
                bytes: get(Counter::Bytes),
                dtmf_packets: get(Counter::Dtmf),
                drops: Drops {
                    malformed: get(Counter::Malformed),
                    unexpected_source: get(Counter::UnexpectedSource),
                    not_ready: get(Counter::NotReady),
                    auth_failed: get(Counter::AuthFailed),
                    replayed: get(Counter::Replayed),
                    srtp_other: get(Counter::SrtpOther),
                    send_failed: get(Counter::SendFailed),
                    direction: get(Counter::Direction),
                    foreign_ssrc: get(Counter::ForeignSsrc),
                    unknown_ssrc: get(Counter::UnknownSsrc),
                },
            }
        };
        Counters {
            browser_to_enterprise: direction(Direction::FromBrowser),
            enterprise_to_browser: direction(Direction::FromEnterprise),
            ice_checks: self.ice_checks.load(Relaxed),
            ice_rejected: self.ice_rejected.load(Relaxed),
            dtls_datagrams: self.dtls_datagrams.load(Relaxed),
        }
    }
}

/// What the control plane and a session's worker share about it: fixed facts, the
/// counters, and a status the worker writes only when it changes (never per packet).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: SessionId,
    pub(crate) created: Instant,
    pub(crate) public_addr: SocketAddr,
    pub(crate) enterprise_rtp: SocketAddr,
    /// The named enterprise connection, if any.
    pub(crate) connection: Option<String>,
    /// The worker the session is pinned to.
    pub(crate) worker: usize,
    /// Enterprise ports the session holds (1 with rtcp-mux, 2 without).
    pub(crate) enterprise_ports: u64,
    /// Enterprise ports its video line holds (0 without video).
    video_ports: AtomicU64,
    pub(crate) stats: Stats,
    /// The video m-line's share of `stats` (written besides them).
    pub(crate) video_stats: Stats,
    /// The call-quality figures the worker publishes.
    pub(crate) quality: Cells,
    status: Mutex<Status>,
}

/// The parts of a snapshot that change on state transitions.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub(crate) state: SessionState,
    pub(crate) browser_addr: Option<SocketAddr>,
    pub(crate) enterprise_remote: Option<SocketAddr>,
    /// Set when the session ends: lingering is counted from here.
    pub(crate) ended_at: Option<Instant>,
    /// Whether the browser's remote description is known (it may be given once).
    pub(crate) browser_known: bool,
    /// When the DTLS handshake started (for the handshake-duration metric).
    pub(crate) dtls_started: Option<Instant>,
    /// When the SRTP keys were installed (the session's set-up is complete).
    pub(crate) connected_at: Option<Instant>,
    /// The video m-line's enterprise RTP socket and remote, while the session has one.
    pub(crate) video: Option<(SocketAddr, Option<SocketAddr>)>,
}

impl Shared {
    pub(crate) fn new(
        id: SessionId,
        now: Instant,
        public_addr: SocketAddr,
        enterprise_rtp: SocketAddr,
        connection: Option<String>,
        worker: usize,
        status: Status,
    ) -> Self {
        Shared {
            id,
            created: now,
            public_addr,
            enterprise_rtp,
            connection,
            worker,
            enterprise_ports: 1,
            video_ports: AtomicU64::new(0),
            stats: Stats::default(),
            video_stats: Stats::default(),
            quality: Cells::default(),
            status: Mutex::new(status),
        }
    }

    /// The same, holding `ports` enterprise ports (1 with rtcp-mux, 2 without; 1 unless
    /// said).
    pub(crate) fn with_enterprise_ports(mut self, ports: u64) -> Self {
        self.enterprise_ports = ports;
        self
    }

    /// Notes the video line's sockets (`None`: no video line).
    pub(crate) fn set_video_ports(&self, sockets: Option<&crate::ports::Bound>) {
        let ports = sockets.map_or(0, |s| 1 + u64::from(s.rtcp.is_some()));
        self.video_ports.store(ports, Relaxed);
    }

    /// Enterprise ports the session holds, every m-line together.
    pub(crate) fn ports_held(&self) -> u64 {
        self.enterprise_ports + self.video_ports.load(Relaxed)
    }

    /// Reads or changes the status. The lock is held only for the closure, which never
    /// blocks; a poisoned lock (a panic elsewhere while holding it) still holds valid data.
    pub(crate) fn status<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Marks the session ended (the first reason wins).
    pub(crate) fn end(&self, now: Instant, reason: EndReason) {
        self.status(|s| {
            if !s.state.is_ended() {
                s.state = SessionState::Ended { reason };
                s.ended_at = Some(now);
            }
        });
    }

    /// The snapshot the control plane reads.
    pub(crate) fn snapshot(&self, now: Instant) -> SessionSnapshot {
        let status = self.status(|s| s.clone());
        let age = now.saturating_duration_since(self.created);
        let counters = self.stats.snapshot();
        let media_lines = match status.video {
            Some((video_rtp, video_remote)) => {
                let video = self.video_stats.snapshot();
                let line = |kind, rtp, remote, c: &Counters| MediaLine {
                    kind,
                    enterprise_rtp: rtp,
                    enterprise_remote: remote,
                    browser_to_enterprise: c.browser_to_enterprise,
                    enterprise_to_browser: c.enterprise_to_browser,
                };
                // The audio line's: the session's total less video's (and less the drops
                // no line could be blamed for).
                let mut audio = counters;
                crate::totals::combine(&mut audio, &video, u64::saturating_sub);
                audio.browser_to_enterprise.drops.unknown_ssrc = 0;
                let audio_rtp = self.enterprise_rtp;
                vec![
                    line("audio", audio_rtp, status.enterprise_remote, &audio),
                    line("video", video_rtp, video_remote, &video),
                ]
            }
            None => Vec::new(),
        };
        SessionSnapshot {
            id: self.id,
            state: status.state,
            age,
            public_addr: self.public_addr,
            browser_addr: status.browser_addr,
            enterprise_rtp: self.enterprise_rtp,
            enterprise_remote: status.enterprise_remote,
            connection: self.connection.clone(),
            counters,
            quality: self.quality.snapshot(),
            last_packet: LastPacket {
                from_browser: self.stats.since_last(Direction::FromBrowser, age),
                from_enterprise: self.stats.since_last(Direction::FromEnterprise, age),
            },
            media_lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_land_in_their_direction() {
        let s = Stats::default();
        s.forwarded(Direction::FromBrowser, false, 172);
        s.forwarded(Direction::FromBrowser, true, 80);
        s.dropped(Direction::FromEnterprise, Counter::AuthFailed);
        s.dropped(Direction::FromEnterprise, Counter::SendFailed);
        s.ice_check(true);
        s.ice_check(false);
        let c = s.snapshot();
        assert_eq!(c.browser_to_enterprise.rtp_packets, 1);
        assert_eq!(c.browser_to_enterprise.rtcp_packets, 1);
        assert_eq!(c.browser_to_enterprise.bytes, 252);
        assert_eq!(c.enterprise_to_browser.drops.auth_failed, 1);
        assert_eq!(c.enterprise_to_browser.drops.send_failed, 1);
        assert_eq!(c.enterprise_to_browser.rtp_packets, 0);
        assert_eq!((c.ice_checks, c.ice_rejected), (1, 1));
    }

    #[test]
    fn last_packet_is_the_time_since_each_direction_last_forwarded() {
        let s = Stats::default();
        let age = Duration::from_secs(10);
        assert_eq!(s.since_last(Direction::FromBrowser, age), None);
        s.touched(Direction::FromBrowser, Duration::from_millis(7_500));
        s.touched(Direction::FromEnterprise, Duration::ZERO);
        assert_eq!(
            s.since_last(Direction::FromBrowser, age),
            Some(Duration::from_millis(2_500))
        );
        assert_eq!(s.since_last(Direction::FromEnterprise, age), Some(age));
    }

    #[test]
    fn states_serialize_flat() {
        let state = SessionState::Ended {
            reason: EndReason::DtlsFailed("fingerprint mismatch".into()),
        };
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["state"], "ended");
        assert_eq!(json["reason"]["kind"], "dtls-failed");
        assert_eq!(json["reason"]["detail"], "fingerprint mismatch");
        let json = serde_json::to_value(SessionState::Active).unwrap();
        assert_eq!(json["state"], "active");
    }
}
