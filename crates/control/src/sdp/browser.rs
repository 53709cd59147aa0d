//! The browser's side: reading its offer or answer (ICE credentials, DTLS fingerprints and
//! role, the audio m-line, a bundled video m-line) and writing media-edge's answer or offer
//! for it (ICE-lite, one host candidate, `a=setup`, rtcp-mux, BUNDLE).
//!
//! # Video
//! An offer's first video m-line is a candidate for video when it is in the audio line's
//! BUNDLE group (one transport: one public port), DTLS-SRTP with rtcp-mux; any other video
//! line is answered with port 0. Simulcast is not forwarded: the answer leaves out
//! `a=simulcast` and `a=rid`, so the browser sends one encoding (RFC 8853 section 5.3: an
//! answer without simulcast declines it). The MID header extension
//! (`urn:ietf:params:rtp-hdrext:sdes:mid`) is answered (on both lines) when offered, for
//! the forwarder's demultiplexing; no other header extension is.

use std::net::SocketAddr;

use edge_dtls::Fingerprint;
use edge_forward::{BrowserRemote, SessionInfo};
use edge_forward::{BundleDemux, LineIds};
use sdp::description::common::Attribute;
use sdp::description::media::{MediaDescription, MediaName};
use sdp::description::session::SessionDescription;

use super::codec::{self, Codec};
use super::{
    attribute_values, connection, media_lines, new_description, ranged_port, with_media_lines,
    Direction, MediaRef, RejectedLine,
};
use crate::error::{Error, SdpLocation};

/// Whether a description is an offer or an answer (they differ in the `a=setup` allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The browser offers: `a=setup:actpass` (or `active`/`passive`).
    Offer,
    /// The browser answers media-edge's offer: `a=setup:active` or `passive`.
    Answer,
}

/// The mid of the one m-line of media-edge's offers.
pub(crate) const OFFER_MID: &str = "0";

/// The MID header extension (RFC 9143 section 14.1).
pub(crate) const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";

/// A browser's video m-line that media-edge can accept.
#[derive(Debug, Clone)]
pub(crate) struct VideoOffer {
    /// Its index among the m-lines.
    pub(crate) index: usize,
    /// Its `a=mid` (a bundled line has one).
    pub(crate) mid: String,
    /// Its payload formats.
    pub(crate) codecs: Vec<Codec>,
    /// Its direction, from the browser's point of view.
    pub(crate) direction: Direction,
    /// Its `a=ssrc` ids.
    pub(crate) ssrcs: Vec<u32>,
    /// How the answer repeats it when video is declined.
    pub(crate) declined: RejectedLine,
}

/// What media-edge uses of a browser's SDP.
#[derive(Debug, Clone)]
pub(crate) struct BrowserDescription {
    /// ICE credentials, fingerprints and `a=setup`: what the forwarder needs.
    pub(crate) remote: BrowserRemote,
    /// The index of the audio m-line media-edge accepts.
    pub(crate) audio_index: usize,
    /// Its `a=mid`.
    pub(crate) mid: Option<String>,
    /// Its payload formats.
    pub(crate) codecs: Vec<Codec>,
    /// Its direction, from the browser's point of view.
    pub(crate) direction: Direction,
    /// Whether a BUNDLE group holds its mid.
    pub(crate) bundled: bool,
    /// Its `a=ssrc` ids.
    pub(crate) ssrcs: Vec<u32>,
    /// The video line media-edge can accept, if any (see the module docs).
    pub(crate) video: Option<VideoOffer>,
    /// The `a=extmap` id of the MID header extension, when offered.
    pub(crate) mid_extension: Option<u8>,
    /// Every other m-line: answered with port 0.
    pub(crate) rejected: Vec<(usize, RejectedLine)>,
}

