//! The enterprise side: reading its SDP (RTP address and ports, codecs, rtcp-mux, SDES
//! `a=crypto`) and writing media-edge's (RTP/AVP or RTP/SAVP from the pinned
//! transport-address and the session's enterprise port).
//!
//! Video: the first video m-line with a port, plain RTP (`RTP/AVP` or `RTP/AVPF`), is the
//! enterprise side of the browser's video; media-edge's SDP then has one m-line per
//! accepted browser m-line, the video line on its own port (pair) with the enterprise
//! side's payload types.

use std::net::{IpAddr, SocketAddr};

use edge_forward::{EnterpriseRemote, SessionInfo, VideoPorts};
use edge_srtp::{CryptoAttribute, Profile};
use sdp::description::common::{Attribute, ConnectionInformation};
use sdp::description::media::{MediaDescription, MediaName};

use super::codec::{self, Codec};
use super::{
    connection, media_lines, new_description, ranged_port, with_media_lines, Direction, MediaRef,
    RejectedLine,
};
use crate::error::{Error, SdpLocation};

/// What media-edge uses of an enterprise SDP.
#[derive(Debug, Clone)]
pub(crate) struct EnterpriseDescription {
    /// Where its RTP and RTCP go, and its SDES key (when SRTP).
    pub(crate) remote: EnterpriseRemote,
    /// `a=rtcp-mux`.
    pub(crate) rtcp_mux: bool,
    /// The transport protocol of its audio m-line (`RTP/AVP`, `RTP/SAVP`, ...).
    pub(crate) proto: String,
    /// The index of its audio m-line.
    pub(crate) audio_index: usize,
    /// Its payload formats.
    pub(crate) codecs: Vec<Codec>,
    /// Its direction, from the enterprise's point of view.
    pub(crate) direction: Direction,
    /// Its video m-line, when it has a usable one.
    pub(crate) video: Option<EnterpriseVideo>,
    /// Every other m-line.
    pub(crate) rejected: Vec<(usize, RejectedLine)>,
}

/// The video m-line of an enterprise SDP.
#[derive(Debug, Clone)]
pub(crate) struct EnterpriseVideo {
    /// Its index among the m-lines.
    pub(crate) index: usize,
    /// Where its RTP and RTCP go.
    pub(crate) remote: EnterpriseRemote,
    /// `a=rtcp-mux`.
    pub(crate) rtcp_mux: bool,
    /// `RTP/AVP` or `RTP/AVPF`.
    pub(crate) proto: String,
    /// Its payload formats.
    pub(crate) codecs: Vec<Codec>,
    /// Its direction, from the enterprise's point of view.
    pub(crate) direction: Direction,
    /// How an answer repeats it when video is declined.
    pub(crate) declined: RejectedLine,
}

impl EnterpriseVideo {
    /// The video line `media` when it is plain RTP with a port; `None` otherwise.
    fn parse(
        media: &MediaRef<'_>,
        session_c: Option<&ConnectionInformation>,
        session: &sdp::description::session::SessionDescription,
    ) -> Result<Option<EnterpriseVideo>, Error> {
        let port = media.port()?;
        let proto = media.proto();
        if port == 0 || !(proto == "RTP/AVP" || proto == "RTP/AVPF") {
            return Ok(None);
        }
        let c = media.media.connection_information.as_ref().or(session_c);
        let ip = connection_address(media, c)?;
        let rtcp_mux = media.has("rtcp-mux");
        let rtcp = match media.values("rtcp").next() {
            Some(value) if !rtcp_mux => Some(rtcp_address(media, value, ip)?),
            _ => None,
        };
        let mut remote = EnterpriseRemote::new(SocketAddr::new(ip, port));
        remote.rtcp = rtcp;
        Ok(Some(EnterpriseVideo {
            index: media.index,
            remote,
            rtcp_mux,
            proto,
            codecs: codec::parse(media)?,
            direction: Direction::of(media, session),
            declined: RejectedLine::of(media),
        }))
    }
}

