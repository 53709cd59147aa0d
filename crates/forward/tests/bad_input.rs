//! Bad input on either leg and bad requests from the control plane: each is dropped or
//! refused with a clear error, and counted; other sessions carry on untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{bound_in, eventually, payload, rtp, Browser, Echo, HANG_GUARD, PUBLIC_IP};
use edge_dtls::{Fingerprint, HashAlgorithm};
use edge_forward::{
    BrowserRemote, EndReason, EnterpriseCrypto, EnterpriseRemote, Error, Forwarder, SessionId,
    SessionInfo, SessionSpec, SessionState, Side,
};
use edge_stun::Class;

fn start(public: (u16, u16), enterprise: (u16, u16)) -> Forwarder {
    Forwarder::start(common::config(public, enterprise, 2), common::dtls_config()).unwrap()
}

fn call(relay: &Forwarder, echo: &Echo) -> (SessionInfo, Browser) {
    let mut browser = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    browser.connect(&info).unwrap();
    (info, browser)
}

/// A few packets both ways still make it.
fn still_works(browser: &mut Browser, first_seq: u16) {
    for seq in first_seq..first_seq + 10 {
        browser.send_rtp(seq, &payload(9, seq));
        let got = browser.recv_media(HANG_GUARD).unwrap();
        assert_eq!(got, rtp(seq, browser.ssrc, &payload(9, seq)));
    }
}

#[test]
fn a_wrong_dtls_fingerprint_ends_that_session_only() {
    let relay = start((43000, 43009), (33000, 33009));
    let echo = Echo::start();
    let (_, mut good) = call(&relay, &echo);

    let mut bad = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(bad.remote_with(Fingerprint::of_der(HashAlgorithm::Sha256, b"other")));
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    let err = bad.connect(&info).unwrap_err();
    assert!(!err.is_empty());
    assert!(eventually(HANG_GUARD, || relay
        .session(info.id)
        .unwrap()
        .state
        .is_ended()));
    let SessionState::Ended {
        reason: EndReason::DtlsFailed(why),
    } = relay.session(info.id).unwrap().state
    else {
        panic!("not a DTLS failure");
    };
    assert!(why.contains("fingerprint"), "{why}");
    assert!(!bound_in(PUBLIC_IP, 43000, 43009).contains(&info.public_addr.port()));
    still_works(&mut good, 0);
    relay.shutdown();
}

#[test]
fn bad_tags_and_replays_are_counted_and_media_goes_on() {
    let relay = start((43100, 43109), (33100, 33109));
    let echo = Echo::start();
    let (info, mut browser) = call(&relay, &echo);
    let packet = rtp(1, browser.ssrc, &payload(1, 1));
    let srtp = browser.protect(&packet, false);
    browser.send_raw(&srtp);
    assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), packet);
    // The same packet again: a replay.
    browser.send_raw(&srtp);
    // A tampered tag and a tampered payload: authentication failures.
    let next = browser.protect(&rtp(2, browser.ssrc, &payload(1, 2)), false);
    let mut tag = next.clone();
    *tag.last_mut().unwrap() ^= 0x80;
    browser.send_raw(&tag);
    let mut body = next.clone();
    body[20] ^= 1;
    browser.send_raw(&body);
    // SRTCP with a bad tag too.
    let mut rtcp = browser.protect(&common::rtcp_rr(browser.ssrc), true);
    *rtcp.last_mut().unwrap() ^= 1;
    browser.send_raw(&rtcp);
    // The genuine packet 2 still goes through: the forgeries did not burn its index.
    browser.send_raw(&next);
    assert_eq!(
        browser.recv_media(HANG_GUARD).unwrap(),
        rtp(2, browser.ssrc, &payload(1, 2))
    );
    still_works(&mut browser, 3);
    let drops = relay
        .session(info.id)
        .unwrap()
        .counters
        .browser_to_enterprise
        .drops;
    assert_eq!(drops.replayed, 1);
    assert_eq!(drops.auth_failed, 3);
    assert_eq!(echo.received().len(), 12);
    relay.shutdown();
}

