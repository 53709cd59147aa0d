//! The video m-line of a call (issue 15, item 4): whether media-edge accepts the browser's
//! bundled video line, with which codecs, toward which enterprise video line, and what the
//! forwarder is told.
//!
//! Video is accepted when the browser offers a bundled video line
//! ([`BrowserDescription::video`]), the enterprise side's SDP has a plain-RTP video line
//! with a codec in common (VP8, H264) or media-edge offers to the enterprise side (its
//! offer then has a video line with the browser's video codecs, and the enterprise answer
//! keeps or declines it), and the session can carry it: not on a named
//! connection (its one fixed tuple carries the audio line; video is declined, port 0, and
//! the call goes on with audio), not with SDES-SRTP toward the enterprise (video is plain
//! RTP only). Otherwise the video line is declined (port 0) and the call is audio only.

use edge_forward::{EnterpriseRemote, VideoSpec};

use super::call::{media_plan, Mapped};
use crate::sdp::browser::{BrowserDescription, VideoAnswer};
use crate::sdp::codec::{negotiate_video, Codec};
use crate::sdp::enterprise::EnterpriseVideo;
use crate::sdp::Direction;

/// The video line as negotiated.
#[derive(Debug, Clone)]
pub(super) struct VideoPlan {
    /// The browser's direction, from its point of view.
    pub(super) browser: Direction,
    /// The enterprise side's.
    pub(super) enterprise: Direction,
    /// What the forwarder is told.
    pub(super) spec: VideoSpec,
    /// The browser's codecs of the line, for the answer.
    browser_codecs: Vec<Codec>,
    /// The enterprise side's, for its SDP.
    enterprise_codecs: Vec<Codec>,
}

/// Why a session cannot carry video whatever the SDP says, if it cannot.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capable {
    /// The session is on a named connection.
    pub(super) connection: bool,
    /// The enterprise leg is SDES-SRTP.
    pub(super) srtp: bool,
}

impl VideoPlan {
    /// The video line media-edge accepts for `browser`'s offer toward `enterprise`, beside
    /// the audio line's `audio` formats; `None` declines it (see the module docs).
    pub(super) fn negotiate(
        browser: &BrowserDescription,
        audio: &[Mapped],
        enterprise: Option<&EnterpriseVideo>,
        capable: Capable,
    ) -> Option<VideoPlan> {
        let offer = browser.video.as_ref()?;
        let enterprise = enterprise?;
        if capable.connection || capable.srtp {
            return None;
        }
        let pairs = negotiate_video(&offer.codecs, Some(&enterprise.codecs))?;
        let mut remote = enterprise.remote.clone();
        remote.rtcp_mux = None;
        let side = (Some(remote), enterprise.rtcp_mux, enterprise.direction);
        Some(Self::build(
            browser,
            audio,
            Mapped::from_pairs(pairs, true),
            side,
        ))
    }

    /// The video line of media-edge's own offer to the enterprise side for `browser`'s
    /// offer: the browser's video codecs under its numbering, no remote until the
    /// enterprise side answers; `None` declines it.
    pub(super) fn offering(
        browser: &BrowserDescription,
        audio: &[Mapped],
        capable: Capable,
    ) -> Option<VideoPlan> {
        let offer = browser.video.as_ref()?;
        if capable.connection || capable.srtp {
            return None;
        }
        let pairs = negotiate_video(&offer.codecs, None)?;
        let side = (None, false, Direction::SENDRECV);
        Some(Self::build(
            browser,
            audio,
            Mapped::from_pairs(pairs, true),
            side,
        ))
    }

    /// The plan of `codecs` toward `side`: the enterprise remote (if known), its rtcp-mux
    /// and direction.
    fn build(
        browser: &BrowserDescription,
        audio: &[Mapped],
        codecs: Vec<Mapped>,
        (remote, rtcp_mux, direction): (Option<EnterpriseRemote>, bool, Direction),
    ) -> VideoPlan {
        let browser_direction = browser
            .video
            .as_ref()
            .map_or(Direction::SENDRECV, |v| v.direction);
        let mut spec = VideoSpec::new();
        spec.enterprise = remote;
        spec.rtcp_mux_enterprise = rtcp_mux;
        spec.media = Some(media_plan(browser_direction, direction, &codecs));
        spec.demux = browser.demux(&Mapped::browser(audio), &Mapped::browser(&codecs));
        VideoPlan {
            browser_codecs: Mapped::browser(&codecs),
            enterprise_codecs: Mapped::enterprise(&codecs),
            browser: browser_direction,
            enterprise: direction,
            spec,
        }
    }

    /// The browser answer's video line: its codecs and media-edge's direction.
    pub(super) fn answer(plan: Option<&VideoPlan>) -> VideoAnswer<'_> {
        plan.map(|p| {
            let direction = p.browser.reversed().and(p.enterprise);
            (&p.browser_codecs[..], direction)
        })
    }

    /// The enterprise SDP's video line: its codecs and media-edge's direction.
    pub(super) fn enterprise_line(plan: Option<&VideoPlan>) -> Option<(&[Codec], Direction)> {
        plan.map(|p| {
            let direction = p.enterprise.reversed().and(p.browser);
            (&p.enterprise_codecs[..], direction)
        })
    }
}
