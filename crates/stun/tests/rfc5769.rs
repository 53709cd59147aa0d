//! RFC 5769 test vectors, byte for byte: parse, verify MESSAGE-INTEGRITY and FINGERPRINT with
//! the RFC's credentials (including the long-term key derivation), and re-encode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use edge_stun::{
    long_term_key, Attribute, Class, Error, IntegrityKey, Message, MessageEncoder, Method,
    TransactionId,
};

/// Hex with whitespace and `|` separators ignored (the layout follows the RFC's figures).
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

const TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];
const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";

/// RFC 5769 section 2.1.
fn sample_request() -> Vec<u8> {
    hex(
        "00 01 00 58  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
         80 22 00 10  53 54 55 4e  20 74 65 73  74 20 63 6c  69 65 6e 74
         00 24 00 04  6e 00 01 ff
         80 29 00 08  93 2f f9 b1  51 26 3b 36
         00 06 00 09  65 76 74 6a  3a 68 36 76  59 20 20 20
         00 08 00 14  9a ea a7 0c  bf d8 cb 56  78 1e f2 b5  b2 d3 f2 49  c1 b5 71 a2
         80 28 00 04  e5 7a 3b cf",
    )
}

/// RFC 5769 section 2.2.
fn sample_ipv4_response() -> Vec<u8> {
    hex(
        "01 01 00 3c  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
         80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
         00 20 00 08  00 01 a1 47  e1 12 a6 43
         00 08 00 14  2b 91 f5 99  fd 9e 90 c3  8c 74 89 f9  2a f9 ba 53  f0 6b e7 d7
         80 28 00 04  c0 7d 4c 96",
    )
}

/// RFC 5769 section 2.3.
fn sample_ipv6_response() -> Vec<u8> {
    hex(
        "01 01 00 48  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
         80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
         00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9
         00 08 00 14  a3 82 95 4e  4b e6 7b f1  17 84 c9 7c  82 92 c2 75  bf e3 ed 41
         80 28 00 04  c8 fb 0b 4c",
    )
}

/// RFC 5769 section 2.4.
fn sample_long_term_request() -> Vec<u8> {
    hex(
        "00 01 00 60  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
         00 06 00 12  e3 83 9e e3  83 88 e3 83  aa e3 83 83  e3 82 af e3  82 b9 00 00
         00 15 00 1c  66 2f 2f 34  39 39 6b 39  35 34 64 36  4f 4c 33 34  6f 4c 39 46
                      53 54 76 79  36 34 73 41
         00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
         00 08 00 14  f6 70 24 65  6d d6 4a 3e  02 b8 e0 71  2e 85 c9 a2  8c a8 96 66",
    )
}

/// Replaces the padding bytes RFC 5769 fills with spaces (0x20) by the zeros this encoder
/// writes, at the given offsets, for comparing everything before the integrity attributes.
fn zero_padding(mut bytes: Vec<u8>, offsets: &[usize]) -> Vec<u8> {
    for &at in offsets {
        assert_eq!(
            bytes[at], 0x20,
            "offset {at} is a space-padding byte of the vector"
        );
        bytes[at] = 0;
    }
    bytes
}

#[test]
fn sample_request_parses_and_verifies() {
    let bytes = sample_request();
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.class(), Class::Request);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(msg.transaction_id(), TransactionId(TID));
    assert_eq!(msg.software().unwrap(), Some("STUN test client"));
    assert_eq!(msg.priority().unwrap(), Some(0x6e0001ff));
    assert_eq!(msg.ice_controlled().unwrap(), Some(0x932ff9b151263b36));
    assert_eq!(msg.username().unwrap(), Some("evtj:h6vY"));
    assert!(msg.has_integrity() && msg.has_fingerprint());
    msg.verify_integrity(&IntegrityKey::new(PASSWORD)).unwrap();
    assert_eq!(
        msg.verify_integrity(&IntegrityKey::new(b"VOkJxbRl1RmTxUk/WvJxBT")),
        Err(Error::IntegrityMismatch("MESSAGE-INTEGRITY"))
    );
}

#[test]
fn sample_request_reencodes() {
    let vector = sample_request();
    let mut buf = [0u8; 256];
    let mut enc = MessageEncoder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId(TID),
    )
    .unwrap();
    enc.attribute(&Attribute::Software("STUN test client"))
        .unwrap()
        .attribute(&Attribute::Priority(0x6e0001ff))
        .unwrap()
        .attribute(&Attribute::IceControlled(0x932ff9b151263b36))
        .unwrap()
        .attribute(&Attribute::Username("evtj:h6vY"))
        .unwrap();
    let content_len = enc.len();
    enc.message_integrity(&IntegrityKey::new(PASSWORD))
        .unwrap()
        .fingerprint()
        .unwrap();
    let len = enc.finish();
    assert_eq!(len, vector.len());
    // Everything up to MESSAGE-INTEGRITY matches once the vector's space padding (after
    // the 9-byte username) is read as the zeros we write; the header length field matches.
    let expected = zero_padding(vector, &[73, 74, 75]);
    assert_eq!(&buf[..content_len], &expected[..content_len]);
    // Our integrity and fingerprint over our bytes verify.
    let ours = Message::parse(&buf[..len]).unwrap();
    ours.verify_integrity(&IntegrityKey::new(PASSWORD)).unwrap();
}