impl BrowserDescription {
    /// Reads a browser offer or answer that came in the request field `field`.
    pub(crate) fn parse(field: &'static str, text: &str, kind: Kind) -> Result<Self, Error> {
        let sdp = super::parse(field, text)?;
        let session_error = |attribute, reason: String| {
            Error::sdp(
                SdpLocation {
                    field,
                    media: None,
                    attribute: Some(attribute),
                },
                reason,
            )
        };
        let audio = media_lines(field, &sdp)
            .find(|m| m.kind() == "audio" && m.media.media_name.port.value != 0)
            .ok_or_else(|| {
                let reason = if media_lines(field, &sdp).any(|m| m.kind() == "audio") {
                    "the audio m-line is rejected (port 0): media-edge forwards audio"
                } else {
                    "no audio m-line: media-edge forwards audio"
                };
                session_error("m=", reason.into())
            })?;
        audio.port()?;
        let proto = audio.proto();
        if proto != "UDP/TLS/RTP/SAVPF" && proto != "UDP/TLS/RTP/SAVP" {
            return Err(audio.error(
                Some("m="),
                format!("protocol {proto} is not DTLS-SRTP over UDP (UDP/TLS/RTP/SAVPF)"),
            ));
        }
        if !audio.has("rtcp-mux") {
            return Err(audio.error(
                Some("a=rtcp-mux"),
                "missing: media-edge multiplexes RTCP with RTP toward browsers (RFC 8858)",
            ));
        }
        if kind == Kind::Answer && sdp.media_descriptions.len() != 1 {
            return Err(session_error(
                "m=",
                format!(
                    "the answer has {} m-lines, media-edge's offer had 1",
                    sdp.media_descriptions.len()
                ),
            ));
        }
        let ice_ufrag = ice_credential(&audio, &sdp, "ice-ufrag", 4)?;
        let ice_pwd = ice_credential(&audio, &sdp, "ice-pwd", 22)?;
        let fingerprints = fingerprints(&audio, &sdp)?;
        let setup = setup(&audio, &sdp, kind)?;
        let mid = audio.values("mid").next().map(str::to_owned);
        if let (Kind::Answer, Some(mid)) = (kind, mid.as_deref()) {
            if mid != OFFER_MID {
                return Err(audio.error(
                    Some("a=mid"),
                    format!("{mid:?} is not the offered mid {OFFER_MID:?}"),
                ));
            }
        }
        let bundled = mid.as_deref().is_some_and(|mid| {
            attribute_values(&sdp.attributes, "group").any(|g| {
                let mut tokens = g.split_ascii_whitespace();
                tokens.next() == Some("BUNDLE") && tokens.any(|t| t == mid)
            })
        });
        let codecs = codec::parse(&audio)?;
        let group = bundle_group(&sdp, mid.as_deref());
        let video = match kind {
            Kind::Offer => media_lines(field, &sdp)
                .find(|m| m.kind() == "video")
                .filter(|m| m.port().is_ok_and(|port| port != 0))
                .map(|m| video_offer(&m, &sdp, &group))
                .transpose()?
                .flatten(),
            Kind::Answer => None,
        };
        let video_index = video.as_ref().map(|v| v.index);
        let rejected = media_lines(field, &sdp)
            .filter(|m| m.index != audio.index && Some(m.index) != video_index)
            .map(|m| (m.index, RejectedLine::of(&m)))
            .collect();
        let mid_extension = mid_extension(&audio).or_else(|| {
            let index = video_index?;
            mid_extension(&media_lines(field, &sdp).nth(index)?)
        });
        Ok(BrowserDescription {
            remote: BrowserRemote::new(ice_ufrag, ice_pwd, fingerprints, setup),
            audio_index: audio.index,
            mid,
            direction: Direction::of(&audio, &sdp),
            codecs,
            bundled,
            ssrcs: ssrcs(&audio),
            video,
            mid_extension,
            rejected,
        })
    }

    /// How the forwarder tells the lines apart when the video line is accepted with
    /// `video_codecs` (the browser's numbering) beside the audio line's `audio_codecs`.
    pub(crate) fn demux(&self, audio_codecs: &[Codec], video_codecs: &[Codec]) -> BundleDemux {
        let pts = |codecs: &[Codec]| codecs.iter().map(|c| c.pt).collect();
        let mut demux = BundleDemux::default();
        demux.mid_extension = self.mid_extension;
        demux.audio = LineIds::new(self.mid.clone(), self.ssrcs.clone(), pts(audio_codecs));
        if let Some(video) = &self.video {
            demux.video = LineIds::new(
                Some(video.mid.clone()),
                video.ssrcs.clone(),
                pts(video_codecs),
            );
        }
        demux
    }
}

/// The mids of the BUNDLE group holding `mid` (empty when none does).
fn bundle_group(sdp: &SessionDescription, mid: Option<&str>) -> Vec<String> {
    let Some(mid) = mid else {
        return Vec::new();
    };
    attribute_values(&sdp.attributes, "group")
        .map(|g| g.split_ascii_whitespace().collect::<Vec<_>>())
        .find(|tokens| tokens.first() == Some(&"BUNDLE") && tokens[1..].contains(&mid))
        .map(|tokens| tokens[1..].iter().map(|t| (*t).to_owned()).collect())
        .unwrap_or_default()
}

