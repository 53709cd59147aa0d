//! One session's sans-IO core: ICE-lite, then DTLS, then SRTP on the browser leg, and the
//! enterprise leg; datagrams and time in, what to send where out. The public face of it is
//! [`crate::core::SessionCore`], which wraps a [`Session`] and turns its actions, DTLS
//! datagrams and state into inputs, outputs and events.
//!
//! # Methods
//! - Inputs: [`Session::handle_browser`] with each datagram from the public socket,
//!   [`Session::handle_enterprise`] with each datagram from an enterprise socket (both
//!   transform the datagram in place and return an [`Action`]), [`Session::handle_timeout`]
//!   when [`Session::poll_timeout`] has passed, and the control plane's
//!   [`Session::set_browser_remote`], [`Session::update`] (an enterprise remote, an ICE
//!   restart, a media plan), [`Session::end`].
//! - Outputs: the returned [`Action`]s, then [`Session::poll_dtls`] until `None` (DTLS
//!   flights and alerts toward the browser), then [`Session::poll_timeout`];
//!   [`Session::ended`] says when the driver should drop the session and its sockets.
//!
//! It owns no socket and reads no clock. Per media packet it allocates nothing and takes no
//! lock: counters are single-writer atomics, state changes are published only when they
//! happen. Media passes [`media::Media`] on its way (directions, payload types, stream
//! translation).
//!
//! # Video (BUNDLE)
//! A session may carry a video m-line beside the audio one ([`VideoLine`]): one browser
//! transport (ICE, DTLS, one SRTP context each way), two enterprise legs, each with its own
//! sockets (the driver names the leg a datagram came from), remote and [`media::Media`].
//! Browser media is split between them by [`demux::Demux`]; enterprise media of either leg
//! goes out on the one browser transport. Call quality follows the audio line only.

mod demux;
mod enterprise;
mod media;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_dtls::{Fingerprint, Handshake, Role, SrtpKeys};
use edge_srtp::{Inbound, MasterKey, Outbound, Profile};
use edge_stun::PacketKind;

use crate::ice::{IceLite, Outcome};
use crate::quality::{Formats, Leg, Quality};
use crate::snapshot::{Counter, Direction, Shared, Stats};
use crate::spec::{BundleDemux, MediaPlan};
use crate::{EndReason, SessionState};
use demux::Demux;
pub(crate) use demux::{AUDIO, VIDEO};
pub(crate) use enterprise::Enterprise;
pub(crate) use media::{check_plan, Media};

/// What the driver does with a datagram after the session handled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing to send (dropped and counted, or consumed: DTLS).
    Drop,
    /// Send the first `len` bytes of the datagram's buffer from the enterprise RTP socket
    /// (`rtcp_socket == false`) or RTCP socket of m-line `line` ([`AUDIO`] or [`VIDEO`])
    /// to `dst`.
    ToEnterprise {
        line: usize,
        rtcp_socket: bool,
        dst: SocketAddr,
        len: usize,
    },
    /// Send the first `len` bytes of the datagram's buffer from the public socket to `dst`.
    ToBrowser { dst: SocketAddr, len: usize },
    /// Send the first `len` bytes of the scratch buffer (a STUN response) from the public
    /// socket to `dst`.
    Reply { dst: SocketAddr, len: usize },
    /// As [`Action::Reply`] (a 401), and report an authentication failure from `dst`: the
    /// check named this session's ufrag with a wrong MESSAGE-INTEGRITY.
    AuthFailure { dst: SocketAddr, len: usize },
}

/// The timeouts a session runs with (the `[forward]` section's `media-timeout`,
/// `setup-timeout` and `consent-timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// No media either way for this long, once DTLS is up, ends the session
    /// ([`EndReason::MediaTimeout`]).
    pub media: Duration,
    /// ICE and DTLS not done this long after creation (or the last remote description) ends
    /// the session ([`EndReason::SetupTimeout`]).
    pub setup: Duration,
    /// No accepted ICE check from the nominated address for this long ends the session
    /// ([`EndReason::ConsentExpired`], RFC 7675).
    pub consent: Duration,
}

