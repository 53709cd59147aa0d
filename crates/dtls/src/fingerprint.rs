//! Certificate fingerprints as SDP carries them (`a=fingerprint`, RFC 8122 §5).

use std::fmt;
use std::str::FromStr;

use ring::digest;

use crate::Error;

/// A hash function of the SDP fingerprint registry this crate accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// `sha-1` (accepted when a peer offers only it; never preferred).
    Sha1,
    /// `sha-256`, what browsers send and what this crate advertises.
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl HashAlgorithm {
    /// The SDP token (`sha-256`).
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha-1",
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
        }
    }

    /// Digest length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    fn ring(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const MAX_DIGEST: usize = 64;

/// A certificate fingerprint: a hash function and the digest of the DER certificate.
///
/// [`fmt::Display`] writes the SDP attribute value (`sha-256 AB:CD:...`, upper-case hex as
/// RFC 8122 requires); [`FromStr`] parses one, case-insensitively.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    algorithm: HashAlgorithm,
    digest: [u8; MAX_DIGEST],
}

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(algorithm: HashAlgorithm, certificate_der: &[u8]) -> Self {
        let hash = digest::digest(algorithm.ring(), certificate_der);
        let mut digest = [0; MAX_DIGEST];
        digest[..algorithm.digest_len()].copy_from_slice(hash.as_ref());
        Fingerprint { algorithm, digest }
    }

    /// The hash function.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest[..self.algorithm.digest_len()]
    }

    /// Checks `certificate_der` against `fingerprints`, as RFC 8122 §5 says: only the
    /// fingerprints of the strongest hash function offered count, and the certificate must
    /// match one of them. The returned token is what key export requires.
    pub(crate) fn verify(
        fingerprints: &[Fingerprint],
        certificate_der: &[u8],
    ) -> Result<FingerprintVerified, Error> {
        let algorithm = fingerprints
            .iter()
            .map(Fingerprint::algorithm)
            .max()
            .ok_or(Error::Config {
                reason: "no remote fingerprint given",
            })?;
        let actual = Fingerprint::of_der(algorithm, certificate_der);
        if fingerprints.contains(&actual) {
            Ok(FingerprintVerified { _private: () })
        } else {
            Err(Error::FingerprintMismatch { algorithm })
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm.name())?;
        for (i, byte) in self.digest().iter().enumerate() {
            let sep = if i == 0 { ' ' } else { ':' };
            write!(f, "{sep}{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// Parses an SDP `a=fingerprint` value: `hash-func SP hex:hex:...`.
    fn from_str(value: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidFingerprint {
            value: value.to_owned(),
            reason,
        };
        let (name, hex) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| invalid("expected a hash function, a space and hex bytes"))?;
        let algorithm = [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| invalid("unsupported hash function (sha-1, sha-256, sha-384, sha-512)"))?;
        let mut digest = [0; MAX_DIGEST];
        let mut len = 0;
        for pair in hex.trim().split(':') {
            let byte = match pair.as_bytes() {
                [hi, lo] => hex_value(*hi).zip(hex_value(*lo)).map(|(h, l)| h << 4 | l),
                _ => None,
            }
            .ok_or_else(|| invalid("bytes must be two hex digits separated by ':'"))?;
            let slot = digest
                .get_mut(len)
                .ok_or_else(|| invalid("digest longer than the hash function's"))?;
            *slot = byte;
            len += 1;
        }
        if len != algorithm.digest_len() {
            return Err(invalid("digest length does not match the hash function"));
        }
        Ok(Fingerprint { algorithm, digest })
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

/// Proof that the peer's certificate matched the SDP fingerprint (the rustls habit of
/// proof-of-check types): only [`Fingerprint`]'s verification makes one, and SRTP keys are
/// exported only with one in hand.
#[derive(Debug)]
pub struct FingerprintVerified {
    _private: (),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn sha256_of_known_input_formats_as_sdp() {
        // FIPS 180-2 example: SHA-256("abc").
        let fp = Fingerprint::of_der(HashAlgorithm::Sha256, b"abc");
        let text = fp.to_string();
        assert_eq!(
            text,
            "sha-256 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:\
             B4:10:FF:61:F2:00:15:AD"
        );
        assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(text.to_lowercase().parse::<Fingerprint>().unwrap(), fp);
    }

    #[test]
    fn every_algorithm_round_trips() {
        for alg in [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ] {
            let fp = Fingerprint::of_der(alg, b"certificate");
            assert_eq!(fp.digest().len(), alg.digest_len());
            assert_eq!(fp.to_string().parse::<Fingerprint>().unwrap(), fp);
        }
    }

    #[test]
    fn malformed_values_are_refused_with_the_value_named() {
        let good = Fingerprint::of_der(HashAlgorithm::Sha256, b"x").to_string();
        let cases = [
            String::new(),
            "sha-256".to_owned(),
            "md5 00:11".to_owned(),
            good.replace("sha-256", "sha-1"),
            format!("{good}:00"),
            good[..good.len() - 3].to_owned(),
            good.replace(':', ""),
            good.replacen(':', "::", 1),
            good.replacen('A', "G", 1),
            format!("{good}é"),
        ];
        for case in cases {
            let err = case.parse::<Fingerprint>().unwrap_err();
            assert!(
                matches!(err, Error::InvalidFingerprint { .. }),
                "{case}: {err}"
            );
        }
    }

    #[test]
    fn verification_uses_the_strongest_offered_hash() {
        let cert = b"der bytes";
        let other = b"other der";
        let sha1 = Fingerprint::of_der(HashAlgorithm::Sha1, cert);
        let sha256 = Fingerprint::of_der(HashAlgorithm::Sha256, cert);
        let wrong256 = Fingerprint::of_der(HashAlgorithm::Sha256, other);
        assert!(Fingerprint::verify(&[sha256], cert).is_ok());
        assert!(Fingerprint::verify(&[sha1], cert).is_ok());
        assert!(Fingerprint::verify(&[sha1, sha256], cert).is_ok());
        // A matching sha-1 does not excuse a mismatching sha-256.
        let err = Fingerprint::verify(&[sha1, wrong256], cert).unwrap_err();
        assert!(matches!(
            err,
            Error::FingerprintMismatch {
                algorithm: HashAlgorithm::Sha256
            }
        ));
        assert!(Fingerprint::verify(&[], cert).is_err());
    }
}
