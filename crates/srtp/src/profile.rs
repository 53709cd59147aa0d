//! SRTP protection profiles (crypto suites) and their names in DTLS-SRTP and SDES.

use std::fmt;

use crate::Error;

/// An SRTP protection profile: cipher, key sizes and authentication tag.
///
/// The same profile protects SRTP and SRTCP; the SRTCP tag of the `_32` profiles is still 80 bits
/// (RFC 5764 section 4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 3711): AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    Aes128CmHmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 3711): as above with a 32-bit SRTP tag.
    Aes128CmHmacSha1_32,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    Aes256CmHmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    Aes256CmHmacSha1_32,
    /// `AEAD_AES_128_GCM` (RFC 7714): 16-byte tag, 12-byte salt.
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
    /// `NULL_HMAC_SHA1_80`: no encryption, 80-bit HMAC-SHA1 tag. For tests and debugging only.
    NullHmacSha1_80,
}

/// The cipher family of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// AES counter mode (or no encryption) with HMAC-SHA1.
    CmHmac,
    /// AES-GCM.
    Gcm,
}

impl Profile {
    /// Every profile, for iteration in tests and configuration listings.
    pub const ALL: [Profile; 7] = [
        Profile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32,
        Profile::Aes256CmHmacSha1_80,
        Profile::Aes256CmHmacSha1_32,
        Profile::AeadAes128Gcm,
        Profile::AeadAes256Gcm,
        Profile::NullHmacSha1_80,
    ];

    /// The profile negotiated by DTLS-SRTP's `use_srtp` extension (RFC 5764 section 4.1.2,
    /// RFC 7714 section 14.2): 0x0001, 0x0002, 0x0005, 0x0007, 0x0008.
    pub fn from_dtls_id(id: u16) -> Result<Profile, Error> {
        Profile::ALL
            .into_iter()
            .find(|p| p.dtls_id() == Some(id))
            .ok_or(Error::UnknownDtlsProfile(id))
    }

    /// The DTLS-SRTP protection profile id, when the profile has one (the AES-256-CM profiles
    /// of RFC 6188 have none).
    pub fn dtls_id(self) -> Option<u16> {
        match self {
            Profile::Aes128CmHmacSha1_80 => Some(0x0001),
            Profile::Aes128CmHmacSha1_32 => Some(0x0002),
            Profile::NullHmacSha1_80 => Some(0x0005),
            Profile::AeadAes128Gcm => Some(0x0007),
            Profile::AeadAes256Gcm => Some(0x0008),
            Profile::Aes256CmHmacSha1_80 | Profile::Aes256CmHmacSha1_32 => None,
        }
    }

    /// The SDES crypto-suite name (RFC 4568 section 6.2, RFC 6188, RFC 7714 section 14.1).
    pub fn sdes_name(self) -> &'static str {
        match self {
            Profile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Profile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Profile::Aes256CmHmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Profile::Aes256CmHmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Profile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Profile::AeadAes256Gcm => "AEAD_AES_256_GCM",
            Profile::NullHmacSha1_80 => "NULL_HMAC_SHA1_80",
        }
    }

    /// The profile an SDES crypto-suite name stands for (case-sensitive, as RFC 4568 writes it).
    pub fn from_sdes_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.sdes_name() == name)
    }

    /// Length of the master key in bytes.
    pub fn master_key_len(self) -> usize {
        match self {
            Profile::Aes256CmHmacSha1_80
            | Profile::Aes256CmHmacSha1_32
            | Profile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Length of the master salt in bytes: 14 for counter mode, 12 for GCM.
    pub fn master_salt_len(self) -> usize {
        match self.family() {
            Family::CmHmac => 14,
            Family::Gcm => 12,
        }
    }

    /// Bytes protect adds to an RTP packet (the authentication tag).
    pub fn rtp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_32 | Profile::Aes256CmHmacSha1_32 => 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
            _ => 10,
        }
    }

    /// Bytes protect adds to an RTCP packet (the tag and the 4-byte E flag + SRTCP index).
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }

    pub(crate) fn rtcp_tag_len(self) -> usize {
        match self.family() {
            Family::CmHmac => 10,
            Family::Gcm => 16,
        }
    }

    /// Length of the session encryption key (0 for the NULL cipher).
    pub(crate) fn session_key_len(self) -> usize {
        match self {
            Profile::NullHmacSha1_80 => 0,
            p => p.master_key_len(),
        }
    }

    pub(crate) fn family(self) -> Family {
        match self {
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => Family::Gcm,
            _ => Family::CmHmac,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdes_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtls_ids_map_both_ways() {
        for (id, profile) in [
            (0x0001, Profile::Aes128CmHmacSha1_80),
            (0x0002, Profile::Aes128CmHmacSha1_32),
            (0x0005, Profile::NullHmacSha1_80),
            (0x0007, Profile::AeadAes128Gcm),
            (0x0008, Profile::AeadAes256Gcm),
        ] {
            assert_eq!(Profile::from_dtls_id(id), Ok(profile));
            assert_eq!(profile.dtls_id(), Some(id));
        }
        assert_eq!(
            Profile::from_dtls_id(0x0006),
            Err(Error::UnknownDtlsProfile(0x0006))
        );
    }

    #[test]
    fn sdes_names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_sdes_name(p.sdes_name()), Some(p));
        }
        assert_eq!(Profile::from_sdes_name("F8_128_HMAC_SHA1_80"), None);
    }
}
