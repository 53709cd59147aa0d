//! The core's guard decisions on a virtual clock: banned sources dropped before any
//! integrity check, failures counted only with a nonce the source received, the request
//! rate limit (data never limited), one guard shared with other services, TCP/TLS accepts,
//! `is_banned` spending no rate token and counting nothing, and the server's own addresses
//! refused as peers whatever the allow-list says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use edge_guard::{Guard, GuardConfig, RateLimit, Service as GuardService};
use edge_stun::{Attribute, Class, Message, MessageEncoder, Method, TransactionId};
use edge_turn::{ClientAction, GUARD_SWEEP_INTERVAL};

const ATTACKER: &str = "198.51.100.7:4000";
const BYSTANDER: &str = "203.0.113.9:5000";

/// A guard with `config`, made after the log capture is installed (see edge-log-capture:
/// every test of this binary makes its guard through here, before anything logs).
fn logged_guard(config: GuardConfig) -> Guard {
    edge_log_capture::install();
    Guard::new(config).unwrap()
}

/// A guard banning for 2 s after 3 failures, with room for every request a test sends.
fn guard(ban: Duration) -> Guard {
    logged_guard(GuardConfig {
        max_failures: 3,
        ban_duration: ban,
        ..GuardConfig::default()
    })
}

fn harness_with(guard: &Guard) -> Harness {
    let mut cfg = config();
    cfg.guard = Some(guard.clone());
    Harness::new(cfg)
}

/// Three wrong-password Allocates, each with the nonce of the first 401: three failures.
fn fail_three_logins(h: &mut Harness, remote: &str) {
    let mut bad = Client::new(udp_tuple(remote), USER, "not-the-password");
    for _ in 0..3 {
        assert_eq!(bad.allocate(h), Err(401));
    }
}

/// Runs `f` and returns the `edge_guard` messages this thread logged meanwhile.
fn guard_log(f: impl FnOnce()) -> Vec<String> {
    let ((), log) = edge_log_capture::capture(f);
    log.lines()
        .filter_map(|l| l.split_once(" edge_guard: ").map(|(_, m)| m.to_owned()))
        .collect()
}

#[test]
fn third_failed_login_bans_and_the_ban_drops_requests_before_the_integrity_check() {
    let g = guard(Duration::from_secs(2));
    let mut h = harness_with(&g);
    let lines = guard_log(|| fail_three_logins(&mut h, ATTACKER));
    assert_eq!(
        lines,
        [
            "auth-failure service=turn source=198.51.100.7 reason=\"bad-integrity\" user=\"alice\" failures=1/3",
            "auth-failure service=turn source=198.51.100.7 reason=\"bad-integrity\" user=\"alice\" failures=2/3",
            "auth-failure service=turn source=198.51.100.7 reason=\"bad-integrity\" user=\"alice\" failures=3/3",
            "ban source=198.51.100.7/32 service=turn failures=3 duration=2s",
        ]
    );
    assert_eq!(h.server.stats().auth_failures, 3);
    assert_eq!(g.bans(h.now).len(), 1);

    // The right password from the banned address, another port: no answer at all, and a
    // wrong signature is not even looked at (no fourth failure is recorded).
    let mut good = Client::new(udp_tuple("198.51.100.7:4001"), USER, PASS);
    let unsigned = good.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    assert_eq!(h.input(good.tuple, &unsigned).0, ClientAction::None);
    good.nonce = Some("000000000000000000000000000".into());
    let mut signed = good.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    let last = signed.len() - 1;
    signed[last] ^= 0xff;
    assert_eq!(h.input(good.tuple, &signed).0, ClientAction::None);
    let binding = good.request(Method::BINDING, &[]);
    assert_eq!(h.input(good.tuple, &binding).0, ClientAction::None);
    let s = h.server.stats();
    assert_eq!((s.banned, s.auth_failures, s.unauthorized), (3, 3, 4));
    assert_eq!(g.stats().failures, 3);
    assert_eq!(h.server.allocations(), 0);

    // Another source is served.
    let mut other = Client::new(udp_tuple(BYSTANDER), USER, PASS);
    other.allocate(&mut h).unwrap();

    // After the ban, the first address allocates again; the sweep logs the unban.
    let lines = guard_log(|| {
        h.advance(Duration::from_secs(2));
        h.advance(GUARD_SWEEP_INTERVAL);
    });
    assert_eq!(lines, ["unban source=198.51.100.7/32 cause=expired"]);
    assert!(g.bans(h.now).is_empty());
    let mut good = Client::new(udp_tuple("198.51.100.7:4001"), USER, PASS);
    good.allocate(&mut h).unwrap();
    assert_eq!(h.server.allocations(), 2);
}

