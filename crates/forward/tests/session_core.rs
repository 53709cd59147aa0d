//! The public sans-IO session core ([`SessionCore`]) driven through a whole call with no
//! socket and a virtual clock: an ICE-lite check built with edge-stun, DTLS with edge-dtls
//! as the browser's client, SRTP both ways (the browser protects with edge-srtp, the
//! enterprise side speaks plain RTP), the end by consent expiry; the public update
//! methods; no allocation per packet in the core itself; then malformed datagrams.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{binding_request, payload, rtcp_rr, rtp, srtp_contexts, BROWSER_PWD, BROWSER_UFRAG};
use edge_dtls::{Handshake, Role};
use edge_forward::core::{
    Datagram, Event, Forward, Handled, IceCredentials, Input, Output, SessionParams, Socket,
    Timeouts,
};
use edge_forward::{
    BrowserRemote, EndReason, EnterpriseRemote, MediaPlan, SessionCore, SessionId, SessionState,
};
use edge_srtp::{Inbound, Outbound};
use edge_stun::{Class, IntegrityKey, Message};

const BROWSER: SocketAddr = addr([192, 0, 2, 10], 50000);
const STRANGER: SocketAddr = addr([192, 0, 2, 66], 50000);
const ENTERPRISE: SocketAddr = addr([10, 0, 0, 5], 6000);
const PUBLIC: SocketAddr = addr([203, 0, 113, 1], 40000);
const ENTERPRISE_LOCAL: SocketAddr = addr([10, 0, 0, 1], 30000);
const UFRAG: &str = "relayufr";
const PWD: &str = "relayPassword0123456789+/";
const SSRC: u32 = 0x5eed_0001;
/// A receive slot: the datagram plus tailroom for the tag protect appends.
const SLOT: usize = 2048;
const TIMEOUTS: Timeouts = timeouts();

const fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
        port,
    ))
}

const fn timeouts() -> Timeouts {
    // `Timeouts` is built field by field: it is a plain public struct.
    Timeouts {
        media: Duration::from_secs(10),
        setup: Duration::from_secs(20),
        consent: Duration::from_secs(30),
    }
}

/// What the core sent (socket, destination, bytes) and reported, drained until `None`.
#[derive(Default)]
struct Drained {
    sent: Vec<(Socket, SocketAddr, Vec<u8>)>,
    events: Vec<Event>,
}

fn drain(core: &mut SessionCore) -> Drained {
    let mut d = Drained::default();
    for _ in 0..1000 {
        match core.poll_output() {
            Some(Output::Transmit(t)) => d.sent.push((t.socket, t.dst, t.contents.to_vec())),
            Some(Output::Event(e)) => d.events.push(e),
            None => return d,
        }
    }
    panic!("poll_output never returned None");
}

/// Feeds `datagram` to the core in a fresh slot; returns the verdict and the slot.
fn feed(
    core: &mut SessionCore,
    now: Instant,
    socket: Socket,
    from: SocketAddr,
    datagram: &[u8],
) -> (Handled, Vec<u8>) {
    let mut slot = vec![0u8; SLOT.max(datagram.len())];
    slot[..datagram.len()].copy_from_slice(datagram);
    let d = Datagram {
        source: from,
        buf: &mut slot,
        len: datagram.len(),
    };
    let input = match socket {
        Socket::Public => Input::Browser(d),
        other => Input::Enterprise(other, d),
    };
    (core.handle_input(now, input), slot)
}

/// The browser: edge-dtls client, edge-srtp both ways.
struct Browser {
    handshake: Handshake,
    tx: Option<Outbound>,
    rx: Option<Inbound>,
}

/// A call: the core, the browser, the virtual clock.
struct Call {
    now: Instant,
    core: SessionCore,
    browser: Browser,
}

