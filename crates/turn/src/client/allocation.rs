//! One allocation's life on a [`Client`]: Allocate with the 401 -> long-term credentials
//! dance, CreatePermission and ChannelBind toward one peer, then Refresh and ChannelBind
//! again before their lifetimes run out, and Refresh with LIFETIME 0 to close.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_stun::{Message, Method};

use super::{Client, Request, Response};

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
/// Challenges (401 or 438 with a new nonce) followed in a row: the first 401 and three
/// stale nonces.
const CHALLENGES: u8 = 4;
/// Room for the largest request this client writes.
const MAX_REQUEST: usize = 1_200;
/// LIFETIME of refreshes when the configuration asks for none (the server's default).
const DEFAULT_LIFETIME: u32 = 600;

/// Why an [`AllocationClient`] failed. Variants name whose fault it is: the server
/// answered with an error or something malformed, or did not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A response from the server could not be decoded, or a request could not be written.
    #[error("malformed {what} from {from}: {source}")]
    Malformed {
        /// What was being decoded (a method name).
        what: &'static str,
        /// Who sent it.
        from: SocketAddr,
        /// The codec's complaint.
        source: edge_stun::Error,
    },
    /// A success response lacked an attribute it must carry.
    #[error("{method} success response from {from} has no {attribute}")]
    MissingAttribute {
        /// The request's method.
        method: &'static str,
        /// The missing attribute.
        attribute: &'static str,
        /// Who sent it.
        from: SocketAddr,
    },
    /// The server refused a request with an error response.
    #[error("{method} refused by {from}: {code} {reason}")]
    Rejected {
        /// The request's method.
        method: &'static str,
        /// The STUN error code.
        code: u16,
        /// Its reason phrase.
        reason: String,
        /// Who refused.
        from: SocketAddr,
    },
    /// A response's MESSAGE-INTEGRITY did not verify with our credentials.
    #[error("{method} response from {from} fails MESSAGE-INTEGRITY")]
    Integrity {
        /// The request's method.
        method: &'static str,
        /// Who sent it.
        from: SocketAddr,
    },
    /// A request got no response after every retransmission.
    #[error("{method} to {to}: no response after {tries} tries")]
    Timeout {
        /// The request's method.
        method: &'static str,
        /// Where it went.
        to: SocketAddr,
        /// How many times it was sent.
        tries: u32,
    },
}

/// What one allocation client needs to know.
#[derive(Debug, Clone)]
pub struct AllocationConfig {
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
    /// Gave up: see [`AllocationClient::take_error`].
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
struct Pending {
    step: Step,
    request: Request,
    deadline: Instant,
    rto: Duration,
    tries: u32,
    /// Waiting in `poll_transmit`.
    due: bool,
}

/// One TURN allocation with one channel to one peer. Method groups: getters
/// ([`state`](Self::state), [`relayed`](Self::relayed), [`mapped`](Self::mapped),
/// [`channel`](Self::channel), [`take_error`](Self::take_error)), inputs
/// ([`handle_input`](Self::handle_input), [`handle_timeout`](Self::handle_timeout),
/// [`close`](Self::close)), outputs polled in this order after every input
/// ([`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout)). Data
/// travels outside it, as ChannelData on [`channel`](Self::channel) once the state is
/// [`State::Ready`].
#[derive(Debug)]
pub struct AllocationClient {
    config: AllocationConfig,
    client: Client,
    state: State,
    pending: Option<Pending>,
    message: Vec<u8>,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    refresh_at: Option<Instant>,
    rebind_at: Option<Instant>,
    challenges: u8,
    error: Option<Error>,
}

impl AllocationClient {
    /// A client that starts allocating at `now` (its first Allocate waits in
    /// `poll_transmit`).
    pub fn new(config: AllocationConfig, now: Instant) -> Self {
        let client = Client::new(
            config.username.clone(),
            config.password.clone(),
            config.seed,
        );
        let mut c = AllocationClient {
            config,
            client,
            state: State::SettingUp,
            pending: None,
            message: vec![0; MAX_REQUEST],
            relayed: None,
            mapped: None,
            refresh_at: None,
            rebind_at: None,
            challenges: 0,
            error: None,
        };
        c.start(Step::Allocate, now);
        c
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
        let Some(pending) = &self.pending else {
            return;
        };
        let step = pending.step;
        let Some(response) = self.client.read_response(&pending.request, datagram) else {
            return;
        };
        self.pending = None;
        if let Err(e) = self.answer(now, step, response) {
            self.fail(e);
        }
    }

