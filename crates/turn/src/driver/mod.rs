//! The I/O driver: [`ServiceConfig::threads`] mio event loops, each on its own thread with
//! its own listeners (UDP, TCP, TLS, all bound with `SO_REUSEPORT` when there are several,
//! so the kernel spreads clients over the threads and keeps a UDP client's 5-tuple on one),
//! its own relay sockets and its own sans-IO [`Server`](crate::Server). A client's
//! allocation, permissions and channels live on the thread that received its Allocate, and
//! every later request of that 5-tuple (or TCP/TLS connection) reaches the same thread.
//! Shared across threads: the [`Ledger`] (relay port pool, per-user and total quotas,
//! touched only when an allocation is created or removed), the guard (bans and rate limits)
//! and the nonce key (the same secret on every thread). Nothing is shared per packet:
//! each loop publishes its statistics to its own atomics once per iteration, and
//! [`Service::snapshot`] sums them.
//!
//! The per-packet path for a UDP client: read a datagram into the one receive buffer, let the
//! core classify and look it up, send the payload slice (ChannelData or Send DATA) from the
//! relay socket. Toward the client: read a peer datagram into the same buffer after
//! [`PEER_HEADROOM`] bytes, let the core write the ChannelData or Data-indication header in
//! front of it, send the framed slice. No allocation, no copy, no lock.

mod event_loop;
mod kernel;
mod pacing;
mod relay;
mod stream;
mod tls;
mod udp;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::Waker;
use rustls::ServerConfig as TlsConfig;

pub use self::tls::load_tls_config;
use crate::{Error, Ledger, ServerConfig};

/// A TLS listener: address plus PEM certificate chain and private key files.
#[derive(Debug, Clone)]
pub struct TlsListener {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// PEM file with the certificate chain, leaf first.
    pub certificate: PathBuf,
    /// PEM file with the private key.
    pub private_key: PathBuf,
}

/// What a [`Service`] listens on, plus the core configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The sans-IO core's configuration.
    pub server: ServerConfig,
    /// UDP listeners.
    pub udp: Vec<SocketAddr>,
    /// TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners.
    pub tls: Vec<TlsListener>,
    /// Most TCP/TLS client connections at once; more are refused at accept.
    pub max_connections: usize,
    /// SO_RCVBUF/SO_SNDBUF for UDP sockets, listeners and relay sockets alike (the kernel
    /// caps it at net.core.rmem_max/wmem_max), or the system default. Buffers are charged
    /// only for queued datagrams, so a large value costs memory only under bursts.
    pub socket_buffer: Option<usize>,
    /// Wake-up coalescing window: once datagrams arrive faster than one per window, the
    /// event loop sleeps this long between iterations instead of waking for each datagram,
    /// then serves everything that arrived at once (never while a socket still has a full
    /// batch queued, nor after an iteration busy for half a window or more, as under a
    /// flood; back to blocking as soon as a window brings nothing). Adds at most
    /// this much (plus ~50 us timer slack) per pass through the server. Zero turns it off.
    pub coalesce: Duration,
    /// Event loop threads (1..=[`MAX_THREADS`]), each with its own listener sockets
    /// (`SO_REUSEPORT`) and its own allocations.
    pub threads: usize,
    /// UDP sockets per UDP listen address on each thread (1..=[`MAX_UDP_SOCKETS`]), all in
    /// one `SO_REUSEPORT` group: the kernel hashes each client's 5-tuple to one of them, and
    /// the loop drains each with a budget of its own, so a one-source flood fills one
    /// socket's queue and costs only the clients hashed to that socket. More sockets cost
    /// more receive calls per packet at light load.
    pub udp_sockets: usize,
    /// The XDP fast path in front of the UDP listeners and relay ports, or none (the
    /// default). See [`XdpConfig`].
    pub xdp: Option<XdpConfig>,
}

