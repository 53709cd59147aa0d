//! Video in a BUNDLE through the API over a real forwarder (issue 15, item 4): a Chromium
//! offer of audio and video answered with both m-lines on the one public port and one
//! enterprise m-line per accepted line, each on its own port; the rtcp-fb, rtx and header
//! extensions media-edge keeps and strips; a simulcast offer answered with one encoding; a
//! named connection declining video; a re-offer adding then removing video.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::router::{api, api_with, parse_sdp, port_in_use, Api, HANG_GUARD};

/// Chromium's offer: audio (opus, PCMU) and video (VP8 with rtx, H264 with rtx), BUNDLE
/// 0 1, MID header extension id 4, every rtcp-fb Chromium lists.
const CHROME_AV: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS s\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ob8S\r\na=ice-pwd:gl7sWmfQJE6AOYBOw7XRZf4k\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 4B:1A:0D:68:DC:52:E3:A3:1A:0B:FE:9C:8E:AF:6A:4F:F4:9E:38:3D:E3:B9:24:5B:9F:42:A2:0E:4C:36:EE:3E\r\n\
a=setup:actpass\r\na=mid:0\r\na=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendrecv\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=rtpmap:0 PCMU/8000\r\n\
a=ssrc:3356733413 cname:0bqzHUaqdHT1Dnd0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ob8S\r\na=ice-pwd:gl7sWmfQJE6AOYBOw7XRZf4k\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 4B:1A:0D:68:DC:52:E3:A3:1A:0B:FE:9C:8E:AF:6A:4F:F4:9E:38:3D:E3:B9:24:5B:9F:42:A2:0E:4C:36:EE:3E\r\n\
a=setup:actpass\r\na=mid:1\r\na=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendrecv\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n\
a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n\
a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:98 H264/90000\r\n\
a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtcp-fb:98 nack\r\na=rtcp-fb:98 nack pli\r\na=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n\
a=ssrc-group:FID 1885478286 2957418221\r\na=ssrc:1885478286 cname:0bqzHUaqdHT1Dnd0\r\n\
a=ssrc:2957418221 cname:0bqzHUaqdHT1Dnd0\r\n";

/// An enterprise endpoint with audio on 40000 and video (VP8 as 100, H264 as 101, NACK
/// and PLI) on 40002.
const PBX_AV: &str =
    "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n\
m=video 40002 RTP/AVPF 100 101\r\na=rtpmap:100 VP8/90000\r\na=rtcp-fb:100 nack\r\n\
a=rtcp-fb:100 nack pli\r\na=rtpmap:101 H264/90000\r\na=fmtp:101 packetization-mode=1\r\n\
a=rtcp-fb:101 nack pli\r\na=sendrecv\r\n";

/// The Chromium offer without its video line (and BUNDLE of audio alone).
fn chrome_audio_only() -> String {
    let (audio, _) = CHROME_AV.split_once("m=video").unwrap();
    audio.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
}

/// The Chromium offer with its video line rejected (port 0), as a re-offer removing it.
fn chrome_video_removed() -> String {
    CHROME_AV
        .replace("m=video 9 ", "m=video 0 ")
        .replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
}

fn lines(sdp: &str) -> Vec<&str> {
    sdp.split("\r\n").collect()
}

/// The lines of m-section `index` (0-based) of `sdp`.
fn section(sdp: &str, index: usize) -> Vec<&str> {
    sdp.split("\r\nm=")
        .nth(index + 1)
        .map(lines)
        .unwrap_or_default()
}

