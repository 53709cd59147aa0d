//! Inbound client-side port definition: the clients the API accepts connections from
//! (`api.clients`), how many connections each holds at once
//! (`api.max-connections-per-client`: per listed entry, or per source without a list), and
//! how many all hold together (`api.max-connections`).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use edge_guard::IpNet;
use serde::{Deserialize, Deserializer};

/// One entry of `api.clients`: an address, optionally with the source port the client
/// connects from (`192.0.2.10`, `192.0.2.11:40000`, `[2001:db8::1]`, `[2001:db8::1]:40000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    /// The client's address (IPv4-mapped IPv6 addresses are kept as IPv4).
    pub ip: IpAddr,
    /// The source port, when the client is pinned to one.
    pub port: Option<u16>,
}

impl ClientAddr {
    /// Whether a connection or datagram from `peer` is this client's.
    pub fn matches(&self, peer: SocketAddr) -> bool {
        self.ip == peer.ip().to_canonical() && self.port.is_none_or(|p| p == peer.port())
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (ip, Some(port)) => SocketAddr::new(ip, port).fmt(f),
            (IpAddr::V6(ip), None) => write!(f, "[{ip}]"),
            (IpAddr::V4(ip), None) => ip.fmt(f),
        }
    }
}

impl FromStr for ClientAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            if addr.port() == 0 {
                return Err(format!("{s:?}: source port 0 is no port"));
            }
            return Ok(ClientAddr {
                ip: addr.ip().to_canonical(),
                port: Some(addr.port()),
            });
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'));
        let ip = match bare {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().map(IpAddr::V6),
            None => s.parse::<std::net::Ipv4Addr>().map(IpAddr::V4),
        }
        .map_err(|_| {
            format!(
                "{s:?} is not a client address (192.0.2.10, 192.0.2.10:40000, \
                 [2001:db8::1] or [2001:db8::1]:40000)"
            )
        })?;
        if ip.is_unspecified() {
            return Err(format!(
                "{s:?} is the unspecified address, which no client has"
            ));
        }
        Ok(ClientAddr {
            ip: ip.to_canonical(),
            port: None,
        })
    }
}

impl<'de> Deserialize<'de> for ClientAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `api.clients` is set and does not list the source.
    Unlisted,
    /// The source's entry (or, without a list, the source) already holds
    /// `api.max-connections-per-client` connections.
    OverLimit,
    /// All sources together already hold `api.max-connections` connections.
    OverTotal,
}

/// Whose connections count against one `api.max-connections-per-client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    /// An entry of `api.clients` (by value, so a reload that keeps it keeps its count).
    Entry(ClientAddr),
    /// Without a list, a source: an IPv4 address, or an IPv6 network of
    /// `guard.ipv6-prefix` bits, as bans and rate limits count it (one host usually owns a
    /// whole /64).
    Source(IpNet),
}

/// Admission at accept: the allow-list and the open connections, per holder and in all.
#[derive(Debug)]
pub(crate) struct Clients {
    limits: RwLock<Limits>,
    ipv6_prefix: u8,
    open: Arc<Open>,
}

/// What a reload may change: the list and the limits.
#[derive(Debug)]
struct Limits {
    listed: Vec<ClientAddr>,
    max_per_client: usize,
    max_total: usize,
}

/// Connections open now.
#[derive(Debug, Default)]
struct Open {
    /// Per holder; a holder with no open connection has no entry, so this never holds more
    /// entries than there are open connections.
    per_holder: Mutex<HashMap<Holder, usize>>,
    /// From every source. Raised only with `per_holder` locked, so a check and its raise
    /// are one step; lowered without the lock (that only makes room).
    total: AtomicUsize,
}

impl Clients {
    /// Admission by `listed` (empty: every source), at most `max_per_client` connections per
    /// entry, or per source without a list (IPv6 sources cut to `ipv6_prefix` bits), and at
    /// most `max_total` from all sources together.
    pub(crate) fn new(
        listed: Vec<ClientAddr>,
        max_per_client: usize,
        max_total: usize,
        ipv6_prefix: u8,
    ) -> Self {
        Clients {
            limits: RwLock::new(Limits {
                listed,
                max_per_client,
                max_total,
            }),
            ipv6_prefix,
            open: Arc::default(),
        }
    }

