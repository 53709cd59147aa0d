//! The crate's one error type.

/// Everything that can go wrong decoding or encoding STUN and ChannelData.
///
/// Variants fall in two groups: the peer sent something malformed (decoding), or the caller
/// asked for something impossible (encoding: a buffer too small, a value out of range). The
/// enum is cheap to copy and allocates nothing; `attr` fields carry the attribute type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than a header (STUN: 20, ChannelData: 4) or than the length it announces.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the header says the message occupies (or the fixed header size).
        needed: usize,
        /// Bytes actually present.
        available: usize,
    },
    /// The two most significant bits of a STUN message are not zero: not a STUN message.
    #[error("not a STUN message: first two bits are not zero")]
    NotStun,
    /// The magic cookie is not 0x2112A442 (a classic RFC 3489 message or garbage).
    #[error("bad magic cookie {0:#010x}")]
    MagicCookie(u32),
    /// The STUN message length field is not a multiple of 4.
    #[error("STUN message length {0} is not a multiple of 4")]
    UnalignedLength(usize),
    /// The buffer holds more bytes than the header's length field covers.
    #[error("STUN message length says {header} bytes, the buffer holds {actual}")]
    TrailingBytes {
        /// Total size according to the header (20 + length field).
        header: usize,
        /// Size of the buffer given to the parser.
        actual: usize,
    },
    /// An attribute's TLV runs past the end of the message.
    #[error("attribute {attr:#06x} runs past the end of the message")]
    AttributeTruncated {
        /// The attribute type.
        attr: u16,
    },
    /// An attribute's value has a length its type does not allow.
    #[error("attribute {attr:#06x} has invalid length {len}")]
    AttributeLength {
        /// The attribute type.
        attr: u16,
        /// The offending value length (decoding) or requested length (encoding).
        len: usize,
    },
    /// An attribute's value is malformed (bad address family, reserved bits, ...).
    #[error("attribute {attr:#06x} has an invalid value")]
    AttributeValue {
        /// The attribute type.
        attr: u16,
    },
    /// A text attribute (USERNAME, REALM, NONCE, SOFTWARE, reason phrase) is not UTF-8.
    #[error("attribute {attr:#06x} is not valid UTF-8")]
    AttributeUtf8 {
        /// The attribute type.
        attr: u16,
    },
    /// An attribute follows FINGERPRINT, which must be the last attribute.
    #[error("attribute {attr:#06x} follows FINGERPRINT")]
    AttributeAfterFingerprint {
        /// The attribute type found (decoding) or being added (encoding).
        attr: u16,
    },
    /// The encoder was asked for an attribute after MESSAGE-INTEGRITY(-SHA256), where
    /// receivers would ignore it (only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may follow).
    #[error("attribute {attr:#06x} would follow MESSAGE-INTEGRITY and be ignored")]
    AttributeAfterIntegrity {
        /// The attribute type being added.
        attr: u16,
    },
    /// FINGERPRINT does not match the message's CRC-32.
    #[error("FINGERPRINT does not match the message")]
    BadFingerprint,
    /// The message carries no MESSAGE-INTEGRITY (or MESSAGE-INTEGRITY-SHA256) to verify.
    #[error("the message has no {0}")]
    NoIntegrity(&'static str),
    /// MESSAGE-INTEGRITY (or -SHA256) does not match the key.
    #[error("{0} does not match the key")]
    IntegrityMismatch(&'static str),
    /// An error code outside 300..=699 (ERROR-CODE, ADDRESS-ERROR-CODE).
    #[error("error code {0} is outside 300..=699")]
    ErrorCode(u16),
    /// A method number that does not fit the 12 bits STUN gives it.
    #[error("method {0:#x} does not fit in 12 bits")]
    Method(u16),
    /// A channel number outside [`crate::CHANNEL_NUMBERS`] (0x4000..=0x7FFF).
    #[error("channel number {0:#06x} is outside 0x4000..=0x7FFF")]
    ChannelNumber(u16),
    /// A ChannelData payload longer than the 65535 bytes the length field can say.
    #[error("ChannelData payload of {0} bytes exceeds 65535")]
    ChannelDataLength(usize),
    /// A ChannelData datagram longer than its frame plus padding to 4 bytes.
    #[error("ChannelData frame of {frame} bytes in a datagram of {actual}")]
    ChannelDataTrailing {
        /// Frame size with padding (header + length rounded up to 4).
        frame: usize,
        /// Datagram size.
        actual: usize,
    },
    /// A stream (TURN over TCP/TLS) does not start with a STUN message or a ChannelData frame.
    #[error("stream does not start with STUN or ChannelData (first byte {0:#04x})")]
    StreamGarbage(u8),
    /// The caller's buffer cannot hold what is being encoded.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the encoding needs in total.
        needed: usize,
        /// Size of the caller's buffer.
        available: usize,
    },
}
