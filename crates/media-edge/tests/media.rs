//! The media side of the binary as an operator meets it: the embedded default serves the
//! control API on loopback with a generated token, refuses requests without it, and stops
//! cleanly; `[api]` without `[forward]` is refused naming both; TURN credentials the API issues
//! open allocations on the binary's TURN server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{http, refused, scratch, Allocation, Running};

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
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"43110-43119\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"43120-43129\"\n\
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
    assert!(
        stderr.contains("api: needs a [forward] section"),
        "{stderr}"
    );
}

/// `POST /v1/turn-credentials` through the binary: signed with the first of
/// `[turn.auth] shared-secrets`, the URI from the TURN listener, and the binary's own TURN
/// server grants an allocation with them. `api.demo` serves the page without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_from_the_api_allocate_on_the_turn_server() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = free.local_addr().unwrap();
    drop(free);
    let token = "turn-credentials-test-token";
    let config = scratch(
        "turn-rest.toml",
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:43139\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"43130-43134\"\n[turn.auth]\n\
             shared-secrets = [\"first-shared-secret-0001\", \"second-shared-secret-002\"]\n\
             [turn.peers]\nallow = [\"127.0.0.0/8\"]\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"43140-43149\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"43150-43159\"\n\
             [api]\nlisten = \"{api}\"\ntokens = [\"{token}\"]\ndemo = true\n"
        ),
    );
    let mut edge = Running::start(["--config", config.to_str().unwrap()]);
    let turn = edge.address_after("media-edge TURN: udp ");
    edge.wait_for(&format!("control API: plain HTTP on {api}"));

    let (status, body) = http(
        api,
        "POST",
        "/v1/turn-credentials",
        token,
        r#"{"ttl": 300}"#,
    );
    assert_eq!(status, 200, "{body}");
    let creds: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        creds["uris"],
        serde_json::json!(["turn:127.0.0.1:43139?transport=udp"])
    );
    let username = creds["username"].as_str().unwrap();
    let password = creds["password"].as_str().unwrap();
    assert_eq!(
        password,
        edge_turn::rest_password(b"first-shared-secret-0001", username)
    );
    let allocation = Allocation::new(turn, "127.0.0.1", username, password).await;
    assert!(allocation.is_ok(), "{:?}", allocation.err());
    // A made-up password is refused: the allocation above proves the credentials.
    let refused = Allocation::new(turn, "127.0.0.1", username, "not-the-password").await;
    assert!(refused.is_err());

    let (status, page) = http(api, "GET", "/demo", "", "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("media-edge test call"), "{page}");
    assert!(edge.stop().success(), "exit after SIGTERM");
}