    /// Replaces the list and the limits (a reload): they apply to the next connection;
    /// open ones stay open and keep counting against their entry (or source) while it is
    /// still listed.
    pub(crate) fn replace(&self, listed: Vec<ClientAddr>, max_per_client: usize, max_total: usize) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = Limits {
            listed,
            max_per_client,
            max_total,
        };
    }

    /// Admits a connection from `peer`, or says why not: the first of unlisted, over its
    /// holder's limit, over the total. The returned slot holds the connection's place in its
    /// holder's count and in the total until it is dropped, on whatever path the connection
    /// ends.
    pub(crate) fn admit(&self, peer: SocketAddr) -> Result<Slot, Refusal> {
        let limits = self.limits.read().unwrap_or_else(PoisonError::into_inner);
        let holder = self.holder(&limits.listed, peer)?;
        let mut per_holder = self.open.per_holder();
        let count = per_holder.get(&holder).copied().unwrap_or(0);
        if count >= limits.max_per_client {
            return Err(Refusal::OverLimit);
        }
        if self.open.total.load(Ordering::Relaxed) >= limits.max_total {
            return Err(Refusal::OverTotal);
        }
        per_holder.insert(holder, count + 1);
        self.open.total.fetch_add(1, Ordering::Relaxed);
        drop(per_holder);
        Ok(Slot {
            holder,
            open: Arc::clone(&self.open),
        })
    }

    /// Whose count a connection from `peer` joins.
    fn holder(&self, listed: &[ClientAddr], peer: SocketAddr) -> Result<Holder, Refusal> {
        if listed.is_empty() {
            let ip = peer.ip().to_canonical();
            let bits = if ip.is_ipv4() { 32 } else { self.ipv6_prefix };
            // Only a prefix longer than 128 fails, which the guard's config refuses.
            let net = IpNet::new(ip, bits).map_or_else(|_| IpNet::from(ip), |net| net.trunc());
            return Ok(Holder::Source(net));
        }
        // A source-port entry is more specific than a bare address: it is matched first.
        listed
            .iter()
            .find(|c| c.port.is_some() && c.matches(peer))
            .or_else(|| listed.iter().find(|c| c.matches(peer)))
            .copied()
            .map(Holder::Entry)
            .ok_or(Refusal::Unlisted)
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.total.load(Ordering::Relaxed)
    }
}

