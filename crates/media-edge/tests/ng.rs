//! `[ng]` in the binary: the ng listener answers on UDP, its requests and drops are counted
//! in `/metrics` by command, result and reason, and a configuration that would expose ng
//! off loopback without `ng.clients`, or without a forwarder, is refused by key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{refused, scratch, send_raw, Running, HANG_GUARD};

/// A free loopback port of `kind` (the socket is dropped before the binary binds it).
fn free(udp: bool) -> SocketAddr {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }
}

fn config(name: &str, ports: u16, extra: &str) -> std::path::PathBuf {
    scratch(
        name,
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"{}-{}\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             {extra}",
            ports,
            ports + 9,
            ports + 10,
            ports + 19,
            ports + 20,
            ports + 29,
        ),
    )
}

/// One ng request over UDP; the reply.
fn ng(addr: SocketAddr, message: &[u8]) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(HANG_GUARD)).unwrap();
    socket.send_to(message, addr).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = socket.recv_from(&mut buf).expect("an ng reply");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn metrics(admin: SocketAddr) -> String {
    let request = "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n";
    send_raw(TcpStream::connect(admin).unwrap(), request).unwrap_or_default()
}

#[test]
fn ng_answers_and_is_counted_in_metrics() {
    let (ng_addr, admin) = (free(true), free(false));
    let path = config(
        "ng.toml",
        27_100,
        &format!("[ng]\nlisten = \"{ng_addr}\"\n[admin]\nlisten = \"{admin}\"\n"),
    );
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    edge.wait_for(&format!("ng control: udp {ng_addr}"));
    edge.wait_for(&format!("admin listener: http://{admin}"));
    assert_eq!(ng(ng_addr, b"1 d7:command4:pinge"), "1 d6:result4:ponge");
    let unknown = ng(ng_addr, b"2 d7:command4:frobe");
    assert!(unknown.contains("Unrecognized command"), "{unknown}");
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"no-cookie", ng_addr)
        .unwrap();
    let wanted = [
        "media_edge_ng_requests_total{command=\"ping\",result=\"ok\"} 1",
        "media_edge_ng_requests_total{command=\"unknown\",result=\"error\"} 1",
        "media_edge_ng_requests_total{command=\"offer\",result=\"ok\"} 0",
        "media_edge_ng_dropped_total{reason=\"no-cookie\"} 1",
    ];
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let text = metrics(admin);
        if wanted.iter().all(|line| text.contains(line)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "missing among {wanted:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(edge.stop().success());
}

#[test]
fn ng_off_loopback_needs_clients_and_a_forwarder() {
    let path = config("ng-open.toml", 27_200, "[ng]\nlisten = \"0.0.0.0:2223\"\n");
    let stderr = refused(["check-config", "--config", path.to_str().unwrap()]);
    assert!(
        stderr.contains("ng.listen: 0.0.0.0:2223 is not a loopback address")
            && stderr.contains("ng.clients"),
        "{stderr}"
    );
    let tcp = config(
        "ng-open-tcp.toml",
        27_200,
        "[ng]\nlisten-tcp = \"0.0.0.0:2223\"\n",
    );
    let stderr = refused(["check-config", "--config", tcp.to_str().unwrap()]);
    assert!(stderr.contains("ng.listen-tcp: 0.0.0.0:2223"), "{stderr}");
    let listed = config(
        "ng-clients.toml",
        27_200,
        "[ng]\nlisten = \"0.0.0.0:2223\"\nclients = [\"192.0.2.10\"]\n",
    );
    common::accepted(["check-config", "--config", listed.to_str().unwrap()]);
    let alone = scratch(
        "ng-alone.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
         port-range = \"27300-27309\"\n[ng]\n",
    );
    let stderr = refused(["check-config", "--config", alone.to_str().unwrap()]);
    assert!(stderr.contains("ng: needs a [forward] section"), "{stderr}");
}

#[test]
fn ng_serves_only_its_clients() {
    let (ng_addr, admin) = (free(true), free(false));
    let path = config(
        "ng-clients-only.toml",
        27_400,
        &format!(
            "[ng]\nlisten = \"{ng_addr}\"\nclients = [\"127.0.0.2\"]\n\
             [admin]\nlisten = \"{admin}\"\n"
        ),
    );
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    edge.wait_for(&format!("ng control: udp {ng_addr}"));
    edge.wait_for(&format!("admin listener: http://{admin}"));
    // The listed client is answered.
    let client = UdpSocket::bind("127.0.0.2:0").unwrap();
    client.set_read_timeout(Some(HANG_GUARD)).unwrap();
    client.send_to(b"c d7:command4:pinge", ng_addr).unwrap();
    let mut buf = [0u8; 256];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("the listed client's reply");
    assert_eq!(&buf[..n], b"c d6:result4:ponge");
    // Anyone else is dropped unanswered and counted.
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"s d7:command4:pinge", ng_addr)
        .unwrap();
    let refused_line = "media_edge_ng_dropped_total{reason=\"refused\"} 1";
    let deadline = Instant::now() + HANG_GUARD;
    while !metrics(admin).contains(refused_line) {
        assert!(Instant::now() < deadline, "{}", metrics(admin));
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = metrics(admin);
    assert!(
        text.contains("media_edge_ng_requests_total{command=\"ping\",result=\"ok\"} 1"),
        "{text}"
    );
    assert!(edge.stop().success());
}
