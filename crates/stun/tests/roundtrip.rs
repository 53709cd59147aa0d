//! Encode-then-parse round trips for every attribute (IPv4 and IPv6), integrity in both
//! flavours, the RFC 8489 rules on attribute order and duplicates, and encoder errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use edge_stun::{
    AddressErrorCode, AddressFamily, AttrType, Attribute, Class, Error, ErrorCode, Icmp,
    IntegrityKey, Message, MessageEncoder, Method, PasswordAlgorithm, PasswordAlgorithms,
    TransactionId, UnknownAttributes, HEADER_LEN,
};

const TID: TransactionId = TransactionId([0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xa5]);

fn v4() -> SocketAddr {
    "198.51.100.7:49152".parse().unwrap()
}

fn v6() -> SocketAddr {
    "[2001:db8::1:ffff:0:42]:3478".parse().unwrap()
}

const ALGORITHMS: [PasswordAlgorithm<'static>; 3] = [
    PasswordAlgorithm::SHA256,
    PasswordAlgorithm::MD5,
    PasswordAlgorithm {
        algorithm: 0x7777,
        params: b"xyz",
    },
];
const UNKNOWN: [AttrType; 3] = [AttrType(0x0031), AttrType(0x7fff), AttrType(0x0002)];
const USERHASH: [u8; 32] = [0xab; 32];

/// One value of every attribute the crate knows, with both address families where an
/// address is involved, and an unknown type.
fn every_attribute() -> Vec<Attribute<'static>> {
    let mut all = Vec::new();
    for addr in [v4(), v6()] {
        all.extend([
            Attribute::MappedAddress(addr),
            Attribute::XorMappedAddress(addr),
            Attribute::XorPeerAddress(addr),
            Attribute::XorRelayedAddress(addr),
            Attribute::AlternateServer(addr),
        ]);
    }
    all.extend([
        Attribute::Username("alice:1700000000"),
        Attribute::Userhash(&USERHASH),
        Attribute::Realm("example.org"),
        Attribute::Nonce("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"),
        Attribute::Software("media-edge ñ 0.1"),
        Attribute::PasswordAlgorithm(PasswordAlgorithm::SHA256),
        Attribute::PasswordAlgorithm(ALGORITHMS[2]),
        Attribute::PasswordAlgorithms(PasswordAlgorithms::new(&ALGORITHMS)),
        Attribute::ErrorCode(ErrorCode::new(401, "Unauthorized")),
        Attribute::ErrorCode(ErrorCode::new(699, "")),
        Attribute::UnknownAttributes(UnknownAttributes::new(&UNKNOWN)),
        Attribute::UnknownAttributes(UnknownAttributes::new(&UNKNOWN[..2])),
        Attribute::Lifetime(600),
        Attribute::ChannelNumber(0x4000),
        Attribute::ChannelNumber(0x4FFF),
        Attribute::ChannelNumber(0x7FFF),
        Attribute::Data(b""),
        Attribute::Data(b"\x80\x00 seven"),
        Attribute::RequestedTransport(17),
        Attribute::RequestedAddressFamily(AddressFamily::V4),
        Attribute::RequestedAddressFamily(AddressFamily::V6),
        Attribute::AdditionalAddressFamily(AddressFamily::V6),
        Attribute::AddressErrorCode(AddressErrorCode {
            family: AddressFamily::V6,
            code: 440,
            reason: "Address Family not Supported",
        }),
        Attribute::EvenPort(true),
        Attribute::EvenPort(false),
        Attribute::ReservationToken(*b"token-08"),
        Attribute::DontFragment,
        Attribute::Icmp(Icmp {
            typ: 3,
            code: 4,
            data: 1400,
        }),
        Attribute::Priority(0x6e0001ff),
        Attribute::UseCandidate,
        Attribute::IceControlled(u64::MAX),
        Attribute::IceControlling(0x0123_4567_89ab_cdef),
        Attribute::ConnectionId(0xdead_beef),
        Attribute::Other {
            typ: AttrType(0xC001),
            value: b"opaque",
        },
    ]);
    all
}