/// The video line `media` when media-edge can accept it: in the audio line's BUNDLE
/// group, DTLS-SRTP, rtcp-mux; `None` otherwise (it is then answered with port 0).
fn video_offer(
    media: &MediaRef<'_>,
    sdp: &SessionDescription,
    group: &[String],
) -> Result<Option<VideoOffer>, Error> {
    let Some(mid) = media.values("mid").next().map(str::to_owned) else {
        return Ok(None);
    };
    let proto = media.proto();
    let usable = group.contains(&mid)
        && (proto == "UDP/TLS/RTP/SAVPF" || proto == "UDP/TLS/RTP/SAVP")
        && media.has("rtcp-mux");
    if !usable {
        return Ok(None);
    }
    Ok(Some(VideoOffer {
        index: media.index,
        mid,
        codecs: codec::parse(media)?,
        direction: Direction::of(media, sdp),
        ssrcs: ssrcs(media),
        declined: RejectedLine::of(media),
    }))
}

/// The `a=ssrc` ids of an m-line, each once.
fn ssrcs(media: &MediaRef<'_>) -> Vec<u32> {
    let mut ids: Vec<u32> = Vec::new();
    for value in media.values("ssrc") {
        let id = value
            .split_ascii_whitespace()
            .next()
            .and_then(|v| v.parse().ok());
        if let Some(id) = id.filter(|id| !ids.contains(id)) {
            ids.push(id);
        }
    }
    ids
}

/// The `a=extmap` id of the MID header extension in an m-line (RFC 8285: 1 to 14 one-byte,
/// up to 255 two-byte).
fn mid_extension(media: &MediaRef<'_>) -> Option<u8> {
    media.values("extmap").find_map(|value| {
        let mut fields = value.split_ascii_whitespace();
        let id = fields.next()?.split('/').next()?.parse::<u8>().ok()?;
        (fields.next()? == MID_URI && id != 0).then_some(id)
    })
}

/// `a=ice-ufrag` / `a=ice-pwd` of the m-line, or of the session: ice-chars (RFC 8839),
/// `min` to 256 of them.
fn ice_credential(
    media: &MediaRef<'_>,
    sdp: &SessionDescription,
    key: &'static str,
    min: usize,
) -> Result<String, Error> {
    let attribute = if key == "ice-ufrag" {
        "a=ice-ufrag"
    } else {
        "a=ice-pwd"
    };
    let value = media
        .values(key)
        .next()
        .or_else(|| attribute_values(&sdp.attributes, key).next())
        .ok_or_else(|| media.error(Some(attribute), "missing (in the m-line and the session)"))?;
    let ice_char = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    if !(min..=256).contains(&value.len()) || !value.bytes().all(ice_char) {
        return Err(media.error(
            Some(attribute),
            format!("must be {min} to 256 characters of A-Z a-z 0-9 + / (RFC 8839)"),
        ));
    }
    Ok(value.to_owned())
}

/// Every usable `a=fingerprint` of the m-line, or else of the session. Hash functions this
/// side does not know are skipped as long as one usable fingerprint remains.
fn fingerprints(media: &MediaRef<'_>, sdp: &SessionDescription) -> Result<Vec<Fingerprint>, Error> {
    let mut values: Vec<&str> = media.values("fingerprint").collect();
    if values.is_empty() {
        values = attribute_values(&sdp.attributes, "fingerprint").collect();
    }
    let mut first_error = None;
    let mut parsed = Vec::new();
    for value in values {
        match value.parse::<Fingerprint>() {
            Ok(f) => parsed.push(f),
            Err(e) => {
                first_error.get_or_insert(format!("{value:?}: {e}"));
            }
        }
    }
    if parsed.is_empty() {
        let reason = first_error.unwrap_or_else(|| {
            "missing (in the m-line and the session): DTLS-SRTP needs it".into()
        });
        return Err(media.error(Some("a=fingerprint"), reason));
    }
    Ok(parsed)
}

/// `a=setup` of the m-line, or of the session: `actpass`, `active` or `passive` in an
/// offer, `active` or `passive` in an answer.
fn setup(media: &MediaRef<'_>, sdp: &SessionDescription, kind: Kind) -> Result<String, Error> {
    let value = media
        .values("setup")
        .next()
        .or_else(|| attribute_values(&sdp.attributes, "setup").next())
        .ok_or_else(|| {
            media.error(
                Some("a=setup"),
                "missing (in the m-line and the session): the DTLS role is unknown",
            )
        })?
        .to_ascii_lowercase();
    let allowed: &[&str] = match kind {
        Kind::Offer => &["actpass", "active", "passive"],
        Kind::Answer => &["active", "passive"],
    };
    if !allowed.contains(&value.as_str()) {
        let what = if kind == Kind::Offer {
            "an offer"
        } else {
            "an answer"
        };
        return Err(media.error(
            Some("a=setup"),
            format!("{value:?} is not allowed in {what} (expected one of {allowed:?})"),
        ));
    }
    Ok(value)
}

