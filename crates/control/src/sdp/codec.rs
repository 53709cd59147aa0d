//! RTP payload formats of an m-line (`m=` formats, `a=rtpmap`, `a=fmtp`) and which of them
//! media-edge forwards.
//!
//! The two sides may number a format differently (a browser's opus/111 against a PBX's
//! opus/96): a format is common to two descriptions when its name, clock rate and channels
//! agree, whatever the payload types; each side keeps its own numbering in the SDP
//! media-edge writes for it, and the forwarder rewrites the payload type between them
//! ([`Pair`], [`payload_map`]). Within one call a payload type keeps the format it was
//! first given (RFC 3264 8.3.2): [`check_numbering`].
//!
//! Video (a BUNDLE's video m-line) forwards VP8 and H264 (90 kHz); retransmission (`rtx`),
//! `red` and `ulpfec` are left out of the answer, so the browser sends neither (a NACK is
//! answered by resending the original packet, RFC 4585). Of the RTCP feedback a browser
//! offers (`a=rtcp-fb`), `nack`, `nack pli` and `ccm fir` are kept and carried end to end
//! (the enterprise side answers them); `goog-remb` and `transport-cc` are stripped:
//! media-edge estimates no bandwidth and the enterprise side does not either, so the browser
//! falls back to loss-based rate control.

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
    /// The `a=rtcp-fb` values media-edge carries ([`FEEDBACK`]) among those given for it.
    pub(crate) feedback: Vec<String>,
}

/// The RTCP feedback media-edge carries end to end (see the module docs).
const FEEDBACK: [&str; 3] = ["nack", "nack pli", "ccm fir"];

