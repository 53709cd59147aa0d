//! Headless Chromium through media-edge against an enterprise echo that numbers opus 96
//! and telephone-event 98: Chromium's own numbering on its side, the echo's on the other,
//! DTMF from RTCDTMFSender arriving as RFC 4733 events and counted; a re-offer with another
//! fingerprint refused while the call goes on; then an ICE restart
//! (`pc.restartIce()`) answered in the same session with new credentials, media flowing
//! after it; hold and resume, and a transfer to another echo (`tests/python/chromium_call.py`).
//! ICE is relay-only through media-edge's TURN
//! server, as in tests/media_chromium.rs.

use edge_suite::media::{
    assert_ranges_free, run_python, MediaEdge, Turn, TOKEN, TURN_PASSWORD, TURN_USER,
};
use serde_json::{json, Value};

/// The payload type an SDP's `a=rtpmap` gives `encoding` (e.g. `opus/48000`).
fn payload_type(sdp: &str, encoding: &str) -> Option<u64> {
    sdp.lines().find_map(|l| {
        let (pt, name) = l.strip_prefix("a=rtpmap:")?.split_once(' ')?;
        name.starts_with(encoding).then(|| pt.parse().ok())?
    })
}

fn attribute<'a>(sdp: &'a str, key: &str) -> Option<&'a str> {
    sdp.lines()
        .find_map(|l| l.strip_prefix(&format!("a={key}:")))
        .map(str::trim)
}

fn packets(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {stats}"))
}

/// Runs `scenario` of chromium_call.py against a fresh media-edge and TURN server in test
/// slot `slot`; the report, and media-edge for the checks after.
fn run_chromium(slot: u16, scenario: &str) -> (Value, MediaEdge) {
    let turn = Turn::start(slot);
    let edge = MediaEdge::start_with(slot, |api| api.demo = true);
    let report = run_python(
        "chromium_call.py",
        &json!({
            "api": format!("http://{}", edge.api),
            "token": TOKEN,
            "chromium": edge_suite::require_program("chromium"),
            "scenario": scenario,
            "turn": {
                "urls": format!("turn:{}?transport=udp", turn.listener),
                "username": TURN_USER,
                "credential": TURN_PASSWORD,
            },
        }),
    );
    eprintln!("chromium: {}\necho: {}", report["page"], report["echo"]);
    (report, edge)
}

