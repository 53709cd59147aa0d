//! The writer thread: runs the queued events on its connection, resyncs after each
//! (re)connection, and reports the state.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::wire::{parse_ban_value, Message, Names};
use super::{apply_ban, connect, millis, wall_ms, wall_ms_of, Event, State, BATCH, PENDING, TICK};
use crate::{BanInfo, Guard, GuardConfig, Service};

/// The writer thread: runs the queued events on its connection, resyncs, reports the state.
pub(super) struct Writer {
    pub(super) guard: Guard,
    pub(super) client: redis::Client,
    pub(super) names: Names,
    pub(super) node: String,
    /// For log lines: the password left out.
    pub(super) url: String,
    pub(super) timeout: Duration,
    pub(super) retry: Duration,
    pub(super) events: Receiver<Event>,
    /// Bans and lifts decided while Redis was unreachable, oldest first.
    pub(super) pending: VecDeque<Event>,
    pub(super) state: Arc<State>,
    /// Numbers this node's failure entries, so that two never collide in a sorted set.
    pub(super) seq: u64,
}

impl Writer {
    pub(super) fn run(mut self) {
        let mut conn: Option<redis::Connection> = None;
        // Whether the loss (or the failure to connect at start) has been logged and the
        // recovery not yet.
        let mut lost = false;
        let mut ever = false;
        // Whether an error answer has been logged on this connection.
        let mut refused = false;
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
                        refused = false;
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
            let Err(e) = result else {
                continue;
            };
            self.state.errors.fetch_add(1, Ordering::Relaxed);
            if !(e.is_io_error() || e.is_unrecoverable_error()) {
                // An error answer (out of memory, a key of the wrong type, ...): the connection
                // is fine. Said once per connection, then only counted.
                if !refused {
                    tracing::warn!(
                        target: "edge_guard",
                        "shared guard: Redis {} refused a command ({e}); further refusals are \
                         only counted",
                        self.url
                    );
                    refused = true;
                }
                continue;
            }
            self.state.connected.store(false, Ordering::Relaxed);
            conn = None;
            tracing::warn!(
                target: "edge_guard",
                "shared guard: lost Redis {} ({e}); this node keeps its own guard and retries \
                 every {} s",
                self.url,
                self.retry.as_secs_f64()
            );
            lost = true;
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
