//! Master keys and the SRTP key derivation (RFC 3711 section 4.3, key derivation rate 0).

use std::fmt;

use aes::cipher::{KeyInit, KeyIvInit, StreamCipher};
use zeroize::Zeroize;

use crate::{Error, Profile};

/// The master key and master salt of one direction, as DTLS-SRTP exports them (RFC 5764
/// section 4.2) or SDES carries them (RFC 4568).
///
/// The bytes are wiped when the value is dropped and never printed by `Debug`.
#[derive(Clone)]
pub struct MasterKey {
    profile: Profile,
    key: [u8; 32],
    salt: [u8; 14],
}

impl MasterKey {
    /// Checks the lengths against `profile` (see [`Profile::master_key_len`] and
    /// [`Profile::master_salt_len`]).
    pub fn new(profile: Profile, key: &[u8], salt: &[u8]) -> Result<MasterKey, Error> {
        if key.len() != profile.master_key_len() {
            return Err(Error::MasterKeyLength {
                profile,
                expected: profile.master_key_len(),
                actual: key.len(),
            });
        }
        if salt.len() != profile.master_salt_len() {
            return Err(Error::MasterSaltLength {
                profile,
                expected: profile.master_salt_len(),
                actual: salt.len(),
            });
        }
        let mut m = MasterKey {
            profile,
            key: [0; 32],
            salt: [0; 14],
        };
        m.key[..key.len()].copy_from_slice(key);
        m.salt[..salt.len()].copy_from_slice(salt);
        Ok(m)
    }

    /// The profile these keys are for.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The master key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.profile.master_key_len()]
    }

    /// The master salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.master_salt_len()]
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.key.zeroize();
        self.salt.zeroize();
    }
}

/// The key-derivation labels of one packet kind (RFC 3711 section 4.3.2).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Labels {
    /// 0x00 encryption, 0x01 authentication, 0x02 salt.
    Rtp,
    /// 0x03, 0x04, 0x05.
    Rtcp,
}

/// The session keys of one packet kind.
pub(crate) struct SessionKeys {
    /// Encryption key, `Profile::session_key_len` bytes used.
    pub enc: [u8; 32],
    /// HMAC-SHA1 key (unused by GCM).
    pub auth: [u8; 20],
    /// Session salt, `Profile::master_salt_len` bytes used.
    pub salt: [u8; 14],
}

impl Drop for SessionKeys {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.auth.zeroize();
        self.salt.zeroize();
    }
}

impl SessionKeys {
    /// Derives the session keys of `labels` from `master`.
    pub(crate) fn derive(master: &MasterKey, labels: Labels) -> Result<SessionKeys, Error> {
        let base = match labels {
            Labels::Rtp => 0,
            Labels::Rtcp => 3,
        };
        let mut keys = SessionKeys {
            enc: [0; 32],
            auth: [0; 20],
            salt: [0; 14],
        };
        let profile = master.profile();
        prf(master, base, &mut keys.enc[..profile.session_key_len()])?;
        prf(master, base + 1, &mut keys.auth)?;
        prf(
            master,
            base + 2,
            &mut keys.salt[..profile.master_salt_len()],
        )?;
        Ok(keys)
    }
}

/// The AES-CM PRF: keystream of the master key under IV `(master_salt XOR label << 48) << 16`.
/// A 12-byte GCM salt is taken as its first 12 bytes followed by zeros (RFC 7714 section 11).
fn prf(master: &MasterKey, label: u8, out: &mut [u8]) -> Result<(), Error> {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&master.salt);
    iv[7] ^= label;
    out.fill(0);
    keystream(master.key(), &iv, out)
}

/// XORs `data` with the AES counter-mode keystream of a 16- or 32-byte `key` from `iv`.
pub(crate) fn keystream(key: &[u8], iv: &[u8; 16], data: &mut [u8]) -> Result<(), Error> {
    let bad = |_| Error::InvalidConfig("AES key must be 16 or 32 bytes");
    match key.len() {
        32 => ctr::Ctr128BE::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .apply_keystream(data),
        _ => ctr::Ctr128BE::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .apply_keystream(data),
    }
    Ok(())
}

/// An expanded AES key (128 or 256 bits), made once per session.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // One per context; a box would cost an indirection per packet.
pub(crate) enum Aes {
    /// AES-128.
    A128(aes::Aes128),
    /// AES-256.
    A256(aes::Aes256),
}

impl Aes {
    /// Expands a 16- or 32-byte key.
    pub(crate) fn new(key: &[u8]) -> Result<Aes, Error> {
        let bad = |_| Error::InvalidConfig("AES key must be 16 or 32 bytes");
        Ok(match key.len() {
            32 => Aes::A256(aes::Aes256::new_from_slice(key).map_err(bad)?),
            _ => Aes::A128(aes::Aes128::new_from_slice(key).map_err(bad)?),
        })
    }

