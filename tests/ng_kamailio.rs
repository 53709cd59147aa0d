//! The real SIP topology end to end, with media-edge as the SIP proxy's media proxy: Kamailio
//! 5.6 (`tests/kamailio/kamailio.cfg`: WebSocket, nathelper, and the `rtpengine` module's
//! `rtpengine_manage()` pointed at media-edge's ng listener), JsSIP (npm `jssip`) in headless
//! Chromium registering over WebSocket, and SIPp (Debian `sip-tester`) as the enterprise user
//! agent with `-rtp_echo`. The browser hears its own audio back through media-edge (Chromium's
//! inbound-rtp packets and audio energy rise), SIPp completes its call, the BYE ends the
//! media-edge session and its ports are free. Once with the browser calling SIPp, once with
//! SIPp calling the browser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use edge_ng::metrics::Outcome;
use edge_ng::request::Command as NgCommand;
use edge_suite::chromium::{read_request, Chromium};
use edge_suite::media::{assert_ranges_free, MediaEdge};
use edge_suite::sip::{kamailio, sipp, Ports};
use edge_suite::turn::ScratchDir;
use serde_json::Value;

/// Seconds of media the page measures.
const SECONDS: u32 = 4;
/// The hang guard of a whole call.
const PATIENCE: Duration = Duration::from_secs(120);

/// The JsSIP bundle `scripts/test.sh` builds (npm `jssip`, bundled with esbuild).
fn jssip_bundle() -> PathBuf {
    let dir = std::env::var_os("MEDIA_EDGE_NODE")
        .map_or_else(|| PathBuf::from("/var/tmp/media-edge-node"), PathBuf::from);
    let bundle = dir.join("jssip.bundle.js");
    assert!(
        bundle.is_file(),
        "{} is missing: run the suite through scripts/test.sh, which builds it",
        bundle.display()
    );
    bundle
}

/// Serves the page and the JsSIP bundle; the page's reports arrive on the channel.
fn site() -> (SocketAddr, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let page = include_str!("kamailio/jssip_page.html");
    let bundle = std::fs::read_to_string(jssip_bundle()).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Some((method, path, body)) = read_request(&stream) else {
                continue;
            };
            let (status, kind, reply) = match (method.as_str(), path.split('?').next()) {
                ("GET", Some("/")) => (200, "text/html", page),
                ("GET", Some("/jssip.js")) => (200, "text/javascript", bundle.as_str()),
                ("POST", Some("/report")) => {
                    let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
                    (204, "text/plain", "")
                }
                _ => (404, "text/plain", ""),
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (addr, rx)
}

/// The page's reports until the call ended or failed.
fn reports(rx: &mpsc::Receiver<Value>, dir: &std::path::Path) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    let mut all = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(report) = rx.recv_timeout(left) else {
            let log = std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "the call did not end: {all:?}\nkamailio:\n{}",
                tail.join("\n")
            );
        };
        let end = matches!(report["event"].as_str(), Some("ended" | "failed"));
        all.push(report);
        if end {
            return all;
        }
    }
}

/// Asserts the browser's audio came back through media-edge and the call ended cleanly.
fn assert_echoed(reports: &[Value], ended_by: &str) {
    let events: Vec<&str> = reports.iter().filter_map(|r| r["event"].as_str()).collect();
    assert!(events.starts_with(&["registered"]), "{reports:?}");
    assert!(events.contains(&"confirmed"), "{reports:?}");
    let media = reports
        .iter()
        .find(|r| r["event"] == "media")
        .unwrap_or_else(|| panic!("no media report: {reports:?}"));
    let samples = media["samples"].as_array().unwrap();
    let (first, last) = (&samples[0], &samples[samples.len() - 1]);
    let inbound = |s: &Value| s["inbound_packets"].as_u64().unwrap_or(0);
    let energy = |s: &Value| s["inbound_energy"].as_f64().unwrap_or(0.0);
    // 50 packets a second for most of the measured seconds, rising all along.
    assert!(inbound(last) >= 50 * u64::from(SECONDS) / 2, "{media}");
    assert!(inbound(last) > inbound(first), "{media}");
    assert!(energy(last) > energy(first), "audio energy rising: {media}");
    assert!(last["outbound_packets"].as_u64() >= Some(50), "{media}");
    let end = reports.last().unwrap();
    assert_eq!(end["event"], "ended", "{reports:?}");
    assert_eq!(end["originator"], ended_by, "{reports:?}");
}

