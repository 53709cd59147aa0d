//! Calls that change after set-up, through the real relay over loopback
//! ([`Forwarder::update_session`]): a transfer to another enterprise endpoint with a new SSRC,
//! sequence 0 and a new SDES key; hold and resume; payload types numbered differently on
//! each side, DTMF among them; an ICE restart; an SSRC storm from the enterprise side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{eventually, payload, rtp, Browser, RtpPeer, BROWSER_PWD, HANG_GUARD};
use edge_forward::{
    BrowserRemote, Direction, EnterpriseCrypto, Error, Forwarder, MediaPlan, PayloadFormat,
    SessionId, SessionInfo, SessionSpec, SessionUpdate,
};
use edge_srtp::Profile;
use edge_stun::Class;

/// How long a test waits for a packet that must not come: nothing is in flight by then
/// (every packet sent was counted first), so this only has to outlast loopback delivery.
const QUIET: Duration = Duration::from_millis(200);

/// An RTP packet of `ssrc` with payload type `pt` (marker bit included), `seq`,
/// timestamp `seq * 160` and a payload naming it.
fn packet(pt: u8, seq: u16, ssrc: u32, tag: u32) -> Vec<u8> {
    let mut p = rtp(seq, ssrc, &payload(tag, seq));
    p[1] = pt;
    p
}

fn seq(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}

fn ts(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[4], p[5], p[6], p[7]])
}

fn ssrc(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[8], p[9], p[10], p[11]])
}

/// A relay and a connected browser with an rtcp-mux enterprise leg toward `peer`; `spec`
/// adds what the test needs.
fn call(
    ports: (u16, u16),
    peer: impl FnOnce(&SessionInfo) -> RtpPeer,
    spec: impl FnOnce(&mut SessionSpec),
) -> (Forwarder, Browser, RtpPeer, SessionInfo) {
    let relay = Forwarder::start(
        common::config((ports.0, ports.0 + 9), (ports.1, ports.1 + 9), 1),
        common::dtls_config(),
    )
    .unwrap();
    let mut browser = Browser::new();
    let mut s = SessionSpec::new();
    s.browser = Some(browser.remote());
    s.rtcp_mux_enterprise = true;
    spec(&mut s);
    let info = relay.create_session(s).unwrap();
    let peer = peer(&info);
    relay.set_enterprise_remote(info.id, peer.remote()).unwrap();
    browser.connect(&info).unwrap();
    (relay, browser, peer, info)
}

/// The enterprise `peer` sends `packets` in windows of 50; the browser receives as many,
/// each authenticated (its SRTP context refuses anything else). Returns what it received.
fn to_browser(
    peer: &mut RtpPeer,
    to: SocketAddr,
    browser: &mut Browser,
    packets: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for window in packets.chunks(50) {
        for p in window {
            peer.send(to, p);
        }
        for _ in window {
            got.push(
                browser
                    .recv_media(HANG_GUARD)
                    .expect("a packet never reached the browser"),
            );
        }
    }
    got
}

/// The browser sends `packets` in windows of 50; `peer` receives as many. Returns them.
fn to_enterprise(browser: &mut Browser, peer: &mut RtpPeer, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for window in packets.chunks(50) {
        for p in window {
            let srtp = browser.protect(p, false);
            browser.send_raw(&srtp);
        }
        for _ in window {
            got.push(
                peer.recv(HANG_GUARD)
                    .expect("a packet never reached the enterprise"),
            );
        }
    }
    got
}

/// Each packet follows the one before: the next sequence number, a later timestamp, one
/// SSRC.
fn assert_continuous(packets: &[Vec<u8>]) {
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(seq(b), seq(a).wrapping_add(1), "a gap or a reorder");
        assert!(
            (1..1 << 30).contains(&ts(b).wrapping_sub(ts(a))),
            "timestamp {} after {}",
            ts(b),
            ts(a)
        );
        assert_eq!(ssrc(b), ssrc(a), "the SSRC changed");
    }
}

