//! SDES-SRTP on the enterprise leg against an independent SRTP implementation: the
//! enterprise peer is webrtc-rs's `webrtc-srtp`. It decrypts what edge-forward sends (media
//! the browser sent over DTLS-SRTP, re-protected with the relay's SDES key), and what it
//! encrypts with its own key reaches the browser intact. RTP and RTCP, two crypto suites.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../crates/forward/tests/common/mod.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{payload, rtcp_rr, rtp, Browser};
use edge_forward::{EnterpriseCrypto, EnterpriseRemote, Forwarder, SessionSpec};
use edge_srtp::{CryptoAttribute, MasterKey, Profile};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The enterprise peer: a UDP socket and webrtc-srtp contexts.
struct Peer {
    socket: UdpSocket,
    tx: Context,
    rx: Context,
    buf: Vec<u8>,
}

impl Peer {
    fn recv(&mut self) -> (Vec<u8>, SocketAddr) {
        let (len, from) = self.socket.recv_from(&mut self.buf).unwrap();
        (self.buf[..len].to_vec(), from)
    }
}

fn webrtc_profile(p: Profile) -> ProtectionProfile {
    match p {
        Profile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        other => panic!("no webrtc-srtp profile for {other}"),
    }
}

fn call(suite: Profile, public: (u16, u16), enterprise: (u16, u16)) {
    let relay =
        Forwarder::start(common::config(public, enterprise, 1), common::dtls_config()).unwrap();
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    // The enterprise peer's own key, as its a=crypto line would carry it.
    let key: Vec<u8> = (0..suite.master_key_len())
        .map(|i| i as u8 ^ 0x5a)
        .collect();
    let salt: Vec<u8> = (0..suite.master_salt_len())
        .map(|i| i as u8 ^ 0xa5)
        .collect();
    let theirs = CryptoAttribute::new(1, MasterKey::new(suite, &key, &salt).unwrap());
    let line = theirs.to_string();

    let mut browser = Browser::new();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise_srtp = Some(EnterpriseCrypto::new(suite, 1));
    spec.rtcp_mux_enterprise = true;
    let mut remote = EnterpriseRemote::new(socket.local_addr().unwrap());
    remote.crypto = Some(CryptoAttribute::parse(&line).unwrap());
    spec.enterprise = Some(remote);
    let info = relay.create_session(spec).unwrap();
    let ours = info.enterprise_crypto.clone().unwrap();
    assert!(
        ours.starts_with(&format!("a=crypto:1 {suite} inline:")),
        "{ours}"
    );
    let ours = CryptoAttribute::parse(&ours).unwrap();

    let profile = webrtc_profile(suite);
    let mut peer = Peer {
        socket,
        tx: Context::new(&key, &salt, profile, None, None).unwrap(),
        rx: Context::new(ours.key.key(), ours.key.salt(), profile, None, None).unwrap(),
        buf: vec![0; 2048],
    };
    browser.connect(&info).unwrap();

    for seq in 0..200u16 {
        // Browser -> relay (DTLS-SRTP) -> enterprise (SDES-SRTP): webrtc-srtp decrypts.
        let sent = rtp(seq, browser.ssrc, &payload(5, seq));
        browser.send_rtp(seq, &payload(5, seq));
        let (srtp, from) = peer.recv();
        assert_eq!(from, info.enterprise_rtp);
        assert_ne!(
            &srtp[12..sent.len()],
            &sent[12..],
            "the payload must be encrypted"
        );
        let plain = peer.rx.decrypt_rtp(&srtp).unwrap();
        assert_eq!(&plain[..], &sent[..], "packet {seq}");

        // Enterprise (webrtc-srtp, its key) -> relay -> browser (DTLS-SRTP).
        let back = rtp(1000 + seq, 0xe0e0_0001, &payload(6, seq));
        let srtp = peer.tx.encrypt_rtp(&back).unwrap();
        peer.socket.send_to(&srtp, info.enterprise_rtp).unwrap();
        let got = browser.recv_media(Duration::from_secs(30)).unwrap();
        assert_eq!(got, back, "packet {seq} back");
    }

    // SRTCP both ways on the muxed port.
    let rr = rtcp_rr(browser.ssrc);
    browser.send_rtcp(&rr);
    let (srtcp, _) = peer.recv();
    assert_eq!(&peer.rx.decrypt_rtcp(&srtcp).unwrap()[..], &rr[..]);
    let rr_back = rtcp_rr(0xe0e0_0001);
    let srtcp = peer.tx.encrypt_rtcp(&rr_back).unwrap();
    peer.socket.send_to(&srtcp, info.enterprise_rtp).unwrap();
    assert_eq!(
        browser.recv_media(Duration::from_secs(30)).unwrap(),
        rr_back
    );

    // A packet webrtc-srtp protected with the wrong key is refused and counted.
    let mut wrong = Context::new(&salt_len_key(suite), &salt, profile, None, None).unwrap();
    let forged = wrong
        .encrypt_rtp(&rtp(5000, 0xe0e0_0001, &[0; 160]))
        .unwrap();
    peer.socket.send_to(&forged, info.enterprise_rtp).unwrap();
    assert!(common::eventually(Duration::from_secs(30), || relay
        .session(info.id)
        .unwrap()
        .counters
        .enterprise_to_browser
        .drops
        .auth_failed
        == 1));
    let c = relay.session(info.id).unwrap().counters;
    assert_eq!(c.browser_to_enterprise.rtp_packets, 200);
    assert_eq!(c.enterprise_to_browser.rtp_packets, 200);
    relay.shutdown();
}

/// Another key of the suite's length.
fn salt_len_key(suite: Profile) -> Vec<u8> {
    vec![0x33; suite.master_key_len()]
}

#[test]
fn sdes_aes_cm_with_webrtc_srtp() {
    call(Profile::Aes128CmHmacSha1_80, (47000, 47009), (37000, 37009));
}

#[test]
fn sdes_aead_gcm_with_webrtc_srtp() {
    call(Profile::AeadAes128Gcm, (47010, 47019), (37010, 37019));
}
