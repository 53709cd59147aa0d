//! The quality maths against RFC 3550's examples and hand-computed values, on a virtual
//! clock.

use std::time::{Duration, Instant};

use super::rtcp::{BlockFigures, Item, Items, Report};
use super::*;

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[1] = pt;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// A report block: SSRC, fraction, 24-bit cumulative lost, highest sequence, jitter, LSR,
/// DLSR.
fn block(ssrc: u32, fraction: u8, lost: i32, jitter: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
    let mut b = ssrc.to_be_bytes().to_vec();
    b.push(fraction);
    b.extend_from_slice(&lost.to_be_bytes()[1..]);
    b.extend_from_slice(&0x0001_0203u32.to_be_bytes());
    b.extend_from_slice(&jitter.to_be_bytes());
    b.extend_from_slice(&lsr.to_be_bytes());
    b.extend_from_slice(&dlsr.to_be_bytes());
    b
}

fn packet(pt: u8, count: u8, body: &[u8]) -> Vec<u8> {
    assert_eq!(body.len() % 4, 0);
    let words = (body.len() / 4) as u16;
    let mut p = vec![0x80 | count, pt];
    p.extend_from_slice(&words.to_be_bytes());
    p.extend_from_slice(body);
    p
}

/// An SR from `ssrc` with NTP time `ntp` (64-bit) and `blocks`.
fn sr(ssrc: u32, ntp: u64, blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut body = ssrc.to_be_bytes().to_vec();
    body.extend_from_slice(&ntp.to_be_bytes());
    body.extend_from_slice(&[0; 12]);
    for b in blocks {
        body.extend_from_slice(b);
    }
    packet(200, blocks.len() as u8, &body)
}

fn rr(ssrc: u32, blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut body = ssrc.to_be_bytes().to_vec();
    for b in blocks {
        body.extend_from_slice(b);
    }
    packet(201, blocks.len() as u8, &body)
}

fn sdes(ssrc: u32) -> Vec<u8> {
    let mut body = ssrc.to_be_bytes().to_vec();
    body.extend_from_slice(&[1, 2, b'a', b'b']);
    packet(202, 1, &body)
}

#[test]
fn report_blocks_parse_with_signed_24_bit_loss() {
    let compound = [
        sr(
            0x1111_1111,
            0xb705_2000_0000_0000,
            &[block(7, 0x19, -1, 480, 0xb705_2000, 0x0005_4000)],
        ),
        sdes(0x1111_1111),
        rr(0x2222_2222, &[block(8, 0, 0x7f_ffff, 3, 0, 0)]),
    ]
    .concat();
    let items: Vec<Item> = Items::new(&compound).collect();
    assert_eq!(
        items,
        [
            Item::SenderTime(0x2000_0000),
            Item::Report(Report {
                ssrc: 7,
                block: Some(BlockFigures {
                    fraction: 0x19,
                    lost: -1,
                    jitter: 480,
                }),
                lsr: 0xb705_2000,
                dlsr: 0x0005_4000,
            }),
            Item::Report(Report {
                ssrc: 8,
                block: Some(BlockFigures {
                    fraction: 0,
                    lost: 0x7f_ffff,
                    jitter: 3,
                }),
                lsr: 0,
                dlsr: 0,
            }),
        ]
    );
}

#[test]
fn sr_ntp_middle_bits() {
    // NTP 0xAAAA_BBBB.CCCC_DDDD: the middle 32 bits are 0xBBBB_CCCC.
    let p = sr(1, 0xaaaa_bbbb_cccc_dddd, &[]);
    assert_eq!(
        Items::new(&p).collect::<Vec<_>>(),
        [Item::SenderTime(0xbbbb_cccc)]
    );
}

