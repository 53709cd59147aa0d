//! coturn's own client against media-edge: `turnutils_uclient` allocates through media-edge
//! over UDP, TCP and TLS, with long-term and TURN REST credentials, binds channels and
//! exchanges messages with `turnutils_peer` echoing; every run must complete with every
//! message echoed and zero lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use edge_suite::turn::{
    coturn_peer, free_udp_port, uclient, TurnOptions, TurnServer, PASSWORD, SHARED_SECRET, USER,
};

const CLIENTS: u64 = 4;
const MESSAGES: u64 = 200;

#[derive(Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

#[derive(Clone, Copy)]
enum Credentials {
    LongTerm,
    Rest,
}

fn run(transport: Transport, credentials: Credentials, ports: std::ops::RangeInclusive<u16>) {
    let server = TurnServer::start(&TurnOptions::loopback_peers(ports));
    let peer_port = free_udp_port();
    let _peer = coturn_peer(peer_port);
    let (flags, port): (&[&str], u16) = match transport {
        Transport::Udp => (&[], server.udp.port()),
        Transport::Tcp => (&["-t"], server.tcp.unwrap().port()),
        Transport::Tls => (&["-t", "-S"], server.tls.unwrap().port()),
    };
    let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    match credentials {
        Credentials::LongTerm => args.extend(["-u", USER, "-w", PASSWORD].map(String::from)),
        Credentials::Rest => {
            args.extend(["-W", SHARED_SECRET, "-u", "rest-user"].map(String::from))
        }
    }
    args.extend(
        [
            "-p",
            &port.to_string(),
            "-e",
            "127.0.0.1",
            "-r",
            &peer_port.to_string(),
            "-m",
            &CLIENTS.to_string(),
            "-n",
            &MESSAGES.to_string(),
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
    let context = format!(
        "uclient {args:?}\n{}\n--- media-edge log ---\n{}",
        report.output,
        server.log()
    );
    assert!(report.success, "uclient failed: {context}");
    assert_eq!(report.sent, CLIENTS * MESSAGES, "messages sent: {context}");
    assert_eq!(
        report.received,
        CLIENTS * MESSAGES,
        "messages echoed: {context}"
    );
    assert_eq!(report.lost, 0, "lost packets: {context}");
    assert_eq!(report.send_dropped, 0, "send dropped: {context}");
}

#[test]
fn udp_long_term_credentials() {
    run(Transport::Udp, Credentials::LongTerm, 63000..=63099);
}

#[test]
fn udp_rest_shared_secret() {
    run(Transport::Udp, Credentials::Rest, 63100..=63199);
}

#[test]
fn tcp_long_term_credentials() {
    run(Transport::Tcp, Credentials::LongTerm, 63200..=63299);
}

#[test]
fn tcp_rest_shared_secret() {
    run(Transport::Tcp, Credentials::Rest, 63300..=63399);
}

#[test]
fn tls_long_term_credentials() {
    run(Transport::Tls, Credentials::LongTerm, 63400..=63499);
}

#[test]
fn tls_rest_shared_secret() {
    run(Transport::Tls, Credentials::Rest, 63500..=63599);
}

/// A wrong password relays nothing, opens no port, and (since issue #6) uclient's repeated
/// wrong logins ban its address: uclient keeps retrying into silence, so it is stopped once
/// the ban is logged.
#[test]
fn wrong_password_allocates_nothing_and_bans_the_source() {
    let ports = 63600..=63609;
    let server = TurnServer::start(&TurnOptions::loopback_peers(ports.clone()));
    let peer_port = free_udp_port();
    let _peer = coturn_peer(peer_port);
    let args: Vec<String> = [
        "-u",
        USER,
        "-w",
        "wrong-password",
        "-p",
        &server.udp.port().to_string(),
        "-e",
        "127.0.0.1",
        "-r",
        &peer_port.to_string(),
        "-m",
        "1",
        "-n",
        "10",
        "-z",
        "5",
        "-l",
        "120",
        "-c",
        "-X",
        "127.0.0.1",
    ]
    .map(String::from)
    .to_vec();
    let uclient = std::process::Command::new(edge_suite::require_program("turnutils_uclient"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _uclient = edge_suite::turn::ChildGuard(uclient);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server
        .log()
        .contains("ban source=127.0.0.1/32 service=turn")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = server.log();
    assert!(
        log.contains("ban source=127.0.0.1/32 service=turn failures=3"),
        "{log}"
    );
    assert_eq!(
        log.matches(r#"reason="bad-integrity" user="user""#).count(),
        3,
        "{log}"
    );
    assert_eq!(server.relay_ports_open(&ports), 0, "no relay port opened");
    assert!(!log.contains("allocation created"), "{log}");
}
