//! A STUN and DTLS flood at an established session's public port does not starve its media.
//!
//! A browser (edge-dtls for DTLS-SRTP, edge-srtp, edge-stun: the peer of
//! `crates/forward/tests/common`) completes ICE and DTLS-SRTP with the forwarder, then sends a
//! paced stream of 1,000 RTP packets that a UDP echo on the enterprise side returns. Meanwhile
//! another address, 127.0.0.3, floods the same public port with ICE Binding requests (random
//! usernames, with MESSAGE-INTEGRITY and FINGERPRINT, as a scanner would send them) and real
//! DTLS ClientHellos, 2,000 of them at 4,000/s in each phase: during the first half of the
//! stream as an unknown source (the guard's rate limit drops the excess), during the second
//! half after three checks naming the session's ufrag with a wrong password got it banned
//! (everything dropped before parsing). The test asserts what a user would check: all 1,000
//! packets arrived at the enterprise peer and back at the browser, decrypted, in order, none
//! lost; every flood datagram is accounted for (rate-limited, answered or dropped by the
//! session while unknown; dropped as banned once banned), and what passed the rate limit
//! stays within its burst plus its rate. It prints (and does not assert) the flood rate and
//! the worker's CPU.
//!
//! Bounded in count as well as rate, so the test holds however the machine schedules its
//! threads: a phase's flood and the whole stream fit in the public socket's receive buffer at
//! once, and the browser keeps at most [`WINDOW`] packets unanswered, so no socket can
//! overflow even if a thread gets no core for a while. Media under an *unbounded* flood (a
//! socket buffer overflowing) is a capacity figure, measured in release builds and reported,
//! not asserted here (issue 11, item 4).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../crates/forward/tests/common/mod.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{payload, rtp, Browser, Echo};
use edge_dtls::{Certificate, ConfigBuilder, Handshake, Role};
use edge_forward::{Counters, ForwardStats, Forwarder, SessionId};
use edge_stun::{Attribute, Class, IntegrityKey, MessageEncoder, Method, TransactionId};

/// RTP packets in the stream, each way.
const PACKETS: u16 = 1000;
/// One packet every this long, at most.
const PACE: Duration = Duration::from_millis(1);
/// Most packets the browser has sent and not yet got back: what its socket and the echo's
/// (the system default size, ~200 KiB) must hold at once.
const WINDOW: usize = 32;
/// Flood datagrams per phase, and the rate they are sent at. With the stream they fit in the
/// public socket's buffer ([`SOCKET_BUFFER`]): on loopback a 4 MiB SO_RCVBUF holds 10,082
/// datagrams of up to 176 bytes and 6,553 of 300 (measured: sent unread).
const FLOOD: u64 = 2_000;
const FLOOD_RATE: u64 = 4_000;
/// SO_RCVBUF of the relay's sockets (the default is 1 MiB).
const SOCKET_BUFFER: usize = 4 << 20;
const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// Hang guard for every wait: far beyond what a loaded machine needs, only there so that a
/// broken relay fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(60);

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

