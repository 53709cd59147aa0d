//! The guard's configuration: a serde section (kebab-case keys, unknown keys refused) with
//! fail2ban-like defaults, checked by [`Guard::new`](crate::Guard::new).

use std::fmt;
use std::time::Duration;

use edge_config::{networks, seconds, MAX_DURATION};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use crate::bucket::{Refill, RefillError};
use crate::Error;

/// Largest `max-failures`: each tracked source keeps that many failure instants.
pub const MAX_FAILURES_LIMIT: u32 = 64;

/// Largest `max-tracked`: entries per table (there are five: failures, three rate-bucket
/// tables, bans), so a spoofed flood costs at most a few hundred MiB.
pub const MAX_TRACKED_LIMIT: usize = 1 << 22;

/// The whole section. Durations are seconds (integer or fractional).
///
/// ```toml
/// max-failures = 3        # failures within find-window that start a ban
/// find-window = 600       # seconds
/// ban-duration = 600      # seconds
/// allow = ["127.0.0.1", "192.0.2.0/24"]   # never banned, never rate-limited
/// ipv6-prefix = 64        # IPv6 sources are counted, banned and limited per /64
/// max-tracked = 65536     # entries per table (failures, rate buckets, bans)
///
/// redis = "redis://10.0.0.5:6379/0"   # share failures and bans with other nodes
/// redis-prefix = "media-edge:"         # start of every key and of the channel
/// redis-timeout = 1       # seconds: connecting, and each command's read and write
/// redis-retry = 1         # seconds between two attempts to reach Redis
///
/// [rate.turn]
/// rate = 50               # requests per second, sustained
/// burst = 200             # requests at once
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Failures from one source within `find_window` that start a ban. Default 3.
    pub max_failures: u32,
    /// How far back failures count (a sliding window). Default 600 s.
    #[serde(deserialize_with = "seconds")]
    pub find_window: Duration,
    /// How long a ban lasts. Default 600 s.
    #[serde(deserialize_with = "seconds")]
    pub ban_duration: Duration,
    /// Sources never banned and never rate-limited (e.g. the operator's monitoring). Bare
    /// addresses mean a single host. Default empty.
    #[serde(deserialize_with = "networks")]
    pub allow: Vec<IpNet>,
    /// Prefix length an IPv6 source is reduced to before counting, banning and rate limiting
    /// (one host usually owns a whole /64). 128 treats every IPv6 address alone. Default 64.
    pub ipv6_prefix: u8,
    /// Most entries in each table (failure records, rate buckets of each service, bans),
    /// 1 to [`MAX_TRACKED_LIMIT`], rounded up to a multiple of the shard count (64).
    /// Default 65536.
    pub max_tracked: usize,
    /// Per-source request rate limits, per service.
    pub rate: RateLimits,
    /// The Redis server through which several nodes share failures and bans
    /// (`redis://[user:password@]host[:port][/db]`), see [`SharedStore`](crate::SharedStore).
    /// Default none: this node's guard alone.
    pub redis: Option<RedisUrl>,
    /// Start of every Redis key and of the pub/sub channel, so several services can share
    /// one Redis: nodes of one service share the prefix. Default `media-edge:`.
    pub redis_prefix: String,
    /// Timeout of connecting to Redis and of each command's read and write. Default 1 s.
    #[serde(deserialize_with = "seconds")]
    pub redis_timeout: Duration,
    /// Wait between two attempts to reach Redis while it is unreachable. Default 1 s.
    #[serde(deserialize_with = "seconds")]
    pub redis_retry: Duration,
}

/// Longest `redis-timeout` and `redis-retry`.
pub const MAX_REDIS_WAIT: Duration = Duration::from_secs(60);

/// Longest `redis-prefix`, in bytes.
pub const MAX_REDIS_PREFIX: usize = 64;

/// A Redis URL, checked when parsed. Its `Debug` and `Display` leave the password out, so
/// printing a configuration never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Checks `url` as the Redis client would read it.
    ///
    /// # Errors
    /// [`Error::Config`] (key `redis`) when the client does not accept it.
    pub fn new(url: &str) -> Result<Self, Error> {
        redis::Client::open(url).map_err(|e| Error::Config {
            key: "redis",
            problem: format!("not a Redis URL: {e}"),
        })?;
        Ok(Self(url.to_owned()))
    }

    /// The URL as configured, password included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `scheme://user:password@rest`: everything between `://` and `@` is credentials.
        match (self.0.split_once("://"), self.0.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, rest))) => write!(f, "{scheme}://***@{rest}"),
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let url = String::deserialize(d)?;
        Self::new(&url).map_err(serde::de::Error::custom)
    }
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_failures: 3,
            find_window: Duration::from_secs(600),
            ban_duration: Duration::from_secs(600),
            allow: Vec::new(),
            ipv6_prefix: 64,
            max_tracked: 65536,
            rate: RateLimits::default(),
            redis: None,
            redis_prefix: "media-edge:".to_owned(),
            redis_timeout: Duration::from_secs(1),
            redis_retry: Duration::from_secs(1),
        }
    }
}

