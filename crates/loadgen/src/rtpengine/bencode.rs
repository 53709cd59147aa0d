//! Bencode, the encoding of rtpengine's ng control protocol: integers `i42e`, byte
//! strings `4:spam`, lists `l...e` and dictionaries `d...e`. Decoding is bounded in depth
//! and never trusts a length beyond the input.

use std::fmt;

/// Deepest nesting decoded (ng messages nest two or three levels).
const MAX_DEPTH: usize = 16;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A dictionary, in the order written.
    Dict(Vec<(Vec<u8>, Value)>),
}

/// Why bytes are not bencode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// Where decoding stopped.
    pub offset: usize,
    /// What was wrong there.
    pub problem: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.problem, self.offset)
    }
}

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

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Value::Bytes(b) => bytes(b, out),
            Value::List(l) => {
                out.push(b'l');
                l.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    bytes(k, out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value that fills `input` exactly.
    pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
        let mut pos = 0;
        let v = decode_at(input, &mut pos, 0)?;
        if pos != input.len() {
            return Err(DecodeError {
                offset: pos,
                problem: "trailing bytes",
            });
        }
        Ok(v)
    }
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

fn decode_at(input: &[u8], pos: &mut usize, depth: usize) -> Result<Value, DecodeError> {
    let err = |offset, problem| DecodeError { offset, problem };
    if depth > MAX_DEPTH {
        return Err(err(*pos, "nested too deeply"));
    }
    let Some(&first) = input.get(*pos) else {
        return Err(err(*pos, "truncated"));
    };
    match first {
        b'i' => {
            let start = *pos + 1;
            let end = find(input, start, b'e').ok_or(err(start, "unterminated integer"))?;
            let text =
                std::str::from_utf8(&input[start..end]).map_err(|_| err(start, "bad integer"))?;
            let i = text.parse().map_err(|_| err(start, "bad integer"))?;
            *pos = end + 1;
            Ok(Value::Int(i))
        }
        b'0'..=b'9' => Ok(Value::Bytes(string_at(input, pos)?.to_vec())),
        b'l' => {
            *pos += 1;
            let mut list = Vec::new();
            while input.get(*pos) != Some(&b'e') {
                list.push(decode_at(input, pos, depth + 1)?);
            }
            *pos += 1;
            Ok(Value::List(list))
        }
        b'd' => {
            *pos += 1;
            let mut dict = Vec::new();
            while input.get(*pos) != Some(&b'e') {
                if !input.get(*pos).is_some_and(u8::is_ascii_digit) {
                    return Err(err(*pos, "dictionary key is not a string"));
                }
                let key = string_at(input, pos)?.to_vec();
                dict.push((key, decode_at(input, pos, depth + 1)?));
            }
            *pos += 1;
            Ok(Value::Dict(dict))
        }
        _ => Err(err(*pos, "not a bencode value")),
    }
}

/// A `<len>:<bytes>` string at `pos`.
fn string_at<'a>(input: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let err = |offset, problem| DecodeError { offset, problem };
    let colon = find(input, *pos, b':').ok_or(err(*pos, "unterminated string length"))?;
    let len: usize = std::str::from_utf8(&input[*pos..colon])
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(err(*pos, "bad string length"))?;
    let start = colon + 1;
    let s = start
        .checked_add(len)
        .and_then(|end| input.get(start..end))
        .ok_or(err(start, "string longer than the input"))?;
    *pos = start + len;
    Ok(s)
}

fn find(input: &[u8], from: usize, byte: u8) -> Option<usize> {
    input
        .get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trip_of_an_ng_offer() {
        let v = Value::dict(vec![
            ("command", Value::str("offer")),
            ("flags", Value::List(vec![Value::str("trust-address")])),
            ("delete-delay", Value::Int(0)),
            ("sdp", Value::str("v=0\r\n")),
        ]);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(
            out,
            b"d7:command5:offer5:flagsl13:trust-addresse12:delete-delayi0e3:sdp5:v=0\r\ne".to_vec()
        );
        assert_eq!(Value::decode(&out).unwrap(), v);
        assert_eq!(v.get("command").and_then(Value::as_str), Some("offer"));
        assert_eq!(Value::decode(b"i-42e").unwrap(), Value::Int(-42));
    }

    #[test]
    fn truncations_and_garbage_are_errors_never_panics() {
        let mut out = Vec::new();
        Value::dict(vec![("result", Value::str("ok")), ("sdp", Value::str("x"))]).encode(&mut out);
        for cut in 0..out.len() {
            assert!(Value::decode(&out[..cut]).is_err(), "cut at {cut}");
        }
        for bad in [
            &b"ie"[..],
            b"i1",
            b"5:abc",
            b"99999999999999999999:a",
            b"d1:ae",
            b"di1ei2ee",
            b"x",
            b"le1",
            b"i1ei2e",
        ] {
            assert!(
                Value::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = [vec![b'l'; 100], vec![b'e'; 100]].concat();
        assert_eq!(
            Value::decode(&deep).unwrap_err().problem,
            "nested too deeply"
        );
        let mut x = 5u64;
        for _ in 0..50_000 {
            let len = (x % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"dlie0123456789:-x"[(x >> 59) as usize % 17]
                })
                .collect();
            let _ = Value::decode(&b);
        }
    }
}
