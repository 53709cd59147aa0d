//! Attacks on media-edge's TURN server, in-process on loopback, with real clients:
//!
//! - brute force: the 3rd wrong-password login from 127.0.0.1 (the webrtc-rs `turn` client
//!   over UDP, the raw edge-stun client over TCP) bans the address: its next correct login
//!   gets no answer (over TCP: the connection is closed at accept), a correct login from
//!   127.0.0.2 still allocates and relays, and once the ban is lifted 127.0.0.1 allocates
//!   again. Bans here last ten minutes, far longer than any test, and the test lifts them
//!   itself: their expiry is tested on the sans-IO core's virtual clock
//!   (`crates/turn/tests/guard.rs`), not on wall time;
//! - the relay as a way in: CreatePermission, ChannelBind and Send toward loopback, the
//!   unspecified address, IPv4-mapped and IPv4-compatible loopback, link-local metadata,
//!   private, shared (CGNAT), multicast and broadcast ranges, and the server's own listening
//!   ports are refused (403) by default, and nothing reaches a socket placed there; with an
//!   allow-list admitting those ranges they are allowed, except the server's own ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_turn::Snapshot;

use edge_guard::{Guard, GuardConfig};
use edge_stun::{Class, MessageEncoder, Method, TransactionId};
use edge_suite::turn::EchoPeer;
use edge_suite::turn_client::{RawTurnClient, Refused, Via};
use edge_turn::{ServerConfig, Service, ServiceConfig};

const REALM: &str = "attack.test";
const USER: &str = "alice";
const PASSWORD: &str = "correct-horse";
/// Longer than any test runs, however loaded the machine: the tests lift bans themselves.
const BAN: Duration = Duration::from_secs(600);
/// Hang guard for every wait on an event: far beyond what a loaded machine needs.
const HANG_GUARD: Duration = Duration::from_secs(60);
/// How long a check that expects silence (a banned source, a refused relay) listens. Silence
/// cannot be proven by waiting: this can only miss a late datagram, never fail a correct
/// server; the server's counters are what prove the drop.
const SILENCE: Duration = Duration::from_millis(300);

const FIRST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const SECOND: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// A TURN service on `listen` (UDP and TCP, port chosen by the system), relaying from
/// `relay` on `ports`, with peers in `allow` admitted and `guard` shared with the test.
fn service(
    listen: &str,
    relay: &str,
    ports: std::ops::RangeInclusive<u16>,
    allow: &[&str],
    guard: &Guard,
) -> Service {
    let mut server = ServerConfig::new(REALM, relay.parse().unwrap());
    server.users = vec![(USER.into(), PASSWORD.into())];
    server.nonce_secret = b"attack-test-nonce-secret".to_vec();
    server.port_range = ports.try_into().unwrap();
    server.peer_allow = allow.iter().map(|n| n.parse().unwrap()).collect();
    server.guard = Some(guard.clone());
    let mut config = ServiceConfig::new(server);
    let any: SocketAddr = listen.parse().unwrap();
    config.udp = vec![any];
    config.tcp = vec![any];
    Service::start(config).unwrap()
}

fn ban_guard() -> Guard {
    Guard::new(GuardConfig {
        max_failures: 3,
        ban_duration: BAN,
        ..GuardConfig::default()
    })
    .unwrap()
}

/// Where `local` reaches a listener bound to `bound` (the unspecified address stands for
/// loopback).
fn reach(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => FIRST,
        IpAddr::V6(v6) if v6.is_unspecified() => "::1".parse().unwrap(),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

/// A correct login from `local` over `via` that allocates, binds a channel to an echo peer
/// and gets 20 datagrams back, byte for byte, in order.
fn allocates_and_relays(via: Via, local: IpAddr, server: SocketAddr, echo: &EchoPeer) {
    let mut c = RawTurnClient::connect(via, local, server, USER, PASSWORD).unwrap();
    c.allocate()
        .unwrap_or_else(|e| panic!("{via:?} from {local}: {e:?}"));
    c.channel_bind(0x4000, echo.addr).unwrap();
    for i in 0..20u8 {
        let payload = [i; 100];
        c.send_channel_data(0x4000, &payload).unwrap();
        let got = c.recv_data(HANG_GUARD);
        assert_eq!(
            got.as_deref(),
            Some(&payload[..]),
            "echo {i} over {via:?} from {local}"
        );
    }
}

/// Waits (up to [`HANG_GUARD`]) until the service's published counters satisfy `done`, and
/// returns them.
fn snapshot_when(service: &Service, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let deadline = Instant::now() + HANG_GUARD;
    let mut snapshot = service.snapshot();
    while !done(&snapshot) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        snapshot = service.snapshot();
    }
    snapshot
}

