//! The session core on a virtual clock, against a browser made of edge-stun (checks),
//! edge-dtls (client role) and edge-srtp: no sockets, no sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_dtls::{Certificate, ConfigBuilder, Fingerprint, Handshake, Role, SrtpKeys};
use edge_srtp::{Inbound, MasterKey, Outbound, Profile};
use edge_stun::{Attribute, Class, IntegrityKey, Message, MessageEncoder, Method, TransactionId};

use super::*;
use crate::snapshot::{Shared, Status};
use crate::{SessionId, SessionState};

const BROWSER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(192, 0, 2, 10),
    50000,
));
const STRANGER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(192, 0, 2, 66),
    50000,
));
const ENTERPRISE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(10, 0, 0, 5),
    6000,
));
const UFRAG: &str = "relayufr";
const PWD: &str = "relay-pwd-0123456789abcdef";

fn timeouts() -> Timeouts {
    Timeouts {
        media: Duration::from_secs(10),
        setup: Duration::from_secs(20),
        consent: Duration::from_secs(30),
    }
}

/// The browser: DTLS client, ICE controlling agent, SRTP sender and receiver.
struct Browser {
    handshake: Handshake,
    fingerprint: Fingerprint,
    tx: Option<Outbound>,
    rx: Option<Inbound>,
    tid: u8,
}

impl Browser {
    fn new(now: Instant, relay_fp: Fingerprint) -> Browser {
        let config = ConfigBuilder::new(Certificate::generate().unwrap())
            .build()
            .unwrap();
        let fingerprint = config.certificate().fingerprint();
        let handshake = Handshake::new(&config, Role::Client, &[relay_fp], now).unwrap();
        Browser {
            handshake,
            fingerprint,
            tx: None,
            rx: None,
            tid: 0,
        }
    }

    fn binding_request(&mut self, pwd: &str, nominate: bool) -> Vec<u8> {
        self.binding_request_as("relayufr:brws", pwd, nominate)
    }

    fn binding_request_as(&mut self, username: &str, pwd: &str, nominate: bool) -> Vec<u8> {
        self.tid += 1;
        let mut buf = vec![0u8; 2048];
        let mut enc = MessageEncoder::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([self.tid; 12]),
        )
        .unwrap();
        enc.attribute(&Attribute::Username(username))
            .unwrap()
            .attribute(&Attribute::IceControlling(1))
            .unwrap();
        if nominate {
            enc.attribute(&Attribute::UseCandidate).unwrap();
        }
        enc.message_integrity(&IntegrityKey::new(pwd.as_bytes()))
            .unwrap()
            .fingerprint()
            .unwrap();
        let len = enc.finish();
        buf.truncate(len);
        buf
    }

    fn keys(&mut self, keys: &SrtpKeys) {
        let profile = Profile::from_dtls_id(keys.profile.id()).unwrap();
        let local =
            MasterKey::new(profile, &keys.local_master_key, &keys.local_master_salt).unwrap();
        let remote =
            MasterKey::new(profile, &keys.remote_master_key, &keys.remote_master_salt).unwrap();
        self.tx = Some(Outbound::new(&local, &edge_srtp::Config::default()).unwrap());
        self.rx = Some(Inbound::new(&remote, &edge_srtp::Config::default()).unwrap());
    }

    /// An SRTP packet of sequence `seq` in a 2048-byte slot; returns (slot, len).
    fn srtp(&mut self, seq: u16) -> (Vec<u8>, usize) {
        let mut slot = vec![0u8; 2048];
        let rtp = rtp_packet(seq);
        slot[..rtp.len()].copy_from_slice(&rtp);
        let len = self
            .tx
            .as_mut()
            .unwrap()
            .protect_rtp(&mut slot, rtp.len())
            .unwrap();
        (slot, len)
    }
}

fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn rtcp_rr() -> Vec<u8> {
    // RR with no report blocks: V=2, PT=201, length 1, SSRC.
    vec![0x80, 201, 0, 1, 0xde, 0xad, 0xbe, 0xef]
}

struct Harness {
    now: Instant,
    session: Session,
    shared: Arc<Shared>,
    browser: Browser,
    scratch: Vec<u8>,
}

