//! The configuration, in two layers:
//!
//! - [`TurnConfig`]: the `[turn]` section of media-edge's file, read with serde (kebab-case
//!   keys, unknown keys refused), with its defaults, bounds and checks; errors name the key
//!   path below `[turn]` ([`Error::Key`]). [`TurnConfig::service_config`] turns it into
//! - [`ServiceConfig`] (the driver's: listeners, threads, sockets) holding a
//!   [`ServerConfig`] (the sans-IO core's: realm, credentials, relay range, quotas,
//!   filters, lifetimes, the guard), which programs may also build directly.
//!
//! Times in the file are seconds (integer or fractional, edge-config's bounded parser),
//! except `coalesce-us`, in microseconds as its name says.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use edge_config::{networks, seconds, PortRange, MAX_SOCKET_BUFFER, MIN_SOCKET_BUFFER};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use crate::bandwidth::BandwidthCap;
use crate::{Error, ServiceConfig, TlsListener, XdpConfig, XdpMode, MAX_THREADS, MAX_UDP_SOCKETS};

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
    pub port_range: PortRange,
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
            port_range: PortRange::DYNAMIC,
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
        if let Some(problem) = realm_problem(&self.realm) {
            return bad("realm", problem);
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
            return bad("nonce_lifetime", NONCE_LIFETIME_PROBLEM.into());
        }
        if let Some(problem) = lifetimes_problem(self.default_lifetime, self.max_lifetime) {
            return bad("max_lifetime", problem.into());
        }
        if let Some((_, problem)) = self.bandwidth.as_ref().and_then(bandwidth_problem) {
            return bad("bandwidth", problem);
        }
        Ok(())
    }

    /// The address announced for relay sockets.
    pub(crate) fn announced_relay_address(&self) -> IpAddr {
        self.external_address.unwrap_or(self.relay_address)
    }
}

// The checks both layers make, each giving the problem: `ServerConfig::validate` names the
// field, `TurnConfig::validate` the key.

/// What is wrong with a realm, if anything.
fn realm_problem(realm: &str) -> Option<String> {
    (realm.is_empty() || realm.len() > MAX_TEXT)
        .then(|| format!("must be 1 to {MAX_TEXT} bytes (RFC 8489 §14.9)"))
}

/// What is wrong with a pair of allocation lifetimes, if anything.
fn lifetimes_problem(default_lifetime: Duration, max_lifetime: Duration) -> Option<&'static str> {
    (default_lifetime.is_zero() || max_lifetime < default_lifetime)
        .then_some("must be >= default-lifetime (> 0)")
}

/// What is wrong with a zero nonce lifetime.
const NONCE_LIFETIME_PROBLEM: &str = "must be more than 0";

/// Which half of a bandwidth cap is wrong (true: the burst) and why, if anything.
fn bandwidth_problem(cap: &BandwidthCap) -> Option<(bool, String)> {
    if cap.bytes_per_sec == 0 {
        return Some((false, "must be more than 0 bytes per second".into()));
    }
    if cap.burst_bytes < 1500 {
        return Some((true, "must be at least 1500 bytes (one datagram)".into()));
    }
    edge_guard::Refill::check(cap.bytes_per_sec as f64, cap.burst_bytes)
        .err()
        .map(|e| (true, e.to_string()))
}

