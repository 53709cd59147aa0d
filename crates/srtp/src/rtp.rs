//! The few fields of RTP and RTCP headers SRTP needs (RFC 3550 sections 5.1 and 6.4).

use crate::error::{Error, PacketKind};

/// Fixed RTP header length.
const RTP_FIXED: usize = 12;
/// RTCP header plus the sender SSRC: the part SRTCP leaves unencrypted.
pub(crate) const RTCP_HEADER: usize = 8;

/// What SRTP reads from an RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    /// Header length: fixed part, CSRCs and the header extension.
    pub len: usize,
    /// Sequence number.
    pub seq: u16,
    /// Synchronisation source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Parses the header of `packet`, which ends where the payload (or padding) ends; `trailer`
    /// bytes (the tag) must follow the header and are counted in the minimum length.
    pub(crate) fn parse(packet: &[u8], trailer: usize) -> Result<RtpHeader, Error> {
        let too_short = |min| Error::TooShort {
            kind: PacketKind::Rtp,
            len: packet.len(),
            min,
        };
        let (Some(&b0), Some(fixed)) = (packet.first(), packet.get(..RTP_FIXED)) else {
            return Err(too_short(RTP_FIXED + trailer));
        };
        check_version(b0, PacketKind::Rtp)?;
        let mut len = RTP_FIXED + 4 * usize::from(b0 & 0x0f);
        if b0 & 0x10 != 0 {
            let words = packet
                .get(len + 2..len + 4)
                .ok_or(too_short(len + 4 + trailer))?;
            len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        if packet.len() < len + trailer {
            return Err(too_short(len + trailer));
        }
        Ok(RtpHeader {
            len,
            seq: u16::from_be_bytes([fixed[2], fixed[3]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
        })
    }
}

/// Checks an RTCP packet of at least its header plus `trailer` bytes and returns the sender
/// SSRC of its first packet.
pub(crate) fn rtcp_ssrc(packet: &[u8], trailer: usize) -> Result<u32, Error> {
    match packet.get(..RTCP_HEADER) {
        Some(h) if packet.len() >= RTCP_HEADER + trailer => {
            check_version(h[0], PacketKind::Rtcp)?;
            Ok(u32::from_be_bytes([h[4], h[5], h[6], h[7]]))
        }
        _ => Err(Error::TooShort {
            kind: PacketKind::Rtcp,
            len: packet.len(),
            min: RTCP_HEADER + trailer,
        }),
    }
}

fn check_version(b0: u8, kind: PacketKind) -> Result<(), Error> {
    match b0 >> 6 {
        2 => Ok(()),
        version => Err(Error::BadVersion { kind, version }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrcs_and_extension_count_in_the_header() {
        // V=2, X=1, CC=2; two CSRCs; extension of 1 word; 3 bytes of payload.
        let mut p = vec![0x92, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4]);
        p.extend_from_slice(&[9, 9, 9]);
        let h = RtpHeader::parse(&p, 0).unwrap();
        assert_eq!(h.len, 12 + 8 + 8);
        assert_eq!(h.seq, 0x1234);
        assert_eq!(h.ssrc, 0xdeadbeef);
        // The extension claims more words than the packet holds.
        p[22..24].copy_from_slice(&[0x10, 0x00]);
        assert!(matches!(
            RtpHeader::parse(&p, 0),
            Err(Error::TooShort { .. })
        ));
    }

    #[test]
    fn truncated_and_random_input_never_panics() {
        let mut x = 0x1234_5678_9abc_def0_u64;
        let mut buf = [0u8; 80];
        for n in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let len = n % buf.len();
            let _ = RtpHeader::parse(&buf[..len], n % 17);
            let _ = rtcp_ssrc(&buf[..len], n % 21);
        }
        assert!(matches!(
            RtpHeader::parse(&[0x80; 11], 0),
            Err(Error::TooShort { len: 11, .. })
        ));
        assert!(matches!(
            RtpHeader::parse(&[0x40; 12], 0),
            Err(Error::BadVersion { version: 1, .. })
        ));
    }
}