#[test]
fn xr_reference_time_and_dlrr() {
    let mut body = 9u32.to_be_bytes().to_vec();
    // RRTR (BT 4, length 2): NTP 0x0102_0304.0506_0708.
    body.extend_from_slice(&[4, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    // An unknown block type (length 1) is skipped.
    body.extend_from_slice(&[99, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
    // DLRR (BT 5) with two sub-blocks.
    body.extend_from_slice(&[5, 0, 0, 6]);
    for (ssrc, lrr, dlrr) in [(1u32, 0x0304_0506u32, 65_536u32), (2, 0, 0)] {
        body.extend_from_slice(&ssrc.to_be_bytes());
        body.extend_from_slice(&lrr.to_be_bytes());
        body.extend_from_slice(&dlrr.to_be_bytes());
    }
    let p = packet(207, 0, &body);
    let items: Vec<Item> = Items::new(&p).collect();
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0], Item::SenderTime(0x0304_0506));
    assert_eq!(
        items[1],
        Item::Report(Report {
            ssrc: 1,
            block: None,
            lsr: 0x0304_0506,
            dlsr: 65_536,
        })
    );
}

#[test]
fn truncated_random_and_oversized_rtcp_never_panic() {
    let valid = [
        sr(1, 0x0102_0304_0506_0708, &[block(2, 1, 5, 6, 7, 8)]),
        rr(3, &[block(4, 1, 2, 3, 4, 5), block(5, 1, 2, 3, 4, 5)]),
    ]
    .concat();
    let now = Instant::now();
    let mut q = Quality::new(now, Formats::new(&[]));
    let cells = Cells::default();
    for cut in 0..=valid.len() {
        let _ = Items::new(&valid[..cut]).count();
        q.observe(Leg::Browser, now, true, &valid[..cut], &cells);
    }
    // Counts and lengths that claim more than is there.
    let mut lying = valid.clone();
    lying[0] |= 0x1f;
    lying[3] = 0xff;
    assert_eq!(Items::new(&lying).count(), 0);
    let mut lying = valid.clone();
    lying[0] |= 0x1f;
    assert!(Items::new(&lying).count() <= 4);
    // Random datagrams of every length up to 1500 (xorshift, fixed seed).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = [0u8; 1500];
    for round in 0..5000 {
        let len = round % buf.len();
        for b in &mut buf[..len] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        // Half of them start like RTCP, so the walk gets past the first header.
        if round % 2 == 0 && len > 1 {
            buf[0] = 0x80 | (buf[0] & 0x3f);
            buf[1] = [200, 201, 207][round % 3];
        }
        q.observe(Leg::Enterprise, now, true, &buf[..len], &cells);
        q.observe(Leg::Enterprise, now, false, &buf[..len], &cells);
    }
    let _ = cells.snapshot();
}

/// RFC 3550 section 6.4.1's example: an SR with LSR 0xb705:2000 (46853.125 s) answered at
/// 0xb710:8000 (46864.500 s) with DLSR 0x0005:4000 (5.250 s) gives 6.125 s.
#[test]
fn rtt_from_lsr_and_dlsr_as_rfc_3550_computes_it() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[]));
    let cells = Cells::default();
    // The enterprise's SR goes out on the browser leg at t0.
    let ntp = 0xb705_2000u64 << 16;
    q.observe(Leg::Enterprise, t0, true, &sr(0xe, ntp, &[]), &cells);
    // The browser answers 11.375 s later.
    let report = rr(0xb, &[block(0xe, 0, 0, 0, 0xb705_2000, 0x0005_4000)]);
    let at = t0 + Duration::from_millis(11_375);
    q.observe(Leg::Browser, at, true, &report, &cells);
    let quality = cells.snapshot();
    assert_eq!(quality.browser.rtt_ms, Some(6125.0));
    assert_eq!(quality.enterprise.rtt_ms, None);
    // An LSR naming no SR forwarded on the leg gives nothing; the enterprise's own LSR
    // would need an SR forwarded toward it.
    let stranger = rr(0xe, &[block(0xb, 0, 0, 0, 0xb705_2000, 0)]);
    q.observe(Leg::Enterprise, at, true, &stranger, &cells);
    assert_eq!(cells.snapshot().enterprise.rtt_ms, None);
    // 150 ms after forwarding with DLSR 100 ms (6554/65536 s = 100.006 ms): 49.994 ms.
    q.observe(
        Leg::Browser,
        at,
        true,
        &sr(0xb, 0x1234_5678 << 16, &[]),
        &cells,
    );
    let back = rr(0xe, &[block(0xb, 0, 0, 0, 0x1234_5678, 6554)]);
    q.observe(
        Leg::Enterprise,
        at + Duration::from_millis(150),
        true,
        &back,
        &cells,
    );
    assert_eq!(cells.snapshot().enterprise.rtt_ms, Some(49.994));
}

