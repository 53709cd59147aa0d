//! SIGHUP reloads the configuration and never kills: with the embedded default; with a
//! changed TURN password (new Allocates need the new one while a running allocation keeps
//! relaying), API token and guard limit, and a changed port range (refused by name, the
//! rest applied); with a file that
//! does not load (the running configuration stays, the error names the key and line); and
//! with new TURN TLS and API TLS certificates (the next handshake, as `openssl s_client`
//! sees it, presents the new one); with a new DTLS certificate (the next session's offer
//! carries its fingerprint, as `openssl x509 -fingerprint` computes it). Ports 38400-38499.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{http, scratch, Allocation, Running};

const TOKEN: &str = "reload-test-token-0123456789";

/// An unused loopback TCP port (the ephemeral range is above every fixed range here).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn sighup_with_the_default_configuration_keeps_running() {
    let mut edge = Running::start(Vec::<&str>::new());
    let line = edge.wait_for("generated bearer token");
    let token = line.split('`').nth(1).unwrap().to_owned();
    edge.wait_for("control API: plain HTTP on 127.0.0.1:8080");
    for _ in 0..2 {
        edge.signal("HUP");
        edge.wait_for("reload: embedded default config: no live key changed");
    }
    assert!(edge.exited_within(std::time::Duration::ZERO).is_none());
    // The generated token survived the reloads.
    let api: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let (status, body) = http(api, "GET", "/v1/sessions", &token, "");
    assert_eq!(status, 200, "{body}");
    assert!(edge.stop().success(), "exit after SIGTERM");
}