/// What the browser said, checked: the fingerprints and the DTLS role it implies.
#[derive(Debug, Clone)]
pub(crate) struct BrowserSetup {
    pub(crate) ice_ufrag: String,
    pub(crate) fingerprints: Vec<Fingerprint>,
    pub(crate) role: Role,
}

/// A change to a running session, checked by the control plane.
#[derive(Default)]
pub(crate) struct Update {
    /// The enterprise leg's new remote.
    pub(crate) enterprise: Option<Move>,
    /// An ICE restart.
    pub(crate) ice: Option<IceRestart>,
    /// Directions and payload types.
    pub(crate) media: Option<MediaPlan>,
    /// Adds, changes or removes the video line.
    pub(crate) video: Option<VideoUpdate>,
}

/// A change of the video line (the driver binds or closes its sockets alongside).
pub(crate) enum VideoUpdate {
    /// A new video line.
    Add(Box<VideoLine>, BundleDemux),
    /// The video line's new remote (optional), plan (optional) and demux.
    Change {
        remote: Option<(SocketAddr, Option<SocketAddr>)>,
        media: Option<MediaPlan>,
        demux: BundleDemux,
    },
    /// No more video.
    Remove,
}

/// The video m-line of a BUNDLE: its enterprise leg and media rules.
pub(crate) struct VideoLine {
    pub(crate) enterprise: Enterprise,
    pub(crate) media: Media,
}

impl VideoLine {
    /// A video line toward `enterprise` with `formats` (the browser's numbering) and
    /// `plan` in force.
    pub(crate) fn new(enterprise: Enterprise, formats: Formats, plan: Option<&MediaPlan>) -> Self {
        let mut media = Media::new(formats);
        if let Some(plan) = plan {
            media.set_plan(plan);
        }
        VideoLine { enterprise, media }
    }
}

/// The enterprise leg's new remote: addresses, the remote's SDES context, rtcp-mux.
pub(crate) struct Move {
    pub(crate) rtp: SocketAddr,
    pub(crate) rtcp: Option<SocketAddr>,
    pub(crate) inbound: Option<Box<Inbound>>,
    pub(crate) mux: Option<bool>,
    /// With SDES, when the remote's key changed: the SSRC the browser's stream goes on
    /// under toward the enterprise, so a receiver with a fresh SRTP context (rollover
    /// counter 0) can follow it.
    pub(crate) renew_ssrc: Option<u32>,
}

/// New ICE credentials: ours and the browser's ufrag.
pub(crate) struct IceRestart {
    pub(crate) local_ufrag: String,
    pub(crate) local_pwd: String,
    pub(crate) remote_ufrag: String,
}

/// Progress, in order; published to the control plane as [`SessionState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    New,
    Connecting,
    DtlsConnected,
    Active,
}

impl Phase {
    /// The state the control plane sees for this phase.
    pub(crate) fn state(self) -> SessionState {
        match self {
            Phase::New => SessionState::New,
            Phase::Connecting => SessionState::Connecting,
            Phase::DtlsConnected => SessionState::DtlsConnected,
            Phase::Active => SessionState::Active,
        }
    }
}

/// Everything a session is made from.
pub(crate) struct Params {
    pub(crate) shared: Arc<Shared>,
    pub(crate) ice_ufrag: String,
    pub(crate) ice_pwd: String,
    pub(crate) dtls: Arc<edge_dtls::Config>,
    pub(crate) srtp: edge_srtp::Config,
    pub(crate) timeouts: Timeouts,
    pub(crate) enterprise: Enterprise,
    pub(crate) formats: Formats,
    pub(crate) media: Option<MediaPlan>,
    /// The video line and how the BUNDLE is split, when the session has video.
    pub(crate) video: Option<(Box<VideoLine>, BundleDemux)>,
}

