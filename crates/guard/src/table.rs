//! A hash map with a hard size cap, for per-source state that a flood of spoofed sources must
//! not grow without bound.
//!
//! Every entry knows when it stops mattering ([`Expiring::expiry`]: a failure record when its
//! newest failure leaves the window, a rate bucket when it has refilled, a ban when it ends).
//! Inserting into a full table first drops the entries that have expired; if none has, it
//! drops the quarter that expires soonest. Each such pass frees at least a quarter of the
//! table, so its cost spreads over the inserts that follow (amortised O(1)).

use std::collections::HashMap;
use std::time::Instant;

use crate::source::{Key, KeyHasher};

/// Per-source state that stops mattering at a known instant.
pub(crate) trait Expiring {
    /// When the entry can be dropped without changing any decision.
    fn expiry(&self) -> Instant;
}

/// Why an entry left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// It had expired.
    Expired,
    /// The table was full and it expired soonest.
    Evicted,
}

/// The capped map.
#[derive(Debug)]
pub(crate) struct Table<V> {
    map: HashMap<Key, V, KeyHasher>,
    cap: usize,
}

impl<V: Expiring> Table<V> {
    /// An empty table holding at most `cap` (at least 1) entries.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            map: HashMap::default(),
            cap: cap.max(1),
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The entry for `key`.
    pub(crate) fn get(&self, key: &Key) -> Option<&V> {
        self.map.get(key)
    }

    /// Removes the entry for `key`.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<V> {
        self.map.remove(key)
    }

    /// The entry for `key`, made with `make` if absent; room is made first when the table is
    /// full, reporting each entry dropped to `removed`.
    pub(crate) fn get_or_insert(
        &mut self,
        now: Instant,
        key: Key,
        make: impl FnOnce() -> V,
        removed: impl FnMut(V, Removal),
    ) -> &mut V {
        if !self.map.contains_key(&key) && self.map.len() >= self.cap {
            self.make_room(now, removed);
        }
        self.map.entry(key).or_insert_with(make)
    }

    /// Drops every expired entry, reporting each to `removed`.
    pub(crate) fn sweep(&mut self, now: Instant, mut removed: impl FnMut(V, Removal)) {
        let expired: Vec<Key> = self
            .map
            .iter()
            .filter(|(_, v)| v.expiry() <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(v) = self.map.remove(&k) {
                removed(v, Removal::Expired);
            }
        }
    }

    /// Iterates over the keys.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Key> {
        self.map.keys()
    }

    /// Iterates over the entries' values.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    fn make_room(&mut self, now: Instant, mut removed: impl FnMut(V, Removal)) {
        self.sweep(now, &mut removed);
        if self.map.len() < self.cap {
            return;
        }
        // Exactly the soonest quarter (at least one), ties broken arbitrarily: a flood
        // stamped with one `now` must not empty the table.
        let mut soonest: Vec<(Instant, Key)> =
            self.map.iter().map(|(k, v)| (v.expiry(), *k)).collect();
        let count = (soonest.len() / 4).max(1);
        // count <= len, as the caller saw len >= cap >= 1.
        soonest.select_nth_unstable_by_key(count - 1, |(at, _)| *at);
        for (_, k) in soonest.drain(..count) {
            if let Some(v) = self.map.remove(&k) {
                removed(v, Removal::Evicted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::KeyedState;
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;

    struct At(Instant, u32);
    impl Expiring for At {
        fn expiry(&self) -> Instant {
            self.0
        }
    }

    #[test]
    fn full_table_drops_expired_first_then_soonest_quarter() {
        let h = KeyedState::random();
        let key = |i: u32| Key::new(IpAddr::V4(Ipv4Addr::from(i)), 64, &h);
        let t0 = Instant::now();
        let mut table = Table::new(8);
        let mut gone = Vec::new();
        for i in 0..8u32 {
            let exp = t0 + Duration::from_secs(u64::from(i) + 1);
            table.get_or_insert(t0, key(i), || At(exp, i), |v, why| gone.push((v.1, why)));
        }
        assert!(gone.is_empty());
        // At t0 + 2.5 s, entries 0 and 1 have expired: only they go.
        let now = t0 + Duration::from_millis(2500);
        let later = now + Duration::from_secs(60);
        table.get_or_insert(
            now,
            key(100),
            || At(later, 100),
            |v, why| gone.push((v.1, why)),
        );
        gone.sort_unstable_by_key(|g| g.0);
        assert_eq!(gone, [(0, Removal::Expired), (1, Removal::Expired)]);
        assert_eq!(table.len(), 7);
        gone.clear();
        table.get_or_insert(
            now,
            key(101),
            || At(later, 101),
            |v, why| gone.push((v.1, why)),
        );
        assert!(gone.is_empty());
        // Full, nothing expired: the soonest quarter (2 and 3) is evicted.
        table.get_or_insert(
            now,
            key(102),
            || At(later, 102),
            |v, why| gone.push((v.1, why)),
        );
        gone.sort_unstable_by_key(|g| g.0);
        assert_eq!(gone, [(2, Removal::Evicted), (3, Removal::Evicted)]);
        assert!(table.get(&key(102)).is_some());
        assert_eq!(table.len(), 7);
    }

    #[test]
    fn tied_expiries_evict_a_quarter_not_all() {
        let h = KeyedState::random();
        let key = |i: u32| Key::new(IpAddr::V4(Ipv4Addr::from(i)), 64, &h);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let mut table = Table::new(100);
        let mut evicted = 0;
        for i in 0..101u32 {
            table.get_or_insert(t0, key(i), || At(later, i), |_, _| evicted += 1);
        }
        assert_eq!((evicted, table.len()), (25, 76));
    }

    #[test]
    fn present_key_never_evicts() {
        let h = KeyedState::random();
        let k = Key::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 64, &h);
        let t0 = Instant::now();
        let mut table = Table::new(1);
        table.get_or_insert(t0, k, || At(t0 + Duration::from_secs(9), 1), |_, _| {});
        table.get_or_insert(t0, k, || At(t0, 2), |_, _| panic!("evicted"));
        assert_eq!(table.len(), 1);
    }
}