/// The XDP fast path ([`edge_xdp`]): ChannelData of UDP allocations relayed in the kernel,
/// banned sources and sources over [`XdpConfig::source_pps`] dropped before any socket.
///
/// The cores mirror their state into the program's maps at once (a channel bound,
/// refreshed, expired, its permission expired, its allocation deleted, expired or released
/// on a ban; a ban started), and the program checks each channel's end itself, so it never
/// forwards what the userspace path would drop; everything else it passes to the userspace
/// path unchanged. With a bandwidth cap configured no channel is installed (userspace
/// enforces the cap); the early drop still works. Needs IPv4 UDP listeners and relay
/// address bound to specific addresses, CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN;
/// [`Service::start`] fails otherwise, naming the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct XdpConfig {
    /// The interface clients and peers reach the service through.
    pub interface: String,
    /// Native (in the driver) or generic (after the socket buffer is built).
    pub mode: crate::XdpMode,
    /// Datagrams per second one source may send to the UDP listeners before the rest is
    /// dropped in the kernel (0: no limit).
    pub source_pps: u32,
    /// Datagrams one source may send at once above that rate.
    pub source_burst: u32,
}

impl XdpConfig {
    /// The fast path on `interface` in `mode`, with no per-source rate limit.
    pub fn new(interface: impl Into<String>, mode: crate::XdpMode) -> Self {
        Self {
            interface: interface.into(),
            mode,
            source_pps: 0,
            source_burst: 0,
        }
    }
}

/// The most UDP sockets per listen address and thread.
pub const MAX_UDP_SOCKETS: usize = 64;

/// The most event loop threads a service runs.
pub const MAX_THREADS: usize = 256;

impl ServiceConfig {
    /// A service for `server` with no listeners yet, 4096 connections at most (per thread),
    /// 4 MiB UDP socket buffers, a 200 us coalescing window, one thread and one UDP socket
    /// per address.
    pub fn new(server: ServerConfig) -> Self {
        Self {
            server,
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            max_connections: 4096,
            socket_buffer: Some(4 << 20),
            coalesce: Duration::from_micros(200),
            threads: 1,
            udp_sockets: 1,
            xdp: None,
        }
    }
}

/// The addresses a running service listens on (port 0 in the configuration resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAddrs {
    /// UDP listeners.
    pub udp: Vec<SocketAddr>,
    /// TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners.
    pub tls: Vec<SocketAddr>,
}

/// Counters published by a running service, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Live allocations.
    pub allocations: u64,
    /// Free relay ports.
    pub free_ports: u64,
    /// Open TCP/TLS client connections.
    pub connections: u64,
    /// Datagrams relayed client -> peer.
    pub to_peers: u64,
    /// Datagrams relayed peer -> client.
    pub to_clients: u64,
    /// Inputs dropped as malformed (unparsable STUN, bad framing).
    pub malformed: u64,
    /// Packets dropped for other reasons: no permission or channel, over the bandwidth cap,
    /// a send that failed, a full connection queue.
    pub dropped: u64,
    /// Failed logins reported to the guard ([`Stats::auth_failures`](crate::Stats)).
    pub auth_failures: u64,
    /// Requests and TCP/TLS connections dropped because their source is banned.
    pub banned: u64,
    /// Requests and TCP/TLS connections dropped by the per-source request rate limit.
    pub rate_limited: u64,
    /// Open TCP/TLS connections closed because their source was banned after they were
    /// accepted (at their next input, or by the once-a-second sweep), allocations included.
    pub banned_closed: u64,
    /// UDP allocations released by the once-a-second sweep because their client's source was
    /// banned after they were created ([`Stats::banned_released`](crate::Stats)).
    pub banned_released: u64,
    /// Payload bytes relayed client -> peer.
    pub to_peers_bytes: u64,
    /// Payload bytes relayed peer -> client.
    pub to_clients_bytes: u64,
    /// Error responses sent, by code.
    pub errors: crate::ErrorCounts,
    /// Allocations by transport, permissions and channels, as of the last once-a-second
    /// census.
    pub census: crate::Census,
    /// The XDP fast path's own counters ([`ServiceConfig::xdp`]; zero without it). Its
    /// relayed datagrams and bytes are also counted in `to_peers`, `to_clients`,
    /// `to_peers_bytes` and `to_clients_bytes` above.
    pub kernel: crate::KernelCounters,
}

