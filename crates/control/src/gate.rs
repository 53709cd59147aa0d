//! Who gets in: connections at accept (bans, allow-list, connections per client or per
//! source, connections in all) and every request before its handler (bans, CORS origin, rate limit, preflight,
//! bearer token), in that order.
//!
//! Decisions:
//! - **A banned source** is closed at accept. A request from a source banned while its
//!   connection was open gets 403 `{"error": "forbidden", "detail": "request refused"}` (no
//!   reason given) and, over HTTP/1, `Connection: close`. Either way before any token check.
//! - **Failures** (fail2ban semantics: a wrong credential is a failed login): an
//!   `Authorization` header that is not a bearer token the API accepts is recorded in the
//!   guard as an `api` failure (`bad-token`, or `not-bearer` for another scheme). A request
//!   *without* `Authorization` gets 401 but is no failure: it tried no credential (a browser
//!   probing, a health check), like an SSH connection closed before authenticating. A TCP
//!   connection proves its source address, so every failure counts.
//! - **The test-call page** (`GET /demo` with `api.demo` on) needs no token: it is a
//!   static page that asks for one. Bans, CORS and the rate limit apply to it as to any
//!   request.
//! - **Rate limit**: every request (preflights too) takes a token from the source's `api`
//!   bucket; over it, 429 with `Retry-After` (the seconds one token takes to refill).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edge_guard::{Guard, GuardConfig, Service};
use subtle::ConstantTimeEq;

use crate::client::{Clients, Refusal, Slot};
use crate::cors::{Cors, Verdict};
use crate::stats::{Counters, Event, Snapshot};
use crate::{ApiConfig, Error, TurnRest};

/// The shared admission state of one API.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) guard: Guard,
    clients: Clients,
    /// The CORS whitelist and the tokens, replaced whole by a reload.
    live: RwLock<Arc<Live>>,
    counters: Counters,
    /// 0, or the `Retry-After` seconds of a drain: new sessions are refused with 503.
    draining: AtomicU64,
}

/// What a request is checked against that a reload may change.
#[derive(Debug)]
struct Live {
    cors: Cors,
    tokens: Vec<Vec<u8>>,
    /// `api.demo`: `GET /demo` is served without a token.
    demo: bool,
    /// What `POST /v1/turn-credentials` signs with, when configured.
    turn: Option<TurnRest>,
}

impl Live {
    fn new(config: &ApiConfig) -> Arc<Self> {
        Arc::new(Live {
            cors: Cors::new(&config.cors.domain_whitelist),
            tokens: config
                .tokens
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
            demo: config.demo,
            turn: config.turn.clone(),
        })
    }
}

impl Gate {
    /// The gate of a validated `config`.
    pub(crate) fn new(config: &ApiConfig) -> Result<Self, Error> {
        let guard = match &config.guard {
            Some(guard) => guard.clone(),
            None => Guard::new(GuardConfig::default()).map_err(|e| Error::Config {
                key: "guard",
                reason: e.to_string(),
            })?,
        };
        Ok(Gate {
            live: RwLock::new(Live::new(config)),
            clients: Clients::new(
                config.clients.clone(),
                config.max_connections_per_client,
                config.max_connections,
                guard.config().ipv6_prefix,
            ),
            guard,
            counters: Counters::default(),
            draining: AtomicU64::new(0),
        })
    }

    /// Takes the tokens, the CORS whitelist, `demo`, the TURN REST secret, the client list and the connection limits of a
    /// validated `config` (a reload): the next request and the next connection are judged by
    /// them; connections already open stay.
    pub(crate) fn reload(&self, config: &ApiConfig) {
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = Live::new(config);
        self.clients.replace(
            config.clients.clone(),
            config.max_connections_per_client,
            config.max_connections,
        );
    }

    /// Starts a drain: `POST /v1/sessions` answers 503 with `Retry-After: retry_after`
    /// (at least 1 s); every other request is served as before.
    pub(crate) fn drain(&self, retry_after: Duration) {
        self.draining
            .store(retry_after.as_secs().max(1), Ordering::Release);
    }

