//! Which m-line of a BUNDLE a packet from the browser belongs to (see
//! [`crate::BundleDemux`] for the order of the rules).
//!
//! RTP: the MID header extension when negotiated and present (the SSRC it came with is
//! learned), else an SSRC declared or learned, else a payload type only one m-line uses.
//! RTCP: the first SSRC of the compound packet that names a stream of one line: a report
//! block's or feedback's media source (a stream media-edge sends to the browser: the
//! line whose outgoing SSRC it is), a sender report's sender (a stream the browser
//! sends: the SSRC table).
//!
//! Every table is a fixed array: an SSRC storm costs a scan of [`MAX_SSRCS`] entries per
//! packet and never grows anything.

use crate::spec::BundleDemux;

/// The m-lines of a BUNDLE: audio (the session's first leg) and video.
pub(crate) const LINES: usize = 2;
/// The audio line.
pub(crate) const AUDIO: usize = 0;
/// The video line.
pub(crate) const VIDEO: usize = 1;
/// SSRCs kept, declared and learned together.
pub(crate) const MAX_SSRCS: usize = BundleDemux::MAX_SSRCS;
/// The longest mid kept (RFC 9143 mids are short tokens; longer ones match nothing).
const MID_LEN: usize = 16;
/// No line uses the payload type, or more than one does.
const NONE: u8 = u8::MAX;

/// A mid as bytes, fixed size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Mid {
    len: u8,
    bytes: [u8; MID_LEN],
}

impl Mid {
    fn new(mid: &str) -> Option<Mid> {
        let raw = mid.as_bytes();
        if raw.is_empty() || raw.len() > MID_LEN {
            return None;
        }
        let mut bytes = [0; MID_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Mid {
            len: raw.len() as u8,
            bytes,
        })
    }

    fn is(&self, value: &[u8]) -> bool {
        self.len > 0 && &self.bytes[..usize::from(self.len)] == value
    }
}

/// The demultiplexer of one session's BUNDLE (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Demux {
    mid_extension: Option<u8>,
    mids: [Option<Mid>; LINES],
    /// Per payload type: the line that alone uses it, or [`NONE`].
    payload_types: [u8; 128],
    /// `(ssrc, line)`, the first `len` in use.
    ssrcs: [(u32, u8); MAX_SSRCS],
    len: usize,
}

impl Demux {
    /// The demultiplexer `spec` describes. A payload type both lines list places nothing;
    /// declared SSRCs beyond [`MAX_SSRCS`] are left to the other rules.
    pub(crate) fn new(spec: &BundleDemux) -> Demux {
        let mut demux = Demux {
            mid_extension: spec.mid_extension.filter(|&id| id != 0),
            mids: [
                spec.audio.mid.as_deref().and_then(Mid::new),
                spec.video.mid.as_deref().and_then(Mid::new),
            ],
            payload_types: [NONE; 128],
            ssrcs: [(0, 0); MAX_SSRCS],
            len: 0,
        };
        let mut seen = [0u8; 128];
        for (line, ids) in [(AUDIO, &spec.audio), (VIDEO, &spec.video)] {
            for &pt in &ids.payload_types {
                let pt = usize::from(pt & 0x7f);
                seen[pt] |= 1 << line;
                demux.payload_types[pt] = if seen[pt] == 1 << line {
                    line as u8
                } else {
                    NONE
                };
            }
            for &ssrc in &ids.ssrcs {
                demux.learn(ssrc, line);
            }
        }
        demux
    }

