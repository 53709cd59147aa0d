//! The sans-IO TURN server core: the data path and the bookkeeping around it.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::{Duration, Instant};

use edge_stun::{
    Attribute, ChannelData, Class, Message, MessageEncoder, Method, TransactionId,
    CHANNEL_DATA_HEADER_LEN,
};

use edge_guard::{Guard, GuardConfig};

use crate::allocation::{Allocations, CloseReason, Limits, Usage};
use crate::auth::Credentials;
use crate::command::Opening;
use crate::filter::{OwnAddresses, PeerFilter};
use crate::nonce::NonceKey;
use crate::transport::FiveTuple;
use crate::{Error, Ledger, ServerConfig};

/// Bytes a driver must leave free in front of a peer datagram handed to
/// [`Server::handle_peer`]: room for the largest header written there in place (a Data
/// indication toward an IPv6 peer: 20-byte STUN header, 24-byte XOR-PEER-ADDRESS, 4-byte DATA
/// attribute header). The buffer also needs 3 bytes after the payload for padding.
pub const PEER_HEADROOM: usize = 48;

/// How often the core sweeps its guard (expired bans, stale failure records and rate
/// buckets), from [`Server::handle_timeout`].
pub const GUARD_SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What the driver does with an input from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAction {
    /// Send `input[payload]` from the relay socket on `port` to `peer`.
    Relay {
        /// Relay port of the allocation.
        port: u16,
        /// The peer.
        peer: SocketAddr,
        /// Where the payload sits in the input.
        payload: Range<usize>,
    },
    /// Send `reply[..len]` back to the client.
    Reply {
        /// Bytes of the reply buffer to send.
        len: usize,
    },
    /// Nothing to send now (an indication without permission, a dropped packet, ...). An
    /// Allocate is answered once its relay socket opened: see
    /// [`Server::poll_command`](Server::poll_command).
    None,
}

/// Something that happened, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An allocation was created.
    AllocationCreated {
        /// The client.
        tuple: FiveTuple,
        /// Its relayed transport address (as announced).
        relay: SocketAddr,
        /// The authenticated username.
        username: String,
    },
    /// An allocation ended and its relay port was released.
    AllocationClosed {
        /// The client.
        tuple: FiveTuple,
        /// Its relayed transport address (as announced).
        relay: SocketAddr,
        /// Why.
        reason: CloseReason,
        /// What it relayed in its life.
        usage: Usage,
    },
    /// A UDP allocation's channel is usable until `until`: the end of its binding, of its
    /// peer's permission or of the allocation, whichever comes first. Again whenever that
    /// end moves (a ChannelBind, CreatePermission or Refresh). Only after
    /// [`Server::track_kernel_state`].
    ChannelUp {
        /// The client.
        tuple: FiveTuple,
        /// The allocation's relay port.
        relay_port: u16,
        /// The channel number.
        number: u16,
        /// The peer bound to it.
        peer: SocketAddr,
        /// When it stops being usable unless refreshed.
        until: Instant,
    },
    /// A UDP allocation's channel is no longer usable: it expired, its peer's permission
    /// expired, or the allocation ended (whatever the reason, a ban included). Only after
    /// [`Server::track_kernel_state`].
    ChannelDown {
        /// The client.
        tuple: FiveTuple,
        /// The allocation's relay port.
        relay_port: u16,
        /// The channel number.
        number: u16,
        /// The peer that was bound to it.
        peer: SocketAddr,
    },
    /// This server's report of a failed login started a ban of `source` (the guard logs
    /// it). Only after [`Server::track_kernel_state`]; bans started elsewhere (another
    /// thread, another service sharing the guard) are the guard's to list
    /// ([`Guard::bans`](edge_guard::Guard::bans)).
    SourceBanned {
        /// The banned address or network.
        source: ipnet::IpNet,
        /// When the ban ends.
        until: Instant,
    },
}

