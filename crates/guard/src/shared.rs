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

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use crate::{BanInfo, Error, Guard, GuardConfig, Service};

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
struct State {
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

/// The keys and the channel under one prefix.
#[derive(Debug, Clone)]
struct Names {
    prefix: String,
    channel: String,
}

impl Names {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            channel: format!("{prefix}events"),
        }
    }

    fn ban(&self, source: IpNet) -> String {
        format!("{}ban:{source}", self.prefix)
    }

    fn failures(&self, source: IpNet) -> String {
        format!("{}failures:{source}", self.prefix)
    }

    fn lift(&self, source: IpNet) -> String {
        format!("{}lift:{source}", self.prefix)
    }

    /// The network a lift mark names, if it is one.
    fn lift_source(&self, key: &str) -> Option<IpNet> {
        key.strip_prefix(&self.prefix)?
            .strip_prefix("lift:")?
            .parse()
            .ok()
    }

    /// The network a ban key names, if it is one.
    fn ban_source(&self, key: &str) -> Option<IpNet> {
        key.strip_prefix(&self.prefix)?
            .strip_prefix("ban:")?
            .parse()
            .ok()
    }
}

/// A message on the channel, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message<'a> {
    Ban {
        source: IpNet,
        service: Service,
        failures: u32,
        ttl: Duration,
        node: &'a str,
    },
    Lift {
        source: IpNet,
        node: &'a str,
    },
}

impl<'a> Message<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut words = text.split(' ');
        let message = match words.next()? {
            "ban" => Message::Ban {
                source: words.next()?.parse().ok()?,
                service: service(words.next()?)?,
                failures: words.next()?.parse().ok()?,
                ttl: Duration::from_millis(words.next()?.parse().ok()?),
                node: words.next()?,
            },
            "lift" => Message::Lift {
                source: words.next()?.parse().ok()?,
                node: words.next()?,
            },
            _ => return None,
        };
        words.next().is_none().then_some(message)
    }

    fn node(&self) -> &str {
        match self {
            Message::Ban { node, .. } | Message::Lift { node, .. } => node,
        }
    }
}

impl std::fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Ban {
                source,
                service,
                failures,
                ttl,
                node,
            } => write!(
                f,
                "ban {source} {service} {failures} {} {node}",
                ttl.as_millis()
            ),
            Message::Lift { source, node } => write!(f, "lift {source} {node}"),
        }
    }
}

fn service(name: &str) -> Option<Service> {
    [Service::Turn, Service::Api, Service::Ice]
        .into_iter()
        .find(|s| s.as_str() == name)
}

