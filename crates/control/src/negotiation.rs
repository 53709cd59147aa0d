//! The two offer/answer flows between the browser and the enterprise side, on top of the
//! forwarder's sessions.
//!
//! - The browser offers (`offer`): media-edge answers it at once. The enterprise side is an
//!   address, an SDP media-edge answers, or (left out) gets media-edge's offer and answers
//!   later through [`Negotiations::answer`].
//! - The enterprise side offers (`enterprise-offer`): media-edge offers to the browser; the
//!   browser's answer comes through [`Negotiations::answer`], which returns media-edge's
//!   answer for the enterprise side.
//!
//! What a session waits for is kept here (the forwarder knows nothing of SDP) until the
//! answer arrives or the session ends, and so is what a running call's renegotiation needs
//! (the `reoffer` module: browser re-offers, ICE restarts, enterprise moves): each side's
//! description as last applied and the payload-type pairs between them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use edge_forward::{
    CallQuality, Counters, EnterpriseCrypto, EnterpriseRemote, Forwarder, MediaLine, PayloadFormat,
    SessionId, SessionInfo, SessionSnapshot, SessionSpec, SessionState, SessionUpdate, VideoChange,
};
use edge_srtp::Profile;
use serde::{Deserialize, Serialize};

use crate::error::{Error, SdpLocation};
use crate::sdp::browser::{self, BrowserDescription, Kind};
use crate::sdp::codec::{check_numbering, negotiate, Codec, Pair};
use crate::sdp::enterprise::{self, EnterpriseDescription, Layout};
use crate::sdp::Direction;

mod call;
mod reoffer;
mod video;

use call::{media_plan, BrowserSide, Call, EnterpriseSide, Mapped};
pub use reoffer::ReofferRequest;
use video::{Capable, VideoPlan};

/// The SDES suite and tag of media-edge's own enterprise offers.
const OFFERED_SDES: (Profile, u32) = (Profile::Aes128CmHmacSha1_80, 1);

/// `POST /v1/sessions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CreateRequest {
    /// The browser's offer.
    pub offer: Option<String>,
    /// The enterprise side's offer (instead of `offer`).
    pub enterprise_offer: Option<String>,
    /// With `offer`: where enterprise media goes; left out, media-edge offers to it.
    pub enterprise: Option<EnterpriseTarget>,
    /// With `offer`: `sdes` or `none` on the enterprise leg.
    pub enterprise_srtp: Option<SrtpMode>,
    /// Accept enterprise media only from its stated address (default: the relay's setting).
    pub strict_source: Option<bool>,
    /// The named enterprise connection (a key of `forward.enterprise.connections`) whose
    /// pinned local tuple the enterprise leg binds; left out, the default leg.
    pub connection: Option<String>,
}

/// What a create request says about the session's enterprise leg besides its remote side.
struct LegOptions {
    strict_source: Option<bool>,
    connection: Option<String>,
}

impl LegOptions {
    /// A session spec with these options applied.
    fn spec(&self) -> SessionSpec {
        let mut spec = SessionSpec::new();
        spec.strict_source = self.strict_source;
        spec.connection.clone_from(&self.connection);
        spec
    }
}

/// `POST /v1/sessions/{id}/answer`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AnswerRequest {
    /// The browser's answer to media-edge's offer.
    pub answer: Option<String>,
    /// The enterprise side's answer to media-edge's offer: an SDP or an address.
    pub enterprise: Option<EnterpriseTarget>,
}

/// The enterprise side: `{"rtp": "ip:port"}` (with optional `rtcp`, `rtcp-mux`) or
/// `{"sdp": "..."}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EnterpriseTarget {
    /// The enterprise side's RTP address.
    pub rtp: Option<SocketAddr>,
    /// Its RTCP address (default: the RTP port + 1).
    pub rtcp: Option<SocketAddr>,
    /// Whether RTCP shares the RTP port.
    pub rtcp_mux: Option<bool>,
    /// The enterprise side's SDP (instead of the addresses).
    pub sdp: Option<String>,
}

/// SRTP on the enterprise leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpMode {
    /// SDES-SRTP (RFC 4568).
    Sdes,
    /// Plain RTP.
    None,
}

/// What a session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Awaiting {
    /// The browser's answer to media-edge's offer.
    BrowserAnswer,
    /// The enterprise side's answer to media-edge's offer.
    EnterpriseAnswer,
}