/// Counters kept by the core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams relayed client -> peer.
    pub to_peers: u64,
    /// Datagrams relayed peer -> client.
    pub to_clients: u64,
    /// Payload bytes relayed client -> peer.
    pub to_peers_bytes: u64,
    /// Payload bytes relayed peer -> client.
    pub to_clients_bytes: u64,
    /// Error responses sent, by code (401 includes the challenge of every normal login).
    pub errors: crate::ErrorCounts,
    /// Inputs that were not valid STUN or ChannelData.
    pub malformed: u64,
    /// Valid inputs dropped: no allocation, permission or channel, or over the bandwidth cap.
    pub dropped: u64,
    /// Requests refused with 401 (missing or wrong credentials), the challenge of the normal
    /// exchange included.
    pub unauthorized: u64,
    /// Authentication failures reported to the guard: a wrong password, an unknown or expired
    /// username, on a request carrying a valid nonce this server issued to that address.
    pub auth_failures: u64,
    /// Requests and TCP/TLS connections dropped because their source is banned.
    pub banned: u64,
    /// Requests and TCP/TLS connections dropped by the per-source request rate limit.
    pub rate_limited: u64,
    /// UDP allocations released because their client's source was banned after they were
    /// created ([`Server::release_banned`]).
    pub banned_released: u64,
}

/// The TURN server core (RFC 8656): allocations, permissions, channels, authentication,
/// quotas and peer filtering, with no sockets, no threads and no clock.
///
/// # Method groups
/// - **Inputs**: [`handle_client`](Server::handle_client) (a datagram or stream frame from a
///   client), [`handle_peer`](Server::handle_peer) (a datagram that arrived on a relay
///   port), [`handle_timeout`](Server::handle_timeout) (time passed),
///   [`connection_closed`](Server::connection_closed) (a TCP/TLS client went away),
///   [`admits`](Server::admits) (a TCP/TLS connection to accept or close),
///   [`handle_relay_opened`](Server::handle_relay_opened) (a relay socket the core asked
///   for is bound, or could not be).
/// - **Upkeep**: [`release_banned`](Server::release_banned) (about once a second: ends the
///   UDP allocations of sources banned since they allocated).
/// - **Questions**: [`is_banned`](Server::is_banned) (whether an open TCP/TLS connection's
///   source is banned now, for the driver to close it).
/// - **Outputs**: each input returns what to send right away (responses and relayed
///   packets are written into the caller's buffers); then drain
///   [`poll_command`](Server::poll_command) (relay sockets to open and close, carried out
///   before anything else is fed in), drain [`poll_event`](Server::poll_event), and ask
///   [`poll_timeout`](Server::poll_timeout) when to call
///   [`handle_timeout`](Server::handle_timeout) next.
/// - **Getters**: [`stats`](Server::stats), [`allocations`](Server::allocations),
///   [`free_ports`](Server::free_ports), [`has_allocation`](Server::has_allocation),
///   [`guard`](Server::guard).
/// - **Setup**: [`protect_peers`](Server::protect_peers) adds addresses no allocation may
///   relay to (the driver adds its bound listeners);
///   [`track_kernel_state`](Server::track_kernel_state) turns on the events a kernel fast
///   path mirrors (channels up and down, bans).
/// - **Operations**: [`set_credentials`](Server::set_credentials) (a reload),
///   [`drain`](Server::drain) (no new allocations, the running ones go on).
///
/// # The guard
/// Every STUN request (Binding included) first passes the [`Guard`]: a banned source is
/// dropped silently, before any crypto work (only the STUN framing has been parsed, to tell
/// requests from data), then the source's request rate is checked (over the limit:
/// dropped). Both are counted ([`Stats::banned`], [`Stats::rate_limited`]). Data
/// (ChannelData, Send indications) is never checked here: it is the hot path, limited by the
/// per-allocation bandwidth cap instead. A ban still ends everything a banned source holds:
/// the driver asks [`is_banned`](Server::is_banned) once per read, not per frame, and once a
/// second for every open connection, and closes a banned source's TCP/TLS connections with
/// their allocations; once a second it calls [`release_banned`](Server::release_banned),
/// which releases a banned source's UDP allocations (and costs a few atomic loads when no ban
/// started since its last call). An authentication failure
/// (wrong password, unknown or expired username) is reported to the guard only when the
/// request carries a valid nonce this server issued to that address, which proves the source
/// receives there: a spoofed UDP source cannot get a victim banned. The guard is swept every
/// [`GUARD_SWEEP_INTERVAL`] from [`handle_timeout`](Server::handle_timeout). A source refused
/// at one instant is refused for the rest of that instant (a driver's receive batch) without
/// asking the guard again, so a one-source flood takes the shared guard's locks once per
/// batch, not once per datagram: [`Stats`] counts every dropped request, the guard's own
/// statistics only the refusals it decided.
///
/// The core picks each allocation's relay port; the driver owns the sockets. An Allocate
/// that passes every check is charged to its user and yields
/// [`Command::OpenRelay`](crate::Command::OpenRelay); the answer goes out when the driver
/// reports the outcome ([`handle_relay_opened`](Server::handle_relay_opened)). Whatever ends
/// an allocation yields [`Command::CloseRelay`](crate::Command::CloseRelay), exactly once
/// per opened port. Time is always an argument; the wall clock is only needed for REST usernames and nonce
/// expiry, and is derived from the `unix_now` given to [`Server::new`] plus elapsed `now`.
#[derive(Debug)]
pub struct Server {
    pub(crate) config: ServerConfig,
    pub(crate) credentials: Credentials,
    pub(crate) nonces: NonceKey,
    pub(crate) filter: PeerFilter,
    pub(crate) own: OwnAddresses,
    pub(crate) guard: Guard,
    next_sweep: Instant,
    /// The last source the guard refused, when, and why. A ban or an empty bucket cannot
    /// change while no time passes, and a driver handles a whole receive batch at one `now`:
    /// the rest of a one-source flood's batch is refused without asking the guard again,
    /// which keeps the flood off the shared guard's locks.
    last_refused: Option<(IpAddr, Instant, Gate)>,
    /// [`Guard::bans_started`] when [`Server::release_banned`] last looked at the
    /// allocations: no ban started since means nothing to release.
    bans_seen: u64,
    pub(crate) allocations: Allocations,
    /// Allocates waiting for their relay socket ([`crate::Command::OpenRelay`]).
    pub(crate) openings: Vec<Opening>,
    epoch: Instant,
    unix_at_epoch: Duration,
    events: VecDeque<Event>,
    pub(crate) stats: Stats,
    indication_counter: u64,
    /// Set by [`Server::drain`]: no new allocation; `Some(alternate)` redirects to it.
    pub(crate) draining: Option<Option<SocketAddr>>,
    /// Set by [`Server::track_kernel_state`]: a ban this server starts is an event.
    pub(crate) track_bans: bool,
}

