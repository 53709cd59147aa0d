//! media-edge's ng protocol against rtpengine's own tools: `rtpengine-ng-client` (Debian's
//! rtpengine-utils) drives ping, offer, answer, query, list and delete for a WebRTC offer
//! and for a plain RTP offer; then the same offers and answers go to Debian's
//! rtpengine-daemon and to media-edge, and the SDP lines a SIP endpoint and a browser read
//! are compared: which agree, and which differ and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;

use edge_loadgen::rtpengine::NgClient;
use edge_ng::Value;
use edge_suite::media::{assert_ranges_free, media_port, ApiClient, MediaEdge, AIORTC_OFFER};
use edge_suite::require_program;
use edge_suite::rtpengine::Rtpengine;

/// A plain RTP endpoint's SDP (a PBX or SIP phone): PCMU, PCMA, telephone-event.
fn rtp_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=pbx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
    )
}

/// aiortc's answer to an offer: its offer with `a=setup:active`.
fn browser_answer() -> String {
    AIORTC_OFFER.replace("a=setup:actpass", "a=setup:active")
}

/// Runs `rtpengine-ng-client` against `ng`; returns its output, failing on an ng error.
fn ng_client(ng: SocketAddr, args: &[&str]) -> String {
    let out = Command::new(require_program("rtpengine-ng-client"))
        .arg(format!("--proxy-address={}", ng.ip()))
        .arg(format!("--proxy-port={}", ng.port()))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "rtpengine-ng-client {args:?}: {text}");
    text
}

/// The "New SDP" rtpengine-ng-client printed.
fn new_sdp(output: &str) -> String {
    let after = output.split("New SDP:").nth(1).expect("New SDP");
    after
        .lines()
        .skip_while(|l| !l.starts_with("-----8<"))
        .skip(1)
        .take_while(|l| !l.starts_with("----->8"))
        .map(|l| format!("{l}\r\n"))
        .collect()
}

#[test]
fn rtpengine_ng_client_drives_media_edge() {
    let edge = MediaEdge::start(16);
    let ng = edge.ng;
    assert!(ng_client(ng, &["ping"]).contains("result => 'pong'"));

    // A WebRTC offer from the browser: media-edge offers plain RTP to the SIP side.
    let offer = ng_client(
        ng,
        &[
            "offer",
            "--call-id=webrtc-1",
            "--from-tag=browser",
            "--protocol=RTP/AVP",
            "--ICE=remove",
            "--replace-origin",
            "--replace-session-connection",
            "--trust-address",
            &format!("--sdp={AIORTC_OFFER}"),
        ],
    );
    let to_pbx = new_sdp(&offer);
    assert!(to_pbx.contains(" RTP/AVP "), "{to_pbx}");
    assert!(edge.enterprise.contains(media_port(&to_pbx)), "{to_pbx}");
    assert!(!to_pbx.contains("a=ice-ufrag"), "{to_pbx}");
    let answer = ng_client(
        ng,
        &[
            "answer",
            "--call-id=webrtc-1",
            "--from-tag=browser",
            "--to-tag=pbx",
            "--ICE=force",
            "--DTLS=passive",
            &format!("--sdp={}", rtp_sdp(30_000)),
        ],
    );
    let to_browser = new_sdp(&answer);
    assert!(to_browser.contains(" UDP/TLS/RTP/SAVPF "), "{to_browser}");
    assert!(to_browser.contains("a=setup:passive"), "{to_browser}");
    assert!(
        edge.public.contains(media_port(&to_browser)),
        "{to_browser}"
    );

    // A plain RTP offer from the SIP side: media-edge offers WebRTC to the browser.
    let offer = ng_client(
        ng,
        &[
            "offer",
            "--call-id=rtp-1",
            "--from-tag=pbx",
            "--protocol=UDP/TLS/RTP/SAVPF",
            "--ICE=force",
            "--DTLS=passive",
            "--rtcp-mux=offer",
            "--rtcp-mux=require",
            "--SDES=off",
            &format!("--sdp={}", rtp_sdp(30_002)),
        ],
    );
    let to_browser = new_sdp(&offer);
    for line in [
        "a=ice-ufrag:",
        "a=fingerprint:sha-256 ",
        "a=setup:actpass",
        "a=rtcp-mux",
    ] {
        assert!(to_browser.contains(line), "{line}: {to_browser}");
    }
    let answer = ng_client(
        ng,
        &[
            "answer",
            "--call-id=rtp-1",
            "--from-tag=pbx",
            "--to-tag=browser",
            "--protocol=RTP/AVP",
            &format!("--sdp={}", browser_answer()),
        ],
    );
    let to_pbx = new_sdp(&answer);
    assert!(to_pbx.contains(" RTP/AVP "), "{to_pbx}");

    let query = ng_client(ng, &["query", "--call-id=rtp-1"]);
    for key in [
        "totals =>",
        "RTP =>",
        "tags =>",
        "pbx =>",
        "browser =>",
        "'local port' =>",
    ] {
        assert!(query.contains(key), "{key}: {query}");
    }
    let list = ng_client(ng, &["list"]);
    assert!(
        list.contains("'rtp-1'") && list.contains("'webrtc-1'"),
        "{list}"
    );
    // Both APIs control the same sessions.
    let (status, sessions) = ApiClient::connect(edge.api).request("GET", "/v1/sessions", None);
    assert_eq!(status, 200);
    let sessions: serde_json::Value = serde_json::from_str(&sessions).unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(2), "{sessions}");

    for call in ["webrtc-1", "rtp-1"] {
        ng_client(
            ng,
            &["delete", &format!("--call-id={call}"), "--delete-delay=0"],
        );
    }
    let list = ng_client(ng, &["list"]);
    assert!(!list.contains("rtp-1"), "{list}");
    assert_ranges_free(&edge);
}

