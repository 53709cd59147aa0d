//! The 20-byte STUN header: message type (class and method), length, magic cookie and
//! transaction ID (RFC 8489 section 5).

use std::fmt;

use crate::Error;

/// The magic cookie every RFC 5389/8489 message carries in bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Size of the STUN header.
pub const HEADER_LEN: usize = 20;

/// The 96-bit transaction ID chosen by the client and echoed in the response.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransactionId(pub [u8; 12]);

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TransactionId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl From<[u8; 12]> for TransactionId {
    fn from(bytes: [u8; 12]) -> Self {
        TransactionId(bytes)
    }
}

/// The message class (RFC 8489 section 5): the two C bits of the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request, answered by a success or error response.
    Request,
    /// An indication: no response.
    Indication,
    /// A success response.
    Success,
    /// An error response (carries ERROR-CODE).
    Error,
}

impl Class {
    /// The two class bits, C1 C0, as a number 0..=3.
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        }
    }
}

/// A STUN method: 12 bits. The constants cover STUN, TURN (RFC 8656) and TURN-TCP (RFC 6062);
/// other values are carried as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method(pub u16);

impl Method {
    /// Binding (RFC 8489).
    pub const BINDING: Method = Method(0x001);
    /// Allocate (RFC 8656).
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (RFC 8656).
    pub const REFRESH: Method = Method(0x004);
    /// Send, an indication (RFC 8656).
    pub const SEND: Method = Method(0x006);
    /// Data, an indication (RFC 8656).
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (RFC 8656).
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (RFC 8656).
    pub const CHANNEL_BIND: Method = Method(0x009);
    /// Connect (RFC 6062).
    pub const CONNECT: Method = Method(0x00A);
    /// ConnectionBind (RFC 6062).
    pub const CONNECTION_BIND: Method = Method(0x00B);
    /// ConnectionAttempt, an indication (RFC 6062).
    pub const CONNECTION_ATTEMPT: Method = Method(0x00C);

    /// The method's name, for logs; `None` for methods this crate has no constant for.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Method::BINDING => "Binding",
            Method::ALLOCATE => "Allocate",
            Method::REFRESH => "Refresh",
            Method::SEND => "Send",
            Method::DATA => "Data",
            Method::CREATE_PERMISSION => "CreatePermission",
            Method::CHANNEL_BIND => "ChannelBind",
            Method::CONNECT => "Connect",
            Method::CONNECTION_BIND => "ConnectionBind",
            Method::CONNECTION_ATTEMPT => "ConnectionAttempt",
            _ => return None,
        })
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Method({:#05x})", self.0),
        }
    }
}

/// Splits the 14-bit message type into class and method.
pub(crate) fn split_type(typ: u16) -> (Class, Method) {
    let class = Class::from_bits(((typ >> 7) & 0b10) | ((typ >> 4) & 0b01));
    let method = (typ & 0x000F) | ((typ >> 1) & 0x0070) | ((typ >> 2) & 0x0F80);
    (class, Method(method))
}

/// Interleaves class and method into the 14-bit message type.
pub(crate) fn join_type(class: Class, method: Method) -> Result<u16, Error> {
    let m = method.0;
    if m > 0x0FFF {
        return Err(Error::Method(m));
    }
    let c = class.bits();
    Ok((m & 0x000F)
        | ((m & 0x0070) << 1)
        | ((m & 0x0F80) << 2)
        | ((c & 0b01) << 4)
        | ((c & 0b10) << 7))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn message_type_bits_follow_rfc_8489_figure_3() {
        // Binding request 0x0001, success 0x0101, error 0x0111, indication 0x0011.
        assert_eq!(join_type(Class::Request, Method::BINDING).unwrap(), 0x0001);
        assert_eq!(join_type(Class::Success, Method::BINDING).unwrap(), 0x0101);
        assert_eq!(join_type(Class::Error, Method::BINDING).unwrap(), 0x0111);
        assert_eq!(
            join_type(Class::Indication, Method::BINDING).unwrap(),
            0x0011
        );
        // Allocate error 0x0113, Send indication 0x0016, Data indication 0x0017.
        assert_eq!(join_type(Class::Error, Method::ALLOCATE).unwrap(), 0x0113);
        assert_eq!(join_type(Class::Indication, Method::SEND).unwrap(), 0x0016);
        assert_eq!(join_type(Class::Indication, Method::DATA).unwrap(), 0x0017);
    }

    #[test]
    fn every_type_round_trips() {
        for typ in 0..0x4000u16 {
            let (class, method) = split_type(typ);
            assert_eq!(join_type(class, method).unwrap(), typ);
        }
        assert_eq!(
            join_type(Class::Request, Method(0x1000)),
            Err(Error::Method(0x1000))
        );
    }
}
