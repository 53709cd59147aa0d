//! Peer filtering: which peer addresses an allocation may relay to.
//!
//! Secure by default (RFC 8656 §21.1, "Peer address restrictions"): peers on loopback, the
//! unspecified address, link-local, private (RFC 1918, RFC 6598 shared, IPv6 ULA), multicast,
//! broadcast, documentation/benchmark/reserved ranges and the IPv4-mapped/IPv4-compatible/
//! NAT64/6to4 forms of them are refused with 403. An allow-list admits ranges the defaults
//! refuse; a deny-list refuses ranges on top of everything, and wins over the allow-list.
//!
//! [`OwnAddresses`] refuses on top of that the transport addresses of this host's own
//! services (the TURN listeners, the control API, ...), which no allow-list re-opens: a
//! relay must not become a way to reach the server from inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// Decides whether a peer address may be relayed to.
#[derive(Debug, Clone, Default)]
pub struct PeerFilter {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl PeerFilter {
    /// A filter with the secure defaults, an allow-list that admits ranges the defaults refuse,
    /// and a deny-list that refuses ranges on top (deny wins).
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Self {
        Self { allow, deny }
    }

    /// Whether `peer` may be relayed to.
    pub fn permits(&self, peer: IpAddr) -> bool {
        let forms = Forms::of(peer);
        if forms
            .iter()
            .any(|ip| self.deny.iter().any(|n| n.contains(&ip)))
        {
            return false;
        }
        if !forms.iter().any(refused_by_default) {
            return true;
        }
        // A refused address is admitted when the allow-list covers it as written or in its
        // embedded IPv4 form (so `127.0.0.0/8` also admits `::ffff:127.0.0.1`).
        forms
            .iter()
            .any(|ip| self.allow.iter().any(|n| n.contains(&ip)))
    }
}

/// Transport addresses of this host no allocation may relay to, whatever the allow-list says.
///
/// An entry with a specific address matches a peer with that address (in any of its forms:
/// `::ffff:127.0.0.1` is `127.0.0.1`) and port, and the unspecified address with that port
/// (which reaches the host itself). An entry with the unspecified address stands for its port
/// on every address the host answers on that the server knows: loopback, the unspecified
/// address, and the host addresses given (relay, external and listener addresses). Other
/// allocations' relay ports are not here: relaying between two allocations of one server is
/// normal.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnAddresses {
    /// Entries with a specific address, in canonical form.
    exact: Vec<SocketAddr>,
    /// Ports of entries bound to the unspecified address.
    any_address: Vec<u16>,
    /// The host's own addresses, in canonical form.
    host: Vec<IpAddr>,
}

impl OwnAddresses {
    /// `host` lists the addresses the host is known to answer on (the relay and external
    /// addresses); the addresses of added entries join it.
    pub(crate) fn new(host: impl IntoIterator<Item = IpAddr>) -> Self {
        let mut own = Self::default();
        for ip in host {
            own.add_host(ip);
        }
        own
    }

    /// Adds `addr` (see the type's doc for the unspecified address).
    pub(crate) fn add(&mut self, addr: SocketAddr) {
        let ip = addr.ip().to_canonical();
        if ip.is_unspecified() {
            if !self.any_address.contains(&addr.port()) {
                self.any_address.push(addr.port());
            }
        } else {
            let addr = SocketAddr::new(ip, addr.port());
            if !self.exact.contains(&addr) {
                self.exact.push(addr);
            }
            self.add_host(ip);
        }
    }

    fn add_host(&mut self, ip: IpAddr) {
        let ip = ip.to_canonical();
        if !ip.is_unspecified() && !self.host.contains(&ip) {
            self.host.push(ip);
        }
    }

    /// Whether `peer` is one of these addresses.
    pub(crate) fn contains(&self, peer: SocketAddr) -> bool {
        let port = peer.port();
        Forms::of(peer.ip()).iter().any(|ip| {
            let ip = ip.to_canonical();
            if ip.is_unspecified() {
                // Sent to the unspecified address, a datagram reaches this host (the kernel
                // puts the sending socket's own address or loopback in its place): any entry
                // with that port.
                return self.any_address.contains(&port)
                    || self.exact.iter().any(|a| a.port() == port);
            }
            self.exact.contains(&SocketAddr::new(ip, port))
                || (self.any_address.contains(&port)
                    && (ip.is_loopback() || self.host.contains(&ip)))
        })
    }
}

