//! The guard at the public ports, through real sockets: wrong passwords for a live session's
//! ufrag ban the source (its checks, even correct ones, and its DTLS ClientHellos then get
//! nothing), other sources and sessions carry on, the ban holds until lifted, and checks
//! with usernames naming no session are never failures. Over the rate limit, requests are
//! dropped and counted, each exactly once.
//!
//! Nothing here waits for time to pass: each request is sent once and its fate (an answer,
//! or the relay's drop counter moving) is awaited as an event. A ban's expiry on time is
//! edge-guard's, tested on its virtual clock (crates/guard/tests/bans.rs); here the ban is
//! long and lifted explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use common::{eventually, Browser, Echo, HANG_GUARD};
use edge_forward::{ForwardConfig, Forwarder, SessionInfo, SessionSpec, SessionState};
use edge_guard::{Guard, GuardConfig};
use edge_stun::Class;

const WRONG: &str = "wrongPassword0123456789xyz";
/// The ICE rate limit's burst in the rate test.
const BURST: u64 = 10;

fn config(public: (u16, u16), enterprise: (u16, u16), guard: GuardConfig) -> ForwardConfig {
    let mut config = common::config(public, enterprise, 1);
    config.guard = Some(Guard::new(guard).unwrap());
    config
}

fn session(relay: &Forwarder, browser: &mut Browser, echo: &Echo) -> SessionInfo {
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    browser.relay_side(&info);
    info
}

/// Requests the relay dropped unanswered so far: banned or over the rate.
fn refused(relay: &Forwarder) -> u64 {
    let s = relay.stats();
    s.banned + s.rate_limited
}

/// A check from `browser` with `username` and `pwd`, sent once: the class of its answer, or
/// `None` when the relay dropped it.
fn check_as(
    relay: &Forwarder,
    browser: &mut Browser,
    username: &str,
    pwd: &str,
    nominate: bool,
) -> Option<Class> {
    let before = refused(relay);
    let (req, tid) = browser.binding_request_as(username, pwd, nominate);
    browser.answer_or_drop(&req, tid, || refused(relay) > before)
}

/// The first datagram of a DTLS 1.2 handshake as a browser sends it: a ClientHello record.
fn client_hello() -> Vec<u8> {
    let mut record = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 1];
    record.extend_from_slice(&[0u8; 59]);
    record
}

