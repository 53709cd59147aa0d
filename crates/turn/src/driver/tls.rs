//! The TLS listener's rustls configuration, from PEM certificate and key files (edge-tls).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig as TlsConfig;

use crate::Error;

/// Builds a rustls server configuration (ring provider, TLS 1.2 and 1.3) from a PEM
/// certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_tls_config(certificate: &Path, private_key: &Path) -> Result<Arc<TlsConfig>, Error> {
    let files = edge_tls::Files {
        certificate: certificate.to_owned(),
        private_key: private_key.to_owned(),
        alpn: Vec::new(),
    };
    edge_tls::load(&files).map_err(|e| Error::Tls {
        path: e.path,
        reason: e.reason,
    })
}
