//! SIGTERM drains: during an aiortc call through the binary (and with a TURN allocation
//! held), `/readyz` on the admin listener turns 503, a new `POST /v1/sessions` gets 503 with
//! `Retry-After`, a new TURN Allocate gets
//! 508, the held allocation keeps relaying and the call's media keeps flowing with every
//! frame delivered both ways until aiortc deletes the session; the log says what is still
//! open; once the allocation is deleted too the process exits 0 and its ports are free.
//! The process logs JSON (`[log] format = "json"`): every line parses, and the `call ended`
//! and `allocation closed` lines carry the call's and the allocation's counters.
//! Ports 38500-38599.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{http, scratch, Allocation, Running};
use serde_json::{json, Value};

const TOKEN: &str = "drain-test-token-0123456789";
/// 20 ms frames: 16 s of audio, time enough to drain while the call runs.
const FRAMES: usize = 800;

fn python() -> PathBuf {
    match std::env::var_os("MEDIA_EDGE_PYTHON").map(PathBuf::from) {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "MEDIA_EDGE_PYTHON does not name the test venv's python: run the suite through \
             scripts/test.sh, which installs aiortc"
        ),
    }
}

/// GET `path` on the API as JSON (off the runtime's threads).
async fn get(api: SocketAddr, path: &str) -> Value {
    let path = path.to_owned();
    let (status, body) = tokio::task::spawn_blocking(move || http(api, "GET", &path, TOKEN, ""))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The whole answer (status line, headers, body) to a `POST /v1/sessions`.
fn post_session(api: SocketAddr) -> String {
    let mut stream = TcpStream::connect(api).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = r#"{"offer": "v=0\r\n"}"#;
    write!(
        stream,
        "POST /v1/sessions HTTP/1.1\r\nHost: media-edge\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn rtp_packets(session: &Value) -> u64 {
    session["counters"]["browser_to_enterprise"]["rtp_packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no counters: {session}"))
}

fn frames(what: &str, list: &Value) {
    let got: Vec<i64> = list
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no frames"))
        .iter()
        .map(|f| f.as_i64().unwrap_or(-1))
        .collect();
    let expected: Vec<i64> = (0..FRAMES as i64).collect();
    assert!(
        got.len() >= FRAMES && got[..FRAMES] == expected[..],
        "{what}: not every frame in order ({} frames): {:?}",
        got.len(),
        got.iter().enumerate().find(|(i, f)| **f != *i as i64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_running_call_and_allocation_then_exits_0() {
    let free = || -> SocketAddr {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap()
    };
    let (api, admin) = (free(), free());
    let config = scratch(
        "drain.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n\
             [[turn.auth.users]]\nname = \"alice\"\npassword = \"alice-password\"\n\
             [turn.relay]\naddress = \"127.0.0.1\"\nport-range = \"38500-38509\"\n\
             [turn.peers]\nallow = [\"127.0.0.0/8\"]\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38510-38519\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38520-38529\"\n\
             [api]\nlisten = \"{api}\"\ntokens = [\"{TOKEN}\"]\n\
             [admin]\nlisten = \"{admin}\"\n\
             [drain]\ntimeout = 120\nretry-after = 7\n[log]\nformat = \"json\"\n"
        ),
    );
    let mut edge = Running::start(["--config", config.to_str().unwrap()]);
    let turn = edge.address_after("media-edge TURN: udp ");
    edge.wait_for(&format!("control API: plain HTTP on {api}"));

    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let held = Allocation::new(turn, "127.0.0.1", "alice", "alice-password")
        .await
        .unwrap();
    held.relays_to(&peer, b"before the drain").await;

    // aiortc's call, in the background: it sends FRAMES frames, then deletes its session.
    let plan = json!({
        "api": format!("http://{api}"), "token": TOKEN, "frames": FRAMES, "timeout": 90,
        "calls": [{"name": "draining"}],
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/media_peer.py");
    let call = Command::new(python())
        .arg(script)
        .arg(plan.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let call = std::thread::spawn(move || call.wait_with_output().unwrap());

    // Media flows: the session is active.
    let deadline = Instant::now() + Duration::from_secs(60);
    let session = loop {
        let sessions = get(api, "/v1/sessions").await;
        let active = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["state"] == "active" && rtp_packets(s) > 0);
        if let Some(s) = active {
            break s.clone();
        }
        assert!(Instant::now() < deadline, "no active session: {sessions}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let id = session["id"].as_str().unwrap().to_owned();

    let readyz =
        move || tokio::task::spawn_blocking(move || http(admin, "GET", "/readyz", "", "").0);
    assert_eq!(readyz().await.unwrap(), 200, "ready before the drain");
    edge.signal("TERM");
    edge.wait_for("SIGTERM: draining for at most 120 s");
    // Not ready: a load balancer's probe sends new work elsewhere.
    assert_eq!(readyz().await.unwrap(), 503, "/readyz while draining");

    // No new session: 503 with Retry-After.
    let answer = tokio::task::spawn_blocking(move || post_session(api))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 7\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\"error\":\"draining\""), "{answer}");

    // No new allocation: 508.
    let refused = Allocation::new(turn, "127.0.0.1", "alice", "alice-password").await;
    let error = refused.err().expect("a new allocation while draining");
    assert!(error.contains("508"), "{error}");

    // The held allocation relays; the call's media goes on.
    held.relays_to(&peer, b"while draining").await;
    let before = rtp_packets(&get(api, &format!("/v1/sessions/{id}")).await);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = get(api, &format!("/v1/sessions/{id}")).await;
        assert_eq!(now["state"], "active", "{now}");
        if rtp_packets(&now) > before + 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "media stopped while draining: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open = edge.wait_for("draining: 1 allocation(s) and 1 call(s) still open");
    assert!(open.contains("INFO"), "{open}");

    // The call ends on its own, every frame delivered both ways.
    let output = tokio::task::spawn_blocking(move || call.join().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "media_peer.py: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {stderr}"));
    let call = &report["calls"]["draining"];
    assert_eq!(call["create_status"], 201, "{call}");
    frames("enterprise echo", &call["echo"]["frames"]);
    frames("aiortc", &call["received"]);
    assert_eq!(call["delete_status"], 204, "{call}");
    edge.wait_for("draining: 1 allocation(s) and 0 call(s) still open");
    assert!(
        edge.exited_within(Duration::ZERO).is_none(),
        "exited with an allocation open"
    );

    // The last allocation goes: the drain is complete, exit 0.
    let relayed = held.relayed;
    held.close().await;
    let status = edge.exited_within(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        edge.log()
    );
    edge.wait_for("drain complete after");
    // Every line is JSON; the records of the call and of the allocation carry counters.
    let lines: Vec<Value> = edge
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let record = |message: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line: {}", edge.log()))["fields"]
            .clone()
    };
    let call = record("call ended");
    assert_eq!(call["session"], id.as_str(), "{call}");
    assert_eq!(call["reason"], "removed through the API", "{call}");
    for direction in ["browser_to_enterprise", "enterprise_to_browser"] {
        let packets = call[format!("{direction}_packets")].as_u64().unwrap();
        let bytes = call[format!("{direction}_bytes")].as_u64().unwrap();
        assert!(packets >= FRAMES as u64 && bytes > packets * 100, "{call}");
        assert_eq!(call[format!("{direction}_drops")], 0, "{call}");
    }
    assert!(call["duration_s"].as_u64().unwrap() >= 10, "{call}");
    let allocation = record("allocation closed");
    assert_eq!(allocation["relay"], relayed.to_string(), "{allocation}");
    assert_eq!(allocation["reason"], "Deleted", "{allocation}");
    assert!(
        allocation["to_peer_packets"].as_u64().unwrap() >= 2,
        "{allocation}"
    );
    assert!(
        allocation["to_peer_bytes"].as_u64().unwrap() >= 30,
        "{allocation}"
    );
    for key in [
        "duration_s",
        "to_client_packets",
        "to_client_bytes",
        "dropped",
    ] {
        assert!(allocation[key].is_u64(), "{key}: {allocation}");
    }

    // Its ports are free: the call's public port, the TURN listener, the relay port.
    let public: SocketAddr = session["public-addr"].as_str().unwrap().parse().unwrap();
    for port in [public, turn, relayed] {
        std::net::UdpSocket::bind(port).unwrap_or_else(|e| panic!("{port}: {e}"));
    }
}