impl EnterpriseDescription {
    /// Reads an enterprise SDP from the request field `field`. `answering` is the key
    /// media-edge offered (its tag and suite) when this is the answer to that offer: the
    /// answer's `a=crypto` must carry the same tag and suite.
    pub(crate) fn parse(
        field: &'static str,
        text: &str,
        answering: Option<(u32, Profile)>,
    ) -> Result<Self, Error> {
        let sdp = super::parse(field, text)?;
        let audio = media_lines(field, &sdp)
            .find(|m| m.kind() == "audio" && m.media.media_name.port.value != 0)
            .ok_or_else(|| {
                Error::sdp(
                    SdpLocation {
                        field,
                        media: None,
                        attribute: Some("m="),
                    },
                    "no audio m-line with a port: media-edge forwards audio",
                )
            })?;
        let port = audio.port()?;
        let proto = audio.proto();
        let srtp = match proto.as_str() {
            "RTP/AVP" | "RTP/AVPF" => false,
            "RTP/SAVP" | "RTP/SAVPF" => true,
            _ => {
                return Err(audio.error(
                    Some("m="),
                    format!("protocol {proto} is neither RTP/AVP nor RTP/SAVP"),
                ))
            }
        };
        let c = audio
            .media
            .connection_information
            .as_ref()
            .or(sdp.connection_information.as_ref());
        let ip = connection_address(&audio, c)?;
        let rtcp_mux = audio.has("rtcp-mux");
        let rtcp = match audio.values("rtcp").next() {
            Some(value) if !rtcp_mux => Some(rtcp_address(&audio, value, ip)?),
            _ => None,
        };
        let crypto = match (srtp, answering) {
            (false, None) => None,
            (false, Some(_)) => {
                return Err(audio.error(
                    Some("m="),
                    format!("media-edge offered RTP/SAVP (SDES-SRTP); the answer has {proto}"),
                ))
            }
            (true, answering) => Some(crypto(&audio, answering)?),
        };
        let codecs = codec::parse(&audio)?;
        let video = media_lines(field, &sdp)
            .find(|m| m.kind() == "video")
            .map(|m| EnterpriseVideo::parse(&m, sdp.connection_information.as_ref(), &sdp))
            .transpose()?
            .flatten();
        let video_index = video.as_ref().map(|v| v.index);
        let rejected = media_lines(field, &sdp)
            .filter(|m| m.index != audio.index && Some(m.index) != video_index)
            .map(|m| (m.index, RejectedLine::of(&m)))
            .collect();
        let mut remote = EnterpriseRemote::new(SocketAddr::new(ip, port));
        remote.rtcp = rtcp;
        remote.crypto = crypto;
        Ok(EnterpriseDescription {
            remote,
            rtcp_mux,
            proto,
            audio_index: audio.index,
            direction: Direction::of(&audio, &sdp),
            codecs,
            video,
            rejected,
        })
    }
}

/// The unicast IP address of `c=`.
fn connection_address(
    media: &MediaRef<'_>,
    c: Option<&ConnectionInformation>,
) -> Result<IpAddr, Error> {
    let bad = |reason: String| media.error(Some("c="), reason);
    let c = c.ok_or_else(|| bad("missing (in the m-line and the session)".into()))?;
    let address = c
        .address
        .as_ref()
        .ok_or_else(|| bad("has no address".into()))?;
    if address.ttl.is_some() || address.range.is_some() || address.address.contains('/') {
        return Err(bad(format!(
            "{address} is a multicast group, not a unicast address"
        )));
    }
    let ip: IpAddr = address.address.parse().map_err(|_| {
        bad(format!(
            "{:?} is not an IP address (media-edge does not resolve names)",
            address.address
        ))
    })?;
    let family_ok = match ip {
        IpAddr::V4(_) => c.address_type == "IP4",
        IpAddr::V6(_) => c.address_type == "IP6",
    };
    if c.network_type != "IN" || !family_ok {
        return Err(bad(format!("\"{c}\" does not match its address family")));
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(bad(format!(
            "{ip} is not a unicast address (a held call cannot start a session)"
        )));
    }
    Ok(ip)
}

