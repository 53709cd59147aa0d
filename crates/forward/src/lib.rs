//! The media forwarder of media-edge: for each session a browser leg (ICE-lite, DTLS-SRTP,
//! rtcp-mux, one public UDP port) and an enterprise leg (plain RTP or SDES-SRTP from a pinned
//! local address), with media moved between them in place on data-plane worker threads.
//!
//! # The contract with the control plane
//! The control API (edge-control) drives the forwarder through [`Forwarder`] alone; it never
//! touches per-packet state.
//!
//! - [`Forwarder::start`] with a [`ForwardConfig`] (the `[forward]` config section) and the DTLS
//!   [`edge_dtls::Config`] (certificate) spawns the workers.
//! - [`Forwarder::create_session`] with a [`SessionSpec`] binds both legs' sockets now and
//!   returns a [`SessionInfo`]: everything the relay's SDP for either side needs (public
//!   candidate, ICE credentials, fingerprint, `a=setup`, enterprise address and ports, our
//!   `a=crypto`).
//! - When the other side answers later: [`Forwarder::set_browser_remote`] with a
//!   [`BrowserRemote`] or [`Forwarder::set_enterprise_remote`] with an [`EnterpriseRemote`].
//! - When the call changes (hold and resume, a transfer, a re-INVITE, an ICE restart):
//!   [`Forwarder::update_session`] with a [`SessionUpdate`]: an enterprise move, the browser's
//!   new ICE credentials, a [`MediaPlan`] (each side's [`Direction`] and a payload-type
//!   map; also accepted at creation in [`SessionSpec::media`]).
//! - [`Forwarder::session`] / [`Forwarder::sessions`] read [`SessionSnapshot`]s (state and
//!   [`Counters`]); [`Forwarder::remove_session`] ends a session and returns once its ports are
//!   free. Sessions that time out end and free their ports on their own, then stay visible
//!   as [`SessionState::Ended`] for `ended-linger`.
//! - [`Forwarder::stats`] reads the relay-wide admission counters ([`ForwardStats`]);
//!   [`Forwarder::guard`] is the ban and rate-limit guard in force.
//! - [`Forwarder::shutdown`] stops everything.
//!
//! # Security at the public ports
//! STUN messages and DTLS ClientHellos are requests: each passes the edge-guard
//! ([`ForwardConfig::guard`], service `ice`) before any parsing or crypto work: a banned source
//! is dropped, then a source over its rate. A check naming a session's ufrag with a wrong
//! MESSAGE-INTEGRITY is an authentication failure; enough of them ban the source. Media
//! (SRTP, SRTCP) never touches the guard. See the `admission` module's notes on spoofing.
//!
//! # Enterprise connections
//! A session's enterprise leg binds in the default leg's range (or its fixed
//! `transport-port`), or, when [`SessionSpec::connection`] names one of
//! `enterprise.connections`, exactly that connection's [`ClientSidePort`] tuple; one live
//! session at a time can hold a tuple ([`Error::ConnectionBusy`]).
//!
//! Errors are [`Error`] variants that say whose fault they are: a bad configuration or
//! remote description ([`Error::Config`], [`Error::InvalidRemote`]), an unknown session,
//! exhausted resources ([`Error::TooManySessions`], [`Error::PortsExhausted`]), or the
//! operating system.
//!
//! # The session core and its driver
//! Each session's protocol work is one sans-IO state machine, [`SessionCore`] (module
//! [`core`]): the ICE-lite responder, DTLS-SRTP toward the browser (edge-dtls), SRTP
//! unprotect and protect in place (edge-srtp), the media plan and the enterprise leg. It
//! owns no socket, reads no clock and draws no random number, in the manner of quinn-proto
//! and str0m: [`SessionCore::handle_input`] takes each received datagram in the caller's
//! buffer and returns where the transformed media goes, [`SessionCore::poll_output`] gives
//! the datagrams it makes itself (STUN answers, DTLS flights) and its events (state
//! changes, the end with its [`EndReason`]), [`SessionCore::handle_timeout`] and
//! [`SessionCore::poll_timeout`] run its timers. A test or another runtime can drive it
//! with no socket and a virtual clock (`tests/session_core.rs` runs a whole call so).
//!
//! The [`Forwarder`] is one driver of it: its workers own the sockets, the clock and the
//! guard, and per session they only move datagrams between the sockets and the core, send
//! what it outputs and re-arm its timer. Everything else here (port pools, the session
//! table, admission, totals) is the driver's and the control plane's.
//!
//! # Threads and the per-packet path
//! [`Forwarder::start`] spawns [`ForwardConfig::workers`] data-plane threads (`forwarder-N`),
//! each one mio event loop owning the sockets of the sessions pinned to it; a new session
//! goes to the least-loaded worker, and the control plane reaches a worker only through a
//! command channel and a `mio::Waker`. Per ready socket a worker receives a batch
//! (`recvmmsg`), demultiplexes each datagram by its first byte (RFC 7983: STUN, DTLS,
//! SRTP/RTP), transforms media in place (SRTP unprotect or protect in the batch's own
//! slots) and sends the batch from the other leg's socket (`sendmmsg`, GSO for runs of
//! equal-size datagrams to one destination). A socket's token names its session, so there
//! is no lookup by address; a work limiter bounds how much one socket is read per loop turn.
//! Nothing allocates and nothing locks per packet; counters are single-writer atomics the
//! control plane reads.
//!
//! # Calls that change
//! Between unprotect and protect each direction applies the media plan in place: RTP the
//! SDP directions forbid is dropped (`direction`), payload types are rewritten from one
//! side's numbering to the other's, and the stream is translated: the first SSRC a
//! direction carries is the one its receiver keeps seeing, and a new stream (after a move
//! or a resume, a far sequence jump under one SSRC, or another SSRC steadily replacing the
//! running one) is rebased so sequence numbers and timestamps continue; RTCP sender reports
//! and report blocks are rewritten to match. Other SSRCs are dropped (`foreign_ssrc`) with
//! no state kept per SSRC. RFC 4733 DTMF is counted (`dtmf_packets`).
//!
//! # What it does not do
//! No SDP (the control plane parses and writes it), no full ICE agent (ICE-lite only: the
//! browser is the controlling agent, the relay answers checks on its single host candidate),
//! no TURN client, no trickle; an ICE restart keeps the DTLS association (a new fingerprint
//! needs a new session). At most two m-lines per session (audio and one BUNDLE video line,
//! [`VideoSpec`], each with its own enterprise leg, the browser's packets split by MID header
//! extension, SSRC and payload type) and one running stream per direction and line (a
//! browser sending several SSRCs at once on a line, simulcast, has the first as its stream,
//! the others dropped as `foreign_ssrc`); video is plain RTP toward the enterprise; no
//! translation of transport-wide sequence numbers (transport-cc), no transcoding, no RTCP
//! termination (RTCP is forwarded like RTP, rewritten to match translated streams; its
//! reports are read on the way for the call-quality figures, [`CallQuality`]). Rewriting
//! changes only the payload type, sequence number, timestamp and SSRC; header extensions
//! and CSRCs pass as they are. An SDES enterprise leg's own key never changes within a session: each change of the
//! remote's key moves the browser's stream to a new SSRC under it, and the context holds
//! 16 SSRCs, so past 15 such changes in one call its media is dropped (`srtp_other`).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod admission;
mod config;
mod connection;
pub mod core;
mod credentials;
mod error;
mod forwarder;
mod ice;
mod ports;
mod quality;
mod session;
mod snapshot;
mod spec;
mod totals;
mod worker;

pub use crate::core::SessionCore;
pub use admission::ForwardStats;
pub use config::{EnterpriseSide, ForwardConfig, PublicSide};
pub use connection::{ClientSidePort, InvalidClientSidePort};
pub use error::{Error, Side};
pub use forwarder::Forwarder;
pub use quality::{
    mos, CallQuality, Codec, LegQuality, PayloadFormat, Received, Reported,
    INTERVAL as QUALITY_INTERVAL,
};
pub use snapshot::{
    Counters, DirectionCounters, Drops, EndReason, LastPacket, MediaLine, SessionSnapshot,
    SessionState,
};
pub use spec::{
    BrowserRemote, BundleDemux, Direction, EnterpriseCrypto, EnterpriseRemote, InvalidSessionId,
    LineIds, MediaPlan, SessionId, SessionInfo, SessionSpec, SessionUpdate, VideoChange,
    VideoPorts, VideoSpec,
};
pub use totals::{
    EndCounts, Histogram, QualityHistograms, StateCounts, Totals, JITTER_BUCKETS, LATENCY_BUCKETS,
    LOSS_BUCKETS, MOS_BUCKETS, RTT_BUCKETS,
};

/// Re-exported so callers can name ports without depending on edge-udp.
pub use edge_config::PortRange;
