//! SRTP master keys exported from the handshake (RFC 5764 §4.2).

use std::fmt;

use zeroize::Zeroize;

use crate::fingerprint::FingerprintVerified;
use crate::{Role, SrtpProfile};

/// The RFC 5705 exporter label for DTLS-SRTP (RFC 5764 §4.2).
pub(crate) const EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// The negotiated profile and both directions' SRTP master keys and salts.
///
/// `local_*` protects what this side sends, `remote_*` unprotects what it receives. The
/// bytes are wiped when the value is dropped, and `Debug` does not print them.
pub struct SrtpKeys {
    /// The protection profile `use_srtp` settled on.
    pub profile: SrtpProfile,
    /// Master key for packets this side sends.
    pub local_master_key: Vec<u8>,
    /// Master salt for packets this side sends.
    pub local_master_salt: Vec<u8>,
    /// Master key for packets the peer sends.
    pub remote_master_key: Vec<u8>,
    /// Master salt for packets the peer sends.
    pub remote_master_salt: Vec<u8>,
}

impl SrtpKeys {
    /// Splits exported keying material, laid out as client key | server key | client salt |
    /// server salt (RFC 5764 §4.2). Only a verified fingerprint lets keys exist.
    ///
    /// `material` must be `profile.keying_material_len()` bytes long.
    pub(crate) fn split(
        profile: SrtpProfile,
        role: Role,
        material: &[u8],
        _verified: &FingerprintVerified,
    ) -> Self {
        let (k, s) = (profile.master_key_len(), profile.master_salt_len());
        let part = |at: usize, len: usize| material.get(at..at + len).unwrap_or(&[]).to_vec();
        let client_key = part(0, k);
        let server_key = part(k, k);
        let client_salt = part(2 * k, s);
        let server_salt = part(2 * k + s, s);
        let (local_master_key, local_master_salt, remote_master_key, remote_master_salt) =
            match role {
                Role::Client => (client_key, client_salt, server_key, server_salt),
                Role::Server => (server_key, server_salt, client_key, client_salt),
            };
        SrtpKeys {
            profile,
            local_master_key,
            local_master_salt,
            remote_master_key,
            remote_master_salt,
        }
    }
}

impl Drop for SrtpKeys {
    fn drop(&mut self) {
        self.local_master_key.zeroize();
        self.local_master_salt.zeroize();
        self.remote_master_key.zeroize();
        self.remote_master_salt.zeroize();
    }
}

impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::fingerprint::Fingerprint;
    use crate::HashAlgorithm;

    fn proof() -> FingerprintVerified {
        let fp = Fingerprint::of_der(HashAlgorithm::Sha256, b"c");
        Fingerprint::verify(&[fp], b"c").unwrap()
    }

    #[test]
    fn material_splits_per_rfc_5764_for_every_profile() {
        for profile in SrtpProfile::ALL {
            let len = profile.keying_material_len();
            let material: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let (k, s) = (profile.master_key_len(), profile.master_salt_len());
            let client = SrtpKeys::split(profile, Role::Client, &material, &proof());
            let server = SrtpKeys::split(profile, Role::Server, &material, &proof());
            assert_eq!(client.local_master_key, material[..k]);
            assert_eq!(client.remote_master_key, material[k..2 * k]);
            assert_eq!(client.local_master_salt, material[2 * k..2 * k + s]);
            assert_eq!(client.remote_master_salt, material[2 * k + s..]);
            // The two ends see the same bytes with local and remote swapped.
            assert_eq!(server.local_master_key, client.remote_master_key);
            assert_eq!(server.remote_master_key, client.local_master_key);
            assert_eq!(server.local_master_salt, client.remote_master_salt);
            assert_eq!(server.remote_master_salt, client.local_master_salt);
            assert!(!format!("{client:?}").contains("local_master_key"));
        }
    }
}
