//! Call quality per session and leg, from the media itself and the peers' RTCP: packets
//! lost (cumulative and as RFC 3550's 8-bit fraction), interarrival jitter, round-trip time
//! and an E-model MOS estimate.
//!
//! # What is measured, per leg (browser, enterprise)
//! - **Received**: the RTP stream media-edge receives on the leg, measured by media-edge
//!   (RFC 3550 appendix A.1 sequence tracking, A.3 loss, A.8 jitter in timestamp units at the
//!   payload format's clock rate, over packets in sequence order as libwebrtc and aiortc
//!   compute it: a late, reordered packet is left out). The loss fraction is over fixed [`INTERVAL`]s.
//! - **Reported**: the peer's RTCP report block (SR or RR) about the stream media-edge sends
//!   it on the leg: its cumulative loss, 8-bit fraction and jitter as the peer computed them.
//! - **RTT**: the round trip between media-edge and the leg's peer, and nothing beyond it.
//!   When a sender report (or an XR receiver reference time, RFC 3611) is forwarded out on a
//!   leg, its NTP middle 32 bits and the time are kept; when that leg's peer answers with a
//!   report block (or an XR DLRR sub-block) whose LSR names it, `RTT = arrival - forwarded -
//!   DLSR`. The browser leg's RTT covers media-edge -> browser -> media-edge (through TURN
//!   when the browser relays), the enterprise leg's media-edge -> enterprise peer ->
//!   media-edge; a call's end-to-end round trip is their sum.
//! - **MOS**: see [`mos`].
//!
//! One stream per leg and direction is followed: the first SSRC seen; another SSRC takes
//! over once the current one has been silent for [`SWITCH_AFTER`] (a transfer), its figures
//! carried into the cumulative counts. With several SSRCs at once (BUNDLEd video) only the
//! first is measured.
//!
//! # Cost
//! [`Quality`] is part of the session's sans-IO core (the worker's thread owns it, no lock):
//! per RTP packet a few integer operations on the header and three single-writer atomic
//! stores into [`Cells`], which the control plane reads; per RTCP packet a bounded walk of
//! the compound packet. Nothing allocates. Malformed RTCP is skipped from the first packet
//! that does not parse; it never panics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde::Serialize;

use rtcp::{Item, Items};

mod rtcp;
#[cfg(test)]
mod tests;

/// The interval over which the received loss fraction is computed.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// How long a followed stream must be silent before another SSRC takes its place.
pub const SWITCH_AFTER: Duration = Duration::from_secs(1);
/// The most payload formats a session keeps for the quality figures.
pub(crate) const MAX_FORMATS: usize = 16;
/// RFC 3550 appendix A.1: a jump of less than this is in order (a gap of lost packets).
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 appendix A.1: a step back of at most this is a late or duplicate packet.
const MAX_MISORDER: u16 = 100;
/// Sender reports remembered per leg for RTT (peers send one every few seconds).
const SENT_SRS: usize = 8;

/// A codec, as far as the E-model's values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Codec {
    /// PCMU (G.711 mu-law).
    Pcmu,
    /// PCMA (G.711 A-law).
    Pcma,
    /// G.722.
    G722,
    /// Opus.
    Opus,
    /// RFC 4733 telephone-event (DTMF): not audio, left out of jitter and MOS.
    TelephoneEvent,
    /// Anything else.
    Other,
}

impl Codec {
    /// The codec of an `a=rtpmap` encoding name (case-insensitive).
    pub fn from_name(name: &str) -> Codec {
        const NAMES: [(&str, Codec); 5] = [
            ("PCMU", Codec::Pcmu),
            ("PCMA", Codec::Pcma),
            ("G722", Codec::G722),
            ("opus", Codec::Opus),
            ("telephone-event", Codec::TelephoneEvent),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(Codec::Other, |(_, c)| *c)
    }

    /// The E-model's equipment impairment factor `Ie` and packet-loss robustness `Bpl`.
    ///
    /// G.711 (PCMU, PCMA): `Ie = 0`, `Bpl = 25.1`, ITU-T G.113 Appendix I for G.711 with
    /// packet loss concealment (G.711 Appendix I). ITU-T gives no narrowband E-model values
    /// for G.722 or Opus (G.722 has wideband ones); media-edge uses the G.711 values for
    /// every codec, so their MOS is the narrowband estimate of the same network.
    pub fn e_model(self) -> (f64, f64) {
        (0.0, 25.1)
    }

    fn index(self) -> u64 {
        self as u64
    }

    fn from_index(i: u64) -> Codec {
        [
            Codec::Pcmu,
            Codec::Pcma,
            Codec::G722,
            Codec::Opus,
            Codec::TelephoneEvent,
        ]
        .get(i as usize)
        .copied()
        .unwrap_or(Codec::Other)
    }
}

/// One RTP payload format of a session (from `a=rtpmap`): its payload type, clock rate and
/// codec, which the quality figures need to read timestamps and pick E-model values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PayloadFormat {
    /// The payload type.
    pub pt: u8,
    /// The RTP clock rate, Hz.
    pub clock_rate: u32,
    /// The codec.
    pub codec: Codec,
}

