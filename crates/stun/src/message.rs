//! Decoding: [`Message`], a view over a STUN message borrowed from the receive buffer.

use std::net::SocketAddr;

use crate::address::{decode_address, AddressFamily};
use crate::attribute::{
    bounded_text, decode_bytes, decode_channel_number, decode_empty, decode_family, decode_icmp,
    padded, AttrType, Attribute, Icmp, UnknownAttributes, TEXT_MAX, USERNAME_MAX,
};
use crate::error_code::{AddressErrorCode, ErrorCode};
use crate::header::{split_type, HEADER_LEN, MAGIC_COOKIE};
use crate::integrity::{self, IntegrityKey};
use crate::password::{PasswordAlgorithm, PasswordAlgorithms};
use crate::{Class, Error, Method, TransactionId};

/// The attribute types whose first occurrence [`Message::parse`] records, so that each
/// typed getter is a table lookup. Every known type except the three the parser tracks on
/// its own (MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256, FINGERPRINT).
const INDEXED: &[AttrType] = &[
    AttrType::MAPPED_ADDRESS,
    AttrType::USERNAME,
    AttrType::ERROR_CODE,
    AttrType::UNKNOWN_ATTRIBUTES,
    AttrType::CHANNEL_NUMBER,
    AttrType::LIFETIME,
    AttrType::XOR_PEER_ADDRESS,
    AttrType::DATA,
    AttrType::REALM,
    AttrType::NONCE,
    AttrType::XOR_RELAYED_ADDRESS,
    AttrType::REQUESTED_ADDRESS_FAMILY,
    AttrType::EVEN_PORT,
    AttrType::REQUESTED_TRANSPORT,
    AttrType::DONT_FRAGMENT,
    AttrType::PASSWORD_ALGORITHM,
    AttrType::USERHASH,
    AttrType::XOR_MAPPED_ADDRESS,
    AttrType::RESERVATION_TOKEN,
    AttrType::PRIORITY,
    AttrType::USE_CANDIDATE,
    AttrType::CONNECTION_ID,
    AttrType::ADDITIONAL_ADDRESS_FAMILY,
    AttrType::ADDRESS_ERROR_CODE,
    AttrType::PASSWORD_ALGORITHMS,
    AttrType::ICMP,
    AttrType::SOFTWARE,
    AttrType::ALTERNATE_SERVER,
    AttrType::ICE_CONTROLLED,
    AttrType::ICE_CONTROLLING,
];

/// Marks an empty slot in the index and in [`SLOT_OF`].
const ABSENT: u16 = u16::MAX;
const NO_SLOT: u8 = u8::MAX;

/// Maps a type code folded into 0..128 (0x0000..0x0040 and 0x8000..0x8040) to its slot.
const SLOT_OF: [u8; 128] = {
    let mut table = [NO_SLOT; 128];
    let mut i = 0;
    while i < INDEXED.len() {
        let code = INDEXED[i].0;
        let folded = if code < 0x8000 {
            code
        } else {
            code - 0x8000 + 0x40
        };
        if table[folded as usize] == NO_SLOT {
            table[folded as usize] = i as u8;
        }
        i += 1;
    }
    table
};

/// The index slot of a type, if it is indexed.
fn slot(t: AttrType) -> Option<usize> {
    let folded = match t.0 {
        0x0000..=0x003F => t.0,
        0x8000..=0x803F => t.0 - 0x8000 + 0x40,
        _ => return None,
    };
    let s = SLOT_OF[usize::from(folded)];
    (s != NO_SLOT).then_some(usize::from(s))
}

