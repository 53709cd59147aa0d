//! Error paths over real loopback sockets: a closed port, an oversized datagram, a wrong
//! address family, datagrams too large for a slot. None may break the loop or lose the
//! neighbouring datagrams; each is counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use common::{payload, recv_n, send_all, to, PATIENCE};
use edge_udp::{IoMode, RecvBatch, SocketOptions, Transmit, UdpSocket, DEFAULT_SLOT_SIZE};

fn modes() -> [SocketOptions; 2] {
    [
        SocketOptions::default(),
        SocketOptions {
            io: IoMode::Portable,
            ..SocketOptions::default()
        },
    ]
}

/// A port nobody listens on (bound, noted, closed).
fn closed_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

/// Unconnected sockets never hear of ICMP errors (IP_RECVERR is off): sending to a closed
/// port just works, and the datagrams around it arrive.
#[test]
fn closed_port_between_live_datagrams() {
    for opts in modes() {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let dead = closed_port();
        let p: Vec<Vec<u8>> = (0..50).map(|i| payload(i, 172)).collect();
        let txs: Vec<Transmit<'_>> = p
            .iter()
            .enumerate()
            .map(|(i, p)| to(if i % 2 == 0 { dead } else { rx.local_addr() }, p))
            .collect();
        for _ in 0..3 {
            send_all(&tx, &txs);
        }
        let mut batch = RecvBatch::for_socket(&rx);
        let got = recv_n(&rx, &mut batch, 75);
        let want: Vec<&Vec<u8>> = p.iter().skip(1).step_by(2).cycle().take(75).collect();
        assert_eq!(
            got.iter().map(|g| &g.bytes).collect::<Vec<_>>(),
            want,
            "{opts:?}"
        );
    }
}

/// A connected socket does hear ICMP port unreachable, as a late ECONNREFUSED on its next
/// call. Send and receive count it and carry on; the datagram it interrupted still goes out.
#[test]
fn late_connection_refused_is_counted_not_fatal() {
    for opts in modes() {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let dead = closed_port();
        tx.as_std().connect(dead).unwrap();
        let mut batch = RecvBatch::for_socket(&rx);
        let mut delivered = 0;
        let deadline = Instant::now() + PATIENCE;
        // Alternate: one to the closed port (its ICMP error lands on the socket), one to the
        // live receiver, which must arrive although the kernel reports the error on its send.
        while tx.stats().async_errors < 3 && Instant::now() < deadline {
            assert_eq!(tx.send(&[to(dead, b"void")]).unwrap(), 1);
            let live = payload(delivered, 172);
            send_all(&tx, &[to(rx.local_addr(), &live)]);
            let got = recv_n(&rx, &mut batch, 1);
            assert_eq!(got[0].bytes, live, "{opts:?}");
            delivered += 1;
        }
        assert!(tx.stats().async_errors >= 3, "{opts:?}: {:?}", tx.stats());
        assert_eq!(tx.stats().send_dropped, 0);

        // Receiving: a pending error is reported and absorbed; the call says WouldBlock.
        assert_eq!(tx.send(&[to(dead, b"void")]).unwrap(), 1);
        let before = tx.stats().async_errors;
        let mut tb = RecvBatch::for_socket(&tx);
        let deadline = Instant::now() + PATIENCE;
        while tx.stats().async_errors == before && Instant::now() < deadline {
            match tx.recv(&mut tb) {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{opts:?}"),
                Ok(n) => assert_eq!(n, 0),
            }
        }
        assert_eq!(tx.stats().async_errors, before + 1, "{opts:?}");
    }
}

/// A datagram the kernel refuses (too big for UDP, wrong family) is dropped and counted; the
/// others of the same call still go out, in order.
#[test]
fn refused_datagrams_are_dropped_and_the_rest_sent() {
    for opts in modes() {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let too_big = vec![7u8; 70_000];
        let p: Vec<Vec<u8>> = (0..6).map(|i| payload(i, 172)).collect();
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let a = rx.local_addr();
        let txs = [
            to(a, &p[0]),
            to(a, &p[1]),
            to(a, &too_big),
            to(a, &p[2]),
            to(v6, &p[3]),
            to(a, &p[4]),
            Transmit::PLACEHOLDER,
            to(a, &p[5]),
        ];
        assert_eq!(tx.send(&txs).unwrap(), txs.len(), "{opts:?}");
        let s = tx.stats();
        assert_eq!(s.send_dropped, 3, "{opts:?}: {s:?}");
        assert_eq!(s.sent, 5, "{opts:?}: {s:?}");
        let mut batch = RecvBatch::for_socket(&rx);
        let got = recv_n(&rx, &mut batch, 5);
        let want = [&p[0], &p[1], &p[2], &p[4], &p[5]];
        assert_eq!(
            got.iter().map(|g| &g.bytes).collect::<Vec<_>>(),
            want,
            "{opts:?}"
        );
    }
}

/// A train whose segments are too big for one datagram each is refused whole, once.
#[test]
fn oversized_train_is_dropped_once() {
    for opts in modes() {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let big = vec![1u8; 140_000];
        let t = Transmit {
            segment_size: Some(70_000),
            ..to(rx.local_addr(), &big)
        };
        assert_eq!(tx.send(&[t, to(rx.local_addr(), b"after")]).unwrap(), 2);
        assert_eq!(tx.stats().send_dropped, 2, "{opts:?}");
        let mut batch = RecvBatch::for_socket(&rx);
        assert_eq!(recv_n(&rx, &mut batch, 1)[0].bytes, b"after");
    }
}

/// Datagrams larger than a slot are dropped and counted; the ones around them are delivered.
#[test]
fn datagrams_larger_than_a_slot_are_dropped_and_counted() {
    for opts in modes() {
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let sizes = [10, DEFAULT_SLOT_SIZE, DEFAULT_SLOT_SIZE + 1, 20, 9000, 30];
        let p: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| payload(i, *s))
            .collect();
        let txs: Vec<Transmit<'_>> = p.iter().map(|p| to(rx.local_addr(), p)).collect();
        send_all(&tx, &txs);
        let mut batch = RecvBatch::new(8, DEFAULT_SLOT_SIZE);
        let got = recv_n(&rx, &mut batch, 4);
        let want = [&p[0], &p[1], &p[3], &p[5]];
        assert_eq!(
            got.iter().map(|g| &g.bytes).collect::<Vec<_>>(),
            want,
            "{opts:?}"
        );
        assert_eq!(rx.stats().truncated, 2, "{opts:?}");
        assert_eq!(rx.stats().received, 4, "{opts:?}");
    }
}

/// Receiving from an empty socket says WouldBlock and leaves an empty batch, however often.
#[test]
fn empty_socket_would_block() {
    for opts in modes() {
        let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let mut batch = RecvBatch::for_socket(&rx);
        for _ in 0..3 {
            let e = rx.recv(&mut batch).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            assert!(batch.is_empty());
        }
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        assert_eq!(tx.send(&[]).unwrap(), 0);
    }
}
