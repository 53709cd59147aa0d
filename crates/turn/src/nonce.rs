//! Stateless nonces (RFC 8489 §9.2): minted and checked with a server secret, no table.
//!
//! A nonce is `EEEEEEEEEEEE` + `MMMMMMMMMMMMMMMM`: the expiry in UNIX seconds (12 hex digits)
//! and the first 8 bytes of HMAC-SHA1(server secret, expiry || client IP) in hex. The server
//! keeps nothing per nonce: a nonce is valid when its MAC checks for the client's address and
//! its expiry is in the future; otherwise the client gets 438 (Stale Nonce) and a fresh one.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Length of a nonce in bytes.
pub(crate) const NONCE_LEN: usize = 12 + 16;
const MAC_LEN: usize = 8;

/// Mints and checks nonces with one server secret.
#[derive(Clone)]
pub(crate) struct NonceKey {
    mac: Hmac<Sha1>,
    lifetime_secs: u64,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceKey")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl NonceKey {
    /// `secret` keys the MAC (any length); nonces live `lifetime_secs` seconds.
    pub(crate) fn new(secret: &[u8], lifetime_secs: u64) -> Self {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback key is
        // never used but keeps this constructor infallible without an unwrap.
        let mac = Hmac::<Sha1>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha1> as Mac>::new(&Default::default()));
        Self { mac, lifetime_secs }
    }

    /// A nonce for `client` valid until `now_unix + lifetime`.
    pub(crate) fn mint(&self, now_unix: u64, client: IpAddr) -> [u8; NONCE_LEN] {
        let expiry = now_unix.saturating_add(self.lifetime_secs) & 0xffff_ffff_ffff;
        let mut out = [0u8; NONCE_LEN];
        hex_into(&expiry.to_be_bytes()[2..], &mut out[..12]);
        hex_into(&self.tag(expiry, client)[..MAC_LEN], &mut out[12..]);
        out
    }

    /// Whether `nonce` was minted by this key for `client` and has not expired.
    pub(crate) fn is_valid(&self, nonce: &[u8], now_unix: u64, client: IpAddr) -> bool {
        let (Some(expiry), Some(tag)) = (
            nonce.get(..12).and_then(unhex::<6>),
            nonce.get(12..).and_then(unhex::<MAC_LEN>),
        ) else {
            return false;
        };
        if nonce.len() != NONCE_LEN {
            return false;
        }
        let mut e = [0u8; 8];
        e[2..].copy_from_slice(&expiry);
        let expiry = u64::from_be_bytes(e);
        let mut mac = self.mac.clone();
        feed(&mut mac, expiry, client);
        mac.verify_truncated_left(&tag).is_ok() && expiry > now_unix
    }

    fn tag(&self, expiry: u64, client: IpAddr) -> [u8; 20] {
        let mut mac = self.mac.clone();
        feed(&mut mac, expiry, client);
        mac.finalize().into_bytes().into()
    }
}

fn feed(mac: &mut Hmac<Sha1>, expiry: u64, client: IpAddr) {
    mac.update(&expiry.to_be_bytes());
    match client {
        IpAddr::V4(v4) => mac.update(&v4.octets()),
        IpAddr::V6(v6) => mac.update(&v6.octets()),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}

/// Lowercase hex (as `hex_into` writes it) back to `N` bytes; `None` for any other input.
pub(crate) fn unhex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn valid_until_expiry_for_its_client_only() {
        let k = NonceKey::new(b"server secret", 600);
        let n = k.mint(1_000_000, A);
        assert!(k.is_valid(&n, 1_000_000, A));
        assert!(k.is_valid(&n, 1_000_599, A));
        assert!(!k.is_valid(&n, 1_000_600, A), "expired");
        assert!(!k.is_valid(&n, 1_000_000, B), "other client");
        let other = NonceKey::new(b"another secret", 600);
        assert!(!other.is_valid(&n, 1_000_000, A), "other server secret");
    }

    #[test]
    fn tampered_truncated_and_garbage_nonces_are_invalid() {
        let k = NonceKey::new(b"s", 600);
        let n = k.mint(5, A);
        for i in 0..NONCE_LEN {
            let mut t = n;
            t[i] = if t[i] == b'0' { b'1' } else { b'0' };
            assert!(!k.is_valid(&t, 5, A), "flipped byte {i}");
        }
        for len in 0..NONCE_LEN {
            assert!(!k.is_valid(&n[..len], 5, A));
        }
        let mut long = n.to_vec();
        long.push(b'0');
        assert!(!k.is_valid(&long, 5, A));
        assert!(!k.is_valid(&[0xff; NONCE_LEN], 5, A));
        assert!(!k.is_valid("ééééééééééééééééééééééééééé".as_bytes(), 5, A));
    }
}
