//! Attribute types and their typed values (RFC 8489 section 14, RFC 8656 section 18,
//! RFC 8445 section 16.1, RFC 6062 section 6.2).

use std::fmt;
use std::net::SocketAddr;

use crate::address::{address_len, decode_address, encode_address, AddressFamily};
use crate::error_code::{AddressErrorCode, ErrorCode};
use crate::password::{PasswordAlgorithm, PasswordAlgorithms};
use crate::{Error, TransactionId};

/// An attribute type code. Types below 0x8000 are comprehension-required: a receiver that
/// does not know one must reject the request with 420 and UNKNOWN-ATTRIBUTES.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrType(pub u16);

macro_rules! attr_types {
    ($($(#[$doc:meta])* $name:ident = $code:expr, $text:expr;)*) => {
        impl AttrType {
            $($(#[$doc])* pub const $name: AttrType = AttrType($code);)*

            /// The attribute's RFC name, `None` for types this crate does not know.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(AttrType::$name => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

attr_types! {
    /// MAPPED-ADDRESS (RFC 8489).
    MAPPED_ADDRESS = 0x0001, "MAPPED-ADDRESS";
    /// USERNAME (RFC 8489).
    USERNAME = 0x0006, "USERNAME";
    /// MESSAGE-INTEGRITY: HMAC-SHA1 (RFC 8489).
    MESSAGE_INTEGRITY = 0x0008, "MESSAGE-INTEGRITY";
    /// ERROR-CODE (RFC 8489).
    ERROR_CODE = 0x0009, "ERROR-CODE";
    /// UNKNOWN-ATTRIBUTES (RFC 8489).
    UNKNOWN_ATTRIBUTES = 0x000A, "UNKNOWN-ATTRIBUTES";
    /// CHANNEL-NUMBER (RFC 8656).
    CHANNEL_NUMBER = 0x000C, "CHANNEL-NUMBER";
    /// LIFETIME in seconds (RFC 8656).
    LIFETIME = 0x000D, "LIFETIME";
    /// XOR-PEER-ADDRESS (RFC 8656); may appear several times.
    XOR_PEER_ADDRESS = 0x0012, "XOR-PEER-ADDRESS";
    /// DATA (RFC 8656).
    DATA = 0x0013, "DATA";
    /// REALM (RFC 8489).
    REALM = 0x0014, "REALM";
    /// NONCE (RFC 8489).
    NONCE = 0x0015, "NONCE";
    /// XOR-RELAYED-ADDRESS (RFC 8656); up to two (one per family).
    XOR_RELAYED_ADDRESS = 0x0016, "XOR-RELAYED-ADDRESS";
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656).
    REQUESTED_ADDRESS_FAMILY = 0x0017, "REQUESTED-ADDRESS-FAMILY";
    /// EVEN-PORT (RFC 8656).
    EVEN_PORT = 0x0018, "EVEN-PORT";
    /// REQUESTED-TRANSPORT (RFC 8656).
    REQUESTED_TRANSPORT = 0x0019, "REQUESTED-TRANSPORT";
    /// DONT-FRAGMENT (RFC 8656).
    DONT_FRAGMENT = 0x001A, "DONT-FRAGMENT";
    /// MESSAGE-INTEGRITY-SHA256: HMAC-SHA256 (RFC 8489).
    MESSAGE_INTEGRITY_SHA256 = 0x001C, "MESSAGE-INTEGRITY-SHA256";
    /// PASSWORD-ALGORITHM (RFC 8489).
    PASSWORD_ALGORITHM = 0x001D, "PASSWORD-ALGORITHM";
    /// USERHASH (RFC 8489).
    USERHASH = 0x001E, "USERHASH";
    /// XOR-MAPPED-ADDRESS (RFC 8489).
    XOR_MAPPED_ADDRESS = 0x0020, "XOR-MAPPED-ADDRESS";
    /// RESERVATION-TOKEN (RFC 8656).
    RESERVATION_TOKEN = 0x0022, "RESERVATION-TOKEN";
    /// PRIORITY (RFC 8445).
    PRIORITY = 0x0024, "PRIORITY";
    /// USE-CANDIDATE (RFC 8445).
    USE_CANDIDATE = 0x0025, "USE-CANDIDATE";
    /// CONNECTION-ID (RFC 6062).
    CONNECTION_ID = 0x002A, "CONNECTION-ID";
    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656).
    ADDITIONAL_ADDRESS_FAMILY = 0x8000, "ADDITIONAL-ADDRESS-FAMILY";
    /// ADDRESS-ERROR-CODE (RFC 8656).
    ADDRESS_ERROR_CODE = 0x8001, "ADDRESS-ERROR-CODE";
    /// PASSWORD-ALGORITHMS (RFC 8489).
    PASSWORD_ALGORITHMS = 0x8002, "PASSWORD-ALGORITHMS";
    /// ICMP (RFC 8656).
    ICMP = 0x8004, "ICMP";
    /// SOFTWARE (RFC 8489).
    SOFTWARE = 0x8022, "SOFTWARE";
    /// ALTERNATE-SERVER (RFC 8489).
    ALTERNATE_SERVER = 0x8023, "ALTERNATE-SERVER";
    /// FINGERPRINT: CRC-32 of the message (RFC 8489).
    FINGERPRINT = 0x8028, "FINGERPRINT";
    /// ICE-CONTROLLED (RFC 8445).
    ICE_CONTROLLED = 0x8029, "ICE-CONTROLLED";
    /// ICE-CONTROLLING (RFC 8445).
    ICE_CONTROLLING = 0x802A, "ICE-CONTROLLING";
}

impl AttrType {
    /// Types below 0x8000 must be understood by the receiver (RFC 8489 section 15).
    pub fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// Whether this crate decodes the type (every constant on [`AttrType`]).
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "AttrType({:#06x})", self.0),
        }
    }
}

/// Longest USERNAME accepted or written: RFC 5389's "less than 513 bytes" (RFC 8489 lowered
/// the sending limit to 508; accepting the older limit keeps old clients working).
pub(crate) const USERNAME_MAX: usize = 512;
/// Longest REALM, NONCE, SOFTWARE and reason phrase: 128 characters, up to 763 bytes.
pub(crate) const TEXT_MAX: usize = 763;

/// Rounds a value length up to the 4-byte attribute boundary.
pub(crate) fn padded(len: usize) -> usize {
    (len + 3) & !3
}

/// A text value: UTF-8.
pub(crate) fn text(attr: AttrType, value: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(value).map_err(|_| Error::AttributeUtf8 { attr: attr.0 })
}

/// A fixed-size value.
pub(crate) fn decode_bytes<const N: usize>(
    attr: AttrType,
    value: &[u8],
) -> Result<&[u8; N], Error> {
    value.try_into().map_err(|_| Error::AttributeLength {
        attr: attr.0,
        len: value.len(),
    })
}

/// An empty value (DONT-FRAGMENT, USE-CANDIDATE).
pub(crate) fn decode_empty(attr: AttrType, value: &[u8]) -> Result<(), Error> {
    decode_bytes::<0>(attr, value).map(|_| ())
}

/// A family byte followed by three reserved bytes.
pub(crate) fn decode_family(attr: AttrType, value: &[u8]) -> Result<AddressFamily, Error> {
    let [code, ..] = *decode_bytes::<4>(attr, value)?;
    AddressFamily::from_code(code).ok_or(Error::AttributeValue { attr: attr.0 })
}

/// CHANNEL-NUMBER: the number, then 16 reserved bits.
pub(crate) fn decode_channel_number(value: &[u8]) -> Result<u16, Error> {
    let [n0, n1, _, _] = *decode_bytes::<4>(AttrType::CHANNEL_NUMBER, value)?;
    let number = u16::from_be_bytes([n0, n1]);
    if !crate::channel_data::is_channel_number(number) {
        return Err(Error::ChannelNumber(number));
    }
    Ok(number)
}

/// ICMP: 16 reserved bits, type, code, error data.
pub(crate) fn decode_icmp(value: &[u8]) -> Result<Icmp, Error> {
    let [_, _, typ, code, d0, d1, d2, d3] = *decode_bytes::<8>(AttrType::ICMP, value)?;
    Ok(Icmp {
        typ,
        code,
        data: u32::from_be_bytes([d0, d1, d2, d3]),
    })
}

/// A text value no longer than `max` bytes.
pub(crate) fn bounded_text(attr: AttrType, value: &[u8], max: usize) -> Result<&str, Error> {
    if value.len() > max {
        return Err(Error::AttributeLength {
            attr: attr.0,
            len: value.len(),
        });
    }
    text(attr, value)
}

/// The ICMP attribute: what the relay learned about a peer's ICMP error (RFC 8656 section 18.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmp {
    /// ICMP type.
    pub typ: u8,
    /// ICMP code.
    pub code: u8,
    /// Error data (e.g. the next-hop MTU for "fragmentation needed").
    pub data: u32,
}

/// The UNKNOWN-ATTRIBUTES list: as received (the wire bytes) or as given to the encoder.
/// Iterate with [`UnknownAttributes::iter`].
#[derive(Debug, Clone, Copy)]
pub struct UnknownAttributes<'a>(UnknownRepr<'a>);

