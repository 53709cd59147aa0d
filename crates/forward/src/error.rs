//! The crate's one error type.

use std::net::{IpAddr, SocketAddr};

use edge_config::PortRange;

use crate::{ClientSidePort, SessionId};

/// Which leg of a session a socket or address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The browser (public, DTLS-SRTP) leg.
    Public,
    /// The enterprise (RTP or SDES-SRTP) leg.
    Enterprise,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Public => "public",
            Side::Enterprise => "enterprise",
        })
    }
}

/// Why the forwarder refused a configuration, a session or a request about one.
///
/// Caller mistakes (a bad configuration, a bad remote description, an unknown session) are
/// separate variants from resource exhaustion and from operating-system failures, so the
/// control API can map them to 400, 404, 503 and 500 apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is wrong; `key` is its kebab-case path below `[forward]`.
    #[error("relay.{key}: {reason}")]
    Config {
        /// The key, e.g. `public.port-range`.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The remote description given for a session cannot be used (API misuse, usually a
    /// consequence of the SDP it came from).
    #[error("invalid {side} remote: {reason}")]
    InvalidRemote {
        /// The leg it was for.
        side: Side,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// No session has this id (never existed, removed, or ended and lingered out).
    #[error("no session {0}")]
    UnknownSession(SessionId),
    /// The session already ended; it can only be read or removed.
    #[error("session {0} has ended")]
    SessionEnded(SessionId),
    /// A session named an enterprise connection that `enterprise.connections` does not
    /// define (API misuse).
    #[error("no enterprise connection named {name:?} (forward.enterprise.connections)")]
    UnknownConnection {
        /// The name asked for.
        name: String,
    },
    /// A session named an enterprise connection whose tuple is taken: a live session (or
    /// another process) holds its port or, without rtcp-mux, the next.
    #[error(
        "enterprise connection {name:?} ({tuple}) is busy: a live session or another process \
         holds its port"
    )]
    ConnectionBusy {
        /// The connection's name.
        name: String,
        /// Its tuple.
        tuple: ClientSidePort,
    },
    /// `max-sessions` live sessions exist already.
    #[error("session limit reached: {limit} live sessions (forward.max-sessions)")]
    TooManySessions {
        /// The configured limit.
        limit: usize,
    },
    /// Every port (or even/odd port pair) of a side's range is taken.
    #[error("no free {side} UDP port on {ip} in {range}")]
    PortsExhausted {
        /// The side whose range is full.
        side: Side,
        /// The local address.
        ip: IpAddr,
        /// The range.
        range: PortRange,
    },
    /// A socket could not be made or bound (a fixed transport-port in use, an address that
    /// is not local, a permission).
    #[error("cannot bind the {side} socket {addr}: {source}")]
    Bind {
        /// The side.
        side: Side,
        /// The address asked for.
        addr: SocketAddr,
        /// What the UDP layer said.
        #[source]
        source: edge_udp::Error,
    },
    /// SRTP contexts for the enterprise leg could not be made.
    #[error("enterprise SRTP: {0}")]
    Srtp(#[from] edge_srtp::Error),
    /// Entropy for credentials or keys could not be read from the operating system.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// An event loop or thread could not be set up.
    #[error("relay worker set-up failed: {0}")]
    Io(#[from] std::io::Error),
    /// The relay was shut down (or a worker thread died): no session can be handled.
    #[error("the relay is not running")]
    Stopped,
}