fn harness_with(enterprise: Enterprise, remote_fp: Option<Fingerprint>) -> Harness {
    let now = Instant::now();
    let config = ConfigBuilder::new(Certificate::generate().unwrap())
        .build()
        .unwrap();
    let relay_fp = config.certificate().fingerprint();
    let shared = Arc::new(Shared::new(
        SessionId(1),
        now,
        "203.0.113.1:40000".parse().unwrap(),
        "10.0.0.1:30000".parse().unwrap(),
        None,
        0,
        Status {
            state: SessionState::New,
            browser_addr: None,
            enterprise_remote: None,
            ended_at: None,
            browser_known: true,
            dtls_started: None,
            connected_at: None,
            video: None,
        },
    ));
    let mut session = Session::new(
        now,
        Params {
            shared: shared.clone(),
            ice_ufrag: UFRAG.into(),
            ice_pwd: PWD.into(),
            dtls: Arc::new(config),
            srtp: edge_srtp::Config::default(),
            timeouts: timeouts(),
            enterprise,
            formats: crate::quality::Formats::new(&[]),
            media: None,
            video: None,
        },
    );
    let browser = Browser::new(now, relay_fp);
    session.set_browser_remote(
        now,
        BrowserSetup {
            ice_ufrag: "brws".into(),
            fingerprints: vec![remote_fp.unwrap_or(browser.fingerprint)],
            role: Role::Server,
        },
    );
    Harness {
        now,
        session,
        shared,
        browser,
        scratch: vec![0; 512],
    }
}

fn plain_enterprise() -> Enterprise {
    let mut e = Enterprise::new(true, false, None);
    e.set_remote(ENTERPRISE, None, None);
    e
}

impl Harness {
    fn state(&self) -> SessionState {
        self.shared.status(|s| s.state.clone())
    }

    fn counters(&self) -> crate::Counters {
        self.shared.stats.snapshot()
    }

    fn browser_sends(&mut self, from: SocketAddr, datagram: &[u8]) -> Action {
        let mut slot = datagram.to_vec();
        slot.resize(2048, 0);
        self.session
            .handle_browser(self.now, from, &mut slot, datagram.len(), &mut self.scratch)
    }

    fn nominate(&mut self) {
        let req = self.browser.binding_request(PWD, true);
        let Action::Reply { dst, len } = self.browser_sends(BROWSER, &req) else {
            panic!("check not answered");
        };
        assert_eq!(dst, BROWSER);
        let resp = Message::parse(&self.scratch[..len]).unwrap();
        assert_eq!(resp.class(), Class::Success);
        assert_eq!(resp.xor_mapped_address().unwrap(), Some(BROWSER));
    }

    /// Moves DTLS both ways until neither side has anything to say.
    fn pump_dtls(&mut self) {
        let mut out = Vec::new();
        for _ in 0..50 {
            let mut moved = false;
            let mut buf = Vec::new();
            while let Some(len) = self.browser.handshake.poll_transmit(&mut buf) {
                let datagram = buf[buf.len() - len..].to_vec();
                assert_eq!(self.browser_sends(BROWSER, &datagram), Action::Drop);
                moved = true;
            }
            while let Some((dst, len)) = self.session.poll_dtls(&mut out) {
                assert_eq!(dst, BROWSER);
                // The browser's failures show up as the relay never getting keys.
                let _ = self.browser.handshake.handle_input(self.now, &out[..len]);
                moved = true;
            }
            if let Some(keys) = self.browser.handshake.poll_keys() {
                self.browser.keys(&keys);
            }
            if !moved {
                return;
            }
        }
        panic!("DTLS did not settle");
    }

    fn connect(&mut self) {
        self.nominate();
        self.pump_dtls();
        assert_eq!(self.state(), SessionState::DtlsConnected);
        assert!(self.browser.tx.is_some(), "browser got no keys");
    }
}

