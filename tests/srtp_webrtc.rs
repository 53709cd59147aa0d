//! edge-srtp against webrtc-srtp 0.17, both directions, every profile both implement: random
//! RTP packets (sizes, CSRCs, header extensions, padding, several SSRCs, sequence numbers
//! crossing 65535 so the ROC rolls over, some reordered) and random RTCP compounds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edge_srtp::{Config, Inbound, MasterKey, Outbound, Profile};
use edge_suite::srtp::{rtcp_packet, rtp_packet, Rng};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

const PACKETS: usize = 10_000;
const SSRCS: [u32; 3] = [0x1111_1111, 0xcafe_f00d, 0x0000_0042];

fn profiles() -> [(Profile, ProtectionProfile); 6] {
    [
        (
            Profile::Aes128CmHmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_80,
        ),
        (
            Profile::Aes128CmHmacSha1_32,
            ProtectionProfile::Aes128CmHmacSha1_32,
        ),
        (
            Profile::Aes256CmHmacSha1_80,
            ProtectionProfile::Aes256CmHmacSha1_80,
        ),
        (
            Profile::Aes256CmHmacSha1_32,
            ProtectionProfile::Aes256CmHmacSha1_32,
        ),
        (Profile::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
        (Profile::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
    ]
}

fn keys(rng: &mut Rng, profile: Profile) -> MasterKey {
    let mut key = vec![0; profile.master_key_len()];
    let mut salt = vec![0; profile.master_salt_len()];
    rng.fill(&mut key);
    rng.fill(&mut salt);
    MasterKey::new(profile, &key, &salt).unwrap()
}

fn webrtc(key: &MasterKey, profile: ProtectionProfile) -> Context {
    Context::new(key.key(), key.salt(), profile, None, None).unwrap()
}

/// `PACKETS` RTP packets over the SSRCs, each SSRC's sequence starting 3000 or fewer before
/// the wrap, in order of sending.
fn rtp_stream(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut seqs: Vec<u16> = SSRCS
        .iter()
        .map(|_| 62_500 + rng.below(3000) as u16)
        .collect();
    (0..PACKETS)
        .map(|_| {
            let i = rng.below(SSRCS.len());
            seqs[i] = seqs[i].wrapping_add(1);
            rtp_packet(rng, SSRCS[i], seqs[i], 1200)
        })
        .collect()
}

/// Swaps some neighbours, as a network reorders.
fn reorder<T>(rng: &mut Rng, packets: &mut [T]) {
    for i in 1..packets.len() {
        if rng.below(8) == 0 {
            packets.swap(i - 1, i);
        }
    }
}

#[test]
fn rtp_both_ways_byte_identical() {
    let mut rng = Rng::new(0x5eed_0001);
    for (ours, theirs) in profiles() {
        let key = keys(&mut rng, ours);
        let mut tx = Outbound::new(&key, &Config::default()).unwrap();
        let mut rx = Inbound::new(&key, &Config::default()).unwrap();
        let mut their_tx = webrtc(&key, theirs);
        let mut their_rx = webrtc(&key, theirs);
        let plain = rtp_stream(&mut rng);
        let mut received = Vec::new();
        for (n, p) in plain.iter().enumerate() {
            let mut buf = vec![0u8; p.len() + ours.rtp_overhead()];
            buf[..p.len()].copy_from_slice(p);
            let len = tx.protect_rtp(&mut buf, p.len()).unwrap();
            let theirs_protected = their_tx.encrypt_rtp(p).unwrap();
            assert_eq!(&buf[..len], &theirs_protected[..], "{ours} packet {n}");
            let decrypted = their_rx.decrypt_rtp(&buf[..len]).unwrap();
            assert_eq!(
                &decrypted[..],
                &p[..],
                "{ours}: webrtc-srtp decrypts packet {n}"
            );
            received.push((n, theirs_protected.to_vec()));
        }
        // webrtc-srtp's packets, some reordered, into ours: each arrives once, intact.
        reorder(&mut rng, &mut received);
        for (n, mut srtp) in received {
            let len = srtp.len();
            let rtp_len = rx
                .unprotect_rtp(&mut srtp, len)
                .unwrap_or_else(|e| panic!("{ours} packet {n}: {e}"));
            assert_eq!(&srtp[..rtp_len], &plain[n][..], "{ours} packet {n}");
        }
        assert_eq!(rx.ssrc_count(), SSRCS.len());
    }
}

#[test]
fn rtcp_both_ways() {
    let mut rng = Rng::new(0x5eed_0002);
    for (ours, theirs) in profiles() {
        let key = keys(&mut rng, ours);
        let mut tx = Outbound::new(&key, &Config::default()).unwrap();
        let mut rx = Inbound::new(&key, &Config::default()).unwrap();
        let mut their_tx = webrtc(&key, theirs);
        let mut their_rx = webrtc(&key, theirs);
        let mut received = Vec::new();
        for n in 0..PACKETS {
            let ssrc = SSRCS[rng.below(SSRCS.len())];
            let p = rtcp_packet(&mut rng, ssrc);
            let mut buf = vec![0u8; p.len() + ours.rtcp_overhead()];
            buf[..p.len()].copy_from_slice(&p);
            let len = tx.protect_rtcp(&mut buf, p.len()).unwrap();
            assert_eq!(len, p.len() + ours.rtcp_overhead());
            let decrypted = their_rx.decrypt_rtcp(&buf[..len]).unwrap();
            assert_eq!(
                &decrypted[..],
                &p[..],
                "{ours}: webrtc-srtp decrypts RTCP {n}"
            );
            received.push((p.clone(), their_tx.encrypt_rtcp(&p).unwrap().to_vec()));
        }
        reorder(&mut rng, &mut received);
        for (n, (p, mut srtcp)) in received.into_iter().enumerate() {
            let len = srtcp.len();
            let rtcp_len = rx
                .unprotect_rtcp(&mut srtcp, len)
                .unwrap_or_else(|e| panic!("{ours} RTCP {n}: {e}"));
            assert_eq!(&srtcp[..rtcp_len], &p[..], "{ours} RTCP {n}");
        }
    }
}

/// Unencrypted SRTCP (E flag clear) for the AES-CM profiles only: webrtc-srtp's GCM path
/// always decrypts (the RFC 7714 section 17.3/17.4 vectors cover ours). Note webrtc-srtp's
/// AES-CM path returns E=0 packets without checking their tag, so this shows framing, not
/// authentication; the libsrtp test and the vectors show that.
#[test]
fn unencrypted_srtcp_is_read_by_webrtc_srtp() {
    let mut rng = Rng::new(0x5eed_0003);
    for (ours, theirs) in profiles().into_iter().take(4) {
        let key = keys(&mut rng, ours);
        let mut tx = Outbound::new(&key, &Config::default().with_encrypt_rtcp(false)).unwrap();
        let mut their_rx = webrtc(&key, theirs);
        for _ in 0..200 {
            let p = rtcp_packet(&mut rng, SSRCS[0]);
            let mut buf = vec![0u8; p.len() + ours.rtcp_overhead()];
            buf[..p.len()].copy_from_slice(&p);
            let len = tx.protect_rtcp(&mut buf, p.len()).unwrap();
            assert_eq!(&buf[..p.len()], &p[..], "the body stays in the clear");
            let decrypted = their_rx.decrypt_rtcp(&buf[..len]).unwrap();
            assert_eq!(&decrypted[..], &p[..]);
        }
    }
}
