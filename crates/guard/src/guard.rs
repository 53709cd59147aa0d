//! [`Guard`]: the shared ban and rate-limit state.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use ipnet::IpNet;

use crate::bucket::{Refill, TokenBucket};
use crate::filter::BanFilter;
use crate::shared::{Event, Link, SharedStats};
use crate::source::{self, Key};
use crate::table::{Expiring, Removal, Table};
use crate::{log, Error, GuardConfig, KeyedState, Service};

/// Shards of every table: sources hash to one, so threads working on different sources rarely
/// meet on a lock.
pub const SHARDS: usize = 64;

/// One active ban, as [`Guard::bans`] lists it and [`Guard::record_failure`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BanInfo {
    /// The banned network: a /32 for IPv4, the configured prefix for IPv6.
    pub source: IpNet,
    /// The service whose failure started the ban.
    pub service: Service,
    /// Failures in the window when it started.
    pub failures: u32,
    /// When it started.
    pub since: Instant,
    /// When it ends.
    pub until: Instant,
}

impl Expiring for BanInfo {
    fn expiry(&self) -> Instant {
        self.until
    }
}

/// Counters since start, and the current table sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuardStats {
    /// Authentication failures recorded (allow-listed sources included).
    pub failures: u64,
    /// Bans started.
    pub bans_started: u64,
    /// Bans that ran their full duration.
    pub bans_expired: u64,
    /// Bans lifted through [`Guard::lift`].
    pub bans_lifted: u64,
    /// Bans dropped early because the ban table was full.
    pub bans_evicted: u64,
    /// Calls to [`Guard::is_banned`] that answered true (requests dropped).
    pub banned_drops: u64,
    /// Requests refused by the rate limit, per service.
    pub rate_refused: PerService,
    /// Failure records and rate buckets dropped before they expired because their table was
    /// full (a flood of distinct sources).
    pub tracked_evicted: u64,
    /// Active bans now (expired ones not yet swept included).
    pub bans: usize,
    /// Sources with failures on record now.
    pub failure_records: usize,
    /// Rate buckets held now.
    pub rate_buckets: usize,
}

/// A count per [`Service`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PerService {
    /// TURN.
    pub turn: u64,
    /// The HTTP API.
    pub api: u64,
    /// ICE connectivity checks.
    pub ice: u64,
}

impl PerService {
    /// The count of `service`.
    pub fn get(&self, service: Service) -> u64 {
        match service {
            Service::Turn => self.turn,
            Service::Api => self.api,
            Service::Ice => self.ice,
        }
    }
}

/// Failures of one source within the window, oldest first.
#[derive(Debug)]
struct Failures {
    times: Vec<Instant>,
    expiry: Instant,
}

impl Expiring for Failures {
    fn expiry(&self) -> Instant {
        self.expiry
    }
}

/// Per-source state of one shard.
#[derive(Debug)]
struct Tracking {
    failures: Table<Failures>,
    /// One table per service, in [`Service::index`] order.
    buckets: [Table<TokenBucket>; 3],
}

/// One shard, alone on its cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    /// Which sources may be in `bans`, read without the lock.
    filter: BanFilter,
    /// Active bans; written on ban and unban.
    bans: RwLock<Table<BanInfo>>,
    /// Locked after `bans` never before it (lock order: tracking, then bans).
    tracking: Mutex<Tracking>,
    failures: AtomicU64,
    bans_started: AtomicU64,
    bans_expired: AtomicU64,
    bans_lifted: AtomicU64,
    bans_evicted: AtomicU64,
    banned_drops: AtomicU64,
    rate_refused: [AtomicU64; 3],
    tracked_evicted: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    /// What [`Guard::reconfigure`] may replace.
    live: RwLock<Arc<Live>>,
    /// Keys the tables: fixed for the guard's life.
    ipv6_prefix: u8,
    shards: Box<[Shard]>,
    hasher: KeyedState,
    /// The shared store's queue and state, once [`SharedStore`](crate::SharedStore) started.
    link: OnceLock<Link>,
}

/// The configuration in force and what is derived from it.
#[derive(Debug)]
struct Live {
    config: GuardConfig,
    /// How each service's buckets refill, in [`Service::index`] order.
    rates: [Refill; 3],
}

