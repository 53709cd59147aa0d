//! The per-packet cryptographic transforms: AES-CM (or NULL) with HMAC-SHA1 (RFC 3711 sections
//! 4.1 and 4.2, RFC 6188) and AES-GCM (RFC 7714). Keys are expanded and HMAC pads absorbed once,
//! when the transform is made; nothing here allocates.
//!
//! Callers have checked the lengths: every `buf` holds the packet and, for protect, the trailer.

use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM, AES_256_GCM};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::error::{Error, PacketKind};
use crate::kdf::{Aes, Labels, MasterKey, SessionKeys};
use crate::profile::Family;
use crate::rtp::RTCP_HEADER;
use crate::Profile;

/// The E flag of the SRTCP trailer word.
const E_FLAG: u32 = 0x8000_0000;
/// The GCM tag length.
const GCM_TAG: usize = 16;
/// The HMAC-SHA1 tag of SRTCP, also for the `_32` profiles.
const RTCP_HMAC_TAG: usize = 10;

/// The transform of one context, holding the session keys of SRTP and SRTCP.
#[allow(clippy::large_enum_variant)] // One per context; a box would cost an indirection per packet.
pub(crate) enum Transform {
    /// AES-CM or NULL cipher, HMAC-SHA1 authentication.
    CmHmac {
        /// SRTP keys.
        rtp: CmKeys,
        /// SRTCP keys.
        rtcp: CmKeys,
        /// SRTP tag length (10 or 4).
        rtp_tag: usize,
    },
    /// AES-GCM.
    Gcm {
        /// SRTP keys.
        rtp: GcmKeys,
        /// SRTCP keys.
        rtcp: GcmKeys,
    },
}

/// AES-CM session keys of one packet kind.
pub(crate) struct CmKeys {
    /// `None` for the NULL cipher.
    aes: Option<Aes>,
    salt: [u8; 14],
    /// HMAC-SHA1 with the inner and outer pads already absorbed.
    hmac: Hmac<Sha1>,
}

/// AES-GCM session keys of one packet kind.
pub(crate) struct GcmKeys {
    key: LessSafeKey,
    salt: [u8; 12],
}

impl Transform {
    /// Derives the session keys from `master` and expands them.
    pub(crate) fn new(master: &MasterKey) -> Result<Transform, Error> {
        let rtp = SessionKeys::derive(master, Labels::Rtp)?;
        let rtcp = SessionKeys::derive(master, Labels::Rtcp)?;
        Transform::from_session_keys(master.profile(), &rtp, &rtcp)
    }

    /// Builds the transform from already derived session keys.
    pub(crate) fn from_session_keys(
        profile: Profile,
        rtp: &SessionKeys,
        rtcp: &SessionKeys,
    ) -> Result<Transform, Error> {
        Ok(match profile.family() {
            Family::CmHmac => Transform::CmHmac {
                rtp: CmKeys::new(profile, rtp)?,
                rtcp: CmKeys::new(profile, rtcp)?,
                rtp_tag: profile.rtp_overhead(),
            },
            Family::Gcm => Transform::Gcm {
                rtp: GcmKeys::new(profile, rtp)?,
                rtcp: GcmKeys::new(profile, rtcp)?,
            },
        })
    }

    /// Encrypts and tags the RTP packet `buf[..len]` with header length `hdr` in place,
    /// appending the tag; returns the new length.
    pub(crate) fn protect_rtp(
        &self,
        buf: &mut [u8],
        hdr: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        match self {
            Transform::CmHmac { rtp, rtp_tag, .. } => {
                rtp.encrypt(ssrc, index, &mut buf[hdr..len]);
                let tag = rtp.tag(&buf[..len], Some(roc(index)));
                buf[len..len + rtp_tag].copy_from_slice(&tag[..*rtp_tag]);
                Ok(len + rtp_tag)
            }
            Transform::Gcm { rtp, .. } => {
                let (head, rest) = buf.split_at_mut(hdr);
                let tag = rtp
                    .key
                    .seal_in_place_separate_tag(
                        rtp.nonce(ssrc, index),
                        Aad::from(&*head),
                        &mut rest[..len - hdr],
                    )
                    .map_err(|_| Error::Backend(PacketKind::Rtp))?;
                buf[len..len + GCM_TAG].copy_from_slice(tag.as_ref());
                Ok(len + GCM_TAG)
            }
        }
    }