impl Server {
    /// A server for `config`, with a [`Ledger`] (port pool and quotas) of its own. `now` and
    /// `unix_now` (time since the UNIX epoch) are the same instant on the caller's two clocks.
    pub fn new(config: ServerConfig, now: Instant, unix_now: Duration) -> Result<Self, Error> {
        let ledger = Ledger::for_config(&config);
        Self::with_ledger(config, now, unix_now, ledger)
    }

    /// A server for `config` that charges its allocations to `ledger`, which it shares with
    /// other servers of the same service (one per thread): the relay port pool and the
    /// per-user and total quotas hold across all of them. The ledger must be made for the
    /// same port range ([`Ledger::for_config`]).
    pub fn with_ledger(
        config: ServerConfig,
        now: Instant,
        unix_now: Duration,
        ledger: Ledger,
    ) -> Result<Self, Error> {
        config.validate()?;
        let credentials = Credentials::new(&config.realm, &config.users, &config.shared_secrets);
        let nonces = NonceKey::new(&config.nonce_secret, config.nonce_lifetime.as_secs().max(1));
        let filter = PeerFilter::new(config.peer_allow.clone(), config.peer_deny.clone());
        let mut own =
            OwnAddresses::new(std::iter::once(config.relay_address).chain(config.external_address));
        for &addr in &config.protected_peers {
            own.add(addr);
        }
        let guard = match &config.guard {
            Some(guard) => guard.clone(),
            None => Guard::new(GuardConfig::default()).map_err(|e| Error::Config {
                field: "guard",
                reason: e.to_string(),
            })?,
        };
        // A ban that started before this server allocates nothing: its source never passes
        // the gate.
        let bans_seen = guard.bans_started();
        let allocations = Allocations::new(
            Limits {
                ports: config.port_range,
                bandwidth: config.bandwidth,
            },
            ledger,
        );
        Ok(Self {
            config,
            credentials,
            nonces,
            filter,
            own,
            guard,
            next_sweep: now + GUARD_SWEEP_INTERVAL,
            last_refused: None,
            bans_seen,
            allocations,
            openings: Vec::new(),
            epoch: now,
            unix_at_epoch: unix_now,
            events: VecDeque::new(),
            stats: Stats::default(),
            indication_counter: 0,
            draining: None,
            track_bans: false,
        })
    }

