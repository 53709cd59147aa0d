//! The events a kernel fast path mirrors (`Server::track_kernel_state`), on the core's
//! virtual clock: a channel is announced usable until the earliest of its binding's, its
//! permission's and its allocation's ends, again whenever one of those moves, and gone when
//! any of them ends; a ban this server starts is announced. Without tracking, none of these
//! events exist (the existing event streams are unchanged).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use edge_stun::{Attribute, Method};
use edge_turn::{Event, PERMISSION_LIFETIME};

const PEER: &str = "1.2.3.5:7000";
const NUMBER: u16 = 0x4001;

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

/// A harness tracking kernel state and a client with a channel to PEER; the events so far
/// drained.
fn bound() -> (Harness, Client, u16) {
    let mut h = Harness::new(config());
    h.server.track_kernel_state();
    let mut c = Client::new(udp_tuple("198.51.100.1:40000"), USER, PASS);
    let port = c.allocate(&mut h).unwrap();
    drain(&mut h);
    bind(&mut c, &mut h);
    (h, c, port)
}

fn bind(c: &mut Client, h: &mut Harness) {
    let attrs = [
        Attribute::ChannelNumber(NUMBER),
        Attribute::XorPeerAddress(peer()),
    ];
    assert_eq!(code_of(&c.call(h, Method::CHANNEL_BIND, &attrs)), None);
}

fn drain(h: &mut Harness) -> Vec<Event> {
    std::iter::from_fn(|| h.server.poll_event()).collect()
}

/// The channel events among `events`, as (until relative to `h.now`, or None for down).
fn channel_events(h: &Harness, events: &[Event], port: u16) -> Vec<Option<Duration>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelUp {
                relay_port,
                number,
                peer: p,
                until,
                ..
            } => {
                assert_eq!((*relay_port, *number, *p), (port, NUMBER, peer()));
                Some(Some(until.duration_since(h.now)))
            }
            Event::ChannelDown {
                relay_port,
                number,
                peer: p,
                ..
            } => {
                assert_eq!((*relay_port, *number, *p), (port, NUMBER, peer()));
                Some(None)
            }
            _ => None,
        })
        .collect()
}

/// Drains the events and returns the channel events among them.
fn changes(h: &mut Harness, port: u16) -> Vec<Option<Duration>> {
    let events = drain(h);
    channel_events(h, &events, port)
}

#[test]
fn a_bound_channel_is_up_until_its_permission_ends_and_down_when_it_expires() {
    let (mut h, _c, port) = bound();
    let events = drain(&mut h);
    // ChannelBind installs the permission (the channel has none yet: no event), then binds:
    // usable for the permission's 300 s, the shortest of 300 / 600 / 600.
    assert_eq!(
        channel_events(&h, &events, port),
        vec![Some(PERMISSION_LIFETIME)]
    );
    assert_eq!(events.len(), 1, "{events:?}");
    // The permission runs out: the channel is down at once, though its binding lives on.
    h.advance(PERMISSION_LIFETIME - Duration::from_secs(1));
    assert!(drain(&mut h).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(changes(&mut h, port), vec![None]);
}

#[test]
fn refreshes_move_the_end_and_a_new_permission_brings_the_channel_back() {
    let (mut h, mut c, port) = bound();
    drain(&mut h);
    h.advance(Duration::from_secs(100));
    // CreatePermission renews the permission: the end moves to now + 300 s.
    let attrs = [Attribute::XorPeerAddress(peer())];
    assert_eq!(
        code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &attrs)),
        None
    );
    assert_eq!(changes(&mut h, port), vec![Some(PERMISSION_LIFETIME)]);
    // A Refresh to 60 s makes the allocation the first to end.
    let attrs = [Attribute::Lifetime(60)];
    // The lifetime is clamped to the default (600 s) at least: the end stays at 300 s.
    assert_eq!(code_of(&c.call(&mut h, Method::REFRESH, &attrs)), None);
    assert_eq!(changes(&mut h, port), vec![Some(PERMISSION_LIFETIME)]);
    // The permission lapses, the channel goes down; a new permission brings it back.
    h.advance(PERMISSION_LIFETIME);
    assert_eq!(changes(&mut h, port), vec![None]);
    let attrs = [Attribute::XorPeerAddress(peer())];
    assert_eq!(
        code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &attrs)),
        None
    );
    // The binding (600 s from t=0) now ends first: 600 - 400 = 200 s from now.
    assert_eq!(changes(&mut h, port), vec![Some(Duration::from_secs(200))]);
    // The binding expires: down.
    h.advance(Duration::from_secs(200));
    assert_eq!(changes(&mut h, port), vec![None]);
}

#[test]
fn deleting_the_allocation_takes_its_channels_down() {
    let (mut h, mut c, port) = bound();
    drain(&mut h);
    let attrs = [Attribute::Lifetime(0)];
    assert_eq!(code_of(&c.call(&mut h, Method::REFRESH, &attrs)), None);
    let events = drain(&mut h);
    assert_eq!(channel_events(&h, &events, port), vec![None]);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AllocationClosed { .. })));
}

#[test]
fn an_expired_allocation_takes_its_channels_down() {
    let (mut h, mut c, port) = bound();
    drain(&mut h);
    // Keep the permission alive past the allocation's 600 s.
    h.advance(Duration::from_secs(299));
    let attrs = [Attribute::XorPeerAddress(peer())];
    assert_eq!(
        code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &attrs)),
        None
    );
    // Permission now ends at 599 s, before the allocation: still the earliest.
    assert_eq!(changes(&mut h, port), vec![Some(PERMISSION_LIFETIME)]);
    h.advance(Duration::from_secs(298));
    assert_eq!(
        code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &attrs)),
        None
    );
    // At 597 s: permission to 897 s, binding to 600 s, allocation to 600 s: 3 s left.
    assert_eq!(changes(&mut h, port), vec![Some(Duration::from_secs(3))]);
    h.advance(Duration::from_secs(3));
    let events = drain(&mut h);
    assert_eq!(channel_events(&h, &events, port), vec![None]);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AllocationClosed { .. })));
}

#[test]
fn a_ban_this_server_starts_is_an_event() {
    let mut h = Harness::new(config());
    h.server.track_kernel_state();
    let mut bad = Client::new(udp_tuple("198.51.100.9:40000"), USER, "wrong");
    // The guard's default: a ban after 3 failures on requests carrying our nonce.
    for _ in 0..3 {
        let _ = bad.allocate(&mut h);
    }
    let banned: Vec<_> = drain(&mut h)
        .into_iter()
        .filter_map(|e| match e {
            Event::SourceBanned { source, until } => Some((source, until > h.now)),
            _ => None,
        })
        .collect();
    assert_eq!(banned, vec![("198.51.100.9/32".parse().unwrap(), true)]);
}

#[test]
fn without_tracking_there_are_no_such_events() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.1:40000"), USER, PASS);
    c.allocate(&mut h).unwrap();
    bind(&mut c, &mut h);
    let mut bad = Client::new(udp_tuple("198.51.100.9:40000"), USER, "wrong");
    for _ in 0..3 {
        let _ = bad.allocate(&mut h);
    }
    h.advance(PERMISSION_LIFETIME);
    let events = drain(&mut h);
    assert!(
        events.iter().all(|e| matches!(
            e,
            Event::AllocationCreated { .. } | Event::AllocationClosed { .. }
        )),
        "{events:?}"
    );
}
