//! HTTPS with a certificate generated at test time: rustls and OpenSSL's `s_client` as
//! clients (certificate served, ALPN h2 and http/1.1, a request answered over each), an
//! HTTP/2 request through hyper's client, and plain HTTP to the HTTPS port refused without
//! holding the client's place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    config, connect_from, request, tls_connect, tls_connect_eventually, tls_connector, Server,
    TempDir, TestCertificate, IO_TIMEOUT, TOKEN,
};
use edge_control::Tls;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};

async fn https_server(slot: u16, dir: &TempDir, cert: &TestCertificate) -> Server {
    let mut c = config();
    c.tls = Some(Tls::new(
        dir.write("cert.pem", &cert.pem),
        dir.write("key.pem", &cert.key_pem),
    ));
    c.clients = vec!["127.0.0.1".parse().unwrap()];
    c.max_connections_per_client = 1;
    Server::start(slot, c).await
}

#[tokio::test]
async fn https_over_http1_and_http2_with_rustls() {
    let dir = TempDir::new("https-rustls");
    let cert = TestCertificate::generate();
    let server = https_server(30, &dir, &cert).await;

    let connector = tls_connector(&[&cert], &[b"http/1.1"]);
    let (mut tls, served) = tls_connect(&connector, server.addr).await;
    assert_eq!(served, cert.der);
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let r = request(&mut tls, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "[]"));
    drop(tls);

    // HTTP/2: hyper's client on a connection that negotiated h2. The place of the previous
    // connection (limit 1) must have been given back first.
    let connector = tls_connector(&[&cert], &[b"h2"]);
    let (tls, _) = tls_connect_eventually(&connector, server.addr).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("https://localhost:{}/v1/stats", server.addr.port()))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["open"], 1, "{stats}");
    assert_eq!(stats["tls-failed"], 0, "{stats}");
    server.stop().await;
}

/// OpenSSL's client: it verifies the certificate against the PEM file, shows the certificate
/// served (compared with ours) and the ALPN outcome, and carries a request.
#[tokio::test]
async fn openssl_s_client_sees_the_certificate_and_alpn() {
    let dir = TempDir::new("https-openssl");
    let cert = TestCertificate::generate();
    let server = https_server(31, &dir, &cert).await;
    let ca = dir.path().join("cert.pem");
    let connect = server.addr.to_string();
    let request = format!(
        "GET /v1/sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Connection: close\r\n\r\n"
    );
    for (alpn, input) in [("http/1.1", request.as_str()), ("h2", "")] {
        let ca = ca.clone();
        let connect = connect.clone();
        let input = input.to_owned();
        let out = tokio::task::spawn_blocking(move || s_client(&connect, &ca, alpn, &input))
            .await
            .unwrap();
        assert!(out.contains(&format!("ALPN protocol: {alpn}")), "{out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
        assert!(
            out.contains(cert.pem.trim()),
            "served certificate differs:\n{out}"
        );
        if alpn == "http/1.1" {
            assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
            assert!(out.contains("\r\n\r\n[]"), "{out}");
        }
    }
    server.stop().await;
}

/// Runs `openssl s_client` with `input` on its standard input; kills it after 10 s.
fn s_client(connect: &str, ca: &std::path::Path, alpn: &str, input: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", connect, "-servername", "localhost"])
        .args(["-alpn", alpn, "-verify_return_error"])
        // With a request to send, wait for the answer (the server closes); else quit at once.
        .args(if input.is_empty() {
            &[][..]
        } else {
            &["-ign_eof"][..]
        })
        .arg("-CAfile")
        .arg(ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let deadline = Instant::now() + IO_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Plain HTTP to the HTTPS port: the handshake fails, is counted, and the client's only place
/// (limit 1) is free again at once.
#[tokio::test]
async fn plain_http_to_the_https_port_fails_and_frees_the_place() {
    let dir = TempDir::new("https-plain");
    let cert = TestCertificate::generate();
    let server = https_server(32, &dir, &cert).await;
    let mut plain = connect_from("127.0.0.1".parse().unwrap(), server.addr).await;
    let answer = common::try_request(&mut plain, "GET", "/v1/stats", Some(TOKEN), &[]).await;
    assert!(answer.is_err(), "{answer:?}");
    drop(plain);
    let connector = tls_connector(&[&cert], &[b"http/1.1"]);
    let (mut tls, _) = tls_connect_eventually(&connector, server.addr).await;
    let stats = request(&mut tls, "GET", "/v1/stats", Some(TOKEN), &[])
        .await
        .json();
    assert_eq!(stats["tls-failed"], 1, "{stats}");
    assert_eq!(stats["open"], 1, "{stats}");
    server.stop().await;
}