/// The typed getter's view of the first attribute of `attr`'s type, as an `Attribute`.
fn via_getter<'a>(msg: &Message<'a>, attr: &Attribute<'_>) -> Option<Attribute<'a>> {
    use Attribute as A;
    Some(match attr {
        A::MappedAddress(_) => A::MappedAddress(msg.mapped_address().unwrap()?),
        A::XorMappedAddress(_) => A::XorMappedAddress(msg.xor_mapped_address().unwrap()?),
        A::XorPeerAddress(_) => A::XorPeerAddress(msg.xor_peer_address().unwrap()?),
        A::XorRelayedAddress(_) => A::XorRelayedAddress(msg.xor_relayed_address().unwrap()?),
        A::AlternateServer(_) => A::AlternateServer(msg.alternate_server().unwrap()?),
        A::Username(_) => A::Username(msg.username().unwrap()?),
        A::Userhash(_) => A::Userhash(msg.userhash().unwrap()?),
        A::Realm(_) => A::Realm(msg.realm().unwrap()?),
        A::Nonce(_) => A::Nonce(msg.nonce().unwrap()?),
        A::Software(_) => A::Software(msg.software().unwrap()?),
        A::PasswordAlgorithm(_) => A::PasswordAlgorithm(msg.password_algorithm().unwrap()?),
        A::PasswordAlgorithms(_) => A::PasswordAlgorithms(msg.password_algorithms().unwrap()?),
        A::ErrorCode(_) => A::ErrorCode(msg.error_code().unwrap()?),
        A::UnknownAttributes(_) => A::UnknownAttributes(msg.unknown_attributes().unwrap()?),
        A::Lifetime(_) => A::Lifetime(msg.lifetime().unwrap()?),
        A::ChannelNumber(_) => A::ChannelNumber(msg.channel_number().unwrap()?),
        A::Data(_) => A::Data(msg.data().unwrap()?),
        A::RequestedTransport(_) => A::RequestedTransport(msg.requested_transport().unwrap()?),
        A::RequestedAddressFamily(_) => {
            A::RequestedAddressFamily(msg.requested_address_family().unwrap()?)
        }
        A::AdditionalAddressFamily(_) => {
            A::AdditionalAddressFamily(msg.additional_address_family().unwrap()?)
        }
        A::AddressErrorCode(_) => A::AddressErrorCode(msg.address_error_code().unwrap()?),
        A::EvenPort(_) => A::EvenPort(msg.even_port().unwrap()?),
        A::ReservationToken(_) => A::ReservationToken(msg.reservation_token().unwrap()?),
        A::DontFragment => msg.dont_fragment().unwrap().then_some(A::DontFragment)?,
        A::Icmp(_) => A::Icmp(msg.icmp().unwrap()?),
        A::Priority(_) => A::Priority(msg.priority().unwrap()?),
        A::UseCandidate => msg.use_candidate().unwrap().then_some(A::UseCandidate)?,
        A::IceControlled(_) => A::IceControlled(msg.ice_controlled().unwrap()?),
        A::IceControlling(_) => A::IceControlling(msg.ice_controlling().unwrap()?),
        A::ConnectionId(_) => A::ConnectionId(msg.connection_id().unwrap()?),
        A::Other { typ, .. } => A::Other {
            typ: *typ,
            value: msg.get(*typ)?,
        },
        other => panic!("no getter mapped for {other:?}"),
    })
}

