//! edge-stun against the webrtc-rs `stun` crate (0.17), side by side in one run: decode and
//! encode of a TURN Allocate request with long-term MESSAGE-INTEGRITY and FINGERPRINT, an ICE
//! Binding request (short-term integrity), and a ChannelData frame.
//!
//! Decoding does the same work on both sides: parse, read the attributes a TURN server (or
//! ICE-lite responder) reads, check MESSAGE-INTEGRITY with a key derived once, and check
//! FINGERPRINT. Encoding writes the same attributes, integrity and fingerprint. The webrtc-rs
//! side reuses its `Message` and prebuilt setters across iterations, its fastest usage.
//!
//!     cargo bench --bench stun_codec

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use edge_stun::{
    long_term_key, Attribute, ChannelData, Class, IntegrityKey, Message, MessageEncoder, Method,
    TransactionId, Transport,
};
use stun::attributes::{
    ATTR_ICE_CONTROLLING, ATTR_NONCE, ATTR_PRIORITY, ATTR_REALM, ATTR_USERNAME,
};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{
    Getter, Message as TheirMessage, MessageType, Setter, CLASS_REQUEST, METHOD_ALLOCATE,
    METHOD_BINDING,
};
use stun::textattrs::TextAttribute;
use turn::proto::chandata::ChannelData as TheirChannelData;
use turn::proto::channum::ChannelNumber;
use turn::proto::lifetime::Lifetime;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

const USER: &str = "1700000000:alice";
const REALM: &str = "media-edge.example";
const PASS: &str = "c2VjcmV0LXBhc3N3b3JkLWZyb20tcmVzdA==";
const NONCE: &str = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
const ICE_USER: &str = "aB3d:Xy9z";
const ICE_PASS: &str = "q1w2e3r4t5y6u7i8o9p0asdf";
const TID: [u8; 12] = *b"bench-tid-01";

/// The setters webrtc-rs needs for the Allocate request, built once.
fn their_allocate_setters() -> Vec<Box<dyn Setter>> {
    vec![
        Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        Box::new(stun::agent::TransactionId(TID)),
        Box::new(RequestedTransport {
            protocol: PROTO_UDP,
        }),
        Box::new(Lifetime(Duration::from_secs(600))),
        Box::new(TextAttribute::new(ATTR_USERNAME, USER.to_owned())),
        Box::new(TextAttribute::new(ATTR_REALM, REALM.to_owned())),
        Box::new(TextAttribute::new(ATTR_NONCE, NONCE.to_owned())),
        Box::new(MessageIntegrity::new_long_term_integrity(
            USER.to_owned(),
            REALM.to_owned(),
            PASS.to_owned(),
        )),
        Box::new(FINGERPRINT),
    ]
}

/// The Allocate request with edge-stun.
fn our_allocate(buf: &mut [u8], key: &IntegrityKey) -> usize {
    let mut enc = MessageEncoder::new(buf, Class::Request, Method::ALLOCATE, TransactionId(TID))
        .expect("header fits");
    enc.attribute(&Attribute::RequestedTransport(17))
        .and_then(|e| e.attribute(&Attribute::Lifetime(600)))
        .and_then(|e| e.attribute(&Attribute::Username(USER)))
        .and_then(|e| e.attribute(&Attribute::Realm(REALM)))
        .and_then(|e| e.attribute(&Attribute::Nonce(NONCE)))
        .and_then(|e| e.message_integrity(key))
        .and_then(|e| e.fingerprint())
        .expect("fits");
    enc.finish()
}