/// A.3: 5 of the first 100 packets lost is (5 << 8) / 100 = 12 in 8-bit fixed point; the
/// cumulative counts carry on across the interval.
#[test]
fn loss_fraction_in_eight_bit_fixed_point() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[]));
    let cells = Cells::default();
    let mut now = t0;
    let frame = Duration::from_millis(20);
    for seq in 0u16..100 {
        if seq % 20 != 7 {
            let p = rtp(0x5555, seq, u32::from(seq) * 160, 0);
            q.observe(Leg::Enterprise, now, false, &p, &cells);
        }
        now += frame;
    }
    let rx = cells.snapshot().enterprise.received.unwrap();
    assert_eq!((rx.expected, rx.packets, rx.lost), (100, 95, 5));
    assert_eq!(rx.fraction_lost, 0.0, "no interval complete yet");
    // The packet that closes the 5 s interval: 101 expected, 96 received.
    now = t0 + INTERVAL;
    q.observe(
        Leg::Enterprise,
        now,
        false,
        &rtp(0x5555, 100, 16_000, 0),
        &cells,
    );
    let rx = cells.snapshot().enterprise.received.unwrap();
    assert_eq!((rx.expected, rx.packets, rx.lost), (101, 96, 5));
    assert_eq!(rx.fraction_lost, ((5 << 8) / 101) as f64 / 256.0);
    assert_eq!(rx.fraction_lost, 12.0 / 256.0);
    assert!((rx.loss - 5.0 / 101.0).abs() < 1e-12);
    assert_eq!(
        (rx.ssrc, rx.clock_rate, rx.codec),
        (0x5555, 8000, Codec::Pcmu)
    );
}

/// A.8 in its integer form on packets 20 ms apart in timestamp (160 units at 8 kHz) whose
/// odd ones arrive 5 ms (40 units) late: |D| = 40 every time, so J goes 2, 4, 7 (the
/// floating-point form: 2.5, 4.84, 7.04) and converges on 40.
#[test]
fn jitter_in_timestamp_units() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[PayloadFormat::new(0, "PCMU", 8000)]));
    let cells = Cells::default();
    let arrival = |k: u32| t0 + Duration::from_millis(u64::from(k) * 20 + 5 * u64::from(k % 2));
    let mut seen = Vec::new();
    for k in 0..400u32 {
        let p = rtp(1, k as u16, 1000 + k * 160, 0);
        q.observe(Leg::Browser, arrival(k), false, &p, &cells);
        seen.push(cells.snapshot().browser.received.unwrap().jitter);
    }
    assert_eq!(&seen[..4], &[0, 2, 4, 7]);
    assert!((39..=40).contains(&seen[399]), "{}", seen[399]);
    let rx = cells.snapshot().browser.received.unwrap();
    assert_eq!(rx.jitter_ms, Some(f64::from(rx.jitter) / 8.0));
    assert_eq!(rx.lost, 0);
}

/// Found against Chromium (tests/quality_chromium.rs): a packet overtaken by the next one
/// arrives late but the network is otherwise steady. libwebrtc and aiortc leave late
/// packets out of their jitter and compare the next one with the last packet in order; so
/// does media-edge, and a steady stream with every tenth packet 25 ms late (after its
/// successor) shows no jitter. Pairing in arrival order instead gave each late packet a
/// deviation of 200 units and its successor another: 44 units (5.5 ms) after 400 packets
/// against the peers' 0.
#[test]
fn jitter_leaves_late_packets_out_as_the_peers_do() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[PayloadFormat::new(0, "PCMU", 8000)]));
    let cells = Cells::default();
    let late = |k: u32| k % 10 == 5;
    let arrival =
        |k: u32| t0 + Duration::from_millis(u64::from(k) * 20 + if late(k) { 25 } else { 0 });
    let mut order: Vec<u32> = (0..400).collect();
    order.sort_by_key(|&k| arrival(k));
    assert_eq!(&order[4..8], &[4, 6, 5, 7]);
    for &k in &order {
        let p = rtp(1, k as u16, 1000 + k * 160, 0);
        q.observe(Leg::Browser, arrival(k), false, &p, &cells);
    }
    let rx = cells.snapshot().browser.received.unwrap();
    assert_eq!((rx.packets, rx.expected, rx.lost), (400, 400, 0));
    assert_eq!(rx.jitter, 0);
    // The late packets' own lateness shows when they arrive in order, late all the same.
    let mut q = Quality::new(t0, Formats::new(&[PayloadFormat::new(0, "PCMU", 8000)]));
    let cells = Cells::default();
    for k in 0..400u32 {
        let at = t0 + Duration::from_millis(u64::from(k) * 20 + if late(k) { 15 } else { 0 });
        q.observe(
            Leg::Browser,
            at,
            false,
            &rtp(1, k as u16, 1000 + k * 160, 0),
            &cells,
        );
    }
    assert!(cells.snapshot().browser.received.unwrap().jitter > 0);
}