fn update(f: impl FnOnce(&mut SessionUpdate)) -> SessionUpdate {
    let mut u = SessionUpdate::default();
    f(&mut u);
    u
}

fn counters(relay: &Forwarder, id: SessionId) -> edge_forward::Counters {
    relay.session(id).unwrap().counters
}

#[test]
fn a_transfer_keeps_one_continuous_authenticated_stream_at_the_browser() {
    let (relay, mut browser, mut a, info) = call(
        (45000, 35000),
        |info| RtpPeer::sdes(info.enterprise_crypto.as_deref().unwrap(), 1),
        |s| s.enterprise_srtp = Some(EnterpriseCrypto::new(Profile::Aes128CmHmacSha1_80, 1)),
    );
    let to = info.enterprise_rtp;
    // Endpoint A: SSRC 0xA, sequence numbers crossing the wrap, its own timestamps.
    let first: Vec<_> = (0..100u16)
        .map(|i| {
            let mut p = packet(0, 65480u16.wrapping_add(i), 0xA, 1);
            p[4..8].copy_from_slice(&(7_000_000 + 160 * u32::from(i)).to_be_bytes());
            p
        })
        .collect();
    let mut seen = to_browser(&mut a, to, &mut browser, &first);
    for (got, sent) in seen.iter().zip(&first) {
        assert_eq!(got, sent, "before the transfer nothing is rewritten");
    }

    // The transfer: endpoint B, another port, another SDES key, SSRC 0xB from sequence 0.
    let mut b = RtpPeer::sdes(info.enterprise_crypto.as_deref().unwrap(), 2);
    relay
        .update_session(info.id, update(|u| u.enterprise = Some(b.remote())))
        .unwrap();
    // A, late, from the address the leg moved away from: dropped and counted.
    for i in 0..5u16 {
        a.send(to, &packet(0, 100 + i, 0xA, 1));
    }
    assert!(eventually(HANG_GUARD, || {
        counters(&relay, info.id)
            .enterprise_to_browser
            .drops
            .unexpected_source
            == 5
    }));
    let second: Vec<_> = (0..150u16).map(|i| packet(0, i, 0xB, 2)).collect();
    let after = to_browser(&mut b, to, &mut browser, &second);
    for (got, sent) in after.iter().zip(&second) {
        assert_eq!(got[12..], sent[12..], "B's payloads, in order");
    }
    seen.extend(after);
    assert_continuous(&seen);
    assert_eq!(ssrc(&seen[0]), 0xA);
    assert!(browser.recv_media(QUIET).is_none(), "nothing of A's came");

    // B's sender report names the stream the browser knows, at its timestamps; its report
    // block about the browser's stream passes as it is.
    let report = common::rtcp_report(0xB, 0x1234_5678, browser.ssrc, 0);
    b.send_rtcp(to, &report);
    let sr = browser.recv_media(HANG_GUARD).expect("B's report");
    assert_eq!(sr[4..8], 0xAu32.to_be_bytes(), "SR sender SSRC");
    let rtp_ts = u32::from_be_bytes([sr[16], sr[17], sr[18], sr[19]]);
    let last = seen.last().unwrap();
    assert_eq!(
        rtp_ts.wrapping_sub(ts(last)),
        0u32.wrapping_sub(149 * 160),
        "the SR's RTP time is B's clock in the browser's stream (B's last packet was 149)"
    );
    // The RR after it names the same stream; the rest is B's report.
    assert_eq!(sr[56..60], 0xAu32.to_be_bytes(), "RR sender SSRC");
    assert_eq!((&sr[8..16], &sr[20..56]), (&report[8..16], &report[20..56]));
    assert_eq!(sr[60..], report[60..]);

    // The browser's media reaches B now, under the relay's key.
    let up: Vec<_> = (0..60u16).map(|s| packet(0, s, browser.ssrc, 3)).collect();
    let at_b = to_enterprise(&mut browser, &mut b, &up);
    assert_eq!(at_b, up);
    assert!(a.recv(QUIET).is_none(), "A gets nothing after the transfer");
    let c = counters(&relay, info.id).enterprise_to_browser;
    assert_eq!((c.rtp_packets, c.drops.auth_failed), (250, 0));
    relay.shutdown();
}

