//! Calls that change, end to end with aiortc as the browser (`tests/python/call_peer.py`):
//! hold and resume through a browser re-offer, a transfer of the enterprise leg to another
//! echo with a new SSRC, sequence numbers from 0 and a new SDES key, and payload types
//! numbered differently on the two sides.

use edge_suite::media::{assert_ranges_free, run_python, MediaEdge, TOKEN};
use serde_json::{json, Value};

/// Frames (20 ms each) per phase of a call.
const FRAMES: u64 = 100;

fn run(edge: &MediaEdge, scenario: &str) -> Value {
    let report = run_python(
        "call_peer.py",
        &json!({
            "api": format!("http://{}", edge.api),
            "token": TOKEN,
            "scenario": scenario,
            "frames": FRAMES,
        }),
    );
    assert_eq!(report["create_status"], 201, "{report}");
    report
}

/// The decoded frames as (frame number, seconds).
fn decoded(report: &Value) -> Vec<(i64, f64)> {
    report["decoded"]
        .as_array()
        .expect("decoded")
        .iter()
        .map(|d| (d[0].as_i64().unwrap_or(-1), d[1].as_f64().unwrap_or(0.0)))
        .collect()
}

/// A mark's (index into decoded, seconds).
fn mark(report: &Value, name: &str) -> (usize, f64) {
    let m = &report["marks"][name];
    (
        m[0].as_u64().unwrap_or(0) as usize,
        m[1].as_f64().unwrap_or(0.0),
    )
}

/// Frame numbers received by an echo.
fn echo_frames(echo: &Value) -> Vec<i64> {
    echo["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f.as_i64().unwrap_or(-1))
        .collect()
}

/// Asserts `frames` runs k, k+1, k+2, ... without a gap or a foreign payload.
fn assert_contiguous(what: &str, frames: &[i64]) {
    for pair in frames.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "{what}: a gap or foreign payload in {frames:?}"
        );
    }
}

fn packets_to_browser(session: &Value) -> u64 {
    session["counters"]["enterprise_to_browser"]["rtp_packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no counters in {session}"))
}

