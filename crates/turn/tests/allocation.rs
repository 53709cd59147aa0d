//! Allocation lifecycle: quotas (486), port exhaustion (508), refused ports, expiry and
//! refresh-to-zero releasing ports, 437 and 442, retransmissions, connection close.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use edge_stun::{AddressFamily, Attribute, Message, Method};
use edge_turn::{Event, Transport};

fn client(i: u16) -> Client {
    Client::new(udp_tuple(&format!("198.51.100.7:{}", 4000 + i)), USER, PASS)
}

#[test]
fn user_quota_gives_486_and_total_quota_too() {
    let mut cfg = config();
    cfg.user_quota = 2;
    cfg.total_quota = 3;
    cfg.users.push(("bob".into(), "pw".into()));
    let mut h = Harness::new(cfg);
    client(0).allocate(&mut h).unwrap();
    client(1).allocate(&mut h).unwrap();
    assert_eq!(client(2).allocate(&mut h), Err(486));
    let mut bob = Client::new(udp_tuple("198.51.100.8:1"), "bob", "pw");
    bob.allocate(&mut h).unwrap();
    let mut bob2 = Client::new(udp_tuple("198.51.100.8:2"), "bob", "pw");
    assert_eq!(bob2.allocate(&mut h), Err(486), "total quota");
    assert_eq!(h.server.allocations(), 3);
}

#[test]
fn exhausted_range_gives_508_and_releases_make_room() {
    let mut cfg = config();
    cfg.user_quota = 100;
    let mut h = Harness::new(cfg);
    let mut clients: Vec<Client> = (0..10).map(client).collect();
    for c in &mut clients {
        c.allocate(&mut h).unwrap();
    }
    assert_eq!(h.server.free_ports(), 0);
    assert_eq!(h.relays.open.len(), 10);
    assert_eq!(client(10).allocate(&mut h), Err(508));
    // Refresh with lifetime 0 releases the port.
    let resp = clients[3].call(&mut h, Method::REFRESH, &[Attribute::Lifetime(0)]);
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), None);
    assert_eq!(msg.lifetime().unwrap(), Some(0));
    assert_eq!(h.server.free_ports(), 1);
    assert_eq!(h.relays.open.len(), 9);
    client(10).allocate(&mut h).unwrap();
    assert_eq!(h.server.free_ports(), 0);
}

#[test]
fn ports_the_system_refuses_are_skipped_and_stay_in_the_pool() {
    let mut h = Harness::new(config());
    h.relays.refuse = (50000..=50008).collect();
    let port = client(0).allocate(&mut h).unwrap();
    assert_eq!(port, 50009);
    assert_eq!(h.server.free_ports(), 9);
    assert_eq!(client(1).allocate(&mut h), Err(508));
    assert_eq!(h.server.free_ports(), 9);
}

#[test]
fn expiry_releases_ports_and_refresh_extends() {
    let mut h = Harness::new(config());
    let mut a = client(0);
    let mut b = client(1);
    a.allocate(&mut h).unwrap();
    b.allocate(&mut h).unwrap();
    assert_eq!(h.server.free_ports(), 8);
    h.advance(Duration::from_secs(500));
    let resp = a.call(&mut h, Method::REFRESH, &[Attribute::Lifetime(600)]);
    assert_eq!(code_of(&resp), None);
    h.advance(Duration::from_secs(101));
    // b expired at 600 s; a was refreshed at 500 s until 1100 s.
    assert_eq!(h.server.allocations(), 1);
    assert_eq!(h.server.free_ports(), 9);
    assert_eq!(h.relays.open.len(), 1);
    let mut closed = 0;
    while let Some(e) = h.server.poll_event() {
        if matches!(e, Event::AllocationClosed { .. }) {
            closed += 1;
        }
    }
    assert_eq!(closed, 1);
    h.advance(Duration::from_secs(500));
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(h.server.free_ports(), 10);
    assert!(h.relays.open.is_empty());
    // Only the guard's periodic sweep is left: no allocation, permission or channel timer.
    assert_eq!(
        h.server.poll_timeout(),
        Some(h.now + edge_turn::GUARD_SWEEP_INTERVAL),
        "no timer left behind but the guard sweep"
    );
}

#[test]
fn lifetime_is_clamped_to_default_and_max() {
    let mut h = Harness::new(config());
    let mut c = client(0);
    c.allocate(&mut h).unwrap();
    for (asked, granted) in [(1, 600), (3000, 3000), (100_000, 3600)] {
        let resp = c.call(&mut h, Method::REFRESH, &[Attribute::Lifetime(asked)]);
        let msg = Message::parse(&resp).unwrap();
        assert_eq!(msg.lifetime().unwrap(), Some(granted), "asked {asked}");
    }
}

