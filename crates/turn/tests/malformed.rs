//! Bad input never panics and never costs the server its normal clients: random bytes,
//! truncations and corruptions of valid messages, lying lengths, oversized frames.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edge_stun::{Attribute, Method};
use edge_turn::ClientAction;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Valid inputs of every kind to corrupt.
fn corpus(h: &mut Harness, c: &mut Client) -> Vec<Vec<u8>> {
    let peer = "1.2.3.4:9".parse().unwrap();
    c.allocate(h).unwrap();
    let bind = [
        Attribute::ChannelNumber(0x4000),
        Attribute::XorPeerAddress(peer),
    ];
    c.call(h, Method::CHANNEL_BIND, &bind);
    vec![
        c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]),
        c.request(Method::REFRESH, &[Attribute::Lifetime(600)]),
        c.request(
            Method::CREATE_PERMISSION,
            &[Attribute::XorPeerAddress(peer)],
        ),
        c.request(Method::CHANNEL_BIND, &bind),
        c.request(Method::BINDING, &[]),
        channel_data(0x4000, b"payload"),
    ]
}

#[test]
fn random_truncated_and_corrupted_inputs_are_dropped_without_panic() {
    // Both sources are allow-listed in the guard so every input reaches the parsers: a
    // corrupted signed request is a failed login, and 10,000 requests at one instant are far
    // over the rate limit (tests/guard.rs covers both).
    let mut cfg = config();
    let guard = edge_guard::GuardConfig {
        allow: vec!["198.51.100.0/24".parse().unwrap()],
        ..edge_guard::GuardConfig::default()
    };
    cfg.guard = Some(edge_guard::Guard::new(guard).unwrap());
    let mut h = Harness::new(cfg);
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let corpus = corpus(&mut h, &mut c);
    let mut rng = SmallRng::seed_from_u64(7);
    let attacker = udp_tuple("198.51.100.66:6666");
    for round in 0..20_000 {
        let mut input = corpus[round % corpus.len()].clone();
        match round % 5 {
            0 => input.truncate(rng.random_range(0..=input.len())),
            1 => {
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..input.len());
                    input[i] = rng.random();
                }
            }
            2 => {
                // Lie about the length fields.
                let v: u16 = rng.random();
                input[2..4].copy_from_slice(&v.to_be_bytes());
            }
            3 => {
                input = (0..rng.random_range(0..600))
                    .map(|_| rng.random())
                    .collect()
            }
            _ => input.extend((0..rng.random_range(1..70_000)).map(|_| rng.random::<u8>())),
        }
        let tuple = if round % 2 == 0 { attacker } else { c.tuple };
        let _ = h.input(tuple, &input);
        let _ = h.peer_datagram(
            50000 + (round % 10) as u16,
            "1.2.3.4:9".parse().unwrap(),
            &input,
        );
    }
    assert!(h.server.stats().malformed > 1000);
    // The real client still gets served.
    let resp = c.call(&mut h, Method::REFRESH, &[Attribute::Lifetime(600)]);
    assert_eq!(code_of(&resp), None);
    let (action, _) = h.input(c.tuple, &channel_data(0x4000, b"still here"));
    assert!(matches!(action, ClientAction::Relay { .. }));
}

#[test]
fn empty_and_one_byte_inputs() {
    let mut h = Harness::new(config());
    let t = udp_tuple("198.51.100.66:6666");
    for b in 0..=255u8 {
        assert_eq!(h.input(t, &[b]).0, ClientAction::None);
    }
    assert_eq!(h.input(t, &[]).0, ClientAction::None);
    assert_eq!(h.server.stats().malformed, 257);
}

#[test]
fn peer_datagrams_without_headroom_are_dropped_not_panicking() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let port = c.allocate(&mut h).unwrap();
    let peer = "1.2.3.4:9".parse().unwrap();
    let perm = [Attribute::XorPeerAddress(peer)];
    c.call(&mut h, Method::CREATE_PERMISSION, &perm);
    let mut buf = [0u8; 64];
    for start in 0..8 {
        let r = h
            .server
            .handle_peer(h.now, port, peer, &mut buf, start..start + 8);
        assert!(
            r.is_none(),
            "headroom {start} is too small for a Data indication"
        );
    }
    // No tailroom for padding.
    let end = buf.len();
    assert!(h
        .server
        .handle_peer(h.now, port, peer, &mut buf, 50..end - 1)
        .is_none());
}
