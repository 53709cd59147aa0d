//! A browser call through media-edge: aiortc offers an audio track, gets media-edge's answer
//! through the HTTP API, completes ICE (media-edge is ICE-lite) and DTLS, and sends SRTP; a
//! plain UDP RTP echo on the enterprise side receives exactly the payloads aiortc sent and
//! sends them back, and aiortc decodes every one of them. Once directly, once with aiortc
//! forced to relay through media-edge's own TURN server, and once the other way round: the
//! enterprise side offers, media-edge offers to aiortc, aiortc answers.

use edge_suite::media::{assert_call_ok, MediaEdge, Turn, TURN_RELAY_IP};
use serde_json::json;

/// Three seconds of 20 ms frames.
const FRAMES: usize = 150;

#[test]
fn aiortc_call_direct() {
    let edge = MediaEdge::start(0);
    let calls = edge.run_calls(None, FRAMES, json!([{"name": "direct"}]));
    let call = &calls["direct"];
    assert_call_ok(&edge, call, FRAMES);
    // The browser's address was latched from aiortc's host candidate.
    let browser = call["session"]["browser-addr"].as_str().unwrap_or_default();
    assert!(browser.starts_with("127.0.0.1:"), "{call}");
}

#[test]
fn aiortc_call_relayed_through_our_turn_server() {
    let edge = MediaEdge::start(1);
    let turn = Turn::start(1);
    let calls = edge.run_calls(
        Some(&turn),
        FRAMES,
        json!([{"name": "relayed", "relay": true}]),
    );
    let call = &calls["relayed"];
    assert_call_ok(&edge, call, FRAMES);
    // media-edge saw the browser at a relayed address of the TURN server, nowhere else.
    let browser: std::net::SocketAddr = call["session"]["browser-addr"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("browser-addr ({e}): {call}"));
    assert_eq!(browser.ip(), TURN_RELAY_IP, "{call}");
    assert!(turn.relay_ports.contains(&browser.port()), "{call}");
    let relayed = turn.snapshot();
    assert!(relayed.to_peers >= FRAMES as u64, "{relayed:?}");
    assert!(relayed.to_clients >= FRAMES as u64, "{relayed:?}");
}

#[test]
fn aiortc_answers_an_enterprise_offer() {
    let edge = MediaEdge::start(4);
    let calls = edge.run_calls(None, FRAMES, json!([{"name": "reverse", "reverse": true}]));
    let call = &calls["reverse"];
    assert_eq!(call["answer_status"], 200, "{call}");
    let offer = call["browser_sdp"].as_str().unwrap_or_default();
    assert!(offer.contains("a=setup:actpass\r\n"), "{offer}");
    assert!(offer.contains("a=ice-lite\r\n"), "{offer}");
    assert_call_ok(&edge, call, FRAMES);
}
