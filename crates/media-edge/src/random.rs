//! The process's one random source: the operating system's (getrandom), for secrets made up
//! at start (nonce keys, seeds, generated credentials and tokens).

use anyhow::anyhow;
use base64::Engine as _;

/// `N` bytes from the OS random source.
pub(crate) fn bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| anyhow!("the OS random source failed: {e}"))?;
    Ok(out)
}

/// `N` random bytes as URL-safe base64 without padding: a generated password or token.
pub(crate) fn token<const N: usize>() -> anyhow::Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes::<N>()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// 18 bytes make 24 base64 characters; two draws differ.
    #[test]
    fn tokens_are_fresh_and_sized() {
        let (a, b) = (super::token::<18>().unwrap(), super::token::<18>().unwrap());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }
}