#[test]
fn strict_mode_drops_strangers_and_latching_follows_them_otherwise() {
    let relay = start((43200, 43209), (33200, 33209));
    let echo = Echo::start();
    let stranger = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    stranger.set_read_timeout(Some(HANG_GUARD)).unwrap();

    for strict in [true, false] {
        let mut browser = Browser::new();
        let mut spec = SessionSpec::new();
        spec.browser = Some(browser.remote());
        spec.enterprise = Some(echo.remote());
        spec.strict_source = Some(strict);
        let info = relay.create_session(spec).unwrap();
        browser.connect(&info).unwrap();
        let packet = rtp(7, 0xabcd, &payload(7, 7));
        stranger.send_to(&packet, info.enterprise_rtp).unwrap();
        let snap = || relay.session(info.id).unwrap();
        if strict {
            // Dropped (the counter moves when the relay has handled it), so never forwarded.
            assert!(eventually(HANG_GUARD, || snap()
                .counters
                .enterprise_to_browser
                .drops
                .unexpected_source
                == 1));
            assert!(browser.recv_media(Duration::from_millis(300)).is_none());
            still_works(&mut browser, 0);
            assert_eq!(snap().enterprise_remote, Some(echo.rtp));
        } else {
            assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), packet);
            // Symmetric RTP: the browser's media now goes where that packet came from.
            assert_eq!(
                snap().enterprise_remote,
                Some(stranger.local_addr().unwrap())
            );
            browser.send_rtp(1, &payload(8, 1));
            let mut buf = [0u8; 2048];
            let (len, from) = stranger.recv_from(&mut buf).unwrap();
            assert_eq!(from, info.enterprise_rtp);
            assert_eq!(&buf[..len], &rtp(1, browser.ssrc, &payload(8, 1))[..]);
        }
    }
    relay.shutdown();
}

