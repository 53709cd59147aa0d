//! SDP in and out: what media-edge reads from the browser's and the enterprise side's
//! descriptions, and the descriptions it writes for them.
//!
//! Parsing and writing go through webrtc-rs's `sdp` crate (RFC 8866 syntax, every
//! attribute kept, `a=crypto` included); this module gives the attributes their meaning and
//! names the m-line and attribute whenever something is wrong.

pub(crate) mod browser;
pub(crate) mod codec;
pub(crate) mod enterprise;

use std::io::Cursor;
use std::net::IpAddr;

use sdp::description::common::{Address, Attribute, ConnectionInformation};
use sdp::description::media::{MediaDescription, MediaName, RangedPort};
use sdp::description::session::{Origin, SessionDescription, TimeDescription, Timing};

use crate::error::{Error, SdpLocation};

/// Parses `text` as SDP; a syntax error is reported against `field`.
pub(crate) fn parse(field: &'static str, text: &str) -> Result<SessionDescription, Error> {
    let at = SdpLocation {
        field,
        media: None,
        attribute: None,
    };
    if text.trim().is_empty() {
        return Err(Error::sdp(at, "empty SDP"));
    }
    SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .map_err(|e| Error::sdp(at, format!("does not parse as SDP: {e}")))
}

/// Points at one m-line of one description, to build errors from.
#[derive(Clone, Copy)]
pub(crate) struct MediaRef<'a> {
    pub(crate) field: &'static str,
    pub(crate) index: usize,
    pub(crate) media: &'a MediaDescription,
}

impl MediaRef<'_> {
    /// The media kind (`audio`, `video`, ...).
    pub(crate) fn kind(&self) -> &str {
        &self.media.media_name.media
    }

    /// This m-line, and `attribute` in it when given.
    pub(crate) fn location(&self, attribute: Option<&'static str>) -> SdpLocation {
        SdpLocation {
            field: self.field,
            media: Some((self.index, self.kind().to_owned())),
            attribute,
        }
    }

    /// An error about this m-line, blaming `attribute` when given.
    pub(crate) fn error(
        &self,
        attribute: Option<&'static str>,
        reason: impl Into<String>,
    ) -> Error {
        Error::sdp(self.location(attribute), reason)
    }

    /// The m-line's port (0 means rejected or bundle-only).
    pub(crate) fn port(&self) -> Result<u16, Error> {
        u16::try_from(self.media.media_name.port.value)
            .map_err(|_| self.error(Some("m="), "port is not within 0..=65535"))
    }

    /// The m-line's transport protocol, e.g. `UDP/TLS/RTP/SAVPF`.
    pub(crate) fn proto(&self) -> String {
        self.media.media_name.protos.join("/")
    }

    /// Every value of `a=<key>` in this m-line.
    pub(crate) fn values<'k>(&self, key: &'k str) -> impl Iterator<Item = &str> + use<'_, 'k> {
        attribute_values(&self.media.attributes, key)
    }

    /// Whether the m-line has the property attribute `a=<key>`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.media.attributes.iter().any(|a| a.key == key)
    }
}

/// The m-lines of a description with their index.
pub(crate) fn media_lines<'a>(
    field: &'static str,
    sdp: &'a SessionDescription,
) -> impl Iterator<Item = MediaRef<'a>> {
    sdp.media_descriptions
        .iter()
        .enumerate()
        .map(move |(index, media)| MediaRef {
            field,
            index,
            media,
        })
}

/// Every value of `a=<key>` among `attributes` (an attribute without a value yields "").
pub(crate) fn attribute_values<'a, 'k>(
    attributes: &'a [Attribute],
    key: &'k str,
) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
    attributes
        .iter()
        .filter(move |a| a.key == key)
        .map(|a| a.value.as_deref().unwrap_or_default().trim())
}

/// Which way media flows, from one side's point of view (`a=sendrecv` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Direction {
    pub(crate) send: bool,
    pub(crate) recv: bool,
}

impl Direction {
    /// Both ways.
    pub(crate) const SENDRECV: Direction = Direction {
        send: true,
        recv: true,
    };

    /// The direction an m-line declares (`sendrecv` when it says nothing), session-level
    /// attributes as the fallback.
    pub(crate) fn of(media: &MediaRef<'_>, session: &SessionDescription) -> Direction {
        let find = |attributes: &[Attribute]| {
            attributes.iter().rev().find_map(|a| match a.key.as_str() {
                "sendrecv" => Some(Direction::SENDRECV),
                "sendonly" => Some(Direction {
                    send: true,
                    recv: false,
                }),
                "recvonly" => Some(Direction {
                    send: false,
                    recv: true,
                }),
                "inactive" => Some(Direction {
                    send: false,
                    recv: false,
                }),
                _ => None,
            })
        };
        find(&media.media.attributes)
            .or_else(|| find(&session.attributes))
            .unwrap_or(Direction::SENDRECV)
    }