impl GuardConfig {
    /// Checks every value, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_failures == 0 || self.max_failures > MAX_FAILURES_LIMIT {
            return Err(Error::Config {
                key: "max-failures",
                problem: format!("{} is outside 1..={MAX_FAILURES_LIMIT}", self.max_failures),
            });
        }
        check_duration("find-window", self.find_window)?;
        check_duration("ban-duration", self.ban_duration)?;
        if self.ipv6_prefix > 128 {
            return Err(Error::Config {
                key: "ipv6-prefix",
                problem: format!("{} is longer than 128", self.ipv6_prefix),
            });
        }
        if self.max_tracked == 0 {
            return Err(Error::Config {
                key: "max-tracked",
                problem: "0 leaves no room to count anything".into(),
            });
        }
        if self.max_tracked > MAX_TRACKED_LIMIT {
            return Err(Error::Config {
                key: "max-tracked",
                problem: format!("{} is above {MAX_TRACKED_LIMIT}", self.max_tracked),
            });
        }
        self.rate.turn.validate("rate.turn")?;
        self.rate.api.validate("rate.api")?;
        self.rate.ice.validate("rate.ice")?;
        let prefix = &self.redis_prefix;
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.');
        if prefix.is_empty() || prefix.len() > MAX_REDIS_PREFIX || !prefix.chars().all(plain) {
            return Err(Error::Config {
                key: "redis-prefix",
                problem: format!(
                    "{prefix:?} is not 1 to {MAX_REDIS_PREFIX} letters, digits and `:_-.`"
                ),
            });
        }
        check_wait("redis-timeout", self.redis_timeout)?;
        check_wait("redis-retry", self.redis_retry)
    }
}

fn check_wait(key: &'static str, d: Duration) -> Result<(), Error> {
    if d < Duration::from_millis(10) || d > MAX_REDIS_WAIT {
        return Err(Error::Config {
            key,
            problem: format!(
                "{} s is outside [0.01, {}] s",
                d.as_secs_f64(),
                MAX_REDIS_WAIT.as_secs()
            ),
        });
    }
    Ok(())
}

fn check_duration(key: &'static str, d: Duration) -> Result<(), Error> {
    if d.is_zero() || d > MAX_DURATION {
        return Err(Error::Config {
            key,
            problem: format!(
                "{} s is outside (0, {}] s",
                d.as_secs_f64(),
                MAX_DURATION.as_secs()
            ),
        });
    }
    Ok(())
}

/// `[rate]`: one limit per service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RateLimits {
    /// TURN requests (Allocate, Refresh, CreatePermission, ChannelBind; not data). Default
    /// 50/s, burst 200: generous for clients behind one carrier-grade NAT.
    pub turn: RateLimit,
    /// HTTP API requests. Default 20/s, burst 100.
    pub api: RateLimit,
    /// ICE connectivity checks (STUN Binding requests at the media ports). Default 100/s,
    /// burst 400: many sessions may share one public address.
    pub ice: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            turn: RateLimit {
                rate: 50.0,
                burst: 200,
            },
            api: RateLimit {
                rate: 20.0,
                burst: 100,
            },
            ice: RateLimit {
                rate: 100.0,
                burst: 400,
            },
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `rate` per second.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub rate: f64,
    /// Requests allowed at once (the bucket's size).
    pub burst: u32,
}

impl RateLimit {
    /// How a bucket of this limit refills (validate() keeps it as configured).
    pub(crate) fn refill(&self) -> Refill {
        Refill::new(self.rate, u64::from(self.burst))
    }

    /// The seconds a source over this limit should wait (`Retry-After`): one token's
    /// refill, at least 1.
    pub fn retry_after(&self) -> u64 {
        // validate() keeps rate > 0 and finite; the cast saturates.
        (1.0 / self.rate).ceil().max(1.0) as u64
    }

    fn validate(&self, key: &'static str) -> Result<(), Error> {
        let checked = if self.rate > 1e9 {
            Err(RefillError::Rate)
        } else {
            Refill::check(self.rate, u64::from(self.burst))
        };
        let problem = match checked {
            Ok(()) => return Ok(()),
            Err(RefillError::Rate) => format!(
                "rate {} is outside [{:e}, 1e9] per second",
                self.rate,
                Refill::MIN_PER_SECOND
            ),
            Err(RefillError::Burst) => "burst 0 refuses every request".into(),
            Err(_) => format!(
                "burst {} at rate {} takes longer than {} s to refill",
                self.burst,
                self.rate,
                MAX_DURATION.as_secs()
            ),
        };
        Err(Error::Config { key, problem })
    }
}