/// Seeded xorshift for reproducible garbage.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn garbage_on_either_leg_is_counted_and_harms_nobody() {
    let relay = start((43300, 43309), (33300, 33309));
    let echo = Echo::start();
    let (victim, mut victim_browser) = call(&relay, &echo);
    let (_, mut bystander) = call(&relay, &echo);
    // Media flows first, so the enterprise leg has latched onto the echo (RFC 7362): junk
    // from elsewhere cannot take the call over afterwards.
    still_works(&mut victim_browser, 0);
    let attacker = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut buf = vec![0u8; 1500];
    for round in 0..3000usize {
        let len = (next(&mut seed) % 1501) as usize;
        for b in &mut buf[..len] {
            *b = next(&mut seed) as u8;
        }
        if len > 0 {
            // Aim at each demux range in turn.
            buf[0] = match round % 4 {
                0 => buf[0] & 3,
                1 => 20 + buf[0] % 44,
                2 => 128 + buf[0] % 64,
                _ => buf[0],
            };
        }
        let target: SocketAddr = match round % 3 {
            0 => victim.public_addr,
            1 => victim.enterprise_rtp,
            _ => victim.enterprise_rtcp.unwrap(),
        };
        // From the browser's own address too: a spoofer on the path.
        if round % 2 == 0 {
            attacker.send_to(&buf[..len], target).unwrap();
        } else {
            victim_browser.socket.send_to(&buf[..len], target).unwrap();
        }
        if round % 200 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Drain whatever the garbage provoked (error responses, forwarded junk RTP that the
    // echo sent back), then check that real media still works on both sessions.
    std::thread::sleep(Duration::from_millis(200));
    let mut sink = [0u8; 2048];
    victim_browser
        .socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    while victim_browser.socket.recv_from(&mut sink).is_ok() {}
    still_works(&mut victim_browser, 100);
    still_works(&mut bystander, 100);
    let snap = relay.session(victim.id).unwrap();
    assert_eq!(snap.state, SessionState::Active);
    let c = snap.counters;
    let b = c.browser_to_enterprise.drops;
    assert!(
        b.malformed > 0 && b.unexpected_source > 0 && b.auth_failed > 0,
        "{b:?}"
    );
    let e = c.enterprise_to_browser.drops;
    assert!(e.malformed > 0 && e.unexpected_source > 0, "{e:?}");
    assert_eq!(snap.enterprise_remote, Some(echo.rtp), "the latch held");
    relay.shutdown();
}

#[test]
fn ice_checks_with_the_wrong_password_get_401_and_latch_nothing() {
    let relay = start((43400, 43409), (33400, 33409));
    let echo = Echo::start();
    let mut browser = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    browser.relay_side(&info);
    let (class, _) = browser.check("wrongPassword0123456789xyz", true);
    assert_eq!(class, Class::Error);
    let snap = relay.session(info.id).unwrap();
    assert_eq!(snap.counters.ice_rejected, 1);
    assert_eq!(snap.counters.ice_checks, 0);
    assert_eq!(snap.browser_addr, None);
    assert_eq!(snap.state, SessionState::New);
    // The right password still works afterwards.
    browser.connect(&info).unwrap();
    still_works(&mut browser, 0);
    relay.shutdown();
}

#[test]
fn requests_about_unknown_sessions_and_bad_remotes_are_refused_by_name() {
    let relay = start((43500, 43509), (33500, 33509));
    let echo = Echo::start();
    let browser = Browser::new();
    let nobody = SessionId(42);
    assert!(matches!(
        relay.set_browser_remote(nobody, browser.remote()),
        Err(Error::UnknownSession(id)) if id == nobody
    ));
    assert!(matches!(
        relay.set_enterprise_remote(nobody, echo.remote()),
        Err(Error::UnknownSession(_))
    ));
    assert!(matches!(
        relay.remove_session(nobody),
        Err(Error::UnknownSession(_))
    ));
    assert!(relay.session(nobody).is_none());

    let good = browser.remote();
    let fp = good.fingerprints.clone();
    let cases: Vec<(BrowserRemote, &str)> = vec![
        (
            BrowserRemote::new("ab", &good.ice_pwd, fp.clone(), "actpass"),
            "ice-ufrag",
        ),
        (
            BrowserRemote::new(&good.ice_ufrag, "short", fp.clone(), "actpass"),
            "ice-pwd",
        ),
        (
            BrowserRemote::new(&good.ice_ufrag, &good.ice_pwd, vec![], "actpass"),
            "fingerprint",
        ),
        (
            BrowserRemote::new(&good.ice_ufrag, &good.ice_pwd, fp.clone(), "holdconn"),
            "holdconn",
        ),
    ];
    for (remote, named) in cases {
        let mut spec = SessionSpec::new();
        spec.browser = Some(remote);
        let err = relay.create_session(spec).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidRemote {
                    side: Side::Public,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(named), "{err} should name {named}");
    }
    let v6: SocketAddr = "[::1]:5000".parse().unwrap();
    let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
    for (remote, named) in [
        (EnterpriseRemote::new(v6), "address family"),
        (EnterpriseRemote::new(zero), "127.0.0.1:0"),
    ] {
        let mut spec = SessionSpec::new();
        spec.enterprise = Some(remote);
        let err = relay.create_session(spec).unwrap_err();
        assert!(err.to_string().contains(named), "{err} should name {named}");
    }
    // SDES without the remote's key, and a key for a plain-RTP session.
    let mut spec = SessionSpec::new();
    spec.enterprise_srtp = Some(EnterpriseCrypto::new(
        edge_srtp::Profile::Aes128CmHmacSha1_80,
        1,
    ));
    spec.enterprise = Some(echo.remote());
    let err = relay.create_session(spec).unwrap_err();
    assert!(err.to_string().contains("a=crypto"), "{err}");
    assert!(
        bound_in(PUBLIC_IP, 43500, 43509).is_empty(),
        "refusals bind nothing"
    );

    // An answer may not say actpass, and comes once.
    let info = relay.create_session(SessionSpec::new()).unwrap();
    let actpass = BrowserRemote::new(&good.ice_ufrag, &good.ice_pwd, fp.clone(), "actpass");
    let err = relay.set_browser_remote(info.id, actpass).unwrap_err();
    assert!(err.to_string().contains("actpass"), "{err}");
    let active = BrowserRemote::new(&good.ice_ufrag, &good.ice_pwd, fp.clone(), "active");
    relay.set_browser_remote(info.id, active).unwrap();
    let again = BrowserRemote::new(&good.ice_ufrag, &good.ice_pwd, fp, "active");
    let err = relay.set_browser_remote(info.id, again).unwrap_err();
    assert!(err.to_string().contains("already"), "{err}");
    relay.shutdown();
}

#[test]
fn the_session_limit_is_enforced_and_freed_places_count_again() {
    let mut config = common::config((43600, 43609), (33600, 33609), 2);
    config.max_sessions = 2;
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let a = relay.create_session(SessionSpec::new()).unwrap();
    relay.create_session(SessionSpec::new()).unwrap();
    let err = relay.create_session(SessionSpec::new()).unwrap_err();
    assert!(matches!(err, Error::TooManySessions { limit: 2 }), "{err}");
    relay.remove_session(a.id).unwrap();
    relay.create_session(SessionSpec::new()).unwrap();
    relay.shutdown();
}

/// Truncated, oversized and random compound RTCP that authenticates (SRTCP from the
/// browser, plain RTCP from the enterprise peer's RTCP source) reaches the call-quality
/// reader on both legs: it is forwarded as it is, the reader takes what parses and never
/// panics, and media goes on.
#[test]
fn malformed_rtcp_reports_are_forwarded_and_read_without_harm() {
    let relay = start((43320, 43329), (33320, 33329));
    let echo = Echo::start();
    let (victim, mut browser) = call(&relay, &echo);
    still_works(&mut browser, 0);
    let pbx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut seed = 0x0bad_5eed_0bad_5eedu64;
    let valid = common::rtcp_report(browser.ssrc, 0x1234_5678, browser.ssrc, 0x1234_5678);
    let mut sent = 0u64;
    for round in 0..600usize {
        let mut packet = match round % 3 {
            // Every truncation of a valid compound packet (whole words: SRTCP needs 8).
            0 => valid[..8 + (round / 3 * 4) % (valid.len() - 4)].to_vec(),
            // Lengths and counts that claim more than there is.
            1 => {
                let mut p = valid.clone();
                p[0] = 0x80 | (next(&mut seed) as u8 & 0x1f);
                p[2] = next(&mut seed) as u8;
                p[3] = next(&mut seed) as u8;
                p
            }
            // Random bytes behind an RTCP header (SR, RR, XR), up to 1,400 bytes.
            _ => {
                let len = 8 + (next(&mut seed) % 1393) as usize;
                let mut p: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
                p[0] = 0x80 | (p[0] & 0x3f);
                p[1] = [200, 201, 207][round % 9 / 3];
                // One sender: SRTCP contexts are per SSRC, and their number is bounded.
                p[4..8].copy_from_slice(&browser.ssrc.to_be_bytes());
                p
            }
        };
        browser.send_rtcp(&packet);
        packet[0] |= 0x80;
        pbx.send_to(&packet, victim.enterprise_rtcp.unwrap())
            .unwrap();
        sent += 1;
        if round % 50 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let forwarded = eventually(HANG_GUARD, || {
        let c = relay.session(victim.id).unwrap().counters;
        c.browser_to_enterprise.rtcp_packets >= sent && c.enterprise_to_browser.rtcp_packets >= sent
    });
    let c = relay.session(victim.id).unwrap().counters;
    assert!(forwarded, "every report forwarded both ways: {c:?}");
    browser
        .socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut sink = [0u8; 2048];
    while browser.socket.recv_from(&mut sink).is_ok() {}
    still_works(&mut browser, 100);
    let snap = relay.session(victim.id).unwrap();
    assert_eq!(snap.state, SessionState::Active);
    let quality = &snap.quality;
    // Sequence numbers 0..10 and 100..110: 90 missing, whatever the reports said.
    let received = quality.browser.received.as_ref();
    assert_eq!(
        received.map(|r| (r.expected, r.lost)),
        Some((110, 90)),
        "{quality:?}"
    );
    relay.shutdown();
}
