//! The ng engine: one message in, one reply out (or a counted drop). It reads the framing
//! and the bencode, answers retransmissions from the [reply cache](crate::cache), and maps
//! each call (call-id, from-tag, to-tag) onto one media-edge session created through
//! edge-control's offer/answer code ([`Negotiations`]), so the HTTP API sees the same
//! sessions. Transport-free and blocking (a `delete` waits until the session's ports are
//! free): drivers call [`Engine::handle`] off their async threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge_control::{
    AnswerRequest, CreateRequest, EnterpriseTarget, Negotiations, ReofferRequest, SrtpMode,
};
use edge_forward::{Forwarder, SessionId};

use crate::bencode::Value;
use crate::cache::{Lookup, ReplyCache};
use crate::metrics::{DropReason, NgMetrics, Outcome};
use crate::query;
use crate::request::{Command, Dtls, Ice, Options, Request, RtcpMux, Side, Transport};

/// Longest cookie accepted.
pub const MAX_COOKIE: usize = 256;
/// The `result` of an offer refused while draining, as rtpengine words it at its load
/// limit.
pub const LOAD_LIMIT: &str = "load limit";
/// Largest message read: a UDP datagram's most, and the TCP and HTTP bound.
pub const MAX_MESSAGE: usize = 65_536;

/// What became of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// The reply to send back.
    Reply(Vec<u8>),
    /// Dropped unanswered (counted).
    Dropped(DropReason),
}

/// One call: one media-edge session.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) session: String,
    pub(crate) from_tag: String,
    pub(crate) to_tag: Option<String>,
    /// The side whose SDP came with the offer.
    pub(crate) offerer: Side,
    pub(crate) offer_sdp: String,
    pub(crate) offer_reply: String,
    pub(crate) answer_sdp: Option<String>,
    pub(crate) answer_reply: Option<String>,
    /// `DTLS=passive` came with an offer to the browser: its answer must be active.
    pub(crate) passive_offer: bool,
    /// The enterprise side's transport protocol.
    pub(crate) enterprise_proto: &'static str,
    /// The re-offer in force, until its answer came.
    pub(crate) renegotiation: Option<Renegotiation>,
    pub(crate) created: SystemTime,
    pub(crate) last_signal: SystemTime,
}

/// A re-offer on a running call, applied through the API's renegotiation.
#[derive(Debug, Clone)]
pub(crate) enum Renegotiation {
    /// The browser re-offered ([`Negotiations::reoffer`]): the enterprise side's answer
    /// moves its leg and sets its direction, then the browser's answer is written again.
    Browser,
    /// The enterprise side re-offered (a transfer, a re-INVITE): its leg moved at once
    /// ([`Negotiations::move_enterprise`]); `answer` is the SDP for it, the reply to the
    /// browser's answer.
    Enterprise { answer: String },
}

/// The ng protocol over a forwarder.
pub struct Engine {
    negotiations: Negotiations,
    relay: Forwarder,
    calls: Mutex<HashMap<String, Call>>,
    cache: Mutex<ReplyCache>,
    metrics: Arc<NgMetrics>,
    draining: AtomicBool,
    started: Instant,
    /// Seconds after `started` of the last sweep of calls whose session is gone.
    swept: AtomicU64,
}

/// How often calls whose session is gone (timed out and lingered, never deleted) are
/// forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

