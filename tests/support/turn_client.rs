//! A raw, blocking TURN client over UDP or TCP, built on edge-stun, that binds to a chosen
//! local address (127.0.0.2 is "another source" on loopback). It does the real long-term
//! credential exchange (unsigned request, 401 with REALM and NONCE, signed retry) and tells
//! an error response apart from no answer at all, which is what a banned source gets.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use edge_stun::{
    long_term_key, next_frame, Attribute, ChannelData, Class, Frame, IntegrityKey, Message,
    MessageEncoder, Method, TransactionId,
};

/// How long a request waits for its answer unless told otherwise
/// ([`RawTurnClient::set_answer_timeout`]): a hang guard, far beyond what a server on a
/// loaded machine needs, so that a slow answer is never taken for no answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The client transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Datagrams.
    Udp,
    /// A TCP connection (RFC 8656 framing).
    Tcp,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// An error response with this code.
    Code(u16),
    /// No answer within the client's answer timeout ([`ANSWER_TIMEOUT`] by default), or the
    /// server closed the connection.
    NoAnswer,
}

enum Conn {
    Udp(UdpSocket),
    Tcp { stream: TcpStream, buf: Vec<u8> },
}

/// A TURN client with one set of long-term credentials.
pub struct RawTurnClient {
    conn: Conn,
    server: SocketAddr,
    realm: String,
    username: String,
    password: String,
    key: IntegrityKey,
    nonce: Option<String>,
    tid: u32,
    answer_timeout: Duration,
}

impl RawTurnClient {
    /// Opens a socket on `local` (port chosen by the system) toward `server`: a bound UDP
    /// socket, or a TCP connection (which the server may close at once when it refuses the
    /// source).
    pub fn connect(
        via: Via,
        local: IpAddr,
        server: SocketAddr,
        username: &str,
        password: &str,
    ) -> io::Result<Self> {
        let conn = match via {
            Via::Udp => {
                let socket = UdpSocket::bind((local, 0))?;
                socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
                Conn::Udp(socket)
            }
            Via::Tcp => {
                use socket2::{Domain, Socket, Type};
                let socket = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
                socket.bind(&SocketAddr::new(local, 0).into())?;
                socket.connect_timeout(&server.into(), ANSWER_TIMEOUT)?;
                let stream: TcpStream = socket.into();
                stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
                stream.set_nodelay(true)?;
                Conn::Tcp {
                    stream,
                    buf: Vec::new(),
                }
            }
        };
        Ok(Self {
            conn,
            server,
            realm: String::new(),
            username: username.to_owned(),
            password: password.to_owned(),
            key: IntegrityKey::new(&[]),
            nonce: None,
            tid: 0,
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// How long each request waits for its answer from now on. Shorten it only where no
    /// answer is expected (a banned source): silence cannot be proven by waiting, so a short
    /// wait there can only miss a late answer, never fail a correct server.
    pub fn set_answer_timeout(&mut self, timeout: Duration) {
        self.answer_timeout = timeout;
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.conn {
            Conn::Udp(s) => s.local_addr(),
            Conn::Tcp { stream, .. } => stream.local_addr(),
        }
    }

    /// The UDP socket (for a test that paces its own datagrams), if this client uses UDP.
    pub fn udp_socket(&self) -> Option<&UdpSocket> {
        match &self.conn {
            Conn::Udp(s) => Some(s),
            Conn::Tcp { .. } => None,
        }
    }

    /// Sends a request, signed once a nonce is known; on a 401 or 438 that brings a new
    /// nonce, retries once signed with it. Returns the success response.
    pub fn request(&mut self, method: Method, attrs: &[Attribute<'_>]) -> Result<Vec<u8>, Refused> {
        for _ in 0..2 {
            self.tid += 1;
            let mut tid = [0u8; 12];
            tid[..4].copy_from_slice(&self.tid.to_be_bytes());
            let tid = TransactionId(tid);
            let mut buf = [0u8; 1500];
            let len = self
                .encode(&mut buf, Class::Request, method, tid, attrs)
                .map_err(|_| Refused::NoAnswer)?;
            self.send(&buf[..len]).map_err(|_| Refused::NoAnswer)?;
            let resp = self.recv_response(tid)?;
            let msg = Message::parse(&resp).map_err(|_| Refused::NoAnswer)?;
            match msg.error_code().ok().flatten().map(|e| e.code) {
                Some(code @ (401 | 438)) => {
                    let nonce = msg.nonce().ok().flatten().map(str::to_owned);
                    if nonce.is_none() || nonce == self.nonce {
                        return Err(Refused::Code(code));
                    }
                    let realm = msg.realm().ok().flatten().unwrap_or_default().to_owned();
                    self.key =
                        IntegrityKey::new(&long_term_key(&self.username, &realm, &self.password));
                    self.realm = realm;
                    self.nonce = nonce;
                }
                Some(code) => return Err(Refused::Code(code)),
                // A success must be signed (Binding's is not): an unsigned one is no answer
                // this client can trust.
                None if msg.verify_integrity(&self.key).is_ok() || method == Method::BINDING => {
                    return Ok(resp)
                }
                None => return Err(Refused::NoAnswer),
            }
        }
        Err(Refused::NoAnswer)
    }

    /// Allocates a UDP relay; returns the relayed address.
    pub fn allocate(&mut self) -> Result<SocketAddr, Refused> {
        let resp = self.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)])?;
        Message::parse(&resp)
            .ok()
            .and_then(|m| m.xor_relayed_address().ok().flatten())
            .ok_or(Refused::NoAnswer)
    }

    /// A Binding request; returns the reflexive address.
    pub fn binding(&mut self) -> Result<SocketAddr, Refused> {
        let resp = self.request(Method::BINDING, &[])?;
        Message::parse(&resp)
            .ok()
            .and_then(|m| m.xor_mapped_address().ok().flatten())
            .ok_or(Refused::NoAnswer)
    }

    /// CreatePermission for `peer`.
    pub fn permit(&mut self, peer: SocketAddr) -> Result<(), Refused> {
        self.request(
            Method::CREATE_PERMISSION,
            &[Attribute::XorPeerAddress(peer)],
        )
        .map(drop)
    }

    /// ChannelBind of `number` to `peer`.
    pub fn channel_bind(&mut self, number: u16, peer: SocketAddr) -> Result<(), Refused> {
        self.request(
            Method::CHANNEL_BIND,
            &[
                Attribute::ChannelNumber(number),
                Attribute::XorPeerAddress(peer),
            ],
        )
        .map(drop)
    }

    /// Sends `data` to `peer` in a Send indication (no answer expected).
    pub fn send_indication(&mut self, peer: SocketAddr, data: &[u8]) -> io::Result<()> {
        let mut buf = vec![0u8; data.len() + 100];
        let tid = TransactionId([0x5e; 12]);
        let mut enc = MessageEncoder::new(&mut buf, Class::Indication, Method::SEND, tid)
            .map_err(io::Error::other)?;
        enc.attribute(&Attribute::XorPeerAddress(peer))
            .map_err(io::Error::other)?;
        enc.attribute(&Attribute::Data(data))
            .map_err(io::Error::other)?;
        let len = enc.finish();
        self.send(&buf[..len])
    }

    /// Sends `payload` on channel `number` (padded to 4 bytes over TCP).
    pub fn send_channel_data(&mut self, number: u16, payload: &[u8]) -> io::Result<()> {
        let mut buf = vec![0u8; payload.len() + 8];
        buf[4..4 + payload.len()].copy_from_slice(payload);
        let transport = match self.conn {
            Conn::Udp(_) => edge_stun::Transport::Datagram,
            Conn::Tcp { .. } => edge_stun::Transport::Stream,
        };
        let len = ChannelData::encode_in_place(&mut buf, number, payload.len(), transport)
            .map_err(io::Error::other)?;
        self.send(&buf[..len])
    }

    /// The next relayed payload (ChannelData or Data indication) within `timeout`, skipping
    /// anything else; `None` when nothing came.
    pub fn recv_data(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = std::time::Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let frame = self.recv_frame(left.max(Duration::from_millis(1))).ok()?;
            if let Ok(cd) = ChannelData::parse(&frame) {
                return Some(cd.payload().to_vec());
            }
            if let Ok(msg) = Message::parse(&frame) {
                if msg.method() == Method::DATA {
                    if let Ok(Some(data)) = msg.data() {
                        return Some(data.to_vec());
                    }
                }
            }
        }
        None
    }

