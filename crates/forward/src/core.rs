//! [`SessionCore`]: one session's sans-IO core (ICE-lite responder, DTLS-SRTP toward the
//! browser, the enterprise leg), public so that a test or another runtime can drive it the
//! way quinn-proto's `Connection` or str0m's `Rtc` are driven. The forwarder's mio workers
//! are such a driver.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use edge_srtp::{CryptoAttribute, MasterKey, Outbound};

use crate::forwarder::{
    check_browser, check_enterprise, check_ice_restart, check_rtcp_mux, checked_plan, same_key,
};
use crate::quality::Formats;
use crate::session::{BrowserSetup, Enterprise, IceRestart, Move, Params, Phase, Session, Update};
use crate::snapshot::{Shared, Status};
use crate::{
    BrowserRemote, Counters, EndReason, EnterpriseRemote, Error, MediaPlan, PayloadFormat,
    SessionId, SessionSnapshot, SessionState,
};

pub use crate::session::Timeouts;

/// Bytes of the buffer a STUN response is written to (a Binding success or error response
/// with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT takes under 100).
const STUN_REPLY: usize = 512;

/// ICE credentials: a ufrag and a password (RFC 8839 `a=ice-ufrag`, `a=ice-pwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IceCredentials {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
}

impl IceCredentials {
    /// The pair `ufrag`, `pwd`.
    pub fn new(ufrag: impl Into<String>, pwd: impl Into<String>) -> Self {
        IceCredentials {
            ufrag: ufrag.into(),
            pwd: pwd.into(),
        }
    }
}

/// The enterprise leg as the session starts with it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnterpriseLeg {
    /// RTCP shares the RTP socket and address (RFC 5761); without it RTCP goes out of the
    /// enterprise RTCP socket ([`Socket::EnterpriseRtcp`]).
    pub rtcp_mux: bool,
    /// Accept enterprise media only from the remote's addresses (otherwise the leg latches
    /// the first source of valid media, symmetric RTP).
    pub strict_source: bool,
    /// The relay's own SDES master key (its suite is the leg's SRTP profile) for what it
    /// sends toward the enterprise; `None`: plain RTP.
    pub srtp: Option<MasterKey>,
    /// Where enterprise media goes, when already known ([`SessionCore::move_enterprise`]
    /// gives or changes it later).
    pub remote: Option<EnterpriseRemote>,
}

impl EnterpriseLeg {
    /// A plain-RTP leg with rtcp-mux, not strict, remote not known yet.
    pub fn new() -> Self {
        EnterpriseLeg {
            rtcp_mux: true,
            strict_source: false,
            srtp: None,
            remote: None,
        }
    }
}

