//! Socket set-up on real loopback sockets: port ranges (first free, shuffled, exhausted and
//! released), SO_REUSEPORT, buffer sizes, adopting a std socket, errors that name the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{recv_n, send_all, to};
use edge_udp::{Error, PortOrder, PortRange, RecvBatch, SocketOptions, UdpSocket};

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// `n` consecutive ports that are free right now on 127.0.0.1 (other tests run in parallel,
/// so the range is searched rather than hard-coded).
fn free_range(n: u16) -> PortRange {
    let mut first = 47_000;
    loop {
        let held: Vec<_> = (first..first + n)
            .map_while(|p| std::net::UdpSocket::bind((LOCALHOST, p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return PortRange::new(first, first + n - 1).unwrap();
        }
        first += n;
        assert!(first < 60_000, "no {n} free ports");
    }
}

#[test]
fn range_binds_each_port_once_then_names_the_exhausted_range() {
    let opts = SocketOptions::default();
    for order in [PortOrder::Ascending, PortOrder::Shuffled { seed: 42 }] {
        let range = free_range(3);
        let socks: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind_in_range(LOCALHOST, range, order, &opts).unwrap())
            .collect();
        let mut ports: Vec<u16> = socks.iter().map(|s| s.local_addr().port()).collect();
        if order == PortOrder::Ascending {
            assert_eq!(ports, [range.first(), range.first() + 1, range.last()]);
        }
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|p| range.contains(*p)));

        let err = UdpSocket::bind_in_range(LOCALHOST, range, order, &opts).unwrap_err();
        assert!(
            matches!(err, Error::PortRangeExhausted { ip, range: r } if ip == LOCALHOST && r == range)
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&range.to_string()) && msg.contains("127.0.0.1"),
            "{msg}"
        );

        // Closing the sockets frees their ports: the range binds again from its start.
        drop(socks);
        let again =
            UdpSocket::bind_in_range(LOCALHOST, range, PortOrder::Ascending, &opts).unwrap();
        assert_eq!(again.local_addr().port(), range.first());
    }
}

#[test]
fn range_bind_reports_other_errors_with_the_address() {
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine: bind fails, nothing is sent.
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let range = PortRange::new(40_000, 40_009).unwrap();
    let err = UdpSocket::bind_in_range(ip, range, PortOrder::Ascending, &SocketOptions::default())
        .unwrap_err();
    match &err {
        Error::Bind { addr, .. } => assert_eq!(*addr, SocketAddr::new(ip, 40_000)),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("192.0.2.1:40000"), "{err}");
}

#[test]
fn reuse_port_lets_workers_share_a_port() {
    let shared = SocketOptions {
        reuse_port: true,
        ..SocketOptions::default()
    };
    let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &shared).unwrap();
    let b = UdpSocket::bind(a.local_addr(), &shared).unwrap();
    assert_eq!(a.local_addr(), b.local_addr());
    let err = UdpSocket::bind(a.local_addr(), &SocketOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Bind { addr, .. } if addr == a.local_addr()),
        "{err}"
    );
    assert!(err.to_string().contains(&a.local_addr().to_string()));
}

#[test]
fn buffer_sizes_are_asked_for_and_reported() {
    let small = SocketOptions {
        recv_buffer: Some(64 * 1024),
        send_buffer: Some(32 * 1024),
        ..SocketOptions::default()
    };
    let s = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &small).unwrap();
    let caps = s.capabilities();
    if cfg!(target_os = "linux") {
        // Linux doubles the figure for its bookkeeping.
        assert_eq!(caps.recv_buffer, 128 * 1024, "{caps:?}");
        assert_eq!(caps.send_buffer, 64 * 1024, "{caps:?}");
    }
    let big = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &SocketOptions::default()).unwrap();
    assert!(big.capabilities().recv_buffer > caps.recv_buffer);
    let system = SocketOptions {
        recv_buffer: None,
        send_buffer: None,
        ..SocketOptions::default()
    };
    let d = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &system).unwrap();
    assert!(d.capabilities().recv_buffer > 0);
}

#[test]
fn adopted_std_socket_becomes_nonblocking_and_batched() {
    let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = UdpSocket::from_std(std_sock, &SocketOptions::default()).unwrap();
    let mut batch = RecvBatch::for_socket(&s);
    let e = s.recv(&mut batch).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    let peer = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &SocketOptions::default()).unwrap();
    send_all(&peer, &[to(s.local_addr(), b"adopted")]);
    assert_eq!(recv_n(&s, &mut batch, 1)[0].bytes, b"adopted");
}

#[test]
fn ipv6_only_refuses_ipv4() {
    let v6only = SocketOptions {
        ipv6_only: true,
        ..SocketOptions::default()
    };
    let s = UdpSocket::bind("[::]:0".parse().unwrap(), &v6only).unwrap();
    let port = s.local_addr().port();
    // The same port is still free for IPv4 because the IPv6 socket does not hold it.
    let v4 = UdpSocket::bind(SocketAddr::new(LOCALHOST, port), &SocketOptions::default());
    assert!(v4.is_ok(), "{v4:?}");
}
