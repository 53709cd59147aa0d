//! Renegotiation of a running call: a re-offer from the browser (hold and resume, codecs,
//! m-lines added or removed, an ICE restart) and a move of the enterprise leg (a transfer
//! or re-INVITE: new address, SDES key, payload types, rtcp-mux), each applied to the
//! forwarder's session in place ([`Forwarder::update_session`](edge_forward::Forwarder)) without a
//! new session.
//!
//! What stays within a call: the DTLS association toward the browser (a re-offer with
//! another `a=fingerprint` is refused), SRTP or plain RTP on the enterprise leg, and the
//! browser's payload-type numbering (RFC 3264 8.3.2). The enterprise side may renumber
//! (a transfer lands on another endpoint): the map given to the forwarder follows it.
//!
//! Video: a re-offer that adds a bundled video line gets it accepted as on a first offer
//! (toward the enterprise side's video line, when its SDP had one): the forwarder binds
//! its port pair; one that removes it (port 0, or no video line) frees them. Directions
//! are per m-line (hold video, keep audio). A move of the enterprise leg to another SDP
//! carries audio only: a running video line is removed (its ports freed), and the
//! browser's next re-offer adds it again toward the new side's video line.

use edge_forward::{SessionId, SessionUpdate, VideoChange};
use serde::Deserialize;

use super::video::{Capable, VideoPlan};
use super::{
    audio_line, media_plan, rtpmap_line, target_kind, BrowserSide, Call, EnterpriseSide,
    EnterpriseTarget, Mapped, Negotiated, Negotiations, Pending, Target,
};
use crate::error::{Error, SdpLocation};
use crate::sdp::browser::{self, BrowserDescription, Kind};
use crate::sdp::codec::{check_numbering, negotiate};
use crate::sdp::enterprise::{self, EnterpriseDescription, Layout};

/// `POST /v1/sessions/{id}/offer` (also the ng protocol's re-offer from the browser).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReofferRequest {
    /// The browser's new offer.
    pub offer: String,
}

impl Negotiations {
    /// `POST /v1/sessions/{id}/offer`: answers a re-offer of the browser within the running
    /// session: `answer` for the browser, `enterprise_sdp` the re-offer toward the
    /// enterprise side with the directions that follow. A refused re-offer changes nothing.
    pub fn reoffer(&self, id: &str, req: ReofferRequest) -> Result<Negotiated, Error> {
        let id = self.live_id(id)?;
        let call = self.settled(id)?;
        let Some(before) = &call.browser else {
            return Err(Error::UnknownSession(id.to_string()));
        };
        let browser = BrowserDescription::parse("offer", &req.offer, Kind::Offer)?;
        let new = &browser.remote;
        let same_identity = new.fingerprints.len() == before.remote.fingerprints.len()
            && new
                .fingerprints
                .iter()
                .all(|f| before.remote.fingerprints.contains(f));
        let restart =
            new.ice_ufrag != before.remote.ice_ufrag || new.ice_pwd != before.remote.ice_pwd;
        if !same_identity {
            let reason = if restart {
                "differs from the one in force: an ICE restart keeps the DTLS association, \
                 a new DTLS identity needs a new session"
            } else {
                "differs from the one in force on this transport (same ICE ufrag and pwd): \
                 the DTLS identity cannot change within a session"
            };
            return Err(Error::sdp(
                SdpLocation {
                    field: "offer",
                    media: Some((browser.audio_index, "audio".into())),
                    attribute: Some("a=fingerprint"),
                },
                reason,
            ));
        }
        check_numbering(
            rtpmap_line("offer", browser.audio_index),
            &before.codecs,
            &browser.codecs,
        )?;
        let enterprise = &call.enterprise;
        let at = audio_line("offer", browser.audio_index);
        let pairs = negotiate(
            at,
            &browser.codecs,
            Some(("the enterprise side", &enterprise.codecs)),
        )?;
        let codecs = Mapped::from_pairs(pairs, true);
        let mut update = SessionUpdate::default();
        update.media = Some(media_plan(browser.direction, enterprise.direction, &codecs));
        if restart {
            update.browser = Some(browser.remote.clone());
        }
        let capable = Capable {
            connection: call.info.connection.is_some(),
            srtp: enterprise.srtp,
        };
        let video = VideoPlan::negotiate(&browser, &codecs, enterprise.video.as_ref(), capable);
        update.video = match (&video, &call.video) {
            (Some(v), _) => Some(VideoChange::Set(Box::new(v.spec.clone()))),
            (None, Some(_)) => Some(VideoChange::Remove),
            (None, None) => None,
        };
        let info = self.relay.update_session(id, update)?;
        let to_browser = browser.direction.reversed().and(enterprise.direction);
        let to_enterprise = enterprise.direction.reversed().and(browser.direction);
        let answer = browser::write_answer(
            &browser,
            &info,
            call.setup,
            &Mapped::browser(&codecs),
            to_browser,
            VideoPlan::answer(video.as_ref()),
        );
        let enterprise_sdp = enterprise::write(
            &info,
            &enterprise.layout,
            &Mapped::enterprise(&codecs),
            to_enterprise,
            VideoPlan::enterprise_line(video.as_ref()),
        );
        self.store(id, |call| {
            call.info = info;
            call.browser = Some(BrowserSide {
                remote: browser.remote,
                direction: browser.direction,
                codecs: browser.codecs,
            });
            call.codecs = codecs;
            call.video = video;
        });
        Ok(Negotiated {
            id: id.to_string(),
            answer: Some(answer),
            offer: None,
            enterprise_sdp: Some(enterprise_sdp),
            awaiting: None,
        })
    }

