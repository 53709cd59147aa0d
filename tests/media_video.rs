//! Video through media-edge (issue 15, item 4): aiortc offers audio and VP8 video in one
//! BUNDLE; media-edge answers both m-lines on its one public port and gives the enterprise
//! side one m-line per accepted line, each on its own port pair. An RTP echo per m-line
//! sends every packet back; aiortc decodes the echoed audio and video frames. The video
//! echo drops one packet: aiortc asks for it (NACK) and for a key frame (PLI), and both
//! reach the video leg's socket, naming the video echo's stream, while the audio echo gets
//! no video feedback.

use edge_suite::media::{run_python, MediaEdge, TOKEN};
use serde_json::{json, Value};

/// Decoded frames of each kind the call waits for.
const FRAMES: u64 = 60;

fn rtcp_of(echo: &Value) -> Vec<(u64, u64, Option<u64>)> {
    echo["rtcp"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p[0].as_u64().unwrap_or(0),
                        p[1].as_u64().unwrap_or(0),
                        p[2].as_u64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn aiortc_audio_and_vp8_video_in_one_bundle() {
    let edge = MediaEdge::start(12);
    let plan = json!({
        "api": format!("http://{}", edge.api),
        "token": TOKEN,
        "frames": FRAMES,
        "drop_video": 40,
    });
    let report = run_python("video_peer.py", &plan);
    assert_eq!(report["create_status"], 201, "{report}");
    let answer = report["create"]["answer"].as_str().unwrap_or_default();
    assert!(answer.contains("a=group:BUNDLE 0 1\r\n"), "{answer}");
    assert!(answer.contains(" VP8/90000\r\n"), "{answer}");
    let received = &report["received"];
    assert!(received["video"].as_u64() >= Some(FRAMES), "{report}");
    assert!(received["audio"].as_u64() >= Some(FRAMES), "{report}");
    let (audio, video) = (&report["echo"]["audio"], &report["echo"]["video"]);
    // Each echo got its own m-line's media, in the enterprise side's payload types, from
    // its own enterprise port of media-edge.
    assert_eq!(audio["payload_types"], json!([0]), "{report}");
    assert_eq!(video["payload_types"], json!([100]), "{report}");
    let (a_src, v_src) = (&audio["sources"][0], &video["sources"][0]);
    assert_eq!(
        audio["sources"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(
        video["sources"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_ne!(a_src, v_src, "{report}");
    for src in [a_src, v_src] {
        let port: u16 = src
            .as_str()
            .and_then(|s| s.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        assert!(edge.enterprise.contains(port), "{src} {report}");
    }
    // Feedback from aiortc about the echoed video reached the video leg, naming the video
    // echo's SSRC; none of it went to the audio leg.
    let video_ssrc = video["ssrc"].as_u64();
    let fb = rtcp_of(video);
    assert!(
        fb.iter()
            .any(|&(pt, fmt, media)| pt == 206 && fmt == 1 && media == video_ssrc),
        "no PLI on the video leg: {report}"
    );
    assert!(
        fb.iter()
            .any(|&(pt, fmt, media)| pt == 205 && fmt == 1 && media == video_ssrc),
        "no NACK on the video leg: {report}"
    );
    assert!(
        !rtcp_of(audio)
            .iter()
            .any(|&(pt, ..)| pt == 205 || pt == 206),
        "video feedback on the audio leg: {report}"
    );
    // Per-m-line counters in the session.
    let lines = &report["session"]["media-lines"];
    assert_eq!(lines[1]["kind"], "video", "{report}");
    let video_in = lines[1]["browser_to_enterprise"]["rtp_packets"].as_u64();
    let audio_in = lines[0]["browser_to_enterprise"]["rtp_packets"].as_u64();
    assert!(
        video_in > Some(FRAMES) && audio_in >= Some(FRAMES),
        "{report}"
    );
    let drops = &report["session"]["counters"]["browser_to_enterprise"]["drops"];
    assert_eq!(drops["unknown_ssrc"], 0, "{report}");
    assert_eq!(report["delete_status"], 204, "{report}");
}