impl Default for EnterpriseLeg {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything a [`SessionCore`] is made from. The core draws no random numbers and reads no
/// clock: credentials and keys come in here.
#[derive(Clone)]
#[non_exhaustive]
pub struct SessionParams {
    /// The session's id (in snapshots and logs).
    pub id: SessionId,
    /// The relay's ICE credentials toward the browser.
    pub ice: IceCredentials,
    /// The DTLS configuration: the certificate the relay presents, the SRTP profiles it
    /// offers (the browser leg's SRTP profile is the one DTLS negotiates).
    pub dtls: Arc<edge_dtls::Config>,
    /// SRTP options for every context of the session (replay window).
    pub srtp: edge_srtp::Config,
    /// The session's timeouts.
    pub timeouts: Timeouts,
    /// The public socket's address as advertised (reported in snapshots).
    pub public_addr: SocketAddr,
    /// The enterprise RTP socket's local address: reported in snapshots, and enterprise
    /// remotes must be of its address family.
    pub enterprise_rtp: SocketAddr,
    /// The enterprise leg.
    pub enterprise: EnterpriseLeg,
    /// The browser's description when already known (it offered); otherwise
    /// [`SessionCore::set_browser_remote`] gives its answer later.
    pub browser: Option<BrowserRemote>,
    /// The payload formats of the call, for the call-quality figures (see
    /// [`crate::SessionSpec::payload_formats`]).
    pub payload_formats: Vec<PayloadFormat>,
    /// Directions and the payload-type map; `None`: both `sendrecv`, nothing rewritten.
    pub media: Option<MediaPlan>,
}

impl SessionParams {
    /// Parameters with a plain-RTP, rtcp-mux enterprise leg whose remote is not known yet,
    /// no browser description yet, no payload formats and no media plan; set the fields
    /// that differ.
    pub fn new(
        id: SessionId,
        ice: IceCredentials,
        dtls: Arc<edge_dtls::Config>,
        timeouts: Timeouts,
        public_addr: SocketAddr,
        enterprise_rtp: SocketAddr,
    ) -> Self {
        SessionParams {
            id,
            ice,
            dtls,
            srtp: edge_srtp::Config::default(),
            timeouts,
            public_addr,
            enterprise_rtp,
            enterprise: EnterpriseLeg::new(),
            browser: None,
            payload_formats: Vec::new(),
            media: None,
        }
    }
}

/// A datagram received, in its buffer: `buf[..len]` is the datagram, and the rest of `buf`
/// is tailroom the core may write into (protecting appends an SRTP tag in place; 16 bytes
/// past the datagram suffice).
#[derive(Debug)]
pub struct Datagram<'a> {
    /// Where it came from.
    pub source: SocketAddr,
    /// The buffer holding it; transformed in place.
    pub buf: &'a mut [u8],
    /// Its length.
    pub len: usize,
}

/// What the driver feeds [`SessionCore::handle_input`].
#[derive(Debug)]
pub enum Input<'a> {
    /// A datagram received on the public socket (the browser's side: STUN, DTLS,
    /// SRTP/SRTCP, told apart by the first byte, RFC 7983).
    Browser(Datagram<'a>),
    /// A datagram received on an enterprise socket: [`Socket::EnterpriseRtp`],
    /// [`Socket::EnterpriseRtcp`], or the video line's [`Socket::VideoRtp`] /
    /// [`Socket::VideoRtcp`] (RTP, or SDES-SRTP on the audio line). A [`Socket::Public`]
    /// here is dropped.
    Enterprise(Socket, Datagram<'a>),
}

/// One of a session's sockets: what a datagram arrived on or leaves from. The enterprise
/// side has one leg per m-line: audio, and video when the session carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socket {
    /// The public socket, toward the browser (one for every m-line: BUNDLE).
    Public,
    /// The audio line's enterprise RTP socket (with rtcp-mux, RTCP too).
    EnterpriseRtp,
    /// The audio line's enterprise RTCP socket (without rtcp-mux).
    EnterpriseRtcp,
    /// The video line's enterprise RTP socket (with rtcp-mux, RTCP too).
    VideoRtp,
    /// The video line's enterprise RTCP socket (without rtcp-mux).
    VideoRtcp,
}

impl Socket {
    /// The enterprise socket of m-line `line` (audio 0, video 1), RTP or RTCP.
    pub(crate) fn enterprise(line: usize, rtcp: bool) -> Socket {
        match (line == crate::session::VIDEO, rtcp) {
            (false, false) => Socket::EnterpriseRtp,
            (false, true) => Socket::EnterpriseRtcp,
            (true, false) => Socket::VideoRtp,
            (true, true) => Socket::VideoRtcp,
        }
    }

    /// An enterprise socket's m-line and whether it is the RTCP one; `None` for the public
    /// socket.
    pub(crate) fn leg(self) -> Option<(usize, bool)> {
        use crate::session::{AUDIO, VIDEO};
        match self {
            Socket::Public => None,
            Socket::EnterpriseRtp => Some((AUDIO, false)),
            Socket::EnterpriseRtcp => Some((AUDIO, true)),
            Socket::VideoRtp => Some((VIDEO, false)),
            Socket::VideoRtcp => Some((VIDEO, true)),
        }
    }
}

