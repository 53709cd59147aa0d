//! Interop with an implementation nobody here wrote: the webrtc-rs `stun` and `turn` (0.17)
//! crates. Messages they encode parse and verify here; messages encoded here parse, verify
//! (MESSAGE-INTEGRITY, FINGERPRINT) and read back with their getters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use edge_stun::{
    long_term_key, AttrType, Attribute, ChannelData, Class, ErrorCode, IntegrityKey, Message,
    MessageEncoder, Method, TransactionId, Transport, UnknownAttributes, HEADER_LEN,
};
use stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_SOFTWARE, ATTR_USERNAME};
use stun::error_code::{ErrorCode as TheirCode, ErrorCodeAttribute};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{
    Getter, Message as TheirMessage, MessageClass, MessageType, Setter, CLASS_ERROR_RESPONSE,
    CLASS_INDICATION, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE, METHOD_CHANNEL_BIND,
    METHOD_CREATE_PERMISSION, METHOD_DATA, METHOD_SEND,
};
use stun::textattrs::TextAttribute;
use stun::uattrs::UnknownAttributes as TheirUnknown;
use stun::xoraddr::XorMappedAddress;
use turn::proto::chandata::ChannelData as TheirChannelData;
use turn::proto::channum::ChannelNumber;
use turn::proto::data::Data;
use turn::proto::dontfrag::DontFragmentAttr;
use turn::proto::evenport::EvenPort;
use turn::proto::lifetime::Lifetime;
use turn::proto::peeraddr::PeerAddress;
use turn::proto::relayaddr::RelayedAddress;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

const USER: &str = "alice";
const REALM: &str = "media-edge.test";
const PASS: &str = "wonderland";
const TID: [u8; 12] = *b"interop-tid!";

fn peer4() -> SocketAddr {
    "203.0.113.5:40000".parse().unwrap()
}

fn peer6() -> SocketAddr {
    "[2001:db8:85a3::8a2e:370:7334]:40001".parse().unwrap()
}

/// Builds a message with webrtc-rs and returns its bytes.
fn theirs(
    method: stun::message::Method,
    class: MessageClass,
    setters: Vec<Box<dyn Setter>>,
) -> Vec<u8> {
    let mut all: Vec<Box<dyn Setter>> = vec![
        Box::new(MessageType::new(method, class)),
        Box::new(stun::agent::TransactionId(TID)),
    ];
    all.extend(setters);
    let mut m = TheirMessage::new();
    m.build(&all).unwrap();
    m.raw.clone()
}

/// Decodes bytes with webrtc-rs.
fn decode_theirs(bytes: &[u8]) -> TheirMessage {
    let mut m = TheirMessage::new();
    m.raw = bytes.to_vec();
    m.decode().unwrap();
    m
}

fn their_text(t: stun::attributes::AttrType, s: &str) -> Box<dyn Setter> {
    Box::new(TextAttribute::new(t, s.to_owned()))
}

fn their_integrity() -> MessageIntegrity {
    MessageIntegrity::new_long_term_integrity(USER.into(), REALM.into(), PASS.into())
}

fn our_key() -> IntegrityKey {
    IntegrityKey::new(&long_term_key(USER, REALM, PASS))
}

#[test]
fn their_allocate_request_parses_and_verifies_here() {
    let bytes = theirs(
        METHOD_ALLOCATE,
        CLASS_REQUEST,
        vec![
            Box::new(RequestedTransport {
                protocol: PROTO_UDP,
            }),
            Box::new(Lifetime(Duration::from_secs(1200))),
            Box::new(DontFragmentAttr),
            Box::new(EvenPort::default()), // its R bit cannot be set from outside
            their_text(ATTR_USERNAME, USER),
            their_text(ATTR_REALM, REALM),
            their_text(ATTR_NONCE, "nonce-1234"),
            Box::new(their_integrity()),
            Box::new(FINGERPRINT),
        ],
    );
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(
        (msg.class(), msg.method()),
        (Class::Request, Method::ALLOCATE)
    );
    assert_eq!(msg.transaction_id(), TransactionId(TID));
    assert_eq!(msg.requested_transport().unwrap(), Some(17));
    assert_eq!(msg.lifetime().unwrap(), Some(1200));
    assert!(msg.dont_fragment().unwrap());
    assert_eq!(msg.even_port().unwrap(), Some(false));
    assert_eq!(msg.username().unwrap(), Some(USER));
    assert_eq!(msg.realm().unwrap(), Some(REALM));
    assert_eq!(msg.nonce().unwrap(), Some("nonce-1234"));
    assert!(msg.has_fingerprint());
    msg.verify_integrity(&our_key()).unwrap();
    assert!(msg
        .verify_integrity(&IntegrityKey::new(&long_term_key(USER, REALM, "wrong")))
        .is_err());
}

