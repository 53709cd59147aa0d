//! The measurement payload: what every load packet carries so that the receiver can tell
//! which flow it belongs to, where it sits in that flow's sequence and when it was sent.
//!
//! Layout (big-endian), at the start of the payload; the rest of the payload is padding:
//!
//! ```text
//!  0               4               8                              16                              24
//! +---------------+---------------+-------------------------------+-------------------------------+
//! | magic "LGEN"  | flow          | sequence number               | send time, ns since run start |
//! +---------------+---------------+-------------------------------+-------------------------------+
//! ```

/// Bytes a probe takes at the start of a payload; the smallest payload a run may use.
pub const PROBE_LEN: usize = 24;

/// Largest payload a run may use: a probe packet must fit a 1,500-byte MTU with its
/// framing (RTP header and SRTP tag, or ChannelData header) around it.
pub const MAX_PAYLOAD: usize = 1_200;

/// Checks a run's payload size: [`PROBE_LEN`]..=[`MAX_PAYLOAD`] bytes.
pub fn check_payload(payload: usize) -> Result<(), crate::Error> {
    if (PROBE_LEN..=MAX_PAYLOAD).contains(&payload) {
        Ok(())
    } else {
        Err(crate::Error::Parameter {
            name: "size",
            problem: "payload must be 24..=1200 bytes",
        })
    }
}

/// "LGEN": tells a probe from anything else that may arrive on a load socket.
const MAGIC: [u8; 4] = *b"LGEN";

/// One probe: flow, sequence number and send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The flow (allocation, call) index.
    pub flow: u32,
    /// The sequence number within the flow, from 0.
    pub seq: u64,
    /// When it was sent, in nanoseconds since the run started.
    pub sent_ns: u64,
}

impl Probe {
    /// Writes the probe at the start of `payload`; returns `false` (writing nothing) when
    /// `payload` is shorter than [`PROBE_LEN`].
    pub fn write(&self, payload: &mut [u8]) -> bool {
        let Some(out) = payload.first_chunk_mut::<PROBE_LEN>() else {
            return false;
        };
        out[..4].copy_from_slice(&MAGIC);
        out[4..8].copy_from_slice(&self.flow.to_be_bytes());
        out[8..16].copy_from_slice(&self.seq.to_be_bytes());
        out[16..24].copy_from_slice(&self.sent_ns.to_be_bytes());
        true
    }

    /// Reads a probe from the start of `payload`: `None` when it is too short or does not
    /// start with the magic.
    pub fn read(payload: &[u8]) -> Option<Probe> {
        let p = payload.first_chunk::<PROBE_LEN>()?;
        if p[..4] != MAGIC {
            return None;
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&p[i..i + 8]);
            u64::from_be_bytes(b)
        };
        Some(Probe {
            flow: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            seq: u64_at(8),
            sent_ns: u64_at(16),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trip_with_padding() {
        let p = Probe {
            flow: 0xDEAD_BEEF,
            seq: u64::MAX - 1,
            sent_ns: 123_456_789,
        };
        let mut buf = [0xAAu8; 172];
        assert!(p.write(&mut buf));
        assert_eq!(&buf[..4], b"LGEN");
        assert_eq!(buf[PROBE_LEN], 0xAA, "padding untouched");
        assert_eq!(Probe::read(&buf), Some(p));
    }

    #[test]
    fn short_or_foreign_payloads_are_refused() {
        let p = Probe {
            flow: 1,
            seq: 2,
            sent_ns: 3,
        };
        let mut small = [0u8; PROBE_LEN - 1];
        assert!(!p.write(&mut small));
        assert_eq!(small, [0u8; PROBE_LEN - 1]);
        let mut buf = [0u8; PROBE_LEN];
        assert!(p.write(&mut buf));
        for len in 0..PROBE_LEN {
            assert_eq!(Probe::read(&buf[..len]), None, "truncated to {len}");
        }
        buf[0] = b'X';
        assert_eq!(Probe::read(&buf), None);
    }

    #[test]
    fn random_input_never_panics() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = [0u8; 64];
        for _ in 0..10_000 {
            for b in buf.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let len = (state % 65) as usize;
            let _ = Probe::read(&buf[..len]);
        }
    }
}