#[test]
fn second_allocate_is_437_and_a_retransmission_gets_the_same_answer() {
    let mut h = Harness::new(config());
    let mut c = client(0);
    c.call(&mut h, Method::BINDING, &[]);
    // Get a nonce first, then allocate with a fixed transaction ID twice.
    let probe = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    let (_, challenge) = h.input(c.tuple, &probe);
    c.nonce = Message::parse(&challenge)
        .unwrap()
        .nonce()
        .unwrap()
        .map(str::to_owned);
    let tid = c.tid();
    let attrs = [Attribute::RequestedTransport(17)];
    let first = c.request_with_tid(Method::ALLOCATE, &attrs, tid);
    let (_, r1) = h.input(c.tuple, &first);
    let (_, r2) = h.input(c.tuple, &first);
    let relayed = |r: &[u8]| Message::parse(r).unwrap().xor_relayed_address().unwrap();
    assert!(relayed(&r1).is_some());
    assert_eq!(relayed(&r1), relayed(&r2));
    assert_eq!(h.server.allocations(), 1);
    let again = c.request(Method::ALLOCATE, &attrs);
    assert_eq!(code_of(&h.input(c.tuple, &again).1), Some(437));
}

#[test]
fn requests_without_allocation_get_437() {
    let mut h = Harness::new(config());
    let mut c = client(0);
    let peer = "1.2.3.5:9".parse().unwrap();
    for (method, attrs) in [
        (Method::REFRESH, vec![]),
        (
            Method::CREATE_PERMISSION,
            vec![Attribute::XorPeerAddress(peer)],
        ),
        (
            Method::CHANNEL_BIND,
            vec![
                Attribute::ChannelNumber(0x4000),
                Attribute::XorPeerAddress(peer),
            ],
        ),
    ] {
        assert_eq!(code_of(&c.call(&mut h, method, &attrs)), Some(437));
    }
}

#[test]
fn transport_and_family_checks() {
    let mut h = Harness::new(config());
    let mut c = client(0);
    let tcp = c.call(
        &mut h,
        Method::ALLOCATE,
        &[Attribute::RequestedTransport(6)],
    );
    assert_eq!(code_of(&tcp), Some(442));
    let none = c.call(&mut h, Method::ALLOCATE, &[]);
    assert_eq!(code_of(&none), Some(400));
    let v6 = c.call(
        &mut h,
        Method::ALLOCATE,
        &[
            Attribute::RequestedTransport(17),
            Attribute::RequestedAddressFamily(AddressFamily::V6),
        ],
    );
    assert_eq!(code_of(&v6), Some(440));
    let token = c.call(
        &mut h,
        Method::ALLOCATE,
        &[
            Attribute::RequestedTransport(17),
            Attribute::ReservationToken([1; 8]),
        ],
    );
    assert_eq!(code_of(&token), Some(508));
    let even = c.call(
        &mut h,
        Method::ALLOCATE,
        &[
            Attribute::RequestedTransport(17),
            Attribute::EvenPort(false),
        ],
    );
    let port = Message::parse(&even)
        .unwrap()
        .xor_relayed_address()
        .unwrap()
        .unwrap()
        .port();
    assert_eq!(port % 2, 0);
    assert_eq!(h.server.allocations(), 1);
}

#[test]
fn closing_a_stream_connection_releases_its_allocation() {
    let mut h = Harness::new(config());
    let mut tuple = udp_tuple("198.51.100.7:4000");
    tuple.transport = Transport::Tcp;
    let mut c = Client::new(tuple, USER, PASS);
    c.allocate(&mut h).unwrap();
    assert_eq!(h.server.free_ports(), 9);
    h.connection_closed(tuple);
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(h.server.free_ports(), 10);
    assert!(h.relays.open.is_empty());
}

#[test]
fn unknown_comprehension_required_attribute_gets_420() {
    let mut h = Harness::new(config());
    let mut c = client(0);
    let mut req = c.request(Method::BINDING, &[]);
    // Append an unknown comprehension-required attribute (0x0030) by hand.
    req.extend_from_slice(&[0x00, 0x30, 0x00, 0x04, 1, 2, 3, 4]);
    req[2..4].copy_from_slice(&8u16.to_be_bytes());
    let (_, resp) = h.input(c.tuple, &req);
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), Some(420));
    let unknown: Vec<u16> = msg
        .unknown_attributes()
        .unwrap()
        .unwrap()
        .iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(unknown, vec![0x0030]);
}
