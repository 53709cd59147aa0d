//! The core's configuration: realm, credentials, relay range, quotas, filters, lifetimes,
//! the guard (bans and rate limits).

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use ipnet::IpNet;

use crate::bandwidth::BandwidthCap;
use crate::Error;

/// Everything the sans-IO [`Server`](crate::Server) needs to know. Build it with
/// [`ServerConfig::new`] and adjust the public fields; [`Server::new`](crate::Server::new)
/// validates it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The realm announced to clients and mixed into long-term keys.
    pub realm: String,
    /// Static long-term users: (username, password).
    pub users: Vec<(String, String)>,
    /// TURN REST API shared secrets; all are accepted, so one can be rotated in before the
    /// old one is removed.
    pub shared_secrets: Vec<Vec<u8>>,
    /// Secret keying the stateless nonces; random per start unless set (tests set it).
    pub nonce_secret: Vec<u8>,
    /// How long a nonce stays valid before the client gets 438 (Stale Nonce).
    pub nonce_lifetime: Duration,
    /// The address relay sockets bind to.
    pub relay_address: IpAddr,
    /// The address announced in XOR-RELAYED-ADDRESS when it differs from `relay_address`
    /// (a server behind a 1:1 NAT).
    pub external_address: Option<IpAddr>,
    /// Relay ports, both ends included.
    pub port_range: RangeInclusive<u16>,
    /// Most allocations one username may hold at once (more get 486).
    pub user_quota: u32,
    /// Most allocations the server holds at once (more get 486).
    pub total_quota: u32,
    /// Per-allocation bandwidth cap over relayed payload, both directions together.
    pub bandwidth: Option<BandwidthCap>,
    /// Lifetime granted when the client asks for none or for less (RFC 8656: 600 s).
    pub default_lifetime: Duration,
    /// Longest lifetime granted (RFC 8656 suggests 3600 s).
    pub max_lifetime: Duration,
    /// Peer ranges admitted although the secure defaults refuse them (e.g. `10.0.0.0/8`).
    pub peer_allow: Vec<IpNet>,
    /// Peer ranges refused on top of the defaults; wins over `peer_allow`.
    pub peer_deny: Vec<IpNet>,
    /// Transport addresses of this host no allocation may relay to (403), whatever
    /// `peer_allow` says: the server's own listeners, which
    /// [`Service::start`](crate::Service::start) adds once bound, and other services on the
    /// host the caller adds (the control API, the forwarder's ports). An unspecified address
    /// (`0.0.0.0:p`, `[::]:p`) stands for port `p` on every address of this host the server
    /// knows: loopback, the unspecified address, the relay and external addresses and every
    /// listed address.
    pub protected_peers: Vec<SocketAddr>,
    /// Bans after repeated authentication failures and per-source request rate limits,
    /// usually one guard shared with the other listeners of the process. `None`: the server
    /// builds its own with [`GuardConfig::default`](edge_guard::GuardConfig) (3 failures in
    /// 600 s ban for 600 s; 50 requests/s, burst 200), so it is secure standalone.
    pub guard: Option<edge_guard::Guard>,
    /// SOFTWARE attribute added to responses, if any.
    pub software: Option<String>,
    /// Seed for the relay port order (tests pin it; drivers pass fresh randomness).
    pub rng_seed: u64,
}

impl ServerConfig {
    /// A configuration with RFC defaults: relay ports 49152-65535, 10 allocations per user,
    /// 10,000 in total, no bandwidth cap, 600 s nonces, lifetimes 600 s / 3600 s, the secure
    /// peer filter, no protected addresses yet, the default guard, no users and no secrets (add
    /// at least one of them).
    pub fn new(realm: impl Into<String>, relay_address: IpAddr) -> Self {
        Self {
            realm: realm.into(),
            users: Vec::new(),
            shared_secrets: Vec::new(),
            nonce_secret: Vec::new(),
            nonce_lifetime: Duration::from_secs(600),
            relay_address,
            external_address: None,
            port_range: 49152..=65535,
            user_quota: 10,
            total_quota: 10_000,
            bandwidth: None,
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            peer_allow: Vec::new(),
            peer_deny: Vec::new(),
            protected_peers: Vec::new(),
            guard: None,
            software: None,
            rng_seed: 0,
        }
    }

    /// Checks the values that would make the server misbehave, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, reason: String| Err(Error::Config { field, reason });
        if self.port_range.is_empty() || *self.port_range.start() == 0 {
            return bad(
                "port_range",
                format!(
                    "{}-{} is empty or includes port 0",
                    self.port_range.start(),
                    self.port_range.end()
                ),
            );
        }
        if self.realm.is_empty() || self.realm.len() > 763 {
            return bad("realm", "must be 1 to 763 bytes (RFC 8489 §14.9)".into());
        }
        if self.users.is_empty() && self.shared_secrets.is_empty() {
            return bad(
                "users",
                "no users and no shared secrets: nobody could authenticate".into(),
            );
        }
        if let Some((name, _)) = self
            .users
            .iter()
            .find(|(n, _)| n.is_empty() || n.len() > 508)
        {
            return bad("users", format!("username {name:?} must be 1 to 508 bytes"));
        }
        if self.shared_secrets.iter().any(Vec::is_empty) {
            return bad("shared_secrets", "a shared secret is empty".into());
        }
        if self.nonce_secret.len() < 16 {
            return bad("nonce_secret", "must be at least 16 bytes".into());
        }
        if self.nonce_lifetime.is_zero() {
            return bad("nonce_lifetime", "must be more than 0".into());
        }
        if self.default_lifetime.is_zero() || self.max_lifetime < self.default_lifetime {
            return bad(
                "max_lifetime",
                "lifetimes must be positive and max >= default".into(),
            );
        }
        if let Some(cap) = self.bandwidth {
            if cap.bytes_per_sec == 0 || cap.burst_bytes < 1500 {
                return bad(
                    "bandwidth",
                    "rate must be > 0 and burst at least one datagram (1500 bytes)".into(),
                );
            }
        }
        Ok(())
    }

    /// The address announced for relay sockets.
    pub(crate) fn announced_relay_address(&self) -> IpAddr {
        self.external_address.unwrap_or(self.relay_address)
    }
}