    /// Handles one datagram (UDP) or one frame (TCP/TLS, as delimited by
    /// [`edge_stun::next_frame`]) from a client. A response is written into `reply` (1 KiB
    /// is plenty); a relayed payload is returned as a range of `input`.
    pub fn handle_client(
        &mut self,
        now: Instant,
        tuple: FiveTuple,
        input: &[u8],
        reply: &mut [u8],
    ) -> ClientAction {
        // A listener carries only STUN (first two bits 00) and ChannelData (01, channel
        // numbers 0x4000-0x7FFF: RFC 5766's range, which deployed clients still use).
        match input.first().map(|&b| b >> 6) {
            Some(0b01) => self.channel_data(now, &tuple, input),
            Some(0b00) => match Message::parse(input) {
                Ok(msg) => self.stun(now, tuple, &msg, input, reply),
                Err(_) => self.malformed(),
            },
            _ => self.malformed(),
        }
    }

    fn malformed(&mut self) -> ClientAction {
        self.stats.malformed += 1;
        ClientAction::None
    }

    fn dropped(&mut self) -> ClientAction {
        self.stats.dropped += 1;
        ClientAction::None
    }

    /// ChannelData from a client: relay the payload to the channel's peer.
    fn channel_data(&mut self, now: Instant, tuple: &FiveTuple, input: &[u8]) -> ClientAction {
        let Ok(frame) = ChannelData::parse(input) else {
            return self.malformed();
        };
        let (number, len) = (frame.number(), frame.payload().len());
        let payload = CHANNEL_DATA_HEADER_LEN..CHANNEL_DATA_HEADER_LEN + len;
        let relay = self.allocations.slot_of(tuple).and_then(|slot| {
            let a = self.allocations.get_mut(slot)?;
            let relayed = a
                .channel_peer(number, now)
                .filter(|_| a.charge(now, len))
                .map(|peer| (a.port, peer));
            match relayed {
                Some(_) => a.usage.count_to_peer(len),
                None => a.usage.dropped += 1,
            }
            relayed
        });
        match relay {
            Some((port, peer)) => {
                self.stats.to_peers += 1;
                self.stats.to_peers_bytes += len as u64;
                ClientAction::Relay {
                    port,
                    peer,
                    payload,
                }
            }
            None => self.dropped(),
        }
    }

    fn stun(
        &mut self,
        now: Instant,
        tuple: FiveTuple,
        msg: &Message<'_>,
        input: &[u8],
        reply: &mut [u8],
    ) -> ClientAction {
        match (msg.class(), msg.method()) {
            (Class::Indication, Method::SEND) => self.send_indication(now, &tuple, msg, input),
            (Class::Request, _) => {
                if self.admits_request(now, tuple.remote.ip()) {
                    self.request(now, tuple, msg, reply)
                } else {
                    ClientAction::None
                }
            }
            // Responses and other indications have no business here.
            _ => self.dropped(),
        }
    }

    /// A Send indication: relay its DATA to its XOR-PEER-ADDRESS if permitted.
    fn send_indication(
        &mut self,
        now: Instant,
        tuple: &FiveTuple,
        msg: &Message<'_>,
        input: &[u8],
    ) -> ClientAction {
        let (Ok(Some(peer)), Ok(Some(data))) = (msg.xor_peer_address(), msg.data()) else {
            return self.malformed();
        };
        if self.own.contains(peer) {
            return self.dropped();
        }
        let relay = self.allocations.slot_of(tuple).and_then(|slot| {
            let a = self.allocations.get_mut(slot)?;
            if a.permits(peer.ip(), now) && a.charge(now, data.len()) {
                a.usage.count_to_peer(data.len());
                Some(a.port)
            } else {
                a.usage.dropped += 1;
                None
            }
        });
        let Some(port) = relay else {
            return self.dropped();
        };
        // `data` borrows from `input`: its offset is where the payload sits.
        let start = data.as_ptr() as usize - input.as_ptr() as usize;
        self.stats.to_peers += 1;
        self.stats.to_peers_bytes += data.len() as u64;
        ClientAction::Relay {
            port,
            peer,
            payload: start..start + data.len(),
        }
    }

