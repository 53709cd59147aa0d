//! SDES-SRTP on the enterprise leg: aiortc calls through media-edge as in `media_call`, and
//! the enterprise side is an echo with its own SRTP implementation (libsrtp, through
//! pylibsrtp): it decrypts what media-edge sends (SRTP and SRTCP) with the key from
//! media-edge's `a=crypto`, and encrypts its echo with the key of its own SDP.

use edge_suite::media::{assert_call_ok, MediaEdge};
use serde_json::json;

const FRAMES: usize = 150;

#[test]
fn aiortc_call_with_sdes_enterprise_leg_decrypted_by_libsrtp() {
    let edge = MediaEdge::start(2);
    let calls = edge.run_calls(None, FRAMES, json!([{"name": "sdes", "sdes": true}]));
    let call = &calls["sdes"];
    let sdp = call["enterprise_sdp"].as_str().unwrap_or_default();
    assert!(sdp.contains(" RTP/SAVP 0\r\n"), "{sdp}");
    assert!(
        sdp.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{sdp}"
    );
    // Every frame came through libsrtp's unprotect intact (assert_call_ok checks content),
    // and nothing failed authentication on either side.
    assert_call_ok(&edge, call, FRAMES);
    let echo = &call["echo"];
    assert_eq!(echo["srtp_failures"], 0, "{echo}");
    assert_eq!(echo["early"], 0, "{echo}");
    assert_eq!(echo["rtcp_decrypted"], echo["rtcp_packets"], "{echo}");
}
