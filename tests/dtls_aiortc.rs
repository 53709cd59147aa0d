//! edge-dtls against aiortc's DTLS transport (pyOpenSSL underneath, libsrtp via pylibsrtp for
//! SRTP) over loopback UDP, both roles, every profile aiortc offers. The proof that both
//! sides derived the same keys is media: 20 RTP packets each way, protected by one side's
//! SRTP implementation and unprotected by the other's, all arriving in order. Every wait is
//! for an event (a line from aiortc, the 20th packet) under a generous hang guard, never a
//! fixed window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/dtls.rs"]
mod dtls_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use dtls_support::{drive, loopback_socket, serve_until, PeerProcess};
use edge_dtls::{Certificate, ConfigBuilder, Fingerprint, Handshake, Role, SrtpKeys, SrtpProfile};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// Hang guard for every wait: far beyond what a loaded machine needs.
const LIMIT: Duration = Duration::from_secs(60);
const PACKETS: u16 = 20;

fn srtp_context(keys: &SrtpKeys, local: bool) -> Context {
    let profile = match keys.profile.id() {
        0x0001 => ProtectionProfile::Aes128CmHmacSha1_80,
        0x0002 => ProtectionProfile::Aes128CmHmacSha1_32,
        0x0007 => ProtectionProfile::AeadAes128Gcm,
        0x0008 => ProtectionProfile::AeadAes256Gcm,
        id => panic!("profile {id:#06x}"),
    };
    let (key, salt) = if local {
        (&keys.local_master_key, &keys.local_master_salt)
    } else {
        (&keys.remote_master_key, &keys.remote_master_salt)
    };
    Context::new(key, salt, profile, None, None).unwrap()
}

fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x5566_7788u32.to_be_bytes());
    p.extend_from_slice(format!("edge-{seq:02}").as_bytes());
    p
}

/// One handshake with aiortc in `aiortc_role`, then media both ways.
fn exchange(aiortc_role: Role, profile: SrtpProfile) {
    let config = ConfigBuilder::new(Certificate::generate().unwrap())
        .srtp_profiles(&[profile])
        .handshake_timeout(LIMIT)
        .build()
        .unwrap();
    let socket = loopback_socket();
    let port = socket.local_addr().unwrap().port();
    let role_arg = match aiortc_role {
        Role::Client => "client",
        Role::Server => "server",
    };
    let mut peer = PeerProcess::spawn(
        Command::new(edge_suite::python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/dtls_aiortc_peer.py"
            ))
            .args([role_arg, &port.to_string()])
            .arg(config.certificate().fingerprint().to_string()),
        false,
    );
    let (peer_port, fingerprints) = peer
        .wait_for(LIMIT, |line| {
            let rest = line.strip_prefix("READY ")?;
            let (port, fps) = rest.split_once(' ')?;
            let fps: Vec<Fingerprint> = fps.split('|').map(|f| f.parse().unwrap()).collect();
            Some((port.parse::<u16>().unwrap(), fps))
        })
        .unwrap_or_else(|| panic!("aiortc did not start\n{}", peer.output()));
    // aiortc offers sha-256, sha-384 and sha-512: the strongest is the one checked.
    assert_eq!(fingerprints.len(), 3);
    let aiortc_addr: SocketAddr = ([127, 0, 0, 1], peer_port).into();
    let our_role = match aiortc_role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut handshake = Handshake::new(&config, our_role, &fingerprints, Instant::now()).unwrap();
    let (keys, _) = drive(&mut handshake, &socket, Some(aiortc_addr), LIMIT);
    let keys = keys.unwrap_or_else(|e| panic!("{profile}/{role_arg}: {e}\n{}", peer.output()));
    assert_eq!(keys.profile, profile);
    let name = peer.wait_for(LIMIT, |l| l.strip_prefix("PROFILE ").map(str::to_owned));
    assert_eq!(name.as_deref(), Some(profile.name()), "{}", peer.output());

    // Rust -> aiortc: protected with webrtc-srtp from our local keys.
    let mut tx = srtp_context(&keys, true);
    for seq in 0..PACKETS {
        let protected = tx.encrypt_rtp(&rtp_packet(seq)).unwrap();
        socket.send_to(&protected, aiortc_addr).unwrap();
    }
    // aiortc -> Rust: unprotected with webrtc-srtp from our remote keys.
    let mut rx = srtp_context(&keys, false);
    let mut received = Vec::new();
    serve_until(&mut handshake, &socket, aiortc_addr, LIMIT, |d| {
        let rtp = rx
            .decrypt_rtp(d)
            .expect("aiortc's SRTP decrypts with our keys");
        received.push((u16::from_be_bytes([rtp[2], rtp[3]]), rtp[12..].to_vec()));
        received.len() == usize::from(PACKETS)
    });
    let expected: Vec<(u16, Vec<u8>)> = (0..PACKETS)
        .map(|seq| (seq, format!("aiortc-{seq:02}").into_bytes()))
        .collect();
    assert_eq!(
        received, expected,
        "{profile}/{role_arg}: all packets, in order"
    );

    let mut theirs = Vec::new();
    let done = peer.wait_for(LIMIT, |line| {
        if let Some(rest) = line.strip_prefix("RECV ") {
            theirs.push(rest.to_owned());
        }
        (line == "DONE").then_some(())
    });
    assert!(
        done.is_some(),
        "{profile}/{role_arg}: aiortc did not finish\n{}",
        peer.output()
    );
    let ours: Vec<String> = (0..PACKETS)
        .map(|seq| {
            let payload: String = format!("edge-{seq:02}")
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("{seq} {payload}")
        })
        .collect();
    assert_eq!(
        theirs, ours,
        "{profile}/{role_arg}: aiortc got all packets, in order"
    );
    assert!(peer.wait_exit(LIMIT).is_some_and(|s| s.success()));
}

/// The profiles aiortc 1.16 offers (it has no SRTP_AES128_CM_SHA1_32).
const AIORTC_PROFILES: [SrtpProfile; 3] = [
    SrtpProfile::AeadAes256Gcm,
    SrtpProfile::AeadAes128Gcm,
    SrtpProfile::Aes128CmSha1_80,
];

#[test]
fn aiortc_client_and_our_server_agree_on_srtp_keys() {
    for profile in AIORTC_PROFILES {
        exchange(Role::Client, profile);
    }
}

#[test]
fn our_client_and_aiortc_server_agree_on_srtp_keys() {
    for profile in AIORTC_PROFILES {
        exchange(Role::Server, profile);
    }
}
