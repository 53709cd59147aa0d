//! Headless Chromium with a fake camera and microphone through media-edge: audio and VP8
//! video in one BUNDLE (relay-only through media-edge's TURN server, as in
//! tests/call_chromium.rs), an RTP echo per m-line on the enterprise side, each on its own
//! port pair (`tests/python/chromium_video.py`). Chromium decodes the echoed video
//! (inbound-rtp framesDecoded rising); after the echo loses a run of video packets Chromium
//! asks for a key frame, and that PLI reaches the video echo, naming its stream. Then a call
//! that starts with audio alone, gets video added by a re-offer (decoded) and removed by
//! another (the video line at port 0, its enterprise ports freed, audio going on).

use edge_suite::media::{
    assert_ranges_free, port_free, run_python, MediaEdge, Turn, TOKEN, TURN_PASSWORD, TURN_USER,
};
use serde_json::{json, Value};

fn count(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {stats}"))
}

/// Runs `scenario` of chromium_video.py against a fresh media-edge and TURN server in
/// test slot `slot`; the report, and media-edge for the checks after.
fn run_chromium(slot: u16, scenario: &str) -> (Value, MediaEdge) {
    let turn = Turn::start(slot);
    let edge = MediaEdge::start_with(slot, |api| api.demo = true);
    let report = run_python(
        "chromium_video.py",
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

/// The port of m-line `index` (0-based) of `sdp`.
fn port(sdp: &Value, index: usize) -> Option<u16> {
    sdp.as_str()?
        .split("\r\nm=")
        .nth(index + 1)?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn chromium_audio_and_video_through_one_bundle() {
    let (report, edge) = run_chromium(13, "bundle");
    let page = &report["page"];
    assert!(page.get("error").is_none(), "{page}");
    assert_eq!(page["create"], 201, "{page}");
    assert_eq!(page["connected"], true, "{page}");
    let answer = page["answer"].as_str().unwrap_or_default();
    assert!(answer.contains("\r\nm=video "), "{answer}");
    assert!(!answer.contains("\r\nm=video 0 "), "{answer}");

    // Video decoded, and still being decoded a few seconds later.
    let (first, second) = (&page["first"], &page["second"]);
    assert_eq!(first["codec"], "video/VP8", "{page}");
    let decoded = count(first, "frames_decoded");
    assert!(decoded >= 30, "{page}");
    assert!(count(second, "frames_decoded") > decoded, "{page}");
    assert!(count(second, "audio_packets") > 0, "{page}");

    // Each echo got its own m-line's media in the enterprise numbering.
    let (audio, video) = (&report["echo"]["audio"], &report["echo"]["video"]);
    assert_eq!(audio["payload_types"], json!([96]), "{audio}");
    assert_eq!(video["payload_types"], json!([100]), "{video}");
    // Chromium's key-frame request reached the video leg, naming the video echo's stream.
    assert!(count(second, "pli") >= 1, "{page}");
    let ssrc = video["ssrc"].as_u64();
    let plis = video["rtcp"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| p[0] == 206 && p[1] == 1 && p[2].as_u64() == ssrc)
                .count()
        })
        .unwrap_or(0);
    assert!(plis >= 1, "no PLI at the video echo: {video}");
    // The echo passed the request back about the stream it echoes, and media-edge carried
    // it to Chromium's sender (its outbound-rtp counts the PLIs it received).
    assert!(video["plis_sent"].as_u64() >= Some(1), "{video}");
    assert!(count(second, "sender_pli") >= 1, "{page}");
    let to_audio = audio["rtcp"]
        .as_array()
        .map(|a| a.iter().filter(|p| p[0] == 206 || p[0] == 205).count())
        .unwrap_or(0);
    assert_eq!(to_audio, 0, "video feedback at the audio echo: {audio}");
    assert_eq!(page["delete"], 204, "{page}");
    assert_ranges_free(&edge);
}

#[test]
fn chromium_adds_then_removes_video_by_reoffers() {
    let (report, edge) = run_chromium(6, "reoffer");
    let page = &report["page"];
    assert!(page.get("error").is_none(), "{page}");
    assert_eq!(page["connected"], true, "{page}");
    // Audio alone: the echo's video line declined, no video ports.
    assert_eq!(port(&page["enterprise_sdp"], 1), Some(0), "{page}");
    assert!(
        page["audio_only_session"].get("media-lines").is_none(),
        "{page}"
    );
    // Video added: answered, its own enterprise port, decoded.
    let added = &page["added"];
    assert_eq!(added["status"], 200, "{page}");
    assert_ne!(port(&added["answer"], 1), Some(0), "{page}");
    let video_port = port(&added["enterprise_sdp"], 1).unwrap_or(0);
    assert!(edge.enterprise.contains(video_port), "{page}");
    let line = &page["added_session"]["media-lines"][1];
    let video_rtp: std::net::SocketAddr = line["enterprise_rtp"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no video line: {page}"));
    assert_eq!(video_rtp.port(), video_port, "{page}");
    assert!(count(&page["first"], "frames_decoded") >= 30, "{page}");
    assert_eq!(report["echo"]["video"]["payload_types"], json!([100]));
    // Video removed: port 0 both ways, its ports free, audio going on.
    let removed = &page["removed"];
    assert_eq!(removed["status"], 200, "{page}");
    assert_eq!(port(&removed["answer"], 1), Some(0), "{page}");
    assert_eq!(port(&removed["enterprise_sdp"], 1), Some(0), "{page}");
    assert!(page["session"].get("media-lines").is_none(), "{page}");
    assert!(port_free(video_rtp), "{page}");
    assert!(
        count(&page["third"], "audio_packets") > count(&page["second"], "audio_packets"),
        "{page}"
    );
    assert_eq!(page["delete"], 204, "{page}");
    assert_ranges_free(&edge);
}
