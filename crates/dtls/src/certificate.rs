//! The local DTLS certificate: ECDSA P-256, self-signed at start-up or loaded from PEM.

use std::fmt;

use rtc_dtls::crypto_provider::providers::RingCrypto;
use rtc_dtls::crypto_provider::{RTCCrypto, SignatureScheme};
use rustls_pki_types::CertificateDer;

use crate::fingerprint::{Fingerprint, HashAlgorithm};
use crate::Error;

/// The certificate and private key this side presents in the handshake.
///
/// Only ECDSA P-256 keys are accepted: they are what browsers use, and the cipher suites are
/// fixed to the `ECDHE_ECDSA` family to match (see [`crate::ConfigBuilder`]).
#[derive(Clone)]
pub struct Certificate {
    inner: rtc_dtls::crypto::Certificate,
    leaf_sha256: Fingerprint,
}

impl Certificate {
    /// Generates a fresh self-signed ECDSA P-256 certificate (subject `CN=media-edge`).
    ///
    /// # Errors
    /// [`Error::InvalidCertificate`] when key generation or signing fails.
    pub fn generate() -> Result<Self, Error> {
        let failed = |e: rcgen::Error| Error::InvalidCertificate {
            reason: format!("self-signed certificate generation failed: {e}"),
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "media-edge");
        let cert = params.self_signed(&key).map_err(failed)?;
        Self::from_der(vec![cert.der().to_vec()], &key.serialize_der())
    }

    /// Loads a certificate (chain, leaf first) and its PKCS#8 private key from PEM text, as
    /// `openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256` writes them.
    ///
    /// # Errors
    /// [`Error::InvalidCertificate`] naming what is wrong: no `CERTIFICATE` block, a key that is
    /// not a PKCS#8 `PRIVATE KEY` for P-256, or a key that does not belong to the certificate.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidCertificate { reason };
        let chain: Vec<Vec<u8>> = pem::parse_many(certificate_pem)
            .map_err(|e| invalid(format!("certificate PEM does not parse: {e}")))?
            .into_iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(pem::Pem::into_contents)
            .collect();
        if chain.is_empty() {
            return Err(invalid("certificate PEM holds no CERTIFICATE block".into()));
        }
        let key = pem::parse(private_key_pem)
            .map_err(|e| invalid(format!("private key PEM does not parse: {e}")))?;
        if key.tag() != "PRIVATE KEY" {
            return Err(invalid(format!(
                "private key PEM block is {:?}; expected a PKCS#8 \"PRIVATE KEY\" \
                 (convert with `openssl pkcs8 -topk8 -nocrypt`)",
                key.tag()
            )));
        }
        Self::from_der(chain, key.contents())
    }

    /// Pairs a DER chain with a PKCS#8 P-256 key, checking that the key is the leaf's.
    fn from_der(chain: Vec<Vec<u8>>, pkcs8: &[u8]) -> Result<Self, Error> {
        let leaf = chain.first().ok_or_else(|| Error::InvalidCertificate {
            reason: "empty certificate chain".into(),
        })?;
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| Error::InvalidCertificate {
            reason: format!("private key is not a PKCS#8 ECDSA P-256 key: {e}"),
        })?;
        // The leaf's SubjectPublicKeyInfo carries the 65-byte uncompressed point verbatim.
        let public = ring::signature::KeyPair::public_key(&pair).as_ref();
        if !leaf.windows(public.len()).any(|window| window == public) {
            return Err(Error::InvalidCertificate {
                reason: "private key does not belong to the (first) certificate".into(),
            });
        }
        let signing_key = RingCrypto
            .import_signing_key(SignatureScheme::EcdsaP256Sha256, pkcs8)
            .map_err(|e| Error::InvalidCertificate {
                reason: format!("private key import failed: {e}"),
            })?;
        let leaf_sha256 = Fingerprint::of_der(HashAlgorithm::Sha256, leaf);
        let chain = chain.into_iter().map(CertificateDer::from).collect();
        Ok(Certificate {
            inner: rtc_dtls::crypto::Certificate::from_signing_key(chain, signing_key),
            leaf_sha256,
        })
    }

    /// The fingerprint to advertise in SDP: `a=fingerprint:` followed by its `Display`.
    pub fn fingerprint(&self) -> Fingerprint {
        self.leaf_sha256
    }

    /// The leaf's fingerprint with another hash function.
    pub fn fingerprint_with(&self, algorithm: HashAlgorithm) -> Fingerprint {
        Fingerprint::of_der(algorithm, self.der())
    }

    /// The leaf certificate, DER-encoded.
    pub fn der(&self) -> &[u8] {
        self.inner.certificate.first().map_or(&[], |c| c.as_ref())
    }

    pub(crate) fn inner(&self) -> &rtc_dtls::crypto::Certificate {
        &self.inner
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.leaf_sha256)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn generated_certificates_are_distinct_and_fingerprinted() {
        let a = Certificate::generate().unwrap();
        let b = Certificate::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(
            a.fingerprint(),
            Fingerprint::of_der(HashAlgorithm::Sha256, a.der())
        );
        assert!(a.fingerprint().to_string().starts_with("sha-256 "));
    }

    #[test]
    fn pem_problems_are_named() {
        let err = Certificate::from_pem("", "").unwrap_err().to_string();
        assert!(err.contains("CERTIFICATE"), "{err}");
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let err = Certificate::from_pem(cert, sec1).unwrap_err().to_string();
        assert!(
            err.contains("EC PRIVATE KEY") && err.contains("pkcs8"),
            "{err}"
        );
        let pkcs8 = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = Certificate::from_pem(cert, pkcs8).unwrap_err().to_string();
        assert!(err.contains("P-256"), "{err}");
    }
}
