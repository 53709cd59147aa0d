//! The HTTP API over a real forwarder (sockets on loopback): both offer/answer flows, what
//! the written SDP says, authentication, and every kind of bad request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use common::router::{
    api, api_on, api_with, attr, parse_sdp, port_in_use, AIORTC_OFFER, HANG_GUARD, PBX_OFFER, TOKEN,
};

#[tokio::test]
async fn browser_offer_with_enterprise_address() {
    let api = api(0, 10);
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "127.0.0.1:40000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(body.get("awaiting").is_none(), "{body}");

    // The browser's answer: ICE-lite, our candidate and fingerprint, passive, BUNDLE 0.
    let answer = parse_sdp(body["answer"].as_str().unwrap());
    assert!(answer.attribute("ice-lite").is_some() || answer.has_attribute("ice-lite"));
    assert_eq!(
        answer.attribute("group").map(String::as_str),
        Some("BUNDLE 0")
    );
    let m = &answer.media_descriptions[0].media_name;
    assert_eq!(m.protos.join("/"), "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        m.formats,
        ["96", "9", "0", "8"],
        "opus, G722, PCMU, PCMA: every format offered that media-edge forwards"
    );
    let public_port = u16::try_from(m.port.value).unwrap();
    assert!(api.public.contains(public_port), "{public_port}");
    let candidate = attr(&answer, 0, "candidate").unwrap();
    assert_eq!(
        candidate,
        format!("1 1 udp 2130706431 127.0.0.1 {public_port} typ host")
    );
    assert_eq!(attr(&answer, 0, "setup"), Some("passive"));
    assert_eq!(attr(&answer, 0, "mid"), Some("0"));
    assert!(attr(&answer, 0, "rtcp-mux").is_some());
    assert!(attr(&answer, 0, "sendrecv").is_some());
    assert!(attr(&answer, 0, "fingerprint")
        .unwrap()
        .starts_with("sha-256 "));
    assert!(attr(&answer, 0, "ice-pwd").unwrap().len() >= 22);

    // The enterprise SDP: RTP/AVP from the pinned address, RTCP on its own port.
    let ent = parse_sdp(body["enterprise-sdp"].as_str().unwrap());
    let c = ent.connection_information.as_ref().unwrap();
    assert_eq!(c.address.as_ref().unwrap().address, "127.0.0.3");
    let m = &ent.media_descriptions[0].media_name;
    assert_eq!(m.protos.join("/"), "RTP/AVP");
    assert_eq!(m.formats, ["96", "9", "0", "8"]);
    let rtp_port = u16::try_from(m.port.value).unwrap();
    let rtcp_port: u16 = attr(&ent, 0, "rtcp").unwrap().parse().unwrap();
    assert!(api.enterprise.contains(rtp_port) && api.enterprise.contains(rtcp_port));
    assert!(attr(&ent, 0, "crypto").is_none());

    // The OS has the sockets bound where the SDP says, and nowhere else.
    let public_addr: SocketAddr = ([127, 0, 0, 1], public_port).into();
    let rtp_addr: SocketAddr = ([127, 0, 0, 3], rtp_port).into();
    let rtcp_addr: SocketAddr = ([127, 0, 0, 3], rtcp_port).into();
    assert!(port_in_use(public_addr) && port_in_use(rtp_addr) && port_in_use(rtcp_addr));

    let (status, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["id"], id.as_str());
    assert_eq!(session["state"], "new");
    assert_eq!(session["public-addr"], public_addr.to_string());
    assert_eq!(session["enterprise-rtp"], rtp_addr.to_string());
    assert_eq!(session["enterprise-remote"], "127.0.0.1:40000");
    assert_eq!(
        session["counters"]["browser_to_enterprise"]["rtp_packets"],
        0
    );
    let (_, list) = api.call("GET", "/v1/sessions", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, _) = api
        .call("DELETE", &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!port_in_use(public_addr) && !port_in_use(rtp_addr) && !port_in_use(rtcp_addr));
    let (status, err) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown-session"))
    );
    let (status, _) = api
        .call("DELETE", &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn browser_offer_answering_an_enterprise_sdp_intersects_codecs() {
    let api = api(1, 10);
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": AIORTC_OFFER, "enterprise": {"sdp": PBX_OFFER}, "strict-source": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let answer = parse_sdp(body["answer"].as_str().unwrap());
    assert_eq!(answer.media_descriptions[0].media_name.formats, ["0", "8"]);
    let ent = parse_sdp(body["enterprise-sdp"].as_str().unwrap());
    assert_eq!(ent.media_descriptions[0].media_name.formats, ["0", "8"]);
    assert!(attr(&ent, 0, "sendrecv").is_some());
}

#[tokio::test]
async fn enterprise_offer_then_browser_answer() {
    let api = api(2, 10);
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"enterprise-offer": PBX_OFFER})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["awaiting"], "browser-answer");
    assert!(body.get("enterprise-sdp").is_none());
    let id = body["id"].as_str().unwrap().to_owned();
    let offer = parse_sdp(body["offer"].as_str().unwrap());
    assert_eq!(attr(&offer, 0, "setup"), Some("actpass"));
    assert_eq!(
        offer.media_descriptions[0].media_name.formats,
        ["0", "8", "101"]
    );
    assert_eq!(attr(&offer, 0, "fmtp"), Some("101 0-16"));

    let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert_eq!(session["awaiting"], "browser-answer");

    // A wrong answer leaves the session waiting; a right one completes it.
    let path = format!("/v1/sessions/{id}/answer");
    let (status, err) = api
        .call("POST", &path, Some(json!({"answer": AIORTC_OFFER})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["field"], "answer");
    assert_eq!(err["attribute"], "a=setup");
    let (status, err) = api
        .call(
            "POST",
            &path,
            Some(json!({"enterprise": {"rtp": "127.0.0.1:4000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let browser_answer = AIORTC_OFFER.replace("a=setup:actpass", "a=setup:active");
    let (status, done) = api
        .call("POST", &path, Some(json!({"answer": browser_answer})))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let ent = parse_sdp(done["enterprise-sdp"].as_str().unwrap());
    assert_eq!(ent.media_descriptions[0].media_name.formats, ["0", "8"]);
    assert_eq!(
        ent.media_descriptions[0].media_name.protos.join("/"),
        "RTP/AVP"
    );
    let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert!(session.get("awaiting").is_none(), "{session}");
    let (status, err) = api
        .call("POST", &path, Some(json!({"answer": browser_answer})))
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::CONFLICT, Some("not-awaiting"))
    );
}

#[tokio::test]
async fn browser_offer_with_sdes_offer_to_the_enterprise() {
    let api = api(3, 10);
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": AIORTC_OFFER, "enterprise-srtp": "sdes"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["awaiting"], "enterprise-answer");
    let id = body["id"].as_str().unwrap().to_owned();
    let ent = parse_sdp(body["enterprise-sdp"].as_str().unwrap());
    assert_eq!(
        ent.media_descriptions[0].media_name.protos.join("/"),
        "RTP/SAVP"
    );
    let crypto = attr(&ent, 0, "crypto").unwrap();
    assert!(
        crypto.starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{crypto}"
    );

    let path = format!("/v1/sessions/{id}/answer");
    let (status, err) = api
        .call(
            "POST",
            &path,
            Some(json!({"enterprise": {"rtp": "127.0.0.1:4000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let pbx_answer = PBX_OFFER.replace("RTP/AVP", "RTP/SAVP").replace(
        "a=sendrecv",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\na=sendrecv",
    );
    let wrong_tag = pbx_answer.replace("a=crypto:1", "a=crypto:2");
    let (status, err) = api
        .call(
            "POST",
            &path,
            Some(json!({"enterprise": {"sdp": wrong_tag}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["detail"].as_str().unwrap().contains("offered tag 1"),
        "{err}"
    );
    let (status, done) = api
        .call(
            "POST",
            &path,
            Some(json!({"enterprise": {"sdp": pbx_answer}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // The session's worker applies the remote shortly after.
    let mut remote = Value::Null;
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while std::time::Instant::now() < deadline {
        let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
        remote = session["enterprise-remote"].clone();
        if !remote.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(remote, "127.0.0.1:40000");
}

#[tokio::test]
async fn authentication() {
    let api = api(4, 10);
    let (status, err) = api.raw("GET", "/v1/sessions", None, None).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert!(err["detail"]
        .as_str()
        .unwrap()
        .contains("missing Authorization"));
    let (status, _) = api
        .raw("GET", "/v1/sessions", Some("test-token-0123456788"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.raw("GET", "/v1/sessions", Some(""), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Unknown paths are not revealed before authentication.
    let (status, _) = api.raw("GET", "/nowhere", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let req = Request::builder()
        .uri("/v1/sessions")
        .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = api.send(req).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"media-edge\""
    );
    let req = Request::builder()
        .uri("/v1/sessions")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.status(), StatusCode::OK);
}

/// Every bad request gets a JSON error that says what is wrong, and leaves no session.
#[tokio::test]
async fn bad_requests() {
    let api = api(5, 10);
    let broken_offer = AIORTC_OFFER.replace("a=ice-pwd:Fq3YpfdicrVJm7memzz2BQ\r\n", "");
    /// Method, path, body; the status, `error` and the start of `detail` expected.
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<String>,
        StatusCode,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("POST", "/v1/sessions", Some(json!({"offer": broken_offer}).to_string()), StatusCode::BAD_REQUEST, "invalid-sdp", "offer, m-line 0 (audio), a=ice-pwd: missing"),
        ("POST", "/v1/sessions", Some(json!({"offer": "v=0"}).to_string()), StatusCode::BAD_REQUEST, "invalid-sdp", "offer: does not parse as SDP"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise": {"sdp": "garbage"}}).to_string()), StatusCode::BAD_REQUEST, "invalid-sdp", "enterprise.sdp: does not parse"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "somewhere"}}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "request body, enterprise.rtp: invalid socket address"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "0.0.0.0:5"}}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "enterprise.rtp 0.0.0.0:5 is not"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "[::1]:4000"}}).to_string()), StatusCode::BAD_REQUEST, "invalid-remote", "forwarder: invalid enterprise remote"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise": {}}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "enterprise needs rtp"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "127.0.0.1:4000"}, "enterprise-srtp": "sdes"}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "enterprise-srtp \"sdes\" needs"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise-srtp": "zrtp"}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "request body, enterprise-srtp: unknown variant `zrtp`"),
        ("POST", "/v1/sessions", Some(json!({"ofer": AIORTC_OFFER}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "request body, ofer: unknown field `ofer`"),
        ("POST", "/v1/sessions", Some(json!({}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "missing offer"),
        ("POST", "/v1/sessions", Some(json!({"offer": AIORTC_OFFER, "enterprise-offer": PBX_OFFER}).to_string()), StatusCode::BAD_REQUEST, "invalid-request", "give offer or enterprise-offer, not both"),
        ("POST", "/v1/sessions", Some("{\"offer\": ".into()), StatusCode::BAD_REQUEST, "invalid-request", "request body, offer: EOF while parsing"),
        ("POST", "/v1/sessions", Some("{} {}".into()), StatusCode::BAD_REQUEST, "invalid-request", "request body: trailing characters"),
        ("POST", "/v1/sessions", Some(format!("{{\"offer\": \"{}\"}}", "x".repeat(70_000))), StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "the request body exceeds 65536 bytes"),
        ("GET", "/v1/sessions/0123456789abcdef", None, StatusCode::NOT_FOUND, "unknown-session", "no session \"0123456789abcdef\""),
        ("GET", "/v1/sessions/not-an-id", None, StatusCode::NOT_FOUND, "unknown-session", "no session \"not-an-id\""),
        ("DELETE", "/v1/sessions/0123456789abcdef", None, StatusCode::NOT_FOUND, "unknown-session", "no session"),
        ("POST", "/v1/sessions/0123456789abcdef/answer", Some(json!({"answer": AIORTC_OFFER}).to_string()), StatusCode::NOT_FOUND, "unknown-session", "no session"),
        ("GET", "/v2/sessions", None, StatusCode::NOT_FOUND, "no-route", "no endpoint GET /v2/sessions"),
        ("PUT", "/v1/sessions", None, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "PUT is not allowed on /v1/sessions"),
    ];
    for (method, path, body, status, code, detail) in cases {
        let (got, err) = api.raw(method, path, Some(TOKEN), body).await;
        assert_eq!(got, status, "{method} {path}: {err}");
        assert_eq!(err["error"], code, "{method} {path}: {err}");
        let text = err["detail"].as_str().unwrap();
        assert!(
            text.starts_with(detail),
            "{method} {path}: {text:?} should start with {detail:?}"
        );
    }
    let (_, err) = api
        .raw(
            "POST",
            "/v1/sessions",
            Some(TOKEN),
            Some(json!({"offer": broken_offer}).to_string()),
        )
        .await;
    assert_eq!(
        (
            err["field"].as_str(),
            err["m-line"].as_u64(),
            err["attribute"].as_str()
        ),
        (Some("offer"), Some(0), Some("a=ice-pwd"))
    );
    let (_, list) = api.call("GET", "/v1/sessions", None).await;
    assert_eq!(list, json!([]), "no bad request left a session behind");
    for port in api.public.first()..=api.public.last() {
        assert!(!port_in_use(([127, 0, 0, 1], port).into()), "{port}");
    }
}

#[tokio::test]
async fn the_session_limit_is_a_503_and_frees_nothing_else() {
    let api = api(6, 2);
    let create = json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "127.0.0.1:40000"}});
    for _ in 0..2 {
        let (status, body) = api.call("POST", "/v1/sessions", Some(create.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, err) = api.call("POST", "/v1/sessions", Some(create.clone())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{err}");
    assert_eq!(err["error"], "too-many-sessions");
    let (_, list) = api.call("GET", "/v1/sessions", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_session_nobody_connects_to_times_out_and_frees_its_ports() {
    let api = api_with(7, 10, |c| {
        c.setup_timeout = std::time::Duration::from_millis(300)
    });
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "127.0.0.1:40000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mut session = Value::Null;
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while std::time::Instant::now() < deadline {
        (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
        if session["state"] == "ended" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(session["state"], "ended", "{session}");
    assert_eq!(session["reason"]["kind"], "setup-timeout", "{session}");
    for (ip, range) in [
        ([127, 0, 0, 1], api.public),
        ([127, 0, 0, 3], api.enterprise),
    ] {
        for port in range.first()..=range.last() {
            assert!(!port_in_use((ip, port).into()), "{port} still bound");
        }
    }
    // An ended session can still be removed; then it is gone.
    let (status, _) = api
        .call("DELETE", &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ipv6_addresses_in_both_sdps() {
    let api = api_on(8, 10, ("::1", "::1"), |_| {});
    let (status, body) = api
        .call(
            "POST",
            "/v1/sessions",
            Some(json!({"offer": AIORTC_OFFER, "enterprise": {"rtp": "[::1]:40000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let answer = body["answer"].as_str().unwrap();
    let port = parse_sdp(answer).media_descriptions[0]
        .media_name
        .port
        .value;
    assert!(answer.contains("\r\nc=IN IP6 ::1\r\n"), "{answer}");
    assert!(
        answer.contains(&format!(
            "a=candidate:1 1 udp 2130706431 ::1 {port} typ host\r\n"
        )),
        "{answer}"
    );
    let ent = body["enterprise-sdp"].as_str().unwrap();
    assert!(ent.contains("\r\nc=IN IP6 ::1\r\n"), "{ent}");
    assert!(ent.contains(" IN IP6 ::1\r\n"), "origin: {ent}");
}

#[tokio::test]
async fn a_named_enterprise_connection_pins_the_leg_to_its_tuple() {
    let api = api_with(9, 10, |c| {
        let pinned = "port=48400;address=127.0.0.3".parse().unwrap();
        c.enterprise.connections.insert("pbx-a".into(), pinned);
    });
    let create = |connection: &str| {
        json!({
            "offer": AIORTC_OFFER,
            "enterprise": {"rtp": "127.0.0.1:40000"},
            "connection": connection,
        })
    };
    let (status, body) = api
        .call("POST", "/v1/sessions", Some(create("pbx-a")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let ent = parse_sdp(body["enterprise-sdp"].as_str().unwrap());
    let c = ent.connection_information.as_ref().unwrap();
    assert_eq!(c.address.as_ref().unwrap().address, "127.0.0.3");
    assert_eq!(ent.media_descriptions[0].media_name.port.value, 48400);
    let pinned: SocketAddr = ([127, 0, 0, 3], 48400).into();
    assert!(port_in_use(pinned), "the leg is bound to its pinned tuple");
    let (_, session) = api.call("GET", &format!("/v1/sessions/{id}"), None).await;
    assert_eq!(session["enterprise-rtp"], pinned.to_string(), "{session}");

    // One live session per pinned tuple; an unknown name is the caller's mistake.
    let (status, err) = api
        .call("POST", "/v1/sessions", Some(create("pbx-a")))
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::CONFLICT, Some("connection-busy")),
        "{err}"
    );
    assert!(err["detail"].as_str().unwrap().contains("pbx-a"), "{err}");
    let (status, err) = api
        .call("POST", "/v1/sessions", Some(create("pbx-z")))
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown-connection")),
        "{err}"
    );
    assert!(err["detail"].as_str().unwrap().contains("pbx-z"), "{err}");

    let (status, _) = api
        .call("DELETE", &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!port_in_use(pinned), "the tuple is free after DELETE");
    let (status, body) = api
        .call("POST", "/v1/sessions", Some(create("pbx-a")))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the tuple serves the next session: {body}"
    );
}
