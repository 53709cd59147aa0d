//! [`SharedStore`]: several nodes of one service share failures and bans through Redis.
//!
//! # What is shared, and how
//! - **Bans.** A ban started on one node is written as the key `{prefix}ban:{network}`
//!   (value `{service} {failures}`, time to live = the ban's remaining time) and published on
//!   the channel `{prefix}events` as `ban {network} {service} {failures} {ttl-ms} {node}`.
//!   Every other node, subscribed to that channel, bans the network in its own guard at once
//!   (pub/sub: the propagation delay is one Redis round trip, no polling).
//! - **Lifts.** [`Guard::lift`] on any node deletes the key, leaves the mark
//!   `{prefix}lift:{network}` (the lift's wall-clock time, kept for `ban-duration`) and
//!   publishes `lift {network} {node}`: every node lifts its ban and forgets the network's
//!   failures. A node that was not subscribed then (Redis lost, a reconnection) finds the
//!   mark at its next resync and lifts a ban of its own that started before it.
//! - **Failure counts.** Each failure (not of an allow-listed source) is added to the sorted
//!   set `{prefix}failures:{network}` (scored by wall-clock milliseconds, trimmed to
//!   `find-window`, expiring with it). When the set holds `max-failures` entries the node that
//!   added the last one bans the network and publishes the ban: three failures spread over
//!   three nodes ban, as three on one node do. The nodes' clocks should agree (NTP) to well
//!   under `find-window`.
//!
//! # The hot path stays local
//! [`Guard::is_banned`] and [`Guard::allow_request`] never wait for Redis: they read the
//! local tables, which the store's two threads update. [`Guard::record_failure`] and
//! [`Guard::lift`] only put an event on a bounded queue (full: dropped and counted).
//!
//! # When Redis is unreachable
//! At start or later, the node keeps its own guard (failures counted and bans decided
//! locally, as without Redis) and keeps serving. The store logs the loss once (WARN), retries
//! every `redis-retry`, and logs the recovery once (INFO); on recovery it replays the bans
//! and lifts decided meanwhile (bans only while still in force) and loads every ban Redis
//! holds. Failures counted while Redis was away stay local.
//!
//! # Threads
//! A writer thread owns one connection: it runs the queued events, checks the connection
//! with a PING every second while idle, and resyncs. A subscriber thread owns a second
//! connection subscribed to the channel and applies what other nodes publish. Both read the
//! clock (they are drivers, not the sans-IO guard).

mod subscriber;
mod wire;
mod writer;

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use crate::{BanInfo, Error, Guard, Service};
use subscriber::Subscriber;
use wire::Names;
use writer::Writer;

/// Events waiting for the writer thread, at most.
const QUEUE: usize = 4096;
/// Bans and lifts kept for replay while Redis is unreachable, at most (the oldest go first).
const PENDING: usize = 4096;
/// How often an idle writer checks its connection, and how soon either thread sees a stop.
const TICK: Duration = Duration::from_secs(1);
/// Keys asked for per SCAN step and per GET/PTTL pipeline during a resync.
const BATCH: usize = 256;

/// What the guard hands to the writer thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    /// A failure of a source that is not allow-listed; `ban` is the ban it started locally.
    Failure {
        source: IpNet,
        service: Service,
        ban: Option<BanInfo>,
    },
    /// [`Guard::lift`] was called here at `at`.
    Lift { source: IpNet, at: Instant },
    /// The subscriber (re)subscribed: load the bans it may have missed.
    Resync,
}

/// The guard's end of the store: the queue and the shared state.
#[derive(Debug)]
pub(crate) struct Link {
    queue: SyncSender<Event>,
    state: Arc<State>,
}

