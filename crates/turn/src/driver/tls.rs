//! The TLS listener's rustls configuration, from PEM certificate and key files.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig as TlsConfig;

use crate::Error;

/// Builds a rustls server configuration (ring provider, TLS 1.2 and 1.3) from a PEM
/// certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_tls_config(certificate: &Path, private_key: &Path) -> Result<Arc<TlsConfig>, Error> {
    let tls_err = |path: &Path, reason: String| Error::Tls {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_err(certificate, e.to_string()))?;
    if chain.is_empty() {
        return Err(tls_err(certificate, "no CERTIFICATE in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(private_key)
        .map_err(|e| tls_err(private_key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = TlsConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(certificate, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_err(private_key, format!("does not match the certificate: {e}")))?;
    Ok(Arc::new(config))
}
