//! CI smoke of edge-loadgen's `webrtc` mode against media-edge's forwarder and control API
//! (in-process, tests/support/media.rs): sessions created over HTTP, ICE checks, DTLS-SRTP
//! handshakes, SRTP both ways through the relay to the load generator's RTP echo on the
//! enterprise side. Asserts what a user checks: every session set up, every probe back,
//! decrypted, none lost, and every session deleted afterwards (ports free again).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use edge_loadgen::echo::EchoPeer;
use edge_loadgen::load::LoadConfig;
use edge_loadgen::media::webrtc::{self, WebrtcSetup};
use edge_suite::media::{assert_ranges_free, MediaEdge, TOKEN};

fn setup(edge: &MediaEdge, sessions: usize) -> WebrtcSetup {
    WebrtcSetup {
        api: edge.api,
        token: TOKEN.into(),
        sessions,
        local_ip: "127.0.0.1".parse().unwrap(),
        gro: true,
        profile: edge_dtls::SrtpProfile::Aes128CmSha1_80,
        enterprise: EchoPeer::Own("127.0.0.1:0".parse().unwrap()),
        payload: 160,
        parallel: 4,
        timeout: Duration::from_secs(30),
    }
}

fn load(rate: Option<u32>, seconds: f64) -> LoadConfig {
    LoadConfig {
        rate,
        duration: Duration::from_secs_f64(seconds),
        // A hang guard: draining ends as soon as every probe is back.
        drain: Duration::from_secs(30),
        window: 8,
        progress: false,
        server_pid: None,
    }
}

#[test]
fn webrtc_sessions_paced_then_flood() {
    let edge = MediaEdge::start(9);
    let stop = AtomicBool::new(false);

    // 8 calls x 50 pps x 2 s: 800 SRTP probes each way.
    let run = webrtc::run(&setup(&edge, 8), &load(Some(50), 2.0), &stop).unwrap();
    let r = &run.report;
    assert_eq!(r.setup.succeeded, 8, "{:?}", r.setup.errors);
    assert!(r.setup.us.p50 > 0);
    assert!(r.sent >= 790, "sent {}", r.sent);
    assert_eq!(r.received, r.sent, "lost {}", r.lost);
    assert_eq!((r.duplicates, r.stray), (0, 0));
    assert!(run.load_errors.is_empty(), "{:?}", run.load_errors);
    assert_ranges_free(&edge);

    let run = webrtc::run(&setup(&edge, 2), &load(None, 1.0), &stop).unwrap();
    let r = &run.report;
    assert_eq!(r.setup.succeeded, 2, "{:?}", r.setup.errors);
    assert!(
        r.sent >= 1_000,
        "a flood sends more than that, sent {}",
        r.sent
    );
    assert_eq!(r.received, r.sent, "lost {}", r.lost);
    assert_ranges_free(&edge);
}

#[test]
fn a_wrong_token_fails_set_up_with_the_status_named() {
    let edge = MediaEdge::start(10);
    let mut s = setup(&edge, 2);
    s.token = "not-the-token".into();
    let run = webrtc::run(&s, &load(Some(50), 0.5), &AtomicBool::new(false)).unwrap();
    assert_eq!(run.report.setup.succeeded, 0);
    assert!(!run.report.passed(1.0));
    assert!(
        run.report.setup.errors[0].contains("401"),
        "{:?}",
        run.report.setup.errors
    );
}
