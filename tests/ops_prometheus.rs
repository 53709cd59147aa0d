//! A real Prometheus (Debian's `prometheus`) scrapes the media-edge binary's admin listener
//! every second while an aiortc call runs through it, relayed by media-edge's own TURN
//! server: its HTTP API (`/api/v1/query`) shows the TURN relayed-packet counter and the
//! forwarder's forwarded-packet counter rise while the call runs, the session gauge at 1
//! during the call and back at 0 once the call is deleted, the enterprise port range in use
//! during the call and free after it, and the call's quality (loss, jitter, MOS per leg) in
//! the call-end histograms. `promtool check metrics` accepts the exposition scraped during
//! the call.
//!
//! The binary is the one cargo built beside this test (`cargo test --workspace`, as
//! scripts/test.sh runs the suite, builds it; alone: `cargo build -p media-edge` first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use edge_suite::media::{run_media_peer, TOKEN, TURN_PASSWORD, TURN_USER};
use edge_suite::turn::media_edge_binary;
use edge_suite::{http_get, require_program};
use serde_json::{json, Value};

/// The test's port block (below the namespace's ephemeral range, clear of the other tests).
const BASE: u16 = 22_800;
/// Frames the call sends: 20 s of audio, long enough for many 1 s scrapes during the call.
const FRAMES: usize = 1000;

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus's value of the instant query `promql`, or `None` while it has no sample.
fn query(prometheus: SocketAddr, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = http_get(prometheus, &format!("/api/v1/query?query={encoded}"));
    if status != 200 {
        return None;
    }
    // Prometheus answers HTTP/1.1 with chunked bodies: the JSON is the line between sizes.
    let json = body.lines().find(|l| l.starts_with('{'))?;
    let answer: Value = serde_json::from_str(json).ok()?;
    let value = answer["data"]["result"].get(0)?["value"].get(1)?.as_str()?;
    value.parse().ok()
}