#[test]
fn hold_forwards_nothing_and_resume_everything_without_a_gap() {
    let (relay, mut browser, mut peer, info) = call((45010, 35010), |_| RtpPeer::plain(), |_| {});
    let to = info.enterprise_rtp;
    let down = |r: std::ops::Range<u16>| r.map(|s| packet(0, s, 0xE, 4)).collect::<Vec<_>>();
    let up = |r: std::ops::Range<u16>, ssrc| r.map(|s| packet(0, s, ssrc, 5)).collect::<Vec<_>>();
    let mut seen = to_browser(&mut peer, to, &mut browser, &down(0..20));
    let own = browser.ssrc;
    let mut heard = to_enterprise(&mut browser, &mut peer, &up(0..20, own));

    // Hold: the enterprise side inactive.
    let hold = MediaPlan::new(Direction::SendRecv, Direction::Inactive, vec![]);
    relay
        .update_session(info.id, update(|u| u.media = Some(hold)))
        .unwrap();
    for p in down(20..40) {
        peer.send(to, &p);
    }
    for p in up(20..40, own) {
        let srtp = browser.protect(&p, false);
        browser.send_raw(&srtp);
    }
    assert!(eventually(HANG_GUARD, || {
        let c = counters(&relay, info.id);
        c.enterprise_to_browser.drops.direction == 20
            && c.browser_to_enterprise.drops.direction == 20
    }));
    assert!(browser.recv_media(QUIET).is_none(), "media while held");
    assert!(peer.recv(QUIET).is_none(), "media while held");

    // Resume: everything after it arrives, continuing the streams from before the hold.
    let resume = MediaPlan::new(Direction::SendRecv, Direction::SendRecv, vec![]);
    relay
        .update_session(info.id, update(|u| u.media = Some(resume)))
        .unwrap();
    let sent = down(40..60);
    let after = to_browser(&mut peer, to, &mut browser, &sent);
    for (got, sent) in after.iter().zip(&sent) {
        assert_eq!(got[12..], sent[12..]);
    }
    seen.extend(after);
    assert_continuous(&seen);
    let sent = up(40..60, own);
    let after = to_enterprise(&mut browser, &mut peer, &sent);
    for (got, sent) in after.iter().zip(&sent) {
        assert_eq!(got[12..], sent[12..]);
    }
    heard.extend(after);
    assert_continuous(&heard);
    assert_eq!(heard.len(), 40);
    relay.shutdown();
}

