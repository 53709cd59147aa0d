//! A draining server (on the core's virtual clock): a new Allocate is refused, with 508, or
//! with a signed 300 and ALTERNATE-SERVER when one is given; a retransmitted Allocate of an
//! allocation made before still gets its success; the running allocation is refreshed,
//! gets permissions and channels, and relays both ways as before. New credentials
//! (`set_credentials`) apply to the next request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use edge_stun::{Attribute, Message, Method};
use edge_turn::ClientAction;

fn client(i: u16) -> Client {
    Client::new(udp_tuple(&format!("198.51.100.7:{}", 4000 + i)), USER, PASS)
}

#[test]
fn draining_refuses_new_allocations_and_keeps_the_running_ones() {
    let mut h = Harness::new(config());
    let mut running = client(0);
    let port = running.allocate(&mut h).unwrap();
    let peer: SocketAddr = "1.2.3.5:5000".parse().unwrap();

    h.server.drain(None);
    assert!(h.server.is_draining());
    assert_eq!(client(1).allocate(&mut h), Err(508));

    let alternate: SocketAddr = "203.0.113.5:3478".parse().unwrap();
    h.server.drain(Some(alternate));
    let mut redirected = client(2);
    let resp = redirected.call(
        &mut h,
        Method::ALLOCATE,
        &[Attribute::RequestedTransport(17)],
    );
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), Some(300));
    assert_eq!(msg.alternate_server().unwrap(), Some(alternate));
    msg.verify_integrity(&redirected.key).unwrap();
    assert_eq!(h.server.allocations(), 1);

    // The running allocation: refreshed (an hour on), permitted, bound, relaying.
    h.advance(Duration::from_secs(500));
    let resp = running.call(&mut h, Method::REFRESH, &[Attribute::Lifetime(600)]);
    assert_eq!(code_of(&resp), None);
    let resp = running.call(
        &mut h,
        Method::CHANNEL_BIND,
        &[
            Attribute::ChannelNumber(0x4000),
            Attribute::XorPeerAddress(peer),
        ],
    );
    assert_eq!(code_of(&resp), None);
    h.advance(Duration::from_secs(200));
    assert_eq!(
        h.server.allocations(),
        1,
        "refreshed past its first lifetime"
    );
    let (action, _) = h.input(running.tuple, &channel_data(0x4000, b"to the peer"));
    assert!(
        matches!(action, ClientAction::Relay { port: p, peer: to, .. } if p == port && to == peer),
        "{action:?}"
    );
    assert!(h.peer_datagram(port, peer, b"to the client").is_some());
}

#[test]
fn new_credentials_apply_to_the_next_request() {
    let mut h = Harness::new(config());
    let mut before = client(0);
    before.allocate(&mut h).unwrap();
    h.server
        .set_credentials(vec![(USER.into(), "new-password".into())], Vec::new())
        .unwrap();
    assert_eq!(client(1).allocate(&mut h), Err(401));
    Client::new(udp_tuple("198.51.100.7:4002"), USER, "new-password")
        .allocate(&mut h)
        .unwrap();
    // Nobody could log in: refused, the new credentials stay.
    assert!(h.server.set_credentials(Vec::new(), Vec::new()).is_err());
    Client::new(udp_tuple("198.51.100.7:4003"), USER, "new-password")
        .allocate(&mut h)
        .unwrap();
}
