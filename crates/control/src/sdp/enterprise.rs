//! The enterprise side: reading its SDP (RTP address and ports, codecs, rtcp-mux, SDES
//! `a=crypto`) and writing media-edge's (RTP/AVP or RTP/SAVP from the pinned
//! transport-address and the session's enterprise port).

use std::net::{IpAddr, SocketAddr};

use edge_forward::{EnterpriseRemote, SessionInfo};
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
    /// Every other m-line.
    pub(crate) rejected: Vec<(usize, RejectedLine)>,
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
        let rejected = media_lines(field, &sdp)
            .filter(|m| m.index != audio.index)
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
}

impl Layout {
    /// One audio line, as in an offer or a description of an address-only target.
    pub(crate) fn single(srtp: bool) -> Layout {
        Layout {
            proto: if srtp { "RTP/SAVP" } else { "RTP/AVP" }.into(),
            audio_index: 0,
            rejected: Vec::new(),
        }
    }

    /// The layout of an answer to `offer`.
    pub(crate) fn answering(offer: &EnterpriseDescription) -> Layout {
        Layout {
            proto: offer.proto.clone(),
            audio_index: offer.audio_index,
            rejected: offer.rejected.clone(),
        }
    }
}

/// Media-edge's enterprise SDP: its transport-address and enterprise port(s), `codecs`,
/// `direction` (media-edge's point of view), its `a=crypto` with SDES.
pub(crate) fn write(
    info: &SessionInfo,
    layout: &Layout,
    codecs: &[Codec],
    direction: Direction,
) -> String {
    let rtp = info.enterprise_rtp;
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
    let mut sdp = new_description(info.id.0, rtp.ip());
    sdp.connection_information = Some(connection(rtp.ip()));
    with_media_lines(sdp, &layout.rejected, layout.audio_index, audio, rtp.ip()).marshal()
}

fn rtcp_value(rtcp: SocketAddr) -> String {
    let family = if rtcp.is_ipv4() { "IP4" } else { "IP6" };
    format!("{} IN {family} {}", rtcp.port(), rtcp.ip())
}

#[cfg(test)]
#[path = "enterprise_tests.rs"]
mod tests;