    /// The same flow seen from the other end.
    pub(crate) fn reversed(self) -> Direction {
        Direction {
            send: self.recv,
            recv: self.send,
        }
    }

    /// What both allow.
    pub(crate) fn and(self, other: Direction) -> Direction {
        Direction {
            send: self.send && other.send,
            recv: self.recv && other.recv,
        }
    }

    /// The forwarder's name for it.
    pub(crate) fn for_relay(self) -> edge_forward::Direction {
        match (self.send, self.recv) {
            (true, true) => edge_forward::Direction::SendRecv,
            (true, false) => edge_forward::Direction::SendOnly,
            (false, true) => edge_forward::Direction::RecvOnly,
            (false, false) => edge_forward::Direction::Inactive,
        }
    }

    /// The attribute name.
    pub(crate) fn attribute(self) -> &'static str {
        match (self.send, self.recv) {
            (true, true) => "sendrecv",
            (true, false) => "sendonly",
            (false, true) => "recvonly",
            (false, false) => "inactive",
        }
    }
}

/// An m-line that is answered with port 0: what the answer repeats of it.
#[derive(Debug, Clone)]
pub(crate) struct RejectedLine {
    pub(crate) kind: String,
    pub(crate) protos: Vec<String>,
    pub(crate) formats: Vec<String>,
    pub(crate) mid: Option<String>,
}

impl RejectedLine {
    pub(crate) fn of(media: &MediaRef<'_>) -> RejectedLine {
        let name = &media.media.media_name;
        RejectedLine {
            kind: name.media.clone(),
            protos: name.protos.clone(),
            formats: name.formats.clone(),
            mid: media.values("mid").next().map(str::to_owned),
        }
    }

    /// The m-line of the answer: port 0, same protocol and formats, the same mid.
    pub(crate) fn write(&self, address: IpAddr) -> MediaDescription {
        let mut media = MediaDescription {
            media_name: MediaName {
                media: self.kind.clone(),
                port: ranged_port(0),
                protos: self.protos.clone(),
                formats: self.formats.clone(),
            },
            connection_information: Some(connection(address)),
            ..Default::default()
        };
        if let Some(mid) = &self.mid {
            media = media.with_value_attribute("mid".into(), mid.clone());
        }
        media
    }
}

/// Adds the m-lines of an answer in the offer's order: each of `written` at its index,
/// every other line of the offer rejected. An offer answers with `written` alone.
pub(crate) fn with_media_lines(
    mut sdp: SessionDescription,
    rejected: &[(usize, RejectedLine)],
    mut written: Vec<(usize, MediaDescription)>,
    address: IpAddr,
) -> SessionDescription {
    for index in 0..rejected.len() + written.len() {
        let line = match rejected.iter().find(|(i, _)| *i == index) {
            Some((_, line)) => Some(line.write(address)),
            None => written
                .iter()
                .position(|(i, _)| *i == index)
                .map(|at| written.swap_remove(at).1),
        };
        if let Some(line) = line {
            sdp = sdp.with_media(line);
        }
    }
    sdp
}

/// The port of an `m=` line.
pub(crate) fn ranged_port(port: u16) -> RangedPort {
    RangedPort {
        // Lossless: isize has at least 32 bits on every target this builds for.
        value: i32::from(port) as isize,
        range: None,
    }
}

/// `c=IN IP4 <address>` (or `IP6`).
pub(crate) fn connection(address: IpAddr) -> ConnectionInformation {
    ConnectionInformation {
        network_type: "IN".into(),
        address_type: address_type(address).into(),
        address: Some(Address {
            address: address.to_string(),
            ttl: None,
            range: None,
        }),
    }
}

fn address_type(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// A new description from media-edge: `v=`, `o=media-edge <session> 1 IN <address>`,
/// `s=media-edge`, `t=0 0`.
pub(crate) fn new_description(session: u64, address: IpAddr) -> SessionDescription {
    SessionDescription {
        version: 0,
        origin: Origin {
            username: "media-edge".into(),
            // RFC 8866: a numeric value that fits 63 bits.
            session_id: session >> 1,
            session_version: 1,
            network_type: "IN".into(),
            address_type: address_type(address).into(),
            unicast_address: address.to_string(),
        },
        session_name: "media-edge".into(),
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: Vec::new(),
        }],
        ..Default::default()
    }
}

#[cfg(test)]
pub(crate) mod samples;
