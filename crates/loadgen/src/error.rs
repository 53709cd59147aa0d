//! The crate's one error type.

use std::io;
use std::net::SocketAddr;

/// Everything a load run can fail on. Variants name whose fault it is: the server
/// answered with an error or something malformed, it did not answer, the local system
/// refused (I/O), or the run was asked for something impossible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A response from the server could not be decoded.
    #[error("malformed {what} from {from}: {source}")]
    Malformed {
        /// What was being decoded (a method name, "ChannelData").
        what: &'static str,
        /// Who sent it.
        from: SocketAddr,
        /// The codec's complaint.
        source: edge_stun::Error,
    },
    /// A request got no response after every retransmission.
    #[error("{method} to {to}: no response after {tries} tries")]
    Timeout {
        /// The request's method.
        method: &'static str,
        /// Where it went.
        to: SocketAddr,
        /// How many times it was sent.
        tries: u32,
    },
    /// A socket operation failed.
    #[error("{what} ({addr}): {source}")]
    Io {
        /// What was being done ("bind", "connect", "send", ...).
        what: &'static str,
        /// The address involved.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// edge-udp could not make a socket.
    #[error("UDP socket on {addr}: {source}")]
    Udp {
        /// The address it was to bind.
        addr: SocketAddr,
        /// edge-udp's error.
        source: edge_udp::Error,
    },
    /// The TLS session toward the server failed.
    #[error("TLS with {addr}: {source}")]
    Tls {
        /// The server.
        addr: SocketAddr,
        /// rustls's error.
        source: rustls::Error,
    },
    /// The connection to the server was closed by the server.
    #[error("connection to {0} closed by the server")]
    Closed(SocketAddr),
    /// The other side's SDP cannot be used.
    #[error("SDP: {problem}: {line:?}")]
    Sdp {
        /// What is wrong.
        problem: &'static str,
        /// The offending line (empty when something is missing).
        line: String,
    },
    /// The control API failed a request or answered something unusable.
    #[error("{method} {url}: {problem}")]
    Api {
        /// The HTTP method.
        method: &'static str,
        /// The URL.
        url: String,
        /// The status and the API's error, or what was wrong with the exchange.
        problem: String,
    },
    /// rtpengine refused an ng command or answered something unusable.
    #[error("rtpengine ng {command}: {problem}")]
    Ng {
        /// The command.
        command: &'static str,
        /// Its error-reason, or what was wrong with the exchange.
        problem: String,
    },
    /// The DTLS handshake of a session failed.
    #[error("DTLS with {peer}: {source}")]
    Dtls {
        /// The media address of the other side.
        peer: SocketAddr,
        /// edge-dtls's error.
        source: edge_dtls::Error,
    },
    /// SRTP contexts could not be made from the negotiated keys, or a packet could not be
    /// protected.
    #[error("SRTP toward {peer}: {source}")]
    Srtp {
        /// The media address of the other side.
        peer: SocketAddr,
        /// edge-srtp's error.
        source: edge_srtp::Error,
    },
    /// The echo peer's thread panicked (a bug).
    #[error("the echo peer's thread panicked")]
    EchoPanicked,
    /// A run parameter is out of range (payload too small for a probe, zero flows, ...).
    #[error("invalid parameter {name}: {problem}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}
