//! The XDP fast path on a real link: two network namespaces made by each test, joined by a
//! veth pair with checksum offload off; media-edge's TURN service in the "edge" namespace
//! with the program attached natively to its end, an `xdp_pass` program on the other end
//! (native XDP on veth delivers what it transmits only then); clients and peers in the
//! "outside" namespace (client 198.18.99.2, peer 198.18.99.3, server 198.18.99.1).
//!
//! - coturn's `turnutils_uclient` through it (from 198.18.99.4, its own address): every
//!   message echoed, none lost, the relaying done by the kernel path (its counters), not by
//!   userspace; and each allocation's record (the `allocation closed` line) counts what the
//!   kernel relayed for it, so the records add up to the service's totals.
//! - A Refresh moves the channel's end in the maps (the kernel relays past the allocation's
//!   first lifetime), and deleting the allocation takes it out at once (the next ChannelData
//!   is seen by userspace, which drops it); the record counts both paths' datagrams.
//! - A raw client: payloads of many lengths relayed both ways byte for byte through the
//!   kernel; the allocation's expiry and a ban (three failed logins from the client's address)
//!   stop the kernel path at once: the next ChannelData is not relayed, and is seen by
//!   userspace (expiry: dropped there, no allocation) or dropped by the kernel (ban).
//! - A ban another service starts on the shared guard reaches the program with the
//!   once-a-second sweep: the banned peer's datagrams are dropped in the kernel.
//! - Attaching: generic mode on any interface (loopback), native refused where the driver has
//!   no XDP, an unknown interface named; dropping the handle detaches.
//! - With a bandwidth cap configured, every datagram goes through userspace, which enforces
//!   the cap (a burst over it is dropped there), none through the kernel.
//!
//! Namespaces are deleted on every path (drop). Every wait is a hang guard of tens of
//! seconds on an event, never a timing window. Needs root and Debian's coturn, iproute2,
//! ethtool (scripts/test.sh installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use edge_guard::{Guard, GuardConfig};
use edge_stun::Method;
use edge_suite::netns::Netns;
use edge_suite::require_program;
use edge_suite::turn::{coturn_peer_with, uclient_with};
use edge_suite::turn_client::{RawTurnClient, Via};
use edge_turn::{BandwidthCap, ServerConfig, Service, ServiceConfig, Snapshot, XdpConfig, XdpMode};
use edge_xdp::FastPath;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 99, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 99, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 99, 3);
/// turnutils_uclient's own address: its allocations' records are told apart by it.
const UCLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 99, 4);
const USER: &str = "xdp-user";
const PASSWORD: &str = "xdp-pass";
const LISTEN: u16 = 3478;
const GUARD_WAIT: Duration = Duration::from_secs(30);

/// The two namespaces, the link between them and the pass program on the outside end.
struct Link {
    edge: Netns,
    outside: Netns,
    _pass: FastPath,
}

impl Link {
    fn new() -> Link {
        let edge = Netns::new("txdpe");
        let outside = Netns::new("txdpo");
        edge.ip(&format!(
            "link add ve type veth peer name vo netns {}",
            outside.name()
        ));
        edge.ip(&format!("addr add {SERVER}/24 dev ve"));
        outside.ip(&format!("addr add {CLIENT}/24 dev vo"));
        outside.ip(&format!("addr add {PEER}/24 dev vo"));
        outside.ip(&format!("addr add {UCLIENT}/24 dev vo"));
        for (ns, dev) in [(&edge, "ve"), (&outside, "vo")] {
            let ethtool = require_program("ethtool");
            let out = ns
                .command(&ethtool)
                .args(["-K", dev, "tx", "off", "rx", "off"])
                .output()
                .unwrap();
            assert!(out.status.success(), "ethtool -K {dev}: {out:?}");
            ns.ip(&format!("link set {dev} up"));
        }
        let pass = in_namespace(&outside, || {
            let mut pass = FastPath::load().unwrap();
            pass.attach_pass("vo", XdpMode::Native).unwrap();
            pass
        });
        Link {
            edge,
            outside,
            _pass: pass,
        }
    }