#[test]
fn their_permission_channel_and_send_parse_here() {
    let bytes = theirs(
        METHOD_CREATE_PERMISSION,
        CLASS_REQUEST,
        vec![
            Box::new(PeerAddress {
                ip: peer4().ip(),
                port: peer4().port(),
            }),
            Box::new(PeerAddress {
                ip: peer6().ip(),
                port: peer6().port(),
            }),
            their_text(ATTR_USERNAME, USER),
            Box::new(their_integrity()),
        ],
    );
    let msg = Message::parse(&bytes).unwrap();
    let peers: Vec<_> = msg.xor_peer_addresses().map(Result::unwrap).collect();
    assert_eq!(peers, vec![peer4(), peer6()]);
    msg.verify_integrity(&our_key()).unwrap();

    let bytes = theirs(
        METHOD_CHANNEL_BIND,
        CLASS_REQUEST,
        vec![
            Box::new(ChannelNumber(0x4321)),
            Box::new(PeerAddress {
                ip: peer6().ip(),
                port: peer6().port(),
            }),
            Box::new(their_integrity()),
            Box::new(FINGERPRINT),
        ],
    );
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.method(), Method::CHANNEL_BIND);
    assert_eq!(msg.channel_number().unwrap(), Some(0x4321));
    assert_eq!(msg.xor_peer_address().unwrap(), Some(peer6()));
    msg.verify_integrity(&our_key()).unwrap();

    let payload: Vec<u8> = (0..=200).collect();
    let bytes = theirs(
        METHOD_SEND,
        CLASS_INDICATION,
        vec![
            Box::new(PeerAddress {
                ip: peer4().ip(),
                port: peer4().port(),
            }),
            Box::new(Data(payload.clone())),
        ],
    );
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(
        (msg.class(), msg.method()),
        (Class::Indication, Method::SEND)
    );
    assert_eq!(msg.xor_peer_address().unwrap(), Some(peer4()));
    assert_eq!(msg.data().unwrap(), Some(&payload[..]));
}

#[test]
fn their_error_response_parses_here() {
    let bytes = theirs(
        METHOD_ALLOCATE,
        CLASS_ERROR_RESPONSE,
        vec![
            Box::new(ErrorCodeAttribute {
                code: TheirCode(420),
                reason: b"Unknown Attribute".to_vec(),
            }),
            Box::new(TheirUnknown(vec![
                stun::attributes::AttrType(0x0031),
                stun::attributes::AttrType(0x0003),
            ])),
            their_text(ATTR_SOFTWARE, "webrtc-rs"),
            Box::new(FINGERPRINT),
        ],
    );
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(
        msg.error_code().unwrap(),
        Some(ErrorCode::new(420, "Unknown Attribute"))
    );
    let unknown: Vec<_> = msg.unknown_attributes().unwrap().unwrap().iter().collect();
    assert_eq!(unknown, [AttrType(0x0031), AttrType(0x0003)]);
    assert_eq!(msg.software().unwrap(), Some("webrtc-rs"));
}

#[test]
fn our_allocate_success_parses_and_verifies_there() {
    for relayed in [peer4(), peer6()] {
        let mapped: SocketAddr = "198.51.100.20:61000".parse().unwrap();
        let mut buf = [0u8; 512];
        let mut enc = MessageEncoder::new(
            &mut buf,
            Class::Success,
            Method::ALLOCATE,
            TransactionId(TID),
        )
        .unwrap();
        enc.attribute(&Attribute::XorRelayedAddress(relayed))
            .unwrap()
            .attribute(&Attribute::XorMappedAddress(mapped))
            .unwrap()
            .attribute(&Attribute::Lifetime(600))
            .unwrap()
            .attribute(&Attribute::Software("media-edge"))
            .unwrap()
            .message_integrity(&our_key())
            .unwrap()
            .fingerprint()
            .unwrap();
        let len = enc.finish();

        let mut m = decode_theirs(&buf[..len]);
        assert_eq!(
            m.typ,
            MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE)
        );
        assert_eq!(m.transaction_id.0, TID);
        let mut r = RelayedAddress::default();
        r.get_from(&m).unwrap();
        assert_eq!(SocketAddr::new(r.ip, r.port), relayed);
        let mut x = XorMappedAddress::default();
        x.get_from(&m).unwrap();
        assert_eq!(SocketAddr::new(x.ip, x.port), mapped);
        let mut l = Lifetime::default();
        l.get_from(&m).unwrap();
        assert_eq!(l.0, Duration::from_secs(600));
        let software = TextAttribute::get_from_as(&m, ATTR_SOFTWARE).unwrap();
        assert_eq!(software.text, "media-edge");
        FINGERPRINT.check(&m).unwrap();
        their_integrity().check(&mut m).unwrap();
    }
}

