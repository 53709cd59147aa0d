//! RFC 7714 section 16 and 17 test vectors, byte for byte, through the packet API (the RFC
//! gives session keys, so the contexts are built over them directly).

use crate::kdf::SessionKeys;
use crate::test_util::unhex;
use crate::transform::Transform;
use crate::{Error, Inbound, Outbound, PacketKind, Profile};

const KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// "Quid pro quo".
const SALT: &str = "517569642070726f2071756f";
/// Section 16: header 8040f17b 8041f8d3 5501a0b2 (SSRC 5501a0b2, SEQ f17b, ROC 0) and
/// "Gallia est omnis divisa in partes tres".
const RTP: &str = "8040f17b8041f8d35501a0b2\
                   47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
/// Section 17: an RTCP packet of SSRC 4d617273, sent with SRTCP index 0x5d4.
const RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61\
                    deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
const RTCP_INDEX: u32 = 0x5d4;

fn transform(profile: Profile) -> Transform {
    let mut keys = SessionKeys {
        enc: [0; 32],
        auth: [0; 20],
        salt: [0; 14],
    };
    let key = unhex(KEY_256);
    let n = profile.master_key_len();
    keys.enc[..n].copy_from_slice(&key[..n]);
    keys.salt[..12].copy_from_slice(&unhex(SALT));
    // The RFC uses the same keys for SRTP and SRTCP.
    let rtcp = SessionKeys { ..keys };
    Transform::from_session_keys(profile, &keys, &rtcp).unwrap()
}

fn rtp_case(profile: Profile, protected: &str) {
    let plain = unhex(RTP);
    let expected = unhex(protected);
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let mut tx = Outbound::from_transform(profile, transform(profile));
    let len = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(hex(&buf[..len]), hex(&expected));

    let mut rx = Inbound::from_transform(profile, transform(profile));
    let mut tampered = buf;
    tampered[len - 1] ^= 1;
    assert_eq!(
        rx.unprotect_rtp(&mut tampered, len),
        Err(Error::AuthFailed {
            kind: PacketKind::Rtp,
            ssrc: 0x5501a0b2
        })
    );
    let n = rx.unprotect_rtp(&mut buf, len).unwrap();
    assert_eq!(hex(&buf[..n]), hex(&plain));
}

fn rtcp_case(profile: Profile, encrypt: bool, protected: &str) {
    let plain = unhex(RTCP);
    let expected = unhex(protected);
    let t = transform(profile);
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let len = t
        .protect_rtcp(&mut buf, plain.len(), 0x4d617273, RTCP_INDEX, encrypt)
        .unwrap();
    assert_eq!(hex(&buf[..len]), hex(&expected));

    let mut rx = Inbound::from_transform(profile, transform(profile));
    let n = rx.unprotect_rtcp(&mut buf, len).unwrap();
    assert_eq!(hex(&buf[..n]), hex(&plain));
    let mut again = [0u8; 128];
    again[..len].copy_from_slice(&expected);
    assert_eq!(
        rx.unprotect_rtcp(&mut again, len),
        Err(Error::Replayed {
            kind: PacketKind::Rtcp,
            ssrc: 0x4d617273,
            index: 0x5d4
        })
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn rfc7714_16_1_aead_aes_128_gcm_srtp() {
    rtp_case(
        Profile::AeadAes128Gcm,
        "8040f17b8041f8d35501a0b2\
         f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833\
         899d7f27beb16a9152cf765ee4390cce",
    );
}

#[test]
fn rfc7714_16_2_aead_aes_256_gcm_srtp() {
    rtp_case(
        Profile::AeadAes256Gcm,
        "8040f17b8041f8d35501a0b2\
         32b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b\
         7aa3db36dfffd6b0f9bb7878d7a76c13",
    );
}

#[test]
fn rfc7714_17_1_aead_aes_128_gcm_srtcp_encrypted() {
    rtcp_case(
        Profile::AeadAes128Gcm,
        true,
        "81c8000d4d617273\
         63e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275b\
         c84aa45896cf4d2fc5abf87245d9eade800005d4",
    );
}

#[test]
fn rfc7714_17_2_aead_aes_256_gcm_srtcp_encrypted() {
    rtcp_case(
        Profile::AeadAes256Gcm,
        true,
        "81c8000d4d617273\
         d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad\
         1d1eb30c4446839f57ff6f6cb26ac3be800005d4",
    );
}

#[test]
fn rfc7714_17_3_aead_aes_128_gcm_srtcp_authenticated_only() {
    rtcp_case(
        Profile::AeadAes128Gcm,
        false,
        &format!("{RTCP}841dd9683dd78ec92ae58790125f62b3000005d4"),
    );
}

#[test]
fn rfc7714_17_4_aead_aes_256_gcm_srtcp_authenticated_only() {
    rtcp_case(
        Profile::AeadAes256Gcm,
        false,
        &format!("{RTCP}91db4afbfeee5a978fab4393ed2615fe000005d4"),
    );
}