/// The video encodings media-edge forwards.
const VIDEO: [(&str, u32); 2] = [("VP8", 90000), ("H264", 90000)];

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
const AUDIO: [(&str, Option<u32>); 5] = [
    ("PCMU", Some(8000)),
    ("PCMA", Some(8000)),
    ("G722", Some(8000)),
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

    /// Whether media-edge forwards this video format.
    pub(crate) fn is_supported_video(&self) -> bool {
        VIDEO
            .iter()
            .any(|(name, clock)| self.name.eq_ignore_ascii_case(name) && *clock == self.clock)
    }

    /// Whether this format carries media (rather than DTMF events or comfort noise).
    pub(crate) fn is_media(&self) -> bool {
        !self.name.eq_ignore_ascii_case("telephone-event") && !self.name.eq_ignore_ascii_case("CN")
    }

    /// The same format (name, clock rate, channels), whatever the payload types.
    pub(crate) fn same_format(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
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
        let feedback = self
            .feedback
            .iter()
            .map(|f| Attribute::new("rtcp-fb".into(), Some(format!("{} {f}", self.pt))));
        std::iter::once(rtpmap).chain(fmtp).chain(feedback)
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
        let mut feedback: Vec<String> = Vec::new();
        for value in media.values("rtcp-fb") {
            let Some((target, kind)) = value.split_once(' ') else {
                continue;
            };
            let kind = kind.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
            let ours = target == "*" || target.parse::<u8>().ok() == Some(pt);
            if ours && FEEDBACK.contains(&kind.as_str()) && !feedback.contains(&kind) {
                feedback.push(kind);
            }
        }
        codecs.push(Codec {
            pt,
            name,
            clock,
            channels,
            fmtp,
            feedback,
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

/// A format both sides use, each side with its own payload type (and `a=fmtp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// As the offering side numbers it.
    pub(crate) offered: Codec,
    /// As the other side numbers it (the offered codec itself when media-edge chose).
    pub(crate) accepted: Codec,
}

/// The formats of `offered` that media-edge forwards and, when `acceptable` is given, that
/// side has too (the same format under any payload type), in the offer's order, each paired
/// with the other side's codec. A format listed twice on a side is used once (the first),
/// so the payload-type map is one to one. Fails when no media format (other than DTMF
/// events and comfort noise) remains, blaming `offer_line`.
pub(crate) fn negotiate(
    offer_line: SdpLocation,
    offered: &[Codec],
    acceptable: Option<(&str, &[Codec])>,
) -> Result<Vec<Pair>, Error> {
    let common = common(offered, acceptable, Codec::is_supported_audio);
    if common.iter().any(|p| p.offered.is_media()) {
        return Ok(common);
    }
    let reason = match acceptable {
        None => format!(
            "no audio codec media-edge forwards (PCMU/8000, PCMA/8000, G722/8000, \
             opus/48000/2 with telephone-event) among the offered {}",
            list(offered)
        ),
        Some((who, other)) => format!(
            "no audio codec in common with {who}: offered {}; {who} has {}",
            list(offered),
            list(other)
        ),
    };
    Err(Error::sdp(offer_line, reason))
}

/// [`negotiate`] for a video m-line: VP8 and H264; `None` when no format is common (the
/// line is then declined, the call goes on with audio). The rtcp-fb kept is what both
/// sides listed (all of it when media-edge chooses).
pub(crate) fn negotiate_video(
    offered: &[Codec],
    acceptable: Option<&[Codec]>,
) -> Option<Vec<Pair>> {
    let acceptable = acceptable.map(|a| ("", a));
    let mut common = common(offered, acceptable, Codec::is_supported_video);
    for pair in &mut common {
        let both: Vec<String> = pair
            .offered
            .feedback
            .iter()
            .filter(|f| pair.accepted.feedback.contains(f))
            .cloned()
            .collect();
        if acceptable.is_some() {
            pair.offered.feedback.clone_from(&both);
            pair.accepted.feedback = both;
        }
    }
    (!common.is_empty()).then_some(common)
}

/// The formats of `offered` that `supported` takes and `acceptable` (when given) has too,
/// each once, paired with the other side's.
fn common(
    offered: &[Codec],
    acceptable: Option<(&str, &[Codec])>,
    supported: fn(&Codec) -> bool,
) -> Vec<Pair> {
    let mut common: Vec<Pair> = Vec::new();
    for codec in offered.iter().filter(|c| supported(c)) {
        if common.iter().any(|p| p.offered.same_format(codec)) {
            continue;
        }
        let accepted = match acceptable {
            None => Some(codec.clone()),
            Some((_, other)) => other.iter().find(|o| o.same_format(codec)).cloned(),
        };
        if let Some(accepted) = accepted {
            common.push(Pair {
                offered: codec.clone(),
                accepted,
            });
        }
    }
    common
}

fn list(codecs: &[Codec]) -> String {
    codecs
        .iter()
        .map(Codec::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a description that gives a payload type of `earlier` (what this side said or
/// was offered before in the call) another format: within a call a payload type keeps its
/// format (RFC 3264 8.3.2), otherwise the map the forwarder applies would conflict with
/// what the peer sends.
pub(crate) fn check_numbering(
    at: SdpLocation,
    earlier: &[Codec],
    now: &[Codec],
) -> Result<(), Error> {
    for codec in now {
        if let Some(before) = earlier
            .iter()
            .find(|e| e.pt == codec.pt && !e.same_format(codec))
        {
            return Err(Error::sdp(
                at,
                format!(
                    "conflicting payload-type map: payload type {} is {}/{} here but was \
                     {before} earlier in the call (a payload type keeps its format, RFC 3264 \
                     8.3.2)",
                    codec.pt, codec.name, codec.clock
                ),
            ));
        }
    }
    Ok(())
}

/// The forwarder's payload-type map from the pairs: `(browser PT, enterprise PT)`, with
/// `browser_offered` telling which side of each pair is the browser's.
pub(crate) fn payload_map(pairs: &[Pair], browser_offered: bool) -> Vec<(u8, u8)> {
    pairs
        .iter()
        .map(|p| {
            if browser_offered {
                (p.offered.pt, p.accepted.pt)
            } else {
                (p.accepted.pt, p.offered.pt)
            }
        })
        .collect()
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

    fn names(codecs: impl IntoIterator<Item = Codec>) -> Vec<String> {
        codecs.into_iter().map(|c| c.to_string()).collect()
    }

    fn codec(pt: u8, name: &str, clock: u32, channels: Option<u16>) -> Codec {
        Codec {
            pt,
            name: name.into(),
            clock,
            channels,
            fmtp: None,
            feedback: Vec::new(),
        }
    }

    #[test]
    fn negotiation_pairs_formats_whatever_their_payload_types() {
        let browser = codecs_of(samples::CHROME);
        let d = parse_sdp("offer", samples::CHROME).unwrap();
        let m = media_lines("offer", &d).next().unwrap();
        let ours = negotiate(m.location(Some("m=")), &browser, None).unwrap();
        assert!(ours.iter().all(|p| p.offered == p.accepted));
        assert_eq!(
            names(ours.into_iter().map(|p| p.offered)),
            [
                "111 opus/48000/2",
                "9 G722/8000",
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
        let offered = names(common.iter().map(|p| p.offered.clone()));
        let accepted = names(common.iter().map(|p| p.accepted.clone()));
        assert_eq!(
            offered,
            ["0 PCMU/8000", "8 PCMA/8000", "126 telephone-event/8000"]
        );
        assert_eq!(
            accepted,
            ["0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"]
        );
        assert_eq!(payload_map(&common, true), [(0, 0), (8, 8), (126, 101)]);
        assert_eq!(payload_map(&common, false), [(0, 0), (8, 8), (101, 126)]);
    }

    /// A browser's opus/111 and telephone-event/101 against a PBX's opus/96 and
    /// telephone-event/98: each side keeps its numbering, the map joins them.
    #[test]
    fn opus_111_meets_opus_96_and_dtmf_101_meets_98() {
        let browser = [
            codec(111, "opus", 48000, Some(2)),
            codec(101, "telephone-event", 8000, None),
        ];
        let pbx = [
            codec(98, "telephone-event", 8000, None),
            codec(96, "OPUS", 48000, Some(2)),
            codec(97, "opus", 48000, None), // mono: another format
        ];
        let at = SdpLocation {
            field: "offer",
            media: None,
            attribute: None,
        };
        let pairs = negotiate(at, &browser, Some(("the enterprise", &pbx))).unwrap();
        assert_eq!(payload_map(&pairs, true), [(111, 96), (101, 98)]);
        assert_eq!(pairs[0].accepted.name, "OPUS");
    }

    /// A format listed twice on a side is used once, so no payload type maps to two.
    #[test]
    fn duplicate_formats_map_once() {
        let browser = [
            codec(0, "PCMU", 8000, None),
            codec(101, "telephone-event", 8000, None),
            codec(102, "telephone-event", 8000, None),
        ];
        let pbx = [
            codec(0, "PCMU", 8000, None),
            codec(98, "telephone-event", 8000, None),
            codec(99, "telephone-event", 8000, None),
        ];
        let at = SdpLocation {
            field: "offer",
            media: None,
            attribute: None,
        };
        let pairs = negotiate(at, &browser, Some(("the enterprise", &pbx))).unwrap();
        assert_eq!(payload_map(&pairs, true), [(0, 0), (101, 98)]);
    }

    #[test]
    fn a_payload_type_given_another_format_is_a_conflicting_map() {
        let before = [
            codec(111, "opus", 48000, Some(2)),
            codec(101, "telephone-event", 8000, None),
        ];
        let at = SdpLocation {
            field: "offer",
            media: Some((0, "audio".into())),
            attribute: Some("a=rtpmap"),
        };
        // Renumbered formats and new payload types are fine.
        let renumbered = [
            codec(96, "opus", 48000, Some(2)),
            codec(0, "PCMU", 8000, None),
        ];
        check_numbering(at.clone(), &before, &renumbered).unwrap();
        check_numbering(at.clone(), &before, &before).unwrap();
        let conflicting = [codec(101, "PCMA", 8000, None)];
        let err = check_numbering(at, &before, &conflicting)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("offer, m-line 0 (audio), a=rtpmap: conflicting payload-type map"),
            "{err}"
        );
        assert!(err.contains("payload type 101 is PCMA/8000"), "{err}");
        assert!(err.contains("101 telephone-event/8000"), "{err}");
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
            feedback: Vec::new(),
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
