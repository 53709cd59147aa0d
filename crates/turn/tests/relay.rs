//! The data path: permissions, channels, Send/Data indications, ChannelData both ways, the
//! peer filter, permission expiry, the bandwidth cap, stream padding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use edge_stun::{Attribute, ChannelData, Class, Message, MessageEncoder, Method};
use edge_turn::{BandwidthCap, ClientAction, Transport};

const PEER: &str = "1.2.3.5:7000";

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

fn allocated(h: &mut Harness) -> (Client, u16) {
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let port = c.allocate(h).unwrap();
    (c, port)
}

fn bind(c: &mut Client, h: &mut Harness, number: u16, peer: SocketAddr) -> Option<u16> {
    let attrs = [
        Attribute::ChannelNumber(number),
        Attribute::XorPeerAddress(peer),
    ];
    code_of(&c.call(h, Method::CHANNEL_BIND, &attrs))
}

fn permit(c: &mut Client, h: &mut Harness, peer: SocketAddr) -> Option<u16> {
    code_of(&c.call(
        h,
        Method::CREATE_PERMISSION,
        &[Attribute::XorPeerAddress(peer)],
    ))
}

fn send_indication(c: &mut Client, peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let tid = c.tid();
    let mut enc = MessageEncoder::new(&mut buf, Class::Indication, Method::SEND, tid).unwrap();
    enc.attribute(&Attribute::XorPeerAddress(peer)).unwrap();
    enc.attribute(&Attribute::Data(data)).unwrap();
    let len = enc.finish();
    buf.truncate(len);
    buf
}

#[test]
fn channel_data_both_ways() {
    let mut h = Harness::new(config());
    let (mut c, port) = allocated(&mut h);
    assert_eq!(bind(&mut c, &mut h, 0x4001, peer()), None);
    let frame = channel_data(0x4001, b"hello peer");
    let (action, _) = h.input(c.tuple, &frame);
    let ClientAction::Relay {
        port: p,
        peer: to,
        payload,
    } = action
    else {
        panic!("not relayed: {action:?}");
    };
    assert_eq!((p, to), (port, peer()));
    assert_eq!(&frame[payload], b"hello peer");

    let (tuple, bytes) = h.peer_datagram(port, peer(), b"hello client").unwrap();
    assert_eq!(tuple, c.tuple);
    let cd = ChannelData::parse(&bytes).unwrap();
    assert_eq!((cd.number(), cd.payload()), (0x4001, &b"hello client"[..]));
    assert_eq!(h.server.stats().to_peers, 1);
    assert_eq!(h.server.stats().to_clients, 1);
}

#[test]
fn send_and_data_indications_need_a_permission() {
    let mut h = Harness::new(config());
    let (mut c, port) = allocated(&mut h);
    let ind = send_indication(&mut c, peer(), b"ping");
    assert_eq!(
        h.input(c.tuple, &ind).0,
        ClientAction::None,
        "no permission yet"
    );
    assert!(
        h.peer_datagram(port, peer(), b"pong").is_none(),
        "no permission yet"
    );

    assert_eq!(permit(&mut c, &mut h, peer()), None);
    let (action, _) = h.input(c.tuple, &ind);
    let ClientAction::Relay { payload, .. } = action else {
        panic!("not relayed");
    };
    assert_eq!(&ind[payload], b"ping");
    // Permissions are per IP: another port of the same peer IP is admitted.
    let other_port: SocketAddr = "1.2.3.5:7001".parse().unwrap();
    let (_, bytes) = h.peer_datagram(port, other_port, b"pong!").unwrap();
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(
        (msg.class(), msg.method()),
        (Class::Indication, Method::DATA)
    );
    assert_eq!(msg.xor_peer_address().unwrap(), Some(other_port));
    assert_eq!(msg.data().unwrap(), Some(&b"pong!"[..]));
    // Another IP is not.
    assert!(h
        .peer_datagram(port, "1.2.3.6:7000".parse().unwrap(), b"x")
        .is_none());
}