    /// The TURN service in the edge namespace on two threads, XDP attached natively to `ve`,
    /// allocations
    /// lasting `lifetime`, bans after 3 failures sharing `guard`.
    fn service(&self, lifetime: Duration, guard: &Guard) -> Service {
        self.service_with(lifetime, guard, None)
    }

    /// As [`Link::service`], with a per-allocation bandwidth cap.
    fn service_with(
        &self,
        lifetime: Duration,
        guard: &Guard,
        bandwidth: Option<BandwidthCap>,
    ) -> Service {
        let mut server = ServerConfig::new("xdp.test", IpAddr::V4(SERVER));
        server.users.push((USER.into(), PASSWORD.into()));
        server.nonce_secret = b"xdp-test-nonce-secret".to_vec();
        server.port_range = "50000-50099".parse().unwrap();
        server.peer_allow = vec!["198.18.99.0/24".parse().unwrap()];
        server.default_lifetime = lifetime;
        server.guard = Some(guard.clone());
        server.bandwidth = bandwidth;
        let mut config = ServiceConfig::new(server);
        config.udp = vec![SocketAddr::new(IpAddr::V4(SERVER), LISTEN)];
        config.xdp = Some(XdpConfig::new("ve", XdpMode::Native));
        // Two loops (SO_REUSEPORT): each mirrors its own allocations into the one program.
        config.threads = 2;
        // Every test reads the allocations' records from the process's log.
        edge_log_capture::install();
        in_namespace(&self.edge, || Service::start(config).unwrap())
    }
}

/// Runs `f` on a thread inside `ns` (threads it starts stay there) and returns its value.
fn in_namespace<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter();
            f()
        })
        .join()
        .unwrap()
    })
}

fn guard() -> Guard {
    Guard::new(GuardConfig {
        max_failures: 3,
        ban_duration: Duration::from_secs(600),
        ..GuardConfig::default()
    })
    .unwrap()
}

