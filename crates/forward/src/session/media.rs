//! What a session does to media on the way through, in place: the SDP directions (media a
//! side may not send, or the other may not receive, is dropped), payload-type rewriting
//! between the two sides' numberings, and stream translation.
//!
//! # Stream translation
//! Each direction sends one outgoing stream: the first SSRC seen in that direction is the
//! one the receiver keeps seeing. When the sender's stream changes (a transfer brings a new
//! SSRC, or one SSRC restarts its sequence numbers and timestamps), the new stream is
//! rebased: its sequence numbers continue from the last one sent, its timestamps from the
//! last one sent plus the time that passed, and its SSRC becomes the outgoing one. The
//! receiver's SRTP context and jitter buffer see one continuous stream. RTCP is rewritten
//! to match: a sender report's SSRC and RTP timestamp, in report blocks about the other
//! direction's stream its SSRC and extended highest sequence number, in feedback (PLI, FIR,
//! NACK) the media source's SSRC and a generic NACK's sequence numbers.
//!
//! A stream change is taken as such when the control plane says so (an enterprise move, a
//! direction change), when the running SSRC's sequence number jumps far (more than
//! [`JUMP_BACK`] back or [`JUMP_AHEAD`] ahead: a restart), or when another SSRC sends
//! [`SWITCH_AFTER`] packets in a row with nothing from the running one between them (a
//! sender that changed its stream without a re-offer). Any other packet of another SSRC is
//! dropped (`foreign_ssrc`): an SSRC storm costs a comparison per packet, no state per
//! SSRC, and never disturbs the running stream.
//!
//! Nothing here allocates or locks; every table is a fixed array.

use std::time::Instant;

use crate::quality::Formats;
use crate::snapshot::{Counter, Direction};
use crate::spec::MediaPlan;

/// Packets in a row from another SSRC that make it the running stream.
pub(crate) const SWITCH_AFTER: u8 = 3;
/// A sequence number more than this far behind the highest one seen is a restart.
pub(crate) const JUMP_BACK: i32 = 256;
/// A sequence number more than this far ahead of the highest one seen is a restart.
pub(crate) const JUMP_AHEAD: i32 = 3000;
/// The largest timestamp step between consecutive packets taken as the stream's packet
/// interval (120 ms at 48 kHz): longer steps are silence, not the interval.
const MAX_STEP: u32 = 5760;

/// Why a media plan cannot be used (its text names the field).
pub(crate) fn check_plan(plan: &MediaPlan) -> Result<(), String> {
    for (i, &(b, e)) in plan.payload_map.iter().enumerate() {
        if b > 127 || e > 127 {
            return Err(format!(
                "payload map ({b}, {e}): payload types are 0 to 127"
            ));
        }
        for &(b2, e2) in &plan.payload_map[..i] {
            if (b2 == b) != (e2 == e) {
                return Err(format!(
                    "payload map conflicts: ({b2}, {e2}) and ({b}, {e}) map one payload type \
                     two ways"
                ));
            }
        }
    }
    Ok(())
}

/// One direction's stream translation state (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
struct Stream {
    /// Whether a packet went out yet (then `out_ssrc` and `last_*` hold).
    started: bool,
    /// The SSRC the receiver sees.
    out_ssrc: u32,
    /// The SSRC of the running incoming stream.
    in_ssrc: u32,
    /// Added to incoming sequence numbers.
    seq_offset: u16,
    /// Added to incoming timestamps.
    ts_offset: u32,
    /// The highest incoming sequence number of the running stream.
    last_in_seq: u16,
    /// The highest outgoing sequence number, its timestamp and when it went.
    last_seq: u16,
    last_ts: u32,
    last_at: Option<Instant>,
    /// The timestamp step between consecutive packets (0: not seen yet).
    step: u32,
    /// The next packet starts a new stream, whatever its SSRC.
    rebase: bool,
    /// Another SSRC and how many of its packets came in a row.
    candidate: (u32, u8),
    /// The outgoing SSRC from the next rebase on.
    renew: Option<u32>,
}