#[test]
fn hold_and_resume_by_browser_reoffer() {
    let edge = MediaEdge::start(41);
    let report = run(&edge, "hold");
    assert_eq!(report["hold"]["status"], 200, "{}", report["hold"]);
    let held_answer = report["hold"]["answer"]["answer"]
        .as_str()
        .unwrap_or_default();
    assert!(held_answer.contains("a=recvonly"), "{held_answer}");
    assert_eq!(report["resume"]["status"], 200, "{}", report["resume"]);
    let resumed = report["resume"]["answer"]["answer"]
        .as_str()
        .unwrap_or_default();
    assert!(resumed.contains("a=sendrecv"), "{resumed}");

    // No media toward the browser while held: the forwarder sent it nothing ...
    let (held, before_resume) = (&report["session_held"], &report["session_before_resume"]);
    assert_eq!(
        packets_to_browser(held),
        packets_to_browser(before_resume),
        "held: {held}\nbefore resume: {before_resume}"
    );
    // ... but dropped and counted what the echo kept sending ...
    let direction_drops = |s: &Value| {
        s["counters"]["enterprise_to_browser"]["drops"]["direction"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        direction_drops(before_resume) >= direction_drops(held) + 25,
        "held: {held}\nbefore resume: {before_resume}"
    );
    // ... and aiortc decoded nothing from half a second after the hold until the resume.
    let frames = decoded(&report);
    let (_, held_at) = mark(&report, "held");
    let (_, resuming_at) = mark(&report, "resuming");
    let during: Vec<_> = frames
        .iter()
        .filter(|(_, t)| *t > held_at + 0.5 && *t < resuming_at)
        .collect();
    assert!(during.is_empty(), "decoded while held: {during:?}");
    // Media after, and nothing lost that was sent while allowed: aiortc decoded two runs
    // without a gap, the one before the hold (its last frames may come out of aiortc's
    // jitter buffer only when media resumes) and a full one after, with the frames the
    // echo returned while held (dropped by the forwarder) between them.
    let numbers: Vec<i64> = frames.iter().map(|f| f.0).collect();
    let breaks: Vec<usize> = (1..numbers.len())
        .filter(|&i| numbers[i] != numbers[i - 1] + 1)
        .collect();
    assert_eq!(breaks.len(), 1, "one gap, the hold's: {numbers:?}");
    let resumed_at = breaks[0];
    assert!(
        numbers[resumed_at] > numbers[resumed_at - 1] + 25,
        "{numbers:?}"
    );
    assert_eq!(numbers[0], 0, "{numbers:?}");
    assert!(
        (numbers.len() - resumed_at) as u64 >= FRAMES,
        "{} frames after resume",
        numbers.len() - resumed_at
    );
    // The browser sent throughout (sendonly is still sending): the enterprise side got
    // every frame, in order.
    let sent = echo_frames(&report["echo"]);
    assert_eq!(sent.first(), Some(&0), "{sent:?}");
    assert_contiguous("at the enterprise side", &sent);
    assert_eq!(report["delete_status"], 204);
    assert_ranges_free(&edge);
}

#[test]
fn transfer_to_a_new_echo_with_a_new_ssrc_sequence_and_key() {
    let edge = MediaEdge::start(42);
    let report = run(&edge, "transfer");
    assert_eq!(report["move"]["status"], 200, "{}", report["move"]);
    let first = &report["echo"];
    let second = &report["second_echo"];
    assert_ne!(first["address"], second["address"]);
    // The new echo got the browser's media (under its own key: decrypted without failure).
    let moved = echo_frames(second);
    assert!(moved.len() as u64 >= FRAMES / 2, "{second}");
    assert_contiguous("at the second echo", &moved);
    assert_eq!(first["srtp_failures"], 0, "{first}");
    assert_eq!(second["srtp_failures"], 0, "{second}");
    // The browser kept decoding: from the move on, no run of missing frames longer than
    // 100 ms (5 frames of 20 ms), and a full phase decoded after it.
    let frames = decoded(&report);
    let (moving_index, _) = mark(&report, "moving");
    let after: Vec<i64> = frames[moving_index..]
        .iter()
        .map(|f| f.0)
        .filter(|k| *k >= 0)
        .collect();
    assert!(
        after.len() as u64 >= FRAMES,
        "{} frames after the move",
        after.len()
    );
    for pair in after.windows(2) {
        assert!(
            pair[1] > pair[0] && pair[1] - pair[0] <= 5,
            "a gap over 100 ms across the move: {after:?}"
        );
    }
    // Zero SRTP authentication failures at media-edge, both ways.
    let counters = &report["session"]["counters"];
    for direction in ["browser_to_enterprise", "enterprise_to_browser"] {
        assert_eq!(
            counters[direction]["drops"]["auth_failed"], 0,
            "{direction}: {counters}"
        );
    }
    assert_eq!(report["delete_status"], 204);
    assert_ranges_free(&edge);
}

#[test]
fn payload_types_mapped_byte_for_byte() {
    let edge = MediaEdge::start(43);
    let report = run(&edge, "ptmap");
    // Each side was written its own numbering.
    let enterprise_sdp = report["enterprise_sdp"].as_str().unwrap_or_default();
    assert!(
        enterprise_sdp.contains("RTP/AVP 96\r\n"),
        "{enterprise_sdp}"
    );
    assert!(
        enterprise_sdp.contains("a=rtpmap:96 PCMU/8000"),
        "{enterprise_sdp}"
    );
    let answer = report["answer"].as_str().unwrap_or_default();
    assert!(answer.contains("UDP/TLS/RTP/SAVPF 0\r\n"), "{answer}");
    // The echo got aiortc's PCMU under 96 only, every payload byte for byte (a frame number
    // is read only from exactly that frame's bytes), in order.
    let echo = &report["echo"];
    assert_eq!(echo["payload_types"], json!([96]), "{echo}");
    let frames = echo_frames(echo);
    assert!(frames.len() as u64 >= FRAMES, "{echo}");
    assert_eq!(frames.first(), Some(&0));
    assert_contiguous("at the enterprise side", &frames);
    // And back: the echo's 96 reached aiortc as 0, decoded frame for frame.
    let back: Vec<i64> = decoded(&report).iter().map(|f| f.0).collect();
    assert!(back.len() as u64 >= FRAMES, "{back:?}");
    assert_eq!(back.first(), Some(&0), "{back:?}");
    assert_contiguous("decoded by aiortc", &back);
    assert_eq!(report["delete_status"], 204);
    assert_ranges_free(&edge);
}
