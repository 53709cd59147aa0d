//! The client side of a TURN transport: a UDP socket, or a TCP connection, optionally with
//! TLS (rustls), with RFC 8656 stream framing. The fleet owns one per allocation and drives
//! them all from one mio loop.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use edge_turn::client::StreamReader;
use edge_udp::{RecvBatch, Transmit, UdpSocket};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::Error;

/// How the client reaches the TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

/// TLS client settings shared by every connection of a run.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl TlsSetup {
    /// Trusts the PEM certificates in `ca_file` and expects the server to present a
    /// certificate for `name` (a DNS name or an IP address).
    pub fn new(ca_file: &Path, name: &str) -> Result<TlsSetup, Error> {
        let bad = |problem| Error::Parameter {
            name: "tls-ca",
            problem,
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            CertificateDer::pem_file_iter(ca_file).map_err(|_| bad("cannot read the PEM file"))?
        {
            let cert = cert.map_err(|_| bad("not a PEM certificate file"))?;
            roots
                .add(cert)
                .map_err(|_| bad("a certificate cannot be used as a trust anchor"))?;
        }
        if roots.is_empty() {
            return Err(bad("no certificate in the file"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| bad("no TLS version in common with the crypto provider"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_owned()).map_err(|_| Error::Parameter {
            name: "tls-name",
            problem: "not a DNS name or IP address",
        })?;
        Ok(TlsSetup {
            config: Arc::new(config),
            name,
        })
    }
}

/// One client transport.
#[derive(Debug)]
pub enum Conn {
    /// A UDP socket of its own (one 5-tuple per allocation).
    Udp(UdpSocket),
    /// A TCP or TLS connection.
    Stream(Box<StreamConn>),
}

/// A TCP connection, with TLS when set up so, plus its buffers.
#[derive(Debug)]
pub struct StreamConn {
    tcp: mio::net::TcpStream,
    tls: Option<rustls::ClientConnection>,
    server: SocketAddr,
    /// Received bytes, cut into frames.
    rx: StreamReader,
    /// Plain TCP bytes the kernel has not taken yet.
    tx: Vec<u8>,
}

impl Conn {
    /// Opens a transport to `server` from `local_ip` (port chosen by the system).
    pub fn open(
        kind: TransportKind,
        server: SocketAddr,
        local_ip: IpAddr,
        gro: bool,
        tls: Option<&TlsSetup>,
    ) -> Result<Conn, Error> {
        let local = SocketAddr::new(local_ip, 0);
        match kind {
            TransportKind::Udp => crate::sockets::bind_client(local, gro).map(Conn::Udp),
            TransportKind::Tcp | TransportKind::Tls => {
                let tcp = mio::net::TcpStream::connect(server).map_err(|source| Error::Io {
                    what: "connect",
                    addr: server,
                    source,
                })?;
                let tls = match (kind, tls) {
                    (TransportKind::Tls, Some(t)) => Some(
                        rustls::ClientConnection::new(t.config.clone(), t.name.clone()).map_err(
                            |source| Error::Tls {
                                addr: server,
                                source,
                            },
                        )?,
                    ),
                    (TransportKind::Tls, None) => {
                        return Err(Error::Parameter {
                            name: "tls-ca",
                            problem: "TLS needs a CA file",
                        })
                    }
                    _ => None,
                };
                Ok(Conn::Stream(Box::new(StreamConn {
                    tcp,
                    tls,
                    server,
                    rx: StreamReader::new(),
                    tx: Vec::with_capacity(16_384),
                })))
            }
        }
    }

    /// Whether ChannelData on this transport is padded to 4 bytes (streams).
    pub fn framing(&self) -> edge_stun::Transport {
        match self {
            Conn::Udp(_) => edge_stun::Transport::Datagram,
            Conn::Stream(_) => edge_stun::Transport::Stream,
        }
    }

    /// Registers with a mio registry under `token`.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Conn::Udp(s) => {
                registry.register(&mut SourceFd(&s.as_raw_fd()), token, Interest::READABLE)
            }
            Conn::Stream(s) => {
                registry.register(&mut s.tcp, token, Interest::READABLE | Interest::WRITABLE)
            }
        }
    }

    /// Removes the registration.
    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Conn::Udp(s) => registry.deregister(&mut SourceFd(&s.as_raw_fd())),
            Conn::Stream(s) => registry.deregister(&mut s.tcp),
        }
    }

    /// Sends `bytes` to `server`: one datagram, or `bytes.len() / segment` datagrams of
    /// `segment` bytes each (GSO where the kernel has it); on a stream, appended as is.
    /// Returns `false` when a UDP socket's buffer is full (nothing sent).
    pub fn send(
        &mut self,
        server: SocketAddr,
        bytes: &[u8],
        segment: Option<usize>,
    ) -> Result<bool, Error> {
        match self {
            Conn::Udp(s) => {
                let tx = Transmit {
                    dst: server,
                    contents: bytes,
                    segment_size: segment.filter(|&n| n < bytes.len()),
                    ..Transmit::PLACEHOLDER
                };
                match s.send(&[tx]) {
                    Ok(n) => Ok(n == 1),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
                    Err(source) => Err(Error::Io {
                        what: "send",
                        addr: server,
                        source,
                    }),
                }
            }
            Conn::Stream(s) => s.write(bytes).map(|()| true),
        }
    }

    /// Reads everything available and hands each datagram or frame to `on_frame`.
    /// `batch` is the receive memory for UDP, shared by every connection of a thread.
    pub fn receive(
        &mut self,
        batch: &mut RecvBatch,
        on_frame: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Error> {
        match self {
            Conn::Udp(s) => loop {
                match s.recv(batch) {
                    Ok(_) => {
                        for (meta, data) in batch.iter() {
                            for datagram in data[..meta.len].chunks(meta.stride) {
                                on_frame(datagram);
                            }
                        }
                        if !crate::sockets::batch_filled(batch) {
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        return Err(Error::Io {
                            what: "receive",
                            addr: s.local_addr(),
                            source,
                        })
                    }
                }
            },
            Conn::Stream(s) => s.receive(on_frame),
        }
    }

    /// Writes what a stream has pending (call when it is writable).
    pub fn flush(&mut self) -> Result<(), Error> {
        match self {
            Conn::Udp(_) => Ok(()),
            Conn::Stream(s) => s.flush(),
        }
    }
}

impl StreamConn {
    fn io_err(&self, what: &'static str) -> impl FnOnce(io::Error) -> Error {
        let addr = self.server;
        move |source| Error::Io { what, addr, source }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match &mut self.tls {
            Some(tls) => tls
                .writer()
                .write_all(bytes)
                .map_err(self.io_err("TLS write"))?,
            None => self.tx.extend_from_slice(bytes),
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<(), Error> {
        let would_block = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected
            )
        };
        if let Some(tls) = &mut self.tls {
            while tls.wants_write() {
                match tls.write_tls(&mut self.tcp) {
                    Ok(_) => {}
                    Err(e) if would_block(&e) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.io_err("send")(e)),
                }
            }
            return Ok(());
        }
        let mut written = 0;
        while written < self.tx.len() {
            match self.tcp.write(&self.tx[written..]) {
                Ok(0) => return Err(Error::Closed(self.server)),
                Ok(n) => written += n,
                Err(e) if would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err("send")(e)),
            }
        }
        self.tx.drain(..written);
        Ok(())
    }

    fn receive(&mut self, on_frame: &mut dyn FnMut(&[u8])) -> Result<(), Error> {
        loop {
            let n = self.read_some()?;
            if n == 0 {
                // TLS may have produced handshake bytes to send.
                return self.flush();
            }
            self.rx.filled(n);
            loop {
                match self.rx.next_frame() {
                    Ok(Some(frame)) => on_frame(frame),
                    Ok(None) => break,
                    Err(source) => {
                        return Err(Error::Malformed {
                            what: "stream frame",
                            from: self.server,
                            source,
                        })
                    }
                }
            }
        }
    }

    /// Reads into the free end of `rx`: `Ok(0)` when nothing more is available now.
    fn read_some(&mut self) -> Result<usize, Error> {
        let server = self.server;
        let io_err = |what| {
            move |source| Error::Io {
                what,
                addr: server,
                source,
            }
        };
        let again = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::NotConnected
                    | io::ErrorKind::Interrupted
            )
        };
        let free = self.rx.spare();
        let Some(tls) = &mut self.tls else {
            return match self.tcp.read(free) {
                Ok(0) => Err(Error::Closed(server)),
                Ok(n) => Ok(n),
                Err(e) if again(&e) => Ok(0),
                Err(e) => Err(io_err("receive")(e)),
            };
        };
        loop {
            match tls.reader().read(free) {
                Ok(0) => return Err(Error::Closed(server)),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io_err("TLS read")(e)),
            }
            match tls.read_tls(&mut self.tcp) {
                Ok(0) => return Err(Error::Closed(server)),
                Ok(_) => {}
                Err(e) if again(&e) => return Ok(0),
                Err(e) => return Err(io_err("receive")(e)),
            }
            tls.process_new_packets().map_err(|source| Error::Tls {
                addr: server,
                source,
            })?;
        }
    }
}
