//! Headless Chromium with a fake camera and microphone through media-edge: audio and VP8
//! video in one BUNDLE (relay-only through media-edge's TURN server, as in
//! tests/call_chromium.rs), an RTP echo per m-line on the enterprise side, each on its own
//! port pair (`tests/python/chromium_video.py`). Chromium decodes the echoed video
//! (inbound-rtp framesDecoded rising); after the echo loses a run of video packets Chromium
//! asks for a key frame, and that PLI reaches the video echo, naming its stream.

use edge_suite::media::{
    assert_ranges_free, run_python, MediaEdge, Turn, TOKEN, TURN_PASSWORD, TURN_USER,
};
use serde_json::{json, Value};

fn count(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {stats}"))
}

#[test]
fn chromium_audio_and_video_through_one_bundle() {
    let slot = 13;
    let turn = Turn::start(slot);
    let edge = MediaEdge::start_with(slot, |api| api.demo = true);
    let report = run_python(
        "chromium_video.py",
        &json!({
            "api": format!("http://{}", edge.api),
            "token": TOKEN,
            "chromium": edge_suite::require_program("chromium"),
            "turn": {
                "urls": format!("turn:{}?transport=udp", turn.listener),
                "username": TURN_USER,
                "credential": TURN_PASSWORD,
            },
        }),
    );
    let page = &report["page"];
    eprintln!("chromium: {page}\necho: {}", report["echo"]);
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
    let to_audio = audio["rtcp"]
        .as_array()
        .map(|a| a.iter().filter(|p| p[0] == 206 || p[0] == 205).count())
        .unwrap_or(0);
    assert_eq!(to_audio, 0, "video feedback at the audio echo: {audio}");
    assert_eq!(page["delete"], 204, "{page}");
    assert_ranges_free(&edge);
}
