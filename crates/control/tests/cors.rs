//! CORS over a real connection, checked on the raw header block: allowed and disallowed
//! origins, the empty whitelist, preflights, and requests without `Origin`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{config, request, Server, TOKEN};
use edge_control::Cors;
use tokio::net::TcpStream;

const ACAO: &str = "access-control-allow-origin";

async fn whitelisted(slot: u16) -> Server {
    let mut c = config();
    c.cors = Cors::new(vec![
        "https://app.example.com".parse().unwrap(),
        "http://localhost:3000".parse().unwrap(),
    ]);
    Server::start(slot, c).await
}

#[tokio::test]
async fn allowed_origin_is_echoed_with_vary() {
    let server = whitelisted(0).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    for origin in ["https://app.example.com", "http://localhost:3000"] {
        let a = request(
            &mut s,
            "GET",
            "/v1/sessions",
            Some(TOKEN),
            &[("Origin", origin)],
        )
        .await;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.header(ACAO), Some(origin));
        assert_eq!(a.all("vary"), ["Origin"]);
        assert_eq!(
            a.header("access-control-expose-headers"),
            Some("Location, Retry-After")
        );
        assert_eq!(a.header("access-control-allow-credentials"), None);
    }
    // The same origin in another spelling (RFC 6454: default port, host case) is that origin,
    // echoed as sent.
    let spelled = "https://APP.example.com:443";
    let a = request(
        &mut s,
        "GET",
        "/v1/sessions",
        Some(TOKEN),
        &[("Origin", spelled)],
    )
    .await;
    assert_eq!((a.status, a.header(ACAO)), (200, Some(spelled)));
    // Errors an allowed page receives are readable by it too.
    let a = request(
        &mut s,
        "GET",
        "/v1/sessions",
        Some("wrong-token-0123456789"),
        &[("Origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header(ACAO), Some("https://app.example.com"));
    server.stop().await;
}

#[tokio::test]
async fn disallowed_origin_gets_403_without_acao() {
    let server = whitelisted(1).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    for origin in [
        "https://evil.example",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com.evil.example",
        "null",
        "not an origin",
    ] {
        let a = request(
            &mut s,
            "GET",
            "/v1/sessions",
            Some(TOKEN),
            &[("Origin", origin)],
        )
        .await;
        assert_eq!(a.status, 403, "{origin}: {a:?}");
        assert_eq!(a.header(ACAO), None, "{origin}");
        assert_eq!(a.header("content-type"), Some("application/json"));
        let body = a.json();
        assert_eq!(body["error"], "origin-not-allowed");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("api.cors.domain-whitelist"),
            "{body}"
        );
    }
    let stats = request(&mut s, "GET", "/v1/stats", Some(TOKEN), &[])
        .await
        .json();
    assert_eq!(stats["refused-origin"], 6);
    server.stop().await;
}

#[tokio::test]
async fn empty_whitelist_echoes_any_origin() {
    let server = Server::start(2, config()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    for origin in ["https://anything.example", "http://localhost:1234"] {
        let a = request(
            &mut s,
            "GET",
            "/v1/sessions",
            Some(TOKEN),
            &[("Origin", origin)],
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header(ACAO), Some(origin));
        assert_eq!(a.all("vary"), ["Origin"]);
    }
    server.stop().await;
}

#[tokio::test]
async fn preflight_allowed_and_disallowed() {
    let server = whitelisted(3).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // No bearer token: a preflight never carries one.
    let a = request(
        &mut s,
        "OPTIONS",
        "/v1/sessions",
        None,
        &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization,content-type",
            ),
        ],
    )
    .await;
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(a.header(ACAO), Some("https://app.example.com"));
    assert_eq!(a.all("vary"), ["Origin"]);
    assert_eq!(
        a.header("access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    assert_eq!(
        a.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(a.header("access-control-max-age"), Some("600"));
    assert_eq!(a.body, "");

    let a = request(
        &mut s,
        "OPTIONS",
        "/v1/sessions/s-1",
        None,
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.header(ACAO), None);
    assert_eq!(a.header("access-control-allow-methods"), None);
    assert_eq!(a.json()["error"], "origin-not-allowed");

    let a = request(
        &mut s,
        "OPTIONS",
        "/v1/sessions",
        None,
        &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PUT"),
        ],
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.header(ACAO), None);
    assert_eq!(a.json()["error"], "preflight-refused");

    // OPTIONS without Access-Control-Request-Method is no preflight: it needs the token.
    let a = request(
        &mut s,
        "OPTIONS",
        "/v1/sessions",
        None,
        &[("Origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(a.status, 401);
    server.stop().await;
}

#[tokio::test]
async fn requests_without_origin_are_unaffected() {
    let server = whitelisted(4).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let a = request(&mut s, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, "[]");
    for name in [
        ACAO,
        "vary",
        "access-control-expose-headers",
        "access-control-allow-methods",
    ] {
        assert_eq!(a.header(name), None, "{name}");
    }
    let a = request(&mut s, "GET", "/v1/sessions", None, &[]).await;
    assert_eq!((a.status, a.header(ACAO)), (401, None));
    server.stop().await;
}
