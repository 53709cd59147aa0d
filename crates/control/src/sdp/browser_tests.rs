#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::sdp::samples;

fn offer(sdp: &str) -> Result<BrowserDescription, String> {
    BrowserDescription::parse("offer", sdp, Kind::Offer).map_err(|e| e.to_string())
}

fn answer(sdp: &str) -> Result<BrowserDescription, String> {
    BrowserDescription::parse("answer", sdp, Kind::Answer).map_err(|e| e.to_string())
}

#[test]
fn aiortc_offer() {
    let d = offer(samples::AIORTC).unwrap();
    assert_eq!(d.remote.ice_ufrag, "HYW7");
    assert_eq!(d.remote.ice_pwd, "Fq3YpfdicrVJm7memzz2BQ");
    assert_eq!(d.remote.fingerprints.len(), 3, "sha-256, sha-384, sha-512");
    assert_eq!(d.remote.setup, "actpass");
    assert_eq!(
        (d.audio_index, d.mid.as_deref(), d.bundled),
        (0, Some("0"), true)
    );
    let pts: Vec<u8> = d.codecs.iter().map(|c| c.pt).collect();
    assert_eq!(pts, [96, 9, 0, 8]);
    assert_eq!(d.direction, Direction::SENDRECV);
    assert!(d.rejected.is_empty());
}

#[test]
fn chrome_offer_with_video_reads_the_bundled_video_line() {
    let d = offer(samples::CHROME).unwrap();
    assert_eq!(d.remote.ice_ufrag, "Ob8S");
    assert_eq!(d.remote.fingerprints.len(), 1);
    assert!(d.bundled);
    assert!(d.rejected.is_empty());
    assert_eq!(d.mid_extension, Some(4));
    assert_eq!(d.ssrcs, [3356733413]);
    let video = d.video.as_ref().unwrap();
    assert_eq!((video.index, video.mid.as_str()), (1, "1"));
    assert_eq!(video.ssrcs, [1885478286, 2957418221]);
    let vp8 = &video.codecs[0];
    assert_eq!((vp8.name.as_str(), vp8.pt), ("VP8", 96));
    // Carried feedback only: goog-remb and transport-cc are left out.
    assert_eq!(vp8.feedback, ["ccm fir", "nack", "nack pli"]);
    let demux = d.demux(&d.codecs[..1], &video.codecs[..1]);
    assert_eq!(demux.video.payload_types, [96]);
    assert_eq!(demux.video.mid.as_deref(), Some("1"));
    // Outside the BUNDLE group, or without rtcp-mux, video is declined (port 0).
    for unusable in [
        samples::CHROME.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0"),
        samples::CHROME.replacen("a=rtcp-mux\na=rtcp-rsize\na=rtpmap:96", "a=rtpmap:96", 1),
    ] {
        let d = offer(&unusable).unwrap();
        assert!(d.video.is_none());
        assert_eq!(d.rejected.len(), 1, "{unusable}");
    }
}

#[test]
fn firefox_offer_takes_session_level_fingerprint() {
    let d = offer(samples::FIREFOX).unwrap();
    assert_eq!(d.remote.fingerprints.len(), 1);
    assert_eq!(d.remote.ice_ufrag, "9f8e7d6c");
    assert_eq!(
        d.codecs.last().map(|c| c.name.as_str()),
        Some("telephone-event")
    );
}

#[test]
fn directions_are_read() {
    let sendonly = samples::AIORTC.replace("a=sendrecv", "a=sendonly");
    let d = offer(&sendonly).unwrap();
    assert_eq!(
        d.direction,
        Direction {
            send: true,
            recv: false
        }
    );
    assert_eq!(d.direction.reversed().attribute(), "recvonly");
}