/// Why the SDPs toward the browser differ in `a=ice-lite`.
const ICE_LITE: (&str, &str) = (
    "ice-lite",
    "media-edge is ICE-lite (a=ice-lite, the browser controls); rtpengine runs full ICE",
);
/// Why they differ in `a=rtcp`.
const RTCP: (&str, &str) = (
    "rtcp",
    "rtpengine also writes a=rtcp naming the muxed port; media-edge writes a=rtcp-mux alone, \
     which is all a browser (rtcpMuxPolicy require) reads",
);
/// Why the SDPs toward the PBX differ in their address.
const ADDRESS: (&str, &str) = (
    "address",
    "each writes its own media address: media-edge its pinned enterprise transport-address \
     (127.0.0.3 here), rtpengine its one interface (127.0.0.1)",
);

/// What a SIP endpoint or a browser reads of an SDP's audio m-line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Read {
    proto: String,
    address: String,
    rtpmaps: BTreeSet<String>,
    direction: Option<String>,
    rtcp_mux: bool,
    rtcp_port: bool,
    ice: bool,
    ice_lite: bool,
    host_candidate: bool,
    fingerprint: bool,
    setup: Option<String>,
    crypto: bool,
}

fn read(sdp: &str) -> Read {
    let mut r = Read::default();
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=audio ") {
            r.proto = m.split(' ').nth(1).unwrap_or_default().to_owned();
        } else if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            r.address = c.to_owned();
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            r.rtpmaps.insert(map.to_owned());
        } else if ["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"].contains(&line) {
            r.direction = Some(line.to_owned());
        } else if line == "a=rtcp-mux" {
            r.rtcp_mux = true;
        } else if line.starts_with("a=rtcp:") {
            r.rtcp_port = true;
        } else if line.starts_with("a=ice-ufrag:") {
            r.ice = true;
        } else if line == "a=ice-lite" {
            r.ice_lite = true;
        } else if line.starts_with("a=candidate:") && line.contains(" 127.0.0.1 ") {
            r.host_candidate = line.contains(" typ host");
        } else if line.starts_with("a=fingerprint:sha-256 ") {
            r.fingerprint = true;
        } else if let Some(s) = line.strip_prefix("a=setup:") {
            r.setup = Some(s.to_owned());
        } else if line.starts_with("a=crypto:") {
            r.crypto = true;
        }
    }
    r
}

