//! Datagrams over real loopback sockets, IPv4 and IPv6, in every I/O configuration: batched
//! with and without GSO and GRO, and the portable fallback. Each run checks what a user would:
//! every byte arrived, in order, once, from the right source, to the right local address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{payload, recv_n, recv_rest, send_all, to, Got};
use edge_udp::{
    EcnCodepoint, IoMode, RecvBatch, SocketOptions, Transmit, UdpSocket, DEFAULT_BATCH,
    DEFAULT_SLOT_SIZE, MAX_SLOT_SIZE,
};

#[derive(Clone, Copy, Debug)]
struct Config {
    io: IoMode,
    gso: bool,
    gro: bool,
}

const CONFIGS: [Config; 5] = [
    Config {
        io: IoMode::Batched,
        gso: false,
        gro: false,
    },
    Config {
        io: IoMode::Batched,
        gso: true,
        gro: false,
    },
    Config {
        io: IoMode::Batched,
        gso: false,
        gro: true,
    },
    Config {
        io: IoMode::Batched,
        gso: true,
        gro: true,
    },
    Config {
        io: IoMode::Portable,
        gso: false,
        gro: false,
    },
];

fn options(c: Config) -> SocketOptions {
    SocketOptions {
        io: c.io,
        gso: c.gso,
        gro: c.gro,
        ..SocketOptions::default()
    }
}

/// The largest UDP payload over loopback for the family of `local`.
fn max_payload(local: &str) -> usize {
    if local.starts_with('[') {
        65_527
    } else {
        65_507
    }
}

/// Sends `count` numbered datagrams of `size` bytes and checks each arrived exactly once, in
/// order, byte for byte. Returns whether any arrived inside a GRO train.
fn exchange(c: Config, local: &str, size: usize, count: usize) -> bool {
    let what = format!("{c:?} {local} {count} x {size} B");
    let tx = UdpSocket::bind(local.parse().unwrap(), &options(c)).unwrap();
    let rx = UdpSocket::bind(local.parse().unwrap(), &options(c)).unwrap();
    let slot = if size > DEFAULT_SLOT_SIZE || rx.capabilities().gro {
        MAX_SLOT_SIZE
    } else {
        DEFAULT_SLOT_SIZE
    };
    let mut batch = RecvBatch::new(DEFAULT_BATCH, slot);
    let payloads: Vec<Vec<u8>> = (0..count).map(|i| payload(i, size)).collect();
    // Big datagrams go two at a time so even a default-sized receive buffer (net.core.rmem_max
    // 208 KiB, each near-64 KiB datagram taking 128 KiB of it) never overflows; small ones all
    // at once.
    let round = if size > DEFAULT_SLOT_SIZE { 2 } else { count };
    let mut got: Vec<Got> = Vec::new();
    for chunk in payloads.chunks(round) {
        let transmits: Vec<Transmit<'_>> = chunk.iter().map(|p| to(rx.local_addr(), p)).collect();
        send_all(&tx, &transmits);
        got.extend(recv_n(&rx, &mut batch, chunk.len()));
    }
    assert_eq!(got.len(), count, "{what}: datagrams lost");
    let pktinfo = rx.capabilities().pktinfo;
    for (i, g) in got.iter().enumerate() {
        assert_eq!(
            g.bytes, payloads[i],
            "{what}: datagram {i} differs or out of order"
        );
        assert_eq!(g.meta.src, tx.local_addr(), "{what}: source of {i}");
        let want_dst = pktinfo.then(|| rx.local_addr().ip());
        assert_eq!(g.meta.dst_ip, want_dst, "{what}: destination of {i}");
    }
    assert_eq!(recv_rest(&rx, &mut batch), 0, "{what}: extra datagrams");
    let (ts, rs) = (tx.stats(), rx.stats());
    assert_eq!(ts.sent, count as u64, "{what}: {ts:?}");
    assert_eq!(ts.send_dropped, 0, "{what}: {ts:?}");
    assert_eq!(rs.received, count as u64, "{what}: {rs:?}");
    assert_eq!(rs.truncated, 0, "{what}: {rs:?}");
    got.iter().any(|g| g.in_train)
}

fn every_size_and_count(local: &str) {
    for c in CONFIGS {
        for size in [1, 172, 1200, max_payload(local)] {
            for count in [1, 32, 200] {
                let trains = exchange(c, local, size, count);
                let can_train = c.io == IoMode::Batched && c.gso && c.gro;
                if trains {
                    assert!(can_train, "{c:?}: GRO train without GSO and GRO");
                }
                if can_train && count >= 32 && size <= 1200 {
                    assert!(
                        trains,
                        "{c:?} {local} {count} x {size}: GSO+GRO made no train"
                    );
                }
            }
        }
    }
}