impl Live {
    fn new(config: GuardConfig) -> Arc<Self> {
        let rates = [
            config.rate.turn.refill(),
            config.rate.api.refill(),
            config.rate.ice.refill(),
        ];
        Arc::new(Live { config, rates })
    }
}

/// Bans after repeated authentication failures and per-source rate limits, shared by every
/// listener and worker (cheap to clone: an `Arc` inside). It never reads the clock: every call
/// takes `now`, so tests run on a virtual clock.
///
/// Method groups:
/// - gates, called for every request before any crypto work, in this order:
///   [`is_banned`](Self::is_banned), then [`allow_request`](Self::allow_request);
/// - input: [`record_failure`](Self::record_failure) after an authentication fails;
/// - administration: [`bans`](Self::bans), [`lift`](Self::lift), [`stats`](Self::stats);
/// - change detection: [`bans_started`](Self::bans_started), lock-free, for holders that end
///   what a new ban covers;
/// - upkeep: [`sweep`](Self::sweep), called periodically (every few seconds) by the owner.
///
/// All state is sharded by source ([`SHARDS`] shards): `is_banned` reads a bit filter of the
/// shard's bans (atomic loads only) and takes the shard's read lock only when the bit is set; `allow_request` and
/// `record_failure` lock one shard's mutex briefly. Nothing allocates per request except a
/// source's first failure record.
#[derive(Debug, Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl Guard {
    /// A guard with `config`, checked first.
    pub fn new(config: GuardConfig) -> Result<Self, Error> {
        config.validate()?;
        let per_shard = config.max_tracked.div_ceil(SHARDS);
        let shards = (0..SHARDS)
            .map(|_| Shard {
                bans: RwLock::new(Table::new(per_shard)),
                filter: BanFilter::new(),
                tracking: Mutex::new(Tracking {
                    failures: Table::new(per_shard),
                    buckets: [(); 3].map(|()| Table::new(per_shard)),
                }),
                failures: AtomicU64::new(0),
                bans_started: AtomicU64::new(0),
                bans_expired: AtomicU64::new(0),
                bans_lifted: AtomicU64::new(0),
                bans_evicted: AtomicU64::new(0),
                banned_drops: AtomicU64::new(0),
                rate_refused: Default::default(),
                tracked_evicted: AtomicU64::new(0),
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                ipv6_prefix: config.ipv6_prefix,
                live: RwLock::new(Live::new(config)),
                shards,
                hasher: KeyedState::random(),
                link: OnceLock::new(),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> GuardConfig {
        self.live().config.clone()
    }

    /// Replaces the configuration (a reload), checked first: the next failure counts toward
    /// the new `max-failures` within the new `find-window`, the next ban lasts the new
    /// `ban-duration`, the next request is judged by the new `allow` list and rate limits.
    /// Bans in force keep their end; failure records and rate buckets are kept.
    /// `ipv6-prefix` and `max-tracked` shape the tables, and the `redis*` keys the shared
    /// store: they stay as they are (a restart changes them); the values given are ignored.
    ///
    /// # Errors
    /// [`Error::Config`] naming a bad key; nothing changes then.
    pub fn reconfigure(&self, mut config: GuardConfig) -> Result<(), Error> {
        config.validate()?;
        let mut live = write(&self.inner.live);
        config.ipv6_prefix = self.inner.ipv6_prefix;
        config.max_tracked = live.config.max_tracked;
        config.redis.clone_from(&live.config.redis);
        config.redis_prefix.clone_from(&live.config.redis_prefix);
        config.redis_timeout = live.config.redis_timeout;
        config.redis_retry = live.config.redis_retry;
        *live = Live::new(config);
        Ok(())
    }

    fn live(&self) -> Arc<Live> {
        Arc::clone(&read(&self.inner.live))
    }

    /// Whether requests from `source` are to be dropped now. A ban found expired is removed
    /// (and logged) on the spot.
    pub fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        let key = self.key(source::canonical(source));
        let shard = self.shard(&key);
        if !shard.filter.may_contain(&key) {
            return false;
        }
        match read(&shard.bans).get(&key) {
            None => return false,
            Some(ban) if ban.until > now => {
                shard.banned_drops.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            Some(_) => {}
        }
        let mut bans = write(&shard.bans);
        if bans.get(&key).is_some_and(|ban| ban.until <= now) {
            if let Some(ban) = bans.remove(&key) {
                end_ban(shard, &ban, Removal::Expired);
            }
            shard.filter.publish(bans.keys());
        }
        false
    }

    /// Takes a token from the (service, source) bucket: false means over the limit (counted
    /// in [`GuardStats::rate_refused`]). Allow-listed sources always pass.
    pub fn allow_request(&self, now: Instant, source: IpAddr, service: Service) -> bool {
        let addr = source::canonical(source);
        let live = self.live();
        if is_allowed(&live.config, addr) {
            return true;
        }
        let key = self.key(addr);
        let shard = self.shard(&key);
        let refill = live.rates[service.index()];
        let mut tracking = lock(&shard.tracking);
        let bucket = tracking.buckets[service.index()].get_or_insert(
            now,
            key,
            || TokenBucket::full(now),
            |_, why| count_eviction(shard, why),
        );
        let allowed = bucket.take(now, 1, &refill);
        if !allowed {
            shard.rate_refused[service.index()].fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    /// Records one failed authentication and logs it (the `auth-failure` line). Failures from
    /// one source add up across services. Returns the ban when this failure starts one: the
    /// `max_failures`-th within `find_window`, unless the source is allow-listed or already
    /// banned.
    ///
    /// `reason` says what failed (a short token such as `bad-integrity`); `user` is the name
    /// the peer claimed, if any. Both are escaped in the log.
    ///
    /// With a [`SharedStore`](crate::SharedStore), the failure (and the ban it starts) is
    /// also queued for Redis, without waiting: failures counted on several nodes may start a
    /// ban a moment later, through the store.
    pub fn record_failure(
        &self,
        now: Instant,
        source: IpAddr,
        service: Service,
        reason: &str,
        user: Option<&str>,
    ) -> Option<BanInfo> {
        let addr = source::canonical(source);
        let live = self.live();
        let config = &live.config;
        let mut line = log::AuthFailure {
            service,
            source: addr,
            reason,
            user,
            failures: 0,
            max_failures: config.max_failures,
        };
        let key = self.key(addr);
        let shard = self.shard(&key);
        shard.failures.fetch_add(1, Ordering::Relaxed);
        if is_allowed(config, addr) {
            tracing::warn!(target: "edge_guard", "{line}");
            return None;
        }
        let mut tracking = lock(&shard.tracking);
        let record = tracking.failures.get_or_insert(
            now,
            key,
            || Failures {
                times: Vec::with_capacity(config.max_failures as usize),
                expiry: now,
            },
            |_, why| count_eviction(shard, why),
        );
        let window = config.find_window;
        record
            .times
            .retain(|&t| now.saturating_duration_since(t) < window);
        record.times.push(now);
        // validate() bounds find_window, so this stays far inside Instant's range.
        record.expiry = now + window;
        line.failures = u32::try_from(record.times.len()).unwrap_or(u32::MAX);
        tracing::warn!(target: "edge_guard", "{line}");
        let source = key.net(config.ipv6_prefix);
        if line.failures < config.max_failures {
            drop(tracking);
            self.share(Event::Failure {
                source,
                service,
                ban: None,
            });
            return None;
        }
        tracking.failures.remove(&key);
        let ban = BanInfo {
            source,
            service,
            failures: line.failures,
            since: now,
            until: now + config.ban_duration,
        };
        let started = insert_ban(shard, key, ban, now, false);
        drop(tracking);
        if started {
            self.share(Event::Failure {
                source,
                service,
                ban: Some(ban),
            });
        }
        started.then_some(ban)
    }

    /// Bans `source` (a network as [`BanInfo::source`] names it) until `until` because
    /// another node decided so, unless it is allow-listed here or already banned. Forgets its
    /// failures; logs the ban with `origin=shared`; nothing goes back to the shared store.
    /// Returns whether a ban started.
    pub(crate) fn impose(
        &self,
        now: Instant,
        source: IpNet,
        service: Service,
        failures: u32,
        until: Instant,
    ) -> bool {
        let addr = source::canonical(source.network());
        let live = self.live();
        if until <= now || is_allowed(&live.config, addr) {
            return false;
        }
        let key = self.key(addr);
        let shard = self.shard(&key);
        let mut tracking = lock(&shard.tracking);
        tracking.failures.remove(&key);
        let ban = BanInfo {
            source: key.net(live.config.ipv6_prefix),
            service,
            failures,
            since: now,
            until,
        };
        insert_ban(shard, key, ban, now, true)
    }

    /// The ban held for `source` (a network as [`BanInfo::source`] names it), expired or
    /// not; unlike [`is_banned`](Self::is_banned) nothing is counted or removed.
    pub(crate) fn ban_of(&self, source: IpNet) -> Option<BanInfo> {
        let key = self.key(source::canonical(source.network()));
        read(&self.shard(&key).bans).get(&key).copied()
    }

    /// Sends `event` to the shared store, if there is one; a full queue drops it (counted).
    fn share(&self, event: Event) {
        if let Some(link) = self.inner.link.get() {
            link.send(event);
        }
    }

    /// Connects the shared store: from now on local failures, bans and lifts go to `link`.
    /// False when one is connected already.
    pub(crate) fn attach(&self, link: Link) -> bool {
        self.inner.link.set(link).is_ok()
    }

    /// The shared store's state, when [`SharedStore`](crate::SharedStore) runs for this guard.
    pub fn shared_stats(&self) -> Option<SharedStats> {
        self.inner.link.get().map(Link::stats)
    }

    /// The active bans, soonest to end first.
    pub fn bans(&self, now: Instant) -> Vec<BanInfo> {
        let mut all: Vec<BanInfo> = self
            .inner
            .shards
            .iter()
            .filter(|shard| !shard.filter.is_empty())
            .flat_map(|shard| {
                read(&shard.bans)
                    .iter()
                    .copied()
                    .filter(|ban| ban.until > now)
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_unstable_by_key(|ban| (ban.until, ban.source));
        all
    }

    /// Lifts the ban covering `source` (its address, or its IPv6 network) and forgets its
    /// failures, here and, through the shared store when there is one, on every node.
    /// Returns whether an active ban was lifted here.
    pub fn lift(&self, now: Instant, source: IpAddr) -> bool {
        let key = self.key(source::canonical(source));
        let lifted = self.lift_key(now, key, false);
        self.share(Event::Lift {
            source: key.net(self.inner.ipv6_prefix),
            at: now,
        });
        lifted
    }

    /// Lifts the ban covering `source` because another node lifted it: logged with
    /// `origin=shared`, nothing goes back to the shared store.
    pub(crate) fn lift_shared(&self, now: Instant, source: IpNet) -> bool {
        let key = self.key(source::canonical(source.network()));
        self.lift_key(now, key, true)
    }

    fn lift_key(&self, now: Instant, key: Key, shared: bool) -> bool {
        let shard = self.shard(&key);
        let mut tracking = lock(&shard.tracking);
        tracking.failures.remove(&key);
        let mut bans = write(&shard.bans);
        let Some(ban) = bans.remove(&key) else {
            return false;
        };
        shard.filter.publish(bans.keys());
        let active = ban.until > now;
        if active {
            shard.bans_lifted.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "edge_guard", "{}", log::Unban {
                source: ban.source,
                cause: "lifted",
                shared,
            });
        } else {
            end_ban(shard, &ban, Removal::Expired);
        }
        active
    }

    /// Removes expired bans (logging each `unban ... cause=expired`), failure records whose
    /// window has passed and refilled rate buckets. Call it every few seconds.
    pub fn sweep(&self, now: Instant) {
        for shard in self.inner.shards.iter() {
            let mut tracking = lock(&shard.tracking);
            tracking.failures.sweep(now, |_, _| {});
            for buckets in &mut tracking.buckets {
                buckets.sweep(now, |_, _| {});
            }
            drop(tracking);
            if !shard.filter.is_empty() {
                let mut bans = write(&shard.bans);
                bans.sweep(now, |ban, why| end_ban(shard, &ban, why));
                shard.filter.publish(bans.keys());
            }
        }
    }

    /// How many bans have started since the guard was made ([`GuardStats::bans_started`]),
    /// read with atomic loads only: no lock, unlike [`stats`](Self::stats). A holder of
    /// something a ban should end (a TURN allocation) compares it with the value it last
    /// acted on and walks its holdings with [`is_banned`](Self::is_banned) only when it
    /// changed; every ban counted in the value read is already visible to `is_banned`.
    pub fn bans_started(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|shard| shard.bans_started.load(Ordering::Acquire))
            .sum()
    }

    /// Counters and table sizes, summed over the shards.
    pub fn stats(&self) -> GuardStats {
        let mut s = GuardStats::default();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for shard in self.inner.shards.iter() {
            s.failures += get(&shard.failures);
            s.bans_started += get(&shard.bans_started);
            s.bans_expired += get(&shard.bans_expired);
            s.bans_lifted += get(&shard.bans_lifted);
            s.bans_evicted += get(&shard.bans_evicted);
            s.banned_drops += get(&shard.banned_drops);
            s.rate_refused.turn += get(&shard.rate_refused[Service::Turn.index()]);
            s.rate_refused.api += get(&shard.rate_refused[Service::Api.index()]);
            s.rate_refused.ice += get(&shard.rate_refused[Service::Ice.index()]);
            s.tracked_evicted += get(&shard.tracked_evicted);
            s.bans += read(&shard.bans).len();
            let tracking = lock(&shard.tracking);
            s.failure_records += tracking.failures.len();
            s.rate_buckets += tracking.buckets.iter().map(Table::len).sum::<usize>();
        }
        s
    }

    fn key(&self, canonical: IpAddr) -> Key {
        Key::new(canonical, self.inner.ipv6_prefix, &self.inner.hasher)
    }

    fn shard(&self, key: &Key) -> &Shard {
        &self.inner.shards[key.shard(SHARDS)]
    }
}

/// Whether `canonical` is on `config`'s allow list.
fn is_allowed(config: &GuardConfig, canonical: IpAddr) -> bool {
    config.allow.iter().any(|net| net.contains(&canonical))
}

/// Counts a failure record or rate bucket evicted while it still mattered.
fn count_eviction(shard: &Shard, why: Removal) {
    if why == Removal::Evicted {
        shard.tracked_evicted.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts and logs a ban leaving the table.
fn end_ban(shard: &Shard, ban: &BanInfo, why: Removal) {
    let (counter, cause) = match why {
        Removal::Expired => (&shard.bans_expired, "expired"),
        Removal::Evicted => (&shard.bans_evicted, "evicted"),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::info!(target: "edge_guard", "{}", log::Unban { source: ban.source, cause, shared: false });
}

/// Puts `ban` in its shard's table unless an active ban holds `key` already (an expired one
/// is ended first), publishes the filter, counts and logs it. The caller holds the shard's
/// tracking lock (lock order). Returns whether the ban started.
fn insert_ban(shard: &Shard, key: Key, ban: BanInfo, now: Instant, shared: bool) -> bool {
    let mut bans = write(&shard.bans);
    match bans.get(&key) {
        Some(old) if old.until > now => return false,
        Some(_) => {
            if let Some(old) = bans.remove(&key) {
                end_ban(shard, &old, Removal::Expired);
            }
        }
        None => {}
    }
    bans.get_or_insert(now, key, || ban, |old, why| end_ban(shard, &old, why));
    shard.filter.publish(bans.keys());
    // Release: whoever reads this count through `bans_started` sees the ban's filter bit.
    shard.bans_started.fetch_add(1, Ordering::Release);
    tracing::warn!(target: "edge_guard", "{}", log::Ban {
        source: ban.source,
        service: ban.service,
        failures: ban.failures,
        duration: ban.until.saturating_duration_since(now),
        shared,
    });
    true
}

// A panic while a lock is held leaves plain counters and maps behind, each still consistent
// on its own: carry on with them rather than take every listener down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