    /// Handles a datagram that arrived from `peer` on relay `port`. The payload sits at
    /// `buf[payload]` with at least [`PEER_HEADROOM`] bytes before it and 3 after it; the
    /// ChannelData or Data-indication header is written in place in front of it. Returns
    /// the client to send to and the range of `buf` to send, or `None` to drop it (no
    /// allocation, no permission for the peer, over the bandwidth cap).
    pub fn handle_peer(
        &mut self,
        now: Instant,
        port: u16,
        peer: SocketAddr,
        buf: &mut [u8],
        payload: Range<usize>,
    ) -> Option<(FiveTuple, Range<usize>)> {
        let len = payload.len() as u64;
        let framed = self.frame_for_client(now, port, peer, buf, payload);
        match framed {
            Some(_) => {
                self.stats.to_clients += 1;
                self.stats.to_clients_bytes += len;
            }
            None => self.stats.dropped += 1,
        }
        framed
    }

    fn frame_for_client(
        &mut self,
        now: Instant,
        port: u16,
        peer: SocketAddr,
        buf: &mut [u8],
        payload: Range<usize>,
    ) -> Option<(FiveTuple, Range<usize>)> {
        let slot = self.allocations.slot_of_port(port)?;
        let a = self.allocations.get_mut(slot)?;
        if !a.permits(peer.ip(), now) || !a.charge(now, payload.len()) {
            a.usage.dropped += 1;
            return None;
        }
        // Counted before framing, which only fails on a driver's too-small buffer.
        a.usage.count_to_client(payload.len());
        let tuple = a.tuple;
        if let Some(number) = a.channel_of(peer, now) {
            let transport = if tuple.transport.is_stream() {
                edge_stun::Transport::Stream
            } else {
                edge_stun::Transport::Datagram
            };
            let start = payload.start.checked_sub(CHANNEL_DATA_HEADER_LEN)?;
            let frame = buf.get_mut(start..)?;
            let n = ChannelData::encode_in_place(frame, number, payload.len(), transport).ok()?;
            return Some((tuple, start..start + n));
        }
        self.indication_counter += 1;
        let tid = indication_tid(self.indication_counter);
        data_indication_in_place(buf, peer, payload, tid).map(|r| (tuple, r))
    }