/// `[turn]`: the TURN/STUN server's section of media-edge's file. Deserializes from
/// kebab-case keys and refuses unknown ones; `relay` is required, every other key has a
/// default. [`validate`](Self::validate) checks what serde cannot (media-edge calls it when
/// it parses the file); [`service_config`](Self::service_config) makes the running
/// service's configuration.
///
/// ```toml
/// [turn]
/// listen-udp = ["0.0.0.0:3478"]
/// default-lifetime = 600      # seconds
///
/// [turn.relay]
/// address = "10.1.2.3"
/// port-range = "49152-65535"
///
/// [[turn.auth.users]]
/// name = "alice"
/// password = "..."
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct TurnConfig {
    /// Realm announced to clients, 1 to 763 bytes. Default `media-edge`.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// SOFTWARE attribute in responses, at most 763 bytes; none when absent.
    pub software: Option<String>,
    /// UDP listeners.
    #[serde(default)]
    pub listen_udp: Vec<SocketAddr>,
    /// TCP listeners.
    #[serde(default)]
    pub listen_tcp: Vec<SocketAddr>,
    /// TLS listeners.
    #[serde(default)]
    pub listen_tls: Vec<ListenTlsSection>,
    /// Most TCP/TLS connections at once, per thread: 1 to [`MAX_CONNECTIONS`]. Default 4096.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// SO_RCVBUF/SO_SNDBUF of UDP listener and relay sockets, bytes: [`MIN_SOCKET_BUFFER`]
    /// to [`MAX_SOCKET_BUFFER`] (the kernel caps it further at net.core.rmem_max/wmem_max).
    /// Default 4 MiB.
    #[serde(default = "default_socket_buffer")]
    pub socket_buffer: usize,
    /// Wake-up coalescing window of the TURN event loop, microseconds (0: off); at most
    /// [`MAX_COALESCE_US`]. Default 200.
    #[serde(default = "default_coalesce_us")]
    pub coalesce_us: u64,
    /// TURN event loop threads, each with its own SO_REUSEPORT listeners and allocations;
    /// one per CPU core when absent; at most [`MAX_THREADS`].
    pub threads: Option<usize>,
    /// UDP sockets per `listen-udp` address on each TURN thread (SO_REUSEPORT): a
    /// one-source flood fills one socket's queue only; at most [`MAX_UDP_SOCKETS`].
    /// Default 1.
    #[serde(default = "default_udp_sockets")]
    pub udp_sockets: usize,
    /// Lifetime granted when a client asks for less or none, seconds. Default 600.
    #[serde(default = "default_lifetime", deserialize_with = "seconds")]
    pub default_lifetime: Duration,
    /// Longest lifetime granted, seconds. Default 3600.
    #[serde(default = "default_max_lifetime", deserialize_with = "seconds")]
    pub max_lifetime: Duration,
    /// `[turn.relay]`.
    pub relay: RelaySection,
    /// `[turn.auth]`.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[turn.quota]`.
    #[serde(default)]
    pub quota: QuotaSection,
    /// `[turn.peers]`.
    #[serde(default)]
    pub peers: PeersSection,
    /// `[turn.xdp]`: the XDP fast path; off when absent.
    pub xdp: Option<XdpSection>,
}

/// Longest `coalesce-us`: beyond 10 ms the added delay would show in calls.
pub const MAX_COALESCE_US: u64 = 10_000;

/// Most TCP/TLS connections one thread holds (`max-connections`).
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// Longest realm and SOFTWARE value, bytes (RFC 8489 §14.9, §14.14).
const MAX_TEXT: usize = 763;

/// `[turn.xdp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct XdpSection {
    /// The interface clients and peers reach the TURN listeners and relay address through.
    pub interface: String,
    /// Where the program runs: `native` (the default) or `generic`.
    #[serde(default = "default_xdp_mode", deserialize_with = "xdp_mode")]
    pub mode: XdpMode,
    /// Datagrams per second one source may send to the UDP listeners before the kernel
    /// drops the rest (0: no limit).
    #[serde(default)]
    pub source_pps: u32,
    /// Datagrams one source may send at once above that rate; `source-pps` when absent.
    pub source_burst: Option<u32>,
}

fn default_xdp_mode() -> XdpMode {
    XdpMode::Native
}

/// `native` or `generic`.
fn xdp_mode<'de, D: Deserializer<'de>>(d: D) -> Result<XdpMode, D::Error> {
    match String::deserialize(d)?.as_str() {
        "native" => Ok(XdpMode::Native),
        "generic" => Ok(XdpMode::Generic),
        other => Err(serde::de::Error::custom(format!(
            "{other:?} is not \"native\" or \"generic\""
        ))),
    }
}