impl PayloadFormat {
    /// Payload type `pt` carrying encoding `name` at `clock_rate` Hz.
    pub fn new(pt: u8, name: &str, clock_rate: u32) -> Self {
        PayloadFormat {
            pt,
            clock_rate,
            codec: Codec::from_name(name),
        }
    }

    /// The static payload types (RFC 3551) an SDP may use without `a=rtpmap`; used when a
    /// session names no formats.
    fn static_format(pt: u8) -> Option<PayloadFormat> {
        match pt {
            0 => Some(PayloadFormat::new(0, "PCMU", 8000)),
            8 => Some(PayloadFormat::new(8, "PCMA", 8000)),
            9 => Some(PayloadFormat::new(9, "G722", 8000)),
            _ => None,
        }
    }
}

/// Which leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    Browser = 0,
    Enterprise = 1,
}

impl Leg {
    fn other(self) -> Leg {
        match self {
            Leg::Browser => Leg::Enterprise,
            Leg::Enterprise => Leg::Browser,
        }
    }
}

/// One published figure of a leg.
#[derive(Debug, Clone, Copy)]
enum Cell {
    /// Bit 32 set once a stream is followed; the SSRC in the low 32 bits.
    RxSsrc,
    RxClock,
    RxCodec,
    RxPackets,
    RxExpected,
    RxFraction,
    RxJitter,
    /// Report blocks taken from the peer about what media-edge sends it.
    RepCount,
    RepSsrc,
    RepFraction,
    /// The 24-bit signed cumulative loss, sign-extended, as `i64` bits.
    RepLost,
    RepJitter,
    RttCount,
    RttMicros,
}

const CELLS: usize = 14;

/// What a session's worker publishes for the control plane: single-writer atomics (a load
/// and a store, no locked read-modify-write), read by [`Cells::snapshot`].
#[derive(Debug, Default)]
pub(crate) struct Cells {
    legs: [[AtomicU64; CELLS]; 2],
}

impl Cells {
    fn set(&self, leg: Leg, cell: Cell, value: u64) {
        self.legs[leg as usize][cell as usize].store(value, Relaxed);
    }

    fn get(&self, leg: Leg, cell: Cell) -> u64 {
        self.legs[leg as usize][cell as usize].load(Relaxed)
    }

    /// The figures now (each read on its own: a snapshot may mix values a packet apart).
    pub(crate) fn snapshot(&self) -> CallQuality {
        let received = |leg| {
            let ssrc = self.get(leg, Cell::RxSsrc);
            (ssrc >> 32 != 0).then(|| {
                let clock = self.get(leg, Cell::RxClock) as u32;
                let jitter = self.get(leg, Cell::RxJitter) as u32;
                let packets = self.get(leg, Cell::RxPackets);
                let expected = self.get(leg, Cell::RxExpected);
                let lost = expected as i64 - packets as i64;
                Received {
                    ssrc: ssrc as u32,
                    clock_rate: clock,
                    codec: Codec::from_index(self.get(leg, Cell::RxCodec)),
                    packets,
                    expected,
                    lost,
                    loss: ratio(lost, expected),
                    fraction_lost: self.get(leg, Cell::RxFraction) as f64 / 256.0,
                    jitter,
                    jitter_ms: units_to_ms(jitter, clock),
                }
            })
        };
        let (rx_browser, rx_enterprise) = (received(Leg::Browser), received(Leg::Enterprise));
        let reported = |leg: Leg, sent: &Option<Received>| {
            let count = self.get(leg, Cell::RepCount);
            (count > 0).then(|| {
                let jitter = self.get(leg, Cell::RepJitter) as u32;
                Reported {
                    reports: count,
                    ssrc: self.get(leg, Cell::RepSsrc) as u32,
                    lost: self.get(leg, Cell::RepLost) as i64,
                    fraction_lost: self.get(leg, Cell::RepFraction) as f64 / 256.0,
                    jitter,
                    jitter_ms: sent
                        .as_ref()
                        .and_then(|s| units_to_ms(jitter, s.clock_rate)),
                }
            })
        };
        let leg = |leg: Leg, received: Option<Received>, sent: &Option<Received>| {
            let reported = reported(leg, sent);
            let rtt_ms = (self.get(leg, Cell::RttCount) > 0)
                .then(|| self.get(leg, Cell::RttMicros) as f64 / 1000.0);
            let mos = leg_mos(received.as_ref(), reported.as_ref(), sent.as_ref(), rtt_ms);
            LegQuality {
                received,
                reported,
                rtt_ms,
                mos,
            }
        };
        CallQuality {
            browser: leg(Leg::Browser, rx_browser.clone(), &rx_enterprise),
            enterprise: leg(Leg::Enterprise, rx_enterprise, &rx_browser),
        }
    }
}

