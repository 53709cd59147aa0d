//! What a receiver and a sender must refuse, and what they must accept exactly once: replays,
//! late packets, tampering, truncation, wrong keys, SSRC limits, misuse and random input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use edge_srtp::{Config, Error, Inbound, MasterKey, Outbound, PacketKind, Profile};

const SSRC: u32 = 0x0102_0304;

fn key(profile: Profile, fill: u8) -> MasterKey {
    MasterKey::new(
        profile,
        &vec![fill; profile.master_key_len()],
        &vec![fill ^ 0x5a; profile.master_salt_len()],
    )
    .unwrap()
}

fn pair(profile: Profile, config: &Config) -> (Outbound, Inbound) {
    let k = key(profile, 1);
    (
        Outbound::new(&k, config).unwrap(),
        Inbound::new(&k, config).unwrap(),
    )
}

/// RTP with one CSRC, a header extension and padding, sequence `seq`.
fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0xb1, 0x60];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x10, 0]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[9, 9, 9, 9, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    p.extend_from_slice(b"twenty bytes payload");
    p.extend_from_slice(&[0, 0, 3]);
    p
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..24).map(|i| i as u8));
    p
}

fn protect(tx: &mut Outbound, p: &[u8]) -> Vec<u8> {
    let mut buf = p.to_vec();
    buf.resize(p.len() + tx.profile().rtp_overhead(), 0);
    let len = tx.protect_rtp(&mut buf, p.len()).unwrap();
    buf.truncate(len);
    buf
}

fn protect_rtcp(tx: &mut Outbound, p: &[u8]) -> Vec<u8> {
    let mut buf = p.to_vec();
    buf.resize(p.len() + tx.profile().rtcp_overhead(), 0);
    let len = tx.protect_rtcp(&mut buf, p.len()).unwrap();
    buf.truncate(len);
    buf
}

fn unprotect(rx: &mut Inbound, srtp: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = srtp.to_vec();
    let len = rx.unprotect_rtp(&mut buf, srtp.len())?;
    buf.truncate(len);
    Ok(buf)
}

fn unprotect_rtcp(rx: &mut Inbound, srtcp: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = srtcp.to_vec();
    let len = rx.unprotect_rtcp(&mut buf, srtcp.len())?;
    buf.truncate(len);
    Ok(buf)
}

#[test]
fn late_packets_inside_the_window_arrive_exactly_once() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, &Config::default());
        // Sequence numbers 65400..65400+300 wrap, so the ROC rolls over on the way.
        let sent: Vec<_> = (0..300u16)
            .map(|i| {
                (
                    65_400u16.wrapping_add(i),
                    protect(&mut tx, &rtp(SSRC, 65_400u16.wrapping_add(i))),
                )
            })
            .collect();
        // The receiver learns ROC 0 from the first packet, then the newest is after the wrap.
        assert_eq!(
            unprotect(&mut rx, &sent[0].1).unwrap(),
            rtp(SSRC, sent[0].0)
        );
        let newest = &sent[299];
        assert_eq!(unprotect(&mut rx, &newest.1).unwrap(), rtp(SSRC, newest.0));
        // The 127 before the newest are inside the 128-packet window, newest first.
        for (seq, srtp) in sent[172..299].iter().rev() {
            assert_eq!(
                unprotect(&mut rx, srtp).unwrap(),
                rtp(SSRC, *seq),
                "{profile}"
            );
            let index = u64::from(*seq) + if *seq < 1000 { 1 << 16 } else { 0 };
            assert_eq!(
                unprotect(&mut rx, srtp),
                Err(Error::Replayed {
                    kind: PacketKind::Rtp,
                    ssrc: SSRC,
                    index
                }),
                "{profile}: second copy of {seq}"
            );
        }
        assert!(matches!(
            unprotect(&mut rx, &sent[171].1),
            Err(Error::TooOld { .. })
        ));
        assert!(matches!(
            unprotect(&mut rx, &newest.1),
            Err(Error::Replayed { .. })
        ));
    }
}

#[test]
fn the_window_size_is_configurable() {
    let (mut tx, mut rx) = pair(
        Profile::AeadAes128Gcm,
        &Config::default().with_replay_window(1024),
    );
    let sent: Vec<_> = (0..1100u16)
        .map(|s| protect(&mut tx, &rtp(SSRC, s)))
        .collect();
    unprotect(&mut rx, &sent[1099]).unwrap();
    assert!(unprotect(&mut rx, &sent[76]).is_ok());
    assert!(matches!(
        unprotect(&mut rx, &sent[75]),
        Err(Error::TooOld { .. })
    ));
    for bad in [63, 1025] {
        let k = key(Profile::AeadAes128Gcm, 1);
        assert!(matches!(
            Inbound::new(&k, &Config::default().with_replay_window(bad)),
            Err(Error::InvalidConfig(_))
        ));
    }
}

