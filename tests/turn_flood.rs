//! A STUN Binding flood from one address (127.0.0.3) must not starve an established
//! allocation: while a bounded flood of 3,000 Binding requests arrives at 3,000/s, a client
//! on 127.0.0.1 relays a paced stream of 1,000 ChannelData packets to an echo peer and gets
//! every one back, in order, none lost; every flood request is accounted for (answered or
//! rate-limited, nothing else), the first `burst` were answered, and what passed stays
//! within the guard's burst plus its rate over the flood's duration.
//!
//! The flood is bounded in count, not only in rate, so that the test holds however the
//! machine schedules its threads: everything the flood and the stream send fits in the
//! listener's and the test sockets' receive buffers at once, so the kernel never has to drop
//! a datagram, even if the server's event loop gets no core for the whole flood. Whether
//! media survives an *unbounded* flood (a socket buffer overflowing) is a capacity figure,
//! not a correctness property: it is measured in release builds, reported and not asserted,
//! by the flood-isolation measurement of issue 11 (item 4), not here.
//!
//! It also prints (never asserts) what the server absorbed: flood requests per second, UDP
//! receive-buffer drops and the CPU time of the server's event loop thread. Run with
//! `--nocapture` to see the figures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_guard::GuardConfig;
use edge_stun::{ChannelData, Class, MessageEncoder, Method, TransactionId};
use edge_suite::turn_client::{RawTurnClient, Via};
use edge_turn::{ServerConfig, Service, ServiceConfig};

const PACKETS: u32 = 1_000;
const PACING: Duration = Duration::from_millis(1);
const PAYLOAD: usize = 172;
/// The flood: this many Binding requests, at most this many per second. 3,000 requests and
/// 1,000 media packets fit in the listener's 4 MiB receive buffer together: on loopback it
/// holds 10,082 datagrams of 20 or 176 bytes (measured: sent unread into a socket with
/// SO_RCVBUF 4 MiB, which the kernel grants as 8 MiB).
const FLOOD_REQUESTS: u64 = 3_000;
const FLOOD_RATE: u64 = 3_000;
/// Hang guard for every wait: far beyond what a loaded machine needs, only there so that a
/// broken server fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Receive buffers of the test's own sockets (media client, echo peer): under a loaded
/// machine a thread may wait tens of milliseconds for a core, and the system default
/// (~208 KiB) holds only a few hundred datagrams.
const SOCKET_BUFFER: usize = 4 << 20;

fn with_buffer(socket: &UdpSocket) {
    let sock = socket2::SockRef::from(socket);
    sock.set_recv_buffer_size(SOCKET_BUFFER).unwrap();
    sock.set_send_buffer_size(SOCKET_BUFFER).unwrap();
}

/// A UDP echo peer on 127.0.0.1 in a thread until `stop`; returns its address and the
/// thread, which yields how many datagrams it echoed.
fn echo_peer(stop: Arc<AtomicBool>) -> (SocketAddr, std::thread::JoinHandle<u32>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    with_buffer(&socket);
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut echoed = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                echoed += 1;
                let _ = socket.send_to(&buf[..n], from);
            }
        }
        echoed
    });
    (addr, thread)
}

fn service() -> Service {
    let mut server = ServerConfig::new("flood.test", "127.0.0.1".parse().unwrap());
    server.users = vec![("alice".into(), "pw".into())];
    server.nonce_secret = b"flood-test-nonce-secret".to_vec();
    server.port_range = "62700-62709".parse().unwrap();
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    // No guard given: the server's own default one (50 requests/s, burst 200).
    let mut config = ServiceConfig::new(server);
    config.udp = vec!["127.0.0.1:0".parse().unwrap()];
    Service::start(config).unwrap()
}

/// Nanoseconds the thread named `name` of this process has run, from its schedstat.
fn thread_cpu_ns(name: &str) -> Option<u64> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|task| {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim() != name {
            return None;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        stat.split_whitespace().next()?.parse().ok()
    })
}

/// The namespace's UDP receive-buffer drops so far (`RcvbufErrors` in /proc/net/snmp).
fn rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
    let column = names
        .split_whitespace()
        .position(|n| n == "RcvbufErrors")
        .unwrap();
    values
        .split_whitespace()
        .nth(column)
        .unwrap()
        .parse()
        .unwrap()
}