#[test]
fn chromium_dtmf_with_mapped_payload_types_and_an_ice_restart() {
    let (report, edge) = run_chromium(44, "dtmf_restart");
    let page = &report["page"];
    assert!(page.get("error").is_none(), "{page}");
    assert_eq!(page["create"], 201, "{page}");
    assert_eq!(page["connected"], true, "{page}");

    // Each side kept its numbering: Chromium's opus (111) and telephone-event/8000 in its
    // answer, 96 and 98 toward the echo.
    let answer = page["answer"].as_str().unwrap_or_default();
    let enterprise_sdp = page["enterprise_sdp"].as_str().unwrap_or_default();
    assert_eq!(payload_type(answer, "opus/48000"), Some(111), "{answer}");
    let browser_dtmf = payload_type(answer, "telephone-event/8000").expect("DTMF answered");
    assert_ne!(browser_dtmf, 98, "{answer}");
    assert_eq!(payload_type(enterprise_sdp, "opus/48000"), Some(96));
    assert_eq!(
        payload_type(enterprise_sdp, "telephone-event/8000"),
        Some(98)
    );
    // The echo got opus under 96 and the DTMF under 98, nothing under Chromium's numbers.
    let echo = &report["echo"];
    assert_eq!(echo["payload_types"], json!([96, 98]), "{echo}");
    // The digits 1, 5, 9 (RFC 4733 events 1, 5, 9), each ended.
    let ended: Vec<u64> = echo["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e[1] == 1)
        .filter_map(|e| e[0].as_u64())
        .fold(Vec::new(), |mut digits, e| {
            if digits.last() != Some(&e) {
                digits.push(e);
            }
            digits
        });
    assert_eq!(ended, [1, 5, 9], "{echo}");
    let counters = &page["session"]["counters"];
    assert!(
        counters["browser_to_enterprise"]["dtmf_packets"].as_u64() >= Some(3),
        "{counters}"
    );

    // A re-offer with another certificate's fingerprint: a clear 400 naming a=fingerprint,
    // and the call goes on (~50 packets a second each way through the second after it).
    let bad = &page["bad_fingerprint"];
    assert_eq!(bad["status"], 400, "{bad}");
    assert_eq!(bad["body"]["error"], "invalid-sdp", "{bad}");
    assert_eq!(bad["body"]["attribute"], "a=fingerprint", "{bad}");
    let (before_bad, before) = (&page["before_bad"], &page["before"]);
    for key in ["received", "sent"] {
        assert!(
            packets(before, key) >= packets(before_bad, key) + 30,
            "{key}: {before_bad} then {before}"
        );
    }

    // The ICE restart: new credentials both ways, the same session, media after it.
    assert_eq!(page["restart"], 200, "{page}");
    let first_offer_ufrag = page["restart_offer"]
        .as_str()
        .and_then(|o| attribute(o, "ice-ufrag"));
    assert!(first_offer_ufrag.is_some(), "{page}");
    let restart_answer = page["restart_answer"].as_str().unwrap_or_default();
    assert_ne!(
        attribute(answer, "ice-ufrag"),
        attribute(restart_answer, "ice-ufrag"),
        "media-edge's credentials change with the restart"
    );
    assert_ne!(
        attribute(answer, "ice-pwd"),
        attribute(restart_answer, "ice-pwd")
    );
    assert_eq!(
        attribute(answer, "fingerprint"),
        attribute(restart_answer, "fingerprint")
    );
    assert_eq!(page["restarted"], true, "{page}");
    let (after, later) = (&page["after_restart"], &page["later"]);
    assert_eq!(later["dtls"], "connected", "{later}");
    assert_eq!(later["codec"], "audio/opus", "{later}");
    // Two seconds after the restart settled: ~100 more packets each way.
    assert!(
        packets(later, "received") >= packets(after, "received") + 50,
        "after: {after}, later: {later}"
    );
    assert!(
        packets(later, "sent") >= packets(after, "sent") + 50,
        "after: {after}, later: {later}"
    );
    assert_eq!(page["session"]["state"], "active", "{page}");
    assert_eq!(page["delete"], 204, "{page}");
    assert_ranges_free(&edge);
}

/// Hold and resume from Chromium, then a transfer of the enterprise leg to another echo
/// with its own SSRC and sequence numbers from 0.
#[test]
fn chromium_hold_resume_and_transfer() {
    let (report, edge) = run_chromium(45, "hold_transfer");
    let page = &report["page"];
    assert!(page.get("error").is_none(), "{page}");
    assert_eq!(page["connected"], true, "{page}");
    assert_eq!(page["hold"], 200, "{page}");
    assert_eq!(page["resume"], 200, "{page}");
    assert_eq!(page["move"], 200, "{page}");
    let (held_a, held_b) = (&page["held_a"], &page["held_b"]);
    // Held: media-edge sent Chromium nothing for 1.5 s (Chromium's receiver is inactive and
    // reports no inbound-rtp then) and dropped what the echo sent as direction drops, while
    // Chromium kept sending (sendonly).
    let (before, after) = (&page["held_a_counters"], &page["held_b_counters"]);
    let to_browser = |c: &Value| packets(&c["enterprise_to_browser"], "rtp_packets");
    let dropped = |c: &Value| packets(&c["enterprise_to_browser"]["drops"], "direction");
    assert_eq!(
        to_browser(before),
        to_browser(after),
        "{before} then {after}"
    );
    assert!(
        dropped(after) >= dropped(before) + 50,
        "{before} then {after}"
    );
    assert!(
        packets(held_b, "sent") >= packets(held_a, "sent") + 50,
        "{held_a} then {held_b}"
    );
    // Resumed: media again, ~75 packets in 1.5 s.
    let resumed = &page["resumed"];
    assert!(
        to_browser(&page["session"]["counters"]) >= to_browser(after) + 50,
        "{after} then {}",
        page["session"]["counters"]
    );
    assert!(packets(resumed, "received") >= 50, "{resumed}");
    // Moved: the second echo gets Chromium's stream, and Chromium keeps receiving one
    // continuous stream: ~100 packets in 2 s, at most 5 (100 ms) lost across the move.
    let moved = &page["moved"];
    assert!(
        report["second_echo"]["frames"].as_u64() >= Some(50),
        "{}",
        report["second_echo"]
    );
    assert!(
        packets(moved, "received") >= packets(resumed, "received") + 70,
        "{resumed} then {moved}"
    );
    assert!(
        packets(moved, "lost") <= packets(resumed, "lost") + 5,
        "{resumed} then {moved}"
    );
    assert_eq!(moved["codec"], "audio/opus", "{moved}");
    assert_eq!(page["session"]["state"], "active", "{page}");
    assert_eq!(page["delete"], 204, "{page}");
    assert_ranges_free(&edge);
}