#[test]
fn every_attribute_round_trips_alone_with_integrity_and_fingerprint() {
    let key = IntegrityKey::new(b"short-term password");
    for attr in every_attribute() {
        let mut buf = [0u8; 512];
        let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::ALLOCATE, TID).unwrap();
        enc.attribute(&attr).unwrap();
        assert_eq!(
            enc.len(),
            HEADER_LEN + attr.encoded_len().unwrap(),
            "{attr:?}"
        );
        enc.message_integrity(&key).unwrap().fingerprint().unwrap();
        let len = enc.finish();

        let msg = Message::parse(&buf[..len]).unwrap();
        assert_eq!(
            (msg.class(), msg.method()),
            (Class::Request, Method::ALLOCATE)
        );
        assert_eq!(msg.transaction_id(), TID);
        msg.verify_integrity(&key).unwrap();
        let attrs: Vec<_> = msg.attributes().collect();
        assert_eq!(attrs.len(), 1, "{attr:?}");
        let (typ, value) = attrs[0];
        assert_eq!(typ, attr.typ());
        assert_eq!(Attribute::decode(typ, value, &TID).unwrap(), attr);
        assert_eq!(via_getter(&msg, &attr), Some(attr), "getter for {attr:?}");
    }
}

#[test]
fn all_attributes_in_one_message_round_trip_in_order() {
    let all = every_attribute();
    let mut buf = [0u8; 4096];
    let mut enc = MessageEncoder::new(&mut buf, Class::Success, Method::REFRESH, TID).unwrap();
    for attr in &all {
        enc.attribute(attr).unwrap();
    }
    enc.fingerprint().unwrap();
    let len = enc.finish();
    let msg = Message::parse(&buf[..len]).unwrap();
    let decoded: Vec<_> = msg
        .attributes()
        .map(|(t, v)| Attribute::decode(t, v, &TID).unwrap())
        .collect();
    assert_eq!(decoded, all);
    // Getters return the first of each type.
    for attr in &all {
        let first = all.iter().find(|a| a.typ() == attr.typ()).unwrap();
        assert_eq!(via_getter(&msg, attr).as_ref(), Some(first));
    }
    assert_eq!(
        msg.xor_peer_addresses()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
        vec![v4(), v6()]
    );
    assert_eq!(
        msg.xor_relayed_addresses()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
        vec![v4(), v6()]
    );
    let list: Vec<_> = msg.password_algorithms().unwrap().unwrap().iter().collect();
    assert_eq!(list, ALGORITHMS);
    let unknown: Vec<_> = msg.unknown_attributes().unwrap().unwrap().iter().collect();
    assert_eq!(unknown, UNKNOWN);
}

#[test]
fn absent_attributes_are_none() {
    let mut buf = [0u8; 64];
    let len = MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, TID)
        .unwrap()
        .finish();
    let msg = Message::parse(&buf[..len]).unwrap();
    assert_eq!(msg.attributes().count(), 0);
    for attr in every_attribute() {
        assert_eq!(via_getter(&msg, &attr), None, "{attr:?}");
    }
    assert_eq!(msg.xor_peer_addresses().count(), 0);
    assert!(!msg.has_integrity() && !msg.has_integrity_sha256() && !msg.has_fingerprint());
    let key = IntegrityKey::new(b"k");
    assert_eq!(
        msg.verify_integrity(&key),
        Err(Error::NoIntegrity("MESSAGE-INTEGRITY"))
    );
    assert_eq!(
        msg.verify_integrity_sha256(&key),
        Err(Error::NoIntegrity("MESSAGE-INTEGRITY-SHA256"))
    );
}

#[test]
fn xor_addresses_are_obfuscated_on_the_wire() {
    for addr in [v4(), v6()] {
        let mut buf = [0u8; 64];
        let mut enc = MessageEncoder::new(&mut buf, Class::Success, Method::BINDING, TID).unwrap();
        enc.attribute(&Attribute::XorMappedAddress(addr)).unwrap();
        let len = enc.finish();
        let value = &buf[HEADER_LEN + 4..len];
        assert_eq!(
            u16::from_be_bytes([value[2], value[3]]),
            addr.port() ^ 0x2112
        );
        let plain = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
            std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        assert_ne!(&value[4..], &plain[..]);
        // The same address under a different transaction ID encodes differently for IPv6.
        let mut other = [0u8; 64];
        let mut enc = MessageEncoder::new(
            &mut other,
            Class::Success,
            Method::BINDING,
            TransactionId([9; 12]),
        )
        .unwrap();
        enc.attribute(&Attribute::XorMappedAddress(addr)).unwrap();
        assert_eq!(
            addr.is_ipv6(),
            other[HEADER_LEN + 8..len] != buf[HEADER_LEN + 8..len]
        );
    }
}