/// The answer to `POST /v1/sessions` and `POST /v1/sessions/{id}/answer`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Negotiated {
    /// The session id.
    pub id: String,
    /// Media-edge's answer for the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Media-edge's offer for the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Media-edge's SDP for the enterprise side (an answer, or an offer when `awaiting` is
    /// `enterprise-answer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_sdp: Option<String>,
    /// What the session still needs, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
}

/// A session waiting for an answer.
#[derive(Debug)]
enum Pending {
    /// Media-edge offered to the browser for an enterprise offer.
    /// `offered` pairs the enterprise offer's codecs with the same ones in media-edge's
    /// browser offer.
    BrowserAnswer {
        offered: Vec<Pair>,
        enterprise: Layout,
        enterprise_direction: Direction,
    },
    /// Media-edge offered to the enterprise side: `offered` pairs the browser's codecs with
    /// media-edge's enterprise offer.
    EnterpriseAnswer {
        offered: Vec<Pair>,
        sdes: Option<(u32, Profile)>,
        /// The browser's offer and the session, to answer the browser again with the codecs
        /// the enterprise side kept.
        browser: Box<(BrowserDescription, SessionInfo)>,
    },
}

impl Pending {
    fn awaiting(&self) -> Awaiting {
        match self {
            Pending::BrowserAnswer { .. } => Awaiting::BrowserAnswer,
            Pending::EnterpriseAnswer { .. } => Awaiting::EnterpriseAnswer,
        }
    }
}

/// The sessions' negotiation state over the forwarder: the offer/answer flows of
/// `POST /v1/sessions` and `/answer`, for another control front end (rtpengine's ng
/// protocol) over the same forwarder, so both control the same sessions.
pub struct Negotiations {
    relay: Forwarder,
    pending: Mutex<HashMap<SessionId, Pending>>,
    calls: Mutex<HashMap<SessionId, Call>>,
}

fn request(message: impl Into<String>) -> Error {
    Error::Request(message.into())
}

/// The audio m-line of a description, for errors about its codecs.
fn audio_line(field: &'static str, index: usize) -> SdpLocation {
    SdpLocation {
        field,
        media: Some((index, "audio".into())),
        attribute: Some("m="),
    }
}

/// The audio m-line's `a=rtpmap`s, for errors about payload-type numbering.
fn rtpmap_line(field: &'static str, index: usize) -> SdpLocation {
    SdpLocation {
        attribute: Some("a=rtpmap"),
        ..audio_line(field, index)
    }
}

impl Negotiations {
    /// The negotiations over `relay`'s sessions.
    pub fn new(relay: Forwarder) -> Self {
        Negotiations {
            relay,
            pending: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
        }
    }