fn default_realm() -> String {
    "media-edge".into()
}

/// The core's and the driver's defaults ([`ServerConfig::new`], [`ServiceConfig::new`]),
/// the one place each is written; the section's defaults read them.
fn defaults() -> ServiceConfig {
    ServiceConfig::new(ServerConfig::new(String::new(), IpAddr::from([0, 0, 0, 0])))
}
fn default_max_connections() -> usize {
    defaults().max_connections
}
fn default_socket_buffer() -> usize {
    defaults().socket_buffer.unwrap_or(MIN_SOCKET_BUFFER)
}
fn default_udp_sockets() -> usize {
    defaults().udp_sockets
}
fn default_coalesce_us() -> u64 {
    u64::try_from(defaults().coalesce.as_micros()).unwrap_or(MAX_COALESCE_US)
}
fn default_lifetime() -> Duration {
    defaults().server.default_lifetime
}
fn default_max_lifetime() -> Duration {
    defaults().server.max_lifetime
}

/// `[[turn.listen-tls]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ListenTlsSection {
    /// Address to listen on.
    pub address: SocketAddr,
    /// PEM certificate chain file.
    pub certificate: PathBuf,
    /// PEM private key file.
    pub private_key: PathBuf,
}

/// `[turn.relay]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct RelaySection {
    /// Address relay sockets bind to.
    pub address: IpAddr,
    /// Address announced to clients when the relay is behind a 1:1 NAT; required when
    /// `address` is unspecified.
    pub external_address: Option<IpAddr>,
    /// `first-last`, both included. Default `49152-65535`.
    #[serde(default = "default_ports")]
    pub port_range: PortRange,
}

fn default_ports() -> PortRange {
    defaults().server.port_range
}

/// `[turn.auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct AuthSection {
    /// Static users.
    #[serde(default)]
    pub users: Vec<UserEntry>,
    /// TURN REST API shared secrets (all accepted, for rotation), each at least 16
    /// characters.
    #[serde(default)]
    pub shared_secrets: Vec<String>,
    /// Nonce lifetime, seconds, more than 0. Default 600.
    #[serde(default = "default_nonce_lifetime", deserialize_with = "seconds")]
    pub nonce_lifetime: Duration,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            shared_secrets: Vec::new(),
            nonce_lifetime: default_nonce_lifetime(),
        }
    }
}

fn default_nonce_lifetime() -> Duration {
    defaults().server.nonce_lifetime
}

/// `[[turn.auth.users]]`. Its `Debug` leaves the password out.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct UserEntry {
    /// Username.
    pub name: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `[turn.quota]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct QuotaSection {
    /// Allocations one username may hold. Default 10.
    #[serde(default = "default_per_user")]
    pub allocations_per_user: u32,
    /// Allocations the server holds (each also needs a free relay port). Default 10,000.
    #[serde(default = "default_total")]
    pub allocations_total: u32,
    /// Bandwidth cap per allocation, bytes per second; none when absent.
    pub bandwidth: Option<u64>,
    /// Burst above the cap, bytes (default: one second at the cap, at least 1500).
    pub bandwidth_burst: Option<u64>,
}

impl Default for QuotaSection {
    fn default() -> Self {
        Self {
            allocations_per_user: default_per_user(),
            allocations_total: default_total(),
            bandwidth: None,
            bandwidth_burst: None,
        }
    }
}

fn default_per_user() -> u32 {
    defaults().server.user_quota
}
fn default_total() -> u32 {
    defaults().server.total_quota
}

/// `[turn.peers]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct PeersSection {
    /// Ranges admitted although refused by default (loopback, private, ...).
    #[serde(default, deserialize_with = "networks")]
    pub allow: Vec<IpNet>,
    /// Ranges refused on top; wins over `allow`.
    #[serde(default, deserialize_with = "networks")]
    pub deny: Vec<IpNet>,
}