/// Floods `target` from 127.0.0.3 with [`FLOOD`] datagrams at [`FLOOD_RATE`], alternating
/// Binding requests with random usernames and ClientHellos, in bursts of 20 (a thread that
/// misses its schedule catches up, but never sends more than the count). Yields how long the
/// sending took.
fn flood(target: SocketAddr) -> JoinHandle<Duration> {
    std::thread::spawn(move || {
        let socket = UdpSocket::bind((FLOODER, 0)).unwrap();
        let hello = client_hello();
        let requests: Vec<Vec<u8>> = (0..64u64)
            .map(|i| binding(&format!("scan{i:04x}:x{i:03}"), "not-a-password-of-ours", i))
            .collect();
        let start = Instant::now();
        for n in 0..FLOOD {
            if n % 20 == 0 {
                let due = start + Duration::from_nanos(n * 1_000_000_000 / FLOOD_RATE);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            let datagram = if n % 2 == 0 {
                &requests[(n / 2 % 64) as usize]
            } else {
                &hello
            };
            // The relay's 401s pile up unread in this socket: only sending matters.
            socket.send_to(datagram, target).unwrap();
        }
        start.elapsed()
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

/// Sends `range` of the stream paced at [`PACE`], with at most [`WINDOW`] packets
/// unanswered, collecting the echoes that come back.
fn stream(browser: &mut Browser, range: std::ops::Range<u16>, got: &mut Vec<Vec<u8>>) {
    let start = Instant::now();
    let first = got.len();
    for (i, seq) in range.enumerate() {
        let deadline = Instant::now() + HANG_GUARD;
        while got.len() - first + WINDOW <= i && Instant::now() < deadline {
            if let Some(packet) = browser.recv_media(Duration::from_millis(100)) {
                got.push(packet);
            }
        }
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

/// Waits (up to [`HANG_GUARD`]) until `done` holds for the relay's counters and the
/// session's, and returns them.
fn counters_when(
    relay: &Forwarder,
    id: SessionId,
    done: impl Fn(&ForwardStats, &Counters) -> bool,
) -> (ForwardStats, Counters) {
    let read = || (relay.stats(), relay.session(id).unwrap().counters);
    let deadline = Instant::now() + HANG_GUARD;
    let (mut stats, mut c) = read();
    while !done(&stats, &c) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        (stats, c) = read();
    }
    (stats, c)
}

/// The flood's datagrams that got past the guard: the Binding requests answered with an
/// error and the ClientHellos the session dropped (the flooder never passed an ICE check).
fn passed(c: &Counters) -> u64 {
    c.ice_rejected + c.browser_to_enterprise.drops.unexpected_source
}

#[test]
fn a_stun_and_dtls_flood_does_not_starve_established_media() {
    let mut config = common::config((48300, 48309), (38300, 38309), 1);
    config.socket_buffer = SOCKET_BUFFER;
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let echo = Echo::start();
    let mut browser = Browser::new();
    let mut spec = edge_forward::SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(echo.remote());
    let info = relay.create_session(spec).unwrap();
    browser.connect(&info).unwrap();
    let (_, before) = counters_when(&relay, info.id, |_, _| true);
    assert_eq!(passed(&before), 0, "{before:?}");

    let cpu_before = thread_cpu_ns("forwarder-0");
    let wall = Instant::now();
    let mut got = Vec::with_capacity(usize::from(PACKETS));

    // Phase 1: an unknown source, over its rate limit.
    let flood_start = Instant::now();
    let flooder = flood(info.public_addr);
    stream(&mut browser, 0..PACKETS / 2, &mut got);
    let unknown_time = flooder.join().unwrap();
    let (unknown, c) = counters_when(&relay, info.id, |s, c| s.rate_limited + passed(c) >= FLOOD);
    let handled_within = flood_start.elapsed();
    let passed_unknown = passed(&c);
    assert_eq!(
        unknown.rate_limited + passed(&c),
        FLOOD,
        "flood datagrams unaccounted for while unknown: {unknown:?}, {c:?}"
    );
    assert_eq!(unknown.banned, 0, "{unknown:?}");
    // The limit held: the bucket starts full, so the first `burst` datagrams pass; after
    // that, at most its rate over the time the relay took to handle the flood.
    let ice = relay.guard().config().rate.ice;
    let allowed = f64::from(ice.burst) + ice.rate * handled_within.as_secs_f64();
    assert!(
        passed(&c) >= u64::from(ice.burst) && (passed(&c) as f64) <= allowed,
        "{} passed: not between the burst ({}) and what the limit allows ({allowed:.0})",
        passed(&c),
        ice.burst
    );
    assert!(
        unknown.rate_limited > 0,
        "nothing rate-limited: {unknown:?}"
    );

    // Three checks naming the session's ufrag with a wrong password: the flooder is banned.
    // The whole flood has been handled, so its rate bucket refills (100/s) from now on: after
    // 100 ms it holds the three.
    std::thread::sleep(Duration::from_millis(100));
    let attacker = UdpSocket::bind((FLOODER, 0)).unwrap();
    let username = format!("{}:{}", info.ice_ufrag, common::BROWSER_UFRAG);
    for tid in 0..3 {
        let check = binding(&username, "wrongPassword0123456789xyz", 1_000 + tid);
        attacker.send_to(&check, info.public_addr).unwrap();
    }
    let (stats, _) = counters_when(&relay, info.id, |s, _| s.bans_started == 1);
    assert_eq!(
        stats.bans_started, 1,
        "the flooder was not banned: {stats:?}"
    );
    assert_eq!(stats.ice_auth_failures, 3);

    // Phase 2: the banned source.
    let flooder = flood(info.public_addr);
    stream(&mut browser, PACKETS / 2..PACKETS, &mut got);
    let banned_time = flooder.join().unwrap();
    let (stats, _) = counters_when(&relay, info.id, |s, _| s.banned >= FLOOD);
    let cpu = Duration::from_nanos(thread_cpu_ns("forwarder-0") - cpu_before);
    let wall = wall.elapsed();

    // Whatever is still on its way back.
    let deadline = Instant::now() + HANG_GUARD;
    while got.len() < usize::from(PACKETS) && Instant::now() < deadline {
        if let Some(packet) = browser.recv_media(Duration::from_millis(100)) {
            got.push(packet);
        }
    }
    let snap = relay.session(info.id).unwrap();
    let c_end = snap.counters;
    println!(
        "flood: {FLOOD} datagrams in {:.2} s from an unknown source ({:.0}/s), {FLOOD} in \
         {:.2} s while banned ({:.0}/s); relay: {} rate-limited, {} banned, {} checks \
         answered with an error, {} ClientHellos dropped as unexpected; worker CPU {:.2} s \
         in {:.2} s ({:.0} %)",
        unknown_time.as_secs_f64(),
        FLOOD as f64 / unknown_time.as_secs_f64(),
        banned_time.as_secs_f64(),
        FLOOD as f64 / banned_time.as_secs_f64(),
        stats.rate_limited,
        stats.banned,
        c_end.ice_rejected,
        c_end.browser_to_enterprise.drops.unexpected_source,
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
        "lost toward the enterprise; relay counters {c_end:?}"
    );
    assert!(
        at_enterprise == expected,
        "reordered or altered toward the enterprise"
    );
    assert_eq!(
        got.len(),
        expected.len(),
        "lost toward the browser; relay counters {c_end:?}"
    );
    assert!(got == expected, "reordered or altered toward the browser");
    assert_eq!(c_end.browser_to_enterprise.rtp_packets, u64::from(PACKETS));
    assert_eq!(c_end.enterprise_to_browser.rtp_packets, u64::from(PACKETS));
    assert_eq!(c_end.browser_to_enterprise.drops.send_failed, 0);
    assert_eq!(c_end.enterprise_to_browser.drops.send_failed, 0);
    assert!(snap.state == edge_forward::SessionState::Active);

    // Once banned, the whole flood was dropped before parsing: none of it passed (only the
    // three failing checks did, before the ban), nothing more was rate-limited.
    assert_eq!(stats.banned, FLOOD, "{stats:?}");
    assert_eq!(passed(&c_end), passed_unknown + 3, "{c_end:?}");
    assert_eq!(stats.rate_limited, unknown.rate_limited, "{stats:?}");
    assert_eq!(stats.ice_auth_failures, 3);
    // The flood's random usernames were never failures, so only the flooder is banned.
    let bans = relay.guard().bans(Instant::now());
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].source.addr(), std::net::IpAddr::V4(FLOODER));
    relay.shutdown();
}