impl Link {
    /// Queues `event`; a full queue drops it (counted in [`SharedStats::dropped`]).
    pub(crate) fn send(&self, event: Event) {
        if self.queue.try_send(event).is_err() {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The state now.
    pub(crate) fn stats(&self) -> SharedStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = &self.state;
        SharedStats {
            connected: s.connected.load(Ordering::Relaxed),
            errors: get(&s.errors),
            published: get(&s.published),
            received: get(&s.received),
            dropped: get(&s.dropped),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    connected: AtomicBool,
    errors: AtomicU64,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    stop: AtomicBool,
}

/// The shared store's state, as [`Guard::shared_stats`] reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedStats {
    /// Whether the writer's connection to Redis is up now.
    pub connected: bool,
    /// Redis errors since start: failed connections and commands, unreadable messages.
    pub errors: u64,
    /// Bans and lifts this node published.
    pub published: u64,
    /// Bans and lifts of other nodes applied here (messages and resyncs).
    pub received: u64,
    /// Events dropped because the queue to the writer was full, or replays dropped because
    /// too many waited while Redis was unreachable.
    pub dropped: u64,
}

/// The running store: two threads sharing one guard's failures and bans through Redis.
/// Dropping it stops the threads (within about a second); the guard goes on alone.
///
/// - Bans: a ban started on this node is written as `{prefix}ban:{network}` (time to live =
///   what remains of it) and published on `{prefix}events`; the other nodes apply it at once.
/// - Lifts: [`Guard::lift`] deletes the key, leaves a mark `{prefix}lift:{network}` for
///   `ban-duration` (for nodes that miss the message: applied at their next resync to bans
///   that started before it) and publishes the lift; every node lifts.
/// - Failure counts: each failure joins the sorted set `{prefix}failures:{network}` (wall
///   clock milliseconds, trimmed to `find-window`); the node whose failure makes
///   `max-failures` bans and publishes.
/// - Redis unreachable, at start or later: the guard works alone; the loss is logged once,
///   retried every `redis-retry`, the recovery logged once, then the bans and lifts decided
///   meanwhile are sent and every ban Redis holds is loaded.
#[derive(Debug)]
pub struct SharedStore {
    state: Arc<State>,
    threads: Vec<JoinHandle<()>>,
}

impl SharedStore {
    /// Starts sharing `guard` through the Redis of its `redis` setting, or returns `None`
    /// when it has none. Returns at once: an unreachable Redis is logged and retried by the
    /// threads, never an error here.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL the client refuses, [`Error::AlreadyShared`] when a store
    /// already runs for this guard, [`Error::Thread`] when a thread cannot be spawned.
    pub fn start(guard: &Guard) -> Result<Option<Self>, Error> {
        let config = guard.config();
        let Some(url) = &config.redis else {
            return Ok(None);
        };
        let client = redis::Client::open(url.as_str()).map_err(|e| Error::Config {
            key: "redis",
            problem: format!("not a Redis URL: {e}"),
        })?;
        let state = Arc::new(State::default());
        let (queue, events) = mpsc::sync_channel(QUEUE);
        let link = Link {
            queue: queue.clone(),
            state: state.clone(),
        };
        if !guard.attach(link) {
            return Err(Error::AlreadyShared);
        }
        let names = Names::new(&config.redis_prefix);
        let node = format!(
            "{:016x}",
            std::collections::hash_map::RandomState::new().hash_one(std::process::id())
        );
        let writer = Writer {
            guard: guard.clone(),
            client: client.clone(),
            names: names.clone(),
            node: node.clone(),
            url: url.to_string(),
            timeout: config.redis_timeout,
            retry: config.redis_retry,
            events,
            pending: VecDeque::new(),
            state: state.clone(),
            seq: 0,
        };
        let subscriber = Subscriber {
            guard: guard.clone(),
            client,
            names,
            node,
            timeout: config.redis_timeout,
            retry: config.redis_retry,
            resync: queue,
            state: state.clone(),
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map_err(|e| Error::Thread(e.to_string()))
        };
        let mut store = SharedStore {
            state,
            threads: Vec::with_capacity(2),
        };
        store
            .threads
            .push(spawn("guard-redis", Box::new(move || writer.run()))?);
        store.threads.push(spawn(
            "guard-redis-sub",
            Box::new(move || subscriber.run()),
        )?);
        Ok(Some(store))
    }

    /// Stops both threads and waits for them (each sees the stop within about a second, or
    /// `redis-timeout` when a command is under way).
    pub fn stop(mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for SharedStore {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }
}

/// Bans a network for `ttl` in `guard` because another node did; counts it.
fn apply_ban(
    guard: &Guard,
    state: &State,
    source: IpNet,
    service: Service,
    failures: u32,
    ttl: Duration,
) {
    let now = Instant::now();
    let ttl = ttl.min(crate::MAX_DURATION);
    if guard.impose(now, source, service, failures, now + ttl) {
        state.received.fetch_add(1, Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch (0 before it).
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `at` on the wall clock, in milliseconds since the Unix epoch.
fn wall_ms_of(at: Instant) -> u64 {
    let now = Instant::now();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if at <= now {
        wall_ms().saturating_sub(ms(now - at))
    } else {
        wall_ms().saturating_add(ms(at - now))
    }
}

/// Whole milliseconds of `d`, at least 1 (Redis refuses a zero time to live).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Opens a connection with `timeout` for connecting, reading and writing.
fn connect(client: &redis::Client, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let conn = client.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}
