//! What the control plane says about a session ([`SessionSpec`] and the remotes) and what
//! the relay answers ([`SessionInfo`]).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use edge_dtls::Fingerprint;
use edge_srtp::{CryptoAttribute, Profile};
use serde::Serialize;

use crate::PayloadFormat;

/// A new session: what is known about either side when it is made.
///
/// The browser offered: `browser` is `Some` (its ufrag, pwd, fingerprints and `a=setup`,
/// usually `actpass`), and the relay answers `setup:passive`. The enterprise offered:
/// `browser` is `None`, the relay's browser offer says `setup:actpass`, and the browser's
/// answer arrives later through [`crate::Forwarder::set_browser_remote`]. Likewise `enterprise`
/// and [`crate::Forwarder::set_enterprise_remote`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SessionSpec {
    /// The browser's ICE credentials and DTLS identity, when already known.
    pub browser: Option<BrowserRemote>,
    /// Where enterprise media goes, when already known.
    pub enterprise: Option<EnterpriseRemote>,
    /// SDES-SRTP on the enterprise leg; `None` for plain RTP.
    pub enterprise_srtp: Option<EnterpriseCrypto>,
    /// Whether the enterprise leg multiplexes RTCP on the RTP port (RFC 5761). Without it
    /// the leg has two sockets, RTP on an even port and RTCP on the next.
    pub rtcp_mux_enterprise: bool,
    /// Accept enterprise media only from the remote's addresses; `None` takes the relay's
    /// `strict-source` setting.
    pub strict_source: Option<bool>,
    /// The named enterprise connection (a key of `forward.enterprise.connections`) whose
    /// pinned tuple the enterprise leg binds; `None` for the default leg.
    pub connection: Option<String>,
    /// The payload formats the call uses (from the SDP's `a=rtpmap`), for the call-quality
    /// figures: clock rates for jitter, codecs for the MOS. Empty: the static payload types
    /// (PCMU, PCMA, G.722) only; streams of other payload types get no jitter. At most
    /// the first 16 are kept. Payload types are the browser's numbering (the forwarder
    /// also counts RFC 4733 DTMF by them: `telephone-event` here).
    pub payload_formats: Vec<PayloadFormat>,
    /// Directions and payload-type map from the start; `None`: both sides `sendrecv`, no
    /// payload type rewritten. [`crate::Forwarder::update_session`] changes it later.
    pub media: Option<MediaPlan>,
    /// A video m-line bundled with the audio one on the browser's one transport; `None`:
    /// audio only. It gets its own enterprise port pair from the pinned range (refused on
    /// a named connection and with SDES-SRTP: [`crate::Error::InvalidRemote`]).
    pub video: Option<VideoSpec>,
}

impl SessionSpec {
    /// A spec with nothing known yet: plain RTP, two enterprise sockets, the configured
    /// strict-source default. Fill in the fields that are known.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The browser's side of the session, from its SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrowserRemote {
    /// `a=ice-ufrag` (4 to 256 characters, RFC 8839).
    pub ice_ufrag: String,
    /// `a=ice-pwd` (22 to 256 characters, RFC 8839).
    pub ice_pwd: String,
    /// Every `a=fingerprint` (the strongest hash function offered is the one checked).
    pub fingerprints: Vec<Fingerprint>,
    /// `a=setup`: `actpass` or `active` in an offer, `active` or `passive` in an answer.
    pub setup: String,
}

impl BrowserRemote {
    /// The browser's ICE credentials, fingerprints and `a=setup` value.
    pub fn new(
        ice_ufrag: impl Into<String>,
        ice_pwd: impl Into<String>,
        fingerprints: Vec<Fingerprint>,
        setup: impl Into<String>,
    ) -> Self {
        BrowserRemote {
            ice_ufrag: ice_ufrag.into(),
            ice_pwd: ice_pwd.into(),
            fingerprints,
            setup: setup.into(),
        }
    }
}

/// The enterprise side's media address, from its SDP or the API request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnterpriseRemote {
    /// Where RTP goes (`c=` address and `m=` port).
    pub rtp: SocketAddr,
    /// Where RTCP goes without rtcp-mux (`a=rtcp`); `None` means the RTP port + 1 (or the
    /// RTP address itself with rtcp-mux).
    pub rtcp: Option<SocketAddr>,
    /// The remote's SDES key (`a=crypto`) it protects its media with; required exactly when
    /// the session has [`SessionSpec::enterprise_srtp`].
    pub crypto: Option<CryptoAttribute>,
    /// A change of rtcp-mux (RFC 5761) in a re-offer or answer; `None` keeps what is in
    /// force. Turning it on makes the RTP socket carry RTCP too; turning it off needs the
    /// leg to have been bound with its own RTCP socket (created without rtcp-mux).
    pub rtcp_mux: Option<bool>,
}

impl EnterpriseRemote {
    /// A plain-RTP remote at `rtp` (RTCP on the next port, or muxed).
    pub fn new(rtp: SocketAddr) -> Self {
        EnterpriseRemote {
            rtp,
            rtcp: None,
            crypto: None,
            rtcp_mux: None,
        }
    }
}