    /// Runs the timers due at `now`: allocations, permissions and channels expire; the
    /// guard is swept every [`GUARD_SWEEP_INTERVAL`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_sweep {
            self.guard.sweep(now);
            self.next_sweep = now + GUARD_SWEEP_INTERVAL;
        }
        let relay_ip = self.config.announced_relay_address();
        let events = &mut self.events;
        self.allocations.expire(now, |a| {
            events.push_back(Event::AllocationClosed {
                tuple: a.tuple,
                relay: SocketAddr::new(relay_ip, a.port),
                reason: CloseReason::Expired,
                usage: a.usage,
            });
        });
    }

    /// When [`handle_timeout`](Server::handle_timeout) next has work, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sweep = self.next_sweep;
        Some(
            self.allocations
                .next_timeout()
                .map_or(sweep, |t| t.min(sweep)),
        )
    }

    /// The next event: allocations and bans oldest first, then channel changes oldest
    /// first (the two streams are each in order; a driver applies each as it comes).
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        let change = self.allocations.take_change()?;
        Some(match change.until {
            Some(until) => Event::ChannelUp {
                tuple: change.tuple,
                relay_port: change.port,
                number: change.number,
                peer: change.peer,
                until,
            },
            None => Event::ChannelDown {
                tuple: change.tuple,
                relay_port: change.port,
                number: change.number,
                peer: change.peer,
            },
        })
    }

    /// Turns on [`Event::ChannelUp`], [`Event::ChannelDown`] and [`Event::SourceBanned`]:
    /// what a kernel fast path (the driver's XDP program) needs to mirror this server's
    /// state exactly. Nothing per packet changes; the events come from requests and timers.
    /// Call it before the first input.
    pub fn track_kernel_state(&mut self) {
        self.allocations.track_channels();
        self.track_bans = true;
    }

    /// The guard this server asks (shared with the process's other listeners when the
    /// configuration gave one).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// A TCP/TLS client connection closed: its allocation, if any, goes with it
    /// (RFC 8656 §3.1), and an Allocate of it still waiting for its socket is never answered.
    pub fn connection_closed(&mut self, tuple: FiveTuple) {
        if let Some(slot) = self.allocations.slot_of(&tuple) {
            self.close(slot, CloseReason::ConnectionClosed);
        }
        for opening in self.openings.iter_mut().filter(|o| *o.tuple() == tuple) {
            opening.abandon();
        }
    }

    /// Ends every allocation (at shutdown), releasing every relay port; Allocates still
    /// waiting for their socket are never answered.
    pub fn close_all(&mut self) {
        for tuple in self.allocations.tuples() {
            self.connection_closed(tuple);
        }
        for opening in &mut self.openings {
            opening.abandon();
        }
    }

    pub(crate) fn close(&mut self, slot: usize, reason: CloseReason) {
        if let Some(a) = self.allocations.remove(slot) {
            self.events.push_back(Event::AllocationClosed {
                tuple: a.tuple,
                relay: self.relayed_address(a.port),
                reason,
                usage: a.usage,
            });
        }
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// The relayed transport address announced for `port`.
    pub(crate) fn relayed_address(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.config.announced_relay_address(), port)
    }

    /// Seconds since the UNIX epoch at `now`.
    pub(crate) fn unix_secs(&self, now: Instant) -> u64 {
        (self.unix_at_epoch + now.saturating_duration_since(self.epoch)).as_secs()
    }

    /// Whether to accept a TCP/TLS connection from `remote`: not if its source is banned or
    /// over its request rate (an accepted connection counts as one request). Counted like
    /// a refused request.
    pub fn admits(&mut self, now: Instant, remote: SocketAddr) -> bool {
        self.admits_request(now, remote.ip())
    }

    /// Releases every UDP allocation whose client's source is banned at `now`: its relay
    /// port is closed and returned to the pool, its permissions and channels go with it, an
    /// [`Event::AllocationClosed`] says [`CloseReason::Banned`], and
    /// [`Stats::banned_released`] counts it. Returns how many were released.
    ///
    /// Data (ChannelData, Send indications) is never checked against the guard, so without
    /// this a banned UDP client would go on relaying until its allocation expires. Call it
    /// about once a second (the driver does, from its connection sweep): nothing is checked per
    /// packet, and when no ban started since the last call ([`Guard::bans_started`], atomic
    /// loads) it returns at once; otherwise it asks [`Guard::is_banned`] once per UDP
    /// allocation, allocating nothing. Allocations of TCP/TLS clients are left to the driver,
    /// which closes a banned source's connections and their allocations with them.
    pub fn release_banned(&mut self, now: Instant) -> usize {
        // Read before the walk: every ban counted here is visible to `is_banned` below, and
        // one counted after this read makes the next call walk again.
        let started = self.guard.bans_started();
        if started == self.bans_seen {
            return 0;
        }
        self.bans_seen = started;
        let mut released = 0;
        for slot in 0..self.allocations.slot_count() {
            let banned = self.allocations.get(slot).is_some_and(|a| {
                !a.tuple.transport.is_stream() && self.guard.is_banned(now, a.tuple.remote.ip())
            });
            if banned {
                self.close(slot, CloseReason::Banned);
                released += 1;
            }
        }
        self.stats.banned_released += released as u64;
        released
    }

    /// Whether `source` is banned at `now`: the guard's ban gate alone, for a driver to close
    /// what a banned source still holds open (a TCP/TLS connection accepted before the ban).
    /// Unlike [`admits`](Server::admits) it spends no rate-limit token and counts nothing in
    /// [`Stats`] (the guard counts a true answer in its `banned_drops`).
    pub fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        self.guard.is_banned(now, source)
    }

    /// The guard's gates, in order: the ban (no crypto work for a banned source), then the
    /// rate limit. A source refused at this very instant is refused again without asking.
    fn admits_request(&mut self, now: Instant, source: IpAddr) -> bool {
        let refused = match self.last_refused {
            Some((ip, at, gate)) if ip == source && at == now => Some(gate),
            _ if self.guard.is_banned(now, source) => Some(Gate::Banned),
            _ if !self
                .guard
                .allow_request(now, source, edge_guard::Service::Turn) =>
            {
                Some(Gate::RateLimited)
            }
            _ => None,
        };
        let Some(gate) = refused else {
            return true;
        };
        match gate {
            Gate::Banned => self.stats.banned += 1,
            Gate::RateLimited => self.stats.rate_limited += 1,
        }
        self.last_refused = Some((source, now, gate));
        false
    }

    /// Adds addresses no allocation may relay to, whatever the allow-list says (see
    /// [`ServerConfig::protected_peers`]). The driver adds its listeners once bound.
    pub fn protect_peers(&mut self, addrs: impl IntoIterator<Item = SocketAddr>) {
        for addr in addrs {
            self.own.add(addr);
        }
    }

    /// Starts a drain: from now on an Allocate for a new allocation is refused, with 300
    /// (Try Alternate) and ALTERNATE-SERVER when `alternate` is given (RFC 8489 §10), else
    /// with 508 (Insufficient Capacity), which RFC 8656 §7.4 tells clients to take as "try
    /// another server, not this one for a while". Everything else goes on: existing
    /// allocations are refreshed, their permissions and channels renewed, their data relayed.
    /// The refusal comes after authentication, so it is signed like any answer to an
    /// authenticated request and a spoofed client cannot be sent elsewhere.
    pub fn drain(&mut self, alternate: Option<SocketAddr>) {
        self.draining = Some(alternate);
    }

    /// Whether [`drain`](Server::drain) was called.
    pub fn is_draining(&self) -> bool {
        self.draining.is_some()
    }

    /// Replaces the static users and REST shared secrets (a reload): the next request is
    /// checked against the new ones; allocations made with the old ones live on (they are
    /// refreshed only by a request the new credentials authenticate).
    ///
    /// # Errors
    /// [`Error::Config`] as [`ServerConfig::validate`] names it (no credentials at all, an
    /// empty secret, a bad username); the old credentials stay.
    pub fn set_credentials(
        &mut self,
        users: Vec<(String, String)>,
        shared_secrets: Vec<Vec<u8>>,
    ) -> Result<(), Error> {
        let mut config = self.config.clone();
        config.users = users;
        config.shared_secrets = shared_secrets;
        config.validate()?;
        self.credentials = Credentials::new(&config.realm, &config.users, &config.shared_secrets);
        self.config = config;
        Ok(())
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Live allocations by client transport and their live permissions and channels: a
    /// walk over every allocation, for a driver to call about once a second.
    pub fn census(&self, now: Instant) -> crate::Census {
        let mut census = crate::Census::default();
        for slot in 0..self.allocations.slot_count() {
            let Some(a) = self.allocations.get(slot) else {
                continue;
            };
            match a.tuple.transport {
                crate::Transport::Udp => census.udp += 1,
                crate::Transport::Tcp => census.tcp += 1,
                crate::Transport::Tls => census.tls += 1,
            }
            let (permissions, channels) = a.live_counts(now);
            census.permissions += permissions as u64;
            census.channels += channels as u64;
        }
        census
    }

    /// Live allocations of this server (one thread's, when several share a [`Ledger`]).
    pub fn allocations(&self) -> usize {
        self.allocations.len()
    }

    /// Free relay ports, over every server sharing this one's [`Ledger`].
    pub fn free_ports(&self) -> usize {
        self.allocations.ledger().free_ports()
    }

    /// Whether `tuple` has an allocation.
    pub fn has_allocation(&self, tuple: &FiveTuple) -> bool {
        self.allocations.slot_of(tuple).is_some()
    }
}

