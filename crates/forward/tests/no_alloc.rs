//! Zero heap allocations per forwarded packet in steady state, both directions, plain RTP
//! and SDES-SRTP enterprise legs, through the real worker threads over loopback; ICE consent
//! checks in between (through the guard's ban and rate checks) allocate nothing either, nor
//! do compound RTCP reports (SR and RR, read for the call-quality figures both ways), nor
//! the rewriting path (payload types mapped both ways, a stream rebased after a move, its
//! reports rewritten to match), nor a BUNDLE of audio and video (the browser's packets
//! split by MID header extension and SSRC, each line out of its own enterprise socket,
//! a PLI routed to the video leg).
//!
//! This file is its own test binary with a counting global allocator. Every thread counts
//! except the test thread itself, whose test browser builds packets in `Vec`s: what is
//! counted in the measured window is the relay's workers (and the echo peer, which
//! allocates nothing per packet either).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{payload, rtcp_report, rtp, BareEcho, Browser, HANG_GUARD};
use edge_alloc_count::Scope;
use edge_forward::{
    BundleDemux, Direction, EnterpriseCrypto, EnterpriseRemote, Forwarder, LineIds, MediaPlan,
    SessionSpec, SessionUpdate, VideoSpec,
};
use edge_guard::{Guard, GuardConfig};
use edge_srtp::{CryptoAttribute, Profile};
use edge_stun::Class;

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

/// Sends `n` packets in windows of 32 and takes every echo back, checking each; after each
/// window a compound RTCP report (SR + RR) whose LSR names the previous window's SR, echoed
/// back like the media.
fn exchange(browser: &mut Browser, first: u16, n: u16) {
    for start in (first..first + n).step_by(32) {
        let end = (start + 32).min(first + n);
        for seq in start..end {
            browser.send_rtp(seq, &payload(3, seq));
        }
        for seq in start..end {
            let got = browser.recv_media(HANG_GUARD).unwrap();
            assert_eq!(got, rtp(seq, browser.ssrc, &payload(3, seq)));
        }
        let report = rtcp_report(browser.ssrc, u32::from(end), browser.ssrc, u32::from(start));
        browser.send_rtcp(&report);
        assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), report);
    }
}

/// As [`exchange`] for a session whose media is rewritten: the browser sends payload type 0,
/// the enterprise sees 8, the echo's 8 comes back as 0; after a move the echoed stream is
/// rebased, so only the payload and the payload type are checked.
fn exchange_rewritten(browser: &mut Browser, first: u16, n: u16) {
    for start in (first..first + n).step_by(32) {
        let end = (start + 32).min(first + n);
        for seq in start..end {
            browser.send_rtp(seq, &payload(5, seq));
        }
        for seq in start..end {
            let got = browser.recv_media(HANG_GUARD).unwrap();
            assert_eq!(got[1], 0);
            assert_eq!(got[12..], payload(5, seq));
        }
        let report = rtcp_report(browser.ssrc, u32::from(end), browser.ssrc, u32::from(start));
        browser.send_rtcp(&report);
        browser.recv_media(HANG_GUARD).unwrap();
    }
}

/// The video SSRC of the BUNDLE session's browser.
const VIDEO_SSRC: u32 = 0x5eed_0004;
/// The MID header extension's id in the BUNDLE session.
const MID_ID: u8 = 5;

/// A video packet: payload type 96, the MID extension naming mid "v".
fn video(seq: u16) -> Vec<u8> {
    let mut p = rtp(seq, VIDEO_SSRC, &[]);
    p[0] |= 0x10;
    p[1] = 96;
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, (MID_ID << 4), b'v', 0, 0]);
    p.extend_from_slice(&payload(9, seq));
    p
}

