//! A sans-IO TURN client for one allocation (RFC 8656): Allocate with the 401 -> long-term
//! credentials dance, CreatePermission and ChannelBind toward one peer, then Refresh and
//! ChannelBind again before their lifetimes run out, and Refresh with LIFETIME 0 to close.
//!
//! Like the server core it talks to, it owns no socket and reads no clock: feed it
//! [`handle_input`](TurnClient::handle_input) (a STUN message from the server) and
//! [`handle_timeout`](TurnClient::handle_timeout); drain
//! [`poll_transmit`](TurnClient::poll_transmit) after each, and wake up at
//! [`poll_timeout`](TurnClient::poll_timeout). Data travels outside it, as ChannelData on
//! [`channel`](TurnClient::channel) once [`state`](TurnClient::state) is
//! [`State::Ready`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_stun::{
    long_term_key, Attribute, Class, ErrorCode, IntegrityKey, Message, MessageEncoder, Method,
    TransactionId,
};

use crate::Error;

/// First retransmission timeout over UDP (RFC 8489: 500 ms, doubling).
const UDP_RTO: Duration = Duration::from_millis(500);
/// Sends of one request over UDP before giving up (RFC 8489's Rc is 7; a load run wants
/// to know sooner).
const UDP_TRIES: u32 = 5;
/// How long a request over TCP/TLS waits for its response (sent once).
const STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Re-send ChannelBind (refreshing the channel and the permission) this often; both
/// last 5 minutes or more (RFC 8656 sections 9 and 12).
const REBIND_EVERY: Duration = Duration::from_secs(240);
/// Stale-nonce (438) retries of one request in a row.
const STALE_RETRIES: u8 = 3;
/// Room for the largest request this client writes.
const MAX_REQUEST: usize = 1_200;

/// What one client needs to know.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The TURN server, for error messages.
    pub server: SocketAddr,
    /// Long-term username (for REST credentials, `expiry:user`).
    pub username: String,
    /// Its password.
    pub password: String,
    /// The peer to permit and bind a channel to.
    pub peer: SocketAddr,
    /// The channel number, 0x4000..=0x4FFF.
    pub channel: u16,
    /// The transport is reliable (TCP, TLS): requests are sent once.
    pub reliable: bool,
    /// LIFETIME to ask for, seconds (`None`: the server's default).
    pub lifetime: Option<u32>,
    /// Seed for transaction IDs.
    pub seed: u64,
}

/// Where the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Allocating, permitting, binding the channel.
    SettingUp,
    /// The channel is bound: ChannelData flows.
    Ready,
    /// Refresh with LIFETIME 0 is under way.
    Closing,
    /// Closed (deallocated, or never allocated).
    Closed,
    /// Gave up: see [`TurnClient::take_error`].
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Allocate,
    CreatePermission,
    ChannelBind,
    Refresh(u32),
}

impl Step {
    fn method(self) -> Method {
        match self {
            Step::Allocate => Method::ALLOCATE,
            Step::CreatePermission => Method::CREATE_PERMISSION,
            Step::ChannelBind => Method::CHANNEL_BIND,
            Step::Refresh(_) => Method::REFRESH,
        }
    }

    fn name(self) -> &'static str {
        self.method().name().unwrap_or("request")
    }
}

#[derive(Debug)]
struct Request {
    step: Step,
    tid: TransactionId,
    deadline: Instant,
    rto: Duration,
    tries: u32,
    /// Waiting in `poll_transmit`.
    due: bool,
}

/// One TURN allocation's client. Method groups: getters ([`state`](Self::state),
/// [`relayed`](Self::relayed), [`channel`](Self::channel), [`take_error`](Self::take_error)),
/// inputs ([`handle_input`](Self::handle_input), [`handle_timeout`](Self::handle_timeout),
/// [`close`](Self::close)), outputs polled in this order after every input
/// ([`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout)).
#[derive(Debug)]
pub struct TurnClient {
    config: ClientConfig,
    key: Option<IntegrityKey>,
    realm: String,
    nonce: String,
    state: State,
    request: Option<Request>,
    message: Vec<u8>,
    message_len: usize,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    refresh_at: Option<Instant>,
    rebind_at: Option<Instant>,
    stale: u8,
    rng: u64,
    error: Option<Error>,
}

