//! ERROR-CODE (RFC 8489 section 14.8) and ADDRESS-ERROR-CODE (RFC 8656 section 18.12).

use crate::address::AddressFamily;
use crate::attribute::{text, AttrType, TEXT_MAX};
use crate::Error;

/// An error response's code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The code, 300..=699 (e.g. [`ErrorCode::UNAUTHORIZED`]).
    pub code: u16,
    /// A human-readable reason phrase (UTF-8, may be empty).
    pub reason: &'a str,
}

impl<'a> ErrorCode<'a> {
    /// 300: the client should contact ALTERNATE-SERVER.
    pub const TRY_ALTERNATE: u16 = 300;
    /// 400: the request was malformed.
    pub const BAD_REQUEST: u16 = 400;
    /// 401: credentials missing or wrong.
    pub const UNAUTHORIZED: u16 = 401;
    /// 403: the request was valid but cannot be performed (policy).
    pub const FORBIDDEN: u16 = 403;
    /// 405: the method is not allowed on this transport (RFC 8656).
    pub const MOBILITY_FORBIDDEN: u16 = 405;
    /// 420: comprehension-required attributes were not understood (UNKNOWN-ATTRIBUTES lists them).
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 437: the 5-tuple has no allocation, or the request does not match it (RFC 8656).
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438: the NONCE is no longer valid.
    pub const STALE_NONCE: u16 = 438;
    /// 440: the address family is not supported (RFC 8656).
    pub const ADDRESS_FAMILY_NOT_SUPPORTED: u16 = 440;
    /// 441: the credentials do not match the allocation's (RFC 8656).
    pub const WRONG_CREDENTIALS: u16 = 441;
    /// 442: the REQUESTED-TRANSPORT is not supported (RFC 8656).
    pub const UNSUPPORTED_TRANSPORT_PROTOCOL: u16 = 442;
    /// 443: the peer's address family differs from the relayed address's (RFC 8656).
    pub const PEER_ADDRESS_FAMILY_MISMATCH: u16 = 443;
    /// 446: a TCP connection to the peer already exists (RFC 6062).
    pub const CONNECTION_ALREADY_EXISTS: u16 = 446;
    /// 447: the TCP connection to the peer failed or timed out (RFC 6062).
    pub const CONNECTION_TIMEOUT_OR_FAILURE: u16 = 447;
    /// 486: the user's allocation quota is reached (RFC 8656).
    pub const ALLOCATION_QUOTA_REACHED: u16 = 486;
    /// 487: ICE role conflict (RFC 8445).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500: the server hit a temporary error.
    pub const SERVER_ERROR: u16 = 500;
    /// 508: the server cannot satisfy the request now (no relay port, RFC 8656).
    pub const INSUFFICIENT_CAPACITY: u16 = 508;

    /// A code with its reason phrase.
    pub fn new(code: u16, reason: &'a str) -> Self {
        ErrorCode { code, reason }
    }

    /// The RFC's reason phrase for a code this crate knows, for responses that need no
    /// custom text.
    pub fn default_reason(code: u16) -> &'static str {
        match code {
            300 => "Try Alternate",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            405 => "Mobility Forbidden",
            420 => "Unknown Attribute",
            437 => "Allocation Mismatch",
            438 => "Stale Nonce",
            440 => "Address Family not Supported",
            441 => "Wrong Credentials",
            442 => "Unsupported Transport Protocol",
            443 => "Peer Address Family Mismatch",
            446 => "Connection Already Exists",
            447 => "Connection Timeout or Failure",
            486 => "Allocation Quota Reached",
            487 => "Role Conflict",
            500 => "Server Error",
            508 => "Insufficient Capacity",
            _ => "",
        }
    }
}

/// Decodes the shared "Class / Number / reason" tail starting at byte 2 of `value`.
fn decode_code(attr: AttrType, value: &[u8]) -> Result<(u16, &str), Error> {
    if value.len() < 4 || value.len() - 4 > TEXT_MAX {
        return Err(Error::AttributeLength {
            attr: attr.0,
            len: value.len(),
        });
    }
    let class = u16::from(value[2] & 0x07);
    let number = u16::from(value[3]);
    if !(3..=6).contains(&class) || number > 99 {
        return Err(Error::AttributeValue { attr: attr.0 });
    }
    Ok((class * 100 + number, text(attr, &value[4..])?))
}

/// Writes the shared tail; `out` is 4 + reason bytes, bytes 0..2 written by the caller.
fn encode_code(code: u16, reason: &str, out: &mut [u8]) {
    out[2] = (code / 100) as u8;
    out[3] = (code % 100) as u8;
    out[4..].copy_from_slice(reason.as_bytes());
}

/// Checks a code and reason before encoding.
fn check_code(attr: AttrType, code: u16, reason: &str) -> Result<(), Error> {
    if !(300..=699).contains(&code) {
        return Err(Error::ErrorCode(code));
    }
    if reason.len() > TEXT_MAX {
        return Err(Error::AttributeLength {
            attr: attr.0,
            len: reason.len(),
        });
    }
    Ok(())
}

impl<'a> ErrorCode<'a> {
    pub(crate) fn decode(value: &'a [u8]) -> Result<Self, Error> {
        let (code, reason) = decode_code(AttrType::ERROR_CODE, value)?;
        Ok(ErrorCode { code, reason })
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        check_code(AttrType::ERROR_CODE, self.code, self.reason)
    }

    pub(crate) fn value_len(&self) -> usize {
        4 + self.reason.len()
    }

    pub(crate) fn encode(&self, out: &mut [u8]) {
        out[0] = 0;
        out[1] = 0;
        encode_code(self.code, self.reason, out);
    }
}

/// Why an allocation could not get a relayed address of one family (RFC 8656 section 18.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressErrorCode<'a> {
    /// The family that failed.
    pub family: AddressFamily,
    /// The code, 300..=699 (typically 440 or 508).
    pub code: u16,
    /// A human-readable reason phrase.
    pub reason: &'a str,
}

impl<'a> AddressErrorCode<'a> {
    pub(crate) fn decode(value: &'a [u8]) -> Result<Self, Error> {
        let attr = AttrType::ADDRESS_ERROR_CODE;
        let (code, reason) = decode_code(attr, value)?;
        let family =
            AddressFamily::from_code(value[0]).ok_or(Error::AttributeValue { attr: attr.0 })?;
        Ok(AddressErrorCode {
            family,
            code,
            reason,
        })
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        check_code(AttrType::ADDRESS_ERROR_CODE, self.code, self.reason)
    }

    pub(crate) fn value_len(&self) -> usize {
        4 + self.reason.len()
    }

    pub(crate) fn encode(&self, out: &mut [u8]) {
        out[0] = self.family.code();
        out[1] = 0;
        encode_code(self.code, self.reason, out);
    }
}