#[test]
fn sample_ipv4_response_parses_verifies_and_reencodes() {
    let vector = sample_ipv4_response();
    let msg = Message::parse(&vector).unwrap();
    assert_eq!(msg.class(), Class::Success);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(msg.software().unwrap(), Some("test vector"));
    let mapped: SocketAddr = "192.0.2.1:32853".parse().unwrap();
    assert_eq!(msg.xor_mapped_address().unwrap(), Some(mapped));
    msg.verify_integrity(&IntegrityKey::new(PASSWORD)).unwrap();
    reencode_binding_response(&vector, mapped);
}

/// Encodes the Binding success response of RFC 5769 2.2/2.3 (SOFTWARE, XOR-MAPPED-ADDRESS
/// `mapped`, MESSAGE-INTEGRITY, FINGERPRINT) and checks it against `vector`: the same length,
/// the same bytes up to the integrity (the vector pads SOFTWARE with spaces, we with zeros),
/// and an integrity that verifies.
fn reencode_binding_response(vector: &[u8], mapped: SocketAddr) {
    let mut buf = [0u8; 256];
    let mut enc = MessageEncoder::new(
        &mut buf,
        Class::Success,
        Method::BINDING,
        TransactionId(TID),
    )
    .unwrap();
    enc.attribute(&Attribute::Software("test vector"))
        .unwrap()
        .attribute(&Attribute::XorMappedAddress(mapped))
        .unwrap();
    let content_len = enc.len();
    enc.message_integrity(&IntegrityKey::new(PASSWORD))
        .unwrap()
        .fingerprint()
        .unwrap();
    let len = enc.finish();
    assert_eq!(len, vector.len());
    let expected = zero_padding(vector.to_vec(), &[35]);
    assert_eq!(&buf[..content_len], &expected[..content_len]);
    Message::parse(&buf[..len])
        .unwrap()
        .verify_integrity(&IntegrityKey::new(PASSWORD))
        .unwrap();
}

#[test]
fn sample_ipv6_response_parses_verifies_and_reencodes() {
    let vector = sample_ipv6_response();
    let msg = Message::parse(&vector).unwrap();
    let mapped: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .unwrap();
    assert_eq!(msg.xor_mapped_address().unwrap(), Some(mapped));
    assert_eq!(msg.software().unwrap(), Some("test vector"));
    msg.verify_integrity(&IntegrityKey::new(PASSWORD)).unwrap();
    reencode_binding_response(&vector, mapped);
}

const LT_USERNAME: &str = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
/// The RFC's password after SASLprep ("The<U+00AD>M<U+00AA>tr<U+2168>" before).
const LT_PASSWORD: &str = "TheMatrIX";
const LT_REALM: &str = "example.org";
const LT_NONCE: &str = "f//499k954d6OL34oL9FSTvy64sA";

#[test]
fn long_term_key_derivation() {
    // MD5("<username>:example.org:TheMatrIX"), computed independently with coreutils:
    // printf '%s' 'マトリックス:example.org:TheMatrIX' | md5sum
    assert_eq!(
        long_term_key(LT_USERNAME, LT_REALM, LT_PASSWORD).to_vec(),
        hex("e8 ca 7a d5 9d 5e b0 51 8e 31 29 11 d2 da b2 a9")
    );
}

#[test]
fn sample_long_term_request_parses_verifies_and_reencodes_exactly() {
    let vector = sample_long_term_request();
    let msg = Message::parse(&vector).unwrap();
    let tid = TransactionId([
        0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
    ]);
    assert_eq!(msg.transaction_id(), tid);
    assert_eq!(msg.username().unwrap(), Some(LT_USERNAME));
    assert_eq!(msg.nonce().unwrap(), Some(LT_NONCE));
    assert_eq!(msg.realm().unwrap(), Some(LT_REALM));
    assert!(!msg.has_fingerprint());
    let key = IntegrityKey::new(&long_term_key(LT_USERNAME, LT_REALM, LT_PASSWORD));
    msg.verify_integrity(&key).unwrap();

    // The vector pads with zeros, so the whole message re-encodes byte for byte.
    let mut buf = [0u8; 256];
    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, tid).unwrap();
    enc.attribute(&Attribute::Username(LT_USERNAME))
        .unwrap()
        .attribute(&Attribute::Nonce(LT_NONCE))
        .unwrap()
        .attribute(&Attribute::Realm(LT_REALM))
        .unwrap()
        .message_integrity(&key)
        .unwrap();
    let len = enc.finish();
    assert_eq!(&buf[..len], &vector[..]);
}
