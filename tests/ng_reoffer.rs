//! Calls that change, driven through rtpengine's ng protocol as a SIP proxy sends it, with
//! aiortc as the browser and RTP echoes as the SIP side (`tests/python/call_peer.py` with
//! `ng`): hold and resume as the browser's re-offers (`offer` with the browser's tag, the
//! echo's `answer`), and a transfer as the SIP side's re-offer with a second echo's SDP
//! (another port, SSRC and SDES key; `offer` with the PBX's tag, aiortc's SDP as the
//! `answer`). Media continues across each change, counted at both ends.

use edge_suite::media::{assert_ranges_free, run_python, MediaEdge, TOKEN};
use serde_json::{json, Value};

/// Frames (20 ms each) per phase of a call.
const FRAMES: u64 = 100;

fn run(edge: &MediaEdge, scenario: &str) -> Value {
    let report = run_python(
        "call_peer.py",
        &json!({
            "api": format!("http://{}", edge.api),
            "ng": edge.ng.to_string(),
            "token": TOKEN,
            "scenario": scenario,
            "frames": FRAMES,
        }),
    );
    assert_eq!(report["create_status"], 201, "{report}");
    report
}

/// Frames aiortc decoded from the mark `name` on (their numbers; -1: not a frame).
fn decoded_since(report: &Value, name: &str) -> Vec<i64> {
    let from = report["marks"][name][0].as_u64().expect("mark") as usize;
    report["decoded"].as_array().expect("decoded")[from..]
        .iter()
        .map(|d| d[0].as_i64().unwrap_or(-1))
        .filter(|k| *k >= 0)
        .collect()
}

/// RTP packets the forwarder sent the browser, per `GET /v1/sessions/{id}`.
fn rtp_to_browser(session: &Value) -> u64 {
    session["counters"]["enterprise_to_browser"]["rtp_packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no counters in {session}"))
}

/// The SDP of a change: `which` of `report[step]["answer"]`.
fn sdp<'a>(report: &'a Value, step: &str, which: &str) -> &'a str {
    report[step]["answer"][which].as_str().unwrap_or_default()
}

#[test]
fn hold_and_resume_by_ng_reoffers() {
    let edge = MediaEdge::start(44);
    let report = run(&edge, "hold");
    assert_eq!(report["hold"]["status"], "ok", "{}", report["hold"]);
    // The re-offer reached the PBX as a=sendonly, aiortc's answer says media-edge only
    // receives.
    assert!(
        sdp(&report, "hold", "enterprise-sdp").contains("a=sendonly"),
        "{report}"
    );
    assert!(
        sdp(&report, "hold", "answer").contains("a=recvonly"),
        "{report}"
    );
    // A repeat of each re-offer got the same SDP back.
    for step in ["hold", "resume"] {
        assert_eq!(
            report[step]["answer"]["repeated-offer-same"], true,
            "{}",
            report[step]
        );
    }
    assert_eq!(report["resume"]["status"], "ok", "{}", report["resume"]);
    assert!(
        sdp(&report, "resume", "enterprise-sdp").contains("a=sendrecv"),
        "{report}"
    );
    assert!(
        sdp(&report, "resume", "answer").contains("a=sendrecv"),
        "{report}"
    );
    // While held, the forwarder sent the browser nothing.
    let (held, before_resume) = (&report["session_held"], &report["session_before_resume"]);
    assert_eq!(
        rtp_to_browser(held),
        rtp_to_browser(before_resume),
        "held: {held}\nbefore resume: {before_resume}"
    );
    // After the resume, a full phase decoded, in order.
    let after = decoded_since(&report, "resumed");
    assert!(after.len() as u64 >= FRAMES, "{} frames after", after.len());
    assert!(after.windows(2).all(|p| p[1] > p[0]), "{after:?}");
    assert!(
        rtp_to_browser(&report["session"]) > rtp_to_browser(before_resume) + FRAMES / 2,
        "{}",
        report["session"]
    );
    // The echo got the browser's frames throughout (sendonly still sends).
    let frames = report["echo"]["frames"].as_array().expect("frames").len() as u64;
    assert!(frames >= 2 * FRAMES, "{frames} frames at the echo");
    // ng's delete forgot the call.
    assert_eq!(edge.ng_engine.calls(), 0, "deleted");
    assert_eq!(report["delete_status"], 204, "{report}");
    assert_ranges_free(&edge);
}

#[test]
fn transfer_by_ng_reoffer_from_the_sip_side() {
    let edge = MediaEdge::start(45);
    let report = run(&edge, "transfer");
    assert_eq!(report["move"]["status"], 200, "{}", report["move"]);
    let (first, second) = (&report["echo"], &report["second_echo"]);
    assert_ne!(first["address"], second["address"]);
    // The browser got the SDP in force again (same transport), the PBX an answer with
    // media-edge's key.
    let to_pbx = sdp(&report, "move", "enterprise-sdp");
    assert!(to_pbx.contains("a=crypto:"), "{to_pbx}");
    // The second echo got the browser's media under its own key ...
    let moved = second["frames"].as_array().expect("frames").len() as u64;
    assert!(moved >= FRAMES / 2, "{second}");
    assert_eq!(first["srtp_failures"], 0, "{first}");
    assert_eq!(second["srtp_failures"], 0, "{second}");
    // ... and the browser kept decoding a full phase after the move.
    let after = decoded_since(&report, "moving");
    assert!(after.len() as u64 >= FRAMES, "{} frames after", after.len());
    // query names the new remote on the PBX's tag.
    let query = &report["ng_query"];
    let pbx = &query["tags"]["pbx"]["medias"][0]["streams"][0]["endpoint"];
    let port = second["address"]
        .as_str()
        .and_then(|a| a.rsplit(':').next());
    assert_eq!(
        pbx["port"].as_u64().map(|p| p.to_string()).as_deref(),
        port,
        "{query}"
    );
    let counters = &report["session"]["counters"];
    for direction in ["browser_to_enterprise", "enterprise_to_browser"] {
        assert_eq!(
            counters[direction]["drops"]["auth_failed"], 0,
            "{direction}: {counters}"
        );
    }
    assert_eq!(report["delete_status"], 204, "{report}");
    assert_ranges_free(&edge);
}
