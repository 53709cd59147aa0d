//! The guard at the public ports, through real sockets: wrong passwords for a live session's
//! ufrag ban the source (its checks, even correct ones, and its DTLS ClientHellos then get
//! nothing), other sources and sessions carry on, the ban ends on time, and checks with
//! usernames naming no session are never failures. Over the rate limit, requests are
//! dropped and counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{eventually, Browser, Echo};
use edge_guard::{Guard, GuardConfig};
use edge_relay::{Relay, RelayConfig, SessionInfo, SessionSpec, SessionState};
use edge_stun::Class;

const BAN: Duration = Duration::from_millis(1500);
const WRONG: &str = "wrongPassword0123456789xyz";
/// How long a test waits to be sure no answer is coming.
const SILENCE: Duration = Duration::from_millis(400);

fn config(public: (u16, u16), enterprise: (u16, u16), guard: GuardConfig) -> RelayConfig {
    let mut config = common::config(public, enterprise, 1);
    config.guard = Some(Guard::new(guard).unwrap());
    config
}

fn session(relay: &Relay, browser: &mut Browser, echo: &Echo) -> SessionInfo {
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    browser.relay_side(&info);
    info
}

/// A check from `browser` with `username` and `pwd`: its answer's class, if any came.
fn check_as(browser: &mut Browser, username: &str, pwd: &str, wait: Duration) -> Option<Class> {
    let (req, tid) = browser.binding_request_as(username, pwd, true);
    browser.exchange_request(&req, tid, wait).map(|(c, _)| c)
}

/// The first datagram of a DTLS 1.2 handshake as a browser sends it: a ClientHello record.
fn client_hello() -> Vec<u8> {
    let mut record = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 1];
    record.extend_from_slice(&[0u8; 59]);
    record
}

#[test]
fn three_bad_passwords_ban_the_source_for_a_while_and_no_one_else() {
    let guard = GuardConfig {
        ban_duration: BAN,
        ..GuardConfig::default()
    };
    let relay = Relay::start(
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
        let class = check_as(&mut attacker, &username, WRONG, Duration::from_secs(2));
        assert_eq!(class, Some(Class::Error));
    }
    assert_eq!(relay.stats().ice_auth_failures, 0);
    assert!(relay.guard().bans(Instant::now()).is_empty());

    // Three wrong passwords for the live session's ufrag: each answered 401, the third bans.
    let username = format!("{}:{}", a.ice_ufrag, common::BROWSER_UFRAG);
    for _ in 0..3 {
        let class = check_as(&mut attacker, &username, WRONG, Duration::from_secs(2));
        assert_eq!(class, Some(Class::Error));
    }
    let banned_at = Instant::now();
    assert!(eventually(Duration::from_secs(2), || relay
        .stats()
        .bans_started
        == 1));
    assert_eq!(relay.stats().ice_auth_failures, 3);
    let bans = relay.guard().bans(Instant::now());
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].source.addr(), IpAddr::V4(Ipv4Addr::LOCALHOST));

    // Banned: even the right password gets no answer, and a ClientHello is dropped before
    // it reaches DTLS.
    let dropped = relay.stats().banned;
    assert_eq!(
        check_as(&mut attacker, &username, &a.ice_pwd, SILENCE),
        None
    );
    attacker.send_raw(&client_hello());
    assert!(eventually(Duration::from_secs(2), || relay.stats().banned
        >= dropped + 2));
    let snap = relay.session(a.id).unwrap();
    assert_eq!(
        snap.counters.dtls_datagrams, 0,
        "a banned ClientHello reached DTLS"
    );

    // Another source, another session: untouched, the whole call works.
    other.connect(&b).unwrap();
    other.send_rtp(1, &common::payload(1, 1));
    assert!(other.recv_media(Duration::from_secs(2)).is_some());
    assert_eq!(relay.session(b.id).unwrap().state, SessionState::Active);

    // The ban ends: the right password is answered again, and the session connects.
    let left = BAN.saturating_sub(banned_at.elapsed()) + Duration::from_millis(100);
    std::thread::sleep(left);
    assert_eq!(attacker.check(&a.ice_pwd, true).0, Class::Success);
    attacker.handshake().unwrap();
    attacker.send_rtp(1, &common::payload(2, 1));
    assert!(attacker.recv_media(Duration::from_secs(2)).is_some());
    relay.shutdown();
}

#[test]
fn requests_over_the_rate_are_dropped_and_counted_media_is_not() {
    let mut guard = GuardConfig::default();
    // Five requests at once, then one every ten seconds: nothing refills during the test.
    guard.rate.ice.rate = 0.1;
    guard.rate.ice.burst = 5;
    let relay = Relay::start(
        config((48010, 48019), (38010, 38019), guard),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    let mut browser = Browser::new();
    let info = session(&relay, &mut browser, &echo);
    // A nominating check and the DTLS ClientHello(s) spend some of the five.
    browser.connect(&info).unwrap();
    assert_eq!(relay.stats().rate_limited, 0);
    let mut answered = 0;
    for _ in 0..10 {
        let (req, tid) = browser.binding_request(&info.ice_pwd, false);
        if browser
            .exchange_request(&req, tid, Duration::from_millis(150))
            .is_some()
        {
            answered += 1;
        }
    }
    let limited = relay.stats().rate_limited;
    assert!(answered <= 3, "{answered} answered");
    assert_eq!(answered + limited, 10, "each check answered or counted");
    assert_eq!(relay.stats().banned, 0);
    // Media is never rate limited: a hundred packets at once all arrive.
    for seq in 0..100 {
        browser.send_rtp(seq, &common::payload(3, seq));
    }
    for _ in 0..100 {
        assert!(browser.recv_media(Duration::from_secs(2)).is_some());
    }
    let c = relay.session(info.id).unwrap().counters;
    assert_eq!(c.browser_to_enterprise.rtp_packets, 100);
    assert_eq!(c.enterprise_to_browser.rtp_packets, 100);
    relay.shutdown();
}