/// Polls `service`'s snapshot until `done` holds (hang guard: 30 s).
fn wait_for(service: &Service, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let deadline = Instant::now() + GUARD_WAIT;
    loop {
        let s = service.snapshot();
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn coturn_uclient_is_relayed_by_the_kernel_path() {
    const CLIENTS: u64 = 4;
    const MESSAGES: u64 = 200;
    let link = Link::new();
    let service = link.service(Duration::from_secs(600), &guard());
    let _peer = coturn_peer_with(
        link.outside.command(require_program("turnutils_peer")),
        IpAddr::V4(PEER),
        34800,
    );
    let args: Vec<String> = [
        "-u",
        USER,
        "-w",
        PASSWORD,
        "-p",
        &LISTEN.to_string(),
        "-e",
        &PEER.to_string(),
        "-r",
        "34800",
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
        &SERVER.to_string(),
        "-L",
        &UCLIENT.to_string(),
    ]
    .map(String::from)
    .to_vec();
    let report = uclient_with(
        link.outside.command(require_program("turnutils_uclient")),
        &args,
        Duration::from_secs(120),
    );
    let total = CLIENTS * MESSAGES;
    let context = format!("uclient {args:?}\n{}", report.output);
    assert!(report.success, "uclient failed: {context}");
    assert_eq!(report.sent, total, "{context}");
    assert_eq!(report.received, total, "{context}");
    assert_eq!(report.lost, 0, "{context}");
    // Every datagram was relayed once, by one path or the other (userspace publishes its
    // counters once per loop iteration: wait for the last)...
    let s = wait_for(
        &service,
        &format!("{total} relayed each way\n{context}"),
        |s| s.to_peers == total && s.to_clients == total,
    );
    let context = format!("{context}\n{s:?}");
    // ...and the kernel relayed them, but for a few: the program learns the peer's next hop
    // from the peer's first answer (seen here: 799 of 800 toward the peer, 800 of 800 back),
    // and a datagram sent in the instant between the ChannelBind answer and the driver
    // installing the channel goes to userspace.
    let slack = CLIENTS * 2;
    assert!(s.kernel.to_peers >= total - slack, "{context}");
    assert!(s.kernel.to_clients >= total - slack, "{context}");
    assert_eq!(
        s.kernel.to_peers_bytes,
        s.kernel.to_peers * 120,
        "{context}"
    );
    // The allocations' records (closed at shutdown if uclient left them open) count every
    // message, the kernel's included: they add up to the service's totals.
    service.shutdown().unwrap();
    let records = records_of(&format!("{UCLIENT}:"));
    // (uclient allocates twice per client, one allocation relaying nothing.)
    assert!(records.len() as u64 >= CLIENTS, "{context}\n{records:?}");
    let sum = records.iter().fold(Record::default(), |a, r| a.plus(r));
    assert_eq!(
        sum,
        Record {
            to_peer_packets: s.to_peers,
            to_peer_bytes: s.to_peers_bytes,
            to_client_packets: s.to_clients,
            to_client_bytes: s.to_clients_bytes,
        },
        "{context}\n{records:?}"
    );
    assert_eq!(sum.to_peer_bytes, total * 120, "{context}");
}

/// An allocation's record: the counters of its `allocation closed` line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Record {
    to_peer_packets: u64,
    to_peer_bytes: u64,
    to_client_packets: u64,
    to_client_bytes: u64,
}

impl Record {
    fn plus(self, o: &Record) -> Record {
        Record {
            to_peer_packets: self.to_peer_packets + o.to_peer_packets,
            to_peer_bytes: self.to_peer_bytes + o.to_peer_bytes,
            to_client_packets: self.to_client_packets + o.to_client_packets,
            to_client_bytes: self.to_client_bytes + o.to_client_bytes,
        }
    }
}

/// The records of the UDP allocations whose client address starts with `client` (an
/// address and port, or an address and a colon), from the process's log.
fn records_of(client: &str) -> Vec<Record> {
    let tuple = format!("tuple=udp {client}");
    let field = |line: &str, name: &str| -> u64 {
        let at = line
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("no {name} in {line}"));
        line[at + name.len() + 2..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    edge_log_capture::process_log()
        .lines()
        .filter(|l| l.contains("allocation closed") && l.contains(&tuple))
        .map(|l| Record {
            to_peer_packets: field(l, "to_peer_packets"),
            to_peer_bytes: field(l, "to_peer_bytes"),
            to_client_packets: field(l, "to_client_packets"),
            to_client_bytes: field(l, "to_client_bytes"),
        })
        .collect()
}

/// A raw client in the outside namespace with a channel to a peer socket there.
struct Pair {
    client: RawTurnClient,
    peer: UdpSocket,
    relay: SocketAddr,
}

const NUMBER: u16 = 0x4000;

fn pair(link: &Link) -> Pair {
    in_namespace(&link.outside, || {
        let server = SocketAddr::new(IpAddr::V4(SERVER), LISTEN);
        let mut client =
            RawTurnClient::connect(Via::Udp, IpAddr::V4(CLIENT), server, USER, PASSWORD).unwrap();
        let relay = client.allocate().unwrap();
        let peer = UdpSocket::bind((PEER, 0)).unwrap();
        peer.set_read_timeout(Some(GUARD_WAIT)).unwrap();
        client
            .channel_bind(NUMBER, peer.local_addr().unwrap())
            .unwrap();
        Pair {
            client,
            peer,
            relay,
        }
    })
}

impl Pair {
    /// ChannelData from the client arrives at the peer as `payload`; the peer's answer
    /// arrives at the client as `answer`.
    fn round_trip(&mut self, payload: &[u8], answer: &[u8]) {
        self.client.send_channel_data(NUMBER, payload).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = self.peer.recv_from(&mut buf).unwrap();
        assert_eq!(from, self.relay);
        assert_eq!(&buf[..n], payload, "at the peer, {} bytes", payload.len());
        self.peer.send_to(answer, self.relay).unwrap();
        let got = self.client.recv_data(GUARD_WAIT).unwrap();
        assert_eq!(got, answer, "at the client, {} bytes", answer.len());
    }
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn payloads_go_byte_for_byte_and_expiry_and_ban_stop_the_kernel_path_at_once() {
    let link = Link::new();
    let guard = guard();
    let service = link.service(Duration::from_secs(600), &guard);
    let mut pair = pair(&link);
    // The first round trip teaches the program the peer's next hop (that datagram goes
    // through userspace, which publishes its counters once per loop iteration: wait for them).
    pair.round_trip(b"hello", b"hello back");
    let before = wait_for(&service, "the first round trip counted", |s| {
        s.to_peers == 1 && s.to_clients == 1
    });
    let lengths: Vec<usize> = (0..=64)
        .chain((65..=1400).step_by(37))
        .chain([1400])
        .collect();
    for &len in &lengths {
        pair.round_trip(&bytes(len, 1), &bytes(len + 3, 2));
    }
    let n = lengths.len() as u64;
    let s = wait_for(&service, "kernel counted every round trip", |s| {
        s.kernel.to_peers - before.kernel.to_peers == n
            && s.kernel.to_clients - before.kernel.to_clients == n
    });
    // Userspace relayed none of them.
    assert_eq!(
        s.to_peers - s.kernel.to_peers,
        before.to_peers - before.kernel.to_peers
    );
    assert_eq!(
        s.to_clients - s.kernel.to_clients,
        before.to_clients - before.kernel.to_clients
    );

    // A ban: three failed logins from the client's own address. The core reports the ban
    // to the program at the end of the loop iteration that handled the third failure.
    let server = SocketAddr::new(IpAddr::V4(SERVER), LISTEN);
    let prober = in_namespace(&link.outside, || {
        let mut bad =
            RawTurnClient::connect(Via::Udp, IpAddr::V4(CLIENT), server, USER, "wrong").unwrap();
        for _ in 0..3 {
            let _ = bad.request(
                Method::ALLOCATE,
                &[edge_stun::Attribute::RequestedTransport(17)],
            );
        }
        UdpSocket::bind((CLIENT, 0)).unwrap()
    });
    assert!(guard.is_banned(Instant::now(), IpAddr::V4(CLIENT)));
    // Until then a datagram from the source still reaches userspace (which, like any
    // userspace TURN server, relays a banned client's data until the once-a-second sweep
    // releases its allocation): probe with Binding requests until the kernel drops one.
    let binding = [
        0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    let deadline = Instant::now() + GUARD_WAIT;
    while service.snapshot().kernel.banned == 0 {
        assert!(
            Instant::now() < deadline,
            "the kernel never dropped the banned source"
        );
        prober.send_to(&binding, server).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    // From now on the banned client's ChannelData is dropped in the kernel, not relayed.
    let before = wait_for(&service, "counters settled", |s| s.kernel.banned >= 1);
    pair.client
        .send_channel_data(NUMBER, b"after the ban")
        .unwrap();
    let s = wait_for(
        &service,
        "the kernel dropped the banned client's data",
        |s| s.kernel.banned > before.kernel.banned,
    );
    assert_eq!(s.to_peers, before.to_peers, "nothing relayed after the ban");
    service.shutdown().unwrap();
}

#[test]
fn an_allocation_that_expires_leaves_the_kernel_path_at_once() {
    let link = Link::new();
    let service = link.service(Duration::from_secs(3), &guard());
    let mut pair = pair(&link);
    pair.round_trip(b"hello", b"hello back");
    pair.round_trip(b"through the kernel", b"and back");
    let alive = wait_for(&service, "the kernel relayed", |s| {
        s.kernel.to_peers >= 1 && s.kernel.to_clients >= 1
    });
    // The allocation (3 s) expires: userspace closes it, and its channel leaves the maps.
    let gone = wait_for(&service, "the allocation expired", |s| s.allocations == 0);
    pair.client.send_channel_data(NUMBER, b"too late").unwrap();
    // Userspace sees it and drops it (no allocation); the kernel relays nothing more.
    let s = wait_for(&service, "userspace dropped the late ChannelData", |s| {
        s.dropped > gone.dropped
    });
    assert_eq!(s.kernel.to_peers, gone.kernel.to_peers);
    assert!(alive.kernel.to_peers <= gone.kernel.to_peers);
    assert_eq!(s.to_peers, gone.to_peers);
    service.shutdown().unwrap();
}

#[test]
fn a_refresh_keeps_the_kernel_path_and_a_delete_ends_it_at_once() {
    const LIFETIME: Duration = Duration::from_secs(10);
    let link = Link::new();
    let service = link.service(LIFETIME, &guard());
    let created = Instant::now();
    let mut pair = pair(&link);
    let client = pair.client.local_addr().unwrap();
    pair.round_trip(b"hello", b"hello back");
    // The allocation would end LIFETIME after its creation: a Refresh moves that (and so
    // the channel's end, in the maps) 600 s on.
    pair.client
        .request(Method::REFRESH, &[edge_stun::Attribute::Lifetime(600)])
        .unwrap();
    let deadline = created + LIFETIME + Duration::from_secs(1);
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    let before = service.snapshot();
    assert_eq!(before.allocations, 1, "{before:?}");
    pair.round_trip(b"past the first lifetime", b"still through the kernel");
    let s = wait_for(
        &service,
        "the kernel relayed past the first lifetime",
        |s| {
            s.kernel.to_peers > before.kernel.to_peers
                && s.kernel.to_clients > before.kernel.to_clients
        },
    );
    assert_eq!(
        s.to_peers - s.kernel.to_peers,
        before.to_peers - before.kernel.to_peers
    );
    // Deleting it (Refresh, lifetime 0) takes its channel out of the maps at once: the next
    // ChannelData reaches userspace, which has no allocation for it and drops it.
    pair.client
        .request(Method::REFRESH, &[edge_stun::Attribute::Lifetime(0)])
        .unwrap();
    let gone = wait_for(&service, "the allocation deleted", |s| s.allocations == 0);
    pair.client.send_channel_data(NUMBER, b"deleted").unwrap();
    let after = wait_for(&service, "userspace dropped the ChannelData", |s| {
        s.dropped > gone.dropped
    });
    assert_eq!(after.kernel.to_peers, gone.kernel.to_peers);
    assert_eq!(after.to_peers, gone.to_peers);
    // Its record counts both round trips (5 + 23 bytes out, 10 + 24 back), whichever path
    // relayed each datagram: userspace relays the client's first one (the peer's next hop
    // is not known yet), the kernel the rest.
    let records = records_of(&format!("{client} "));
    assert_eq!(
        records,
        [Record {
            to_peer_packets: 2,
            to_peer_bytes: 5 + 23,
            to_client_packets: 2,
            to_client_bytes: 10 + 24,
        }],
        "{after:?}"
    );
    assert!(after.kernel.to_peers >= 1 && after.to_peers - after.kernel.to_peers >= 1);
    service.shutdown().unwrap();
}

#[test]
fn a_ban_by_another_service_reaches_the_kernel_with_the_sweep() {
    let link = Link::new();
    let guard = guard();
    let service = link.service(Duration::from_secs(600), &guard);
    let mut pair = pair(&link);
    pair.round_trip(b"hello", b"hello back");
    pair.round_trip(b"through the kernel", b"and back");
    // The API bans the peer's address (three bad tokens, say): not a TURN failure, so no
    // event; the first loop copies the guard's bans into the program once a second.
    for _ in 0..3 {
        guard.record_failure(
            Instant::now(),
            IpAddr::V4(PEER),
            edge_guard::Service::Api,
            "bad-token",
            None,
        );
    }
    assert!(guard.is_banned(Instant::now(), IpAddr::V4(PEER)));
    let deadline = Instant::now() + GUARD_WAIT;
    while service.snapshot().kernel.banned == 0 {
        assert!(
            Instant::now() < deadline,
            "the ban never reached the kernel"
        );
        pair.peer
            .send_to(b"from a banned peer", pair.relay)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = wait_for(&service, "counters settled", |s| s.kernel.banned >= 1);
    pair.peer.send_to(b"dropped", pair.relay).unwrap();
    let s = wait_for(&service, "the kernel dropped the banned peer", |s| {
        s.kernel.banned > before.kernel.banned
    });
    assert_eq!(
        s.to_clients, before.to_clients,
        "nothing relayed from the banned peer"
    );
    service.shutdown().unwrap();
}

#[test]
fn a_bandwidth_cap_keeps_every_channel_in_userspace() {
    let link = Link::new();
    // 20 kB/s, 20 kB at once: a 60 kB burst needs two seconds and more to fit.
    let cap = BandwidthCap {
        bytes_per_sec: 20_000,
        burst_bytes: 20_000,
    };
    let service = link.service_with(Duration::from_secs(600), &guard(), Some(cap));
    let mut pair = pair(&link);
    for len in [1usize, 100, 1000] {
        pair.round_trip(&bytes(len, 3), &bytes(len, 4));
    }
    let s = wait_for(&service, "three round trips counted", |s| {
        s.to_peers == 3 && s.to_clients == 3
    });
    assert_eq!((s.kernel.to_peers, s.kernel.to_clients), (0, 0), "{s:?}");
    // A burst over the cap: userspace relays what fits and drops the rest, as it does
    // without the fast path; the kernel relays none of it.
    // (60 datagrams fit the socket's receive buffer if the loop is slow to read them.)
    const BURST: u64 = 60;
    let started = Instant::now();
    for i in 0..BURST {
        pair.client
            .send_channel_data(NUMBER, &bytes(1000, i as u8))
            .unwrap();
    }
    let sent_in = started.elapsed();
    let after = wait_for(
        &service,
        "every datagram of the burst relayed or dropped",
        |a| (a.to_peers - s.to_peers) + (a.dropped - s.dropped) == BURST,
    );
    let relayed = after.to_peers - s.to_peers;
    // What the cap lets through: its burst, less the three round trips, plus what it
    // earned while the burst was sent (and a datagram of rounding).
    let allowed = (20_000 + 20_000 * sent_in.as_millis() as u64 / 1000) / 1000 + 1;
    assert!(
        relayed <= allowed,
        "{relayed} relayed, at most {allowed}: {after:?}"
    );
    assert!(relayed >= 10, "{relayed} relayed: {after:?}");
    assert_eq!(
        (after.kernel.to_peers, after.kernel.to_clients),
        (0, 0),
        "{after:?}"
    );
    service.shutdown().unwrap();
}

#[test]
fn attach_modes_and_detach_on_drop() {
    let ns = Netns::new("txdpa");
    let xdp_on_lo = || {
        let out = std::process::Command::new("ip")
            .args(["-n", ns.name(), "link", "show", "dev", "lo"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("xdpgeneric")
    };
    in_namespace(&ns, || {
        let mut path = FastPath::load().unwrap();
        let e = path.attach("nosuch0", XdpMode::Generic).unwrap_err();
        assert!(matches!(e, edge_xdp::Error::NoInterface(_)), "{e}");
        let e = path.attach("lo", XdpMode::Native).unwrap_err();
        assert!(matches!(e, edge_xdp::Error::Attach { .. }), "{e}");
        assert!(!xdp_on_lo());
        path.attach("lo", XdpMode::Generic).unwrap();
        assert!(xdp_on_lo());
        drop(path);
        assert!(!xdp_on_lo(), "detached on drop");
    });
}
