//! systemd integration: `NOTIFY_SOCKET` (a unix datagram socket the test listens on) gets
//! `READY=1` once every listener is bound and `STOPPING=1` when SIGTERM starts the drain;
//! `systemd-analyze verify` (Debian package systemd) accepts deploy/systemd/media-edge.service,
//! whose `LimitNOFILE` covers deploy/media-edge.toml's port ranges and connection limits.
//! With `WATCHDOG_USEC` set (`WatchdogSec=`), `WATCHDOG=1` arrives at half the interval,
//! and not when `WATCHDOG_PID` names another process. Ports 38600-38699.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{scratch, Running};

fn deploy() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy"))
}

/// The next datagram on `socket` (waiting up to 20 s).
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("no sd_notify datagram within 20 s");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn notify_socket_gets_ready_after_binding_and_stopping_on_sigterm() {
    let dir = scratch("notify.keep", "").parent().unwrap().to_owned();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let api: SocketAddr = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap()
    };
    let config = scratch(
        "notify.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:38600\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"38610-38619\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38620-38629\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38630-38639\"\n\
             [api]\nlisten = \"{api}\"\n"
        ),
    );
    let mut edge = Running::start_with_env(
        ["--config", config.to_str().unwrap()],
        &[("NOTIFY_SOCKET", path.as_os_str())],
    );
    assert_eq!(next(&socket), "READY=1");
    // Ready means bound: the API accepts and the TURN port is taken.
    TcpStream::connect(api).unwrap();
    assert!(
        UdpSocket::bind("127.0.0.1:38600").is_err(),
        "TURN not bound"
    );

    edge.signal("TERM");
    assert_eq!(next(&socket), "STOPPING=1");
    let status = edge.exited_within(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// A configuration with TURN and the forwarder (its workers are what the watchdog watches).
fn watched_config(name: &str, base: u16) -> std::path::PathBuf {
    scratch(
        name,
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"{}-{}\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"{}-{}\"\n",
            base,
            base + 4,
            base + 5,
            base + 9,
            base + 10,
            base + 14
        ),
    )
}

#[test]
fn watchdog_pings_at_half_the_interval_while_the_workers_turn() {
    let dir = scratch("watchdog.keep", "").parent().unwrap().to_owned();
    let path = dir.join("watchdog.sock");
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let config = watched_config("watchdog.toml", 38650);
    let mut edge = Running::start_with_env(
        ["--config", config.to_str().unwrap()],
        &[
            ("NOTIFY_SOCKET", path.as_os_str()),
            ("WATCHDOG_USEC", OsStr::new("1000000")),
        ],
    );
    assert_eq!(next(&socket), "READY=1");
    // Every 0.5 s: six pings take about 3 s (the read timeout is the hang guard).
    let started = std::time::Instant::now();
    for _ in 0..6 {
        assert_eq!(next(&socket), "WATCHDOG=1");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(2000),
        "pings faster than half the interval: {:?}",
        started.elapsed()
    );
    edge.signal("TERM");
    // Pings may still be in the queue before STOPPING=1.
    let mut last = next(&socket);
    while last == "WATCHDOG=1" {
        last = next(&socket);
    }
    assert_eq!(last, "STOPPING=1");
    assert!(edge.exited_within(Duration::from_secs(20)).is_some());
}

#[test]
fn watchdog_for_another_pid_is_not_ours() {
    let dir = scratch("watchdog-pid.keep", "")
        .parent()
        .unwrap()
        .to_owned();
    let path = dir.join("watchdog-pid.sock");
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let config = watched_config("watchdog-pid.toml", 38670);
    let mut edge = Running::start_with_env(
        ["--config", config.to_str().unwrap()],
        &[
            ("NOTIFY_SOCKET", path.as_os_str()),
            ("WATCHDOG_USEC", OsStr::new("200000")),
            ("WATCHDOG_PID", OsStr::new("1")),
        ],
    );
    assert_eq!(next(&socket), "READY=1");
    // Ten intervals pass without a ping; the next datagram is the drain's.
    std::thread::sleep(Duration::from_secs(2));
    edge.signal("TERM");
    assert_eq!(next(&socket), "STOPPING=1");
    assert!(edge.exited_within(Duration::from_secs(20)).is_some());
}

#[test]
fn abstract_notify_socket_is_reached_too() {
    use std::os::linux::net::SocketAddrExt as _;
    let name = format!("media-edge-test-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let config = scratch(
        "notify-abstract.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
         port-range = \"38640-38649\"\n",
    );
    let target = format!("@{name}");
    let mut edge = Running::start_with_env(
        ["--config", config.to_str().unwrap()],
        &[("NOTIFY_SOCKET", OsStr::new(&target))],
    );
    assert_eq!(next(&socket), "READY=1");
    edge.signal("TERM");
    assert_eq!(next(&socket), "STOPPING=1");
    assert!(edge.exited_within(Duration::from_secs(20)).is_some());
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let unit = std::fs::read_to_string(deploy().join("systemd/media-edge.service")).unwrap();
    for needed in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "\nCapabilityBoundingSet=\n",
        "User=media-edge",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed:?}");
    }
    // verify checks that the executables exist: point them at the binary under test.
    let dir = scratch("unit.keep", "").parent().unwrap().join("unit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("media-edge.service");
    std::fs::write(&path, unit.replace("/usr/bin/media-edge", common::BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 on many complaints: it must say nothing at all.
    assert!(out.status.success() && said.is_empty(), "{said}");
}

/// `LimitNOFILE` covers one descriptor per port of every range and per connection allowed,
/// for the example configuration, plus 1,000 for listeners, event loops and files.
#[test]
fn limit_nofile_covers_the_example_configuration() {
    let unit = std::fs::read_to_string(deploy().join("systemd/media-edge.service")).unwrap();
    let limit: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("LimitNOFILE="))
        .unwrap()
        .parse()
        .unwrap();
    let text = std::fs::read_to_string(deploy().join("media-edge.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let range = |v: &toml::Value| {
        let (a, b) = v.as_str().unwrap().split_once('-').unwrap();
        b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1
    };
    let turn = &config["turn"];
    let forward = &config["forward"];
    let api_connections = config["api"]
        .get("max-connections")
        .map_or(1024, |v| v.as_integer().unwrap() as u64);
    let need = range(&turn["relay"]["port-range"])
        + range(&forward["public"]["port-range"])
        + range(&forward["enterprise"]["port-range"])
        + turn["max-connections"].as_integer().unwrap() as u64
        + api_connections
        + 1000;
    assert!(
        limit >= need,
        "LimitNOFILE={limit}, the example needs {need}"
    );
}