#[test]
fn ipv4_every_size_and_count_in_every_mode() {
    every_size_and_count("127.0.0.1:0");
}

#[test]
fn ipv6_every_size_and_count_in_every_mode() {
    every_size_and_count("[::1]:0");
}

#[test]
fn linux_probe_finds_gso_gro_and_pktinfo() {
    let all = SocketOptions {
        gro: true,
        ecn: true,
        ..SocketOptions::default()
    };
    for local in ["127.0.0.1:0", "[::1]:0"] {
        let s = UdpSocket::bind(local.parse().unwrap(), &all).unwrap();
        let caps = s.capabilities();
        if cfg!(target_os = "linux") {
            assert_eq!(caps.io, IoMode::Batched);
            assert!(caps.max_gso_segments > 1, "{caps:?}");
            assert!(caps.gro && caps.pktinfo && caps.ecn, "{caps:?}");
        }
        let plain = UdpSocket::bind(local.parse().unwrap(), &SocketOptions::default()).unwrap();
        assert!(!plain.capabilities().gro && !plain.capabilities().ecn);
        let portable = SocketOptions {
            io: IoMode::Portable,
            ..all.clone()
        };
        let p = UdpSocket::bind(local.parse().unwrap(), &portable).unwrap();
        let caps = p.capabilities();
        assert_eq!(caps.io, IoMode::Portable);
        assert_eq!(caps.max_gso_segments, 1);
        assert!(!caps.gro && !caps.pktinfo && !caps.ecn, "{caps:?}");
    }
}

/// Transmits with an explicit `segment_size`: longer than one GSO send allows, with a short
/// last segment, and without GSO (split one by one).
#[test]
fn explicit_trains_arrive_as_separate_datagrams() {
    for c in CONFIGS {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &options(c)).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &options(c)).unwrap();
        let mut batch = RecvBatch::new(DEFAULT_BATCH, MAX_SLOT_SIZE);
        // 150 segments of 172 bytes and a last one of 50: more than one GSO send holds.
        let segments: Vec<Vec<u8>> = (0..151)
            .map(|i| payload(i, if i == 150 { 50 } else { 172 }))
            .collect();
        let train: Vec<u8> = segments.concat();
        let t = Transmit {
            segment_size: Some(172),
            ..to(rx.local_addr(), &train)
        };
        // A train, then a lone datagram after it: order across transmits holds too.
        let lone = payload(999, 10);
        send_all(&tx, &[t, to(rx.local_addr(), &lone)]);
        let got = recv_n(&rx, &mut batch, 152);
        let bytes: Vec<Vec<u8>> = got.into_iter().map(|g| g.bytes).collect();
        let mut want = segments.clone();
        want.push(lone);
        assert_eq!(bytes, want, "{c:?}");
        assert_eq!(tx.stats().sent, 152, "{c:?}");
    }
}

