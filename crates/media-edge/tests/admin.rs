//! The admin listener as a scraper and a prober meet it: `/healthz` and `/readyz` answer
//! 200 once the service is up, `/metrics` serves an exposition `promtool check metrics`
//! accepts (and OpenMetrics when asked), unknown paths get 404, bodies 413, other methods
//! 405, a request flood 429 from the shared guard; off loopback it needs TLS or an opt-in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{accepted, refused, scratch, send_raw, Running};

/// A free loopback TCP port (the listener is dropped before the binary binds it).
fn free_port() -> SocketAddr {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    free.local_addr().unwrap()
}

/// A configuration with TURN, the forwarder and the admin listener on `admin`, the API rate
/// limit at `rate`/s with a burst of `burst` (the admin listener spends the same bucket).
fn config(name: &str, ports: u16, admin: SocketAddr, rate: u32, burst: u32) -> std::path::PathBuf {
    scratch(
        name,
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"{}-{}\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             [guard.rate.api]\nrate = {rate}\nburst = {burst}\n\
             [admin]\nlisten = \"{admin}\"\n",
            ports,
            ports + 9,
            ports + 10,
            ports + 19,
            ports + 20,
            ports + 29,
        ),
    )
}

/// One request (`extra` holds more header lines); the status, the headers (lower-cased
/// names) and the body.
fn request(admin: SocketAddr, method: &str, path: &str, extra: &str) -> (u16, String, String) {
    let stream = TcpStream::connect(admin).unwrap();
    let response = send_raw(
        stream,
        &format!("{method} {path} HTTP/1.1\r\nHost: admin\r\n{extra}Connection: close\r\n\r\n"),
    )
    .unwrap_or_default();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// Waits (up to 30 s) until `/readyz` answers 200.
fn until_ready(admin: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(admin).is_ok() && request(admin, "GET", "/readyz", "").0 == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn probes_metrics_and_refusals() {
    let admin = free_port();
    let path = config("admin.toml", 43300, admin, 1000, 10_000);
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    edge.wait_for(&format!("admin listener: http://{admin}"));
    until_ready(admin);

    let (status, _, body) = request(admin, "GET", "/healthz", "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, body) = request(admin, "GET", "/readyz", "");
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let (status, _, body) = request(admin, "HEAD", "/healthz", "");
    assert_eq!((status, body.as_str()), (200, ""));

    // Prometheus text by default; promtool accepts it.
    let expected = [
        "media_edge_ready 1",
        "media_edge_turn_allocations{transport=\"udp\"} ",
        "media_edge_turn_permissions ",
        "media_edge_turn_relayed_bytes_total{direction=\"to_client\"} ",
        "media_edge_turn_error_responses_total{code=\"401\"} ",
        "media_edge_turn_relayed_packets_total{direction=\"to_peer\"} ",
        "media_edge_forward_sessions{state=\"active\"} ",
        "media_edge_forward_forwarded_packets_total{direction=\"browser_to_enterprise\"} ",
        "media_edge_forward_session_setup_seconds_bucket{le=\"+Inf\"} ",
        "media_edge_guard_bans ",
        "media_edge_ports{range=\"turn_relay\"} 10",
        "media_edge_ports{range=\"forward_public\"} 10",
        "media_edge_process_open_fds ",
        "media_edge_thread_cpu_seconds_total{thread=\"turn-loop\"} ",
        "media_edge_thread_cpu_seconds_total{thread=\"forwarder-0\"} ",
        "media_edge_forward_worker_packets_total{worker=\"0\"} 0",
        "media_edge_process_cpu_seconds_total ",
    ];
    // A data-plane thread appears under its name once it has run long enough to set it
    // (std names a thread from inside it): scrape until every name is there.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (head, text) = loop {
        let (status, head, text) = request(admin, "GET", "/metrics", "");
        assert_eq!(status, 200, "{head}");
        if expected.iter().all(|name| text.contains(name)) || Instant::now() >= deadline {
            break (head, text);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    for name in expected {
        assert!(text.contains(name), "no {name:?} in\n{text}");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package, installed by scripts/test.sh)");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics refused the exposition:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // OpenMetrics when the scraper asks for it.
    let accept = "Accept: application/openmetrics-text; version=1.0.0\r\n";
    let (status, head, text) = request(admin, "GET", "/metrics", accept);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");

    // Unknown paths, bodies, other methods.
    assert_eq!(request(admin, "GET", "/v1/sessions", "").0, 404);
    assert_eq!(request(admin, "GET", "/metrics/x", "").0, 404);
    let body = "Content-Length: 5\r\n";
    let (status, head, _) = request(admin, "GET", "/metrics", body);
    assert_eq!(status, 413, "{head}");
    let chunked = "Transfer-Encoding: chunked\r\n";
    assert_eq!(request(admin, "GET", "/healthz", chunked).0, 413);
    let (status, head, _) = request(admin, "POST", "/metrics", "Content-Length: 0\r\n");
    assert_eq!(status, 405, "{head}");
    assert!(head.contains("allow: get, head"), "{head}");

    assert!(edge.stop().success(), "exit after SIGTERM");
}

#[test]
fn a_request_flood_is_rate_limited_by_the_guard() {
    let admin = free_port();
    let path = config("flood.toml", 43340, admin, 1, 5);
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    edge.wait_for(&format!("admin listener: http://{admin}"));
    // Whatever the burst still holds, a flood of 50 runs it dry at 1 request/s.
    let mut refused_with = None;
    for _ in 0..50 {
        let (status, head, _) = request(admin, "GET", "/healthz", "");
        if status == 429 {
            refused_with = Some(head);
            break;
        }
        assert_eq!(status, 200, "{head}");
    }
    let head = refused_with.expect("50 requests at 1/s burst 5 were never refused");
    assert!(head.contains("retry-after: 1"), "{head}");
    // The bucket refills: the refusal is counted, and a scrape goes through again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (status, _, text) = request(admin, "GET", "/metrics", "");
        if status == 200 {
            break text;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "never served again");
        std::thread::sleep(Duration::from_millis(500));
    };
    let refused: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("media_edge_guard_refused_total{reason=\"rate_limited_api\"} ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no rate_limited_api count in\n{text}"));
    assert!(refused >= 1, "{text}");
    assert!(edge.stop().success(), "exit after SIGTERM");
}

#[test]
fn off_loopback_needs_tls_or_the_opt_in() {
    let base = "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n";
    let open = scratch(
        "open.toml",
        &format!("{base}[admin]\nlisten = \"0.0.0.0:9480\"\n"),
    );
    let stderr = refused(["check-config", "--config", open.to_str().unwrap()]);
    assert!(
        stderr.contains("admin.listen: 0.0.0.0:9480 is not a loopback address"),
        "{stderr}"
    );
    let opted = scratch(
        "opted.toml",
        &format!("{base}[admin]\nlisten = \"0.0.0.0:9480\"\nallow-insecure-http = true\n"),
    );
    accepted(["check-config", "--config", opted.to_str().unwrap()]);
    let unknown = scratch("unknown.toml", &format!("{base}[admin]\ntoken = \"x\"\n"));
    let stderr = refused(["check-config", "--config", unknown.to_str().unwrap()]);
    assert!(stderr.contains("admin"), "{stderr}");
}