#[test]
fn the_default_guard_bans_after_three_failures_for_600_s() {
    let mut h = Harness::new(config());
    fail_three_logins(&mut h, ATTACKER);
    let mut good = Client::new(udp_tuple(ATTACKER), USER, PASS);
    let req = good.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    assert_eq!(h.input(good.tuple, &req).0, ClientAction::None);
    h.advance(Duration::from_secs(599));
    assert_eq!(h.input(good.tuple, &req).0, ClientAction::None);
    h.advance(Duration::from_secs(1));
    good.allocate(&mut h).unwrap();
}

#[test]
fn unknown_expired_and_wrong_rest_usernames_are_failures_with_their_reason() {
    let g = guard(Duration::from_secs(60));
    let mut cfg = config();
    cfg.shared_secrets = vec![b"rest-secret".to_vec()];
    cfg.guard = Some(g.clone());
    let mut h = Harness::new(cfg);
    let expired = format!("{}:bob", UNIX_START - 1);
    // A current REST username with a password not made from the secret.
    let forged = format!("{}:bob", UNIX_START + 3600);
    let lines = guard_log(|| {
        for user in ["mallory", expired.as_str(), forged.as_str()] {
            let mut c = Client::new(udp_tuple(ATTACKER), user, "whatever");
            assert_eq!(c.allocate(&mut h), Err(401), "{user}");
        }
    });
    assert_eq!(
        lines,
        [
            "auth-failure service=turn source=198.51.100.7 reason=\"unknown-user\" user=\"mallory\" failures=1/3",
            "auth-failure service=turn source=198.51.100.7 reason=\"expired-username\" user=\"1799999999:bob\" failures=2/3",
            "auth-failure service=turn source=198.51.100.7 reason=\"bad-integrity\" user=\"1800003600:bob\" failures=3/3",
            "ban source=198.51.100.7/32 service=turn failures=3 duration=60s",
        ]
    );
}

#[test]
fn challenges_and_stale_or_foreign_nonces_are_not_failures() {
    let g = guard(Duration::from_secs(60));
    let mut cfg = config();
    cfg.nonce_lifetime = Duration::from_secs(30);
    cfg.guard = Some(g.clone());
    let mut h = Harness::new(cfg);
    let mut bad = Client::new(udp_tuple(ATTACKER), USER, "not-the-password");

    // The first step of the dance, again and again: 401 challenges, no failure.
    for _ in 0..10 {
        let req = bad.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
        assert_eq!(code_of(&h.input(bad.tuple, &req).1), Some(401));
    }
    // A nonce issued to another address (what a spoofer would have): 438, no failure.
    let mut victim = Client::new(udp_tuple(BYSTANDER), USER, PASS);
    victim.allocate(&mut h).unwrap();
    // A made-up nonce: 438, no failure.
    let made_up = Some("0000ffffffff0123456789abcdef".to_owned());
    for nonce in [victim.nonce.clone(), made_up] {
        bad.nonce = nonce;
        for _ in 0..3 {
            let req = bad.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
            assert_eq!(code_of(&h.input(bad.tuple, &req).1), Some(438));
        }
    }
    // A nonce the attacker did receive, once it has expired: 438, no failure.
    bad.nonce = None;
    let req = bad.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    let resp = h.input(bad.tuple, &req).1;
    bad.nonce = Message::parse(&resp)
        .unwrap()
        .nonce()
        .unwrap()
        .map(str::to_owned);
    h.advance(Duration::from_secs(31));
    for _ in 0..3 {
        let req = bad.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
        assert_eq!(code_of(&h.input(bad.tuple, &req).1), Some(438));
    }
    assert_eq!(h.server.stats().auth_failures, 0);
    assert_eq!(g.stats().failures, 0);
    assert!(g.bans(h.now).is_empty());
}