/// Asserts the two reads agree but for the fields `differ` names (each with the reason it
/// may), and that those do differ.
fn compare(what: &str, edge: &Read, rtpengine: &Read, differ: &[(&str, &str)]) {
    let fields = |r: &Read| {
        [
            ("proto", r.proto.clone()),
            ("address", r.address.clone()),
            ("rtpmaps", format!("{:?}", r.rtpmaps)),
            ("direction", format!("{:?}", r.direction)),
            ("rtcp-mux", r.rtcp_mux.to_string()),
            ("rtcp", r.rtcp_port.to_string()),
            ("ice", r.ice.to_string()),
            ("ice-lite", r.ice_lite.to_string()),
            ("host-candidate", r.host_candidate.to_string()),
            ("fingerprint", r.fingerprint.to_string()),
            ("setup", format!("{:?}", r.setup)),
            ("crypto", r.crypto.to_string()),
        ]
    };
    for ((name, ours), (_, theirs)) in fields(edge).into_iter().zip(fields(rtpengine)) {
        match differ.iter().find(|(field, _)| *field == name) {
            Some((_, why)) => {
                assert_ne!(
                    ours, theirs,
                    "{what}: {name} was expected to differ ({why})"
                );
                eprintln!("{what}: {name} differs: media-edge {ours}, rtpengine {theirs}: {why}");
            }
            None => assert_eq!(ours, theirs, "{what}: {name}\n{edge:?}\n{rtpengine:?}"),
        }
    }
}

fn sdp_of(reply: &Value) -> String {
    reply.get("sdp").and_then(Value::as_str).unwrap().to_owned()
}

/// One offer and answer through `ng`: the SDP for the callee and the SDP for the caller.
fn offer_answer(
    ng: SocketAddr,
    call: &str,
    offer: (&str, Vec<(&str, Value)>),
    answer: (&str, Vec<(&str, Value)>),
) -> (String, String) {
    let mut client = NgClient::new(ng, "127.0.0.1".parse().unwrap()).unwrap();
    let mut keys = vec![
        ("call-id", Value::str(call)),
        ("from-tag", Value::str("caller")),
        ("sdp", Value::str(offer.0)),
    ];
    keys.extend(offer.1);
    let to_callee = sdp_of(&client.command("offer", keys).unwrap());
    let mut keys = vec![
        ("call-id", Value::str(call)),
        ("from-tag", Value::str("caller")),
        ("to-tag", Value::str("callee")),
        ("sdp", Value::str(answer.0)),
    ];
    keys.extend(answer.1);
    let to_caller = sdp_of(&client.command("answer", keys).unwrap());
    client
        .command(
            "delete",
            vec![
                ("call-id", Value::str(call)),
                ("delete-delay", Value::Int(0)),
            ],
        )
        .unwrap();
    (to_callee, to_caller)
}

#[test]
fn media_edge_and_rtpengine_write_equivalent_sdp() {
    let edge = MediaEdge::start(17);
    let rtpengine = Rtpengine::start((23_400, 23_499));
    let webrtc_out = || {
        vec![
            ("transport-protocol", Value::str("UDP/TLS/RTP/SAVPF")),
            ("ICE", Value::str("force")),
            ("DTLS", Value::str("passive")),
            ("SDES", Value::strs(["off"])),
            ("rtcp-mux", Value::strs(["offer", "require"])),
        ]
    };
    let rtp_out = || {
        vec![
            ("transport-protocol", Value::str("RTP/AVP")),
            ("ICE", Value::str("remove")),
            ("rtcp-mux", Value::strs(["demux", "accept"])),
        ]
    };
    // The browser calls the PBX.
    let ours = offer_answer(
        edge.ng,
        "browser-calls",
        (AIORTC_OFFER, rtp_out()),
        (&rtp_sdp(30_010), webrtc_out()),
    );
    let theirs = offer_answer(
        rtpengine.ng,
        "browser-calls",
        (AIORTC_OFFER, rtp_out()),
        (&rtp_sdp(30_010), webrtc_out()),
    );
    compare(
        "offer to the PBX",
        &read(&ours.0),
        &read(&theirs.0),
        &[ADDRESS],
    );
    compare(
        "answer to the browser",
        &read(&ours.1),
        &read(&theirs.1),
        &[ICE_LITE, RTCP],
    );
    // The PBX calls the browser.
    let ours = offer_answer(
        edge.ng,
        "pbx-calls",
        (&rtp_sdp(30_020), webrtc_out()),
        (&browser_answer(), rtp_out()),
    );
    let theirs = offer_answer(
        rtpengine.ng,
        "pbx-calls",
        (&rtp_sdp(30_020), webrtc_out()),
        (&browser_answer(), rtp_out()),
    );
    compare(
        "offer to the browser",
        &read(&ours.0),
        &read(&theirs.0),
        &[ICE_LITE, RTCP],
    );
    compare(
        "answer to the PBX",
        &read(&ours.1),
        &read(&theirs.1),
        &[ADDRESS],
    );
    assert_ranges_free(&edge);
}
