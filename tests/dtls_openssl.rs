//! edge-dtls against OpenSSL's `s_server` / `s_client` over loopback UDP, both roles, every
//! SRTP profile OpenSSL supports: the keying material OpenSSL prints must equal ours byte
//! for byte. Also: a PEM certificate made by `openssl req`, and failures with a real peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/dtls.rs"]
mod dtls_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use dtls_support::{
    drive, free_udp_port, hex, keying_material, loopback_socket, openssl_certificate, PeerProcess,
    Scratch,
};
use edge_dtls::{
    Certificate, Config, ConfigBuilder, Error, Fingerprint, Handshake, HashAlgorithm, Role,
    SrtpProfile,
};

const LIMIT: Duration = Duration::from_secs(20);
const LABEL: &str = "EXTRACTOR-dtls_srtp";

fn openssl() -> PathBuf {
    edge_suite::require_program("openssl")
}

/// OpenSSL's certificate, loaded back through our PEM loader for its fingerprint.
struct OpensslIdentity {
    _dir: Scratch,
    cert: PathBuf,
    key: PathBuf,
    fingerprint: Fingerprint,
}

fn openssl_identity() -> OpensslIdentity {
    let dir = Scratch::new("openssl");
    let (cert, key) = openssl_certificate(&openssl(), &dir);
    let loaded = Certificate::from_pem(
        &std::fs::read_to_string(&cert).unwrap(),
        &std::fs::read_to_string(&key).unwrap(),
    )
    .unwrap();
    OpensslIdentity {
        _dir: dir,
        cert,
        key,
        fingerprint: loaded.fingerprint(),
    }
}

fn our_config(profiles: &[SrtpProfile]) -> Config {
    ConfigBuilder::new(Certificate::generate().unwrap())
        .srtp_profiles(profiles)
        .handshake_timeout(LIMIT)
        .build()
        .unwrap()
}

fn keying_line(line: &str) -> Option<String> {
    line.trim()
        .strip_prefix("Keying material: ")
        .map(|hex| hex.trim().to_owned())
}

fn s_client(id: &OpensslIdentity, port: u16, extra: &[&str]) -> PeerProcess {
    let mut cmd = Command::new(openssl());
    cmd.args([
        "s_client",
        "-dtls1_2",
        "-connect",
        &format!("127.0.0.1:{port}"),
    ])
    .arg("-cert")
    .arg(&id.cert)
    .arg("-key")
    .arg(&id.key)
    .args(extra);
    PeerProcess::spawn(&mut cmd, true)
}

fn s_server(id: &OpensslIdentity, port: u16, extra: &[&str]) -> PeerProcess {
    let mut cmd = Command::new(openssl());
    cmd.args(["s_server", "-dtls1_2", "-naccept", "1", "-verify", "1"])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(&id.cert)
        .arg("-key")
        .arg(&id.key)
        .args(extra);
    PeerProcess::spawn(&mut cmd, true)
}

fn export_args(profile: SrtpProfile) -> Vec<String> {
    vec![
        "-use_srtp".into(),
        profile.name().into(),
        "-keymatexport".into(),
        LABEL.into(),
        "-keymatexportlen".into(),
        profile.keying_material_len().to_string(),
    ]
}

/// Our handshake as `role` ended in `keys` for `profile`, and OpenSSL (`peer`) printed the
/// same keying material.
fn assert_same_keys(
    profile: SrtpProfile,
    keys: Result<edge_dtls::SrtpKeys, Error>,
    role: Role,
    peer: &mut PeerProcess,
) {
    let keys = keys.unwrap_or_else(|e| panic!("{profile}: {e}\n{}", peer.output()));
    assert_eq!(keys.profile, profile);
    let theirs = peer
        .wait_for(LIMIT, keying_line)
        .unwrap_or_else(|| panic!("{profile}: no keying material\n{}", peer.output()));
    assert_eq!(hex(&keying_material(&keys, role)), theirs, "{profile}");
}