    /// `POST /v1/sessions/{id}/enterprise`: the enterprise leg of a running call moves to an
    /// address, or to the side an SDP describes (answered: `enterprise-sdp`). A refused
    /// move changes nothing.
    pub fn move_enterprise(&self, id: &str, target: EnterpriseTarget) -> Result<Negotiated, Error> {
        let id = self.live_id(id)?;
        let call = self.settled(id)?;
        let browser_direction = call
            .browser
            .as_ref()
            .map(|b| b.direction)
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        let mut update = SessionUpdate::default();
        match target_kind(target, "enterprise")? {
            Target::Address(mut remote, rtcp_mux) => {
                if call.enterprise.srtp {
                    return Err(Error::Request(
                        "the enterprise leg uses SDES-SRTP: a move needs the new side's SDP \
                         (enterprise.sdp) with its a=crypto"
                            .into(),
                    ));
                }
                // Left out, rtcp-mux stays as it is on the leg.
                remote.rtcp_mux = rtcp_mux;
                update.enterprise = Some(remote);
                let info = self.relay.update_session(id, update)?;
                self.store(id, |call| call.info = info);
                Ok(Negotiated {
                    id: id.to_string(),
                    answer: None,
                    offer: None,
                    enterprise_sdp: None,
                    awaiting: None,
                })
            }
            Target::Sdp(sdp) => {
                let desc = EnterpriseDescription::parse("enterprise.sdp", &sdp, None)?;
                if desc.remote.crypto.is_some() != call.enterprise.srtp {
                    let was = if call.enterprise.srtp {
                        "SDES-SRTP (RTP/SAVP)"
                    } else {
                        "plain RTP (RTP/AVP)"
                    };
                    return Err(Error::sdp(
                        audio_line("enterprise.sdp", desc.audio_index),
                        format!(
                            "protocol {}: the call's enterprise leg is {was}, which cannot \
                             change within a call",
                            desc.proto
                        ),
                    ));
                }
                let in_use = Mapped::browser(&call.codecs);
                let pairs = negotiate(
                    audio_line("enterprise.sdp", desc.audio_index),
                    &desc.codecs,
                    Some(("the browser's side of the call", &in_use)),
                )?;
                let codecs = Mapped::from_pairs(pairs, false);
                let mut remote = desc.remote.clone();
                remote.rtcp_mux = Some(desc.rtcp_mux);
                update.enterprise = Some(remote);
                update.media = Some(media_plan(browser_direction, desc.direction, &codecs));
                if call.video.is_some() {
                    update.video = Some(VideoChange::Remove);
                }
                let info = self.relay.update_session(id, update)?;
                let layout = Layout::answering(&desc);
                let to_enterprise = desc.direction.reversed().and(browser_direction);
                let enterprise_sdp = enterprise::write(
                    &info,
                    &layout,
                    &Mapped::enterprise(&codecs),
                    to_enterprise,
                    None,
                );
                self.store(id, |call| {
                    call.info = info;
                    call.enterprise = EnterpriseSide {
                        layout,
                        direction: desc.direction,
                        codecs: desc.codecs,
                        srtp: call.enterprise.srtp,
                        video: desc.video,
                    };
                    call.codecs = codecs;
                    call.video = None;
                });
                Ok(Negotiated {
                    id: id.to_string(),
                    answer: None,
                    offer: None,
                    enterprise_sdp: Some(enterprise_sdp),
                    awaiting: None,
                })
            }
        }
    }

    /// The call of a session whose first offer/answer is complete.
    fn settled(&self, id: SessionId) -> Result<Call, Error> {
        if let Some(awaiting) = self.pending(|p| p.get(&id).map(Pending::awaiting)) {
            let which = match awaiting {
                super::Awaiting::BrowserAnswer => "the browser's answer",
                super::Awaiting::EnterpriseAnswer => "the enterprise side's answer",
            };
            return Err(Error::NotAwaiting {
                id: id.to_string(),
                state: format!(
                    "is waiting for {which} to its first offer (POST /v1/sessions/{id}/answer): \
                     renegotiation follows that answer"
                ),
            });
        }
        self.calls(|c| c.get(&id).cloned())
            .ok_or_else(|| Error::UnknownSession(id.to_string()))
    }

    /// Applies `change` to the stored call, if it is still there.
    fn store(&self, id: SessionId, change: impl FnOnce(&mut Call)) {
        self.calls(|c| c.get_mut(&id).map(change));
    }
}