#[test]
fn integrity_sha256_alone_and_after_sha1() {
    let key = IntegrityKey::new(&edge_stun::long_term_key_sha256("u", "r", "p"));
    let wrong = IntegrityKey::new(b"wrong");
    for with_sha1 in [false, true] {
        let mut buf = [0u8; 256];
        let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::REFRESH, TID).unwrap();
        enc.attribute(&Attribute::Username("u")).unwrap();
        if with_sha1 {
            enc.message_integrity(&key).unwrap();
        }
        enc.message_integrity_sha256(&key)
            .unwrap()
            .fingerprint()
            .unwrap();
        let len = enc.finish();
        let msg = Message::parse(&buf[..len]).unwrap();
        assert_eq!(msg.has_integrity(), with_sha1);
        msg.verify_integrity_sha256(&key).unwrap();
        assert_eq!(
            msg.verify_integrity_sha256(&wrong),
            Err(Error::IntegrityMismatch("MESSAGE-INTEGRITY-SHA256"))
        );
        if with_sha1 {
            msg.verify_integrity(&key).unwrap();
        }
        assert_eq!(msg.attributes().count(), 1);
    }
}

#[test]
fn truncated_integrity_sha256_verifies_and_tampering_fails() {
    // RFC 8489 section 14.6 allows truncation to 16..32 bytes in steps of 4: build the full
    // tag, cut it to 16 bytes and rewrite the lengths (the HMAC covers the header length
    // field, so recompute it the way a truncating sender would).
    let key = IntegrityKey::new(b"pw");
    let mut full = [0u8; 128];
    let mut enc = MessageEncoder::new(&mut full, Class::Request, Method::BINDING, TID).unwrap();
    enc.attribute(&Attribute::Username("bob")).unwrap();
    let prefix = enc.len();
    enc.message_integrity_sha256(&key).unwrap();
    // Encode the same message with a 16-byte tag by hand: header length covers 4 + 16.
    let mut short = full[..prefix + 4 + 16].to_vec();
    let body = (short.len() - HEADER_LEN) as u16;
    short[2..4].copy_from_slice(&body.to_be_bytes());
    short[prefix + 2..prefix + 4].copy_from_slice(&16u16.to_be_bytes());
    // Compute the HMAC-SHA256 the sender would have: over the prefix with this length.
    use hmac::{Mac, SimpleHmac};
    let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(b"pw").unwrap();
    mac.update(&short[..prefix]);
    let tag = mac.finalize().into_bytes();
    short[prefix + 4..].copy_from_slice(&tag[..16]);
    let msg = Message::parse(&short).unwrap();
    msg.verify_integrity_sha256(&key).unwrap();
    short[prefix + 4] ^= 1;
    assert_eq!(
        Message::parse(&short)
            .unwrap()
            .verify_integrity_sha256(&key),
        Err(Error::IntegrityMismatch("MESSAGE-INTEGRITY-SHA256"))
    );
}

#[test]
fn every_byte_flip_breaks_integrity_or_parsing() {
    let key = IntegrityKey::new(b"secret");
    let mut buf = [0u8; 256];
    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::ALLOCATE, TID).unwrap();
    enc.attribute(&Attribute::RequestedTransport(17))
        .unwrap()
        .attribute(&Attribute::Username("alice"))
        .unwrap()
        .message_integrity(&key)
        .unwrap();
    let len = enc.finish();
    for at in 0..len {
        let mut bytes = buf[..len].to_vec();
        bytes[at] ^= 0x01;
        let ok = Message::parse(&bytes).is_ok_and(|m| m.verify_integrity(&key).is_ok());
        assert!(!ok, "flip at {at} went unnoticed");
    }
}

