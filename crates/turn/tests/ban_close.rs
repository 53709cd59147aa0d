//! A ban closes every door, over real loopback sockets: a TCP client relaying ChannelData to
//! a UDP echo peer is disconnected by the server once its address is banned (three wrong
//! passwords on another connection of the same address), its relay port is released and
//! nothing more is relayed; a silent TLS connection holding an allocation is closed by the
//! once-a-second sweep when another service bans its address on the shared guard; a new TLS
//! connection from the banned address is closed at accept (no ServerHello) while 127.0.0.2
//! completes the handshake and allocates. Each close is counted (`banned_closed`) and logged
//! once with the client's address. A UDP client relaying from 127.0.0.1 has its allocation
//! released by the sweep once its address is banned (relay port free, nothing more relayed;
//! `banned_released`, one `allocation closed ... reason=Banned` line) while 127.0.0.2 relays
//! on; on the core's virtual clock, `Server::release_banned` ends only a banned source's UDP
//! allocations. Every wait is bounded (5 s socket timeouts, counted polls).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use edge_guard::{Guard, GuardConfig, Service as GuardService};
use edge_stun::{Attribute, ChannelData, Message, Method};
use edge_turn::{
    ClientAction, CloseReason, Event, FiveTuple, Service, ServiceConfig, Snapshot, TlsListener,
    Transport,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

const FIRST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const SECOND: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const CHANNEL: u16 = 0x4000;
const TIMEOUT: Duration = Duration::from_secs(30);
const CLOSED_LINE: &str = "connection closed: source banned";

/// The "source banned" lines naming `client`.
fn ban_close_lines(client: SocketAddr) -> Vec<String> {
    let text = edge_log_capture::process_log();
    let remote = format!("remote={client} ");
    text.lines()
        .filter(|l| l.contains(CLOSED_LINE) && l.contains(&remote))
        .map(str::to_owned)
        .collect()
}

/// The "allocation closed" lines of a ban naming the UDP client `client`.
fn ban_release_lines(client: SocketAddr) -> Vec<String> {
    let text = edge_log_capture::process_log();
    let tuple = format!("tuple=udp {client} ");
    text.lines()
        .filter(|l| l.contains("allocation closed") && l.contains(&tuple))
        .map(str::to_owned)
        .collect()
}

/// A guard banning for 60 s after 3 failures (loopback is not allow-listed).
fn ban_guard() -> Guard {
    Guard::new(GuardConfig {
        max_failures: 3,
        ban_duration: Duration::from_secs(60),
        ..GuardConfig::default()
    })
    .unwrap()
}

/// A service on loopback relaying from 127.0.0.1 on `ports` to loopback peers, sharing
/// `guard` with the test, with a UDP listener, and a TCP listener or the TLS listener `tls`.
fn service(
    guard: &Guard,
    ports: std::ops::RangeInclusive<u16>,
    tls: Option<TlsListener>,
) -> Service {
    edge_log_capture::install();
    let mut server = config();
    server.relay_address = FIRST;
    server.port_range = ports.try_into().unwrap();
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    server.guard = Some(guard.clone());
    let mut cfg = ServiceConfig::new(server);
    cfg.udp = vec!["127.0.0.1:0".parse().unwrap()];
    match tls {
        Some(tls) => cfg.tls = vec![tls],
        None => cfg.tcp = vec!["127.0.0.1:0".parse().unwrap()],
    }
    Service::start(cfg).unwrap()
}

/// A TCP connection from `local` to `server`, with 5 s timeouts.
fn connect_from(local: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(local, 0).into()).unwrap();
    socket.connect(&server.into()).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// A connected UDP socket read and written as a stream of whole datagrams, so that
/// [`call`], [`allocate`] and [`read_frame`] serve UDP clients too: each write is one
/// datagram, and reads take one received datagram to its end before the next. (UDP
/// ChannelData is not padded: payloads of a multiple of 4 bytes read like stream frames.)
struct Datagrams {
    socket: UdpSocket,
    received: Vec<u8>,
    read: usize,
}

impl Datagrams {
    /// A socket on `local` sending to `server`, with a 5 s read timeout.
    fn connect(local: IpAddr, server: SocketAddr) -> Self {
        let socket = UdpSocket::bind((local, 0)).unwrap();
        socket.connect(server).unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        Self {
            socket,
            received: Vec::new(),
            read: 0,
        }
    }
}

impl Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read == self.received.len() {
            self.received.resize(2048, 0);
            let len = self.socket.recv(&mut self.received)?;
            self.received.truncate(len);
            self.read = 0;
        }
        let n = buf.len().min(self.received.len() - self.read);
        buf[..n].copy_from_slice(&self.received[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}

impl Write for Datagrams {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.socket.send(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads one STUN message or ChannelData frame (its padding dropped) from a stream.
fn read_frame(s: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 4];
    s.read_exact(&mut frame)?;
    let len = usize::from(u16::from_be_bytes([frame[2], frame[3]]));
    let (rest, keep) = if frame[0] >> 6 == 0 {
        (16 + len, 20 + len)
    } else {
        (len.next_multiple_of(4), 4 + len)
    };
    frame.resize(4 + rest, 0);
    s.read_exact(&mut frame[4..])?;
    frame.truncate(keep);
    Ok(frame)
}

/// A request over the stream, retried once with the nonce of a 401/438.
fn call(
    c: &mut Client,
    s: &mut (impl Read + Write),
    method: Method,
    attrs: &[Attribute<'_>],
) -> Vec<u8> {
    for _ in 0..2 {
        s.write_all(&c.request(method, attrs)).unwrap();
        let resp = read_frame(s).unwrap();
        let msg = Message::parse(&resp).unwrap();
        if matches!(error_code(&msg), Some(401 | 438)) && c.nonce.as_deref() != msg.nonce().unwrap()
        {
            c.nonce = msg.nonce().unwrap().map(str::to_owned);
            continue;
        }
        return resp;
    }
    panic!("no answer after a nonce retry");
}

/// Allocates over the stream: the relay port, or the error code.
fn allocate(c: &mut Client, s: &mut (impl Read + Write)) -> Result<u16, u16> {
    let resp = call(c, s, Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    let msg = Message::parse(&resp).unwrap();
    match error_code(&msg) {
        Some(code) => Err(code),
        None => Ok(msg.xor_relayed_address().unwrap().unwrap().port()),
    }
}

/// Allocates over `s` and binds [`CHANNEL`] to `peer`: the relay port.
fn relay_to(c: &mut Client, s: &mut (impl Read + Write), peer: SocketAddr) -> u16 {
    let port = allocate(c, s).unwrap();
    let bind = [
        Attribute::ChannelNumber(CHANNEL),
        Attribute::XorPeerAddress(peer),
    ];
    assert_eq!(code_of(&call(c, s, Method::CHANNEL_BIND, &bind)), None);
    port
}

/// One round trip on [`CHANNEL`]: `payload` sent over `s` reaches the echo `peer` from relay
/// port `relay`, and the peer's echo comes back to the client.
fn relay_round(s: &mut (impl Read + Write), peer: &UdpSocket, relay: u16, payload: &[u8]) {
    s.write_all(&channel_data(CHANNEL, payload)).unwrap();
    let mut buf = [0u8; 2048];
    let (len, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((from.port(), &buf[..len]), (relay, payload), "at the peer");
    peer.send_to(&buf[..len], from).unwrap();
    let frame = read_frame(s).unwrap();
    let cd = ChannelData::parse(&frame).unwrap();
    assert_eq!((cd.number(), cd.payload()), (CHANNEL, payload), "back");
}

/// A client of the test's credentials (the tuple is unused over real sockets).
fn client(password: &str) -> Client {
    Client::new(udp_tuple("127.0.0.1:1"), USER, password)
}

/// The server closed `s`: end of stream or a reset, with nothing else before it.
fn assert_closed_by_server(s: &mut impl Read, what: &str) {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: {n} more bytes instead of the close"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ),
            "{what}: not closed by the server: {e}"
        ),
    }
}

/// The snapshot once `done` holds (published once per loop iteration), polled at most 500
/// times 10 ms apart.
fn snapshot_when(svc: &Service, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let mut snap = svc.snapshot();
    for _ in 0..500 {
        if done(&snap) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        snap = svc.snapshot();
    }
    snap
}

fn relay_port_in_use(port: u16) -> bool {
    UdpSocket::bind((FIRST, port)).is_err()
}

#[test]
fn a_ban_closes_the_banned_sources_open_tcp_connection_and_frees_its_relay_port() {
    let guard = ban_guard();
    let svc = service(&guard, 64560..=64569, None);
    let server = svc.local_addrs().tcp[0];
    let peer = UdpSocket::bind((FIRST, 0)).unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();

    // A relays ChannelData to the echo peer and back.
    let mut a = connect_from(FIRST, server);
    // Taken now: a socket the peer closed may have lost its port.
    let a_local = a.local_addr().unwrap();
    let port = relay_to(&mut client(PASS), &mut a, peer.local_addr().unwrap());
    for i in 0..3u8 {
        relay_round(&mut a, &peer, port, &[i; 100]);
    }
    assert!(
        relay_port_in_use(port),
        "the allocation holds its relay port"
    );

    // B, from the same address, fails three logins: the address is banned.
    let mut b = connect_from(FIRST, server);
    let b_local = b.local_addr().unwrap();
    let mut cb = client("not-the-password");
    for attempt in 1..=3 {
        assert_eq!(allocate(&mut cb, &mut b), Err(401), "attempt {attempt}");
    }
    let bans = guard.bans(Instant::now());
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].source, "127.0.0.1/32".parse().unwrap());

    // A's next frame closes A instead of being relayed; its allocation goes with it.
    a.write_all(&channel_data(CHANNEL, &[9; 100])).unwrap();
    assert_closed_by_server(&mut a, "A after the ban");
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        peer.recv_from(&mut [0u8; 2048]).is_err(),
        "relayed after the ban"
    );
    assert!(!relay_port_in_use(port), "relay port {port} still open");
    // B, silent since its last failure, is closed by the sweep.
    assert_closed_by_server(&mut b, "B after the ban");

    let snap = snapshot_when(&svc, |s| s.banned_closed == 2 && s.allocations == 0);
    assert_eq!(
        (snap.banned_closed, snap.connections, snap.allocations),
        (2, 0, 0)
    );
    assert_eq!(
        (snap.to_peers, snap.to_clients),
        (3, 3),
        "nothing relayed after the ban"
    );
    for local in [a_local, b_local] {
        assert_eq!(ban_close_lines(local).len(), 1, "one log line for {local}");
    }
    svc.shutdown().unwrap();
}

/// A self-signed certificate for `localhost` in PEM files, removed on drop.
struct CertFiles {
    dir: PathBuf,
    der: CertificateDer<'static>,
}

impl CertFiles {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("edge-turn-ban-close-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.join("cert.pem"), c.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), c.signing_key.serialize_pem()).unwrap();
        Self {
            dir,
            der: c.cert.der().clone(),
        }
    }

    fn listener(&self) -> TlsListener {
        TlsListener {
            addr: "127.0.0.1:0".parse().unwrap(),
            certificate: self.dir.join("cert.pem"),
            private_key: self.dir.join("key.pem"),
        }
    }

    /// A TLS session to `localhost`, trusting only this certificate.
    fn client_session(&self) -> ClientConnection {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        ClientConnection::new(Arc::new(config), name).unwrap()
    }

    /// A completed TLS handshake from `local` to `server`.
    fn connect(
        &self,
        local: IpAddr,
        server: SocketAddr,
    ) -> StreamOwned<ClientConnection, TcpStream> {
        let mut tls = StreamOwned::new(self.client_session(), connect_from(local, server));
        for _ in 0..10 {
            if !tls.conn.is_handshaking() {
                return tls;
            }
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        panic!("TLS handshake from {local} did not complete");
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn over_tls_a_ban_closes_the_silent_connection_and_later_ones_at_accept() {
    let guard = ban_guard();
    let certs = CertFiles::new();
    let svc = service(&guard, 64570..=64579, Some(certs.listener()));
    let server = svc.local_addrs().tls[0];

    // Before the ban, 127.0.0.1 allocates over TLS, then falls silent.
    let mut early = certs.connect(FIRST, server);
    let early_local = early.sock.local_addr().unwrap();
    let port = allocate(&mut client(PASS), &mut early).unwrap();
    assert!(
        relay_port_in_use(port),
        "the allocation holds its relay port"
    );

    // Another service of the process (the control API, say) bans 127.0.0.1 on the shared
    // guard: the silent connection is closed by the sweep, its relay port released.
    for _ in 0..3 {
        let _ = guard.record_failure(Instant::now(), FIRST, GuardService::Api, "bad-token", None);
    }
    assert_eq!(guard.bans(Instant::now()).len(), 1);
    assert_closed_by_server(&mut early, "the silent TLS connection after the ban");
    assert!(!relay_port_in_use(port), "relay port {port} still open");

    // A new connection from the banned address is closed at accept: its ClientHello gets
    // no ServerHello, not a single byte.
    let mut banned = connect_from(FIRST, server);
    let mut hello = Vec::new();
    certs.client_session().write_tls(&mut hello).unwrap();
    // The server may have closed the connection before the hello: a refused write is fine.
    let _ = banned.write_all(&hello);
    assert_closed_by_server(&mut banned, "a new TLS connection from the banned address");

    // Another address completes the handshake and allocates.
    let mut other = certs.connect(SECOND, server);
    let other_port = allocate(&mut client(PASS), &mut other).unwrap();
    assert!(relay_port_in_use(other_port));

    let snap = snapshot_when(&svc, |s| s.allocations == 1 && s.banned_closed == 1);
    assert_eq!((snap.allocations, snap.connections), (1, 1));
    assert_eq!(snap.banned_closed, 1, "the accept refusal is not a close");
    assert!(snap.banned >= 1, "the accept refusal: {snap:?}");
    let lines = ban_close_lines(early_local);
    assert_eq!(lines.len(), 1, "one log line for {early_local}");
    assert!(lines[0].contains("transport=tls"), "{}", lines[0]);
    drop(other);
    svc.shutdown().unwrap();
}

#[test]
fn a_ban_releases_the_banned_sources_udp_allocation_while_others_relay_on() {
    let guard = ban_guard();
    let svc = service(&guard, 64580..=64589, None);
    let server = svc.local_addrs().udp[0];
    let peer = UdpSocket::bind((FIRST, 0)).unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let peer_addr = peer.local_addr().unwrap();

    // A (127.0.0.1) and B (127.0.0.2) relay ChannelData over UDP to the echo peer and back.
    let mut a = Datagrams::connect(FIRST, server);
    let a_local = a.socket.local_addr().unwrap();
    let a_port = relay_to(&mut client(PASS), &mut a, peer_addr);
    let mut b = Datagrams::connect(SECOND, server);
    let b_local = b.socket.local_addr().unwrap();
    let b_port = relay_to(&mut client(PASS), &mut b, peer_addr);
    for i in 0..3u8 {
        relay_round(&mut a, &peer, a_port, &[i; 100]);
        relay_round(&mut b, &peer, b_port, &[i + 10; 100]);
    }
    assert!(
        relay_port_in_use(a_port),
        "the allocation holds its relay port"
    );

    // Another socket of 127.0.0.1 fails three logins: the address is banned. A sends nothing
    // the guard sees (no request), yet its allocation is released by the sweep.
    let mut bad = Datagrams::connect(FIRST, server);
    let mut cbad = client("not-the-password");
    for attempt in 1..=3 {
        assert_eq!(allocate(&mut cbad, &mut bad), Err(401), "attempt {attempt}");
    }
    let bans = guard.bans(Instant::now());
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].source, "127.0.0.1/32".parse().unwrap());
    let snap = snapshot_when(&svc, |s| s.banned_released == 1);
    assert_eq!(
        (snap.banned_released, snap.allocations, snap.banned_closed),
        (1, 1, 0),
        "A released, B kept"
    );
    assert!(!relay_port_in_use(a_port), "relay port {a_port} still open");

    // A's ChannelData is relayed no more; B's still is, both ways.
    a.write_all(&channel_data(CHANNEL, &[99; 100])).unwrap();
    relay_round(&mut b, &peer, b_port, &[42; 100]);
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    if let Ok((_, from)) = peer.recv_from(&mut [0u8; 2048]) {
        panic!("relayed after the release, from {from}");
    }
    let snap = snapshot_when(&svc, |s| s.to_clients == 7);
    assert_eq!(
        (snap.to_peers, snap.to_clients),
        (7, 7),
        "3 + 3 rounds before the ban, 1 of B's after"
    );

    let lines = ban_release_lines(a_local);
    assert_eq!(lines.len(), 1, "one log line for {a_local}: {lines:?}");
    assert!(
        lines[0].contains(&format!("relay={FIRST}:{a_port} reason=Banned")),
        "{}",
        lines[0]
    );
    assert!(ban_release_lines(b_local).is_empty());
    svc.shutdown().unwrap();
}

/// On the core's virtual clock: `release_banned` ends the UDP allocations of a source banned
/// after they were created, through the normal close (event, relay port, channels), and no
/// other: not another source's, not a TCP allocation (the driver closes its connection).
#[test]
fn release_banned_ends_only_the_banned_sources_udp_allocations() {
    let guard = ban_guard();
    let mut cfg = config();
    cfg.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    cfg.guard = Some(guard.clone());
    let mut h = Harness::new(cfg);
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let tcp = FiveTuple {
        transport: Transport::Tcp,
        ..udp_tuple("127.0.0.1:5001")
    };
    let mut clients = [
        Client::new(udp_tuple("127.0.0.1:5000"), USER, PASS),
        Client::new(udp_tuple("127.0.0.2:5000"), USER, PASS),
        Client::new(tcp, USER, PASS),
    ];
    let bind = [
        Attribute::ChannelNumber(CHANNEL),
        Attribute::XorPeerAddress(peer),
    ];
    let mut ports = Vec::new();
    for c in &mut clients {
        ports.push(c.allocate(&mut h).unwrap());
        assert_eq!(code_of(&c.call(&mut h, Method::CHANNEL_BIND, &bind)), None);
    }
    while h.server.poll_event().is_some() {}
    let [a, b, _] = clients.map(|c| c.tuple);
    let data = channel_data(CHANNEL, b"media");
    assert_eq!(h.release_banned(), 0, "no ban yet");

    for _ in 0..3 {
        guard.record_failure(h.now, FIRST, GuardService::Api, "bad-token", None);
    }
    assert_eq!(h.release_banned(), 1);
    let closed = h.server.poll_event();
    assert!(
        matches!(
            closed,
            Some(Event::AllocationClosed {
                tuple,
                relay,
                reason: CloseReason::Banned,
                ..
            }) if tuple == a && relay == SocketAddr::new("192.0.2.10".parse().unwrap(), ports[0])
        ),
        "{closed:?}"
    );
    assert_eq!(h.server.poll_event(), None);
    assert_eq!(h.relays.open, BTreeSet::from([ports[1], ports[2]]));
    assert_eq!(
        (h.server.allocations(), h.server.stats().banned_released),
        (2, 1)
    );
    // Nothing of A's is relayed either way; B's still is.
    assert_eq!(h.input(a, &data).0, ClientAction::None);
    assert!(h.peer_datagram(ports[0], peer, b"media").is_none());
    assert!(matches!(h.input(b, &data).0, ClientAction::Relay { port, .. } if port == ports[1]));
    assert_eq!(h.release_banned(), 0);

    // A ban started later is acted on at the next call.
    for _ in 0..3 {
        guard.record_failure(h.now, SECOND, GuardService::Api, "bad-token", None);
    }
    assert_eq!(h.release_banned(), 1);
    assert_eq!(h.relays.open, BTreeSet::from([ports[2]]));
    assert_eq!(h.server.stats().banned_released, 2);
}