#[test]
fn srtcp_replays_and_late_packets() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, &Config::default());
        let sent: Vec<_> = (0..200)
            .map(|_| protect_rtcp(&mut tx, &rtcp(SSRC)))
            .collect();
        unprotect_rtcp(&mut rx, &sent[199]).unwrap();
        assert_eq!(unprotect_rtcp(&mut rx, &sent[100]).unwrap(), rtcp(SSRC));
        assert_eq!(
            unprotect_rtcp(&mut rx, &sent[100]),
            Err(Error::Replayed {
                kind: PacketKind::Rtcp,
                ssrc: SSRC,
                index: 100
            })
        );
        assert_eq!(
            unprotect_rtcp(&mut rx, &sent[71]),
            Err(Error::TooOld {
                kind: PacketKind::Rtcp,
                ssrc: SSRC,
                index: 71
            })
        );
    }
}

#[test]
fn tampering_anywhere_fails_authentication() {
    for profile in Profile::ALL {
        let (mut tx, _) = pair(profile, &Config::default());
        let srtp = protect(&mut tx, &rtp(SSRC, 7));
        for at in 0..srtp.len() {
            let mut bad = srtp.clone();
            bad[at] ^= 0x10;
            let mut rx = Inbound::new(&key(profile, 1), &Config::default()).unwrap();
            let result = unprotect(&mut rx, &bad);
            if at < 24 {
                // A header byte: refused, as a forgery or (layout bytes) as malformed.
                assert!(result.is_err(), "{profile}: header byte {at} flipped");
            } else {
                assert_eq!(
                    result,
                    Err(Error::AuthFailed {
                        kind: PacketKind::Rtp,
                        ssrc: SSRC
                    }),
                    "{profile}: byte {at} flipped"
                );
            }
            // The forged packet changed nothing: the real one is still accepted.
            assert!(unprotect(&mut rx, &srtp).is_ok());
            assert_eq!(rx.ssrc_count(), 1);
        }
        let srtcp = protect_rtcp(&mut tx, &rtcp(SSRC));
        for at in (0..srtcp.len()).filter(|a| !(4..8).contains(a) && *a != 0) {
            let mut bad = srtcp.clone();
            bad[at] ^= 0x01;
            let mut rx = Inbound::new(&key(profile, 1), &Config::default()).unwrap();
            assert!(
                matches!(unprotect_rtcp(&mut rx, &bad), Err(Error::AuthFailed { .. })),
                "{profile}: SRTCP byte {at} flipped"
            );
        }
    }
}

#[test]
fn a_wrong_key_fails_authentication() {
    for profile in Profile::ALL {
        let (mut tx, _) = pair(profile, &Config::default());
        let mut rx = Inbound::new(&key(profile, 2), &Config::default()).unwrap();
        let srtp = protect(&mut tx, &rtp(SSRC, 1));
        assert_eq!(
            unprotect(&mut rx, &srtp),
            Err(Error::AuthFailed {
                kind: PacketKind::Rtp,
                ssrc: SSRC
            })
        );
        let srtcp = protect_rtcp(&mut tx, &rtcp(SSRC));
        assert_eq!(
            unprotect_rtcp(&mut rx, &srtcp),
            Err(Error::AuthFailed {
                kind: PacketKind::Rtcp,
                ssrc: SSRC
            })
        );
        assert_eq!(rx.ssrc_count(), 0, "forgeries take no SSRC slot");
    }
}

#[test]
fn truncated_packets_are_refused() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, &Config::default());
        let srtp = protect(&mut tx, &rtp(SSRC, 1));
        let srtcp = protect_rtcp(&mut tx, &rtcp(SSRC));
        for len in 0..srtp.len() {
            assert!(
                unprotect(&mut rx, &srtp[..len]).is_err(),
                "{profile}: {len} bytes"
            );
        }
        for len in 0..srtcp.len() {
            assert!(
                unprotect_rtcp(&mut rx, &srtcp[..len]).is_err(),
                "{profile}: {len} bytes"
            );
        }
        assert_eq!(
            unprotect(&mut rx, &srtp[..11]),
            Err(Error::TooShort {
                kind: PacketKind::Rtp,
                len: 11,
                min: 12 + profile.rtp_overhead()
            })
        );
        // Both still decrypt whole.
        assert!(unprotect(&mut rx, &srtp).is_ok());
        assert!(unprotect_rtcp(&mut rx, &srtcp).is_ok());
    }
}

