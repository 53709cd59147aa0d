//! Every way a handshake can fail ends in a specific error, in bounded (virtual) time, with
//! the DTLS state released: wrong fingerprint, no common profile, garbage, a peer that stops,
//! a flood, random input, API misuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{assert_keys_agree, config, Pair, Side, XorShift};
use edge_dtls::{Error, Fingerprint, Handshake, HashAlgorithm, Role, SrtpProfile};

/// After an error: nothing is timed, and any further input is refused as misuse.
fn assert_released(handshake: &mut Handshake) {
    assert_eq!(handshake.poll_timeout(), None);
    assert!(!handshake.is_established());
    assert!(matches!(
        handshake.handle_input(
            Instant::now(),
            &[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
        ),
        Err(Error::Closed)
    ));
    assert!(matches!(
        handshake.handle_timeout(Instant::now()),
        Err(Error::Closed)
    ));
    assert!(handshake.poll_keys().is_none());
}

#[test]
fn server_refuses_a_client_certificate_that_does_not_match() {
    let (client, server) = (config().build().unwrap(), config().build().unwrap());
    let wrong = Fingerprint::of_der(HashAlgorithm::Sha256, b"not the client");
    let right = server.certificate().fingerprint();
    let mut pair = Pair::with_fingerprints(client, &[right], server, &[wrong]);
    pair.run(100);
    assert!(
        matches!(
            pair.server_error(),
            Error::FingerprintMismatch {
                algorithm: HashAlgorithm::Sha256
            }
        ),
        "{}",
        pair.server_error()
    );
    assert!(
        matches!(
            pair.client_error(),
            Error::PeerAlert {
                name: "bad_certificate"
            }
        ),
        "{}",
        pair.client_error()
    );
    assert_eq!(pair.elapsed(), Duration::ZERO, "failure must be immediate");
    assert_released(&mut pair.server.handshake);
    assert_released(&mut pair.client.handshake);
}

#[test]
fn client_refuses_a_server_certificate_that_does_not_match() {
    let (client, server) = (config().build().unwrap(), config().build().unwrap());
    let wrong = Fingerprint::of_der(HashAlgorithm::Sha512, b"not the server");
    let right = client.certificate().fingerprint();
    let mut pair = Pair::with_fingerprints(client, &[wrong], server, &[right]);
    pair.run(100);
    assert!(
        matches!(
            pair.client_error(),
            Error::FingerprintMismatch {
                algorithm: HashAlgorithm::Sha512
            }
        ),
        "{}",
        pair.client_error()
    );
    assert!(
        matches!(pair.server_error(), Error::PeerAlert { .. }),
        "{}",
        pair.server_error()
    );
    assert_released(&mut pair.client.handshake);
}

#[test]
fn every_accepted_hash_function_verifies() {
    for algorithm in [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ] {
        let (client, server) = (config().build().unwrap(), config().build().unwrap());
        let for_client = [server.certificate().fingerprint_with(algorithm)];
        let for_server = [client.certificate().fingerprint_with(algorithm)];
        let mut pair = Pair::with_fingerprints(client, &for_client, server, &for_server);
        pair.run(100);
        assert_keys_agree(pair.client_keys(), pair.server_keys());
    }
}

#[test]
fn no_common_profile_fails_on_both_sides() {
    let client = config()
        .srtp_profiles(&[SrtpProfile::Aes128CmSha1_80])
        .build()
        .unwrap();
    let server = config()
        .srtp_profiles(&[SrtpProfile::AeadAes256Gcm])
        .build()
        .unwrap();
    let mut pair = Pair::new(client, server);
    pair.run(100);
    assert!(
        matches!(pair.server_error(), Error::NoCommonProfile),
        "{}",
        pair.server_error()
    );
    assert!(
        matches!(
            pair.client_error(),
            Error::PeerAlert {
                name: "insufficient_security"
            }
        ),
        "{}",
        pair.client_error()
    );
    assert_released(&mut pair.server.handshake);
}

#[test]
fn a_peer_that_stops_mid_handshake_times_out() {
    let mut pair = Pair::new(config().build().unwrap(), config().build().unwrap());
    // The client goes silent after its second ClientHello (the one with the cookie).
    let mut sent = 0;
    pair.filter = Box::new(move |side, d| {
        if side == Side::Client {
            sent += 1;
            if sent > 2 {
                return vec![];
            }
        }
        vec![d]
    });
    pair.run(1000);
    let timeout = Duration::from_secs(15);
    assert!(matches!(pair.server_error(), Error::Timeout { timeout: t } if *t == timeout));
    assert!(matches!(pair.client_error(), Error::Timeout { .. }));
    assert_eq!(
        pair.elapsed(),
        timeout,
        "fails exactly at the handshake timeout"
    );
    assert_released(&mut pair.server.handshake);
    assert_released(&mut pair.client.handshake);
}

#[test]
fn retransmissions_back_off_exponentially_up_to_the_cap() {
    let config = config()
        .retransmit_timeouts(Duration::from_secs(1), Duration::from_secs(4))
        .build()
        .unwrap();
    let fp = config.certificate().fingerprint();
    let start = Instant::now();
    let mut client = Handshake::new(&config, Role::Client, &[fp], start).unwrap();
    let mut sends = Vec::new();
    let mut buf = Vec::new();
    let mut now = start;
    let error = loop {
        while client.poll_transmit(&mut buf).is_some() {
            sends.push((now - start).as_secs());
        }
        let Some(next) = client.poll_timeout() else {
            panic!("nothing timed while handshaking")
        };
        now = next;
        if let Err(e) = client.handle_timeout(now) {
            break e;
        }
    };
    // Sent at 0, then 1, 1+2, 3+4, and capped at 4 s: 11; the timeout comes at 15.
    assert_eq!(sends, [0, 1, 3, 7, 11]);
    assert!(matches!(error, Error::Timeout { .. }));
    assert_eq!(now - start, Duration::from_secs(15));
    assert_eq!(client.stats().retransmissions, 4);
}

#[test]
fn garbage_below_the_bound_is_dropped_and_the_handshake_completes() {
    let mut pair = Pair::new(config().build().unwrap(), config().build().unwrap());
    let mut rng = XorShift(7);
    // Before every real datagram, a random one (never a valid DTLS record sequence).
    let mut injected = 0;
    pair.filter = Box::new(move |_, d| {
        let mut junk: Vec<u8> = (0..(rng.next() % 300)).map(|_| rng.next() as u8).collect();
        junk.insert(0, 64 + (rng.next() % 100) as u8);
        injected += 1;
        if injected > 12 {
            vec![d]
        } else {
            vec![junk, d]
        }
    });
    pair.run(500);
    assert_keys_agree(pair.client_keys(), pair.server_keys());
    // Deliver what is still in flight: junk keeps being dropped after establishment too.
    for endpoint in [&mut pair.client, &mut pair.server] {
        while let Some(d) = endpoint.inbox.pop_front() {
            endpoint.handshake.handle_input(pair.now, &d).unwrap();
        }
    }
    let malformed = pair.client.handshake.stats().malformed_datagrams
        + pair.server.handshake.stats().malformed_datagrams;
    let sent = (pair.client.sent + pair.server.sent).min(12);
    assert!(sent >= 5, "a handshake is at least five datagrams");
    assert_eq!(malformed as usize, sent);
}

#[test]
fn garbage_beyond_the_bound_fails_the_handshake() {
    let config = config().max_malformed_datagrams(4).build().unwrap();
    let fp = config.certificate().fingerprint();
    let now = Instant::now();
    let mut server = Handshake::new(&config, Role::Server, &[fp], now).unwrap();
    for _ in 0..4 {
        server.handle_input(now, b"\x16\xfe\xfd garbage").unwrap();
    }
    let err = server
        .handle_input(now, b"\x16\xfe\xfd garbage")
        .unwrap_err();
    assert!(matches!(err, Error::Malformed { limit: 4 }), "{err}");
    assert_released(&mut server);
}

#[test]
fn a_flood_of_handshake_records_hits_the_buffer_bound() {
    let config = config().max_handshake_bytes(8 * 1024).build().unwrap();
    let fp = config.certificate().fingerprint();
    let now = Instant::now();
    let mut server = Handshake::new(&config, Role::Server, &[fp], now).unwrap();
    // Well-framed epoch-1 records the server can only queue (it has no keys yet).
    let mut record = vec![22, 254, 253, 0, 1, 0, 0, 0, 0, 0, 0, 1, 244];
    record.extend_from_slice(&[0xAB; 500]);
    let mut result = Ok(());
    for _ in 0..100 {
        result = server.handle_input(now, &record);
        if result.is_err() {
            break;
        }
    }
    assert!(
        matches!(result, Err(Error::TooMuchHandshakeData { limit: 8192 })),
        "{result:?}"
    );
    assert_eq!(server.stats().handshake_bytes, 16 * 513);
    assert_released(&mut server);
}

#[test]
fn random_truncated_and_oversized_input_never_panics() {
    let config = config().max_malformed_datagrams(u32::MAX).build().unwrap();
    let fp = config.certificate().fingerprint();
    let mut rng = XorShift(0xDEC0_DE00_1234_5678);
    let now = Instant::now();
    // A real ClientHello to mutate, so inputs reach deep into the parser.
    let mut client = Handshake::new(&config, Role::Client, &[fp], now).unwrap();
    let mut hello = Vec::new();
    client.poll_transmit(&mut hello).unwrap();
    for round in 0..3000 {
        let mut server = Handshake::new(&config, Role::Server, &[fp], now).unwrap();
        let mut input = hello.clone();
        match round % 4 {
            0 => input.truncate((rng.next() as usize) % input.len()),
            1 => {
                for _ in 0..(1 + rng.next() % 8) {
                    let i = (rng.next() as usize) % input.len();
                    input[i] = rng.next() as u8;
                }
            }
            2 => input = (0..(rng.next() % 1500)).map(|_| rng.next() as u8).collect(),
            _ => input.extend((0..70_000).map(|_| rng.next() as u8)),
        }
        if let Err(e) = server.handle_input(now, &input) {
            // Whatever went wrong, it is a named error and the state is gone.
            assert!(!e.to_string().is_empty());
            assert_released(&mut server);
        }
        let mut out = Vec::new();
        while server.poll_transmit(&mut out).is_some() {}
    }
}

#[test]
fn close_notify_ends_the_association_on_the_other_side() {
    let mut pair = Pair::new(config().build().unwrap(), config().build().unwrap());
    pair.run(100);
    assert_keys_agree(pair.client_keys(), pair.server_keys());
    pair.client.handshake.close(pair.now);
    let mut buf = Vec::new();
    let len = pair
        .client
        .handshake
        .poll_transmit(&mut buf)
        .expect("close_notify");
    let err = pair
        .server
        .handshake
        .handle_input(pair.now, &buf[..len])
        .unwrap_err();
    assert!(matches!(err, Error::PeerClosed), "{err}");
    assert_released(&mut pair.server.handshake);
    assert_released(&mut pair.client.handshake);
}

#[test]
fn configuration_errors_name_the_setting() {
    let cases = [
        (config().srtp_profiles(&[]), "srtp_profiles"),
        (
            config().srtp_profiles(&[SrtpProfile::AeadAes128Gcm, SrtpProfile::AeadAes128Gcm]),
            "twice",
        ),
        (config().mtu(10), "mtu"),
        (
            config().retransmit_timeouts(Duration::from_secs(2), Duration::from_secs(1)),
            "retransmit_timeouts",
        ),
        (
            config().handshake_timeout(Duration::from_millis(10)),
            "handshake_timeout",
        ),
        (config().max_handshake_bytes(100), "max_handshake_bytes"),
    ];
    for (builder, name) in cases {
        let err = builder.build().map(drop).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
    let config = config().build().unwrap();
    let err = Handshake::new(&config, Role::Server, &[], Instant::now())
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("fingerprint"), "{err}");
}