impl Stream {
    /// Translates a packet of `ssrc` (sequence `seq`, timestamp `ts`): the outgoing
    /// (SSRC, sequence, timestamp), or `None` to drop it as a foreign SSRC.
    fn translate(
        &mut self,
        now: Instant,
        ssrc: u32,
        seq: u16,
        ts: u32,
        clock: Option<u32>,
    ) -> Option<(u32, u16, u32)> {
        if !self.started {
            *self = Stream {
                started: true,
                out_ssrc: ssrc,
                in_ssrc: ssrc,
                last_in_seq: seq,
                last_seq: seq,
                last_ts: ts,
                last_at: Some(now),
                ..Stream::default()
            };
            return Some((ssrc, seq, ts));
        }
        if ssrc == self.in_ssrc {
            self.candidate = (0, 0);
            let jump = i32::from(seq.wrapping_sub(self.last_in_seq) as i16);
            if self.rebase || !(-JUMP_BACK..=JUMP_AHEAD).contains(&jump) {
                self.rebase_onto(now, ssrc, seq, ts, clock);
            }
        } else if self.rebase {
            self.rebase_onto(now, ssrc, seq, ts, clock);
        } else {
            let (candidate, count) = self.candidate;
            let count = if candidate == ssrc {
                count.saturating_add(1)
            } else {
                1
            };
            self.candidate = (ssrc, count);
            if count < SWITCH_AFTER {
                return None;
            }
            self.rebase_onto(now, ssrc, seq, ts, clock);
        }
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        if (out_seq.wrapping_sub(self.last_seq) as i16) > 0 {
            let delta = out_ts.wrapping_sub(self.last_ts);
            if out_seq == self.last_seq.wrapping_add(1) && (1..=MAX_STEP).contains(&delta) {
                self.step = delta;
            }
            self.last_in_seq = seq;
            self.last_seq = out_seq;
            self.last_ts = out_ts;
            self.last_at = Some(now);
        }
        Some((self.out_ssrc, out_seq, out_ts))
    }

    /// Makes `ssrc`'s packet (`seq`, `ts`) the one after the last one sent.
    fn rebase_onto(&mut self, now: Instant, ssrc: u32, seq: u16, ts: u32, clock: Option<u32>) {
        let next_seq = self.last_seq.wrapping_add(1);
        // The timestamp advances by the time that passed, at least one packet interval.
        let elapsed = match (clock, self.last_at) {
            (Some(hz), Some(at)) => {
                let micros = now.saturating_duration_since(at).as_micros();
                u32::try_from(micros.saturating_mul(u128::from(hz)) / 1_000_000)
                    .unwrap_or(u32::MAX / 2)
            }
            _ => 0,
        };
        let step = match self.step {
            0 => clock.map_or(160, |hz| hz / 50),
            step => step,
        };
        let next_ts = self.last_ts.wrapping_add(elapsed.max(step));
        self.in_ssrc = ssrc;
        if let Some(out) = self.renew.take() {
            self.out_ssrc = out;
        }
        self.seq_offset = next_seq.wrapping_sub(seq);
        self.ts_offset = next_ts.wrapping_sub(ts);
        self.last_in_seq = seq;
        self.rebase = false;
        self.candidate = (0, 0);
    }

    /// The incoming SSRC a receiver's report block names by the outgoing one.
    fn reported(&self, ssrc: u32) -> Option<u32> {
        (self.started && ssrc == self.out_ssrc).then_some(self.in_ssrc)
    }
}

/// A session's media rules (see the module docs), indexed by [`Direction`].
#[derive(Debug, Clone)]
pub(crate) struct Media {
    /// Whether RTP may be forwarded, per direction.
    allowed: [bool; 2],
    /// The payload-type rewrite per direction (browser to enterprise numbering, and back).
    pt: [[u8; 128]; 2],
    streams: [Stream; 2],
    /// Per payload type of the browser's numbering: its clock rate (0: unknown), with
    /// [`DTMF`] set for telephone-event; one lookup per packet.
    formats: [u32; 128],
}