#[test]
fn new_ssrcs_are_bounded() {
    let (mut tx, mut rx) = pair(
        Profile::Aes128CmHmacSha1_80,
        &Config::default().with_max_ssrcs(2),
    );
    for ssrc in [1, 2] {
        let srtp = protect(&mut tx, &rtp(ssrc, 1));
        unprotect(&mut rx, &srtp).unwrap();
    }
    let mut buf = rtp(3, 1);
    buf.resize(100, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf, 43),
        Err(Error::SsrcLimit { ssrc: 3, limit: 2 })
    );
    let mut other =
        Outbound::new(&key(Profile::Aes128CmHmacSha1_80, 1), &Config::default()).unwrap();
    let srtp = protect(&mut other, &rtp(3, 1));
    assert_eq!(
        unprotect(&mut rx, &srtp),
        Err(Error::SsrcLimit { ssrc: 3, limit: 2 })
    );
    assert_eq!((tx.ssrc_count(), rx.ssrc_count()), (2, 2));
}

#[test]
fn protect_refuses_to_reuse_an_index() {
    let (mut tx, _) = pair(Profile::AeadAes128Gcm, &Config::default());
    protect(&mut tx, &rtp(SSRC, 500));
    let mut buf = rtp(SSRC, 500);
    let len = buf.len();
    buf.resize(len + 16, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf, len),
        Err(Error::Replayed {
            kind: PacketKind::Rtp,
            ssrc: SSRC,
            index: 500
        })
    );
    assert_eq!(
        buf[..len],
        rtp(SSRC, 500)[..],
        "a refused packet is left as it was"
    );
}

#[test]
fn misuse_is_named() {
    let (mut tx, mut rx) = pair(Profile::Aes128CmHmacSha1_80, &Config::default());
    let p = rtp(SSRC, 1);
    let mut exact = p.clone();
    assert_eq!(
        tx.protect_rtp(&mut exact, p.len()),
        Err(Error::NoTailroom {
            kind: PacketKind::Rtp,
            needed: 10,
            available: 0
        })
    );
    assert_eq!(exact, p);
    assert_eq!(
        rx.unprotect_rtp(&mut exact, 500),
        Err(Error::LengthExceedsBuffer {
            len: 500,
            capacity: p.len()
        })
    );
    let mut short_rtcp = rtcp(SSRC);
    assert!(matches!(
        tx.protect_rtcp(&mut short_rtcp, 32),
        Err(Error::NoTailroom {
            kind: PacketKind::Rtcp,
            needed: 14,
            ..
        })
    ));
    assert!(matches!(
        Outbound::new(
            &key(Profile::AeadAes128Gcm, 1),
            &Config::default().with_max_ssrcs(0)
        ),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn bytes_mut_grows_and_shrinks_in_place() {
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, &Config::default());
        let mut b = BytesMut::with_capacity(256);
        b.extend_from_slice(&rtp(SSRC, 9));
        tx.protect_rtp_bytes(&mut b).unwrap();
        assert_eq!(b.len(), rtp(SSRC, 9).len() + profile.rtp_overhead());
        rx.unprotect_rtp_bytes(&mut b).unwrap();
        assert_eq!(&b[..], &rtp(SSRC, 9)[..]);
        // A failure leaves the length as it was.
        assert!(rx.unprotect_rtp_bytes(&mut b).is_err());
        assert_eq!(b.len(), rtp(SSRC, 9).len());

        b.clear();
        b.extend_from_slice(&rtcp(SSRC));
        tx.protect_rtcp_bytes(&mut b).unwrap();
        rx.unprotect_rtcp_bytes(&mut b).unwrap();
        assert_eq!(&b[..], &rtcp(SSRC)[..]);
    }
}

/// Random bytes of every length, and random mutations of valid packets, through every entry
/// point: errors, never a panic, never an accepted forgery.
#[test]
fn random_input_never_panics_or_passes() {
    let mut x = 0x00dd_ba11_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for profile in Profile::ALL {
        let (mut tx, mut rx) = pair(profile, &Config::default());
        let valid = protect(&mut tx, &rtp(SSRC, 1));
        let mut buf = [0u8; 300];
        for n in 0..5_000 {
            let len = (next() % 300) as usize;
            for b in buf.iter_mut() {
                *b = next() as u8;
            }
            if n % 2 == 0 {
                // Mostly-valid: a real packet with a few random bytes changed.
                buf[..valid.len()].copy_from_slice(&valid);
                for _ in 0..1 + next() % 3 {
                    buf[(next() % valid.len() as u64) as usize] ^= 1 << (next() % 8);
                }
                if buf[..valid.len()] != valid[..] {
                    assert!(rx.unprotect_rtp(&mut buf.clone(), valid.len()).is_err());
                }
            }
            let _ = rx.unprotect_rtp(&mut buf.clone(), len);
            let _ = rx.unprotect_rtcp(&mut buf.clone(), len);
            let _ = tx.protect_rtp(&mut buf.clone(), len);
            let _ = tx.protect_rtcp(&mut buf.clone(), len);
            let _ = rx.unprotect_rtp(&mut buf.clone(), 400);
        }
    }
}
