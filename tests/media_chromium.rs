//! A real browser through media-edge: headless Chromium (Debian's `chromium`) loads a page
//! that sends an oscillator's audio over WebRTC, relay-only through media-edge's own TURN
//! server on loopback (so no machine address is ever used), with the SDP answer from
//! media-edge's API. A UDP RTP echo on the enterprise side returns every packet (with its
//! own SSRC); the page reports what Chromium's own statistics say it sent and received.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edge_suite::chromium::{read_request, Chromium};
use edge_suite::media::{
    assert_ranges_free, media_port, ApiClient, MediaEdge, Turn, ENTERPRISE_IP, TURN_PASSWORD,
    TURN_RELAY_IP, TURN_USER,
};
use serde_json::{json, Value};

/// Seconds of media after the connection is up.
const SECONDS: u64 = 4;

/// The enterprise side: echoes RTP from its RTP socket with SSRC 0x0E0C4000 and counts RTCP.
struct Echo {
    rtp: SocketAddr,
    rtcp: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<EchoSeen>,
}

/// What the echo saw.
#[derive(Debug, Default)]
struct EchoSeen {
    /// Sequence numbers of the RTP packets, in arrival order.
    seqs: Vec<u16>,
    /// Payload types seen.
    payload_types: Vec<u8>,
    /// Source addresses of RTP and RTCP.
    sources: Vec<SocketAddr>,
    rtcp_packets: usize,
}