fn call() -> Call {
    let now = Instant::now();
    let relay = Arc::new(common::dtls_config());
    let relay_fp = relay.certificate().fingerprint();
    let browser_dtls = common::dtls_config();
    let mut params = SessionParams::new(
        SessionId(7),
        IceCredentials::new(UFRAG, PWD),
        relay,
        TIMEOUTS,
        PUBLIC,
        ENTERPRISE_LOCAL,
    );
    // The browser offered (actpass): the relay answers passive, the browser is the client.
    params.browser = Some(BrowserRemote::new(
        BROWSER_UFRAG,
        BROWSER_PWD,
        vec![browser_dtls.certificate().fingerprint()],
        "actpass",
    ));
    params.enterprise.remote = Some(EnterpriseRemote::new(ENTERPRISE));
    let core = SessionCore::new(now, params).unwrap();
    let handshake = Handshake::new(&browser_dtls, Role::Client, &[relay_fp], now).unwrap();
    Call {
        now,
        core,
        browser: Browser {
            handshake,
            tx: None,
            rx: None,
        },
    }
}

impl Call {
    /// A connectivity check with USE-CANDIDATE, answered with a success response the
    /// browser can verify.
    fn nominate(&mut self) -> Drained {
        let username = format!("{UFRAG}:{BROWSER_UFRAG}");
        let (request, tid) = binding_request(1, &username, PWD, true);
        let (handled, _) = feed(&mut self.core, self.now, Socket::Public, BROWSER, &request);
        assert_eq!(handled, Handled::Done);
        let out = drain(&mut self.core);
        let [(Socket::Public, dst, answer)] = &out.sent[..] else {
            panic!("one answer expected: {:?}", out.sent.len());
        };
        assert_eq!(*dst, BROWSER);
        let answer = Message::parse(answer).unwrap();
        assert_eq!(answer.class(), Class::Success);
        assert_eq!(answer.transaction_id(), tid);
        assert_eq!(answer.xor_mapped_address().unwrap(), Some(BROWSER));
        answer
            .verify_integrity(&IntegrityKey::new(PWD.as_bytes()))
            .unwrap();
        out
    }

    /// Moves DTLS both ways until the browser has its keys; returns the core's events.
    fn handshake(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let mut buf = Vec::new();
        for _ in 0..50 {
            buf.clear();
            while let Some(len) = self.browser.handshake.poll_transmit(&mut buf) {
                let datagram = buf[buf.len() - len..].to_vec();
                let (handled, _) =
                    feed(&mut self.core, self.now, Socket::Public, BROWSER, &datagram);
                assert_eq!(handled, Handled::Done, "DTLS is consumed, not forwarded");
                let out = drain(&mut self.core);
                events.extend(out.events);
                for (socket, dst, flight) in out.sent {
                    assert_eq!((socket, dst), (Socket::Public, BROWSER));
                    self.browser
                        .handshake
                        .handle_input(self.now, &flight)
                        .unwrap();
                }
            }
            if let Some(keys) = self.browser.handshake.poll_keys() {
                let (tx, rx) = srtp_contexts(&keys);
                self.browser.tx = Some(tx);
                self.browser.rx = Some(rx);
                // The relay's last flight may still be on its way to the browser.
                events.extend(drain(&mut self.core).events);
                return events;
            }
        }
        panic!("DTLS did not complete");
    }

    /// The browser protects RTP `seq`; returns the SRTP datagram.
    fn srtp(&mut self, seq: u16) -> Vec<u8> {
        let packet = rtp(seq, SSRC, &payload(1, seq));
        let mut slot = packet.clone();
        slot.resize(SLOT, 0);
        let len = self
            .browser
            .tx
            .as_mut()
            .unwrap()
            .protect_rtp(&mut slot, packet.len())
            .unwrap();
        slot.truncate(len);
        slot
    }

    /// Sends RTP `seq` from the browser; returns where it went and the bytes sent.
    fn browser_sends(&mut self, seq: u16) -> (Forward, Vec<u8>) {
        let srtp = self.srtp(seq);
        let (handled, slot) = feed(&mut self.core, self.now, Socket::Public, BROWSER, &srtp);
        let Handled::Forward(forward) = handled else {
            panic!("RTP {seq} not forwarded: {handled:?}");
        };
        (forward, slot[..forward.len].to_vec())
    }
}

fn seq_of(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[2], packet[3]])
}