#[test]
fn a_wrong_password_for_our_ufrag_is_an_auth_failure_answered_with_401() {
    let mut h = harness_with(plain_enterprise(), None);
    let req = h.browser.binding_request("wrong-password-0123456789", true);
    let Action::AuthFailure { dst, len } = h.browser_sends(BROWSER, &req) else {
        panic!("not reported as a failure");
    };
    assert_eq!(dst, BROWSER);
    let resp = Message::parse(&h.scratch[..len]).unwrap();
    assert_eq!(resp.error_code().unwrap().unwrap().code, 401);
    assert_eq!(h.counters().ice_rejected, 1);
    assert_eq!(h.state(), SessionState::New);
    // The right password afterwards is answered as usual.
    h.nominate();
}

#[test]
fn ice_dtls_srtp_and_media_both_ways() {
    let mut h = harness_with(plain_enterprise(), None);
    assert_eq!(h.state(), SessionState::New);
    h.connect();
    assert_eq!(h.shared.status(|s| s.browser_addr), Some(BROWSER));

    // Browser -> enterprise: the RTP the browser protected comes out in the clear.
    for seq in 0..20u16 {
        let (mut slot, len) = h.browser.srtp(seq);
        let action = h
            .session
            .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch);
        let Action::ToEnterprise {
            line: AUDIO,
            rtcp_socket: false,
            dst,
            len,
        } = action
        else {
            panic!("{action:?}");
        };
        assert_eq!(dst, ENTERPRISE);
        assert_eq!(&slot[..len], &rtp_packet(seq)[..]);
    }
    assert_eq!(h.state(), SessionState::Active);

    // Enterprise -> browser: plain RTP comes out as SRTP the browser can open.
    for seq in 100..120u16 {
        let rtp = rtp_packet(seq);
        let mut slot = rtp.clone();
        slot.resize(2048, 0);
        let action =
            h.session
                .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut slot, rtp.len());
        let Action::ToBrowser { dst, len } = action else {
            panic!("{action:?}");
        };
        assert_eq!(dst, BROWSER);
        let plain = h.browser.rx.as_mut().unwrap().unprotect_rtp(&mut slot, len);
        assert_eq!(&slot[..plain.unwrap()], &rtp[..]);
    }

    // RTCP on the muxed enterprise port is told apart and protected as SRTCP.
    let rr = rtcp_rr();
    let mut slot = rr.clone();
    slot.resize(2048, 0);
    let Action::ToBrowser { len, .. } =
        h.session
            .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut slot, rr.len())
    else {
        panic!("RTCP not forwarded");
    };
    let plain = h
        .browser
        .rx
        .as_mut()
        .unwrap()
        .unprotect_rtcp(&mut slot, len);
    assert_eq!(&slot[..plain.unwrap()], &rr[..]);

    let c = h.counters();
    assert_eq!(c.browser_to_enterprise.rtp_packets, 20);
    assert_eq!(c.enterprise_to_browser.rtp_packets, 20);
    assert_eq!(c.enterprise_to_browser.rtcp_packets, 1);
    assert_eq!(c.ice_checks, 1);
    assert!(c.dtls_datagrams >= 2);
    assert_eq!(c.browser_to_enterprise.drops, crate::Drops::default());
}

#[test]
fn bad_tags_replays_and_strangers_are_dropped_and_counted() {
    let mut h = harness_with(plain_enterprise(), None);
    h.connect();
    let (mut slot, len) = h.browser.srtp(1);
    let good = slot.clone();
    slot[len - 1] ^= 1;
    let a = h
        .session
        .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch);
    assert_eq!(a, Action::Drop);
    let mut slot = good.clone();
    assert!(matches!(
        h.session
            .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch),
        Action::ToEnterprise { .. }
    ));
    let mut slot = good.clone();
    assert_eq!(
        h.session
            .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch),
        Action::Drop
    );
    let (second, len) = h.browser.srtp(2);
    let mut slot = second.clone();
    assert_eq!(
        h.session
            .handle_browser(h.now, STRANGER, &mut slot, len, &mut h.scratch),
        Action::Drop
    );
    let d = h.counters().browser_to_enterprise.drops;
    assert_eq!((d.auth_failed, d.replayed, d.unexpected_source), (1, 1, 1));
    // The packet from the stranger did not burn its index: the browser's copy still goes.
    let mut again = second;
    assert!(matches!(
        h.session
            .handle_browser(h.now, BROWSER, &mut again, len, &mut h.scratch),
        Action::ToEnterprise { .. }
    ));
}