#[test]
fn jitter_needs_a_clock_rate_and_skips_telephone_events() {
    let t0 = Instant::now();
    let formats = Formats::new(&[
        PayloadFormat::new(111, "opus", 48_000),
        PayloadFormat::new(101, "telephone-event", 48_000),
    ]);
    let mut q = Quality::new(t0, formats);
    let cells = Cells::default();
    // Dynamic payload type 96 is not among the formats: no clock, no jitter.
    for k in 0..10u32 {
        let at = t0 + Duration::from_millis(u64::from(k) * 27);
        q.observe(
            Leg::Browser,
            at,
            false,
            &rtp(1, k as u16, k * 960, 96),
            &cells,
        );
    }
    let rx = cells.snapshot().browser.received.unwrap();
    assert_eq!((rx.clock_rate, rx.jitter, rx.jitter_ms), (0, 0, None));
    // Events keep one timestamp and arrive at any time: they leave the jitter alone.
    for k in 0..10u32 {
        let at = t0 + Duration::from_millis(500 + u64::from(k) * 50);
        q.observe(
            Leg::Enterprise,
            at,
            false,
            &rtp(2, k as u16, 960, 101),
            &cells,
        );
    }
    let rx = cells.snapshot().enterprise.received.unwrap();
    assert_eq!(
        (rx.clock_rate, rx.codec, rx.jitter),
        (48_000, Codec::TelephoneEvent, 0)
    );
    assert_eq!(rx.packets, 10);
}

#[test]
fn sequence_wraps_restarts_and_ssrc_changes_keep_cumulative_counts() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[]));
    let cells = Cells::default();
    let mut now = t0;
    let send = |q: &mut Quality, ssrc: u32, seq: u16, now: Instant| {
        q.observe(Leg::Browser, now, false, &rtp(ssrc, seq, 0, 0), &cells);
        cells.snapshot().browser.received.unwrap()
    };
    // Across the wrap: 65530..=65535, 0..=3, one lost (65534).
    for seq in [65530u16, 65531, 65532, 65533, 65535, 0, 1, 2, 3] {
        now += Duration::from_millis(20);
        send(&mut q, 7, seq, now);
    }
    let rx = send(&mut q, 7, 4, now);
    assert_eq!((rx.expected, rx.packets, rx.lost), (11, 10, 1));
    // A duplicate counts as received (RFC 3550), lost goes down.
    let rx = send(&mut q, 7, 4, now);
    assert_eq!((rx.expected, rx.packets, rx.lost), (11, 11, 0));
    // A jump far ahead is ignored once, taken as a restart when the next follows it.
    let rx = send(&mut q, 7, 30_000, now);
    assert_eq!(rx.packets, 11);
    let rx = send(&mut q, 7, 30_001, now);
    assert_eq!((rx.expected, rx.packets), (12, 12));
    // Another SSRC is ignored while the first is alive ...
    let rx = send(&mut q, 8, 100, now + Duration::from_millis(500));
    assert_eq!((rx.ssrc, rx.packets), (7, 12));
    // ... and followed once it has been silent for SWITCH_AFTER, counts carried over.
    let later = now + SWITCH_AFTER + Duration::from_millis(1);
    send(&mut q, 8, 100, later);
    let rx = send(&mut q, 8, 102, later);
    assert_eq!(rx.ssrc, 8);
    assert_eq!((rx.expected, rx.packets, rx.lost), (15, 14, 1));
}