#[test]
fn a_failure_recorded_by_another_service_on_the_shared_guard_bans_turn_too() {
    let g = guard(Duration::from_secs(60));
    let mut h = harness_with(&g);
    let source = udp_tuple(ATTACKER).remote.ip();
    for _ in 0..3 {
        let _ = g.record_failure(h.now, source, GuardService::Api, "bad-token", None);
    }
    let mut c = Client::new(udp_tuple(ATTACKER), USER, PASS);
    let req = c.request(Method::BINDING, &[]);
    assert_eq!(h.input(c.tuple, &req).0, ClientAction::None);
    assert_eq!(h.server.stats().banned, 1);
    assert!(
        !h.server.admits(h.now, c.tuple.remote),
        "TCP accept refused"
    );
    assert!(h.server.admits(h.now, udp_tuple(BYSTANDER).remote));
    assert_eq!(h.server.stats().banned, 2);
    // The question a driver asks for open connections counts nothing.
    assert!(h.server.is_banned(h.now, source));
    assert!(!h.server.is_banned(h.now, udp_tuple(BYSTANDER).remote.ip()));
    assert_eq!(h.server.stats().banned, 2);
}

#[test]
fn requests_over_the_rate_are_dropped_and_counted_but_data_flows() {
    let mut config = GuardConfig::default();
    config.rate.turn = RateLimit {
        rate: 10.0,
        burst: 8,
    };
    let g = logged_guard(config);
    let mut cfg = config_with_loopback_peers();
    cfg.guard = Some(g.clone());
    let mut h = Harness::new(cfg);
    let peer = "127.0.0.1:9".parse().unwrap();
    let mut c = Client::new(udp_tuple(ATTACKER), USER, PASS);
    // 401 + Allocate + ChannelBind: three of the eight tokens.
    let port = c.allocate(&mut h).unwrap();
    let bind = [
        Attribute::ChannelNumber(0x4000),
        Attribute::XorPeerAddress(peer),
    ];
    assert_eq!(code_of(&c.call(&mut h, Method::CHANNEL_BIND, &bind)), None);
    // The ban question a driver asks for open connections spends no token.
    for _ in 0..20 {
        assert!(!h.server.is_banned(h.now, c.tuple.remote.ip()));
    }
    let binding = c.request(Method::BINDING, &[]);
    let answered = (0..20)
        .filter(|_| matches!(h.input(c.tuple, &binding).0, ClientAction::Reply { .. }))
        .count();
    assert_eq!(answered, 5, "the rest of the burst");
    assert_eq!(h.server.stats().rate_limited, 15);
    // At one instant the guard decides once; the core refuses the rest of the batch itself.
    assert_eq!(g.stats().rate_refused.turn, 1);

    // Data is not a request: ChannelData and Send indications still relay.
    let (action, _) = h.input(c.tuple, &channel_data(0x4000, b"media"));
    assert!(matches!(action, ClientAction::Relay { port: p, .. } if p == port));
    let send = send_indication(peer, b"media");
    assert!(matches!(
        h.input(c.tuple, &send).0,
        ClientAction::Relay { .. }
    ));
    // Another source has its own bucket; a tenth of a second refills one token.
    let mut other = Client::new(udp_tuple(BYSTANDER), USER, PASS);
    let req = other.request(Method::BINDING, &[]);
    assert!(matches!(
        h.input(other.tuple, &req).0,
        ClientAction::Reply { .. }
    ));
    h.advance(Duration::from_millis(100));
    assert!(matches!(
        h.input(c.tuple, &binding).0,
        ClientAction::Reply { .. }
    ));
    assert_eq!(h.input(c.tuple, &binding).0, ClientAction::None);
    assert_eq!(h.server.stats().rate_limited, 16);
    assert_eq!(g.stats().rate_refused.turn, 2);
}

