//! The test-call page (`GET /demo`, `api.demo`) and the TURN credentials it fetches
//! (`POST /v1/turn-credentials`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use edge_control::TurnRest;
use serde_json::json;

use common::router::{api, api_configured, TOKEN};

const SECRET: &[u8] = b"turn-shared-secret-for-tests";

#[tokio::test]
async fn the_page_is_served_without_a_token_only_when_on() {
    let on = api_configured(14, |c| c.demo = true);
    let (status, headers, body) = on.text("GET", "/demo", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(headers["cache-control"], "no-store");
    // The page asks for the token; none is in it.
    assert!(
        body.contains(r#"<input id="token" type="password""#),
        "{body}"
    );
    assert!(body.contains("/v1/turn-credentials"), "{body}");
    assert!(!body.contains(TOKEN));
    // Only GET /demo is open: the API still wants the token.
    let (status, _, _) = on.text("GET", "/v1/sessions", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = on.text("POST", "/demo", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let off = api(15, 4);
    let (status, _, body) = off.text("GET", "/demo", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = off.call("GET", "/demo", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "demo-disabled");
    assert!(
        body["detail"].as_str().unwrap().contains("api.demo = true"),
        "{body}"
    );
}

#[tokio::test]
async fn turn_credentials_follow_coturns_rest_scheme() {
    let uris = vec!["turn:127.0.0.1:3478?transport=udp".to_owned()];
    let with = api_configured(16, |c| c.turn = Some(TurnRest::new(SECRET, uris.clone())));
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (status, body) = with
        .call(
            "POST",
            "/v1/turn-credentials",
            Some(json!({"user": "agent-7", "ttl": 600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let username = body["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    let expiry: u64 = expiry.parse().unwrap();
    assert_eq!(user, "agent-7");
    assert!((before + 600..=before + 630).contains(&expiry), "{body}");
    assert_eq!(body["ttl"], 600);
    assert_eq!(body["uris"], json!(uris));
    assert_eq!(body["password"], edge_turn::rest_password(SECRET, username));
    // No body: the defaults.
    let (status, body) = with.call("POST", "/v1/turn-credentials", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ttl"], 3600);
    assert!(
        body["username"].as_str().unwrap().ends_with(":media-edge"),
        "{body}"
    );
    // Bounded.
    for bad in [
        json!({"ttl": 59}),
        json!({"ttl": 86401}),
        json!({"user": "a:b"}),
        json!({"secret": "x"}),
    ] {
        let (status, body) = with
            .call("POST", "/v1/turn-credentials", Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "invalid-request", "{body}");
    }
    // A token is needed like everywhere.
    let (status, _) = with.raw("POST", "/v1/turn-credentials", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let without = api(17, 4);
    let (status, body) = without.call("POST", "/v1/turn-credentials", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "turn-not-configured");
}