/// An ICE connectivity check as browsers send it.
fn their_binding_setters() -> Vec<Box<dyn Setter>> {
    vec![
        Box::new(MessageType::new(METHOD_BINDING, CLASS_REQUEST)),
        Box::new(stun::agent::TransactionId(TID)),
        Box::new(TextAttribute::new(ATTR_USERNAME, ICE_USER.to_owned())),
        Box::new(stun::attributes::RawAttribute {
            typ: ATTR_PRIORITY,
            length: 4,
            value: 0x6e00_01ffu32.to_be_bytes().to_vec(),
        }),
        Box::new(stun::attributes::RawAttribute {
            typ: ATTR_ICE_CONTROLLING,
            length: 8,
            value: 0x0123_4567_89ab_cdefu64.to_be_bytes().to_vec(),
        }),
        Box::new(MessageIntegrity::new_short_term_integrity(
            ICE_PASS.to_owned(),
        )),
        Box::new(FINGERPRINT),
    ]
}

fn our_binding(buf: &mut [u8], key: &IntegrityKey) -> usize {
    let mut enc = MessageEncoder::new(buf, Class::Request, Method::BINDING, TransactionId(TID))
        .expect("header fits");
    enc.attribute(&Attribute::Username(ICE_USER))
        .and_then(|e| e.attribute(&Attribute::Priority(0x6e00_01ff)))
        .and_then(|e| e.attribute(&Attribute::IceControlling(0x0123_4567_89ab_cdef)))
        .and_then(|e| e.message_integrity(key))
        .and_then(|e| e.fingerprint())
        .expect("fits");
    enc.finish()
}