/// A ban key's value: `{service} {failures}`.
fn parse_ban_value(value: &str) -> Option<(Service, u32)> {
    let (name, failures) = value.split_once(' ')?;
    Some((service(name)?, failures.parse().ok()?))
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

/// The writer thread: runs the queued events on its connection, resyncs, reports the state.
struct Writer {
    guard: Guard,
    client: redis::Client,
    names: Names,
    node: String,
    /// For log lines: the password left out.
    url: String,
    timeout: Duration,
    retry: Duration,
    events: Receiver<Event>,
    /// Bans and lifts decided while Redis was unreachable, oldest first.
    pending: VecDeque<Event>,
    state: Arc<State>,
    /// Numbers this node's failure entries, so that two never collide in a sorted set.
    seq: u64,
}

impl Writer {
    fn run(mut self) {
        let mut conn: Option<redis::Connection> = None;
        // Whether the loss (or the failure to connect at start) has been logged and the
        // recovery not yet.
        let mut lost = false;
        let mut ever = false;
        while !self.state.stop.load(Ordering::Relaxed) {
            let Some(c) = conn.as_mut() else {
                match connect(&self.client, self.timeout).and_then(|mut c| {
                    let (sent, loaded) = self.resync(&mut c)?;
                    Ok((c, sent, loaded))
                }) {
                    Ok((c, sent, loaded)) => {
                        conn = Some(c);
                        self.state.connected.store(true, Ordering::Relaxed);
                        if lost {
                            tracing::info!(
                                target: "edge_guard",
                                "shared guard: Redis {} reachable again; resynced: {sent} bans \
                                 and lifts sent, {loaded} bans loaded",
                                self.url
                            );
                        } else {
                            tracing::info!(
                                target: "edge_guard",
                                "shared guard: connected to Redis {} (prefix {:?}); {loaded} \
                                 bans loaded",
                                self.url,
                                self.names.prefix
                            );
                        }
                        lost = false;
                        ever = true;
                    }
                    Err(e) => {
                        self.state.errors.fetch_add(1, Ordering::Relaxed);
                        if !lost {
                            let what = if ever { "lost" } else { "cannot reach" };
                            tracing::warn!(
                                target: "edge_guard",
                                "shared guard: {what} Redis {} ({e}); this node keeps its own \
                                 guard and retries every {} s",
                                self.url,
                                self.retry.as_secs_f64()
                            );
                            lost = true;
                        }
                        self.wait_offline();
                    }
                }
                continue;
            };
            let result = match self.events.recv_timeout(TICK) {
                Ok(event) => self.run_event(c, event),
                Err(RecvTimeoutError::Timeout) => redis::cmd("PING").query::<()>(c),
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if let Err(e) = result {
                self.state.errors.fetch_add(1, Ordering::Relaxed);
                self.state.connected.store(false, Ordering::Relaxed);
                conn = None;
                tracing::warn!(
                    target: "edge_guard",
                    "shared guard: lost Redis {} ({e}); this node keeps its own guard and \
                     retries every {} s",
                    self.url,
                    self.retry.as_secs_f64()
                );
                lost = true;
            }
        }
    }

    /// While Redis is unreachable: keeps the bans and lifts decided meanwhile for the
    /// replay, for `retry` (or until a stop).
    fn wait_offline(&mut self) {
        let until = Instant::now() + self.retry;
        while !self.state.stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.events.recv_timeout(left.min(TICK)) {
                Ok(event) => self.keep(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Keeps `event` for the replay if it is a ban or a lift.
    fn keep(&mut self, event: Event) {
        let replay = match event {
            Event::Failure { ban: Some(_), .. } | Event::Lift { .. } => event,
            Event::Failure { ban: None, .. } | Event::Resync => return,
        };
        if self.pending.len() >= PENDING {
            self.pending.pop_front();
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.pending.push_back(replay);
    }

    /// Runs one event; on an error a ban or lift is kept for the replay.
    fn run_event(&mut self, c: &mut redis::Connection, event: Event) -> redis::RedisResult<()> {
        let result = match event {
            Event::Failure {
                source,
                service,
                ban: None,
            } => self.count_failure(c, source, service),
            Event::Failure { ban: Some(ban), .. } => self.publish_ban(c, &ban),
            Event::Lift { source, at } => self.publish_lift(c, source, at),
            Event::Resync => self
                .apply_lift_marks(c)
                .and_then(|()| self.load_bans(c).map(|_| ())),
        };
        if result.is_err() {
            self.keep(event);
        }
        result
    }

    /// Adds a failure to the shared count; bans and publishes when it reaches the limit.
    fn count_failure(
        &mut self,
        c: &mut redis::Connection,
        source: IpNet,
        service: Service,
    ) -> redis::RedisResult<()> {
        let config: GuardConfig = self.guard.config();
        let key = self.names.failures(source);
        let now_ms = wall_ms();
        let window_ms = millis(config.find_window);
        self.seq += 1;
        let member = format!("{}:{}", self.node, self.seq);
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(now_ms.saturating_sub(window_ms))
            .ignore()
            .cmd("ZADD")
            .arg(&key)
            .arg(now_ms)
            .arg(&member)
            .ignore()
            .cmd("ZCARD")
            .arg(&key)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(window_ms)
            .ignore()
            .query(c)?;
        if count < u64::from(config.max_failures) {
            return Ok(());
        }
        let now = Instant::now();
        let failures = u32::try_from(count).unwrap_or(u32::MAX);
        let until = now + config.ban_duration;
        if !self.guard.impose(now, source, service, failures, until) {
            // Banned here already (so published), or allow-listed here.
            return Ok(());
        }
        let ban = BanInfo {
            source,
            service,
            failures,
            since: now,
            until,
        };
        self.publish_ban(c, &ban)
    }

    /// Writes `ban`'s key, clears the network's shared failures, and publishes the ban.
    fn publish_ban(&self, c: &mut redis::Connection, ban: &BanInfo) -> redis::RedisResult<()> {
        let ttl = ban.until.saturating_duration_since(Instant::now());
        if ttl.is_zero() {
            return Ok(());
        }
        let message = Message::Ban {
            source: ban.source,
            service: ban.service,
            failures: ban.failures,
            ttl,
            node: &self.node,
        };
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.names.ban(ban.source))
            .arg(format!("{} {}", ban.service, ban.failures))
            .arg("PX")
            .arg(millis(ttl))
            .ignore()
            .cmd("DEL")
            .arg(self.names.failures(ban.source))
            .ignore()
            .cmd("PUBLISH")
            .arg(&self.names.channel)
            .arg(message.to_string())
            .ignore()
            .query::<()>(c)?;
        self.state.published.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes the network's ban and failures, leaves a mark of the lift made at `at` for the
    /// nodes that miss the message (kept as long as a ban started before it could last), and
    /// publishes the lift.
    fn publish_lift(
        &self,
        c: &mut redis::Connection,
        source: IpNet,
        at: Instant,
    ) -> redis::RedisResult<()> {
        let message = Message::Lift {
            source,
            node: &self.node,
        };
        let at_ms = wall_ms_of(at);
        let keep = millis(self.guard.config().ban_duration);
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(self.names.ban(source))
            .arg(self.names.failures(source))
            .ignore()
            .cmd("SET")
            .arg(self.names.lift(source))
            .arg(at_ms)
            .arg("PX")
            .arg(keep)
            .ignore()
            .cmd("PUBLISH")
            .arg(&self.names.channel)
            .arg(message.to_string())
            .ignore()
            .query::<()>(c)?;
        self.state.published.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// After (re)connecting: applies the lifts made elsewhere meanwhile, replays what was
    /// decided here offline (bans still in force after that), then loads every ban. Returns
    /// (events replayed, bans loaded).
    fn resync(&mut self, c: &mut redis::Connection) -> redis::RedisResult<(usize, usize)> {
        self.apply_lift_marks(c)?;
        let mut sent = 0;
        while let Some(event) = self.pending.front().copied() {
            match event {
                Event::Failure { ban: Some(ban), .. } => {
                    // Still in force here? Lifted or expired meanwhile: nothing to send.
                    if self
                        .guard
                        .ban_of(ban.source)
                        .is_some_and(|b| b.until > Instant::now())
                    {
                        self.publish_ban(c, &ban)?;
                        sent += 1;
                    }
                }
                Event::Lift { source, at } => {
                    self.publish_lift(c, source, at)?;
                    sent += 1;
                }
                Event::Failure { ban: None, .. } | Event::Resync => {}
            }
            self.pending.pop_front();
        }
        Ok((sent, self.load_bans(c)?))
    }

    /// The keys matching `{prefix}{kind}:*`, at most about the guard's table size (more bans
    /// could not be held anyway).
    fn scan(&self, c: &mut redis::Connection, kind: &str) -> redis::RedisResult<Vec<String>> {
        let pattern = format!("{}{kind}:*", self.names.prefix);
        let limit = self.guard.config().max_tracked;
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query(c)?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= limit {
                break;
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// Applies the lifts other nodes left marks of, to bans here that started before them.
    fn apply_lift_marks(&self, c: &mut redis::Connection) -> redis::RedisResult<()> {
        for chunk in self.scan(c, "lift")?.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.cmd("GET").arg(key);
            }
            let answers: Vec<Option<u64>> = pipe.query(c)?;
            for (key, at_ms) in chunk.iter().zip(answers) {
                let (Some(source), Some(at_ms)) = (self.names.lift_source(key), at_ms) else {
                    continue;
                };
                let started_before = self
                    .guard
                    .ban_of(source)
                    .is_some_and(|ban| wall_ms_of(ban.since) < at_ms);
                if started_before && self.guard.lift_shared(Instant::now(), source) {
                    self.state.received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// Loads every ban Redis holds into the guard; returns how many it holds.
    fn load_bans(&self, c: &mut redis::Connection) -> redis::RedisResult<usize> {
        let keys = self.scan(c, "ban")?;
        let mut loaded = 0;
        for chunk in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
            }
            let answers: Vec<(Option<String>, i64)> = pipe.query(c)?;
            for (key, (value, ttl)) in chunk.iter().zip(answers) {
                let parsed = self
                    .names
                    .ban_source(key)
                    .zip(value.as_deref().and_then(parse_ban_value));
                let Some((source, (service, failures))) = parsed else {
                    self.state.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                // PTTL: -2 gone meanwhile, -1 no expiry (not written by a node): skipped.
                let Ok(ttl) = u64::try_from(ttl) else {
                    continue;
                };
                apply_ban(
                    &self.guard,
                    &self.state,
                    source,
                    service,
                    failures,
                    Duration::from_millis(ttl),
                );
                loaded += 1;
            }
        }
        Ok(loaded)
    }
}

/// The subscriber thread: applies what other nodes publish.
struct Subscriber {
    guard: Guard,
    client: redis::Client,
    names: Names,
    node: String,
    timeout: Duration,
    retry: Duration,
    /// The writer's queue, to ask for a resync after each (re)subscription.
    resync: SyncSender<Event>,
    state: Arc<State>,
}

impl Subscriber {
    fn run(self) {
        while !self.state.stop.load(Ordering::Relaxed) {
            if let Err(e) = self.listen() {
                // The writer logs the loss and the recovery; this counts.
                self.state.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(target: "edge_guard", "shared guard: subscription ended: {e}");
                let until = Instant::now() + self.retry;
                while Instant::now() < until && !self.state.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(until.saturating_duration_since(Instant::now()).min(TICK));
                }
            }
        }
    }

    /// Subscribes and applies messages until an error or a stop.
    fn listen(&self) -> redis::RedisResult<()> {
        let mut conn = connect(&self.client, self.timeout)?;
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe(&self.names.channel)?;
        // Idle is normal here: wake every TICK only to see a stop.
        pubsub.set_read_timeout(Some(TICK))?;
        // Bans published before the subscription took effect are in Redis: load them.
        if self.resync.try_send(Event::Resync).is_err() {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
        }
        while !self.state.stop.load(Ordering::Relaxed) {
            let message = match pubsub.get_message() {
                Ok(m) => m,
                Err(e) if e.is_timeout() => continue,
                Err(e) => return Err(e),
            };
            let text = std::str::from_utf8(message.get_payload_bytes()).unwrap_or("");
            match Message::parse(text) {
                Some(m) if m.node() == self.node => {}
                Some(Message::Ban {
                    source,
                    service,
                    failures,
                    ttl,
                    ..
                }) => apply_ban(&self.guard, &self.state, source, service, failures, ttl),
                Some(Message::Lift { source, .. }) => {
                    if self.guard.lift_shared(Instant::now(), source) {
                        self.state.received.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    self.state.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "edge_guard", "shared guard: unreadable message {text:?}");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_round_trip_and_refuse_garbage() {
        let ban = Message::Ban {
            source: "203.0.113.7/32".parse().unwrap(),
            service: Service::Turn,
            failures: 3,
            ttl: Duration::from_millis(599_873),
            node: "00aa",
        };
        let text = ban.to_string();
        assert_eq!(text, "ban 203.0.113.7/32 turn 3 599873 00aa");
        assert_eq!(Message::parse(&text), Some(ban));
        let lift = Message::Lift {
            source: "2001:db8::/64".parse().unwrap(),
            node: "b",
        };
        assert_eq!(Message::parse(&lift.to_string()), Some(lift));
        for bad in [
            "",
            "ban",
            "ban 203.0.113.7/32 turn 3 599873",
            "ban 203.0.113.7/32 smtp 3 1 n",
            "ban 203.0.113.7 turn 3 1 n",
            "ban 203.0.113.7/32 turn -3 1 n",
            "lift 203.0.113.7/32 n extra",
            "unban 203.0.113.7/32 n",
        ] {
            assert_eq!(Message::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_name_their_network() {
        let names = Names::new("edge:");
        let net: IpNet = "2001:db8::/64".parse().unwrap();
        assert_eq!(names.ban(net), "edge:ban:2001:db8::/64");
        assert_eq!(names.failures(net), "edge:failures:2001:db8::/64");
        assert_eq!(names.ban_source("edge:ban:2001:db8::/64"), Some(net));
        assert_eq!(names.ban_source("other:ban:2001:db8::/64"), None);
        assert_eq!(names.lift(net), "edge:lift:2001:db8::/64");
        assert_eq!(names.lift_source("edge:lift:2001:db8::/64"), Some(net));
        assert_eq!(names.lift_source("edge:ban:2001:db8::/64"), None);
        assert_eq!(parse_ban_value("api 4"), Some((Service::Api, 4)));
        assert_eq!(parse_ban_value("api"), None);
    }
}
