//! Source addresses as the guard counts them: IPv4-mapped IPv6 addresses are IPv4, IPv6
//! addresses are cut to the configured prefix.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// `::ffff:a.b.c.d` as `a.b.c.d` (a dual-stack socket reports IPv4 peers that way); other
/// addresses unchanged.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// The network a canonical address is counted under: the address itself (/32) for IPv4, its
/// `ipv6_prefix` network for IPv6.
pub(crate) fn key(addr: IpAddr, ipv6_prefix: u8) -> IpNet {
    match addr {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::from(v4)),
        IpAddr::V6(v6) => IpNet::V6(
            Ipv6Net::new(v6, ipv6_prefix)
                .map_or_else(|_| Ipv6Net::from(v6), |net| net.trunc()),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(canonical(mapped), "203.0.113.7".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }

    #[test]
    fn ipv6_cut_to_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(key(a, 64).to_string(), "2001:db8:1:2::/64");
        assert_eq!(key(a, 128).to_string(), "2001:db8:1:2:aaaa::1/128");
        assert_eq!(key(a, 0).to_string(), "::/0");
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(key(v4, 64).to_string(), "203.0.113.7/32");
    }
}
