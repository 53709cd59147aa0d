//! Call quality against the peer's own figures: two aiortc calls at once through media-edge,
//! whose enterprise echo drops every 100th (1 %) and every 20th (5 %) packet it should echo,
//! sends every other echoed packet 10 ms late (jitter tending to 80 units at 8 kHz) and
//! sends RTCP reports of its own. Once aiortc has stopped sending and the last reports
//! are in, `GET /v1/sessions/{id}` and aiortc's `getStats` are read together and compared:
//!
//! - loss of the echoed stream: media-edge measures it on the enterprise leg and reads it
//!   from aiortc's receiver reports on the browser leg; both within 10 % of aiortc's
//!   inbound-rtp `packetsLost`, the loss ratio within 10 % of aiortc's
//!   `packetsLost / (packetsLost + packetsReceived)` and within a quarter of the nominal
//!   1 % or 5 % (the call ends when the echo has handled `FRAMES` packets, give or take the
//!   few in flight);
//! - jitter of the echoed stream (8 kHz units): media-edge's enterprise-leg figure against
//!   aiortc's inbound-rtp `jitter`, within 10 % or 2 ms (16 units), whichever is larger
//!   (jitter is a smoothed mean of the last ~16 transit differences, and each end's clock
//!   reading adds its own millisecond or two of scheduling noise on a busy machine); the
//!   browser leg's reported jitter is aiortc's own RR figure, within the same bound;
//! - round trip, read while media still flows: media-edge's browser-leg RTT plus its
//!   enterprise-leg RTT (the two hops of the path) against aiortc's remote-inbound-rtp
//!   `roundTripTime` (aiortc -> media-edge -> echo -> media-edge -> aiortc), within 10 % or
//!   25 ms (loopback round trips are a few ms of Python scheduling);
//! - the MOS follows the loss: the 5 % call scores lower than the 1 % call;
//! - each call's `call ended` log line carries its quality fields.

use edge_suite::media::MediaEdge;
use serde_json::{json, Value};

/// Packets each call's echo handles: 10 s of audio (5 and 25 dropped, the last drop at 500
/// followed by packets that reveal it).
const FRAMES: usize = 510;