/// `a=rtcp:<port> [IN IP4 <address>]` (RFC 3605).
fn rtcp_address(media: &MediaRef<'_>, value: &str, rtp_ip: IpAddr) -> Result<SocketAddr, Error> {
    let bad = || {
        media.error(
            Some("a=rtcp"),
            format!("{value:?} is not <port> [IN IP4|IP6 <address>]"),
        )
    };
    let mut fields = value.split_ascii_whitespace();
    let port = fields
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or_else(bad)?;
    let ip = match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (None, ..) => rtp_ip,
        (Some("IN"), Some("IP4" | "IP6"), Some(address), None) => {
            address.parse::<IpAddr>().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    if ip.is_unspecified() {
        return Err(bad());
    }
    Ok(SocketAddr::new(ip, port))
}

/// The SDES key of an RTP/SAVP m-line: in an offer the first `a=crypto` whose suite and
/// parameters media-edge supports; in an answer the one with the tag media-edge offered.
fn crypto(
    media: &MediaRef<'_>,
    answering: Option<(u32, Profile)>,
) -> Result<CryptoAttribute, Error> {
    let error = |reason: String| media.error(Some("a=crypto"), reason);
    let mut first_error = None;
    for value in media.values("crypto") {
        let line = format!("crypto:{value}");
        match (CryptoAttribute::parse(&line), answering) {
            (Ok(attr), None) => return Ok(attr),
            (Ok(attr), Some((tag, suite))) if attr.tag == tag => {
                if attr.key.profile() != suite {
                    return Err(error(format!(
                        "tag {tag} answers with suite {:?}; media-edge offered {suite:?}",
                        attr.key.profile()
                    )));
                }
                return Ok(attr);
            }
            (Ok(_), Some(_)) => {}
            (Err(e), _) => {
                first_error.get_or_insert(format!("{value:?}: {e}"));
            }
        }
    }
    Err(error(match (answering, first_error) {
        (Some((tag, _)), None) => format!("no a=crypto with the offered tag {tag}"),
        (_, Some(e)) => format!("no usable a=crypto line; the first refused was {e}"),
        (None, None) => "missing: RTP/SAVP needs an SDES key (RFC 4568)".into(),
    }))
}

/// The layout of media-edge's enterprise SDP: the m-lines of the SDP it answers (or one
/// line when it offers) and the protocol of the audio line.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The transport protocol to write (`RTP/AVP` or `RTP/SAVP`, or the answered one).
    pub(crate) proto: String,
    /// The audio line's index.
    pub(crate) audio_index: usize,
    /// The answered SDP's other m-lines.
    pub(crate) rejected: Vec<(usize, RejectedLine)>,
    /// The answered SDP's video line: its index, protocol, and how a decline repeats it.
    pub(crate) video: Option<(usize, String, RejectedLine)>,
}

impl Layout {
    /// One audio line, as in an offer or a description of an address-only target.
    pub(crate) fn single(srtp: bool) -> Layout {
        Layout {
            proto: if srtp { "RTP/SAVP" } else { "RTP/AVP" }.into(),
            audio_index: 0,
            rejected: Vec::new(),
            video: None,
        }
    }

    /// The layout of an answer to `offer`.
    pub(crate) fn answering(offer: &EnterpriseDescription) -> Layout {
        Layout {
            proto: offer.proto.clone(),
            audio_index: offer.audio_index,
            rejected: offer.rejected.clone(),
            video: offer
                .video
                .as_ref()
                .map(|v| (v.index, v.proto.clone(), v.declined.clone())),
        }
    }
}