#[test]
fn reports_about_the_stream_sent_on_the_leg() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[PayloadFormat::new(0, "PCMU", 8000)]));
    let cells = Cells::default();
    // The enterprise sends SSRC 0xe to the browser; the browser reports on 0xe and on a
    // stream the relay never sent (ignored).
    q.observe(Leg::Enterprise, t0, false, &rtp(0xe, 1, 0, 0), &cells);
    let report = rr(
        0xb,
        &[
            block(0x99, 200, 1000, 9999, 0, 0),
            block(0xe, 0x0d, 12, 160, 0, 0),
        ],
    );
    q.observe(Leg::Browser, t0, true, &report, &cells);
    let rep = cells.snapshot().browser.reported.unwrap();
    assert_eq!(
        (rep.reports, rep.ssrc, rep.lost, rep.jitter),
        (1, 0xe, 12, 160)
    );
    assert_eq!(rep.fraction_lost, 13.0 / 256.0);
    // 160 units of the 8 kHz stream it is about: 20 ms.
    assert_eq!(rep.jitter_ms, Some(20.0));
    assert_eq!(cells.snapshot().enterprise.reported, None);
}

#[test]
fn e_model_hand_computed_values() {
    let (ie, bpl) = Codec::Pcmu.e_model();
    // R = 93.2: 1 + 0.035 * 93.2 + 7e-6 * 93.2 * 33.2 * 6.8 = 4.4093.
    assert!((mos(0.0, 0.0, ie, bpl) - 4.409_285_8).abs() < 1e-6);
    // 5 % loss: Ie_eff = 95 * 5 / 30.1 = 15.781, R = 77.419, MOS 3.9228.
    assert!((mos(0.0, 5.0, ie, bpl) - 3.922_838_99).abs() < 1e-6);
    // 1 %: R = 89.560, MOS 4.3281.
    assert!((mos(0.0, 1.0, ie, bpl) - 4.328_075_38).abs() < 1e-6);
    // 200 ms: Id = 4.8 + 0.11 * 22.7 = 7.297, R = 85.903, MOS 4.2262.
    assert!((mos(200.0, 0.0, ie, bpl) - 4.226_180_12).abs() < 1e-6);
    // The ends.
    assert_eq!(mos(0.0, 100.0, 60.0, 1.0), 1.0);
    assert_eq!(mos(5000.0, 0.0, ie, bpl), 1.0);
}

#[test]
fn leg_mos_takes_the_worse_direction_and_only_the_hops_loss() {
    let t0 = Instant::now();
    let mut q = Quality::new(t0, Formats::new(&[]));
    let cells = Cells::default();
    assert_eq!(cells.snapshot().browser.mos, None);
    for seq in 0..100u16 {
        let at = t0 + Duration::from_millis(u64::from(seq) * 20);
        let p = rtp(1, seq, u32::from(seq) * 160, 0);
        q.observe(Leg::Browser, at, false, &p, &cells);
        // The enterprise's stream toward the browser lost 3 of 100 before media-edge.
        if seq % 30 != 29 {
            q.observe(Leg::Enterprise, at, false, &rtp(2, seq, 0, 0), &cells);
        }
    }
    let clean = cells.snapshot().browser.mos.unwrap();
    assert!((clean - 4.409_285_8).abs() < 1e-6, "{clean}");
    // The browser reports those 3 lost: none of them on the browser's hop.
    q.observe(
        Leg::Browser,
        t0,
        true,
        &rr(3, &[block(2, 8, 3, 0, 0, 0)]),
        &cells,
    );
    assert_eq!(cells.snapshot().browser.mos.unwrap(), clean);
    // 8 lost by the browser: 5 of the 100 on its hop (5 %).
    q.observe(
        Leg::Browser,
        t0,
        true,
        &rr(3, &[block(2, 20, 8, 0, 0, 0)]),
        &cells,
    );
    let lossy = cells.snapshot().browser.mos.unwrap();
    let want = mos(0.0, 5.0, 0.0, 25.1);
    assert!((lossy - want).abs() < 1e-9, "{lossy} {want}");
    // The enterprise leg's own loss: 3 of 100 received.
    let enterprise = cells.snapshot().enterprise.mos.unwrap();
    assert!(
        (enterprise - mos(0.0, 3.0, 0.0, 25.1)).abs() < 1e-9,
        "{enterprise}"
    );
}
