//! Client transports and the 5-tuple that names an allocation (RFC 8656 §2).

use std::fmt;
use std::net::SocketAddr;

/// The transport between a client and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Transport {
    /// STUN/TURN over UDP.
    Udp,
    /// STUN/TURN over TCP (RFC 8656 §5: framed, ChannelData padded to 4 bytes).
    Tcp,
    /// STUN/TURN over TLS over TCP.
    Tls,
}

impl Transport {
    /// Whether this is a stream transport (TCP or TLS), where ChannelData is padded.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        })
    }
}

/// The client side of an allocation: transport, server address, client address, and the
/// driver's handle for the socket or connection they meet on.
///
/// `socket` is opaque to the core: the driver chooses it (an index of a UDP listener, a
/// connection slot) and gets it back in every output addressed to this client, so it can send
/// without a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// Client transport.
    pub transport: Transport,
    /// The server's address the client sends to.
    pub local: SocketAddr,
    /// The client's address as the server sees it.
    pub remote: SocketAddr,
    /// The driver's handle for the socket or connection.
    pub socket: u32,
}

impl fmt::Display for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.transport, self.remote, self.local)
    }
}
