//! A STUN and DTLS flood at an established session's public port does not starve its media.
//!
//! A browser (edge-dtls for DTLS-SRTP, edge-srtp, edge-stun: the peer of
//! `crates/relay/tests/common`) completes ICE and DTLS-SRTP with the forwarder, then sends a
//! paced stream of 2,000 RTP packets that a UDP echo on the enterprise side returns. Meanwhile
//! another address, 127.0.0.3, floods the same public port with ICE Binding requests (random
//! usernames, with MESSAGE-INTEGRITY and FINGERPRINT, as a scanner would send them) and real
//! DTLS ClientHellos, bounded in count and time: during the first half of the stream as an
//! unknown source (the guard's rate limit drops the excess), during the second half after
//! three checks naming the session's ufrag with a wrong password got it banned (everything
//! dropped before parsing). The test asserts what a user would check: all 2,000 packets arrived
//! at the enterprise peer and back at the browser, decrypted, in order, none lost; and that
//! the flood was counted as rate-limited and banned. It prints (and does not assert) the flood
//! rate and the worker's CPU.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../crates/relay/tests/common/mod.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{payload, rtp, Browser, Echo};
use edge_dtls::{Certificate, ConfigBuilder, Handshake, Role};
use edge_relay::Relay;
use edge_stun::{Attribute, Class, IntegrityKey, MessageEncoder, Method, TransactionId};

/// RTP packets in the stream, each way.
const PACKETS: u16 = 2000;
/// One packet every this long.
const PACE: Duration = Duration::from_millis(1);
/// The flood's default target rate in datagrams per second (`RELAY_FLOOD_RATE` overrides
/// it, up to [`FLOOD_RATE_MAX`]). 20,000/s from one source is 20 times the stream's rate
/// and leaves the relay's socket buffer 100 ms of flood to absorb a worker that is not
/// scheduled for a while; a faster flood on a machine whose cores are all busy can crowd
/// media out of the socket buffer in the kernel, before any code of ours sees it.
const FLOOD_RATE: u64 = 20_000;
const FLOOD_RATE_MAX: u64 = 1_000_000;
/// Bounds on the whole flood.
const FLOOD_MAX: u64 = 2_000_000;
const FLOOD_MAX_TIME: Duration = Duration::from_secs(20);
const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Flood phases, set by the test thread.
const UNKNOWN: u8 = 0;
const BANNED: u8 = 1;
const STOP: u8 = 2;
/// The flooder holds off while the test's attacker socket gets 127.0.0.3 banned (a source
/// over its rate limit cannot even get its checks looked at).
const PAUSE: u8 = 3;

/// What the flooder sent in each phase.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    datagrams: [u64; 2],
    elapsed: [Duration; 2],
}

/// A Binding request with `username`, signed with `pwd`.
fn binding(username: &str, pwd: &str, tid: u64) -> Vec<u8> {
    let mut t = [0u8; 12];
    t[4..].copy_from_slice(&tid.to_be_bytes());
    let mut buf = [0u8; 256];
    let mut enc =
        MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, TransactionId(t)).unwrap();
    enc.attribute(&Attribute::Username(username))
        .unwrap()
        .attribute(&Attribute::Priority(0x6e00_1eff))
        .unwrap()
        .attribute(&Attribute::IceControlling(tid))
        .unwrap()
        .message_integrity(&IntegrityKey::new(pwd.as_bytes()))
        .unwrap()
        .fingerprint()
        .unwrap();
    let len = enc.finish();
    buf[..len].to_vec()
}

/// A real DTLS ClientHello, from a client-role edge-dtls handshake.
fn client_hello() -> Vec<u8> {
    let config = ConfigBuilder::new(Certificate::generate().unwrap())
        .build()
        .unwrap();
    let fingerprint = config.certificate().fingerprint();
    let mut hs = Handshake::new(&config, Role::Client, &[fingerprint], Instant::now()).unwrap();
    let mut out = Vec::new();
    let len = hs.poll_transmit(&mut out).unwrap();
    let hello = out[out.len() - len..].to_vec();
    assert_eq!((hello[0], hello[13]), (22, 1), "a ClientHello record");
    hello
}