#[test]
fn media_before_keys_is_not_ready_and_dtls_from_unchecked_sources_is_refused() {
    let mut h = harness_with(plain_enterprise(), None);
    let rtp = rtp_packet(1);
    let mut slot = rtp.clone();
    slot.resize(2048, 0);
    assert_eq!(
        h.session
            .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut slot, rtp.len()),
        Action::Drop
    );
    let mut hello = Vec::new();
    let len = h.browser.handshake.poll_transmit(&mut hello).unwrap();
    assert_eq!(h.browser_sends(BROWSER, &hello[..len]), Action::Drop);
    let c = h.counters();
    assert_eq!(c.enterprise_to_browser.drops.not_ready, 1);
    assert_eq!(c.browser_to_enterprise.drops.unexpected_source, 1);
    assert_eq!(c.dtls_datagrams, 0);
}

#[test]
fn a_wrong_fingerprint_ends_the_session_with_the_reason() {
    let other = Fingerprint::of_der(edge_dtls::HashAlgorithm::Sha256, b"someone else");
    let mut h = harness_with(plain_enterprise(), Some(other));
    h.nominate();
    h.pump_dtls();
    let reason = h.session.ended().cloned();
    let Some(EndReason::DtlsFailed(why)) = reason else {
        panic!("{reason:?}");
    };
    assert!(why.contains("fingerprint"), "{why}");
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn timeouts_end_sessions_on_the_virtual_clock() {
    // Setup: nothing happens for setup-timeout.
    let mut h = harness_with(plain_enterprise(), None);
    let due = h.session.poll_timeout().unwrap();
    assert_eq!(due, h.now + timeouts().setup);
    h.session.handle_timeout(due - Duration::from_millis(1));
    assert_eq!(h.session.ended(), None);
    h.session.handle_timeout(due);
    assert_eq!(h.session.ended(), Some(&EndReason::SetupTimeout));

    // Media: established, then silence.
    let mut h = harness_with(plain_enterprise(), None);
    h.connect();
    let (mut slot, len) = h.browser.srtp(1);
    let later = h.now + Duration::from_secs(5);
    h.session
        .handle_browser(later, BROWSER, &mut slot, len, &mut h.scratch);
    assert_eq!(
        h.session.poll_timeout(),
        Some(later + timeouts().media),
        "media timeout counts from the last packet"
    );
    h.session.handle_timeout(later + timeouts().media);
    assert_eq!(h.session.ended(), Some(&EndReason::MediaTimeout));

    // Consent: media flows but the browser stops answering for itself.
    let mut h = harness_with(plain_enterprise(), None);
    h.connect();
    let mut t = h.now;
    for seq in 0..40u16 {
        t += Duration::from_secs(1);
        let (mut slot, len) = h.browser.srtp(seq);
        h.session
            .handle_browser(t, BROWSER, &mut slot, len, &mut h.scratch);
        h.session.handle_timeout(t);
    }
    assert_eq!(h.session.ended(), Some(&EndReason::ConsentExpired));
}

#[test]
fn strict_source_refuses_others_and_symmetric_rtp_latches() {
    let mut strict = Enterprise::new(true, true, None);
    strict.set_remote(ENTERPRISE, None, None);
    let mut h = harness_with(strict, None);
    h.connect();
    let elsewhere: SocketAddr = "10.0.0.9:6000".parse().unwrap();
    let rtp = rtp_packet(1);
    let mut slot = rtp.clone();
    slot.resize(2048, 0);
    assert_eq!(
        h.session
            .handle_enterprise(h.now, elsewhere, AUDIO, false, &mut slot, rtp.len()),
        Action::Drop
    );
    assert_eq!(
        h.counters().enterprise_to_browser.drops.unexpected_source,
        1
    );

    let mut h = harness_with(plain_enterprise(), None);
    h.connect();
    let mut slot = rtp.clone();
    slot.resize(2048, 0);
    assert!(matches!(
        h.session
            .handle_enterprise(h.now, elsewhere, AUDIO, false, &mut slot, rtp.len()),
        Action::ToBrowser { .. }
    ));
    assert_eq!(h.shared.status(|s| s.enterprise_remote), Some(elsewhere));
    let (mut slot, len) = h.browser.srtp(1);
    let Action::ToEnterprise { dst, .. } =
        h.session
            .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch)
    else {
        panic!("not forwarded");
    };
    assert_eq!(dst, elsewhere, "media follows the latched source");
}

