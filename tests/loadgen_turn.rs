//! CI smoke of edge-loadgen's `turn` mode: short bounded runs against media-edge's TURN
//! service (edge-turn, in-process) and against coturn's turnserver (an independent
//! implementation), over UDP, TCP and TLS, with long-term and REST credentials, paced and
//! flooding. Each asserts what a user checks: every allocation set up, probes delivered and
//! echoed, nothing lost or duplicated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use edge_loadgen::echo::EchoPeer;
use edge_loadgen::load::LoadConfig;
use edge_loadgen::turn::conn::{TlsSetup, TransportKind};
use edge_loadgen::turn::credentials::Credentials;
use edge_loadgen::turn::fleet::TurnSetup;
use edge_loadgen::turn::{self, TurnRun};
use edge_suite::require_program;
use edge_turn::{ServerConfig, Service, ServiceConfig, TlsListener};

const USER: &str = "load";
const PASSWORD: &str = "load-password";
const SECRET: &str = "loadgen-rest-secret-0123456789";

/// A scratch directory with a self-signed certificate for 127.0.0.1 / localhost.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("loadgen-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new(require_program("openssl"))
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl req failed");
        Scratch(dir)
    }

    fn cert(&self) -> PathBuf {
        self.0.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.0.join("key.pem")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// media-edge's TURN service on loopback with loopback peers allowed, on UDP, TCP and TLS.
fn media_edge(ports: std::ops::RangeInclusive<u16>, scratch: &Scratch) -> Service {
    let mut server = ServerConfig::new("loadgen.test", "127.0.0.1".parse().unwrap());
    server.users = vec![(USER.into(), PASSWORD.into())];
    server.shared_secrets = vec![SECRET.as_bytes().to_vec()];
    server.nonce_secret = vec![9; 32];
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    server.port_range = ports.try_into().unwrap();
    server.user_quota = 1_000;
    let mut config = ServiceConfig::new(server);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    config.udp = vec![any];
    config.tcp = vec![any];
    config.tls = vec![TlsListener {
        addr: any,
        certificate: scratch.cert(),
        private_key: scratch.key(),
    }];
    Service::start(config).unwrap()
}

/// coturn's turnserver on loopback: UDP and TCP on one port, TLS on the next.
struct Coturn {
    child: Child,
    port: u16,
}

impl Coturn {
    fn start(scratch: &Scratch, relay_ports: (u16, u16), rest: bool) -> Coturn {
        let port = free_port_pair();
        let mut cmd = Command::new(require_program("turnserver"));
        cmd.args(["-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--tls-listening-port={}", port + 1))
            .arg(format!("--min-port={}", relay_ports.0))
            .arg(format!("--max-port={}", relay_ports.1))
            .args([
                "--allow-loopback-peers",
                "--no-cli",
                "--no-dtls",
                "--realm=loadgen.test",
            ])
            .args(["--user-quota=1000", "--total-quota=1000", "--simple-log"])
            .arg(format!("--cert={}", scratch.cert().display()))
            .arg(format!("--pkey={}", scratch.key().display()))
            .arg(format!(
                "--log-file={}",
                scratch.0.join("turn.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if rest {
            cmd.args([
                "--use-auth-secret",
                &format!("--static-auth-secret={SECRET}"),
            ]);
        } else {
            cmd.args(["--lt-cred-mech", &format!("--user={USER}:{PASSWORD}")]);
        }
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port + 1)).is_err() {
            assert!(
                Instant::now() < deadline,
                "turnserver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Coturn { child, port }
    }

    fn addr(&self, transport: TransportKind) -> SocketAddr {
        let port = match transport {
            TransportKind::Tls => self.port + 1,
            _ => self.port,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free UDP port whose successor is free too (for coturn's TLS port).
fn free_port_pair() -> u16 {
    loop {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < 65_000 && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn load(rate: Option<u32>, seconds: f64) -> LoadConfig {
    LoadConfig {
        rate,
        duration: Duration::from_secs_f64(seconds),
        // A hang guard: draining ends as soon as every probe is back.
        drain: Duration::from_secs(30),
        window: 8,
        progress: false,
        server_pid: None,
    }
}

fn run(
    server: SocketAddr,
    transport: TransportKind,
    credentials: &Credentials,
    allocations: usize,
    scratch: &Scratch,
    config: &LoadConfig,
) -> TurnRun {
    let (username, password) = credentials.derive(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let tls = (transport == TransportKind::Tls)
        .then(|| TlsSetup::new(Path::new(&scratch.cert()), "localhost").unwrap());
    let setup = TurnSetup {
        server,
        transport,
        tls,
        username,
        password,
        allocations,
        peer: "127.0.0.1:0".parse().unwrap(),
        local_ip: "127.0.0.1".parse().unwrap(),
        gro: true,
        payload: 172,
        parallel: 16,
        timeout: Duration::from_secs(20),
    };
    turn::run(
        &setup,
        EchoPeer::Own("127.0.0.1:0".parse().unwrap()),
        config,
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// What a user checks: all set up, everything sent came back once, in time.
fn assert_clean(run: &TurnRun, allocations: usize, min_sent: u64) {
    let r = &run.report;
    assert_eq!(
        r.setup.succeeded, allocations,
        "set-up: {:?}, later: {:?}",
        r.setup.errors, run.load_errors
    );
    assert!(r.sent >= min_sent, "sent only {} (want {min_sent})", r.sent);
    assert_eq!(r.received, r.sent, "lost {} of {}", r.lost, r.sent);
    assert_eq!((r.lost, r.duplicates, r.stray), (0, 0, 0));
    assert_eq!(r.rtt_us.count, r.received);
    assert!(
        r.rtt_us.max < 2_000_000,
        "a round trip took {} us",
        r.rtt_us.max
    );
    assert!(run.load_errors.is_empty(), "{:?}", run.load_errors);
}

fn long_term() -> Credentials {
    Credentials::LongTerm {
        username: USER.into(),
        password: PASSWORD.into(),
    }
}

fn rest() -> Credentials {
    Credentials::Rest {
        secret: SECRET.into(),
        user: "smoke".into(),
        ttl_s: 600,
    }
}

#[test]
fn media_edge_udp_paced_and_flood() {
    let scratch = Scratch::new("me-udp");
    let service = media_edge(52_000..=52_099, &scratch);
    let udp = service.local_addrs().udp[0];

    // 20 allocations x 50 pps x 2 s = 2,000 probes.
    let paced = run(
        udp,
        TransportKind::Udp,
        &long_term(),
        20,
        &scratch,
        &load(Some(50), 2.0),
    );
    assert_clean(&paced, 20, 1_990);
    assert_eq!(paced.report.rate_pps, Some(50));

    let flood = run(
        udp,
        TransportKind::Udp,
        &rest(),
        4,
        &scratch,
        &load(None, 1.0),
    );
    assert_clean(&flood, 4, 1_000);
    service.shutdown().unwrap();
}

#[test]
fn media_edge_tcp_and_tls() {
    let scratch = Scratch::new("me-stream");
    let service = media_edge(52_100..=52_199, &scratch);
    let addrs = service.local_addrs().clone();
    let tcp = run(
        addrs.tcp[0],
        TransportKind::Tcp,
        &rest(),
        5,
        &scratch,
        &load(Some(100), 1.0),
    );
    assert_clean(&tcp, 5, 495);
    let tls = run(
        addrs.tls[0],
        TransportKind::Tls,
        &long_term(),
        5,
        &scratch,
        &load(Some(100), 1.0),
    );
    assert_clean(&tls, 5, 495);
    service.shutdown().unwrap();
}

#[test]
fn coturn_udp_tcp_tls_long_term() {
    let scratch = Scratch::new("coturn-lt");
    let coturn = Coturn::start(&scratch, (52_200, 52_299), false);
    for (transport, allocations) in [
        (TransportKind::Udp, 20),
        (TransportKind::Tcp, 5),
        (TransportKind::Tls, 5),
    ] {
        let r = run(
            coturn.addr(transport),
            transport,
            &long_term(),
            allocations,
            &scratch,
            &load(Some(50), 1.0),
        );
        assert_clean(&r, allocations, 49 * allocations as u64);
    }
}

#[test]
fn coturn_rest_credentials_and_flood() {
    let scratch = Scratch::new("coturn-rest");
    let coturn = Coturn::start(&scratch, (52_300, 52_399), true);
    let r = run(
        coturn.addr(TransportKind::Udp),
        TransportKind::Udp,
        &rest(),
        4,
        &scratch,
        &load(None, 1.0),
    );
    assert_clean(&r, 4, 1_000);
}

#[test]
fn wrong_credentials_are_reported_not_hidden() {
    let scratch = Scratch::new("me-bad");
    let service = media_edge(52_400..=52_409, &scratch);
    let bad = Credentials::LongTerm {
        username: USER.into(),
        password: "wrong".into(),
    };
    let r = run(
        service.local_addrs().udp[0],
        TransportKind::Udp,
        &bad,
        3,
        &scratch,
        &load(Some(50), 0.5),
    );
    assert_eq!(r.report.setup.succeeded, 0);
    assert_eq!((r.report.sent, r.report.received), (0, 0));
    assert!(
        !r.report.passed(1.0),
        "a run with no allocation must not pass"
    );
    assert!(
        r.report.setup.errors[0].contains("401"),
        "{:?}",
        r.report.setup.errors
    );
    service.shutdown().unwrap();
}