#[test]
fn data_indication_toward_ipv6_peer_and_odd_lengths() {
    let mut cfg = config();
    cfg.relay_address = "2001:db8::10".parse().unwrap();
    cfg.peer_allow = vec!["2001:db8::/32".parse().unwrap()];
    let mut h = Harness::new(cfg);
    let (mut c, port) = allocated(&mut h);
    let v6: SocketAddr = "[2001:db8::5]:7000".parse().unwrap();
    assert_eq!(permit(&mut c, &mut h, v6), None);
    for len in [0usize, 1, 2, 3, 4, 5, 1199] {
        let payload = vec![0xab; len];
        let (_, bytes) = h.peer_datagram(port, v6, &payload).unwrap();
        let msg = Message::parse(&bytes).unwrap();
        assert_eq!(msg.xor_peer_address().unwrap(), Some(v6));
        assert_eq!(msg.data().unwrap(), Some(&payload[..]));
    }
}

#[test]
fn stream_clients_get_padded_channel_data() {
    let mut h = Harness::new(config());
    let mut tuple = udp_tuple("198.51.100.7:4000");
    tuple.transport = Transport::Tls;
    let mut c = Client::new(tuple, USER, PASS);
    let port = c.allocate(&mut h).unwrap();
    assert_eq!(bind(&mut c, &mut h, 0x4fff, peer()), None);
    let (_, bytes) = h.peer_datagram(port, peer(), b"abcde").unwrap();
    assert_eq!(bytes.len(), 12, "4 header + 5 payload + 3 padding");
    assert_eq!(&bytes[9..], &[0, 0, 0]);
    let cd = ChannelData::parse(&bytes).unwrap();
    assert_eq!(cd.payload(), b"abcde");
}

#[test]
fn channel_bind_rules() {
    let mut h = Harness::new(config());
    let (mut c, _) = allocated(&mut h);
    let other: SocketAddr = "1.2.3.9:1".parse().unwrap();
    assert_eq!(bind(&mut c, &mut h, 0x4000, peer()), None);
    assert_eq!(bind(&mut c, &mut h, 0x4000, peer()), None, "refresh");
    assert_eq!(
        bind(&mut c, &mut h, 0x4000, other),
        Some(400),
        "number taken"
    );
    assert_eq!(
        bind(&mut c, &mut h, 0x4002, peer()),
        Some(400),
        "peer taken"
    );
    assert_eq!(bind(&mut c, &mut h, 0x4002, other), None);
    let missing = c.call(
        &mut h,
        Method::CHANNEL_BIND,
        &[Attribute::ChannelNumber(0x4003)],
    );
    assert_eq!(code_of(&missing), Some(400));
}

#[test]
fn unbound_channel_and_unknown_tuple_are_dropped() {
    let mut h = Harness::new(config());
    let (c, _) = allocated(&mut h);
    assert_eq!(
        h.input(c.tuple, &channel_data(0x4001, b"x")).0,
        ClientAction::None
    );
    let stranger = udp_tuple("198.51.100.99:1");
    assert_eq!(
        h.input(stranger, &channel_data(0x4001, b"x")).0,
        ClientAction::None
    );
    assert_eq!(h.server.stats().dropped, 2);
}

#[test]
fn permissions_and_channels_expire() {
    let mut h = Harness::new(config());
    let (mut c, port) = allocated(&mut h);
    assert_eq!(bind(&mut c, &mut h, 0x4001, peer()), None);
    // Keep the allocation alive; the permission (300 s) lapses before the channel (600 s).
    let resp = c.call(&mut h, Method::REFRESH, &[Attribute::Lifetime(3600)]);
    assert_eq!(code_of(&resp), None);
    h.advance(Duration::from_secs(301));
    assert_eq!(
        h.input(c.tuple, &channel_data(0x4001, b"x")).0,
        ClientAction::None
    );
    assert!(h.peer_datagram(port, peer(), b"y").is_none());
    // CreatePermission revives it while the channel lives.
    assert_eq!(permit(&mut c, &mut h, peer()), None);
    assert!(matches!(
        h.input(c.tuple, &channel_data(0x4001, b"x")).0,
        ClientAction::Relay { .. }
    ));
    h.advance(Duration::from_secs(300));
    // Channel gone (600 s), permission refreshed at 301 s still live until 601 s... gone too.
    assert_eq!(
        h.input(c.tuple, &channel_data(0x4001, b"x")).0,
        ClientAction::None
    );
}