#[test]
fn sdes_enterprise_leg_reprotects_both_ways() {
    let ours = MasterKey::new(Profile::Aes128CmHmacSha1_80, &[1; 16], &[2; 14]).unwrap();
    let theirs = MasterKey::new(Profile::Aes128CmHmacSha1_80, &[3; 16], &[4; 14]).unwrap();
    let cfg = edge_srtp::Config::default();
    let mut leg = Enterprise::new(false, false, Some(Outbound::new(&ours, &cfg).unwrap()));
    // The remote's key is not known yet: enterprise media waits for it.
    leg.set_remote(ENTERPRISE, None, None);
    let mut h = harness_with(leg, None);
    h.connect();
    let mut enterprise_tx = Outbound::new(&theirs, &cfg).unwrap();
    let mut enterprise_rx = Inbound::new(&ours, &cfg).unwrap();

    let rtp = rtp_packet(7);
    let mut slot = rtp.clone();
    slot.resize(2048, 0);
    let len = enterprise_tx.protect_rtp(&mut slot, rtp.len()).unwrap();
    let pending = slot.clone();
    assert_eq!(
        h.session
            .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut slot, len),
        Action::Drop
    );
    assert_eq!(h.counters().enterprise_to_browser.drops.not_ready, 1);
    h.session.update(
        h.now,
        super::Update {
            enterprise: Some(super::Move {
                rtp: ENTERPRISE,
                rtcp: None,
                inbound: Some(Box::new(Inbound::new(&theirs, &cfg).unwrap())),
                mux: None,
                renew_ssrc: None,
            }),
            ..super::Update::default()
        },
    );
    let mut slot = pending;
    let Action::ToBrowser { len, .. } = h
        .session
        .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut slot, len)
    else {
        panic!("SDES media not forwarded");
    };
    let plain = h.browser.rx.as_mut().unwrap().unprotect_rtp(&mut slot, len);
    assert_eq!(&slot[..plain.unwrap()], &rtp[..]);

    // Browser -> enterprise: DTLS-SRTP in, SDES-SRTP out, RTCP on the RTCP socket.
    let (mut slot, len) = h.browser.srtp(8);
    let Action::ToEnterprise {
        line: AUDIO,
        rtcp_socket: false,
        len,
        ..
    } = h
        .session
        .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch)
    else {
        panic!("not forwarded");
    };
    let plain = enterprise_rx.unprotect_rtp(&mut slot, len).unwrap();
    assert_eq!(&slot[..plain], &rtp_packet(8)[..]);

    let rr = rtcp_rr();
    let mut slot = rr.clone();
    slot.resize(2048, 0);
    let len = h
        .browser
        .tx
        .as_mut()
        .unwrap()
        .protect_rtcp(&mut slot, rr.len())
        .unwrap();
    let Action::ToEnterprise {
        line: AUDIO,
        rtcp_socket: true,
        dst,
        len,
    } = h
        .session
        .handle_browser(h.now, BROWSER, &mut slot, len, &mut h.scratch)
    else {
        panic!("RTCP not forwarded");
    };
    assert_eq!(dst.port(), ENTERPRISE.port() + 1);
    let plain = enterprise_rx.unprotect_rtcp(&mut slot, len).unwrap();
    assert_eq!(&slot[..plain], &rr[..]);
}