/// The video m-line of a BUNDLE (RFC 9143): audio and video share the browser's one
/// ICE/DTLS/SRTP transport and public port; toward the enterprise, video has its own RTP
/// (and RTCP) socket from the pinned range, its own remote, directions and payload types.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VideoSpec {
    /// Where enterprise video goes, when already known (its `crypto` must be `None`).
    pub enterprise: Option<EnterpriseRemote>,
    /// Whether the enterprise video leg multiplexes RTCP on its RTP port.
    pub rtcp_mux_enterprise: bool,
    /// The video line's directions and payload-type map (`None`: `sendrecv`, unchanged).
    pub media: Option<MediaPlan>,
    /// How the browser's packets are told apart.
    pub demux: BundleDemux,
}

impl VideoSpec {
    /// A video line with nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }
}

/// How media from the browser's one BUNDLE transport is split between the m-lines, tried
/// in order: the MID header extension (RFC 9143 section 9.2, `urn:ietf:params:rtp-hdrext:
/// sdes:mid`) when negotiated, learning the SSRC it came with; the SSRCs the browser
/// declared (`a=ssrc`) or that were learned; the payload type when only one m-line uses
/// it. A packet none of them places is dropped and counted (`unknown_ssrc`). Learning is
/// bounded: at most [`BundleDemux::MAX_SSRCS`] SSRCs (declared and learned together) are
/// kept, later ones are placed per packet by their MID and never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleDemux {
    /// The `a=extmap` id (1 to 14 one-byte, 1 to 255 two-byte) of the MID extension.
    pub mid_extension: Option<u8>,
    /// The audio m-line's identification.
    pub audio: LineIds,
    /// The video m-line's.
    pub video: LineIds,
}

impl BundleDemux {
    /// The most SSRCs the demultiplexer keeps.
    pub const MAX_SSRCS: usize = 16;
}

/// What identifies one m-line's packets in a BUNDLE, from the browser's SDP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineIds {
    /// `a=mid` (at most 16 bytes, RFC 9143 allows 1 to 16 `token` characters in practice).
    pub mid: Option<String>,
    /// `a=ssrc` ids.
    pub ssrcs: Vec<u32>,
    /// The payload types the line uses (the browser's numbering).
    pub payload_types: Vec<u8>,
}

impl LineIds {
    /// A line's mid, SSRCs and payload types.
    pub fn new(mid: Option<String>, ssrcs: Vec<u32>, payload_types: Vec<u8>) -> Self {
        LineIds {
            mid,
            ssrcs,
            payload_types,
        }
    }
}

/// A change of the video m-line in a running session ([`SessionUpdate::video`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VideoChange {
    /// Video is added (its enterprise ports are bound now) or, when present, its remote,
    /// directions and demux change (the ports stay).
    Set(Box<VideoSpec>),
    /// Video is removed (port 0): its enterprise ports are freed.
    Remove,
}

/// A change to a running session ([`crate::Forwarder::update_session`]), applied by its worker
/// between two batches; nothing that is not named changes.
///
/// Start from `SessionUpdate::default()` and set the fields that change.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SessionUpdate {
    /// The enterprise leg moves (transfer, re-INVITE): new remote RTP (and RTCP) address,
    /// new SDES key (a new inbound SRTP context; the relay's own key stays), rtcp-mux on or
    /// off. Media from the previous remote's addresses is dropped afterwards
    /// (`unexpected_source`), and the next packet from the enterprise starts a new stream
    /// whatever its SSRC and sequence numbers: the browser sees one continuous stream.
    /// With SDES, the remote's `a=crypto` repeated unchanged keeps the SRTP context in force
    /// (rollover counter included, RFC 4568 section 7.1.4); a new key makes a new inbound
    /// context, and the browser's stream goes on toward the enterprise under a new SSRC so
    /// that a receiver with a fresh context can follow it.
    pub enterprise: Option<EnterpriseRemote>,
    /// An ICE restart from the browser: its new ufrag and pwd. The fingerprints must equal
    /// the ones in force (DTLS and SRTP are kept); different ones are
    /// [`crate::Error::InvalidRemote`] naming `a=fingerprint`. `setup` is ignored (the DTLS
    /// association stays). The relay answers with new local ICE credentials
    /// ([`SessionInfo::ice_ufrag`], [`SessionInfo::ice_pwd`]).
    pub browser: Option<BrowserRemote>,
    /// Per-leg directions and the payload-type map; `None` keeps what is in force.
    pub media: Option<MediaPlan>,
    /// Adds, changes or removes the video m-line; `None` keeps it as it is.
    pub video: Option<VideoChange>,
}

/// An SDP media direction (RFC 3264 section 5.1), from the point of view of the side whose
/// SDP carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`: it sends, and receives nothing.
    SendOnly,
    /// `a=recvonly`: it receives, and sends nothing.
    RecvOnly,
    /// `a=inactive`: neither (hold).
    Inactive,
}