impl Snapshot {
    /// Both snapshots' counters added (free ports summed too).
    fn plus(self, o: &Snapshot) -> Snapshot {
        Snapshot {
            allocations: self.allocations + o.allocations,
            free_ports: self.free_ports + o.free_ports,
            connections: self.connections + o.connections,
            to_peers: self.to_peers + o.to_peers,
            to_clients: self.to_clients + o.to_clients,
            malformed: self.malformed + o.malformed,
            dropped: self.dropped + o.dropped,
            auth_failures: self.auth_failures + o.auth_failures,
            banned: self.banned + o.banned,
            rate_limited: self.rate_limited + o.rate_limited,
            banned_closed: self.banned_closed + o.banned_closed,
            banned_released: self.banned_released + o.banned_released,
            to_peers_bytes: self.to_peers_bytes + o.to_peers_bytes,
            to_clients_bytes: self.to_clients_bytes + o.to_clients_bytes,
            errors: self.errors.plus(&o.errors),
            census: self.census.plus(&o.census),
            kernel: self.kernel.plus(&o.kernel),
        }
    }
}

/// Statistics shared between the loop and [`Service::snapshot`].
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Cleared when the event loop thread ends, however it ends.
    alive: AtomicBool,
    allocations: AtomicU64,
    connections: AtomicU64,
    to_peers: AtomicU64,
    to_clients: AtomicU64,
    malformed: AtomicU64,
    dropped: AtomicU64,
    auth_failures: AtomicU64,
    banned: AtomicU64,
    rate_limited: AtomicU64,
    banned_closed: AtomicU64,
    banned_released: AtomicU64,
    to_peers_bytes: AtomicU64,
    to_clients_bytes: AtomicU64,
    errors: [AtomicU64; crate::ERROR_CODES.len() + 1],
    /// udp, tcp, tls, permissions, channels.
    census: [AtomicU64; 5],
}

impl Shared {
    /// This thread's counters.
    fn snapshot(&self) -> Snapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            allocations: get(&self.allocations),
            free_ports: 0,
            connections: get(&self.connections),
            to_peers: get(&self.to_peers),
            to_clients: get(&self.to_clients),
            malformed: get(&self.malformed),
            dropped: get(&self.dropped),
            auth_failures: get(&self.auth_failures),
            banned: get(&self.banned),
            rate_limited: get(&self.rate_limited),
            banned_closed: get(&self.banned_closed),
            banned_released: get(&self.banned_released),
            to_peers_bytes: get(&self.to_peers_bytes),
            to_clients_bytes: get(&self.to_clients_bytes),
            errors: crate::ErrorCounts::from_slots(self.errors.each_ref().map(get)),
            census: {
                let [udp, tcp, tls, permissions, channels] = self.census.each_ref().map(get);
                crate::Census {
                    udp,
                    tcp,
                    tls,
                    permissions,
                    channels,
                }
            },
            kernel: crate::KernelCounters::default(),
        }
    }

    /// Publishes a census of the core's allocations.
    pub(crate) fn publish_census(&self, census: &crate::Census) {
        let values = [
            census.udp,
            census.tcp,
            census.tls,
            census.permissions,
            census.channels,
        ];
        for (cell, value) in self.census.iter().zip(values) {
            cell.store(value, Ordering::Relaxed);
        }
    }

    /// Publishes the core's byte and error-response counters.
    pub(crate) fn publish_extra(&self, stats: &crate::Stats) {
        self.to_peers_bytes
            .store(stats.to_peers_bytes, Ordering::Relaxed);
        self.to_clients_bytes
            .store(stats.to_clients_bytes, Ordering::Relaxed);
        for (cell, value) in self.errors.iter().zip(stats.errors.slots()) {
            cell.store(*value, Ordering::Relaxed);
        }
    }

    /// Publishes the core's guard counters.
    pub(crate) fn publish_guard(&self, stats: &crate::Stats) {
        self.auth_failures
            .store(stats.auth_failures, Ordering::Relaxed);
        self.banned.store(stats.banned, Ordering::Relaxed);
        self.rate_limited
            .store(stats.rate_limited, Ordering::Relaxed);
        self.banned_released
            .store(stats.banned_released, Ordering::Relaxed);
    }
}