/// Automatic coalescing only joins equal-size datagrams of one flow (same destination, source
/// address and ECN); a shorter one ends a run. Every datagram still arrives once, in order,
/// at its own destination.
#[test]
fn coalescing_respects_flows_and_sizes() {
    let opts = SocketOptions {
        ecn: true,
        ..SocketOptions::default()
    };
    let tx = UdpSocket::bind("0.0.0.0:0".parse().unwrap(), &opts).unwrap();
    let r1 = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let r2 = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let (a1, a2) = (r1.local_addr(), r2.local_addr());
    let sizes_and_dst = [
        (172, a1),
        (172, a1),
        (100, a1),
        (172, a1),
        (172, a2),
        (172, a2),
        (200, a2),
        (172, a1),
        (172, a1),
        (172, a1),
    ];
    let p: Vec<Vec<u8>> = sizes_and_dst
        .iter()
        .enumerate()
        .map(|(i, (s, _))| payload(i, *s))
        .collect();
    let mut txs: Vec<Transmit<'_>> = sizes_and_dst
        .iter()
        .zip(&p)
        .map(|((_, d), p)| to(*d, p))
        .collect();
    // The last three differ in source address and ECN from their neighbours.
    txs[8].src_ip = Some("127.0.0.2".parse().unwrap());
    txs[9].ecn = Some(EcnCodepoint::Ect1);
    send_all(&tx, &txs);
    let mut batch = RecvBatch::new(DEFAULT_BATCH, DEFAULT_SLOT_SIZE);
    let g1 = recv_n(&r1, &mut batch, 7);
    let g2 = recv_n(&r2, &mut batch, 3);
    let want1: Vec<&Vec<u8>> = [0, 1, 2, 3, 7, 8, 9].iter().map(|i| &p[*i]).collect();
    let want2: Vec<&Vec<u8>> = [4, 5, 6].iter().map(|i| &p[*i]).collect();
    assert_eq!(g1.iter().map(|g| &g.bytes).collect::<Vec<_>>(), want1);
    assert_eq!(g2.iter().map(|g| &g.bytes).collect::<Vec<_>>(), want2);
    assert_eq!(g1[5].meta.src.ip(), "127.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(g1[4].meta.src.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(g1[6].meta.ecn, Some(EcnCodepoint::Ect1));
    assert_eq!(g1[4].meta.ecn, None);
}

/// A socket bound to 0.0.0.0 chooses each datagram's source address, and learns each
/// received datagram's destination address.
#[test]
fn wildcard_ipv4_socket_chooses_source_and_sees_destination() {
    let opts = SocketOptions::default();
    let wild = UdpSocket::bind("0.0.0.0:0".parse().unwrap(), &opts).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let mut batch = RecvBatch::for_socket(&peer);
    for src in ["127.0.0.1", "127.0.0.2", "127.0.0.1"] {
        let ip: IpAddr = src.parse().unwrap();
        let t = Transmit {
            src_ip: Some(ip),
            ..to(peer.local_addr(), b"from")
        };
        send_all(&wild, &[t]);
        let got = recv_n(&peer, &mut batch, 1);
        assert_eq!(
            got[0].meta.src,
            SocketAddr::new(ip, wild.local_addr().port())
        );
    }
    // And the other way: the wildcard socket sees which of its addresses was the target.
    let mut wbatch = RecvBatch::for_socket(&wild);
    for dst in ["127.0.0.2", "127.0.0.1", "127.0.0.3"] {
        let ip: IpAddr = dst.parse().unwrap();
        send_all(
            &peer,
            &[to(SocketAddr::new(ip, wild.local_addr().port()), b"to")],
        );
        let got = recv_n(&wild, &mut wbatch, 1);
        assert_eq!(got[0].meta.dst_ip, Some(ip));
        assert_eq!(got[0].meta.src, peer.local_addr());
    }
}

/// A dual-stack [::] socket talks IPv4 in IPv4 terms (no mapped addresses leak out) and IPv6
/// with its own source address.
#[test]
fn wildcard_ipv6_socket_serves_both_families() {
    let opts = SocketOptions::default();
    let wild = UdpSocket::bind("[::]:0".parse().unwrap(), &opts).unwrap();
    let port = wild.local_addr().port();
    let v4 = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let v6 = UdpSocket::bind("[::1]:0".parse().unwrap(), &opts).unwrap();
    let mut batch = RecvBatch::for_socket(&wild);

    send_all(
        &v4,
        &[to(
            SocketAddr::new("127.0.0.2".parse().unwrap(), port),
            b"v4",
        )],
    );
    send_all(
        &v6,
        &[to(SocketAddr::new("::1".parse().unwrap(), port), b"v6")],
    );
    let got = recv_n(&wild, &mut batch, 2);
    assert_eq!(got[0].meta.src, v4.local_addr());
    assert_eq!(got[0].meta.dst_ip, Some("127.0.0.2".parse().unwrap()));
    assert_eq!(got[1].meta.src, v6.local_addr());
    assert_eq!(got[1].meta.dst_ip, Some("::1".parse().unwrap()));

    // Answer each from the address it was sent to.
    let answers = [
        Transmit {
            src_ip: got[0].meta.dst_ip,
            ..to(got[0].meta.src, b"re4")
        },
        Transmit {
            src_ip: got[1].meta.dst_ip,
            ..to(got[1].meta.src, b"re6")
        },
    ];
    send_all(&wild, &answers);
    let mut b = RecvBatch::for_socket(&v4);
    let a4 = recv_n(&v4, &mut b, 1);
    assert_eq!(a4[0].bytes, b"re4");
    assert_eq!(
        a4[0].meta.src,
        SocketAddr::new("127.0.0.2".parse().unwrap(), port)
    );
    let a6 = recv_n(&v6, &mut b, 1);
    assert_eq!(a6[0].bytes, b"re6");
    assert_eq!(
        a6[0].meta.src,
        SocketAddr::new("::1".parse().unwrap(), port)
    );
}

/// The portable path cannot choose a source address: from a wildcard socket such a transmit
/// is dropped and counted rather than sent from an address the caller did not ask for.
#[test]
fn portable_mode_refuses_a_source_it_cannot_choose() {
    let opts = SocketOptions {
        io: IoMode::Portable,
        ..SocketOptions::default()
    };
    let wild = UdpSocket::bind("0.0.0.0:0".parse().unwrap(), &opts).unwrap();
    let bound = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let src = Some("127.0.0.1".parse().unwrap());
    let t = Transmit {
        src_ip: src,
        ..to(peer.local_addr(), b"x")
    };
    assert_eq!(wild.send(&[t, to(peer.local_addr(), b"y")]).unwrap(), 2);
    assert_eq!(wild.stats().send_dropped, 1);
    // Bound to that very address, the same transmit is fine.
    send_all(&bound, &[t]);
    let mut batch = RecvBatch::for_socket(&peer);
    let got = recv_n(&peer, &mut batch, 2);
    assert_eq!(
        got.iter().map(|g| g.bytes.clone()).collect::<Vec<_>>(),
        [b"y".to_vec(), b"x".to_vec()]
    );
}

#[test]
fn ecn_codepoints_travel_both_families() {
    let opts = SocketOptions {
        ecn: true,
        ..SocketOptions::default()
    };
    for local in ["127.0.0.1:0", "[::1]:0"] {
        let tx = UdpSocket::bind(local.parse().unwrap(), &opts).unwrap();
        let rx = UdpSocket::bind(local.parse().unwrap(), &opts).unwrap();
        let marks = [
            None,
            Some(EcnCodepoint::Ect0),
            Some(EcnCodepoint::Ect1),
            Some(EcnCodepoint::Ce),
        ];
        let txs: Vec<Transmit<'_>> = marks
            .iter()
            .map(|m| Transmit {
                ecn: *m,
                ..to(rx.local_addr(), b"ecn")
            })
            .collect();
        send_all(&tx, &txs);
        let mut batch = RecvBatch::for_socket(&rx);
        let got = recv_n(&rx, &mut batch, 4);
        let seen: Vec<_> = got.iter().map(|g| g.meta.ecn).collect();
        assert_eq!(seen, marks, "{local}");
    }
}

/// The batched path against the portable reference, crosswise: each sends the same run to
/// the other and both receive the same datagrams from the same source.
#[test]
fn batched_and_portable_paths_agree() {
    let batched = SocketOptions::default();
    let portable = SocketOptions {
        io: IoMode::Portable,
        ..SocketOptions::default()
    };
    let payloads: Vec<Vec<u8>> = (0..100).map(|i| payload(i, 1 + i * 12)).collect();
    let run = |from: &SocketOptions, into: &SocketOptions| {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), from).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), into).unwrap();
        let txs: Vec<Transmit<'_>> = payloads.iter().map(|p| to(rx.local_addr(), p)).collect();
        send_all(&tx, &txs);
        let mut batch = RecvBatch::for_socket(&rx);
        let got = recv_n(&rx, &mut batch, payloads.len());
        assert!(got.iter().all(|g| g.meta.src == tx.local_addr()));
        got.into_iter().map(|g| g.bytes).collect::<Vec<_>>()
    };
    let reference = run(&portable, &portable);
    assert_eq!(reference, payloads);
    assert_eq!(run(&batched, &portable), reference);
    assert_eq!(run(&portable, &batched), reference);
    assert_eq!(run(&batched, &batched), reference);
}