    /// The line of an RTP packet `packet` (plain, at least a 12-byte header), or `None`.
    pub(crate) fn rtp(&mut self, packet: &[u8]) -> Option<usize> {
        if packet.len() < 12 {
            return None;
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if let Some(line) = self.by_mid(packet) {
            self.learn(ssrc, line);
            return Some(line);
        }
        if let Some(line) = self.ssrc_line(ssrc) {
            return Some(line);
        }
        match self.payload_types[usize::from(packet[1] & 0x7f)] {
            NONE => None,
            line => Some(usize::from(line)),
        }
    }

    /// The line of a browser SSRC, declared or learned.
    pub(crate) fn ssrc_line(&self, ssrc: u32) -> Option<usize> {
        self.ssrcs[..self.len]
            .iter()
            .find(|(s, _)| *s == ssrc)
            .map(|&(_, line)| usize::from(line))
    }

    /// Records that `ssrc` belongs to `line` (an SSRC that moves is updated); nothing when
    /// the table is full.
    fn learn(&mut self, ssrc: u32, line: usize) {
        let line = line as u8;
        if let Some(entry) = self.ssrcs[..self.len].iter_mut().find(|(s, _)| *s == ssrc) {
            entry.1 = line;
        } else if self.len < MAX_SSRCS {
            self.ssrcs[self.len] = (ssrc, line);
            self.len += 1;
        }
    }

    /// The line the MID header extension names, when negotiated and present.
    fn by_mid(&self, packet: &[u8]) -> Option<usize> {
        let id = self.mid_extension?;
        let value = extension(packet, id)?;
        self.mids
            .iter()
            .position(|m| m.is_some_and(|m| m.is(value)))
    }
}

/// The value of header extension `id` in an RTP packet (RFC 8285: one-byte or two-byte
/// form), or `None`.
pub(crate) fn extension(packet: &[u8], id: u8) -> Option<&[u8]> {
    if packet.len() < 12 || packet[0] & 0x10 == 0 {
        return None;
    }
    let start = 12 + 4 * usize::from(packet[0] & 0x0f);
    let header = packet.get(start..start + 4)?;
    let profile = u16::from_be_bytes([header[0], header[1]]);
    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let data = packet.get(start + 4..start + 4 + 4 * words)?;
    let two_byte = match profile {
        0xbede => false,
        p if p & 0xfff0 == 0x1000 => true,
        _ => return None,
    };
    let mut at = 0;
    while at < data.len() {
        let (element_id, len, header) = if two_byte {
            let element_id = data[at];
            if element_id == 0 {
                at += 1;
                continue;
            }
            (element_id, usize::from(*data.get(at + 1)?), 2)
        } else {
            let byte = data[at];
            if byte == 0 {
                at += 1;
                continue;
            }
            if byte >> 4 == 15 {
                return None;
            }
            (byte >> 4, usize::from(byte & 0x0f) + 1, 1)
        };
        let value = data.get(at + header..at + header + len)?;
        if element_id == id {
            return Some(value);
        }
        at += header + len;
    }
    None
}

/// The line a compound RTCP packet `packet` (plain) is about: the first SSRC in it that
/// `media_source` (an SSRC media-edge sends to the browser: report blocks, feedback's media
/// source) or `sender` (an SSRC the browser sends: a sender report's) places. `None`: it
/// names no stream of either line.
pub(crate) fn rtcp_line(
    packet: &[u8],
    sender: impl Fn(u32) -> Option<usize>,
    media_source: impl Fn(u32) -> Option<usize>,
) -> Option<usize> {
    let ssrc_at = |p: &[u8], at: usize| {
        p.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut at = 0;
    while packet.len() >= at + 8 {
        let words = usize::from(u16::from_be_bytes([packet[at + 2], packet[at + 3]]));
        let end = (at + 4 * (words + 1)).min(packet.len());
        let p = &packet[at..end];
        let count = usize::from(p[0] & 0x1f);
        let blocks = match p[1] {
            200 => 28,
            201 => 8,
            _ => p.len(),
        };
        for block in p
            .get(blocks..)
            .unwrap_or_default()
            .chunks_exact(24)
            .take(count)
        {
            if let Some(line) = ssrc_at(block, 0).and_then(&media_source) {
                return Some(line);
            }
        }
        match p[1] {
            205 | 206 => {
                if let Some(line) = ssrc_at(p, 8).and_then(&media_source) {
                    return Some(line);
                }
            }
            200 => {
                if let Some(line) = ssrc_at(p, 4).and_then(&sender) {
                    return Some(line);
                }
            }
            _ => {}
        }
        at += 4 * (words + 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LineIds;

    fn spec(mid_extension: Option<u8>) -> BundleDemux {
        BundleDemux {
            mid_extension,
            audio: LineIds::new(Some("0".into()), vec![0xa0], vec![111, 0, 126]),
            video: LineIds::new(Some("1".into()), vec![], vec![96, 102, 126]),
        }
    }

    /// An RTP packet with one one-byte extension element (`id`, `value`) when given.
    fn rtp(pt: u8, ssrc: u32, ext: Option<(u8, &[u8])>) -> Vec<u8> {
        let mut p = vec![0x80, pt, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&ssrc.to_be_bytes());
        if let Some((id, value)) = ext {
            p[0] |= 0x10;
            let mut data = vec![(id << 4) | (value.len() as u8 - 1)];
            data.extend_from_slice(value);
            while data.len() % 4 != 0 {
                data.push(0);
            }
            p.extend_from_slice(&[0xbe, 0xde]);
            p.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            p.extend_from_slice(&data);
        }
        p.extend_from_slice(&[9; 20]);
        p
    }

    #[test]
    fn the_mid_extension_places_a_packet_and_teaches_its_ssrc() {
        let mut d = Demux::new(&spec(Some(4)));
        // Payload type 126 is on both lines: only the mid places it.
        assert_eq!(d.rtp(&rtp(126, 0xb1, None)), None);
        assert_eq!(d.rtp(&rtp(126, 0xb1, Some((4, b"1")))), Some(VIDEO));
        // Learned: later packets without the extension follow.
        assert_eq!(d.rtp(&rtp(126, 0xb1, None)), Some(VIDEO));
        // Another extension id carries no mid.
        assert_eq!(d.rtp(&rtp(126, 0xb2, Some((5, b"1")))), None);
        // An unknown mid places nothing.
        assert_eq!(d.rtp(&rtp(126, 0xb3, Some((4, b"7")))), None);
    }

    #[test]
    fn declared_ssrcs_then_payload_types() {
        let mut d = Demux::new(&spec(None));
        assert_eq!(d.rtp(&rtp(126, 0xa0, None)), Some(AUDIO));
        assert_eq!(d.rtp(&rtp(96, 0xc0, None)), Some(VIDEO));
        assert_eq!(d.rtp(&rtp(111, 0xc1, None)), Some(AUDIO));
        // Without a negotiated extension id the mid is not read.
        assert_eq!(d.rtp(&rtp(126, 0xc2, Some((4, b"1")))), None);
        assert_eq!(d.rtp(&rtp(50, 0xc3, None)), None);
    }

    #[test]
    fn an_ssrc_storm_does_not_grow_the_table() {
        let mut d = Demux::new(&spec(Some(4)));
        for ssrc in 0..1000u32 {
            assert_eq!(
                d.rtp(&rtp(126, 0x1000 + ssrc, Some((4, b"1")))),
                Some(VIDEO)
            );
        }
        assert_eq!(d.len, MAX_SSRCS);
        // The declared SSRC is still there; a late one is placed by its mid only.
        assert_eq!(d.ssrc_line(0xa0), Some(AUDIO));
        assert_eq!(d.rtp(&rtp(126, 0x1000 + 999, None)), None);
    }

    #[test]
    fn two_byte_extensions_and_padding_are_read() {
        let mut p = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5];
        // Profile 0x1000, two words: padding, id 3 len 1 "x", id 9 len 1 "1", padding.
        p.extend_from_slice(&[0x10, 0x00, 0, 2, 0, 3, 1, b'x', 9, 1, b'1', 0]);
        assert_eq!(extension(&p, 9), Some(&b"1"[..]));
        assert_eq!(extension(&p, 3), Some(&b"x"[..]));
        assert_eq!(extension(&p, 4), None);
        // A length that runs past the packet is nothing, not a panic.
        let mut bad = p.clone();
        bad[14..16].copy_from_slice(&[0, 9]);
        assert_eq!(extension(&bad, 9), None);
    }

    #[test]
    fn rtcp_goes_to_the_line_of_the_stream_it_names() {
        let sender = |ssrc| (ssrc == 0xb0).then_some(VIDEO);
        let source = |ssrc| match ssrc {
            0xe0 => Some(AUDIO),
            0xe1 => Some(VIDEO),
            _ => None,
        };
        // PLI about the enterprise's video stream.
        let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0xe1];
        assert_eq!(rtcp_line(&pli, sender, source), Some(VIDEO));
        // RR (sender 1) with a block about the audio stream, then a NACK about video.
        let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0xe0];
        rr.extend_from_slice(&[0; 20]);
        rr.extend_from_slice(&[0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0xe1, 0, 5, 0, 0]);
        assert_eq!(rtcp_line(&rr, sender, source), Some(AUDIO));
        // SR from the browser's video stream, no blocks.
        let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 0xb0];
        sr.extend_from_slice(&[0; 20]);
        assert_eq!(rtcp_line(&sr, sender, source), Some(VIDEO));
        // Nothing known; truncated input is no panic.
        assert_eq!(
            rtcp_line(&[0x81, 201, 0, 7, 0, 0, 0, 9], sender, source),
            None
        );
        assert_eq!(rtcp_line(&pli[..10], sender, source), None);
    }
}
