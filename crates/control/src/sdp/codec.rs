//! RTP payload formats of an m-line (`m=` formats, `a=rtpmap`, `a=fmtp`) and which of them
//! media-edge forwards.
//!
//! The forwarder does not rewrite RTP headers, so both legs must use the same payload type
//! for a codec: a codec is common to two descriptions only when its payload type, name,
//! clock rate and channels all agree.

use std::fmt;

use sdp::description::common::Attribute;

use super::MediaRef;
use crate::error::{Error, SdpLocation};

/// One payload format of an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Codec {
    /// The RTP payload type.
    pub(crate) pt: u8,
    /// The encoding name as written (`opus`, `PCMU`).
    pub(crate) name: String,
    /// The RTP clock rate.
    pub(crate) clock: u32,
    /// Audio channels, when given.
    pub(crate) channels: Option<u16>,
    /// The `a=fmtp` parameters, when given.
    pub(crate) fmtp: Option<String>,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.pt, self.name, self.clock)?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}

/// The audio encodings media-edge forwards, by name and clock rate (`None`: any rate).
const AUDIO: [(&str, Option<u32>); 4] = [
    ("PCMU", Some(8000)),
    ("PCMA", Some(8000)),
    ("opus", Some(48000)),
    ("telephone-event", None),
];

impl Codec {
    /// Whether media-edge forwards this audio format.
    pub(crate) fn is_supported_audio(&self) -> bool {
        AUDIO.iter().any(|(name, clock)| {
            self.name.eq_ignore_ascii_case(name) && clock.is_none_or(|c| c == self.clock)
        })
    }

    /// Whether this format carries media (rather than DTMF events or comfort noise).
    pub(crate) fn is_media(&self) -> bool {
        !self.name.eq_ignore_ascii_case("telephone-event") && !self.name.eq_ignore_ascii_case("CN")
    }

    /// Same payload type and the same format.
    pub(crate) fn matches(&self, other: &Codec) -> bool {
        self.pt == other.pt
            && self.name.eq_ignore_ascii_case(&other.name)
            && self.clock == other.clock
            && self.channels.unwrap_or(1) == other.channels.unwrap_or(1)
    }

    /// The `a=rtpmap` and (when given) `a=fmtp` attributes.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = Attribute> + '_ {
        let channels = self.channels.map(|c| format!("/{c}")).unwrap_or_default();
        let rtpmap = Attribute::new(
            "rtpmap".into(),
            Some(format!(
                "{} {}/{}{channels}",
                self.pt, self.name, self.clock
            )),
        );
        let fmtp = self
            .fmtp
            .as_ref()
            .map(|p| Attribute::new("fmtp".into(), Some(format!("{} {p}", self.pt))));
        std::iter::once(rtpmap).chain(fmtp)
    }

    /// The static payload types (RFC 3551) an m-line may list without `a=rtpmap`.
    fn static_format(pt: u8) -> Option<(&'static str, u32, Option<u16>)> {
        match pt {
            0 => Some(("PCMU", 8000, None)),
            3 => Some(("GSM", 8000, None)),
            4 => Some(("G723", 8000, None)),
            8 => Some(("PCMA", 8000, None)),
            9 => Some(("G722", 8000, None)),
            13 => Some(("CN", 8000, None)),
            18 => Some(("G729", 8000, None)),
            _ => None,
        }
    }
}

/// The payload formats of an RTP m-line, in the order of its `m=` line.
pub(crate) fn parse(media: &MediaRef<'_>) -> Result<Vec<Codec>, Error> {
    let mut codecs = Vec::new();
    for format in &media.media.media_name.formats {
        let pt = format
            .parse::<u8>()
            .ok()
            .filter(|pt| *pt < 128)
            .ok_or_else(|| {
                media.error(
                    Some("m="),
                    format!("format {format:?} is not an RTP payload type (0..=127)"),
                )
            })?;
        let rtpmap = media
            .values("rtpmap")
            .find(|v| leading_pt(v) == Some(pt))
            .map(|v| parse_rtpmap(media, v))
            .transpose()?;
        let (name, clock, channels) = match rtpmap {
            Some(map) => map,
            None => {
                let (name, clock, channels) = Codec::static_format(pt).ok_or_else(|| {
                    media.error(
                        Some("a=rtpmap"),
                        format!("dynamic payload type {pt} has no a=rtpmap"),
                    )
                })?;
                (name.to_owned(), clock, channels)
            }
        };
        let fmtp = media
            .values("fmtp")
            .find(|v| leading_pt(v) == Some(pt))
            .and_then(|v| v.split_once(' '))
            .map(|(_, params)| params.trim().to_owned())
            .filter(|p| !p.is_empty());
        codecs.push(Codec {
            pt,
            name,
            clock,
            channels,
            fmtp,
        });
    }
    Ok(codecs)
}

/// The payload type an `a=rtpmap`/`a=fmtp` value starts with.
fn leading_pt(value: &str) -> Option<u8> {
    value.split(' ').next()?.parse().ok()
}

/// `<pt> <name>/<clock>[/<channels>]`.
fn parse_rtpmap(media: &MediaRef<'_>, value: &str) -> Result<(String, u32, Option<u16>), Error> {
    let bad = || {
        media.error(
            Some("a=rtpmap"),
            format!("{value:?} is not <payload type> <encoding>/<clock rate>[/<channels>]"),
        )
    };
    let (_, encoding) = value.split_once(' ').ok_or_else(bad)?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    let clock = parts
        .next()
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| *c > 0)
        .ok_or_else(bad)?;
    let channels = parts
        .next()
        .map(|c| c.parse::<u16>().ok().filter(|c| *c > 0).ok_or_else(bad))
        .transpose()?;
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((name.to_owned(), clock, channels))
}