impl Direction {
    /// Whether the side may send media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side may receive media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction of an SDP attribute name (`sendrecv`, `sendonly`, `recvonly`,
    /// `inactive`; case-insensitive).
    pub fn from_sdp(name: &str) -> Option<Direction> {
        [
            ("sendrecv", Direction::SendRecv),
            ("sendonly", Direction::SendOnly),
            ("recvonly", Direction::RecvOnly),
            ("inactive", Direction::Inactive),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, d)| d)
    }
}

/// What each side may send, from its own SDP's point of view, and how payload types map.
///
/// RTP media is forwarded from one side to the other only when the sender's direction
/// lets it send and the receiver's lets it receive; what is refused is dropped and counted
/// (`direction`). RTCP always passes (RFC 3264 section 5.1: it continues on hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaPlan {
    /// The browser's direction (`sendonly`: it sends, the relay sends nothing to it).
    pub browser: Direction,
    /// The enterprise side's direction.
    pub enterprise: Direction,
    /// `(browser PT, enterprise PT)` pairs for the same codec (opus, PCMU, PCMA, G.722,
    /// telephone-event). A payload type not listed passes unchanged; the forwarder rewrites
    /// the PT byte in place both ways. Each PT is 0 to 127 and appears in at most one pair
    /// on its side (a conflicting map is [`crate::Error::InvalidRemote`]).
    pub payload_map: Vec<(u8, u8)>,
}

impl MediaPlan {
    /// Both directions and the payload-type map.
    pub fn new(browser: Direction, enterprise: Direction, payload_map: Vec<(u8, u8)>) -> Self {
        MediaPlan {
            browser,
            enterprise,
            payload_map,
        }
    }
}

/// SDES-SRTP on the enterprise leg (RFC 4568): the suite and tag of the key the relay
/// generates for what it sends. The remote's key arrives in [`EnterpriseRemote::crypto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnterpriseCrypto {
    /// The crypto suite of the relay's key (in an answer: the suite of the offer's chosen
    /// line).
    pub suite: Profile,
    /// The `a=crypto` tag (in an answer: the tag of the offer's chosen line).
    pub tag: u32,
}

impl EnterpriseCrypto {
    /// SDES with `suite` under `tag`.
    pub fn new(suite: Profile, tag: u32) -> Self {
        EnterpriseCrypto { suite, tag }
    }
}

/// A new session as seen from outside: everything the control plane needs to write the
/// relay's SDP for either side.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's id.
    pub id: SessionId,
    /// The public candidate: the advertised address and the public socket's port
    /// (`a=candidate ... typ host`, and `c=`/`m=` of the browser SDP).
    pub public_addr: SocketAddr,
    /// The relay's `a=ice-ufrag` toward the browser.
    pub ice_ufrag: String,
    /// The relay's `a=ice-pwd` toward the browser.
    pub ice_pwd: String,
    /// The relay's `a=fingerprint` (sha-256 of its DTLS certificate).
    pub fingerprint: Fingerprint,
    /// The relay's `a=setup`: `passive` (or `active`) when answering a browser offer,
    /// `actpass` when offering.
    pub setup: &'static str,
    /// The enterprise RTP socket's address (`c=`/`m=` of the enterprise SDP).
    pub enterprise_rtp: SocketAddr,
    /// The enterprise RTCP socket's address without rtcp-mux (`a=rtcp`); `None` with it.
    pub enterprise_rtcp: Option<SocketAddr>,
    /// The named enterprise connection the leg is bound to, if the spec named one.
    pub connection: Option<String>,
    /// The relay's whole `a=crypto` line for the enterprise SDP,
    /// `a=crypto:<tag> <suite> inline:<base64 key||salt>`, with SDES.
    pub enterprise_crypto: Option<String>,
    /// The video m-line's enterprise sockets, when the session carries video.
    pub video: Option<VideoPorts>,
}

/// The enterprise sockets of a video m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoPorts {
    /// The video RTP socket's address (`m=video` port of the enterprise SDP).
    pub rtp: SocketAddr,
    /// The video RTCP socket's address without rtcp-mux (`a=rtcp`); `None` with it.
    pub rtcp: Option<SocketAddr>,
}

/// A session's identity: 64 random bits, written as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// A string that is not 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a session id (16 hex digits)")]
pub struct InvalidSessionId(pub String);

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidSessionId(s.to_owned()));
        }
        u64::from_str_radix(s, 16)
            .map(SessionId)
            .map_err(|_| InvalidSessionId(s.to_owned()))
    }
}

impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_round_trip_as_hex() {
        let id = SessionId(0x00ab_cdef_0123_4567);
        assert_eq!(id.to_string(), "00abcdef01234567");
        assert_eq!("00abcdef01234567".parse::<SessionId>().unwrap(), id);
        assert_eq!("00ABCDEF01234567".parse::<SessionId>().unwrap(), id);
        for bad in [
            "",
            "abc",
            "00abcdef0123456g",
            "+0abcdef01234567",
            "00abcdef012345678",
        ] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad}");
        }
    }
}