/// TURN with one user, the forwarder and the API with one token.
fn turn_config(api: SocketAddr, password: &str, port_range: &str, token: &str) -> String {
    format!(
        "[guard]\nmax-failures = 64\n\
         [turn]\nlisten-udp = [\"127.0.0.1:0\"]\n\
         [[turn.auth.users]]\nname = \"alice\"\npassword = \"{password}\"\n\
         [turn.relay]\naddress = \"127.0.0.1\"\nport-range = \"{port_range}\"\n\
         [turn.peers]\nallow = [\"127.0.0.0/8\"]\n\
         [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38450-38459\"\n\
         [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38460-38469\"\n\
         [api]\nlisten = \"{api}\"\ntokens = [\"{token}\"]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_credentials_refuses_a_port_range_and_keeps_a_broken_file() {
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let path = scratch(
        "turn.toml",
        &turn_config(api, "pass-one", "38400-38409", TOKEN),
    );
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    let turn = edge.address_after("media-edge TURN: udp ");
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();

    let running = Allocation::new(turn, "127.0.0.1", "alice", "pass-one")
        .await
        .unwrap();
    running.relays_to(&peer, b"before the reload").await;

    // A new password, API token and port range: password and token apply, the range is
    // refused.
    let token = "reload-test-token-second";
    let second = turn_config(api, "pass-two", "38410-38419", token)
        .replace("max-failures = 64", "max-failures = 5");
    std::fs::write(&path, second).unwrap();
    edge.signal("HUP");
    let refused = edge.wait_for("needs a restart");
    assert!(refused.contains("WARN"), "{refused}");
    assert!(refused.contains("turn.relay.port-range"), "{refused}");
    let applied = edge.wait_for("reload: ");
    assert!(
        applied.contains("applied api.tokens, guard.max-failures, turn.auth.users[0].password")
            && applied.contains("1 key(s)"),
        "{applied}"
    );
    let get = |token: &str| http(api, "GET", "/v1/sessions", token, "").0;
    assert_eq!(get(TOKEN), 401, "the old token still works");
    assert_eq!(get(token), 200);
    let failure = edge.wait_for("auth-failure service=api");
    // failures=n/max: the count is the source's (TURN failures add up), the max the new one.
    assert!(failure.ends_with("/5"), "the guard's new max: {failure}");
    let old = Allocation::new(turn, "127.0.0.1", "alice", "pass-one").await;
    assert!(old.is_err(), "the old password still allocates");
    let new = Allocation::new(turn, "127.0.0.1", "alice", "pass-two")
        .await
        .unwrap();
    assert!(
        (38400..=38409).contains(&new.relayed.port()),
        "the running range stays: {}",
        new.relayed
    );
    // The allocation made before the reload still relays.
    running.relays_to(&peer, b"after the reload").await;

    // A file that does not load: nothing changes, the error names the key and the line.
    let broken = turn_config(api, "pass-three", "38419-38410", token);
    std::fs::write(&path, &broken).unwrap();
    edge.signal("HUP");
    let error = edge.wait_for("not applied, keeping the running configuration");
    assert!(error.contains("ERROR"), "{error}");
    let line = broken
        .lines()
        .position(|l| l.starts_with("port-range"))
        .unwrap()
        + 1;
    assert!(
        error.contains(&format!(
            "turn.relay.port-range: 38419-38410 is not a port range: need 1 <= first <= last (line {line})"
        )),
        "{error}"
    );
    assert!(Allocation::new(turn, "127.0.0.1", "alice", "pass-three")
        .await
        .is_err());
    let again = Allocation::new(turn, "127.0.0.1", "alice", "pass-two")
        .await
        .unwrap();
    running.relays_to(&peer, b"after the broken reload").await;

    // The first allocation's client still signs with pass-one, which no longer deletes it:
    // a drain would wait for it to expire, SIGINT stops at once and ends it, leaving its
    // record.
    let kept = running.relayed;
    for allocation in [running, new, again] {
        allocation.close().await;
    }
    edge.signal("INT");
    let status = edge.exited_within(std::time::Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    edge.wait_for("SIGINT: stopping at once, ending");
    let record = edge.wait_for(&format!("relay={kept}"));
    assert!(
        record.contains("reason=ConnectionClosed") && record.contains("allocation closed"),
        "{record}"
    );
    // Three payloads relayed (more if one had to be resent).
    let relayed: u64 = record
        .split("to_peer_packets=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(relayed >= 3, "{record}");
}

/// A self-signed certificate for `localhost` whose subject is `CN=name`, as PEM files.
fn certificate(dir: &Path, name: &str) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(cert).unwrap(),
        std::fs::read_to_string(key).unwrap(),
    )
}

/// The subject of the certificate `addr` presents, as `openssl s_client` prints it
/// (spaces removed: `CN=first`).
fn presented(addr: SocketAddr) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout).replace(' ', "");
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .unwrap_or_else(|| panic!("no certificate from {addr}:\n{text}"))
        .to_owned()
}

#[test]
fn sighup_presents_new_turn_and_api_certificates() {
    let dir = scratch("tls.keep", "").parent().unwrap().to_owned();
    let (cert_path, key_path) = (dir.join("server.crt"), dir.join("server.key"));
    let (first_cert, first_key) = certificate(&dir, "first");
    let (second_cert, second_key) = certificate(&dir, "second");
    std::fs::write(&cert_path, &first_cert).unwrap();
    std::fs::write(&key_path, &first_key).unwrap();
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (cert, key) = (cert_path.display(), key_path.display());
    let config = scratch(
        "tls.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n\
             [[turn.listen-tls]]\naddress = \"127.0.0.1:0\"\ncertificate = \"{cert}\"\n\
             private-key = \"{key}\"\n\
             [turn.relay]\naddress = \"127.0.0.1\"\nport-range = \"38420-38429\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38430-38439\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38440-38449\"\n\
             [api]\nlisten = \"{api}\"\ntokens = [\"{TOKEN}\"]\n\
             tls = {{ certificate = \"{cert}\", private-key = \"{key}\" }}\n"
        ),
    );
    let mut edge = Running::start(["--config", config.to_str().unwrap()]);
    let turn_tls = edge.address_after(" tls ");
    edge.wait_for(&format!("control API: https://{api}"));
    assert_eq!(presented(turn_tls), "CN=first");
    assert_eq!(presented(api), "CN=first");

    std::fs::write(&cert_path, &second_cert).unwrap();
    std::fs::write(&key_path, &second_key).unwrap();
    edge.signal("HUP");
    let done = edge.wait_for("reload: ");
    assert!(!done.contains("with errors"), "{}", edge.log());
    assert_eq!(presented(turn_tls), "CN=second");
    assert_eq!(presented(api), "CN=second");

    // A key that does not fit: each listener keeps the second certificate, errors say so.
    std::fs::write(&key_path, &first_key).unwrap();
    edge.signal("HUP");
    let error = edge.wait_for("TURN: TLS certificate/key");
    assert!(error.contains(&key_path.display().to_string()), "{error}");
    edge.wait_for("control API: TLS reload failed, keeping the previous certificate");
    assert_eq!(presented(turn_tls), "CN=second");
    assert_eq!(presented(api), "CN=second");
    assert!(edge.stop().success(), "exit after SIGTERM");
}

