//! A bit filter over each shard's banned sources, so that [`Guard::is_banned`] answers "not
//! banned" (nearly every call) with plain atomic loads: no lock, and no write to a shared
//! cache line, which would bounce between the cores of the data-plane threads.
//!
//! Each banned key sets one of 2048 bits, chosen by hash bits that neither the shard index nor
//! the shard's maps use. A clear bit means not banned; a set bit sends the caller to the
//! locked table. With `b` bans in a shard, a clean source goes to the lock with probability
//! about `b / 2048` (64 shards: 10,000 bans in all make that 7 %).
//!
//! [`Guard::is_banned`]: crate::Guard::is_banned

use std::sync::atomic::{AtomicU64, Ordering};

use crate::source::Key;

const WORDS: usize = 32;

/// The filter of one shard.
#[derive(Debug)]
pub(crate) struct BanFilter {
    words: [AtomicU64; WORDS],
}

impl BanFilter {
    /// An empty filter.
    pub(crate) fn new() -> Self {
        Self {
            words: [(); WORDS].map(|()| AtomicU64::new(0)),
        }
    }

    /// False when `key` is certainly not banned.
    pub(crate) fn may_contain(&self, key: &Key) -> bool {
        let (word, bit) = slot(key);
        self.words[word].load(Ordering::Acquire) & bit != 0
    }

    /// Publishes exactly the bits of `banned`, the shard's bans after a change (called with
    /// the table's write lock held). Each word is replaced whole by a value holding every bit
    /// of the remaining bans, so a reader never sees a remaining ban's bit cleared.
    pub(crate) fn publish<'a>(&self, banned: impl Iterator<Item = &'a Key>) {
        let mut fresh = [0u64; WORDS];
        for key in banned {
            let (word, bit) = slot(key);
            fresh[word] |= bit;
        }
        for (word, value) in self.words.iter().zip(fresh) {
            word.store(value, Ordering::Release);
        }
    }

    /// Whether no ban is published.
    pub(crate) fn is_empty(&self) -> bool {
        self.words.iter().all(|w| w.load(Ordering::Acquire) == 0)
    }
}

fn slot(key: &Key) -> (usize, u64) {
    // Bits 40..51 of the hash: the shard takes 32..37, the maps the low bits and the top 7.
    let bit = (key.hash() >> 40) as usize & (WORDS * 64 - 1);
    (bit / 64, 1 << (bit % 64))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::KeyedState;
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    #[test]
    fn publish_sets_exactly_the_banned_bits() {
        let h = KeyedState::random();
        let keys: Vec<Key> = (0..100u32)
            .map(|i| Key::new(IpAddr::V4(Ipv4Addr::from(i)), 64, &h))
            .collect();
        let f = BanFilter::new();
        assert!(f.is_empty());
        assert!(keys.iter().all(|k| !f.may_contain(k)));
        f.publish(keys[..10].iter());
        assert!(keys[..10].iter().all(|k| f.may_contain(k)));
        // Few false positives among the other 90 (10 bits of 2048 set).
        assert!(keys[10..].iter().filter(|k| f.may_contain(k)).count() <= 3);
        f.publish(keys[5..10].iter());
        assert!(keys[5..10].iter().all(|k| f.may_contain(k)));
        f.publish(std::iter::empty());
        assert!(f.is_empty());
    }
}
