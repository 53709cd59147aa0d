//! Authentication: long-term users, REST shared secrets with rotation, nonces that expire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use edge_stun::{Attribute, Message, Method};
// Pinned to openssl's output and RFC 2202 by its unit test.
use edge_turn::rest_password;

#[test]
fn binding_needs_no_credentials_and_reflects_the_address() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let resp = c.call(&mut h, Method::BINDING, &[]);
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), None);
    assert_eq!(msg.xor_mapped_address().unwrap(), Some(c.tuple.remote));
}

#[test]
fn unauthenticated_allocate_gets_401_with_realm_and_nonce() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    let (_, resp) = h.input(c.tuple, &req);
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), Some(401));
    assert_eq!(msg.realm().unwrap(), Some(REALM));
    assert!(msg.nonce().unwrap().is_some_and(|n| !n.is_empty()));
    assert!(!msg.has_integrity());
    assert_eq!(h.server.allocations(), 0);
}

#[test]
fn correct_password_allocates_and_response_is_signed() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let port = c.allocate(&mut h).unwrap();
    assert!((50000..=50009).contains(&port));
    assert_eq!(h.server.allocations(), 1);
    assert!(h.relays.open.contains(&port));
}

#[test]
fn wrong_password_and_unknown_user_get_401_and_nothing_is_allocated() {
    let mut h = Harness::new(config());
    for (user, pass) in [(USER, "wrong"), ("mallory", PASS)] {
        let mut c = Client::new(udp_tuple("198.51.100.7:4000"), user, pass);
        assert_eq!(c.allocate(&mut h), Err(401), "{user}/{pass}");
    }
    assert_eq!(h.server.allocations(), 0);
    assert!(h.relays.open.is_empty());
    assert!(h.server.stats().unauthorized >= 2);
}

#[test]
fn nonce_expires_with_438_and_a_fresh_nonce_works() {
    let mut cfg = config();
    cfg.nonce_lifetime = Duration::from_secs(60);
    let mut h = Harness::new(cfg);
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    c.allocate(&mut h).unwrap();
    h.advance(Duration::from_secs(61));
    let old = c.nonce.clone();
    let req = c.request(Method::REFRESH, &[]);
    let (_, resp) = h.input(c.tuple, &req);
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), Some(438));
    let fresh = msg.nonce().unwrap().unwrap().to_owned();
    assert_ne!(Some(fresh.clone()), old);
    // `call` retries with the fresh nonce: the refresh then succeeds.
    let resp = c.call(&mut h, Method::REFRESH, &[]);
    assert_eq!(code_of(&resp), None);
}

#[test]
fn nonce_from_another_client_address_is_stale() {
    let mut h = Harness::new(config());
    let mut a = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    a.call(&mut h, Method::ALLOCATE, &[]);
    let mut b = Client::new(udp_tuple("198.51.100.8:4000"), USER, PASS);
    b.nonce = a.nonce.clone();
    let req = b.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    assert_eq!(code_of(&h.input(b.tuple, &req).1), Some(438));
}

#[test]
fn missing_username_with_integrity_is_400() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    // Integrity but no USERNAME/REALM/NONCE.
    let mut buf = vec![0u8; 200];
    let mut enc = edge_stun::MessageEncoder::new(
        &mut buf,
        edge_stun::Class::Request,
        Method::ALLOCATE,
        c.tid(),
    )
    .unwrap();
    enc.message_integrity(&c.key).unwrap();
    let len = enc.finish();
    assert_eq!(code_of(&h.input(c.tuple, &buf[..len]).1), Some(400));
}

#[test]
fn rest_credentials_with_rotated_secrets_until_expiry() {
    let mut cfg = config();
    cfg.shared_secrets = vec![b"old-secret".to_vec(), b"new-secret".to_vec()];
    let mut h = Harness::new(cfg);
    let valid = format!("{}:bob", UNIX_START + 3600);
    for (i, secret) in [&b"old-secret"[..], b"new-secret"].iter().enumerate() {
        let tuple = udp_tuple(&format!("198.51.100.7:{}", 4000 + i));
        let mut c = Client::new(tuple, &valid, &rest_password(secret, &valid));
        c.allocate(&mut h).unwrap();
    }
    let mut other = Client::new(
        udp_tuple("198.51.100.7:5000"),
        &valid,
        &rest_password(b"unknown-secret", &valid),
    );
    assert_eq!(other.allocate(&mut h), Err(401));
    let expired = format!("{}:bob", UNIX_START - 1);
    let mut late = Client::new(
        udp_tuple("198.51.100.7:5001"),
        &expired,
        &rest_password(b"new-secret", &expired),
    );
    assert_eq!(late.allocate(&mut h), Err(401));
    assert_eq!(h.server.allocations(), 2);
}

#[test]
fn refresh_by_another_user_on_the_same_tuple_is_441() {
    let mut cfg = config();
    cfg.users.push(("eve".into(), "pw".into()));
    let mut h = Harness::new(cfg);
    let tuple = udp_tuple("198.51.100.7:4000");
    let mut alice = Client::new(tuple, USER, PASS);
    alice.allocate(&mut h).unwrap();
    let mut eve = Client::new(tuple, "eve", "pw");
    let resp = eve.call(&mut h, Method::REFRESH, &[]);
    assert_eq!(code_of(&resp), Some(441));
}
