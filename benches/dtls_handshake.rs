//! DTLS-SRTP handshakes per second, edge-dtls beside the webrtc-rs `dtls` crate (0.17), in one
//! run, on one core, with an in-memory transport (no sockets, no kernel):
//!
//! - `edge-dtls/pair`: a client and a server `Handshake` of this crate, datagrams moved
//!   between them by hand, until both hold SRTP keys. Both sides' CPU.
//! - `webrtc-rs-dtls/pair`: two `DTLSConn`s over `webrtc_util`'s in-memory pipe on a
//!   current-thread tokio runtime (the async crate's cheapest setting), until both return.
//!   Both sides' CPU, the same cipher suite, curve choice, profile and client certificate.
//! - `edge-dtls/server-only`: the same edge-dtls pair, timing only the server's calls: the
//!   cost media-edge pays per browser handshake, whose inverse is handshakes/s per core.
//!
//!     cargo bench --bench dtls_handshake

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use edge_dtls::{Certificate, Config, ConfigBuilder, Handshake, Role, SrtpProfile};

/// Runs one handshake; `timed` accumulates the time spent in the server's calls.
fn edge_pair(client_config: &Config, server_config: &Config, timed: &mut Duration) {
    let now = Instant::now();
    let client_fp = [client_config.certificate().fingerprint()];
    let server_fp = [server_config.certificate().fingerprint()];
    let mut client = Handshake::new(client_config, Role::Client, &server_fp, now).unwrap();
    let t = Instant::now();
    let mut server = Handshake::new(server_config, Role::Server, &client_fp, now).unwrap();
    *timed += t.elapsed();
    let mut to_server = Vec::new();
    let mut to_client = Vec::new();
    let (mut client_done, mut server_done) = (false, false);
    for _ in 0..16 {
        to_server.clear();
        while client.poll_transmit(&mut to_server).is_some() {
            let t = Instant::now();
            server.handle_input(now, &to_server).unwrap();
            server_done |= server.poll_keys().is_some();
            *timed += t.elapsed();
            to_server.clear();
        }
        let t = Instant::now();
        to_client.clear();
        let mut batch = Vec::new();
        while let Some(len) = server.poll_transmit(&mut to_client) {
            batch.push(len);
        }
        *timed += t.elapsed();
        let mut at = 0;
        for len in batch {
            client.handle_input(now, &to_client[at..at + len]).unwrap();
            at += len;
        }
        client_done |= client.poll_keys().is_some();
        if client_done && server_done {
            return;
        }
    }
    panic!("edge-dtls handshake did not complete");
}

fn edge_config() -> Config {
    ConfigBuilder::new(Certificate::generate().unwrap())
        .srtp_profiles(&[SrtpProfile::AeadAes128Gcm])
        .build()
        .unwrap()
}

fn webrtc_rs_config(certificate: &dtls::crypto::Certificate) -> dtls::config::Config {
    dtls::config::Config {
        certificates: vec![certificate.clone()],
        cipher_suites: vec![
            dtls::cipher_suite::CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256,
        ],
        srtp_protection_profiles: vec![
            dtls::extension::extension_use_srtp::SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        ],
        client_auth: dtls::config::ClientAuthType::RequireAnyClientCert,
        extended_master_secret: dtls::config::ExtendedMasterSecretType::Request,
        insecure_skip_verify: true,
        server_name: "media-edge".into(),
        ..Default::default()
    }
}

async fn webrtc_rs_pair(client: dtls::config::Config, server: dtls::config::Config) {
    let (a, b) = webrtc_util::conn::conn_pipe::pipe();
    let server =
        tokio::spawn(
            async move { dtls::conn::DTLSConn::new(Arc::new(b), server, false, None).await },
        );
    let client = dtls::conn::DTLSConn::new(Arc::new(a), client, true, None)
        .await
        .unwrap();
    let server = server.await.unwrap().unwrap();
    client.close().await.unwrap();
    server.close().await.unwrap();
}

fn handshakes(c: &mut Criterion) {
    let (client_config, server_config) = (edge_config(), edge_config());
    let ours_client = dtls::crypto::Certificate::generate_self_signed(vec!["c".into()]).unwrap();
    let ours_server = dtls::crypto::Certificate::generate_self_signed(vec!["s".into()]).unwrap();
    let (their_client, their_server) = (
        webrtc_rs_config(&ours_client),
        webrtc_rs_config(&ours_server),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("dtls_handshake/ecdsa-p256+aes128gcm+srtp-gcm");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("edge-dtls/pair", |b| {
        let mut ignored = Duration::ZERO;
        b.iter(|| edge_pair(&client_config, &server_config, &mut ignored));
    });
    group.bench_function("webrtc-rs-dtls/pair", |b| {
        b.iter(|| runtime.block_on(webrtc_rs_pair(their_client.clone(), their_server.clone())));
    });
    group.bench_function("edge-dtls/server-only", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                edge_pair(&client_config, &server_config, &mut timed);
            }
            timed
        });
    });
    group.finish();
}

criterion_group!(benches, handshakes);
criterion_main!(benches);