/// The video line of an answer: accepted with `codecs` (the browser's numbering) in
/// `direction` (media-edge's point of view), or declined (`None`).
pub(crate) type VideoAnswer<'a> = Option<(&'a [Codec], Direction)>;

/// Media-edge's answer to `offer`: the audio m-line accepted with `codecs`, `direction`
/// (media-edge's point of view) and media-edge's DTLS role `setup`, the video line as
/// `video` says, every other m-line rejected.
pub(crate) fn write_answer(
    offer: &BrowserDescription,
    info: &SessionInfo,
    setup: &str,
    codecs: &[Codec],
    direction: Direction,
    video: VideoAnswer<'_>,
) -> String {
    let address = info.public_addr.ip();
    let mut sdp = new_description(info.id.0, address).with_property_attribute("ice-lite".into());
    let accepted_video = offer.video.as_ref().zip(video);
    if let (true, Some(mid)) = (offer.bundled, &offer.mid) {
        let group = match accepted_video {
            Some((v, _)) => format!("BUNDLE {mid} {}", v.mid),
            None => format!("BUNDLE {mid}"),
        };
        sdp = sdp.with_value_attribute("group".into(), group);
    }
    // The MID extension only with video: audio alone needs no demultiplexing.
    let mid_extension = offer.mid_extension.filter(|_| accepted_video.is_some());
    let mut audio = audio_line(info, offer.mid.as_deref(), setup, codecs, direction);
    let mut lines = Vec::new();
    match (&offer.video, accepted_video) {
        (_, Some((v, (video_codecs, video_direction)))) => {
            let mut line = audio_line(info, Some(&v.mid), setup, video_codecs, video_direction);
            line.media_name.media = "video".into();
            if let Some(id) = mid_extension {
                let extmap = Attribute::new("extmap".into(), Some(format!("{id} {MID_URI}")));
                audio.attributes.insert(1, extmap.clone());
                line.attributes.insert(1, extmap);
            }
            lines.push((v.index, line));
        }
        (Some(v), None) => lines.push((v.index, v.declined.write(address))),
        (None, None) => {}
    }
    lines.push((offer.audio_index, audio));
    with_media_lines(sdp, &offer.rejected, lines, address).marshal()
}

/// Media-edge's offer to the browser: one audio m-line (mid `0`, BUNDLE), `a=setup:actpass`.
pub(crate) fn write_offer(info: &SessionInfo, codecs: &[Codec], direction: Direction) -> String {
    new_description(info.id.0, info.public_addr.ip())
        .with_property_attribute("ice-lite".into())
        .with_value_attribute("group".into(), format!("BUNDLE {OFFER_MID}"))
        .with_media(audio_line(
            info,
            Some(OFFER_MID),
            "actpass",
            codecs,
            direction,
        ))
        .marshal()
}

/// The accepted audio m-line: media-edge's public candidate, ICE and DTLS parameters.
fn audio_line(
    info: &SessionInfo,
    mid: Option<&str>,
    setup: &str,
    codecs: &[Codec],
    direction: Direction,
) -> MediaDescription {
    let public = info.public_addr;
    let mut attributes = Vec::new();
    let mut add =
        |key: &str, value: Option<String>| attributes.push(Attribute::new(key.into(), value));
    if let Some(mid) = mid {
        add("mid", Some(mid.to_owned()));
    }
    add(direction.attribute(), None);
    add("rtcp-mux", None);
    add("ice-ufrag", Some(info.ice_ufrag.clone()));
    add("ice-pwd", Some(info.ice_pwd.clone()));
    add("fingerprint", Some(info.fingerprint.to_string()));
    add("setup", Some(setup.to_owned()));
    attributes.extend(codecs.iter().flat_map(Codec::attributes));
    attributes.push(Attribute::new(
        "candidate".into(),
        Some(host_candidate(public)),
    ));
    attributes.push(Attribute::new("end-of-candidates".into(), None));
    MediaDescription {
        media_name: MediaName {
            media: "audio".into(),
            port: ranged_port(public.port()),
            protos: ["UDP", "TLS", "RTP", "SAVPF"].map(String::from).to_vec(),
            formats: codecs.iter().map(|c| c.pt.to_string()).collect(),
        },
        connection_information: Some(connection(public.ip())),
        attributes,
        ..Default::default()
    }
}

/// The one host candidate (RFC 8839): component 1, UDP, the highest host priority.
fn host_candidate(public: SocketAddr) -> String {
    // type preference 126 (host), local preference 65535, component 1 (RFC 8445 5.1.2.1).
    let priority: u32 = (126 << 24) | (65535 << 8) | (256 - 1);
    format!(
        "1 1 udp {priority} {} {} typ host",
        public.ip(),
        public.port()
    )
}

#[cfg(test)]
#[path = "browser_tests.rs"]
mod tests;
