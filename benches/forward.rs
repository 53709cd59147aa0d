//! The forwarder's per-packet cost through the real edge-forward worker over loopback, side by
//! side in one run with two reference forwarders built the same way (one mio thread, one
//! socket pair per session, edge-udp batches of 32 both ways):
//!
//! - `ceiling`: moves datagrams and does nothing else: the plain UDP forwarder ceiling;
//! - `webrtc_srtp`: the ceiling plus webrtc-rs's `webrtc-srtp` unprotecting each packet
//!   (AEAD_AES_128_GCM, SRTP -> RTP), as a webrtc-rs based forwarder would (it allocates
//!   per packet);
//! - `relay_srtp_to_rtp`: edge-forward, browser (DTLS-SRTP; our DTLS peers negotiate
//!   SRTP_AEAD_AES_128_GCM, as browsers do) to a plain RTP enterprise leg;
//! - `relay_rtp_to_srtp`: edge-forward, enterprise RTP to the browser, protected;
//! - `relay_*_rewriting`: the same two with every packet rewritten (issue 15): a payload-type
//!   map both ways (PCMU and PCMA swapped between the sides), and the stream translation
//!   every packet passes (its SSRC, sequence number and timestamp are written back on
//!   every packet, offsets zero or not, so the path is the same as after a transfer).
//!   Every relay session passes that path, so the plain `relay_*` figures include it too:
//!   the rewriting's cost (the issue allows 5%) is these figures against `relay_*` from a
//!   build before it (commit d8ea276), both on a quiet machine. Criterion groups only: the
//!   paced run reads latency from the RTP timestamp, which translation rewrites.
//!
//! Each at 1, 100 and 1,000 sessions, 172-byte RTP packets (12-byte header, 160 bytes of
//! G.711 payload) spread round-robin over the sessions by one generator thread that keeps at
//! most `WINDOW` packets in flight and counts them at a sink.
//!
//! **What the time is**: criterion's "time" here is the CPU time the forwarding thread
//! spent (from `/proc/self/task/<tid>/schedstat`, nanoseconds) while it moved the
//! iteration's packets, not wall-clock time: the generator, the sink and the forwarder
//! share this machine's two cores, and CPU time per packet is what the forwarder costs no
//! matter who else runs. Throughput is therefore packets per forwarder-CPU-second.
//!
//! Before the criterion groups, a paced run at VoIP rates (50 packets/s per session, 2 s)
//! prints loss and one-way latency percentiles through each forwarder.
//!
//! Run: `cargo bench --bench forward` (about two minutes). With `FORWARD_BENCH_SCRAPE_MS=1000`
//! a thread reads the relay as a metrics scrape does (`Forwarder::totals`, `Forwarder::stats`) once
//! a second throughout.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../crates/forward/tests/common/mod.rs"]
mod common;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::Browser;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use edge_forward::{Direction, EnterpriseRemote, Forwarder, MediaPlan, SessionSpec, SessionState};
use edge_srtp::{MasterKey, Outbound, Profile};
use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket, MAX_BATCH};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

const SIZE: usize = 172;
const BATCH: usize = 32;
/// Packets in flight at most: deep enough for the forwarder to see full batches, well
/// inside every socket buffer.
const WINDOW: usize = 1024;
const SESSIONS: [usize; 3] = [1, 100, 1000];

/// The CPU time a thread of this process has used, from its schedstat.
struct ThreadClock(PathBuf);

