//! Zero heap allocations per receive and send batch after set-up, proven with a counting
//! global allocator (this file is its own test binary, so the allocator counts only this).
//! A forwarder loop runs client -> forwarder -> sink over loopback, transforming in place,
//! in every I/O mode, through the error path (a refused datagram) and GSO coalescing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;

use edge_alloc_count::Scope;
use edge_udp::{IoMode, RecvBatch, SocketOptions, Transmit, UdpSocket, DEFAULT_BATCH};

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

const ROUNDS: usize = 300;

/// One round: the client sends a batch (plus one refused, oversized datagram), the
/// forwarder receives, rewrites each datagram in place (growing it by 10 bytes into the
/// tailroom) and sends them on, the sink drains. Returns datagrams the sink got.
fn round(
    client: &UdpSocket,
    fwd: &UdpSocket,
    sink: &UdpSocket,
    batches: &mut (RecvBatch, RecvBatch),
    payload: &[u8],
    too_big: &[u8],
) -> usize {
    let mut txs = [Transmit::PLACEHOLDER; DEFAULT_BATCH];
    for t in txs.iter_mut() {
        *t = Transmit {
            dst: fwd.local_addr(),
            contents: payload,
            ..Transmit::PLACEHOLDER
        };
    }
    txs[DEFAULT_BATCH / 2].contents = too_big;
    let mut sent = 0;
    while sent < txs.len() {
        match client.send(&txs[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    let (fb, sb) = batches;
    let mut forwarded = 0;
    let mut idle = 0;
    while forwarded < DEFAULT_BATCH - 1 && idle < 1000 {
        let n = match fwd.recv(fb) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                idle += 1;
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        let mut out = [Transmit::PLACEHOLDER; DEFAULT_BATCH];
        for ((meta, slot), tx) in fb.slots_mut().zip(out.iter_mut()) {
            let segments = meta.len.div_ceil(meta.stride);
            forwarded += segments;
            for datagram in slot[..meta.len].chunks_mut(meta.stride) {
                datagram.reverse();
            }
            // A lone datagram grows into its tailroom; a GRO train goes on as a GSO train.
            let (len, segment_size) = if segments == 1 {
                slot[meta.len..meta.len + 10].fill(0x5A);
                (meta.len + 10, None)
            } else {
                (meta.len, Some(meta.stride))
            };
            *tx = Transmit {
                dst: sink.local_addr(),
                src_ip: meta.dst_ip,
                contents: &slot[..len],
                segment_size,
                ..Transmit::PLACEHOLDER
            };
        }
        let mut done = 0;
        while done < n {
            done += fwd.send(&out[done..n]).unwrap_or(0);
        }
    }
    let mut got = 0;
    let mut idle = 0;
    while got < forwarded && idle < 1000 {
        match sink.recv(sb) {
            Ok(_) => {
                got += sb
                    .metas()
                    .iter()
                    .map(|m| m.len.div_ceil(m.stride))
                    .sum::<usize>()
            }
            Err(_) => idle += 1,
        }
    }
    got
}

#[test]
fn forwarding_loop_allocates_nothing_per_batch() {
    let modes = [
        SocketOptions::default(),
        SocketOptions {
            gso: false,
            ..SocketOptions::default()
        },
        SocketOptions {
            gro: true,
            ecn: true,
            ..SocketOptions::default()
        },
        SocketOptions {
            io: IoMode::Portable,
            ..SocketOptions::default()
        },
    ];
    for opts in modes {
        let bind = |a: &str| UdpSocket::bind(a.parse().unwrap(), &opts).unwrap();
        let (client, fwd, sink) = (
            bind("127.0.0.1:0"),
            bind("127.0.0.1:0"),
            bind("127.0.0.1:0"),
        );
        let mut batches = (RecvBatch::for_socket(&fwd), RecvBatch::for_socket(&sink));
        let payload = [0x80u8; 172];
        let too_big = vec![0u8; 70_000];
        // Warm-up: anything lazily set up on first use (none expected) happens here.
        round(&client, &fwd, &sink, &mut batches, &payload, &too_big);

        let mut delivered = 0;
        // This thread only: the test harness allocates on its own threads.
        let ((), allocs) = edge_alloc_count::count(Scope::ThisThread, || {
            for _ in 0..ROUNDS {
                delivered += round(&client, &fwd, &sink, &mut batches, &payload, &too_big);
            }
        });
        assert_eq!(
            allocs, 0,
            "{opts:?}: {allocs} allocations in {ROUNDS} rounds"
        );
        // The loop really ran: (nearly) everything arrived, and the refused datagrams counted.
        assert!(
            delivered >= ROUNDS * (DEFAULT_BATCH - 1) * 99 / 100,
            "{opts:?}: {delivered}"
        );
        assert_eq!(client.stats().send_dropped, ROUNDS as u64 + 1, "{opts:?}");
        assert!(fwd.stats().sent >= delivered as u64);
    }
}