    fn encode(
        &self,
        buf: &mut [u8],
        class: Class,
        method: Method,
        tid: TransactionId,
        attrs: &[Attribute<'_>],
    ) -> Result<usize, edge_stun::Error> {
        let mut enc = MessageEncoder::new(buf, class, method, tid)?;
        for a in attrs {
            enc.attribute(a)?;
        }
        if let Some(nonce) = &self.nonce {
            enc.attribute(&Attribute::Username(&self.username))?;
            enc.attribute(&Attribute::Realm(&self.realm))?;
            enc.attribute(&Attribute::Nonce(nonce))?;
            enc.message_integrity(&self.key)?;
        }
        Ok(enc.finish())
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.conn {
            Conn::Udp(s) => s.send_to(bytes, self.server).map(drop),
            Conn::Tcp { stream, .. } => stream.write_all(bytes),
        }
    }

    /// The response to `tid`, skipping relayed data and stale responses.
    fn recv_response(&mut self, tid: TransactionId) -> Result<Vec<u8>, Refused> {
        let deadline = std::time::Instant::now() + self.answer_timeout;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let frame = self
                .recv_frame(left.max(Duration::from_millis(1)))
                .map_err(|_| Refused::NoAnswer)?;
            if Message::parse(&frame).is_ok_and(|m| m.transaction_id() == tid) {
                return Ok(frame);
            }
        }
        Err(Refused::NoAnswer)
    }

    /// One datagram, or one frame off the stream; an error on timeout or a closed stream.
    fn recv_frame(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        match &mut self.conn {
            Conn::Udp(s) => {
                s.set_read_timeout(Some(timeout))?;
                let mut buf = vec![0u8; 65536];
                let (n, _) = s.recv_from(&mut buf)?;
                buf.truncate(n);
                Ok(buf)
            }
            Conn::Tcp { stream, buf } => {
                stream.set_read_timeout(Some(timeout))?;
                loop {
                    match next_frame(buf).map_err(io::Error::other)? {
                        Frame::Stun(n) | Frame::ChannelData(n) => {
                            let frame = buf.drain(..n).collect();
                            return Ok(frame);
                        }
                        Frame::Incomplete(_) => {}
                    }
                    let mut chunk = [0u8; 4096];
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
}
