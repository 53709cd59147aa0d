//! In-place, allocation-free SRTP/SRTCP protect and unprotect (RFC 3711, 6188, 7714).
//!
//! A session direction has a [`MasterKey`] (profile, master key, master salt), from DTLS-SRTP
//! ([`Profile::from_dtls_id`]) or SDES ([`CryptoAttribute::parse`]). The sender makes an
//! [`Outbound`] from it, the receiver an [`Inbound`]: distinct types, so an inbound context
//! cannot protect, and an `Outbound` refuses to protect the same packet index twice (which
//! would reuse keystream).
//!
//! ```
//! use edge_srtp::{Config, Inbound, MasterKey, Outbound, Profile};
//!
//! let key = MasterKey::new(Profile::from_dtls_id(0x0007)?, &[7; 16], &[9; 12])?;
//! let (mut tx, mut rx) = (Outbound::new(&key, &Config::default())?,
//!                         Inbound::new(&key, &Config::default())?);
//! let mut slot = [0u8; 1500]; // a receive-buffer slot with tailroom
//! let rtp = [0x80, 0, 0, 1, 0, 0, 0, 0, 0xca, 0xfe, 0, 1, b'h', b'i'];
//! slot[..rtp.len()].copy_from_slice(&rtp);
//! let srtp_len = tx.protect_rtp(&mut slot, rtp.len())?;
//! assert_eq!(srtp_len, rtp.len() + key.profile().rtp_overhead());
//! let rtp_len = rx.unprotect_rtp(&mut slot, srtp_len)?;
//! assert_eq!(&slot[..rtp_len], &rtp);
//! # Ok::<(), edge_srtp::Error>(())
//! ```
//!
//! Per packet nothing allocates, locks or reads a clock: session keys are derived, AES keys
//! expanded and HMAC pads absorbed when a context is made; each SSRC's state (rollover
//! counter, replay windows, SRTCP index) lives in storage reserved then, up to
//! [`Config::with_max_ssrcs`] SSRCs.
//!
//! What it does not do: MKIs, key derivation rates other than 0, AES-f8, RFC 6904
//! header-extension encryption (refused by [`check_extmap_uri`]), re-keying (make new
//! contexts), RTP/RTCP demultiplexing (the caller's, RFC 5761 / RFC 7983).

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod context;
mod error;
mod kdf;
mod profile;
mod replay;
mod rtp;
mod sdes;
mod stream;
mod transform;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod vectors;

pub use context::{Config, Inbound, Outbound};
pub use error::{Error, PacketKind};
pub use kdf::MasterKey;
pub use profile::Profile;
pub use sdes::{check_extmap_uri, CryptoAttribute, ENCRYPTED_EXTMAP_URI};
