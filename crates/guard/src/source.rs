//! Sources as the guard counts them. IPv4-mapped IPv6 addresses are IPv4; IPv6 addresses are
//! cut to the configured prefix. A [`Key`] carries its keyed hash, computed once per call and
//! used both to pick the shard and inside the shard's maps.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::KeyedState;

/// `::ffff:a.b.c.d` as `a.b.c.d` (a dual-stack socket reports IPv4 peers that way); other
/// addresses unchanged.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// A counted source: IPv4 as its IPv4-mapped bits, IPv6 cut to the prefix. No cut IPv6
/// address lands in `::ffff:0:0/96`: canonical addresses there are IPv4, and cutting another
/// address clears low bits only, which cannot bring it into that range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    bits: u128,
    hash: u64,
}

impl Key {
    /// The key of a [`canonical`] address.
    pub(crate) fn new(canonical: IpAddr, ipv6_prefix: u8, hasher: &KeyedState) -> Self {
        let bits = match canonical {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => {
                let keep = u32::from(ipv6_prefix.min(128));
                u128::from(v6) & u128::MAX.checked_shl(128 - keep).unwrap_or(0)
            }
        };
        Self {
            bits,
            hash: hasher.hash_one(bits),
        }
    }

    /// The network this key stands for: /32 for IPv4, `/ipv6_prefix` for IPv6.
    pub(crate) fn net(&self, ipv6_prefix: u8) -> IpNet {
        let v6 = Ipv6Addr::from(self.bits);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::from(v4)),
            None => IpNet::V6(Ipv6Net::new(v6, ipv6_prefix).unwrap_or_else(|_| Ipv6Net::from(v6))),
        }
    }

    /// The keyed hash.
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// Which of `shards` (a power of two) holds this key. Taken from the hash's middle bits:
    /// the maps inside a shard index by the low bits and tag by the top ones.
    pub(crate) fn shard(&self, shards: usize) -> usize {
        (self.hash >> 32) as usize & (shards - 1)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hashes a [`Key`] by handing back the hash it carries.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `Key::hash` feeds this hasher, through write_u64; fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

impl BuildHasher for KeyHasher {
    type Hasher = Self;

    fn build_hasher(&self) -> Self {
        Self(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn net(a: &str, prefix: u8) -> String {
        let canon = canonical(a.parse().unwrap());
        Key::new(canon, prefix, &KeyedState::random())
            .net(prefix)
            .to_string()
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(canonical(mapped), "203.0.113.7".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical(v6), v6);
        assert_eq!(net("::ffff:203.0.113.7", 64), "203.0.113.7/32");
    }

    #[test]
    fn ipv6_cut_to_prefix() {
        assert_eq!(net("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(net("2001:db8:1:2:aaaa::1", 128), "2001:db8:1:2:aaaa::1/128");
        assert_eq!(net("2001:db8:1:2:aaaa::1", 0), "::/0");
        assert_eq!(net("203.0.113.7", 64), "203.0.113.7/32");
        // Cut IPv6 never poses as IPv4, even next to the mapped range.
        assert_eq!(net("::fffe:1.2.3.4", 96), "::fffe:0:0/96");
        assert_eq!(net("::1:ffff:1.2.3.4", 64), "::/64");
    }

    #[test]
    fn equal_sources_equal_keys() {
        let h = KeyedState::random();
        let a = Key::new("2001:db8::1".parse().unwrap(), 64, &h);
        let b = Key::new("2001:db8::ffff".parse().unwrap(), 64, &h);
        let c = Key::new("2001:db8:0:1::1".parse().unwrap(), 64, &h);
        assert_eq!(a, b);
        assert_eq!(a.hash, b.hash);
        assert_ne!(a, c);
    }
}
