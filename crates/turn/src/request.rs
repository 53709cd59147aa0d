//! Requests (RFC 8656 §7-§12, RFC 8489 §9.2): Binding, and the authenticated Allocate,
//! Refresh, CreatePermission and ChannelBind, each answered into the caller's buffer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_stun::{
    AddressFamily, AttrType, Attribute, Class, ErrorCode, IntegrityKey, Message, MessageEncoder,
    Method, TransactionId, UnknownAttributes,
};

use crate::allocation::{CloseReason, CreateError};
use crate::auth::Refusal;
use crate::command::{Command, Opening};
use crate::server::{ClientAction, Event, Server};
use crate::transport::FiveTuple;

/// REQUESTED-TRANSPORT value for UDP, the only relay transport offered.
const UDP: u8 = 17;

/// What an answer needs of its request once the request's bytes are gone: an Allocate
/// is answered when its relay socket opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) tid: TransactionId,
    /// Whether the request carried FINGERPRINT (the answer does then).
    pub(crate) fingerprint: bool,
}

impl Head {
    fn of(msg: &Message<'_>) -> Self {
        Self {
            method: msg.method(),
            tid: msg.transaction_id(),
            fingerprint: msg.has_fingerprint(),
        }
    }
}

/// How a request is answered: an error code, or success with attributes.
pub(crate) enum Outcome {
    Error(u16),
    /// 300 (Try Alternate) with ALTERNATE-SERVER: a draining server's answer to a new
    /// Allocate.
    Redirect(SocketAddr),
    /// Success with the lifetime (Allocate and Refresh) and relayed address (Allocate).
    Success {
        lifetime: Option<u32>,
        relayed: Option<SocketAddr>,
    },
    /// No answer now: an Allocate waits for its relay socket ([`Command::OpenRelay`]), or
    /// is a retransmission of one that does.
    Deferred,
}

use Outcome::Error as Fail;

const OK: Outcome = Outcome::Success {
    lifetime: None,
    relayed: None,
};

/// The key and username a request was authenticated with.
struct Authenticated<'m> {
    key: IntegrityKey,
    username: &'m str,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unauthenticated {
    /// No MESSAGE-INTEGRITY: the first step of the normal exchange, answered with a
    /// challenge (401 with REALM and NONCE). Not a failure.
    Challenge,
    /// Credentials without USERNAME, REALM or NONCE (400).
    Incomplete,
    /// A nonce this server did not issue to this address, or one that expired (438). Not a
    /// failure: the source has not shown that it receives at its address.
    StaleNonce,
    /// Wrong credentials on a request with a valid nonce (401): a failure for the guard,
    /// with the reason logged.
    Failed(&'static str),
}

impl Unauthenticated {
    fn code(self) -> u16 {
        match self {
            Self::Challenge | Self::Failed(_) => 401,
            Self::Incomplete => 400,
            Self::StaleNonce => 438,
        }
    }
}

impl Server {
    /// Handles a request: Binding without credentials, the TURN methods with them.
    pub(crate) fn request(
        &mut self,
        now: Instant,
        tuple: FiveTuple,
        msg: &Message<'_>,
        reply: &mut [u8],
    ) -> ClientAction {
        if msg.has_unknown_comprehension_required() {
            let mut unknown = [AttrType(0); 16];
            let unknown = msg.unknown_comprehension_required(&mut unknown);
            return self.error_reply(msg, reply, 420, Some(unknown), &tuple, now);
        }
        let method = msg.method();
        if method == Method::BINDING {
            return self.encode(msg, reply, &tuple, OK, None);
        }
        if ![
            Method::ALLOCATE,
            Method::REFRESH,
            Method::CREATE_PERMISSION,
            Method::CHANNEL_BIND,
        ]
        .contains(&method)
        {
            return self.error_reply(msg, reply, 400, None, &tuple, now);
        }
        let auth = match self.authenticate(now, &tuple, msg) {
            Ok(auth) => auth,
            Err(refusal) => {
                if refusal.code() == 401 {
                    self.stats.unauthorized += 1;
                }
                if let Unauthenticated::Failed(reason) = refusal {
                    self.auth_failed(now, &tuple, reason, msg.username().ok().flatten());
                }
                return self.error_reply(msg, reply, refusal.code(), None, &tuple, now);
            }
        };
        let outcome = match method {
            Method::ALLOCATE => self.allocate(now, tuple, msg, &auth),
            Method::REFRESH => self.refresh(now, &tuple, msg, auth.username),
            Method::CREATE_PERMISSION => self.create_permission(now, &tuple, msg, auth.username),
            _ => self.channel_bind(now, &tuple, msg, auth.username),
        };
        self.encode(msg, reply, &tuple, outcome, Some(&auth.key))
    }