/// The formats of `offered` that media-edge forwards and, when `acceptable` is given, that
/// side accepts too (same payload type and format), in the offer's order. Fails when no
/// media format (other than DTMF events and comfort noise) remains, blaming `offer_line`.
pub(crate) fn negotiate(
    offer_line: SdpLocation,
    offered: &[Codec],
    acceptable: Option<(&str, &[Codec])>,
) -> Result<Vec<Codec>, Error> {
    let common: Vec<Codec> = offered
        .iter()
        .filter(|c| c.is_supported_audio())
        .filter(|c| acceptable.is_none_or(|(_, other)| other.iter().any(|o| o.matches(c))))
        .cloned()
        .collect();
    if common.iter().any(Codec::is_media) {
        return Ok(common);
    }
    let list = |codecs: &[Codec]| {
        codecs
            .iter()
            .map(Codec::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = match acceptable {
        None => format!(
            "no audio codec media-edge forwards (PCMU/8000, PCMA/8000, opus/48000/2 with \
             telephone-event) among the offered {}",
            list(offered)
        ),
        Some((who, other)) => format!(
            "no audio codec in common with {who} with the same payload type (media-edge does \
             not rewrite payload types): offered {}; {who} has {}",
            list(offered),
            list(other)
        ),
    };
    Err(Error::sdp(offer_line, reason))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::sdp::{media_lines, parse as parse_sdp, samples};

    fn codecs_of(sdp: &str) -> Vec<Codec> {
        let d = parse_sdp("offer", sdp).unwrap();
        let m = media_lines("offer", &d).next().unwrap();
        parse(&m).unwrap()
    }

    #[test]
    fn chrome_audio_formats_are_read_in_order_with_fmtp() {
        let codecs = codecs_of(samples::CHROME);
        let names: Vec<String> = codecs.iter().map(Codec::to_string).collect();
        assert_eq!(
            names,
            [
                "111 opus/48000/2",
                "63 red/48000/2",
                "9 G722/8000",
                "0 PCMU/8000",
                "8 PCMA/8000",
                "13 CN/8000",
                "110 telephone-event/48000",
                "126 telephone-event/8000"
            ]
        );
        assert_eq!(
            codecs[0].fmtp.as_deref(),
            Some("minptime=10;useinbandfec=1")
        );
    }

    #[test]
    fn static_payload_types_need_no_rtpmap() {
        let sdp = samples::ENTERPRISE_PLAIN.replace("a=rtpmap:0 PCMU/8000\n", "");
        let codecs = codecs_of(&sdp);
        assert_eq!(codecs[0].to_string(), "0 PCMU/8000");
    }

    #[test]
    fn negotiation_keeps_supported_formats_with_equal_payload_types() {
        let browser = codecs_of(samples::CHROME);
        let d = parse_sdp("offer", samples::CHROME).unwrap();
        let m = media_lines("offer", &d).next().unwrap();
        let ours = negotiate(m.location(Some("m=")), &browser, None).unwrap();
        let names: Vec<String> = ours.iter().map(Codec::to_string).collect();
        assert_eq!(
            names,
            [
                "111 opus/48000/2",
                "0 PCMU/8000",
                "8 PCMA/8000",
                "110 telephone-event/48000",
                "126 telephone-event/8000"
            ]
        );
        let enterprise = codecs_of(samples::ENTERPRISE_PLAIN); // 0, 8, 101 telephone-event
        let common = negotiate(
            m.location(Some("m=")),
            &browser,
            Some(("the enterprise", &enterprise)),
        )
        .unwrap();
        let names: Vec<String> = common.iter().map(Codec::to_string).collect();
        assert_eq!(names, ["0 PCMU/8000", "8 PCMA/8000"]);
    }

    #[test]
    fn no_common_codec_names_both_lists() {
        let browser = codecs_of(samples::CHROME);
        let d = parse_sdp("offer", samples::CHROME).unwrap();
        let m = media_lines("offer", &d).next().unwrap();
        let g729 = [Codec {
            pt: 18,
            name: "G729".into(),
            clock: 8000,
            channels: None,
            fmtp: None,
        }];
        let err = negotiate(
            m.location(Some("m=")),
            &browser,
            Some(("the enterprise", &g729)),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("m-line 0 (audio)"), "{err}");
        assert!(err.contains("18 G729/8000"), "{err}");
        assert!(err.contains("111 opus/48000/2"), "{err}");
    }

    #[test]
    fn bad_rtpmaps_name_the_attribute() {
        for (from, to) in [
            ("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus"),
            ("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/x/2"),
            ("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/2/9"),
            ("a=rtpmap:111 opus/48000/2", "a=rtpmap:112 opus/48000/2"),
            ("UDP/TLS/RTP/SAVPF 111", "UDP/TLS/RTP/SAVPF 300"),
        ] {
            let sdp = samples::CHROME.replacen(from, to, 1);
            let d = parse_sdp("offer", &sdp).unwrap();
            let m = media_lines("offer", &d).next().unwrap();
            let err = parse(&m).unwrap_err().to_string();
            assert!(err.starts_with("offer, m-line 0 (audio), "), "{to}: {err}");
        }
    }
}