fn ratio(lost: i64, expected: u64) -> f64 {
    if expected == 0 {
        0.0
    } else {
        lost.max(0) as f64 / expected as f64
    }
}

/// Timestamp units at `clock` Hz in milliseconds (`None` when the clock is not known).
fn units_to_ms(units: u32, clock: u32) -> Option<f64> {
    (clock > 0).then(|| f64::from(units) * 1000.0 / f64::from(clock))
}

/// A session's call quality, both legs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CallQuality {
    /// The browser leg.
    pub browser: LegQuality,
    /// The enterprise leg.
    pub enterprise: LegQuality,
}

/// One leg's call quality (see the module docs of `quality` for what each figure covers).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LegQuality {
    /// The RTP stream media-edge receives on this leg, as media-edge measured it.
    pub received: Option<Received>,
    /// The peer's latest report about the stream media-edge sends it on this leg.
    pub reported: Option<Reported>,
    /// The latest round trip between media-edge and this leg's peer, milliseconds.
    pub rtt_ms: Option<f64>,
    /// The E-model MOS estimate of this leg ([`mos`]).
    pub mos: Option<f64>,
}

/// A received stream's figures (RFC 3550 appendix A).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Received {
    /// The SSRC followed.
    pub ssrc: u32,
    /// Its clock rate, Hz (0: not known, no jitter).
    pub clock_rate: u32,
    /// Its codec.
    pub codec: Codec,
    /// Packets received (duplicates included, as RFC 3550 counts them).
    pub packets: u64,
    /// Packets expected: the extended highest sequence number minus the first, plus one.
    pub expected: u64,
    /// Cumulative packets lost: `expected - packets` (negative with duplicates).
    pub lost: i64,
    /// `lost / expected` since the start, 0 to 1.
    pub loss: f64,
    /// The fraction lost over the last complete [`INTERVAL`] (RFC 3550's 8-bit fixed
    /// point, divided by 256).
    pub fraction_lost: f64,
    /// Interarrival jitter, timestamp units (RFC 3550 appendix A.8).
    pub jitter: u32,
    /// The same in milliseconds.
    pub jitter_ms: Option<f64>,
}

/// A peer's report block about what media-edge sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Reported {
    /// Report blocks taken so far.
    pub reports: u64,
    /// The SSRC reported on.
    pub ssrc: u32,
    /// Cumulative packets lost, as the peer counts them.
    pub lost: i64,
    /// The fraction lost over the peer's last reporting interval (8-bit fixed point / 256).
    pub fraction_lost: f64,
    /// Interarrival jitter, timestamp units, as the peer computed it.
    pub jitter: u32,
    /// The same in milliseconds at the stream's clock rate, when known.
    pub jitter_ms: Option<f64>,
}

/// The E-model MOS of a leg: loss is the worse of the received cumulative loss and the
/// hop's share of what the peer reports lost of the stream media-edge sends it (`sent`: the
/// other leg's received stream, whose own losses before media-edge the peer counts too),
/// jitter the worse of the two, delay `RTT/2 + 2 * jitter` (the hop's one-way delay plus a
/// jitter buffer of twice the jitter). `None` before any RTP was received on the leg.
fn leg_mos(
    rx: Option<&Received>,
    rep: Option<&Reported>,
    sent: Option<&Received>,
    rtt_ms: Option<f64>,
) -> Option<f64> {
    let rx = rx?;
    let hop = match (rep, sent) {
        (Some(r), Some(s)) => ratio(r.lost - s.lost, s.expected),
        _ => 0.0,
    };
    let loss = rx.loss.max(hop);
    let jitter = rep
        .and_then(|r| r.jitter_ms)
        .into_iter()
        .chain(rx.jitter_ms)
        .fold(0.0, f64::max);
    let delay = rtt_ms.unwrap_or(0.0) / 2.0 + 2.0 * jitter;
    let (ie, bpl) = rx.codec.e_model();
    Some(mos(delay, loss * 100.0, ie, bpl))
}