/// Where a datagram transformed in place goes: send `buf[..len]` of the input's buffer
/// from `socket` to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// The socket to send from.
    pub socket: Socket,
    /// Where to.
    pub dst: SocketAddr,
    /// Bytes to send from the start of the input's buffer.
    pub len: usize,
}

/// What [`SessionCore::handle_input`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a forwarded datagram must be sent"]
pub enum Handled {
    /// Media, transformed in place: send it as [`Forward`] says.
    Forward(Forward),
    /// Consumed (a STUN check, DTLS) or dropped and counted: nothing to send from the
    /// buffer. Answers wait in [`SessionCore::poll_output`].
    Done,
    /// A connectivity check named this session's ufrag with a wrong MESSAGE-INTEGRITY: an
    /// authentication failure from the datagram's source, which the driver reports to its
    /// guard (the buffer still holds the request unchanged; the 401 answer waits in
    /// [`SessionCore::poll_output`]).
    AuthFailure,
}

/// A datagram the core made (a STUN response, a DTLS flight or alert), borrowed from the
/// core until the next call on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The socket to send from (always [`Socket::Public`] today: answers go to the
    /// browser).
    pub socket: Socket,
    /// Where to.
    pub dst: SocketAddr,
    /// The datagram.
    pub contents: &'a [u8],
}

/// Something that happened to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The session reached a new state ([`SessionState::Connecting`] after the first
    /// accepted check, [`SessionState::DtlsConnected`] once SRTP keys are in place,
    /// [`SessionState::Active`] after the first forwarded packet). States only move
    /// forward; one that was passed between two polls is not reported.
    StateChanged(SessionState),
    /// The session ended; it is the last output. The driver closes its sockets.
    Ended(EndReason),
}

/// What [`SessionCore::poll_output`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<'a> {
    /// A datagram to send.
    Transmit(Transmit<'a>),
    /// An event.
    Event(Event),
}

/// One session's sans-IO core: ICE-lite responder, DTLS-SRTP toward the browser, SRTP
/// unprotect and protect in place, the media plan, and the enterprise leg (plain RTP or
/// SDES-SRTP, latching or strict). It owns no socket, reads no clock and draws no random
/// number: datagrams and time come in as arguments, what to send comes out.
///
/// # Methods
/// - Creation: [`SessionCore::new`] from [`SessionParams`].
/// - Inputs: [`SessionCore::handle_input`] with each datagram received on one of the
///   session's sockets ([`Input`]). Media is transformed in the caller's buffer and the
///   call returns where it goes ([`Handled::Forward`]): nothing is copied or allocated.
///   [`SessionCore::handle_timeout`] once [`SessionCore::poll_timeout`] has passed.
/// - Updates from the signalling: [`SessionCore::set_browser_remote`] (the browser's
///   answer), [`SessionCore::move_enterprise`] (the enterprise remote, new or moved),
///   [`SessionCore::restart_ice`], [`SessionCore::set_media_plan`], [`SessionCore::close`].
/// - Outputs: after every input, timeout or update, drain [`SessionCore::poll_output`]
///   until `None` (STUN answers, DTLS flights, then events; the core holds one STUN answer
///   at a time, so drain before the next input), then read [`SessionCore::poll_timeout`].
///   After [`Event::Ended`] the core does nothing more: drop it.
/// - Getters: [`SessionCore::state`], [`SessionCore::counters`],
///   [`SessionCore::snapshot`], [`SessionCore::ended`].
pub struct SessionCore {
    session: Session,
    /// The STUN answer waiting in `reply[..len]` for `dst`.
    reply: Box<[u8]>,
    reply_pending: Option<(SocketAddr, usize)>,
    /// DTLS datagrams are written here (grown once, at the first flight).
    dtls_buf: Vec<u8>,
    /// The last state [`Event::StateChanged`] reported.
    published: Phase,
    /// Whether [`Event::Ended`] was reported.
    end_published: bool,
    /// The enterprise remote's SDES key in force, as [`Self::move_enterprise`] needs it
    /// (sessions the forwarder makes leave it to the control plane: `None`).
    enterprise_key: Option<CryptoAttribute>,
}

