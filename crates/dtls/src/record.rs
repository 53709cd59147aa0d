//! DTLS record framing (RFC 6347 §4.1), checked before a datagram reaches the state machine.
//!
//! A datagram is accepted only if it is a clean sequence of DTLS 1.x records; anything else
//! is dropped and counted (RFC 6347 §4.1.2.7: invalid records are discarded silently, which
//! also keeps a spoofed datagram from aborting the handshake).

/// Length of a DTLS record header: type, version, epoch, sequence number, length.
const HEADER_LEN: usize = 13;
/// Largest record payload RFC 6347 allows (2^14 plus the 2048 bytes of cipher expansion).
const MAX_PAYLOAD: usize = (1 << 14) + 2048;
/// Content type of an alert record.
const ALERT: u8 = 21;
/// Content type of a handshake record.
const HANDSHAKE: u8 = 22;
/// Length of a handshake fragment header: type, length, message_seq, offset, fragment length.
const FRAGMENT_HEADER_LEN: usize = 12;

/// Why a datagram is not a sequence of DTLS records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Fewer bytes than a record header, or an empty record.
    Truncated,
    /// A content type outside change_cipher_spec, alert, handshake and application_data.
    ContentType,
    /// A version that is not DTLS (major byte 254).
    Version,
    /// A length beyond the datagram or the protocol's maximum.
    Length,
}

/// What the framing check learned about an accepted datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Framing {
    /// Number of records in the datagram.
    pub records: usize,
    /// The description byte of the last plaintext (epoch 0) alert, if the datagram held one.
    pub plaintext_alert: Option<u8>,
    /// Whether every record is a plaintext (epoch 0) handshake record.
    pub only_plaintext_handshake: bool,
}

/// Identifies one plaintext handshake fragment: a retransmitted fragment has the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FragmentId {
    pub message_seq: u16,
    pub offset: u32,
    pub length: u32,
}

/// Checks that `datagram` is one or more well-formed DTLS records, without copying.
pub(crate) fn check(datagram: &[u8]) -> Result<Framing, Malformed> {
    let mut framing = Framing {
        only_plaintext_handshake: true,
        ..Framing::default()
    };
    let mut rest = datagram;
    while !rest.is_empty() {
        let header = rest.get(..HEADER_LEN).ok_or(Malformed::Truncated)?;
        let content_type = header[0];
        if !(20..=23).contains(&content_type) {
            return Err(Malformed::ContentType);
        }
        if header[1] != 254 {
            return Err(Malformed::Version);
        }
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        let length = usize::from(u16::from_be_bytes([header[11], header[12]]));
        if length == 0 {
            return Err(Malformed::Truncated);
        }
        if length > MAX_PAYLOAD {
            return Err(Malformed::Length);
        }
        let payload = rest
            .get(HEADER_LEN..HEADER_LEN + length)
            .ok_or(Malformed::Length)?;
        if content_type == ALERT && epoch == 0 {
            if let [_level, description] = payload {
                framing.plaintext_alert = Some(*description);
            }
        }
        if content_type != HANDSHAKE || epoch != 0 {
            framing.only_plaintext_handshake = false;
        }
        framing.records += 1;
        rest = &rest[HEADER_LEN + length..];
    }
    if framing.records == 0 {
        return Err(Malformed::Truncated);
    }
    Ok(framing)
}

/// The plaintext handshake fragments of a datagram that passed [`check`].
pub(crate) fn plaintext_fragments(datagram: &[u8]) -> impl Iterator<Item = FragmentId> + '_ {
    let mut records = datagram;
    let mut payload: &[u8] = &[];
    std::iter::from_fn(move || loop {
        if let Some(header) = payload.get(..FRAGMENT_HEADER_LEN) {
            let u24 = |b: &[u8]| u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            let id = FragmentId {
                message_seq: u16::from_be_bytes([header[4], header[5]]),
                offset: u24(&header[6..9]),
                length: u24(&header[9..12]),
            };
            let end = FRAGMENT_HEADER_LEN.saturating_add(id.length as usize);
            payload = payload.get(end..).unwrap_or(&[]);
            return Some(id);
        }
        let header = records.get(..HEADER_LEN)?;
        let length = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let body = records.get(HEADER_LEN..HEADER_LEN + length)?;
        let plaintext_handshake = header[0] == HANDSHAKE && header[3..5] == [0, 0];
        payload = if plaintext_handshake { body } else { &[] };
        records = &records[HEADER_LEN + length..];
    })
}

/// The name of an alert description (RFC 5246 §7.2, RFC 8446 §6).
pub(crate) fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        90 => "user_canceled",
        100 => "no_renegotiation",
        110 => "unsupported_extension",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn record(content_type: u8, epoch: u16, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 254, 253];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 7]);
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    #[test]
    fn accepts_several_records_and_reads_a_plaintext_alert() {
        let mut d = record(22, 0, &[1; 40]);
        d.extend(record(21, 0, &[2, 42]));
        assert_eq!(
            check(&d),
            Ok(Framing {
                records: 2,
                plaintext_alert: Some(42),
                only_plaintext_handshake: false,
            })
        );
        // Three fragments (two in one record) of messages 3 and 5.
        let mut hs = record(22, 0, &[11, 0, 0, 9, 0, 3, 0, 0, 0, 0, 0, 1, 7]);
        hs.extend(record(
            22,
            0,
            &[
                12, 0, 0, 9, 0, 5, 0, 0, 0, 0, 0, 2, 7, 7, 12, 0, 0, 9, 0, 5, 0, 0, 2, 0, 0, 1, 7,
            ],
        ));
        assert!(check(&hs).unwrap().only_plaintext_handshake);
        let ids: Vec<_> = plaintext_fragments(&hs)
            .map(|f| (f.message_seq, f.offset, f.length))
            .collect();
        assert_eq!(ids, [(3, 0, 1), (5, 0, 2), (5, 2, 1)]);
        hs.extend(record(22, 1, &[0; 30]));
        assert!(!check(&hs).unwrap().only_plaintext_handshake);
        assert_eq!(plaintext_fragments(&hs).count(), 3);
        // An encrypted alert says nothing.
        assert_eq!(
            check(&record(21, 1, &[9; 26])).unwrap().plaintext_alert,
            None
        );
        assert_eq!(alert_name(42), "bad_certificate");
    }

    #[test]
    fn rejects_every_truncation_and_bad_field() {
        let mut d = record(22, 0, &[1; 40]);
        d.extend(record(20, 0, &[1]));
        for cut in 0..d.len() {
            if cut == 53 {
                continue; // exactly the first record: a valid datagram
            }
            assert!(check(&d[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(check(&record(24, 0, &[1])), Err(Malformed::ContentType));
        let mut v = record(22, 0, &[1]);
        v[1] = 3;
        assert_eq!(check(&v), Err(Malformed::Version));
        assert_eq!(check(&record(22, 0, &[])), Err(Malformed::Truncated));
        let big = record(23, 1, &vec![0; MAX_PAYLOAD + 1]);
        assert_eq!(check(&big), Err(Malformed::Length));
        let mut trailing = record(22, 0, &[1; 4]);
        trailing.push(22);
        assert_eq!(check(&trailing), Err(Malformed::Truncated));
    }

    #[test]
    fn random_input_never_panics() {
        // xorshift: deterministic pseudo-random datagrams of every small length.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2048 {
            let mut d = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                d.push(x as u8);
            }
            if let Some(first) = d.first_mut() {
                *first = 20 + (*first % 4); // reach past the content-type check too
            }
            if check(&d).is_ok() {
                let _ = plaintext_fragments(&d).count();
            }
        }
    }
}