/// Media-edge's enterprise SDP: its transport-address and enterprise port(s), `codecs`,
/// `direction` (media-edge's point of view), its `a=crypto` with SDES; the video line
/// with `video` (its codecs in the enterprise side's numbering, its direction) on the
/// session's video ports when the session has them, declined otherwise.
pub(crate) fn write(
    info: &SessionInfo,
    layout: &Layout,
    codecs: &[Codec],
    direction: Direction,
    video: Option<(&[Codec], Direction)>,
) -> String {
    let rtp = info.enterprise_rtp;
    let mut lines = Vec::new();
    match (&layout.video, info.video.zip(video)) {
        (Some((index, proto, _)), Some((ports, (codecs, direction)))) => {
            lines.push((*index, video_line(ports, proto, codecs, direction)));
        }
        (None, Some((ports, (codecs, direction)))) => {
            let index = layout.audio_index + layout.rejected.len() + 1;
            lines.push((index, video_line(ports, "RTP/AVPF", codecs, direction)));
        }
        (Some((index, _, declined)), None) => lines.push((*index, declined.write(rtp.ip()))),
        (None, None) => {}
    }
    let mut attributes: Vec<Attribute> = codecs.iter().flat_map(Codec::attributes).collect();
    let mut add =
        |key: &str, value: Option<String>| attributes.push(Attribute::new(key.into(), value));
    match info.enterprise_rtcp {
        Some(rtcp) if rtcp.ip() == rtp.ip() => add("rtcp", Some(rtcp.port().to_string())),
        Some(rtcp) => add("rtcp", Some(rtcp_value(rtcp))),
        None => add("rtcp-mux", None),
    }
    if let Some(line) = &info.enterprise_crypto {
        let value = line.trim().trim_start_matches("a=");
        let value = value.strip_prefix("crypto:").unwrap_or(value);
        add("crypto", Some(value.to_owned()));
    }
    add(direction.attribute(), None);
    let audio = MediaDescription {
        media_name: MediaName {
            media: "audio".into(),
            port: ranged_port(rtp.port()),
            protos: layout.proto.split('/').map(str::to_owned).collect(),
            formats: codecs.iter().map(|c| c.pt.to_string()).collect(),
        },
        attributes,
        ..Default::default()
    };
    lines.push((layout.audio_index, audio));
    let mut sdp = new_description(info.id.0, rtp.ip());
    sdp.connection_information = Some(connection(rtp.ip()));
    with_media_lines(sdp, &layout.rejected, lines, rtp.ip()).marshal()
}

/// The video m-line of media-edge's enterprise SDP on `ports`.
fn video_line(
    ports: VideoPorts,
    proto: &str,
    codecs: &[Codec],
    direction: Direction,
) -> MediaDescription {
    let mut attributes: Vec<Attribute> = codecs.iter().flat_map(Codec::attributes).collect();
    let rtcp = match ports.rtcp {
        Some(rtcp) if rtcp.ip() == ports.rtp.ip() => {
            Attribute::new("rtcp".into(), Some(rtcp.port().to_string()))
        }
        Some(rtcp) => Attribute::new("rtcp".into(), Some(rtcp_value(rtcp))),
        None => Attribute::new("rtcp-mux".into(), None),
    };
    attributes.push(rtcp);
    attributes.push(Attribute::new(direction.attribute().into(), None));
    MediaDescription {
        media_name: MediaName {
            media: "video".into(),
            port: ranged_port(ports.rtp.port()),
            protos: proto.split('/').map(str::to_owned).collect(),
            formats: codecs.iter().map(|c| c.pt.to_string()).collect(),
        },
        attributes,
        ..Default::default()
    }
}

fn rtcp_value(rtcp: SocketAddr) -> String {
    let family = if rtcp.is_ipv4() { "IP4" } else { "IP6" };
    format!("{} IN {family} {}", rtcp.port(), rtcp.ip())
}

#[cfg(test)]
#[path = "enterprise_tests.rs"]
mod tests;