/// As [`exchange`] for the BUNDLE session: audio and video packets (each echoed through its
/// own enterprise socket, so they may come back in any order), then a PLI about the echoed
/// video stream, which reaches the video leg and comes back.
fn exchange_bundle(browser: &mut Browser, first: u16, n: u16) {
    for start in (first..first + n).step_by(16) {
        let end = (start + 16).min(first + n);
        let mut expected = Vec::new();
        for seq in start..end {
            browser.send_rtp(seq, &payload(7, seq));
            expected.push(rtp(seq, browser.ssrc, &payload(7, seq)));
            let v = video(seq);
            let srtp = browser.protect(&v, false);
            browser.send_raw(&srtp);
            expected.push(v);
        }
        for _ in 0..expected.len() {
            let got = browser.recv_media(HANG_GUARD).unwrap();
            let at = expected.iter().position(|e| *e == got);
            assert!(at.is_some(), "unexpected echo {got:?}");
            expected.swap_remove(at.unwrap_or_default());
        }
        let mut pli = vec![0x81, 206, 0, 2];
        pli.extend_from_slice(&browser.ssrc.to_be_bytes());
        pli.extend_from_slice(&VIDEO_SSRC.to_be_bytes());
        browser.send_rtcp(&pli);
        assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), pli);
    }
}

