//! A pinned enterprise leg from the command line: the binary started with
//! `--transport-address 127.0.0.1 --transport-port N` creates a session through its API and
//! the session's enterprise socket is bound to exactly that tuple, read back from the kernel
//! (/proc/net/udp against the process's file descriptors), and so is a session naming a
//! `--connection`; deleting the session frees the tuple.
//! Ports 38100-38199.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{http, scratch, udp_sockets_of, Running, HANG_GUARD};

/// A PBX's plain-RTP offer: the enterprise side calls the browser.
const PBX_OFFER: &str =
    "v=0\\r\\no=pbx 1 1 IN IP4 127.0.0.1\\r\\ns=call\\r\\nc=IN IP4 127.0.0.1\\r\\n\
t=0 0\\r\\nm=audio 38190 RTP/AVP 0 8\\r\\na=sendrecv\\r\\n";

/// The string value of `"key":"..."` in a JSON body.
fn field<'a>(body: &'a str, key: &str) -> &'a str {
    let start = body
        .find(&format!("\"{key}\":\""))
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        + key.len()
        + 4;
    let end = start + body[start..].find('"').unwrap();
    &body[start..end]
}

#[test]
fn a_command_line_pinned_leg_is_bound_to_exactly_that_tuple() {
    // No [forward.enterprise] in the file: the command line defines the leg.
    let path = scratch(
        "pinned.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
         port-range = \"38100-38109\"\n\
         [forward]\nworkers = 1\n\
         [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38110-38119\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\n",
    );
    let pinned: SocketAddr = "127.0.0.1:38120".parse().unwrap();
    let mut edge = Running::start([
        "--config",
        path.to_str().unwrap(),
        "--transport-address",
        "127.0.0.1",
        "--transport-port",
        "38120",
        "--connection",
        "pbx-b=port=38130;address=127.0.0.2",
    ]);
    let token_line = edge.wait_for("generated bearer token");
    let token = token_line.split('`').nth(1).unwrap().to_owned();
    let line = edge.wait_for("media-edge forwarder: public");
    assert!(line.contains("enterprise 127.0.0.1 port 38120"), "{line}");
    let api = edge.address_after("plain HTTP on ");
    // The start-up check's test sockets are gone; nothing holds the tuple yet.
    assert_eq!(udp_sockets_of(edge.pid(), pinned), 0);

    let (status, body) = http(
        api,
        "POST",
        "/v1/sessions",
        &token,
        &format!("{{\"enterprise-offer\": \"{PBX_OFFER}\"}}"),
    );
    assert_eq!(status, 201, "{body}");
    let id = field(&body, "id").to_owned();
    let (status, session) = http(api, "GET", &format!("/v1/sessions/{id}"), &token, "");
    assert_eq!(status, 200, "{session}");
    assert_eq!(
        field(&session, "enterprise-rtp"),
        "127.0.0.1:38120",
        "{session}"
    );
    assert_eq!(
        udp_sockets_of(edge.pid(), pinned),
        1,
        "the process holds one socket on exactly {pinned}"
    );

    // The pinned tuple serves one session at a time.
    let (status, body) = http(
        api,
        "POST",
        "/v1/sessions",
        &token,
        &format!("{{\"enterprise-offer\": \"{PBX_OFFER}\"}}"),
    );
    assert_ne!(status, 201, "a second session took the pinned port: {body}");
    assert!(body.contains("38120"), "the refusal names the port: {body}");

    // A session naming the connection binds its tuple, on the second loopback address.
    let named: SocketAddr = "127.0.0.2:38130".parse().unwrap();
    let (status, body) = http(
        api,
        "POST",
        "/v1/sessions",
        &token,
        &format!("{{\"enterprise-offer\": \"{PBX_OFFER}\", \"connection\": \"pbx-b\"}}"),
    );
    assert_eq!(status, 201, "{body}");
    let named_id = field(&body, "id").to_owned();
    let (_, session) = http(api, "GET", &format!("/v1/sessions/{named_id}"), &token, "");
    assert_eq!(
        field(&session, "enterprise-rtp"),
        "127.0.0.2:38130",
        "{session}"
    );
    assert_eq!(udp_sockets_of(edge.pid(), named), 1);

    let (status, _) = http(api, "DELETE", &format!("/v1/sessions/{id}"), &token, "");
    assert_eq!(status, 204);
    let deadline = Instant::now() + HANG_GUARD;
    while udp_sockets_of(edge.pid(), pinned) != 0 {
        assert!(
            Instant::now() < deadline,
            "{pinned} still bound after DELETE"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(edge.stop().success());
}
