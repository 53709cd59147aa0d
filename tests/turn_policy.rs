//! Policy through the running media-edge binary: the peer filter (secure by default, allowed
//! when configured), per-user quota (486), port range exhaustion (508), and relay ports
//! released on refresh-to-zero and on expiry, counted in the kernel's socket table.
//!
//! Nothing here depends on how fast the machine is: every answer is waited for with a
//! generous hang guard, and the expiry test shortens lifetimes only after it has checked what
//! must hold before them (the timing of expiry itself is tested on the sans-IO core's virtual
//! clock, in `crates/turn/tests/allocation.rs`).
//!
//! The client here is the suite's raw TURN client (tests/support/turn_client.rs): it only
//! sends CreatePermission toward the special addresses, never data, so nothing leaves
//! loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use edge_stun::{Attribute, Message, Method};
use edge_suite::turn::{EchoPeer, TurnOptions, TurnServer, PASSWORD, USER};
use edge_suite::turn_client::{RawTurnClient, Refused, Via};

/// Hang guard for every wait: far beyond what a loaded machine needs, only there so that a
/// broken server fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The suite's raw TURN client from the loopback address of the server's family, with the
/// error codes as plain numbers; no answer within the hang guard fails the test.
struct StunClient(RawTurnClient);

impl StunClient {
    fn new(server: SocketAddr) -> Self {
        let local: IpAddr = if server.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        let mut c = RawTurnClient::connect(Via::Udp, local, server, USER, PASSWORD).unwrap();
        c.set_answer_timeout(HANG_GUARD);
        Self(c)
    }

