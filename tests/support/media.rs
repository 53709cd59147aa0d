//! Calls through media-edge end to end: the forwarder (edge-forward), the control API
//! (edge-control), the ng protocol (edge-ng) and the TURN server (edge-turn) started
//! in-process on loopback, and
//! aiortc (`tests/python/media_peer.py`) as the browser with a UDP RTP echo (plain or
//! SDES-SRTP through libsrtp) as the enterprise side.
//!
//! Addresses: public sockets on 127.0.0.1, enterprise sockets pinned to 127.0.0.3, TURN
//! relay sockets on 127.0.0.2, each side in its own port range per test slot, so a test can
//! tell from an address which socket sent it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edge_forward::{EnterpriseSide, ForwardConfig, Forwarder, PortRange, PublicSide};
use serde_json::{json, Value};

/// The bearer token of every test API.
pub const TOKEN: &str = "media-edge-test-token-0001";
/// The public (browser-side) address.
pub const PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// The enterprise transport-address.
pub const ENTERPRISE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The TURN server's relay address.
pub const TURN_RELAY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The port block of test slot `slot`: 100 ports from 21000 + 100 * slot, below Linux's
/// ephemeral range (32768-60999) so no socket bound to port 0 can land in a test's range.
fn block(slot: u16) -> u16 {
    21_000 + 100 * slot
}

/// The forwarder and the control API, running.
pub struct MediaEdge {
    relay: Forwarder,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Where the API listens.
    pub api: SocketAddr,
    /// Where the ng protocol listens: UDP.
    pub ng: SocketAddr,
    /// TCP.
    pub ng_tcp: SocketAddr,
    /// HTTP (`POST /ng`).
    pub ng_http: SocketAddr,
    /// The ng engine (its counters).
    pub ng_engine: std::sync::Arc<edge_ng::Engine>,
    /// The public port range.
    pub public: PortRange,
    /// The enterprise port range.
    pub enterprise: PortRange,
}

impl MediaEdge {
    /// Starts the forwarder (one worker) and the API for test slot `slot`.
    ///
    /// # Panics
    /// When either cannot start.
    pub fn start(slot: u16) -> MediaEdge {
        MediaEdge::start_with(slot, |_| {})
    }

    /// [`MediaEdge::start`] with the API's configuration adjusted by `adjust` (the demo
    /// page, TURN credentials).
    ///
    /// # Panics
    /// When either cannot start.
    pub fn start_with(slot: u16, adjust: impl FnOnce(&mut edge_control::ApiConfig)) -> MediaEdge {
        let base = block(slot);
        let public = PortRange::new(base, base + 19).expect("public range");
        let enterprise = PortRange::new(base + 20, base + 59).expect("enterprise range");
        let mut config = ForwardConfig::new(
            PublicSide::new(IpAddr::V4(PUBLIC_IP), public),
            EnterpriseSide::new(IpAddr::V4(ENTERPRISE_IP), enterprise),
        );
        config.workers = 1;
        let cert = edge_dtls::Certificate::generate().expect("DTLS certificate");
        let dtls = edge_dtls::ConfigBuilder::new(cert)
            .build()
            .expect("DTLS config");
        let relay = Forwarder::start(config, dtls).expect("forwarder");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((PUBLIC_IP, 0)))
            .expect("API listener");
        let api = listener.local_addr().expect("API address");
        let mut api_config = edge_control::ApiConfig::new(api, vec![TOKEN.into()]);
        // The benchmarks set calls up back to back from one address: a rate limit far above
        // them (the guard's checks still run on every request).
        let mut guard = edge_control::guard::GuardConfig::default();
        guard.rate.api = edge_control::guard::RateLimit {
            rate: 1e6,
            burst: 1_000_000,
        };
        let guard = edge_control::guard::Guard::new(guard).expect("guard config");
        api_config.guard = Some(guard.clone());
        adjust(&mut api_config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ng_stop, ng_stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = edge_control::serve(api_config, listener, relay.clone(), async {
            let _ = stopped.await;
            let _ = ng_stop.send(());
        });
        runtime.spawn(async move {
            if let Err(e) = serve.await {
                eprintln!("control API stopped: {e}");
            }
        });
        let any = SocketAddr::from((PUBLIC_IP, 0));
        let ng_config = edge_ng::NgConfig {
            listen: any,
            listen_tcp: Some(any),
            listen_http: Some(any),
            clients: Vec::new(),
        };
        let listeners = runtime
            .block_on(edge_ng::Listeners::bind(&ng_config))
            .expect("ng listener");
        let (ng, ng_tcp, ng_http) = match listeners.local_addrs() {
            (Some(udp), Some(tcp), Some(http)) => (udp, tcp, http),
            bound => panic!("ng listeners: {bound:?}"),
        };
        let ng_engine = std::sync::Arc::new(edge_ng::Engine::new(relay.clone()));
        runtime.spawn(edge_ng::serve(
            listeners,
            std::sync::Arc::clone(&ng_engine),
            Vec::new(),
            guard,
            async {
                let _ = ng_stopped.await;
            },
        ));
        MediaEdge {
            relay,
            runtime: Some(runtime),
            stop: Some(stop),
            api,
            ng,
            ng_tcp,
            ng_http,
            ng_engine,
            public,
            enterprise,
        }
    }

