//! The data path allocates nothing: a counting global allocator (this test binary's own)
//! sees zero allocations across thousands of relayed packets in steady state, both ways,
//! for ChannelData and for Send/Data indications.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edge_alloc_count::Scope;
use edge_stun::{Attribute, Class, MessageEncoder, Method};
use edge_turn::{ClientAction, PEER_HEADROOM};

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

#[test]
fn relaying_allocates_nothing_per_packet() {
    let mut h = Harness::new(config());
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let port = c.allocate(&mut h).unwrap();
    let chan_peer = "1.2.3.4:9".parse().unwrap();
    let ind_peer = "1.2.3.5:9".parse().unwrap();
    let bind = [
        Attribute::ChannelNumber(0x4000),
        Attribute::XorPeerAddress(chan_peer),
    ];
    assert_eq!(code_of(&c.call(&mut h, Method::CHANNEL_BIND, &bind)), None);
    let perm = [Attribute::XorPeerAddress(ind_peer)];
    assert_eq!(
        code_of(&c.call(&mut h, Method::CREATE_PERMISSION, &perm)),
        None
    );

    // Every buffer is made before counting starts, as a driver does at start-up.
    let frame = channel_data(0x4000, &[0x80; 160]);
    let mut send = vec![0u8; 400];
    let mut enc = MessageEncoder::new(&mut send, Class::Indication, Method::SEND, c.tid()).unwrap();
    enc.attribute(&Attribute::XorPeerAddress(ind_peer)).unwrap();
    enc.attribute(&Attribute::Data(&[0x80; 160])).unwrap();
    let send_len = enc.finish();
    let mut buf = vec![0u8; PEER_HEADROOM + 2048];
    let payload = PEER_HEADROOM..PEER_HEADROOM + 160;
    let mut reply = vec![0u8; 1024];
    let tuple = c.tuple;
    let server = &mut h.server;
    let now = h.now;

    let mut relayed = 0;
    // This thread only: the harness's own threads may allocate at any time.
    let ((), allocations) = edge_alloc_count::count(Scope::ThisThread, || {
        for _ in 0..10_000 {
            for input in [&frame[..], &send[..send_len]] {
                let action = server.handle_client(now, tuple, input, &mut reply);
                relayed += usize::from(matches!(action, ClientAction::Relay { .. }));
            }
            for peer in [chan_peer, ind_peer] {
                let framed = server.handle_peer(now, port, peer, &mut buf, payload.clone());
                relayed += usize::from(framed.is_some());
            }
        }
    });
    assert_eq!(relayed, 40_000, "every packet relayed");
    assert_eq!(allocations, 0, "heap allocations on the data path");
}