#[test]
fn payload_types_are_rewritten_byte_for_byte_both_ways_and_dtmf_counted() {
    let (relay, mut browser, mut peer, info) = call(
        (45020, 35020),
        |_| RtpPeer::plain(),
        |s| {
            s.payload_formats = vec![
                PayloadFormat::new(111, "opus", 48000),
                PayloadFormat::new(101, "telephone-event", 48000),
            ];
            s.media = Some(MediaPlan::new(
                Direction::SendRecv,
                Direction::SendRecv,
                vec![(111, 96), (101, 98)],
            ));
        },
    );
    // Opus with the marker on its first packet, then an RFC 4733 event.
    let pts = |opus: u8, dtmf: u8| {
        (0..30u16)
            .map(|i| match i {
                0 => 0x80 | opus,
                20 => 0x80 | dtmf,
                21..=25 => dtmf,
                _ => opus,
            })
            .collect::<Vec<u8>>()
    };
    let (browser_pts, enterprise_pts) = (pts(111, 101), pts(96, 98));
    let up: Vec<_> = (0..30u16)
        .map(|i| packet(browser_pts[usize::from(i)], i, browser.ssrc, 6))
        .collect();
    let at_peer = to_enterprise(&mut browser, &mut peer, &up);
    for (i, (got, sent)) in at_peer.iter().zip(&up).enumerate() {
        let mut want = sent.clone();
        want[1] = enterprise_pts[i];
        assert_eq!(got, &want, "packet {i}");
    }
    let down: Vec<_> = (0..30u16)
        .map(|i| packet(enterprise_pts[usize::from(i)], 500 + i, 0xE, 7))
        .collect();
    let at_browser = to_browser(&mut peer, info.enterprise_rtp, &mut browser, &down);
    for (i, (got, sent)) in at_browser.iter().zip(&down).enumerate() {
        let mut want = sent.clone();
        want[1] = browser_pts[i];
        assert_eq!(got, &want, "packet {i}");
    }
    let c = counters(&relay, info.id);
    assert_eq!(c.browser_to_enterprise.dtmf_packets, 6);
    assert_eq!(c.enterprise_to_browser.dtmf_packets, 6);
    assert_eq!(
        relay.totals().counters.enterprise_to_browser.dtmf_packets,
        6
    );

    // A conflicting map is refused and changes nothing.
    let bad = MediaPlan::new(
        Direction::SendRecv,
        Direction::SendRecv,
        vec![(111, 96), (111, 97)],
    );
    let err = relay
        .update_session(info.id, update(|u| u.media = Some(bad)))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRemote { .. }), "{err}");
    assert!(err.to_string().contains("payload map"), "{err}");
    let next = packet(0x80 | 111, 30, browser.ssrc, 6);
    let again = to_enterprise(&mut browser, &mut peer, &[next]);
    assert_eq!(again[0][1], 0x80 | 96);
    relay.shutdown();
}

#[test]
fn an_ice_restart_brings_new_credentials_and_keeps_dtls_and_media() {
    let (relay, mut browser, mut peer, info) = call((45030, 35030), |_| RtpPeer::plain(), |_| {});
    let to = info.enterprise_rtp;
    to_browser(&mut peer, to, &mut browser, &[packet(0, 1, 0xE, 8)]);

    // Another fingerprint on the same transport: refused, naming it.
    let other = common::dtls_config().certificate().fingerprint();
    let mut restart = browser.remote_with(other);
    restart.ice_ufrag = "brw2".into();
    let err = relay
        .update_session(info.id, update(|u| u.browser = Some(restart)))
        .unwrap_err();
    assert!(err.to_string().contains("a=fingerprint"), "{err}");

    let mut restart = browser.remote();
    restart.ice_ufrag = "brw2".into();
    let new = relay
        .update_session(info.id, update(|u| u.browser = Some(restart)))
        .unwrap();
    assert_ne!(
        (&new.ice_ufrag, &new.ice_pwd),
        (&info.ice_ufrag, &info.ice_pwd)
    );
    assert_eq!(new.fingerprint, info.fingerprint);
    // The old credentials are refused; the new ones nominate and renew consent.
    assert_eq!(browser.check(&info.ice_pwd, false).0, Class::Error);
    let (req, tid) =
        browser.binding_request_as(&format!("{}:brw2", new.ice_ufrag), &new.ice_pwd, true);
    let answer = browser.exchange_request(&req, tid, HANG_GUARD).unwrap();
    assert_eq!(answer.0, Class::Success);
    // DTLS and SRTP are the same: media goes on both ways.
    let down: Vec<_> = (2..40u16).map(|s| packet(0, s, 0xE, 8)).collect();
    let got = to_browser(&mut peer, to, &mut browser, &down);
    assert_eq!(got, down);
    let up: Vec<_> = (0..40u16).map(|s| packet(0, s, browser.ssrc, 9)).collect();
    assert_eq!(to_enterprise(&mut browser, &mut peer, &up), up);
    // The new ufrag and password are what the session answers with from now on.
    let again = relay
        .update_session(info.id, SessionUpdate::default())
        .unwrap();
    assert_eq!(again.ice_ufrag, new.ice_ufrag);

    // Restarts before the browser is known, and unknown sessions, are refused.
    let mut spec = SessionSpec::new();
    spec.rtcp_mux_enterprise = true;
    let fresh = relay.create_session(spec).unwrap();
    let restart = BrowserRemote::new("brw3", BROWSER_PWD, vec![info.fingerprint], "actpass");
    let err = relay
        .update_session(fresh.id, update(|u| u.browser = Some(restart)))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRemote { .. }), "{err}");
    let err = relay
        .update_session(SessionId(7), SessionUpdate::default())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownSession(_)), "{err}");
    relay.shutdown();
}

