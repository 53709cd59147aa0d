//! The I/O driver over real loopback sockets: a client allocates, binds a channel to a UDP
//! echo peer and relays ChannelData both ways, one datagram at a time (every receive comes
//! back short of its batch: the "drained" path) and in bursts larger than a batch (full
//! batches, the backlog), with wake-up coalescing off and on. Every payload comes back,
//! byte for byte, in order; nothing stalls. Data sent in the same batch as the allocation's
//! delete still reaches the peer, and nothing after it. A counting global allocator (this test binary's
//! own, one test so no other test thread allocates meanwhile) sees zero heap allocations in
//! the whole process while thousands of packets are relayed in steady state: on one TURN
//! thread, and on two, through a client on each (the kernel picks a client's thread; the test
//! opens clients until every thread holds one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use edge_alloc_count::Scope;
use edge_guard::{Guard, GuardConfig};
use edge_stun::{Attribute, Message, Method};
use edge_turn::{Service, ServiceConfig};

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

const CHANNEL: u16 = 0x4000;
/// How long a test waits for what must happen: a guard against hanging, never a window.
const HANG_GUARD: Duration = Duration::from_secs(30);
const PAYLOAD: usize = 172;
/// More than one receive batch (32) in flight at once.
const BURST: usize = 80;

fn service(coalesce: Duration, threads: usize) -> Service {
    let mut server = config();
    server.relay_address = "127.0.0.1".parse().unwrap();
    // Room for the clients opened until every thread holds one.
    server.port_range = "64520-64599".parse().unwrap();
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    // Loopback is exempt from the rate limit: set-up and the bursts are one source's.
    server.guard = Some(
        Guard::new(GuardConfig {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            ..GuardConfig::default()
        })
        .unwrap(),
    );
    let mut cfg = ServiceConfig::new(server);
    cfg.udp = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.coalesce = coalesce;
    cfg.threads = threads;
    Service::start(cfg).unwrap()
}

/// A request over the socket, retried once with the nonce of a 401/438.
fn call(c: &mut Client, sock: &UdpSocket, method: Method, attrs: &[Attribute<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    for _ in 0..2 {
        sock.send(&c.request(method, attrs)).unwrap();
        let n = sock.recv(&mut buf).unwrap();
        let msg = Message::parse(&buf[..n]).unwrap();
        if matches!(error_code(&msg), Some(401 | 438)) && c.nonce.as_deref() != msg.nonce().unwrap()
        {
            c.nonce = msg.nonce().unwrap().map(str::to_owned);
            continue;
        }
        return buf[..n].to_vec();
    }
    panic!("no answer after a nonce retry");
}

/// A client with a channel to `peer` through the service: its socket and credentials.
fn client_with_channel(svc: &Service, peer: SocketAddr) -> (UdpSocket, Client) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(HANG_GUARD)).unwrap();
    sock.connect(svc.local_addrs().udp[0]).unwrap();
    let tuple = udp_tuple(&sock.local_addr().unwrap().to_string());
    let mut c = Client::new(tuple, USER, PASS);
    let resp = call(
        &mut c,
        &sock,
        Method::ALLOCATE,
        &[Attribute::RequestedTransport(17)],
    );
    assert_eq!(code_of(&resp), None, "allocate");
    let bind = [
        Attribute::ChannelNumber(CHANNEL),
        Attribute::XorPeerAddress(peer),
    ];
    let resp = call(&mut c, &sock, Method::CHANNEL_BIND, &bind);
    assert_eq!(code_of(&resp), None, "channel bind");
    (sock, c)
}

/// Frame `i`: ChannelData header, then the payload numbered `i`.
fn frame(i: usize, out: &mut [u8; 4 + PAYLOAD]) {
    out[..2].copy_from_slice(&CHANNEL.to_be_bytes());
    out[2..4].copy_from_slice(&(PAYLOAD as u16).to_be_bytes());
    for (k, b) in out[4..].iter_mut().enumerate() {
        *b = (k * 7 + i) as u8;
    }
    out[4..8].copy_from_slice(&(i as u32).to_be_bytes());
}

/// Sends frames `first..first + n` from the client, echoes each at the peer, and checks
/// every one comes back to the client as sent, in order. Allocates nothing.
fn relay(client: &UdpSocket, peer: &UdpSocket, first: usize, n: usize) {
    let mut out = [0u8; 4 + PAYLOAD];
    let mut buf = [0u8; 2048];
    for i in first..first + n {
        frame(i, &mut out);
        client.send(&out).unwrap();
    }
    for i in first..first + n {
        let (len, from) = peer.recv_from(&mut buf).unwrap();
        frame(i, &mut out);
        assert!(
            len == PAYLOAD && buf[..len] == out[4..],
            "peer got {i} out of order or changed"
        );
        peer.send_to(&buf[..len], from).unwrap();
    }
    for i in first..first + n {
        let len = client.recv(&mut buf).unwrap();
        frame(i, &mut out);
        assert!(
            len == out.len() && buf[..len] == out[..],
            "client got {i} out of order or changed"
        );
    }
}