#[test]
fn peer_filter_refuses_special_addresses_by_default() {
    let mut h = Harness::new(config());
    let (mut c, _) = allocated(&mut h);
    for peer in [
        "127.0.0.1:9",
        "0.0.0.0:9",
        "169.254.169.254:80",
        "10.0.0.1:9",
        "192.168.1.1:9",
        "224.0.0.1:9",
        "255.255.255.255:9",
    ] {
        let p: SocketAddr = peer.parse().unwrap();
        assert_eq!(permit(&mut c, &mut h, p), Some(403), "{peer}");
        assert_eq!(bind(&mut c, &mut h, 0x4000, p), Some(403), "{peer}");
    }
    for peer in ["[::1]:9", "[::ffff:127.0.0.1]:9"] {
        let p: SocketAddr = peer.parse().unwrap();
        assert_eq!(permit(&mut c, &mut h, p), Some(443), "{peer}: IPv4 relay");
    }
}

#[test]
fn peer_filter_allow_list_and_deny_list() {
    let mut cfg = config();
    cfg.peer_allow = vec![
        "127.0.0.0/8".parse().unwrap(),
        "10.0.0.0/8".parse().unwrap(),
    ];
    cfg.peer_deny = vec![
        "10.9.0.0/16".parse().unwrap(),
        "1.2.3.0/24".parse().unwrap(),
    ];
    let mut h = Harness::new(cfg);
    let (mut c, _) = allocated(&mut h);
    assert_eq!(permit(&mut c, &mut h, "127.0.0.1:9".parse().unwrap()), None);
    assert_eq!(permit(&mut c, &mut h, "10.0.0.1:9".parse().unwrap()), None);
    assert_eq!(
        permit(&mut c, &mut h, "10.9.0.1:9".parse().unwrap()),
        Some(403)
    );
    assert_eq!(permit(&mut c, &mut h, peer()), Some(403));
    assert_eq!(
        permit(&mut c, &mut h, "169.254.169.254:9".parse().unwrap()),
        Some(403)
    );
}

#[test]
fn create_permission_is_all_or_nothing() {
    let mut h = Harness::new(config());
    let (mut c, port) = allocated(&mut h);
    let attrs = [
        Attribute::XorPeerAddress(peer()),
        Attribute::XorPeerAddress("10.0.0.1:9".parse().unwrap()),
    ];
    assert_eq!(
        code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &attrs)),
        Some(403)
    );
    assert!(h.peer_datagram(port, peer(), b"x").is_none());
}

#[test]
fn bandwidth_cap_drops_over_the_rate() {
    let mut cfg = config();
    cfg.bandwidth = Some(BandwidthCap {
        bytes_per_sec: 10_000,
        burst_bytes: 2_000,
    });
    let mut h = Harness::new(cfg);
    let (mut c, port) = allocated(&mut h);
    assert_eq!(bind(&mut c, &mut h, 0x4001, peer()), None);
    let payload = [0u8; 500];
    let relayed = (0..10)
        .filter(|_| {
            matches!(
                h.input(c.tuple, &channel_data(0x4001, &payload)).0,
                ClientAction::Relay { .. }
            )
        })
        .count();
    assert_eq!(relayed, 4, "burst of 2000 bytes");
    assert!(
        h.peer_datagram(port, peer(), &payload).is_none(),
        "both directions count"
    );
    h.now += Duration::from_millis(100); // 1000 bytes of tokens
    assert!(h.peer_datagram(port, peer(), &payload).is_some());
    assert!(matches!(
        h.input(c.tuple, &channel_data(0x4001, &payload)).0,
        ClientAction::Relay { .. }
    ));
    assert_eq!(
        h.input(c.tuple, &channel_data(0x4001, &payload)).0,
        ClientAction::None
    );
}
