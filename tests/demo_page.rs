//! The test-call page (`GET /demo`) in headless Chromium: it fetches TURN REST credentials
//! from the API, calls an RTP echo through media-edge relay-only through media-edge's own
//! TURN server, and draws the session's rising packet counts; the test reads the page's DOM
//! through the DevTools protocol and checks the chart's pixels in a screenshot
//! (`tests/python/demo_page.py`).

use edge_suite::media::{
    assert_ranges_free, run_python, ApiClient, MediaEdge, Turn, TOKEN, TURN_SECRET,
};
use serde_json::{json, Value};

/// Chart samples (one per half second) before the screenshot.
const SAMPLES: u64 = 10;

#[test]
fn the_demo_page_completes_a_relayed_call_and_charts_it() {
    let turn = Turn::start(40);
    let uri = format!("turn:{}?transport=udp", turn.listener);
    let edge = MediaEdge::start_with(40, |api| {
        api.demo = true;
        api.turn = Some(edge_control::TurnRest::new(TURN_SECRET, vec![uri]));
    });
    let screenshot =
        std::env::temp_dir().join(format!("media-edge-demo-{}.png", std::process::id()));
    let report = run_python(
        "demo_page.py",
        &json!({
            "api": format!("http://{}", edge.api),
            "token": TOKEN,
            "mode": "relay",
            "chromium": edge_suite::require_program("chromium"),
            "screenshot": screenshot,
            "samples": SAMPLES,
        }),
    );
    eprintln!("demo page: {report}");
    let readings: Vec<&Value> = report["readings"]
        .as_array()
        .expect("readings")
        .iter()
        .filter(|r| !r.is_null())
        .collect();
    let last = readings.last().expect("a reading");
    assert_eq!(last["state"], "connected", "{last}");
    assert!(last["samples"].as_u64() >= Some(SAMPLES), "{last}");
    // The packet counts the page shows rise from reading to reading, on both legs.
    let counts = |key: &str| -> Vec<u64> {
        readings
            .iter()
            .filter_map(|r| r[key].as_str()?.parse().ok())
            .collect()
    };
    for key in ["packets_browser", "packets_enterprise"] {
        let seen = counts(key);
        // The script reads the DOM on its own half-second clock, not the page's: a reading
        // may fall between two polls of the page, so fewer readings than samples.
        assert!(seen.len() >= SAMPLES as usize / 2, "{key}: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{key}: {seen:?}");
        let (first, last) = (seen[0], seen[seen.len() - 1]);
        // ~50 packets a second over the samples' ~5 s.
        assert!(last >= first + 100, "{key} rose too little: {seen:?}");
    }
    // The screenshot: both legs' lines drawn in the packets panel, and the colour is the
    // chart's (none of it above the chart).
    let shot = &report["screenshot"];
    assert!(shot["blue_in_packets_panel"].as_u64() >= Some(50), "{shot}");
    assert!(
        shot["orange_in_packets_panel"].as_u64() >= Some(50),
        "{shot}"
    );
    assert_eq!(shot["blue_outside_chart"], 0, "{shot}");
    assert!(std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0) > 1000);
    eprintln!("screenshot: {}", screenshot.display());
    // The echo got Chromium's audio through the relay, and the TURN server relayed it
    // with REST credentials.
    assert!(
        report["echo"]["frames"].as_u64() >= Some(100),
        "{}",
        report["echo"]
    );
    let relayed = turn.snapshot();
    assert!(relayed.to_peers >= 100, "{relayed:?}");
    assert_eq!(relayed.auth_failures, 0, "{relayed:?}");
    // Hang-up deleted the session.
    assert_eq!(report["after_hangup"], "ended", "{report}");
    let (status, list) = ApiClient::connect(edge.api).request("GET", "/v1/sessions", None);
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&list).expect("JSON");
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .all(|s| s["state"] == "ended"),
        "{list}"
    );
    assert_ranges_free(&edge);
    let _ = std::fs::remove_file(&screenshot);
}