    fn pending<R>(&self, f: impl FnOnce(&mut HashMap<SessionId, Pending>) -> R) -> R {
        f(&mut self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn calls<R>(&self, f: impl FnOnce(&mut HashMap<SessionId, Call>) -> R) -> R {
        f(&mut self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `POST /v1/sessions`: creates a session from an offer.
    ///
    /// # Errors
    /// A bad request or SDP (named), or the forwarder's refusal.
    pub fn create(&self, req: CreateRequest) -> Result<Negotiated, Error> {
        self.forget_ended();
        let leg = LegOptions {
            strict_source: req.strict_source,
            connection: req.connection,
        };
        match (req.offer, req.enterprise_offer) {
            (Some(offer), None) => {
                self.browser_offers(&offer, req.enterprise, req.enterprise_srtp, &leg)
            }
            (None, Some(offer)) => {
                if req.enterprise.is_some() || req.enterprise_srtp.is_some() {
                    return Err(request(
                        "enterprise-offer carries the enterprise side's address and SRTP: leave \
                         out enterprise and enterprise-srtp",
                    ));
                }
                self.enterprise_offers(&offer, &leg)
            }
            (Some(_), Some(_)) => Err(request("give offer or enterprise-offer, not both")),
            (None, None) => Err(request(
                "missing offer (the browser's SDP offer) or enterprise-offer (the enterprise \
                 side's SDP offer)",
            )),
        }
    }

    /// The browser offered.
    fn browser_offers(
        &self,
        offer: &str,
        target: Option<EnterpriseTarget>,
        srtp: Option<SrtpMode>,
        leg: &LegOptions,
    ) -> Result<Negotiated, Error> {
        let browser = BrowserDescription::parse("offer", offer, Kind::Offer)?;
        let mut spec = leg.spec();
        let sdes = srtp == Some(SrtpMode::Sdes);
        let mut enterprise_video = None;
        let (acceptable, layout, enterprise_direction, awaiting) = match target {
            None => {
                if sdes {
                    let (suite, tag) = OFFERED_SDES;
                    spec.enterprise_srtp = Some(EnterpriseCrypto::new(suite, tag));
                }
                let layout = Layout::single(sdes);
                (
                    None,
                    layout,
                    Direction::SENDRECV,
                    Some(Awaiting::EnterpriseAnswer),
                )
            }
            Some(target) => match target_kind(target, "enterprise")? {
                Target::Address(remote, rtcp_mux) => {
                    if sdes {
                        return Err(request(
                            "enterprise-srtp \"sdes\" needs the enterprise side's key: give \
                             enterprise.sdp, or leave out enterprise to get media-edge's offer \
                             and send the enterprise answer later",
                        ));
                    }
                    spec.enterprise = Some(remote);
                    spec.rtcp_mux_enterprise = rtcp_mux.unwrap_or(false);
                    (None, Layout::single(false), Direction::SENDRECV, None)
                }
                Target::Sdp(sdp) => {
                    let desc = EnterpriseDescription::parse("enterprise.sdp", &sdp, None)?;
                    let has_key = desc.remote.crypto.is_some();
                    if srtp.is_some() && sdes != has_key {
                        return Err(request(format!(
                            "enterprise-srtp {:?} contradicts enterprise.sdp's protocol {}",
                            if sdes { "sdes" } else { "none" },
                            desc.proto
                        )));
                    }
                    if let Some(key) = &desc.remote.crypto {
                        spec.enterprise_srtp =
                            Some(EnterpriseCrypto::new(key.key.profile(), key.tag));
                    }
                    spec.rtcp_mux_enterprise = desc.rtcp_mux;
                    spec.enterprise = Some(desc.remote.clone());
                    enterprise_video.clone_from(&desc.video);
                    let layout = Layout::answering(&desc);
                    (Some(desc.codecs), layout, desc.direction, None)
                }
            },
        };
        let enterprise_sdp_codecs = acceptable.clone();
        let acceptable = acceptable.as_deref().map(|c| ("enterprise.sdp", c));
        let at = audio_line("offer", browser.audio_index);
        let codecs = Mapped::from_pairs(negotiate(at, &browser.codecs, acceptable)?, true);
        let sdes_offered = spec.enterprise_srtp.map(|c| (c.tag, c.suite));
        let srtp = spec.enterprise_srtp.is_some();
        spec.browser = Some(browser.remote.clone());
        spec.payload_formats = payload_formats(&codecs);
        spec.media = Some(media_plan(browser.direction, enterprise_direction, &codecs));
        let capable = Capable {
            connection: spec.connection.is_some(),
            srtp,
        };
        let video = match awaiting {
            Some(_) => VideoPlan::offering(&browser, &codecs, capable),
            None => VideoPlan::negotiate(&browser, &codecs, enterprise_video.as_ref(), capable),
        };
        spec.video = video.as_ref().map(|v| v.spec.clone());
        let info = self.relay.create_session(spec)?;
        let to_browser = browser.direction.reversed().and(enterprise_direction);
        let to_enterprise = enterprise_direction.reversed().and(browser.direction);
        let browser_codecs = Mapped::browser(&codecs);
        let enterprise_codecs = Mapped::enterprise(&codecs);
        let answer = browser::write_answer(
            &browser,
            &info,
            info.setup,
            &browser_codecs,
            to_browser,
            VideoPlan::answer(video.as_ref()),
        );
        let enterprise_sdp = enterprise::write(
            &info,
            &layout,
            &enterprise_codecs,
            to_enterprise,
            VideoPlan::enterprise_line(video.as_ref()),
        );
        if awaiting.is_some() {
            let pending = Pending::EnterpriseAnswer {
                offered: codecs
                    .iter()
                    .map(|m| Pair {
                        offered: m.browser.clone(),
                        accepted: m.enterprise.clone(),
                    })
                    .collect(),
                sdes: sdes_offered,
                browser: Box::new((browser.clone(), info.clone())),
            };
            self.pending(|p| p.insert(info.id, pending));
        }
        let call = Call {
            setup: info.setup,
            browser: Some(BrowserSide {
                remote: browser.remote.clone(),
                direction: browser.direction,
                codecs: browser.codecs.clone(),
            }),
            enterprise: EnterpriseSide {
                layout,
                direction: enterprise_direction,
                codecs: enterprise_sdp_codecs.unwrap_or(enterprise_codecs),
                srtp,
                video: enterprise_video,
            },
            codecs,
            video,
            info,
        };
        let id = call.info.id;
        self.calls(|c| c.insert(id, call));
        Ok(Negotiated {
            id: id.to_string(),
            answer: Some(answer),
            offer: None,
            enterprise_sdp: Some(enterprise_sdp),
            awaiting,
        })
    }

    /// The enterprise side offered.
    fn enterprise_offers(&self, offer: &str, leg: &LegOptions) -> Result<Negotiated, Error> {
        let desc = EnterpriseDescription::parse("enterprise-offer", offer, None)?;
        let at = audio_line("enterprise-offer", desc.audio_index);
        let offered = negotiate(at, &desc.codecs, None)?;
        // Until the browser answers, the browser's numbering is the enterprise's.
        let codecs = Mapped::from_pairs(offered.clone(), false);
        let mut spec = leg.spec();
        spec.rtcp_mux_enterprise = desc.rtcp_mux;
        spec.enterprise_srtp = desc
            .remote
            .crypto
            .as_ref()
            .map(|key| EnterpriseCrypto::new(key.key.profile(), key.tag));
        spec.enterprise = Some(desc.remote.clone());
        spec.payload_formats = payload_formats(&codecs);
        spec.media = Some(media_plan(Direction::SENDRECV, desc.direction, &codecs));
        let info = self.relay.create_session(spec)?;
        let offer = browser::write_offer(&info, &Mapped::browser(&codecs), desc.direction);
        let id = info.id;
        let layout = Layout::answering(&desc);
        let pending = Pending::BrowserAnswer {
            offered,
            enterprise: layout.clone(),
            enterprise_direction: desc.direction,
        };
        self.pending(|p| p.insert(id, pending));
        let call = Call {
            info,
            setup: "actpass",
            browser: None,
            enterprise: EnterpriseSide {
                layout,
                direction: desc.direction,
                codecs: desc.codecs,
                srtp: desc.remote.crypto.is_some(),
                video: None,
            },
            codecs,
            video: None,
        };
        self.calls(|c| c.insert(id, call));
        Ok(Negotiated {
            id: id.to_string(),
            answer: None,
            offer: Some(offer),
            enterprise_sdp: None,
            awaiting: Some(Awaiting::BrowserAnswer),
        })
    }

    /// `POST /v1/sessions/{id}/answer`. A rejected answer leaves the session waiting, so a
    /// corrected one can follow.
    ///
    /// # Errors
    /// An unknown session, one not waiting for this answer, or a bad answer (named).
    pub fn answer(&self, id: &str, req: AnswerRequest) -> Result<Negotiated, Error> {
        let id = self.live_id(id)?;
        let pending = self
            .pending(|p| p.remove(&id))
            .ok_or_else(|| Error::NotAwaiting {
                id: id.to_string(),
                state: "is not waiting for an answer".into(),
            })?;
        let not_awaiting = || Error::NotAwaiting {
            id: id.to_string(),
            state: match pending.awaiting() {
                Awaiting::BrowserAnswer => "is waiting for the browser's answer (answer)",
                Awaiting::EnterpriseAnswer => {
                    "is waiting for the enterprise side's answer (enterprise)"
                }
            }
            .into(),
        };
        let result = match (req.answer, req.enterprise, &pending) {
            (
                Some(answer),
                None,
                Pending::BrowserAnswer {
                    offered,
                    enterprise,
                    enterprise_direction,
                },
            ) => self.browser_answers(id, &answer, offered, enterprise, *enterprise_direction),
            (
                None,
                Some(target),
                Pending::EnterpriseAnswer {
                    offered,
                    sdes,
                    browser,
                },
            ) => self.enterprise_answers(id, target, offered, *sdes, browser),
            (Some(_), Some(_), _) | (None, None, _) => Err(request(
                "give answer (the browser's SDP answer) or enterprise (the enterprise side's \
                 answer), one of them",
            )),
            _ => Err(not_awaiting()),
        };
        let keep_waiting = match &result {
            Ok(_) => false,
            Err(Error::Forwarder(e)) => !matches!(
                e,
                edge_forward::Error::UnknownSession(_) | edge_forward::Error::SessionEnded(_)
            ),
            Err(_) => true,
        };
        if keep_waiting {
            self.pending(|p| p.insert(id, pending));
        }
        result
    }

    /// The browser answered media-edge's offer: media-edge answers the enterprise offer.
    fn browser_answers(
        &self,
        id: SessionId,
        answer: &str,
        offered: &[Pair],
        enterprise: &Layout,
        enterprise_direction: Direction,
    ) -> Result<Negotiated, Error> {
        let browser = BrowserDescription::parse("answer", answer, Kind::Answer)?;
        let at = audio_line("answer", browser.audio_index);
        let ours: Vec<Codec> = offered.iter().map(|p| p.offered.clone()).collect();
        check_numbering(
            rtpmap_line("answer", browser.audio_index),
            &ours,
            &browser.codecs,
        )?;
        let pairs = negotiate(at, &ours, Some(("the answer", &browser.codecs)))?;
        // offered: the enterprise's numbering (media-edge offered the browser the same);
        // accepted: the browser's.
        let codecs = Mapped::from_pairs(pairs, false);
        let mut update = SessionUpdate::default();
        update.media = Some(media_plan(browser.direction, enterprise_direction, &codecs));
        self.relay.set_browser_remote(id, browser.remote.clone())?;
        let info = self.relay.update_session(id, update)?;
        let to_enterprise = enterprise_direction.reversed().and(browser.direction);
        let enterprise_sdp = enterprise::write(
            &info,
            enterprise,
            &Mapped::enterprise(&codecs),
            to_enterprise,
            None,
        );
        // The browser took the other DTLS role than it answered.
        let setup = if browser.remote.setup == "active" {
            "passive"
        } else {
            "active"
        };
        self.calls(|c| {
            if let Some(call) = c.get_mut(&id) {
                call.info = info;
                call.setup = setup;
                call.browser = Some(BrowserSide {
                    remote: browser.remote,
                    direction: browser.direction,
                    codecs: browser.codecs,
                });
                call.codecs = codecs;
            }
        });
        Ok(Negotiated {
            id: id.to_string(),
            answer: None,
            offer: None,
            enterprise_sdp: Some(enterprise_sdp),
            awaiting: None,
        })
    }

    /// The enterprise side answered media-edge's offer. An SDP answer also gives the
    /// browser's answer again (`answer`), with the codecs and direction the enterprise side
    /// kept: for a signalling path that holds the browser's answer until the enterprise
    /// side answered (rtpengine's ng protocol).
    fn enterprise_answers(
        &self,
        id: SessionId,
        target: EnterpriseTarget,
        offered: &[Pair],
        sdes: Option<(u32, Profile)>,
        browser: &(BrowserDescription, SessionInfo),
    ) -> Result<Negotiated, Error> {
        let mut answer = None;
        let (remote, answered) = match target_kind(target, "enterprise")? {
            Target::Address(remote, _) if sdes.is_none() => (remote, None),
            Target::Address(..) => {
                return Err(request(
                    "media-edge offered SDES-SRTP: the enterprise answer must be an SDP \
                     (enterprise.sdp) with its a=crypto",
                ))
            }
            Target::Sdp(sdp) => {
                let desc = EnterpriseDescription::parse("enterprise.sdp", &sdp, sdes)?;
                let at = audio_line("enterprise.sdp", desc.audio_index);
                let ours: Vec<Codec> = offered.iter().map(|p| p.accepted.clone()).collect();
                check_numbering(
                    rtpmap_line("enterprise.sdp", desc.audio_index),
                    &ours,
                    &desc.codecs,
                )?;
                let pairs = negotiate(at, &ours, Some(("the answer", &desc.codecs)))?;
                (desc.remote.clone(), Some((desc, pairs)))
            }
        };
        let mut update = SessionUpdate::default();
        let answered = answered.map(|(desc, pairs)| {
            // ours (offered): the numbering media-edge offered, which is the browser's.
            let codecs: Vec<Mapped> = pairs
                .into_iter()
                .map(|p| Mapped {
                    browser: offered
                        .iter()
                        .find(|o| o.accepted == p.offered)
                        .map_or_else(|| p.offered.clone(), |o| o.offered.clone()),
                    enterprise: p.accepted,
                })
                .collect();
            (desc, codecs)
        });
        let browser_direction = self.calls(|c| {
            c.get(&id)
                .and_then(|call| call.browser.as_ref().map(|b| b.direction))
                .unwrap_or(Direction::SENDRECV)
        });
        // Video, when media-edge offered it: kept toward the answer's video line, or
        // removed (an address answer, a declined line, no codec in common).
        let (offer, info) = browser;
        let capable = Capable {
            connection: info.connection.is_some(),
            srtp: sdes.is_some(),
        };
        let video = answered.as_ref().and_then(|(desc, codecs)| {
            VideoPlan::negotiate(offer, codecs, desc.video.as_ref(), capable)
        });
        update.video = match (&video, info.video) {
            (Some(v), Some(_)) => Some(VideoChange::Set(Box::new(v.spec.clone()))),
            (None, Some(_)) => Some(VideoChange::Remove),
            (_, None) => None,
        };
        let video = video.filter(|_| info.video.is_some());
        if let Some((desc, codecs)) = &answered {
            update.media = Some(media_plan(browser_direction, desc.direction, codecs));
            let to_browser = offer.direction.reversed().and(desc.direction);
            answer = Some(browser::write_answer(
                offer,
                info,
                info.setup,
                &Mapped::browser(codecs),
                to_browser,
                VideoPlan::answer(video.as_ref()),
            ));
        }
        // The remote and the media plan in force together: one update.
        update.enterprise = Some(remote);
        let info = self.relay.update_session(id, update)?;
        self.calls(|c| {
            if let Some(call) = c.get_mut(&id) {
                call.info = info;
                call.video = video;
                if let Some((desc, codecs)) = answered {
                    call.enterprise.direction = desc.direction;
                    call.enterprise.codecs = desc.codecs;
                    call.enterprise.video = desc.video;
                    call.codecs = codecs;
                }
            }
        });
        Ok(Negotiated {
            id: id.to_string(),
            answer,
            offer: None,
            enterprise_sdp: None,
            awaiting: None,
        })
    }

    /// `DELETE /v1/sessions/{id}`: ends the session and waits until its ports are free
    /// (blocking: call it off the async runtime's threads).
    ///
    /// # Errors
    /// [`Error::UnknownSession`], or the forwarder's failure.
    pub fn remove(&self, id: &str) -> Result<(), Error> {
        let parsed: SessionId = id
            .parse()
            .map_err(|_| Error::UnknownSession(id.to_owned()))?;
        self.pending(|p| p.remove(&parsed));
        self.calls(|c| c.remove(&parsed));
        self.relay.remove_session(parsed).map_err(|e| match e {
            edge_forward::Error::UnknownSession(_) => Error::UnknownSession(id.to_owned()),
            e => Error::Forwarder(e),
        })
    }

    /// `GET /v1/sessions/{id}`.
    pub(crate) fn get(&self, id: &str) -> Result<SessionView, Error> {
        let parsed: SessionId = id
            .parse()
            .map_err(|_| Error::UnknownSession(id.to_owned()))?;
        let snapshot = self
            .relay
            .session(parsed)
            .ok_or_else(|| Error::UnknownSession(id.to_owned()))?;
        Ok(self.view(snapshot))
    }

    /// `GET /v1/sessions`.
    pub(crate) fn list(&self) -> Vec<SessionView> {
        let sessions = self.relay.sessions();
        sessions.into_iter().map(|s| self.view(s)).collect()
    }

    fn view(&self, snapshot: SessionSnapshot) -> SessionView {
        let awaiting = self.pending(|p| p.get(&snapshot.id).map(Pending::awaiting));
        SessionView {
            id: snapshot.id.to_string(),
            age_ms: u64::try_from(snapshot.age.as_millis()).unwrap_or(u64::MAX),
            awaiting: awaiting.filter(|_| !snapshot.state.is_ended()),
            state: snapshot.state,
            public_addr: snapshot.public_addr,
            browser_addr: snapshot.browser_addr,
            enterprise_rtp: snapshot.enterprise_rtp,
            enterprise_remote: snapshot.enterprise_remote,
            counters: snapshot.counters,
            quality: snapshot.quality,
            media_lines: snapshot.media_lines,
        }
    }

    /// The id of a session the forwarder knows.
    fn live_id(&self, id: &str) -> Result<SessionId, Error> {
        id.parse::<SessionId>()
            .ok()
            .filter(|parsed| self.relay.session(*parsed).is_some())
            .ok_or_else(|| Error::UnknownSession(id.to_owned()))
    }

    /// Drops the negotiation state of sessions that ended or are gone.
    fn forget_ended(&self) {
        let ids: Vec<SessionId> = self.pending(|p| p.keys().copied().collect());
        let ended: Vec<SessionId> = ids
            .into_iter()
            .filter(|id| self.relay.session(*id).is_none_or(|s| s.state.is_ended()))
            .collect();
        if !ended.is_empty() {
            self.pending(|p| ended.iter().for_each(|id| drop(p.remove(id))));
        }
        let ids: Vec<SessionId> = self.calls(|c| c.keys().copied().collect());
        let ended: Vec<SessionId> = ids
            .into_iter()
            .filter(|id| self.relay.session(*id).is_none_or(|s| s.state.is_ended()))
            .collect();
        if !ended.is_empty() {
            self.calls(|c| ended.iter().for_each(|id| drop(c.remove(id))));
        }
    }
}

/// The negotiated codecs as the forwarder's call-quality figures need them (the browser's
/// numbering).
fn payload_formats(codecs: &[Mapped]) -> Vec<PayloadFormat> {
    codecs
        .iter()
        .map(|m| PayloadFormat::new(m.browser.pt, &m.browser.name, m.browser.clock))
        .collect()
}

/// The enterprise side as the request gave it.
enum Target {
    /// An address (and whether RTCP is muxed, when the request says).
    Address(EnterpriseRemote, Option<bool>),
    /// An SDP.
    Sdp(String),
}

fn target_kind(target: EnterpriseTarget, field: &str) -> Result<Target, Error> {
    match target {
        EnterpriseTarget {
            rtp: Some(rtp),
            rtcp,
            rtcp_mux,
            sdp: None,
        } => {
            if rtcp_mux == Some(true) && rtcp.is_some() {
                return Err(request(format!(
                    "{field}.rtcp and {field}.rtcp-mux exclude each other"
                )));
            }
            if rtp.ip().is_unspecified() || rtp.port() == 0 {
                return Err(request(format!(
                    "{field}.rtp {rtp} is not a usable address and port"
                )));
            }
            let mut remote = EnterpriseRemote::new(rtp);
            remote.rtcp = rtcp;
            Ok(Target::Address(remote, rtcp_mux))
        }
        EnterpriseTarget {
            rtp: None,
            rtcp: None,
            rtcp_mux: None,
            sdp: Some(sdp),
        } => Ok(Target::Sdp(sdp)),
        EnterpriseTarget {
            rtp: None,
            sdp: None,
            ..
        } => Err(request(format!(
            "{field} needs rtp (an address and port) or sdp (the enterprise side's SDP)"
        ))),
        _ => Err(request(format!(
            "{field}.sdp carries the address: leave out {field}.rtp, rtcp and rtcp-mux"
        ))),
    }
}

/// A session as `GET /v1/sessions/{id}` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct SessionView {
    id: String,
    /// `state` (`new`, `connecting`, `dtls-connected`, `active`, `ended`) and, when ended,
    /// `reason`.
    #[serde(flatten)]
    state: SessionState,
    age_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    awaiting: Option<Awaiting>,
    public_addr: SocketAddr,
    browser_addr: Option<SocketAddr>,
    enterprise_rtp: SocketAddr,
    enterprise_remote: Option<SocketAddr>,
    counters: Counters,
    /// Call quality per leg (loss, jitter, RTT, MOS), from the media and the peers' RTCP.
    quality: CallQuality,
    /// With video: each m-line's enterprise leg and counters (audio, then video).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media_lines: Vec<MediaLine>,
}