#[test]
fn a_whole_call_on_a_virtual_clock() {
    let mut call = call();
    let start = call.now;
    assert_eq!(call.core.state(), SessionState::New);
    assert_eq!(call.core.poll_timeout(), Some(start + TIMEOUTS.setup));

    // ICE-lite: the nominating check is answered and the session is connecting.
    call.now += Duration::from_millis(20);
    let nominated_at = call.now;
    let out = call.nominate();
    assert_eq!(out.events, [Event::StateChanged(SessionState::Connecting)]);

    // DTLS: the browser is the client; the relay's flights come out of poll_output.
    call.now += Duration::from_millis(20);
    let events = call.handshake();
    assert_eq!(events, [Event::StateChanged(SessionState::DtlsConnected)]);
    assert_eq!(call.core.counters().ice_checks, 1);
    assert!(call.core.counters().dtls_datagrams >= 2);

    // SRTP both ways, one packet every 20 ms: the browser's SRTP reaches the enterprise
    // as the RTP it protected; the enterprise echoes it as plain RTP and the browser
    // opens the SRTP the relay made of it: the same bytes, in order.
    let mut at_enterprise = Vec::new();
    let mut at_browser = Vec::new();
    for seq in 1000..1100u16 {
        call.now += Duration::from_millis(20);
        let sent = rtp(seq, SSRC, &payload(1, seq));
        let (forward, plain) = call.browser_sends(seq);
        assert_eq!(
            (forward.socket, forward.dst),
            (Socket::EnterpriseRtp, ENTERPRISE)
        );
        assert_eq!(plain, sent, "browser -> enterprise, seq {seq}");
        at_enterprise.push(seq_of(&plain));
        if seq == 1000 {
            assert_eq!(
                drain(&mut call.core).events,
                [Event::StateChanged(SessionState::Active)]
            );
        }

        let (handled, mut slot) = feed(
            &mut call.core,
            call.now,
            Socket::EnterpriseRtp,
            ENTERPRISE,
            &plain,
        );
        let Handled::Forward(back) = handled else {
            panic!("echo of {seq} not forwarded: {handled:?}");
        };
        assert_eq!((back.socket, back.dst), (Socket::Public, BROWSER));
        assert_ne!(
            &slot[..back.len],
            &sent[..],
            "sent to the browser in the clear"
        );
        let len = call
            .browser
            .rx
            .as_mut()
            .unwrap()
            .unprotect_rtp(&mut slot, back.len)
            .unwrap();
        assert_eq!(&slot[..len], &sent[..], "enterprise -> browser, seq {seq}");
        at_browser.push(seq_of(&slot[..len]));
        assert!(drain(&mut call.core).sent.is_empty());
    }
    let expected: Vec<u16> = (1000..1100).collect();
    assert_eq!(at_enterprise, expected);
    assert_eq!(at_browser, expected);

    // RTCP both ways on the muxed enterprise port.
    let rr = rtcp_rr(SSRC);
    let mut slot = rr.clone();
    slot.resize(SLOT, 0);
    let len = call
        .browser
        .tx
        .as_mut()
        .unwrap()
        .protect_rtcp(&mut slot, rr.len())
        .unwrap();
    let (handled, out) = feed(
        &mut call.core,
        call.now,
        Socket::Public,
        BROWSER,
        &slot[..len],
    );
    let Handled::Forward(f) = handled else {
        panic!("SRTCP not forwarded: {handled:?}");
    };
    assert_eq!(f.socket, Socket::EnterpriseRtp);
    assert_eq!(&out[..f.len], &rr[..]);
    let (handled, mut back) = feed(
        &mut call.core,
        call.now,
        Socket::EnterpriseRtp,
        ENTERPRISE,
        &rr,
    );
    let Handled::Forward(f) = handled else {
        panic!("RTCP not forwarded: {handled:?}");
    };
    let len = call
        .browser
        .rx
        .as_mut()
        .unwrap()
        .unprotect_rtcp(&mut back, f.len)
        .unwrap();
    assert_eq!(&back[..len], &rr[..]);

    let c = call.core.counters();
    assert_eq!(c.browser_to_enterprise.rtp_packets, 100);
    assert_eq!(c.enterprise_to_browser.rtp_packets, 100);
    assert_eq!(c.browser_to_enterprise.rtcp_packets, 1);
    assert_eq!(c.enterprise_to_browser.rtcp_packets, 1);
    assert_eq!(c.browser_to_enterprise.drops.total(), 0);
    assert_eq!(c.enterprise_to_browser.drops.total(), 0);
    let snapshot = call.core.snapshot(call.now);
    assert_eq!(snapshot.state, SessionState::Active);
    assert_eq!(snapshot.browser_addr, Some(BROWSER));
    assert_eq!(snapshot.public_addr, PUBLIC);

    // The browser stops answering for itself (no more checks) but media goes on, so only
    // consent can end the call: exactly consent-timeout after the nominating check.
    let deadline = nominated_at + TIMEOUTS.consent;
    assert!(call.core.poll_timeout().unwrap() <= deadline);
    let mut seq = 2000u16;
    let ended_at = loop {
        call.now += Duration::from_millis(500);
        assert!(call.now < deadline + Duration::from_secs(5), "never ended");
        if call.core.ended().is_none() {
            seq += 1;
            call.browser_sends(seq);
            assert!(drain(&mut call.core).events.is_empty());
        }
        if call.core.poll_timeout().is_some_and(|t| t <= call.now) {
            call.core.handle_timeout(call.now);
        }
        let out = drain(&mut call.core);
        if !out.events.is_empty() {
            assert_eq!(out.events, [Event::Ended(EndReason::ConsentExpired)]);
            // The close_notify goes to the browser first.
            let [(Socket::Public, BROWSER, alert)] = &out.sent[..] else {
                panic!("no close_notify: {:?}", out.sent.len());
            };
            assert_eq!(alert[0], 21, "a DTLS alert record");
            break call.now;
        }
        assert!(out.sent.is_empty());
    };
    assert!(ended_at >= deadline && ended_at < deadline + Duration::from_secs(1));
    assert_eq!(
        call.core.state(),
        SessionState::Ended {
            reason: EndReason::ConsentExpired
        }
    );
    assert_eq!(call.core.poll_timeout(), None);
    // Ended means ended: media is refused, checks go unanswered, nothing more comes out.
    let srtp = call.srtp(seq + 1);
    let (handled, _) = feed(&mut call.core, call.now, Socket::Public, BROWSER, &srtp);
    assert_eq!(handled, Handled::Done);
    let username = format!("{UFRAG}:{BROWSER_UFRAG}");
    let (check, _) = binding_request(2, &username, PWD, false);
    let (handled, _) = feed(&mut call.core, call.now, Socket::Public, BROWSER, &check);
    assert_eq!(handled, Handled::Done);
    let out = drain(&mut call.core);
    assert!(out.sent.is_empty() && out.events.is_empty());
}