    /// Sends a request (signed once a nonce is known, retried once on 401/438) and returns
    /// the error code of the response, if any.
    fn request(&mut self, method: Method, attrs: &[Attribute<'_>]) -> Result<Vec<u8>, u16> {
        match self.0.request(method, attrs) {
            Ok(resp) => Ok(resp),
            Err(Refused::Code(code)) => Err(code),
            Err(Refused::NoAnswer) => panic!("no (verified) answer to {method:?}"),
        }
    }

    fn allocate(&mut self) -> Result<SocketAddr, u16> {
        self.allocate_with(&[Attribute::RequestedTransport(17)])
    }

    /// An allocation asking for `lifetime` seconds.
    fn allocate_for(&mut self, lifetime: u32) -> Result<SocketAddr, u16> {
        self.allocate_with(&[
            Attribute::RequestedTransport(17),
            Attribute::Lifetime(lifetime),
        ])
    }

    fn allocate_with(&mut self, attrs: &[Attribute<'_>]) -> Result<SocketAddr, u16> {
        let resp = self.request(Method::ALLOCATE, attrs)?;
        Ok(Message::parse(&resp)
            .unwrap()
            .xor_relayed_address()
            .unwrap()
            .unwrap())
    }

    fn permit(&mut self, peer: &str) -> Result<(), u16> {
        let peer: SocketAddr = peer.parse().unwrap();
        self.request(
            Method::CREATE_PERMISSION,
            &[Attribute::XorPeerAddress(peer)],
        )
        .map(drop)
    }

    fn refresh(&mut self, lifetime: u32) -> Result<(), u16> {
        self.request(Method::REFRESH, &[Attribute::Lifetime(lifetime)])
            .map(drop)
    }
}

const SPECIAL_V4: &[&str] = &[
    "127.0.0.1:9",
    "0.0.0.0:9",
    "169.254.169.254:80",
    "10.0.0.1:9",
];
const SPECIAL_V6: &[&str] = &["[::1]:9", "[::ffff:127.0.0.1]:9"];

#[test]
fn special_peers_are_refused_by_default() {
    let v4 = TurnServer::start(&TurnOptions::new(64000..=64009));
    let mut c = StunClient::new(v4.udp);
    c.allocate().unwrap();
    for peer in SPECIAL_V4 {
        assert_eq!(c.permit(peer), Err(403), "{peer}");
    }
    let mut options = TurnOptions::new(64010..=64019);
    options.address = "::1";
    options.streams = false;
    let v6 = TurnServer::start(&options);
    let mut c = StunClient::new(v6.udp);
    c.allocate().unwrap();
    for peer in SPECIAL_V6 {
        assert_eq!(c.permit(peer), Err(403), "{peer}");
    }
}

#[test]
fn special_peers_are_allowed_when_configured() {
    let mut options = TurnOptions::new(64020..=64029);
    options.allow = vec!["127.0.0.0/8", "0.0.0.0/32", "169.254.0.0/16", "10.0.0.0/8"];
    let v4 = TurnServer::start(&options);
    let mut c = StunClient::new(v4.udp);
    c.allocate().unwrap();
    for peer in SPECIAL_V4 {
        assert_eq!(c.permit(peer), Ok(()), "{peer}");
    }
    let mut options = TurnOptions::new(64030..=64039);
    options.address = "::1";
    options.streams = false;
    options.allow = vec!["::1/128", "127.0.0.0/8"];
    let v6 = TurnServer::start(&options);
    let mut c = StunClient::new(v6.udp);
    c.allocate().unwrap();
    for peer in SPECIAL_V6 {
        assert_eq!(c.permit(peer), Ok(()), "{peer}");
    }
}

#[test]
fn allowed_loopback_peer_is_actually_relayed_to() {
    let mut options = TurnOptions::new(64040..=64049);
    options.allow = vec!["127.0.0.1/32"];
    options.deny = vec!["127.0.0.2/32"];
    let server = TurnServer::start(&options);
    let echo = EchoPeer::start();
    let mut c = StunClient::new(server.udp);
    c.allocate().unwrap();
    assert_eq!(c.permit("127.0.0.2:9"), Err(403), "deny-list wins");
    c.permit(&echo.addr.to_string()).unwrap();
    // A Send indication to the echo peer comes back as a Data indication.
    c.0.send_indication(echo.addr, b"through the relay")
        .unwrap();
    let mut resp = [0u8; 1500];
    let n = c.0.udp_socket().unwrap().recv(&mut resp).unwrap();
    let msg = Message::parse(&resp[..n]).unwrap();
    assert_eq!(msg.method(), Method::DATA);
    assert_eq!(msg.xor_peer_address().unwrap(), Some(echo.addr));
    assert_eq!(msg.data().unwrap(), Some(&b"through the relay"[..]));
    assert_eq!(echo.echoed(), 1);
}

#[test]
fn user_quota_gives_486() {
    let ports = 64100..=64119;
    let mut options = TurnOptions::new(ports.clone());
    options.user_quota = 3;
    let server = TurnServer::start(&options);
    let mut clients: Vec<StunClient> = (0..4).map(|_| StunClient::new(server.udp)).collect();
    for c in &mut clients[..3] {
        c.allocate().unwrap();
    }
    assert_eq!(clients[3].allocate(), Err(486));
    assert_eq!(server.relay_ports_open(&ports), 3);
    // Releasing one makes room again.
    clients[0].refresh(0).unwrap();
    clients[3].allocate().unwrap();
    assert_eq!(server.relay_ports_open(&ports), 3);
}

#[test]
fn exhausted_port_range_gives_508_and_refresh_to_zero_releases() {
    let ports = 64200..=64203;
    let server = TurnServer::start(&TurnOptions::new(ports.clone()));
    let mut clients: Vec<StunClient> = (0..5).map(|_| StunClient::new(server.udp)).collect();
    let mut relayed: Vec<u16> = clients[..4]
        .iter_mut()
        .map(|c| c.allocate().unwrap().port())
        .collect();
    relayed.sort_unstable();
    assert_eq!(relayed, ports.clone().collect::<Vec<_>>());
    assert_eq!(server.relay_ports_open(&ports), 4);
    assert_eq!(clients[4].allocate(), Err(508));
    for (i, c) in clients[..4].iter_mut().enumerate() {
        c.refresh(0).unwrap();
        assert_eq!(
            server.relay_ports_open(&ports),
            3 - i,
            "after releasing {}",
            i + 1
        );
    }
    clients[4].allocate().unwrap();
    assert_eq!(server.relay_ports_open(&ports), 1);
}

#[test]
fn expiry_releases_ports() {
    let ports = 64300..=64309;
    let mut options = TurnOptions::new(ports.clone());
    // A lifetime asked for is granted within [1 s, 600 s].
    options.lifetimes = (1, 600);
    let server = TurnServer::start(&options);
    let mut clients: Vec<StunClient> = (0..3).map(|_| StunClient::new(server.udp)).collect();
    // Ten minutes each: the ports are certainly still held when counted.
    for c in &mut clients {
        c.allocate_for(600).unwrap();
    }
    assert_eq!(server.relay_ports_open(&ports), 3);
    // Then one second each: they expire, however long that takes to happen.
    for c in &mut clients {
        c.refresh(1).unwrap();
    }
    let expired = |server: &TurnServer| server.log().matches("reason=Expired").count();
    let deadline = Instant::now() + HANG_GUARD;
    while (server.relay_ports_open(&ports) > 0 || expired(&server) < 3) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        server.relay_ports_open(&ports),
        0,
        "expired allocations keep ports open"
    );
    assert_eq!(expired(&server), 3, "{}", server.log());
    // An expired allocation is gone: refreshing it is 437.
    assert_eq!(clients[0].refresh(600), Err(437));
}