    /// Long-term credential check (RFC 8489 §9.2.4). The nonce is checked before the
    /// credentials, so every [`Unauthenticated::Failed`] carries a valid nonce.
    fn authenticate<'m>(
        &self,
        now: Instant,
        tuple: &FiveTuple,
        msg: &Message<'m>,
    ) -> Result<Authenticated<'m>, Unauthenticated> {
        if !msg.has_integrity() {
            return Err(Unauthenticated::Challenge);
        }
        let (Ok(Some(username)), Ok(Some(_realm)), Ok(Some(nonce))) =
            (msg.username(), msg.realm(), msg.nonce())
        else {
            return Err(Unauthenticated::Incomplete);
        };
        let unix = self.unix_secs(now);
        if !self
            .nonces
            .is_valid(nonce.as_bytes(), unix, tuple.remote.ip())
        {
            return Err(Unauthenticated::StaleNonce);
        }
        let mut accepted = None;
        let found = self.credentials.find_key(username, unix, |key| {
            let key = IntegrityKey::new(key);
            let ok = msg.verify_integrity(&key).is_ok();
            if ok {
                accepted = Some(key);
            }
            ok
        });
        match (found, accepted) {
            (Ok(Some(_)), Some(key)) => Ok(Authenticated { key, username }),
            (Ok(_), _) => Err(Unauthenticated::Failed("bad-integrity")),
            (Err(Refusal::UnknownUser), _) => Err(Unauthenticated::Failed("unknown-user")),
            (Err(Refusal::Expired), _) => Err(Unauthenticated::Failed("expired-username")),
        }
    }

    /// Reports a failed authentication to the guard (which logs it, and bans the source
    /// at its `max-failures`-th failure: its requests are dropped from then on).
    fn auth_failed(
        &mut self,
        now: Instant,
        tuple: &FiveTuple,
        reason: &str,
        username: Option<&str>,
    ) {
        self.stats.auth_failures += 1;
        // A ban that starts here is logged by the guard and takes effect at the source's
        // next request (the gate in `Server::stun`), and in a kernel fast path at once.
        let ban = self.guard.record_failure(
            now,
            tuple.remote.ip(),
            edge_guard::Service::Turn,
            reason,
            username,
        );
        if let Some(ban) = ban.filter(|_| self.track_bans) {
            self.push_event(Event::SourceBanned {
                source: ban.source,
                until: ban.until,
            });
        }
    }

    fn allocate(
        &mut self,
        now: Instant,
        tuple: FiveTuple,
        msg: &Message<'_>,
        auth: &Authenticated<'_>,
    ) -> Outcome {
        let txid = msg.transaction_id().0;
        if let Some(opening) = self.openings.iter().find(|o| *o.tuple() == tuple) {
            // Answered when its socket opens; another transaction meanwhile is 437.
            return if opening.txid() == txid {
                Outcome::Deferred
            } else {
                Fail(437)
            };
        }
        if let Some(slot) = self.allocations.slot_of(&tuple) {
            // A retransmitted Allocate gets the same success again; anything else is 437.
            let Some(a) = self.allocations.get(slot) else {
                return Fail(437);
            };
            if a.txid != txid {
                return Fail(437);
            }
            let left = a.expires.saturating_duration_since(now).as_secs();
            return Outcome::Success {
                lifetime: Some(u32::try_from(left).unwrap_or(u32::MAX)),
                relayed: Some(self.relayed_address(a.port)),
            };
        }
        match self.draining {
            Some(Some(alternate)) => return Outcome::Redirect(alternate),
            Some(None) => return Fail(508),
            None => {}
        }
        match msg.requested_transport() {
            Ok(Some(UDP)) => {}
            Ok(Some(_)) => return Fail(442),
            _ => return Fail(400),
        }
        let (Ok(even), Ok(token), Ok(family), Ok(_dont_fragment)) = (
            msg.even_port(),
            msg.reservation_token(),
            msg.requested_address_family(),
            msg.dont_fragment(),
        ) else {
            return Fail(400);
        };
        if token.is_some() {
            // No tokens are handed out (EVEN-PORT's R bit is not honoured), so none is valid.
            return Fail(if even.is_some() { 400 } else { 508 });
        }
        let relay_family = AddressFamily::of(&self.relayed_address(0));
        if family.is_some_and(|f| f != relay_family) {
            return Fail(440);
        }
        let lifetime = match self.lifetime(msg) {
            Ok(l) => l,
            Err(code) => return Fail(code),
        };
        match self
            .allocations
            .ledger()
            .admit(auth.username, even.is_some())
        {
            Ok(port) => {
                self.openings.push(Opening::new(
                    port,
                    tuple,
                    auth.username,
                    Head::of(msg),
                    auth.key.clone(),
                    lifetime,
                    even.is_some(),
                ));
                self.allocations.push_command(Command::OpenRelay { port });
                Outcome::Deferred
            }
            Err(CreateError::Quota) => Fail(486),
            Err(CreateError::Capacity) => Fail(508),
        }
    }

    /// The lifetime to grant: the request's LIFETIME within [default, max], or the default.
    fn lifetime(&self, msg: &Message<'_>) -> Result<Duration, u16> {
        let asked = msg.lifetime().map_err(|_| 400u16)?;
        let (default, max) = (self.config.default_lifetime, self.config.max_lifetime);
        Ok(asked.map_or(default, |s| {
            Duration::from_secs(u64::from(s)).clamp(default, max)
        }))
    }

    fn refresh(
        &mut self,
        now: Instant,
        tuple: &FiveTuple,
        msg: &Message<'_>,
        username: &str,
    ) -> Outcome {
        let slot = match self.owned_allocation(tuple, username) {
            Ok(slot) => slot,
            Err(code) => return Fail(code),
        };
        if msg.lifetime() == Ok(Some(0)) {
            self.close(slot, CloseReason::Deleted);
            return Outcome::Success {
                lifetime: Some(0),
                relayed: None,
            };
        }
        match self.lifetime(msg) {
            Ok(lifetime) => {
                self.allocations.refresh(slot, now, lifetime);
                Outcome::Success {
                    lifetime: Some(secs(lifetime)),
                    relayed: None,
                }
            }
            Err(code) => Fail(code),
        }
    }

    fn create_permission(
        &mut self,
        now: Instant,
        tuple: &FiveTuple,
        msg: &Message<'_>,
        username: &str,
    ) -> Outcome {
        let slot = match self.owned_allocation(tuple, username) {
            Ok(slot) => slot,
            Err(code) => return Fail(code),
        };
        // All peers are checked before any permission is installed: all or nothing.
        let mut count = 0;
        for peer in msg.xor_peer_addresses() {
            let Ok(peer) = peer else {
                return Fail(400);
            };
            if let Err(code) = self.check_peer(peer) {
                return Fail(code);
            }
            count += 1;
        }
        if count == 0 {
            return Fail(400);
        }
        for peer in msg.xor_peer_addresses().flatten() {
            if !self.allocations.permit(slot, now, peer.ip()) {
                return Fail(508);
            }
        }
        OK
    }

    fn channel_bind(
        &mut self,
        now: Instant,
        tuple: &FiveTuple,
        msg: &Message<'_>,
        username: &str,
    ) -> Outcome {
        let slot = match self.owned_allocation(tuple, username) {
            Ok(slot) => slot,
            Err(code) => return Fail(code),
        };
        let (Ok(Some(number)), Ok(Some(peer))) = (msg.channel_number(), msg.xor_peer_address())
        else {
            return Fail(400);
        };
        if let Err(code) = self.check_peer(peer) {
            return Fail(code);
        }
        if let Err(e) = self.allocations.check_bind(slot, number, peer) {
            tracing::debug!(number, %peer, reason = ?e, "ChannelBind refused");
            return Fail(400);
        }
        if !self.allocations.permit(slot, now, peer.ip()) {
            return Fail(508);
        }
        self.allocations.bind(slot, now, number, peer);
        tracing::debug!(%tuple, number, %peer, "channel bound");
        OK
    }

    /// The allocation of `tuple`, which must belong to `username` (437 / 441 otherwise).
    fn owned_allocation(&self, tuple: &FiveTuple, username: &str) -> Result<usize, u16> {
        let slot = self.allocations.slot_of(tuple).ok_or(437u16)?;
        match self.allocations.get(slot) {
            Some(a) if a.username == username => Ok(slot),
            Some(_) => Err(441),
            None => Err(437),
        }
    }

    /// A peer must match the relay's address family (443), not be one of this host's own
    /// services (403, whatever the allow-list says) and pass the filter (403).
    fn check_peer(&self, peer: SocketAddr) -> Result<(), u16> {
        if peer.is_ipv4() != self.config.relay_address.is_ipv4() {
            return Err(443);
        }
        if self.own.contains(peer) || !self.filter.permits(peer.ip()) {
            return Err(403);
        }
        Ok(())
    }

    /// An error response before or without authentication: 401 and 438 carry REALM and a
    /// fresh NONCE; 420 lists the unknown attributes.
    fn error_reply(
        &mut self,
        msg: &Message<'_>,
        reply: &mut [u8],
        code: u16,
        unknown: Option<&[AttrType]>,
        tuple: &FiveTuple,
        now: Instant,
    ) -> ClientAction {
        self.stats.errors.add(code);
        let nonce = self.nonces.mint(self.unix_secs(now), tuple.remote.ip());
        let challenge = matches!(code, 401 | 438);
        let result = (|| {
            let mut enc =
                MessageEncoder::new(reply, Class::Error, msg.method(), msg.transaction_id())?;
            enc.attribute(&Attribute::ErrorCode(ErrorCode::new(
                code,
                ErrorCode::default_reason(code),
            )))?;
            if let Some(list) = unknown {
                enc.attribute(&Attribute::UnknownAttributes(UnknownAttributes::new(list)))?;
            }
            if challenge {
                enc.attribute(&Attribute::Realm(self.credentials.realm()))?;
                // The nonce is ASCII hex by construction.
                let nonce = std::str::from_utf8(&nonce).unwrap_or_default();
                enc.attribute(&Attribute::Nonce(nonce))?;
            }
            self.finish(enc, &Head::of(msg), None)
        })();
        result.map_or(ClientAction::None, |len| ClientAction::Reply { len })
    }

    /// Encodes the response to an authenticated (or Binding) request.
    fn encode(
        &mut self,
        msg: &Message<'_>,
        reply: &mut [u8],
        tuple: &FiveTuple,
        outcome: Outcome,
        key: Option<&IntegrityKey>,
    ) -> ClientAction {
        self.encode_answer(&Head::of(msg), reply, tuple, outcome, key)
            .map_or(ClientAction::None, |len| ClientAction::Reply { len })
    }

    /// Encodes the answer to the request `head` describes into `reply`; returns its length,
    /// or `None` for [`Outcome::Deferred`] (or a reply buffer too small).
    pub(crate) fn encode_answer(
        &mut self,
        head: &Head,
        reply: &mut [u8],
        tuple: &FiveTuple,
        outcome: Outcome,
        key: Option<&IntegrityKey>,
    ) -> Option<usize> {
        if let Fail(code) = outcome {
            self.stats.errors.add(code);
        }
        let (method, tid) = (head.method, head.tid);
        let result = (|| {
            let mut enc = match outcome {
                Fail(code) => {
                    let mut enc = MessageEncoder::new(reply, Class::Error, method, tid)?;
                    enc.attribute(&Attribute::ErrorCode(ErrorCode::new(
                        code,
                        ErrorCode::default_reason(code),
                    )))?;
                    enc
                }
                Outcome::Redirect(alternate) => {
                    let mut enc = MessageEncoder::new(reply, Class::Error, method, tid)?;
                    enc.attribute(&Attribute::ErrorCode(ErrorCode::new(
                        300,
                        ErrorCode::default_reason(300),
                    )))?;
                    enc.attribute(&Attribute::AlternateServer(alternate))?;
                    enc
                }
                Outcome::Success { lifetime, relayed } => {
                    let mut enc = MessageEncoder::new(reply, Class::Success, method, tid)?;
                    if let Some(relayed) = relayed {
                        enc.attribute(&Attribute::XorRelayedAddress(relayed))?;
                    }
                    if let Some(lifetime) = lifetime {
                        enc.attribute(&Attribute::Lifetime(lifetime))?;
                    }
                    if relayed.is_some() || method == Method::BINDING {
                        enc.attribute(&Attribute::XorMappedAddress(tuple.remote))?;
                    }
                    enc
                }
                Outcome::Deferred => return Ok(None),
            };
            if let Some(software) = &self.config.software {
                enc.attribute(&Attribute::Software(software))?;
            }
            self.finish(enc, head, key).map(Some)
        })();
        result.ok().flatten()
    }

    /// Adds MESSAGE-INTEGRITY (when authenticated) and FINGERPRINT (when the request had
    /// one), and returns the length.
    fn finish(
        &self,
        mut enc: MessageEncoder<'_>,
        head: &Head,
        key: Option<&IntegrityKey>,
    ) -> Result<usize, edge_stun::Error> {
        if let Some(key) = key {
            enc.message_integrity(key)?;
        }
        if head.fingerprint {
            enc.fingerprint()?;
        }
        Ok(enc.finish())
    }
}

/// Seconds as a LIFETIME value.
pub(crate) fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}