fn decode(c: &mut Criterion) {
    let lt_key = IntegrityKey::new(&long_term_key(USER, REALM, PASS));
    let their_lt = MessageIntegrity::new_long_term_integrity(
        USER.to_owned(),
        REALM.to_owned(),
        PASS.to_owned(),
    );
    let ice_key = IntegrityKey::new(ICE_PASS.as_bytes());
    let their_ice = MessageIntegrity::new_short_term_integrity(ICE_PASS.to_owned());

    // The wire bytes come from webrtc-rs, so both decoders read the same, foreign input.
    let mut m = TheirMessage::new();
    m.build(&their_allocate_setters()).expect("builds");
    let allocate = m.raw.clone();
    m.build(&their_binding_setters()).expect("builds");
    let binding = m.raw.clone();

    let mut group = c.benchmark_group("stun_decode/allocate_request_integrity");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edge-stun", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(&allocate)).expect("valid");
            let user = msg.username().expect("valid").expect("present");
            let realm = msg.realm().expect("valid").expect("present");
            let nonce = msg.nonce().expect("valid").expect("present");
            let transport = msg.requested_transport().expect("valid");
            let lifetime = msg.lifetime().expect("valid");
            msg.verify_integrity(&lt_key).expect("verifies");
            black_box((user, realm, nonce, transport, lifetime));
        })
    });
    let mut m = TheirMessage::new();
    group.bench_function("webrtc-rs stun", |b| {
        b.iter(|| {
            m.raw.clear();
            m.raw.extend_from_slice(black_box(&allocate));
            m.decode().expect("valid");
            let user = TextAttribute::get_from_as(&m, ATTR_USERNAME).expect("present");
            let realm = TextAttribute::get_from_as(&m, ATTR_REALM).expect("present");
            let nonce = TextAttribute::get_from_as(&m, ATTR_NONCE).expect("present");
            let mut transport = RequestedTransport::default();
            transport.get_from(&m).expect("present");
            let mut lifetime = Lifetime::default();
            lifetime.get_from(&m).expect("present");
            FINGERPRINT.check(&m).expect("verifies");
            their_lt.check(&mut m).expect("verifies");
            black_box((user, realm, nonce, transport, lifetime));
        })
    });
    group.finish();

    let mut group = c.benchmark_group("stun_decode/binding_request_ice");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edge-stun", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(&binding)).expect("valid");
            let user = msg.username().expect("valid").expect("present");
            let priority = msg.priority().expect("valid");
            let controlling = msg.ice_controlling().expect("valid");
            msg.verify_integrity(&ice_key).expect("verifies");
            black_box((user, priority, controlling));
        })
    });
    let mut m = TheirMessage::new();
    group.bench_function("webrtc-rs stun", |b| {
        b.iter(|| {
            m.raw.clear();
            m.raw.extend_from_slice(black_box(&binding));
            m.decode().expect("valid");
            let user = TextAttribute::get_from_as(&m, ATTR_USERNAME).expect("present");
            let priority = m.get(ATTR_PRIORITY).expect("present");
            let controlling = m.get(ATTR_ICE_CONTROLLING).expect("present");
            FINGERPRINT.check(&m).expect("verifies");
            their_ice.check(&mut m).expect("verifies");
            black_box((user, priority, controlling));
        })
    });
    group.finish();

    let payload = [0x80u8; 172];
    let mut cd = TheirChannelData {
        data: payload.to_vec(),
        number: ChannelNumber(0x4001),
        raw: Vec::new(),
    };
    cd.encode();
    let frame = cd.raw.clone();
    let mut group = c.benchmark_group("stun_decode/channel_data_172");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edge-stun", |b| {
        b.iter(|| {
            let cd = ChannelData::parse(black_box(&frame)).expect("valid");
            black_box((cd.number(), cd.payload()));
        })
    });
    // webrtc-rs decodes from the frame it owns (`raw`): that is set once, outside the timed
    // loop, so both rows time a parse of the same bytes and nothing else. Its decode copies
    // the payload into a new `data` vector each time: that allocation is its API's, not the
    // harness's.
    let mut theirs = TheirChannelData {
        raw: frame.clone(),
        ..TheirChannelData::default()
    };
    group.bench_function("webrtc-rs stun", |b| {
        b.iter(|| {
            black_box(&mut theirs.raw);
            theirs.decode().expect("valid");
            black_box((theirs.number, &theirs.data));
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let lt_key = IntegrityKey::new(&long_term_key(USER, REALM, PASS));
    let ice_key = IntegrityKey::new(ICE_PASS.as_bytes());
    let mut buf = [0u8; 1500];

    // Same bytes out of both encoders (zero padding, same order): checked before timing.
    let mut m = TheirMessage::new();
    let allocate_setters = their_allocate_setters();
    m.build(&allocate_setters).expect("builds");
    let n = our_allocate(&mut buf, &lt_key);
    assert_eq!(&buf[..n], &m.raw[..], "the two Allocate encodings differ");
    let binding_setters = their_binding_setters();
    m.build(&binding_setters).expect("builds");
    let n = our_binding(&mut buf, &ice_key);
    assert_eq!(&buf[..n], &m.raw[..], "the two Binding encodings differ");

    let mut group = c.benchmark_group("stun_encode/allocate_request_integrity");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edge-stun", |b| {
        b.iter(|| black_box(our_allocate(black_box(&mut buf), &lt_key)))
    });
    group.bench_function("webrtc-rs stun", |b| {
        b.iter(|| {
            m.build(black_box(&allocate_setters)).expect("builds");
            black_box(m.raw.len())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("stun_encode/binding_request_ice");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edge-stun", |b| {
        b.iter(|| black_box(our_binding(black_box(&mut buf), &ice_key)))
    });
    group.bench_function("webrtc-rs stun", |b| {
        b.iter(|| {
            m.build(black_box(&binding_setters)).expect("builds");
            black_box(m.raw.len())
        })
    });
    group.finish();

    // ChannelData: ours writes the header in front of a payload already in the buffer; the
    // webrtc-rs API copies the payload into its `raw` buffer.
    let mut frame = [0x80u8; 4 + 172];
    let mut theirs = TheirChannelData {
        data: vec![0x80; 172],
        number: ChannelNumber(0x4001),
        raw: Vec::with_capacity(256),
    };
    let mut group = c.benchmark_group("stun_encode/channel_data_172");
    group.throughput(Throughput::Elements(1));
    group.bench_function("edge-stun", |b| {
        b.iter(|| {
            let n = ChannelData::encode_in_place(
                black_box(&mut frame),
                0x4001,
                172,
                Transport::Datagram,
            )
            .expect("fits");
            black_box(n)
        })
    });
    group.bench_function("webrtc-rs stun", |b| {
        b.iter(|| {
            theirs.encode();
            black_box(theirs.raw.len())
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
