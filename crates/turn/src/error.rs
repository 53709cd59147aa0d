//! The crate's one error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong setting up or running a TURN server. Protocol-level problems (bad
/// requests, failed authentication) are never errors: they are answered with a STUN error
/// response or counted and dropped. Operating-system causes are the error's `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is unusable.
    #[error("invalid TURN configuration: {field}: {reason}")]
    Config {
        /// The field that is wrong.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A key of the `[turn]` section ([`TurnConfig`](crate::TurnConfig)) is refused.
    #[error("{key}: {problem}")]
    Key {
        /// Its path below `[turn]`: `coalesce-us`, `relay.external-address`,
        /// `auth.shared-secrets[0]`.
        key: String,
        /// What is wrong with its value.
        problem: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {transport} {addr}")]
    Listen {
        /// Transport of the listener.
        transport: crate::Transport,
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A TLS certificate or key file could not be read or used.
    #[error("TLS certificate/key {path}: {reason}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// The XDP fast path ([`ServiceConfig::xdp`](crate::ServiceConfig)) could not be loaded
    /// or attached: missing CAP_BPF, CAP_PERFMON or CAP_NET_ADMIN, no such interface, no XDP
    /// in the kernel or the interface's driver.
    #[error("TURN XDP fast path: {0}")]
    Xdp(#[from] edge_xdp::Error),
    /// The event loop failed to start or died.
    #[error("TURN event loop I/O failed")]
    Io(#[from] std::io::Error),
}
