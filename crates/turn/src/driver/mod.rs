//! The I/O driver: one mio event loop on its own thread owning the listeners (UDP, TCP, TLS),
//! every relay socket and the sans-IO [`Server`]. Nothing is shared with other threads per
//! packet: statistics are published to atomics once per loop iteration.
//!
//! The per-packet path for a UDP client: read a datagram into the one receive buffer, let the
//! core classify and look it up, send the payload slice (ChannelData or Send DATA) from the
//! relay socket. Toward the client: read a peer datagram into the same buffer after
//! [`PEER_HEADROOM`] bytes, let the core write the ChannelData or Data-indication header in
//! front of it, send the framed slice. No allocation, no copy, no lock.

mod event_loop;
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
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mio::Waker;

pub use self::tls::load_tls_config;
use crate::{Error, ServerConfig};

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
}

impl ServiceConfig {
    /// A service for `server` with no listeners yet, 4096 connections at most, 4 MiB
    /// UDP socket buffers and a 200 us coalescing window.
    pub fn new(server: ServerConfig) -> Self {
        Self {
            server,
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            max_connections: 4096,
            socket_buffer: Some(4 << 20),
            coalesce: Duration::from_micros(200),
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
}

/// Statistics shared between the loop and [`Service::snapshot`].
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Cleared when the event loop thread ends, however it ends.
    alive: AtomicBool,
    allocations: AtomicU64,
    free_ports: AtomicU64,
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

/// A running TURN service: the event loop thread and a handle to stop it.
#[derive(Debug)]
pub struct Service {
    thread: Option<JoinHandle<Result<(), Error>>>,
    waker: Arc<Waker>,
    shared: Arc<Shared>,
    addrs: LocalAddrs,
}

impl Service {
    /// Validates the configuration, binds every listener (so a busy port fails here, named),
    /// adds the bound listener addresses to the core's protected peers (no allocation may
    /// relay to them), and starts the event loop thread. TCP/TLS connections from banned or
    /// over-rate sources are closed at accept ([`Server::admits`](crate::Server::admits));
    /// open ones are closed, their allocations with them, once their source is banned: at
    /// their next input, or within about a second by the loop's sweep
    /// ([`Snapshot::banned_closed`]). The same sweep releases the UDP allocations of a banned
    /// source ([`Snapshot::banned_released`]).
    pub fn start(config: ServiceConfig) -> Result<Service, Error> {
        let shared = Arc::new(Shared::default());
        let (event_loop, waker, addrs) = event_loop::EventLoop::bind(config, shared.clone())?;
        shared.alive.store(true, Ordering::Release);
        let alive = Alive(shared.clone());
        let thread = std::thread::Builder::new()
            .name("turn-loop".into())
            .spawn(move || {
                let _alive = alive;
                event_loop.run()
            })?;
        Ok(Service {
            thread: Some(thread),
            waker,
            shared,
            addrs,
        })
    }

    /// The addresses the service listens on.
    pub fn local_addrs(&self) -> &LocalAddrs {
        &self.addrs
    }

    /// The latest published counters (at most one loop iteration old).
    pub fn snapshot(&self) -> Snapshot {
        self.reader().snapshot()
    }

    /// A handle that reads [`Snapshot`]s and liveness from another thread (a metrics
    /// collector) without owning the service.
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader {
            shared: self.shared.clone(),
        }
    }

    /// Whether the event loop is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the loop, closes every socket and waits for the thread.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), Error> {
        self.shared.stop.store(true, Ordering::Release);
        self.waker.wake()?;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Io(io::Error::other("the TURN event loop panicked"))),
            None => Ok(()),
        }
    }
}

/// Reads a running [`Service`]'s counters and liveness from any thread
/// ([`Service::reader`]); cheap to clone.
#[derive(Debug, Clone)]
pub struct SnapshotReader {
    shared: Arc<Shared>,
}

impl SnapshotReader {
    /// The latest published counters (at most one loop iteration old).
    pub fn snapshot(&self) -> Snapshot {
        let s = &self.shared;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            allocations: get(&s.allocations),
            free_ports: get(&s.free_ports),
            connections: get(&s.connections),
            to_peers: get(&s.to_peers),
            to_clients: get(&s.to_clients),
            malformed: get(&s.malformed),
            dropped: get(&s.dropped),
            auth_failures: get(&s.auth_failures),
            banned: get(&s.banned),
            rate_limited: get(&s.rate_limited),
            banned_closed: get(&s.banned_closed),
            banned_released: get(&s.banned_released),
            to_peers_bytes: get(&s.to_peers_bytes),
            to_clients_bytes: get(&s.to_clients_bytes),
            errors: crate::ErrorCounts::from_slots(s.errors.each_ref().map(get)),
            census: {
                let [udp, tcp, tls, permissions, channels] = s.census.each_ref().map(get);
                crate::Census {
                    udp,
                    tcp,
                    tls,
                    permissions,
                    channels,
                }
            },
        }
    }

    /// Whether the event loop thread is still running.
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
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
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}