/// A correct login from the banned address gets no answer, and the server counts the drop.
fn gets_no_answer(via: Via, service: &Service, server: SocketAddr) {
    let banned = service.snapshot().banned;
    match RawTurnClient::connect(via, FIRST, server, USER, PASSWORD) {
        // Over TCP the connection may already be gone at connect time: refused either way.
        Err(_) => assert_eq!(via, Via::Tcp),
        Ok(mut c) => {
            c.set_answer_timeout(SILENCE);
            assert_eq!(c.allocate(), Err(Refused::NoAnswer), "{via:?}");
            let snapshot = snapshot_when(service, |s| s.banned > banned);
            assert!(
                snapshot.banned > banned,
                "not dropped as banned: {snapshot:?}"
            );
        }
    }
}

/// Then: banned (no answer), another address served, the first served again once the ban
/// is lifted.
fn ban_holds_then_lifts(via: Via, service: &Service, guard: &Guard) {
    let server = reach(match via {
        Via::Udp => service.local_addrs().udp[0],
        Via::Tcp => service.local_addrs().tcp[0],
    });
    let bans = guard.bans(Instant::now());
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].source, "127.0.0.1/32".parse().unwrap());
    let echo = EchoPeer::start();

    gets_no_answer(via, service, server);
    allocates_and_relays(via, SECOND, server, &echo);
    let snapshot = service.snapshot();
    assert_eq!(snapshot.auth_failures, 3);
    assert!(snapshot.banned >= 1, "{snapshot:?}");

    assert!(guard.lift(Instant::now(), FIRST), "no active ban to lift");
    allocates_and_relays(via, FIRST, server, &echo);
    assert!(guard.bans(Instant::now()).is_empty());
}

#[test]
fn third_bad_login_over_udp_bans_the_address_until_the_ban_is_lifted() {
    let guard = ban_guard();
    let service = service(
        "127.0.0.1:0",
        "127.0.0.1",
        62600..=62619,
        &["127.0.0.0/8"],
        &guard,
    );
    let server = service.local_addrs().udp[0];

    // Three logins of an independent client (webrtc-rs `turn`) with a wrong password, each
    // the full exchange: unsigned Allocate, 401 with a nonce, signed Allocate, 401.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for attempt in 1..=3 {
        let err = runtime.block_on(async {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let client = turn::client::Client::new(turn::client::ClientConfig {
                stun_serv_addr: server.to_string(),
                turn_serv_addr: server.to_string(),
                username: USER.into(),
                password: "wrong-password".into(),
                realm: String::new(),
                software: String::new(),
                // No retransmission unless an answer is 10 s late: a retransmitted signed
                // request would be one more failure.
                rto_in_ms: 10_000,
                conn: Arc::new(socket),
                vnet: None,
            })
            .await
            .unwrap();
            client.listen().await.unwrap();
            let err = match client.allocate().await {
                Ok(_) => panic!("allocated with a wrong password"),
                Err(e) => e.to_string(),
            };
            client.close().await.unwrap();
            err
        });
        assert!(err.contains("401"), "attempt {attempt}: {err}");
        let bans = guard.bans(Instant::now());
        assert_eq!(
            bans.len(),
            usize::from(attempt == 3),
            "after attempt {attempt}"
        );
    }
    ban_holds_then_lifts(Via::Udp, &service, &guard);
    service.shutdown().unwrap();
}

