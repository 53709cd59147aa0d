//! edge-srtp against libsrtp (pylibsrtp's libsrtp 2), both directions, for every profile
//! pylibsrtp offers: random RTP packets (CSRCs, header extensions, padding, several SSRCs,
//! sequence numbers crossing 65535) and random RTCP compounds, through one libsrtp process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use edge_srtp::{Config, Error, Inbound, MasterKey, Outbound, PacketKind, Profile};
use edge_suite::srtp::{rtcp_packet, rtp_packet, Rng};

const PACKETS: usize = 10_000;
const SSRCS: [u32; 2] = [0x0bad_cafe, 0x1234_5678];

/// The Python peer: a libsrtp outbound and inbound session under one key.
struct LibSrtp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl LibSrtp {
    fn start(key: &MasterKey) -> LibSrtp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/srtp_libsrtp.py");
        let mut child = Command::new(edge_suite::python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the libsrtp peer");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut peer = LibSrtp {
            child,
            stdin,
            stdout,
        };
        let mut setup = key.profile().dtls_id().unwrap().to_be_bytes().to_vec();
        setup.extend_from_slice(key.key());
        setup.extend_from_slice(key.salt());
        peer.call(b'K', &setup).unwrap();
        peer
    }

    fn call(&mut self, op: u8, data: &[u8]) -> Result<Vec<u8>, String> {
        let mut msg = vec![op];
        msg.extend_from_slice(&(data.len() as u32).to_be_bytes());
        msg.extend_from_slice(data);
        self.stdin.write_all(&msg).unwrap();
        self.stdin.flush().unwrap();
        let mut head = [0u8; 5];
        self.stdout
            .read_exact(&mut head)
            .expect("libsrtp peer answers");
        let mut out = vec![0; u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize];
        self.stdout.read_exact(&mut out).unwrap();
        match head[0] {
            0 => Ok(out),
            _ => Err(String::from_utf8_lossy(&out).into_owned()),
        }
    }
}

impl Drop for LibSrtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keys(rng: &mut Rng, profile: Profile) -> MasterKey {
    let mut key = vec![0; profile.master_key_len()];
    let mut salt = vec![0; profile.master_salt_len()];
    rng.fill(&mut key);
    rng.fill(&mut salt);
    MasterKey::new(profile, &key, &salt).unwrap()
}

const PROFILES: [Profile; 4] = [
    Profile::Aes128CmHmacSha1_80,
    Profile::Aes128CmHmacSha1_32,
    Profile::AeadAes128Gcm,
    Profile::AeadAes256Gcm,
];

#[test]
fn rtp_both_ways_byte_identical() {
    let mut rng = Rng::new(0x11b5_0001);
    for profile in PROFILES {
        let key = keys(&mut rng, profile);
        let mut peer = LibSrtp::start(&key);
        let mut tx = Outbound::new(&key, &Config::default()).unwrap();
        let mut rx = Inbound::new(&key, &Config::default()).unwrap();
        let mut seqs = [64_000_u16, 60_000];
        for n in 0..PACKETS {
            let i = rng.below(SSRCS.len());
            seqs[i] = seqs[i].wrapping_add(1);
            let p = rtp_packet(&mut rng, SSRCS[i], seqs[i], 1200);
            // Ours out, libsrtp in.
            let mut buf = vec![0u8; p.len() + profile.rtp_overhead()];
            buf[..p.len()].copy_from_slice(&p);
            let len = tx.protect_rtp(&mut buf, p.len()).unwrap();
            let theirs = peer.call(b'p', &p).unwrap();
            assert_eq!(
                &buf[..len],
                &theirs[..],
                "{profile} packet {n}: same SRTP bytes"
            );
            let decrypted = peer
                .call(b'u', &buf[..len])
                .unwrap_or_else(|e| panic!("{profile} packet {n}: libsrtp refused ours: {e}"));
            assert_eq!(decrypted, p, "{profile} packet {n}");
            // libsrtp out, ours in.
            let mut srtp = theirs;
            let len = srtp.len();
            let rtp_len = rx
                .unprotect_rtp(&mut srtp, len)
                .unwrap_or_else(|e| panic!("{profile} packet {n}: {e}"));
            assert_eq!(&srtp[..rtp_len], &p[..], "{profile} packet {n}");
        }
        assert_eq!(rx.ssrc_count(), 2);
    }
}

#[test]
fn rtcp_both_ways() {
    let mut rng = Rng::new(0x11b5_0002);
    for profile in PROFILES {
        let key = keys(&mut rng, profile);
        let mut peer = LibSrtp::start(&key);
        let mut tx = Outbound::new(&key, &Config::default()).unwrap();
        let mut rx = Inbound::new(&key, &Config::default()).unwrap();
        for n in 0..PACKETS {
            let ssrc = SSRCS[rng.below(SSRCS.len())];
            let p = rtcp_packet(&mut rng, ssrc);
            let mut buf = vec![0u8; p.len() + profile.rtcp_overhead()];
            buf[..p.len()].copy_from_slice(&p);
            let len = tx.protect_rtcp(&mut buf, p.len()).unwrap();
            let decrypted = peer
                .call(b'U', &buf[..len])
                .unwrap_or_else(|e| panic!("{profile} RTCP {n}: libsrtp refused ours: {e}"));
            assert_eq!(decrypted, p, "{profile} RTCP {n}");
            let mut srtcp = peer.call(b'P', &p).unwrap();
            let len = srtcp.len();
            let rtcp_len = rx
                .unprotect_rtcp(&mut srtcp, len)
                .unwrap_or_else(|e| panic!("{profile} RTCP {n}: {e}"));
            assert_eq!(&srtcp[..rtcp_len], &p[..], "{profile} RTCP {n}");
        }
    }
}

/// What each side refuses of the other's packets: a replay, a flipped tag bit, and a
/// flipped header bit.
#[test]
fn both_refuse_replayed_and_tampered_packets() {
    let mut rng = Rng::new(0x11b5_0003);
    for profile in PROFILES {
        let key = keys(&mut rng, profile);
        let mut peer = LibSrtp::start(&key);
        let mut rx = Inbound::new(&key, &Config::default()).unwrap();
        let p = rtp_packet(&mut rng, SSRCS[0], 7, 200);
        let srtp = peer.call(b'p', &p).unwrap();
        let mut first = srtp.clone();
        assert!(rx.unprotect_rtp(&mut first, srtp.len()).is_ok());
        let mut again = srtp.clone();
        assert_eq!(
            rx.unprotect_rtp(&mut again, srtp.len()),
            Err(Error::Replayed {
                kind: PacketKind::Rtp,
                ssrc: SSRCS[0],
                index: 7
            })
        );
        for at in [srtp.len() - 1, 1] {
            let mut bad = srtp.clone();
            bad[at] ^= 0x01;
            let mut fresh = Inbound::new(&key, &Config::default()).unwrap();
            assert_eq!(
                fresh.unprotect_rtp(&mut bad.clone(), bad.len()),
                Err(Error::AuthFailed {
                    kind: PacketKind::Rtp,
                    ssrc: SSRCS[0]
                }),
                "{profile}: byte {at} flipped"
            );
            assert!(
                peer.call(b'u', &bad).is_err(),
                "{profile}: libsrtp takes byte {at} flipped"
            );
        }
    }
}
