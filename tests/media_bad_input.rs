//! Bad input during calls, each dropped or refused, counted, and without effect on other
//! sessions: a browser whose DTLS certificate does not match the fingerprint its offer
//! carried (the session fails, nothing is forwarded), and, during a good call in strict
//! mode, random datagrams to its public port and RTP from an unexpected source to its
//! enterprise port.

use edge_suite::media::{assert_call_ok, assert_ranges_free, MediaEdge};
use serde_json::json;

const FRAMES: usize = 150;
const GARBAGE: u64 = 50;

#[test]
fn forged_fingerprint_fails_alone_and_garbage_is_counted() {
    let edge = MediaEdge::start(3);
    let calls = edge.run_calls(
        None,
        FRAMES,
        json!([
            {"name": "forged", "tamper_fingerprint": true},
            {"name": "good", "strict_source": true, "garbage": GARBAGE},
        ]),
    );

    let forged = &calls["forged"];
    assert_eq!(forged["create_status"], 201, "{forged}");
    let session = &forged["session"];
    assert_eq!(session["state"], "ended", "{forged}");
    assert_eq!(session["reason"]["kind"], "dtls-failed", "{forged}");
    assert_ne!(forged["connection_state"], "connected", "{forged}");
    assert_eq!(
        forged["echo"]["frames"],
        json!([]),
        "nothing forwarded: {forged}"
    );
    assert_eq!(
        session["counters"]["browser_to_enterprise"]["rtp_packets"],
        0
    );
    assert_eq!(forged["delete_status"], 204, "{forged}");

    let good = &calls["good"];
    assert_call_ok(&edge, good, FRAMES);
    assert_eq!(good["garbage"]["count"], GARBAGE, "{good}");
    let counters = &good["session"]["counters"];
    let drops =
        |direction: &str, reason: &str| counters[direction]["drops"][reason].as_u64().unwrap_or(0);
    assert_eq!(
        drops("enterprise_to_browser", "unexpected_source"),
        GARBAGE,
        "RTP from a stranger under strict-source: {counters}"
    );
    assert_eq!(
        drops("browser_to_enterprise", "malformed")
            + drops("browser_to_enterprise", "unexpected_source"),
        GARBAGE,
        "random datagrams to the public port: {counters}"
    );
    assert_ranges_free(&edge);
}