#[test]
fn third_bad_login_over_tcp_bans_the_address_and_its_connections_are_closed() {
    let guard = ban_guard();
    let service = service(
        "127.0.0.1:0",
        "127.0.0.1",
        62620..=62639,
        &["127.0.0.0/8"],
        &guard,
    );
    let server = service.local_addrs().tcp[0];
    let mut bad = RawTurnClient::connect(Via::Tcp, FIRST, server, USER, "wrong-password").unwrap();
    for attempt in 1..=3 {
        assert_eq!(bad.allocate(), Err(Refused::Code(401)), "attempt {attempt}");
    }
    // The connection that failed is closed now, at its next input (this Binding) or within a
    // second by the driver's sweep, whichever comes first: the Binding gets no answer.
    bad.set_answer_timeout(SILENCE);
    assert_eq!(bad.binding(), Err(Refused::NoAnswer));
    ban_holds_then_lifts(Via::Tcp, &service, &guard);
    service.shutdown().unwrap();
}

/// IPv4 peers every TURN server must refuse by default (port filled in per test).
const SPECIAL_V4: &[&str] = &[
    "127.0.0.1",
    "127.0.0.2",
    "0.0.0.0",
    "169.254.169.254",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "224.0.0.1",
    "255.255.255.255",
];
/// IPv6 peers, including IPv4 loopback in its IPv4-mapped and IPv4-compatible forms.
const SPECIAL_V6: &[&str] = &[
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::127.0.0.1",
    "fe80::1",
    "fc00::1",
];
const ALLOW_V4: &[&str] = &[
    "127.0.0.0/8",
    "0.0.0.0/32",
    "169.254.0.0/16",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "224.0.0.0/4",
    "255.255.255.255/32",
];
const ALLOW_V6: &[&str] = &["::1/128", "::/128", "127.0.0.0/8", "fe80::/10", "fc00::/7"];

/// A Binding request: what a Send indication carries toward a trap, so that a TURN
/// listener reached through the relay would answer, and the answer would come back.
fn binding_request() -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    let enc = MessageEncoder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId([0xb1; 12]),
    )
    .unwrap();
    enc.finish();
    buf.truncate(edge_stun::HEADER_LEN);
    buf
}

/// A socket listening where the relay must not reach, on the unspecified address so it
/// catches datagrams to any loopback address (and to the unspecified address) at its port.
struct Trap(UdpSocket);