/// The loop's own counters: plain cells, published to [`Shared`] once per iteration.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    malformed: Cell<u64>,
    dropped: Cell<u64>,
    banned_closed: Cell<u64>,
}

impl Counters {
    pub(crate) fn malformed(&self) {
        self.malformed.set(self.malformed.get() + 1);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.set(self.dropped.get() + 1);
    }

    pub(crate) fn banned_closed(&self) {
        self.banned_closed.set(self.banned_closed.get() + 1);
    }
}

/// What a running service can change without a restart, for [`Service::reload`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Reload {
    /// Static long-term users: (username, password).
    pub users: Vec<(String, String)>,
    /// TURN REST API shared secrets.
    pub shared_secrets: Vec<Vec<u8>>,
    /// The TLS listeners' certificate and key files, matched to the running listeners by
    /// address (a running listener without an entry keeps its certificate; an entry for
    /// an address not listened on is ignored: listeners change only with a restart).
    pub tls: Vec<TlsListener>,
}

/// An operator's command to the event loops, applied between two iterations (each loop
/// gets its own copy).
#[derive(Clone)]
pub(crate) enum Control {
    /// [`Server::drain`](crate::Server::drain).
    Drain(Option<SocketAddr>),
    /// New credentials and TLS configurations (one per TLS listener, in order; `None`
    /// keeps that listener's).
    Reload {
        users: Vec<(String, String)>,
        shared_secrets: Vec<Vec<u8>>,
        tls: Vec<Option<Arc<TlsConfig>>>,
    },
}

/// How long [`Service::reload`] and [`Service::drain`] wait for the loop to take a command.
const CONTROL_WAIT: Duration = Duration::from_secs(5);

/// A running TURN service: its event loop threads and handles to stop them.
#[derive(Debug)]
pub struct Service {
    workers: Vec<Worker>,
    ledger: Ledger,
    addrs: LocalAddrs,
    /// The configuration started with, to validate reloads against.
    server: ServerConfig,
    /// The TLS listeners' configured addresses (as a reloaded file names them).
    tls: Vec<SocketAddr>,
    /// The XDP fast path, detached when the last holder (this, a reader) drops it.
    kernel: Option<Arc<kernel::Kernel>>,
}

/// One event loop thread.
#[derive(Debug)]
struct Worker {
    thread: Option<JoinHandle<Result<(), Error>>>,
    waker: Arc<Waker>,
    shared: Arc<Shared>,
    /// Commands to this loop, each acknowledged once taken.
    controls: Mutex<mpsc::Sender<(Control, mpsc::SyncSender<()>)>>,
}