/// One session's state (see the module docs).
pub(crate) struct Session {
    shared: Arc<Shared>,
    ice: IceLite,
    dtls_config: Arc<edge_dtls::Config>,
    browser: Option<BrowserSetup>,
    handshake: Option<Box<Handshake>>,
    /// The handshake may have datagrams to send: set by every DTLS input, timer, start and
    /// close, cleared when [`Self::poll_dtls`] drains it, so media never touches DTLS state.
    dtls_pending: bool,
    /// Where DTLS goes: the source of the browser's DTLS, or the nominated address.
    dtls_peer: Option<SocketAddr>,
    browser_in: Option<Inbound>,
    browser_out: Option<Outbound>,
    enterprise: Enterprise,
    srtp_config: edge_srtp::Config,
    timeouts: Timeouts,
    setup_deadline: Instant,
    last_media: Instant,
    phase: Phase,
    ended: Option<EndReason>,
    quality: Quality,
    media: Media,
    video: Option<Box<VideoLine>>,
    /// Splits the browser's media between audio and video; `None` without video.
    demux: Option<Demux>,
}

impl Session {
    pub(crate) fn new(now: Instant, params: Params) -> Self {
        let mut media = Media::new(params.formats.clone());
        if let Some(plan) = &params.media {
            media.set_plan(plan);
        }
        let (video, demux) = match params.video {
            Some((line, spec)) => (Some(line), Some(Demux::new(&spec))),
            None => (None, None),
        };
        Session {
            media,
            video,
            demux,
            shared: params.shared,
            ice: IceLite::new(&params.ice_ufrag, &params.ice_pwd, None),
            dtls_config: params.dtls,
            browser: None,
            handshake: None,
            dtls_pending: false,
            dtls_peer: None,
            browser_in: None,
            browser_out: None,
            enterprise: params.enterprise,
            srtp_config: params.srtp,
            timeouts: params.timeouts,
            setup_deadline: now + params.timeouts.setup,
            last_media: now,
            phase: Phase::New,
            ended: None,
            quality: Quality::new(now, params.formats),
        }
    }

    /// The session's counters.
    pub(crate) fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Why the session ended, once it has: the driver then flushes [`Self::poll_dtls`] and
    /// drops it.
    pub(crate) fn ended(&self) -> Option<&EndReason> {
        self.ended.as_ref()
    }

    /// How far the session got (it only moves forward).
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The browser's fingerprints in force, once its description is known.
    pub(crate) fn browser_fingerprints(&self) -> Option<&[Fingerprint]> {
        self.browser.as_ref().map(|b| &b.fingerprints[..])
    }

    /// Whether the enterprise leg is SDES-SRTP.
    pub(crate) fn sdes(&self) -> bool {
        self.enterprise.sdes
    }

    /// The SRTP options of the session's contexts.
    pub(crate) fn srtp_config(&self) -> &edge_srtp::Config {
        &self.srtp_config
    }

    /// The browser's side, checked by the caller (given once).
    pub(crate) fn set_browser_remote(&mut self, now: Instant, setup: BrowserSetup) {
        self.ice.set_remote_ufrag(&setup.ice_ufrag);
        self.browser = Some(setup);
        self.setup_deadline = now + self.timeouts.setup;
        // An ICE-lite client-role session that was nominated before the answer came starts now.
        if let Some(peer) = self.ice.nominated() {
            self.start_client(now, peer);
        }
    }

    /// A change from the control plane (checked there): the enterprise remote, new or
    /// moved (the next enterprise packet starts a new stream toward the browser), an ICE
    /// restart, a media plan.
    pub(crate) fn update(&mut self, now: Instant, update: Update) {
        if let Some(m) = update.enterprise {
            if let Some(mux) = m.mux {
                self.enterprise.mux = mux;
            }
            self.enterprise
                .set_remote(m.rtp, m.rtcp, m.inbound.map(|b| *b));
            self.media.restart(Direction::FromEnterprise);
            if let Some(ssrc) = m.renew_ssrc {
                self.media.renew(Direction::FromBrowser, ssrc);
            }
            self.shared.status(|s| s.enterprise_remote = Some(m.rtp));
            if self.browser_in.is_none() {
                self.setup_deadline = now + self.timeouts.setup;
            }
        }
        if let Some(ice) = update.ice {
            self.ice
                .restart(&ice.local_ufrag, &ice.local_pwd, &ice.remote_ufrag);
            if let Some(browser) = &mut self.browser {
                browser.ice_ufrag = ice.remote_ufrag;
            }
        }
        if let Some(plan) = &update.media {
            self.media.set_plan(plan);
        }
        match update.video {
            Some(VideoUpdate::Add(line, spec)) => {
                self.video = Some(line);
                self.demux = Some(Demux::new(&spec));
            }
            Some(VideoUpdate::Change {
                remote,
                media,
                demux,
            }) => {
                if let Some(video) = &mut self.video {
                    if let Some((rtp, rtcp)) = remote {
                        video.enterprise.set_remote(rtp, rtcp, None);
                        video.media.restart(Direction::FromEnterprise);
                    }
                    if let Some(plan) = &media {
                        video.media.set_plan(plan);
                    }
                    self.demux = Some(Demux::new(&demux));
                }
            }
            Some(VideoUpdate::Remove) => {
                self.video = None;
                self.demux = None;
            }
            None => {}
        }
    }

