//! What the over-the-wire tests share: the API served on a real loopback listener by
//! `edge_control::serve`, raw HTTP/1.1 exchanges whose header block is read as sent, and
//! client sockets bound to a chosen source address.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod router;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use edge_control::{serve, ApiConfig};
use edge_forward::{EnterpriseSide, ForwardConfig, Forwarder, PortRange, PublicSide};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The bearer token of every test API.
pub const TOKEN: &str = "control-wire-test-token-01";
/// How long any single read or connect may take before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A running API.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    relay: Forwarder,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), edge_control::Error>>>,
}

/// A configuration on 127.0.0.1 (port chosen at bind) with [`TOKEN`].
pub fn config() -> ApiConfig {
    ApiConfig::new("127.0.0.1:0".parse().unwrap(), vec![TOKEN.into()])
}

impl Server {
    /// Serves `config` over a forwarder whose (unused) port ranges start at 48_800 + 20 *
    /// `slot`: no test here creates sessions, so the ranges are never bound.
    pub async fn start(slot: u16, config: ApiConfig) -> Server {
        let base = 48_800 + slot * 20;
        let relay = Forwarder::start(
            ForwardConfig::new(
                PublicSide::new(
                    "127.0.0.1".parse().unwrap(),
                    PortRange::new(base, base + 9).unwrap(),
                ),
                EnterpriseSide::new(
                    "127.0.0.1".parse().unwrap(),
                    PortRange::new(base + 10, base + 19).unwrap(),
                ),
            ),
            edge_dtls::ConfigBuilder::new(edge_dtls::Certificate::generate().unwrap())
                .build()
                .unwrap(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(config, listener, relay.clone(), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            relay,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the API and waits until `serve` returned (its connections are closed).
    pub async fn stop(mut self) {
        self.finish().await;
    }

    async fn finish(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(IO_TIMEOUT, task)
                .await
                .expect("serve stops")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.relay.clone().shutdown();
    }
}

/// A TCP connection to `to` from `from` (any port).
pub async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    tokio::time::timeout(IO_TIMEOUT, socket.connect(to))
        .await
        .expect("connect in time")
        .unwrap()
}

/// One HTTP answer as it came off the wire.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The header lines in order, names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`, if present (panics when it is repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} repeated: {all:?}");
        all.first().copied()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Sends one HTTP/1.1 request (`headers` as given, plus Host and Content-Length) and reads the
/// answer. `token` adds `Authorization: Bearer <token>`.
pub async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    try_request(stream, method, path, token, headers)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// [`request`], or the I/O error (a closed connection reads as `UnexpectedEof`).
pub async fn try_request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> std::io::Result<Answer> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    tokio::time::timeout(IO_TIMEOUT, read_answer(stream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

async fn read_answer<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Answer> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        assert!(buf.len() < 1 << 20, "header block too large");
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("UTF-8 header block");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    })
}

/// Whether the server closed `stream` without answering: a request on it reads end of file
/// or a reset.
pub async fn is_closed(stream: &mut TcpStream) -> bool {
    match try_request(stream, "GET", "/v1/stats", Some(TOKEN), &[]).await {
        Ok(answer) => panic!("expected a closed connection, got {answer:?}"),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
        ),
    }
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `name` and this process.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("edge-control-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Writes `text` to `name` in the directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for `localhost` (rcgen): its DER, PEM and key PEM.
pub struct TestCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
    /// The private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl TestCertificate {
    /// A fresh one.
    pub fn generate() -> TestCertificate {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        TestCertificate {
            der: c.cert.der().to_vec(),
            pem: c.cert.pem(),
            key_pem: c.signing_key.serialize_pem(),
        }
    }
}

/// A TLS client trusting `trusted`, offering `alpn`.
pub fn tls_connector(trusted: &[&TestCertificate], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in trusted {
        roots
            .add(rustls::pki_types::CertificateDer::from(c.der.clone()))
            .unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// A TLS connection to `addr` as `localhost`; the certificate the server presented (DER).
pub async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    try_tls_connect(connector, addr).await.expect("handshake")
}

/// [`tls_connect`], or the handshake's error (a connection closed at accept fails here).
pub async fn try_tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<(tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>)> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(IO_TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")?;
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    Ok((tls, served))
}

/// [`try_tls_connect`] until it succeeds (a place given back asynchronously), for at most
/// [`IO_TIMEOUT`].
pub async fn tls_connect_eventually(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        match try_tls_connect(connector, addr).await {
            Ok(done) => return done,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "no TLS connection: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