    /// The forwarder.
    pub fn relay(&self) -> &Forwarder {
        &self.relay
    }

    /// Runs `calls` (see `media_peer.py`) at once, each sending audio until aiortc decoded
    /// `frames` echoed frames, and returns the report's `calls` object.
    ///
    /// # Panics
    /// When the peer fails, or runs longer than two minutes (it is killed).
    pub fn run_calls(&self, turn: Option<&Turn>, frames: usize, calls: Value) -> Value {
        let plan = json!({
            "api": format!("http://{}", self.api),
            "token": TOKEN,
            "frames": frames,
            "turn": turn.map(Turn::ice_server),
            "calls": calls,
        });
        run_media_peer(&plan)
    }

    /// [`run_calls`](Self::run_calls) with the offers and answers through the ng protocol
    /// (`media_peer.py`'s `ng` plan), each call deleted through ng.
    ///
    /// # Panics
    /// As `run_calls`.
    pub fn run_calls_ng(&self, frames: usize, calls: Value) -> Value {
        let plan = json!({
            "api": format!("http://{}", self.api),
            "ng": self.ng.to_string(),
            "token": TOKEN,
            "frames": frames,
            "calls": calls,
        });
        run_media_peer(&plan)
    }
}

/// Runs `tests/python/media_peer.py` with `plan` (its docstring describes the plan) and
/// returns the report's `calls` object.
///
/// # Panics
/// When the peer fails, or runs longer than two minutes (it is killed).
pub fn run_media_peer(plan: &Value) -> Value {
    run_python("media_peer.py", plan)["calls"].clone()
}

/// Runs `tests/python/<script>` with `plan` as its one argument and returns the JSON report
/// it printed on stdout.
///
/// # Panics
/// When the script fails, prints no JSON, or runs longer than two minutes (it is killed).
pub fn run_python(script: &str, plan: &Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new(crate::python())
        .arg(path)
        .arg(plan.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait for media_peer.py").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{script} output: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stderr}",
        output.status
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no report ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

impl Drop for MediaEdge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        self.relay.clone().shutdown();
    }
}

/// The TURN user of the test server.
pub const TURN_USER: &str = "browser";
/// Its password.
pub const TURN_PASSWORD: &str = "browser-secret";
/// The server's REST shared secret (coturn's `static-auth-secret`), beside the static user.
pub const TURN_SECRET: &[u8] = b"media-edge-test-turn-rest-secret";

/// media-edge's TURN server, in-process, admitting loopback peers (the forwarder's public
/// sockets).
pub struct Turn {
    service: Option<edge_turn::Service>,
    /// Its UDP listener.
    pub listener: SocketAddr,
    /// Its relay ports on [`TURN_RELAY_IP`].
    pub relay_ports: RangeInclusive<u16>,
}