    /// Verifies and decrypts the SRTP packet `buf[..len]` in place; returns the RTP length.
    pub(crate) fn unprotect_rtp(
        &self,
        buf: &mut [u8],
        hdr: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        let failed = Error::AuthFailed {
            kind: PacketKind::Rtp,
            ssrc,
        };
        match self {
            Transform::CmHmac { rtp, rtp_tag, .. } => {
                let end = len - rtp_tag;
                let tag = rtp.tag(&buf[..end], Some(roc(index)));
                if !bool::from(tag[..*rtp_tag].ct_eq(&buf[end..len])) {
                    return Err(failed);
                }
                rtp.encrypt(ssrc, index, &mut buf[hdr..end]);
                Ok(end)
            }
            Transform::Gcm { rtp, .. } => {
                let (head, rest) = buf.split_at_mut(hdr);
                rtp.key
                    .open_in_place(
                        rtp.nonce(ssrc, index),
                        Aad::from(&*head),
                        &mut rest[..len - hdr],
                    )
                    .map_err(|_| failed)?;
                Ok(len - GCM_TAG)
            }
        }
    }

    /// Encrypts (when `encrypt`) and tags the RTCP packet `buf[..len]` under SRTCP `index`,
    /// appending the E flag + index word and the tag; returns the new length.
    pub(crate) fn protect_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
        encrypt: bool,
    ) -> Result<usize, Error> {
        let word = if encrypt { E_FLAG | index } else { index }.to_be_bytes();
        match self {
            Transform::CmHmac { rtcp, .. } => {
                if encrypt {
                    rtcp.encrypt(ssrc, index.into(), &mut buf[RTCP_HEADER..len]);
                }
                buf[len..len + 4].copy_from_slice(&word);
                let tag = rtcp.tag(&buf[..len + 4], None);
                buf[len + 4..len + 4 + RTCP_HMAC_TAG].copy_from_slice(&tag[..RTCP_HMAC_TAG]);
                Ok(len + 4 + RTCP_HMAC_TAG)
            }
            Transform::Gcm { rtcp, .. } => {
                let nonce = rtcp.nonce(ssrc, index.into());
                let backend = |_| Error::Backend(PacketKind::Rtcp);
                let tag = if encrypt {
                    // AAD: the 8-byte header and the trailer word (RFC 7714 section 9.2).
                    let mut aad = [0u8; RTCP_HEADER + 4];
                    aad[..RTCP_HEADER].copy_from_slice(&buf[..RTCP_HEADER]);
                    aad[RTCP_HEADER..].copy_from_slice(&word);
                    rtcp.key
                        .seal_in_place_separate_tag(
                            nonce,
                            Aad::from(aad),
                            &mut buf[RTCP_HEADER..len],
                        )
                        .map_err(backend)?
                } else {
                    // AAD: the whole packet and the trailer word, made contiguous by writing
                    // the word where the tag goes.
                    buf[len..len + 4].copy_from_slice(&word);
                    rtcp.key
                        .seal_in_place_separate_tag(nonce, Aad::from(&buf[..len + 4]), &mut [])
                        .map_err(backend)?
                };
                buf[len..len + GCM_TAG].copy_from_slice(tag.as_ref());
                buf[len + GCM_TAG..len + GCM_TAG + 4].copy_from_slice(&word);
                Ok(len + GCM_TAG + 4)
            }
        }
    }

    /// The SRTCP trailer word (E flag and index) of the SRTCP packet `packet`, whose length the
    /// caller has checked against [`Profile::rtcp_overhead`].
    pub(crate) fn rtcp_word(&self, packet: &[u8]) -> u32 {
        let at = match self {
            Transform::CmHmac { .. } => packet.len() - RTCP_HMAC_TAG - 4,
            Transform::Gcm { .. } => packet.len() - 4,
        };
        u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]])
    }

    /// Verifies and decrypts the SRTCP packet `buf[..len]` whose trailer word is `word`;
    /// returns the RTCP length.
    pub(crate) fn unprotect_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        word: u32,
    ) -> Result<usize, Error> {
        let failed = Error::AuthFailed {
            kind: PacketKind::Rtcp,
            ssrc,
        };
        let index = word & !E_FLAG;
        let encrypted = word & E_FLAG != 0;
        match self {
            Transform::CmHmac { rtcp, .. } => {
                let end = len - RTCP_HMAC_TAG;
                let tag = rtcp.tag(&buf[..end], None);
                if !bool::from(tag[..RTCP_HMAC_TAG].ct_eq(&buf[end..len])) {
                    return Err(failed);
                }
                let body = end - 4;
                if encrypted {
                    rtcp.encrypt(ssrc, index.into(), &mut buf[RTCP_HEADER..body]);
                }
                Ok(body)
            }
            Transform::Gcm { rtcp, .. } => {
                let body = len - 4 - GCM_TAG;
                let nonce = rtcp.nonce(ssrc, index.into());
                let mut tag = [0u8; GCM_TAG];
                tag.copy_from_slice(&buf[body..body + GCM_TAG]);
                let tag = Tag::from(tag);
                let word = word.to_be_bytes();
                if encrypted {
                    let mut aad = [0u8; RTCP_HEADER + 4];
                    aad[..RTCP_HEADER].copy_from_slice(&buf[..RTCP_HEADER]);
                    aad[RTCP_HEADER..].copy_from_slice(&word);
                    rtcp.key
                        .open_in_place_separate_tag(
                            nonce,
                            Aad::from(aad),
                            tag,
                            &mut buf[RTCP_HEADER..body],
                            0..,
                        )
                        .map_err(|_| failed)?;
                } else {
                    buf[body..body + 4].copy_from_slice(&word);
                    rtcp.key
                        .open_in_place_separate_tag(
                            nonce,
                            Aad::from(&buf[..body + 4]),
                            tag,
                            &mut [],
                            0..,
                        )
                        .map_err(|_| failed)?;
                }
                Ok(body)
            }
        }
    }
}