    /// `Err(Error::Draining)` once a drain started.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        match self.draining.load(Ordering::Acquire) {
            0 => Ok(()),
            retry_after => Err(Error::Draining { retry_after }),
        }
    }

    /// Whether `api.demo` is on (the test-call page is served).
    pub(crate) fn demo(&self) -> bool {
        self.live().demo
    }

    /// The TURN REST secret and URIs in force, when configured.
    pub(crate) fn turn(&self) -> Option<TurnRest> {
        self.live().turn.clone()
    }

    /// A request that needs no token: `GET /demo` while the page is on (the page itself
    /// asks for the token and sends it with every API request it makes).
    fn is_public(&self, req: &Request) -> bool {
        req.method() == axum::http::Method::GET && req.uri().path() == "/demo" && self.demo()
    }

    fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Admits a new TCP connection from `peer`, or refuses it (counted and logged): the
    /// caller then closes it before anything else (no TLS). The slot is the connection's
    /// place in its client's (or, without `api.clients`, its source's) count and in the
    /// total until dropped.
    ///
    /// The checks run in this order, and a connection that several would refuse is counted
    /// once, in the first one's counter: banned (`refused-banned`), not in `api.clients`
    /// (`refused-unlisted`), its client or source at `api.max-connections-per-client`
    /// (`refused-over-limit`), all sources together at `api.max-connections`
    /// (`refused-over-total`).
    pub(crate) fn admit_connection(&self, now: Instant, peer: SocketAddr) -> Option<Slot> {
        let refused = |event| {
            self.counters.count(now, event, peer);
            None
        };
        if self.guard.is_banned(now, peer.ip()) {
            return refused(Event::RefusedBanned);
        }
        match self.clients.admit(peer) {
            Err(Refusal::Unlisted) => refused(Event::RefusedUnlisted),
            Err(Refusal::OverLimit) => refused(Event::RefusedOverLimit),
            Err(Refusal::OverTotal) => refused(Event::RefusedOverTotal),
            Ok(slot) => {
                self.counters.count(now, Event::Accepted, peer);
                Some(slot)
            }
        }
    }

    /// Counts a failed or timed-out TLS handshake.
    pub(crate) fn tls_failed(&self, now: Instant, peer: SocketAddr, why: impl std::fmt::Display) {
        self.counters
            .count(now, Event::TlsFailed, format_args!("{peer}: {why}"));
    }

    /// The counters for `GET /v1/stats`.
    pub(crate) fn stats(&self, now: Instant) -> Snapshot {
        self.counters
            .snapshot(self.clients.open(), self.guard.bans(now).len())
    }

    /// Checks `Authorization: Bearer <token>` against every token in constant time (per
    /// token length). `Ok(Err)`: refused and to be recorded as a failure with that reason.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), (Error, Option<&'static str>)> {
        let value = headers.get(header::AUTHORIZATION).ok_or((
            Error::Unauthorized("missing Authorization: Bearer <token> header"),
            None,
        ))?;
        let value = value.as_bytes();
        let presented = value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .and_then(|_| value.get(7..))
            .ok_or((
                Error::Unauthorized("the Authorization header is not of the Bearer scheme"),
                Some("not-bearer"),
            ))?
            .trim_ascii();
        let matched = self
            .live()
            .tokens
            .iter()
            .fold(subtle::Choice::from(0), |any, token| {
                any | token.ct_eq(presented)
            });
        if bool::from(matched) {
            Ok(())
        } else {
            Err((
                Error::Unauthorized("the bearer token is not accepted"),
                Some("bad-token"),
            ))
        }
    }

    /// The seconds a source over the rate limit should wait: one token's refill, at least 1.
    fn retry_after(&self) -> u64 {
        self.guard.config().rate.api.retry_after()
    }
}

/// The request middleware: ban, CORS origin, rate limit, preflight, bearer token, in that
/// order; allowed origins' answers get the CORS headers, whatever their status.
pub(crate) async fn admit_request(
    State(gate): State<Arc<Gate>>,
    req: Request,
    next: Next,
) -> Response {
    let now = Instant::now();
    let Some(&ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return Error::NoClientAddress.into_response();
    };
    if gate.guard.is_banned(now, peer.ip()) {
        gate.counters
            .count(now, Event::BannedRequest, Described(peer, &req));
        let mut response = Error::Banned.into_response();
        if req.version() <= Version::HTTP_11 {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return response;
    }
    let origin = match gate.live().cors.check(req.headers()) {
        Verdict::SameOrigin => None,
        Verdict::Allowed(origin) => Some(origin),
        Verdict::Refused(e) => {
            // Still a request: it takes its token, so a flood of them is limited too.
            let _ = gate.guard.allow_request(now, peer.ip(), Service::Api);
            gate.counters
                .count(now, Event::RefusedOrigin, Described(peer, &req));
            return e.into_response();
        }
    };
    let mut response = if !gate.guard.allow_request(now, peer.ip(), Service::Api) {
        gate.counters
            .count(now, Event::RateLimited, Described(peer, &req));
        Error::RateLimited {
            retry_after: gate.retry_after(),
        }
        .into_response()
    } else if let (Some(origin), true) = (&origin, Cors::is_preflight(req.method(), req.headers()))
    {
        // Complete as it is: CORS headers when granted, none when refused.
        return Cors::preflight(req.headers(), origin.clone());
    } else if gate.is_public(&req) {
        next.run(req).await
    } else {
        match gate.authenticate(req.headers()) {
            Ok(()) => next.run(req).await,
            Err((e, failure)) => {
                if let Some(reason) = failure {
                    gate.counters
                        .count(now, Event::AuthFailure, Described(peer, &req));
                    gate.guard
                        .record_failure(now, peer.ip(), Service::Api, reason, None);
                } else {
                    tracing::debug!(%peer, path = %req.uri().path(), "control API: {e}");
                }
                e.into_response()
            }
        }
    };
    if let Some(origin) = origin {
        Cors::decorate(response.headers_mut(), origin);
    }
    response
}

/// A request as refusal lines name it: `peer METHOD path`.
struct Described<'a>(SocketAddr, &'a Request);

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.0, self.1.method(), self.1.uri().path())
    }
}
