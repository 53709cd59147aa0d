//! HTTPS: the certificate and key from PEM files, offered with ALPN `h2` and `http/1.1`, and
//! re-read on demand (SIGHUP) without disturbing connections already open.

use tokio_rustls::TlsAcceptor;

use crate::config::Tls;
use crate::Error;

/// The TLS side of a listener: the files and the configuration built from them (edge-tls).
/// The media-edge binary's admin listener serves with it too.
#[derive(Debug)]
pub struct Certificates(edge_tls::Reloadable);

impl Certificates {
    /// Reads the certificate and key.
    ///
    /// # Errors
    /// [`Error::Config`] naming `tls.certificate` or `tls.private-key` and the file.
    pub fn load(files: &Tls) -> Result<Self, Error> {
        let files = edge_tls::Files {
            certificate: files.certificate.clone(),
            private_key: files.private_key.clone(),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        };
        edge_tls::Reloadable::load(files)
            .map(Certificates)
            .map_err(config_error)
    }

    /// The acceptor for a new connection, with the certificate in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.0.current())
    }

    /// Re-reads the files. On success new connections get the new certificate; on failure
    /// the previous one stays in force and the error (naming the file) is logged and
    /// returned.
    pub fn reload(&self) -> Result<(), Error> {
        match self.0.reload() {
            Ok(()) => {
                let files = self.0.files();
                tracing::info!(
                    "control API: reloaded the TLS certificate {} and key {}",
                    files.certificate.display(),
                    files.private_key.display()
                );
                Ok(())
            }
            Err(e) => {
                let e = config_error(e);
                tracing::error!(
                    "control API: TLS reload failed, keeping the previous certificate: {e}"
                );
                Err(e)
            }
        }
    }
}

/// The `tls.certificate` or `tls.private-key` error for a file edge-tls refused.
fn config_error(e: edge_tls::Error) -> Error {
    let key = match e.file {
        edge_tls::File::Certificate => "tls.certificate",
        edge_tls::File::PrivateKey => "tls.private-key",
    };
    Error::Config {
        key,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bad certificate file names `tls.certificate`, a bad key file `tls.private-key`, each
    /// with the file (edge-tls's own tests cover every way a file can be wrong).
    #[test]
    fn bad_files_name_key_and_file() {
        let dir = std::env::temp_dir().join(format!("edge-control-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let good_cert = dir.join("cert.pem");
        std::fs::write(&good_cert, cert.cert.pem()).unwrap();
        let good_key = dir.join("key.pem");
        std::fs::write(&good_key, cert.signing_key.serialize_pem()).unwrap();
        let missing = dir.join("missing.pem");
        Certificates::load(&Tls::new(&good_cert, &good_key)).unwrap();
        for (files, key, file) in [
            (Tls::new(&missing, &good_key), "tls.certificate", &missing),
            (Tls::new(&good_cert, &missing), "tls.private-key", &missing),
            (
                Tls::new(&good_cert, &good_cert),
                "tls.private-key",
                &good_cert,
            ),
        ] {
            let err = Certificates::load(&files).unwrap_err().to_string();
            let prefix = format!("api.{key}: {}", file.display());
            assert!(err.starts_with(&prefix), "{files:?}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