#[test]
fn forwarding_allocates_nothing_per_packet() {
    let mut config = common::config((44000, 44009), (34000, 34009), 1);
    // The guard's periodic sweep (every 5 s on worker 0) frees rate buckets that have
    // refilled, which allocates a list once per sweep, not per packet. A slow refill keeps
    // the browser's one bucket (made by its first check, before the window) alive, so the
    // window counts only forwarding and consent checks, whenever a sweep falls into it.
    let mut guard = GuardConfig::default();
    guard.rate.ice.rate = 0.001;
    config.guard = Some(Guard::new(guard).unwrap());
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let echo = BareEcho::start();

    // A plain-RTP enterprise leg.
    let mut plain = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(plain.remote());
    spec.enterprise = Some(EnterpriseRemote::new(echo.addr));
    spec.rtcp_mux_enterprise = true;
    let plain_info = relay.create_session(spec).unwrap();

    // An SDES-SRTP enterprise leg. The echo sends the relay's own SRTP back, so the remote's
    // key is the relay's: the inbound context then authenticates the echoes.
    let mut sdes = Browser::new();
    sdes.ssrc = 0x5eed_0002;
    let mut spec = SessionSpec::new();
    spec.browser = Some(sdes.remote());
    spec.enterprise_srtp = Some(EnterpriseCrypto::new(Profile::Aes128CmHmacSha1_80, 1));
    spec.rtcp_mux_enterprise = true;
    let sdes_info = relay.create_session(spec).unwrap();
    let ours = CryptoAttribute::parse(sdes_info.enterprise_crypto.as_deref().unwrap()).unwrap();
    let mut remote = EnterpriseRemote::new(echo.addr);
    remote.crypto = Some(ours);
    relay.set_enterprise_remote(sdes_info.id, remote).unwrap();

    // A rewriting leg: PCMU on the browser side is PCMA's number on the enterprise side.
    let mut rewritten = Browser::new();
    rewritten.ssrc = 0x5eed_0003;
    let mut spec = SessionSpec::new();
    spec.browser = Some(rewritten.remote());
    spec.enterprise = Some(EnterpriseRemote::new(echo.addr));
    spec.rtcp_mux_enterprise = true;
    spec.media = Some(MediaPlan::new(
        Direction::SendRecv,
        Direction::SendRecv,
        vec![(0, 8)],
    ));
    let rewritten_info = relay.create_session(spec).unwrap();
    // A BUNDLE of audio and video, each line toward the echo from its own socket.
    let mut bundle = Browser::new();
    bundle.ssrc = 0x5eed_0005;
    let mut spec = SessionSpec::new();
    spec.browser = Some(bundle.remote());
    spec.enterprise = Some(EnterpriseRemote::new(echo.addr));
    spec.rtcp_mux_enterprise = true;
    let mut video_spec = VideoSpec::new();
    video_spec.enterprise = Some(EnterpriseRemote::new(echo.addr));
    video_spec.rtcp_mux_enterprise = true;
    let mut demux = BundleDemux::default();
    demux.mid_extension = Some(MID_ID);
    demux.audio = LineIds::new(Some("a".into()), vec![bundle.ssrc], vec![0]);
    demux.video = LineIds::new(Some("v".into()), vec![], vec![96]);
    video_spec.demux = demux;
    spec.video = Some(video_spec);
    let bundle_info = relay.create_session(spec).unwrap();
    let moved = || {
        let mut u = SessionUpdate::default();
        u.enterprise = Some(EnterpriseRemote::new(echo.addr));
        u
    };

    // Every thread counts except this one, whose test browsers build packets in `Vec`s.
    let ((), setup) = edge_alloc_count::count(Scope::OtherThreads, || {
        plain.connect(&plain_info).unwrap();
        sdes.connect(&sdes_info).unwrap();
        rewritten.connect(&rewritten_info).unwrap();
        bundle.connect(&bundle_info).unwrap();
        // Warm up: first packets publish state changes and latch the echo.
        exchange(&mut plain, 0, 64);
        exchange(&mut sdes, 0, 64);
        exchange_rewritten(&mut rewritten, 0, 64);
        exchange_bundle(&mut bundle, 0, 64);
    });
    // The counter does see the workers: their DTLS handshakes allocated.
    assert!(
        setup > 100,
        "only {setup} allocations counted during set-up"
    );
    let ((), during) = edge_alloc_count::count(Scope::OtherThreads, || {
        for round in 0..3u16 {
            exchange(&mut plain, 64 + round * 1000, 1000);
            exchange(&mut sdes, 64 + round * 1000, 1000);
            // The echo "moves" (to where it is): its stream toward the browser is rebased,
            // with translated sequence numbers, timestamps and reports from then on.
            relay.update_session(rewritten_info.id, moved()).unwrap();
            exchange_rewritten(&mut rewritten, 64 + round * 1000, 1000);
            exchange_bundle(&mut bundle, 64 + round * 1000, 1000);
            // Consent checks, between windows so that no echo is in flight.
            assert_eq!(plain.check(&plain_info.ice_pwd, false).0, Class::Success);
            assert_eq!(sdes.check(&sdes_info.ice_pwd, false).0, Class::Success);
            let pwd = &rewritten_info.ice_pwd;
            assert_eq!(rewritten.check(pwd, false).0, Class::Success);
        }
    });

    for info in [&plain_info, &sdes_info] {
        let session = relay.session(info.id).unwrap();
        let c = session.counters;
        assert_eq!(c.browser_to_enterprise.rtp_packets, 3064);
        assert_eq!(c.enterprise_to_browser.rtp_packets, 3064);
        assert_eq!(c.browser_to_enterprise.rtcp_packets, 98);
        // The reports were read: each leg's round trip from its answered SRs.
        let q = session.quality;
        assert!(
            q.browser.rtt_ms.is_some() && q.enterprise.rtt_ms.is_some(),
            "{q:?}"
        );
        assert_eq!(
            q.browser.reported.as_ref().map(|r| r.lost),
            Some(3),
            "{q:?}"
        );
    }
    let c = relay.session(rewritten_info.id).unwrap().counters;
    assert_eq!(c.enterprise_to_browser.rtp_packets, 3064);
    let lines = relay.session(bundle_info.id).unwrap().media_lines;
    for line in &lines {
        assert_eq!(line.browser_to_enterprise.rtp_packets, 3064, "{line:?}");
        assert_eq!(line.enterprise_to_browser.rtp_packets, 3064, "{line:?}");
    }
    // Every PLI went to the video leg and came back.
    // One per window of 16: 4 while warming up, 63 per round of 1000.
    assert_eq!(lines[1].browser_to_enterprise.rtcp_packets, 4 + 3 * 63);
    assert_eq!(lines[0].browser_to_enterprise.rtcp_packets, 0);
    assert_eq!(
        during, 0,
        "{during} allocations while forwarding 30,000 packets, 576 RTCP reports and 193 PLIs, \
         answering 9 checks and applying 3 moves"
    );
    relay.shutdown();
}