/// The flood's target rate.
fn flood_rate() -> u64 {
    std::env::var("RELAY_FLOOD_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FLOOD_RATE)
        .clamp(1_000, FLOOD_RATE_MAX)
}

/// Floods `target` from 127.0.0.3 at `rate` datagrams per second, alternating Binding
/// requests with random usernames and ClientHellos, until `phase` says stop or a bound is
/// reached.
fn flood(target: SocketAddr, rate: u64, phase: Arc<AtomicU8>) -> JoinHandle<Sent> {
    std::thread::spawn(move || {
        let socket = UdpSocket::bind((FLOODER, 0)).unwrap();
        let hello = client_hello();
        let requests: Vec<Vec<u8>> = (0..64u64)
            .map(|i| binding(&format!("scan{i:04x}:x{i:03}"), "not-a-password-of-ours", i))
            .collect();
        let mut sent = Sent::default();
        let start = Instant::now();
        let mut phase_start = start;
        let mut current = UNKNOWN;
        let (mut n, mut total) = (0u64, 0u64);
        while total < FLOOD_MAX && start.elapsed() < FLOOD_MAX_TIME {
            let now_phase = phase.load(Ordering::Relaxed);
            if now_phase != current {
                if let Some(slot) = sent.elapsed.get_mut(usize::from(current)) {
                    *slot = phase_start.elapsed();
                }
                (phase_start, current, n) = (Instant::now(), now_phase, 0);
            }
            match current {
                STOP => break,
                PAUSE => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                _ => {}
            }
            // Paced from the phase's start, in bursts of 20 datagrams.
            let due = phase_start + Duration::from_nanos(n * 1_000_000_000 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for _ in 0..20 {
                let datagram = if n % 2 == 0 {
                    &requests[(n / 2 % 64) as usize]
                } else {
                    &hello
                };
                // The relay's 401s pile up unread in this socket: only sending matters.
                let _ = socket.send_to(datagram, target);
                sent.datagrams[usize::from(current)] += 1;
                n += 1;
                total += 1;
            }
        }
        if let Some(slot) = sent.elapsed.get_mut(usize::from(current)) {
            *slot = phase_start.elapsed();
        }
        sent
    })
}

/// CPU time (ns) the thread named `name` of this process has run, from its schedstat.
fn thread_cpu_ns(name: &str) -> u64 {
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(path.join("schedstat")).unwrap();
            return stat.split_whitespace().next().unwrap().parse().unwrap();
        }
    }
    panic!("no thread {name}");
}

/// Sends `range` of the stream paced at [`PACE`], collecting the echoes that come back.
fn stream(browser: &mut Browser, range: std::ops::Range<u16>, got: &mut Vec<Vec<u8>>) {
    let start = Instant::now();
    for (i, seq) in range.enumerate() {
        browser.send_rtp(seq, &payload(9, seq));
        let due = start + PACE * (i as u32 + 1);
        while let Some(left) = due.checked_duration_since(Instant::now()) {
            match browser.recv_media(left) {
                Some(packet) => got.push(packet),
                None => break,
            }
        }
    }
}