/// The flag of a telephone-event payload type in [`Media::formats`].
const DTMF: u32 = 1 << 31;

impl Media {
    /// Both sides `sendrecv`, no payload type rewritten; `formats` (the browser's
    /// numbering) give clock rates and say which payload type is telephone-event.
    pub(crate) fn new(formats: Formats) -> Self {
        let identity: [u8; 128] = std::array::from_fn(|i| i as u8);
        let formats = std::array::from_fn(|pt| {
            formats.get(pt as u8).map_or(0, |f| {
                let dtmf = if f.codec == crate::Codec::TelephoneEvent {
                    DTMF
                } else {
                    0
                };
                f.clock_rate.min(DTMF - 1) | dtmf
            })
        });
        Media {
            allowed: [true; 2],
            pt: [identity; 2],
            streams: [Stream::default(); 2],
            formats,
        }
    }

    /// Puts `plan` (checked by [`check_plan`]) in force. A direction that opens again
    /// (resume after hold) starts a new stream there, so the receiver sees no gap for what
    /// was held back.
    pub(crate) fn set_plan(&mut self, plan: &MediaPlan) {
        let allowed = [
            plan.browser.sends() && plan.enterprise.receives(),
            plan.enterprise.sends() && plan.browser.receives(),
        ];
        for (d, open) in allowed.into_iter().enumerate() {
            if open && !self.allowed[d] {
                self.streams[d].rebase = true;
            }
        }
        self.allowed = allowed;
        let mut pt: [[u8; 128]; 2] = [std::array::from_fn(|i| i as u8); 2];
        for &(b, e) in &plan.payload_map {
            pt[Direction::FromBrowser as usize][usize::from(b & 0x7f)] = e & 0x7f;
            pt[Direction::FromEnterprise as usize][usize::from(e & 0x7f)] = b & 0x7f;
        }
        self.pt = pt;
    }

    /// The SSRC the receiver of direction `dir` sees, once a packet went that way.
    pub(crate) fn outgoing_ssrc(&self, dir: Direction) -> Option<u32> {
        let stream = &self.streams[dir as usize];
        stream.started.then_some(stream.out_ssrc)
    }

    /// The next packet in direction `dir` starts a new stream (the sender moved).
    pub(crate) fn restart(&mut self, dir: Direction) {
        self.streams[dir as usize].rebase = true;
    }

    /// The next packet in direction `dir` starts a new stream under the outgoing SSRC
    /// `ssrc` (the receiver changed: it has no state for the old one). Before the first
    /// packet there is nothing to renew.
    pub(crate) fn renew(&mut self, dir: Direction, ssrc: u32) {
        let stream = &mut self.streams[dir as usize];
        if stream.started {
            stream.renew = Some(ssrc);
            stream.rebase = true;
        }
    }

    /// A plain RTP (`rtcp == false`) or compound RTCP packet `buf[..len]` travelling in
    /// `dir`, through [`Self::rtp`] or [`Self::rtcp`]: `Ok(true)` for DTMF, `Err` the drop
    /// reason.
    pub(crate) fn apply(
        &mut self,
        now: Instant,
        dir: Direction,
        rtcp: bool,
        buf: &mut [u8],
        len: usize,
    ) -> Result<bool, Counter> {
        if rtcp {
            self.rtcp(dir, buf, len);
            Ok(false)
        } else {
            self.rtp(now, dir, buf, len)
        }
    }