impl Turn {
    /// Starts the server for test slot `slot`.
    ///
    /// # Panics
    /// When it cannot start.
    pub fn start(slot: u16) -> Turn {
        let base = block(slot);
        let relay_ports = base + 60..=base + 79;
        let mut server = edge_turn::ServerConfig::new("media-edge-test", IpAddr::V4(TURN_RELAY_IP));
        server.users = vec![(TURN_USER.into(), TURN_PASSWORD.into())];
        server.shared_secrets = vec![TURN_SECRET.to_vec()];
        server.nonce_secret = b"media-edge-test-nonce-secret".to_vec();
        server.port_range = relay_ports.clone().try_into().unwrap();
        server.peer_allow = vec!["127.0.0.0/8".parse().expect("loopback net")];
        let mut config = edge_turn::ServiceConfig::new(server);
        config.udp = vec![SocketAddr::from((PUBLIC_IP, 0))];
        let service = edge_turn::Service::start(config).expect("TURN server");
        let listener = service.local_addrs().udp[0];
        Turn {
            service: Some(service),
            listener,
            relay_ports,
        }
    }

    /// The server's counters.
    ///
    /// # Panics
    /// After shutdown (never: only `Drop` shuts it down).
    pub fn snapshot(&self) -> edge_turn::Snapshot {
        self.service.as_ref().expect("running").snapshot()
    }

    fn ice_server(&self) -> Value {
        json!({
            "url": format!("turn:{}?transport=udp", self.listener),
            "username": TURN_USER,
            "credential": TURN_PASSWORD,
        })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(service) = self.service.take() {
            let _ = service.shutdown();
        }
    }
}

/// Whether nothing on this machine holds the UDP port `addr` (asked of the OS by binding it).
pub fn port_free(addr: SocketAddr) -> bool {
    UdpSocket::bind(addr).is_ok()
}