/// Which of the guard's gates refused a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Banned,
    RateLimited,
}

/// A transaction ID for a Data indication: indications are not matched to anything, so a
/// counter is enough (RFC 8489 §6 asks only requests for randomness).
fn indication_tid(counter: u64) -> TransactionId {
    let mut tid = [0u8; 12];
    tid[4..].copy_from_slice(&counter.to_be_bytes());
    TransactionId(tid)
}

/// Writes a Data indication around `buf[payload]` in place: STUN header and XOR-PEER-ADDRESS
/// before the DATA attribute header, padding after the payload. Returns the message's range.
fn data_indication_in_place(
    buf: &mut [u8],
    peer: SocketAddr,
    payload: Range<usize>,
    tid: TransactionId,
) -> Option<Range<usize>> {
    let peer_attr = Attribute::XorPeerAddress(peer);
    let head = edge_stun::HEADER_LEN + peer_attr.encoded_len().ok()? + 4;
    let start = payload.start.checked_sub(head)?;
    let mut enc =
        MessageEncoder::new(buf.get_mut(start..)?, Class::Indication, Method::DATA, tid).ok()?;
    enc.attribute(&peer_attr).ok()?;
    enc.data_in_place(payload.len()).ok()?;
    Some(start..start + enc.finish())
}