/// A parsed STUN message borrowing the buffer it was parsed from.
///
/// # Method groups
/// - **Parse**: [`Message::parse`] validates the header, walks every attribute once,
///   indexes the first occurrence of each known type and verifies FINGERPRINT when present.
///   It allocates nothing and copies nothing.
/// - **Header**: [`class`](Message::class), [`method`](Message::method),
///   [`transaction_id`](Message::transaction_id), [`as_bytes`](Message::as_bytes).
/// - **Attributes**: [`attributes`](Message::attributes) iterates the content attributes
///   raw; [`get`](Message::get) finds the first of a type; the typed getters
///   ([`username`](Message::username), [`xor_peer_addresses`](Message::xor_peer_addresses),
///   [`lifetime`](Message::lifetime), ...) decode on demand and return
///   `Ok(None)` when the attribute is absent, `Err` when it is malformed.
/// - **Checks**: [`verify_integrity`](Message::verify_integrity),
///   [`verify_integrity_sha256`](Message::verify_integrity_sha256),
///   [`unknown_comprehension_required`](Message::unknown_comprehension_required).
///
/// # Which attributes count
/// The *content attributes* are those before the first MESSAGE-INTEGRITY,
/// MESSAGE-INTEGRITY-SHA256 or FINGERPRINT. Attributes after MESSAGE-INTEGRITY other than
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, as are attributes other than
/// FINGERPRINT after MESSAGE-INTEGRITY-SHA256 (RFC 8489 sections 14.5, 14.6); anything after
/// FINGERPRINT is an error.
///
/// **Duplicates: the first wins.** When a type appears more than once among the content
/// attributes, the getters return the first occurrence and later ones are ignored, as RFC
/// 8489 section 14 prescribes ("only the first occurrence needs to be processed") and as
/// coturn does. XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS, which legitimately repeat, also
/// have iterators over every occurrence.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    class: Class,
    method: Method,
    tid: TransactionId,
    /// End of the content attributes (start of the first integrity or fingerprint attribute).
    content_end: u16,
    /// Offsets of MESSAGE-INTEGRITY and -SHA256 relative to the first attribute, or ABSENT.
    integrity: u16,
    integrity_sha256: u16,
    fingerprint: bool,
    /// Whether a comprehension-required type this crate does not know is among the content.
    unknown_required: bool,
    /// Offset of each indexed type's first occurrence, relative to the first attribute.
    index: [u16; INDEXED.len()],
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("class", &self.class)
            .field("method", &self.method)
            .field("transaction_id", &self.tid)
            .field("attributes", &DebugAttributes(self))
            .field("integrity", &self.has_integrity())
            .field("integrity_sha256", &self.has_integrity_sha256())
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

struct DebugAttributes<'m, 'a>(&'m Message<'a>);

impl std::fmt::Debug for DebugAttributes<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tid = self.0.tid;
        f.debug_list()
            .entries(
                self.0
                    .attributes()
                    .map(|(t, v)| Attribute::decode(t, v, &tid).map_err(|_| (t, v))),
            )
            .finish()
    }
}