impl CmKeys {
    fn new(profile: Profile, keys: &SessionKeys) -> Result<CmKeys, Error> {
        let enc = &keys.enc[..profile.session_key_len()];
        Ok(CmKeys {
            aes: if enc.is_empty() {
                None
            } else {
                Some(Aes::new(enc)?)
            },
            salt: keys.salt,
            hmac: Hmac::<Sha1>::new_from_slice(&keys.auth)
                .map_err(|_| Error::InvalidConfig("HMAC-SHA1 key refused"))?,
        })
    }

    /// XORs `data` with the keystream of IV `(salt << 16) ^ (ssrc << 64) ^ (index << 16)`.
    fn encrypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        if let Some(aes) = &self.aes {
            let mut iv = [0u8; 16];
            iv[..14].copy_from_slice(&self.salt);
            xor(&mut iv[4..8], &ssrc.to_be_bytes());
            xor(&mut iv[8..14], &index.to_be_bytes()[2..]);
            aes.apply_keystream(&iv, data);
        }
    }

    /// HMAC-SHA1 of `data`, followed by the ROC for SRTP.
    fn tag(&self, data: &[u8], roc: Option<[u8; 4]>) -> [u8; 20] {
        let mut mac = self.hmac.clone();
        mac.update(data);
        if let Some(roc) = roc {
            mac.update(&roc);
        }
        mac.finalize().into_bytes().into()
    }
}

impl GcmKeys {
    fn new(profile: Profile, keys: &SessionKeys) -> Result<GcmKeys, Error> {
        let alg = match profile.master_key_len() {
            32 => &AES_256_GCM,
            _ => &AES_128_GCM,
        };
        let key = UnboundKey::new(alg, &keys.enc[..profile.master_key_len()])
            .map_err(|_| Error::InvalidConfig("AES-GCM key refused"))?;
        let mut salt = [0u8; 12];
        salt.copy_from_slice(&keys.salt[..12]);
        Ok(GcmKeys {
            key: LessSafeKey::new(key),
            salt,
        })
    }

    /// The IV `(0 || ssrc || index48) ^ salt` of RFC 7714 sections 8.1 and 9.1, where the
    /// 48-bit value is `ROC || SEQ` for SRTP and `0 || SRTCP index` for SRTCP.
    fn nonce(&self, ssrc: u32, index: u64) -> Nonce {
        let mut iv = self.salt;
        xor(&mut iv[2..6], &ssrc.to_be_bytes());
        xor(&mut iv[6..12], &index.to_be_bytes()[2..]);
        Nonce::assume_unique_for_key(iv)
    }
}

/// The ROC of a 48-bit packet index, as HMAC input.
fn roc(index: u64) -> [u8; 4] {
    ((index >> 16) as u32).to_be_bytes()
}

fn xor(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}
