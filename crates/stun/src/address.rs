//! Transport addresses: MAPPED-ADDRESS and its XOR form (RFC 8489 sections 14.1, 14.2), the
//! address families of RFC 8656, and the codec both address formats share.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::header::MAGIC_COOKIE;
use crate::{Error, TransactionId};

/// An address family as STUN and TURN encode it (REQUESTED-ADDRESS-FAMILY,
/// ADDITIONAL-ADDRESS-FAMILY, ADDRESS-ERROR-CODE and the address attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// 0x01.
    V4,
    /// 0x02.
    V6,
}

impl AddressFamily {
    /// The family's wire value.
    pub fn code(self) -> u8 {
        match self {
            AddressFamily::V4 => 0x01,
            AddressFamily::V6 => 0x02,
        }
    }

    /// The family of a wire value, `None` for values STUN does not define.
    pub fn from_code(code: u8) -> Option<AddressFamily> {
        match code {
            0x01 => Some(AddressFamily::V4),
            0x02 => Some(AddressFamily::V6),
            _ => None,
        }
    }

    /// The family of an address.
    pub fn of(addr: &SocketAddr) -> AddressFamily {
        match addr {
            SocketAddr::V4(_) => AddressFamily::V4,
            SocketAddr::V6(_) => AddressFamily::V6,
        }
    }
}

/// Size of an encoded address attribute value.
pub(crate) fn address_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

/// The 16-byte XOR mask of the XOR address attributes: magic cookie then transaction ID.
fn xor_mask(tid: &TransactionId) -> [u8; 16] {
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(&tid.0);
    mask
}

/// Decodes an address value; `xor` carries the transaction ID for the XOR form.
pub(crate) fn decode_address(
    attr: u16,
    value: &[u8],
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, Error> {
    let bad_len = Error::AttributeLength {
        attr,
        len: value.len(),
    };
    let [_, family, p0, p1, rest @ ..] = value else {
        return Err(bad_len);
    };
    let mut port = u16::from_be_bytes([*p0, *p1]);
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (AddressFamily::from_code(*family), rest.len()) {
        (Some(AddressFamily::V4), 4) => {
            let mut raw = [rest[0], rest[1], rest[2], rest[3]];
            if let Some(tid) = xor {
                let mask = xor_mask(tid);
                raw.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
            }
            IpAddr::V4(Ipv4Addr::from(raw))
        }
        (Some(AddressFamily::V6), 16) => {
            let mut raw = [0u8; 16];
            raw.copy_from_slice(rest);
            if let Some(tid) = xor {
                let mask = xor_mask(tid);
                raw.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
            }
            IpAddr::V6(Ipv6Addr::from(raw))
        }
        (Some(_), _) => return Err(bad_len),
        (None, _) => return Err(Error::AttributeValue { attr }),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Writes an address value into `out`, which is exactly [`address_len`] bytes.
pub(crate) fn encode_address(addr: &SocketAddr, xor: Option<&TransactionId>, out: &mut [u8]) {
    out[0] = 0;
    out[1] = AddressFamily::of(addr).code();
    let mut port = addr.port();
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    out[2..4].copy_from_slice(&port.to_be_bytes());
    let raw = &mut out[4..];
    match addr.ip() {
        IpAddr::V4(ip) => raw.copy_from_slice(&ip.octets()),
        IpAddr::V6(ip) => raw.copy_from_slice(&ip.octets()),
    }
    if let Some(tid) = xor {
        raw.iter_mut().zip(xor_mask(tid)).for_each(|(b, m)| *b ^= m);
    }
}