/// Each broken offer is refused with an error naming the field, the m-line and the
/// attribute.
#[test]
fn broken_offers_name_what_is_wrong() {
    let without_fps: String = samples::AIORTC
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cases: Vec<(String, &str)> = vec![
        (
            without_fps.clone(),
            "offer, m-line 0 (audio), a=fingerprint: missing",
        ),
        (
            format!("{without_fps}a=fingerprint:sha-256 zz:11\n"),
            "offer, m-line 0 (audio), a=fingerprint: \"sha-256 zz:11\"",
        ),
        (
            samples::AIORTC.replace("a=ice-ufrag:HYW7\n", ""),
            "offer, m-line 0 (audio), a=ice-ufrag: missing",
        ),
        (
            samples::AIORTC.replace("a=ice-pwd:Fq3YpfdicrVJm7memzz2BQ", "a=ice-pwd:short"),
            "offer, m-line 0 (audio), a=ice-pwd: must be 22 to 256",
        ),
        (
            samples::AIORTC.replace("a=ice-ufrag:HYW7", "a=ice-ufrag:HY W7"),
            "offer, m-line 0 (audio), a=ice-ufrag",
        ),
        (
            samples::AIORTC.replace("a=setup:actpass\n", ""),
            "offer, m-line 0 (audio), a=setup: missing",
        ),
        (
            samples::AIORTC.replace("a=setup:actpass", "a=setup:holdconn"),
            "offer, m-line 0 (audio), a=setup: \"holdconn\" is not allowed in an offer",
        ),
        (
            samples::AIORTC.replace("a=rtcp-mux\n", ""),
            "offer, m-line 0 (audio), a=rtcp-mux: missing",
        ),
        (
            samples::AIORTC.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP"),
            "offer, m-line 0 (audio), m=: protocol RTP/AVP is not DTLS-SRTP",
        ),
        (
            samples::AIORTC.replace("m=audio 46098", "m=audio 0"),
            "offer, m=: the audio m-line is rejected (port 0)",
        ),
        (
            samples::AIORTC.replace("m=audio", "m=video"),
            "offer, m=: no audio m-line",
        ),
        (
            samples::AIORTC.replace("m=audio 46098", "m=audio 99999"),
            "offer: does not parse as SDP",
        ),
        ("".into(), "offer: empty SDP"),
        (
            "v=0\nthis is not sdp\n".into(),
            "offer: does not parse as SDP",
        ),
    ];
    for (sdp, expected) in cases {
        let err = offer(&sdp).unwrap_err();
        assert!(
            err.starts_with(expected),
            "expected {expected:?}, got {err:?}"
        );
    }
}

#[test]
fn answers_must_resolve_the_role_and_match_the_offer() {
    let active = samples::AIORTC.replace("a=setup:actpass", "a=setup:active");
    assert_eq!(answer(&active).unwrap().remote.setup, "active");
    let err = answer(samples::AIORTC).unwrap_err();
    assert!(
        err.contains("a=setup: \"actpass\" is not allowed in an answer"),
        "{err}"
    );
    let err = answer(&samples::CHROME.replace("a=setup:actpass", "a=setup:active")).unwrap_err();
    assert!(err.contains("the answer has 2 m-lines"), "{err}");
    let err = answer(&active.replace("a=mid:0", "a=mid:audio")).unwrap_err();
    assert!(
        err.contains("a=mid: \"audio\" is not the offered mid"),
        "{err}"
    );
}

/// Truncated, mutated and random offers never panic; what is refused says why.
#[test]
fn garbage_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for sample in [samples::AIORTC, samples::CHROME, samples::FIREFOX] {
        for cut in 0..sample.len() {
            if sample.is_char_boundary(cut) {
                let _ = offer(&sample[..cut]);
            }
        }
        for _ in 0..3000 {
            let mut bytes = sample.as_bytes().to_vec();
            for _ in 0..(next() % 6 + 1) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = b" :/=\n0a9-"[(next() % 9) as usize],
                    1 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, (next() % 128) as u8),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = offer(&text) {
                assert!(e.starts_with("offer"), "{e}");
            }
        }
    }
    for len in [1, 10, 100, 1000, 60_000] {
        let random: String = (0..len)
            .map(|_| char::from((next() % 95 + 32) as u8))
            .collect();
        assert!(offer(&random).is_err());
    }
    let huge = format!("{}{}", samples::AIORTC, "a=x:y\n".repeat(10_000));
    assert!(offer(&huge).is_ok(), "many unknown attributes are fine");
}