/// Seeded xorshift: reproducible random input without a dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn garbage_truncation_and_oversize_never_panic_or_forward() {
    let mut h = harness_with(plain_enterprise(), None);
    h.connect();
    let (valid, valid_len) = h.browser.srtp(1);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut slot = vec![0u8; 2048];
    for round in 0..20_000usize {
        let len = (xorshift(&mut seed) % 2049) as usize;
        for b in &mut slot[..len] {
            *b = xorshift(&mut seed) as u8;
        }
        // Steer a share of the inputs into each demux range.
        slot[0] = match round % 4 {
            0 => slot[0] & 0x03,
            1 => 20 + slot[0] % 44,
            2 => 128 + slot[0] % 64,
            _ => slot[0],
        };
        if len > 0 {
            let from = if round % 2 == 0 { BROWSER } else { STRANGER };
            let a = h
                .session
                .handle_browser(h.now, from, &mut slot, len, &mut h.scratch);
            assert!(!matches!(a, Action::ToEnterprise { .. }), "round {round}");
        }
    }
    for cut in 0..valid_len {
        let mut s = valid.clone();
        let a = h
            .session
            .handle_browser(h.now, BROWSER, &mut s, cut, &mut h.scratch);
        assert_eq!(a, Action::Drop, "cut {cut}");
        let mut s = valid.clone();
        let a = h
            .session
            .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut s, cut.min(11));
        assert_eq!(a, Action::Drop, "cut {cut}");
    }
    // An oversized datagram filling the whole slot leaves no tailroom: dropped, counted.
    let mut full = vec![0x80u8; 2048];
    full[1] = 0;
    let a = h
        .session
        .handle_enterprise(h.now, ENTERPRISE, AUDIO, false, &mut full, 2048);
    assert_eq!(a, Action::Drop);
    // The session survived all of it.
    assert_eq!(h.session.ended(), None);
    let (mut s, len) = h.browser.srtp(2);
    assert!(matches!(
        h.session
            .handle_browser(h.now, BROWSER, &mut s, len, &mut h.scratch),
        Action::ToEnterprise { .. }
    ));
}

/// The class of the relay's answer to `req` sent at `at`.
fn check_at(h: &mut Harness, at: Instant, req: &[u8]) -> Class {
    h.now = at;
    match h.browser_sends(BROWSER, req) {
        Action::Reply { len, .. } | Action::AuthFailure { len, .. } => {
            Message::parse(&h.scratch[..len]).unwrap().class()
        }
        other => panic!("check not answered: {other:?}"),
    }
}

#[test]
fn an_ice_restart_moves_checks_and_consent_to_the_new_credentials() {
    const NEW_PWD: &str = "relay-new-pwd-0123456789";
    let mut h = harness_with(plain_enterprise(), None);
    h.connect();
    h.session.update(
        h.now,
        Update {
            ice: Some(IceRestart {
                local_ufrag: "newufrag".into(),
                local_pwd: NEW_PWD.into(),
                remote_ufrag: "brw2".into(),
            }),
            ..Update::default()
        },
    );
    let mut t = h.now;
    // Media goes on under the same SRTP keys; checks with the new credentials keep
    // consent fresh well past consent-timeout, the old ones are refused.
    for seq in 0..60u16 {
        t += Duration::from_secs(1);
        let (mut slot, len) = h.browser.srtp(seq);
        let action = h
            .session
            .handle_browser(t, BROWSER, &mut slot, len, &mut h.scratch);
        assert!(matches!(action, Action::ToEnterprise { .. }), "{action:?}");
        if seq % 10 == 0 {
            let new = h
                .browser
                .binding_request_as("newufrag:brw2", NEW_PWD, false);
            assert_eq!(check_at(&mut h, t, &new), Class::Success);
            let old = h.browser.binding_request(PWD, false);
            assert_eq!(check_at(&mut h, t, &old), Class::Error);
        }
        h.session.handle_timeout(t);
        assert_eq!(h.session.ended(), None, "at {seq} s");
    }
    // Only the old credentials from now on: consent expires.
    for seq in 60..100u16 {
        t += Duration::from_secs(1);
        let (mut slot, len) = h.browser.srtp(seq);
        h.session
            .handle_browser(t, BROWSER, &mut slot, len, &mut h.scratch);
        let old = h.browser.binding_request(PWD, false);
        if h.session.ended().is_none() {
            assert_eq!(check_at(&mut h, t, &old), Class::Error);
        }
        h.session.handle_timeout(t);
    }
    assert_eq!(h.session.ended(), Some(&EndReason::ConsentExpired));
}

#[path = "bundle_tests.rs"]
mod bundle;
