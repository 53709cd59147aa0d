//! Malformed input on every listener leaves media-edge serving normal clients: random
//! datagrams, truncated STUN and ChannelData headers, lying lengths and oversized frames on
//! UDP, TCP and TLS, and junk sent to the relay ports of live allocations from a peer without
//! a permission. That junk is dropped, not relayed (the first thing each allocation relays
//! afterwards is its own echo, which queued behind the junk on the same relay socket), the
//! allocations keep their ports and keep relaying; coturn's `turnutils_uclient` (UDP and TCP)
//! still completes with zero loss, and the process is alive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use edge_suite::srtp::Rng;
use edge_suite::turn::{
    coturn_peer, free_udp_port, uclient, EchoPeer, TurnOptions, TurnServer, PASSWORD, USER,
};
use edge_suite::turn_client::{RawTurnClient, Via};

/// Where the junk for relay ports comes from: a loopback address no allocation gave a
/// permission to (permissions are per IP address, and the echo peers live on 127.0.0.1).
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
/// Allocations alive during the storm.
const LIVE: usize = 3;
/// Hang guard for the echoes: far beyond what a loaded machine needs.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Inputs that are wrong in the ways a parser can be fooled.
fn nasty_inputs(rng: &mut Rng) -> Vec<Vec<u8>> {
    let stun_header = |typ: u16, len: u16| {
        let mut h = typ.to_be_bytes().to_vec();
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&0x2112_A442u32.to_be_bytes());
        h.extend_from_slice(&[7; 12]);
        h
    };
    let mut inputs = vec![
        vec![],
        vec![0x00],
        vec![0x40, 0x00],
        stun_header(0x0003, 0)[..19].to_vec(),
        stun_header(0x0003, 65532),
        stun_header(0x0003, 3),
        stun_header(0x0001, 8)
            .into_iter()
            .chain([0x00, 0x20, 0xff, 0xff, 1, 2, 3, 4])
            .collect(),
        stun_header(0x0009, 4)
            .into_iter()
            .chain([0x00, 0x0c, 0x00, 0x00])
            .collect(),
        vec![0x40, 0x00, 0xff, 0xff, 1, 2, 3],
        vec![0x7f, 0xff, 0x00, 0x04, 1],
        vec![0x4f, 0xff, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0],
    ];
    for len in [1, 3, 20, 21, 100, 548, 1500, 9000, 65507] {
        let mut v = vec![0u8; len];
        rng.fill(&mut v);
        inputs.push(v.clone());
        // The same with a STUN-looking first byte and with a ChannelData-looking one.
        v[0] = 0x00;
        inputs.push(v.clone());
        v[0] = 0x41;
        inputs.push(v);
    }
    inputs
}

fn flood_udp(from: IpAddr, to: SocketAddr, inputs: &[Vec<u8>]) {
    let socket = UdpSocket::bind((from, 0)).unwrap();
    for _ in 0..20 {
        for input in inputs {
            let _ = socket.send_to(input, to);
        }
    }
}

fn flood_tcp(to: SocketAddr, inputs: &[Vec<u8>]) {
    for input in inputs {
        // Each garbage stream on its own connection: the server closes it or waits for more.
        if let Ok(mut stream) = TcpStream::connect(to) {
            let _ = stream.write_all(input);
        }
    }
}

fn flood_tls(to: SocketAddr, inputs: &[Vec<u8>]) {
    // Garbage instead of a handshake.
    flood_tcp(to, inputs);
    // Garbage inside a real TLS session: openssl does the handshake, then sends the bytes.
    for input in inputs.iter().take(12) {
        let mut child = Command::new(edge_suite::require_program("openssl"))
            .args([
                "s_client",
                "-quiet",
                "-no_ign_eof",
                "-connect",
                &to.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input);
        }
        let _ = child.wait();
    }
}

fn uclient_round(server: &TurnServer, peer_port: u16, tcp: bool) {
    let port = if tcp { server.tcp.unwrap() } else { server.udp }.port();
    let mut args: Vec<String> = if tcp { vec!["-t".into()] } else { vec![] };
    args.extend(
        [
            "-u",
            USER,
            "-w",
            PASSWORD,
            "-p",
            &port.to_string(),
            "-e",
            "127.0.0.1",
            "-r",
            &peer_port.to_string(),
            "-m",
            "2",
            "-n",
            "100",
            "-z",
            "5",
            "-l",
            "120",
            "-c",
            "-X",
            "127.0.0.1",
        ]
        .map(String::from),
    );
    let report = uclient(&args, Duration::from_secs(60));
    assert_eq!(report.received, 200, "{}\n{}", report.output, server.log());
    assert_eq!(report.lost, 0, "{}", report.output);
}

#[test]
fn every_listener_survives_garbage_and_keeps_serving() {
    let ports = 64400..=64419;
    let mut server = TurnServer::start(&TurnOptions::loopback_peers(ports.clone()));
    let peer_port = free_udp_port();
    let _peer = coturn_peer(peer_port);
    let mut rng = Rng::new(0x7e57);
    let inputs = nasty_inputs(&mut rng);

    // A client with an allocation before the storm must still be served after it.
    uclient_round(&server, peer_port, false);

    // Allocations that live through the storm, each with a channel to an echo peer.
    let echo = EchoPeer::start();
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut live: Vec<(RawTurnClient, SocketAddr)> = (0..LIVE)
        .map(|_| {
            let mut c =
                RawTurnClient::connect(Via::Udp, localhost, server.udp, USER, PASSWORD).unwrap();
            let relayed = c.allocate().unwrap();
            c.channel_bind(0x4000, echo.addr).unwrap();
            (c, relayed)
        })
        .collect();
    let held = server.relay_ports_open(&ports);
    assert!(held >= LIVE, "{held} relay ports held");

    flood_udp(localhost, server.udp, &inputs);
    flood_tcp(server.tcp.unwrap(), &inputs);
    flood_tls(server.tls.unwrap(), &inputs);
    // Every relay port, the live ones among them, from a peer without a permission.
    for port in ports.clone() {
        flood_udp(
            STRANGER.into(),
            SocketAddr::from(([127, 0, 0, 1], port)),
            &inputs,
        );
    }
    assert!(server.is_running(), "media-edge died:\n{}", server.log());

    // The junk reached live relay ports, was dropped there, and the allocations survived:
    // the first payload each relays now is its own echo, which queued behind the junk.
    assert_eq!(server.relay_ports_open(&ports), held, "relay ports lost");
    assert!(live
        .iter()
        .all(|(_, relayed)| ports.contains(&relayed.port())));
    for (i, (c, relayed)) in live.iter_mut().enumerate() {
        let marker = format!("after the storm, allocation {i}");
        c.send_channel_data(0x4000, marker.as_bytes()).unwrap();
        assert_eq!(
            c.recv_data(HANG_GUARD).as_deref(),
            Some(marker.as_bytes()),
            "what {relayed} relayed first after the storm"
        );
    }

    uclient_round(&server, peer_port, false);
    uclient_round(&server, peer_port, true);
    assert!(server.is_running());
    assert!(!server.log().contains("panicked"), "{}", server.log());
    assert!(server.terminate(), "clean exit after the storm");
}