impl Service {
    /// Validates the configuration, binds every listener on every thread (so a busy port
    /// fails here, named), adds the bound listener addresses to the cores' protected peers
    /// (no allocation may relay to them), and starts the event loop threads; the first thread
    /// resolves port 0, the others bind the ports it got. TCP/TLS connections from banned or
    /// over-rate sources are closed at accept ([`Server::admits`](crate::Server::admits));
    /// open ones are closed, their allocations with them, once their source is banned: at
    /// their next input, or within about a second by the loop's sweep
    /// ([`Snapshot::banned_closed`]). The same sweep releases the UDP allocations of a banned
    /// source ([`Snapshot::banned_released`]).
    pub fn start(mut config: ServiceConfig) -> Result<Service, Error> {
        if !(1..=MAX_THREADS).contains(&config.threads) {
            return Err(Error::Config {
                field: "threads",
                reason: format!("{} is not between 1 and {MAX_THREADS}", config.threads),
            });
        }
        if !(1..=MAX_UDP_SOCKETS).contains(&config.udp_sockets) {
            return Err(Error::Config {
                field: "udp_sockets",
                reason: format!(
                    "{} is not between 1 and {MAX_UDP_SOCKETS}",
                    config.udp_sockets
                ),
            });
        }
        let ledger = Ledger::for_config(&config.server);
        let reuse_port = config.threads > 1 || config.udp_sockets > 1;
        let kernel = match &config.xdp {
            Some(xdp) => {
                // The program mirrors one set of bans: every thread shares one guard.
                if config.server.guard.is_none() {
                    let guard = edge_guard::Guard::new(edge_guard::GuardConfig::default())
                        .map_err(|e| Error::Config {
                            field: "guard",
                            reason: e.to_string(),
                        })?;
                    config.server.guard = Some(guard);
                }
                Some(Arc::new(kernel::Kernel::load(&config, xdp)?))
            }
            None => None,
        };
        // Dropping a partly started service stops the threads it has.
        let mut service = Service {
            workers: Vec::with_capacity(config.threads),
            ledger: ledger.clone(),
            addrs: LocalAddrs::default(),
            server: config.server.clone(),
            tls: config.tls.iter().map(|t| t.addr).collect(),
            kernel: kernel.clone(),
        };
        for i in 0..config.threads {
            let shared = Arc::new(Shared::default());
            let (controls, received) = mpsc::channel();
            let (event_loop, waker, addrs) = event_loop::EventLoop::bind(
                &config,
                shared.clone(),
                ledger.clone(),
                reuse_port,
                received,
                kernel.clone(),
                i == 0,
            )?;
            if i == 0 {
                config.udp.clone_from(&addrs.udp);
                config.tcp.clone_from(&addrs.tcp);
                for (listener, &addr) in config.tls.iter_mut().zip(&addrs.tls) {
                    listener.addr = addr;
                }
                if let (Some(kernel), Some(xdp)) = (&kernel, &config.xdp) {
                    kernel.attach(&config, xdp, &addrs)?;
                }
                service.addrs = addrs;
            }
            // Thread names are at most 15 bytes on Linux: "turn-loop", "turn-loop-1", ...
            let name = match i {
                0 => "turn-loop".to_owned(),
                _ => format!("turn-loop-{i}"),
            };
            shared.alive.store(true, Ordering::Release);
            let alive = Alive(shared.clone());
            let thread = std::thread::Builder::new().name(name).spawn(move || {
                let _alive = alive;
                event_loop.run()
            })?;
            service.workers.push(Worker {
                thread: Some(thread),
                waker,
                shared,
                controls: Mutex::new(controls),
            });
        }
        Ok(service)
    }