/// [`Error::Key`] for `key`.
fn refuse(key: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::Key {
        key: key.into(),
        problem: problem.into(),
    }
}

impl TurnConfig {
    /// Whether neither users nor shared secrets are configured (a program may then make up
    /// a user for loopback listeners: [`validate`](Self::validate) refuses any other).
    pub fn has_no_credentials(&self) -> bool {
        self.auth.users.is_empty() && self.auth.shared_secrets.is_empty()
    }

    /// Every listener's configured address.
    pub fn listen_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.listen_udp
            .iter()
            .chain(&self.listen_tcp)
            .copied()
            .chain(self.listen_tls.iter().map(|l| l.address))
    }

    /// The bandwidth cap the quota keys describe.
    fn bandwidth(&self) -> Option<BandwidthCap> {
        let q = &self.quota;
        q.bandwidth.map(|rate| BandwidthCap {
            bytes_per_sec: rate,
            burst_bytes: q.bandwidth_burst.unwrap_or(rate.max(1500)),
        })
    }

    /// Checks what serde cannot: bounds and combinations of keys.
    ///
    /// # Errors
    /// [`Error::Key`] naming the first key that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        if self.listen_addrs().next().is_none() {
            return Err(refuse(
                "listen-udp",
                "no listen-udp, listen-tcp or listen-tls: nothing to serve",
            ));
        }
        if let Some(problem) = realm_problem(&self.realm) {
            return Err(refuse("realm", problem));
        }
        if self.software.as_ref().is_some_and(|s| s.len() > MAX_TEXT) {
            return Err(refuse("software", format!("longer than {MAX_TEXT} bytes")));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(refuse(
                "max-connections",
                format!(
                    "{} is not between 1 and {MAX_CONNECTIONS}",
                    self.max_connections
                ),
            ));
        }
        if !(MIN_SOCKET_BUFFER..=MAX_SOCKET_BUFFER).contains(&self.socket_buffer) {
            return Err(refuse(
                "socket-buffer",
                format!(
                    "{} is not between {MIN_SOCKET_BUFFER} and {MAX_SOCKET_BUFFER} bytes",
                    self.socket_buffer
                ),
            ));
        }
        if let Some(problem) = lifetimes_problem(self.default_lifetime, self.max_lifetime) {
            return Err(refuse("max-lifetime", problem));
        }
        self.validate_auth()?;
        if let Some((burst, problem)) = self.bandwidth().as_ref().and_then(bandwidth_problem) {
            let key = match burst {
                true => "quota.bandwidth-burst",
                false => "quota.bandwidth",
            };
            return Err(refuse(key, problem));
        }
        let relay = &self.relay;
        if relay.address.is_unspecified() && relay.external_address.is_none() {
            return Err(refuse(
                "relay.external-address",
                format!(
                    "required when turn.relay.address is {} (clients must be told a reachable \
                     address)",
                    relay.address
                ),
            ));
        }
        Ok(())
    }

    /// The `[turn.auth]` checks, the loopback-only rule for a file without credentials
    /// among them.
    fn validate_auth(&self) -> Result<(), Error> {
        let auth = &self.auth;
        if auth.nonce_lifetime.is_zero() {
            return Err(refuse("auth.nonce-lifetime", NONCE_LIFETIME_PROBLEM));
        }
        if let Some(i) = auth.shared_secrets.iter().position(|s| s.len() < 16) {
            return Err(refuse(
                format!("auth.shared-secrets[{i}]"),
                "shorter than 16 characters",
            ));
        }
        if let Some(u) = auth
            .users
            .iter()
            .find(|u| u.name.is_empty() || u.password.is_empty())
        {
            return Err(refuse(
                "auth.users",
                format!("user {:?} has an empty name or password", u.name),
            ));
        }
        if self.has_no_credentials() {
            if let Some(public) = self.listen_addrs().find(|a| !a.ip().is_loopback()) {
                return Err(refuse(
                    "auth",
                    format!(
                        "no users and no shared-secrets, but {public} is not loopback: \
                         configure credentials for any non-loopback listener"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The service this section describes, checked first ([`validate`](Self::validate)),
    /// together with the values checked as they are converted (`coalesce-us`, `threads`,
    /// `udp-sockets`, `[turn.xdp]`). `threads` absent is one per CPU core the process may
    /// run on. `nonce_secret` and `rng_seed` are fresh randomness
    /// ([`ServerConfig::nonce_secret`], [`ServerConfig::rng_seed`]).
    ///
    /// What the file does not hold is the caller's to add before starting the service:
    /// more users (`server.users`), the shared guard (`server.guard`), other services'
    /// addresses no allocation may reach (`server.protected_peers`); then
    /// [`ServerConfig::validate`].
    ///
    /// # Errors
    /// [`Error::Key`] naming the key that is wrong.
    pub fn service_config(
        &self,
        nonce_secret: Vec<u8>,
        rng_seed: u64,
    ) -> Result<ServiceConfig, Error> {
        self.validate()?;
        let mut server = ServerConfig::new(self.realm.clone(), self.relay.address);
        let auth = &self.auth;
        server.users = auth
            .users
            .iter()
            .map(|u| (u.name.clone(), u.password.clone()))
            .collect();
        server.shared_secrets = auth
            .shared_secrets
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        server.nonce_secret = nonce_secret;
        server.nonce_lifetime = auth.nonce_lifetime;
        server.external_address = self.relay.external_address;
        server.port_range = self.relay.port_range;
        server.user_quota = self.quota.allocations_per_user;
        server.total_quota = self.quota.allocations_total;
        server.bandwidth = self.bandwidth();
        server.default_lifetime = self.default_lifetime;
        server.max_lifetime = self.max_lifetime;
        server.peer_allow.clone_from(&self.peers.allow);
        server.peer_deny.clone_from(&self.peers.deny);
        server.software.clone_from(&self.software);
        server.rng_seed = rng_seed;
        let mut service = ServiceConfig::new(server);
        service.udp.clone_from(&self.listen_udp);
        service.tcp.clone_from(&self.listen_tcp);
        service.tls = self
            .listen_tls
            .iter()
            .map(|l| TlsListener {
                addr: l.address,
                certificate: l.certificate.clone(),
                private_key: l.private_key.clone(),
            })
            .collect();
        service.max_connections = self.max_connections;
        service.socket_buffer = Some(self.socket_buffer);
        if self.coalesce_us > MAX_COALESCE_US {
            return Err(refuse(
                "coalesce-us",
                format!(
                    "{} is above {MAX_COALESCE_US} (10 ms of added delay per pass)",
                    self.coalesce_us
                ),
            ));
        }
        service.coalesce = Duration::from_micros(self.coalesce_us);
        service.threads = match self.threads {
            Some(n) if (1..=MAX_THREADS).contains(&n) => n,
            Some(n) => {
                return Err(refuse(
                    "threads",
                    format!("{n} is not between 1 and {MAX_THREADS}"),
                ))
            }
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if !(1..=MAX_UDP_SOCKETS).contains(&self.udp_sockets) {
            return Err(refuse(
                "udp-sockets",
                format!(
                    "{} is not between 1 and {MAX_UDP_SOCKETS}",
                    self.udp_sockets
                ),
            ));
        }
        service.udp_sockets = self.udp_sockets;
        if let Some(x) = &self.xdp {
            if x.interface.is_empty() {
                return Err(refuse("xdp.interface", "empty"));
            }
            let mut xdp = XdpConfig::new(x.interface.clone(), x.mode);
            xdp.source_pps = x.source_pps;
            xdp.source_burst = x.source_burst.unwrap_or(x.source_pps);
            if xdp.source_pps > 0 && xdp.source_burst == 0 {
                return Err(refuse("xdp.source-burst", "0 with a source-pps limit"));
            }
            service.xdp = Some(xdp);
        }
        Ok(service)
    }
}