/// A socket on 127.0.0.3 and [`FLOOD_REQUESTS`] Binding requests from it to `server`, paced
/// at [`FLOOD_RATE`] in bursts of 20 (a thread that misses its schedule catches up, but
/// never sends more than the count). Returns the socket, where the answers arrive, and how
/// long the sending took.
fn flood(server: SocketAddr) -> (UdpSocket, Duration) {
    let socket = UdpSocket::bind("127.0.0.3:0").unwrap();
    with_buffer(&socket);
    let mut request = [0u8; edge_stun::HEADER_LEN];
    let len = MessageEncoder::new(
        &mut request,
        Class::Request,
        Method::BINDING,
        TransactionId([0; 12]),
    )
    .unwrap()
    .finish();
    let start = Instant::now();
    for sent in 0..FLOOD_REQUESTS {
        if sent % 20 == 0 {
            let due = start + Duration::from_nanos(sent * 1_000_000_000 / FLOOD_RATE);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        // A distinct transaction ID per request, as a real flood would send.
        request[12..20].copy_from_slice(&sent.to_be_bytes());
        socket.send_to(&request[..len], server).unwrap();
    }
    (socket, start.elapsed())
}

/// Answers waiting on `socket` (non-blocking), counted.
fn drain(socket: &UdpSocket) -> u64 {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    std::iter::from_fn(|| socket.recv_from(&mut buf).ok()).count() as u64
}

#[test]
fn binding_flood_from_one_address_does_not_starve_an_established_allocation() {
    let service = service();
    let server = service.local_addrs().udp[0];
    let echo_stop = Arc::new(AtomicBool::new(false));
    let (echo, echoing) = echo_peer(echo_stop.clone());
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let mut client = RawTurnClient::connect(Via::Udp, local, server, "alice", "pw").unwrap();
    client.allocate().unwrap();
    client.channel_bind(0x4000, echo).unwrap();
    let media = client.udp_socket().unwrap().try_clone().unwrap();
    with_buffer(&media);
    let receiver = media.try_clone().unwrap();

    // Echoes come back on their own thread: sequence numbers in arrival order.
    let receiving = std::thread::spawn(move || {
        receiver
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut seen = Vec::with_capacity(PACKETS as usize);
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + PACING * PACKETS + HANG_GUARD;
        while seen.len() < PACKETS as usize && Instant::now() < deadline {
            let Ok(n) = receiver.recv(&mut buf) else {
                continue;
            };
            if let Ok(frame) = ChannelData::parse(&buf[..n]) {
                let p = frame.payload();
                assert_eq!(p.len(), PAYLOAD, "payload length");
                seen.push(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            }
        }
        seen
    });

    let rcvbuf_before = rcvbuf_errors();
    let cpu_before = thread_cpu_ns("turn-loop");
    let flood_start = Instant::now();
    let flooding = std::thread::spawn(move || flood(server));

    // The paced stream: one 172-byte ChannelData packet per millisecond.
    let mut frame = vec![0u8; 4 + PAYLOAD];
    let start = Instant::now();
    for seq in 0..PACKETS {
        let due = start + PACING * seq;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        frame[4..8].copy_from_slice(&seq.to_be_bytes());
        frame[8..].fill(seq as u8);
        let n = ChannelData::encode_in_place(
            &mut frame,
            0x4000,
            PAYLOAD,
            edge_stun::Transport::Datagram,
        )
        .unwrap();
        media.send_to(&frame[..n], server).unwrap();
    }
    let seen = receiving.join().unwrap();
    let (flooder, flood_time) = flooding.join().unwrap();

    // Every flood request is answered or rate-limited: wait until the server has handled
    // them all (the snapshot lags the loop by at most one iteration).
    let mut answered = 0;
    let deadline = Instant::now() + HANG_GUARD;
    let mut snapshot = service.snapshot();
    while answered + snapshot.rate_limited < FLOOD_REQUESTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        answered += drain(&flooder);
        snapshot = service.snapshot();
    }
    answered += drain(&flooder);
    let handled_within = flood_start.elapsed();
    let cpu_after = thread_cpu_ns("turn-loop");
    let rcvbuf_dropped = rcvbuf_errors() - rcvbuf_before;

    let in_order = seen.windows(2).all(|w| w[1] == w[0] + 1);
    let seconds = flood_time.as_secs_f64();
    let cpu = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| {
            let wall = handled_within.as_secs_f64();
            format!("{:.0}%", (a - b) as f64 / 1e9 / wall * 100.0)
        })
        .unwrap_or_else(|| "n/a (no schedstat)".into());
    println!(
        "flood: {FLOOD_REQUESTS} Binding requests in {seconds:.2} s from one address \
         ({:.0}/s offered), all handled within {:.2} s (rate-limited {}, answered \
         {answered}); UDP receive-buffer drops {rcvbuf_dropped}; turn-loop CPU {cpu} of one \
         core; media: {}/{PACKETS} back, in order: {in_order}",
        FLOOD_REQUESTS as f64 / seconds,
        handled_within.as_secs_f64(),
        snapshot.rate_limited,
        seen.len(),
    );

    assert_eq!(
        seen,
        (0..PACKETS).collect::<Vec<_>>(),
        "media lost or out of order under the flood ({snapshot:?})"
    );
    echo_stop.store(true, Ordering::Relaxed);
    assert_eq!(echoing.join().unwrap(), PACKETS);
    // Every flood request was answered or rate-limited, and nothing else.
    assert_eq!(
        answered + snapshot.rate_limited,
        FLOOD_REQUESTS,
        "flood requests unaccounted for: {answered} answered, {snapshot:?}, \
         {rcvbuf_dropped} UDP receive-buffer drops in the namespace"
    );
    // The limit held: the bucket starts full, so the first `burst` requests pass; after
    // that, at most its rate over the time the server took to handle the flood (the set-up's
    // requests came from another address, with their own bucket).
    let turn = GuardConfig::default().rate.turn;
    let allowed = f64::from(turn.burst) + turn.rate * handled_within.as_secs_f64();
    assert!(
        answered >= u64::from(turn.burst) && (answered as f64) <= allowed,
        "{answered} answered: not between the burst ({}) and what the limit allows \
         ({allowed:.0})",
        turn.burst
    );
    assert!(snapshot.rate_limited > 0, "{snapshot:?}");
    service.shutdown().unwrap();
}
