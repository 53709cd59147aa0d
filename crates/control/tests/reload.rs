//! The certificate is re-read on SIGHUP: new connections get the new one, a connection
//! already open keeps working, and a file that does not load keeps the previous certificate
//! and logs an error naming the file. Its own test binary: SIGHUP goes to the whole process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    config, request, tls_connect, tls_connector, Server, TempDir, TestCertificate, IO_TIMEOUT,
    TOKEN,
};
use edge_control::Tls;
use nix::sys::signal::{raise, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_keeps_it_when_a_file_is_bad() {
    edge_log_capture::install();

    let dir = TempDir::new("reload");
    let first = TestCertificate::generate();
    let second = TestCertificate::generate();
    let cert_path = dir.write("cert.pem", &first.pem);
    let key_path = dir.write("key.pem", &first.key_pem);
    let mut c = config();
    c.tls = Some(Tls::new(&cert_path, &key_path));
    let server = Server::start(40, c).await;
    let connector = tls_connector(&[&first, &second], &[b"http/1.1"]);

    // Served, and so the SIGHUP handler installed, before any signal is raised.
    let (mut old, served) = tls_connect(&connector, server.addr).await;
    assert_eq!(served, first.der);
    assert_eq!(
        request(&mut old, "GET", "/v1/sessions", Some(TOKEN), &[])
            .await
            .status,
        200
    );
    assert!(
        edge_log_capture::process_log().contains(&format!("https://{}", server.addr)),
        "{}",
        edge_log_capture::process_log()
    );

    // New files, SIGHUP: new connections get the second certificate.
    std::fs::write(&cert_path, &second.pem).unwrap();
    std::fs::write(&key_path, &second.key_pem).unwrap();
    raise(Signal::SIGHUP).unwrap();
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let (_, served) = tls_connect(&connector, server.addr).await;
        if served == second.der {
            break;
        }
        assert_eq!(served, first.der);
        assert!(
            Instant::now() < deadline,
            "the certificate was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The connection opened before the reload still works.
    assert_eq!(
        request(&mut old, "GET", "/v1/sessions", Some(TOKEN), &[])
            .await
            .status,
        200
    );

    // A broken certificate file, then a key that does not fit: each reload fails, is logged
    // naming the file, and the second certificate stays.
    let cases = [
        (
            "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n".to_owned(),
            second.key_pem.clone(),
            format!("api.tls.certificate: {}", cert_path.display()),
        ),
        (
            second.pem.clone(),
            first.key_pem.clone(),
            format!("api.tls.private-key: {}", key_path.display()),
        ),
    ];
    for (cert_text, key_text, expected) in cases {
        std::fs::write(&cert_path, cert_text).unwrap();
        std::fs::write(&key_path, key_text).unwrap();
        raise(Signal::SIGHUP).unwrap();
        let deadline = Instant::now() + IO_TIMEOUT;
        while !edge_log_capture::process_log().contains(&expected) {
            assert!(
                Instant::now() < deadline,
                "no error naming {expected}:\n{}",
                edge_log_capture::process_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let line = edge_log_capture::process_log()
            .lines()
            .find(|l| l.contains(&expected))
            .unwrap()
            .to_owned();
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("keeping the previous certificate"), "{line}");
        let (mut tls, served) = tls_connect(&connector, server.addr).await;
        assert_eq!(served, second.der);
        assert_eq!(
            request(&mut tls, "GET", "/v1/sessions", Some(TOKEN), &[])
                .await
                .status,
            200
        );
    }
    drop(old);
    server.stop().await;
}