    /// Handles a datagram from the public socket, `buf[..len]`, in place. A STUN response
    /// goes to `scratch`.
    pub(crate) fn handle_browser(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
        scratch: &mut [u8],
    ) -> Action {
        let dir = Direction::FromBrowser;
        let Some(&first) = buf[..len].first() else {
            return self.drop(dir, Counter::Malformed);
        };
        match edge_stun::classify(first) {
            PacketKind::Rtp => self.browser_media(now, from, buf, len),
            PacketKind::Stun => self.browser_stun(now, from, &buf[..len], scratch),
            PacketKind::Dtls => self.browser_dtls(now, from, &buf[..len]),
            _ => self.drop(dir, Counter::Malformed),
        }
    }

    fn browser_stun(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        scratch: &mut [u8],
    ) -> Action {
        match self.ice.handle(now, from, datagram, scratch) {
            Outcome::Accepted { len, nominated } => {
                self.shared.stats.ice_check(true);
                self.advance(Phase::Connecting);
                if nominated {
                    self.shared.status(|s| s.browser_addr = Some(from));
                    self.start_client(now, from);
                }
                Action::Reply { dst: from, len }
            }
            Outcome::Rejected { len } => {
                self.shared.stats.ice_check(false);
                Action::Reply { dst: from, len }
            }
            Outcome::BadIntegrity { len } => {
                self.shared.stats.ice_check(false);
                Action::AuthFailure { dst: from, len }
            }
            Outcome::Ignored => Action::Drop,
            Outcome::Malformed => self.drop(Direction::FromBrowser, Counter::Malformed),
        }
    }

    /// In the client role the relay sends the ClientHello once a pair is nominated.
    fn start_client(&mut self, now: Instant, peer: SocketAddr) {
        let client = self.browser.as_ref().filter(|b| b.role == Role::Client);
        if self.handshake.is_none() && client.is_some() {
            self.dtls_peer = Some(peer);
            self.start_handshake(now);
        }
    }

    fn start_handshake(&mut self, now: Instant) {
        let Some(browser) = &self.browser else {
            return;
        };
        match Handshake::new(&self.dtls_config, browser.role, &browser.fingerprints, now) {
            Ok(handshake) => {
                self.handshake = Some(Box::new(handshake));
                self.dtls_pending = true;
                self.shared.status(|s| s.dtls_started = Some(now));
            }
            Err(e) => self.end(now, EndReason::DtlsFailed(e.to_string())),
        }
    }

