//! SDES keying: the SDP `a=crypto` attribute (RFC 4568 section 9.1; suites of RFC 4568,
//! RFC 6188 and RFC 7714), and refusal of encrypted header extensions (RFC 6904).

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::{Config, Error, MasterKey, Profile};

/// The `a=extmap` URI that negotiates RFC 6904 header-extension encryption.
pub const ENCRYPTED_EXTMAP_URI: &str = "urn:ietf:params:rtp-hdrext:encrypt";

/// Refuses an `a=extmap` URI that negotiates header-extension encryption (RFC 6904), which
/// this crate does not implement: extensions of packets it protects stay in the clear.
pub fn check_extmap_uri(uri: &str) -> Result<(), Error> {
    if uri.trim().starts_with(ENCRYPTED_EXTMAP_URI) {
        Err(Error::EncryptedHeaderExtensions)
    } else {
        Ok(())
    }
}

/// One parsed `a=crypto` attribute.
///
/// ```
/// # use edge_srtp::{CryptoAttribute, Profile};
/// let a = CryptoAttribute::parse(
///     "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20",
/// )?;
/// assert_eq!((a.tag, a.key.profile()), (1, Profile::Aes128CmHmacSha1_80));
/// # Ok::<(), edge_srtp::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CryptoAttribute {
    /// The tag that identifies the attribute in offer and answer.
    pub tag: u32,
    /// Profile, master key and master salt.
    pub key: MasterKey,
    /// The key lifetime in packets, when given (informational: re-keying is the caller's).
    pub lifetime: Option<u64>,
    /// The window-size hint (`WSH=`), when given.
    pub window_hint: Option<u64>,
    /// False when `UNENCRYPTED_SRTCP` was given.
    pub encrypt_rtcp: bool,
}

impl CryptoAttribute {
    /// An attribute offering `key` under `tag`, SRTCP encrypted.
    pub fn new(tag: u32, key: MasterKey) -> CryptoAttribute {
        CryptoAttribute {
            tag,
            key,
            lifetime: None,
            window_hint: None,
            encrypt_rtcp: true,
        }
    }

    /// Parses `a=crypto:<tag> <suite> inline:<key||salt base64>[|<lifetime>] [<params>]`; the
    /// `a=` is optional. Refuses MKIs, several keys, a key derivation rate other than 0,
    /// FEC parameters and unencrypted or unauthenticated SRTP; ignores unknown parameters
    /// marked optional with `-`.
    pub fn parse(line: &str) -> Result<CryptoAttribute, Error> {
        let line = line.trim();
        let line = line.strip_prefix("a=").unwrap_or(line);
        let rest = line
            .strip_prefix("crypto:")
            .ok_or(Error::MalformedCrypto("does not start with crypto:"))?;
        let mut fields = rest.split_ascii_whitespace();
        let tag = fields
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| *t < 1_000_000_000)
            .ok_or(Error::MalformedCrypto(
                "tag is not a number of at most 9 digits",
            ))?;
        let suite = fields
            .next()
            .ok_or(Error::MalformedCrypto("no crypto suite"))?;
        let profile = Profile::from_sdes_name(suite)
            .ok_or_else(|| Error::UnknownCryptoSuite(suite.to_owned()))?;
        let key_params = fields
            .next()
            .ok_or(Error::MalformedCrypto("no key parameters"))?;
        if key_params.contains(';') {
            return Err(Error::UnsupportedSdesParam("several keys".to_owned()));
        }
        let (key, lifetime) = parse_key_param(profile, key_params)?;
        let mut attr = CryptoAttribute {
            lifetime,
            ..CryptoAttribute::new(tag, key)
        };
        for param in fields {
            attr.apply_session_param(param)?;
        }
        Ok(attr)
    }

    /// `base` with this attribute's session parameters applied: `UNENCRYPTED_SRTCP` turns
    /// SRTCP encryption off, `WSH=` sets the replay window (clamped to 64..=1024 packets).
    pub fn config(&self, base: Config) -> Config {
        let base = base.with_encrypt_rtcp(self.encrypt_rtcp);
        match self.window_hint {
            Some(packets) => base.with_replay_window(packets.clamp(64, 1024)),
            None => base,
        }
    }

    fn apply_session_param(&mut self, param: &str) -> Result<(), Error> {
        let unsupported = || Err(Error::UnsupportedSdesParam(param.to_owned()));
        if param == "UNENCRYPTED_SRTCP" {
            self.encrypt_rtcp = false;
        } else if let Some(n) = param.strip_prefix("WSH=") {
            let n = n
                .parse::<u64>()
                .map_err(|_| Error::MalformedCrypto("WSH= is not a number"))?;
            self.window_hint = Some(n);
        } else if param == "KDR=0" {
            // Key derivation rate 0 is what this crate implements.
        } else if param.starts_with('-') {
            // RFC 4568 section 6.3.7: not mandatory to understand.
        } else {
            return unsupported();
        }
        Ok(())
    }
}