impl Trap {
    fn bind(any: &str) -> Trap {
        let socket = UdpSocket::bind(any).unwrap();
        socket.set_nonblocking(true).unwrap();
        Trap(socket)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    /// Datagrams that arrived: waits (up to [`HANG_GUARD`]) until `expected` have, then
    /// [`SILENCE`] more for any beyond them.
    fn caught(&self, expected: usize) -> usize {
        let mut buf = [0u8; 2048];
        let mut count = 0;
        let deadline = Instant::now() + HANG_GUARD;
        while count < expected && Instant::now() < deadline {
            match self.0.recv_from(&mut buf) {
                Ok(_) => count += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        std::thread::sleep(SILENCE);
        count + std::iter::from_fn(|| self.0.recv_from(&mut buf).ok()).count()
    }
}

/// Every peer in `hosts` (at the trap's port) and every listener of `service`: CreatePermission,
/// ChannelBind and a Send indication. Returns the hosts the server admitted; asserts the own
/// listeners are refused (403) and nothing came back through them.
fn probe(
    service: &Service,
    client: &mut RawTurnClient,
    hosts: &[&str],
    trap: &Trap,
) -> Vec<String> {
    let addrs = service.local_addrs();
    let own: Vec<SocketAddr> = addrs
        .udp
        .iter()
        .chain(&addrs.tcp)
        .map(|&a| reach(a))
        .collect();
    let mut admitted = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let ip: IpAddr = host.parse().unwrap();
        let peer = SocketAddr::new(ip, trap.port());
        let permit = client.permit(peer);
        let bind = client.channel_bind(0x4000 + i as u16, peer);
        assert_eq!(
            permit, bind,
            "{peer}: CreatePermission and ChannelBind disagree"
        );
        match permit {
            Ok(()) => admitted.push(host.to_string()),
            Err(e) => assert_eq!(e, Refused::Code(403), "{peer}"),
        }
        // Data only toward this host: datagrams to the other ranges would leave loopback.
        let canonical = ip.to_canonical();
        if canonical.is_loopback() || canonical.is_unspecified() {
            client.send_indication(peer, &binding_request()).unwrap();
        }
    }
    let dropped = service.snapshot().dropped;
    for (i, &peer) in own.iter().enumerate() {
        let bind = client.channel_bind(0x4100 + i as u16, peer);
        assert_eq!(
            client.permit(peer),
            Err(Refused::Code(403)),
            "own listener {peer}"
        );
        assert_eq!(bind, Err(Refused::Code(403)), "own listener {peer}");
        // Also with the host's unspecified form of the address.
        let unspecified = SocketAddr::new(
            if peer.is_ipv4() {
                "0.0.0.0".parse().unwrap()
            } else {
                "::".parse().unwrap()
            },
            peer.port(),
        );
        assert_eq!(
            client.permit(unspecified),
            Err(Refused::Code(403)),
            "{unspecified}"
        );
        client.send_indication(peer, &binding_request()).unwrap();
    }
    // The server handles one client's datagrams in order: once these last indications are
    // counted as dropped, every earlier one has been handled (relayed or dropped) too.
    let snapshot = snapshot_when(service, |s| s.dropped >= dropped + own.len() as u64);
    assert!(
        snapshot.dropped >= dropped + own.len() as u64,
        "Send indications toward own listeners are dropped: {snapshot:?}"
    );
    // A Binding request relayed to the server's own UDP listener would be answered to the
    // relay port and come back here as a Data indication: nothing may come back.
    assert_eq!(client.recv_data(SILENCE), None);
    admitted
}

#[test]
fn relaying_toward_special_addresses_and_own_ports_is_refused_by_default() {
    let guard = ban_guard();
    // Listeners on the unspecified address: the server is reachable on every local address.
    let v4 = service("0.0.0.0:0", "127.0.0.1", 62640..=62649, &[], &guard);
    let trap = Trap::bind("0.0.0.0:0");
    let mut c = RawTurnClient::connect(
        Via::Udp,
        FIRST,
        reach(v4.local_addrs().udp[0]),
        USER,
        PASSWORD,
    )
    .unwrap();
    c.allocate().unwrap();
    assert_eq!(probe(&v4, &mut c, SPECIAL_V4, &trap), Vec::<String>::new());
    assert_eq!(trap.caught(0), 0, "a datagram reached a loopback socket");

    let v6 = service("[::1]:0", "::1", 62650..=62659, &[], &guard);
    let trap = Trap::bind("[::]:0");
    let local: IpAddr = "::1".parse().unwrap();
    let mut c =
        RawTurnClient::connect(Via::Udp, local, v6.local_addrs().udp[0], USER, PASSWORD).unwrap();
    c.allocate().unwrap();
    assert_eq!(probe(&v6, &mut c, SPECIAL_V6, &trap), Vec::<String>::new());
    assert_eq!(trap.caught(0), 0, "a datagram reached a loopback socket");
}

#[test]
fn allow_list_admits_special_addresses_but_never_own_ports() {
    let guard = ban_guard();
    let v4 = service("0.0.0.0:0", "127.0.0.1", 62660..=62669, ALLOW_V4, &guard);
    let trap = Trap::bind("0.0.0.0:0");
    let mut c = RawTurnClient::connect(
        Via::Udp,
        FIRST,
        reach(v4.local_addrs().udp[0]),
        USER,
        PASSWORD,
    )
    .unwrap();
    c.allocate().unwrap();
    assert_eq!(probe(&v4, &mut c, SPECIAL_V4, &trap), SPECIAL_V4);
    // Admitted loopback peers are really relayed to: 127.0.0.1, 127.0.0.2 and 0.0.0.0 all
    // reach the trap.
    assert_eq!(trap.caught(3), 3);

    let v6 = service("[::1]:0", "::1", 62670..=62679, ALLOW_V6, &guard);
    let trap = Trap::bind("[::]:0");
    let local: IpAddr = "::1".parse().unwrap();
    let mut c =
        RawTurnClient::connect(Via::Udp, local, v6.local_addrs().udp[0], USER, PASSWORD).unwrap();
    c.allocate().unwrap();
    assert_eq!(probe(&v6, &mut c, SPECIAL_V6, &trap), SPECIAL_V6);
    // ::1 and :: reach the IPv6 trap (the relay socket is IPv6-only, so the IPv4 forms
    // cannot leave it).
    assert_eq!(trap.caught(2), 2);
}
