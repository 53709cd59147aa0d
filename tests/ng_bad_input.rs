//! Bad input to media-edge's ng protocol, over its UDP, TCP and HTTP listeners and straight
//! into the engine: malformed bencode, a truncated datagram, unknown commands and keys, a
//! delete for an unknown call, a cookie reused for another body, a 64 KiB dictionary, deep
//! nesting, no cookie, an oversized TCP message, and a bounded sweep of random, truncated
//! and mutated messages. Each gets an ng error or is dropped and counted; nothing panics,
//! and the listeners still answer `ping` afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use edge_ng::metrics::{DropReason, Outcome};
use edge_ng::{Handled, Value};
use edge_suite::media::{MediaEdge, AIORTC_OFFER};
use edge_suite::srtp::Rng;

/// How long any one reply may take on a busy machine (a hang guard, not a timing window).
const PATIENCE: Duration = Duration::from_secs(30);

/// Sends `message` over UDP and returns the reply's cookie and dictionary.
fn udp(ng: SocketAddr, message: &[u8]) -> (String, Value) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.send_to(message, ng).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = socket.recv_from(&mut buf).expect("an ng reply");
    split(&buf[..n])
}

fn split(reply: &[u8]) -> (String, Value) {
    let space = reply.iter().position(|&b| b == b' ').expect("cookie");
    let cookie = String::from_utf8(reply[..space].to_vec()).unwrap();
    (
        cookie,
        Value::decode(&reply[space + 1..]).expect("a bencoded reply"),
    )
}

fn message(cookie: &str, entries: Vec<(&str, Value)>) -> Vec<u8> {
    let mut out = format!("{cookie} ").into_bytes();
    Value::dict(entries).encode(&mut out);
    out
}