#[test]
fn openssl_client_and_our_server_export_the_same_keys_for_every_profile() {
    let id = openssl_identity();
    for profile in SrtpProfile::ALL {
        let socket = loopback_socket();
        let port = socket.local_addr().unwrap().port();
        let config = our_config(&SrtpProfile::ALL);
        let mut handshake = Handshake::new(
            &config,
            Role::Server,
            &[id.fingerprint],
            std::time::Instant::now(),
        )
        .unwrap();
        let args = export_args(profile);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut peer = s_client(&id, port, &args);
        let (keys, _) = drive(&mut handshake, &socket, None, LIMIT);
        assert_same_keys(profile, keys, Role::Server, &mut peer);
    }
}

#[test]
fn our_client_and_openssl_server_export_the_same_keys_for_every_profile() {
    let id = openssl_identity();
    for profile in SrtpProfile::ALL {
        let port = free_udp_port();
        let args = export_args(profile);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut peer = s_server(&id, port, &args);
        peer.wait_for(LIMIT, |l| l.contains("ACCEPT").then_some(()))
            .unwrap_or_else(|| panic!("s_server did not start\n{}", peer.output()));
        let socket = loopback_socket();
        let config = our_config(&SrtpProfile::ALL);
        let mut handshake = Handshake::new(
            &config,
            Role::Client,
            &[id.fingerprint],
            std::time::Instant::now(),
        )
        .unwrap();
        let server: SocketAddr = ([127, 0, 0, 1], port).into();
        let (keys, _) = drive(&mut handshake, &socket, Some(server), LIMIT);
        assert_same_keys(profile, keys, Role::Client, &mut peer);
    }
}

#[test]
fn pem_certificate_from_openssl_has_openssl_fingerprints() {
    let id = openssl_identity();
    for (algorithm, flag) in [
        (HashAlgorithm::Sha1, "-sha1"),
        (HashAlgorithm::Sha256, "-sha256"),
        (HashAlgorithm::Sha384, "-sha384"),
        (HashAlgorithm::Sha512, "-sha512"),
    ] {
        let out = Command::new(openssl())
            .args(["x509", "-noout", "-fingerprint", flag, "-in"])
            .arg(&id.cert)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let theirs = text.trim().split_once('=').unwrap().1;
        let loaded = Certificate::from_pem(
            &std::fs::read_to_string(&id.cert).unwrap(),
            &std::fs::read_to_string(&id.key).unwrap(),
        )
        .unwrap();
        let ours = loaded.fingerprint_with(algorithm).to_string();
        assert_eq!(ours, format!("{} {theirs}", algorithm.name()));
    }
}

/// Runs our server against `s_client` with `extra` arguments and returns our outcome.
fn server_against_s_client(config: &Config, expect: Fingerprint, extra: &[&str]) -> Error {
    let id = openssl_identity();
    let socket = loopback_socket();
    let port = socket.local_addr().unwrap().port();
    let mut handshake =
        Handshake::new(config, Role::Server, &[expect], std::time::Instant::now()).unwrap();
    let mut peer = s_client(&id, port, extra);
    let (result, _) = drive(&mut handshake, &socket, None, LIMIT);
    let error = result.map(|_| ()).expect_err("handshake must fail");
    // Nothing is left behind: the state is released and further input is refused.
    assert!(matches!(
        handshake.handle_input(std::time::Instant::now(), &[22, 254, 253]),
        Err(Error::Closed)
    ));
    drop(peer.output());
    error
}

#[test]
fn wrong_fingerprint_is_refused() {
    let config = our_config(&SrtpProfile::ALL);
    let wrong = Fingerprint::of_der(HashAlgorithm::Sha256, b"someone else");
    let error = server_against_s_client(&config, wrong, &["-use_srtp", "SRTP_AES128_CM_SHA1_80"]);
    assert!(
        matches!(
            error,
            Error::FingerprintMismatch {
                algorithm: HashAlgorithm::Sha256
            }
        ),
        "{error}"
    );
}

#[test]
fn no_common_profile_is_refused() {
    let config = our_config(&[SrtpProfile::AeadAes256Gcm]);
    let id_fp = Fingerprint::of_der(HashAlgorithm::Sha256, b"unused: fails before");
    let error = server_against_s_client(&config, id_fp, &["-use_srtp", "SRTP_AES128_CM_SHA1_80"]);
    assert!(matches!(error, Error::NoCommonProfile), "{error}");
}