impl ThreadClock {
    /// The thread named `name` (its `comm`).
    fn find(name: &str) -> ThreadClock {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            for task in std::fs::read_dir("/proc/self/task").unwrap() {
                let dir = task.unwrap().path();
                let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
                if comm.trim() == name {
                    return ThreadClock(dir.join("schedstat"));
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no thread named {name}");
    }

    fn now(&self) -> Duration {
        let text = std::fs::read_to_string(&self.0).unwrap();
        let ns = text.split_whitespace().next().unwrap().parse().unwrap();
        Duration::from_nanos(ns)
    }
}

fn bind(ip: Ipv4Addr) -> UdpSocket {
    UdpSocket::bind(SocketAddr::from((ip, 0)), &SocketOptions::default()).unwrap()
}

/// How the generator makes each packet.
enum Sender {
    /// Plain RTP.
    Plain,
    /// SRTP with each session's browser keys.
    Browsers(Vec<Browser>),
    /// SRTP with a fixed key per session (for the webrtc-srtp forwarder).
    Fixed(Vec<Outbound>),
}

/// One generator socket, one sink socket, the targets per session and the thread to clock.
struct Rig {
    generator: UdpSocket,
    sink: UdpSocket,
    targets: Vec<SocketAddr>,
    sender: Sender,
    seqs: Vec<u16>,
    clock: ThreadClock,
    start: Instant,
    sink_batch: RecvBatch,
    slots: Vec<[u8; 256]>,
    lost: u64,
}

/// Delivery of one run: packets sent, received, and one-way latencies in microseconds.
struct Delivery {
    sent: usize,
    received: usize,
    latencies: Vec<u32>,
}

impl Rig {
    fn new(
        generator: UdpSocket,
        sink: UdpSocket,
        targets: Vec<SocketAddr>,
        sender: Sender,
        thread: &str,
    ) -> Rig {
        let n = targets.len();
        Rig {
            generator,
            sink,
            targets,
            sender,
            seqs: vec![1; n],
            clock: ThreadClock::find(thread),
            start: Instant::now(),
            sink_batch: RecvBatch::new(BATCH, 2048),
            slots: vec![[0u8; 256]; BATCH],
            lost: 0,
        }
    }

    /// Sends `count` packets (at most `BATCH`), starting at round-robin position `first`.
    fn send(&mut self, first: usize, count: usize) -> usize {
        let n = self.targets.len();
        let stamp = self.start.elapsed().as_micros() as u32;
        let mut lens = [0usize; BATCH];
        let mut dsts = [self.targets[0]; BATCH];
        for (k, slot) in self.slots.iter_mut().take(count).enumerate() {
            let s = (first + k) % n;
            let seq = self.seqs[s];
            self.seqs[s] = seq.wrapping_add(1);
            slot[0] = 0x80;
            slot[1] = 0;
            slot[2..4].copy_from_slice(&seq.to_be_bytes());
            slot[4..8].copy_from_slice(&stamp.to_be_bytes());
            slot[8..12].copy_from_slice(&(0x1000_0000 + s as u32).to_be_bytes());
            slot[12..SIZE].fill(0xd5);
            lens[k] = match &mut self.sender {
                Sender::Plain => SIZE,
                Sender::Browsers(b) => b[s].protect_in_place(slot, SIZE),
                Sender::Fixed(o) => o[s].protect_rtp(slot, SIZE).unwrap(),
            };
            dsts[k] = self.targets[s];
        }
        let mut txs = [Transmit::PLACEHOLDER; BATCH];
        for (k, t) in txs.iter_mut().take(count).enumerate() {
            *t = Transmit {
                dst: dsts[k],
                contents: &self.slots[k][..lens[k]],
                ..Transmit::PLACEHOLDER
            };
        }
        let mut done = 0;
        while done < count {
            match self.generator.send(&txs[done..count]) {
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("generator send: {e}"),
            }
        }
        count
    }

    /// Receives what is there.
    fn drain(&mut self) -> usize {
        match self.sink.recv(&mut self.sink_batch) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => panic!("sink receive: {e}"),
        }
    }

    /// Moves `total` packets as fast as the window allows; returns the forwarder's CPU time.
    fn flood(&mut self, total: usize) -> Duration {
        let cpu = self.clock.now();
        let (mut sent, mut received) = (0, 0);
        let mut idle_since = Instant::now();
        while received < total {
            let mut progressed = false;
            if sent < total && sent - received < WINDOW {
                let count = BATCH.min(total - sent).min(WINDOW - (sent - received));
                sent += self.send(sent, count);
                progressed = true;
            }
            let got = self.drain();
            if got > 0 {
                received += got;
                progressed = true;
            }
            if progressed {
                idle_since = Instant::now();
            } else if idle_since.elapsed() > Duration::from_millis(500) {
                // Lost on the way: count it and let the window move on.
                let missing = sent - received;
                self.lost += missing as u64;
                received = sent;
            } else {
                std::thread::yield_now();
            }
        }
        self.clock.now() - cpu
    }

    /// Sends at `rate` packets per second for `duration` while a sink thread (woken by
    /// epoll, so it reads each packet as it lands) timestamps arrivals; then waits for
    /// stragglers.
    fn paced(&mut self, rate: usize, duration: Duration) -> Delivery {
        let sink = UdpSocket::from_std(
            self.sink.as_std().try_clone().unwrap(),
            &SocketOptions::default(),
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let start = self.start;
        let capacity = (rate as f64 * duration.as_secs_f64()) as usize + 1024;
        let flag = stop.clone();
        let sink_thread = std::thread::spawn(move || paced_sink(&sink, start, capacity, &flag));
        let begin = Instant::now();
        let mut sent = 0;
        while begin.elapsed() < duration {
            let due = (begin.elapsed().as_secs_f64() * rate as f64) as usize;
            while sent < due {
                sent += self.send(sent, BATCH.min(due - sent));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        let latencies = sink_thread.join().unwrap();
        Delivery {
            sent,
            received: latencies.len(),
            latencies,
        }
    }
}

/// The paced run's sink: reads whatever arrives as soon as epoll says so and records each
/// packet's one-way latency (its RTP timestamp field carries the send time in microseconds;
/// the RTP header is in the clear in SRTP too).
fn paced_sink(sink: &UdpSocket, start: Instant, capacity: usize, stop: &AtomicBool) -> Vec<u32> {
    use std::os::fd::AsRawFd;
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(
            &mut SourceFd(&sink.as_raw_fd()),
            Token(0),
            Interest::READABLE,
        )
        .unwrap();
    let mut events = Events::with_capacity(8);
    let mut batch = RecvBatch::new(BATCH, 2048);
    let mut latencies = Vec::with_capacity(capacity);
    while !stop.load(Ordering::Relaxed) {
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        while let Ok(n) = sink.recv(&mut batch) {
            let now = start.elapsed().as_micros() as u32;
            for (_, d) in batch.iter() {
                let sent = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
                latencies.push(now.wrapping_sub(sent));
            }
            if n < batch.capacity() {
                break;
            }
        }
    }
    latencies
}

/// A reference forwarder: one mio thread, one (input, output) socket pair per session,
/// edge-udp batches both ways; `contexts` unprotects each packet with webrtc-srtp first.
struct Reference {
    inputs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reference {
    fn start(
        name: &str,
        sessions: usize,
        sink: SocketAddr,
        contexts: Option<Vec<Context>>,
    ) -> Self {
        let pairs: Vec<(UdpSocket, UdpSocket)> = (0..sessions)
            .map(|_| {
                (
                    bind(Ipv4Addr::new(127, 0, 0, 1)),
                    bind(Ipv4Addr::new(127, 0, 0, 2)),
                )
            })
            .collect();
        let inputs = pairs.iter().map(|(i, _)| i.local_addr()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || reference_loop(&pairs, sink, contexts, &flag))
            .unwrap();
        Reference {
            inputs,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn reference_loop(
    pairs: &[(UdpSocket, UdpSocket)],
    sink: SocketAddr,
    mut contexts: Option<Vec<Context>>,
    stop: &AtomicBool,
) {
    use std::os::fd::AsRawFd;
    let mut poll = Poll::new().unwrap();
    for (i, (input, _)) in pairs.iter().enumerate() {
        poll.registry()
            .register(
                &mut SourceFd(&input.as_raw_fd()),
                Token(i),
                Interest::READABLE,
            )
            .unwrap();
    }
    let mut events = Events::with_capacity(1024);
    let mut batch = RecvBatch::new(BATCH, 2048);
    while !stop.load(Ordering::Relaxed) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        for event in &events {
            let (input, output) = &pairs[event.token().0];
            while let Ok(n) = input.recv(&mut batch) {
                match &mut contexts {
                    None => {
                        let mut txs = [Transmit::PLACEHOLDER; MAX_BATCH];
                        for (t, (_, d)) in txs.iter_mut().zip(batch.iter()) {
                            *t = Transmit {
                                dst: sink,
                                contents: d,
                                ..Transmit::PLACEHOLDER
                            };
                        }
                        let _ = output.send(&txs[..n]);
                    }
                    Some(contexts) => {
                        let ctx = &mut contexts[event.token().0];
                        let plain: Vec<_> = batch
                            .iter()
                            .filter_map(|(_, d)| ctx.decrypt_rtp(d).ok())
                            .collect();
                        let mut txs = [Transmit::PLACEHOLDER; MAX_BATCH];
                        for (t, p) in txs.iter_mut().zip(&plain) {
                            *t = Transmit {
                                dst: sink,
                                contents: p,
                                ..Transmit::PLACEHOLDER
                            };
                        }
                        let _ = output.send(&txs[..plain.len()]);
                    }
                }
                if n < batch.capacity() {
                    break;
                }
            }
        }
    }
}

/// A relay with `sessions` established sessions, all on one worker, one browser socket and
/// one enterprise socket shared by every session.
struct RelayRig {
    relay: Forwarder,
    browsers: Vec<Browser>,
    browser_socket: std::net::UdpSocket,
    enterprise: std::net::UdpSocket,
    publics: Vec<SocketAddr>,
    enterprise_ports: Vec<SocketAddr>,
}

/// The relay variants measured: plain forwarding, and forwarding with rewriting.
const VARIANTS: [(&str, bool); 2] = [("", false), ("_rewriting", true)];

fn relay_rig(sessions: usize, rewrite: bool) -> RelayRig {
    let mut config = common::config((45000, 46999), (35000, 36999), 1);
    config.max_sessions = sessions;
    config.media_timeout = Duration::from_secs(600);
    // The generator sends no connectivity checks after set-up: consent must outlast the
    // group's rows (the 1,000 sessions' set-up alone takes seconds).
    config.consent_timeout = Duration::from_secs(600);
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    // FORWARD_BENCH_SCRAPE_MS=1000: read the forwarder as a metrics scrape does (the admin
    // listener's /metrics) every so many milliseconds, until the relay shuts down.
    let scrape = std::env::var("FORWARD_BENCH_SCRAPE_MS").ok();
    if let Some(ms) = scrape.and_then(|v| v.parse::<u64>().ok()) {
        let scraped = relay.clone();
        std::thread::spawn(move || {
            while scraped.workers_alive() {
                std::thread::sleep(Duration::from_millis(ms));
                std::hint::black_box((scraped.totals(), scraped.stats()));
            }
        });
    }
    let enterprise = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let first = Browser::new();
    let browser_socket = first.socket.try_clone().unwrap();
    let mut browsers = vec![first];
    while browsers.len() < sessions {
        browsers.push(Browser::sharing_socket_of(&browsers[0]));
    }
    let mut publics = Vec::new();
    let mut enterprise_ports = Vec::new();
    for b in &mut browsers {
        let mut spec = SessionSpec::new();
        spec.browser = Some(b.remote());
        spec.enterprise = Some(EnterpriseRemote::new(enterprise.local_addr().unwrap()));
        spec.rtcp_mux_enterprise = true;
        if rewrite {
            spec.media = Some(MediaPlan::new(
                Direction::SendRecv,
                Direction::SendRecv,
                vec![(0, 8), (8, 0)],
            ));
        }
        let info = relay.create_session(spec).unwrap();
        b.connect(&info).unwrap();
        publics.push(info.public_addr);
        enterprise_ports.push(info.enterprise_rtp);
    }
    // A browser has its keys once it sent its last flight; the relay, once it read it.
    // Nothing is measured before every session can forward.
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay
        .sessions()
        .iter()
        .any(|s| !matches!(s.state, SessionState::DtlsConnected))
    {
        assert!(
            Instant::now() < deadline,
            "sessions not established in 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    RelayRig {
        relay,
        browsers,
        browser_socket,
        enterprise,
        publics,
        enterprise_ports,
    }
}

fn from_std(socket: &std::net::UdpSocket) -> UdpSocket {
    UdpSocket::from_std(socket.try_clone().unwrap(), &SocketOptions::default()).unwrap()
}

fn rigs_for(sessions: usize, relay: &mut RelayRig) -> (Rig, Rig) {
    let browsers = std::mem::take(&mut relay.browsers);
    let srtp_to_rtp = Rig::new(
        from_std(&relay.browser_socket),
        from_std(&relay.enterprise),
        relay.publics.clone(),
        Sender::Browsers(browsers),
        "forwarder-0",
    );
    let rtp_to_srtp = Rig::new(
        from_std(&relay.enterprise),
        from_std(&relay.browser_socket),
        relay.enterprise_ports.clone(),
        Sender::Plain,
        "forwarder-0",
    );
    assert_eq!(srtp_to_rtp.targets.len(), sessions);
    (srtp_to_rtp, rtp_to_srtp)
}

fn fixed_key(i: usize) -> MasterKey {
    let mut key = [7u8; 16];
    key[..8].copy_from_slice(&(i as u64).to_be_bytes());
    MasterKey::new(Profile::AeadAes128Gcm, &key, &[9; 12]).unwrap()
}

/// The reference rigs: plain and webrtc-srtp.
fn reference_rigs(sessions: usize) -> (Rig, Reference, Rig, Reference) {
    let sink = bind(Ipv4Addr::LOCALHOST);
    let ceiling = Reference::start("ceiling-fwd", sessions, sink.local_addr(), None);
    let plain = Rig::new(
        bind(Ipv4Addr::LOCALHOST),
        sink,
        ceiling.inputs.clone(),
        Sender::Plain,
        "ceiling-fwd",
    );
    let sink = bind(Ipv4Addr::LOCALHOST);
    let contexts = (0..sessions)
        .map(|i| {
            let k = fixed_key(i);
            Context::new(
                k.key(),
                k.salt(),
                ProtectionProfile::AeadAes128Gcm,
                None,
                None,
            )
            .unwrap()
        })
        .collect();
    let webrtc = Reference::start(
        "webrtc-srtp-fwd",
        sessions,
        sink.local_addr(),
        Some(contexts),
    );
    let senders = (0..sessions)
        .map(|i| Outbound::new(&fixed_key(i), &edge_srtp::Config::default()).unwrap())
        .collect();
    let srtp = Rig::new(
        bind(Ipv4Addr::LOCALHOST),
        sink,
        webrtc.inputs.clone(),
        Sender::Fixed(senders),
        "webrtc-srtp-fwd",
    );
    (plain, ceiling, srtp, webrtc)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn report(name: &str, sessions: usize, mut d: Delivery) {
    d.latencies.sort_unstable();
    let l = &d.latencies;
    println!(
        "{name:<18} {sessions:>5} sessions {:>6} pps  sent {:>6} lost {:>4}  latency us p50 {:>5} p99 {:>5} p99.9 {:>5} max {:>6}",
        sessions * 50,
        d.sent,
        d.sent.saturating_sub(d.received),
        percentile(l, 0.5),
        percentile(l, 0.99),
        percentile(l, 0.999),
        l.last().copied().unwrap_or(0),
    );
}

/// Loss and one-way latency at 50 packets/s per session, for 2 s. Skipped when a filter
/// that does not match "paced" is given (`cargo bench --bench forward -- relay`).
fn paced_report(_c: &mut Criterion) {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-') && !a.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if filter.is_some_and(|f| !"paced".contains(f.as_str())) {
        return;
    }
    // Without `--bench` (cargo test runs every bench once) only a short smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let (counts, run) = if full {
        (&SESSIONS[..], Duration::from_secs(2))
    } else {
        (&SESSIONS[..1], Duration::from_millis(200))
    };
    println!("paced run: 50 packets/s per session, {run:?}, 172-byte packets, one-way latency");
    for &sessions in counts {
        let rate = sessions * 50;
        let (mut plain, ceiling, mut srtp, webrtc) = reference_rigs(sessions);
        report("ceiling", sessions, plain.paced(rate, run));
        report("webrtc_srtp", sessions, srtp.paced(rate, run));
        drop((ceiling, webrtc));
        // Plain forwarding only: a translated stream's timestamps no longer carry the send
        // time the sink reads latency from.
        let mut relay = relay_rig(sessions, false);
        let (mut s2r, mut r2s) = rigs_for(sessions, &mut relay);
        report("relay_srtp_to_rtp", sessions, s2r.paced(rate, run));
        report("relay_rtp_to_srtp", sessions, r2s.paced(rate, run));
        relay.relay.shutdown();
    }
}

fn throughput(c: &mut Criterion) {
    for sessions in SESSIONS {
        let mut group = c.benchmark_group(format!("forward_172B_{sessions}_sessions"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        let (mut plain, ceiling, mut srtp, webrtc) = reference_rigs(sessions);
        group.bench_function("ceiling", |b| b.iter_custom(|n| plain.flood(n as usize)));
        group.bench_function("webrtc_srtp", |b| b.iter_custom(|n| srtp.flood(n as usize)));
        let mut lost = plain.lost + srtp.lost;
        drop((ceiling, webrtc));
        for (suffix, rewrite) in VARIANTS {
            let mut relay = relay_rig(sessions, rewrite);
            let (mut s2r, mut r2s) = rigs_for(sessions, &mut relay);
            group.bench_function(format!("relay_srtp_to_rtp{suffix}"), |b| {
                b.iter_custom(|n| s2r.flood(n as usize))
            });
            group.bench_function(format!("relay_rtp_to_srtp{suffix}"), |b| {
                b.iter_custom(|n| r2s.flood(n as usize))
            });
            lost += s2r.lost + r2s.lost;
            let c = relay.relay.sessions();
            let drops: u64 = c
                .iter()
                .map(|s| {
                    s.counters.browser_to_enterprise.drops.total()
                        + s.counters.enterprise_to_browser.drops.total()
                })
                .sum();
            let ended = c.iter().filter(|s| s.state.is_ended()).count();
            println!("{sessions} sessions{suffix}: relay drop counters {drops}, {ended} ended");
            relay.relay.shutdown();
        }
        group.finish();
        println!("{sessions} sessions: {lost} packets lost in the flood runs");
    }
}

criterion_group!(benches, paced_report, throughput);
criterion_main!(benches);
