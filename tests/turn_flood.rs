//! A STUN Binding flood from one address (127.0.0.3) must not starve an established
//! allocation: while the flood runs as fast as one thread can send, a client on 127.0.0.1
//! relays a paced stream of 2,000 ChannelData packets to an echo peer and gets every one
//! back, in order, none lost; the flood's excess is counted as rate-limited, and what passed
//! stays within the guard's burst plus its rate over the flood's duration.
//!
//! It also prints (never asserts) what the server absorbed: flood requests per second and the
//! CPU time of the server's event loop thread. Run with `--nocapture` to see the figures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_guard::GuardConfig;
use edge_stun::{ChannelData, Class, MessageEncoder, Method, TransactionId};
use edge_suite::turn_client::{RawTurnClient, Via};
use edge_turn::{ServerConfig, Service, ServiceConfig};

const PACKETS: u32 = 2_000;
const PACING: Duration = Duration::from_millis(1);
const PAYLOAD: usize = 172;
/// Bounds of the flood: whichever comes first (or the stream is done).
const FLOOD_MAX_REQUESTS: u64 = 2_000_000;
const FLOOD_MAX_TIME: Duration = Duration::from_secs(15);

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
    server.port_range = 62700..=62709;
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

/// Gives the calling thread the lowest CPU priority (nice 19). On loopback the attacker
/// shares the server's two cores, which a flood from the network would not: at equal
/// priority a thread spinning on `send_to` takes CPU time the server needs to drain its
/// socket, and what is measured becomes the scheduler, not the server.
fn lowest_priority() {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = link.file_name().unwrap().to_string_lossy().into_owned();
    let status = std::process::Command::new(edge_suite::require_program("renice"))
        .args(["-n", "19", "-p", &tid])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "renice of the flood thread failed");
}

/// What the flood thread did.
struct Flood {
    sent: u64,
    answered: u64,
    elapsed: Duration,
}

/// Binding requests from 127.0.0.3 to `server` as fast as one thread can send them, until
/// `stop` or the bounds, counting the answers as they come back.
fn flood(server: SocketAddr, stop: Arc<AtomicBool>) -> Flood {
    lowest_priority();
    let socket = UdpSocket::bind("127.0.0.3:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut request = [0u8; edge_stun::HEADER_LEN];
    let len = MessageEncoder::new(
        &mut request,
        Class::Request,
        Method::BINDING,
        TransactionId([0; 12]),
    )
    .unwrap()
    .finish();
    let mut buf = [0u8; 256];
    let mut answered = 0u64;
    let mut drain = |socket: &UdpSocket| {
        while socket.recv_from(&mut buf).is_ok() {
            answered += 1;
        }
    };
    let start = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed)
        && sent < FLOOD_MAX_REQUESTS
        && start.elapsed() < FLOOD_MAX_TIME
    {
        for _ in 0..256 {
            // A distinct transaction ID per request, as a real flood would send.
            request[12..20].copy_from_slice(&sent.to_be_bytes());
            if socket.send_to(&request[..len], server).is_ok() {
                sent += 1;
            }
        }
        drain(&socket);
    }
    let elapsed = start.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    drain(&socket);
    Flood {
        sent,
        answered,
        elapsed,
    }
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
        let deadline = Instant::now() + PACING * PACKETS + Duration::from_secs(10);
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
    let wall_before = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = stop.clone();
        std::thread::spawn(move || flood(server, stop))
    };
    std::thread::sleep(Duration::from_millis(200));

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
    stop.store(true, Ordering::Relaxed);
    let flood = flooding.join().unwrap();
    let cpu_after = thread_cpu_ns("turn-loop");
    let wall = wall_before.elapsed().as_secs_f64();
    // Let the loop publish what it has handled.
    std::thread::sleep(Duration::from_millis(200));
    let snapshot = service.snapshot();
    let rcvbuf_dropped = rcvbuf_errors() - rcvbuf_before;

    let lost = PACKETS as usize - seen.len();
    let in_order = seen.windows(2).all(|w| w[1] == w[0] + 1);
    let seconds = flood.elapsed.as_secs_f64();
    let absorbed = (snapshot.rate_limited + flood.answered) as f64 / seconds;
    let cpu = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| format!("{:.0}%", (a - b) as f64 / 1e9 / wall * 100.0))
        .unwrap_or_else(|| "n/a (no schedstat)".into());
    println!(
        "flood: {} Binding requests in {seconds:.2} s from one address ({:.0}/s offered); \
         server absorbed {absorbed:.0}/s (rate-limited {}, answered {}); UDP receive-buffer \
         drops {rcvbuf_dropped}; turn-loop CPU {cpu} of one core; media: {}/{PACKETS} back, \
         in order: {in_order}",
        flood.sent,
        flood.sent as f64 / seconds,
        snapshot.rate_limited,
        flood.answered,
        seen.len(),
    );

    assert_eq!(lost, 0, "media lost under the flood ({snapshot:?})");
    assert_eq!(seen, (0..PACKETS).collect::<Vec<_>>(), "media out of order");
    echo_stop.store(true, Ordering::Relaxed);
    assert_eq!(echoing.join().unwrap(), PACKETS);
    // Every flood request was answered, rate-limited or dropped by a full socket buffer.
    assert!(
        flood.answered + snapshot.rate_limited + rcvbuf_dropped >= flood.sent,
        "unaccounted flood requests: {} sent, {snapshot:?}, {} answered, {rcvbuf_dropped} \
         dropped by the kernel",
        flood.sent,
        flood.answered
    );
    assert!(snapshot.rate_limited > 0, "{snapshot:?}");
    // The limit held: what passed is at most the burst plus the rate over the flood's time
    // (the set-up's requests came from another address, with their own bucket).
    let turn = GuardConfig::default().rate.turn;
    let allowed = f64::from(turn.burst) + turn.rate * (seconds + 1.0);
    assert!(
        (flood.answered as f64) <= allowed,
        "{} answered, more than the limit allows ({allowed})",
        flood.answered
    );
    service.shutdown().unwrap();
}
