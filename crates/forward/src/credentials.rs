//! Random values a session is born with: its id, ICE credentials and SDES key, all from the
//! operating system's random source.

use edge_srtp::{MasterKey, Profile};

use crate::{Error, SessionId};

/// The `ice-char` alphabet of RFC 8839 section 5.4: ALPHA / DIGIT / "+" / "/".
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// ufrag length: 8 characters (RFC 8839 asks for at least 4; 48 bits).
const UFRAG_LEN: usize = 8;
/// pwd length: 24 characters (RFC 8839 asks for at least 22; 144 bits).
const PWD_LEN: usize = 24;

fn fill(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Random(e.to_string()))
}

/// A fresh random session id.
pub(crate) fn session_id() -> Result<SessionId, Error> {
    seed().map(SessionId)
}

/// A fresh random seed (for the order a port pool hands out its ports in).
pub(crate) fn seed() -> Result<u64, Error> {
    let mut bytes = [0u8; 8];
    fill(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// A fresh random SSRC (for the relay's stream toward a new SDES receiver).
pub(crate) fn ssrc() -> Result<u32, Error> {
    let mut bytes = [0u8; 4];
    fill(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn ice_string(len: usize) -> Result<String, Error> {
    let mut bytes = [0u8; PWD_LEN];
    let bytes = &mut bytes[..len];
    fill(bytes)?;
    // 64 symbols: the low six bits pick one uniformly.
    Ok(bytes
        .iter()
        .map(|b| char::from(ICE_CHARS[usize::from(b & 63)]))
        .collect())
}

/// A fresh `(ice-ufrag, ice-pwd)` pair.
pub(crate) fn ice_credentials() -> Result<(String, String), Error> {
    Ok((ice_string(UFRAG_LEN)?, ice_string(PWD_LEN)?))
}

/// A fresh SDES master key and salt for `suite`.
pub(crate) fn sdes_key(suite: Profile) -> Result<MasterKey, Error> {
    let mut key = [0u8; 32];
    let mut salt = [0u8; 14];
    let key = &mut key[..suite.master_key_len()];
    let salt = &mut salt[..suite.master_salt_len()];
    fill(key)?;
    fill(salt)?;
    Ok(MasterKey::new(suite, key, salt)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_rfc_8839_and_differ() {
        let (u1, p1) = ice_credentials().unwrap();
        let (u2, p2) = ice_credentials().unwrap();
        assert_eq!((u1.len(), p1.len()), (UFRAG_LEN, PWD_LEN));
        assert!(u1.bytes().chain(p1.bytes()).all(|b| ICE_CHARS.contains(&b)));
        assert_ne!((u1, p1), (u2, p2));
        assert_ne!(session_id().unwrap(), session_id().unwrap());
    }

    #[test]
    fn sdes_keys_have_the_suite_lengths() {
        for suite in [Profile::Aes128CmHmacSha1_80, Profile::AeadAes256Gcm] {
            let k = sdes_key(suite).unwrap();
            assert_eq!(k.key().len(), suite.master_key_len());
            assert_eq!(k.salt().len(), suite.master_salt_len());
        }
    }
}
