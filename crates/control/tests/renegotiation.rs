//! Calls that change, through the API over a real forwarder: browser re-offers (hold and
//! resume, ICE restart), payload-type mapping between the two sides' numberings, the
//! enterprise leg moving, and the bad input each route refuses with the running session
//! left as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::router::{api, attr, parse_sdp, Api, AIORTC_OFFER, HANG_GUARD, PBX_OFFER};

/// The browser offers opus/111 and telephone-event/101 (with PCMU).
fn browser_offer_111() -> String {
    AIORTC_OFFER
        .replace("UDP/TLS/RTP/SAVPF 96 9 0 8", "UDP/TLS/RTP/SAVPF 111 101 0")
        .replace(
            "a=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\n",
            "a=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=rtpmap:0 PCMU/8000\r\n",
        )
}

/// A PBX that numbers opus 96 and telephone-event 98, on `port`.
fn pbx_96(port: u16) -> String {
    format!(
        "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 96 98 0\r\na=rtpmap:96 opus/48000/2\r\n\
         a=rtpmap:98 telephone-event/8000\r\na=fmtp:98 0-16\r\na=sendrecv\r\n"
    )
}

/// The m= line formats of the first m-line.
fn formats(sdp: &str) -> Vec<String> {
    parse_sdp(sdp).media_descriptions[0]
        .media_name
        .formats
        .clone()
}

fn direction(sdp: &str) -> &'static str {
    let sdp = parse_sdp(sdp);
    ["sendrecv", "sendonly", "recvonly", "inactive"]
        .into_iter()
        .find(|d| attr(&sdp, 0, d).is_some())
        .unwrap_or("none")
}

/// A session from the aiortc offer to an enterprise address; its id and answer.
async fn settled(api: &Api) -> (String, String) {
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "127.0.0.1:40000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["answer"].as_str().unwrap().to_owned(),
    )
}

