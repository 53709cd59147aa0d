//! Bad input never panics: truncation at every length, trailing bytes, lying lengths,
//! duplicates, seeded random bytes and seeded mutations of valid messages, for
//! `Message::parse` (and every getter on what it accepts), `ChannelData::parse` and
//! `next_frame`. Each case must come back `Ok` or `Err`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use edge_stun::{
    next_frame, AddressFamily, AttrType, Attribute, ChannelData, Class, Error, ErrorCode, Frame,
    IntegrityKey, Message, MessageEncoder, Method, TransactionId, Transport, HEADER_LEN,
};

/// SplitMix64: a seeded generator, so every failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

const TID: TransactionId = TransactionId([7; 12]);

/// A few valid messages covering every code path of the parser.
fn corpus() -> Vec<Vec<u8>> {
    let key = IntegrityKey::new(b"password");
    let peer4: SocketAddr = "192.0.2.9:5000".parse().unwrap();
    let peer6: SocketAddr = "[2001:db8::9]:5000".parse().unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];

    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::ALLOCATE, TID).unwrap();
    enc.attribute(&Attribute::RequestedTransport(17))
        .unwrap()
        .attribute(&Attribute::Username("alice"))
        .unwrap()
        .attribute(&Attribute::Realm("example.org"))
        .unwrap()
        .attribute(&Attribute::Nonce("abcdef0123456789"))
        .unwrap()
        .attribute(&Attribute::EvenPort(true))
        .unwrap()
        .attribute(&Attribute::RequestedAddressFamily(AddressFamily::V6))
        .unwrap()
        .message_integrity(&key)
        .unwrap()
        .message_integrity_sha256(&key)
        .unwrap()
        .fingerprint()
        .unwrap();
    let len = enc.finish();
    out.push(buf[..len].to_vec());

    let mut enc =
        MessageEncoder::new(&mut buf, Class::Request, Method::CREATE_PERMISSION, TID).unwrap();
    enc.attribute(&Attribute::XorPeerAddress(peer4))
        .unwrap()
        .attribute(&Attribute::XorPeerAddress(peer6))
        .unwrap()
        .attribute(&Attribute::ChannelNumber(0x4001))
        .unwrap()
        .attribute(&Attribute::Other {
            typ: AttrType(0x0031),
            value: b"unknown",
        })
        .unwrap()
        .message_integrity(&key)
        .unwrap();
    let len = enc.finish();
    out.push(buf[..len].to_vec());

    let codes = [AttrType(0x0031), AttrType(0x0032)];
    let mut enc = MessageEncoder::new(&mut buf, Class::Error, Method::ALLOCATE, TID).unwrap();
    enc.attribute(&Attribute::ErrorCode(ErrorCode::new(
        420,
        "Unknown Attribute",
    )))
    .unwrap()
    .attribute(&Attribute::UnknownAttributes(
        edge_stun::UnknownAttributes::new(&codes),
    ))
    .unwrap()
    .attribute(&Attribute::PasswordAlgorithms(
        edge_stun::PasswordAlgorithms::new(&[edge_stun::PasswordAlgorithm::SHA256]),
    ))
    .unwrap()
    .attribute(&Attribute::Software("edge"))
    .unwrap()
    .fingerprint()
    .unwrap();
    let len = enc.finish();
    out.push(buf[..len].to_vec());

    let mut enc = MessageEncoder::new(&mut buf, Class::Indication, Method::DATA, TID).unwrap();
    enc.attribute(&Attribute::XorPeerAddress(peer6))
        .unwrap()
        .attribute(&Attribute::Data(&[0x80; 37]))
        .unwrap()
        .attribute(&Attribute::Icmp(edge_stun::Icmp {
            typ: 3,
            code: 4,
            data: 1200,
        }))
        .unwrap();
    let len = enc.finish();
    out.push(buf[..len].to_vec());
    out
}

/// Calls everything a consumer might call on a parsed message; panics are the failure.
fn exercise(msg: &Message<'_>) {
    let key = IntegrityKey::new(b"password");
    let tid = msg.transaction_id();
    for (t, v) in msg.attributes() {
        if let Ok(attr) = Attribute::decode(t, v, &tid) {
            if let Attribute::PasswordAlgorithms(list) = attr {
                list.iter().for_each(drop);
            }
            if let Attribute::UnknownAttributes(list) = attr {
                list.iter().for_each(drop);
            }
        }
    }
    let _ = msg.xor_mapped_address();
    let _ = msg.mapped_address();
    let _ = msg.xor_peer_address();
    msg.xor_peer_addresses().for_each(drop);
    let _ = msg.xor_relayed_address();
    msg.xor_relayed_addresses().for_each(drop);
    let _ = msg.alternate_server();
    let _ = msg.username();
    let _ = msg.userhash();
    let _ = msg.realm();
    let _ = msg.nonce();
    let _ = msg.software();
    let _ = msg.password_algorithm();
    let _ = msg
        .password_algorithms()
        .map(|l| l.map(|l| l.iter().count()));
    let _ = msg.error_code();
    let _ = msg
        .unknown_attributes()
        .map(|l| l.map(|l| l.iter().count()));
    let _ = msg.lifetime();
    let _ = msg.channel_number();
    let _ = msg.data();
    let _ = msg.requested_transport();
    let _ = msg.requested_address_family();
    let _ = msg.additional_address_family();
    let _ = msg.address_error_code();
    let _ = msg.even_port();
    let _ = msg.reservation_token();
    let _ = msg.dont_fragment();
    let _ = msg.icmp();
    let _ = msg.priority();
    let _ = msg.use_candidate();
    let _ = msg.ice_controlled();
    let _ = msg.ice_controlling();
    let _ = msg.connection_id();
    let _ = msg.verify_integrity(&key);
    let _ = msg.verify_integrity_sha256(&key);
    let mut unknown = [AttrType(0); 4];
    let _ = msg.unknown_comprehension_required(&mut unknown);
    let _ = format!("{msg:?}");
}

