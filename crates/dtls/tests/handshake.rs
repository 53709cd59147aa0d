//! Handshakes between two instances of this crate on a virtual clock: both roles, every
//! profile, loss, fragmentation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_keys_agree, config, Pair, Side, XorShift};
use edge_dtls::SrtpProfile;

#[test]
fn every_profile_establishes_with_matching_keys() {
    for profile in SrtpProfile::ALL {
        let client = config().srtp_profiles(&[profile]).build().unwrap();
        let server = config().build().unwrap();
        let mut pair = Pair::new(client, server);
        pair.run(100);
        assert_keys_agree(pair.client_keys(), pair.server_keys());
        assert_eq!(pair.client_keys().profile, profile);
        assert!(pair.client.handshake.is_established());
        assert!(pair.server.handshake.is_established());
        assert_eq!(pair.client.handshake.poll_timeout(), None);
    }
}

#[test]
fn client_preference_decides_the_profile() {
    let client = config()
        .srtp_profiles(&[SrtpProfile::Aes128CmSha1_32, SrtpProfile::AeadAes128Gcm])
        .build()
        .unwrap();
    let server = config().build().unwrap();
    let mut pair = Pair::new(client, server);
    pair.run(100);
    assert_eq!(pair.server_keys().profile, SrtpProfile::Aes128CmSha1_32);
    assert_keys_agree(pair.client_keys(), pair.server_keys());
}

#[test]
fn heavy_loss_is_recovered_by_retransmission() {
    for seed in 1..=40u64 {
        let mut pair = Pair::new(config().build().unwrap(), config().build().unwrap());
        let mut rng = XorShift(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        // Drop 20% of datagrams in both directions.
        pair.filter = Box::new(move |_, d| {
            if rng.next() % 10 >= 2 {
                vec![d]
            } else {
                vec![]
            }
        });
        pair.run(2000);
        assert_keys_agree(pair.client_keys(), pair.server_keys());
        assert!(
            pair.elapsed() < std::time::Duration::from_secs(15),
            "seed {seed}"
        );
    }
}

#[test]
fn lost_final_flight_is_answered_after_establishment() {
    // The server's last flight (ChangeCipherSpec + Finished) is lost once: the client
    // repeats its own final flight, and the already established server answers it.
    let mut pair = Pair::new(config().build().unwrap(), config().build().unwrap());
    let mut dropped = false;
    pair.filter = Box::new(move |side, d| {
        // The server's datagram that starts with ChangeCipherSpec is its last flight.
        if side == Side::Server && d.first() == Some(&20) && !dropped {
            dropped = true;
            return vec![];
        }
        vec![d]
    });
    pair.run(500);
    assert_keys_agree(pair.client_keys(), pair.server_keys());
    assert!(pair.client.handshake.stats().retransmissions >= 1);
}

#[test]
fn small_mtu_fragments_and_reassembles_the_handshake() {
    let mtu = 256;
    let mut pair = Pair::new(
        config().mtu(mtu).build().unwrap(),
        config().mtu(mtu).build().unwrap(),
    );
    let mut largest = 0;
    pair.filter = Box::new(move |_, d| {
        largest = largest.max(d.len());
        assert!(largest <= mtu + 64, "datagram of {largest} bytes");
        vec![d]
    });
    pair.run(500);
    assert_keys_agree(pair.client_keys(), pair.server_keys());
}

#[test]
fn reordered_fragments_reassemble() {
    // Each flight's datagrams arrive last first, so handshake fragments arrive out of order
    // and Finished (epoch 1) arrives before the ChangeCipherSpec it follows.
    let mut pair = Pair::new(
        config().mtu(256).build().unwrap(),
        config().mtu(256).build().unwrap(),
    );
    pair.reverse_flights = true;
    pair.run(3000);
    assert_keys_agree(pair.client_keys(), pair.server_keys());
    assert_eq!(pair.client.handshake.stats().retransmissions, 0);
}

#[test]
fn seeded_entropy_reproduces_the_client_random() {
    struct Counter;
    impl edge_dtls::Entropy for Counter {
        fn fill(&self, out: &mut [u8]) {
            for (i, b) in out.iter_mut().enumerate() {
                *b = i as u8 ^ 0x5A;
            }
        }
    }
    let hello = || {
        let config = config()
            .entropy(std::sync::Arc::new(Counter))
            .build()
            .unwrap();
        let remote = config.certificate().fingerprint();
        let mut hs = edge_dtls::Handshake::new(
            &config,
            edge_dtls::Role::Client,
            &[remote],
            std::time::Instant::now(),
        )
        .unwrap();
        let mut buf = Vec::new();
        hs.poll_transmit(&mut buf).unwrap();
        buf
    };
    let (a, b) = (hello(), hello());
    // Record header 13 + handshake header 12 + version 2 + gmt_unix_time 4, then 28 random.
    assert_eq!(a[31..59], b[31..59]);
    let expected: Vec<u8> = (0..28u8).map(|i| i ^ 0x5A).collect();
    assert_eq!(a[31..59], expected[..]);
}