/// A forwarder transforms datagrams in place in their slots, growing them into the tailroom,
/// and sends them on from the same memory.
#[test]
fn forward_in_place_with_growth() {
    let opts = SocketOptions::default();
    let client = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let fwd = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let payloads: Vec<Vec<u8>> = (0..40).map(|i| payload(i, 172)).collect();
    let txs: Vec<Transmit<'_>> = payloads.iter().map(|p| to(fwd.local_addr(), p)).collect();
    send_all(&client, &txs);

    let mut batch = RecvBatch::for_socket(&fwd);
    let mut forwarded = 0;
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while forwarded < payloads.len() && std::time::Instant::now() < deadline {
        let Ok(n) = fwd.recv(&mut batch) else {
            continue;
        };
        // Declared per batch: the transmits borrow this batch's slots.
        let mut out = [Transmit::PLACEHOLDER; DEFAULT_BATCH];
        for ((meta, slot), tx) in batch.slots_mut().zip(out.iter_mut()) {
            // Append a 10-byte trailer, like an SRTP auth tag.
            slot[meta.len..meta.len + 10].fill(0xAB);
            *tx = to(sink.local_addr(), &slot[..meta.len + 10]);
        }
        send_all(&fwd, &out[..n]);
        forwarded += n;
    }
    let mut sb = RecvBatch::for_socket(&sink);
    let got = recv_n(&sink, &mut sb, payloads.len());
    assert_eq!(got.len(), payloads.len());
    for (g, p) in got.iter().zip(&payloads) {
        assert_eq!(&g.bytes[..172], &p[..]);
        assert_eq!(&g.bytes[172..], &[0xAB; 10]);
        assert_eq!(g.meta.src, fwd.local_addr());
    }
}
