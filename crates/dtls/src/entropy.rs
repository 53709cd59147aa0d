//! The random source of the handshake, injectable for reproducible tests.

use std::sync::Arc;

use rtc_dtls::crypto_provider::providers::{RingCrypto, RingRandom};
use rtc_dtls::crypto_provider::{CryptoError, RTCCrypto, RTCCryptoProvider, RTCRandom};

/// A source of random bytes for the handshake's randoms and cookies.
///
/// The default is the operating system's CSPRNG. A test may inject a seeded source to make
/// ClientHello/ServerHello randoms reproducible. Ephemeral ECDHE keys and ECDSA signatures
/// always use the crypto library's own CSPRNG (ring does not take an injected source), so a
/// seeded source never weakens the keys.
pub trait Entropy: Send + Sync {
    /// Fills all of `out` with random bytes.
    fn fill(&self, out: &mut [u8]);
}

/// The crypto provider handed to the DTLS library: ring, with the chosen random source.
pub(crate) struct Provider {
    crypto: RingCrypto,
    random: Random,
}

enum Random {
    System(RingRandom),
    Injected(Arc<dyn Entropy>),
}

impl Provider {
    pub(crate) fn new(entropy: Option<Arc<dyn Entropy>>) -> Self {
        Provider {
            crypto: RingCrypto,
            random: entropy.map_or(Random::System(RingRandom), Random::Injected),
        }
    }
}

impl RTCRandom for Random {
    fn fill(&self, output: &mut [u8]) -> Result<(), CryptoError> {
        match self {
            Random::System(system) => system.fill(output),
            Random::Injected(entropy) => {
                entropy.fill(output);
                Ok(())
            }
        }
    }
}

impl RTCCryptoProvider for Provider {
    fn name(&self) -> &'static str {
        "edge-dtls(ring)"
    }

    fn crypto(&self) -> &dyn RTCCrypto {
        &self.crypto
    }

    fn random(&self) -> &dyn RTCRandom {
        &self.random
    }
}