#[test]
fn answers_and_updates_through_the_public_methods() {
    // The relay offered: no browser description yet; it comes as an answer.
    let now = Instant::now();
    let relay = Arc::new(common::dtls_config());
    let relay_fp = relay.certificate().fingerprint();
    let browser_dtls = common::dtls_config();
    let browser_fp = browser_dtls.certificate().fingerprint();
    let params = SessionParams::new(
        SessionId(8),
        IceCredentials::new(UFRAG, PWD),
        relay,
        TIMEOUTS,
        PUBLIC,
        ENTERPRISE_LOCAL,
    );
    let mut core = SessionCore::new(now, params).unwrap();
    let answer =
        |setup: &str| BrowserRemote::new(BROWSER_UFRAG, BROWSER_PWD, vec![browser_fp], setup);
    assert!(core.set_browser_remote(now, &answer("actpass")).is_err());
    assert!(core
        .restart_ice(now, IceCredentials::new("newufrag", PWD), &answer("active"))
        .is_err());
    core.set_browser_remote(now, &answer("active")).unwrap();
    assert!(
        core.set_browser_remote(now, &answer("active")).is_err(),
        "given once"
    );
    // An enterprise remote of the other family, or with a key on a plain leg, is refused.
    let v6: SocketAddr = "[2001:db8::5]:6000".parse().unwrap();
    assert!(core
        .move_enterprise(now, &EnterpriseRemote::new(v6), 1)
        .is_err());
    // The leg was made with rtcp-mux: it has no RTCP socket to turn it off with.
    let mut unmuxed = EnterpriseRemote::new(ENTERPRISE);
    unmuxed.rtcp_mux = Some(false);
    assert!(core.move_enterprise(now, &unmuxed, 1).is_err());
    let mut keyed = EnterpriseRemote::new(ENTERPRISE);
    keyed.crypto = Some(
        edge_srtp::CryptoAttribute::parse(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        )
        .unwrap(),
    );
    assert!(
        core.move_enterprise(now, &keyed, 1).is_err(),
        "a key on a plain-RTP leg"
    );
    core.move_enterprise(now, &EnterpriseRemote::new(ENTERPRISE), 1)
        .unwrap();
    let conflicting = MediaPlan::new(
        edge_forward::Direction::SendRecv,
        edge_forward::Direction::SendRecv,
        vec![(0, 8), (0, 9)],
    );
    assert!(core.set_media_plan(now, &conflicting).is_err());

    // A check, DTLS with the browser as client ("active"), media to the new remote.
    let mut call = Call {
        now,
        core,
        browser: Browser {
            handshake: Handshake::new(&browser_dtls, Role::Client, &[relay_fp], now).unwrap(),
            tx: None,
            rx: None,
        },
    };
    call.nominate();
    call.handshake();
    let (forward, _) = call.browser_sends(1);
    assert_eq!(forward.dst, ENTERPRISE);

    // An ICE restart: the old password is refused from then on, the new one accepted.
    let new_pwd = "relayNewPassword0123456789";
    call.core
        .restart_ice(
            call.now,
            IceCredentials::new("newufrag", new_pwd),
            &BrowserRemote::new("brw2", BROWSER_PWD, vec![browser_fp], "active"),
        )
        .unwrap();
    let (old, _) = binding_request(9, &format!("{UFRAG}:{BROWSER_UFRAG}"), PWD, false);
    let (new, _) = binding_request(10, "newufrag:brw2", new_pwd, false);
    for (request, class) in [(old, Class::Error), (new, Class::Success)] {
        let (_, _) = feed(&mut call.core, call.now, Socket::Public, BROWSER, &request);
        let out = drain(&mut call.core);
        let answer = Message::parse(&out.sent[0].2).unwrap();
        assert_eq!(answer.class(), class);
    }

    // Closing: close_notify, then the end with its reason.
    call.core.close(call.now);
    let out = drain(&mut call.core);
    assert_eq!(out.sent.len(), 1);
    assert_eq!(out.events, [Event::Ended(EndReason::Removed)]);
}