/// The SHA-256 fingerprint of the PEM certificate `cert`, as OpenSSL computes it
/// (`openssl x509 -noout -fingerprint -sha256`): `AB:CD:...`.
fn openssl_fingerprint(cert: &str) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(cert.as_bytes())?;
            child.wait_with_output()
        })
        .expect("openssl x509");
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().split_once('=').unwrap().1.to_owned()
}

/// The fingerprint in the browser offer of a new session (an enterprise offer, plain RTP).
fn offered_fingerprint(api: SocketAddr) -> String {
    let offer = "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let body = serde_json::json!({ "enterprise-offer": offer }).to_string();
    let (status, answer) = http(api, "POST", "/v1/sessions", TOKEN, &body);
    assert_eq!(status, 201, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let sdp = answer["offer"].as_str().unwrap();
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=fingerprint:sha-256 "))
        .unwrap_or_else(|| panic!("no sha-256 fingerprint in {sdp}"))
        .trim()
        .to_owned()
}

#[test]
fn sighup_gives_new_sessions_the_new_dtls_certificate() {
    let dir = scratch("dtls.keep", "").parent().unwrap().to_owned();
    let (cert_path, key_path) = (dir.join("dtls.crt"), dir.join("dtls.key"));
    let (first_cert, first_key) = certificate(&dir, "dtls-first");
    let (second_cert, second_key) = certificate(&dir, "dtls-second");
    std::fs::write(&cert_path, &first_cert).unwrap();
    std::fs::write(&key_path, &first_key).unwrap();
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (cert, key) = (cert_path.display(), key_path.display());
    let config = scratch(
        "dtls.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n\
             [turn.relay]\naddress = \"127.0.0.1\"\nport-range = \"38450-38459\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38460-38469\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38470-38479\"\n\
             [dtls]\ncertificate = \"{cert}\"\nprivate-key = \"{key}\"\n\
             [api]\nlisten = \"{api}\"\ntokens = [\"{TOKEN}\"]\n"
        ),
    );
    let mut edge = Running::start(["--config", config.to_str().unwrap()]);
    edge.wait_for(&format!("control API: plain HTTP on {api}"));
    let first = openssl_fingerprint(&first_cert);
    assert_eq!(offered_fingerprint(api), first);

    std::fs::write(&cert_path, &second_cert).unwrap();
    std::fs::write(&key_path, &second_key).unwrap();
    edge.signal("HUP");
    let done = edge.wait_for("reload: ");
    assert!(!done.contains("with errors"), "{}", edge.log());
    let second = openssl_fingerprint(&second_cert);
    assert_ne!(first, second);
    assert_eq!(
        offered_fingerprint(api),
        second,
        "a session created after the reload"
    );
    assert_eq!(edge.stop().code(), Some(0));
}
