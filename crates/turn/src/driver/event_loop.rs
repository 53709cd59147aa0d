//! The mio event loop: readiness in, core calls, sends out.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge_udp::RecvBatch;
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use rustls::ServerConfig as TlsConfig;

use super::kernel::Kernel;
use super::pacing::Pacing;
use super::relay::{Relays, ToPeers, RELAY_TOKEN_BASE};
use super::stream::Conn;
use super::udp::{self, Listener, Outbox};
use super::{Control, Counters, LocalAddrs, ServiceConfig, Shared};
use crate::{ClientAction, Error, Event, FiveTuple, Ledger, Server, Transport, PEER_HEADROOM};
use std::os::fd::AsRawFd;

const WAKER: Token = Token(0);
const UDP_BASE: usize = 1;
const LISTENER_BASE: usize = 1 << 10;
const CONN_BASE: usize = 1 << 24;
/// Receive calls on one socket per wake-up before the others get a turn.
const BUDGET: usize = 64;
/// A TCP/TLS connection with no allocation is closed after this long without input.
const IDLE_CONN: Duration = Duration::from_secs(60);
/// How often every TCP/TLS connection is checked for a banned source and for idleness, and
/// the UDP allocations of banned sources released.
const CONN_SWEEP: Duration = Duration::from_secs(1);

struct StreamListener {
    socket: TcpListener,
    transport: Transport,
    tls: Option<Arc<TlsConfig>>,
    local: SocketAddr,
}

pub(crate) struct EventLoop {
    poll: Poll,
    server: Server,
    relays: Relays,
    udp: Vec<Listener>,
    listeners: Vec<StreamListener>,
    conns: Vec<Option<Conn>>,
    free_conns: Vec<usize>,
    open_conns: usize,
    max_connections: usize,
    /// Sockets that still had data when their budget ran out, revisited next iteration.
    backlog: Vec<Token>,
    /// This iteration's ready tokens (kept to reuse its allocation).
    ready: Vec<Token>,
    /// Client datagrams, one `recvmmsg` at a time.
    batch: RecvBatch,
    /// Frames toward UDP clients, one `sendmmsg` per loop iteration (or when full).
    outbox: Outbox,
    /// Payloads of the current client batch toward peers.
    to_peers: ToPeers,
    /// Datagrams received in this iteration, for the wake-up pacing.
    work: usize,
    pacing: Pacing,
    /// A client's response, written by the core while its input is handled.
    reply: Box<[u8]>,
    /// A response the core writes when a relay command completes (an Allocate's), kept apart
    /// from `reply` because commands are carried out before that reply is sent.
    answer: Box<[u8]>,
    counters: Counters,
    shared: Arc<Shared>,
    /// Operator commands ([`Service::reload`](super::Service::reload), drain).
    controls: mpsc::Receiver<(Control, mpsc::SyncSender<()>)>,
    /// The XDP fast path whose maps this loop keeps in step with its core.
    kernel: Option<Arc<Kernel>>,
    /// The first loop also copies the guard's bans and allow-list into the fast path once a
    /// second.
    first: bool,
}

