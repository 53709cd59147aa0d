//! MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256, the long-term key derivation
//! (RFC 8489 sections 9.2.2, 14.5, 14.6) and FINGERPRINT (section 14.7).

use crc::{Crc, Table, CRC_32_ISO_HDLC};
use hmac::digest::{Digest, KeyInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::Sha256;

use crate::Error;

/// Size of the MESSAGE-INTEGRITY value (an HMAC-SHA1).
pub(crate) const SHA1_LEN: usize = 20;
/// Size of the MESSAGE-INTEGRITY-SHA256 value this crate writes (an untruncated HMAC-SHA256).
pub(crate) const SHA256_LEN: usize = 32;

/// A STUN integrity key with its HMAC state precomputed: build it once per credential
/// (per user or allocation), not once per message.
///
/// The key is the password's bytes for short-term credentials (ICE), or [`long_term_key`] /
/// [`long_term_key_sha256`] for long-term credentials (TURN). Construction hashes the key
/// into HMAC-SHA1 and HMAC-SHA256 inner and outer states (four compression-function calls),
/// so that checking or writing a message costs only the message's own blocks.
#[derive(Clone)]
pub struct IntegrityKey {
    sha1: Hmac<Sha1>,
    sha256: Hmac<Sha256>,
}

impl std::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntegrityKey(..)")
    }
}

impl IntegrityKey {
    /// Precomputes the HMAC states for `key` (any length).
    pub fn new(key: &[u8]) -> Self {
        let mut sha1 = hmac::digest::Key::<Hmac<Sha1>>::default();
        key_block::<Sha1>(key, &mut sha1);
        let mut sha256 = hmac::digest::Key::<Hmac<Sha256>>::default();
        key_block::<Sha256>(key, &mut sha256);
        IntegrityKey {
            sha1: <Hmac<Sha1> as KeyInit>::new(&sha1),
            sha256: <Hmac<Sha256> as KeyInit>::new(&sha256),
        }
    }

    /// A fresh HMAC-SHA1 state keyed with this key.
    pub(crate) fn sha1(&self) -> Hmac<Sha1> {
        self.sha1.clone()
    }

    /// A fresh HMAC-SHA256 state keyed with this key.
    pub(crate) fn sha256(&self) -> Hmac<Sha256> {
        self.sha256.clone()
    }
}

/// Writes `key` as HMAC's block-sized key (RFC 2104): hashed with `D` when longer than
/// the block, zero-padded otherwise. Giving HMAC this form makes its constructor infallible.
fn key_block<D: Digest>(key: &[u8], block: &mut [u8]) {
    if key.len() > block.len() {
        let digest = D::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
}

/// The long-term credential key of RFC 8489 section 9.2.2 with the MD5 password algorithm
/// (the RFC 5389 key every TURN client uses): MD5("username:realm:password").
///
/// The strings are used as given: preparing them (SASLprep for RFC 5389, OpaqueString for
/// RFC 8489) is the caller's job; for ASCII credentials both are the identity.
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    colon_joined::<Md5>(username, realm, password).into()
}

/// The long-term credential key with the SHA-256 password algorithm (RFC 8489 section
/// 18.5.1.2): SHA-256("username:realm:password"). Same preparation note as [`long_term_key`].
pub fn long_term_key_sha256(username: &str, realm: &str, password: &str) -> [u8; 32] {
    colon_joined::<Sha256>(username, realm, password).into()
}

fn colon_joined<D: Digest>(username: &str, realm: &str, password: &str) -> hmac::digest::Output<D> {
    let mut d = D::new();
    d.update(username.as_bytes());
    d.update(b":");
    d.update(realm.as_bytes());
    d.update(b":");
    d.update(password.as_bytes());
    d.finalize()
}

/// HMAC-SHA1 over the message prefix whose header length field is replaced by `length`.
pub(crate) fn sha1_over(key: &IntegrityKey, prefix: &[u8], length: u16) -> Hmac<Sha1> {
    let mut mac = key.sha1();
    feed(&mut mac, prefix, length);
    mac
}

/// HMAC-SHA256 over the message prefix whose header length field is replaced by `length`.
pub(crate) fn sha256_over(key: &IntegrityKey, prefix: &[u8], length: u16) -> Hmac<Sha256> {
    let mut mac = key.sha256();
    feed(&mut mac, prefix, length);
    mac
}

/// Feeds `prefix` (at least the 20-byte header) with bytes 2..4 replaced by `length`.
fn feed(mac: &mut impl Mac, prefix: &[u8], length: u16) {
    mac.update(&prefix[..2]);
    mac.update(&length.to_be_bytes());
    mac.update(&prefix[4..]);
}

/// Checks an HMAC against a received value in constant time (`received` may be a truncated
/// MESSAGE-INTEGRITY-SHA256, at least 16 bytes, checked by the parser).
pub(crate) fn check(mac: impl Mac, received: &[u8], what: &'static str) -> Result<(), Error> {
    mac.verify_truncated_left(received)
        .map_err(|_| Error::IntegrityMismatch(what))
}

/// CRC-32 (ISO-HDLC, as in Ethernet), slice-by-16 table built at compile time.
static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// The FINGERPRINT value of everything before the FINGERPRINT attribute.
pub(crate) fn fingerprint(prefix: &[u8]) -> u32 {
    CRC32.checksum(prefix) ^ 0x5354_554E
}