/// An address and, for IPv6 forms that embed an IPv4 address, that IPv4 address.
#[derive(Clone, Copy)]
struct Forms {
    ips: [Option<IpAddr>; 2],
}

impl Forms {
    fn of(ip: IpAddr) -> Self {
        let embedded = match ip {
            IpAddr::V4(_) => None,
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
        };
        Self {
            ips: [Some(ip), embedded],
        }
    }

    fn iter(self) -> impl Iterator<Item = IpAddr> {
        self.ips.into_iter().flatten()
    }
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (deprecated, still refused by what it embeds), NAT64 `64:ff9b::a.b.c.d` and
/// 6to4 `2002:aabb:ccdd::`.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

fn refused_by_default(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || o[0] == 0 // "this network" 0.0.0.0/8
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments 192.0.0.0/24
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240 // reserved 240.0.0.0/4
}

fn refused_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local fec0::/10
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only 100::/64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    const REFUSED: &[&str] = &[
        "127.0.0.1",
        "127.255.0.9",
        "0.0.0.0",
        "0.1.2.3",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:0.0.0.0",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "169.254.169.254",
        "fe80::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "fc00::1",
        "fd12:3456::1",
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "2001:db8::1",
    ];

    const ADMITTED: &[&str] = &[
        "8.8.8.8",
        "1.1.1.1",
        "100.128.0.1",
        "172.32.0.1",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
    ];

    #[test]
    fn default_refuses_special_ranges_and_their_ipv6_forms() {
        let f = PeerFilter::default();
        for a in REFUSED {
            assert!(!f.permits(ip(a)), "{a} must be refused by default");
        }
        for a in ADMITTED {
            assert!(f.permits(ip(a)), "{a} must be admitted by default");
        }
    }

    #[test]
    fn allow_list_admits_and_covers_mapped_forms() {
        let f = PeerFilter::new(vec![net("127.0.0.0/8"), net("::1/128")], vec![]);
        assert!(f.permits(ip("127.0.0.1")));
        assert!(f.permits(ip("::ffff:127.0.0.1")));
        assert!(f.permits(ip("::1")));
        assert!(!f.permits(ip("10.0.0.1")));
        assert!(!f.permits(ip("0.0.0.0")));
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn own_addresses_match_exactly_in_every_form() {
        let mut own = OwnAddresses::new([ip("203.0.113.5")]);
        own.add(addr("127.0.0.1:3478"));
        own.add(addr("[::1]:3479"));
        for hit in [
            "127.0.0.1:3478",
            "[::ffff:127.0.0.1]:3478",
            "[::127.0.0.1]:3478",
            "[::1]:3479",
            "0.0.0.0:3478",
            "[::]:3479",
        ] {
            assert!(own.contains(addr(hit)), "{hit}");
        }
        for miss in [
            "127.0.0.1:3479",
            "127.0.0.2:3478",
            "203.0.113.5:3478",
            "[::1]:3478",
        ] {
            assert!(!own.contains(addr(miss)), "{miss}");
        }
    }

    #[test]
    fn own_unspecified_listener_covers_the_port_on_every_host_address() {
        let mut own = OwnAddresses::new([ip("10.1.2.3"), ip("203.0.113.5")]);
        own.add(addr("0.0.0.0:3478"));
        own.add(addr("192.0.2.7:443"));
        for hit in [
            "127.0.0.1:3478",
            "127.9.9.9:3478",
            "0.0.0.0:3478",
            "[::]:3478",
            "10.1.2.3:3478",
            "203.0.113.5:3478",
            "[::ffff:203.0.113.5]:3478",
            "192.0.2.7:3478",
            "192.0.2.7:443",
        ] {
            assert!(own.contains(addr(hit)), "{hit}");
        }
        for miss in [
            "8.8.8.8:3478",
            "10.1.2.4:3478",
            "10.1.2.3:3479",
            "127.0.0.1:443",
        ] {
            assert!(!own.contains(addr(miss)), "{miss}");
        }
    }

    #[test]
    fn deny_list_wins_over_defaults_and_allow_list() {
        let f = PeerFilter::new(
            vec![net("10.0.0.0/8")],
            vec![net("10.1.0.0/16"), net("8.8.8.0/24")],
        );
        assert!(f.permits(ip("10.0.0.1")));
        assert!(!f.permits(ip("10.1.0.1")));
        assert!(!f.permits(ip("::ffff:10.1.0.1")));
        assert!(!f.permits(ip("8.8.8.8")));
        assert!(f.permits(ip("1.1.1.1")));
    }
}