#[test]
fn an_ssrc_storm_is_dropped_and_counted_and_the_call_goes_on() {
    let (relay, mut browser, mut peer, info) = call((45040, 35040), |_| RtpPeer::plain(), |_| {});
    let to = info.enterprise_rtp;
    let mut seen = Vec::new();
    let mut storm = 0x5000_0000u32;
    for window in 0..20u16 {
        // Between any two packets of the call, packets of SSRCs never seen before.
        for i in 0..25u16 {
            let s = window * 25 + i;
            peer.send(to, &packet(0, s, 0xE, 10));
            for _ in 0..2 {
                storm += 1;
                peer.send(to, &packet(0, s, storm, 11));
            }
        }
        for _ in 0..25 {
            seen.push(browser.recv_media(HANG_GUARD).expect("the call's packet"));
        }
    }
    assert!(eventually(HANG_GUARD, || {
        counters(&relay, info.id)
            .enterprise_to_browser
            .drops
            .foreign_ssrc
            == 1000
    }));
    assert!(
        browser.recv_media(QUIET).is_none(),
        "a storm packet came through"
    );
    assert_eq!(seen.len(), 500);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(p, &packet(0, i as u16, 0xE, 10));
    }
    assert_eq!(
        counters(&relay, info.id).enterprise_to_browser.rtp_packets,
        500
    );
    relay.shutdown();
}

#[test]
fn rtcp_mux_can_be_turned_on_by_a_re_offer_and_not_off_on_one_port() {
    let (relay, _, peer, info) = call((45050, 35050), |_| RtpPeer::plain(), |_| {});
    // Created with rtcp-mux: one port, which cannot be split afterwards.
    let mut demux = peer.remote();
    demux.rtcp_mux = Some(false);
    let err = relay
        .update_session(info.id, update(|u| u.enterprise = Some(demux)))
        .unwrap_err();
    assert!(err.to_string().contains("rtcp-mux"), "{err}");
    relay.shutdown();

    // Created without: two ports; a re-offer with rtcp-mux moves RTCP onto the RTP one.
    let relay = Forwarder::start(
        common::config((45060, 45069), (35060, 35069), 1),
        common::dtls_config(),
    )
    .unwrap();
    let mut browser = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    let info = relay.create_session(spec).unwrap();
    assert!(info.enterprise_rtcp.is_some());
    let mut mux = peer.remote();
    mux.rtcp_mux = Some(true);
    relay
        .update_session(info.id, update(|u| u.enterprise = Some(mux)))
        .unwrap();
    browser.connect(&info).unwrap();
    let rr = common::rtcp_rr(browser.ssrc);
    browser.send_rtcp(&rr);
    peer.socket.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut buf = [0u8; 2048];
    let (len, from) = peer.socket.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..len], from), (&rr[..], info.enterprise_rtp));
    // And the peer's RTCP on that port reaches the browser.
    let theirs = common::rtcp_rr(0xE);
    peer.socket.send_to(&theirs, info.enterprise_rtp).unwrap();
    assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), theirs);
    relay.shutdown();
}

