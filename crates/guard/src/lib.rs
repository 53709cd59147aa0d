//! edge-guard: bans after repeated authentication failures, and per-source request rate
//! limits, for media-edge's TURN listeners, ICE-lite responder and HTTP API.
//!
//! One [`Guard`] is shared by all of them. Before any crypto work on a request from a source,
//! the listener asks [`Guard::is_banned`] (drop if true), then [`Guard::allow_request`] (drop
//! or answer "too many requests" if false). When authentication fails it calls
//! [`Guard::record_failure`]; the `max_failures`-th failure within `find_window` bans the
//! source for `ban_duration` (defaults, like fail2ban's: 3 failures within 600 s ban for
//! 600 s). [`Guard::bans`] and [`Guard::lift`] serve the API that lists and lifts bans;
//! the owner calls [`Guard::sweep`] every few seconds.
//!
//! # Decisions
//! - **Failures add up across services.** A TURN failure and two API failures from one
//!   source ban it: one attacker probing two doors is still one attacker (the shipped fail2ban
//!   jail does the same, one jail for every service). The ban covers every service.
//! - **Sources.** IPv4-mapped IPv6 addresses count as IPv4. IPv6 sources are counted, banned
//!   and rate-limited per `ipv6-prefix` network (default /64: one host usually owns a whole
//!   /64 and can rotate through it); set 128 to treat each address alone.
//! - **Allow list.** Allow-listed sources are never banned and never rate-limited; their
//!   failures are still logged, with `failures=0/N`, which the fail2ban filter ignores.
//! - **Bounded memory.** Failure records, rate buckets and bans each live in a table capped at
//!   `max-tracked` entries (rounded up to a multiple of [`SHARDS`]). A full table first drops
//!   what has expired (windows passed, buckets refilled, bans over), then the quarter that
//!   expires soonest. So a flood of spoofed sources costs at most the cap, at the price of
//!   forgetting the oldest failure counts (counted in [`GuardStats::tracked_evicted`]); failure
//!   records never push bans out, as bans have their own table.
//! - **Spoofing.** Over UDP a source address proves nothing, so a caller should record a
//!   failure only after the peer has shown it receives at that address (TURN: the request
//!   carries a nonce the server sent there; API: a TCP connection), or an attacker could get a
//!   victim banned.
//! - **Rate limits** are token buckets per (service, source), kept as one instant each
//!   (GCRA): `burst` requests at once, `rate` per second sustained. The bucket,
//!   [`TokenBucket`] with its [`Refill`], is public: it is media-edge's one token bucket,
//!   edge-turn's per-allocation bandwidth cap counts bytes with it.
//!
//! # The log lines (target `edge_guard`, one stable format)
//! Every failure, ban and unban is one line, the whole tracing message:
//!
//! ```text
//! auth-failure service=turn source=203.0.113.7 reason="bad-integrity" user="alice" failures=2/3
//! ban source=203.0.113.7/32 service=turn failures=3 duration=600s
//! unban source=203.0.113.7/32 cause=expired
//! ```
//!
//! - `auth-failure` (level WARN): `service` is `turn`, `api` or `ice`; `source` the peer's
//!   address (IPv4-mapped shown as IPv4); `reason` and `user` are quoted and always present
//!   (`user=""` when no name was given); `failures=n/max` counts this source's failures in
//!   the window, this one included, `0/max` for an allow-listed source.
//! - `ban` (WARN): `source` is the banned network (/32, or the IPv6 prefix), `duration` in
//!   seconds.
//! - `unban` (INFO): `cause` is `expired`, `lifted` (through the API) or `evicted` (the ban
//!   table was full).
//! - With a [`SharedStore`], a ban decided through Redis (another node's, or one reached by
//!   failures counted on several nodes) and a lift made on another node end in
//!   ` origin=shared`.
//!
//! Quoted values come from the network and are escaped: printable ASCII stays, except space,
//! `"` and `\`, which like every control character become `\xNN`; other characters become
//! `\u{N}`; past 128 characters the value is cut and ends in `...`. A quoted value thus never
//! holds a space, a quote or a line break, so a hostile username can neither start a new line
//! nor pass for another field. `deploy/fail2ban/filter.d/media-edge.conf` matches
//! `auth-failure` lines.
//!
//! # Several nodes
//! [`SharedStore`] (optional, `redis = "redis://..."`) shares failures, bans and lifts with
//! the other nodes of a service through Redis, on two threads of its own: the guard's calls
//! stay local.
//!
//! # What it does not do
//! The guard reads no clock (every call takes `now`), opens no socket and touches no
//! firewall: the listeners drop banned sources themselves. Only the [`SharedStore`]'s threads
//! talk to Redis and read the clock. Bans live in memory and do not survive a restart
//! (fail2ban's do, if the jail is used instead or as well), except that a node sharing
//! through Redis loads the bans Redis holds when it starts.

#![forbid(unsafe_code)]

mod bucket;
mod config;
mod error;
mod filter;
mod guard;
mod hash;
mod log;
mod shared;
mod source;
mod table;

use std::fmt;

pub use bucket::{Refill, RefillError, TokenBucket};
pub use config::{
    GuardConfig, RateLimit, RateLimits, RedisUrl, MAX_FAILURES_LIMIT, MAX_REDIS_PREFIX,
    MAX_REDIS_WAIT, MAX_TRACKED_LIMIT,
};
/// Longest duration any setting accepts (ten years, edge-config's bound for every section):
/// keeps `now + duration` far from the end of `Instant`'s range.
pub use edge_config::MAX_DURATION;
pub use error::Error;
pub use guard::{BanInfo, Guard, GuardStats, PerService, SHARDS};
pub use hash::{Keyed, KeyedState};
pub use ipnet::IpNet;
pub use log::MAX_LOGGED_CHARS;
pub use shared::{SharedStats, SharedStore};

/// The service a request or failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Service {
    /// The TURN server (bad MESSAGE-INTEGRITY, unknown user).
    Turn,
    /// The HTTP control API (bad bearer token).
    Api,
    /// ICE connectivity checks at the media ports (bad MESSAGE-INTEGRITY).
    Ice,
}

impl Service {
    /// The name used in log lines: `turn`, `api`, `ice`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Turn => "turn",
            Self::Api => "api",
            Self::Ice => "ice",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Turn => 0,
            Self::Api => 1,
            Self::Ice => 2,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
