//! SRTP protection profiles negotiated by `use_srtp` (RFC 5764 §4.1.2, RFC 7714 §14.2).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// An SRTP protection profile: which SRTP transform the exported keys are for.
///
/// [`SrtpProfile::id`] is the IANA "DTLS-SRTP Protection Profile" code point, the one value
/// another crate needs to build matching SRTP contexts without depending on this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpProfile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (0x0001): AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    Aes128CmSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32` (0x0002): AES-128 counter mode, 32-bit HMAC-SHA1 tag.
    Aes128CmSha1_32,
    /// `SRTP_AEAD_AES_128_GCM` (0x0007, RFC 7714).
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM` (0x0008, RFC 7714).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every supported profile, in this crate's default order of preference.
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmSha1_80,
        SrtpProfile::Aes128CmSha1_32,
    ];

    /// The protection-profile code point (RFC 5764 §4.1.2, RFC 7714 §14.2).
    pub const fn id(self) -> u16 {
        match self {
            SrtpProfile::Aes128CmSha1_80 => 0x0001,
            SrtpProfile::Aes128CmSha1_32 => 0x0002,
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile with code point `id`, if it is one of the four supported.
    pub const fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0001 => Some(SrtpProfile::Aes128CmSha1_80),
            0x0002 => Some(SrtpProfile::Aes128CmSha1_32),
            0x0007 => Some(SrtpProfile::AeadAes128Gcm),
            0x0008 => Some(SrtpProfile::AeadAes256Gcm),
            _ => None,
        }
    }

    /// The registered name, as OpenSSL's `-use_srtp` spells it (`SRTP_AEAD_AES_128_GCM`).
    pub const fn name(self) -> &'static str {
        match self {
            SrtpProfile::Aes128CmSha1_80 => "SRTP_AES128_CM_SHA1_80",
            SrtpProfile::Aes128CmSha1_32 => "SRTP_AES128_CM_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// Length in bytes of one direction's SRTP master key.
    pub const fn master_key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Length in bytes of one direction's SRTP master salt (14 for AES-CM, 12 for GCM).
    pub const fn master_salt_len(self) -> usize {
        match self {
            SrtpProfile::Aes128CmSha1_80 | SrtpProfile::Aes128CmSha1_32 => 14,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
        }
    }

    /// Bytes of keying material to export for this profile: both directions' keys and salts
    /// (RFC 5764 §4.2).
    pub const fn keying_material_len(self) -> usize {
        2 * (self.master_key_len() + self.master_salt_len())
    }
}

impl fmt::Display for SrtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SrtpProfile {
    type Err = Error;

    /// Parses a registered name; the RFC spelling with `HMAC_` is accepted too.
    fn from_str(name: &str) -> Result<Self, Error> {
        let canonical = name.trim().to_ascii_uppercase().replace("_HMAC_", "_");
        SrtpProfile::ALL
            .into_iter()
            .find(|profile| profile.name() == canonical)
            .ok_or_else(|| Error::UnknownProfile {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ids_round_trip_and_lengths_follow_the_rfcs() {
        for profile in SrtpProfile::ALL {
            assert_eq!(SrtpProfile::from_id(profile.id()), Some(profile));
            assert_eq!(profile.name().parse::<SrtpProfile>().unwrap(), profile);
        }
        assert_eq!(SrtpProfile::from_id(0x0003), None);
        // RFC 5764 §4.2 / RFC 7714 §12: 2 * (key + salt).
        assert_eq!(SrtpProfile::Aes128CmSha1_80.keying_material_len(), 60);
        assert_eq!(SrtpProfile::Aes128CmSha1_32.keying_material_len(), 60);
        assert_eq!(SrtpProfile::AeadAes128Gcm.keying_material_len(), 56);
        assert_eq!(SrtpProfile::AeadAes256Gcm.keying_material_len(), 88);
    }

    #[test]
    fn rfc_spelling_is_accepted_and_unknown_names_are_named() {
        let p: SrtpProfile = "SRTP_AES128_CM_HMAC_SHA1_80".parse().unwrap();
        assert_eq!(p, SrtpProfile::Aes128CmSha1_80);
        let err = "SRTP_NULL_SHA1_80".parse::<SrtpProfile>().unwrap_err();
        assert!(err.to_string().contains("SRTP_NULL_SHA1_80"), "{err}");
    }
}
