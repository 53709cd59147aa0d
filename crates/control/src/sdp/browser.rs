//! The browser's side: reading its offer or answer (ICE credentials, DTLS fingerprints and
//! role, the audio m-line) and writing media-edge's answer or offer for it (ICE-lite, one
//! host candidate, `a=setup`, rtcp-mux, BUNDLE).

use std::net::SocketAddr;

use edge_dtls::Fingerprint;
use edge_forward::{BrowserRemote, SessionInfo};
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
        let rejected = media_lines(field, &sdp)
            .filter(|m| m.index != audio.index)
            .map(|m| (m.index, RejectedLine::of(&m)))
            .collect();
        Ok(BrowserDescription {
            remote: BrowserRemote::new(ice_ufrag, ice_pwd, fingerprints, setup),
            audio_index: audio.index,
            mid,
            direction: Direction::of(&audio, &sdp),
            codecs,
            bundled,
            rejected,
        })
    }
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

/// Media-edge's answer to `offer`: the audio m-line accepted with `codecs`, `direction`
/// (media-edge's point of view) and media-edge's DTLS role `setup`, every other m-line
/// rejected.
pub(crate) fn write_answer(
    offer: &BrowserDescription,
    info: &SessionInfo,
    setup: &str,
    codecs: &[Codec],
    direction: Direction,
) -> String {
    let address = info.public_addr.ip();
    let mut sdp = new_description(info.id.0, address).with_property_attribute("ice-lite".into());
    if let (true, Some(mid)) = (offer.bundled, &offer.mid) {
        sdp = sdp.with_value_attribute("group".into(), format!("BUNDLE {mid}"));
    }
    let audio = audio_line(info, offer.mid.as_deref(), setup, codecs, direction);
    with_media_lines(sdp, &offer.rejected, offer.audio_index, audio, address).marshal()
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
