//! An in-memory harness for the sans-IO core: a virtual clock, fake relay ports (the core's
//! relay-socket commands carried out after every input, as a driver does) and a client that
//! builds requests with edge-stun.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_stun::{
    long_term_key, Attribute, Class, IntegrityKey, Message, MessageEncoder, Method, TransactionId,
};
use edge_turn::{ClientAction, Command, FiveTuple, Server, ServerConfig, Transport};

pub const REALM: &str = "test.realm";
pub const USER: &str = "alice";
pub const PASS: &str = "wonderland";
pub const UNIX_START: u64 = 1_800_000_000;

/// Relay ports "opened" at the core's command; ports in `refuse` fail as if already in use.
#[derive(Debug, Default)]
pub struct FakeRelays {
    pub open: BTreeSet<u16>,
    pub refuse: BTreeSet<u16>,
}

impl FakeRelays {
    /// Opens `port` on the relay address of [`config`]: its bound address.
    pub fn open(&mut self, port: u16) -> std::io::Result<SocketAddr> {
        if self.refuse.contains(&port) {
            return Err(std::io::ErrorKind::AddrInUse.into());
        }
        assert!(self.open.insert(port), "port {port} opened twice");
        Ok(SocketAddr::new("192.0.2.10".parse().unwrap(), port))
    }

    pub fn close(&mut self, port: u16) {
        assert!(self.open.remove(&port), "port {port} closed but not open");
    }
}

pub fn config() -> ServerConfig {
    let mut c = ServerConfig::new(REALM, "192.0.2.10".parse().unwrap());
    c.users.push((USER.into(), PASS.into()));
    c.nonce_secret = b"0123456789abcdef0123".to_vec();
    c.port_range = "50000-50009".parse().unwrap();
    c.rng_seed = 42;
    c
}

/// The core, its relays and the virtual clock.
pub struct Harness {
    pub server: Server,
    pub relays: FakeRelays,
    pub now: Instant,
    pub reply: Vec<u8>,
}

impl Harness {
    pub fn new(config: ServerConfig) -> Self {
        let now = Instant::now();
        let server = Server::new(config, now, Duration::from_secs(UNIX_START)).unwrap();
        Self {
            server,
            relays: FakeRelays::default(),
            now,
            reply: vec![0; 2048],
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_timeout(self.now);
        self.run_commands();
    }

    /// Carries out the core's relay-socket commands as a driver does, reporting each open's
    /// outcome; returns the answer the core then had for a client, if any.
    pub fn run_commands(&mut self) -> Option<(FiveTuple, Vec<u8>)> {
        let mut answer = None;
        while let Some(command) = self.server.poll_command() {
            match command {
                Command::OpenRelay { port } => {
                    let outcome = self.relays.open(port);
                    let reply = &mut self.reply;
                    if let Some((tuple, len)) = self
                        .server
                        .handle_relay_opened(self.now, port, outcome, reply)
                    {
                        assert!(answer.is_none(), "two answers for one input");
                        answer = Some((tuple, reply[..len].to_vec()));
                    }
                }
                Command::CloseRelay { port } => self.relays.close(port),
                other => panic!("unknown command {other:?}"),
            }
        }
        answer
    }

    /// Feeds `input` from `tuple`, then carries out the core's commands; returns the action
    /// and the bytes of its reply, or of the answer that came once a relay socket opened.
    pub fn input(&mut self, tuple: FiveTuple, input: &[u8]) -> (ClientAction, Vec<u8>) {
        let action = self
            .server
            .handle_client(self.now, tuple, input, &mut self.reply);
        let mut bytes = match action {
            ClientAction::Reply { len } => self.reply[..len].to_vec(),
            _ => Vec::new(),
        };
        if let Some((to, answer)) = self.run_commands() {
            assert_eq!(to, tuple, "an answer for another client");
            assert!(bytes.is_empty(), "a reply and an answer for one input");
            bytes = answer;
        }
        (action, bytes)
    }

    /// [`Server::release_banned`], then the commands it left.
    pub fn release_banned(&mut self) -> usize {
        let released = self.server.release_banned(self.now);
        self.run_commands();
        released
    }

    /// [`Server::connection_closed`], then the commands it left.
    pub fn connection_closed(&mut self, tuple: FiveTuple) {
        self.server.connection_closed(tuple);
        self.run_commands();
    }

    /// A peer datagram on relay `port`; returns the client tuple and the framed bytes.
    pub fn peer_datagram(
        &mut self,
        port: u16,
        peer: SocketAddr,
        payload: &[u8],
    ) -> Option<(FiveTuple, Vec<u8>)> {
        let mut buf = vec![0u8; edge_turn::PEER_HEADROOM + payload.len() + 4];
        let start = edge_turn::PEER_HEADROOM;
        buf[start..start + payload.len()].copy_from_slice(payload);
        let (tuple, range) = self.server.handle_peer(
            self.now,
            port,
            peer,
            &mut buf,
            start..start + payload.len(),
        )?;
        Some((tuple, buf[range].to_vec()))
    }
}

pub fn udp_tuple(remote: &str) -> FiveTuple {
    FiveTuple {
        transport: Transport::Udp,
        local: "192.0.2.10:3478".parse().unwrap(),
        remote: remote.parse().unwrap(),
        socket: 0,
    }
}

/// A TURN client's view: credentials, the current nonce, transaction counter.
pub struct Client {
    pub tuple: FiveTuple,
    pub username: String,
    pub key: IntegrityKey,
    pub nonce: Option<String>,
    next_tid: u8,
}

impl Client {
    pub fn new(tuple: FiveTuple, username: &str, password: &str) -> Self {
        Self {
            tuple,
            username: username.into(),
            key: IntegrityKey::new(&long_term_key(username, REALM, password)),
            nonce: None,
            next_tid: 0,
        }
    }