#[test]
fn fingerprint_mismatch_is_rejected() {
    let mut buf = [0u8; 64];
    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, TID).unwrap();
    enc.fingerprint().unwrap();
    let len = enc.finish();
    buf[len - 1] ^= 0x80;
    assert_eq!(
        Message::parse(&buf[..len]).unwrap_err(),
        Error::BadFingerprint
    );
}

/// Builds a message from raw TLVs (type, value) with a correct header length.
fn raw_message(attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    out.extend_from_slice(&TID.0);
    for (typ, value) in attrs {
        out.extend_from_slice(&typ.to_be_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    let body = (out.len() - HEADER_LEN) as u16;
    out[2..4].copy_from_slice(&body.to_be_bytes());
    out
}

#[test]
fn duplicates_first_wins() {
    let bytes = raw_message(&[
        (0x0006, b"first"),
        (0x000D, &600u32.to_be_bytes()),
        (0x0006, b"second"),
        (0x000D, &0u32.to_be_bytes()),
    ]);
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.username().unwrap(), Some("first"));
    assert_eq!(msg.lifetime().unwrap(), Some(600));
    assert_eq!(msg.attributes().count(), 4);
    // A malformed duplicate after a good first one does not matter either.
    let bytes = raw_message(&[(0x000D, &60u32.to_be_bytes()), (0x000D, b"x")]);
    assert_eq!(
        Message::parse(&bytes).unwrap().lifetime().unwrap(),
        Some(60)
    );
}

#[test]
fn attributes_after_integrity_are_ignored() {
    // RFC 8489 section 14.5: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
    // FINGERPRINT count. The header length covers everything, so build the tail by hand.
    let key = IntegrityKey::new(b"k");
    let mut buf = [0u8; 256];
    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::ALLOCATE, TID).unwrap();
    enc.attribute(&Attribute::Username("alice"))
        .unwrap()
        .message_integrity(&key)
        .unwrap();
    let len = enc.finish();
    let mut bytes = buf[..len].to_vec();
    // Append USERNAME "mallory", LIFETIME and an unknown comprehension-required type.
    for (typ, value) in [
        (0x0006u16, &b"mallory"[..]),
        (0x000D, &[0, 0, 0, 1][..]),
        (0x0031, &b"?"[..]),
        (0x0008, &[0u8; 3][..]),
    ] {
        bytes.extend_from_slice(&typ.to_be_bytes());
        bytes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        bytes.extend_from_slice(value);
        bytes.resize(bytes.len().next_multiple_of(4), 0);
    }
    let body = (bytes.len() - HEADER_LEN) as u16;
    bytes[2..4].copy_from_slice(&body.to_be_bytes());
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.username().unwrap(), Some("alice"));
    assert_eq!(msg.lifetime().unwrap(), None);
    assert!(!msg.has_unknown_comprehension_required());
    assert_eq!(msg.attributes().count(), 1);
    // The integrity still verifies: it covers exactly the prefix it was computed over.
    msg.verify_integrity(&key).unwrap();
}

#[test]
fn nothing_may_follow_fingerprint() {
    let mut bytes = raw_message(&[(0x8028, &[0; 4]), (0x8022, b"late")]);
    assert_eq!(
        Message::parse(&bytes).unwrap_err(),
        Error::AttributeAfterFingerprint { attr: 0x8022 }
    );
    bytes.truncate(HEADER_LEN + 8);
    bytes[2..4].copy_from_slice(&8u16.to_be_bytes());
    // Now FINGERPRINT is last but its value is wrong.
    assert_eq!(Message::parse(&bytes).unwrap_err(), Error::BadFingerprint);
}