#[test]
fn three_bad_passwords_ban_the_source_until_lifted_and_no_one_else() {
    let guard = GuardConfig::default();
    let ban_duration = guard.ban_duration;
    let relay = Forwarder::start(
        config((48000, 48009), (38000, 38009), guard),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    let mut attacker = Browser::on(Ipv4Addr::new(127, 0, 0, 1), "actpass");
    let a = session(&relay, &mut attacker, &echo);
    let mut other = Browser::on(Ipv4Addr::new(127, 0, 0, 2), "actpass");
    let b = session(&relay, &mut other, &echo);

    // The source first passes a check (so DTLS from it would be accepted)...
    assert_eq!(attacker.check(&a.ice_pwd, true).0, Class::Success);
    // ...then sprays usernames naming no session: refused, never failures.
    for i in 0..10 {
        let username = format!("spray{i:03}:brws");
        let class = check_as(&relay, &mut attacker, &username, WRONG, true);
        assert_eq!(class, Some(Class::Error));
    }
    assert_eq!(relay.stats().ice_auth_failures, 0);
    assert!(relay.guard().bans(Instant::now()).is_empty());

    // Three wrong passwords for the live session's ufrag, each sent once: each answered
    // 401, the third bans.
    let username = format!("{}:{}", a.ice_ufrag, common::BROWSER_UFRAG);
    for _ in 0..3 {
        let class = check_as(&relay, &mut attacker, &username, WRONG, true);
        assert_eq!(class, Some(Class::Error));
    }
    assert!(eventually(HANG_GUARD, || relay.stats().bans_started == 1));
    assert_eq!(relay.stats().ice_auth_failures, 3);
    let bans = relay.guard().bans(Instant::now());
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].source.addr(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(bans[0].until - bans[0].since, ban_duration);

    // Banned: even the right password gets no answer (the relay counts it dropped instead),
    // and a ClientHello is dropped before it reaches DTLS.
    let dropped = relay.stats().banned;
    assert_eq!(
        check_as(&relay, &mut attacker, &username, &a.ice_pwd, true),
        None
    );
    assert_eq!(relay.stats().banned, dropped + 1);
    attacker.send_raw(&client_hello());
    assert!(eventually(HANG_GUARD, || relay.stats().banned == dropped + 2));
    let snap = relay.session(a.id).unwrap();
    assert_eq!(
        snap.counters.dtls_datagrams, 0,
        "a banned ClientHello reached DTLS"
    );

    // Another source, another session: untouched, the whole call works.
    other.connect(&b).unwrap();
    other.send_rtp(1, &common::payload(1, 1));
    assert!(other.recv_media(HANG_GUARD).is_some());
    assert_eq!(relay.session(b.id).unwrap().state, SessionState::Active);

    // Lifted: the right password is answered again, and the session connects.
    assert!(relay
        .guard()
        .lift(Instant::now(), IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(attacker.check(&a.ice_pwd, true).0, Class::Success);
    attacker.handshake().unwrap();
    attacker.send_rtp(1, &common::payload(2, 1));
    assert!(attacker.recv_media(HANG_GUARD).is_some());
    relay.shutdown();
}

#[test]
fn requests_over_the_rate_are_dropped_and_counted_media_is_not() {
    let mut guard = GuardConfig::default();
    // BURST requests at once, then one every 1000 s: nothing refills during a run, however
    // slow the machine.
    guard.rate.ice.rate = 0.001;
    guard.rate.ice.burst = u32::try_from(BURST).unwrap();
    let relay = Forwarder::start(
        config((48010, 48019), (38010, 38019), guard),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    let mut browser = Browser::new();
    let info = session(&relay, &mut browser, &echo);
    let username = format!("{}:{}", info.ice_ufrag, common::BROWSER_UFRAG);

    // From a source that sent nothing yet (its own bucket), checks sent one at a time:
    // exactly the burst is answered, every later one is dropped and counted, none both.
    let mut prober = Browser::on(Ipv4Addr::new(127, 0, 0, 3), "actpass");
    prober.relay_side(&info);
    let fates: Vec<Option<Class>> = (0..2 * BURST)
        .map(|_| check_as(&relay, &mut prober, &username, &info.ice_pwd, false))
        .collect();
    let mut expected = vec![Some(Class::Success); BURST as usize];
    expected.resize(2 * BURST as usize, None);
    assert_eq!(fates, expected);
    assert_eq!(relay.stats().rate_limited, BURST);

    // The browser's own bucket: connecting spends some of it (a nominating check, the
    // ClientHellos), checks spend the rest until one is dropped.
    browser.connect(&info).unwrap();
    let mut answered = 0;
    while check_as(&relay, &mut browser, &username, &info.ice_pwd, false).is_some() {
        answered += 1;
        assert!(answered < BURST, "the connect spent nothing of the burst");
    }
    assert_eq!(relay.stats().rate_limited, BURST + 1);
    assert_eq!(relay.stats().banned, 0);
    // Media is never rate limited: from that source, a hundred packets at once all arrive.
    for seq in 0..100 {
        browser.send_rtp(seq, &common::payload(3, seq));
    }
    for _ in 0..100 {
        assert!(browser.recv_media(HANG_GUARD).is_some());
    }
    let c = relay.session(info.id).unwrap().counters;
    assert_eq!(c.browser_to_enterprise.rtp_packets, 100);
    assert_eq!(c.enterprise_to_browser.rtp_packets, 100);
    relay.shutdown();
}