/// The error-reason of an error reply.
fn error_reason(reply: &Value) -> String {
    assert_eq!(
        reply.get("result").and_then(Value::as_str),
        Some("error"),
        "{reply:?}"
    );
    reply
        .get("error-reason")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

fn ping(ng: SocketAddr, cookie: &str) {
    let (got, reply) = udp(ng, &message(cookie, vec![("command", Value::str("ping"))]));
    assert_eq!(got, cookie);
    assert_eq!(reply.get("result").and_then(Value::as_str), Some("pong"));
}

/// Waits until `f` holds (the engine counts drops off the receiving thread).
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn offer(cookie: &str, call: &str) -> Vec<u8> {
    message(
        cookie,
        vec![
            ("command", Value::str("offer")),
            ("call-id", Value::str(call)),
            ("from-tag", Value::str("browser")),
            ("sdp", Value::str(AIORTC_OFFER)),
            ("transport-protocol", Value::str("RTP/AVP")),
        ],
    )
}

#[test]
fn bad_datagrams_get_ng_errors_or_are_dropped_and_counted() {
    let edge = MediaEdge::start(18);
    let ng = edge.ng;
    let metrics = edge.ng_engine.metrics();

    let (cookie, reply) = udp(ng, b"c1 d3:abc");
    assert_eq!(cookie, "c1");
    assert!(
        error_reason(&reply).contains("malformed bencode"),
        "{reply:?}"
    );

    let whole = offer("c2", "truncated");
    let (_, reply) = udp(ng, &whole[..whole.len() / 2]);
    assert!(
        error_reason(&reply).contains("malformed bencode"),
        "{reply:?}"
    );

    let (_, reply) = udp(
        ng,
        &message("c3", vec![("command", Value::str("frobnicate"))]),
    );
    assert!(error_reason(&reply).contains("frobnicate"), "{reply:?}");

    let unknown_key = message(
        "c4",
        vec![
            ("command", Value::str("ping")),
            ("record-call", Value::str("yes")),
        ],
    );
    let (_, reply) = udp(ng, &unknown_key);
    assert!(error_reason(&reply).contains("record-call"), "{reply:?}");

    let unknown_flag = message(
        "c5",
        vec![
            ("command", Value::str("offer")),
            ("flags", Value::strs(["SIP-source-address"])),
        ],
    );
    let (_, reply) = udp(ng, &unknown_flag);
    assert!(
        error_reason(&reply).contains("SIP-source-address"),
        "{reply:?}"
    );

    let delete = message(
        "c6",
        vec![
            ("command", Value::str("delete")),
            ("call-id", Value::str("nobody")),
        ],
    );
    let (_, reply) = udp(ng, &delete);
    assert_eq!(error_reason(&reply), "Unknown call-id");

    // A retransmission gets the same reply, a reused cookie with another body an error.
    let first = udp(ng, &offer("c7", "cached"));
    assert_eq!(first.1.get("result").and_then(Value::as_str), Some("ok"));
    assert_eq!(udp(ng, &offer("c7", "cached")), first);
    assert!(metrics.requests(None, Outcome::Replayed) >= 1);
    let (_, reply) = udp(ng, &offer("c7", "another-call"));
    assert!(error_reason(&reply).contains("cookie"), "{reply:?}");
    assert_eq!(
        edge.ng_engine.calls(),
        1,
        "the conflicting offer made no call"
    );
    // A re-offer with a changed SDP before the first answer is refused by name (an
    // answered call renegotiates: tests/ng_reoffer.rs).
    let changed = message(
        "c8",
        vec![
            ("command", Value::str("offer")),
            ("call-id", Value::str("cached")),
            ("from-tag", Value::str("browser")),
            (
                "sdp",
                Value::str(&AIORTC_OFFER.replace("a=sendrecv", "a=sendonly")),
            ),
        ],
    );
    let (_, reply) = udp(ng, &changed);
    assert!(
        error_reason(&reply).contains("re-offer before the answer"),
        "{reply:?}"
    );

    // A dictionary as large as a datagram gets: 64 KiB less the headers.
    let filler = "x".repeat(1_000);
    let keys: Vec<String> = (0..64).map(|i| format!("key-{i:02}")).collect();
    let mut entries = vec![("command", Value::str("ping"))];
    entries.extend(keys.iter().map(|k| (k.as_str(), Value::str(&filler))));
    let big = message("c9", entries);
    assert!(big.len() > 64_000 && big.len() <= 65_507, "{}", big.len());
    let (_, reply) = udp(ng, &big);
    assert!(
        error_reason(&reply).contains("unsupported key"),
        "{reply:?}"
    );

    let mut deep = b"c10 ".to_vec();
    deep.extend(std::iter::repeat_n(b'l', 20_000));
    deep.extend(std::iter::repeat_n(b'e', 20_000));
    let (_, reply) = udp(ng, &deep);
    assert!(error_reason(&reply).contains("deeper"), "{reply:?}");

    // No cookie: nothing to answer to; dropped and counted.
    let before = metrics.drops(DropReason::NoCookie);
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"no-space-anywhere", ng)
        .unwrap();
    eventually("the cookie-less datagram is counted", || {
        metrics.drops(DropReason::NoCookie) == before + 1
    });
    ping(ng, "still-there");
}

#[test]
fn tcp_and_http_frame_and_bound_messages() {
    let edge = MediaEdge::start(19);
    // Two messages in one write: two replies, in order.
    let mut stream = TcpStream::connect(edge.ng_tcp).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut both = message("t1", vec![("command", Value::str("ping"))]);
    both.extend(message("t2", vec![("command", Value::str("list"))]));
    stream.write_all(&both).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"e") || !String::from_utf8_lossy(&got).contains("t2 ") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("t1 d6:result4:ponge"), "{text}");
    assert!(text.contains("t2 d5:callsle6:result2:oke"), "{text}");
    // A message that never ends is cut at 64 KiB: an error, then the connection closes.
    let mut stream = TcpStream::connect(edge.ng_tcp).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut endless = b"t3 d7:command4:ping3:key100000:".to_vec();
    endless.extend(std::iter::repeat_n(b'x', 70_000));
    // The server may close while this is still being written: only its reply matters.
    let _ = stream.write_all(&endless);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let (cookie, reply) = split(&reply);
    assert_eq!(cookie, "t3");
    assert!(error_reason(&reply).contains("malformed"), "{reply:?}");

    // HTTP: the message as the body of POST /ng.
    let body = message("h1", vec![("command", Value::str("ping"))]);
    let mut http = TcpStream::connect(edge.ng_http).unwrap();
    http.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        http,
        "POST /ng HTTP/1.1\r\nHost: ng\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    http.write_all(&body).unwrap();
    let mut response = String::new();
    http.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("h1 d6:result4:ponge"), "{response}");
}

