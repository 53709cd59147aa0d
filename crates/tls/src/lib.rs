//! TLS server configurations from PEM files: the one loader behind media-edge's TLS
//! listeners (TURN over TLS, the control API, the admin listener), and [`Reloadable`], which
//! re-reads the files on demand (SIGHUP) while connections already open keep the
//! configuration they were accepted with.
//!
//! rustls with the ring provider, TLS 1.2 and 1.3, no client certificates. A certificate file
//! holds a PEM chain, leaf first; a key file one PEM private key (PKCS#8, PKCS#1 or SEC1).
//! Errors say which of the two files is wrong ([`File`]) and why, so each caller can name its
//! own configuration key.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Which of the two files an [`Error`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    /// The certificate chain.
    Certificate,
    /// The private key.
    PrivateKey,
}

/// A certificate or key file that cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct Error {
    /// Which file.
    pub file: File,
    /// Its path.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// The files of one TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key.
    pub private_key: PathBuf,
    /// ALPN protocols offered, most preferred first (empty: no ALPN).
    pub alpn: Vec<Vec<u8>>,
}

/// Reads `files` into a rustls server configuration.
///
/// # Errors
/// [`Error`] naming the certificate file (missing, unreadable, no PEM certificate, unusable)
/// or the key file (missing, no PEM key, not the certificate's key).
pub fn load(files: &Files) -> Result<Arc<ServerConfig>, Error> {
    let certificate_error = |reason: String| Error {
        file: File::Certificate,
        path: files.certificate.clone(),
        reason,
    };
    let key_error = |reason: String| Error {
        file: File::PrivateKey,
        path: files.private_key.clone(),
        reason,
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
    config.alpn_protocols.clone_from(&files.alpn);
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

/// A listener's TLS configuration and the files it came from, re-read by [`reload`]
/// (SIGHUP): new connections get the configuration in force when they are accepted.
///
/// [`reload`]: Reloadable::reload
#[derive(Debug)]
pub struct Reloadable {
    files: Files,
    current: RwLock<Arc<ServerConfig>>,
}

impl Reloadable {
    /// Reads the files.
    ///
    /// # Errors
    /// As [`load`].
    pub fn load(files: Files) -> Result<Self, Error> {
        Ok(Reloadable {
            current: RwLock::new(load(&files)?),
            files,
        })
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The files it reads.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Re-reads the files. On success new connections get the new certificate; on failure
    /// the previous one stays in force and the error (naming the file) is returned.
    ///
    /// # Errors
    /// As [`load`].
    pub fn reload(&self) -> Result<(), Error> {
        let config = load(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("edge-tls-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn files(certificate: &Path, private_key: &Path) -> Files {
        Files {
            certificate: certificate.to_owned(),
            private_key: private_key.to_owned(),
            alpn: Vec::new(),
        }
    }

    /// Every way the files can be wrong names the file at fault.
    #[test]
    fn bad_files_name_the_file_at_fault() {
        let dir = Dir::new("bad");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let good_cert = dir.write("cert.pem", &cert.cert.pem());
        let good_key = dir.write("key.pem", &cert.signing_key.serialize_pem());
        let other_key = dir.write("other.pem", &other.signing_key.serialize_pem());
        let garbage = dir.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n");
        let empty = dir.write("empty.pem", "");
        let missing = dir.0.join("missing.pem");
        load(&files(&good_cert, &good_key)).unwrap();
        for (certificate, key, file, path) in [
            (&missing, &good_key, File::Certificate, &missing),
            (&empty, &good_key, File::Certificate, &empty),
            (&garbage, &good_key, File::Certificate, &garbage),
            (&good_cert, &missing, File::PrivateKey, &missing),
            (&good_cert, &empty, File::PrivateKey, &empty),
            (&good_cert, &good_cert, File::PrivateKey, &good_cert),
            (&good_cert, &other_key, File::PrivateKey, &other_key),
        ] {
            let err = load(&files(certificate, key)).unwrap_err();
            assert_eq!((err.file, &err.path), (file, path), "{err}");
            assert!(err.to_string().starts_with(&path.display().to_string()));
        }
    }

    /// A reload picks up a new certificate; a failed one keeps the old.
    #[test]
    fn reload_swaps_only_on_success() {
        let dir = Dir::new("reload");
        let first = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.write("cert.pem", &first.cert.pem());
        let key = dir.write("key.pem", &first.signing_key.serialize_pem());
        let mut with_alpn = files(&cert, &key);
        with_alpn.alpn = vec![b"h2".to_vec()];
        let tls = Reloadable::load(with_alpn).unwrap();
        let before = tls.current();
        assert_eq!(before.alpn_protocols, vec![b"h2".to_vec()]);
        dir.write("key.pem", "");
        assert_eq!(tls.reload().unwrap_err().file, File::PrivateKey);
        assert!(Arc::ptr_eq(&before, &tls.current()));
        let second = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        dir.write("cert.pem", &second.cert.pem());
        dir.write("key.pem", &second.signing_key.serialize_pem());
        tls.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &tls.current()));
    }
}
