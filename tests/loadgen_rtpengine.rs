//! edge-loadgen's `rtpengine` mode against Debian's rtpengine (userspace, driven by its ng
//! protocol): SDES-SRTP calls toward the load generator, plain RTP toward its echo. This is
//! the reference the media side-by-side benchmark measures media-edge against, so the
//! client must be right: every call set up, every probe back (decrypted with rtpengine's
//! key), none lost, and every call deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use edge_loadgen::echo::EchoPeer;
use edge_loadgen::load::LoadConfig;
use edge_loadgen::rtpengine::{self, NgClient, RtpengineSetup};
use edge_ng::Value;
use edge_suite::rtpengine::Rtpengine;

fn config(rate: Option<u32>, seconds: f64) -> LoadConfig {
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
fn sdes_calls_through_rtpengine_paced_and_flood() {
    let engine = Rtpengine::start((23_000, 23_199));
    let setup = RtpengineSetup {
        ng: engine.ng,
        calls: 10,
        local_ip: "127.0.0.1".parse().unwrap(),
        gro: true,
        profile: edge_srtp::Profile::Aes128CmHmacSha1_80,
        enterprise: EchoPeer::Own("127.0.0.1:0".parse().unwrap()),
        payload: 160,
    };
    let stop = AtomicBool::new(false);
    let run = rtpengine::run(&setup, &config(Some(50), 2.0), &stop).unwrap();
    let r = &run.report;
    assert_eq!(r.setup.succeeded, 10, "{:?}", r.setup.errors);
    assert!(r.sent >= 990, "sent {}", r.sent);
    assert_eq!(r.received, r.sent, "lost {}", r.lost);
    assert_eq!((r.duplicates, r.stray), (0, 0));
    assert!(run.load_errors.is_empty(), "{:?}", run.load_errors);

    // The flood offers the other profile the side-by-side benchmark compares (media.sh):
    // rtpengine answers AEAD_AES_128_GCM (RFC 7714) with a key of that suite.
    let flood = RtpengineSetup {
        calls: 2,
        profile: edge_srtp::Profile::AeadAes128Gcm,
        ..setup
    };
    let run = rtpengine::run(&flood, &config(None, 1.0), &stop).unwrap();
    assert_eq!(run.report.received, run.report.sent);
    assert!(run.report.sent >= 1_000);
    assert!(run.load_errors.is_empty(), "deleted: {:?}", run.load_errors);
}

#[test]
fn ng_errors_are_named() {
    let engine = Rtpengine::start((23_200, 23_219));
    let mut ng = NgClient::new(engine.ng, "127.0.0.1".parse().unwrap()).unwrap();
    // An answer for a call nobody offered is refused with an error-reason.
    let e = ng
        .command(
            "answer",
            vec![
                ("call-id", Value::str("no-such-call")),
                ("from-tag", Value::str("a")),
                ("to-tag", Value::str("b")),
                ("sdp", Value::str("v=0\r\n")),
            ],
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("rtpengine ng answer: result \"error\""),
        "{e}"
    );
}
