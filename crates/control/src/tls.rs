//! HTTPS: the certificate and key from PEM files, offered with ALPN `h2` and `http/1.1`, and
//! re-read on demand (SIGHUP) without disturbing connections already open.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::Tls;
use crate::Error;

/// The TLS side of a listener: the files and the configuration built from them. The
/// media-edge binary's admin listener serves with it too.
#[derive(Debug)]
pub struct Certificates {
    files: Tls,
    current: RwLock<Arc<ServerConfig>>,
}

impl Certificates {
    /// Reads the certificate and key.
    ///
    /// # Errors
    /// [`Error::Config`] naming `tls.certificate` or `tls.private-key` and the file.
    pub fn load(files: &Tls) -> Result<Self, Error> {
        Ok(Certificates {
            current: RwLock::new(server_config(files)?),
            files: files.clone(),
        })
    }

    /// The acceptor for a new connection, with the certificate in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        TlsAcceptor::from(Arc::clone(&current))
    }

    /// Re-reads the files. On success new connections get the new certificate; on failure
    /// the previous one stays in force and the error (naming the file) is logged and
    /// returned.
    pub fn reload(&self) -> Result<(), Error> {
        match server_config(&self.files) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
                tracing::info!(
                    "control API: reloaded the TLS certificate {} and key {}",
                    self.files.certificate.display(),
                    self.files.private_key.display()
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    "control API: TLS reload failed, keeping the previous certificate: {e}"
                );
                Err(e)
            }
        }
    }
}

/// A rustls server configuration (ring, TLS 1.2 and 1.3, no client certificates) for the
/// files, offering HTTP/2 and HTTP/1.1.
fn server_config(files: &Tls) -> Result<Arc<ServerConfig>, Error> {
    let certificate_error = |reason: String| Error::Config {
        key: "tls.certificate",
        reason: format!("{}: {reason}", files.certificate.display()),
    };
    let key_error = |reason: String| Error::Config {
        key: "tls.private-key",
        reason: format!("{}: {reason}", files.private_key.display()),
    };
    let chain = read_chain(&files.certificate).map_err(certificate_error)?;
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .map_err(|e| key_error(format!("no PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| certificate_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InvalidCertificate(_) => certificate_error(format!("unusable: {e}")),
            rustls::Error::InconsistentKeys(_) => {
                key_error(format!("does not fit the certificate: {e}"))
            }
            _ => key_error(format!("unusable: {e}")),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificates of a PEM file, leaf first: at least one.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way the files can be wrong names the key and the file.
    #[test]
    fn bad_files_name_key_and_file() {
        let dir = std::env::temp_dir().join(format!("edge-control-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let good_cert = write("cert.pem", &cert.cert.pem());
        let good_key = write("key.pem", &cert.key_pair.serialize_pem());
        let other_key = write("other.pem", &other.key_pair.serialize_pem());
        let garbage = write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n");
        let empty = write("empty.pem", "");
        let missing = dir.join("missing.pem");
        Certificates::load(&Tls::new(&good_cert, &good_key)).unwrap();
        for (files, key, file) in [
            (Tls::new(&missing, &good_key), "tls.certificate", &missing),
            (Tls::new(&empty, &good_key), "tls.certificate", &empty),
            (Tls::new(&garbage, &good_key), "tls.certificate", &garbage),
            (Tls::new(&good_cert, &missing), "tls.private-key", &missing),
            (Tls::new(&good_cert, &empty), "tls.private-key", &empty),
            (
                Tls::new(&good_cert, &good_cert),
                "tls.private-key",
                &good_cert,
            ),
            (
                Tls::new(&good_cert, &other_key),
                "tls.private-key",
                &other_key,
            ),
        ] {
            let err = Certificates::load(&files).unwrap_err().to_string();
            let prefix = format!("api.{key}: {}", file.display());
            assert!(err.starts_with(&prefix), "{files:?}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