#[test]
fn media_and_consent_checks_through_the_core_allocate_nothing() {
    let mut call = call();
    call.nominate();
    call.handshake();
    call.browser_sends(1);
    drain(&mut call.core);
    // Everything the browser sends is made before the window: only the core is counted.
    let (mut slots, lens): (Vec<Vec<u8>>, Vec<usize>) = (2..514u16)
        .map(|seq| {
            let mut slot = call.srtp(seq);
            let len = slot.len();
            slot.resize(SLOT, 0);
            (slot, len)
        })
        .unzip();
    let username = format!("{UFRAG}:{BROWSER_UFRAG}");
    let checks: Vec<Vec<u8>> = (0..8u32)
        .map(|n| binding_request(100 + n, &username, PWD, false).0)
        .collect();
    let core = &mut call.core;
    let mut now = call.now;
    let (forwarded, allocations) =
        edge_alloc_count::count(edge_alloc_count::Scope::ThisThread, || {
            let mut forwarded = 0;
            for (i, (slot, &len)) in slots.iter_mut().zip(&lens).enumerate() {
                now += Duration::from_millis(20);
                let input = Input::Browser(Datagram {
                    source: BROWSER,
                    buf: slot,
                    len,
                });
                let Handled::Forward(to_enterprise) = core.handle_input(now, input) else {
                    continue;
                };
                while core.poll_output().is_some() {}
                // The enterprise echoes the plain RTP in the same buffer.
                let input = Input::Enterprise(
                    Socket::EnterpriseRtp,
                    Datagram {
                        source: ENTERPRISE,
                        buf: slot,
                        len: to_enterprise.len,
                    },
                );
                if let Handled::Forward(_) = core.handle_input(now, input) {
                    forwarded += 1;
                }
                while core.poll_output().is_some() {}
                if i % 64 == 0 {
                    let mut check = [0u8; 256];
                    let request = &checks[i / 64];
                    check[..request.len()].copy_from_slice(request);
                    let input = Input::Browser(Datagram {
                        source: BROWSER,
                        buf: &mut check,
                        len: request.len(),
                    });
                    let _ = core.handle_input(now, input);
                    while let Some(output) = core.poll_output() {
                        if let Output::Transmit(t) = output {
                            assert_eq!(t.dst, BROWSER);
                        }
                    }
                }
            }
            forwarded
        });
    assert_eq!(forwarded, 512, "every packet made the round trip");
    assert_eq!(call.core.counters().ice_checks, 9);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in the core for 1,024 packets and 8 checks"
    );
}

