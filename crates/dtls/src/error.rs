//! The one error type of this crate.

use std::time::Duration;

use crate::fingerprint::HashAlgorithm;

/// Why a handshake, a certificate, a fingerprint or a configuration was refused.
///
/// Peer faults (the remote side misbehaved or disagreed), local configuration faults and API
/// misuse are separate variants, so a caller can count and report them apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Peer fault: the certificate the peer presented does not hash to any SDP fingerprint.
    #[error("the remote DTLS certificate does not match the SDP a=fingerprint ({algorithm})")]
    FingerprintMismatch {
        /// The hash function the certificate was checked with.
        algorithm: HashAlgorithm,
    },
    /// Peer fault: the peer completed the handshake without presenting a certificate.
    #[error("the remote DTLS peer presented no certificate")]
    NoPeerCertificate,
    /// Peer fault: no SRTP protection profile is shared with the peer (the `use_srtp`
    /// extension was missing or offered only profiles we do not accept).
    #[error("no SRTP protection profile in common with the DTLS peer (use_srtp)")]
    NoCommonProfile,
    /// Peer fault: the peer aborted the handshake with an alert.
    #[error("the DTLS peer aborted the handshake with a {name} alert")]
    PeerAlert {
        /// The alert description's name (RFC 5246 §7.2), or `encrypted` when it was sent
        /// after ChangeCipherSpec and could not be read here.
        name: &'static str,
    },
    /// The peer closed the association with `close_notify`.
    #[error("the DTLS peer closed the association (close_notify)")]
    PeerClosed,
    /// The handshake did not complete in time (the peer stopped answering, or never started).
    #[error("the DTLS handshake did not complete within {timeout:?}")]
    Timeout {
        /// The configured handshake timeout.
        timeout: Duration,
    },
    /// Peer fault: more handshake data arrived than one handshake may buffer.
    #[error("the DTLS peer sent more than {limit} bytes of handshake records")]
    TooMuchHandshakeData {
        /// The configured bound (`ConfigBuilder::max_handshake_bytes`).
        limit: usize,
    },
    /// Peer fault: too many datagrams that are not DTLS records arrived during the handshake.
    #[error("the DTLS peer sent more than {limit} malformed datagrams during the handshake")]
    Malformed {
        /// The configured bound (`ConfigBuilder::max_malformed_datagrams`).
        limit: u32,
    },
    /// The DTLS state machine refused the handshake for another reason (a decode error, a bad
    /// signature, no common cipher suite, ...); the source says which.
    #[error("the DTLS handshake failed: {source}")]
    Protocol {
        /// The DTLS library's own description.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An SDP `a=fingerprint` value could not be parsed.
    #[error("invalid SDP a=fingerprint value {value:?}: {reason}")]
    InvalidFingerprint {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An SDP `a=setup` value is not one this crate can act on.
    #[error("invalid SDP a=setup value {value:?}: expected active, passive or actpass")]
    InvalidSetup {
        /// The value as given.
        value: String,
    },
    /// An SRTP protection profile name is not one of the four this crate supports.
    #[error("unknown SRTP protection profile {name:?}")]
    UnknownProfile {
        /// The name as given.
        name: String,
    },
    /// A certificate or private key could not be generated, parsed or paired.
    #[error("invalid DTLS certificate: {reason}")]
    InvalidCertificate {
        /// What is wrong, naming the PEM block or key involved.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid DTLS configuration: {reason}")]
    Config {
        /// Which setting is wrong.
        reason: &'static str,
    },
    /// API misuse: input or a timeout was fed to a handshake that already failed or closed.
    #[error("the DTLS handshake has already failed or closed")]
    Closed,
}

impl Error {
    /// Wraps an error of the DTLS library without naming its type in this crate's API.
    pub(crate) fn protocol(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Protocol {
            source: Box::new(source),
        }
    }
}