type Reply = Result<Vec<(&'static str, Value)>, String>;

fn error(reason: impl Into<String>) -> Reply {
    Err(reason.into())
}

impl Engine {
    /// The engine over `relay`'s sessions.
    pub fn new(relay: Forwarder) -> Engine {
        Engine {
            negotiations: Negotiations::new(relay.clone()),
            relay,
            calls: Mutex::new(HashMap::new()),
            cache: Mutex::new(ReplyCache::default()),
            metrics: Arc::new(NgMetrics::default()),
            draining: AtomicBool::new(false),
            started: Instant::now(),
            swept: AtomicU64::new(0),
        }
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<NgMetrics> {
        &self.metrics
    }

    /// Starts a drain: `offer` of a new call is refused; known calls go on.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Calls known now.
    pub fn calls(&self) -> usize {
        self.with_calls(|c| c.len())
    }

    fn with_calls<R>(&self, f: impl FnOnce(&mut HashMap<String, Call>) -> R) -> R {
        f(&mut self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Handles one message `<cookie> <bencoded dictionary>`. Blocking: a `delete` waits
    /// until the session's ports are free.
    pub fn handle(&self, now: Instant, message: &[u8]) -> Handled {
        let Some(space) = message.iter().position(|&b| b == b' ') else {
            self.metrics.dropped(DropReason::NoCookie);
            return Handled::Dropped(DropReason::NoCookie);
        };
        let (cookie, body) = (&message[..space], &message[space + 1..]);
        if cookie.is_empty() || cookie.len() > MAX_COOKIE {
            self.metrics.dropped(DropReason::NoCookie);
            return Handled::Dropped(DropReason::NoCookie);
        }
        let lookup = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lookup(now, cookie, body);
        match lookup {
            Lookup::New => {}
            Lookup::Replay(reply) => {
                self.metrics.request(None, Outcome::Replayed);
                return Handled::Reply(reply);
            }
            Lookup::InFlight => {
                self.metrics.dropped(DropReason::InFlight);
                return Handled::Dropped(DropReason::InFlight);
            }
            Lookup::Conflict => {
                self.metrics.request(None, Outcome::Error);
                let reason = "cookie already used for a different request";
                return Handled::Reply(frame(cookie, &error_dict(reason)));
            }
        }
        let (command, result) = match Value::decode(body) {
            Err(e) => (None, error(format!("malformed bencode: {e}"))),
            Ok(dict) => match Request::parse(&dict) {
                Err(reason) => (None, error(reason)),
                Ok(request) => (Some(request.command), self.dispatch(request)),
            },
        };
        let dict = match result {
            // A refusal that is not an error (load limit) carries its own result.
            Ok(entries) if entries.iter().any(|(key, _)| *key == "result") => {
                self.metrics.request(command, Outcome::Error);
                Value::dict(entries)
            }
            Ok(mut entries) => {
                let pong = command == Some(Command::Ping);
                entries.insert(0, ("result", Value::str(if pong { "pong" } else { "ok" })));
                self.metrics.request(command, Outcome::Ok);
                Value::dict(entries)
            }
            Err(reason) => {
                self.metrics.request(command, Outcome::Error);
                error_dict(&reason)
            }
        };
        let reply = frame(cookie, &dict);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finish(cookie, &reply);
        Handled::Reply(reply)
    }

    /// Forgets, at most every [`SWEEP_EVERY`], the calls whose session the forwarder no
    /// longer has (it timed out and lingered, and no `delete` came): the table stays bounded
    /// by the forwarder's.
    fn sweep(&self, now: Instant) {
        let at = now.saturating_duration_since(self.started).as_secs();
        let last = self.swept.load(Ordering::Relaxed);
        if at < last + SWEEP_EVERY.as_secs()
            || self
                .swept
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let known: Vec<(String, String)> = self.with_calls(|calls| {
            calls
                .iter()
                .map(|(id, call)| (id.clone(), call.session.clone()))
                .collect()
        });
        let gone: Vec<(String, String)> = known
            .into_iter()
            .filter(|(_, session)| {
                session
                    .parse::<SessionId>()
                    .map_or(true, |id| self.relay.session(id).is_none())
            })
            .collect();
        if !gone.is_empty() {
            self.with_calls(|calls| {
                for (id, session) in &gone {
                    // Unless the call-id was offered again meanwhile (a new session).
                    if calls.get(id).is_some_and(|c| c.session == *session) {
                        calls.remove(id);
                    }
                }
            });
        }
    }

    fn dispatch(&self, request: Request) -> Reply {
        self.sweep(Instant::now());
        match request.command {
            Command::Ping => Ok(Vec::new()),
            Command::Offer => self.offer(request),
            Command::Answer => self.answer(request),
            Command::Delete => self.delete(request),
            Command::Query => {
                let id = required(&request.call_id, "call-id")?;
                let call = self.call(id)?;
                Ok(query::call(&call, self.snapshot(&call)))
            }
            Command::List => {
                let limit = request.options.limit.unwrap_or(usize::MAX);
                let mut ids: Vec<String> = self.with_calls(|c| c.keys().cloned().collect());
                ids.sort();
                ids.truncate(limit);
                Ok(vec![("calls", Value::strs(ids.iter().map(String::as_str)))])
            }
            Command::Statistics => Ok(query::statistics(
                self.calls(),
                &self.relay,
                &self.metrics,
                self.started.elapsed(),
            )),
        }
    }

    fn call(&self, id: &str) -> Result<Call, String> {
        self.with_calls(|c| c.get(id).cloned())
            .ok_or_else(|| "Unknown call-id".to_owned())
    }

    fn snapshot(&self, call: &Call) -> Option<edge_forward::SessionSnapshot> {
        call.session
            .parse::<SessionId>()
            .ok()
            .and_then(|id| self.relay.session(id))
    }

    fn offer(&self, request: Request) -> Reply {
        let call_id = required(&request.call_id, "call-id")?;
        let from_tag = required(&request.from_tag, "from-tag")?;
        let sdp = required(&request.sdp, "sdp")?;
        // Held across the negotiation: two offers of one call-id never race.
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(call) = calls.get_mut(call_id) {
            if call.from_tag == from_tag && call.offer_sdp == sdp {
                return Ok(vec![("sdp", Value::str(&call.offer_reply))]);
            }
            return self.reoffer(call, from_tag, sdp, &request.options);
        }
        if self.draining.load(Ordering::Acquire) {
            // rtpengine's answer when it takes no more calls: a SIP proxy with several ng
            // nodes (Kamailio's rtpengine module) tries the next one.
            return Ok(vec![
                ("result", Value::str(LOAD_LIMIT)),
                (
                    "message",
                    Value::str("draining: this media-edge takes no new calls"),
                ),
            ]);
        }
        let offerer = offering_side(sdp);
        let options = &request.options;
        check(options, offerer, sdp, false)?;
        let sdes = options.transport == Some(Transport::RtpSavp);
        let strict = options.strict_source.then_some(true);
        let (session, reply, passive, proto) = match offerer {
            Side::Public => {
                let created = self
                    .negotiations
                    .create(CreateRequest {
                        offer: Some(sdp.to_owned()),
                        enterprise_srtp: Some(if sdes { SrtpMode::Sdes } else { SrtpMode::None }),
                        strict_source: strict,
                        ..CreateRequest::default()
                    })
                    .map_err(|e| e.to_string())?;
                let proto = if sdes { "RTP/SAVP" } else { "RTP/AVP" };
                (created.id, created.enterprise_sdp, false, proto)
            }
            Side::Enterprise => {
                let created = self
                    .negotiations
                    .create(CreateRequest {
                        enterprise_offer: Some(sdp.to_owned()),
                        strict_source: strict,
                        ..CreateRequest::default()
                    })
                    .map_err(|e| e.to_string())?;
                // media-edge offers a=setup:actpass (as rtpengine does with DTLS=passive);
                // the browser's answer must then take the active role.
                let passive = options.dtls == Some(Dtls::Passive);
                let offer = created.offer;
                let proto = if audio_proto(sdp).is_some_and(|p| p.contains("SAVP")) {
                    "RTP/SAVP"
                } else {
                    "RTP/AVP"
                };
                (created.id, offer, passive, proto)
            }
        };
        let reply = reply.ok_or("media-edge wrote no SDP for the other side")?;
        let now = SystemTime::now();
        calls.insert(
            call_id.to_owned(),
            Call {
                session,
                from_tag: from_tag.to_owned(),
                to_tag: None,
                offerer,
                offer_sdp: sdp.to_owned(),
                offer_reply: reply.clone(),
                answer_sdp: None,
                answer_reply: None,
                passive_offer: passive,
                enterprise_proto: proto,
                renegotiation: None,
                created: now,
                last_signal: now,
            },
        );
        Ok(vec![("sdp", Value::Bytes(reply.into_bytes()))])
    }

    fn answer(&self, request: Request) -> Reply {
        let call_id = required(&request.call_id, "call-id")?;
        let from_tag = required(&request.from_tag, "from-tag")?;
        let to_tag = required(&request.to_tag, "to-tag")?;
        let sdp = required(&request.sdp, "sdp")?;
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let call = calls.get_mut(call_id).ok_or("Unknown call-id")?;
        if call.from_tag != from_tag {
            return error(format!(
                "from-tag {from_tag:?} is not the offer's ({:?})",
                call.from_tag
            ));
        }
        if let (Some(tag), Some(answered), Some(reply)) =
            (&call.to_tag, &call.answer_sdp, &call.answer_reply)
        {
            if tag == to_tag && answered == sdp {
                return Ok(vec![("sdp", Value::str(reply))]);
            }
            return error(format!(
                "call-id {call_id:?} is already answered (to-tag {tag:?}): a second or \
                 changed answer (a fork or renegotiation) is not supported"
            ));
        }
        let answerer = call.offerer.other();
        check(&request.options, answerer, sdp, true)?;
        let id = call.session.clone();
        let reply = match (&call.renegotiation, answerer) {
            (Some(Renegotiation::Browser), Side::Enterprise) => {
                let target = EnterpriseTarget {
                    sdp: Some(sdp.to_owned()),
                    ..EnterpriseTarget::default()
                };
                self.negotiations
                    .move_enterprise(&id, target)
                    .map_err(|e| e.to_string())?;
                // The browser's answer, with the direction the enterprise side answered.
                let again = ReofferRequest {
                    offer: call.offer_sdp.clone(),
                };
                self.negotiations
                    .reoffer(&id, again)
                    .map_err(|e| e.to_string())?
                    .answer
            }
            (Some(Renegotiation::Enterprise { answer }), Side::Public) => Some(answer.clone()),
            (_, Side::Enterprise) => {
                let target = EnterpriseTarget {
                    sdp: Some(sdp.to_owned()),
                    ..EnterpriseTarget::default()
                };
                let req = AnswerRequest {
                    enterprise: Some(target),
                    ..AnswerRequest::default()
                };
                // The browser's answer again, narrowed to what the enterprise side kept.
                self.negotiations
                    .answer(&id, req)
                    .map_err(|e| e.to_string())?
                    .answer
            }
            (_, Side::Public) => {
                if call.passive_offer && setup_of(sdp) == Some("passive") {
                    return error(
                        "sdp: a=setup:passive, but the offer asked DTLS=passive for media-edge: \
                         the browser must take the active role",
                    );
                }
                let req = AnswerRequest {
                    answer: Some(sdp.to_owned()),
                    ..AnswerRequest::default()
                };
                self.negotiations
                    .answer(&id, req)
                    .map_err(|e| e.to_string())?
                    .enterprise_sdp
            }
        };
        let reply = reply.ok_or("media-edge wrote no SDP for the offerer")?;
        call.to_tag = Some(to_tag.to_owned());
        call.answer_sdp = Some(sdp.to_owned());
        call.answer_reply = Some(reply.clone());
        call.renegotiation = None;
        call.last_signal = SystemTime::now();
        Ok(vec![("sdp", Value::Bytes(reply.into_bytes()))])
    }

    /// A changed offer on a known call (hold, resume, an ICE restart, a transfer), from
    /// either party's tag: the browser's goes through [`Negotiations::reoffer`], the
    /// enterprise side's through [`Negotiations::move_enterprise`]. The party that
    /// re-offers becomes the offerer until the next offer.
    fn reoffer(&self, call: &mut Call, from_tag: &str, sdp: &str, options: &Options) -> Reply {
        let (Some(to_tag), Some(_)) = (call.to_tag.clone(), &call.answer_reply) else {
            return error(
                "re-offer before the answer to the previous offer: media-edge renegotiates \
                 an answered call only",
            );
        };
        let tag_side = if from_tag == call.from_tag {
            call.offerer
        } else if from_tag == to_tag {
            call.offerer.other()
        } else {
            return error(format!(
                "re-offer with from-tag {from_tag:?}, neither of the call's tags ({:?}, \
                 {to_tag:?}): a fork or a third party is not supported",
                call.from_tag
            ));
        };
        let side = offering_side(sdp);
        if side != tag_side {
            return error(format!(
                "re-offer from the {} side's tag {from_tag:?} with an SDP of the {} side \
                 (m=audio {}): a party cannot change sides within a call",
                tag_side.as_str(),
                side.as_str(),
                audio_proto(sdp).unwrap_or("?")
            ));
        }
        check(options, side, sdp, false)?;
        let (reply, renegotiation) = match side {
            Side::Public => {
                let req = ReofferRequest {
                    offer: sdp.to_owned(),
                };
                let done = self
                    .negotiations
                    .reoffer(&call.session, req)
                    .map_err(|e| e.to_string())?;
                (done.enterprise_sdp, Renegotiation::Browser)
            }
            Side::Enterprise => {
                let target = EnterpriseTarget {
                    sdp: Some(sdp.to_owned()),
                    ..EnterpriseTarget::default()
                };
                let done = self
                    .negotiations
                    .move_enterprise(&call.session, target)
                    .map_err(|e| e.to_string())?;
                let answer = done
                    .enterprise_sdp
                    .ok_or("media-edge wrote no SDP for the enterprise side")?;
                // The browser's transport stays as it is: it gets the SDP in force again.
                let in_force = match call.offerer {
                    Side::Public => call.answer_reply.clone(),
                    Side::Enterprise => Some(call.offer_reply.clone()),
                };
                (in_force, Renegotiation::Enterprise { answer })
            }
        };
        let reply = reply.ok_or("media-edge wrote no SDP for the other side")?;
        if from_tag != call.from_tag {
            call.to_tag = Some(std::mem::replace(&mut call.from_tag, from_tag.to_owned()));
        }
        call.offerer = side;
        call.offer_sdp = sdp.to_owned();
        call.offer_reply = reply.clone();
        call.answer_sdp = None;
        call.answer_reply = None;
        call.passive_offer = false;
        call.renegotiation = Some(renegotiation);
        call.last_signal = SystemTime::now();
        Ok(vec![("sdp", Value::Bytes(reply.into_bytes()))])
    }

    fn delete(&self, request: Request) -> Reply {
        let call_id = required(&request.call_id, "call-id")?;
        if let Some(delay) = request.options.delete_delay.filter(|d| *d != 0) {
            return error(format!(
                "delete-delay {delay}: media-edge frees a call's ports at once (delete-delay 0)"
            ));
        }
        let call = self.with_calls(|calls| {
            let call = calls.get(call_id).ok_or("Unknown call-id")?;
            let tags_match = request
                .from_tag
                .as_ref()
                .is_none_or(|t| *t == call.from_tag || Some(t) == call.to_tag.as_ref())
                && request
                    .to_tag
                    .as_ref()
                    .is_none_or(|t| *t == call.from_tag || Some(t) == call.to_tag.as_ref());
            if !tags_match {
                return Err("Call-ID found but tags didn't match");
            }
            Ok(calls.remove(call_id))
        })?;
        let Some(call) = call else {
            return error("Unknown call-id");
        };
        let stats = query::call(&call, self.snapshot(&call));
        match self.negotiations.remove(&call.session) {
            Ok(()) | Err(edge_control::Error::UnknownSession(_)) => Ok(stats),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("missing key {key:?}"))
}

fn error_dict(reason: &str) -> Value {
    Value::dict(vec![
        ("result", Value::str("error")),
        ("error-reason", Value::str(reason)),
    ])
}

/// `<cookie> <bencode>`.
fn frame(cookie: &[u8], dict: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(cookie.len() + 256);
    out.extend_from_slice(cookie);
    out.push(b' ');
    dict.encode(&mut out);
    out
}

/// The transport protocol of the first audio m-line.
fn audio_proto(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().nth(1))
}

/// `a=setup:` of the SDP (the first one).
fn setup_of(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=setup:"))
        .map(str::trim)
}

/// The side an SDP comes from: DTLS-SRTP is the browsers', anything else the enterprise's
/// (whose parser names what is wrong with it).
fn offering_side(sdp: &str) -> Side {
    match audio_proto(sdp) {
        Some(p) if p.to_ascii_uppercase().starts_with("UDP/TLS/") => Side::Public,
        _ => Side::Enterprise,
    }
}

/// The `c=` addresses of an SDP.
fn connection_addresses(sdp: &str) -> impl Iterator<Item = &str> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("c=IN "))
        .filter_map(|rest| rest.split_whitespace().nth(1))
}

/// Whether the options fit an SDP from side `from` (media-edge writes for the other side).
fn check(options: &Options, from: Side, sdp: &str, answer: bool) -> Result<(), String> {
    let to = from.other();
    let proto = audio_proto(sdp).unwrap_or("?");
    if let Some((f, t)) = options.direction {
        // An answer may repeat the offer's direction (Kamailio sends one set of flags).
        if (f, t) != (from, to) && !(answer && (t, f) == (from, to)) {
            return Err(format!(
                "direction [{}, {}] does not fit the SDP: m=audio {proto} comes from the {} \
                 side, so media-edge writes for the {} side",
                f.as_str(),
                t.as_str(),
                from.as_str(),
                to.as_str()
            ));
        }
    }
    if let Some(t) = options.transport {
        if t.side() != to {
            return Err(format!(
                "transport-protocol {} is the {} side's; the SDP media-edge writes here goes to \
                 the {} side ({})",
                t.as_str(),
                t.side().as_str(),
                to.as_str(),
                if to == Side::Public {
                    "UDP/TLS/RTP/SAVPF"
                } else {
                    "RTP/AVP or RTP/SAVP"
                }
            ));
        }
        if t == Transport::RtpSavpf {
            return Err(
                "transport-protocol RTP/SAVPF is not supported: media-edge writes \
                        RTP/AVP or RTP/SAVP toward the enterprise side"
                    .into(),
            );
        }
        if t == Transport::RtpSavp && options.sdes_off {
            return Err("transport-protocol RTP/SAVP needs SDES, which SDES off removes".into());
        }
    }
    match (options.ice, to) {
        (Some(Ice::Remove), Side::Public) => {
            return Err(
                "ICE remove toward the public side is not supported: browsers need \
                        ICE (media-edge is ICE-lite)"
                    .into(),
            )
        }
        (Some(Ice::Force), Side::Enterprise) => {
            return Err(
                "ICE force toward the enterprise side is not supported: media-edge \
                        speaks RTP or SDES-SRTP there, without ICE"
                    .into(),
            )
        }
        _ => {}
    }
    match (options.dtls, to) {
        (Some(Dtls::Off), Side::Public) => {
            return Err(
                "DTLS off toward the public side is not supported: browsers get \
                        DTLS-SRTP only"
                    .into(),
            )
        }
        (Some(Dtls::Passive), Side::Enterprise) => {
            return Err(
                "DTLS passive toward the enterprise side is not supported: media-edge \
                        speaks RTP or SDES-SRTP there, without DTLS"
                    .into(),
            )
        }
        _ => {}
    }
    let offer_mux = sdp.lines().any(|l| l.trim() == "a=rtcp-mux");
    for mux in &options.rtcp_mux {
        let refused = match mux {
            RtcpMux::Offer | RtcpMux::Require => (to == Side::Enterprise).then_some(
                "toward the enterprise side media-edge writes the RTCP port the offer had (a \
                 separate one when it offers)",
            ),
            RtcpMux::Demux => (to == Side::Public)
                .then_some("toward the public side media-edge always muxes RTCP (WebRTC)"),
            RtcpMux::Accept => None,
            RtcpMux::Reject => (from == Side::Public || offer_mux)
                .then_some("media-edge accepts the offerer's rtcp-mux (browsers require it)"),
        };
        if let Some(reason) = refused {
            return Err(format!(
                "rtcp-mux {} is not supported: {reason}",
                mux.as_str()
            ));
        }
    }
    if let Some(ip) = options.media_address {
        let ip = ip.to_string();
        if !connection_addresses(sdp).any(|a| a == ip) {
            return Err(format!(
                "media-address {ip} is not the SDP's c= address: media-edge takes the media \
                 address from the SDP"
            ));
        }
    }
    if options.delete_delay.is_some() {
        return Err("delete-delay belongs to delete".into());
    }
    Ok(())
}

/// Seconds and microseconds since the Unix epoch.
pub(crate) fn unix(t: SystemTime) -> (i64, i64) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        i64::from(d.subsec_micros()),
    )
}
