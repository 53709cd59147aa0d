//! Nothing is left behind: a counting global allocator (this test binary's own) shows that a
//! failed handshake releases its DTLS state at the moment it fails, before the caller drops
//! it, and that dropping returns the heap exactly to where it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::config;
// This thread's bytes only: the harness's own threads allocate when a busy machine lets
// them run, which made process-wide readings flaky (1141 B mid-test under stress-ng).
use edge_alloc_count::thread_live_bytes as live;
use edge_dtls::{Error, Fingerprint, Handshake, HashAlgorithm, Role};

#[global_allocator]
static ALLOCATOR: edge_alloc_count::Counting = edge_alloc_count::Counting;

/// Runs a client against a server until the server has sent its second flight, then
/// returns the server mid-handshake (holding ECDHE keys, transcript, retransmit state).
fn server_mid_handshake(
    config: &edge_dtls::Config,
    expect: Fingerprint,
    now: Instant,
) -> Handshake {
    let mut client = Handshake::new(
        config,
        Role::Client,
        &[config.certificate().fingerprint()],
        now,
    )
    .unwrap();
    let mut server = Handshake::new(config, Role::Server, &[expect], now).unwrap();
    let mut buf = Vec::new();
    for _ in 0..2 {
        buf.clear();
        while client.poll_transmit(&mut buf).is_some() {
            server.handle_input(now, &buf).unwrap();
            buf.clear();
        }
        while server.poll_transmit(&mut buf).is_some() {
            client.handle_input(now, &buf).unwrap();
            buf.clear();
        }
    }
    server
}

// One test function: the counter is process-wide, so nothing may run beside it.
#[test]
fn failed_handshakes_release_their_state() {
    let config = config().build().unwrap();
    let now = Instant::now();
    let fp = Fingerprint::of_der(HashAlgorithm::Sha256, b"x");
    // Warm up lazily initialised statics (ring's CPU features, thread-locals).
    drop(server_mid_handshake(&config, fp, now));

    for failure in ["timeout", "malformed", "close"] {
        let before = live();
        let mut server = server_mid_handshake(&config, fp, now);
        let holding = live() - before;
        assert!(
            holding > 4096,
            "{failure}: a live handshake holds state ({holding} B)"
        );
        let result = match failure {
            "timeout" => server.handle_timeout(now + Duration::from_secs(60)),
            "malformed" => (0..=16)
                .map(|_| server.handle_input(now, b"\xff not dtls"))
                .find(Result::is_err)
                .unwrap(),
            _ => {
                server.close(now);
                // Closed for good: the next datagram is refused by the handshake itself.
                let refused = server.handle_input(now, b"\x16\xfe\xfd not dtls");
                assert!(matches!(refused, Err(Error::Closed)), "{refused:?}");
                refused
            }
        };
        assert!(result.is_err(), "{failure}");
        let mut out = Vec::new();
        while server.poll_transmit(&mut out).is_some() {}
        drop(out);
        let after_failure = live() - before;
        assert!(
            after_failure < 1024,
            "{failure}: {after_failure} B still held after the failure (was {holding} B)"
        );
        drop(server);
        assert_eq!(live() - before, 0, "{failure}: leaked after drop");
    }
}
