//! Bencode values, decoded and encoded with the registry's `bip_bencode`: integers `i42e`,
//! byte strings `4:spam`, lists `l...e` and dictionaries `d...e`. Decoding is bounded in
//! depth ([`MAX_DEPTH`]), takes dictionary keys in any order (Kamailio writes them
//! unsorted) and refuses duplicate keys and trailing bytes.

use std::borrow::Cow;

use bip_bencode::{BDecodeOpt, BMutAccess, BRefAccess, BencodeMut, BencodeRef, BencodeRefKind};

/// Deepest nesting decoded: ng messages nest three levels (a dictionary of lists), replies
/// a few more; anything deeper is refused.
pub const MAX_DEPTH: usize = 16;

/// A bencoded value, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A dictionary: decoded in key order, encoded sorted (as bencode requires).
    Dict(Vec<(Vec<u8>, Value)>),
}

/// Why bytes are not a bencoded value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

impl Value {
    /// A byte string from text.
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from text keys.
    pub fn dict(entries: Vec<(&str, Value)>) -> Value {
        Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// A list of byte strings from text.
    pub fn strs<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
        Value::List(items.into_iter().map(Value::str).collect())
    }

    /// The value under `key`, for a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a byte string that is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The integer, or the integer a byte string spells (rtpengine writes numbers both ways).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bytes(_) => self.as_str().and_then(|s| s.trim().parse().ok()),
            _ => None,
        }
    }

    /// The items of a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries of a dictionary.
    pub fn as_dict(&self) -> Option<&[(Vec<u8>, Value)]> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Decodes one whole value from `bytes` (nothing may follow it).
    ///
    /// # Errors
    /// [`DecodeError`] saying where and what is wrong, nesting beyond [`MAX_DEPTH`] included.
    pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
        let options = BDecodeOpt::new(MAX_DEPTH, false, true);
        let decoded =
            BencodeRef::decode(bytes, options).map_err(|e| DecodeError(describe(e.kind())))?;
        Ok(Value::from_ref(&decoded))
    }

    /// The length of the one value `bytes` starts with, for a stream (ng over TCP):
    /// `Ok(None)` when the value is not complete yet.
    ///
    /// # Errors
    /// [`DecodeError`] when no more bytes can make it a value.
    pub fn prefix_len(bytes: &[u8]) -> Result<Option<usize>, DecodeError> {
        use bip_bencode::BencodeParseErrorKind as K;
        let options = BDecodeOpt::new(MAX_DEPTH, false, false);
        match BencodeRef::decode(bytes, options) {
            Ok(value) => Ok(Some(value.buffer().len())),
            Err(e) => match e.kind() {
                K::BytesEmpty { .. }
                | K::InvalidLengthOverflow { .. }
                | K::InvalidIntNoDelimiter { .. } => Ok(None),
                kind => Err(DecodeError(describe(kind))),
            },
        }
    }

    fn from_ref(value: &BencodeRef<'_>) -> Value {
        match value.kind() {
            BencodeRefKind::Int(i) => Value::Int(i),
            BencodeRefKind::Bytes(b) => Value::Bytes(b.to_vec()),
            BencodeRefKind::List(list) => {
                Value::List(list.into_iter().map(Value::from_ref).collect())
            }
            BencodeRefKind::Dict(dict) => Value::Dict(
                dict.to_list()
                    .into_iter()
                    .map(|(k, v)| (k.to_vec(), Value::from_ref(v)))
                    .collect(),
            ),
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.as_bencode().encode());
    }

    fn as_bencode(&self) -> BencodeMut<'_> {
        match self {
            Value::Int(i) => BencodeMut::new_int(*i),
            Value::Bytes(b) => BencodeMut::new_bytes(Cow::Borrowed(b)),
            Value::List(items) => {
                let mut list = BencodeMut::new_list();
                if let Some(access) = list.list_mut() {
                    items.iter().for_each(|v| access.push(v.as_bencode()));
                }
                list
            }
            Value::Dict(entries) => {
                let mut dict = BencodeMut::new_dict();
                if let Some(access) = dict.dict_mut() {
                    for (k, v) in entries {
                        access.insert(Cow::Borrowed(k), v.as_bencode());
                    }
                }
                dict
            }
        }
    }
}

/// The error text, without the backtrace state error-chain carries.
fn describe(kind: &bip_bencode::BencodeParseErrorKind) -> String {
    use bip_bencode::BencodeParseErrorKind as K;
    match kind {
        K::BytesEmpty { pos } => format!("empty input at byte {pos}"),
        K::InvalidByte { pos } => format!("unexpected byte at {pos}"),
        K::InvalidIntNoDelimiter { pos } => format!("integer without its end at byte {pos}"),
        K::InvalidIntNegativeZero { pos } => format!("negative zero at byte {pos}"),
        K::InvalidIntZeroPadding { pos } => format!("zero-padded integer at byte {pos}"),
        K::InvalidIntParseError { pos } => format!("integer out of range at byte {pos}"),
        K::InvalidKeyOrdering { pos, .. } => format!("unsorted key at byte {pos}"),
        K::InvalidKeyDuplicates { pos, .. } => format!("duplicate key at byte {pos}"),
        K::InvalidLengthNegative { pos } => format!("negative length at byte {pos}"),
        K::InvalidLengthOverflow { pos } => {
            format!("string length beyond the input at byte {pos}")
        }
        K::InvalidRecursionExceeded { pos, max } => {
            format!("nested deeper than {max} levels at byte {pos}")
        }
        K::Msg(m) => m.clone(),
        _ => "not bencode".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_unsorted_keys() {
        let v = Value::decode(b"d7:command5:offer4:abcdli1e2:xyee").unwrap();
        assert_eq!(v.get("command").and_then(Value::as_str), Some("offer"));
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, b"d4:abcdli1e2:xye7:command5:offere");
    }

    #[test]
    fn bounded_and_strict() {
        assert!(Value::decode(&[b'l'; 100_000]).is_err());
        let deep = [&[b'l'; MAX_DEPTH + 1][..], &[b'e'; MAX_DEPTH + 1][..]].concat();
        assert!(Value::decode(&deep)
            .unwrap_err()
            .to_string()
            .contains("deeper"));
        assert!(Value::decode(b"d1:ai1e1:ai2ee").is_err());
        assert!(Value::decode(b"4:spamx").is_err());
        assert!(Value::decode(b"99999999999999999999:a").is_err());
        assert!(Value::decode(b"").is_err());
    }

    #[test]
    fn prefix_of_a_stream() {
        assert_eq!(Value::prefix_len(b"d1:ai1ee5 d"), Ok(Some(8)));
        assert_eq!(Value::prefix_len(b"d1:ai1"), Ok(None));
        assert_eq!(Value::prefix_len(b"d3:ab"), Ok(None));
        assert!(Value::prefix_len(b"d1:ax").is_err());
    }
}