/// Parses and, when accepted, exercises; also runs the stream and ChannelData parsers.
fn feed(bytes: &[u8]) {
    if let Ok(msg) = Message::parse(bytes) {
        exercise(&msg);
    }
    let _ = ChannelData::parse(bytes);
    match next_frame(bytes) {
        Ok(Frame::Stun(n)) => {
            assert!(n <= bytes.len());
            if let Ok(msg) = Message::parse(&bytes[..n]) {
                exercise(&msg);
            }
        }
        Ok(Frame::ChannelData(n)) => {
            assert!(n <= bytes.len());
            ChannelData::parse(&bytes[..n]).unwrap();
        }
        Ok(Frame::Incomplete(n)) => assert!(n > bytes.len()),
        Err(_) => {}
    }
}

#[test]
fn corpus_is_valid() {
    for bytes in corpus() {
        let msg = Message::parse(&bytes).unwrap();
        exercise(&msg);
        assert_eq!(next_frame(&bytes), Ok(Frame::Stun(bytes.len())));
    }
}

#[test]
fn truncated_at_every_length() {
    for bytes in corpus() {
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            assert!(Message::parse(cut).is_err(), "prefix of {len} accepted");
            feed(cut);
            assert_eq!(
                next_frame(cut),
                Ok(Frame::Incomplete(match len {
                    0 => 4,
                    1..HEADER_LEN => HEADER_LEN,
                    _ => bytes.len(),
                })),
                "prefix {len}"
            );
        }
    }
}

#[test]
fn trailing_bytes_and_short_buffers_name_both_sizes() {
    for bytes in corpus() {
        for extra in 1..9 {
            let mut long = bytes.clone();
            long.resize(bytes.len() + extra, 0);
            assert_eq!(
                Message::parse(&long).unwrap_err(),
                Error::TrailingBytes {
                    header: bytes.len(),
                    actual: bytes.len() + extra
                }
            );
            // A header claiming more than the buffer holds.
            let mut lying = bytes.clone();
            let body = (bytes.len() - HEADER_LEN + 4 * extra) as u16;
            lying[2..4].copy_from_slice(&body.to_be_bytes());
            assert_eq!(
                Message::parse(&lying).unwrap_err(),
                Error::Truncated {
                    needed: bytes.len() + 4 * extra,
                    available: bytes.len()
                }
            );
        }
    }
}

#[test]
fn header_checks() {
    let bytes = &corpus()[0];
    let mut b = bytes.clone();
    b[0] |= 0x80;
    assert_eq!(Message::parse(&b).unwrap_err(), Error::NotStun);
    let mut b = bytes.clone();
    b[4] = 0;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        Error::MagicCookie(0x0012_a442)
    );
    let mut b = bytes.clone();
    b[3] |= 1;
    assert!(matches!(
        Message::parse(&b).unwrap_err(),
        Error::UnalignedLength(_)
    ));
}

/// Offsets of the attribute headers of a valid message.
fn attribute_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        out.push(pos);
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        pos += 4 + len.next_multiple_of(4);
    }
    out
}

