//! media-edge's one keyed hasher, for every map whose keys come from the network: edge-turn's
//! per-packet lookups (5-tuple to allocation, channel number, peer) and the guard's
//! per-source tables (which also pick a shard and a ban-filter bit from the same hash).
//!
//! Their keys come from the network, so the hash must be keyed: a client who could predict
//! it could fill one bucket with its own permissions and channels, or one guard shard with
//! its sources. std's SipHash-1-3 is
//! keyed but costs tens of nanoseconds for a 5-tuple, a few percent of a relayed datagram's
//! whole CPU time. [`Keyed`] folds each word into the state with a 64x64->128-bit multiply
//! by a secret odd key and xors the product's halves: a few cycles per word, and a
//! different random key per process (drawn from std's `RandomState`), so colliding inputs
//! cannot be computed offline. It is not a cryptographic MAC and need not be one: the maps
//! hold at most one allocation's, the server's own or a size-capped table's entries, and
//! only bucket balance is at stake.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Builds [`Keyed`] hashers with this process's secret keys.
#[derive(Debug, Clone, Copy)]
pub struct KeyedState {
    seed: u64,
    key: u64,
}

impl KeyedState {
    /// Fresh random keys (each `RandomState` is seeded randomly per process and thread).
    pub fn random() -> Self {
        let draw = |salt: u64| RandomState::new().hash_one(salt);
        Self {
            seed: draw(0),
            // Odd, so multiplying by it loses no low bits.
            key: draw(1) | 1,
        }
    }
}

impl Default for KeyedState {
    fn default() -> Self {
        Self::random()
    }
}

impl BuildHasher for KeyedState {
    type Hasher = Keyed;

    fn build_hasher(&self) -> Keyed {
        Keyed {
            state: self.seed,
            key: self.key,
        }
    }
}

/// The multiply-and-fold hasher [`KeyedState`] builds.
#[derive(Debug, Clone)]
pub struct Keyed {
    state: u64,
    key: u64,
}

/// The 128-bit product of `a` and `b`, folded to 64 bits by xoring its halves.
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Keyed {
    fn mix(&mut self, word: u64) {
        self.state = fold_mul(self.state ^ word, self.key);
    }
}

impl Hasher for Keyed {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        // The length goes into the last word, so "ab" and "ab\0" differ.
        self.mix(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.mix(n as u64);
        self.mix((n >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        // One more round, so the last word's bits reach the high bits hashbrown groups by.
        fold_mul(self.state, self.key.rotate_left(32) | 1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_keys_differ_per_state() {
        let a = KeyedState::random();
        let b = KeyedState::random();
        let addr = SocketAddr::from(([192, 0, 2, 1], 3478));
        assert_eq!(a.hash_one(addr), a.hash_one(addr));
        assert_ne!(
            a.hash_one(addr),
            b.hash_one(addr),
            "keys are drawn per state"
        );
        // Byte strings of different lengths and zero padding do not collide.
        assert_ne!(a.hash_one(b"ab".as_slice()), a.hash_one(b"ab\0".as_slice()));
        assert_ne!(a.hash_one(&[0u8; 8][..]), a.hash_one(&[0u8; 16][..]));
    }

    /// Nearby addresses and ports (what a client controls) spread over the buckets: the
    /// low 7 and high 7 bits (hashbrown's bucket index and control byte) take many values
    /// and the full hashes do not collide.
    #[test]
    fn sequential_peers_spread() {
        let state = KeyedState::random();
        let mut hashes = HashSet::new();
        let mut low = HashSet::new();
        let mut high = HashSet::new();
        for port in 0..2048u16 {
            for ip in [
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, (port % 7) as u8)),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, port % 5)),
            ] {
                let h = state.hash_one(SocketAddr::new(ip, port));
                hashes.insert(h);
                low.insert(h & 0x7f);
                high.insert(h >> 57);
            }
        }
        assert_eq!(hashes.len(), 4096);
        assert_eq!(low.len(), 128);
        assert_eq!(high.len(), 128);
    }
}