    /// Retransmits, gives up, or starts a due refresh.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = &mut self.pending {
            if now < p.deadline {
                return;
            }
            if self.config.reliable || p.tries >= UDP_TRIES {
                let e = Error::Timeout {
                    method: p.step.name(),
                    to: self.config.server,
                    tries: p.tries,
                };
                self.pending = None;
                match self.state {
                    State::Closing => self.state = State::Closed,
                    _ => self.fail(e),
                }
                return;
            }
            p.tries += 1;
            p.rto *= 2;
            p.deadline = now + p.rto;
            p.due = true;
            return;
        }
        if self.state != State::Ready {
            return;
        }
        if self.refresh_at.is_some_and(|t| now >= t) {
            let lifetime = self.config.lifetime.unwrap_or(DEFAULT_LIFETIME);
            self.start(Step::Refresh(lifetime), now);
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
                self.pending = None;
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
        let p = self.pending.as_mut().filter(|p| p.due)?;
        let len = p.request.len();
        buf.get_mut(..len)?.copy_from_slice(&self.message[..len]);
        p.due = false;
        Some(len)
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(p) = &self.pending {
            return Some(p.deadline);
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
        self.pending = None;
        self.error.get_or_insert(e);
    }

    fn answer(&mut self, now: Instant, step: Step, response: Response<'_>) -> Result<(), Error> {
        let from = self.config.server;
        let method = step.name();
        let malformed = |source| Error::Malformed {
            what: method,
            from,
            source,
        };
        let msg = match response {
            Response::Success(msg) => msg,
            Response::Challenge { code } => {
                if self.challenges >= CHALLENGES {
                    return Err(Error::Rejected {
                        method,
                        code,
                        reason: "a new nonce after every retry".into(),
                        from,
                    });
                }
                self.challenges += 1;
                self.start(step, now);
                return Ok(());
            }
            // 437 and the like: the allocation is gone already, which is what closing
            // wanted.
            Response::Refused { .. } if step == Step::Refresh(0) => {
                self.state = State::Closed;
                return Ok(());
            }
            Response::Refused { code, reason } => {
                return Err(Error::Rejected {
                    method,
                    code,
                    reason: reason.to_owned(),
                    from,
                })
            }
            Response::Malformed(source) => return Err(malformed(source)),
            Response::Unverified => return Err(Error::Integrity { method, from }),
        };
        self.challenges = 0;
        self.succeeded(now, step, &msg).map_err(|e| match e {
            Unusable::Missing(attribute) => Error::MissingAttribute {
                method,
                attribute,
                from,
            },
            Unusable::Malformed(source) => malformed(source),
        })
    }

    fn succeeded(&mut self, now: Instant, step: Step, msg: &Message<'_>) -> Result<(), Unusable> {
        let lifetime = msg.lifetime()?;
        match step {
            Step::Allocate => {
                let relayed = msg.xor_relayed_address()?;
                self.relayed = Some(relayed.ok_or(Unusable::Missing("XOR-RELAYED-ADDRESS"))?);
                self.mapped = msg.xor_mapped_address()?;
                self.schedule_refresh(now, lifetime.ok_or(Unusable::Missing("LIFETIME"))?);
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
            Step::Refresh(_) => {
                self.schedule_refresh(now, lifetime.ok_or(Unusable::Missing("LIFETIME"))?)
            }
        }
        Ok(())
    }

    fn schedule_refresh(&mut self, now: Instant, lifetime: u32) {
        self.refresh_at = Some(now + Duration::from_secs(u64::from(lifetime / 2).max(1)));
    }

    /// Writes `step` as a new transaction and queues it for `poll_transmit`.
    fn start(&mut self, step: Step, now: Instant) {
        let c = &self.config;
        let buf = &mut self.message;
        let written = match step {
            Step::Allocate => self.client.allocate(c.lifetime, buf),
            Step::CreatePermission => self.client.create_permission(c.peer, buf),
            Step::ChannelBind => self.client.channel_bind(c.channel, c.peer, buf),
            Step::Refresh(lifetime) => self.client.refresh(lifetime, buf),
        };
        let request = match written {
            Ok(request) => request,
            Err(source) => {
                let what = step.name();
                let from = self.config.server;
                return self.fail(Error::Malformed { what, from, source });
            }
        };
        let rto = if self.config.reliable {
            STREAM_TIMEOUT
        } else {
            UDP_RTO
        };
        self.pending = Some(Pending {
            step,
            request,
            deadline: now + rto,
            rto,
            tries: 1,
            due: true,
        });
    }
}

/// Why a success response cannot be used.
enum Unusable {
    /// It lacks this required attribute.
    Missing(&'static str),
    /// An attribute does not decode.
    Malformed(edge_stun::Error),
}

impl From<edge_stun::Error> for Unusable {
    fn from(e: edge_stun::Error) -> Self {
        Unusable::Malformed(e)
    }
}