#[test]
fn a_stun_and_dtls_flood_does_not_starve_established_media() {
    let relay = Relay::start(
        common::config((48300, 48309), (38300, 38309), 1),
        common::dtls_config(),
    )
    .unwrap();
    let echo = Echo::start();
    let mut browser = Browser::new();
    let mut spec = edge_relay::SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    browser.connect(&info).unwrap();

    let phase = Arc::new(AtomicU8::new(UNKNOWN));
    let flooder = flood(info.public_addr, flood_rate(), phase.clone());
    let cpu_before = thread_cpu_ns("relay-worker-0");
    let wall = Instant::now();
    let mut got = Vec::with_capacity(usize::from(PACKETS));

    stream(&mut browser, 0..PACKETS / 2, &mut got);
    let rate_limited = relay.stats().rate_limited;
    // Three checks naming the session's ufrag with a wrong password: the flooder is banned.
    // Its rate bucket refills (100/s) while the flood holds off.
    phase.store(PAUSE, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    let attacker = UdpSocket::bind((FLOODER, 0)).unwrap();
    let username = format!("{}:{}", info.ice_ufrag, common::BROWSER_UFRAG);
    for tid in 0..3 {
        let check = binding(&username, "wrongPassword0123456789xyz", 1_000 + tid);
        attacker.send_to(&check, info.public_addr).unwrap();
    }
    assert!(common::eventually(Duration::from_secs(5), || relay
        .stats()
        .bans_started
        == 1));
    phase.store(BANNED, Ordering::Relaxed);
    stream(&mut browser, PACKETS / 2..PACKETS, &mut got);
    phase.store(STOP, Ordering::Relaxed);
    let sent = flooder.join().unwrap();
    let cpu = Duration::from_nanos(thread_cpu_ns("relay-worker-0") - cpu_before);
    let wall = wall.elapsed();

    // Whatever is still on its way back.
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < usize::from(PACKETS) && Instant::now() < deadline {
        if let Some(packet) = browser.recv_media(Duration::from_millis(100)) {
            got.push(packet);
        }
    }
    let stats = relay.stats();
    let snap = relay.session(info.id).unwrap();
    let c = snap.counters;
    println!(
        "flood: {} datagrams in {:.2} s from an unknown source ({:.0}/s), {} in {:.2} s while \
         banned ({:.0}/s); relay: {} rate-limited, {} banned, {} checks answered with an error, \
         {} ClientHellos dropped as unexpected; worker CPU {:.2} s in {:.2} s ({:.0} %)",
        sent.datagrams[0],
        sent.elapsed[0].as_secs_f64(),
        sent.datagrams[0] as f64 / sent.elapsed[0].as_secs_f64(),
        sent.datagrams[1],
        sent.elapsed[1].as_secs_f64(),
        sent.datagrams[1] as f64 / sent.elapsed[1].as_secs_f64(),
        stats.rate_limited,
        stats.banned,
        c.ice_rejected,
        c.browser_to_enterprise.drops.unexpected_source,
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
    );

    // Every packet arrived at the enterprise peer, in order, and back at the browser,
    // decrypted, in order.
    let expected: Vec<Vec<u8>> = (0..PACKETS)
        .map(|seq| rtp(seq, browser.ssrc, &payload(9, seq)))
        .collect();
    let at_enterprise = echo.received();
    assert_eq!(
        at_enterprise.len(),
        expected.len(),
        "lost toward the enterprise; relay counters {c:?}"
    );
    assert!(
        at_enterprise == expected,
        "reordered or altered toward the enterprise"
    );
    assert_eq!(
        got.len(),
        expected.len(),
        "lost toward the browser; relay counters {c:?}"
    );
    assert!(got == expected, "reordered or altered toward the browser");
    assert_eq!(c.browser_to_enterprise.rtp_packets, u64::from(PACKETS));
    assert_eq!(c.enterprise_to_browser.rtp_packets, u64::from(PACKETS));
    assert_eq!(c.browser_to_enterprise.drops.send_failed, 0);
    assert_eq!(c.enterprise_to_browser.drops.send_failed, 0);
    assert!(snap.state == edge_relay::SessionState::Active);

    // The flood was seen and refused: over the rate limit while unknown, banned after.
    assert!(
        sent.datagrams[0] > 1_000 && sent.datagrams[1] > 1_000,
        "{sent:?}"
    );
    assert!(rate_limited > 0, "nothing rate-limited: {stats:?}");
    assert!(stats.banned > 0, "nothing dropped as banned: {stats:?}");
    assert_eq!(stats.ice_auth_failures, 3);
    // The flood's random usernames were never failures, so only the flooder is banned.
    let bans = relay.guard().bans(Instant::now());
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].source.addr(), std::net::IpAddr::V4(FLOODER));
    relay.shutdown();
}