/// The port of the first `m=` line of an SDP.
///
/// # Panics
/// When there is none.
pub fn media_port(sdp: &str) -> u16 {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m="))
        .and_then(|m| m.split(' ').nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m= port in {sdp}"))
}

/// Asserts that `frames` begins with 0, 1, ..., `count - 1` and continues without a gap
/// or a foreign payload: everything arrived, decodable, in order.
///
/// # Panics
/// When it does not.
pub fn assert_frames_in_order(what: &str, frames: &Value, count: usize) {
    let frames: Vec<i64> = frames
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no frame list"))
        .iter()
        .map(|f| f.as_i64().unwrap_or(-1))
        .collect();
    assert!(
        frames.len() >= count,
        "{what}: {} frames, expected at least {count}: {frames:?}",
        frames.len()
    );
    if let Some(at) = (0..frames.len()).find(|&i| frames[i] != i as i64) {
        let window = &frames[at.saturating_sub(3)..(at + 8).min(frames.len())];
        panic!(
            "{what}: frame {at} of {} is {} (-1: not a frame's payload); around it: \
             {window:?}",
            frames.len(),
            frames[at]
        );
    }
}

/// Asserts what a user checks after a call: the SDP put the sockets in the configured
/// ranges; the enterprise side received every frame aiortc sent, in order and intact, from
/// the pinned transport-address; aiortc decoded every echoed frame, in order; the session
/// was active with counters to match and nothing dropped; DELETE answered 204, the session
/// is gone, and every port of both ranges is free again.
///
/// # Panics
/// When any of it does not hold.
pub fn assert_call_ok(edge: &MediaEdge, call: &Value, frames: usize) {
    assert_eq!(call["create_status"], 201, "{call}");
    assert_media_ok(edge, call, frames);
    assert_eq!(call["delete_status"], 204, "{call}");
    assert_eq!(call["get_after_delete_status"], 404, "{call}");
    assert_ranges_free(edge);
}

/// The media part of [`assert_call_ok`], however the call was set up and ended: the ports
/// in range, every frame both ways in order, the session active with counters to match.
///
/// # Panics
/// When any of it does not hold.
pub fn assert_media_ok(edge: &MediaEdge, call: &Value, frames: usize) {
    let public_port = media_port(call["browser_sdp"].as_str().unwrap_or_default());
    let enterprise_port = media_port(call["enterprise_sdp"].as_str().unwrap_or_default());
    assert!(edge.public.contains(public_port), "{public_port}");
    assert!(
        edge.enterprise.contains(enterprise_port),
        "{enterprise_port}"
    );

    let echo = &call["echo"];
    assert_frames_in_order("enterprise echo", &echo["frames"], frames);
    assert_frames_in_order("aiortc", &call["received"], frames);
    let rtp_source = format!("{ENTERPRISE_IP}:{enterprise_port}");
    assert_eq!(echo["rtp_sources"], json!([rtp_source]), "{echo}");
    assert!(
        echo["rtcp_packets"].as_u64() >= Some(1),
        "RTCP forwarded: {echo}"
    );
    for source in echo["rtcp_sources"].as_array().into_iter().flatten() {
        let addr: SocketAddr = source
            .as_str()
            .unwrap_or_default()
            .parse()
            .expect("address");
        assert_eq!(addr.ip(), IpAddr::V4(ENTERPRISE_IP), "{echo}");
        assert!(edge.enterprise.contains(addr.port()), "{echo}");
    }

    let session = &call["session"];
    assert_eq!(call["get_status"], 200, "{call}");
    assert_eq!(session["state"], "active", "{session}");
    let counters = &session["counters"];
    for direction in ["browser_to_enterprise", "enterprise_to_browser"] {
        let c = &counters[direction];
        let packets = c["rtp_packets"].as_u64().unwrap_or(0);
        assert!(packets >= frames as u64, "{direction}: {c}");
        for drop in ["auth_failed", "replayed", "srtp_other", "send_failed"] {
            assert_eq!(c["drops"][drop], 0, "{direction} {drop}: {c}");
        }
    }
}

/// Asserts that no port of the forwarder's ranges is held by anyone.
///
/// # Panics
/// When one is.
pub fn assert_ranges_free(edge: &MediaEdge) {
    for (ip, range) in [(PUBLIC_IP, edge.public), (ENTERPRISE_IP, edge.enterprise)] {
        for port in range.first()..=range.last() {
            assert!(
                port_free(SocketAddr::from((ip, port))),
                "{ip}:{port} still bound"
            );
        }
    }
}

/// An offer of aiortc 1.16 with one audio track (opus, G722, PCMU, PCMA), BUNDLE, rtcp-mux.
pub const AIORTC_OFFER: &str = "v=0\r\no=- 4004280456 4004280456 IN IP4 0.0.0.0\r\ns=-\r\n\
t=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic:WMS *\r\n\
m=audio 46098 UDP/TLS/RTP/SAVPF 96 9 0 8\r\nc=IN IP4 127.0.0.1\r\na=sendrecv\r\na=mid:0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 46098 typ host\r\n\
a=end-of-candidates\r\na=ice-ufrag:HYW7\r\na=ice-pwd:Fq3YpfdicrVJm7memzz2BQ\r\n\
a=fingerprint:sha-256 21:96:60:6D:D2:FD:A6:75:82:AC:34:B5:95:A8:64:56:12:E2:05:21:2E:34:3E:\
23:52:96:1C:69:C1:89:52:21\r\na=setup:actpass\r\n";

/// A keep-alive HTTP/1.1 client of the test API over one TCP connection, with the bearer
/// token (std only: what a benchmark needs and nothing else).
pub struct ApiClient {
    stream: std::io::BufReader<std::net::TcpStream>,
}

impl ApiClient {
    /// Connects to `api`.
    ///
    /// # Panics
    /// When it cannot.
    pub fn connect(api: SocketAddr) -> ApiClient {
        let stream = std::net::TcpStream::connect(api).expect("connect to the API");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        ApiClient {
            stream: std::io::BufReader::new(stream),
        }
    }

    /// Sends one request and returns the status and the body.
    ///
    /// # Panics
    /// When the connection fails or the answer is not HTTP/1.1 with a Content-Length.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        use std::io::{BufRead, Read, Write};
        let body = body.unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .expect("send");
        let mut line = String::new();
        self.stream.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"));
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("Content-Length");
                }
            }
        }
        let mut bytes = vec![0; length];
        self.stream.read_exact(&mut bytes).expect("body");
        (status, String::from_utf8(bytes).expect("UTF-8 body"))
    }
}
