//! The codec allocates nothing per message: parse, every getter, integrity checks, encoding
//! with integrity and fingerprint, ChannelData and stream framing, counted by a global
//! allocator that tallies this thread's allocations. Its own test binary, so no other test
//! shares the allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use edge_alloc_count::Scope;
use edge_stun::{
    long_term_key, next_frame, AttrType, Attribute, ChannelData, Class, IntegrityKey, Message,
    MessageEncoder, Method, TransactionId, Transport,
};

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

#[test]
fn the_codec_allocates_nothing_per_message() {
    // Per-credential setup, done once (allowed to allocate, though it does not either).
    let key = IntegrityKey::new(&long_term_key("alice", "example.org", "secret"));
    let peer: SocketAddr = "[2001:db8::7]:50000".parse().unwrap();
    let mapped: SocketAddr = "192.0.2.77:40000".parse().unwrap();
    let mut buf = [0u8; 1500];
    let mut reply = [0u8; 1500];
    let mut unknown = [AttrType(0); 8];

    let mut checksum = 0usize;
    let ((), allocations) = edge_alloc_count::count(Scope::ThisThread, || {
        for i in 0..1000u32 {
            // A client's Allocate request...
            let mut tid = [0u8; 12];
            tid[..4].copy_from_slice(&i.to_be_bytes());
            let mut enc = MessageEncoder::new(
                &mut buf,
                Class::Request,
                Method::ALLOCATE,
                TransactionId(tid),
            )
            .unwrap();
            enc.attribute(&Attribute::RequestedTransport(17))
                .unwrap()
                .attribute(&Attribute::Lifetime(600))
                .unwrap()
                .attribute(&Attribute::Username("alice"))
                .unwrap()
                .attribute(&Attribute::Realm("example.org"))
                .unwrap()
                .attribute(&Attribute::Nonce("0123456789abcdef"))
                .unwrap()
                .message_integrity(&key)
                .unwrap()
                .message_integrity_sha256(&key)
                .unwrap()
                .fingerprint()
                .unwrap();
            let len = enc.finish();

            // ...as a server reads it...
            assert_eq!(next_frame(&buf[..len]), Ok(edge_stun::Frame::Stun(len)));
            let msg = Message::parse(&buf[..len]).unwrap();
            msg.verify_integrity(&key).unwrap();
            msg.verify_integrity_sha256(&key).unwrap();
            checksum += msg.username().unwrap().unwrap().len();
            checksum += msg.realm().unwrap().unwrap().len();
            checksum += msg.nonce().unwrap().unwrap().len();
            checksum += usize::from(msg.requested_transport().unwrap().unwrap());
            checksum += msg.lifetime().unwrap().unwrap() as usize;
            checksum += msg.xor_peer_addresses().count();
            checksum += msg.attributes().count();
            checksum += msg.unknown_comprehension_required(&mut unknown).len();
            for (t, v) in msg.attributes() {
                checksum += usize::from(Attribute::decode(t, v, &msg.transaction_id()).is_ok());
            }

            // ...and answers.
            let mut enc = MessageEncoder::new(
                &mut reply,
                Class::Success,
                Method::ALLOCATE,
                msg.transaction_id(),
            )
            .unwrap();
            enc.attribute(&Attribute::XorRelayedAddress(peer))
                .unwrap()
                .attribute(&Attribute::XorMappedAddress(mapped))
                .unwrap()
                .attribute(&Attribute::Lifetime(600))
                .unwrap()
                .message_integrity(&key)
                .unwrap()
                .fingerprint()
                .unwrap();
            let len = enc.finish();
            let answer = Message::parse(&reply[..len]).unwrap();
            checksum += usize::from(answer.xor_relayed_address().unwrap() == Some(peer));

            // Channel traffic, in place.
            let n = ChannelData::encode_in_place(&mut buf, 0x4001, 160, Transport::Stream).unwrap();
            assert_eq!(next_frame(&buf[..n]), Ok(edge_stun::Frame::ChannelData(n)));
            checksum += ChannelData::parse(&buf[..n]).unwrap().payload().len();
        }
    });
    assert!(checksum > 0);
    assert_eq!(allocations, 0, "allocations in 1000 message round trips");
}

#[test]
fn the_counter_counts() {
    // Guard against a counter that never moves: a Vec must register.
    let ((), allocations) = edge_alloc_count::count(Scope::ThisThread, || {
        let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
        drop(std::hint::black_box(v));
    });
    assert!(allocations > 0);
}