#[test]
fn our_error_and_data_indication_parse_there() {
    let mut buf = [0u8; 512];
    let mut enc =
        MessageEncoder::new(&mut buf, Class::Error, Method::ALLOCATE, TransactionId(TID)).unwrap();
    let unknown = [AttrType(0x0031)];
    enc.attribute(&Attribute::ErrorCode(ErrorCode::new(
        ErrorCode::UNAUTHORIZED,
        ErrorCode::default_reason(ErrorCode::UNAUTHORIZED),
    )))
    .unwrap()
    .attribute(&Attribute::UnknownAttributes(UnknownAttributes::new(
        &unknown,
    )))
    .unwrap()
    .attribute(&Attribute::Realm(REALM))
    .unwrap()
    .attribute(&Attribute::Nonce("n0nce"))
    .unwrap()
    .fingerprint()
    .unwrap();
    let len = enc.finish();
    let m = decode_theirs(&buf[..len]);
    let mut e = ErrorCodeAttribute::default();
    e.get_from(&m).unwrap();
    assert_eq!(e.code.0, 401);
    assert_eq!(e.reason, b"Unauthorized");
    let mut u = TheirUnknown(Vec::new());
    u.get_from(&m).unwrap();
    assert_eq!(u.0, vec![stun::attributes::AttrType(0x0031)]);
    assert_eq!(
        TextAttribute::get_from_as(&m, ATTR_REALM).unwrap().text,
        REALM
    );
    FINGERPRINT.check(&m).unwrap();

    // A Data indication built around a payload already in the buffer.
    let payload = b"relayed from a peer";
    let peer = peer6();
    let at = HEADER_LEN + Attribute::XorPeerAddress(peer).encoded_len().unwrap() + 4;
    buf[at..at + payload.len()].copy_from_slice(payload);
    let mut enc = MessageEncoder::new(
        &mut buf,
        Class::Indication,
        Method::DATA,
        TransactionId(TID),
    )
    .unwrap();
    enc.attribute(&Attribute::XorPeerAddress(peer))
        .unwrap()
        .data_in_place(payload.len())
        .unwrap();
    let len = enc.finish();
    let m = decode_theirs(&buf[..len]);
    assert_eq!(m.typ, MessageType::new(METHOD_DATA, CLASS_INDICATION));
    let mut p = PeerAddress::default();
    p.get_from(&m).unwrap();
    assert_eq!((p.ip, p.port), (peer.ip(), peer.port()));
    let mut d = Data::default();
    d.get_from(&m).unwrap();
    assert_eq!(d.0, payload);
}

#[test]
fn channel_data_both_ways() {
    // Theirs (always padded) -> ours.
    for len in [0usize, 1, 3, 4, 5, 160, 1199] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut cd = TheirChannelData {
            data: payload.clone(),
            number: ChannelNumber(0x4001),
            raw: Vec::new(),
        };
        cd.encode();
        let ours = ChannelData::parse(&cd.raw).unwrap();
        assert_eq!((ours.number(), ours.payload()), (0x4001, &payload[..]));

        // Ours (both framings) -> theirs.
        for transport in [Transport::Datagram, Transport::Stream] {
            let mut buf = vec![0u8; len + 8];
            buf[4..4 + len].copy_from_slice(&payload);
            let n = ChannelData::encode_in_place(&mut buf, 0x4ffe, len, transport).unwrap();
            let mut theirs = TheirChannelData {
                raw: buf[..n].to_vec(),
                ..Default::default()
            };
            theirs.decode().unwrap();
            assert_eq!(theirs.number, ChannelNumber(0x4ffe));
            assert_eq!(theirs.data, payload);
        }
    }
}

#[test]
fn xor_addresses_agree_for_many_addresses() {
    // Same address, same transaction ID: both implementations must produce the same bytes.
    for i in 0..64u16 {
        let ip: IpAddr = if i % 2 == 0 {
            IpAddr::from([10, (i >> 8) as u8, i as u8, 1])
        } else {
            IpAddr::from([0x2001, 0xdb8, i, 0, 0, 0, 0xffff, i])
        };
        let addr = SocketAddr::new(ip, 1000 + i * 917);
        let bytes = theirs(
            METHOD_ALLOCATE,
            CLASS_SUCCESS_RESPONSE,
            vec![Box::new(XorMappedAddress {
                ip: addr.ip(),
                port: addr.port(),
            })],
        );
        let mut buf = [0u8; 64];
        let mut enc = MessageEncoder::new(
            &mut buf,
            Class::Success,
            Method::ALLOCATE,
            TransactionId(TID),
        )
        .unwrap();
        enc.attribute(&Attribute::XorMappedAddress(addr)).unwrap();
        let len = enc.finish();
        assert_eq!(&buf[..len], &bytes[..], "{addr}");
    }
}
