//! The `edge-loadgen` binary as a user runs it: `rtp-echo` echoes and reports on SIGTERM;
//! `turn --json` against media-edge's TURN service prints a report that passes, and exits
//! 2 when its bound is broken; Ctrl-C (SIGINT) mid-run still prints what was measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edge_turn::{ServerConfig, Service, ServiceConfig};

const BIN: &str = env!("CARGO_BIN_EXE_edge-loadgen");
/// How long a test waits for what must happen: a guard against hanging, never a window.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// What the echo test sends until the echo answers.
const PROBE: &[u8] = b"up?";

fn turn_service(ports: std::ops::RangeInclusive<u16>) -> Service {
    let mut server = ServerConfig::new("cli.test", "127.0.0.1".parse().unwrap());
    server.users = vec![("u".into(), "p".into())];
    server.nonce_secret = vec![1; 32];
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    server.port_range = ports.try_into().unwrap();
    let mut config = ServiceConfig::new(server);
    config.udp = vec!["127.0.0.1:0".parse().unwrap()];
    Service::start(config).unwrap()
}

fn json_of(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(stdout)))
}

#[test]
fn rtp_echo_echoes_and_reports_on_sigterm() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .args([
            "rtp-echo",
            "--json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut buf = [0u8; 2048];
    // Up once it answers a probe (the first probes may race its bind).
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + HANG_GUARD;
    while client
        .send_to(PROBE, echo)
        .and_then(|_| client.recv_from(&mut buf))
        .is_err()
    {
        assert!(Instant::now() < deadline, "the echo never answered");
    }
    // Then every datagram comes back unchanged, one at a time (a late answer to a probe is
    // skipped).
    client.set_read_timeout(Some(HANG_GUARD)).unwrap();
    for i in 0..200u32 {
        let payload = [i.to_be_bytes().as_slice(), &[0xAB; 168]].concat();
        client.send_to(&payload, echo).unwrap();
        loop {
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(from, echo);
            if &buf[..n] != PROBE {
                assert_eq!(&buf[..n], &payload[..], "echoed unchanged");
                break;
            }
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stats = json_of(&out.stdout);
    assert_eq!(stats["received"], stats["echoed"]);
    // The 200 datagrams and at least the probe that was answered.
    assert!(stats["echoed"].as_u64().unwrap() > 200, "{stats}");
    assert_eq!(stats["dropped"], 0);
}

#[test]
fn turn_json_report_passes_and_bounds_are_enforced() {
    let service = turn_service(53_000..=53_049);
    let server = service.local_addrs().udp[0].to_string();
    let base = [
        "turn",
        "--server",
        &server,
        "--user",
        "u",
        "--password",
        "p",
        "--json",
        "--quiet",
    ];
    let out = Command::new(BIN)
        .args(base)
        .args([
            "--allocations",
            "5",
            "--rate",
            "100",
            "--duration",
            "1",
            // The longest drain: it ends as soon as every reply is in.
            "--drain",
            "60",
            // Probes the generator fell behind on count as loss for the exit status; the
            // accounting below checks them instead.
            "--max-loss",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json_of(&out.stdout);
    assert_eq!(r["mode"], "turn");
    assert_eq!(r["flows"], 5);
    assert_eq!(r["setup"]["succeeded"], 5);
    // Every probe of the schedule (5 flows at 100/s for 1 s) is accounted for: sent, or
    // refused by a full socket, or not reached by a generator that fell behind (a busy
    // machine's share, which only a release benchmark measures).
    let unsent = r["send_blocked"].as_u64().unwrap() + r["behind_schedule"].as_u64().unwrap();
    assert_eq!(r["sent"].as_u64().unwrap() + unsent, 500, "{r}");
    assert!(r["sent"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["received"], r["sent"]);
    assert_eq!(r["lost"], 0);
    assert!(r["rtt_us"]["p50"].as_u64().unwrap() > 0);

    // A wrong password: nothing set up, exit status 2, the 401 named.
    let out = Command::new(BIN)
        .args([
            "turn",
            "--server",
            &server,
            "--user",
            "u",
            "--password",
            "bad",
            "--quiet",
        ])
        .args(["--allocations", "2", "--duration", "0.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("401"), "{text}");
    service.shutdown().unwrap();
}

#[test]
fn sigint_mid_run_prints_what_was_measured() {
    let service = turn_service(53_050..=53_099);
    let server = service.local_addrs().udp[0].to_string();
    let child = Command::new(BIN)
        .args([
            "turn",
            "--server",
            &server,
            "--user",
            "u",
            "--password",
            "p",
            "--json",
        ])
        .args([
            "--allocations",
            "3",
            "--duration",
            "60",
            "--drain",
            "60",
            // Exit 0 says the interrupted run reported; whether a debug build kept its
            // schedule on a busy machine (probes behind count as loss) is a benchmark's matter.
            "--max-loss",
            "1",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Mid-run: once the server has relayed its first probes to the peer.
    let deadline = Instant::now() + HANG_GUARD;
    while service.snapshot().to_peers == 0 {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let r = json_of(&out.stdout);
    assert_eq!(r["interrupted"], true);
    assert!(r["duration_s"].as_f64().unwrap() < 30.0);
    assert!(r["sent"].as_u64().unwrap() > 0);
    assert_eq!(r["received"], r["sent"], "drained after the interrupt");
    assert_eq!(out.status.code(), Some(0));
    service.shutdown().unwrap();
}