/// The ng side: offer, answer and delete went through, and the session and ports are gone.
fn assert_session_gone(edge: &MediaEdge) {
    let metrics = edge.ng_engine.metrics();
    for command in [NgCommand::Offer, NgCommand::Answer, NgCommand::Delete] {
        assert!(
            metrics.requests(Some(command), Outcome::Ok) >= 1,
            "{command:?}: ok {}, error {}",
            metrics.requests(Some(command), Outcome::Ok),
            metrics.requests(Some(command), Outcome::Error)
        );
    }
    // What SIPp echoed, as media-edge forwarded it to the browser (the session is gone: the
    // forwarder's totals keep its counters).
    let echoed = edge
        .relay()
        .totals()
        .counters
        .enterprise_to_browser
        .rtp_packets;
    assert!(
        echoed >= 50 * u64::from(SECONDS) / 2,
        "SIPp echoed {echoed} packets"
    );
    let deadline = Instant::now() + PATIENCE;
    while edge.ng_engine.calls() != 0 || !edge.relay().sessions().is_empty() {
        assert!(Instant::now() < deadline, "the BYE did not end the session");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ranges_free(edge);
}

fn page_url(site: SocketAddr, mode: &str, ports: &Ports) -> String {
    format!(
        "http://{site}/?mode={mode}&seconds={SECONDS}&ws=ws://127.0.0.1:{}",
        ports.ws
    )
}

const FAKE_MEDIA: [&str; 2] = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
];

#[test]
fn jssip_in_chromium_calls_sipp_through_kamailio_and_media_edge() {
    let edge = MediaEdge::start(21);
    let ports = Ports::block(23_600);
    let dir = ScratchDir::new("kamailio-call");
    let _kamailio = kamailio(&ports, &format!("udp:{}", edge.ng), &dir);
    let mut sipp = sipp(&ports, &dir, &["-sn", "uas", "-m", "1"]);
    let (site, rx) = site();
    let _browser = Chromium::open(&page_url(site, "call", &ports), &FAKE_MEDIA);
    let reports = reports(&rx, &dir);
    assert_echoed(&reports, "local");
    assert!(sipp.wait(PATIENCE).success(), "SIPp's call failed");
    assert_session_gone(&edge);
}

#[test]
fn sipp_calls_jssip_in_chromium_through_kamailio_and_media_edge() {
    let edge = MediaEdge::start(22);
    let ports = Ports::block(23_650);
    let dir = ScratchDir::new("kamailio-answer");
    let _kamailio = kamailio(&ports, &format!("udp:{}", edge.ng), &dir);
    let (site, rx) = site();
    let _browser = Chromium::open(&page_url(site, "answer", &ports), &FAKE_MEDIA);
    // SIPp calls once the browser is registered, and hangs up after the measured seconds.
    let registered = rx.recv_timeout(PATIENCE).expect("the browser registers");
    assert_eq!(registered["event"], "registered", "{registered}");
    let hold = format!("{}", (SECONDS + 4) * 1000);
    let kamailio_uri = format!("127.0.0.1:{}", ports.sip);
    let mut sipp = sipp(
        &ports,
        &dir,
        &[
            "-sn",
            "uac",
            "-s",
            "browser",
            "-m",
            "1",
            "-d",
            &hold,
            &kamailio_uri,
        ],
    );
    let mut all = vec![registered];
    all.extend(reports(&rx, &dir));
    assert_echoed(&all, "remote");
    assert!(sipp.wait(PATIENCE).success(), "SIPp's call failed");
    assert_session_gone(&edge);
}
