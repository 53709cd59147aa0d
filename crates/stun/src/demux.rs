//! Demultiplexing by first byte (RFC 7983, updated by RFC 9443): STUN, DTLS, TURN channels
//! and RTP/RTCP sharing one port.

/// What a datagram's first byte says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// 0..=3: STUN (parse with [`crate::Message::parse`]).
    Stun,
    /// 16..=19: ZRTP.
    Zrtp,
    /// 20..=63: DTLS.
    Dtls,
    /// 64..=79: TURN ChannelData (parse with [`crate::ChannelData::parse`]).
    ChannelData,
    /// 128..=191: RTP or RTCP (tell them apart by the payload type byte).
    Rtp,
    /// Anything else: drop it.
    Unknown,
}

/// Classifies a datagram by its first byte, per RFC 7983 section 7 as updated by RFC 9443.
pub fn classify(first_byte: u8) -> PacketKind {
    match first_byte {
        0..=3 => PacketKind::Stun,
        16..=19 => PacketKind::Zrtp,
        20..=63 => PacketKind::Dtls,
        64..=79 => PacketKind::ChannelData,
        128..=191 => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_follow_rfc_7983() {
        let expect = |range: std::ops::RangeInclusive<u8>, kind| {
            for b in range {
                assert_eq!(classify(b), kind, "byte {b}");
            }
        };
        expect(0..=3, PacketKind::Stun);
        expect(4..=15, PacketKind::Unknown);
        expect(16..=19, PacketKind::Zrtp);
        expect(20..=63, PacketKind::Dtls);
        expect(64..=79, PacketKind::ChannelData);
        expect(80..=127, PacketKind::Unknown);
        expect(128..=191, PacketKind::Rtp);
        expect(192..=255, PacketKind::Unknown);
    }
}
