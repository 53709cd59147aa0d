//! A raw, blocking TURN client over UDP or TCP that binds to a chosen local address
//! (127.0.0.2 is "another source" on loopback): a socket driver around edge-turn's sans-IO
//! [`Client`], which does the real long-term credential exchange (unsigned request, 401
//! with REALM and NONCE, signed retry). It tells an error response apart from no answer at
//! all, which is what a banned source gets.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use edge_stun::{Attribute, ChannelData, Message, Method, TransactionId};
use edge_turn::client::{read_data, Client, Request, Response, StreamReader};

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
    Tcp {
        stream: TcpStream,
        frames: Box<StreamReader>,
    },
}

/// A TURN client with one set of long-term credentials.
pub struct RawTurnClient {
    conn: Conn,
    server: SocketAddr,
    client: Client,
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
                    frames: Box::default(),
                }
            }
        };
        // Transaction IDs only need to differ between this socket's transactions.
        let seed = match &conn {
            Conn::Udp(s) => s.local_addr(),
            Conn::Tcp { stream, .. } => stream.local_addr(),
        }?;
        Ok(Self {
            conn,
            server,
            client: Client::new(username, password, u64::from(seed.port())),
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
        self.transact(|c, buf| c.request(method, attrs, buf))
    }

    /// [`request`](Self::request) with the request `write` writes.
    fn transact(
        &mut self,
        write: impl Fn(&mut Client, &mut [u8]) -> Result<Request, edge_stun::Error>,
    ) -> Result<Vec<u8>, Refused> {
        let mut buf = [0u8; 1500];
        for _ in 0..2 {
            let request = write(&mut self.client, &mut buf).map_err(|_| Refused::NoAnswer)?;
            self.send(&buf[..request.len()])
                .map_err(|_| Refused::NoAnswer)?;
            let resp = self.recv_response(request.tid())?;
            match self.client.read_response(&request, &resp) {
                Some(Response::Success(_)) => return Ok(resp),
                Some(Response::Challenge { .. }) => {}
                Some(Response::Refused { code, .. }) => return Err(Refused::Code(code)),
                // Undecodable, or a success that fails MESSAGE-INTEGRITY: no answer this
                // client can trust.
                Some(Response::Malformed(_) | Response::Unverified) | None => {
                    return Err(Refused::NoAnswer)
                }
            }
        }
        Err(Refused::NoAnswer)
    }

    /// Allocates a UDP relay; returns the relayed address.
    pub fn allocate(&mut self) -> Result<SocketAddr, Refused> {
        let resp = self.transact(|c, buf| c.allocate(None, buf))?;
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
        self.transact(|c, buf| c.create_permission(peer, buf))
            .map(drop)
    }

    /// ChannelBind of `number` to `peer`.
    pub fn channel_bind(&mut self, number: u16, peer: SocketAddr) -> Result<(), Refused> {
        self.transact(|c, buf| c.channel_bind(number, peer, buf))
            .map(drop)
    }

    /// Sends `data` to `peer` in a Send indication (no answer expected).
    pub fn send_indication(&mut self, peer: SocketAddr, data: &[u8]) -> io::Result<()> {
        let mut buf = vec![0u8; data.len() + 100];
        let len = self
            .client
            .send_indication(peer, data, &mut buf)
            .map_err(io::Error::other)?;
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
            if let Some(data) = read_data(&frame) {
                return Some(data.payload().to_vec());
            }
        }
        None
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
            Conn::Tcp { stream, frames } => {
                stream.set_read_timeout(Some(timeout))?;
                loop {
                    if let Some(frame) = frames.next_frame().map_err(io::Error::other)? {
                        return Ok(frame.to_vec());
                    }
                    let n = stream.read(frames.spare())?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    frames.filled(n);
                }
            }
        }
    }
}