#[test]
fn unknown_comprehension_required_attributes_are_listed() {
    let bytes = raw_message(&[
        (0x0006, b"alice"),
        (0x0031, b"a"),
        (0x8077, b"optional, ignored"),
        (0x0003, b"\0\0\0\0"), // CHANGE-REQUEST (RFC 5780): not known here
        (0x0031, b"again"),
    ]);
    let msg = Message::parse(&bytes).unwrap();
    assert!(msg.has_unknown_comprehension_required());
    let mut out = [AttrType(0); 8];
    assert_eq!(
        msg.unknown_comprehension_required(&mut out),
        &[AttrType(0x0031), AttrType(0x0003), AttrType(0x0031)]
    );
    let mut small = [AttrType(0); 1];
    assert_eq!(
        msg.unknown_comprehension_required(&mut small),
        &[AttrType(0x0031)]
    );
    // Known and optional types alone: nothing to report.
    let msg_bytes = raw_message(&[(0x0006, b"alice"), (0x8077, b"x")]);
    let msg = Message::parse(&msg_bytes).unwrap();
    assert!(!msg.has_unknown_comprehension_required());
    assert!(msg.unknown_comprehension_required(&mut out).is_empty());
}

#[test]
fn malformed_values_are_errors_from_getters() {
    let cases: [(u16, &[u8], Error); 12] = [
        (
            0x0020,
            &[0, 1, 0, 0],
            Error::AttributeLength {
                attr: 0x0020,
                len: 4,
            },
        ),
        (
            0x0020,
            &[0, 3, 0, 0, 1, 2, 3, 4],
            Error::AttributeValue { attr: 0x0020 },
        ),
        (
            0x0020,
            &[0, 2, 0, 0, 1, 2, 3, 4],
            Error::AttributeLength {
                attr: 0x0020,
                len: 8,
            },
        ),
        (0x0006, &[0xff, 0xfe], Error::AttributeUtf8 { attr: 0x0006 }),
        (
            0x000D,
            &[0, 0, 1],
            Error::AttributeLength {
                attr: 0x000D,
                len: 3,
            },
        ),
        (0x000C, &[0x3f, 0xff, 0, 0], Error::ChannelNumber(0x3fff)),
        (
            0x0009,
            &[0, 0, 2, 99],
            Error::AttributeValue { attr: 0x0009 },
        ),
        (
            0x0009,
            &[0, 0, 4, 100],
            Error::AttributeValue { attr: 0x0009 },
        ),
        (
            0x0009,
            &[0, 0],
            Error::AttributeLength {
                attr: 0x0009,
                len: 2,
            },
        ),
        (
            0x0017,
            &[3, 0, 0, 0],
            Error::AttributeValue { attr: 0x0017 },
        ),
        (
            0x000A,
            &[0, 1, 0],
            Error::AttributeLength {
                attr: 0x000A,
                len: 3,
            },
        ),
        (
            0x001D,
            &[0, 1, 0, 9, 1],
            Error::AttributeLength {
                attr: 0x001D,
                len: 5,
            },
        ),
    ];
    for (typ, value, want) in cases {
        let bytes = raw_message(&[(typ, value)]);
        let msg = Message::parse(&bytes).unwrap();
        let (t, v) = msg.attributes().next().unwrap();
        assert_eq!(Attribute::decode(t, v, &TID), Err(want), "type {typ:#06x}");
    }
    let long = vec![b'a'; 513];
    let bytes = raw_message(&[(0x0006, &long)]);
    assert_eq!(
        Message::parse(&bytes).unwrap().username(),
        Err(Error::AttributeLength {
            attr: 0x0006,
            len: 513
        })
    );
}