#[test]
fn a_new_browser_stream_reaches_the_enterprise_as_the_same_continuous_one() {
    let (relay, mut browser, mut peer, info) = call((45070, 35070), |_| RtpPeer::plain(), |_| {});
    let first = browser.ssrc;
    let sent: Vec<_> = (100..120u16).map(|s| packet(0, s, first, 12)).collect();
    let mut heard = to_enterprise(&mut browser, &mut peer, &sent);
    assert_eq!(heard, sent);
    // The browser's track changes without a re-offer: a new SSRC from sequence 0. It is
    // taken once it sent SWITCH_AFTER (3) packets with nothing from the old stream between.
    browser.ssrc = 0x0b0b_0002;
    for s in 0..2u16 {
        let srtp = browser.protect(&packet(0, s, browser.ssrc, 13), false);
        browser.send_raw(&srtp);
    }
    assert!(eventually(HANG_GUARD, || {
        counters(&relay, info.id)
            .browser_to_enterprise
            .drops
            .foreign_ssrc
            == 2
    }));
    let sent: Vec<_> = (2..40u16).map(|s| packet(0, s, browser.ssrc, 13)).collect();
    let after = to_enterprise(&mut browser, &mut peer, &sent);
    for (got, sent) in after.iter().zip(&sent) {
        assert_eq!(got[12..], sent[12..]);
    }
    heard.extend(after);
    assert_continuous(&heard);
    assert_eq!(ssrc(&heard[heard.len() - 1]), first);
    relay.shutdown();
}

#[test]
fn sdes_rollover_counters_survive_a_re_invite_and_a_transfer_gets_a_fresh_stream() {
    let crypto = |info: &SessionInfo| info.enterprise_crypto.clone().unwrap();
    let (relay, mut browser, mut a, info) = call(
        (45080, 35080),
        |info| RtpPeer::sdes(&crypto(info), 3),
        |s| s.enterprise_srtp = Some(EnterpriseCrypto::new(Profile::Aes128CmHmacSha1_80, 1)),
    );
    let to = info.enterprise_rtp;
    let own = browser.ssrc;
    // Both streams cross the sequence wrap: rollover counters 1 on every context.
    let wrap = |ssrc, tag, from: u16, n: u16| {
        (0..n)
            .map(|i| packet(0, from.wrapping_add(i), ssrc, tag))
            .collect::<Vec<_>>()
    };
    let down = wrap(0xA, 14, 65400, 200);
    assert_eq!(to_browser(&mut a, to, &mut browser, &down), down);
    let up = wrap(own, 15, 65400, 200);
    assert_eq!(to_enterprise(&mut browser, &mut a, &up), up);

    // A re-INVITE repeating A's a=crypto: the contexts go on, rollover counters included.
    relay
        .update_session(info.id, update(|u| u.enterprise = Some(a.remote())))
        .unwrap();
    let down = wrap(0xA, 14, 64, 50);
    let got = to_browser(&mut a, to, &mut browser, &down);
    for (got, sent) in got.iter().zip(&down) {
        assert_eq!(got[12..], sent[12..]);
    }
    let up = wrap(own, 15, 64, 50);
    assert_eq!(to_enterprise(&mut browser, &mut a, &up), up);

    // A transfer to B, another key: B's fresh context (rollover counter 0) can follow the
    // browser's stream, which goes on under a new SSRC.
    let mut b = RtpPeer::sdes(&crypto(&info), 4);
    relay
        .update_session(info.id, update(|u| u.enterprise = Some(b.remote())))
        .unwrap();
    let up = wrap(own, 16, 114, 60);
    let at_b = to_enterprise(&mut browser, &mut b, &up);
    assert_ne!(ssrc(&at_b[0]), own, "a new SSRC toward the new receiver");
    for (got, sent) in at_b.iter().zip(&up) {
        assert_eq!(got[12..], sent[12..]);
    }
    assert_continuous(&at_b);
    let c = counters(&relay, info.id);
    assert_eq!(
        (
            c.browser_to_enterprise.drops.total(),
            c.enterprise_to_browser.drops.total()
        ),
        (0, 0)
    );
    relay.shutdown();
}