#[test]
fn client_without_use_srtp_is_refused() {
    let id = openssl_identity();
    let config = our_config(&SrtpProfile::ALL);
    let socket = loopback_socket();
    let port = socket.local_addr().unwrap().port();
    let mut handshake = Handshake::new(
        &config,
        Role::Server,
        &[id.fingerprint],
        std::time::Instant::now(),
    )
    .unwrap();
    let _peer = s_client(&id, port, &[]);
    let (result, _) = drive(&mut handshake, &socket, None, LIMIT);
    assert!(matches!(result, Err(Error::NoCommonProfile)), "{result:?}");
}

#[test]
fn openssl_client_that_stops_mid_handshake_times_out() {
    let id = openssl_identity();
    let config = ConfigBuilder::new(Certificate::generate().unwrap())
        .handshake_timeout(Duration::from_secs(2))
        .retransmit_timeouts(Duration::from_millis(200), Duration::from_millis(800))
        .build()
        .unwrap();
    let socket = loopback_socket();
    let port = socket.local_addr().unwrap().port();
    let start = std::time::Instant::now();
    let mut handshake = Handshake::new(&config, Role::Server, &[id.fingerprint], start).unwrap();
    let mut peer = s_client(&id, port, &["-use_srtp", "SRTP_AES128_CM_SHA1_80"]);
    // Take the first ClientHello, then the peer disappears.
    let mut buf = [0u8; 2048];
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let (n, from) = socket.recv_from(&mut buf).unwrap();
    drop(peer.output());
    drop(peer);
    handshake
        .handle_input(std::time::Instant::now(), &buf[..n])
        .unwrap();
    let (result, _) = drive(&mut handshake, &socket, Some(from), LIMIT);
    assert!(
        matches!(result, Err(Error::Timeout { timeout }) if timeout == Duration::from_secs(2)),
        "{result:?}"
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2),
        "gave up early: {elapsed:?}"
    );
    assert!(handshake.poll_timeout().is_none());
}

#[test]
fn large_fragmented_client_hello_is_reassembled() {
    // Browsers' ClientHellos now carry post-quantum key shares and exceed one datagram. OpenSSL
    // does the same here: a 2 KB ALPN list and a 400-byte MTU split its ClientHello in six.
    let id = openssl_identity();
    let socket = loopback_socket();
    let port = socket.local_addr().unwrap().port();
    let config = our_config(&SrtpProfile::ALL);
    let mut handshake = Handshake::new(
        &config,
        Role::Server,
        &[id.fingerprint],
        std::time::Instant::now(),
    )
    .unwrap();
    let alpn: Vec<String> = (0..50)
        .map(|i| format!("proto-{i:02}-abcdefghijklmnopqrstuvwxyz"))
        .collect();
    let profile = SrtpProfile::AeadAes128Gcm;
    let mut args = vec![
        "-mtu".to_owned(),
        "400".to_owned(),
        "-alpn".to_owned(),
        alpn.join(","),
    ];
    args.extend(export_args(profile));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut peer = s_client(&id, port, &args);
    // The first datagram holds only the first fragment of the ClientHello.
    let mut first = [0u8; 2048];
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let (n, from) = socket.recv_from(&mut first).unwrap();
    let u24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
    let (length, fragment) = (u24(&first[14..17]), u24(&first[22..25]));
    assert_eq!(first[13], 1, "a ClientHello");
    assert!(
        length > 1500 && fragment < length / 4,
        "length {length}, fragment {fragment}"
    );
    handshake
        .handle_input(std::time::Instant::now(), &first[..n])
        .unwrap();
    let (keys, _) = drive(&mut handshake, &socket, Some(from), LIMIT);
    let keys = keys.unwrap_or_else(|e| panic!("{e} {:?}\n{}", handshake.stats(), peer.output()));
    let theirs = peer.wait_for(LIMIT, keying_line).unwrap();
    assert_eq!(hex(&keying_material(&keys, Role::Server)), theirs);
}