#[test]
fn lying_attribute_lengths() {
    for bytes in corpus() {
        for at in attribute_offsets(&bytes) {
            for len in (0..=600u16).chain([0x7fff, 0x8000, 0xfffc, 0xffff]) {
                let mut b = bytes.clone();
                b[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
                let attr = u16::from_be_bytes([b[at], b[at + 1]]);
                let fits = at + 4 + usize::from(len) <= b.len();
                match Message::parse(&b) {
                    Ok(msg) => exercise(&msg),
                    Err(e) if !fits => assert_eq!(e, Error::AttributeTruncated { attr }),
                    Err(_) => {}
                }
                feed(&b);
            }
        }
    }
}

#[test]
fn duplicated_attributes_never_panic() {
    for bytes in corpus() {
        let offsets = attribute_offsets(&bytes);
        for (i, &at) in offsets.iter().enumerate() {
            let end = offsets.get(i + 1).copied().unwrap_or(bytes.len());
            // Insert a copy of the attribute right after itself, header length fixed.
            let mut b = bytes[..end].to_vec();
            b.extend_from_slice(&bytes[at..end]);
            b.extend_from_slice(&bytes[end..]);
            let body = (b.len() - HEADER_LEN) as u16;
            b[2..4].copy_from_slice(&body.to_be_bytes());
            match Message::parse(&b) {
                Ok(msg) => exercise(&msg),
                Err(e) => assert!(
                    matches!(
                        e,
                        Error::BadFingerprint | Error::AttributeAfterFingerprint { .. }
                    ),
                    "{e:?}"
                ),
            }
        }
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x5354_554e);
    let mut buf = [0u8; 300];
    let mut accepted = 0;
    for i in 0..200_000 {
        let len = rng.below(buf.len());
        buf[..len].iter_mut().for_each(|b| *b = rng.byte());
        // Most random buffers die at the header; give half of them a valid header so the
        // attribute walk and the getters see random TLVs.
        if i % 2 == 0 && len >= HEADER_LEN {
            buf[0] &= 0x3f;
            buf[2..4].copy_from_slice(&(((len - HEADER_LEN) & !3) as u16).to_be_bytes());
            buf[4..8].copy_from_slice(&0x2112_a442u32.to_be_bytes());
            let total = HEADER_LEN + ((len - HEADER_LEN) & !3);
            accepted += usize::from(Message::parse(&buf[..total]).is_ok());
            feed(&buf[..total]);
        } else {
            feed(&buf[..len]);
        }
    }
    // The walk must have accepted some random messages, or the getters went untested.
    assert!(accepted > 1000, "only {accepted} random messages parsed");
}

#[test]
fn random_mutations_of_valid_messages() {
    let corpus = corpus();
    let mut rng = Rng(42);
    for _ in 0..100_000 {
        let mut b = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(4) {
            match rng.below(5) {
                0 | 1 => {
                    let at = rng.below(b.len());
                    b[at] = rng.byte();
                }
                2 => {
                    let at = rng.below(b.len());
                    b[at] ^= 1 << rng.below(8);
                }
                3 => {
                    let at = rng.below(b.len() + 1);
                    b.insert(at, rng.byte());
                }
                _ => {
                    if b.len() > 1 {
                        let at = rng.below(b.len());
                        b.remove(at);
                    }
                }
            }
        }
        if rng.below(2) == 0 && b.len() >= HEADER_LEN {
            let body = ((b.len() - HEADER_LEN) & 0xffff) as u16;
            b[2..4].copy_from_slice(&body.to_be_bytes());
        }
        feed(&b);
    }
}

#[test]
fn oversized_input() {
    // Largest legal message (65535-byte body), and buffers far beyond it.
    let mut big = vec![0u8; HEADER_LEN + 65532];
    let mut enc = MessageEncoder::new(&mut big, Class::Indication, Method::SEND, TID).unwrap();
    enc.attribute(&Attribute::Data(&[0xAB; 65528])).unwrap();
    let len = enc.finish();
    assert_eq!(len, HEADER_LEN + 65532);
    let msg = Message::parse(&big[..len]).unwrap();
    assert_eq!(msg.data().unwrap().map(<[u8]>::len), Some(65528));
    exercise(&msg);
    // One more attribute does not fit the 16-bit length field.
    let mut bigger = vec![0u8; 70_000];
    let mut enc = MessageEncoder::new(&mut bigger, Class::Indication, Method::SEND, TID).unwrap();
    enc.attribute(&Attribute::Data(&[0xAB; 65528])).unwrap();
    assert_eq!(
        enc.attribute(&Attribute::Lifetime(1)).unwrap_err(),
        Error::AttributeLength {
            attr: 0x000D,
            len: 4
        }
    );
    assert!(matches!(
        enc.attribute(&Attribute::Data(&[0; 70_000])).unwrap_err(),
        Error::AttributeLength { attr: 0x0013, .. }
    ));
    let huge = vec![0u8; 200_000];
    feed(&huge);
    let mut huge = vec![0xffu8; 200_000];
    huge[..HEADER_LEN].copy_from_slice(&big[..HEADER_LEN]);
    feed(&huge);
}

#[test]
fn channel_data_random_and_truncated() {
    let mut rng = Rng(7983);
    let mut frame = [0u8; 200];
    let payload_len = 77;
    let total =
        ChannelData::encode_in_place(&mut frame, 0x4abc, payload_len, Transport::Stream).unwrap();
    for len in 0..total {
        let cut = &frame[..len];
        if len < 4 + payload_len {
            assert!(ChannelData::parse(cut).is_err());
        } else {
            assert_eq!(
                ChannelData::parse(cut).unwrap().payload().len(),
                payload_len
            );
        }
        assert!(matches!(next_frame(cut), Ok(Frame::Incomplete(_))));
    }
    let mut buf = [0u8; 100];
    for _ in 0..200_000 {
        let len = rng.below(buf.len());
        buf[..len].iter_mut().for_each(|b| *b = rng.byte());
        if len > 0 && rng.below(2) == 0 {
            buf[0] = 0x40 | (buf[0] & 0x0f);
        }
        feed(&buf[..len]);
    }
}
