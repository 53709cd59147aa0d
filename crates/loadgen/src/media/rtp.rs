//! The RTP framing of media probes (RFC 3550 section 5.1): a fixed 12-byte header in
//! front of the probe, and the reader that finds the payload of what comes back.

/// Bytes of the header this crate writes (no CSRCs, no extension).
pub const RTP_HEADER_LEN: usize = 12;

/// What goes into each header of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpStream {
    /// Payload type (0 = PCMU).
    pub payload_type: u8,
    /// The flow's SSRC.
    pub ssrc: u32,
    /// RTP clock ticks per packet (160 for 20 ms at 8 kHz).
    pub ticks_per_packet: u32,
}

impl RtpStream {
    /// Writes the header of packet number `n` (sequence number and timestamp follow it) at
    /// the start of `buf`; `false` when `buf` is shorter than a header.
    pub fn write_header(&self, buf: &mut [u8], n: u64) -> bool {
        let Some(h) = buf.first_chunk_mut::<RTP_HEADER_LEN>() else {
            return false;
        };
        h[0] = 0x80;
        h[1] = self.payload_type & 0x7F;
        h[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        h[4..8].copy_from_slice(&(n as u32).wrapping_mul(self.ticks_per_packet).to_be_bytes());
        h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        true
    }
}

/// The payload of an RTP packet: after the CSRCs and the header extension, before the
/// padding. `None` when the packet is not version 2 or its lengths do not fit.
pub fn payload(packet: &[u8]) -> Option<&[u8]> {
    let (&first, _) = packet.split_first()?;
    if first >> 6 != 2 || packet.len() < RTP_HEADER_LEN {
        return None;
    }
    let mut start = RTP_HEADER_LEN + 4 * usize::from(first & 0x0F);
    if first & 0x10 != 0 {
        let ext = packet.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let mut end = packet.len();
    if first & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    packet.get(start..end)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn header_then_payload() {
        let s = RtpStream {
            payload_type: 0,
            ssrc: 0xCAFE_F00D,
            ticks_per_packet: 160,
        };
        let mut p = [0u8; 20];
        assert!(s.write_header(&mut p, 70_000));
        assert_eq!(p[0], 0x80);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 70_000u64 as u16);
        assert_eq!(u32::from_be_bytes([p[4], p[5], p[6], p[7]]), 70_000 * 160);
        assert_eq!(&p[8..12], &0xCAFE_F00Du32.to_be_bytes());
        p[12..].copy_from_slice(b"payload!");
        assert_eq!(payload(&p), Some(&b"payload!"[..]));
        assert!(!s.write_header(&mut [0u8; 11], 0));
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        // CC = 1, X = 1 (one word), P = 1 (2 bytes of padding).
        let mut p = vec![0xB1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
        p.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // extension
        p.extend_from_slice(b"data");
        p.extend_from_slice(&[0, 2]);
        assert_eq!(payload(&p), Some(&b"data"[..]));
    }

    #[test]
    fn malformed_packets_are_none_never_panic() {
        assert_eq!(payload(&[]), None);
        assert_eq!(payload(&[0x80; 11]), None);
        assert_eq!(payload(&[0x40; 12]), None, "version 1");
        let mut p = [0u8; 16];
        p[0] = 0x8F; // 15 CSRCs, not there
        assert_eq!(payload(&p), None);
        p[0] = 0x90; // extension header missing
        assert_eq!(payload(&p[..12]), None);
        p[0] = 0xA0; // padding longer than the packet
        p[15] = 200;
        assert_eq!(payload(&p), None);
        let mut x = 0xDEAD_BEEFu32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 24)) as u8 | 0x80).collect();
            let _ = payload(&bytes);
        }
    }
}