    pub fn tid(&mut self) -> TransactionId {
        self.next_tid = self.next_tid.wrapping_add(1);
        TransactionId([self.next_tid; 12])
    }

    /// A request with `attrs`, signed when a nonce is known.
    pub fn request(&mut self, method: Method, attrs: &[Attribute<'_>]) -> Vec<u8> {
        let tid = self.tid();
        self.request_with_tid(method, attrs, tid)
    }

    pub fn request_with_tid(
        &mut self,
        method: Method,
        attrs: &[Attribute<'_>],
        tid: TransactionId,
    ) -> Vec<u8> {
        let mut buf = vec![0u8; 1500];
        let mut enc = MessageEncoder::new(&mut buf, Class::Request, method, tid).unwrap();
        for a in attrs {
            enc.attribute(a).unwrap();
        }
        if let Some(nonce) = &self.nonce {
            enc.attribute(&Attribute::Username(&self.username)).unwrap();
            enc.attribute(&Attribute::Realm(REALM)).unwrap();
            enc.attribute(&Attribute::Nonce(nonce)).unwrap();
            enc.message_integrity(&self.key).unwrap();
        }
        let len = enc.finish();
        buf.truncate(len);
        buf
    }

    /// Sends a request, retrying once with the nonce of a 401/438; returns the response.
    pub fn call(&mut self, h: &mut Harness, method: Method, attrs: &[Attribute<'_>]) -> Vec<u8> {
        for _ in 0..2 {
            let req = self.request(method, attrs);
            let (_, resp) = h.input(self.tuple, &req);
            let msg = Message::parse(&resp).unwrap();
            let code = error_code(&msg);
            if matches!(code, Some(401 | 438)) && self.nonce.as_deref() != msg.nonce().unwrap() {
                self.nonce = msg.nonce().unwrap().map(str::to_owned);
                continue;
            }
            return resp;
        }
        panic!("no answer after a nonce retry");
    }

    /// Allocates; returns the relay port.
    pub fn allocate(&mut self, h: &mut Harness) -> Result<u16, u16> {
        let resp = self.call(h, Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
        let msg = Message::parse(&resp).unwrap();
        match error_code(&msg) {
            Some(code) => Err(code),
            None => {
                msg.verify_integrity(&self.key).unwrap();
                Ok(msg.xor_relayed_address().unwrap().unwrap().port())
            }
        }
    }
}

pub fn error_code(msg: &Message<'_>) -> Option<u16> {
    msg.error_code().unwrap().map(|e| e.code)
}

pub fn code_of(resp: &[u8]) -> Option<u16> {
    error_code(&Message::parse(resp).unwrap())
}

/// A ChannelData frame (unpadded, as over UDP).
pub fn channel_data(number: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = number.to_be_bytes().to_vec();
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(payload);
    v
}