    /// An RTP packet `buf[..len]` (plain) travelling in `dir`: checks the direction,
    /// rewrites its payload type, SSRC, sequence number and timestamp in place. `Ok(true)`
    /// for an RFC 4733 telephone-event packet; `Err` is the drop reason.
    pub(crate) fn rtp(
        &mut self,
        now: Instant,
        dir: Direction,
        buf: &mut [u8],
        len: usize,
    ) -> Result<bool, Counter> {
        if !self.allowed[dir as usize] {
            return Err(Counter::Direction);
        }
        let Some(h) = buf.get_mut(..len).filter(|h| h.len() >= 12) else {
            return Err(Counter::Malformed);
        };
        let pt_in = h[1] & 0x7f;
        let pt_out = self.pt[dir as usize][usize::from(pt_in)];
        // Formats are in the browser's numbering.
        let browser_pt = match dir {
            Direction::FromBrowser => pt_in,
            Direction::FromEnterprise => pt_out,
        };
        let format = self.formats[usize::from(browser_pt)];
        let clock = Some(format & !DTMF).filter(|&hz| hz > 0);
        let seq = u16::from_be_bytes([h[2], h[3]]);
        let ts = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let ssrc = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        let stream = &mut self.streams[dir as usize];
        let (ssrc, seq, ts) = stream
            .translate(now, ssrc, seq, ts, clock)
            .ok_or(Counter::ForeignSsrc)?;
        h[1] = (h[1] & 0x80) | pt_out;
        h[2..4].copy_from_slice(&seq.to_be_bytes());
        h[4..8].copy_from_slice(&ts.to_be_bytes());
        h[8..12].copy_from_slice(&ssrc.to_be_bytes());
        Ok(format & DTMF != 0)
    }

    /// A compound RTCP packet `buf[..len]` (plain) travelling in `dir`: rewrites what names
    /// a translated stream (see the module docs). A malformed tail is left as it is.
    pub(crate) fn rtcp(&self, dir: Direction, buf: &mut [u8], len: usize) {
        let own = &self.streams[dir as usize];
        let other = &self.streams[1 - dir as usize];
        // Nothing translated yet either way: nothing to rewrite.
        let identity = |s: &Stream| s.out_ssrc == s.in_ssrc && s.seq_offset == 0;
        if identity(own) && own.ts_offset == 0 && identity(other) {
            return;
        }
        let mut at = 0;
        let end = len.min(buf.len());
        let packet = &mut buf[..end];
        while packet.len() >= at + 8 {
            let words = usize::from(u16::from_be_bytes([packet[at + 2], packet[at + 3]]));
            let end = at + 4 * (words + 1);
            let Some(p) = packet.get_mut(at..end) else {
                return;
            };
            let count = usize::from(p[0] & 0x1f);
            let blocks = match p[1] {
                // SR: sender SSRC, NTP, RTP timestamp, counts, then report blocks.
                200 if p.len() >= 28 => {
                    if sender(own, p) {
                        let ts = u32::from_be_bytes([p[16], p[17], p[18], p[19]]);
                        p[16..20].copy_from_slice(&ts.wrapping_add(own.ts_offset).to_be_bytes());
                    }
                    28
                }
                // RR: sender SSRC, then report blocks.
                201 => {
                    sender(own, p);
                    8
                }
                // RTPFB/PSFB: sender SSRC, media source SSRC; a generic NACK's (RFC 4585
                // section 6.2.1) packet ids are sequence numbers of that stream.
                205 | 206 if p.len() >= 12 => {
                    sender(own, p);
                    let renamed = rename(other, &mut p[8..12]);
                    if renamed && p[1] == 205 && count == 1 {
                        for fci in p[12..].chunks_exact_mut(4) {
                            let pid = u16::from_be_bytes([fci[0], fci[1]]);
                            let pid = pid.wrapping_sub(other.seq_offset);
                            fci[..2].copy_from_slice(&pid.to_be_bytes());
                        }
                    }
                    p.len()
                }
                // SDES and BYE: the first SSRC.
                202 | 203 if count > 0 => {
                    sender(own, p);
                    p.len()
                }
                _ => p.len(),
            };
            for block in p
                .get_mut(blocks..)
                .unwrap_or_default()
                .chunks_exact_mut(24)
                .take(count)
            {
                if rename(other, &mut block[0..4]) {
                    let ext = u32::from_be_bytes([block[8], block[9], block[10], block[11]]);
                    let ext = ext.wrapping_sub(u32::from(other.seq_offset));
                    block[8..12].copy_from_slice(&ext.to_be_bytes());
                }
            }
            at = end;
        }
    }
}