#[test]
fn encoder_rejects_what_cannot_be_encoded() {
    let mut buf = [0u8; 2048];
    let mut enc = MessageEncoder::new(&mut buf, Class::Error, Method::ALLOCATE, TID).unwrap();
    let before = enc.len();
    let long = "x".repeat(513);
    assert_eq!(
        enc.attribute(&Attribute::Username(&long)).unwrap_err(),
        Error::AttributeLength {
            attr: 0x0006,
            len: 513
        }
    );
    assert_eq!(
        enc.attribute(&Attribute::ErrorCode(ErrorCode::new(299, "x")))
            .unwrap_err(),
        Error::ErrorCode(299)
    );
    assert_eq!(
        enc.attribute(&Attribute::ChannelNumber(0x8000))
            .unwrap_err(),
        Error::ChannelNumber(0x8000)
    );
    assert_eq!(
        enc.len(),
        before,
        "failed calls leave the message unchanged"
    );
    enc.fingerprint().unwrap();
    assert_eq!(
        enc.attribute(&Attribute::Lifetime(1)).unwrap_err(),
        Error::AttributeAfterFingerprint { attr: 0x000D }
    );
    assert_eq!(
        enc.message_integrity(&IntegrityKey::new(b"k")).unwrap_err(),
        Error::AttributeAfterFingerprint { attr: 0x0008 }
    );
    assert_eq!(
        MessageEncoder::new(&mut buf, Class::Request, Method(0x1000), TID).unwrap_err(),
        Error::Method(0x1000)
    );

    let key = IntegrityKey::new(b"k");
    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, TID).unwrap();
    enc.message_integrity_sha256(&key).unwrap();
    assert_eq!(
        enc.message_integrity(&key).unwrap_err(),
        Error::AttributeAfterIntegrity { attr: 0x0008 }
    );
    assert_eq!(
        enc.attribute(&Attribute::Software("late")).unwrap_err(),
        Error::AttributeAfterIntegrity { attr: 0x8022 }
    );
    assert_eq!(
        enc.message_integrity_sha256(&key).unwrap_err(),
        Error::AttributeAfterIntegrity { attr: 0x001C }
    );
}

#[test]
fn encoder_reports_buffer_too_small_at_every_size() {
    let key = IntegrityKey::new(b"k");
    let build = |buf: &mut [u8]| -> Result<usize, Error> {
        let mut enc = MessageEncoder::new(buf, Class::Success, Method::ALLOCATE, TID)?;
        enc.attribute(&Attribute::XorRelayedAddress(v6()))?
            .attribute(&Attribute::XorMappedAddress(v4()))?
            .attribute(&Attribute::Lifetime(600))?
            .message_integrity(&key)?
            .message_integrity_sha256(&key)?
            .fingerprint()?;
        Ok(enc.finish())
    };
    let mut big = [0u8; 512];
    let full = build(&mut big).unwrap();
    for size in 0..full {
        let mut buf = vec![0u8; size];
        match build(&mut buf) {
            Err(Error::BufferTooSmall { needed, available }) => {
                assert!(needed > size && available == size)
            }
            other => panic!("size {size}: {other:?}"),
        }
    }
    let mut exact = vec![0u8; full];
    assert_eq!(build(&mut exact).unwrap(), full);
    assert_eq!(&exact[..], &big[..full]);
}

#[test]
fn data_in_place_wraps_a_payload_without_copying() {
    let peer = v6();
    let payload = b"peer datagram, 29 bytes long!";
    let offset = HEADER_LEN + Attribute::XorPeerAddress(peer).encoded_len().unwrap() + 4;
    let mut buf = [0xEEu8; 256];
    buf[offset..offset + payload.len()].copy_from_slice(payload);
    let mut enc = MessageEncoder::new(&mut buf, Class::Indication, Method::DATA, TID).unwrap();
    enc.attribute(&Attribute::XorPeerAddress(peer))
        .unwrap()
        .data_in_place(payload.len())
        .unwrap();
    let len = enc.finish();
    assert_eq!(len, offset + payload.len().next_multiple_of(4));
    let msg = Message::parse(&buf[..len]).unwrap();
    assert_eq!(msg.class(), Class::Indication);
    assert_eq!(msg.xor_peer_address().unwrap(), Some(peer));
    assert_eq!(msg.data().unwrap(), Some(&payload[..]));
}