fn f(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// `a` within 10 % of `b`, or within `abs` of it.
fn close(what: &str, a: f64, b: f64, abs: f64, call: &Value) {
    let tolerance = (0.1 * b.abs()).max(abs);
    assert!(
        (a - b).abs() <= tolerance,
        "{what}: media-edge {a}, aiortc {b} (tolerance {tolerance}): {call}"
    );
}

#[test]
fn quality_matches_what_aiortc_reports_under_injected_loss() {
    edge_log_capture::install();
    let edge = MediaEdge::start(16);
    let calls = edge.run_calls(
        None,
        FRAMES,
        json!([
            {"name": "one-percent", "drop_every": 100, "delay_ms": 10},
            {"name": "five-percent", "drop_every": 20, "delay_ms": 10},
        ]),
    );
    let mut mos = Vec::new();
    for (name, every) in [("one-percent", 100.0), ("five-percent", 20.0)] {
        let call = &calls[name];
        assert_eq!(call["create_status"], 201, "{call}");
        assert_eq!(call["get_status"], 200, "{call}");
        let echo = &call["echo"];
        assert!(echo["dropped"].as_u64() >= Some(4), "{echo}");
        assert!(echo["reports_sent"].as_u64() >= Some(4), "{echo}");
        let quality = &call["session"]["quality"];
        let (browser, enterprise) = (&quality["browser"], &quality["enterprise"]);
        let stats = &call["stats"];
        let inbound = &stats["inbound"];
        let remote = &stats["remote_inbound"];

        // Loss of the echoed stream.
        let lost = f(&inbound["packetsLost"], "aiortc packetsLost");
        assert!(lost >= 4.0, "{call}");
        let received = &enterprise["received"];
        close(
            "enterprise-leg received lost",
            f(&received["lost"], "lost"),
            lost,
            0.0,
            call,
        );
        let aiortc_received = f(&inbound["packetsReceived"], "aiortc packetsReceived");
        let loss = f(&received["loss"], "loss");
        close(
            "loss ratio",
            loss,
            lost / (lost + aiortc_received),
            0.0,
            call,
        );
        close(
            "loss ratio against the echo's",
            loss,
            1.0 / every,
            0.25 / every,
            call,
        );
        let reported = &browser["reported"];
        close(
            "browser-leg reported lost",
            f(&reported["lost"], "reported lost"),
            lost,
            0.0,
            call,
        );
        // Nothing is lost toward the echo, by either count.
        assert_eq!(browser["received"]["lost"], 0, "{call}");
        assert_eq!(remote["packetsLost"], 0, "{call}");

        // Jitter of the echoed stream, 8 kHz units.
        let jitter = f(&inbound["jitter"], "aiortc jitter");
        assert!(
            jitter >= 40.0,
            "the injected jitter shows at aiortc: {call}"
        );
        close(
            "enterprise-leg received jitter",
            f(&received["jitter"], "jitter"),
            jitter,
            16.0,
            call,
        );
        close(
            "browser-leg reported jitter",
            f(&reported["jitter"], "reported jitter"),
            jitter,
            16.0,
            call,
        );
        assert_eq!(received["clock_rate"], 8000, "{call}");

        // Round trip, milliseconds, read while media flowed: both hops together against
        // aiortc's end to end.
        let live = &call["session_live"]["quality"];
        let remote_live = &call["stats_live"]["remote_inbound"];
        let rtt = f(&remote_live["roundTripTime"], "aiortc roundTripTime") * 1000.0;
        let hops = f(&live["browser"]["rtt_ms"], "browser rtt_ms")
            + f(&live["enterprise"]["rtt_ms"], "enterprise rtt_ms");
        close("RTT of both hops", hops, rtt, 25.0, call);

        eprintln!(
            "{name}: lost {} / {} / aiortc {lost}; jitter {} / {} / aiortc {jitter}; RTT \
             {hops:.3} ms ({} + {}) / aiortc {rtt:.3} ms; MOS {} {}",
            received["lost"],
            reported["lost"],
            received["jitter"],
            reported["jitter"],
            live["browser"]["rtt_ms"],
            live["enterprise"]["rtt_ms"],
            browser["mos"],
            enterprise["mos"],
        );
        let leg_mos = f(&enterprise["mos"], "enterprise mos");
        assert!((1.0..=4.5).contains(&leg_mos), "{call}");
        mos.push(leg_mos);
    }
    assert!(mos[1] < mos[0], "5 % loss scores below 1 %: {mos:?}");

    // The calls were deleted: each left its record, with the quality of both legs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ended = loop {
        let log = edge_log_capture::process_log();
        let ended: Vec<String> = log
            .lines()
            .filter(|l| l.contains("call ended"))
            .map(str::to_owned)
            .collect();
        if ended.len() >= 2 || std::time::Instant::now() > deadline {
            break ended;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(ended.len(), 2, "{ended:?}");
    for line in &ended {
        for leg in ["browser", "enterprise"] {
            for field in ["loss", "jitter_ms", "rtt_ms", "mos"] {
                assert!(
                    line.contains(&format!(" {leg}_{field}=")),
                    "{field}: {line}"
                );
            }
        }
    }
    // One of them lost about 1 in 100 on its enterprise leg, the other 1 in 20 (the same
    // bound as above).
    let losses: Vec<f64> = ended
        .iter()
        .map(|l| {
            let value = l.split(" enterprise_loss=").nth(1).unwrap_or_default();
            let value = value.split(' ').next().unwrap_or_default();
            value
                .parse()
                .unwrap_or_else(|e| panic!("enterprise_loss ({e}): {l}"))
        })
        .collect();
    for want in [0.01, 0.05] {
        assert!(
            losses.iter().any(|l| (l - want).abs() <= 0.25 * want),
            "{want}: {ended:?}"
        );
    }
}