    /// XORs `data` with the keystream from `iv`, without re-expanding the key.
    pub(crate) fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        use ctr::cipher::InnerIvInit;
        match self {
            Aes::A128(k) => {
                ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(k.clone(), iv.into()))
                    .apply_keystream(data)
            }
            Aes::A256(k) => {
                ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(k.clone(), iv.into()))
                    .apply_keystream(data)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    /// RFC 3711 Appendix B.2: AES-CM keystream segments.
    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let key = unhex("2B7E151628AED2A6ABF7158809CF4F3C");
        let iv: [u8; 16] = unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
            .try_into()
            .unwrap();
        let mut ks = vec![0u8; 16 * 0xff02];
        Aes::new(&key).unwrap().apply_keystream(&iv, &mut ks);
        assert_eq!(
            ks[..48],
            unhex(concat!(
                "E03EAD0935C95E80E166B16DD92B4EB4",
                "D23513162B02D0F72A43A2FE4A5F97AB",
                "41E95B3BB0A2E8DD477901E4FCA894C0"
            ))[..]
        );
        // The RFC's last blocks: counters ...FEFF, ...FF00 and ...FF01.
        assert_eq!(
            ks[16 * 0xfeff..16 * 0xff00],
            unhex("EC8CDF7398607CB0F2D21675EA9EA1E4")[..]
        );
        assert_eq!(
            ks[16 * 0xff00..16 * 0xff01],
            unhex("362B7C3C6773516318A077D7FC5073AE")[..]
        );
        assert_eq!(
            ks[16 * 0xff01..],
            unhex("6A2CC3787889374FBEB4C81B17BA6C44")[..]
        );
        // The one-shot keystream used by the PRF agrees.
        let mut again = vec![0u8; 48];
        keystream(&key, &iv, &mut again).unwrap();
        assert_eq!(again[..], ks[..48]);
    }

    /// RFC 3711 Appendix B.3: key derivation, byte for byte.
    #[test]
    fn rfc3711_b3_key_derivation() {
        let master = MasterKey::new(
            Profile::Aes128CmHmacSha1_80,
            &unhex("E1F97A0D3E018BE0D64FA32C06DE4139"),
            &unhex("0EC675AD498AFEEBB6960B3AABE6"),
        )
        .unwrap();
        let keys = SessionKeys::derive(&master, Labels::Rtp).unwrap();
        assert_eq!(
            keys.enc[..16],
            unhex("C61E7A93744F39EE10734AFE3FF7A087")[..]
        );
        assert_eq!(keys.salt[..], unhex("30CBBC08863D8C85D49DB34A9AE1")[..]);
        assert_eq!(
            keys.auth[..],
            unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")[..]
        );
        // The RFC prints 94 bytes of the authentication-key keystream.
        let mut long = [0u8; 94];
        prf(&master, 1, &mut long).unwrap();
        assert_eq!(
            long[..],
            unhex(concat!(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE",
                "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25",
                "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
            ))[..]
        );
    }

    /// RFC 6188 section 7.1: AES-256-CM keystream segments, at RFC 3711 B.2's counters.
    /// Cross-checked with OpenSSL (the last line is the tail of 0xff02 blocks):
    /// `head -c 48 /dev/zero | openssl enc -aes-256-ctr -K 57f8..4a98 -iv f0f1..fd0000 | xxd -p`
    #[test]
    fn rfc6188_7_1_aes_256_cm_keystream() {
        let key = unhex("57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98");
        let iv: [u8; 16] = unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
            .try_into()
            .unwrap();
        let mut ks = vec![0u8; 16 * 0xff02];
        Aes::new(&key).unwrap().apply_keystream(&iv, &mut ks);
        assert_eq!(
            ks[..48],
            unhex(concat!(
                "92bdd28a93c3f52511c677d08b5515a4",
                "9da71b2378a854f67050756ded165bac",
                "63c4868b7096d88421b563b8c94c9a31"
            ))[..]
        );
        // Counters ...FEFF, ...FF00 and ...FF01.
        assert_eq!(
            ks[16 * 0xfeff..],
            unhex(concat!(
                "cea518c90fd91ced9cbb18c078a54711",
                "3dbc4814f4da5f00a08772b63c6a046d",
                "6eb246913062a16891433e97dd01a57f"
            ))[..]
        );
        let mut again = vec![0u8; 48];
        keystream(&key, &iv, &mut again).unwrap();
        assert_eq!(again[..], ks[..48]);
    }

    /// RFC 6188 section 7.2: the AES_256_CM_PRF key derivation, byte for byte, through the
    /// AES_256_CM_HMAC_SHA1_80 profile. Cross-checked with OpenSSL: each key is the
    /// keystream under IV `master salt (byte 7 XOR label) || 0000`, e.g. for the auth key
    /// `head -c 20 /dev/zero | openssl enc -aes-256-ctr -K f0f0..f1b6 -iv 3b04803de51ee7c86423ab5b78d20000 | xxd -p`
    #[test]
    fn rfc6188_7_2_aes_256_key_derivation() {
        let master = MasterKey::new(
            Profile::Aes256CmHmacSha1_80,
            &unhex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6"),
            &unhex("3b04803de51ee7c96423ab5b78d2"),
        )
        .unwrap();
        let keys = SessionKeys::derive(&master, Labels::Rtp).unwrap();
        assert_eq!(
            keys.enc[..],
            unhex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4")[..]
        );
        assert_eq!(keys.salt[..], unhex("fa31791685ca444a9e07c6c64e93")[..]);
        assert_eq!(
            keys.auth[..],
            unhex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05")[..]
        );
    }

    #[test]
    fn lengths_are_checked_and_keys_not_printed() {
        let p = Profile::AeadAes256Gcm;
        assert_eq!(
            MasterKey::new(p, &[1; 16], &[2; 12]).unwrap_err(),
            Error::MasterKeyLength {
                profile: p,
                expected: 32,
                actual: 16
            }
        );
        assert_eq!(
            MasterKey::new(p, &[1; 32], &[2; 14]).unwrap_err(),
            Error::MasterSaltLength {
                profile: p,
                expected: 12,
                actual: 14
            }
        );
        let k = MasterKey::new(p, &[0xab; 32], &[0xcd; 12]).unwrap();
        assert_eq!(k.key(), &[0xab; 32]);
        assert_eq!(k.salt(), &[0xcd; 12]);
        let shown = format!("{k:?}");
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
    }
}
