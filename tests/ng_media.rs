//! Calls set up through rtpengine's ng protocol, media through media-edge: aiortc as the
//! browser and a plain RTP echo as the SIP side (`tests/python/media_peer.py` with an `ng`
//! plan), once with the browser offering and once with the SIP side offering. The ng call
//! is the API's session (found in `GET /v1/sessions`), `query` counts its packets and
//! reports each leg's loss, jitter, RTT and MOS in rtpengine's key names (walked the way
//! Kamailio's rtpengine module reads them), `list` names it, and ng's `delete` frees its
//! ports.

use edge_suite::media::{assert_media_ok, assert_ranges_free, MediaEdge};
use serde_json::{json, Value};

/// Three seconds of 20 ms frames.
const FRAMES: usize = 150;

/// What both directions check after the media.
fn assert_ng_call(edge: &MediaEdge, call: &Value) {
    assert_eq!(call["ng_offer"], "ok", "{call}");
    assert_eq!(call["ng_answer"], "ok", "{call}");
    assert_media_ok(edge, call, FRAMES);
    let query = &call["ng_query"];
    assert_eq!(query["result"], "ok", "{query}");
    let rtp = query["totals"]["RTP"]["packets"].as_u64().unwrap_or(0);
    // Both directions: every frame sent one way and echoed back.
    assert!(rtp >= 2 * FRAMES as u64, "totals: {query}");
    let tags = query["tags"].as_object().expect("tags");
    assert_eq!(tags.len(), 2, "{query}");
    for (name, tag) in tags {
        let stream = &tag["medias"][0]["streams"][0];
        let packets = stream["stats"]["packets"].as_u64().unwrap_or(0);
        assert!(packets >= FRAMES as u64, "tag {name}: {stream}");
        assert!(stream["local port"].as_u64().is_some(), "{stream}");
        // The last packet from this leg: after the call was created, not after the query.
        let last = stream["last packet"].as_u64().expect("last packet");
        let created = query["created"].as_u64().expect("created");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(created <= last && last <= now, "tag {name}: {stream}");
        assert!(tag["in dialogue with"].is_string(), "{tag}");
        assert_quality(query, name, stream);
    }
    assert_eq!(call["ng_list"]["calls"], json!([call["name"]]), "{call}");
    assert_eq!(call["ng_delete"], "ok", "{call}");
    assert_eq!(call["get_after_delete_status"], 404, "{call}");
    assert_ranges_free(edge);
}

/// The leg's call quality as Kamailio's rtpengine module finds it (its `mos_*` pseudo
/// variables): the stream's `SSRC`, then that SSRC's `average MOS` in the reply's `SSRC`
/// dictionary, in rtpengine's units.
fn assert_quality(query: &Value, name: &str, stream: &Value) {
    let ssrc = stream["SSRC"].as_u64().expect("stream SSRC");
    let entry = &query["SSRC"][ssrc.to_string()];
    let lost = entry["cumulative loss"].as_i64().expect("cumulative loss");
    // Loopback: nothing is lost beyond a reordering or two.
    assert!(lost.abs() <= 2, "tag {name}: {entry}");
    let average = &entry["average MOS"];
    let mos = average["MOS"].as_i64().expect("MOS");
    // MOS times ten; a clean G.711 or Opus leg scores above 4.
    assert!((40..=45).contains(&mos), "tag {name}: {entry}");
    let loss = average["packet loss"].as_i64().expect("packet loss");
    assert!((0..=1).contains(&loss), "tag {name}: {entry}");
    let jitter = average["jitter"].as_i64().expect("jitter");
    assert!((0..=100).contains(&jitter), "tag {name}: {entry}");
    assert_eq!(average["samples"], 1, "tag {name}: {entry}");
    // The RTT needs a report block answering one of media-edge's sender reports.
    if let Some(leg) = average["round-trip time leg"].as_i64() {
        let total = average["round-trip time"]
            .as_i64()
            .expect("round-trip time");
        assert!(
            leg > 0 && leg < 1_000_000 && total >= leg,
            "tag {name}: {entry}"
        );
    }
}

#[test]
fn browser_offers_through_ng() {
    let edge = MediaEdge::start(14);
    let mut calls = edge.run_calls_ng(FRAMES, json!([{"name": "ng-browser"}]));
    let call = &mut calls["ng-browser"];
    call["name"] = json!("ng-browser");
    let offer = call["enterprise_sdp"].as_str().unwrap_or_default();
    assert!(offer.contains(" RTP/AVP "), "{offer}");
    assert_ng_call(&edge, call);
}

#[test]
fn sip_side_offers_through_ng() {
    let edge = MediaEdge::start(15);
    let mut calls = edge.run_calls_ng(FRAMES, json!([{"name": "ng-sip", "reverse": true}]));
    let call = &mut calls["ng-sip"];
    call["name"] = json!("ng-sip");
    let offer = call["browser_sdp"].as_str().unwrap_or_default();
    // DTLS=passive: media-edge offers actpass (as rtpengine does), aiortc takes the active
    // role, media-edge the passive one.
    assert!(offer.contains("a=setup:actpass\r\n"), "{offer}");
    assert!(offer.contains(" UDP/TLS/RTP/SAVPF "), "{offer}");
    assert_ng_call(&edge, call);
}