async fn create(api: &Api, body: Value) -> Value {
    let (status, body) = api.call("POST", "/v1/sessions", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn port(sdp: &str, index: usize) -> u16 {
    let value = parse_sdp(sdp).media_descriptions[index]
        .media_name
        .port
        .value;
    u16::try_from(value).unwrap()
}

/// Waits until the session's snapshot satisfies `ok`, within the hang guard.
async fn wait_session(api: &Api, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
        if ok(&session) {
            return session;
        }
        assert!(tokio::time::Instant::now() < deadline, "{session}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_bundled_video_line_is_answered_with_its_own_enterprise_port() {
    let api = api(19, 4);
    let body = create(
        &api,
        json!({"offer": CHROME_AV, "enterprise": {"sdp": PBX_AV}}),
    )
    .await;
    let answer = body["answer"].as_str().unwrap();
    assert!(lines(answer).contains(&"a=group:BUNDLE 0 1"), "{answer}");
    // Both lines on the one public port, the same ICE and DTLS parameters.
    assert_eq!(port(answer, 0), port(answer, 1), "{answer}");
    assert!(api.public.contains(port(answer, 1)), "{answer}");
    let video = section(answer, 1);
    assert_eq!(
        video[0],
        format!("video {} UDP/TLS/RTP/SAVPF 96 98", port(answer, 1))
    );
    for kept in [
        "a=mid:1",
        "a=rtcp-mux",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:98 H264/90000",
        "a=rtcp-fb:98 nack pli",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    ] {
        assert!(video.contains(&kept), "{kept} missing: {answer}");
    }
    // The enterprise side did not list ccm fir; nobody estimates bandwidth; no rtx.
    for stripped in ["ccm fir", "goog-remb", "transport-cc", "rtx", "toffset"] {
        assert!(!answer.contains(stripped), "{stripped} kept: {answer}");
    }
    assert!(
        section(answer, 0).contains(&"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"),
        "{answer}"
    );
    // Toward the enterprise: one m-line per accepted line, each on its own port, the
    // enterprise side's payload types.
    let ent = body["enterprise-sdp"].as_str().unwrap();
    let (audio_port, video_port) = (port(ent, 0), port(ent, 1));
    assert_ne!(audio_port, video_port, "{ent}");
    assert!(api.enterprise.contains(video_port), "{ent}");
    let video = section(ent, 1);
    assert_eq!(video[0], format!("video {video_port} RTP/AVPF 100 101"));
    assert!(video.contains(&"a=rtpmap:100 VP8/90000"), "{ent}");
    assert!(video.contains(&"a=rtcp-fb:100 nack pli"), "{ent}");
    assert!(
        video.contains(&format!("a=rtcp:{}", video_port + 1).as_str()),
        "{ent}"
    );
    // The session shows both lines; removing it frees every port.
    let id = body["id"].as_str().unwrap();
    let session = wait_session(&api, id, |s| s["media-lines"].is_array()).await;
    let video_rtp: SocketAddr = session["media-lines"][1]["enterprise_rtp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(video_rtp.port(), video_port, "{session}");
    assert_eq!(
        session["media-lines"][1]["enterprise_remote"],
        "127.0.0.1:40002"
    );
    assert!(port_in_use(video_rtp));
    let (status, _) = api
        .call("DELETE", &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!port_in_use(video_rtp));
    assert!(!port_in_use(SocketAddr::new(
        video_rtp.ip(),
        video_port + 1
    )));
}

#[tokio::test]
async fn a_simulcast_offer_is_answered_with_one_encoding() {
    let api = api(20, 4);
    let simulcast = CHROME_AV.replace(
        "a=ssrc-group:FID",
        "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\na=simulcast:send h;m;l\r\n\
         a=ssrc-group:FID",
    );
    let body = create(
        &api,
        json!({"offer": simulcast, "enterprise": {"sdp": PBX_AV}}),
    )
    .await;
    let answer = body["answer"].as_str().unwrap();
    assert_ne!(port(answer, 1), 0, "video declined: {answer}");
    assert!(!answer.contains("a=rid"), "{answer}");
    assert!(!answer.contains("a=simulcast"), "{answer}");
}

#[tokio::test]
async fn video_is_declined_on_a_named_connection() {
    let api = api_with(21, 4, |c| {
        let pinned = "port=48850;address=127.0.0.3".parse().unwrap();
        c.enterprise.connections.insert("pbx-a".into(), pinned);
    });
    let body = create(
        &api,
        json!({"offer": CHROME_AV, "enterprise": {"sdp": PBX_AV}, "connection": "pbx-a"}),
    )
    .await;
    let answer = body["answer"].as_str().unwrap();
    assert_eq!(port(answer, 1), 0, "{answer}");
    assert!(lines(answer).contains(&"a=group:BUNDLE 0"), "{answer}");
    let ent = body["enterprise-sdp"].as_str().unwrap();
    assert_eq!(port(ent, 0), 48850, "{ent}");
    assert_eq!(port(ent, 1), 0, "{ent}");
    let id = body["id"].as_str().unwrap();
    let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert!(session.get("media-lines").is_none(), "{session}");
    // The forwarder itself refuses video on a named connection, by name.
    let mut spec = edge_forward::SessionSpec::new();
    spec.connection = Some("pbx-a".into());
    spec.video = Some(edge_forward::VideoSpec::new());
    let err = api.relay.create_session(spec).unwrap_err().to_string();
    assert!(err.contains("\"pbx-a\""), "{err}");
}

#[tokio::test]
async fn a_reoffer_adds_then_removes_video() {
    let api = api(22, 4);
    let body = create(
        &api,
        json!({"offer": chrome_audio_only(), "enterprise": {"sdp": PBX_AV}}),
    )
    .await;
    let id = body["id"].as_str().unwrap().to_owned();
    let ent = body["enterprise-sdp"].as_str().unwrap();
    assert_eq!(
        port(ent, 1),
        0,
        "no video offered, none toward the enterprise: {ent}"
    );
    let path = format!("/v1/sessions/{id}/offer");
    // Adding video binds its port pair.
    let (status, added) = api
        .call("POST", &path, Some(json!({"offer": CHROME_AV})))
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let answer = added["answer"].as_str().unwrap();
    assert_ne!(port(answer, 1), 0, "{answer}");
    let ent = added["enterprise-sdp"].as_str().unwrap();
    let video_port = port(ent, 1);
    assert!(api.enterprise.contains(video_port), "{ent}");
    let session = wait_session(&api, &id, |s| s["media-lines"].is_array()).await;
    let video_rtp: SocketAddr = session["media-lines"][1]["enterprise_rtp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(video_rtp.port(), video_port);
    assert!(port_in_use(video_rtp));
    // Holding video alone: the enterprise video line goes inactive, audio stays.
    let held = CHROME_AV.replacen(
        "a=sendrecv\r\na=rtcp-mux\r\na=rtcp-rsize",
        "a=inactive\r\na=rtcp-mux\r\na=rtcp-rsize",
        1,
    );
    let (status, hold) = api.call("POST", &path, Some(json!({"offer": held}))).await;
    assert_eq!(status, StatusCode::OK, "{hold}");
    let ent = hold["enterprise-sdp"].as_str().unwrap();
    assert!(section(ent, 1).contains(&"a=inactive"), "{ent}");
    assert!(section(ent, 0).contains(&"a=sendrecv"), "{ent}");
    assert_eq!(port(ent, 1), video_port, "the same ports: {ent}");
    // Removing it (port 0) frees them.
    let (status, removed) = api
        .call(
            "POST",
            &path,
            Some(json!({"offer": chrome_video_removed()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    let answer = removed["answer"].as_str().unwrap();
    assert_eq!(port(answer, 1), 0, "{answer}");
    assert_eq!(port(removed["enterprise-sdp"].as_str().unwrap(), 1), 0);
    wait_session(&api, &id, |s| s.get("media-lines").is_none()).await;
    assert!(!port_in_use(video_rtp), "the video port is free again");
}

#[tokio::test]
async fn media_edge_offers_video_to_the_enterprise_side() {
    let api = api(23, 4);
    // The enterprise leg left out: media-edge's enterprise offer has both lines.
    let body = create(&api, json!({"offer": CHROME_AV})).await;
    assert_eq!(body["awaiting"], "enterprise-answer", "{body}");
    let answer = body["answer"].as_str().unwrap();
    assert_ne!(port(answer, 1), 0, "{answer}");
    let offer = body["enterprise-sdp"].as_str().unwrap();
    let video_port = port(offer, 1);
    assert!(api.enterprise.contains(video_port), "{offer}");
    let video = section(offer, 1);
    assert_eq!(
        video[0],
        format!("video {video_port} RTP/AVPF 96 98"),
        "{offer}"
    );
    assert!(video.contains(&"a=rtcp-fb:96 nack pli"), "{offer}");
    let id = body["id"].as_str().unwrap().to_owned();
    // The enterprise side keeps video: the leg goes to its video line.
    let (status, answered) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/answer"),
            Some(json!({"enterprise": {"sdp": PBX_AV}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let session = wait_session(&api, &id, |s| {
        s["media-lines"][1]["enterprise_remote"] == "127.0.0.1:40002"
    })
    .await;
    assert_eq!(
        session["media-lines"][1]["enterprise_rtp"],
        format!("127.0.0.3:{video_port}")
    );

    // Another call whose enterprise side declines video (port 0): its ports are freed.
    let body = create(&api, json!({"offer": CHROME_AV})).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let video_port = port(body["enterprise-sdp"].as_str().unwrap(), 1);
    let video_rtp = SocketAddr::from(([127, 0, 0, 3], video_port));
    assert!(port_in_use(video_rtp));
    let declined = PBX_AV.replace("m=video 40002 ", "m=video 0 ");
    let (status, answered) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/answer"),
            Some(json!({"enterprise": {"sdp": declined}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    wait_session(&api, &id, |s| s.get("media-lines").is_none()).await;
    assert!(
        !port_in_use(video_rtp),
        "the declined video line's port is free"
    );
}
