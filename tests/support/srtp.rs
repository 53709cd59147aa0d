//! Random but well-formed RTP and RTCP packets for the SRTP interop tests and benchmarks,
//! from a seeded generator so every run and every failure is reproducible.

/// SplitMix64: small, seeded, good enough to vary packets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u64() as u8;
        }
    }
}

/// An RTP packet of `ssrc` and `seq` with random CSRCs (0-3), an optional one-byte-header
/// extension (RFC 8285) of well-formed elements, optional padding and a payload of up to
/// `max_payload` random bytes.
pub fn rtp_packet(rng: &mut Rng, ssrc: u32, seq: u16, max_payload: usize) -> Vec<u8> {
    let csrcs = rng.below(4);
    let extension = rng.below(3) == 0;
    let padding = if rng.below(8) == 0 {
        1 + rng.below(16)
    } else {
        0
    };
    let mut p = vec![
        0x80 | (u8::from(padding > 0) << 5) | (u8::from(extension) << 4) | csrcs as u8,
        rng.below(128) as u8 | (u8::from(rng.below(2) == 0) << 7),
    ];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for _ in 0..csrcs {
        p.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
    }
    if extension {
        let mut body = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let len = 1 + rng.below(4);
            body.push(((1 + rng.below(14)) as u8) << 4 | (len - 1) as u8);
            body.extend((0..len).map(|_| rng.next_u64() as u8));
        }
        while body.len() % 4 != 0 {
            body.push(0);
        }
        p.extend_from_slice(&[0xbe, 0xde]);
        p.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&body);
    }
    let start = p.len();
    p.resize(start + rng.below(max_payload + 1), 0);
    rng.fill(&mut p[start..]);
    if padding > 0 {
        p.extend(std::iter::repeat_n(0, padding - 1));
        p.push(padding as u8);
    }
    p
}

/// An RTCP compound packet of sender `ssrc`: a sender or receiver report with random report
/// blocks, sometimes followed by an SDES-like packet of random words.
pub fn rtcp_packet(rng: &mut Rng, ssrc: u32) -> Vec<u8> {
    let mut p = Vec::new();
    let sender = rng.below(2) == 0;
    let blocks = rng.below(4);
    let words = if sender { 6 } else { 1 } + 6 * blocks;
    p.push(0x80 | blocks as u8);
    p.push(if sender { 200 } else { 201 });
    p.extend_from_slice(&(words as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    let body = p.len();
    p.resize(body + 4 * (words - 1), 0);
    rng.fill(&mut p[body..]);
    if rng.below(2) == 0 {
        let extra = 1 + rng.below(8);
        p.extend_from_slice(&[0x81, 202]);
        p.extend_from_slice(&(extra as u16).to_be_bytes());
        let at = p.len();
        p.resize(at + 4 * extra, 0);
        rng.fill(&mut p[at..]);
    }
    p
}