/// Base64 as `inline:` keys arrive: with or without `=` padding. A GCM suite's 28 or 44 bytes
/// of key and salt do not fill the last base64 quantum, and implementations differ: rtpengine
/// sends them unpadded, this crate (and libsrtp's users) padded.
const INLINE_KEY: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses `inline:<base64>[|lifetime][|mki:len]`, refusing an MKI.
fn parse_key_param(profile: Profile, param: &str) -> Result<(MasterKey, Option<u64>), Error> {
    let inline = param
        .strip_prefix("inline:")
        .ok_or(Error::MalformedCrypto("key method is not inline:"))?;
    let mut parts = inline.split('|');
    let b64 = parts.next().unwrap_or_default();
    let material = INLINE_KEY
        .decode(b64)
        .map_err(|_| Error::MalformedCrypto("key is not base64"))?;
    let key_len = profile.master_key_len();
    if material.len() != key_len + profile.master_salt_len() {
        return Err(Error::MalformedCrypto(
            "key and salt do not have the suite's length",
        ));
    }
    let key = MasterKey::new(profile, &material[..key_len], &material[key_len..])?;
    let mut lifetime = None;
    for part in parts {
        if part.contains(':') {
            return Err(Error::UnsupportedSdesParam(format!("MKI {part}")));
        }
        lifetime = Some(parse_lifetime(part)?);
    }
    Ok((key, lifetime))
}

/// `2^n` or a decimal number.
fn parse_lifetime(s: &str) -> Result<u64, Error> {
    let bad = Error::MalformedCrypto("lifetime is neither 2^n nor a number");
    match s.strip_prefix("2^") {
        Some(exp) => exp
            .parse::<u32>()
            .ok()
            .and_then(|e| 1u64.checked_shl(e).filter(|_| e < 64))
            .ok_or(bad),
        None => s.parse().map_err(|_| bad),
    }
}

