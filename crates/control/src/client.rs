//! Inbound client-side port definition: the clients the API accepts connections from
//! (`api.clients`), and how many connections each holds at once
//! (`api.max-connections-per-client`).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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
    fn matches(&self, peer: SocketAddr) -> bool {
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
    /// The source's entry already holds `api.max-connections-per-client` connections.
    OverLimit,
}

/// Admission at accept: the allow-list and the open connections, per entry and in all.
#[derive(Debug)]
pub(crate) struct Clients {
    listed: Vec<ClientAddr>,
    max_per_client: usize,
    open: Arc<Open>,
}

/// Connections open now.
#[derive(Debug, Default)]
struct Open {
    /// Per entry of `listed` (by index).
    per_entry: Mutex<HashMap<usize, usize>>,
    /// From every source.
    total: AtomicUsize,
}

impl Clients {
    pub(crate) fn new(listed: Vec<ClientAddr>, max_per_client: usize) -> Self {
        Clients {
            listed,
            max_per_client,
            open: Arc::default(),
        }
    }

    /// Admits a connection from `peer`, or says why not. The returned slot holds the
    /// connection's place until it is dropped, on whatever path the connection ends.
    /// Without an allow-list every source is admitted (and only the total counted).
    pub(crate) fn admit(&self, peer: SocketAddr) -> Result<Slot, Refusal> {
        let entry = if self.listed.is_empty() {
            None
        } else {
            // A source-port entry is more specific than a bare address: it is matched first.
            let index = self
                .listed
                .iter()
                .position(|c| c.port.is_some() && c.matches(peer))
                .or_else(|| self.listed.iter().position(|c| c.matches(peer)))
                .ok_or(Refusal::Unlisted)?;
            let mut per_entry = self.open.per_entry();
            let count = per_entry.entry(index).or_insert(0);
            if *count >= self.max_per_client {
                return Err(Refusal::OverLimit);
            }
            *count += 1;
            Some(index)
        };
        self.open.total.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            entry,
            open: Arc::clone(&self.open),
        })
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.total.load(Ordering::Relaxed)
    }
}

impl Open {
    fn per_entry(&self) -> std::sync::MutexGuard<'_, HashMap<usize, usize>> {
        self.per_entry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's place in the counts, given back on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    entry: Option<usize>,
    open: Arc<Open>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.total.fetch_sub(1, Ordering::Relaxed);
        if let Some(index) = self.entry {
            let mut per_entry = self.open.per_entry();
            if let Some(count) = per_entry.get_mut(&index) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    per_entry.remove(&index);
                }
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
        assert!(clients.open.per_entry().is_empty());
    }

    #[test]
    fn no_list_admits_everyone() {
        let clients = Clients::new(Vec::new(), 1);
        let slots: Vec<_> = (0..10)
            .map(|i| clients.admit(addr(&format!("198.51.100.1:{}", 1000 + i))))
            .collect();
        assert!(slots.iter().all(Result::is_ok));
        assert_eq!(clients.open(), 10);
        drop(slots);
        assert_eq!(clients.open(), 0);
    }
}
