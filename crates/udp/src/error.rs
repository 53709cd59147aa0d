//! The crate's error type: socket set-up failures. The per-batch calls
//! ([`crate::UdpSocket::recv`], [`crate::UdpSocket::send`]) return `std::io::Error` so an event
//! loop can match `WouldBlock` directly.

use std::io;
use std::net::SocketAddr;

/// Why a socket could not be made or configured. Each variant names the address or option
/// that is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to create a socket.
    #[error("cannot create a UDP socket for {addr}: {source}")]
    Create {
        /// The address the socket was for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Binding failed (address in use, not a local address, permission denied).
    #[error("cannot bind UDP socket to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A socket option the caller asked for could not be set.
    #[error("cannot set {option} on UDP socket {addr}: {source}")]
    Option {
        /// The option, e.g. `SO_REUSEPORT`, `O_NONBLOCK`.
        option: &'static str,
        /// The socket's address (or the address it was being bound to).
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}
