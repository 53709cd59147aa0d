//! CI smoke of edge-loadgen's `rtp-echo` mode as the enterprise side of media-edge: a
//! standalone echo (what `edge-loadgen rtp-echo` runs) behind the in-process forwarder,
//! with `webrtc` sessions pointed at it (`--echo`). The echo must have seen and returned
//! every probe, as plain RTP, and the load generator must have got every one back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use edge_loadgen::echo::{Echo, EchoPeer};
use edge_loadgen::load::LoadConfig;
use edge_loadgen::media::webrtc::{self, WebrtcSetup};
use edge_suite::media::{MediaEdge, TOKEN};

#[test]
fn standalone_echo_behind_media_edge() {
    let edge = MediaEdge::start(11);
    let echo = Echo::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    let echo_addr = echo.local_addrs()[0];
    let stop_echo = Arc::new(AtomicBool::new(false));
    let echo_thread = echo.spawn(stop_echo.clone());

    let setup = WebrtcSetup {
        api: edge.api,
        token: TOKEN.into(),
        sessions: 4,
        local_ip: "127.0.0.1".parse().unwrap(),
        gro: true,
        profile: edge_dtls::SrtpProfile::AeadAes128Gcm,
        enterprise: EchoPeer::At(echo_addr),
        payload: 160,
        parallel: 4,
        timeout: Duration::from_secs(30),
    };
    let config = LoadConfig {
        rate: Some(50),
        duration: Duration::from_secs(2),
        // A hang guard: draining ends as soon as every probe is back.
        drain: Duration::from_secs(30),
        window: 8,
        progress: false,
        server_pid: None,
    };
    let run = webrtc::run(&setup, &config, &AtomicBool::new(false)).unwrap();
    stop_echo.store(true, Ordering::Relaxed);
    let stats = echo_thread.join().unwrap().unwrap();

    let r = &run.report;
    assert_eq!(r.setup.succeeded, 4, "{:?}", r.setup.errors);
    assert!(r.sent >= 396);
    assert_eq!(r.received, r.sent, "lost {}", r.lost);
    assert_eq!(stats.received, r.sent, "the echo saw each probe once");
    assert_eq!((stats.echoed, stats.dropped), (stats.received, 0));
}
