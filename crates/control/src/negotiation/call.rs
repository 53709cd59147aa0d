//! A call as last negotiated: what renegotiation checks a new description against and
//! builds the forwarder's media plan from.

use edge_forward::{BrowserRemote, MediaPlan, SessionInfo};

use super::video::VideoPlan;
use crate::sdp::codec::{payload_map, Codec, Pair};
use crate::sdp::enterprise::{EnterpriseVideo, Layout};
use crate::sdp::Direction;

/// A call as last negotiated, for renegotiation: both sides' descriptions as media-edge
/// applied them and the codecs between them.
#[derive(Debug, Clone)]
pub(super) struct Call {
    /// The forwarder's session (its ICE credentials change with an ICE restart).
    pub(super) info: SessionInfo,
    /// Media-edge's DTLS role toward the browser (`passive` or `active`), which a re-answer
    /// keeps.
    pub(super) setup: &'static str,
    /// The browser's description; `None` until it answered media-edge's offer.
    pub(super) browser: Option<BrowserSide>,
    /// The enterprise side's.
    pub(super) enterprise: EnterpriseSide,
    /// The formats in use: the browser's payload type and the enterprise side's for each.
    pub(super) codecs: Vec<Mapped>,
    /// The video line in use, if any.
    pub(super) video: Option<VideoPlan>,
}

/// The browser's side of a [`Call`].
#[derive(Debug, Clone)]
pub(super) struct BrowserSide {
    /// Its ICE credentials, fingerprints and `a=setup`.
    pub(super) remote: BrowserRemote,
    /// Its direction, from its point of view.
    pub(super) direction: Direction,
    /// Every format its last description listed (its numbering, kept within the call).
    pub(super) codecs: Vec<Codec>,
}

/// The enterprise side of a [`Call`].
#[derive(Debug, Clone)]
pub(super) struct EnterpriseSide {
    /// The m-lines of media-edge's SDP for it.
    pub(super) layout: Layout,
    /// Its direction, from its point of view.
    pub(super) direction: Direction,
    /// Every format its last SDP listed, or (an address, or media-edge's own offer) the
    /// formats media-edge chose for it.
    pub(super) codecs: Vec<Codec>,
    /// SDES-SRTP on the leg (it cannot change within the call).
    pub(super) srtp: bool,
    /// Its SDP's video line, if it had one.
    pub(super) video: Option<EnterpriseVideo>,
}

/// One format in use on both legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mapped {
    /// As the browser numbers it.
    pub(super) browser: Codec,
    /// As the enterprise side numbers it.
    pub(super) enterprise: Codec,
}

impl Mapped {
    /// The pairs of a negotiation in which the browser's side offered (`browser_offered`)
    /// or the enterprise's did.
    pub(super) fn from_pairs(pairs: Vec<Pair>, browser_offered: bool) -> Vec<Mapped> {
        pairs
            .into_iter()
            .map(|p| {
                let (browser, enterprise) = if browser_offered {
                    (p.offered, p.accepted)
                } else {
                    (p.accepted, p.offered)
                };
                Mapped {
                    browser,
                    enterprise,
                }
            })
            .collect()
    }

    /// The browser's side of each, in order.
    pub(super) fn browser(codecs: &[Mapped]) -> Vec<Codec> {
        codecs.iter().map(|m| m.browser.clone()).collect()
    }

    /// The enterprise side's of each, in order.
    pub(super) fn enterprise(codecs: &[Mapped]) -> Vec<Codec> {
        codecs.iter().map(|m| m.enterprise.clone()).collect()
    }
}

/// What the forwarder is told about directions and payload types: each side's direction as
/// its own SDP says, and `(browser PT, enterprise PT)` for every format in use.
pub(super) fn media_plan(
    browser: Direction,
    enterprise: Direction,
    codecs: &[Mapped],
) -> MediaPlan {
    let pairs: Vec<Pair> = codecs
        .iter()
        .map(|m| Pair {
            offered: m.browser.clone(),
            accepted: m.enterprise.clone(),
        })
        .collect();
    MediaPlan::new(
        browser.for_relay(),
        enterprise.for_relay(),
        payload_map(&pairs, true),
    )
}
