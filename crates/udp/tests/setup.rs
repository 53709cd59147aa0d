//! Socket set-up on real loopback sockets: SO_REUSEPORT, buffer sizes, adopting a std
//! socket, errors that name the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{recv_n, send_all, to};
use edge_udp::{Error, RecvBatch, SocketOptions, UdpSocket};

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

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
