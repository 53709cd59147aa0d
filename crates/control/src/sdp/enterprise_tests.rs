#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::sdp::samples;

fn parse(sdp: &str, answering: Option<(u32, Profile)>) -> Result<EnterpriseDescription, String> {
    EnterpriseDescription::parse("enterprise.sdp", sdp, answering).map_err(|e| e.to_string())
}

#[test]
fn plain_rtp_offer() {
    let d = parse(samples::ENTERPRISE_PLAIN, None).unwrap();
    assert_eq!(
        d.remote.rtp,
        "127.0.0.1:40000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(d.remote.rtcp, None, "RTCP on the next port");
    assert!(d.remote.crypto.is_none());
    assert!(!d.rtcp_mux);
    assert_eq!(d.proto, "RTP/AVP");
    let pts: Vec<u8> = d.codecs.iter().map(|c| c.pt).collect();
    assert_eq!(pts, [0, 8, 101]);
}

#[test]
fn sdes_offer_takes_the_first_usable_crypto_line() {
    let d = parse(samples::ENTERPRISE_SDES, None).unwrap();
    let key = d.remote.crypto.unwrap();
    assert_eq!(
        (key.tag, key.key.profile()),
        (2, Profile::Aes128CmHmacSha1_80)
    );
    assert_eq!(d.proto, "RTP/SAVP");
}

#[test]
fn sdes_answer_must_carry_the_offered_tag_and_suite() {
    let ok = parse(
        samples::ENTERPRISE_SDES,
        Some((2, Profile::Aes128CmHmacSha1_80)),
    )
    .unwrap();
    assert_eq!(ok.remote.crypto.unwrap().tag, 2);
    let err = parse(
        samples::ENTERPRISE_SDES,
        Some((7, Profile::Aes128CmHmacSha1_80)),
    )
    .unwrap_err();
    assert!(err.contains("a=crypto: no usable a=crypto line"), "{err}");
    let err = parse(samples::ENTERPRISE_SDES, Some((2, Profile::AeadAes128Gcm))).unwrap_err();
    assert!(err.contains("tag 2 answers with suite"), "{err}");
    let err = parse(
        samples::ENTERPRISE_PLAIN,
        Some((1, Profile::Aes128CmHmacSha1_80)),
    )
    .unwrap_err();
    assert!(err.contains("media-edge offered RTP/SAVP"), "{err}");
}

#[test]
fn rtcp_and_mux_and_media_level_connection() {
    let sdp = samples::ENTERPRISE_PLAIN.replace("a=ptime:20", "a=rtcp:40011 IN IP4 127.0.0.2");
    let d = parse(&sdp, None).unwrap();
    assert_eq!(d.remote.rtcp, Some("127.0.0.2:40011".parse().unwrap()));
    let sdp = samples::ENTERPRISE_PLAIN.replace("a=ptime:20", "a=rtcp:40011");
    assert_eq!(
        parse(&sdp, None).unwrap().remote.rtcp,
        Some("127.0.0.1:40011".parse().unwrap())
    );
    let sdp = samples::ENTERPRISE_PLAIN.replace("a=ptime:20", "a=rtcp-mux\na=rtcp:40000");
    let d = parse(&sdp, None).unwrap();
    assert!(d.rtcp_mux);
    assert_eq!(d.remote.rtcp, None);
    let sdp = samples::ENTERPRISE_PLAIN
        .replace("c=IN IP4 127.0.0.1\n", "")
        .replace("a=ptime:20", "c=IN IP6 ::1");
    assert_eq!(d.remote.rtp.port(), 40000);
    assert_eq!(
        parse(&sdp, None).unwrap().remote.rtp,
        "[::1]:40000".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn broken_descriptions_name_what_is_wrong() {
    let p = samples::ENTERPRISE_PLAIN;
    let cases: Vec<(String, &str)> = vec![
        (p.replace("c=IN IP4 127.0.0.1\n", ""), "enterprise.sdp, m-line 0 (audio), c=: missing"),
        (p.replace("127.0.0.1", "0.0.0.0"), "enterprise.sdp, m-line 0 (audio), c=: 0.0.0.0 is not a unicast"),
        (p.replace("127.0.0.1", "pbx.example"), "enterprise.sdp, m-line 0 (audio), c=: \"pbx.example\" is not an IP address"),
        (p.replace("IN IP4 127.0.0.1", "IN IP6 127.0.0.1"), "enterprise.sdp, m-line 0 (audio), c=: \"IN IP6 127.0.0.1\" does not match"),
        (p.replace("127.0.0.1", "224.2.1.1/127"), "enterprise.sdp, m-line 0 (audio), c=: 224.2.1.1/127 is a multicast group"),
        (p.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF"), "enterprise.sdp, m-line 0 (audio), m=: protocol UDP/TLS/RTP/SAVPF"),
        (p.replace("m=audio 40000", "m=audio 0"), "enterprise.sdp, m=: no audio m-line"),
        (p.replace("a=ptime:20", "a=rtcp:x"), "enterprise.sdp, m-line 0 (audio), a=rtcp: \"x\""),
        (p.replace("a=ptime:20", "a=rtcp:9 IN IP4"), "enterprise.sdp, m-line 0 (audio), a=rtcp"),
        (p.replace("RTP/AVP", "RTP/SAVP"), "enterprise.sdp, m-line 0 (audio), a=crypto: missing"),
        (
            samples::ENTERPRISE_SDES.replace("a=crypto:2 AES_CM_128_HMAC_SHA1_80", "a=crypto:2 F8_128_HMAC_SHA1_80"),
            "enterprise.sdp, m-line 0 (audio), a=crypto: no usable a=crypto line; the first refused was \"1 AEAD_AES_256_GCM inline:AAAA\"",
        ),
        (p.replace("a=rtpmap:101 telephone-event/8000\n", ""), "enterprise.sdp, m-line 0 (audio), a=rtpmap: dynamic payload type 101"),
    ];
    for (sdp, expected) in cases {
        let err = parse(&sdp, None).unwrap_err();
        assert!(
            err.starts_with(expected),
            "expected {expected:?}, got {err:?}"
        );
    }
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for sample in [samples::ENTERPRISE_PLAIN, samples::ENTERPRISE_SDES] {
        for cut in 0..sample.len() {
            let _ = parse(&sample[..cut], None);
        }
        for _ in 0..5000 {
            let mut bytes = sample.as_bytes().to_vec();
            for _ in 0..(next() % 6 + 1) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = b" :/=\n0a9|"[(next() % 9) as usize],
                    1 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, (next() % 128) as u8),
                }
            }
            if let Err(e) = parse(
                &String::from_utf8_lossy(&bytes),
                Some((2, Profile::Aes128CmHmacSha1_80)),
            ) {
                assert!(e.starts_with("enterprise.sdp"), "{e}");
            }
        }
    }
}

#[test]
fn a_plain_rtp_video_line_is_read_and_others_are_declined() {
    let with_video = format!(
        "{}m=video 40002 RTP/AVPF 100\r\nc=IN IP4 127.0.0.5\r\na=rtpmap:100 VP8/90000\r\n\
         a=rtcp-fb:100 nack pli\r\na=rtcp-fb:100 goog-remb\r\na=rtcp:40010\r\na=recvonly\r\n",
        samples::ENTERPRISE_PLAIN.replace('\n', "\r\n")
    );
    let d = parse(&with_video, None).unwrap();
    assert!(d.rejected.is_empty());
    let video = d.video.unwrap();
    assert_eq!(video.index, 1);
    assert_eq!(
        video.remote.rtp,
        "127.0.0.5:40002".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        video.remote.rtcp,
        Some("127.0.0.5:40010".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(video.proto, "RTP/AVPF");
    assert_eq!(video.codecs[0].feedback, ["nack pli"]);
    assert_eq!(video.direction.attribute(), "recvonly");
    // SDES video and a rejected video line are not used: repeated as rejected lines.
    for declined in [
        with_video.replace("m=video 40002 RTP/AVPF", "m=video 40002 RTP/SAVPF"),
        with_video.replace("m=video 40002 ", "m=video 0 "),
    ] {
        let d = parse(&declined, None).unwrap();
        assert!(d.video.is_none());
        assert_eq!(d.rejected.len(), 1);
    }
}