impl<'a> Message<'a> {
    /// Parses a whole STUN message: `buf` must hold exactly one message (a UDP datagram, or
    /// the frame [`crate::next_frame`] delimits on a stream).
    ///
    /// Checks: the first two bits are zero, the magic cookie, the length is a multiple of 4
    /// and matches `buf`, every attribute TLV fits, MESSAGE-INTEGRITY is 20 bytes,
    /// MESSAGE-INTEGRITY-SHA256 is 16 to 32 bytes in steps of 4, nothing follows
    /// FINGERPRINT, and FINGERPRINT (when present) matches. Attribute values are decoded
    /// only when a getter asks for them.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        };
        let typ = u16::from_be_bytes([header[0], header[1]]);
        if typ & 0xC000 != 0 {
            return Err(Error::NotStun);
        }
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if cookie != MAGIC_COOKIE {
            return Err(Error::MagicCookie(cookie));
        }
        if length % 4 != 0 {
            return Err(Error::UnalignedLength(length));
        }
        let total = HEADER_LEN + length;
        if buf.len() < total {
            return Err(Error::Truncated {
                needed: total,
                available: buf.len(),
            });
        }
        if buf.len() > total {
            return Err(Error::TrailingBytes {
                header: total,
                actual: buf.len(),
            });
        }
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&header[8..]);
        let (class, method) = split_type(typ);
        let mut msg = Message {
            buf,
            class,
            method,
            tid: TransactionId(tid),
            content_end: 0,
            integrity: ABSENT,
            integrity_sha256: ABSENT,
            fingerprint: false,
            unknown_required: false,
            index: [ABSENT; INDEXED.len()],
        };
        msg.walk()?;
        Ok(msg)
    }

    /// Walks the TLVs once: bounds, positions of the special attributes, the index.
    fn walk(&mut self) -> Result<(), Error> {
        let buf = self.buf;
        let total = buf.len();
        let mut content_end = None;
        let mut fingerprint = None;
        let mut pos = HEADER_LEN;
        // `total - pos` stays a multiple of 4, so a TLV header always fits when pos < total.
        while let Some(&[t0, t1, l0, l1]) = buf.get(pos..pos + 4).and_then(|h| h.first_chunk()) {
            let attr = u16::from_be_bytes([t0, t1]);
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let next = pos + 4 + padded(len);
            if pos + 4 + len > total {
                return Err(Error::AttributeTruncated { attr });
            }
            if fingerprint.is_some() {
                return Err(Error::AttributeAfterFingerprint { attr });
            }
            let bad_len = Error::AttributeLength { attr, len };
            // Offsets fit in u16 relative to the first attribute: the body is at most 65535.
            let rel = (pos - HEADER_LEN) as u16;
            match AttrType(attr) {
                AttrType::FINGERPRINT => {
                    if len != 4 {
                        return Err(bad_len);
                    }
                    fingerprint = Some(pos);
                    content_end.get_or_insert(pos);
                }
                AttrType::MESSAGE_INTEGRITY
                    if self.integrity == ABSENT && self.integrity_sha256 == ABSENT =>
                {
                    if len != integrity::SHA1_LEN {
                        return Err(bad_len);
                    }
                    self.integrity = rel;
                    content_end.get_or_insert(pos);
                }
                AttrType::MESSAGE_INTEGRITY_SHA256 if self.integrity_sha256 == ABSENT => {
                    if !(16..=integrity::SHA256_LEN).contains(&len) || len % 4 != 0 {
                        return Err(bad_len);
                    }
                    self.integrity_sha256 = rel;
                    content_end.get_or_insert(pos);
                }
                t if content_end.is_none() => match slot(t) {
                    Some(s) if self.index[s] == ABSENT => self.index[s] = rel,
                    Some(_) => {}
                    None => self.unknown_required |= t.is_comprehension_required(),
                },
                _ => {}
            }
            pos = next;
        }
        if let Some(fp) = fingerprint {
            let received = u32::from_be_bytes([buf[fp + 4], buf[fp + 5], buf[fp + 6], buf[fp + 7]]);
            if integrity::fingerprint(&buf[..fp]) != received {
                return Err(Error::BadFingerprint);
            }
        }
        self.fingerprint = fingerprint.is_some();
        // Relative to the first attribute, so it fits in u16.
        self.content_end = (content_end.unwrap_or(total) - HEADER_LEN) as u16;
        Ok(())
    }

    /// The message class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        self.tid
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether the message carries MESSAGE-INTEGRITY.
    pub fn has_integrity(&self) -> bool {
        self.integrity != ABSENT
    }

    /// Whether the message carries MESSAGE-INTEGRITY-SHA256.
    pub fn has_integrity_sha256(&self) -> bool {
        self.integrity_sha256 != ABSENT
    }

    /// Whether the message carries a FINGERPRINT (already verified by [`Message::parse`]).
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint
    }

    /// The content attributes in order, raw: `(type, value)` with the value unpadded.
    /// Duplicates and unknown types included; MESSAGE-INTEGRITY(-SHA256), FINGERPRINT and
    /// whatever follows them excluded. Decode a value with [`Attribute::decode`].
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            rest: &self.buf[HEADER_LEN..HEADER_LEN + usize::from(self.content_end)],
        }
    }

    /// The value of the first content attribute of type `t`.
    pub fn get(&self, t: AttrType) -> Option<&'a [u8]> {
        match slot(t) {
            Some(s) => {
                let rel = self.index[s];
                (rel != ABSENT).then(|| self.value_at(HEADER_LEN + usize::from(rel)))
            }
            None => self.attributes().find(|(at, _)| *at == t).map(|(_, v)| v),
        }
    }

    /// The value of the attribute whose TLV starts at `pos` (validated by the walk).
    fn value_at(&self, pos: usize) -> &'a [u8] {
        let len = usize::from(u16::from_be_bytes([self.buf[pos + 2], self.buf[pos + 3]]));
        &self.buf[pos + 4..pos + 4 + len]
    }

    /// Decodes the first attribute of type `t` with `decode`.
    fn first<T>(
        &self,
        t: AttrType,
        decode: impl FnOnce(&'a [u8]) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        self.get(t).map(decode).transpose()
    }

    /// Every content attribute of type `t`, decoded as an address.
    fn addresses(&self, t: AttrType) -> impl Iterator<Item = Result<SocketAddr, Error>> + 'a {
        let tid = self.tid;
        self.attributes()
            .filter(move |(at, _)| *at == t)
            .map(move |(_, v)| decode_address(t.0, v, Some(&tid)))
    }

    /// Verifies MESSAGE-INTEGRITY (HMAC-SHA1) with `key`, in constant time.
    pub fn verify_integrity(&self, key: &IntegrityKey) -> Result<(), Error> {
        const WHAT: &str = "MESSAGE-INTEGRITY";
        if self.integrity == ABSENT {
            return Err(Error::NoIntegrity(WHAT));
        }
        let pos = HEADER_LEN + usize::from(self.integrity);
        let length = (pos + 4 + integrity::SHA1_LEN - HEADER_LEN) as u16;
        let mac = integrity::sha1_over(key, &self.buf[..pos], length);
        integrity::check(mac, self.value_at(pos), WHAT)
    }

    /// Verifies MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, possibly truncated to 16..32 bytes)
    /// with `key`, in constant time.
    pub fn verify_integrity_sha256(&self, key: &IntegrityKey) -> Result<(), Error> {
        const WHAT: &str = "MESSAGE-INTEGRITY-SHA256";
        if self.integrity_sha256 == ABSENT {
            return Err(Error::NoIntegrity(WHAT));
        }
        let pos = HEADER_LEN + usize::from(self.integrity_sha256);
        let value = self.value_at(pos);
        let length = (pos + 4 + value.len() - HEADER_LEN) as u16;
        let mac = integrity::sha256_over(key, &self.buf[..pos], length);
        integrity::check(mac, value, WHAT)
    }

    /// Whether the content attributes include a comprehension-required type (below 0x8000)
    /// this crate does not know. Computed by [`Message::parse`]; O(1).
    pub fn has_unknown_comprehension_required(&self) -> bool {
        self.unknown_required
    }

    /// Fills `out` with the comprehension-required types this crate does not know, in
    /// order of appearance, for a 420 response's UNKNOWN-ATTRIBUTES; returns the filled part
    /// (stops when `out` is full).
    pub fn unknown_comprehension_required<'o>(&self, out: &'o mut [AttrType]) -> &'o [AttrType] {
        let mut n = 0;
        if self.unknown_required {
            let unknown = self
                .attributes()
                .map(|(t, _)| t)
                .filter(|t| t.is_comprehension_required() && !t.is_known());
            for (slot, t) in out.iter_mut().zip(unknown) {
                *slot = t;
                n += 1;
            }
        }
        &out[..n]
    }
}