#[derive(Debug, Clone, Copy)]
enum UnknownRepr<'a> {
    Wire(&'a [u8]),
    List(&'a [AttrType]),
}

impl<'a> UnknownAttributes<'a> {
    /// A list to encode (typically what [`crate::Message::unknown_comprehension_required`]
    /// filled).
    pub fn new(list: &'a [AttrType]) -> Self {
        UnknownAttributes(UnknownRepr::List(list))
    }

    /// The attribute types in order.
    pub fn iter(&self) -> impl Iterator<Item = AttrType> + 'a {
        let (wire, list): (&'a [u8], &'a [AttrType]) = match self.0 {
            UnknownRepr::Wire(w) => (w, &[]),
            UnknownRepr::List(l) => (&[], l),
        };
        wire.chunks_exact(2)
            .map(|c| AttrType(u16::from_be_bytes([c[0], c[1]])))
            .chain(list.iter().copied())
    }

    pub(crate) fn decode(value: &'a [u8]) -> Result<Self, Error> {
        if value.len() % 2 != 0 {
            return Err(Error::AttributeLength {
                attr: AttrType::UNKNOWN_ATTRIBUTES.0,
                len: value.len(),
            });
        }
        Ok(UnknownAttributes(UnknownRepr::Wire(value)))
    }

    fn value_len(&self) -> usize {
        match self.0 {
            UnknownRepr::Wire(w) => w.len(),
            UnknownRepr::List(l) => 2 * l.len(),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        for (slot, typ) in out.chunks_exact_mut(2).zip(self.iter()) {
            slot.copy_from_slice(&typ.0.to_be_bytes());
        }
    }
}

impl PartialEq for UnknownAttributes<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for UnknownAttributes<'_> {}

/// A decoded attribute, borrowing from the message buffer. Decode with
/// [`crate::Message::attributes`] (every attribute) or the typed getters on
/// [`crate::Message`]; encode with [`crate::MessageEncoder::attribute`].
///
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are not attributes of this
/// enum: the message checks them ([`crate::Message::verify_integrity`]) and the encoder
/// computes them ([`crate::MessageEncoder::message_integrity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute<'a> {
    /// MAPPED-ADDRESS: the reflexive address, unobfuscated (RFC 3489 clients).
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS: the reflexive address.
    XorMappedAddress(SocketAddr),
    /// XOR-PEER-ADDRESS: a TURN peer.
    XorPeerAddress(SocketAddr),
    /// XOR-RELAYED-ADDRESS: the address a TURN allocation relays from.
    XorRelayedAddress(SocketAddr),
    /// ALTERNATE-SERVER: where a 300 response redirects the client.
    AlternateServer(SocketAddr),
    /// USERNAME (at most 512 bytes).
    Username(&'a str),
    /// USERHASH: SHA-256 of "username:realm".
    Userhash(&'a [u8; 32]),
    /// REALM.
    Realm(&'a str),
    /// NONCE.
    Nonce(&'a str),
    /// SOFTWARE: the agent's name and version.
    Software(&'a str),
    /// PASSWORD-ALGORITHM: the algorithm the client chose.
    PasswordAlgorithm(PasswordAlgorithm<'a>),
    /// PASSWORD-ALGORITHMS: the algorithms the server offers.
    PasswordAlgorithms(PasswordAlgorithms<'a>),
    /// ERROR-CODE.
    ErrorCode(ErrorCode<'a>),
    /// UNKNOWN-ATTRIBUTES (in 420 responses).
    UnknownAttributes(UnknownAttributes<'a>),
    /// LIFETIME in seconds.
    Lifetime(u32),
    /// CHANNEL-NUMBER (in [`crate::CHANNEL_NUMBERS`]; decoder and encoder check the range).
    ChannelNumber(u16),
    /// DATA: the application payload of Send and Data indications.
    Data(&'a [u8]),
    /// REQUESTED-TRANSPORT: an IP protocol number (17 = UDP, 6 = TCP).
    RequestedTransport(u8),
    /// REQUESTED-ADDRESS-FAMILY.
    RequestedAddressFamily(AddressFamily),
    /// ADDITIONAL-ADDRESS-FAMILY (only IPv6 is meaningful).
    AdditionalAddressFamily(AddressFamily),
    /// ADDRESS-ERROR-CODE.
    AddressErrorCode(AddressErrorCode<'a>),
    /// EVEN-PORT; `true` when the R bit asks to reserve the next port as well.
    EvenPort(bool),
    /// RESERVATION-TOKEN.
    ReservationToken([u8; 8]),
    /// DONT-FRAGMENT.
    DontFragment,
    /// ICMP.
    Icmp(Icmp),
    /// PRIORITY (ICE).
    Priority(u32),
    /// USE-CANDIDATE (ICE).
    UseCandidate,
    /// ICE-CONTROLLED with its tie-breaker.
    IceControlled(u64),
    /// ICE-CONTROLLING with its tie-breaker.
    IceControlling(u64),
    /// CONNECTION-ID (RFC 6062).
    ConnectionId(u32),
    /// Any other type, raw (also how unknown attributes can be encoded).
    Other {
        /// The type.
        typ: AttrType,
        /// The value, unpadded.
        value: &'a [u8],
    },
}

impl<'a> Attribute<'a> {
    /// Decodes one attribute value. `tid` unmasks the XOR addresses. MESSAGE-INTEGRITY,
    /// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT come back as [`Attribute::Other`].
    pub fn decode(typ: AttrType, value: &'a [u8], tid: &TransactionId) -> Result<Self, Error> {
        use Attribute as A;
        let t = typ;
        let v = value;
        let u32_of = |v| decode_bytes(t, v).map(|b: &[u8; 4]| u32::from_be_bytes(*b));
        let u64_of = |v| decode_bytes(t, v).map(|b: &[u8; 8]| u64::from_be_bytes(*b));
        Ok(match typ {
            AttrType::MAPPED_ADDRESS => A::MappedAddress(decode_address(t.0, v, None)?),
            AttrType::XOR_MAPPED_ADDRESS => A::XorMappedAddress(decode_address(t.0, v, Some(tid))?),
            AttrType::XOR_PEER_ADDRESS => A::XorPeerAddress(decode_address(t.0, v, Some(tid))?),
            AttrType::XOR_RELAYED_ADDRESS => {
                A::XorRelayedAddress(decode_address(t.0, v, Some(tid))?)
            }
            AttrType::ALTERNATE_SERVER => A::AlternateServer(decode_address(t.0, v, None)?),
            AttrType::USERNAME => A::Username(bounded_text(t, v, USERNAME_MAX)?),
            AttrType::USERHASH => A::Userhash(decode_bytes(t, v)?),
            AttrType::REALM => A::Realm(bounded_text(t, v, TEXT_MAX)?),
            AttrType::NONCE => A::Nonce(bounded_text(t, v, TEXT_MAX)?),
            AttrType::SOFTWARE => A::Software(bounded_text(t, v, TEXT_MAX)?),
            AttrType::PASSWORD_ALGORITHM => A::PasswordAlgorithm(PasswordAlgorithm::decode(v)?),
            AttrType::PASSWORD_ALGORITHMS => A::PasswordAlgorithms(PasswordAlgorithms::decode(v)?),
            AttrType::ERROR_CODE => A::ErrorCode(ErrorCode::decode(v)?),
            AttrType::UNKNOWN_ATTRIBUTES => A::UnknownAttributes(UnknownAttributes::decode(v)?),
            AttrType::LIFETIME => A::Lifetime(u32_of(v)?),
            AttrType::CHANNEL_NUMBER => A::ChannelNumber(decode_channel_number(v)?),
            AttrType::DATA => A::Data(v),
            AttrType::REQUESTED_TRANSPORT => {
                A::RequestedTransport(decode_bytes(t, v).map(|b: &[u8; 4]| b[0])?)
            }
            AttrType::REQUESTED_ADDRESS_FAMILY => A::RequestedAddressFamily(decode_family(t, v)?),
            AttrType::ADDITIONAL_ADDRESS_FAMILY => A::AdditionalAddressFamily(decode_family(t, v)?),
            AttrType::ADDRESS_ERROR_CODE => A::AddressErrorCode(AddressErrorCode::decode(v)?),
            AttrType::EVEN_PORT => {
                A::EvenPort(decode_bytes(t, v).map(|b: &[u8; 1]| b[0] & 0x80 != 0)?)
            }
            AttrType::RESERVATION_TOKEN => A::ReservationToken(*decode_bytes(t, v)?),
            AttrType::DONT_FRAGMENT => decode_empty(t, v).map(|()| A::DontFragment)?,
            AttrType::ICMP => A::Icmp(decode_icmp(v)?),
            AttrType::PRIORITY => A::Priority(u32_of(v)?),
            AttrType::USE_CANDIDATE => decode_empty(t, v).map(|()| A::UseCandidate)?,
            AttrType::ICE_CONTROLLED => A::IceControlled(u64_of(v)?),
            AttrType::ICE_CONTROLLING => A::IceControlling(u64_of(v)?),
            AttrType::CONNECTION_ID => A::ConnectionId(u32_of(v)?),
            _ => A::Other { typ, value },
        })
    }

    /// The attribute's type code.
    pub fn typ(&self) -> AttrType {
        use Attribute as A;
        match self {
            A::MappedAddress(_) => AttrType::MAPPED_ADDRESS,
            A::XorMappedAddress(_) => AttrType::XOR_MAPPED_ADDRESS,
            A::XorPeerAddress(_) => AttrType::XOR_PEER_ADDRESS,
            A::XorRelayedAddress(_) => AttrType::XOR_RELAYED_ADDRESS,
            A::AlternateServer(_) => AttrType::ALTERNATE_SERVER,
            A::Username(_) => AttrType::USERNAME,
            A::Userhash(_) => AttrType::USERHASH,
            A::Realm(_) => AttrType::REALM,
            A::Nonce(_) => AttrType::NONCE,
            A::Software(_) => AttrType::SOFTWARE,
            A::PasswordAlgorithm(_) => AttrType::PASSWORD_ALGORITHM,
            A::PasswordAlgorithms(_) => AttrType::PASSWORD_ALGORITHMS,
            A::ErrorCode(_) => AttrType::ERROR_CODE,
            A::UnknownAttributes(_) => AttrType::UNKNOWN_ATTRIBUTES,
            A::Lifetime(_) => AttrType::LIFETIME,
            A::ChannelNumber(_) => AttrType::CHANNEL_NUMBER,
            A::Data(_) => AttrType::DATA,
            A::RequestedTransport(_) => AttrType::REQUESTED_TRANSPORT,
            A::RequestedAddressFamily(_) => AttrType::REQUESTED_ADDRESS_FAMILY,
            A::AdditionalAddressFamily(_) => AttrType::ADDITIONAL_ADDRESS_FAMILY,
            A::AddressErrorCode(_) => AttrType::ADDRESS_ERROR_CODE,
            A::EvenPort(_) => AttrType::EVEN_PORT,
            A::ReservationToken(_) => AttrType::RESERVATION_TOKEN,
            A::DontFragment => AttrType::DONT_FRAGMENT,
            A::Icmp(_) => AttrType::ICMP,
            A::Priority(_) => AttrType::PRIORITY,
            A::UseCandidate => AttrType::USE_CANDIDATE,
            A::IceControlled(_) => AttrType::ICE_CONTROLLED,
            A::IceControlling(_) => AttrType::ICE_CONTROLLING,
            A::ConnectionId(_) => AttrType::CONNECTION_ID,
            A::Other { typ, .. } => *typ,
        }
    }

    /// Size of the encoded attribute: 4-byte TLV header plus the value padded to 4. Errors
    /// when the value cannot be encoded (see [`crate::MessageEncoder::attribute`]).
    pub fn encoded_len(&self) -> Result<usize, Error> {
        self.value_len().map(|len| 4 + padded(len))
    }

    /// Checks the value can be encoded (lengths, ranges) and returns its unpadded length.
    pub(crate) fn value_len(&self) -> Result<usize, Error> {
        use Attribute as A;
        let typ = self.typ();
        let too_long = |len: usize, max: usize| {
            if len > max {
                Err(Error::AttributeLength { attr: typ.0, len })
            } else {
                Ok(len)
            }
        };
        match self {
            A::MappedAddress(a)
            | A::XorMappedAddress(a)
            | A::XorPeerAddress(a)
            | A::XorRelayedAddress(a)
            | A::AlternateServer(a) => Ok(address_len(a)),
            A::Username(s) => too_long(s.len(), USERNAME_MAX),
            A::Realm(s) | A::Nonce(s) | A::Software(s) => too_long(s.len(), TEXT_MAX),
            A::Userhash(_) => Ok(32),
            A::PasswordAlgorithm(p) => too_long(p.value_len(), usize::from(u16::MAX)),
            A::PasswordAlgorithms(p) => too_long(p.value_len(), usize::from(u16::MAX)),
            A::ErrorCode(e) => e.check().map(|()| e.value_len()),
            A::AddressErrorCode(e) => e.check().map(|()| e.value_len()),
            A::UnknownAttributes(u) => too_long(u.value_len(), usize::from(u16::MAX)),
            A::ChannelNumber(n) if !crate::channel_data::is_channel_number(*n) => {
                Err(Error::ChannelNumber(*n))
            }
            A::Lifetime(_)
            | A::ChannelNumber(_)
            | A::RequestedTransport(_)
            | A::RequestedAddressFamily(_)
            | A::AdditionalAddressFamily(_)
            | A::Priority(_)
            | A::ConnectionId(_) => Ok(4),
            A::Data(d) | A::Other { value: d, .. } => too_long(d.len(), usize::from(u16::MAX)),
            A::EvenPort(_) => Ok(1),
            A::ReservationToken(_) | A::Icmp(_) | A::IceControlled(_) | A::IceControlling(_) => {
                Ok(8)
            }
            A::DontFragment | A::UseCandidate => Ok(0),
        }
    }

    /// Writes the value into `out`, exactly [`Attribute::value_len`] bytes.
    pub(crate) fn encode(&self, out: &mut [u8], tid: &TransactionId) {
        use Attribute as A;
        match self {
            A::MappedAddress(a) | A::AlternateServer(a) => encode_address(a, None, out),
            A::XorMappedAddress(a) | A::XorPeerAddress(a) | A::XorRelayedAddress(a) => {
                encode_address(a, Some(tid), out)
            }
            A::Username(s) | A::Realm(s) | A::Nonce(s) | A::Software(s) => {
                out.copy_from_slice(s.as_bytes())
            }
            A::Userhash(h) => out.copy_from_slice(&h[..]),
            A::PasswordAlgorithm(p) => p.encode(out),
            A::PasswordAlgorithms(p) => p.encode(out),
            A::ErrorCode(e) => e.encode(out),
            A::AddressErrorCode(e) => e.encode(out),
            A::UnknownAttributes(u) => u.encode(out),
            A::Lifetime(v) | A::Priority(v) | A::ConnectionId(v) => {
                out.copy_from_slice(&v.to_be_bytes())
            }
            A::ChannelNumber(n) => {
                out[..2].copy_from_slice(&n.to_be_bytes());
                out[2..].fill(0);
            }
            A::Data(d) | A::Other { value: d, .. } => out.copy_from_slice(d),
            A::RequestedTransport(p) => out.copy_from_slice(&[*p, 0, 0, 0]),
            A::RequestedAddressFamily(f) | A::AdditionalAddressFamily(f) => {
                out.copy_from_slice(&[f.code(), 0, 0, 0])
            }
            A::EvenPort(reserve) => out[0] = if *reserve { 0x80 } else { 0 },
            A::ReservationToken(t) => out.copy_from_slice(t),
            A::Icmp(i) => {
                out[..2].fill(0);
                out[2] = i.typ;
                out[3] = i.code;
                out[4..].copy_from_slice(&i.data.to_be_bytes());
            }
            A::IceControlled(v) | A::IceControlling(v) => out.copy_from_slice(&v.to_be_bytes()),
            A::DontFragment | A::UseCandidate => {}
        }
    }
}