fn config_with_loopback_peers() -> edge_turn::ServerConfig {
    let mut cfg = config();
    cfg.peer_allow = vec![
        "127.0.0.0/8".parse().unwrap(),
        "192.0.2.0/24".parse().unwrap(),
    ];
    cfg
}

fn send_indication(peer: std::net::SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let tid = TransactionId([7; 12]);
    let mut enc = MessageEncoder::new(&mut buf, Class::Indication, Method::SEND, tid).unwrap();
    enc.attribute(&Attribute::XorPeerAddress(peer)).unwrap();
    enc.attribute(&Attribute::Data(data)).unwrap();
    let len = enc.finish();
    buf.truncate(len);
    buf
}

#[test]
fn own_addresses_are_refused_whatever_the_allow_list() {
    // The relay address is 192.0.2.10 (see `config`); the listener 192.0.2.10:3478; the
    // control API on every address, port 8443; the driver adds another listener later.
    let mut cfg = config_with_loopback_peers();
    cfg.protected_peers = vec![
        "192.0.2.10:3478".parse().unwrap(),
        "0.0.0.0:8443".parse().unwrap(),
    ];
    let mut h = Harness::new(cfg);
    h.server.protect_peers(["127.0.0.1:5349".parse().unwrap()]);
    let mut c = Client::new(udp_tuple(ATTACKER), USER, PASS);
    let own_port = c.allocate(&mut h).unwrap();
    let mut other = Client::new(udp_tuple(BYSTANDER), USER, PASS);
    let other_port = other.allocate(&mut h).unwrap();

    for (i, peer) in [
        "192.0.2.10:3478",
        "127.0.0.1:8443",
        "0.0.0.0:8443",
        "192.0.2.10:8443",
        "127.0.0.1:5349",
    ]
    .into_iter()
    .enumerate()
    {
        let peer = peer.parse().unwrap();
        let perm = [Attribute::XorPeerAddress(peer)];
        let bind = [
            Attribute::ChannelNumber(0x4000 + i as u16),
            Attribute::XorPeerAddress(peer),
        ];
        assert_eq!(
            code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &perm)),
            Some(403),
            "{peer}"
        );
        assert_eq!(
            code_of(&c.call(&mut h, Method::CHANNEL_BIND, &bind)),
            Some(403),
            "{peer}"
        );
    }

    // The same hosts on other ports are fine (the allow-list admits them), and so are other
    // allocations' relay ports: two clients relayed by one server.
    for peer in [
        "192.0.2.10:3479".to_owned(),
        "127.0.0.1:8444".to_owned(),
        format!("192.0.2.10:{other_port}"),
        format!("192.0.2.10:{own_port}"),
    ] {
        let perm = [Attribute::XorPeerAddress(peer.parse().unwrap())];
        assert_eq!(
            code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &perm)),
            None,
            "{peer}"
        );
    }

    // With a permission for the hosts, a Send indication toward an own port is dropped.
    let dropped = h.server.stats().dropped;
    for peer in [
        "192.0.2.10:3478",
        "127.0.0.1:8443",
        "[::ffff:127.0.0.1]:5349",
    ] {
        let send = send_indication(peer.parse().unwrap(), b"loop");
        assert_eq!(h.input(c.tuple, &send).0, ClientAction::None, "{peer}");
    }
    assert_eq!(h.server.stats().dropped, dropped + 3);
    let send = send_indication(format!("192.0.2.10:{other_port}").parse().unwrap(), b"hi");
    assert!(matches!(
        h.input(c.tuple, &send).0,
        ClientAction::Relay { .. }
    ));
}