/// Typed getters: each decodes the first content attribute of its type.
impl<'a> Message<'a> {
    /// XOR-MAPPED-ADDRESS.
    pub fn xor_mapped_address(&self) -> Result<Option<SocketAddr>, Error> {
        let t = AttrType::XOR_MAPPED_ADDRESS;
        self.first(t, |v| decode_address(t.0, v, Some(&self.tid)))
    }

    /// MAPPED-ADDRESS.
    pub fn mapped_address(&self) -> Result<Option<SocketAddr>, Error> {
        let t = AttrType::MAPPED_ADDRESS;
        self.first(t, |v| decode_address(t.0, v, None))
    }

    /// The first XOR-PEER-ADDRESS.
    pub fn xor_peer_address(&self) -> Result<Option<SocketAddr>, Error> {
        let t = AttrType::XOR_PEER_ADDRESS;
        self.first(t, |v| decode_address(t.0, v, Some(&self.tid)))
    }

    /// Every XOR-PEER-ADDRESS (a CreatePermission may carry several), in order.
    pub fn xor_peer_addresses(&self) -> impl Iterator<Item = Result<SocketAddr, Error>> + 'a {
        self.addresses(AttrType::XOR_PEER_ADDRESS)
    }

    /// The first XOR-RELAYED-ADDRESS.
    pub fn xor_relayed_address(&self) -> Result<Option<SocketAddr>, Error> {
        let t = AttrType::XOR_RELAYED_ADDRESS;
        self.first(t, |v| decode_address(t.0, v, Some(&self.tid)))
    }

    /// Every XOR-RELAYED-ADDRESS (a dual-stack allocation has one per family), in order.
    pub fn xor_relayed_addresses(&self) -> impl Iterator<Item = Result<SocketAddr, Error>> + 'a {
        self.addresses(AttrType::XOR_RELAYED_ADDRESS)
    }

    /// ALTERNATE-SERVER.
    pub fn alternate_server(&self) -> Result<Option<SocketAddr>, Error> {
        let t = AttrType::ALTERNATE_SERVER;
        self.first(t, |v| decode_address(t.0, v, None))
    }

    /// USERNAME.
    pub fn username(&self) -> Result<Option<&'a str>, Error> {
        let t = AttrType::USERNAME;
        self.first(t, |v| bounded_text(t, v, USERNAME_MAX))
    }

    /// USERHASH.
    pub fn userhash(&self) -> Result<Option<&'a [u8; 32]>, Error> {
        let t = AttrType::USERHASH;
        self.first(t, |v| decode_bytes(t, v))
    }

    /// REALM.
    pub fn realm(&self) -> Result<Option<&'a str>, Error> {
        let t = AttrType::REALM;
        self.first(t, |v| bounded_text(t, v, TEXT_MAX))
    }

    /// NONCE.
    pub fn nonce(&self) -> Result<Option<&'a str>, Error> {
        let t = AttrType::NONCE;
        self.first(t, |v| bounded_text(t, v, TEXT_MAX))
    }

    /// SOFTWARE.
    pub fn software(&self) -> Result<Option<&'a str>, Error> {
        let t = AttrType::SOFTWARE;
        self.first(t, |v| bounded_text(t, v, TEXT_MAX))
    }

    /// PASSWORD-ALGORITHM.
    pub fn password_algorithm(&self) -> Result<Option<PasswordAlgorithm<'a>>, Error> {
        self.first(AttrType::PASSWORD_ALGORITHM, PasswordAlgorithm::decode)
    }

    /// PASSWORD-ALGORITHMS.
    pub fn password_algorithms(&self) -> Result<Option<PasswordAlgorithms<'a>>, Error> {
        self.first(AttrType::PASSWORD_ALGORITHMS, PasswordAlgorithms::decode)
    }

    /// ERROR-CODE.
    pub fn error_code(&self) -> Result<Option<ErrorCode<'a>>, Error> {
        self.first(AttrType::ERROR_CODE, ErrorCode::decode)
    }

    /// UNKNOWN-ATTRIBUTES.
    pub fn unknown_attributes(&self) -> Result<Option<UnknownAttributes<'a>>, Error> {
        self.first(AttrType::UNKNOWN_ATTRIBUTES, UnknownAttributes::decode)
    }

    /// LIFETIME in seconds.
    pub fn lifetime(&self) -> Result<Option<u32>, Error> {
        let t = AttrType::LIFETIME;
        self.first(t, |v| {
            decode_bytes(t, v).map(|b: &[u8; 4]| u32::from_be_bytes(*b))
        })
    }

    /// CHANNEL-NUMBER (checked to be in [`crate::CHANNEL_NUMBERS`]).
    pub fn channel_number(&self) -> Result<Option<u16>, Error> {
        self.first(AttrType::CHANNEL_NUMBER, decode_channel_number)
    }

    /// DATA.
    pub fn data(&self) -> Result<Option<&'a [u8]>, Error> {
        Ok(self.get(AttrType::DATA))
    }

    /// REQUESTED-TRANSPORT: the IP protocol number (17 for UDP, 6 for TCP).
    pub fn requested_transport(&self) -> Result<Option<u8>, Error> {
        let t = AttrType::REQUESTED_TRANSPORT;
        self.first(t, |v| decode_bytes(t, v).map(|b: &[u8; 4]| b[0]))
    }

    /// REQUESTED-ADDRESS-FAMILY.
    pub fn requested_address_family(&self) -> Result<Option<AddressFamily>, Error> {
        let t = AttrType::REQUESTED_ADDRESS_FAMILY;
        self.first(t, |v| decode_family(t, v))
    }

    /// ADDITIONAL-ADDRESS-FAMILY.
    pub fn additional_address_family(&self) -> Result<Option<AddressFamily>, Error> {
        let t = AttrType::ADDITIONAL_ADDRESS_FAMILY;
        self.first(t, |v| decode_family(t, v))
    }

    /// ADDRESS-ERROR-CODE.
    pub fn address_error_code(&self) -> Result<Option<AddressErrorCode<'a>>, Error> {
        self.first(AttrType::ADDRESS_ERROR_CODE, AddressErrorCode::decode)
    }

    /// EVEN-PORT: `Some(true)` when the R bit asks to reserve the next port too.
    pub fn even_port(&self) -> Result<Option<bool>, Error> {
        let t = AttrType::EVEN_PORT;
        self.first(t, |v| {
            decode_bytes(t, v).map(|b: &[u8; 1]| b[0] & 0x80 != 0)
        })
    }

    /// RESERVATION-TOKEN.
    pub fn reservation_token(&self) -> Result<Option<[u8; 8]>, Error> {
        let t = AttrType::RESERVATION_TOKEN;
        self.first(t, |v| decode_bytes(t, v).copied())
    }

    /// DONT-FRAGMENT: whether it is present.
    pub fn dont_fragment(&self) -> Result<bool, Error> {
        let t = AttrType::DONT_FRAGMENT;
        self.first(t, |v| decode_empty(t, v)).map(|o| o.is_some())
    }

    /// ICMP.
    pub fn icmp(&self) -> Result<Option<Icmp>, Error> {
        self.first(AttrType::ICMP, decode_icmp)
    }

    /// PRIORITY.
    pub fn priority(&self) -> Result<Option<u32>, Error> {
        let t = AttrType::PRIORITY;
        self.first(t, |v| {
            decode_bytes(t, v).map(|b: &[u8; 4]| u32::from_be_bytes(*b))
        })
    }

    /// USE-CANDIDATE: whether it is present.
    pub fn use_candidate(&self) -> Result<bool, Error> {
        let t = AttrType::USE_CANDIDATE;
        self.first(t, |v| decode_empty(t, v)).map(|o| o.is_some())
    }

    /// ICE-CONTROLLED's tie-breaker.
    pub fn ice_controlled(&self) -> Result<Option<u64>, Error> {
        let t = AttrType::ICE_CONTROLLED;
        self.first(t, |v| {
            decode_bytes(t, v).map(|b: &[u8; 8]| u64::from_be_bytes(*b))
        })
    }

    /// ICE-CONTROLLING's tie-breaker.
    pub fn ice_controlling(&self) -> Result<Option<u64>, Error> {
        let t = AttrType::ICE_CONTROLLING;
        self.first(t, |v| {
            decode_bytes(t, v).map(|b: &[u8; 8]| u64::from_be_bytes(*b))
        })
    }

    /// CONNECTION-ID (RFC 6062).
    pub fn connection_id(&self) -> Result<Option<u32>, Error> {
        let t = AttrType::CONNECTION_ID;
        self.first(t, |v| {
            decode_bytes(t, v).map(|b: &[u8; 4]| u32::from_be_bytes(*b))
        })
    }
}

/// Iterator over a message's content attributes; see [`Message::attributes`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (AttrType, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&[t0, t1, l0, l1], body) = self.rest.split_first_chunk::<4>()?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        // The walk in `parse` validated every TLV in this range.
        let value = body.get(..len)?;
        self.rest = body.get(padded(len)..).unwrap_or_default();
        Some((AttrType(u16::from_be_bytes([t0, t1])), value))
    }
}
