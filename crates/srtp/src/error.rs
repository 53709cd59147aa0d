//! The crate's one error type.

use std::fmt;

use thiserror::Error;

use crate::Profile;

/// Which of the two packet kinds an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// An SRTP (RTP) packet.
    Rtp,
    /// An SRTCP (RTCP) packet.
    Rtcp,
}

impl fmt::Display for PacketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketKind::Rtp => "SRTP",
            PacketKind::Rtcp => "SRTCP",
        })
    }
}

/// Everything that can go wrong in edge-srtp.
///
/// Per-packet errors carry only integers, so building one costs nothing; the peer-fault
/// variants (a packet to drop and count) come first, then API misuse, then set-up errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The packet is shorter than its headers and trailer require.
    #[error("{kind} packet too short: {len} bytes, at least {min} needed")]
    TooShort {
        /// Packet kind.
        kind: PacketKind,
        /// Length received.
        len: usize,
        /// Minimum length for this packet's headers and the profile's trailer.
        min: usize,
    },
    /// The fixed header is not RTP/RTCP version 2.
    #[error("{kind} packet has version {version}, expected 2")]
    BadVersion {
        /// Packet kind.
        kind: PacketKind,
        /// The version field found.
        version: u8,
    },
    /// The authentication tag (HMAC or GCM) does not match: tampered, wrong key or not SRTP.
    #[error("{kind} authentication failed for SSRC {ssrc:#010x}")]
    AuthFailed {
        /// Packet kind.
        kind: PacketKind,
        /// SSRC of the packet.
        ssrc: u32,
    },
    /// The packet index was already received (unprotect) or already used (protect).
    #[error("{kind} index {index} of SSRC {ssrc:#010x} was already seen")]
    Replayed {
        /// Packet kind.
        kind: PacketKind,
        /// SSRC of the packet.
        ssrc: u32,
        /// The 48-bit SRTP or 31-bit SRTCP index.
        index: u64,
    },
    /// The packet index lies behind the replay window.
    #[error("{kind} index {index} of SSRC {ssrc:#010x} is older than the replay window")]
    TooOld {
        /// Packet kind.
        kind: PacketKind,
        /// SSRC of the packet.
        ssrc: u32,
        /// The 48-bit SRTP or 31-bit SRTCP index.
        index: u64,
    },
    /// A new SSRC arrived but the context already tracks its configured maximum.
    #[error("SSRC {ssrc:#010x} refused: the context already tracks its limit of {limit} SSRCs")]
    SsrcLimit {
        /// The refused SSRC.
        ssrc: u32,
        /// The configured limit ([`crate::Config::max_ssrcs`]).
        limit: usize,
    },
    /// The 48-bit SRTP or 31-bit SRTCP index space of an SSRC is used up: re-key.
    #[error("{kind} index space of SSRC {ssrc:#010x} exhausted: the master key must be changed")]
    KeyExhausted {
        /// Packet kind.
        kind: PacketKind,
        /// SSRC of the stream.
        ssrc: u32,
    },
    /// The crypto backend refused to seal the packet (it exceeds AES-GCM's length bound).
    #[error("the crypto backend refused to seal the {0} packet")]
    Backend(PacketKind),
    /// API misuse: the buffer has no room after the packet for the tag (and SRTCP trailer).
    #[error("no tailroom for the {kind} trailer: {needed} bytes needed, {available} available")]
    NoTailroom {
        /// Packet kind.
        kind: PacketKind,
        /// Bytes the profile appends.
        needed: usize,
        /// Bytes after the packet in the buffer.
        available: usize,
    },
    /// API misuse: the packet length passed exceeds the buffer.
    #[error("packet length {len} exceeds the buffer of {capacity} bytes")]
    LengthExceedsBuffer {
        /// The length passed.
        len: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// The master key has the wrong length for the profile.
    #[error("master key for {profile} must be {expected} bytes, got {actual}")]
    MasterKeyLength {
        /// The profile.
        profile: Profile,
        /// Length the profile requires.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// The master salt has the wrong length for the profile.
    #[error("master salt for {profile} must be {expected} bytes, got {actual}")]
    MasterSaltLength {
        /// The profile.
        profile: Profile,
        /// Length the profile requires.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// A DTLS-SRTP protection-profile id this crate does not implement.
    #[error("unsupported DTLS-SRTP protection profile {0:#06x}")]
    UnknownDtlsProfile(u16),
    /// A configuration value out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// An SDES `a=crypto` attribute that cannot be parsed.
    #[error("malformed a=crypto attribute: {0}")]
    MalformedCrypto(&'static str),
    /// An SDES crypto suite this crate does not implement.
    #[error("unsupported SDES crypto suite {0:?}")]
    UnknownCryptoSuite(String),
    /// An SDES feature this crate does not implement (MKI, key derivation rate, FEC,
    /// unencrypted or unauthenticated SRTP, several keys).
    #[error("unsupported SDES parameter {0:?}")]
    UnsupportedSdesParam(String),
    /// Header-extension encryption (RFC 6904) was negotiated; it is not implemented.
    #[error("encrypted RTP header extensions (RFC 6904) are not supported")]
    EncryptedHeaderExtensions,
}