/// The E-model (ITU-T G.107) in its common simplified form, for one-way delay `delay_ms`
/// and random packet loss `loss_percent` with codec values `ie`, `bpl`:
///
/// - `R = 93.2 - Id - Ie_eff` (G.107's default `R0 - Is`, advantage `A = 0`);
/// - `Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)` (Cole and Rosenbluth's fit of G.107's
///   delay impairment for echo-free calls; `H` is the unit step);
/// - `Ie_eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)` (G.107 with `BurstR = 1`);
/// - `MOS = 1 + 0.035 R + 7e-6 R (R - 60) (100 - R)` for `0 < R < 100`, 1 below, 4.5 above.
pub fn mos(delay_ms: f64, loss_percent: f64, ie: f64, bpl: f64) -> f64 {
    let d = delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = loss_percent.clamp(0.0, 100.0);
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl);
    let r = 93.2 - id - ie_eff;
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
    }
}

/// Where a packet falls in its stream (RFC 3550 A.1's `update_seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// The highest sequence number so far (the next one, or after a gap of lost packets).
    InOrder,
    /// A late (reordered) packet, or a duplicate of one before the highest: counted as
    /// received, nothing else.
    Late,
    /// After a big jump, until the next packet confirms a restarted sender: not counted.
    Probation,
}

/// An RTP stream received on a leg (RFC 3550 appendix A.1, A.3, A.8).
#[derive(Debug)]
struct Receiver {
    ssrc: Option<u32>,
    last_seen: Instant,
    base_seq: u64,
    max_seq: u16,
    cycles: u64,
    /// The sequence number after a big jump, awaited to restart (A.1's `bad_seq`).
    bad_seq: Option<u16>,
    received: u64,
    /// Expected and received of the streams followed before (another SSRC, a restart).
    carried: (u64, u64),
    expected_prior: u64,
    received_prior: u64,
    interval_end: Instant,
    /// The fraction lost over the last complete interval, 8-bit fixed point.
    fraction: u8,
    /// The payload type last seen and its format.
    pt: Option<u8>,
    clock: u32,
    codec: Codec,
    /// Jitter times 16 (A.8's integer form).
    jitter_q4: u64,
    /// The previous packet's transit time and timestamp, once known.
    transit: Option<(u32, u32)>,
}

impl Receiver {
    fn new(now: Instant) -> Self {
        Receiver {
            ssrc: None,
            last_seen: now,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            bad_seq: None,
            received: 0,
            carried: (0, 0),
            expected_prior: 0,
            received_prior: 0,
            interval_end: now + INTERVAL,
            fraction: 0,
            pt: None,
            clock: 0,
            codec: Codec::Other,
            jitter_q4: 0,
            transit: None,
        }
    }

    fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        (self.cycles + u64::from(self.max_seq) + 1).saturating_sub(self.base_seq)
    }

    /// Starts a new sequence at `seq`, carrying the previous one's figures.
    fn restart(&mut self, seq: u16) {
        self.carried.0 += self.expected();
        self.carried.1 += self.received;
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.cycles = 0;
        self.bad_seq = None;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.transit = None;
    }

    /// A.1's `update_seq`: where the packet falls in the stream.
    fn update_seq(&mut self, seq: u16) -> Arrival {
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
        } else if udelta <= u16::MAX - MAX_MISORDER {
            // A big jump: a restarted sender if the next packet follows it.
            if self.bad_seq == Some(seq) {
                self.restart(seq);
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                return Arrival::Probation;
            }
        } else {
            return Arrival::Late;
        }
        Arrival::InOrder
    }

    /// Handles an RTP header; returns whether a stream is followed (and what to publish).
    fn on_rtp(&mut self, now: Instant, arrival: Duration, rtp: &[u8], formats: &Formats) -> bool {
        let (Some(ssrc), Some(seq), Some(ts)) = (be32(rtp, 8), be16(rtp, 2), be32(rtp, 4)) else {
            return false;
        };
        let pt = rtp[1] & 0x7f;
        match self.ssrc {
            Some(s) if s == ssrc => {}
            Some(_) if now.saturating_duration_since(self.last_seen) < SWITCH_AFTER => {
                return false;
            }
            _ => {
                self.restart(seq);
                // The restart counted the new stream's first packet as a new base.
                self.ssrc = Some(ssrc);
                self.pt = None;
            }
        }
        self.last_seen = now;
        let place = self.update_seq(seq);
        if place == Arrival::Probation {
            return true;
        }
        self.received += 1;
        if self.pt != Some(pt) {
            self.pt = Some(pt);
            let format = formats.get(pt);
            let clock = format.map_or(0, |f| f.clock_rate);
            if clock != self.clock {
                self.transit = None;
            }
            self.clock = clock;
            self.codec = format.map_or(Codec::Other, |f| f.codec);
        }
        if place == Arrival::InOrder && self.clock > 0 && self.codec != Codec::TelephoneEvent {
            self.jitter(arrival, ts);
        }
        if now >= self.interval_end {
            self.close_interval(now);
        }
        true
    }

    /// A.8: `J += (|D| - J) / 16`, skipping packets of the previous packet's timestamp
    /// (several packets of one frame). Called for packets in sequence order only: a late
    /// (reordered) packet is left out and the next one is compared with the last packet
    /// in order, as libwebrtc and aiortc compute the jitter they report (RFC 3550 pairs
    /// packets in arrival order; under reordering that doubles each late packet's
    /// deviation and leaves media-edge's figure incomparable with the peers' own).
    fn jitter(&mut self, arrival: Duration, ts: u32) {
        // Microseconds to timestamp units; wraps like RTP timestamps do.
        let units = (arrival.as_micros() as u64).wrapping_mul(u64::from(self.clock)) / 1_000_000;
        let transit = (units as u32).wrapping_sub(ts);
        if let Some((prev_transit, prev_ts)) = self.transit {
            if prev_ts == ts {
                return;
            }
            let d = u64::from((transit.wrapping_sub(prev_transit) as i32).unsigned_abs());
            self.jitter_q4 = (self.jitter_q4 + d).saturating_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some((transit, ts));
    }

    /// A.3: the fraction lost over the interval now ending, 8-bit fixed point.
    fn close_interval(&mut self, now: Instant) {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        self.interval_end = now + INTERVAL;
        let lost = expected_interval.saturating_sub(received_interval);
        self.fraction = (lost << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
    }
}

/// The payload formats of a session.
#[derive(Debug, Clone)]
pub(crate) struct Formats {
    list: [Option<PayloadFormat>; MAX_FORMATS],
}

impl Formats {
    /// The first [`MAX_FORMATS`] of `formats`; none: the static payload types.
    pub(crate) fn new(formats: &[PayloadFormat]) -> Self {
        let mut list = [None; MAX_FORMATS];
        for (slot, f) in list.iter_mut().zip(formats) {
            *slot = Some(*f);
        }
        Formats { list }
    }

    pub(crate) fn get(&self, pt: u8) -> Option<PayloadFormat> {
        if self.list[0].is_none() {
            return PayloadFormat::static_format(pt);
        }
        self.list.iter().flatten().find(|f| f.pt == pt).copied()
    }
}

/// Sender reports forwarded out on a leg: NTP middle 32 bits and when.
#[derive(Debug, Default)]
struct SentReports {
    ring: [Option<(u32, Instant)>; SENT_SRS],
    next: usize,
}

impl SentReports {
    fn record(&mut self, ntp_mid: u32, now: Instant) {
        self.ring[self.next] = Some((ntp_mid, now));
        self.next = (self.next + 1) % SENT_SRS;
    }

    /// When the latest report with `lsr` went out: a sender repeating its NTP time (aiortc
    /// does while it sends no RTP) is answered about its last report.
    fn find(&self, lsr: u32) -> Option<Instant> {
        (1..=SENT_SRS)
            .filter_map(|back| self.ring[(self.next + SENT_SRS - back) % SENT_SRS])
            .find(|(mid, _)| *mid == lsr)
            .map(|(_, at)| at)
    }
}

/// One leg's measuring state.
#[derive(Debug)]
struct LegState {
    rx: Receiver,
    sent: SentReports,
    reports: u64,
    rtts: u64,
}

/// A session's call-quality state (see the module docs).
#[derive(Debug)]
pub(crate) struct Quality {
    legs: [LegState; 2],
    formats: Formats,
    epoch: Instant,
}

impl Quality {
    pub(crate) fn new(now: Instant, formats: Formats) -> Self {
        let leg = || LegState {
            rx: Receiver::new(now),
            sent: SentReports::default(),
            reports: 0,
            rtts: 0,
        };
        Quality {
            legs: [leg(), leg()],
            formats,
            epoch: now,
        }
    }

    /// A plain RTP (`rtcp == false`) or compound RTCP packet received on `leg` (after SRTP
    /// or SRTCP), about to be forwarded out on the other leg.
    pub(crate) fn observe(
        &mut self,
        leg: Leg,
        now: Instant,
        rtcp: bool,
        plain: &[u8],
        cells: &Cells,
    ) {
        if rtcp {
            self.on_rtcp(leg, now, plain, cells);
        } else {
            self.on_rtp(leg, now, plain, cells);
        }
    }

    /// An RTP packet received on `leg` (plain, after SRTP).
    fn on_rtp(&mut self, leg: Leg, now: Instant, rtp: &[u8], cells: &Cells) {
        let arrival = now.saturating_duration_since(self.epoch);
        let rx = &mut self.legs[leg as usize].rx;
        let interval = rx.interval_end;
        let Some(ssrc) = rx.ssrc else {
            if rx.on_rtp(now, arrival, rtp, &self.formats) {
                publish_stream(cells, leg, rx);
            }
            return;
        };
        if !rx.on_rtp(now, arrival, rtp, &self.formats) {
            return;
        }
        if rx.ssrc != Some(ssrc) || rx.interval_end != interval {
            publish_stream(cells, leg, rx);
        }
        cells.set(leg, Cell::RxPackets, rx.carried.1 + rx.received);
        cells.set(leg, Cell::RxExpected, rx.carried.0 + rx.expected());
        cells.set(leg, Cell::RxJitter, rx.jitter_q4 >> 4);
    }

    /// A compound RTCP packet received on `leg`.
    fn on_rtcp(&mut self, leg: Leg, now: Instant, rtcp: &[u8], cells: &Cells) {
        let out = leg.other();
        let sent_ssrc = self.legs[out as usize].rx.ssrc;
        for item in Items::new(rtcp) {
            match item {
                Item::SenderTime(ntp_mid) => self.legs[out as usize].sent.record(ntp_mid, now),
                Item::Report(block) => {
                    let state = &mut self.legs[leg as usize];
                    if block.lsr != 0 {
                        if let Some(at) = state.sent.find(block.lsr) {
                            state.rtts += 1;
                            let rtt = rtt(now, at, block.dlsr);
                            cells.set(leg, Cell::RttMicros, rtt.as_micros() as u64);
                            cells.set(leg, Cell::RttCount, state.rtts);
                        }
                    }
                    let Some(b) = block.block else { continue };
                    if sent_ssrc.is_some_and(|s| s != block.ssrc) {
                        continue;
                    }
                    state.reports += 1;
                    cells.set(leg, Cell::RepSsrc, u64::from(block.ssrc));
                    cells.set(leg, Cell::RepFraction, u64::from(b.fraction));
                    cells.set(leg, Cell::RepLost, b.lost as u64);
                    cells.set(leg, Cell::RepJitter, u64::from(b.jitter));
                    cells.set(leg, Cell::RepCount, state.reports);
                }
            }
        }
    }
}

/// `now - forwarded - dlsr` (DLSR in 1/65536 s), zero when the clocks' granularity makes
/// it negative.
fn rtt(now: Instant, forwarded: Instant, dlsr: u32) -> Duration {
    let delay = Duration::from_micros(u64::from(dlsr) * 1_000_000 / 65_536);
    now.saturating_duration_since(forwarded)
        .saturating_sub(delay)
}

fn publish_stream(cells: &Cells, leg: Leg, rx: &Receiver) {
    let Some(ssrc) = rx.ssrc else { return };
    cells.set(leg, Cell::RxSsrc, 1 << 32 | u64::from(ssrc));
    cells.set(leg, Cell::RxClock, u64::from(rx.clock));
    cells.set(leg, Cell::RxCodec, rx.codec.index());
    cells.set(leg, Cell::RxFraction, u64::from(rx.fraction));
    cells.set(leg, Cell::RxPackets, rx.carried.1 + rx.received);
    cells.set(leg, Cell::RxExpected, rx.carried.0 + rx.expected());
    cells.set(leg, Cell::RxJitter, rx.jitter_q4 >> 4);
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