impl fmt::Display for CryptoAttribute {
    /// Writes the attribute as an SDP line, `a=crypto:...` without line end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = [0u8; 46];
        let (k, s) = (self.key.key(), self.key.salt());
        material[..k.len()].copy_from_slice(k);
        material[k.len()..k.len() + s.len()].copy_from_slice(s);
        let b64 = STANDARD.encode(&material[..k.len() + s.len()]);
        write!(
            f,
            "a=crypto:{} {} inline:{b64}",
            self.tag,
            self.key.profile()
        )?;
        if let Some(l) = self.lifetime {
            write!(f, "|{l}")?;
        }
        if let Some(w) = self.window_hint {
            write!(f, " WSH={w}")?;
        }
        if !self.encrypt_rtcp {
            f.write_str(" UNENCRYPTED_SRTCP")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    /// RFC 4568 section 9.1's example line.
    #[test]
    fn rfc4568_example_decodes() {
        let a = CryptoAttribute::parse(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 \
             inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20 KDR=0 WSH=256",
        )
        .unwrap();
        assert_eq!(a.tag, 1);
        assert_eq!(a.key.key(), &unhex("774466766726542B2978473740666235")[..]);
        assert_eq!(a.key.salt(), &unhex("6A552C5261417D5C7C7030252A23")[..]);
        assert_eq!(a.lifetime, Some(1 << 20));
        assert_eq!(a.window_hint, Some(256));
        assert!(a.encrypt_rtcp);
        assert_eq!(a.config(Config::default()).replay_window(), 256);
        let again = CryptoAttribute::parse(&a.to_string()).unwrap();
        assert_eq!(again.key.key(), a.key.key());
        assert_eq!(again.key.salt(), a.key.salt());
    }

    /// rtpengine 10.5's answer for AEAD_AES_128_GCM: 28 bytes, base64 without padding. The
    /// key and salt were decoded independently:
    /// `python3 -c "import base64; b=base64.b64decode('6hR0VezUFXyq/WL+9ZVKuxhSXKSC1x621wSQXA==');
    /// print(b[:16].hex(), b[16:].hex())"`.
    #[test]
    fn unpadded_gcm_key_from_rtpengine_decodes() {
        let a = CryptoAttribute::parse(
            "a=crypto:1 AEAD_AES_128_GCM inline:6hR0VezUFXyq/WL+9ZVKuxhSXKSC1x621wSQXA",
        )
        .unwrap();
        assert_eq!(a.key.profile(), Profile::AeadAes128Gcm);
        assert_eq!(a.key.key(), &unhex("EA147455ECD4157CAAFD62FEF5954ABB")[..]);
        assert_eq!(a.key.salt(), &unhex("18525CA482D71EB6D704905C")[..]);
        let padded = CryptoAttribute::parse(
            "a=crypto:1 AEAD_AES_128_GCM inline:6hR0VezUFXyq/WL+9ZVKuxhSXKSC1x621wSQXA==",
        )
        .unwrap();
        assert_eq!(padded.key.key(), a.key.key());
    }

    #[test]
    fn every_suite_round_trips() {
        for p in Profile::ALL {
            let key: Vec<u8> = (0..p.master_key_len() as u8).collect();
            let salt = vec![0xa5; p.master_salt_len()];
            let mut a = CryptoAttribute::new(7, MasterKey::new(p, &key, &salt).unwrap());
            a.encrypt_rtcp = false;
            let b = CryptoAttribute::parse(&a.to_string()).unwrap();
            assert_eq!(
                (b.tag, b.key.profile(), b.key.key(), b.key.salt()),
                (7, p, &key[..], &salt[..])
            );
            assert!(!b.encrypt_rtcp);
            assert!(!b.config(Config::default()).encrypt_rtcp());
        }
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let k = "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";
        let cases = [
            (
                format!("a=crypto:1 F8_128_HMAC_SHA1_80 {k}"),
                Error::UnknownCryptoSuite("F8_128_HMAC_SHA1_80".into()),
            ),
            (
                format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {k}|2^20|1:4"),
                Error::UnsupportedSdesParam("MKI 1:4".into()),
            ),
            (
                format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {k};{k}"),
                Error::UnsupportedSdesParam("several keys".into()),
            ),
            (
                format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {k} KDR=24"),
                Error::UnsupportedSdesParam("KDR=24".into()),
            ),
            (
                format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {k} UNENCRYPTED_SRTP"),
                Error::UnsupportedSdesParam("UNENCRYPTED_SRTP".into()),
            ),
            (
                format!("a=crypto:1 AEAD_AES_256_GCM {k}"),
                Error::MalformedCrypto("key and salt do not have the suite's length"),
            ),
            (
                format!("a=crypto:x AES_CM_128_HMAC_SHA1_80 {k}"),
                Error::MalformedCrypto("tag is not a number of at most 9 digits"),
            ),
            (
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!!".to_owned(),
                Error::MalformedCrypto("key is not base64"),
            ),
            (
                "a=fingerprint:1".to_owned(),
                Error::MalformedCrypto("does not start with crypto:"),
            ),
        ];
        for (line, err) in cases {
            assert_eq!(CryptoAttribute::parse(&line).unwrap_err(), err, "{line}");
        }
        assert!(
            CryptoAttribute::parse(&format!("a=crypto:1 AES_CM_128_HMAC_SHA1_32 {k} -FUTURE"))
                .is_ok()
        );
    }

    #[test]
    fn random_lines_never_panic() {
        let alphabet = b"a=crypto:1 AES_CM_128_HMAC_SHA1_80inle|^2;:WSH=KDR-+/09";
        let mut x = 99_u64;
        for n in 0..20_000 {
            let line: String = (0..n % 90)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let _ = CryptoAttribute::parse(&line);
        }
    }

    #[test]
    fn encrypted_header_extensions_are_refused() {
        assert_eq!(
            check_extmap_uri(ENCRYPTED_EXTMAP_URI),
            Err(Error::EncryptedHeaderExtensions)
        );
        assert_eq!(
            check_extmap_uri("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            Ok(())
        );
    }
}