/// Waits until the forwarder's worker applied a move to `remote` (the API answers once the
/// update is on its way to the worker), within the hang guard.
async fn wait_for_remote(api: &Api, id: &str, remote: &str) {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
        if session["enterprise-remote"] == remote {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the leg never moved to {remote}: {session}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn reoffer(api: &Api, id: &str, offer: &str) -> (StatusCode, Value) {
    api.call(
        "POST",
        &format!("/v1/sessions/{id}/offer"),
        Some(json!({"offer": offer})),
    )
    .await
}

#[tokio::test]
async fn hold_resume_and_ice_restart_are_answered_in_the_same_session() {
    let api = api(10, 4);
    let (id, first) = settled(&api).await;
    let first = parse_sdp(&first);
    let ufrag = attr(&first, 0, "ice-ufrag").unwrap().to_owned();

    // Hold: the browser sends only; media-edge receives only, and tells the enterprise
    // side it only sends to it.
    let (status, body) =
        reoffer(&api, &id, &AIORTC_OFFER.replace("a=sendrecv", "a=sendonly")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.as_str());
    let answer = body["answer"].as_str().unwrap();
    assert_eq!(direction(answer), "recvonly", "{answer}");
    assert_eq!(
        direction(body["enterprise-sdp"].as_str().unwrap()),
        "sendonly"
    );
    let held = parse_sdp(answer);
    // No ICE restart: the same credentials, the same DTLS role and identity.
    assert_eq!(attr(&held, 0, "ice-ufrag"), Some(ufrag.as_str()));
    assert_eq!(attr(&held, 0, "setup"), Some("passive"));
    assert_eq!(
        attr(&held, 0, "fingerprint"),
        attr(&first, 0, "fingerprint")
    );
    assert_eq!(
        held.media_descriptions[0].media_name.port.value,
        first.media_descriptions[0].media_name.port.value
    );

    // Inactive, then resumed.
    let (status, body) =
        reoffer(&api, &id, &AIORTC_OFFER.replace("a=sendrecv", "a=inactive")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(direction(body["answer"].as_str().unwrap()), "inactive");
    assert_eq!(
        direction(body["enterprise-sdp"].as_str().unwrap()),
        "inactive"
    );
    let (status, body) = reoffer(&api, &id, AIORTC_OFFER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(direction(body["answer"].as_str().unwrap()), "sendrecv");

    // ICE restart: new ufrag and pwd from the browser; media-edge answers with new ones.
    let restart = AIORTC_OFFER
        .replace("a=ice-ufrag:HYW7", "a=ice-ufrag:R3st")
        .replace(
            "a=ice-pwd:Fq3YpfdicrVJm7memzz2BQ",
            "a=ice-pwd:NewPasswordOf22Chars01",
        );
    let (status, body) = reoffer(&api, &id, &restart).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let restarted = parse_sdp(body["answer"].as_str().unwrap());
    let new_ufrag = attr(&restarted, 0, "ice-ufrag").unwrap();
    assert_ne!(new_ufrag, ufrag, "an ICE restart gets new credentials");
    assert_ne!(attr(&restarted, 0, "ice-pwd"), attr(&first, 0, "ice-pwd"));
    assert_eq!(attr(&restarted, 0, "setup"), Some("passive"));
    // A re-offer repeating the restarted credentials is no second restart.
    let (status, body) = reoffer(&api, &id, &restart).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = parse_sdp(body["answer"].as_str().unwrap());
    assert_eq!(attr(&again, 0, "ice-ufrag"), Some(new_ufrag));

    // A re-offer adding video: the video m-line is answered with port 0 (the forwarder
    // carries audio), the audio line as before.
    let with_video = format!(
        "{restart}m=video 46100 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 127.0.0.1\r\na=mid:1\r\n\
         a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:97 VP8/90000\r\n"
    )
    .replace("a=group:BUNDLE 0", "a=group:BUNDLE 0 1");
    let (status, body) = reoffer(&api, &id, &with_video).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = parse_sdp(body["answer"].as_str().unwrap());
    assert_eq!(answer.media_descriptions.len(), 2);
    assert_eq!(answer.media_descriptions[1].media_name.media, "video");
    assert_eq!(answer.media_descriptions[1].media_name.port.value, 0);
    assert_eq!(attr(&answer, 1, "mid"), Some("1"));
    assert_eq!(attr(&answer, 0, "ice-ufrag"), Some(new_ufrag));

    // Still one session.
    let (status, list) = api.call("GET", "/v1/sessions", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn payload_types_are_mapped_between_the_two_numberings() {
    let api = api(11, 4);
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": browser_offer_111(), "enterprise": {"sdp": pbx_96(40000)}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    // Each side keeps its numbering.
    let answer = body["answer"].as_str().unwrap();
    assert_eq!(formats(answer), ["111", "101", "0"], "{answer}");
    let answer = parse_sdp(answer);
    let rtpmaps: Vec<&str> = answer.media_descriptions[0]
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| a.value.as_deref())
        .collect();
    assert_eq!(
        rtpmaps,
        [
            "111 opus/48000/2",
            "101 telephone-event/8000",
            "0 PCMU/8000"
        ]
    );
    let enterprise = body["enterprise-sdp"].as_str().unwrap();
    assert_eq!(formats(enterprise), ["96", "98", "0"], "{enterprise}");
    assert!(
        enterprise.contains("a=rtpmap:96 opus/48000/2"),
        "{enterprise}"
    );
    assert!(enterprise.contains("a=fmtp:98 0-16"), "{enterprise}");

    // A transfer to a PBX that numbers opus 100 and DTMF 101: the enterprise side may
    // renumber, the browser's numbering stays.
    let moved = pbx_96(40100)
        .replace("RTP/AVP 96 98 0", "RTP/AVP 100 101")
        .replace("a=rtpmap:96 opus", "a=rtpmap:100 opus")
        .replace(
            "a=rtpmap:98 telephone-event/8000\r\na=fmtp:98",
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101",
        );
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/enterprise"),
            Some(json!({"sdp": moved})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        formats(body["enterprise-sdp"].as_str().unwrap()),
        ["100", "101"]
    );
    wait_for_remote(&api, &id, "127.0.0.1:40100").await;

    // A browser re-offer giving 101 another format conflicts with the map in force.
    let conflicting = browser_offer_111().replace(
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:101 PCMA/8000",
    );
    let (status, body) = reoffer(&api, &id, &conflicting).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid-sdp");
    assert_eq!(body["attribute"], "a=rtpmap");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("conflicting payload-type map"), "{detail}");
    assert!(detail.contains("payload type 101 is PCMA/8000"), "{detail}");
    // The session runs on: the same re-offer without the conflict is answered.
    let (status, body) = reoffer(&api, &id, &browser_offer_111()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        formats(body["enterprise-sdp"].as_str().unwrap()),
        ["100", "101"]
    );
}

#[tokio::test]
async fn bad_renegotiations_are_refused_and_change_nothing() {
    let api = api(12, 4);
    let (id, _) = settled(&api).await;
    let (_, before) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;

    // Another certificate on the same transport.
    let other_fingerprint =
        AIORTC_OFFER.replace("a=fingerprint:sha-256 21:96", "a=fingerprint:sha-256 22:96");
    let (status, body) = reoffer(&api, &id, &other_fingerprint).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid-sdp");
    assert_eq!(body["attribute"], "a=fingerprint");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("on this transport"),
        "{body}"
    );
    // ... and with an ICE restart: the DTLS association stays, so still refused.
    let restart_other = other_fingerprint.replace("a=ice-ufrag:HYW7", "a=ice-ufrag:R3st");
    let (status, body) = reoffer(&api, &id, &restart_other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["attribute"], "a=fingerprint");

    // An answer for a session that is not waiting for one.
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/answer"),
            Some(json!({"answer": AIORTC_OFFER.replace("a=setup:actpass", "a=setup:active")})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "not-awaiting");

    // SRTP cannot appear on a plain-RTP leg within the call.
    let savp = PBX_OFFER.replace(
        "RTP/AVP 0 8 101",
        "RTP/SAVP 0 8 101\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
    );
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/enterprise"),
            Some(json!({"sdp": savp})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot change within a call"),
        "{body}"
    );

    // No codec in common with the browser's side.
    let g729 = "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=c\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 40200 RTP/AVP 18\r\n";
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/enterprise"),
            Some(json!({"sdp": g729})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("no audio codec in common"),
        "{body}"
    );

    // Unknown sessions and bodies.
    let (status, body) = reoffer(&api, "0123456789abcdef", AIORTC_OFFER).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/enterprise"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Nothing of it reached the session.
    let (_, after) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert_eq!(
        after["enterprise-remote"], before["enterprise-remote"],
        "{after}"
    );
    assert_eq!(after["state"], before["state"], "{after}");
    // And it still takes a good re-offer and a move.
    let (status, body) = reoffer(&api, &id, AIORTC_OFFER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/enterprise"),
            Some(json!({"rtp": "127.0.0.1:40300"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for_remote(&api, &id, "127.0.0.1:40300").await;
}

#[tokio::test]
async fn renegotiation_waits_for_the_first_answer() {
    let api = api(13, 4);
    let (status, body) = api
        .call("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["awaiting"], "enterprise-answer");
    let (status, body) = reoffer(&api, &id, AIORTC_OFFER).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "not-awaiting");
    assert!(
        body["detail"].as_str().unwrap().contains("first offer"),
        "{body}"
    );
    // The first answer still completes the session; then a re-offer is answered.
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/sessions/{id}/answer"),
            Some(json!({"enterprise": {"sdp": PBX_OFFER}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = reoffer(&api, &id, AIORTC_OFFER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        formats(body["enterprise-sdp"].as_str().unwrap()),
        ["0", "8"]
    );
}

/// When media-edge offered (`a=setup:actpass`), the browser's answer chose the DTLS roles;
/// a later re-offer's answer keeps them.
#[tokio::test]
async fn a_reoffer_keeps_the_dtls_role_the_browser_answer_chose() {
    let api = api(18, 4);
    for (browser_role, ours) in [("active", "passive"), ("passive", "active")] {
        let (status, body) = api
            .call(
                "POST",
                "/v1/sessions",
                Some(json!({"enterprise-offer": PBX_OFFER})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let answer = AIORTC_OFFER.replace("a=setup:actpass", &format!("a=setup:{browser_role}"));
        let (status, body) = api
            .call(
                "POST",
                &format!("/v1/sessions/{id}/answer"),
                Some(json!({"answer": answer})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = reoffer(&api, &id, AIORTC_OFFER).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer = parse_sdp(body["answer"].as_str().unwrap());
        assert_eq!(
            attr(&answer, 0, "setup"),
            Some(ours),
            "browser {browser_role}"
        );
        assert_eq!(attr(&answer, 0, "mid"), Some("0"));
        assert_eq!(
            formats(body["enterprise-sdp"].as_str().unwrap()),
            ["0", "8"]
        );
    }
}