impl TurnClient {
    /// A client that starts allocating at `now` (its first Allocate waits in
    /// `poll_transmit`).
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let rng = config.seed ^ 0x2545_F491_4F6C_DD1D;
        let mut client = TurnClient {
            config,
            key: None,
            realm: String::new(),
            nonce: String::new(),
            state: State::SettingUp,
            request: None,
            message: vec![0; MAX_REQUEST],
            message_len: 0,
            relayed: None,
            mapped: None,
            refresh_at: None,
            rebind_at: None,
            stale: 0,
            rng,
            error: None,
        };
        client.start(Step::Allocate, now);
        client
    }

    /// Where the client is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The relayed transport address the server allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        self.relayed
    }

    /// The client's address as the server saw it (XOR-MAPPED-ADDRESS).
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// The channel number data travels on.
    pub fn channel(&self) -> u16 {
        self.config.channel
    }

    /// Why the client failed, once.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Handles a STUN message from the server. Messages that answer nothing pending are
    /// ignored; a malformed or refused answer fails the client (see
    /// [`take_error`](Self::take_error)).
    pub fn handle_input(&mut self, now: Instant, datagram: &[u8]) {
        let Ok(msg) = Message::parse(datagram) else {
            return;
        };
        let Some(request) = &self.request else {
            return;
        };
        if msg.transaction_id() != request.tid
            || msg.method() != request.step.method()
            || !matches!(msg.class(), Class::Success | Class::Error)
        {
            return;
        }
        let step = request.step;
        self.request = None;
        if let Err(e) = self.answer(now, step, &msg) {
            self.fail(e);
        }
    }

    /// Retransmits, gives up, or starts a due refresh.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(r) = &mut self.request {
            if now < r.deadline {
                return;
            }
            if self.config.reliable || r.tries >= UDP_TRIES {
                let e = Error::Timeout {
                    method: r.step.name(),
                    to: self.config.server,
                    tries: r.tries,
                };
                self.request = None;
                match self.state {
                    State::Closing => self.state = State::Closed,
                    _ => self.fail(e),
                }
                return;
            }
            r.tries += 1;
            r.rto *= 2;
            r.deadline = now + r.rto;
            r.due = true;
            return;
        }
        if self.state != State::Ready {
            return;
        }
        if self.refresh_at.is_some_and(|t| now >= t) {
            self.start(Step::Refresh(self.config.lifetime.unwrap_or(600)), now);
        } else if self.rebind_at.is_some_and(|t| now >= t) {
            self.start(Step::ChannelBind, now);
        }
    }

    /// Starts deallocating (Refresh with LIFETIME 0). A client without an allocation
    /// closes at once.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Closing | State::Closed => {}
            _ if self.relayed.is_none() => {
                self.request = None;
                self.state = State::Closed;
            }
            _ => {
                self.state = State::Closing;
                self.start(Step::Refresh(0), now);
            }
        }
    }

    /// Writes the next message to send into `buf`; returns its length. `None` when
    /// nothing is waiting (or `buf` is too small, which cannot happen with a 1,500-byte
    /// buffer).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        let r = self.request.as_mut().filter(|r| r.due)?;
        let out = buf.get_mut(..self.message_len)?;
        out.copy_from_slice(&self.message[..self.message_len]);
        r.due = false;
        Some(self.message_len)
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(r) = &self.request {
            return Some(r.deadline);
        }
        if self.state != State::Ready {
            return None;
        }
        match (self.refresh_at, self.rebind_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn fail(&mut self, e: Error) {
        self.state = State::Failed;
        self.request = None;
        self.error.get_or_insert(e);
    }

    fn answer(&mut self, now: Instant, step: Step, msg: &Message<'_>) -> Result<(), Error> {
        let from = self.config.server;
        let method = step.name();
        let malformed = |source| Error::Malformed {
            what: method,
            from,
            source,
        };
        if msg.class() == Class::Error {
            let code = msg.error_code().map_err(malformed)?.unwrap_or(ErrorCode {
                code: 0,
                reason: "no ERROR-CODE",
            });
            return self.refused(now, step, msg, code);
        }
        if let (Some(key), true) = (&self.key, msg.has_integrity()) {
            msg.verify_integrity(key)
                .map_err(|_| Error::Integrity { method, from })?;
        }
        self.stale = 0;
        let missing = |attribute| Error::MissingAttribute {
            method,
            attribute,
            from,
        };
        let lifetime = msg.lifetime().map_err(malformed)?;
        match step {
            Step::Allocate => {
                let relayed = msg.xor_relayed_address().map_err(malformed)?;
                self.relayed = Some(relayed.ok_or(missing("XOR-RELAYED-ADDRESS"))?);
                self.mapped = msg.xor_mapped_address().map_err(malformed)?;
                self.schedule_refresh(now, lifetime.ok_or(missing("LIFETIME"))?);
                self.start(Step::CreatePermission, now);
            }
            Step::CreatePermission => self.start(Step::ChannelBind, now),
            Step::ChannelBind => {
                if self.state == State::SettingUp {
                    self.state = State::Ready;
                }
                self.rebind_at = Some(now + REBIND_EVERY);
            }
            Step::Refresh(0) => self.state = State::Closed,
            Step::Refresh(_) => self.schedule_refresh(now, lifetime.ok_or(missing("LIFETIME"))?),
        }
        Ok(())
    }

    fn refused(
        &mut self,
        now: Instant,
        step: Step,
        msg: &Message<'_>,
        code: ErrorCode<'_>,
    ) -> Result<(), Error> {
        let from = self.config.server;
        let malformed = |source| Error::Malformed {
            what: step.name(),
            from,
            source,
        };
        let challenge = code.code == ErrorCode::UNAUTHORIZED && self.key.is_none();
        let stale = code.code == ErrorCode::STALE_NONCE && self.stale < STALE_RETRIES;
        if challenge || stale {
            let nonce = msg.nonce().map_err(malformed)?;
            let realm = msg.realm().map_err(malformed)?;
            if let Some(n) = nonce {
                self.nonce = n.to_owned();
            }
            if let Some(r) = realm {
                self.realm = r.to_owned();
            }
            if challenge {
                let c = &self.config;
                self.key = Some(IntegrityKey::new(&long_term_key(
                    &c.username,
                    &self.realm,
                    &c.password,
                )));
            } else {
                self.stale += 1;
            }
            self.start(step, now);
            return Ok(());
        }
        if step == Step::Refresh(0) {
            // 437: the allocation is gone already, which is what closing wanted.
            self.state = State::Closed;
            return Ok(());
        }
        Err(Error::Rejected {
            method: step.name(),
            code: code.code,
            reason: code.reason.to_owned(),
            from,
        })
    }

    fn schedule_refresh(&mut self, now: Instant, lifetime: u32) {
        self.refresh_at = Some(now + Duration::from_secs(u64::from(lifetime / 2).max(1)));
    }

    /// Encodes `step` as a new transaction and queues it for `poll_transmit`.
    fn start(&mut self, step: Step, now: Instant) {
        let tid = self.next_tid();
        match self.encode(step, tid) {
            Ok(len) => self.message_len = len,
            Err(source) => {
                let what = step.name();
                let from = self.config.server;
                return self.fail(Error::Malformed { what, from, source });
            }
        }
        let rto = if self.config.reliable {
            STREAM_TIMEOUT
        } else {
            UDP_RTO
        };
        self.request = Some(Request {
            step,
            tid,
            deadline: now + rto,
            rto,
            tries: 1,
            due: true,
        });
    }

    fn encode(&mut self, step: Step, tid: TransactionId) -> Result<usize, edge_stun::Error> {
        let c = &self.config;
        let mut enc = MessageEncoder::new(&mut self.message, Class::Request, step.method(), tid)?;
        match step {
            Step::Allocate => {
                enc.attribute(&Attribute::RequestedTransport(17))?;
                if let Some(l) = c.lifetime {
                    enc.attribute(&Attribute::Lifetime(l))?;
                }
            }
            Step::CreatePermission => {
                enc.attribute(&Attribute::XorPeerAddress(c.peer))?;
            }
            Step::ChannelBind => {
                enc.attribute(&Attribute::ChannelNumber(c.channel))?
                    .attribute(&Attribute::XorPeerAddress(c.peer))?;
            }
            Step::Refresh(lifetime) => {
                enc.attribute(&Attribute::Lifetime(lifetime))?;
            }
        }
        if let Some(key) = &self.key {
            enc.attribute(&Attribute::Username(&c.username))?
                .attribute(&Attribute::Realm(&self.realm))?
                .attribute(&Attribute::Nonce(&self.nonce))?
                .message_integrity(key)?;
        }
        enc.fingerprint()?;
        Ok(enc.finish())
    }

    /// splitmix64: transaction IDs only need to be unique, not secret.
    fn next_tid(&mut self) -> TransactionId {
        let mut next = || {
            self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (a, b) = (next(), next());
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&a.to_be_bytes());
        id[8..].copy_from_slice(&b.to_be_bytes()[..4]);
        TransactionId(id)
    }
}
