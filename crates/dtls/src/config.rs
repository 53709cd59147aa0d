//! Configuration shared by every handshake: certificate, profiles, timers and bounds.

use std::sync::Arc;
use std::time::Duration;

use rtc_dtls::cipher_suite::CipherSuiteId;
use rtc_dtls::config::{
    ClientAuthType, ConfigBuilder as RtcBuilder, ExtendedMasterSecretType, HandshakeConfig,
    VerifyPeerCertificateFn,
};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;

use crate::entropy::{Entropy, Provider};
use crate::fingerprint::Fingerprint;
use crate::{Certificate, Error, Role, SrtpProfile};

/// The cipher suites offered and accepted. Fixed to the ECDHE_ECDSA family because the
/// certificate is ECDSA: a list mixing ECDHE_RSA suites has stalled handshakes in webrtc-rs.
const CIPHER_SUITES: [CipherSuiteId; 2] = [
    CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256,
    CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_256_Cbc_Sha,
];

/// Server name sent in the ClientHello. WebRTC peers ignore it; it only has to be a
/// host name (RFC 6066 forbids IP literals, which the library would otherwise send).
const SERVER_NAME: &str = "media-edge";

/// Builds a [`Config`]. Every setting has a default except the certificate.
#[derive(Clone)]
pub struct ConfigBuilder {
    certificate: Certificate,
    profiles: Vec<SrtpProfile>,
    handshake_timeout: Duration,
    initial_retransmit: Duration,
    max_retransmit: Duration,
    mtu: usize,
    max_handshake_bytes: usize,
    max_malformed_datagrams: u32,
    entropy: Option<Arc<dyn Entropy>>,
}

impl ConfigBuilder {
    /// Starts from the defaults: all four profiles in [`SrtpProfile::ALL`] order, a 15 s
    /// handshake timeout, retransmission from 1 s doubling up to 4 s (RFC 6347 §4.2.4.1), an
    /// MTU of 1200 bytes, at most 64 KiB of handshake records and 16 malformed datagrams.
    pub fn new(certificate: Certificate) -> Self {
        ConfigBuilder {
            certificate,
            profiles: SrtpProfile::ALL.to_vec(),
            handshake_timeout: Duration::from_secs(15),
            initial_retransmit: Duration::from_secs(1),
            max_retransmit: Duration::from_secs(4),
            mtu: 1200,
            max_handshake_bytes: 64 * 1024,
            max_malformed_datagrams: 16,
            entropy: None,
        }
    }

    /// The SRTP protection profiles accepted, most preferred first. As the client this is the
    /// order offered; as the server the client's order decides among the shared ones.
    pub fn srtp_profiles(mut self, profiles: &[SrtpProfile]) -> Self {
        self.profiles = profiles.to_vec();
        self
    }

    /// How long a handshake may take from [`crate::Handshake::new`] to established.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The first retransmission timeout and its cap; each retransmission of a flight doubles
    /// the timeout up to the cap (RFC 6347 §4.2.4.1).
    pub fn retransmit_timeouts(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_retransmit = initial;
        self.max_retransmit = max;
        self
    }

    /// The largest datagram sent; handshake messages are fragmented to fit.
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// The bound on handshake record bytes accepted from the peer before the handshake
    /// completes (everything the DTLS library may buffer, retransmissions included).
    pub fn max_handshake_bytes(mut self, limit: usize) -> Self {
        self.max_handshake_bytes = limit;
        self
    }

    /// How many datagrams that are not DTLS records a handshake tolerates (each is dropped and
    /// counted) before it fails with [`Error::Malformed`].
    pub fn max_malformed_datagrams(mut self, limit: u32) -> Self {
        self.max_malformed_datagrams = limit;
        self
    }

    /// Replaces the operating system's random source for handshake randoms and cookies.
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = Some(entropy);
        self
    }

    /// Checks the settings and prepares the DTLS library's configuration.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting that is out of range.
    pub fn build(self) -> Result<Config, Error> {
        let refuse = |reason| Err(Error::Config { reason });
        if self.profiles.is_empty() {
            return refuse("srtp_profiles is empty");
        }
        if (1..self.profiles.len()).any(|i| self.profiles[..i].contains(&self.profiles[i])) {
            return refuse("srtp_profiles lists a profile twice");
        }
        if self.initial_retransmit.is_zero() || self.initial_retransmit > self.max_retransmit {
            return refuse("retransmit_timeouts: initial must be non-zero and at most max");
        }
        if self.handshake_timeout <= self.initial_retransmit {
            return refuse("handshake_timeout must exceed the initial retransmit timeout");
        }
        if !(256..=16384).contains(&self.mtu) {
            return refuse("mtu must be within 256..=16384 bytes");
        }
        if self.max_handshake_bytes < 8 * 1024 {
            return refuse("max_handshake_bytes must be at least 8 KiB");
        }
        let profiles = self
            .profiles
            .iter()
            .map(|p| SrtpProtectionProfile::from(p.id()))
            .collect();
        let library = RtcBuilder::default()
            .with_crypto_provider(Arc::new(Provider::new(self.entropy)))
            .with_certificates(vec![self.certificate.inner().clone()])
            .with_cipher_suites(CIPHER_SUITES.to_vec())
            .with_srtp_protection_profiles(profiles)
            .with_extended_master_secret(ExtendedMasterSecretType::Request)
            // The client must present a certificate, whose fingerprint is the peer's identity.
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            // No CA chain exists between WebRTC peers: the SDP fingerprint, checked in the
            // verify callback and again before key export, authenticates the certificate.
            .with_insecure_skip_verify(true)
            .with_flight_interval(self.initial_retransmit)
            .with_mtu(self.mtu)
            .with_server_name(SERVER_NAME.to_owned());
        Ok(Config {
            certificate: self.certificate,
            library,
            limits: Limits {
                handshake_timeout: self.handshake_timeout,
                initial_retransmit: self.initial_retransmit,
                max_retransmit: self.max_retransmit,
                max_handshake_bytes: self.max_handshake_bytes,
                max_malformed_datagrams: self.max_malformed_datagrams,
            },
        })
    }
}

/// What every handshake of an endpoint shares. Built once at start-up by [`ConfigBuilder`].
#[derive(Clone)]
pub struct Config {
    certificate: Certificate,
    library: RtcBuilder,
    pub(crate) limits: Limits,
}

/// Timers and bounds copied into each handshake.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub handshake_timeout: Duration,
    pub initial_retransmit: Duration,
    pub max_retransmit: Duration,
    pub max_handshake_bytes: usize,
    pub max_malformed_datagrams: u32,
}

impl Config {
    /// The local certificate; its [`Certificate::fingerprint`] goes into the local SDP.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The library configuration for one handshake, whose verify callback refuses any
    /// certificate that does not match `remote`.
    pub(crate) fn handshake_config(
        &self,
        role: Role,
        remote: &[Fingerprint],
    ) -> Result<Arc<HandshakeConfig>, Error> {
        let expected = remote.to_vec();
        let verify: VerifyPeerCertificateFn = Arc::new(move |chain, _| {
            let leaf = chain
                .first()
                .ok_or(rtc_shared::error::Error::ErrNoCertificates)?;
            Fingerprint::verify(&expected, leaf)
                .map(drop)
                .map_err(|e| rtc_shared::error::Error::Other(e.to_string()))
        });
        self.library
            .clone()
            .with_verify_peer_certificate(Some(verify))
            .build(role.is_client(), None)
            .map(Arc::new)
            .map_err(Error::protocol)
    }
}
