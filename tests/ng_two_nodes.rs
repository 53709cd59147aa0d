//! Two media-edge nodes behind one Kamailio (the `rtpengine` module with both ng sockets in
//! one set): calls from SIPp (offering WebRTC, answered by a SIPp user agent with plain RTP)
//! spread over both nodes; when one node is drained (SIGTERM) it answers new offers
//! `load limit`, Kamailio sends the new calls to the other node, and the drained node's calls
//! go on until their BYE, after which it exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edge_loadgen::rtpengine::NgClient;
use edge_ng::Value;
use edge_suite::sip::{kamailio, sipp, Ports, Process};
use edge_suite::turn::{media_edge_binary, ScratchDir};

/// Calls held across the drain, and calls made while it runs.
const HELD: usize = 16;
const LATER: usize = 6;
/// The hang guard of each wait.
const PATIENCE: Duration = Duration::from_secs(120);

/// One media-edge process with the forwarder and ng on `ng`, its ranges from `base`.
fn node(name: &'static str, base: u16, ng: SocketAddr, dir: &Path) -> Process {
    let config = format!(
        r#"
[turn]
listen-udp = ["127.0.0.1:{turn}"]
[turn.relay]
address = "127.0.0.1"
port-range = "{turn_first}-{turn_last}"
[forward]
workers = 1
[forward.public]
address = "127.0.0.1"
port-range = "{public_first}-{public_last}"
[forward.enterprise]
transport-address = "127.0.0.1"
port-range = "{enterprise_first}-{enterprise_last}"
[ng]
listen = "{ng}"
[guard.rate.api]
rate = 100000
burst = 100000
[drain]
timeout = 120
"#,
        turn = base,
        turn_first = base + 1,
        turn_last = base + 9,
        public_first = base + 10,
        public_last = base + 49,
        enterprise_first = base + 50,
        enterprise_last = base + 99,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(media_edge_binary())
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start media-edge");
    let process = Process(child, name);
    let mut client = NgClient::new(ng, "127.0.0.1".parse().unwrap()).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while client.command("ping", vec![]).is_err() {
        assert!(Instant::now() < deadline, "{name} does not answer ping");
    }
    process
}

/// A node's `statistics`: (calls it holds, sessions it created since start).
fn calls(ng: SocketAddr) -> (i64, i64) {
    let mut client = NgClient::new(ng, "127.0.0.1".parse().unwrap()).unwrap();
    let reply = client.command("statistics", vec![]).unwrap();
    let stats = reply.get("statistics").unwrap();
    let own = stats
        .get("currentstatistics")
        .and_then(|c| c.get("sessionsown"))
        .and_then(Value::as_int)
        .unwrap();
    let created = stats
        .get("totalstatistics")
        .and_then(|t| t.get("managedsessions"))
        .and_then(Value::as_int)
        .unwrap();
    (own, created)
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn calls_spread_over_two_nodes_and_a_drained_node_hands_new_calls_to_the_other() {
    let dir = ScratchDir::new("two-nodes");
    let (ng_a, ng_b): (SocketAddr, SocketAddr) = (
        "127.0.0.1:24500".parse().unwrap(),
        "127.0.0.1:24501".parse().unwrap(),
    );
    let mut a = node("node-a", 24_000, ng_a, &dir);
    let _b = node("node-b", 24_200, ng_b, &dir);
    let ports = Ports::block(24_600);
    let _kamailio = kamailio(&ports, &format!("udp:{ng_a} udp:{ng_b}"), &dir);
    let total = (HELD + LATER).to_string();
    let mut uas = sipp(&ports, &dir, &["-sn", "uas", "-m", &total]);
    let target = format!("127.0.0.1:{}", ports.sip);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kamailio/uac_webrtc.xml");
    let caller = |count: usize, hold_ms: u32, port: u16| {
        let (count, hold) = (count.to_string(), hold_ms.to_string());
        let caller_ports = Ports::block(port);
        let args = [
            "-sf", scenario, "-s", "sipp", "-m", &count, "-l", &count, "-r", "20", "-d", &hold,
            &target,
        ];
        sipp(&caller_ports, &dir, &args)
    };

    // Calls held long enough to outlive the drain's start.
    let mut held = caller(HELD, 20_000, 24_620);
    wait_until("every held call has its session", || {
        let (a_calls, b_calls) = (calls(ng_a).0, calls(ng_b).0);
        a_calls + b_calls == HELD as i64
    });
    let (a_held, b_held) = (calls(ng_a).0, calls(ng_b).0);
    assert!(a_held > 0 && b_held > 0, "spread: a {a_held}, b {b_held}");
    let (_, a_created) = calls(ng_a);
    let (_, b_created) = calls(ng_b);

    // Drain node A: new calls go to B, A's calls go on.
    let status = Command::new("kill")
        .args(["-TERM", &a.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut later = caller(LATER, 500, 24_640);
    assert!(
        later.wait(PATIENCE).success(),
        "a call made during the drain failed"
    );
    assert_eq!(calls(ng_a).1, a_created, "the drained node took a new call");
    assert_eq!(
        calls(ng_b).1,
        b_created + LATER as i64,
        "node b took the new calls"
    );
    assert!(
        a.0.try_wait().unwrap().is_none(),
        "node a ended before its calls"
    );
    assert_eq!(
        calls(ng_a).0,
        a_held,
        "node a keeps its calls while draining"
    );

    // The held calls end (BYE): node A has nothing left and exits 0.
    assert!(held.wait(PATIENCE).success(), "a held call failed");
    assert!(
        a.wait(PATIENCE).success(),
        "node a's drain did not end cleanly"
    );
    assert!(
        uas.wait(PATIENCE).success(),
        "the answering SIPp saw a failed call"
    );
    assert_eq!(calls(ng_b).0, 0, "node b's calls ended");
    let log = std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default();
    let retried = log.matches("has reached its load limit").count();
    eprintln!(
        "held calls: node a {a_held}, node b {b_held}; Kamailio retried {retried} offer(s) on \
         the other node"
    );
}