impl std::fmt::Debug for SessionCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCore")
            .field("id", &self.shared().id)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl SessionCore {
    /// A session in state [`SessionState::New`] at `now`, checking what `params` says about
    /// the remotes and the media plan.
    ///
    /// # Errors
    /// [`Error::InvalidRemote`] for an unusable browser or enterprise description (bad ICE
    /// credentials, no fingerprint, an enterprise address of the other family, a key
    /// where the leg is plain RTP or none where it is SDES) or a conflicting payload map;
    /// [`Error::Srtp`] when an SRTP context cannot be made from a key.
    pub fn new(now: Instant, params: SessionParams) -> Result<SessionCore, Error> {
        let browser = params
            .browser
            .as_ref()
            .map(|b| check_browser(b, false))
            .transpose()?;
        if let Some(plan) = &params.media {
            checked_plan(plan)?;
        }
        let leg = &params.enterprise;
        let sdes = leg.srtp.is_some();
        let local = params.enterprise_rtp;
        let inbound = leg
            .remote
            .as_ref()
            .map(|r| check_enterprise(r, sdes, local.ip(), &params.srtp))
            .transpose()?;
        let outbound = leg
            .srtp
            .as_ref()
            .map(|key| Outbound::new(key, &params.srtp))
            .transpose()?;
        let mut enterprise = Enterprise::new(leg.rtcp_mux, leg.strict_source, outbound);
        if let (Some(remote), Some(inbound)) = (&leg.remote, inbound) {
            enterprise.set_remote(remote.rtp, remote.rtcp, inbound.map(|b| *b));
        }
        let shared = Shared::new(
            params.id,
            now,
            params.public_addr,
            local,
            None,
            0,
            Status {
                state: SessionState::New,
                browser_addr: None,
                enterprise_remote: leg.remote.as_ref().map(|r| r.rtp),
                ended_at: None,
                browser_known: browser.is_some(),
                dtls_started: None,
                connected_at: None,
                video: None,
            },
        )
        .with_enterprise_ports(if leg.rtcp_mux { 1 } else { 2 });
        let enterprise_key = leg.remote.as_ref().and_then(|r| r.crypto.clone());
        let mut session = Session::new(
            now,
            Params {
                shared: Arc::new(shared),
                ice_ufrag: params.ice.ufrag,
                ice_pwd: params.ice.pwd,
                dtls: params.dtls,
                srtp: params.srtp,
                timeouts: params.timeouts,
                enterprise,
                formats: Formats::new(&params.payload_formats),
                media: params.media,
                video: None,
            },
        );
        if let Some(browser) = browser {
            session.set_browser_remote(now, browser);
        }
        let mut core = SessionCore::from_session(session);
        core.enterprise_key = enterprise_key;
        Ok(core)
    }

    /// Wraps a session the control plane made and checked (the forwarder's path: it keeps
    /// the remotes' facts itself and sends checked updates).
    pub(crate) fn from_session(session: Session) -> SessionCore {
        SessionCore {
            session,
            reply: vec![0; STUN_REPLY].into_boxed_slice(),
            reply_pending: None,
            dtls_buf: Vec::new(),
            published: Phase::New,
            end_published: false,
            enterprise_key: None,
        }
    }

    /// Handles one datagram received at `now`, in place: media is unprotected, rewritten
    /// by the media plan and protected in `buf`, and [`Handled::Forward`] says where it
    /// goes; a STUN check is answered and DTLS is consumed (answers in
    /// [`Self::poll_output`]). Anything malformed, unexpected or unauthenticated is
    /// dropped and counted ([`Self::counters`]); no input makes it panic. Once the session
    /// ended, every input is ignored.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Handled {
        use crate::session::Action;
        if self.session.ended().is_some() {
            return Handled::Done;
        }
        let action = match input {
            Input::Browser(Datagram { source, buf, len }) => {
                let len = len.min(buf.len());
                self.session
                    .handle_browser(now, source, buf, len, &mut self.reply)
            }
            Input::Enterprise(socket, Datagram { source, buf, len }) => {
                let Some((line, rtcp_socket)) = socket.leg() else {
                    return Handled::Done;
                };
                let len = len.min(buf.len());
                self.session
                    .handle_enterprise(now, source, line, rtcp_socket, buf, len)
            }
        };
        match action {
            Action::Drop => Handled::Done,
            Action::ToEnterprise {
                line,
                rtcp_socket,
                dst,
                len,
            } => Handled::Forward(Forward {
                socket: Socket::enterprise(line, rtcp_socket),
                dst,
                len,
            }),
            Action::ToBrowser { dst, len } => Handled::Forward(Forward {
                socket: Socket::Public,
                dst,
                len,
            }),
            Action::Reply { dst, len } => {
                self.reply_pending = Some((dst, len));
                Handled::Done
            }
            Action::AuthFailure { dst, len } => {
                self.reply_pending = Some((dst, len));
                Handled::AuthFailure
            }
        }
    }

    /// The next thing to send or report; `None` when there is nothing (see the type's docs
    /// for when to call it). Allocates nothing and is cheap when nothing is pending.
    pub fn poll_output(&mut self) -> Option<Output<'_>> {
        if let Some((dst, len)) = self.reply_pending.take() {
            return Some(Output::Transmit(Transmit {
                socket: Socket::Public,
                dst,
                contents: &self.reply[..len],
            }));
        }
        if self.session.has_dtls_output() {
            if let Some((dst, len)) = self.session.poll_dtls(&mut self.dtls_buf) {
                return Some(Output::Transmit(Transmit {
                    socket: Socket::Public,
                    dst,
                    contents: &self.dtls_buf[..len],
                }));
            }
        }
        if self.end_published {
            return None;
        }
        let phase = self.session.phase();
        if phase != self.published && self.session.ended().is_none() {
            self.published = phase;
            return Some(Output::Event(Event::StateChanged(phase.state())));
        }
        let reason = self.session.ended()?.clone();
        self.end_published = true;
        Some(Output::Event(Event::Ended(reason)))
    }

    /// When [`Self::handle_timeout`] is next due (a DTLS retransmission, the setup, media
    /// or consent timeout); `None` once the session ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    /// Runs the timers due at `now` (a time at or after [`Self::poll_timeout`]; earlier
    /// changes nothing): DTLS retransmissions, and the timeouts that end the session with
    /// their [`EndReason`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    /// Gives the browser's answer (a session created without [`SessionParams::browser`]):
    /// its ICE ufrag, fingerprints and `a=setup` (`active` or `passive`).
    ///
    /// # Errors
    /// [`Error::InvalidRemote`] for an unusable description, or when the browser's
    /// description is already known (an ICE restart is [`Self::restart_ice`]).
    pub fn set_browser_remote(
        &mut self,
        now: Instant,
        remote: &BrowserRemote,
    ) -> Result<(), Error> {
        let setup = check_browser(remote, true)?;
        if self.session.browser_fingerprints().is_some() {
            return Err(Error::InvalidRemote {
                side: crate::Side::Public,
                reason: "the browser's description was already given".into(),
            });
        }
        self.apply_browser(now, setup);
        Ok(())
    }

    /// Gives or changes the enterprise remote (a transfer, a re-INVITE): media goes there
    /// from now on, and the next enterprise packet starts a new stream toward the browser.
    /// With SDES the remote's key is required: the same key as in force keeps the SRTP
    /// context; a new one makes a new inbound context, and the browser's stream goes on
    /// toward the enterprise under `renew_ssrc` (drawn by the caller: the core has no
    /// random source) so that a receiver with a fresh context can follow it.
    ///
    /// # Errors
    /// [`Error::InvalidRemote`] for an unusable remote (as [`Self::new`], and rtcp-mux
    /// turned off on a leg created with it: it has no RTCP socket); [`Error::Srtp`].
    pub fn move_enterprise(
        &mut self,
        now: Instant,
        remote: &EnterpriseRemote,
        renew_ssrc: u32,
    ) -> Result<(), Error> {
        check_rtcp_mux(remote, self.session.shared().enterprise_ports)?;
        let local = self.session.shared().enterprise_rtp.ip();
        let srtp = self.session.srtp_config();
        let mut inbound = check_enterprise(remote, self.session.sdes(), local, srtp)?;
        let same = match (&remote.crypto, &self.enterprise_key) {
            (Some(new), Some(old)) => same_key(new, old),
            _ => false,
        };
        let renew_ssrc = if same {
            inbound = None;
            None
        } else {
            self.enterprise_key.is_some().then_some(renew_ssrc)
        };
        if let Some(key) = &remote.crypto {
            self.enterprise_key = Some(key.clone());
        }
        self.apply_update(
            now,
            Update {
                enterprise: Some(Move {
                    rtp: remote.rtp,
                    rtcp: remote.rtcp,
                    inbound,
                    mux: remote.rtcp_mux,
                    renew_ssrc,
                }),
                ..Update::default()
            },
        );
        Ok(())
    }

    /// An ICE restart: the relay's new credentials `local` (drawn by the caller) and the
    /// browser's new description, whose fingerprints must be the ones in force (DTLS and
    /// SRTP go on). Checks must use the new credentials from now on.
    ///
    /// # Errors
    /// [`Error::InvalidRemote`]: an unusable description, other fingerprints, or no
    /// browser description known yet.
    pub fn restart_ice(
        &mut self,
        now: Instant,
        local: IceCredentials,
        remote: &BrowserRemote,
    ) -> Result<(), Error> {
        check_ice_restart(self.session.browser_fingerprints(), remote)?;
        self.apply_update(
            now,
            Update {
                ice: Some(IceRestart {
                    local_ufrag: local.ufrag,
                    local_pwd: local.pwd,
                    remote_ufrag: remote.ice_ufrag.clone(),
                }),
                ..Update::default()
            },
        );
        Ok(())
    }

    /// Puts a media plan (directions, payload-type map) in force.
    ///
    /// # Errors
    /// [`Error::InvalidRemote`] for a conflicting payload map.
    pub fn set_media_plan(&mut self, now: Instant, plan: &MediaPlan) -> Result<(), Error> {
        checked_plan(plan)?;
        self.apply_update(
            now,
            Update {
                media: Some(plan.clone()),
                ..Update::default()
            },
        );
        Ok(())
    }

    /// Ends the session ([`EndReason::Removed`]); a DTLS close_notify and
    /// [`Event::Ended`] follow in [`Self::poll_output`]. An ended session stays ended.
    pub fn close(&mut self, now: Instant) {
        self.end(now, EndReason::Removed);
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        match self.session.ended() {
            Some(reason) => SessionState::Ended {
                reason: reason.clone(),
            },
            None => self.session.phase().state(),
        }
    }

    /// Why the session ended, once it has.
    pub fn ended(&self) -> Option<&EndReason> {
        self.session.ended()
    }

    /// The session's counters now.
    pub fn counters(&self) -> Counters {
        self.session.stats().snapshot()
    }

    /// The session's snapshot at `now`: state, addresses, counters, call quality.
    pub fn snapshot(&self, now: Instant) -> SessionSnapshot {
        let mut snapshot = self.session.shared().snapshot(now);
        if self.session.ended().is_some() {
            snapshot.state = self.state();
        }
        snapshot
    }

    /// Applies a browser description the control plane checked.
    pub(crate) fn apply_browser(&mut self, now: Instant, setup: BrowserSetup) {
        self.session.set_browser_remote(now, setup);
    }

    /// Applies an update the control plane checked.
    pub(crate) fn apply_update(&mut self, now: Instant, update: Update) {
        self.session.update(now, update);
    }

    /// Ends the session with `reason` (the first reason wins).
    pub(crate) fn end(&mut self, now: Instant, reason: EndReason) {
        self.session.end(now, reason);
    }

    /// What the session shares with the control plane.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.session.shared()
    }
}