impl Echo {
    fn start() -> Echo {
        let rtp = UdpSocket::bind("127.0.0.1:0").expect("echo RTP socket");
        let rtcp = UdpSocket::bind("127.0.0.1:0").expect("echo RTCP socket");
        for s in [&rtp, &rtcp] {
            s.set_nonblocking(true).expect("non-blocking");
        }
        let (rtp_addr, rtcp_addr) = (
            rtp.local_addr().expect("addr"),
            rtcp.local_addr().expect("addr"),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = EchoSeen::default();
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                while let Ok((n, from)) = rtp.recv_from(&mut buf) {
                    if n >= 12 && buf[0] >> 6 == 2 {
                        seen.seqs.push(u16::from_be_bytes([buf[2], buf[3]]));
                        let pt = buf[1] & 0x7f;
                        if !seen.payload_types.contains(&pt) {
                            seen.payload_types.push(pt);
                        }
                        buf[8..12].copy_from_slice(&0x0E0C_4000_u32.to_be_bytes());
                        let _ = rtp.send_to(&buf[..n], from);
                    }
                    if !seen.sources.contains(&from) {
                        seen.sources.push(from);
                    }
                }
                while let Ok((_, from)) = rtcp.recv_from(&mut buf) {
                    seen.rtcp_packets += 1;
                    if !seen.sources.contains(&from) {
                        seen.sources.push(from);
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            seen
        });
        Echo {
            rtp: rtp_addr,
            rtcp: rtcp_addr,
            stop,
            thread,
        }
    }

    fn finish(self) -> EchoSeen {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("echo thread")
    }
}

/// The page: audio from an oscillator, relay-only ICE, the offer to `/offer`, Chromium's
/// statistics to `/result` after `SECONDS` of media.
fn page(turn: &Turn) -> String {
    format!(
        r#"<!doctype html><html><body><script>
const report = r => fetch('/result', {{method: 'POST', body: JSON.stringify(r)}});
(async () => {{
  try {{
    const pc = new RTCPeerConnection({{
      iceServers: [{{urls: 'turn:{turn}?transport=udp', username: '{user}', credential: '{pass}'}}],
      iceTransportPolicy: 'relay'}});
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const dst = ctx.createMediaStreamDestination();
    osc.connect(dst); osc.start();
    pc.addTrack(dst.stream.getAudioTracks()[0], dst.stream);
    let tracks = 0;
    pc.ontrack = () => tracks++;
    await pc.setLocalDescription(await pc.createOffer());
    const r = await fetch('/offer', {{method: 'POST', body: pc.localDescription.sdp}});
    if (!r.ok) {{ report({{error: 'offer: ' + r.status + ' ' + await r.text()}}); return; }}
    await pc.setRemoteDescription({{type: 'answer', sdp: await r.text()}});
    const t0 = Date.now();
    while (pc.connectionState !== 'connected' && Date.now() - t0 < 15000)
      await new Promise(res => setTimeout(res, 50));
    const connected = pc.connectionState;
    await new Promise(res => setTimeout(res, {seconds} * 1000));
    const stats = await pc.getStats();
    const out = {{connected, tracks}};
    stats.forEach(s => {{
      if (s.type === 'outbound-rtp') out.sent = s.packetsSent;
      if (s.type === 'inbound-rtp') {{
        out.received = s.packetsReceived; out.lost = s.packetsLost;
        out.codec = s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType;
      }}
      if (s.type === 'transport') out.dtls = s.dtlsState;
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {{
        const local = stats.get(s.localCandidateId);
        out.local_candidate = local && local.candidateType;
      }}
    }});
    report(out);
  }} catch (e) {{ report({{error: String(e)}}); }}
}})();
</script></body></html>"#,
        turn = turn.listener,
        user = TURN_USER,
        pass = TURN_PASSWORD,
        seconds = SECONDS,
    )
}

/// The page's web server: `GET /`, `POST /offer` (forwarded to media-edge's API with the
/// echo as the enterprise target; the answer SDP is returned), `POST /result`.
struct Site {
    addr: SocketAddr,
    results: mpsc::Receiver<(String, Value)>,
}

fn serve_site(edge_api: SocketAddr, page: String, echo: (SocketAddr, SocketAddr)) -> Site {
    let listener = TcpListener::bind("127.0.0.1:0").expect("page server");
    let addr = listener.local_addr().expect("page address");
    let (tx, results) = mpsc::channel();
    std::thread::spawn(move || {
        let mut session = String::new();
        for stream in listener.incoming().flatten() {
            let Some((method, path, body)) = read_request(&stream) else {
                continue;
            };
            let (status, content_type, reply) = match (method.as_str(), path.as_str()) {
                ("GET", "/") => (200, "text/html", page.clone()),
                ("POST", "/offer") => {
                    let create = json!({
                        "offer": body,
                        "enterprise": {"rtp": echo.0.to_string(), "rtcp": echo.1.to_string()},
                    });
                    let (status, created) = ApiClient::connect(edge_api).request(
                        "POST",
                        "/v1/sessions",
                        Some(&create.to_string()),
                    );
                    let created: Value = serde_json::from_str(&created).unwrap_or(Value::Null);
                    session = created["id"].as_str().unwrap_or_default().to_owned();
                    let _ = tx.send(("created".into(), created.clone()));
                    let answer = created["answer"].as_str().unwrap_or_default().to_owned();
                    (
                        if status == 201 { 200 } else { 500 },
                        "application/sdp",
                        answer,
                    )
                }
                ("POST", "/result") => {
                    let result = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let _ = tx.send((session.clone(), result));
                    (204, "text/plain", String::new())
                }
                _ => (404, "text/plain", String::new()),
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    Site { addr, results }
}

#[test]
fn chromium_call_relayed_through_our_turn_server() {
    let edge = MediaEdge::start(5);
    let turn = Turn::start(5);
    let echo = Echo::start();
    let site = serve_site(edge.api, page(&turn), (echo.rtp, echo.rtcp));
    let browser = Chromium::open(&format!("http://{}/", site.addr), &[]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut created = Value::Null;
    let (session, result) = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match site.results.recv_timeout(left) {
            Ok((kind, value)) if kind == "created" => created = value,
            Ok(done) => break done,
            Err(_) => panic!("no result from the page within 60 s; created: {created}"),
        }
    };
    let mut client = ApiClient::connect(edge.api);
    let (_, snapshot) = client.request("GET", &format!("/v1/sessions/{session}"), None);
    let snapshot: Value = serde_json::from_str(&snapshot).expect("session JSON");
    drop(browser);
    let seen = echo.finish();
    eprintln!(
        "chromium: {result}; echo: {} RTP, {} RTCP; session: {}",
        seen.seqs.len(),
        seen.rtcp_packets,
        snapshot["counters"]
    );

    assert!(result.get("error").is_none(), "{result}");
    assert_eq!(result["connected"], "connected", "{result}");
    assert_eq!(result["local_candidate"], "relay", "{result}");
    assert_eq!(result["dtls"], "connected", "{result}");
    assert_eq!(result["codec"], "audio/opus", "{result}");
    // ~50 packets a second for SECONDS; every one echoed, none lost on the way back.
    let sent = result["sent"].as_u64().unwrap_or(0);
    let received = result["received"].as_u64().unwrap_or(0);
    assert!(sent >= 40 * SECONDS, "{result}");
    assert!(received >= 40 * SECONDS, "{result}");
    assert_eq!(result["lost"], 0, "{result}");
    // The enterprise side got Chromium's stream in order without a gap, from the pinned
    // address and the port the enterprise SDP named.
    let enterprise_port = media_port(created["enterprise-sdp"].as_str().unwrap_or_default());
    assert!(seen.seqs.len() as u64 >= 40 * SECONDS, "{seen:?}");
    for pair in seen.seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0].wrapping_add(1),
            "gap or reorder: {:?}",
            seen.seqs
        );
    }
    assert_eq!(seen.payload_types, [111], "{seen:?}");
    assert!(seen.rtcp_packets >= 1, "{seen:?}");
    for source in &seen.sources {
        assert_eq!(source.ip(), ENTERPRISE_IP, "{seen:?}");
        assert!(edge.enterprise.contains(source.port()), "{seen:?}");
    }
    assert!(
        seen.sources.iter().any(|s| s.port() == enterprise_port),
        "{seen:?}"
    );
    // media-edge saw Chromium at its TURN relay address and counted the media.
    assert_eq!(snapshot["state"], "active", "{snapshot}");
    let browser_addr: SocketAddr = snapshot["browser-addr"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .expect("browser-addr");
    assert_eq!(browser_addr.ip(), TURN_RELAY_IP, "{snapshot}");
    let counters = &snapshot["counters"];
    assert!(
        counters["browser_to_enterprise"]["rtp_packets"].as_u64() >= Some(40 * SECONDS),
        "{snapshot}"
    );
    assert!(
        counters["enterprise_to_browser"]["rtp_packets"].as_u64() >= Some(40 * SECONDS),
        "{snapshot}"
    );

    let (status, _) = client.request("DELETE", &format!("/v1/sessions/{session}"), None);
    assert_eq!(status, 204);
    assert_ranges_free(&edge);
}
