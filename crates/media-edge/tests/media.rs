//! The media side of the binary as an operator meets it: the embedded default serves the
//! control API on loopback with a generated token, refuses requests without it, and stops
//! cleanly; `[api]` without `[relay]` is refused naming both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_media-edge");

fn scratch(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("media-edge-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// One HTTP/1.1 request; returns the status line and the body.
fn http(addr: &str, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Starts the binary; its log lines arrive on the receiver.
fn start(config: &std::path::Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn api_serves_with_the_generated_token_and_refuses_without_it() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = free.local_addr().unwrap().to_string();
    drop(free);
    let config = scratch(
        "api.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"43100-43109\"\n\
             [relay.public]\naddress = \"127.0.0.1\"\nport-range = \"43110-43119\"\n\
             [relay.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"43120-43129\"\n\
             [api]\nlisten = \"{api}\"\n"
        ),
    );
    let (mut child, rx) = start(&config);
    let line = wait_for(&rx, "generated bearer token");
    let token = line.split('`').nth(1).unwrap().to_owned();
    wait_for(
        &rx,
        "media-edge forwarder: public 127.0.0.1 ports 43110-43119",
    );

    let (status, body) = http(
        &api,
        &format!(
            "GET /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert!(status.contains(" 200 "), "{status} {body}");
    assert_eq!(body.trim(), "[]");
    let (status, _) = http(
        &api,
        "GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains(" 401 "), "{status}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn api_without_relay_is_refused() {
    let config = scratch(
        "norelay.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\n",
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("api: needs a [relay] section"), "{stderr}");
}
