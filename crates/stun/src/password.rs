//! PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS (RFC 8489 sections 14.11, 14.12, 18.5).

use crate::attribute::{padded, AttrType};
use crate::Error;

/// One password algorithm: its number and parameters (none for the two RFC 8489 defines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordAlgorithm<'a> {
    /// The algorithm number ([`PasswordAlgorithm::MD5`], [`PasswordAlgorithm::SHA256`], ...).
    pub algorithm: u16,
    /// Algorithm parameters (empty for MD5 and SHA-256).
    pub params: &'a [u8],
}

impl PasswordAlgorithm<'static> {
    /// MD5, the RFC 5389 key derivation (algorithm 0x0001).
    pub const MD5: PasswordAlgorithm<'static> = PasswordAlgorithm {
        algorithm: 0x0001,
        params: &[],
    };
    /// SHA-256 (algorithm 0x0002).
    pub const SHA256: PasswordAlgorithm<'static> = PasswordAlgorithm {
        algorithm: 0x0002,
        params: &[],
    };
}

impl<'a> PasswordAlgorithm<'a> {
    /// Encoded size: algorithm, parameter length, parameters padded to 4.
    fn encoded_len(&self) -> usize {
        4 + padded(self.params.len())
    }

    /// Decodes one algorithm from the front of `bytes`, returning it and its encoded size.
    fn decode_one(attr: AttrType, bytes: &'a [u8]) -> Result<(Self, usize), Error> {
        let bad = Error::AttributeLength {
            attr: attr.0,
            len: bytes.len(),
        };
        let [a0, a1, l0, l1, rest @ ..] = bytes else {
            return Err(bad);
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let params = rest.get(..len).ok_or(bad)?;
        let one = PasswordAlgorithm {
            algorithm: u16::from_be_bytes([*a0, *a1]),
            params,
        };
        Ok((one, one.encoded_len().min(bytes.len())))
    }

    pub(crate) fn decode(value: &'a [u8]) -> Result<Self, Error> {
        let attr = AttrType::PASSWORD_ALGORITHM;
        let (one, _) = Self::decode_one(attr, value)?;
        // The parameters' padding may or may not be counted in the attribute length.
        if value.len() > one.encoded_len() {
            return Err(Error::AttributeLength {
                attr: attr.0,
                len: value.len(),
            });
        }
        Ok(one)
    }

    pub(crate) fn value_len(&self) -> usize {
        4 + self.params.len()
    }

    pub(crate) fn encode(&self, out: &mut [u8]) {
        out[..2].copy_from_slice(&self.algorithm.to_be_bytes());
        out[2..4].copy_from_slice(&(self.params.len() as u16).to_be_bytes());
        out[4..4 + self.params.len()].copy_from_slice(self.params);
        out[4 + self.params.len()..].fill(0);
    }
}

/// The PASSWORD-ALGORITHMS list: as received (borrowing the wire bytes, validated at decode)
/// or as given to the encoder (a slice). Iterate with [`PasswordAlgorithms::iter`].
#[derive(Debug, Clone, Copy)]
pub struct PasswordAlgorithms<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy)]
enum Repr<'a> {
    Wire(&'a [u8]),
    List(&'a [PasswordAlgorithm<'a>]),
}

impl<'a> PasswordAlgorithms<'a> {
    /// A list to encode.
    pub fn new(list: &'a [PasswordAlgorithm<'a>]) -> Self {
        PasswordAlgorithms(Repr::List(list))
    }

    /// The algorithms in order.
    pub fn iter(&self) -> impl Iterator<Item = PasswordAlgorithm<'a>> + 'a {
        let (mut wire, list): (&'a [u8], &'a [PasswordAlgorithm<'a>]) = match self.0 {
            Repr::Wire(w) => (w, &[]),
            Repr::List(l) => (&[], l),
        };
        let from_wire = std::iter::from_fn(move || {
            let (one, used) =
                PasswordAlgorithm::decode_one(AttrType::PASSWORD_ALGORITHMS, wire).ok()?;
            wire = &wire[used..];
            Some(one)
        });
        from_wire.chain(list.iter().copied())
    }

    pub(crate) fn decode(value: &'a [u8]) -> Result<Self, Error> {
        let mut rest = value;
        while !rest.is_empty() {
            let (_, used) = PasswordAlgorithm::decode_one(AttrType::PASSWORD_ALGORITHMS, rest)?;
            rest = &rest[used..];
        }
        Ok(PasswordAlgorithms(Repr::Wire(value)))
    }

    pub(crate) fn value_len(&self) -> usize {
        match self.0 {
            Repr::Wire(w) => w.len(),
            Repr::List(l) => l.iter().map(PasswordAlgorithm::encoded_len).sum(),
        }
    }

    pub(crate) fn encode(&self, out: &mut [u8]) {
        let mut at = 0;
        for one in self.iter() {
            let len = one.encoded_len();
            one.encode(&mut out[at..at + len]);
            at += len;
        }
    }
}

impl PartialEq for PasswordAlgorithms<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for PasswordAlgorithms<'_> {}