/// Waits (up to `within`) until `check` holds for the query's value; the value then.
fn until(
    prometheus: SocketAddr,
    promql: &str,
    within: Duration,
    check: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = query(prometheus, promql) {
            if check(v) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{promql} did not reach the expected value within {within:?} (last: {:?})",
            query(prometheus, promql)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Starts media-edge with TURN, the forwarder, the API and the admin listener on loopback.
fn start_media_edge(dir: &std::path::Path, admin: SocketAddr) -> Killed {
    let config = format!(
        "[turn]\nlisten-udp = [\"127.0.0.1:{turn}\"]\n\
         [turn.relay]\naddress = \"127.0.0.2\"\nport-range = \"{r0}-{r1}\"\n\
         [[turn.auth.users]]\nname = \"{TURN_USER}\"\npassword = \"{TURN_PASSWORD}\"\n\
         [turn.peers]\nallow = [\"127.0.0.0/8\"]\n\
         [forward]\nworkers = 1\n\
         [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"{p0}-{p1}\"\n\
         [forward.enterprise]\ntransport-address = \"127.0.0.3\"\nport-range = \"{e0}-{e1}\"\n\
         [api]\nlisten = \"127.0.0.1:{api}\"\ntokens = [\"{TOKEN}\"]\n\
         [admin]\nlisten = \"{admin}\"\n",
        turn = BASE + 90,
        r0 = BASE + 60,
        r1 = BASE + 79,
        p0 = BASE,
        p1 = BASE + 19,
        e0 = BASE + 20,
        e1 = BASE + 59,
        api = BASE + 80,
    );
    let path = dir.join("media-edge.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(media_edge_binary())
        .arg("--config")
        .arg(&path)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("media-edge: {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("admin listener: http://") => break,
            Ok(_) => {}
            Err(_) => panic!("media-edge did not start its admin listener within 30 s"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(admin, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        std::thread::sleep(Duration::from_millis(100));
    }
    Killed(child)
}

/// Starts Prometheus scraping `admin` every second, with its own storage, on `listen`.
fn start_prometheus(dir: &std::path::Path, admin: SocketAddr, listen: SocketAddr) -> Killed {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: media-edge\n    scrape_interval: 1s\n    \
         scrape_timeout: 1s\n    static_configs:\n      - targets: [\"{admin}\"]\n"
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let storage = dir.join("tsdb");
    let child = Command::new(require_program("prometheus"))
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--storage.tsdb.path={}", storage.display()))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let prometheus = Killed(child);
    // Up once it answers and has scraped the target at least once.
    let up = "up{job=\"media-edge\"}";
    until(listen, up, Duration::from_secs(60), |v| v == 1.0);
    prometheus
}

#[test]
fn prometheus_sees_a_relayed_call_live() {
    let dir = edge_suite::turn::ScratchDir::new("ops-prometheus");
    let admin: SocketAddr = SocketAddr::from(([127, 0, 0, 1], BASE + 81));
    let prometheus: SocketAddr = SocketAddr::from(([127, 0, 0, 1], BASE + 82));
    let _edge = start_media_edge(&dir, admin);
    let _prometheus = start_prometheus(&dir, admin, prometheus);
    let relayed = "sum(media_edge_turn_relayed_packets_total)";
    let forwarded = "sum(media_edge_forward_forwarded_packets_total)";
    let sessions = "sum(media_edge_forward_sessions)";
    assert_eq!(query(prometheus, relayed), Some(0.0));
    assert_eq!(query(prometheus, forwarded), Some(0.0));
    assert_eq!(query(prometheus, sessions), Some(0.0));

    // The call, aiortc forced through media-edge's TURN server, in the background.
    let plan = json!({
        "api": format!("http://127.0.0.1:{}", BASE + 80),
        "token": TOKEN,
        "frames": FRAMES,
        "timeout": 90,
        "turn": {
            "url": format!("turn:127.0.0.1:{}?transport=udp", BASE + 90),
            "username": TURN_USER,
            "credential": TURN_PASSWORD,
        },
        "calls": [{"name": "scraped", "relay": true}],
    });
    let call = std::thread::spawn(move || run_media_peer(&plan));

    // While it runs: a session, and both counters rising between two scrapes.
    let within = Duration::from_secs(60);
    until(prometheus, sessions, within, |v| v == 1.0);
    let first_relayed = until(prometheus, relayed, within, |v| v > 0.0);
    let first_forwarded = until(prometheus, forwarded, within, |v| v > 0.0);
    until(prometheus, relayed, within, |v| v > first_relayed);
    until(prometheus, forwarded, within, |v| v > first_forwarded);
    // The allocation, its permission, its bytes and the login's 401 challenge.
    let udp = "media_edge_turn_allocations{transport=\"udp\"}";
    until(prometheus, udp, within, |v| v >= 1.0);
    until(prometheus, "media_edge_turn_permissions", within, |v| {
        v >= 1.0
    });
    let bytes = "sum(media_edge_turn_relayed_bytes_total)";
    until(prometheus, bytes, within, |v| v > 0.0);
    let challenged = "media_edge_turn_error_responses_total{code=\"401\"}";
    until(prometheus, challenged, within, |v| v >= 1.0);
    // The call's enterprise leg holds an RTP and an RTCP port of its range.
    let enterprise_ports = "media_edge_ports_in_use{range=\"forward_enterprise\"}";
    until(prometheus, enterprise_ports, within, |v| v == 2.0);
    assert!(
        !call.is_finished(),
        "the call ended before Prometheus saw its counters rise"
    );
    let (status, exposition) = http_get(admin, "/metrics");
    assert_eq!(status, 200);
    let mut promtool = Command::new(require_program("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics:\n{}{}\n{exposition}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // The call ends (media_peer.py deletes the session): the gauge goes back to 0, and the
    // counters hold what the call carried.
    let calls = call.join().expect("the call thread");
    let report = &calls["scraped"];
    assert_eq!(report["delete_status"], 204, "{report}");
    until(prometheus, sessions, within, |v| v == 0.0);
    let forwarded_total = until(prometheus, forwarded, within, |v| v >= FRAMES as f64);
    let relayed_total = until(prometheus, relayed, within, |v| v >= FRAMES as f64);
    assert!(forwarded_total >= FRAMES as f64, "{forwarded_total}");
    // One worker: it forwarded every packet.
    let worker = "media_edge_forward_worker_packets_total{worker=\"0\"}";
    until(prometheus, worker, within, |v| v >= forwarded_total);
    assert!(relayed_total >= FRAMES as f64, "{relayed_total}");
    until(
        prometheus,
        "sum(media_edge_forward_sessions_ended_total{reason=\"removed\"})",
        within,
        |v| v == 1.0,
    );
    // Its ports are free again, and its call quality went into the call-end histograms: loss,
    // jitter and MOS of both legs (media both ways); no RTT, as the echo sends no RTCP.
    until(prometheus, enterprise_ports, within, |v| v == 0.0);
    for leg in ["browser", "enterprise"] {
        for figure in ["loss_ratio", "jitter_seconds", "mos"] {
            let count = format!("media_edge_forward_call_{figure}_count{{leg=\"{leg}\"}}");
            until(prometheus, &count, within, |v| v == 1.0);
        }
        let rtt = format!("media_edge_forward_call_rtt_seconds_count{{leg=\"{leg}\"}}");
        until(prometheus, &rtt, within, |v| v == 0.0);
    }
    // Nothing was lost: the loss lands in the lowest bucket, the MOS in the highest.
    let lossless = "media_edge_forward_call_loss_ratio_bucket{leg=\"enterprise\",le=\"0.0\"}";
    until(prometheus, lossless, within, |v| v == 1.0);
    let good = "media_edge_forward_call_mos_bucket{leg=\"enterprise\",le=\"4.3\"}";
    until(prometheus, good, within, |v| v == 0.0);
    // The API request that ended it, counted and timed under its route template.
    let labels = "route=\"/v1/sessions/{id}\",method=\"DELETE\"";
    let deleted = format!("media_edge_api_requests_total{{{labels},status=\"204\"}}");
    until(prometheus, &deleted, within, |v| v == 1.0);
    let timed = format!("media_edge_api_request_seconds_count{{{labels}}}");
    until(prometheus, &timed, within, |v| v == 1.0);
}