/// Rewrites the sender SSRC (`p[4..8]`) of a packet from `own`'s running stream to its
/// outgoing SSRC; whether it did.
fn sender(own: &Stream, p: &mut [u8]) -> bool {
    let Some(field) = p.get_mut(4..8) else {
        return false;
    };
    let ssrc = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
    if !own.started || ssrc != own.in_ssrc {
        return false;
    }
    field.copy_from_slice(&own.out_ssrc.to_be_bytes());
    true
}

/// Rewrites an SSRC `field` naming `other`'s outgoing stream to its incoming SSRC; whether
/// it did.
fn rename(other: &Stream, field: &mut [u8]) -> bool {
    let ssrc = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
    match other.reported(ssrc) {
        Some(incoming) => {
            field.copy_from_slice(&incoming.to_be_bytes());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::spec::Direction as Sdp;
    use crate::PayloadFormat;

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    fn fields(p: &[u8]) -> (u8, u16, u32, u32) {
        (
            p[1],
            u16::from_be_bytes([p[2], p[3]]),
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        )
    }

    fn media() -> Media {
        Media::new(Formats::new(&[
            PayloadFormat::new(111, "opus", 48000),
            PayloadFormat::new(101, "telephone-event", 48000),
        ]))
    }

    fn send(m: &mut Media, now: Instant, dir: Direction, p: &[u8]) -> Result<Vec<u8>, Counter> {
        let mut p = p.to_vec();
        let len = p.len();
        m.rtp(now, dir, &mut p, len)?;
        Ok(p)
    }

    #[test]
    fn a_new_ssrc_after_a_move_continues_the_stream() {
        let (mut m, t0) = (media(), Instant::now());
        let e = Direction::FromEnterprise;
        for i in 0..10u16 {
            let p = send(
                &mut m,
                t0,
                e,
                &rtp(111, 1000 + i, 5000 + 960 * u32::from(i), 7),
            )
            .unwrap();
            assert_eq!(fields(&p), (111, 1000 + i, 5000 + 960 * u32::from(i), 7));
        }
        m.restart(e);
        let t1 = t0 + Duration::from_millis(20);
        let p = send(&mut m, t1, e, &rtp(111, 0, 0, 9)).unwrap();
        assert_eq!(fields(&p), (111, 1010, 5000 + 960 * 10, 7));
        let p = send(&mut m, t1, e, &rtp(111, 1, 960, 9)).unwrap();
        assert_eq!(fields(&p), (111, 1011, 5000 + 960 * 11, 7));
        // A late packet of the old stream is no longer the running one.
        assert_eq!(
            send(&mut m, t1, e, &rtp(111, 1010, 0, 7)),
            Err(Counter::ForeignSsrc)
        );
    }

    #[test]
    fn a_restart_under_one_ssrc_is_detected_and_the_time_gap_kept() {
        let (mut m, t0) = (media(), Instant::now());
        let e = Direction::FromEnterprise;
        send(&mut m, t0, e, &rtp(111, 30000, 100, 7)).unwrap();
        send(&mut m, t0, e, &rtp(111, 30001, 1060, 7)).unwrap();
        // 1 s later, sequence 0 and timestamp 0: a restart, 48000 ticks on.
        let t1 = t0 + Duration::from_secs(1);
        let p = send(&mut m, t1, e, &rtp(111, 0, 0, 7)).unwrap();
        assert_eq!(fields(&p), (111, 30002, 1060 + 48000, 7));
        // Small reordering is not a restart.
        let p = send(&mut m, t1, e, &rtp(111, 2, 1920, 7)).unwrap();
        assert_eq!(fields(&p).1, 30004);
        let p = send(&mut m, t1, e, &rtp(111, 1, 960, 7)).unwrap();
        assert_eq!(fields(&p).1, 30003);
    }

    #[test]
    fn an_ssrc_storm_is_dropped_and_a_steady_new_stream_taken() {
        let (mut m, t0) = (media(), Instant::now());
        let e = Direction::FromEnterprise;
        for i in 0..100u16 {
            send(&mut m, t0, e, &rtp(111, i, 960 * u32::from(i), 7)).unwrap();
            let storm = 0x1000 + u32::from(i);
            assert_eq!(
                send(&mut m, t0, e, &rtp(111, i, 0, storm)),
                Err(Counter::ForeignSsrc)
            );
        }
        // Another SSRC alone, SWITCH_AFTER packets in a row: it becomes the stream.
        for i in 0..u16::from(SWITCH_AFTER) - 1 {
            assert!(send(&mut m, t0, e, &rtp(111, 500 + i, 0, 8)).is_err());
        }
        let p = send(&mut m, t0, e, &rtp(111, 502, 0, 8)).unwrap();
        assert_eq!((fields(&p).1, fields(&p).3), (100, 7));
    }

    #[test]
    fn directions_payload_types_and_dtmf() {
        let (mut m, t0) = (media(), Instant::now());
        let (b, e) = (Direction::FromBrowser, Direction::FromEnterprise);
        m.set_plan(&MediaPlan::new(
            Sdp::SendRecv,
            Sdp::SendRecv,
            vec![(111, 96), (101, 98)],
        ));
        let p = send(&mut m, t0, b, &rtp(111 | 0x80, 1, 0, 1)).unwrap();
        assert_eq!(p[1], 0x80 | 96);
        let mut p = rtp(98, 1, 0, 2);
        assert_eq!(m.rtp(t0, e, &mut p, 15), Ok(true));
        assert_eq!(p[1], 101);
        assert_eq!(send(&mut m, t0, b, &rtp(0, 2, 0, 1)).unwrap()[1], 0);
        // Hold: the enterprise side inactive.
        m.set_plan(&MediaPlan::new(Sdp::SendRecv, Sdp::Inactive, vec![]));
        assert_eq!(
            send(&mut m, t0, b, &rtp(0, 3, 0, 1)),
            Err(Counter::Direction)
        );
        assert_eq!(
            send(&mut m, t0, e, &rtp(0, 2, 0, 2)),
            Err(Counter::Direction)
        );
        // The browser sendonly: it may send, the enterprise's media does not reach it.
        m.set_plan(&MediaPlan::new(Sdp::SendOnly, Sdp::SendRecv, vec![]));
        // Resumed after what was held back: no gap.
        let p = send(&mut m, t0, b, &rtp(0, 40, 0, 1)).unwrap();
        assert_eq!(fields(&p).1, 3);
        assert_eq!(
            send(&mut m, t0, e, &rtp(0, 3, 0, 2)),
            Err(Counter::Direction)
        );
    }

    #[test]
    fn conflicting_maps_are_refused() {
        let plan = |map| MediaPlan::new(Sdp::SendRecv, Sdp::SendRecv, map);
        assert!(check_plan(&plan(vec![(111, 96), (101, 98), (111, 96)])).is_ok());
        assert!(check_plan(&plan(vec![(111, 96), (111, 97)])).is_err());
        assert!(check_plan(&plan(vec![(111, 96), (110, 96)])).is_err());
        assert!(check_plan(&plan(vec![(128, 96)])).is_err());
    }

    #[test]
    fn reports_follow_the_translation() {
        let (mut m, t0) = (media(), Instant::now());
        let (b, e) = (Direction::FromBrowser, Direction::FromEnterprise);
        send(&mut m, t0, b, &rtp(111, 10, 0, 0xb)).unwrap();
        send(&mut m, t0, e, &rtp(111, 100, 1000, 0xe)).unwrap();
        m.restart(e);
        send(&mut m, t0, e, &rtp(111, 0, 0, 0xf)).unwrap();
        // SR from the new enterprise stream with one block about the browser's stream.
        let mut sr = vec![0x81, 200, 0, 12];
        sr.extend_from_slice(&0xfu32.to_be_bytes());
        sr.extend_from_slice(&[0; 8]);
        sr.extend_from_slice(&0u32.to_be_bytes());
        sr.extend_from_slice(&[0; 8]);
        sr.extend_from_slice(&0xbu32.to_be_bytes());
        sr.extend_from_slice(&[0; 4]);
        sr.extend_from_slice(&10u32.to_be_bytes());
        sr.extend_from_slice(&[0; 12]);
        let len = sr.len();
        m.rtcp(e, &mut sr, len);
        assert_eq!(sr[4..8], 0xeu32.to_be_bytes());
        assert_eq!(sr[16..20], (1000u32 + 960).to_be_bytes());
        assert_eq!(sr[28..32], 0xbu32.to_be_bytes());
        assert_eq!(sr[36..40], 10u32.to_be_bytes());
        // The browser's report about the stream it receives names the enterprise's.
        let mut rr = vec![0x81, 201, 0, 7];
        rr.extend_from_slice(&0xbu32.to_be_bytes());
        rr.extend_from_slice(&0xeu32.to_be_bytes());
        rr.extend_from_slice(&[0; 4]);
        rr.extend_from_slice(&101u32.to_be_bytes());
        rr.extend_from_slice(&[0; 12]);
        m.rtcp(b, &mut rr, 32);
        assert_eq!(rr[8..12], 0xfu32.to_be_bytes());
        assert_eq!(rr[16..20], 0u32.to_be_bytes());
    }

    #[test]
    fn feedback_names_the_stream_its_sender_knows() {
        let (mut m, t0) = (media(), Instant::now());
        let (b, e) = (Direction::FromBrowser, Direction::FromEnterprise);
        send(&mut m, t0, e, &rtp(111, 100, 1000, 0xe)).unwrap();
        m.restart(e);
        send(&mut m, t0, e, &rtp(111, 0, 0, 0xf)).unwrap();
        // A PLI from the browser about the stream it receives (0xe) reaches the enterprise
        // naming the stream the enterprise sends now (0xf).
        let mut pli = vec![0x81, 206, 0, 2, 0, 0, 0, 0xb, 0, 0, 0, 0xe];
        m.rtcp(b, &mut pli, 12);
        assert_eq!(pli[8..12], 0xfu32.to_be_bytes());
        // A NACK for the browser's sequence 101 (the new stream's first packet: 0) and the
        // two after it asks the enterprise for its 0, 1 and 2.
        let mut nack = vec![0x81, 205, 0, 3, 0, 0, 0, 0xb, 0, 0, 0, 0xe, 0, 101, 0, 3];
        m.rtcp(b, &mut nack, 16);
        assert_eq!(nack[8..16], [0, 0, 0, 0xf, 0, 0, 0, 3]);
    }

    #[test]
    fn garbage_never_panics() {
        let (mut m, t0) = (media(), Instant::now());
        let (b, e) = (Direction::FromBrowser, Direction::FromEnterprise);
        send(&mut m, t0, b, &rtp(111, 1, 0, 0xb)).unwrap();
        send(&mut m, t0, e, &rtp(111, 1, 0, 0xe)).unwrap();
        m.restart(e);
        send(&mut m, t0, e, &rtp(111, 9, 0, 0xf)).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 80) as usize;
            let mut buf: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
            // Mostly RTCP-looking headers, so the walk goes deep.
            if len >= 2 {
                buf[0] = 0x80 | (buf[0] & 0x1f);
                buf[1] = 200 + (buf[1] % 7);
            }
            // Lengths up to 7 bytes past the buffer, too.
            let claimed = len + (x >> 60) as usize;
            m.rtcp(if x & 1 == 0 { b } else { e }, &mut buf, claimed);
            let _ = m.rtp(t0, e, &mut buf, claimed);
        }
    }
}