/// Seeded xorshift: reproducible random input without a dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn truncated_and_random_datagrams_never_panic() {
    let mut call = call();
    call.nominate();
    call.handshake();
    // Active already, so that random input has no state left to change.
    call.browser_sends(1);
    drain(&mut call.core);
    let valid = call.srtp(2);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut slot = vec![0u8; SLOT];
    let sockets = [
        Socket::Public,
        Socket::EnterpriseRtp,
        Socket::EnterpriseRtcp,
    ];
    for round in 0..30_000usize {
        // Lengths up to the whole slot (no tailroom left), and past it (a driver's bug:
        // the core clamps to the buffer).
        let len = (xorshift(&mut seed) % (SLOT as u64 + 64)) as usize;
        for b in slot.iter_mut().take(len) {
            *b = xorshift(&mut seed) as u8;
        }
        // Steer a share of the inputs into each RFC 7983 range: STUN, DTLS, RTP.
        slot[0] = match round % 4 {
            0 => slot[0] & 0x03,
            1 => 20 + slot[0] % 44,
            2 => 128 + slot[0] % 64,
            _ => slot[0],
        };
        let socket = sockets[round % 3];
        let from = match (socket, round % 2) {
            (Socket::Public, 0) => BROWSER,
            (Socket::Public, _) => STRANGER,
            _ => ENTERPRISE,
        };
        let datagram = Datagram {
            source: from,
            buf: &mut slot,
            len,
        };
        let input = match socket {
            Socket::Public => Input::Browser(datagram),
            other => Input::Enterprise(other, datagram),
        };
        match call.core.handle_input(call.now, input) {
            // Nothing random authenticates as the browser's SRTP.
            Handled::Forward(f) if socket == Socket::Public => panic!("round {round}: {f:?}"),
            // Plain RTP from the enterprise is forwarded when it parses; never past the slot.
            Handled::Forward(f) => assert!(f.len <= SLOT, "round {round}"),
            Handled::Done | Handled::AuthFailure => {}
        }
        let out = drain(&mut call.core);
        assert!(out.events.is_empty(), "round {round}: {:?}", out.events);
    }
    // Every truncation of a valid SRTP packet, and empty buffers.
    for cut in 0..valid.len() {
        let (handled, _) = feed(
            &mut call.core,
            call.now,
            Socket::Public,
            BROWSER,
            &valid[..cut],
        );
        assert_eq!(handled, Handled::Done, "cut {cut}");
    }
    for socket in sockets {
        let mut empty: [u8; 0] = [];
        let d = Datagram {
            source: ENTERPRISE,
            buf: &mut empty,
            len: 5,
        };
        let input = match socket {
            Socket::Public => Input::Browser(d),
            other => Input::Enterprise(other, d),
        };
        assert_eq!(call.core.handle_input(call.now, input), Handled::Done);
    }
    // The session survived all of it: the valid packet still goes through.
    assert_eq!(call.core.ended(), None);
    let (handled, _) = feed(&mut call.core, call.now, Socket::Public, BROWSER, &valid);
    assert!(matches!(handled, Handled::Forward(_)), "{handled:?}");
    assert!(call.core.counters().browser_to_enterprise.drops.malformed > 0);
}
