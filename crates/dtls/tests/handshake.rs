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