impl EventLoop {
    /// Binds every listener and builds the loop; the caller runs it on its own thread.
    /// With `reuse_port`, every listener is bound with `SO_REUSEPORT`, so the other threads'
    /// loops can bind the same addresses and the kernel spreads clients over them (a UDP
    /// client's 5-tuple always to the same socket). Allocations are charged to `ledger`;
    /// with a `kernel` fast path the core's channels and bans are mirrored into it (and the
    /// `first` loop copies the guard's bans and allow-list once a second).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bind(
        config: &ServiceConfig,
        shared: Arc<Shared>,
        ledger: Ledger,
        reuse_port: bool,
        controls: mpsc::Receiver<(Control, mpsc::SyncSender<()>)>,
        kernel: Option<Arc<Kernel>>,
        first: bool,
    ) -> Result<(Self, Arc<Waker>, LocalAddrs), Error> {
        let now = Instant::now();
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut server = Server::with_ledger(config.server.clone(), now, unix_now, ledger)?;
        if kernel.is_some() {
            server.track_kernel_state();
        }
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut addrs = LocalAddrs::default();

        // `udp_sockets` sockets per address, each drained with its own budget: a flood that
        // fills one socket's queue leaves the clients the kernel hashed to the others alone.
        let mut udp: Vec<Listener> = Vec::new();
        if config.udp.len() * config.udp_sockets > LISTENER_BASE - UDP_BASE {
            return Err(Error::Config {
                field: "udp",
                reason: format!(
                    "{} addresses x {} sockets each is more than {} UDP sockets",
                    config.udp.len(),
                    config.udp_sockets,
                    LISTENER_BASE - UDP_BASE
                ),
            });
        }
        for &configured in &config.udp {
            let mut addr = configured;
            for _ in 0..config.udp_sockets {
                let listen = |source| Error::Listen {
                    transport: Transport::Udp,
                    addr,
                    source,
                };
                let listener =
                    Listener::bind(addr, config.socket_buffer, reuse_port).map_err(listen)?;
                let fd = listener.socket.as_raw_fd();
                let token = Token(UDP_BASE + udp.len());
                poll.registry()
                    .register(&mut SourceFd(&fd), token, Interest::READABLE)
                    .map_err(listen)?;
                if addr == configured {
                    // The first socket resolved port 0; the others join it.
                    addrs.udp.push(listener.local);
                    addr = listener.local;
                }
                udp.push(listener);
            }
        }

        let mut listeners = Vec::new();
        let stream_addrs = config
            .tcp
            .iter()
            .map(|&a| Ok((a, Transport::Tcp, None)))
            .chain(config.tls.iter().map(|t| {
                let tls = super::load_tls_config(&t.certificate, &t.private_key)?;
                Ok((t.addr, Transport::Tls, Some(tls)))
            }))
            .collect::<Result<Vec<_>, Error>>()?;
        for (i, (addr, transport, tls)) in stream_addrs.into_iter().enumerate() {
            let listen = |source| Error::Listen {
                transport,
                addr,
                source,
            };
            let mut socket = bind_stream(addr, reuse_port).map_err(listen)?;
            poll.registry()
                .register(&mut socket, Token(LISTENER_BASE + i), Interest::READABLE)
                .map_err(listen)?;
            let local = socket.local_addr().map_err(listen)?;
            match transport {
                Transport::Tls => addrs.tls.push(local),
                _ => addrs.tcp.push(local),
            }
            listeners.push(StreamListener {
                socket,
                transport,
                tls,
                local,
            });
        }

        server.protect_peers(
            addrs
                .udp
                .iter()
                .chain(&addrs.tcp)
                .chain(&addrs.tls)
                .copied(),
        );
        let range = config.server.port_range;
        let relays = Relays {
            sockets: std::iter::repeat_with(|| None).take(range.len()).collect(),
            first_port: range.first(),
            address: config.server.relay_address,
            registry: poll.registry().try_clone()?,
            buffer: config.socket_buffer,
        };
        let event_loop = EventLoop {
            poll,
            server,
            relays,
            udp,
            listeners,
            conns: Vec::new(),
            free_conns: Vec::new(),
            open_conns: 0,
            max_connections: config.max_connections,
            backlog: Vec::with_capacity(1024),
            ready: Vec::with_capacity(2048),
            batch: udp::recv_batch(),
            outbox: Outbox::new(),
            to_peers: ToPeers::new(),
            work: 0,
            pacing: Pacing::new(config.coalesce),
            reply: vec![0; 4096].into_boxed_slice(),
            answer: vec![0; 4096].into_boxed_slice(),
            counters: Counters::default(),
            shared,
            controls,
            kernel,
            first,
        };
        event_loop.publish();
        Ok((event_loop, waker, addrs))
    }

    /// Runs until [`Service::shutdown`](super::Service::shutdown).
    pub(crate) fn run(mut self) -> Result<(), Error> {
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = Instant::now();
        loop {
            let now = Instant::now();
            let timer = self
                .server
                .poll_timeout()
                .unwrap_or(now + Duration::from_secs(1))
                .saturating_duration_since(now)
                .min(Duration::from_secs(1));
            let timeout = if !self.backlog.is_empty() {
                Duration::ZERO
            } else if let Some(window) = self.pacing.sleep() {
                // Coalescing: let datagrams gather instead of being woken for each.
                std::thread::sleep(window.min(timer));
                Duration::ZERO
            } else {
                timer
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            if self.shared.stop.load(Ordering::Acquire) {
                break;
            }
            while let Ok((control, done)) = self.controls.try_recv() {
                self.apply(control);
                let _ = done.send(());
            }
            let polled = Instant::now();
            let waited = polled.saturating_duration_since(now);
            let now = polled;
            let mut ready = std::mem::take(&mut self.ready);
            ready.append(&mut self.backlog);
            ready.extend(events.iter().map(|e| e.token()));
            for token in ready.drain(..) {
                self.dispatch(now, token);
            }
            self.ready = ready;
            self.outbox.flush(&self.udp, &self.counters);
            let busy = Instant::now().saturating_duration_since(now);
            self.pacing
                .after(self.work, waited, busy, !self.backlog.is_empty());
            self.work = 0;
            self.server.handle_timeout(now);
            self.execute(now);
            if now.duration_since(last_sweep) >= CONN_SWEEP {
                self.sweep_conns(now);
                self.server.release_banned(now);
                self.execute(now);
                if let Some(kernel) = self.kernel.as_ref().filter(|_| self.first) {
                    kernel.sync_guard(self.server.guard(), now);
                }
                self.shared.publish_census(&self.server.census(now));
                last_sweep = now;
            }
            self.log_events();
            self.publish();
        }
        self.close_all();
        Ok(())
    }

    fn dispatch(&mut self, now: Instant, token: Token) {
        let t = token.0;
        if t >= CONN_BASE {
            self.on_conn(now, t - CONN_BASE);
        } else if t >= RELAY_TOKEN_BASE {
            if let Ok(port) = u16::try_from(t - RELAY_TOKEN_BASE) {
                self.on_relay(now, port);
            }
        } else if t >= LISTENER_BASE {
            self.on_accept(now, t - LISTENER_BASE);
        } else if t >= UDP_BASE {
            self.on_udp(now, t - UDP_BASE);
        }
    }

    /// Datagrams from clients on UDP listener `i`, a `recvmmsg` batch at a time; their
    /// payloads go to peers per relay socket ([`ToPeers`]) before the next batch overwrites
    /// them.
    ///
    /// A batch short of its capacity means the socket's queue was empty ([`RecvBatch::drained`]):
    /// no further call just to see `WouldBlock`. That is safe with mio's edge-triggered
    /// readiness because every datagram queued after that receive raises a new event (the
    /// kernel signals readiness on each arrival, not only on the empty-to-non-empty change
    /// it had already reported), so nothing is left waiting unseen. A full batch may leave
    /// datagrams behind: receive again, up to [`BUDGET`] batches, then the socket waits in
    /// the backlog for the next iteration.
    fn on_udp(&mut self, now: Instant, i: usize) {
        let Some(listener) = self.udp.get(i) else {
            return;
        };
        for _ in 0..BUDGET {
            match listener.socket.recv(&mut self.batch) {
                Ok(n) => self.work += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.counters.dropped();
                    return;
                }
            }
            for (k, (meta, data)) in self.batch.iter().enumerate() {
                if data.first().is_some_and(|b| b >> 6 == 0) {
                    // STUN (a request may delete an allocation and free its relay port for
                    // the next): what earlier datagrams relay leaves first, as if sent at once.
                    self.to_peers
                        .flush(&self.relays, &self.batch, &self.counters);
                }
                let tuple = FiveTuple {
                    transport: Transport::Udp,
                    local: listener.local,
                    remote: meta.src,
                    socket: i as u32,
                };
                let action = self.server.handle_client(now, tuple, data, &mut self.reply);
                // The request's relay commands first: a Refresh to zero or a Delete has
                // released its port before the client learns of it.
                let (udp, conns, counters) = (&self.udp, &mut self.conns, &self.counters);
                self.relays
                    .execute(now, &mut self.server, &mut self.answer, |tuple, answer| {
                        answer_client(udp, conns, counters, tuple, answer);
                    });
                match action {
                    ClientAction::Relay {
                        port,
                        peer,
                        payload,
                    } => self.to_peers.push(port, peer, k, payload),
                    ClientAction::Reply { len } => {
                        listener.send_one(meta.src, &self.reply[..len], &self.counters);
                    }
                    ClientAction::None => {}
                }
            }
            self.to_peers
                .flush(&self.relays, &self.batch, &self.counters);
            if self.batch.drained() {
                return;
            }
        }
        self.backlog.push(Token(UDP_BASE + i));
    }

    /// Datagrams from peers on relay `port`, received with `recvmmsg` straight into the free
    /// slots of the outbox (drained the same way as [`Self::on_udp`]); the core frames each
    /// in place and UDP clients' frames wait in the outbox for one `sendmmsg`.
    fn on_relay(&mut self, now: Instant, port: u16) {
        for _ in 0..BUDGET {
            let Some(relay) = self.relays.socket(port) else {
                return;
            };
            if self.outbox.is_full() {
                self.outbox.flush(&self.udp, &self.counters);
            }
            let first = self.outbox.batch.len();
            match relay.recv_append(&mut self.outbox.batch) {
                Ok(n) => self.work += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.counters.dropped();
                    return;
                }
            }
            for k in first..self.outbox.batch.len() {
                let meta = self.outbox.batch.metas()[k];
                let slot = self.outbox.batch.slot_mut(k);
                let start = PEER_HEADROOM;
                let Some((tuple, frame)) =
                    self.server
                        .handle_peer(now, port, meta.src, slot, start..start + meta.len)
                else {
                    continue;
                };
                match tuple.transport {
                    Transport::Udp => {
                        self.outbox
                            .push(k, tuple.socket as usize, tuple.remote, frame)
                    }
                    _ => {
                        let conn = self
                            .conns
                            .get_mut(tuple.socket as usize)
                            .and_then(Option::as_mut);
                        if let Some(conn) = conn {
                            if conn.send(&slot[frame], &self.counters).is_err() {
                                self.counters.dropped();
                            }
                        }
                    }
                }
            }
            if self.outbox.batch.drained() {
                return;
            }
        }
        self.backlog
            .push(Token(RELAY_TOKEN_BASE + usize::from(port)));
    }

    /// New TCP/TLS connections on stream listener `i`.
    fn on_accept(&mut self, now: Instant, i: usize) {
        loop {
            let Some(listener) = self.listeners.get(i) else {
                return;
            };
            let (stream, remote) = match listener.socket.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors or similar: try again on the next readiness.
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            };
            if !self.server.admits(now, remote) {
                continue;
            }
            if self.open_conns >= self.max_connections {
                tracing::debug!(%remote, "connection refused: max-connections reached");
                continue;
            }
            let tls = match &listener.tls {
                Some(config) => match rustls::ServerConnection::new(config.clone()) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS session setup failed");
                        continue;
                    }
                },
                None => None,
            };
            let _ = stream.set_nodelay(true);
            let slot = self.free_conns.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let tuple = FiveTuple {
                transport: listener.transport,
                local: listener.local,
                remote,
                socket: slot as u32,
            };
            let mut conn = Conn::new(stream, tls, tuple, now);
            if self
                .poll
                .registry()
                .register(
                    conn.stream_mut(),
                    Token(CONN_BASE + slot),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                self.free_conns.push(slot);
                continue;
            }
            self.conns[slot] = Some(conn);
            self.open_conns += 1;
        }
    }

    /// Readiness on connection `slot`: read and handle frames, flush output; or, when the
    /// source is banned, close the connection before reading anything (its allocation goes
    /// with it).
    ///
    /// The ban is checked once per readiness event, i.e. once per `on_readable` batch however
    /// many frames it reads, not per frame: [`edge_guard::Guard::is_banned`] answers a clean
    /// source with atomic loads, but takes its shard's read lock whenever the source's filter
    /// bit is set (a ban, or another banned source on the same bit), which must stay off the
    /// per-packet media path. Once per batch is enough: a ban found here stops the whole batch
    /// before any of it is relayed, and a ban that starts while the batch is handled (this
    /// connection's own third failed login, or another thread's) is seen at the connection's
    /// next event or by [`Self::sweep_conns`] within [`CONN_SWEEP`].
    fn on_conn(&mut self, now: Instant, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if self.server.is_banned(now, conn.tuple.remote.ip()) {
            self.close_banned(slot);
            return;
        }
        let open = conn
            .on_readable(
                now,
                &mut self.server,
                &mut self.relays,
                &mut self.reply,
                &mut self.answer,
                &self.counters,
            )
            .and_then(|open| conn.flush().map(|()| open));
        match open {
            Ok(true) => {}
            Ok(false) => self.close_conn(slot),
            Err(e) => {
                tracing::debug!(error = %e, "client connection failed");
                self.close_conn(slot);
            }
        }
    }

    /// Carries out the core's relay-socket commands (after any input but a client's UDP
    /// datagram, whose loop does it itself).
    fn execute(&mut self, now: Instant) {
        let (udp, conns, counters) = (&self.udp, &mut self.conns, &self.counters);
        self.relays
            .execute(now, &mut self.server, &mut self.answer, |tuple, answer| {
                answer_client(udp, conns, counters, tuple, answer);
            });
    }

    fn close_conn(&mut self, slot: usize) {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(conn.stream_mut());
        self.server.connection_closed(conn.tuple);
        self.execute(Instant::now());
        self.free_conns.push(slot);
        self.open_conns -= 1;
    }

    /// Closes connection `slot` because its source is banned: counted and logged.
    fn close_banned(&mut self, slot: usize) {
        let Some(conn) = self.conns.get(slot).and_then(Option::as_ref) else {
            return;
        };
        tracing::info!(
            remote = %conn.tuple.remote,
            transport = %conn.tuple.transport,
            "connection closed: source banned"
        );
        self.counters.banned_closed();
        self.close_conn(slot);
    }

    /// Every [`CONN_SWEEP`]: closes the connections whose source is banned, silent ones and
    /// those holding an allocation included (a ban closes every door), and the connections
    /// that never allocated and have been silent for [`IDLE_CONN`]. (The UDP allocations of
    /// banned sources are released right after, by [`Server::release_banned`].)
    fn sweep_conns(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            let Some(c) = self.conns[slot].as_ref() else {
                continue;
            };
            if self.server.is_banned(now, c.tuple.remote.ip()) {
                self.close_banned(slot);
            } else if now.duration_since(c.last_input) > IDLE_CONN
                && !self.server.has_allocation(&c.tuple)
            {
                self.close_conn(slot);
            }
        }
    }

    /// An operator's command: a drain, or new credentials and certificates (TLS listeners
    /// in order; connections already open keep the configuration they started with).
    fn apply(&mut self, control: Control) {
        match control {
            Control::Drain(alternate) => self.server.drain(alternate),
            Control::Reload {
                users,
                shared_secrets,
                tls,
            } => {
                // Validated by `Service::reload` against the same configuration.
                if let Err(e) = self.server.set_credentials(users, shared_secrets) {
                    tracing::error!("TURN reload: credentials kept: {e}");
                }
                let listeners = self.listeners.iter_mut().filter(|l| l.tls.is_some());
                for (listener, config) in listeners.zip(tls) {
                    if config.is_some() {
                        listener.tls = config;
                    }
                }
            }
        }
    }

    fn log_events(&mut self) {
        while let Some(event) = self.server.poll_event() {
            match event {
                Event::AllocationCreated {
                    tuple,
                    relay,
                    username,
                } => tracing::info!(%tuple, %relay, %username, "allocation created"),
                // The allocation's record (a CDR): grep "allocation closed".
                Event::AllocationClosed {
                    tuple,
                    relay,
                    reason,
                    mut usage,
                } => {
                    // What the XDP fast path relayed for it counts too.
                    if let Some(kernel) = &self.kernel {
                        kernel.close_allocation(&tuple, &mut usage);
                    }
                    tracing::info!(
                        %tuple,
                        %relay,
                        ?reason,
                        duration_s = Instant::now()
                            .saturating_duration_since(usage.created)
                            .as_secs(),
                        to_peer_packets = usage.to_peer_packets,
                        to_peer_bytes = usage.to_peer_bytes,
                        to_client_packets = usage.to_client_packets,
                        to_client_bytes = usage.to_client_bytes,
                        dropped = usage.dropped,
                        "allocation closed"
                    )
                }
                // Only with the fast path on (`Server::track_kernel_state`).
                Event::ChannelUp { .. }
                | Event::ChannelDown { .. }
                | Event::SourceBanned { .. } => {
                    if let Some(kernel) = &self.kernel {
                        kernel.apply(&event);
                    }
                }
            }
        }
    }

    fn publish(&self) {
        let s = &self.shared;
        let stats = self.server.stats();
        let set = |a: &std::sync::atomic::AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        set(&s.allocations, self.server.allocations() as u64);
        set(&s.connections, self.open_conns as u64);
        set(&s.to_peers, stats.to_peers);
        set(&s.to_clients, stats.to_clients);
        set(
            &s.malformed,
            stats.malformed + self.counters.malformed.get(),
        );
        set(&s.dropped, stats.dropped + self.counters.dropped.get());
        set(&s.banned_closed, self.counters.banned_closed.get());
        s.publish_guard(&stats);
        s.publish_extra(&stats);
    }

    fn close_all(&mut self) {
        for slot in 0..self.conns.len() {
            self.close_conn(slot);
        }
        self.server.close_all();
        self.execute(Instant::now());
        self.relays.close_all();
        // The records of the allocations a stop ended (after a drain timeout, say).
        self.log_events();
        self.publish();
    }
}

/// Sends `answer` (a response the core wrote after a relay socket opened) to `tuple`'s
/// client: through its UDP listener, or on its connection.
fn answer_client(
    udp: &[Listener],
    conns: &mut [Option<Conn>],
    counters: &Counters,
    tuple: FiveTuple,
    answer: &[u8],
) {
    if tuple.transport == Transport::Udp {
        if let Some(listener) = udp.get(tuple.socket as usize) {
            listener.send_one(tuple.remote, answer, counters);
        }
    } else if let Some(conn) = conns
        .get_mut(tuple.socket as usize)
        .and_then(Option::as_mut)
    {
        if conn.tuple == tuple && conn.send(answer, counters).is_err() {
            counters.dropped();
        }
    }
}

/// A TCP listener on `addr`, with `SO_REUSEPORT` when several loops share the address (mio's
/// own `bind` sets `SO_REUSEADDR` only).
fn bind_stream(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(TcpListener::from_std(socket.into()))
}
