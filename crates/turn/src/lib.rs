//! TURN server (RFC 8656): a sans-IO core plus UDP, TCP and TLS drivers.
//!
//! [`Server`] is the core: allocations (UDP relay), Refresh, CreatePermission, ChannelBind,
//! Send/Data indications, ChannelData and Binding, with long-term and TURN REST API
//! credentials, stateless nonces, quotas, a per-allocation bandwidth cap and a peer filter
//! that is secure by default. It owns no socket and reads no clock: inputs carry `now`,
//! outputs are written into the caller's buffers, and the relay sockets to open and close
//! are [`Command`]s the driver polls and carries out (an Allocate is answered once the
//! driver reports its socket bound, or refused).
//!
//! [`Service`] is the driver: [`ServiceConfig::threads`] mio event loop threads, each with its
//! own `SO_REUSEPORT` UDP, TCP and TLS listeners (rustls, certificate and key from PEM files)
//! and the relay sockets of the allocations it created; relay ports and quotas come from one
//! shared [`Ledger`]. Optionally an XDP program ([`XdpConfig`], crate edge-xdp) relays the
//! ChannelData of UDP allocations in the kernel and drops banned and flooding sources
//! before any socket, its maps kept in step with the cores' state.
//!
//! [`TurnConfig`] is the `[turn]` section of media-edge's configuration file: its schema,
//! defaults, bounds and checks, turned into a [`ServiceConfig`] by
//! [`TurnConfig::service_config`].
//!
//! What it does not do: TCP relay allocations (RFC 6062), dual-stack allocations
//! (ADDITIONAL-ADDRESS-FAMILY is ignored), EVEN-PORT reservations (the R bit), DTLS client
//! transport, the RFC 8489 password algorithms (MESSAGE-INTEGRITY-SHA256 and
//! PASSWORD-ALGORITHMS: clients authenticate with MESSAGE-INTEGRITY, as every TURN client
//! in use does), and rate limits on data (the per-allocation bandwidth cap covers it).
//!
//! # Abuse
//! Every request passes an [`edge_guard::Guard`] (usually shared with the process's other
//! listeners): banned sources are dropped before any crypto work, each source's request rate
//! is limited, and failed logins on a request with a valid nonce count toward a ban; TCP/TLS
//! connections from banned sources are closed at accept, and once a source is banned its
//! open connections (with their allocations) and its UDP allocations are released within
//! about a second. No allocation may relay to the server's own listeners or other protected addresses of the host
//! ([`ServerConfig::protected_peers`]), whatever the allow-list says. See [`Server`].

#![forbid(unsafe_code)]

mod allocation;
mod auth;
mod bandwidth;
mod census;
pub mod client;
mod command;
mod config;
mod driver;
mod error;
mod filter;
mod hash;
mod ledger;
mod nonce;
mod request;
mod server;
mod transport;

pub use allocation::{CloseReason, Usage, CHANNEL_LIFETIME, MAX_PERMISSIONS, PERMISSION_LIFETIME};
pub use auth::rest_password;
pub use bandwidth::BandwidthCap;
pub use census::{Census, ErrorCounts, ERROR_CODES};
pub use command::Command;
pub use config::{
    AuthSection, ListenTlsSection, PeersSection, QuotaSection, RelaySection, ServerConfig,
    TurnConfig, UserEntry, XdpSection, MAX_COALESCE_US, MAX_CONNECTIONS,
};
pub use driver::{
    load_tls_config, LocalAddrs, Reload, Service, ServiceConfig, Snapshot, SnapshotReader,
    TlsListener, XdpConfig, MAX_THREADS, MAX_UDP_SOCKETS,
};
pub use edge_xdp::{Counters as KernelCounters, Mode as XdpMode};
pub use error::Error;
pub use filter::PeerFilter;
pub use ipnet::IpNet;
pub use ledger::Ledger;
pub use server::{ClientAction, Event, Server, Stats, GUARD_SWEEP_INTERVAL, PEER_HEADROOM};
pub use transport::{FiveTuple, Transport};
