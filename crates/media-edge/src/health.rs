//! `media-edge health`: a probe for container healthchecks, which cannot run a shell or
//! curl in an image holding only the binary. It asks the admin listener of the same
//! configuration for `/readyz` over HTTP/1.1 and reports in one line: ready (exit 0) or why
//! not (exit 1): no `[admin]` section, nothing listening, a timeout, a certificate that is
//! not the configured one, or the listener's own answer (`starting`, `draining`).
//!
//! With `admin.tls` it speaks HTTPS and trusts exactly the leaf certificate of
//! `admin.tls.certificate` (pinned: the server must present that certificate and prove it
//! holds its key), so no CA, name or clock is involved in probing one's own listener.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::config::Config;

/// Most bytes of an answer read: `/readyz` answers a few words.
const MAX_ANSWER: u64 = 4096;

/// Where the probe connects for a listener bound to `listen`: the same port, and for a
/// wildcard address the loopback address of its family.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Probes `/readyz` of `config`'s admin listener, waiting at most `timeout` for each step;
/// the line to print when ready, an error saying why not otherwise.
pub fn probe(config: &Config, timeout: Duration) -> anyhow::Result<String> {
    let Some(admin) = &config.admin else {
        bail!("not ready: no [admin] section, so there is no /readyz to probe");
    };
    let to = target(admin.listen);
    let scheme = if admin.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{to}/readyz");
    let stream = TcpStream::connect_timeout(&to, timeout)
        .with_context(|| format!("not ready: cannot connect to {url}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let answer = match &admin.tls {
        None => exchange(stream, to),
        Some(tls) => {
            let client = pinned_client(&tls.certificate, to.ip())?;
            exchange(rustls::StreamOwned::new(client, stream), to)
        }
    }
    .with_context(|| format!("not ready: no answer from {url}"))?;
    let (status, body) =
        parse(&answer).with_context(|| format!("not ready: {url} did not answer in HTTP/1.1"))?;
    if status == 200 {
        Ok(format!("ready: {url} answered 200 {body}"))
    } else {
        bail!("not ready: {url} answered {status} {body}")
    }
}

/// Sends the request and reads the answer until the server closes (at most
/// [`MAX_ANSWER`] bytes). A TLS server that closes without close_notify still gave its
/// answer: what was read counts.
fn exchange(mut stream: impl Read + Write, to: SocketAddr) -> std::io::Result<Vec<u8>> {
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while (answer.len() as u64) < MAX_ANSWER {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) if !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(answer)
}

/// A TLS client trusting exactly the leaf certificate of the PEM file `certificate`.
fn pinned_client(
    certificate: &std::path::Path,
    ip: IpAddr,
) -> anyhow::Result<rustls::ClientConnection> {
    let leaf = CertificateDer::pem_file_iter(certificate)
        .ok()
        .and_then(|mut certs| certs.next())
        .and_then(Result::ok)
        .ok_or_else(|| {
            anyhow!(
                "cannot probe: admin.tls.certificate: {} holds no PEM certificate",
                certificate.display()
            )
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Pinned {
        leaf,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::IpAddress(ip.into()),
    )?)
}

/// Accepts the one pinned certificate, whatever its names, issuer or dates, and checks the
/// handshake signature against it (the server holds its key).
#[derive(Debug)]
struct Pinned {
    leaf: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The status code and the first line of the body of an HTTP/1.1 answer.
fn parse(answer: &[u8]) -> anyhow::Result<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .context("no status line")?;
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| body.lines().next())
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_wildcard_listener_is_probed_on_loopback() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(target(addr("0.0.0.0:9480")), addr("127.0.0.1:9480"));
        assert_eq!(target(addr("[::]:9480")), addr("[::1]:9480"));
        assert_eq!(target(addr("10.0.0.5:9480")), addr("10.0.0.5:9480"));
    }

    #[test]
    fn answers_are_read_for_status_and_reason() {
        let draining = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\n\r\ndraining\n";
        assert_eq!(parse(draining).unwrap(), (503, "draining".to_owned()));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n\r\nready\n").unwrap(),
            (200, "ready".to_owned())
        );
        assert!(parse(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