    /// Applies `reload` to the running loop: the next request is authenticated against the
    /// new users and secrets, the next TLS handshake presents the new certificate.
    /// Allocations, connections and handshakes already under way are untouched. Returns
    /// once the loop has taken it.
    ///
    /// # Errors
    /// [`Error::Config`] for credentials the core would refuse: nothing is changed then.
    /// [`Error::Tls`] naming a certificate or key
    /// file that does not load: that listener keeps its certificate, the rest is applied.
    /// [`Error::Io`] when the loop is gone.
    pub fn reload(&self, reload: Reload) -> Result<(), Error> {
        let mut check = self.server.clone();
        check.users.clone_from(&reload.users);
        check.shared_secrets.clone_from(&reload.shared_secrets);
        check.validate()?;
        let mut failed = None;
        let tls = self
            .tls
            .iter()
            .map(|addr| {
                let files = reload.tls.iter().find(|t| t.addr == *addr)?;
                load_tls_config(&files.certificate, &files.private_key)
                    .map_err(|e| failed = failed.take().or(Some(e)))
                    .ok()
            })
            .collect();
        self.control(Control::Reload {
            users: reload.users,
            shared_secrets: reload.shared_secrets,
            tls,
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Starts a drain ([`Server::drain`](crate::Server::drain)): new allocations are refused
    /// (300 to `alternate`, or 508), the running ones go on. Returns once the loop has
    /// taken it.
    ///
    /// # Errors
    /// [`Error::Io`] when the loop is gone.
    pub fn drain(&self, alternate: Option<SocketAddr>) -> Result<(), Error> {
        self.control(Control::Drain(alternate))
    }

    /// Hands `control` to every loop, then waits until each has taken it.
    fn control(&self, control: Control) -> Result<(), Error> {
        let gone = || Error::Io(io::Error::other("a TURN event loop is not running"));
        let mut acks = Vec::with_capacity(self.workers.len());
        for worker in &self.workers {
            let (done, taken) = mpsc::sync_channel(1);
            worker
                .controls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send((control.clone(), done))
                .map_err(|_| gone())?;
            worker.waker.wake()?;
            acks.push(taken);
        }
        for taken in acks {
            taken.recv_timeout(CONTROL_WAIT).map_err(|_| gone())?;
        }
        Ok(())
    }

    /// The addresses the service listens on.
    pub fn local_addrs(&self) -> &LocalAddrs {
        &self.addrs
    }

    /// The latest published counters, summed over the threads (each at most one loop
    /// iteration old); free ports from the shared pool.
    pub fn snapshot(&self) -> Snapshot {
        self.reader().snapshot()
    }

    /// A handle that reads [`Snapshot`]s and liveness from another thread (a metrics
    /// collector) without owning the service.
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader {
            shared: self.workers.iter().map(|w| w.shared.clone()).collect(),
            ledger: self.ledger.clone(),
            kernel: self.kernel.clone(),
        }
    }

    /// Each thread's own counters, in thread order: how the kernel spread the clients (free
    /// ports, which only the shared pool knows, are 0 here).
    pub fn snapshot_per_thread(&self) -> Vec<Snapshot> {
        self.workers.iter().map(|w| w.shared.snapshot()).collect()
    }

    /// Whether every event loop is still running.
    pub fn is_running(&self) -> bool {
        self.workers
            .iter()
            .all(|w| w.thread.as_ref().is_some_and(|t| !t.is_finished()))
    }

    /// Stops the loops, closes every socket and waits for the threads.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop()
    }

    /// Stops every loop (all are told before any is waited for); the first error wins.
    fn stop(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        for worker in &self.workers {
            worker.shared.stop.store(true, Ordering::Release);
            if let Err(e) = worker.waker.wake() {
                result = result.and(Err(Error::Io(e)));
            }
        }
        for worker in &mut self.workers {
            let joined = match worker.thread.take().map(JoinHandle::join) {
                Some(Ok(r)) => r,
                Some(Err(_)) => Err(Error::Io(io::Error::other("a TURN event loop panicked"))),
                None => Ok(()),
            };
            result = result.and(joined);
        }
        result
    }
}

/// Reads a running [`Service`]'s counters and liveness from any thread
/// ([`Service::reader`]); cheap to clone.
#[derive(Debug, Clone)]
pub struct SnapshotReader {
    shared: Vec<Arc<Shared>>,
    ledger: Ledger,
    kernel: Option<Arc<kernel::Kernel>>,
}

impl SnapshotReader {
    /// The latest published counters, summed over the threads (each at most one loop
    /// iteration old); free ports from the shared pool; the XDP fast path's counters read
    /// now and merged into the relayed totals.
    pub fn snapshot(&self) -> Snapshot {
        let free_ports = self.ledger.free_ports() as u64;
        let mut sum = self.shared.iter().map(|s| s.snapshot()).fold(
            Snapshot {
                free_ports,
                ..Snapshot::default()
            },
            |sum, s| sum.plus(&s),
        );
        if let Some(kernel) = &self.kernel {
            let k = kernel.counters();
            sum.to_peers += k.to_peers;
            sum.to_clients += k.to_clients;
            sum.to_peers_bytes += k.to_peers_bytes;
            sum.to_clients_bytes += k.to_clients_bytes;
            sum.kernel = k;
        }
        sum
    }

    /// Whether every event loop thread is still running.
    pub fn is_alive(&self) -> bool {
        self.shared.iter().all(|s| s.alive.load(Ordering::Acquire))
    }
}

/// Clears [`Shared::alive`] when the event loop thread ends, a panic included.
struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.workers.iter().any(|w| w.thread.is_some()) {
            let _ = self.stop();
        }
    }
}