/// Clients with a channel to `peer`, opened until every thread of `svc` holds one; returns
/// one client per thread (the others keep their allocations, unused).
fn client_on_every_thread(svc: &Service, peer: SocketAddr) -> Vec<(UdpSocket, Client)> {
    let threads = svc.snapshot_per_thread().len();
    let mut chosen: Vec<Option<(UdpSocket, Client)>> = (0..threads).map(|_| None).collect();
    // 64 tries: the chance that they all land on the threads already chosen is below 2^-63.
    for _ in 0..64 {
        let before = svc.snapshot_per_thread();
        let opened = client_with_channel(svc, peer);
        let deadline = Instant::now() + HANG_GUARD;
        let thread = loop {
            let now = svc.snapshot_per_thread();
            if let Some(t) = (0..threads).find(|&t| now[t].allocations > before[t].allocations) {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "the allocation was never counted"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        if chosen[thread].is_none() {
            chosen[thread] = Some(opened);
        }
        if chosen.iter().all(Option::is_some) {
            return chosen.into_iter().flatten().collect();
        }
    }
    panic!("64 clients never reached every one of {threads} threads");
}

#[test]
fn relays_both_ways_without_stalls_or_allocations_with_and_without_coalescing() {
    let cases = [
        (Duration::ZERO, 1),
        (Duration::from_micros(200), 1),
        (Duration::from_micros(200), 2),
    ];
    for (coalesce, threads) in cases {
        let svc = service(coalesce, threads);
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(HANG_GUARD)).unwrap();
        let mut clients = client_on_every_thread(&svc, peer.local_addr().unwrap());
        // Warm-up: whatever is set up on first use happens here, on every thread.
        for (client, _) in &clients {
            for i in 0..200 {
                relay(client, &peer, i, 1);
            }
            relay(client, &peer, 200, BURST);
        }

        // The whole process: any of the service's I/O threads allocating would count.
        let ((), allocations) = edge_alloc_count::count(Scope::Process, || {
            for (client, _) in &clients {
                // One at a time: each receive finds one datagram and stops there.
                for i in 0..2000 {
                    relay(client, &peer, 1000 + i, 1);
                }
                // Bursts: full batches, more than one per wake-up.
                for b in 0..20 {
                    relay(client, &peer, 10_000 + b * BURST, BURST);
                }
            }
        });

        assert_eq!(
            allocations, 0,
            "coalesce {coalesce:?}, {threads} threads: heap allocations while relaying"
        );
        // The counters are published at the end of each loop iteration: wait for the last.
        let relayed = (200 + BURST as u64 + 2000 + 20 * BURST as u64) * clients.len() as u64;
        let mut snap = svc.snapshot();
        let deadline = Instant::now() + HANG_GUARD;
        while snap.to_clients != relayed && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            snap = svc.snapshot();
        }
        assert_eq!((snap.to_peers, snap.to_clients), (relayed, relayed));
        assert_eq!(snap.dropped, 0);
        let (client, c) = &mut clients[0];
        let client = &*client;

        // Data, then a delete (Refresh 0), in one sendmmsg: the server sees them in one batch,
        // relays the data from the allocation's port first, then frees it.
        let refresh = c.request(Method::REFRESH, &[Attribute::Lifetime(0)]);
        let mut frames = [[0u8; 4 + PAYLOAD]; 3];
        for (i, f) in frames.iter_mut().enumerate() {
            frame(50_000 + i, f);
        }
        let server = svc.local_addrs().udp[0];
        let txs = [&frames[0][..], &frames[1][..], &frames[2][..], &refresh[..]].map(|contents| {
            edge_udp::Transmit {
                dst: server,
                contents,
                ..edge_udp::Transmit::PLACEHOLDER
            }
        });
        let batch_sender =
            edge_udp::UdpSocket::from_std(client.try_clone().unwrap(), &Default::default())
                .unwrap();
        assert_eq!(batch_sender.send(&txs).unwrap(), 4);
        client.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 2048];
        for f in &frames {
            let (len, _) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(
                &buf[..len],
                &f[4..],
                "data sent before the delete reached the peer"
            );
        }
        let len = client.recv(&mut buf).unwrap();
        assert_eq!(code_of(&buf[..len]), None, "refresh 0 answered");
        // Gone: nothing more is relayed.
        client.send(&frames[0]).unwrap();
        peer.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(
            peer.recv_from(&mut buf).is_err(),
            "relayed after the delete"
        );
        svc.shutdown().unwrap();
    }
}
