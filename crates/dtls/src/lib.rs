//! DTLS-SRTP key exchange (RFC 5763/5764) as a datagram-level, sans-IO API.
//!
//! A [`Handshake`] is fed the DTLS datagrams a forwarder demultiplexed by first byte
//! (20..=63, RFC 7983) together with the current time; it returns datagrams to send, the next
//! deadline, and finally the [`SrtpKeys`] for both directions, or an [`Error`] that says what
//! went wrong. Many handshakes can run in one thread: no call blocks, sleeps or spawns.
//!
//! ```no_run
//! # use std::time::Instant;
//! # fn demo(remote_sdp_fingerprint: &str, datagram: &[u8]) -> Result<(), edge_dtls::Error> {
//! use edge_dtls::{Certificate, ConfigBuilder, Fingerprint, Handshake, Role};
//! let config = ConfigBuilder::new(Certificate::generate()?).build()?;
//! println!("a=fingerprint:{}", config.certificate().fingerprint());
//! let remote: Fingerprint = remote_sdp_fingerprint.parse()?;
//! let mut handshake = Handshake::new(&config, Role::answering("actpass")?, &[remote], Instant::now())?;
//! handshake.handle_input(Instant::now(), datagram)?;
//! let mut out = Vec::new();
//! while let Some(len) = handshake.poll_transmit(&mut out) { /* send &out[out.len() - len..] */ }
//! if let Some(keys) = handshake.poll_keys() { /* build SRTP contexts from keys */ }
//! # Ok(()) }
//! ```
//!
//! # What it does
//! - Both roles, from SDP `a=setup` ([`Role`]).
//! - An ECDSA P-256 [`Certificate`], generated or loaded from PEM, and its `a=fingerprint`.
//! - Verification of the peer's certificate against its SDP fingerprints (sha-256, and sha-1,
//!   sha-384, sha-512 when offered); keys exist only behind a [`FingerprintVerified`] proof.
//! - `use_srtp` with the four profiles of [`SrtpProfile`], and the RFC 5764 key export.
//! - Retransmission with back-off, a handshake timeout, bounds on buffered and malformed
//!   input, and release of all DTLS state on every failure.
//!
//! # What it does not do
//! - No sockets, no clock, no threads, no async runtime: time is always an argument.
//! - No SRTP itself (edge-srtp does that from the [`SrtpKeys`]), no DTLS application data
//!   (data channels), no renegotiation, no DTLS 1.3, no RSA certificates.
//!
//! # The DTLS library underneath
//! The DTLS 1.2 state machine is webrtc-rs's sans-IO `rtc-dtls`: it takes time as an argument
//! and hands datagrams back, which is this crate's shape already. The async `dtls` crate
//! (0.17) spawns tokio tasks and reads the clock itself, so wrapping it would need a runtime
//! per worker and channels between it and the event loop; on this machine it also completes
//! fewer handshakes per second (see the `dtls_handshake` benchmark, which runs both). None of
//! the library's types appear in this API.
#![forbid(unsafe_code)]

mod certificate;
mod config;
mod entropy;
mod error;
mod fingerprint;
mod handshake;
mod keys;
mod profile;
mod record;
mod retransmit;
mod role;

pub use certificate::Certificate;
pub use config::{Config, ConfigBuilder};
pub use entropy::Entropy;
pub use error::Error;
pub use fingerprint::{Fingerprint, FingerprintVerified, HashAlgorithm};
pub use handshake::{Handshake, HandshakeStats};
pub use keys::SrtpKeys;
pub use profile::SrtpProfile;
pub use role::Role;
