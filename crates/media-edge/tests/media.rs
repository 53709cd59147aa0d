//! The media side of the binary as an operator meets it: the embedded default serves the
//! control API on loopback with a generated token, refuses requests without it, and stops
//! cleanly; `[api]` without `[relay]` is refused naming both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{http, refused, scratch, Running};

#[test]
fn api_serves_with_the_generated_token_and_refuses_without_it() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = free.local_addr().unwrap().to_string();
    drop(free);
    let config = scratch(
        "api.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"43100-43109\"\n\
             [relay.public]\naddress = \"127.0.0.1\"\nport-range = \"43110-43119\"\n\
             [relay.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"43120-43129\"\n\
             [api]\nlisten = \"{api}\"\n"
        ),
    );
    let mut edge = Running::start(["--config", config.to_str().unwrap()]);
    let line = edge.wait_for("generated bearer token");
    let token = line.split('`').nth(1).unwrap().to_owned();
    edge.wait_for("media-edge forwarder: public 127.0.0.1 ports 43110-43119");
    let api = api.parse().unwrap();

    let (status, body) = http(api, "GET", "/v1/sessions", &token, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.trim(), "[]");
    let (status, _) = http(api, "GET", "/v1/sessions", "", "");
    assert_eq!(status, 401);

    assert!(edge.stop().success(), "exit after SIGTERM");
}

#[test]
fn api_without_relay_is_refused() {
    let config = scratch(
        "norelay.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\n",
    );
    let stderr = refused(["check-config", "--config", config.to_str().unwrap()]);
    assert!(stderr.contains("api: needs a [relay] section"), "{stderr}");
}
