//! The codec allocates nothing per message: parse, every getter, integrity checks, encoding
//! with integrity and fingerprint, ChannelData and stream framing, counted by a global
//! allocator that tallies this thread's allocations. Its own test binary, so no other test
//! shares the allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;

use edge_stun::{
    long_term_key, next_frame, AttrType, Attribute, ChannelData, Class, IntegrityKey, Message,
    MessageEncoder, Method, TransactionId, Transport,
};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counter is a const-initialised thread-local `Cell`, which needs
// no allocation and cannot re-enter the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `realloc` is passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn the_codec_allocates_nothing_per_message() {
    // Per-credential setup, done once (allowed to allocate, though it does not either).
    let key = IntegrityKey::new(&long_term_key("alice", "example.org", "secret"));
    let peer: SocketAddr = "[2001:db8::7]:50000".parse().unwrap();
    let mapped: SocketAddr = "192.0.2.77:40000".parse().unwrap();
    let mut buf = [0u8; 1500];
    let mut reply = [0u8; 1500];
    let mut unknown = [AttrType(0); 8];

    let before = allocations();
    let mut checksum = 0usize;
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
    let after = allocations();
    assert!(checksum > 0);
    assert_eq!(after - before, 0, "allocations in 1000 message round trips");
}

#[test]
fn the_counter_counts() {
    // Guard against a counter that never moves: a Vec must register.
    let before = allocations();
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    drop(std::hint::black_box(v));
    assert!(allocations() > before);
}