#[test]
fn random_truncated_and_mutated_messages_never_panic() {
    let edge = MediaEdge::start(20);
    let engine = &edge.ng_engine;
    let valid: Vec<Vec<u8>> = vec![
        offer("s", "sweep"),
        message(
            "s",
            vec![
                ("command", Value::str("answer")),
                ("call-id", Value::str("sweep")),
                ("from-tag", Value::str("browser")),
                ("to-tag", Value::str("pbx")),
                ("sdp", Value::str("v=0\r\n")),
                ("rtpp-flags", Value::str("replace-origin ICE=force RTP/AVP")),
            ],
        ),
        message(
            "s",
            vec![
                ("command", Value::str("query")),
                ("call-id", Value::str("sweep")),
            ],
        ),
        message("s", vec![("command", Value::str("statistics"))]),
    ];
    let mut rng = Rng::new(0x6e67);
    let (mut replies, mut drops) = (0u32, 0u32);
    let started = Instant::now();
    for i in 0..20_000u32 {
        let base = &valid[rng.below(valid.len())];
        let mut input = match i % 4 {
            // Truncated.
            0 => base[..rng.below(base.len() + 1)].to_vec(),
            // Bytes flipped.
            1 => {
                let mut m = base.clone();
                for _ in 0..=rng.below(8) {
                    let at = rng.below(m.len());
                    m[at] = (rng.next_u64() & 0xff) as u8;
                }
                m
            }
            // Random bytes after a cookie.
            2 => {
                let mut m = b"r ".to_vec();
                let mut tail = vec![0u8; rng.below(300)];
                rng.fill(&mut tail);
                m.extend(tail);
                m
            }
            // Oversized: the message repeated past 64 KiB.
            _ => base.repeat(65_536 / base.len() + 2),
        };
        // A fresh cookie each time: every input is handled, not replayed from the cache.
        input.splice(
            0..input.iter().position(|&b| b == b' ').unwrap_or(0),
            i.to_string().bytes(),
        );
        match engine.handle(Instant::now(), &input) {
            Handled::Reply(reply) => {
                let (_, dict) = split(&reply);
                assert!(dict.get("result").is_some(), "{dict:?}");
                replies += 1;
            }
            Handled::Dropped(_) => drops += 1,
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the sweep is bounded"
        );
    }
    assert_eq!(replies + drops, 20_000);
    eprintln!("sweep: {replies} replies, {drops} drops");
    ping(edge.ng, "after-the-sweep");
}

#[test]
fn a_call_whose_session_is_gone_is_forgotten() {
    let edge = MediaEdge::start(23);
    let (_, reply) = udp(edge.ng, &offer("g1", "gone"));
    assert_eq!(reply.get("result").and_then(Value::as_str), Some("ok"));
    assert_eq!(edge.ng_engine.calls(), 1);
    // The session ends without an ng delete (as after a timeout, or the HTTP API's DELETE).
    let sessions = edge.relay().sessions();
    assert_eq!(sessions.len(), 1);
    edge.relay().remove_session(sessions[0].id).unwrap();
    // Requests keep coming (each with a cookie of its own); one of them sweeps the table.
    let sent = std::cell::Cell::new(0u32);
    eventually("ng forgets the call once its session is gone", || {
        sent.set(sent.get() + 1);
        let list = message(
            &format!("list-{}", sent.get()),
            vec![("command", Value::str("list"))],
        );
        let (_, reply) = udp(edge.ng, &list);
        reply.get("calls") == Some(&Value::List(Vec::new()))
    });
    assert_eq!(edge.ng_engine.calls(), 0);
    let query = message(
        "g2",
        vec![
            ("command", Value::str("query")),
            ("call-id", Value::str("gone")),
        ],
    );
    let (_, reply) = udp(edge.ng, &query);
    assert_eq!(error_reason(&reply), "Unknown call-id");
}