    fn browser_dtls(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Action {
        let dir = Direction::FromBrowser;
        if !self.ice.is_validated(from) {
            return self.drop(dir, Counter::UnexpectedSource);
        }
        self.shared.stats.dtls_datagram();
        if self.handshake.is_none() {
            match &self.browser {
                Some(b) if b.role == Role::Server => self.start_handshake(now),
                _ => return self.drop(dir, Counter::NotReady),
            }
        }
        let Some(handshake) = &mut self.handshake else {
            return Action::Drop;
        };
        self.dtls_peer = Some(from);
        self.dtls_pending = true;
        if let Err(e) = handshake.handle_input(now, datagram) {
            let reason = match e {
                edge_dtls::Error::PeerClosed => EndReason::DtlsClosed,
                e => EndReason::DtlsFailed(e.to_string()),
            };
            self.end(now, reason);
            return Action::Drop;
        }
        if let Some(keys) = handshake.poll_keys() {
            if let Err(e) = self.install_keys(now, &keys) {
                self.end(now, EndReason::DtlsFailed(format!("SRTP keys: {e}")));
            }
        }
        Action::Drop
    }

    fn install_keys(&mut self, now: Instant, keys: &SrtpKeys) -> Result<(), edge_srtp::Error> {
        let profile = Profile::from_dtls_id(keys.profile.id())?;
        let remote = MasterKey::new(profile, &keys.remote_master_key, &keys.remote_master_salt)?;
        let local = MasterKey::new(profile, &keys.local_master_key, &keys.local_master_salt)?;
        self.browser_in = Some(Inbound::new(&remote, &self.srtp_config)?);
        self.browser_out = Some(Outbound::new(&local, &self.srtp_config)?);
        self.last_media = now;
        self.shared.status(|s| s.connected_at = Some(now));
        self.advance(Phase::DtlsConnected);
        Ok(())
    }

    /// SRTP/SRTCP from the browser: unprotect, pick the m-line, (re-protect with SDES,)
    /// forward.
    fn browser_media(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        let dir = Direction::FromBrowser;
        if !self.ice.is_validated(from) {
            return self.drop(dir, Counter::UnexpectedSource);
        }
        let rtcp = is_rtcp(&buf[..len]);
        let Some(inbound) = &mut self.browser_in else {
            return self.drop(dir, Counter::NotReady);
        };
        let unprotected = if rtcp {
            inbound.unprotect_rtcp(buf, len)
        } else {
            inbound.unprotect_rtp(buf, len)
        };
        let len = match unprotected {
            Ok(len) => len,
            Err(e) => return self.drop(dir, srtp_reason(&e)),
        };
        let Some(line) = self.line_of(rtcp, &buf[..len]) else {
            return self.drop(dir, Counter::UnknownSsrc);
        };
        let (enterprise, media) = match (line, self.video.as_deref_mut()) {
            (VIDEO, Some(video)) => (&mut video.enterprise, &mut video.media),
            _ => (&mut self.enterprise, &mut self.media),
        };
        let Some(dst) = enterprise.destination(rtcp) else {
            return self.drop_on(line, dir, Counter::NotReady);
        };
        if line == AUDIO {
            let cells = &self.shared.quality;
            self.quality
                .observe(Leg::Browser, now, rtcp, &buf[..len], cells);
        }
        let dtmf = match media.apply(now, dir, rtcp, buf, len) {
            Ok(dtmf) => dtmf,
            Err(reason) => return self.drop_on(line, dir, reason),
        };
        let len = match &mut enterprise.outbound {
            Some(out) => {
                let protected = if rtcp {
                    out.protect_rtcp(buf, len)
                } else {
                    out.protect_rtp(buf, len)
                };
                match protected {
                    Ok(len) => len,
                    Err(e) => return self.drop_on(line, dir, srtp_reason(&e)),
                }
            }
            None => len,
        };
        let rtcp_socket = rtcp && !enterprise.mux;
        self.forwarded(now, line, dir, rtcp, len, dtmf);
        Action::ToEnterprise {
            line,
            rtcp_socket,
            dst,
            len,
        }
    }

    /// The m-line of a plain packet from the browser: always audio without video; with
    /// video what the demux says (RTCP that names no stream goes to audio), `None` for RTP
    /// it cannot place.
    fn line_of(&mut self, rtcp: bool, packet: &[u8]) -> Option<usize> {
        let Some(demux) = &mut self.demux else {
            return Some(AUDIO);
        };
        if !rtcp {
            return demux.rtp(packet);
        }
        let demux = &*demux;
        let (audio, video) = (&self.media, self.video.as_deref());
        let sent = |m: &Media, ssrc| m.outgoing_ssrc(Direction::FromEnterprise) == Some(ssrc);
        let line = demux::rtcp_line(
            packet,
            |ssrc| demux.ssrc_line(ssrc),
            |ssrc| {
                if sent(audio, ssrc) {
                    Some(AUDIO)
                } else if video.is_some_and(|v| sent(&v.media, ssrc)) {
                    Some(VIDEO)
                } else {
                    None
                }
            },
        );
        Some(line.unwrap_or(AUDIO))
    }

    /// A datagram from the enterprise RTP (`rtcp_socket == false`) or RTCP socket of
    /// m-line `line`, `buf[..len]`: check the source, (unprotect SDES,) protect for the
    /// browser, forward.
    pub(crate) fn handle_enterprise(
        &mut self,
        now: Instant,
        from: SocketAddr,
        line: usize,
        rtcp_socket: bool,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        let dir = Direction::FromEnterprise;
        let packet = &buf[..len];
        if len < 8 || edge_stun::classify(packet[0]) != PacketKind::Rtp {
            return self.drop_on(line, dir, Counter::Malformed);
        }
        let (enterprise, media) = match (line, self.video.as_deref_mut()) {
            (VIDEO, Some(video)) => (&mut video.enterprise, &mut video.media),
            (VIDEO, None) => return self.drop(dir, Counter::NotReady),
            _ => (&mut self.enterprise, &mut self.media),
        };
        if !enterprise.accepts(from, rtcp_socket) {
            return self.drop_on(line, dir, Counter::UnexpectedSource);
        }
        let rtcp = rtcp_socket || (enterprise.mux && is_rtcp(packet));
        let (Some(outbound), Some(dst)) = (&mut self.browser_out, self.ice.nominated()) else {
            return self.drop_on(line, dir, Counter::NotReady);
        };
        let len = match (&mut enterprise.inbound, enterprise.sdes) {
            (Some(inbound), _) => {
                let unprotected = if rtcp {
                    inbound.unprotect_rtcp(buf, len)
                } else {
                    inbound.unprotect_rtp(buf, len)
                };
                match unprotected {
                    Ok(len) => len,
                    Err(e) => return self.drop_on(line, dir, srtp_reason(&e)),
                }
            }
            (None, true) => return self.drop_on(line, dir, Counter::NotReady),
            (None, false) => len,
        };
        let dtmf = match media.apply(now, dir, rtcp, buf, len) {
            Ok(dtmf) => dtmf,
            Err(reason) => return self.drop_on(line, dir, reason),
        };
        if line == AUDIO {
            let cells = &self.shared.quality;
            self.quality
                .observe(Leg::Enterprise, now, rtcp, &buf[..len], cells);
        }
        let protected = if rtcp {
            outbound.protect_rtcp(buf, len)
        } else {
            outbound.protect_rtp(buf, len)
        };
        let len = match protected {
            Ok(len) => len,
            Err(e) => return self.drop_on(line, dir, srtp_reason(&e)),
        };
        if let Some(rtp) = enterprise.latch(from, rtcp_socket) {
            self.shared.status(|s| match (line, &mut s.video) {
                (VIDEO, Some(video)) => video.1 = Some(rtp),
                _ => s.enterprise_remote = Some(rtp),
            });
        }
        self.forwarded(now, line, dir, rtcp, len, dtmf);
        Action::ToBrowser { dst, len }
    }

    /// Whether [`Self::poll_dtls`] may have something: the driver asks after each batch
    /// and flushes (and re-arms the timer) only then.
    pub(crate) fn has_dtls_output(&self) -> bool {
        self.dtls_pending
    }

    /// The next DTLS datagram for the browser, appended to the cleared `buf`: its
    /// destination and length.
    pub(crate) fn poll_dtls(&mut self, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        if !self.dtls_pending {
            return None;
        }
        let dst = self.dtls_peer.or(self.ice.nominated())?;
        buf.clear();
        let len = self.handshake.as_mut().and_then(|h| h.poll_transmit(buf));
        self.dtls_pending = len.is_some();
        Some((dst, len?))
    }

    /// When [`Self::handle_timeout`] is next due; `None` once ended.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.ended.is_some() {
            return None;
        }
        let mut at = if self.browser_in.is_none() {
            self.setup_deadline
        } else {
            self.last_media + self.timeouts.media
        };
        if let Some(consent) = self.ice.last_consent() {
            at = at.min(consent + self.timeouts.consent);
        }
        if let Some(dtls) = self.handshake.as_ref().and_then(|h| h.poll_timeout()) {
            at = at.min(dtls);
        }
        Some(at)
    }

    /// Runs the timers due at `now`: DTLS retransmission and the session's timeouts.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.ended.is_some() {
            return;
        }
        if let Some(handshake) = &mut self.handshake {
            if handshake.poll_timeout().is_some_and(|t| t <= now) {
                self.dtls_pending = true;
                if let Err(e) = handshake.handle_timeout(now) {
                    self.end(now, EndReason::DtlsFailed(e.to_string()));
                    return;
                }
            }
        }
        if self.browser_in.is_none() && now >= self.setup_deadline {
            self.end(now, EndReason::SetupTimeout);
        } else if self.browser_in.is_some() && now >= self.last_media + self.timeouts.media {
            self.end(now, EndReason::MediaTimeout);
        } else if self
            .ice
            .last_consent()
            .is_some_and(|c| now >= c + self.timeouts.consent)
        {
            self.end(now, EndReason::ConsentExpired);
        }
    }

    /// Ends the session: queues a DTLS close_notify when a handshake exists. Later calls
    /// change nothing. The driver publishes the end (with [`Self::shared`]) once it closed
    /// the sockets, so a session seen as ended has its ports free.
    pub(crate) fn end(&mut self, now: Instant, reason: EndReason) {
        if self.ended.is_some() {
            return;
        }
        if let Some(handshake) = &mut self.handshake {
            handshake.close(now);
            self.dtls_pending = true;
        }
        self.browser_in = None;
        self.browser_out = None;
        self.ended = Some(reason);
    }

    /// What the session shares with the control plane.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn forwarded(
        &mut self,
        now: Instant,
        line: usize,
        dir: Direction,
        rtcp: bool,
        len: usize,
        dtmf: bool,
    ) {
        self.shared.stats.forwarded(dir, rtcp, len);
        if line == VIDEO {
            self.shared.video_stats.forwarded(dir, rtcp, len);
        }
        let since_created = now.saturating_duration_since(self.shared.created);
        self.shared.stats.touched(dir, since_created);
        if dtmf {
            self.shared.stats.add(dir, Counter::Dtmf, 1);
        }
        self.last_media = now;
        if self.phase != Phase::Active {
            self.advance(Phase::Active);
        }
    }

    fn drop(&self, dir: Direction, reason: Counter) -> Action {
        self.shared.stats.dropped(dir, reason);
        Action::Drop
    }

    /// [`Self::drop`], counted on m-line `line` too.
    fn drop_on(&self, line: usize, dir: Direction, reason: Counter) -> Action {
        if line == VIDEO {
            self.shared.video_stats.dropped(dir, reason);
        }
        self.drop(dir, reason)
    }

    /// Moves forward to `phase` and publishes it (never backward).
    fn advance(&mut self, phase: Phase) {
        if phase <= self.phase || self.ended.is_some() {
            return;
        }
        self.phase = phase;
        self.shared.status(|s| s.state = phase.state());
    }
}

/// RTCP rather than RTP on a multiplexed port (RFC 5761 section 4): the second byte is an
/// RTCP packet type, 192..=223 (as RTP it would be payload type 64..=95 with the marker).
pub(crate) fn is_rtcp(packet: &[u8]) -> bool {
    packet.get(1).is_some_and(|b| (192..=223).contains(b))
}

/// The drop counter for an SRTP refusal.
fn srtp_reason(e: &edge_srtp::Error) -> Counter {
    use edge_srtp::Error as E;
    match e {
        E::AuthFailed { .. } => Counter::AuthFailed,
        E::Replayed { .. } | E::TooOld { .. } => Counter::Replayed,
        E::TooShort { .. }
        | E::BadVersion { .. }
        | E::LengthExceedsBuffer { .. }
        | E::NoTailroom { .. } => Counter::Malformed,
        _ => Counter::SrtpOther,
    }
}