impl Open {
    fn per_holder(&self) -> std::sync::MutexGuard<'_, HashMap<Holder, usize>> {
        self.per_holder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's place in the counts, given back on drop; its holder's entry goes when its
/// last place does.
#[derive(Debug)]
pub(crate) struct Slot {
    holder: Holder,
    open: Arc<Open>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.total.fetch_sub(1, Ordering::Relaxed);
        let mut per_holder = self.open.per_holder();
        if let Some(count) = per_holder.get_mut(&self.holder) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_holder.remove(&self.holder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn entries() {
        let parse = |s: &str| s.parse::<ClientAddr>().map(|c| c.to_string());
        assert_eq!(parse("192.0.2.10").as_deref(), Ok("192.0.2.10"));
        assert_eq!(parse("192.0.2.11:40000").as_deref(), Ok("192.0.2.11:40000"));
        assert_eq!(parse("[2001:db8::1]").as_deref(), Ok("[2001:db8::1]"));
        assert_eq!(
            parse("[2001:db8::1]:40000").as_deref(),
            Ok("[2001:db8::1]:40000")
        );
        assert_eq!(parse("[::ffff:192.0.2.1]").as_deref(), Ok("192.0.2.1"));
        for bad in [
            "",
            "2001:db8::1",
            "192.0.2.10:0",
            "192.0.2.10:70000",
            "0.0.0.0",
            "[::]",
            "host.example",
            "192.0.2.0/24",
            "[2001:db8::1",
        ] {
            let err = bad.parse::<ClientAddr>().unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn admission_and_release() {
        let clients = Clients::new(
            vec![
                "192.0.2.10".parse().unwrap(),
                "192.0.2.11:40000".parse().unwrap(),
                "[2001:db8::1]".parse().unwrap(),
            ],
            2,
            100,
            64,
        );
        assert_eq!(
            clients.admit(addr("192.0.2.12:1000")).unwrap_err(),
            Refusal::Unlisted
        );
        assert_eq!(
            clients.admit(addr("192.0.2.11:40001")).unwrap_err(),
            Refusal::Unlisted
        );
        let a = clients.admit(addr("192.0.2.10:1000")).unwrap();
        let b = clients.admit(addr("[::ffff:192.0.2.10]:1001")).unwrap();
        assert_eq!(
            clients.admit(addr("192.0.2.10:1002")).unwrap_err(),
            Refusal::OverLimit
        );
        let c = clients.admit(addr("192.0.2.11:40000")).unwrap();
        let d = clients.admit(addr("[2001:db8::1]:5")).unwrap();
        assert_eq!(clients.open(), 4);
        drop(a);
        let e = clients.admit(addr("192.0.2.10:1003")).unwrap();
        drop((b, c, d, e));
        assert_eq!(clients.open(), 0);
        assert!(clients.open.per_holder().is_empty());
    }

    /// Without a list every source is admitted, each up to the cap: IPv4 per address, IPv6
    /// per /64 (IPv4-mapped as IPv4).
    #[test]
    fn no_list_caps_each_source() {
        let clients = Clients::new(Vec::new(), 3, 100, 64);
        let first: Vec<_> = (0..3)
            .map(|i| {
                clients
                    .admit(addr(&format!("198.51.100.1:{}", 1000 + i)))
                    .unwrap()
            })
            .collect();
        assert_eq!(
            clients
                .admit(addr("[::ffff:198.51.100.1]:2000"))
                .unwrap_err(),
            Refusal::OverLimit
        );
        let other = clients.admit(addr("198.51.100.2:1000")).unwrap();
        let v6: Vec<_> = ["[2001:db8::1]:1", "[2001:db8::2]:1", "[2001:db8::ffff:1]:1"]
            .into_iter()
            .map(|a| clients.admit(addr(a)).unwrap())
            .collect();
        assert_eq!(
            clients.admit(addr("[2001:db8::3]:1")).unwrap_err(),
            Refusal::OverLimit
        );
        let next_net = clients.admit(addr("[2001:db8:0:1::1]:1")).unwrap();
        assert_eq!(clients.open(), 8);
        assert_eq!(clients.open.per_holder().len(), 4);
        drop(first);
        let again = clients.admit(addr("198.51.100.1:3000")).unwrap();
        drop((other, v6, next_net, again));
        assert_eq!(clients.open(), 0);
    }

    /// `max_total` caps all sources together; a source at its own limit is refused as over
    /// its limit, not over the total; a refusal leaves no entry; a closed connection makes room.
    #[test]
    fn total_caps_all_sources() {
        let clients = Clients::new(Vec::new(), 2, 3, 64);
        let a = clients.admit(addr("198.51.100.1:1")).unwrap();
        let b = clients.admit(addr("198.51.100.1:2")).unwrap();
        let c = clients.admit(addr("198.51.100.2:1")).unwrap();
        assert_eq!(
            clients.admit(addr("198.51.100.3:1")).unwrap_err(),
            Refusal::OverTotal
        );
        assert_eq!(
            clients.admit(addr("198.51.100.1:3")).unwrap_err(),
            Refusal::OverLimit
        );
        assert_eq!((clients.open(), clients.open.per_holder().len()), (3, 2));
        drop(b);
        let d = clients.admit(addr("198.51.100.3:1")).unwrap();
        assert_eq!(
            clients.admit(addr("198.51.100.1:4")).unwrap_err(),
            Refusal::OverTotal
        );
        drop((a, c, d));
        assert_eq!(clients.open(), 0);
        assert!(clients.open.per_holder().is_empty());
    }

    /// A holder's entry goes with its last connection, and a refusal leaves none behind: the
    /// bookkeeping holds no more entries than open connections, however many sources came.
    #[test]
    fn entries_go_with_their_last_connection() {
        let clients = Clients::new(Vec::new(), 2, 1000, 64);
        let entries = |c: &Clients| c.open.per_holder().len();
        for i in 0..1000u32 {
            let ip = std::net::Ipv4Addr::from(0xc633_6400 + i);
            let a = clients.admit(SocketAddr::from((ip, 1))).unwrap();
            let b = clients.admit(SocketAddr::from((ip, 2))).unwrap();
            assert_eq!(
                clients.admit(SocketAddr::from((ip, 3))).unwrap_err(),
                Refusal::OverLimit
            );
            assert_eq!(entries(&clients), 1);
            drop(a);
            assert_eq!(entries(&clients), 1);
            drop(b);
            assert_eq!(entries(&clients), 0);
        }
        let held: Vec<_> = (0..100u32)
            .map(|i| {
                let ip = std::net::Ipv4Addr::from(0xcb00_7100 + i);
                clients.admit(SocketAddr::from((ip, 1))).unwrap()
            })
            .collect();
        assert_eq!((entries(&clients), clients.open()), (100, 100));
        drop(held);
        assert_eq!((entries(&clients), clients.open()), (0, 0));

        // A listed client's refusal leaves nothing either.
        let listed = Clients::new(vec!["192.0.2.10".parse().unwrap()], 1, 1, 64);
        assert_eq!(
            listed.admit(addr("192.0.2.11:1")).unwrap_err(),
            Refusal::Unlisted
        );
        assert!(listed.open.per_holder().is_empty());
        drop(listed.admit(addr("192.0.2.10:1")).unwrap());
        assert!(listed.open.per_holder().is_empty());
    }
}
