//! Media through the real relay over loopback: a browser (our DTLS client or server, SRTP)
//! on one side, a plain RTP echo on the other. What arrives is checked byte for byte, in
//! order, nothing lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{payload, rtcp_rr, rtp, Browser, Echo, ENTERPRISE_IP, HANG_GUARD, PUBLIC_IP};
use edge_forward::{Forwarder, SessionSpec, SessionState};

/// Sends `n` RTP packets in windows of 50 (the test browser's socket buffer is the
/// kernel's small default), takes every echo back, and checks both legs saw exactly them.
fn round_trip(browser: &mut Browser, echo: &Echo, n: u16, tag: u32) {
    let before = echo.received().len();
    for window in (0..n).collect::<Vec<_>>().chunks(50) {
        for &seq in window {
            browser.send_rtp(seq, &payload(tag, seq));
        }
        for &seq in window {
            let got = browser
                .recv_media(HANG_GUARD)
                .unwrap_or_else(|| panic!("echo of packet {seq} never came back"));
            assert_eq!(
                got,
                rtp(seq, browser.ssrc, &payload(tag, seq)),
                "packet {seq}"
            );
        }
    }
    let received = echo.received();
    let at_enterprise = &received[before..];
    assert_eq!(at_enterprise.len(), usize::from(n));
    for (seq, packet) in at_enterprise.iter().enumerate() {
        let seq = seq as u16;
        assert_eq!(packet, &rtp(seq, browser.ssrc, &payload(tag, seq)));
    }
}

#[test]
fn browser_offer_media_both_ways_without_loss() {
    let relay = Forwarder::start(
        common::config((41000, 41009), (31000, 31009), 1),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    let mut browser = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    assert_eq!(info.setup, "passive");
    assert_eq!(info.public_addr.ip(), PUBLIC_IP);
    assert_eq!(info.enterprise_rtp.ip(), ENTERPRISE_IP);
    assert_eq!(info.enterprise_rtp.port() % 2, 0);
    assert_eq!(
        info.enterprise_rtcp.map(|a| a.port()),
        Some(info.enterprise_rtp.port() + 1)
    );
    assert_eq!(info.enterprise_crypto, None);
    assert_eq!(relay.session(info.id).unwrap().state, SessionState::New);

    browser.connect(&info).unwrap();
    round_trip(&mut browser, &echo, 500, 1);

    // RTCP leaves on the RTCP socket toward the remote's RTCP port, and comes back.
    let rr = rtcp_rr(browser.ssrc);
    browser.send_rtcp(&rr);
    assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), rr);
    assert_eq!(echo.rtcp_received(), vec![rr]);
    // The enterprise saw the relay's pinned sockets as the sources.
    let sources = echo.sources.lock().unwrap().clone();
    assert!(sources.contains(&info.enterprise_rtp), "{sources:?}");
    assert!(
        sources.contains(&info.enterprise_rtcp.unwrap()),
        "{sources:?}"
    );

    let snap = relay.session(info.id).unwrap();
    assert_eq!(snap.state, SessionState::Active);
    assert_eq!(snap.browser_addr, Some(browser.addr()));
    let c = snap.counters;
    assert_eq!(c.browser_to_enterprise.rtp_packets, 500);
    assert_eq!(c.enterprise_to_browser.rtp_packets, 500);
    assert_eq!(c.browser_to_enterprise.rtcp_packets, 1);
    assert_eq!(c.enterprise_to_browser.rtcp_packets, 1);
    assert_eq!(c.browser_to_enterprise.bytes, 500 * 172 + 8);
    assert_eq!(c.browser_to_enterprise.drops, Default::default());
    assert_eq!(c.enterprise_to_browser.drops, Default::default());
    assert_eq!(c.ice_checks, 1);
    relay.shutdown();
}

#[test]
fn relay_offer_with_browser_answer_later_and_relay_as_dtls_client() {
    let relay = Forwarder::start(
        common::config((41010, 41019), (31010, 31019), 2),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    // The enterprise offered: its address is known, the browser's is not; rtcp-mux there.
    let mut spec = SessionSpec::new();
    spec.enterprise = Some(edge_forward::EnterpriseRemote::new(echo.rtp));
    spec.rtcp_mux_enterprise = true;
    let info = relay.create_session(spec).unwrap();
    assert_eq!(info.setup, "actpass");
    assert_eq!(info.enterprise_rtcp, None);

    // The browser answers passive: the relay is the DTLS client.
    let mut browser = Browser::with_setup("passive");
    relay.set_browser_remote(info.id, browser.remote()).unwrap();
    browser.connect(&info).unwrap();
    round_trip(&mut browser, &echo, 200, 2);
    // rtcp-mux toward the enterprise: RTCP goes to the RTP address.
    let rr = rtcp_rr(browser.ssrc);
    browser.send_rtcp(&rr);
    assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), rr);
    assert!(echo.received().contains(&rr));
    assert!(echo.rtcp_received().is_empty());
    relay.shutdown();
}

#[test]
fn many_sessions_on_two_workers_stay_apart() {
    let relay = Forwarder::start(
        common::config((41100, 41199), (31100, 31199), 2),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    let mut calls = Vec::new();
    for i in 0..12u32 {
        let mut browser = Browser::new();
        browser.ssrc = 0x1000 + i;
        let mut spec = SessionSpec::new();
        spec.browser = Some(browser.remote());
        spec.enterprise = Some(echo.remote());
        let info = relay.create_session(spec).unwrap();
        browser.connect(&info).unwrap();
        calls.push((info, browser));
    }
    for round in 0..3u32 {
        for (i, (_, browser)) in calls.iter_mut().enumerate() {
            let tag = round * 100 + i as u32;
            let seqs = (round as u16 * 40)..(round as u16 * 40 + 40);
            for seq in seqs.clone() {
                browser.send_rtp(seq, &payload(tag, seq));
            }
            for seq in seqs {
                let got = browser.recv_media(HANG_GUARD).unwrap();
                assert_eq!(got, rtp(seq, browser.ssrc, &payload(tag, seq)));
            }
        }
    }
    for (info, _) in &calls {
        let c = relay.session(info.id).unwrap().counters;
        assert_eq!(c.browser_to_enterprise.rtp_packets, 120);
        assert_eq!(c.enterprise_to_browser.rtp_packets, 120);
    }
    assert_eq!(relay.sessions().len(), 12);
    relay.shutdown();
}
